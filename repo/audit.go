package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"sort"
	"time"

	"github.com/orgsnap/orgsnap/repo/backend"
)

// The audit log is append-only: one sealed file per event under audit/,
// named so that names sort in time order, written create-only and never
// changed. It says what was erased, when and by whom, never the data
// (docs/FORMAT.md, "Audit log").

var auditAAD = []byte("orgsnap audit v1")

var auditEventRE = regexp.MustCompile(`^[a-z]+$`)

var auditNameRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[a-z]+-[0-9a-f]{16}$`)

// AuditEntry is one event of the audit log.
type AuditEntry struct {
	Name   string          `json:"-"` // file name under audit/
	Time   time.Time       `json:"time"`
	Event  string          `json:"event"` // "prune", "erase", "forget"
	Host   string          `json:"host,omitempty"`
	User   string          `json:"user,omitempty"`
	Detail json.RawMessage `json:"detail"`
}

// AppendAudit seals and stores one audit event; detail is marshalled as
// JSON and must hold no record data.
func (r *Repository) AppendAudit(ctx context.Context, event string, detail any) (string, error) {
	if !auditEventRE.MatchString(event) {
		return "", fmt.Errorf("audit event %q: lowercase letters only", event)
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return "", err
	}
	e := AuditEntry{Time: r.now().UTC(), Event: event, Detail: d}
	e.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		e.User = u.Username
	}
	plain, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	name := e.Time.Format("20060102T150405.000000000Z") + "-" + event + "-" + hex.EncodeToString(rnd[:])
	sealed := r.key.Seal(nil, plain, append(append([]byte(nil), auditAAD...), name...))
	if err := r.be.Save(ctx, backend.Handle{Type: backend.Audit, Name: name}, sealed, backend.SaveOptions{IfNotExists: true}); err != nil {
		return "", fmt.Errorf("append to the audit log: %w", err)
	}
	return name, nil
}

// AuditLog reads the whole audit log, oldest first. A file that does not
// authenticate under its own name is an error: the log must not be edited.
func (r *Repository) AuditLog(ctx context.Context) ([]AuditEntry, error) {
	var names []string
	err := r.be.List(ctx, backend.Audit, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []AuditEntry
	for _, name := range names {
		if !auditNameRE.MatchString(name) {
			return out, fmt.Errorf("audit log: unexpected file %q", name)
		}
		sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.Audit, Name: name}, 0, -1)
		if err != nil {
			return out, err
		}
		plain, err := r.key.Open(nil, sealed, append(append([]byte(nil), auditAAD...), name...))
		if err != nil {
			return out, fmt.Errorf("audit log entry %s does not authenticate: %w", name, err)
		}
		var e AuditEntry
		if err := json.Unmarshal(plain, &e); err != nil {
			return out, fmt.Errorf("audit log entry %s: %w", name, err)
		}
		e.Name = name
		out = append(out, e)
	}
	return out, nil
}
