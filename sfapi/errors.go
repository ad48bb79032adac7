package sfapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Sentinel errors. Test with errors.Is; *APIError values match the sentinel
// that fits their errorCode, so callers rarely need to look at codes.
var (
	// ErrRequestLimitExceeded: the org's API allocation (daily or
	// concurrent) is spent. Never retried: the engine must stop cleanly and
	// resume later.
	ErrRequestLimitExceeded = errors.New("sfapi: Salesforce API request limit exceeded")
	// ErrBudgetExhausted: the client-side budget brake (Budget.Check) refused
	// to spend more of the daily allocation.
	ErrBudgetExhausted = errors.New("sfapi: API budget exhausted")
	// ErrNotFound: the resource or record does not exist (404, NOT_FOUND,
	// ENTITY_IS_DELETED).
	ErrNotFound = errors.New("sfapi: not found")
	// ErrInvalidSession: the session is expired or invalid and could not be
	// refreshed.
	ErrInvalidSession = errors.New("sfapi: session expired or invalid")
	// ErrBulkJobFailed: a Bulk API job ended in state Failed.
	ErrBulkJobFailed = errors.New("sfapi: bulk job failed")
	// ErrBulkJobAborted: a Bulk API job was aborted (by us or someone else).
	ErrBulkJobAborted = errors.New("sfapi: bulk job aborted")
	// ErrInvalidID: a string is not a well-formed 15- or 18-character Id.
	ErrInvalidID = errors.New("sfapi: malformed Salesforce Id")
	// ErrIncompleteResults: the server said a result had more rows than it
	// delivered, and re-fetching did not help.
	ErrIncompleteResults = errors.New("sfapi: incomplete results")
	// ErrURITooLong: the request's URI would pass MaxURIBytes, which
	// Salesforce answers with 414 (431 with the headers). It is refused
	// before sending; a long REST query must be split (or sent through Bulk,
	// which takes the SOQL in the body).
	ErrURITooLong = errors.New("sfapi: request URI too long")
)

// MaxURIBytes is Salesforce's limit on a request's URI (path and query
// string); past it the answer is 414, and past it counting the headers 431.
const MaxURIBytes = 16384

// APIError is an error answered by Salesforce: a REST/Bulk error array
// ([{"message","errorCode","fields"}]), an OAuth error
// ({"error","error_description"}) or a SOAP fault. When a body holds several
// errors, the first is promoted and all are kept in All.
type APIError struct {
	StatusCode int      // HTTP status
	ErrorCode  string   // e.g. "INVALID_FIELD", "invalid_grant", "INVALID_SESSION_ID"
	Message    string   // Salesforce's message, secrets redacted
	Fields     []string // fields named by the error, if any
	All        []ErrorItem
	Method     string // request method and path (no query), for context
	Path       string
	// RetryAfter is the parsed Retry-After header, if any (zero otherwise).
	RetryAfter time.Duration
	soap       bool
	raw        []byte // the error body, for callers that parse richer shapes
}

// ErrorItem is one element of a Salesforce error array. Per-record save
// results use statusCode instead of errorCode; both decode into StatusCode
// and ErrorCode alike.
type ErrorItem struct {
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

// Code returns the errorCode, falling back to statusCode.
func (e ErrorItem) Code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("salesforce: ")
	if e.Method != "" {
		fmt.Fprintf(&b, "%s %s: ", e.Method, e.Path)
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.ErrorCode != "" {
		b.WriteString(" ")
		b.WriteString(e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		fmt.Fprintf(&b, " (fields %s)", strings.Join(e.Fields, ", "))
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; ")
		b.WriteString(hint)
	}
	return b.String()
}

// hint tells the user what to do next, for the errors a user can act on.
func (e *APIError) hint() string {
	switch {
	case e.ErrorCode == "REQUEST_LIMIT_EXCEEDED":
		return "the org's API allocation is spent: wait for it to recover (rolling 24 h) or lower the budget, then run again; work done so far is kept"
	case e.ErrorCode == "invalid_grant":
		return "check the credentials, connected app and user approval, then run `orgsnap org login` again"
	case e.ErrorCode == "API_DISABLED_FOR_ORG":
		return "the user needs the \"API Enabled\" permission"
	}
	return ""
}

// Is lets errors.Is match APIError values against the package sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrRequestLimitExceeded:
		return e.ErrorCode == "REQUEST_LIMIT_EXCEEDED"
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.ErrorCode == "NOT_FOUND" || e.ErrorCode == "ENTITY_IS_DELETED"
	case ErrInvalidSession:
		return e.ErrorCode == "INVALID_SESSION_ID"
	}
	return false
}

// transientCodes are Salesforce errorCodes that a retry can fix.
var transientCodes = map[string]bool{
	"QUERY_TIMEOUT":             true,
	"UNABLE_TO_LOCK_ROW":        true,
	"SERVER_UNAVAILABLE":        true,
	"REQUEST_RUNNING_TOO_LONG":  true,
	"UNKNOWN_EXCEPTION":         true,
	"TXN_SECURITY_TEMP_FAILURE": true,
}

