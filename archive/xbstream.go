package archive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"
)

// The xbstream format (xbstream / mbstream, --stream=xbstream) is a
// sequence of chunks, each:
//
//	magic "XBSTCK01" | flags (1) | type (1) | path length (u32 LE) | path
//
// then, for a payload chunk (type 'P'):
//
//	payload length (u64 LE) | file offset (u64 LE) | CRC-32 of payload (u32 LE) | payload
//
// and nothing more for an end-of-file chunk (type 'E'). The chunks of
// several files interleave when the engine copies in parallel.
const (
	xbMagic      = "XBSTCK01"
	xbPayload    = 'P'
	xbEOF        = 'E'
	xbIgnorable  = 0x01 // an unknown chunk type with this flag may be skipped
	xbMaxPath    = 4096
	xbMaxPayload = 1 << 30
)

// XbstreamStats counts what a stream held.
type XbstreamStats struct {
	Files  int   // files ended by an 'E' chunk
	Chunks int   // payload chunks
	Bytes  int64 // payload bytes
}

// XbstreamVisitor receives each payload chunk of a stream, in stream
// order. data is only valid during the call.
type XbstreamVisitor func(name string, offset int64, data []byte) error

// ReadXbstream reads an xbstream to its end, checking every chunk's magic
// and CRC-32, that names stay relative, that each file's chunks are
// contiguous and that every file with a payload is ended (an empty file
// has nothing to miss but its end chunk). visit may be nil.
func ReadXbstream(r io.Reader, visit XbstreamVisitor) (XbstreamStats, error) {
	var st XbstreamStats
	br := bufio.NewReaderSize(r, 1<<20)
	next := map[string]int64{} // open file → offset its next chunk must have
	var head [14]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, head[:len(xbMagic)]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return st, fmt.Errorf("xbstream: truncated chunk header after %d chunks: %w", st.Chunks, err)
		}
		if string(head[:len(xbMagic)]) != xbMagic {
			return st, fmt.Errorf("xbstream: bad chunk magic %q after %d chunks", head[:len(xbMagic)], st.Chunks)
		}
		if _, err := io.ReadFull(br, head[8:14]); err != nil {
			return st, fmt.Errorf("xbstream: truncated chunk header: %w", unexpected(err))
		}
		flags, typ := head[8], head[9]
		plen := binary.LittleEndian.Uint32(head[10:14])
		if plen == 0 || plen > xbMaxPath {
			return st, fmt.Errorf("xbstream: chunk path length %d", plen)
		}
		pbuf := make([]byte, plen)
		if _, err := io.ReadFull(br, pbuf); err != nil {
			return st, fmt.Errorf("xbstream: truncated chunk path: %w", unexpected(err))
		}
		name, err := xbName(string(pbuf))
		if err != nil {
			return st, err
		}
		switch typ {
		case xbEOF:
			delete(next, name) // an empty file has no payload chunk at all
			st.Files++
			continue
		case xbPayload:
		default:
			if flags&xbIgnorable != 0 {
				return st, fmt.Errorf("xbstream: chunk type %q of %s is not supported by this reader", typ, name)
			}
			return st, fmt.Errorf("xbstream: unknown chunk type %q of %s", typ, name)
		}
		var ph [20]byte
		if _, err := io.ReadFull(br, ph[:]); err != nil {
			return st, fmt.Errorf("xbstream: truncated chunk of %s: %w", name, unexpected(err))
		}
		length := binary.LittleEndian.Uint64(ph[0:8])
		offset := binary.LittleEndian.Uint64(ph[8:16])
		sum := binary.LittleEndian.Uint32(ph[16:20])
		if length > xbMaxPayload {
			return st, fmt.Errorf("xbstream: chunk of %s claims %d bytes", name, length)
		}
		if want, open := next[name]; open && int64(offset) != want || !open && offset != 0 {
			return st, fmt.Errorf("xbstream: chunk of %s at offset %d, expected %d", name, offset, want)
		}
		if cap(buf) < int(length) {
			buf = make([]byte, length)
		}
		data := buf[:length]
		if _, err := io.ReadFull(br, data); err != nil {
			return st, fmt.Errorf("xbstream: truncated payload of %s: %w", name, unexpected(err))
		}
		if got := crc32.ChecksumIEEE(data); got != sum {
			return st, fmt.Errorf("xbstream: checksum mismatch in %s at offset %d (crc %08x, recorded %08x)", name, offset, got, sum)
		}
		next[name] = int64(offset + length)
		st.Chunks++
		st.Bytes += int64(length)
		if visit != nil {
			if err := visit(name, int64(offset), data); err != nil {
				return st, err
			}
		}
	}
	if len(next) > 0 {
		names := make([]string, 0, len(next))
		for n := range next {
			names = append(names, n)
		}
		return st, fmt.Errorf("xbstream: stream ends inside %d file(s), e.g. %s", len(names), names[0])
	}
	return st, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// xbName checks a chunk's path is a clean relative name.
func xbName(p string) (string, error) {
	clean := path.Clean(p)
	if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("xbstream: unsafe path %q", p)
	}
	return clean, nil
}

// SmallFiles collects the content of the named files (base names at the
// stream's top level) as a stream passes: the engine's position and info
// files, a few hundred bytes each.
type SmallFiles struct {
	Want  map[string]bool
	Files map[string][]byte
}

// Visit is an XbstreamVisitor.
func (s *SmallFiles) Visit(name string, _ int64, data []byte) error {
	if !s.Want[name] {
		return nil
	}
	if s.Files == nil {
		s.Files = map[string][]byte{}
	}
	if len(s.Files[name])+len(data) > 1<<20 {
		return fmt.Errorf("xbstream: %s is larger than 1 MiB", name)
	}
	s.Files[name] = append(s.Files[name], data...)
	return nil
}
