package s3

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Defaults for Config fields left zero.
const (
	DefaultPartSize    = 64 << 20
	DefaultConcurrency = 4
	DefaultMaxAttempts = 5
)

// Config says how to reach a bucket.
type Config struct {
	Endpoint string // URL, e.g. http://127.0.0.1:9000
	Region   string
	Bucket   string
	// AccessKey and SecretKey are static credentials. Both empty: the AWS
	// default chain (environment, shared config and credentials files,
	// container or instance role), resolved at the first request.
	AccessKey string
	SecretKey string // never logged
	// RootCAs verifies the endpoint's TLS certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Upload, when set, bounds the bytes per second sent; Buckets built
	// from copies of one Config share it.
	Upload *Throttle
	// PartSize is the multipart part size in bytes; Concurrency the parts
	// in flight. Memory use of a Put is about PartSize × (Concurrency+1).
	PartSize    int64
	Concurrency int
	// MaxAttempts bounds the tries of each request (with backoff).
	MaxAttempts int
	// HTTPClient overrides the SDK's client (tests inject faults with it).
	HTTPClient *http.Client
}

// Bucket is a Store over one S3 bucket.
type Bucket struct {
	cfg    Config
	client *awss3.Client
	tm     *transfermanager.Client
}

var _ Store = (*Bucket)(nil)

// New returns a Store for cfg.Bucket. It does not contact the server.
func New(cfg Config) *Bucket {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	client := awss3.New(awss3.Options{
		BaseEndpoint:     aws.String(cfg.Endpoint),
		Region:           cfg.Region,
		UsePathStyle:     true,
		Credentials:      credentialsFor(cfg),
		RetryMaxAttempts: cfg.MaxAttempts,
		RetryMode:        aws.RetryModeStandard,
		HTTPClient:       httpClient(cfg),
	})
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = cfg.PartSize
		o.MultipartUploadThreshold = cfg.PartSize
		o.Concurrency = cfg.Concurrency
		// Abort a failed multipart upload even when the caller's context
		// is what failed (SIGINT): no upload is left behind.
		o.FailTimeout = 30 * time.Second
	})
	return &Bucket{cfg: cfg, client: client, tm: tm}
}

// httpClient is cfg.HTTPClient, or the SDK's own with cfg.RootCAs,
// sending through cfg.Upload when it is set.
func httpClient(cfg Config) awss3.HTTPClient {
	var c awss3.HTTPClient = cfg.HTTPClient
	if cfg.HTTPClient == nil {
		c = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if cfg.RootCAs != nil {
				tr.TLSClientConfig.RootCAs = cfg.RootCAs
			}
		})
	}
	if cfg.Upload != nil {
		c = &throttledClient{next: c, t: cfg.Upload}
	}
	return c
}

// credentialsFor is cfg's static keys, or the AWS default chain when both
// are empty.
func credentialsFor(cfg Config) aws.CredentialsProvider {
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		return credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")
	}
	return aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		ac, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("AWS credential chain (no s3_access_key/s3_secret_key): %w", err)
		}
		return ac.Credentials.Retrieve(ctx)
	}))
}

// CreateBucket creates the bucket; an existing bucket of ours is fine.
func (b *Bucket) CreateBucket(ctx context.Context) error {
	_, err := b.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &b.cfg.Bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", b.cfg.Bucket, err)
	}
	return nil
}

// Put implements Store. Objects of PartSize or more go up as a multipart
// upload, which is aborted if anything fails.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	_, err := b.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: &b.cfg.Bucket, Key: &key, Body: r, Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	return nil
}

// Get implements Store.
func (b *Bucket) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	in := &awss3.GetObjectInput{Bucket: &b.cfg.Bucket, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, b.wrap("get", key, err)
	}
	return out.Body, nil
}

// ReadTagged implements Store.
func (b *Bucket) ReadTagged(ctx context.Context, key string, limit int64) ([]byte, string, error) {
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &b.cfg.Bucket, Key: &key})
	if err != nil {
		return nil, "", b.wrap("get", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	switch {
	case err != nil:
		return nil, "", b.wrap("get", key, err)
	case int64(len(data)) > limit:
		return nil, "", fmt.Errorf("get s3://%s/%s: over the %d bytes expected", b.cfg.Bucket, key, limit)
	}
	return data, aws.ToString(out.ETag), nil
}

// Swap implements Store with a conditional PUT (If-Match, or
// If-None-Match: * for a new object), which S3 and MinIO honour.
func (b *Bucket) Swap(ctx context.Context, key string, data []byte, match string) (string, error) {
	in := &awss3.PutObjectInput{Bucket: &b.cfg.Bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	if match == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(match)
	}
	out, err := b.client.PutObject(ctx, in)
	if err != nil {
		return "", b.wrap("put", key, err)
	}
	return aws.ToString(out.ETag), nil
}

// Head implements Store.
func (b *Bucket) Head(ctx context.Context, key string) (Info, error) {
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &b.cfg.Bucket, Key: &key})
	if err != nil {
		return Info{}, b.wrap("head", key, err)
	}
	return headInfo(key, out), nil
}

// headInfo is the Info of a HEAD's answer, metadata keys in lower case.
func headInfo(key string, out *awss3.HeadObjectOutput) Info {
	meta := make(map[string]string, len(out.Metadata))
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified), Metadata: meta}
}

// List implements Store.
func (b *Bucket) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	p := awss3.NewListObjectsV2Paginator(b.client, &awss3.ListObjectsV2Input{Bucket: &b.cfg.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, Info{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Delete implements Store.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &b.cfg.Bucket, Key: &key})
	if err != nil && !errors.Is(b.wrap("delete", key, err), ErrNotExist) {
		return b.wrap("delete", key, err)
	}
	return nil
}

// wrap adds the operation and key to err, and ErrNotExist for a missing key.
func (b *Bucket) wrap(op, key string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NotFound", "NoSuchKey":
			return fmt.Errorf("%s s3://%s/%s: %w", op, b.cfg.Bucket, key, ErrNotExist)
		case "PreconditionFailed", "ConditionalRequestConflict":
			return fmt.Errorf("%s s3://%s/%s: %w", op, b.cfg.Bucket, key, ErrChanged)
		}
	}
	return fmt.Errorf("%s s3://%s/%s: %w", op, b.cfg.Bucket, key, err)
}
