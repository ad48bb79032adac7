// Package s3 stores a repository's files in an S3 bucket (AWS or any
// S3-compatible server: versitygw, MinIO, Ceph, …) through aws-sdk-go-v2.
//
// Layout: the same as a local repository, under an optional key prefix:
// <prefix>/config and <prefix>/<type>/<name>. A repository copied between a
// directory and a bucket byte for byte is the same repository.
//
// How the backend contract maps onto S3:
//   - Save is one PutObject (or, above MultipartThreshold, a multipart upload
//     completed in one call): S3 makes an object visible whole or not at
//     all, so Save is atomic without a temporary name.
//   - IfNotExists is `If-None-Match: *` and IfMatch is `If-Match: <etag>`;
//     the server answers 412 when the condition fails. These need a server
//     with conditional writes (AWS since 2024, versitygw, MinIO); a server
//     that ignores the headers would make refs last-writer-wins, which is
//     why the conformance suite races creates against every server we test.
//   - Every upload carries a CRC32C checksum the server verifies before it
//     stores the object, and whole-object reads verify the checksum the
//     server returns, so a flipped bit in transit is an error, not data.
//   - The SDK's own retries are off: the one retry layer for all backends is
//     the retry decorator (package retry), which knows that a conditional
//     save whose answer was lost may have succeeded.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// Defaults for Config's zero values.
const (
	// DefaultMultipartThreshold: objects up to this size go in one PUT.
	// Packs are 16 MiB by default, so they normally do; larger packs (a
	// tuned pack_size, big files) use a multipart upload with parallel parts.
	DefaultMultipartThreshold = 32 << 20
	DefaultPartSize           = 16 << 20
	DefaultPartConcurrency    = 4
	defaultRegion             = "us-east-1"
)

// Config says where the bucket is and how to reach it. Empty credentials
// mean the AWS default chain (environment, shared config and credentials
// files, SSO, instance roles).
type Config struct {
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix,omitempty"`   // key prefix, without leading or trailing '/'
	Endpoint  string `json:"endpoint,omitempty"` // e.g. https://minio.example:9000; empty: AWS
	Region    string `json:"region,omitempty"`
	PathStyle bool   `json:"path_style,omitempty"` // bucket in the path, not the host name
	Profile   string `json:"profile,omitempty"`    // a profile of the shared AWS config files

	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	SessionToken    string `json:"session_token,omitempty"`

	MultipartThreshold int64 `json:"-"`
	PartSize           int64 `json:"-"`
	PartConcurrency    int   `json:"-"`
	// HTTPClient replaces the SDK's HTTP client (tests trust a self-signed
	// certificate this way; users set AWS_CA_BUNDLE instead).
	HTTPClient *http.Client `json:"-"`
}

// Backend is an S3 bucket (and prefix) holding one repository.
type Backend struct {
	cfg      Config
	client   *s3.Client
	uploader *manager.Uploader
}

var _ backend.Backend = (*Backend)(nil)

// Open connects to the bucket. It does not check that the bucket exists:
// the first operation reports that (commands that need it call Stat on the
// config).
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 backend: no bucket given")
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	if cfg.MultipartThreshold <= 0 {
		cfg.MultipartThreshold = DefaultMultipartThreshold
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < manager.MinUploadPartSize {
		cfg.PartSize = manager.MinUploadPartSize
	}
	if cfg.PartConcurrency <= 0 {
		cfg.PartConcurrency = DefaultPartConcurrency
	}
	var loadOpts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3 backend: loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion // S3-compatible servers accept any region
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if cfg.HTTPClient != nil {
			// Set here, not in LoadDefaultConfig, which refuses a plain
			// *http.Client when AWS_CA_BUNDLE is set.
			o.HTTPClient = cfg.HTTPClient
		}
		o.RetryMaxAttempts = 1 // package retry is the one retry layer
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		// Validate only whole-object reads (Load asks for them): some
		// servers send the whole object's checksum with a ranged read.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true // servers without checksums are not an error
	})
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = cfg.PartConcurrency
	})
	return &Backend{cfg: cfg, client: client, uploader: up}, nil
}

// Location is s3://bucket/prefix (and the endpoint when not AWS).
func (b *Backend) Location() string {
	loc := "s3://" + b.cfg.Bucket
	if b.cfg.Prefix != "" {
		loc += "/" + b.cfg.Prefix
	}
	if b.cfg.Endpoint != "" {
		loc += " at " + b.cfg.Endpoint
	}
	return loc
}

func (b *Backend) Close() error { return nil }

// Client is the SDK client (benchmarks compare against raw uploads).
func (b *Backend) Client() *s3.Client { return b.client }

