package binlogsync

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Magic starts every binary log file.
var Magic = []byte{0xfe, 'b', 'i', 'n'}

// changeEvents are the event types that only a transaction or a statement
// writes (MySQL and MariaDB): a server that starts, rotates and stops
// writes none of them. An encryption start makes the rest unreadable, so
// it counts too.
var changeEvents = map[byte]bool{
	2: true, 16: true, 19: true, // query, xid, table map
	23: true, 24: true, 25: true, 30: true, 31: true, 32: true, // row events v1, v2
	33: true, 34: true, // MySQL GTID, anonymous GTID
	162: true, // MariaDB GTID
}

// startEncryption is MariaDB's event after which a binlog is encrypted.
const startEncryption = 164

// ErrEncrypted means a binlog is encrypted from some point on: what it
// holds there cannot be told without the key.
var ErrEncrypted = errors.New("the binlog is encrypted")

// mysqlEncryptedMagic starts a MySQL binlog encrypted as a whole.
var mysqlEncryptedMagic = []byte{0xfd, 'b', 'i', 'n'}

// HoldsChanges says whether the binlog at path holds, from byte offset
// from on (0 or 4: the whole file), an event that a transaction or a
// statement wrote. It reads only the events' headers; an encrypted binlog
// is ErrEncrypted.
func HoldsChanges(path string, from int64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, Magic) {
		if bytes.Equal(magic, mysqlEncryptedMagic) {
			return false, ErrEncrypted
		}
		return false, fmt.Errorf("%s: not a binary log", path)
	}
	pos := int64(4)
	if from > pos {
		if _, err := r.Discard(int(from - pos)); err != nil {
			return false, fmt.Errorf("%s: shorter than %d bytes", path, from)
		}
		pos = from
	}
	header := make([]byte, 19)
	for {
		_, err := io.ReadFull(r, header)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil // the end, or an event being written
		}
		if err != nil {
			return false, err
		}
		if changeEvents[header[4]] {
			return true, nil
		}
		if header[4] == startEncryption {
			return false, ErrEncrypted
		}
		size := int64(binary.LittleEndian.Uint32(header[9:13]))
		if size < 19 {
			return false, fmt.Errorf("%s: event at %d claims %d bytes", path, pos, size)
		}
		if _, err := r.Discard(int(size - 19)); err != nil {
			return false, nil
		}
		pos += size
	}
}
