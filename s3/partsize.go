package s3

// MaxParts is the most parts one S3 multipart upload may have.
const MaxParts = 10000

// PartSize is the bucket's multipart part size.
func (b *Bucket) PartSize() int64 { return b.cfg.PartSize }

// ForSize is the bucket with parts large enough for an object of about
// expected bytes (PartSizeFor): itself when its parts are.
func (b *Bucket) ForSize(expected int64) *Bucket {
	size := PartSizeFor(expected, b.cfg.PartSize)
	if size == b.cfg.PartSize {
		return b
	}
	cfg := b.cfg
	cfg.PartSize = size
	return New(cfg)
}

// PartSizeFor returns the part size to upload an object of about
// expected bytes: at least min, and large enough that the object fits in
// MaxParts with room to spare (it plans for 9000, in whole MiB), so a
// stream somewhat larger than expected still fits.
func PartSizeFor(expected, min int64) int64 {
	const mib = 1 << 20
	need := (expected/9000 + mib - 1) / mib * mib
	return max(min, need)
}
