// Package restore puts records of a snapshot back into an org: deleted
// records and whole hierarchies, chosen fields of changed records (rolling a
// bad data load back), into the same org or another one.
//
// A restore is planned, then executed. The plan reads the org but writes
// nothing: for each record of the restore set it finds the org's current
// state (live, in the Recycle Bin, or gone) and decides the action:
//
//   - in the Recycle Bin: undelete it (SOAP undelete keeps the Id, and brings
//     back the master-detail children deleted with it), then update the
//     fields that differ from the snapshot;
//   - gone (hard-deleted, or another org): insert it. The new record gets a
//     new Id; an old→new Id map re-points every lookup and master-detail
//     field of later records that referred to the old one;
//   - live: update only the fields whose org value differs from the
//     snapshot; a record equal to the snapshot is left alone.
//
// Objects are written in dependency order computed from describe
// (referenceTo of every writable reference field, a topological sort):
// parents exist before their children are inserted. A reference to a
// record that is inserted later (a self-lookup, a cycle between objects)
// is sent empty and set by a second pass of updates once every insert is
// done. Polymorphic references (WhoId, WhatId, ParentId) are resolved by
// the key prefix of the Id they hold.
//
// Only inserts are not idempotent; the journal (journal.go) makes a
// crashed or stopped restore resume without inserting anything twice.
package restore

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/record"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Org is what a restore needs of the target org; *sfapi.Client has it.
type Org interface {
	DescribeGlobal(ctx context.Context) (*sfapi.GlobalDescribe, error)
	Describe(ctx context.Context, object string) (*sfapi.SObjectDescribe, error)
	Query(ctx context.Context, soql string, opts *sfapi.QueryOptions) *sfapi.QueryIter
	RetrieveRecords(ctx context.Context, object string, ids, fields []string) ([]*sfapi.Record, error)
	Undelete(ctx context.Context, ids []string) ([]sfapi.UndeleteResult, error)
	CreateRecords(ctx context.Context, object string, records []sfapi.Fields, opts sfapi.CollectionOptions) ([]sfapi.SaveResult, error)
	UpdateRecords(ctx context.Context, object string, records []sfapi.Fields, opts sfapi.CollectionOptions) ([]sfapi.SaveResult, error)
	CreateIngestJob(ctx context.Context, spec sfapi.IngestJobSpec) (*sfapi.BulkJob, error)
	UploadIngestData(ctx context.Context, jobID string, csvData []byte) error
	CloseIngestJob(ctx context.Context, jobID string) (*sfapi.BulkJob, error)
	AbortIngestJob(ctx context.Context, jobID string) (*sfapi.BulkJob, error)
	IngestJob(ctx context.Context, jobID string) (*sfapi.BulkJob, error)
	WaitIngestJob(ctx context.Context, jobID string, p sfapi.PollOptions) (*sfapi.BulkJob, error)
	IngestResults(ctx context.Context, jobID string) (*sfapi.IngestResults, error)
	UploadBlob(ctx context.Context, object string, fields sfapi.Fields, blobField, fileName string, content io.ReadSeeker) (string, error)
	Budget() sfapi.Budget
}

// Sentinel errors callers branch on.
var (
	// ErrStopped: the run stopped early (API budget, interrupt); the
	// journal lets the same command resume it.
	ErrStopped = errors.New("restore stopped before the end")
	// ErrRecordsFailed: the run finished but Salesforce refused some
	// records (see Report.Results).
	ErrRecordsFailed = errors.New("some records were not restored")
	// ErrNothingSelected: the selection matched no record of the snapshot.
	ErrNothingSelected = errors.New("nothing to restore")
	// ErrBadSelection: the selection cannot be honoured (unknown object,
	// record not in the snapshot, bad field name).
	ErrBadSelection = errors.New("invalid restore selection")
)

// Target selects records of one object of the snapshot.
type Target struct {
	Object string
	// IDs are record Ids (15 or 18 characters); empty with Where unset
	// means every record of the object.
	IDs []string
	// Match, when set, selects the snapshot records it accepts (the
	// command line builds it from a --where filter).
	Match func(id string, rec record.Record) bool
	// Where is the filter's text, for the plan and the journal's identity.
	Where string
}

// Options configure a restore.
type Options struct {
	// Snapshot is where values come from (REV).
	Snapshot *repo.Snapshot
	// Targets select records by Id or filter.
	Targets []Target
	// ChangedSince selects every record that changed between it and Until
	// (or the org now, when Until is nil), restoring only the fields that
	// changed in that window. With Until set, a field that the org changed
	// again after Until is left alone (a later, legitimate edit).
	ChangedSince, Until *repo.Snapshot
	// Fields limits what is written to these fields: "Field" (any object)
	// or "Object.Field". Empty: every writable field.
	Fields []string
	// WithChildren also restores the records that referred to the selected
	// records in the snapshot, Depth levels down (0 ⇒ 1).
	WithChildren bool
	Depth        int
	// NoParents leaves out the missing parents selected records refer to
	// (by default they are restored too, so references can be re-pointed).
	NoParents bool

	// CrossOrg: the target is another org (a sandbox, a fresh org); Ids of
	// the snapshot mean nothing there. Records are matched by MatchFields
	// or their external-Id fields, else inserted; nothing is undeleted.
	CrossOrg bool
	// MatchFields maps object → fields whose values identify a record in
	// the target (e.g. Account → [Legacy_Id__c]). Objects not listed are
	// matched on their first unique external-Id field when CrossOrg.
	MatchFields map[string][]string
	// FallbackOwner is the User Id (or Username) given to records whose
	// owner does not exist or is inactive in the target.
	FallbackOwner string
	// Mask replaces the values of these fields ("Object.Field" or "Field")
	// with deterministic placeholders (sandbox seeding).
	Mask []string

	// DryRun plans and reports without writing anything.
	DryRun bool
	// BulkThreshold: an object with more inserts or updates than this is
	// written through Bulk API 2.0 (default 2,000); fewer go through
	// sObject Collections (200 records a call).
	BulkThreshold int
	// BudgetPercent stops the run cleanly (resumable) once the org's daily
	// API usage passes it (default 90).
	BudgetPercent float64
	// AllowDuplicates saves records that duplicate rules would block
	// (Sforce-Duplicate-Rule-Header allowSave=true); otherwise they fail
	// with DUPLICATES_DETECTED and are reported.
	AllowDuplicates bool
	// TargetOrg identifies the target org (its 00D Id) in the journal.
	TargetOrg string
	// Fresh forgets the journal of an earlier run of the same restore.
	Fresh bool
	// NoFiles skips file bodies (ContentVersion, Attachment, Document).
	NoFiles bool

	Poll sfapi.PollOptions
	// Now is the org's clock as seen by this process (default time.Now):
	// it bounds the search for records a crashed run may have created.
	Now func() time.Time
	// Progress, when set, receives one line per step.
	Progress func(msg string)
	// Interrupt, when closed, stops the run after the request in flight.
	Interrupt <-chan struct{}
}

func (o *Options) setDefaults() {
	if o.BulkThreshold <= 0 {
		o.BulkThreshold = 2000
	}
	if o.BudgetPercent <= 0 {
		o.BudgetPercent = 90
	}
	if o.Depth <= 0 {
		o.Depth = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}
