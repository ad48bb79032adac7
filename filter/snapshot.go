package filter

import (
	"context"
	"fmt"

	"github.com/orgsnap/orgsnap/repo"
)

// ObjectFields are the fields a filter may name for one object of a
// snapshot: every field its records hold (repo.FieldNames), typed from the
// describe the snapshot stored for the object. A stored field the describe
// does not list (a relationship column such as Owner.Name) is Unknown, and
// so is every field of an object stored without a describe.
func ObjectFields(ctx context.Context, r *repo.Repository, s *repo.Snapshot, object string) (Fields, error) {
	names, err := r.FieldNames(ctx, s, object)
	if err != nil {
		return nil, err
	}
	fs := FieldsOf(names)
	o, err := r.Object(ctx, s, object)
	if err != nil {
		return nil, err
	}
	if o.Schema.IsZero() {
		return fs, nil
	}
	raw, err := r.LoadBlob(ctx, o.Schema)
	if err != nil {
		return nil, fmt.Errorf("object %s: schema: %w", object, err)
	}
	typed, err := FieldsFromDescribe(raw)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", object, err)
	}
	for n := range fs {
		if t, ok := typed[n]; ok {
			fs[n] = t
		}
	}
	return fs, nil
}
