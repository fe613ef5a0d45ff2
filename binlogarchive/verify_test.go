package binlogarchive

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/binlogsync"
)

// event is a binlog event of type typ with body, at offset, its CRC-32
// appended.
func event(typ byte, offset uint64, body []byte) []byte {
	size := headerLen + len(body) + 4
	ev := make([]byte, headerLen, size)
	ev[4] = typ
	binary.LittleEndian.PutUint32(ev[9:13], uint32(size))
	binary.LittleEndian.PutUint32(ev[13:17], uint32(offset)+uint32(size))
	ev = append(ev, body...)
	return binary.LittleEndian.AppendUint32(ev, crc32.ChecksumIEEE(ev))
}

// binlogFile is a small binlog: a format description naming CRC-32, then
// two events.
func binlogFile() []byte {
	f := append([]byte{}, binlogsync.Magic...)
	fde := append(make([]byte, 57), checksumCRC32) // version, server version…, then the algorithm
	for _, ev := range [][]byte{{formatDescr}, {mariadbGTID}, {2}} {
		body := []byte("a query")
		if ev[0] == formatDescr {
			body = fde
		}
		f = append(f, event(ev[0], uint64(len(f)), body)...)
	}
	return f
}

func check(data []byte, chunk int) error {
	c := &eventChecker{file: "mysql-bin.000001"}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := c.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return c.end()
}

func TestEventCheckerReadsAWholeBinlogInAnyChunksAndNamesDamage(t *testing.T) {
	good := binlogFile()
	for _, chunk := range []int{1, 7, len(good)} {
		if err := check(good, chunk); err != nil {
			t.Errorf("chunks of %d: %v", chunk, err)
		}
	}
	flipped := append([]byte{}, good...)
	flipped[len(flipped)-6] ^= 1
	if err := check(flipped, 5); err == nil || !strings.Contains(err.Error(), "fails its CRC-32") {
		t.Errorf("a flipped byte: %v", err)
	}
	if err := check(good[:len(good)-3], 5); err == nil || !strings.Contains(err.Error(), "ends inside an event") {
		t.Errorf("a cut file: %v", err)
	}
	if err := check(append([]byte("xbin"), good[4:]...), 5); err == nil {
		t.Error("a file without the binlog magic passed")
	}
}
