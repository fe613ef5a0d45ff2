package s3

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CRC32 computes, while an object's bytes are written through it, the
// CRC-32 (IEEE) that S3 records for the object: over the whole object,
// or S3's composite (the CRC-32 of the parts' CRC-32s, "…-N") over parts
// of a given size: those of a multipart upload, or of a multipart copy.
type CRC32 struct {
	full, part hash.Hash32
	partSize   int64
	inPart     int64
	parts      []byte
	n          int
}

// NewCRC32 starts the sums of an object that Copy puts at its final key
// (a copy over 5 GiB goes in copyPartSize parts).
func NewCRC32() *CRC32 { return NewCRC32Parts(copyPartSize) }

// NewCRC32Parts starts the sums of an object uploaded in parts of size.
func NewCRC32Parts(size int64) *CRC32 {
	return &CRC32{full: crc32.NewIEEE(), part: crc32.NewIEEE(), partSize: size}
}

// Write adds p to the sums.
func (c *CRC32) Write(p []byte) (int, error) {
	c.full.Write(p)
	written := len(p)
	for len(p) > 0 {
		take := min(int64(len(p)), c.partSize-c.inPart)
		c.part.Write(p[:take])
		c.inPart += take
		p = p[take:]
		if c.inPart == c.partSize {
			c.endPart()
		}
	}
	return written, nil
}

func (c *CRC32) endPart() {
	c.parts = c.part.Sum(c.parts)
	c.n++
	c.part.Reset()
	c.inPart = 0
}

// Matches compares the sums with the checksum S3 returned for the final
// object; known is false when the store recorded none.
func (c *CRC32) Matches(stored string) (ok, known bool) {
	if stored == "" {
		return false, false
	}
	sum, count, composite := strings.Cut(stored, "-")
	if !composite {
		return sum == b64(c.full.Sum32()), true
	}
	parts, n := c.parts, c.n
	if c.inPart > 0 {
		parts, n = c.part.Sum(append([]byte{}, parts...)), n+1
	}
	return sum == b64(crc32.ChecksumIEEE(parts)) && count == fmt.Sprint(n), true
}

func b64(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return base64.StdEncoding.EncodeToString(b[:])
}

// HeadCRC32 is key's size and metadata with the CRC-32 S3 records for it
// ("" when it keeps none), computed by the server over the bytes it
// holds: one answer, so all of it is of one object.
func (b *Bucket) HeadCRC32(ctx context.Context, key string) (Info, string, error) {
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &b.cfg.Bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return Info{}, "", b.wrap("head", key, err)
	}
	return headInfo(key, out), aws.ToString(out.ChecksumCRC32), nil
}
