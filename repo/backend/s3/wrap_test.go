package s3

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// An S3 AccessDenied is a permission error (pull and clone go on without
// their lock) and permanent (no retries); bad credentials are permanent
// but not a permission answer.
func TestWrapPermission(t *testing.T) {
	b := &Backend{cfg: Config{Bucket: "b"}}
	h := backend.Handle{Type: backend.Locks, Name: "shared-x"}
	denied := b.wrap("save", h, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"})
	if !backend.IsPermission(denied) || !errors.Is(denied, backend.ErrPermanent) {
		t.Fatalf("AccessDenied: %v", denied)
	}
	badKey := b.wrap("save", h, &smithy.GenericAPIError{Code: "InvalidAccessKeyId"})
	if backend.IsPermission(badKey) || !errors.Is(badKey, backend.ErrPermanent) {
		t.Fatalf("InvalidAccessKeyId: %v", badKey)
	}
}
