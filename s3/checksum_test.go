package s3

import (
	"bytes"
	"hash/crc32"
	"testing"
)

func TestCRC32MatchesTheFullAndTheCompositeFormS3Records(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	c := NewCRC32()
	for p := data; len(p) > 0; p = p[min(len(p), 4093):] {
		c.Write(p[:min(len(p), 4093)])
	}
	if ok, known := c.Matches(b64(crc32.ChecksumIEEE(data))); !ok || !known {
		t.Errorf("the whole object's CRC-32 does not match")
	}
	if ok, known := c.Matches(b64(crc32.ChecksumIEEE(data[:len(data)-1]))); ok || !known {
		t.Errorf("another object's CRC-32 matches")
	}
	if _, known := c.Matches(""); known {
		t.Errorf("no stored checksum counts as known")
	}
	one := crc32.ChecksumIEEE(data)
	var parts [4]byte
	parts[0], parts[1], parts[2], parts[3] = byte(one>>24), byte(one>>16), byte(one>>8), byte(one)
	if ok, _ := c.Matches(b64(crc32.ChecksumIEEE(parts[:])) + "-1"); !ok {
		t.Errorf("the composite of one part does not match")
	}
	if ok, _ := c.Matches(b64(crc32.ChecksumIEEE(parts[:])) + "-2"); ok {
		t.Errorf("a composite of another part count matches")
	}
}

func TestCRC32CompositeFollowsTheCopysPartBoundaries(t *testing.T) {
	old := copyPartSize
	copyPartSize = 1000
	t.Cleanup(func() { copyPartSize = old })
	data := bytes.Repeat([]byte("xyz"), 834) // 2502 bytes: parts of 1000, 1000, 502
	c := NewCRC32()
	c.Write(data[:700])
	c.Write(data[700:])
	var sums []byte
	for _, p := range [][]byte{data[:1000], data[1000:2000], data[2000:]} {
		v := crc32.ChecksumIEEE(p)
		sums = append(sums, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	if ok, _ := c.Matches(b64(crc32.ChecksumIEEE(sums)) + "-3"); !ok {
		t.Errorf("the composite of three copy parts does not match")
	}
}
