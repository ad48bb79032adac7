package sfapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// IngestJobSpec describes a Bulk 2.0 ingest job.
type IngestJobSpec struct {
	Object string
	// Operation: insert, update, upsert, delete or hardDelete.
	Operation string
	// ExternalIDFieldName is required for upsert (it may be "Id").
	ExternalIDFieldName string
	// LineEnding (LF or CRLF) must match the uploaded CSV; default LF.
	LineEnding string
	// ColumnDelimiter, default COMMA.
	ColumnDelimiter  string
	AssignmentRuleID string
}

var ingestOps = map[string]bool{"insert": true, "update": true, "upsert": true, "delete": true, "hardDelete": true}

// CreateIngestJob opens an ingest job (state Open).
func (c *Client) CreateIngestJob(ctx context.Context, spec IngestJobSpec) (*BulkJob, error) {
	if err := checkName(spec.Object); err != nil {
		return nil, err
	}
	if !ingestOps[spec.Operation] {
		return nil, fmt.Errorf("sfapi: ingest operation %q is not one of insert, update, upsert, delete, hardDelete", spec.Operation)
	}
	if spec.Operation == "upsert" && spec.ExternalIDFieldName == "" {
		return nil, errors.New("sfapi: upsert needs ExternalIDFieldName")
	}
	if _, ok := delimiters[spec.ColumnDelimiter]; !ok {
		return nil, fmt.Errorf("sfapi: unknown column delimiter %q", spec.ColumnDelimiter)
	}
	body := map[string]string{"object": spec.Object, "operation": spec.Operation, "contentType": "CSV"}
	if spec.ExternalIDFieldName != "" {
		body["externalIdFieldName"] = spec.ExternalIDFieldName
	}
	if spec.LineEnding != "" {
		body["lineEnding"] = spec.LineEnding
	}
	if spec.ColumnDelimiter != "" {
		body["columnDelimiter"] = spec.ColumnDelimiter
	}
	if spec.AssignmentRuleID != "" {
		body["assignmentRuleId"] = spec.AssignmentRuleID
	}
	var job BulkJob
	// An orphan Open job from a repeated create does nothing and expires in
	// 24 h, so creation may be retried.
	if _, err := c.sendJSON(ctx, FamilyBulk, http.MethodPost, c.jobsPath("ingest"), nil, body, &job, true); err != nil {
		return nil, fmt.Errorf("creating bulk %s job on %s: %w", spec.Operation, spec.Object, err)
	}
	if job.ID == "" {
		return nil, errors.New("creating bulk ingest job: answer has no job id")
	}
	return &job, nil
}

// UploadIngestData sends the job's one CSV (header + rows; ≤ ~100 MB).
// Salesforce accepts a single upload per job, so the upload is resent only
// when the failure proves it was not received.
func (c *Client) UploadIngestData(ctx context.Context, jobID string, csvData []byte) error {
	if err := ValidateID(jobID); err != nil {
		return err
	}
	_, err := c.do(ctx, &call{family: FamilyBulk, method: http.MethodPut, path: c.jobsPath("ingest", jobID, "batches"),
		body: csvData, contentType: "text/csv", idempotent: false})
	if err != nil {
		return fmt.Errorf("uploading data to bulk job %s: %w", jobID, err)
	}
	return nil
}

// CloseIngestJob marks the upload complete so Salesforce starts processing.
func (c *Client) CloseIngestJob(ctx context.Context, jobID string) (*BulkJob, error) {
	return c.setJobState(ctx, "ingest", jobID, JobUploadComplete)
}

// AbortIngestJob aborts an ingest job.
func (c *Client) AbortIngestJob(ctx context.Context, jobID string) (*BulkJob, error) {
	return c.setJobState(ctx, "ingest", jobID, JobAborted)
}

// IngestJob returns an ingest job's info.
func (c *Client) IngestJob(ctx context.Context, jobID string) (*BulkJob, error) {
	return c.jobInfo(ctx, "ingest", jobID)
}

// DeleteIngestJob deletes a terminal ingest job and its results.
func (c *Client) DeleteIngestJob(ctx context.Context, jobID string) error {
	return c.deleteJob(ctx, "ingest", jobID)
}

// WaitIngestJob polls until the job is terminal. A JobComplete job may still
// have failed rows (NumberRecordsFailed); Failed/Aborted come back as errors
// with the job.
func (c *Client) WaitIngestJob(ctx context.Context, jobID string, p PollOptions) (*BulkJob, error) {
	job, err := c.waitJob(ctx, "ingest", jobID, p)
	if err != nil {
		return job, err
	}
	return job, jobStateErr(job)
}