// Temporary reports whether retrying the same request may succeed.
//
// REQUEST_LIMIT_EXCEEDED is not temporary, except for the
// "ConcurrentRequests" flavour, which only says too many long requests run at
// once: that one clears in seconds and does not mean the daily allocation is
// spent.
func (e *APIError) Temporary() bool {
	if transientCodes[e.ErrorCode] {
		return true
	}
	switch e.ErrorCode {
	case "REQUEST_LIMIT_EXCEEDED":
		return strings.Contains(e.Message, "ConcurrentRequests")
	case "INVALID_SESSION_ID":
		return false
	}
	if e.soap {
		// SOAP reports every fault, permanent or not, as HTTP 500.
		return e.ErrorCode == ""
	}
	switch e.StatusCode {
	case 420, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// unprocessed reports whether the error proves the request was not acted
// upon, so that even a non-idempotent request (a record insert) may be sent
// again without risking a duplicate.
func (e *APIError) unprocessed() bool {
	switch e.ErrorCode {
	case "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE":
		return true
	case "REQUEST_LIMIT_EXCEEDED":
		return e.Temporary()
	}
	switch e.StatusCode {
	case 420, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable:
		return true
	}
	return false
}

// IsNotFound reports whether err says the resource or record does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsInvalidSession reports whether err is an expired or invalid session.
func IsInvalidSession(err error) bool { return errors.Is(err, ErrInvalidSession) }

// IsLimitExceeded reports whether err means the org's API allocation is spent
// or the client's budget brake engaged: the caller should stop, not retry.
func IsLimitExceeded(err error) bool {
	return errors.Is(err, ErrRequestLimitExceeded) || errors.Is(err, ErrBudgetExhausted)
}

// ErrorCode returns Salesforce's errorCode carried by err, or "".
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode
	}
	return ""
}

// IsTransient reports whether err is worth retrying: a transient Salesforce
// answer, a network failure or a truncated body. Context cancellation is
// never transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, errContextDone) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, ErrIncompleteResults) || errors.Is(err, ErrBulkJobFailed)
}

// transportError wraps a network-level failure (no HTTP answer, or a body cut
// short). sent is false when the request provably never left (dial failure).
type transportError struct {
	op   string
	err  error
	sent bool
}

func (e *transportError) Error() string { return e.op + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// errContextDone marks context errors wrapped by this package.
var errContextDone = errors.New("context done")

// parseErrorBody turns an error response into an *APIError. It accepts the
// REST/Bulk array, a single error object, the OAuth shape and SOAP faults;
// anything else becomes the (redacted, truncated) body text.
func parseErrorBody(status int, contentType string, body []byte) *APIError {
	e := &APIError{StatusCode: status, raw: body}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		e.Message = http.StatusText(status)
	case trimmed[0] == '[':
		var items []ErrorItem
		if json.Unmarshal(trimmed, &items) == nil && len(items) > 0 {
			e.All = items
			e.ErrorCode, e.Message, e.Fields = items[0].Code(), items[0].Message, items[0].Fields
		} else {
			e.Message = snippet(trimmed)
		}
	case trimmed[0] == '{':
		var o struct {
			ErrorItem
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if json.Unmarshal(trimmed, &o) == nil {
			if o.Error != "" {
				e.ErrorCode, e.Message = o.Error, o.ErrorDescription
			} else {
				e.ErrorCode, e.Message, e.Fields = o.Code(), o.Message, o.Fields
			}
		}
		if e.ErrorCode == "" && e.Message == "" {
			e.Message = snippet(trimmed)
		}
	case trimmed[0] == '<':
		if f, ok := parseSOAPFault(trimmed); ok {
			e.soap = true
			e.ErrorCode, e.Message = f.code, f.message
		} else {
			e.Message = snippet(trimmed)
		}
	default:
		e.Message = snippet(trimmed)
	}
	e.Message = redact(e.Message)
	return e
}

type soapFault struct{ code, message string }

// parseSOAPFault extracts faultcode/faultstring (and the sf:exceptionCode
// detail when present) from a SOAP envelope.
func parseSOAPFault(body []byte) (soapFault, bool) {
	var env struct {
		Body struct {
			Fault *struct {
				Code   string `xml:"faultcode"`
				String string `xml:"faultstring"`
				Detail struct {
					Inner []struct {
						Code    string `xml:"exceptionCode"`
						Message string `xml:"exceptionMessage"`
					} `xml:",any"`
				} `xml:"detail"`
			} `xml:"Fault"`
		} `xml:"Body"`
	}
	if xml.Unmarshal(body, &env) != nil || env.Body.Fault == nil {
		return soapFault{}, false
	}
	f := env.Body.Fault
	code := f.Code
	if i := strings.LastIndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	msg := f.String
	for _, in := range f.Detail.Inner {
		if in.Code != "" {
			code = in.Code
			if in.Message != "" {
				msg = in.Message
			}
			break
		}
	}
	// Generic SOAP codes (soapenv:Client, soapenv:Server) carry no
	// Salesforce meaning.
	switch code {
	case "Client", "Server", "VersionMismatch", "MustUnderstand":
		if prefix, _, ok := strings.Cut(msg, ":"); ok && isUpperCode(prefix) {
			code = prefix
		} else {
			code = ""
		}
	}
	return soapFault{code: code, message: msg}, true
}

func isUpperCode(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func snippet(b []byte) string {
	const max = 512
	s := string(b)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// sessionRe matches Salesforce session ids / access tokens
// (00D…!…) wherever they appear in text.
var sessionRe = regexp.MustCompile(`00D[0-9A-Za-z]{12,15}![0-9A-Za-z._\-]+`)

// redact removes anything that looks like a Salesforce session id from s.
func redact(s string) string {
	if !strings.Contains(s, "!") {
		return s
	}
	return sessionRe.ReplaceAllString(s, "[REDACTED]")
}

// redactSecrets removes redact's patterns and the given literal secrets.
func redactSecrets(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return redact(s)
}
