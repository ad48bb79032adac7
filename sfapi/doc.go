// Package sfapi is orgsnap's Salesforce client: the only code in the project
// that speaks HTTP to Salesforce.
//
// One Client covers the REST API (describe, SOQL query streaming, sObject
// rows, Collections, Tree, blobs), Bulk API 2.0 (query jobs streamed as CSV,
// ingest jobs), the data-replication resources (getUpdated/getDeleted), and
// the few SOAP calls a backup needs (partner undelete, Metadata API
// retrieve).
//
// Invariants the rest of orgsnap relies on:
//
//   - Every call honours its context; nothing blocks past cancellation.
//   - Transient failures (5xx, connection resets, truncated bodies,
//     QUERY_TIMEOUT, UNABLE_TO_LOCK_ROW, …) are retried with exponential
//     backoff and full jitter, using the injected Clock and Rand so tests
//     never sleep. Failures that retrying cannot fix are returned at once as
//     *APIError values carrying Salesforce's errorCode.
//   - REQUEST_LIMIT_EXCEEDED is never retried: it matches
//     ErrRequestLimitExceeded so the engine can stop cleanly, and the Budget
//     brake lets it stop before that point.
//   - On INVALID_SESSION_ID the token is refreshed once and the call retried.
//   - Secrets (access tokens, refresh tokens, passwords, client secrets, key
//     material) never reach the Logger nor an error string.
//   - Each API family (REST, Bulk, files, SOAP) has its own concurrency limit.
package sfapi
