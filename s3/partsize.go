package s3

// MaxParts is the most parts one S3 multipart upload may have.
const MaxParts = 10000

// PartSizeFor returns the part size to upload an object of about
// expected bytes: at least min, and large enough that the object fits in
// MaxParts with room to spare (it plans for 9000, in whole MiB), so a
// stream somewhat larger than expected still fits.
func PartSizeFor(expected, min int64) int64 {
	const mib = 1 << 20
	need := (expected/9000 + mib - 1) / mib * mib
	return max(min, need)
}
