package s3

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxSingleCopy is the largest object CopyObject copies in one request.
const maxSingleCopy = 5 << 30

// copyPartSize is the part size of a multipart copy.
var copyPartSize int64 = 512 << 20

// Copy implements Store. Objects over 5 GiB are copied part by part with
// UploadPartCopy; the destination appears only when the copy completes.
func (b *Bucket) Copy(ctx context.Context, src, dst string, meta map[string]string) error {
	info, err := b.Head(ctx, src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	source := b.cfg.Bucket + "/" + url.PathEscape(src)
	if info.Size <= maxSingleCopy {
		_, err = b.client.CopyObject(ctx, &awss3.CopyObjectInput{
			Bucket: &b.cfg.Bucket, Key: &dst, CopySource: &source,
			Metadata: meta, MetadataDirective: types.MetadataDirectiveReplace,
			// The copy's CRC-32, computed by the server over what it holds,
			// is what a commit compares with the bytes it sent.
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return b.wrap("copy to", dst, err)
		}
		return nil
	}
	return b.multipartCopy(ctx, source, dst, info.Size, meta)
}

func (b *Bucket) multipartCopy(ctx context.Context, source, dst string, size int64, meta map[string]string) (err error) {
	mpu, err := b.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &b.cfg.Bucket, Key: &dst, Metadata: meta})
	if err != nil {
		return b.wrap("copy to", dst, err)
	}
	defer func() {
		if err != nil {
			// Abort with a fresh context: the caller's may be what failed.
			_, _ = b.client.AbortMultipartUpload(context.WithoutCancel(ctx), &awss3.AbortMultipartUploadInput{Bucket: &b.cfg.Bucket, Key: &dst, UploadId: mpu.UploadId})
		}
	}()
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+copyPartSize, n+1 {
		end := min(off+copyPartSize, size) - 1
		out, err := b.client.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{
			Bucket: &b.cfg.Bucket, Key: &dst, UploadId: mpu.UploadId, PartNumber: aws.Int32(n),
			CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			return b.wrap("copy part to", dst, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = b.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: &b.cfg.Bucket, Key: &dst, UploadId: mpu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return b.wrap("complete copy to", dst, err)
	}
	return nil
}

// AbortUploads aborts every unfinished multipart upload of exactly key,
// such as the one a killed run left. (MinIO lists uploads by exact key
// only, so callers name each key.)
func (b *Bucket) AbortUploads(ctx context.Context, key string) error {
	out, err := b.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &b.cfg.Bucket, Prefix: &key})
	if err != nil {
		return b.wrap("list uploads", key, err)
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) != key {
			continue
		}
		if _, err := b.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &b.cfg.Bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
			return b.wrap("abort upload", key, err)
		}
	}
	return nil
}

// PendingUploads lists the multipart uploads not yet completed or aborted
// under prefix. A clean run leaves none.
func (b *Bucket) PendingUploads(ctx context.Context, prefix string) ([]string, error) {
	out, err := b.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &b.cfg.Bucket, Prefix: &prefix})
	if err != nil {
		return nil, b.wrap("list uploads", prefix, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys, nil
}
