package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The repository lock is an flock(2) on locks/.repo.flock. The kernel
// releases it when the holding process exits, however it exits (kill -9,
// OOM, power loss), so there are no stale locks and nobody ever has to run
// an unlock command. Who holds it is written into the file, for messages.
//
// One process at a time may open the index (pebble allows nothing else), so
// every command that reads or writes blobs takes this lock; commands that
// only read snapshot and key files do not need it.
type fileLock struct {
	f *os.File
}

// LockHolder is what the lock file says about its holder.
type LockHolder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Purpose string    `json:"purpose,omitempty"`
	Since   time.Time `json:"since"`
}

func acquireLock(ctx context.Context, dir, purpose string, wait time.Duration, now func() time.Time) (*fileLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, ".repo.flock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock repository: %w", err)
		}
		if time.Now().After(deadline) {
			holder := readHolder(path)
			f.Close()
			return nil, fmt.Errorf("%w (%s); it is released when that process ends — wait, or pass --lock-wait 10m", ErrLocked, holder)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	host, _ := os.Hostname()
	info, _ := json.Marshal(LockHolder{PID: os.Getpid(), Host: host, Purpose: purpose, Since: now().UTC()})
	f.Truncate(0)
	f.WriteAt(info, 0)
	return &fileLock{f: f}, nil
}

func readHolder(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "holder unknown"
	}
	var h LockHolder
	if json.Unmarshal(data, &h) != nil || h.PID == 0 {
		return "holder unknown"
	}
	s := fmt.Sprintf("pid %d on %s since %s", h.PID, h.Host, h.Since.Format(time.RFC3339))
	if h.Purpose != "" {
		s += ", running " + h.Purpose
	}
	return s
}

func (l *fileLock) release() {
	l.f.Truncate(0)
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