// key is the object key of h.
func (b *Backend) key(h backend.Handle) (string, error) {
	if err := h.Valid(); err != nil {
		return "", err
	}
	k := string(h.Type)
	if h.Name != "" {
		k += "/" + h.Name
	}
	if b.cfg.Prefix != "" {
		k = b.cfg.Prefix + "/" + k
	}
	return k, nil
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, data []byte, opts backend.SaveOptions) error {
	key, err := b.key(h)
	if err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket:            aws.String(b.cfg.Bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(data), // seekable: plain-http PUTs need it
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	}
	if opts.IfNotExists {
		in.IfNoneMatch = aws.String("*")
	} else if opts.IfMatch != "" {
		in.IfMatch = aws.String(opts.IfMatch)
	}
	// A 409 ConditionalRequestConflict means another conditional write to
	// the same key was in flight; AWS asks the client to try again, and
	// the retry then gets a real answer (success or 412).
	for attempt := 0; ; attempt++ {
		if int64(len(data)) > b.cfg.MultipartThreshold {
			in.Body = bytes.NewReader(data)
			_, err = b.uploader.Upload(ctx, in)
		} else {
			in.Body = bytes.NewReader(data)
			_, err = b.client.PutObject(ctx, in)
		}
		if err == nil || attempt >= 4 || apiCode(err) != "ConditionalRequestConflict" {
			break
		}
	}
	if err == nil {
		return nil
	}
	switch {
	case httpStatus(err) == http.StatusPreconditionFailed && opts.IfNotExists:
		return fmt.Errorf("save %v: %w", h, backend.ErrExists)
	case httpStatus(err) == http.StatusPreconditionFailed,
		opts.IfMatch != "" && isNotFound(err):
		return fmt.Errorf("save %v: %w", h, backend.ErrPrecondition)
	}
	return b.wrap("save", h, err)
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	key, err := b.key(h)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("load %v: negative offset %d", h, offset)
	}
	if length == 0 {
		// Nothing to read, but a missing file must still be reported.
		_, err := b.Stat(ctx, h)
		return []byte{}, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)}
	switch {
	case offset == 0 && length < 0:
		// Whole object: the server's stored checksum can be verified.
		in.ChecksumMode = types.ChecksumModeEnabled
	case length < 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	default:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			return []byte{}, nil // offset at or past the end
		}
		return nil, b.wrap("load", h, err)
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if out.ContentLength != nil && *out.ContentLength > 0 {
		buf.Grow(int(*out.ContentLength))
	}
	if _, err := io.Copy(&buf, out.Body); err != nil {
		// Includes a checksum mismatch detected at the end of the body.
		return nil, fmt.Errorf("load %v from %s: %w", h, b.Location(), err)
	}
	if out.ContentLength != nil && int64(buf.Len()) != *out.ContentLength {
		return nil, fmt.Errorf("load %v from %s: got %d bytes of %d", h, b.Location(), buf.Len(), *out.ContentLength)
	}
	return buf.Bytes(), nil
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	key, err := b.key(h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return backend.FileInfo{}, b.wrap("stat", h, err)
	}
	return backend.FileInfo{Name: h.Name, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag)}, nil
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.Config {
		return backend.ListConfig(ctx, b, fn)
	}
	dir := string(t) + "/"
	if b.cfg.Prefix != "" {
		dir = b.cfg.Prefix + "/" + dir
	}
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(dir),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return b.wrap("list", backend.Handle{Type: t}, err)
		}
		for _, obj := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(obj.Key), dir)
			if (backend.Handle{Type: t, Name: name}).Valid() != nil {
				continue // not a file this layout writes (e.g. a "folder" marker)
			}
			if err := fn(backend.FileInfo{Name: name, Size: aws.ToInt64(obj.Size), ETag: aws.ToString(obj.ETag)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove implements backend.Backend. S3 deletes are idempotent already.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	key, err := b.key(h)
	if err != nil {
		return err
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return b.wrap("remove", h, err)
	}
	return nil
}

// wrap maps S3 errors onto the backend's sentinels.
func (b *Backend) wrap(op string, h backend.Handle, err error) error {
	switch {
	case isNotFound(err) && apiCode(err) != "NoSuchBucket":
		return fmt.Errorf("%s %v: %w", op, h, backend.ErrNotExist)
	case isDenied(err):
		return fmt.Errorf("%s %v at %s: %w (%w): %w", op, h, b.Location(), backend.ErrPermission, backend.ErrPermanent, err)
	case isPermanent(err):
		return fmt.Errorf("%s %v at %s: %w: %w", op, h, b.Location(), backend.ErrPermanent, err)
	}
	return fmt.Errorf("%s %v at %s: %w", op, h, b.Location(), err)
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || httpStatus(err) == http.StatusNotFound
}

// isDenied: the credentials may not do that (other operations may work).
func isDenied(err error) bool {
	return apiCode(err) == "AccessDenied" || httpStatus(err) == http.StatusForbidden && apiCode(err) != "InvalidAccessKeyId" && apiCode(err) != "SignatureDoesNotMatch"
}

// isPermanent: answers that another attempt cannot change (credentials,
// permissions, a missing bucket, a wrong region or endpoint).
func isPermanent(err error) bool {
	switch apiCode(err) {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket",
		"PermanentRedirect", "AuthorizationHeaderMalformed", "InvalidBucketName", "InvalidArgument":
		return true
	}
	switch httpStatus(err) {
	case http.StatusForbidden, http.StatusMovedPermanently, http.StatusNotFound:
		return true
	}
	return false
}