// IngestRow is one row of an ingest job's results. Values are the
// uploaded columns (IngestResults.Header), echoed by Salesforce.
type IngestRow struct {
	ID      string // sf__Id: the record's Id (empty for a failed insert)
	Created bool   // sf__Created: inserted rather than updated
	Error   string // sf__Error: "STATUS_CODE:message:fields --"
	Values  []string
}

// ErrorCode returns the status code at the start of Error.
func (r IngestRow) ErrorCode() string {
	code, _, _ := strings.Cut(r.Error, ":")
	return code
}

// IngestResults are an ingest job's three result sets.
type IngestResults struct {
	Header      []string // the uploaded columns
	Successful  []IngestRow
	Failed      []IngestRow
	Unprocessed [][]string
}

// IngestResults fetches successful, failed and unprocessed rows. Columns
// are matched by name (Salesforce's order differs from its docs).
func (c *Client) IngestResults(ctx context.Context, jobID string) (*IngestResults, error) {
	if err := ValidateID(jobID); err != nil {
		return nil, err
	}
	res := &IngestResults{}
	for _, kind := range []string{"successfulResults", "failedResults", "unprocessedrecords"} {
		resp, err := c.do(ctx, &call{family: FamilyBulk, method: http.MethodGet, path: c.jobsPath("ingest", jobID, kind) + "/",
			accept: "text/csv", idempotent: true})
		if err != nil {
			return nil, fmt.Errorf("bulk job %s %s: %w", jobID, kind, err)
		}
		rows, header, err := parseIngestCSV(resp.body)
		if err != nil {
			return nil, fmt.Errorf("bulk job %s %s: %w", jobID, kind, err)
		}
		if header != nil && res.Header == nil {
			res.Header = header
		}
		switch kind {
		case "successfulResults":
			res.Successful = rows
		case "failedResults":
			res.Failed = rows
		default:
			for _, r := range rows {
				res.Unprocessed = append(res.Unprocessed, r.Values)
			}
		}
	}
	return res, nil
}

// parseIngestCSV splits sf__ columns from the uploaded ones.
func parseIngestCSV(body []byte) ([]IngestRow, []string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, nil
	}
	r := csv.NewReader(bytes.NewReader(body))
	head, err := r.Read()
	if err != nil {
		return nil, nil, err
	}
	idCol, createdCol, errCol := -1, -1, -1
	var header []string
	var keep []int
	for i, h := range head {
		switch strings.ToLower(h) {
		case "sf__id":
			idCol = i
		case "sf__created":
			createdCol = i
		case "sf__error":
			errCol = i
		default:
			header = append(header, h)
			keep = append(keep, i)
		}
	}
	var rows []IngestRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		row := IngestRow{Values: make([]string, len(keep))}
		for j, i := range keep {
			row.Values[j] = rec[i]
		}
		if idCol >= 0 {
			row.ID = rec[idCol]
		}
		if createdCol >= 0 {
			row.Created = strings.EqualFold(rec[createdCol], "true")
		}
		if errCol >= 0 {
			row.Error = rec[errCol]
		}
		rows = append(rows, row)
	}
	return rows, header, nil
}

// Ingest runs a whole ingest job: create, upload csvData, close, wait, and
// fetch the results. A job that ends Failed or Aborted returns its results
// (unprocessed rows included) together with the error.
func (c *Client) Ingest(ctx context.Context, spec IngestJobSpec, csvData []byte, p PollOptions) (*BulkJob, *IngestResults, error) {
	job, err := c.CreateIngestJob(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	if err := c.UploadIngestData(ctx, job.ID, csvData); err != nil {
		if _, aerr := c.AbortIngestJob(context.WithoutCancel(ctx), job.ID); aerr != nil {
			c.log.Warn("could not abort bulk job after a failed upload", "job", job.ID, "error", aerr.Error())
		}
		return job, nil, err
	}
	if job, err = c.CloseIngestJob(ctx, job.ID); err != nil {
		return job, nil, err
	}
	job, werr := c.WaitIngestJob(ctx, job.ID, p)
	if job == nil || !job.Terminal() {
		return job, nil, werr
	}
	res, err := c.IngestResults(ctx, job.ID)
	if err != nil {
		return job, nil, err
	}
	return job, res, werr
}
