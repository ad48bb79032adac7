package backup

import (
	"context"
	"time"

	"github.com/orgsnap/orgsnap/sfapi"
)

// Source is the org as the engine reads it. *sfapi.Client satisfies it;
// tests wrap one to inject failures.
type Source interface {
	Token(ctx context.Context) (*sfapi.Token, error)
	DescribeGlobal(ctx context.Context) (*sfapi.GlobalDescribe, error)
	Describe(ctx context.Context, object string) (*sfapi.SObjectDescribe, error)
	Query(ctx context.Context, soql string, opts *sfapi.QueryOptions) *sfapi.QueryIter
	BulkQuery(ctx context.Context, soql string, opts *sfapi.BulkQueryOptions) (*sfapi.CSVStream, error)
	GetDeleted(ctx context.Context, object string, start, end time.Time) (*sfapi.DeletedResult, error)
	DownloadBlob(ctx context.Context, object, id, field string) (*sfapi.BlobReader, error)
	Budget() sfapi.Budget
	Limits() *sfapi.Limits
}

var _ Source = (*sfapi.Client)(nil)
