package tree

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
)

// ID is the content address of a node. The zero ID is the empty tree.
type ID = [32]byte

// NodeStore stores node bytes by content address. The repository implements
// it with keyed BLAKE3 IDs and pack files.
type NodeStore interface {
	// PutNode stores data and returns its ID. It is idempotent: the same
	// bytes give the same ID. It must not retain data after returning (the
	// tree builder reuses the buffer).
	PutNode(ctx context.Context, data []byte) (ID, error)
	// GetNode returns the bytes stored under id. The caller must not modify
	// them; the tree keeps references to them while it walks.
	GetNode(ctx context.Context, id ID) ([]byte, error)
}

// ErrNodeNotFound is returned (wrapped) by MemStore.GetNode for unknown IDs.
var ErrNodeNotFound = errors.New("tree: node not found")

// MemStore is an in-memory NodeStore for tests and benchmarks, with
// counters to measure write amplification. IDs are unkeyed BLAKE3.
type MemStore struct {
	mu    sync.Mutex
	nodes map[ID][]byte
	stats MemStats
}

// MemStats are MemStore counters.
type MemStats struct {
	Puts, PutBytes int64 // every PutNode call
	NewNodes       int64 // PutNode calls that stored a node not yet present
	NewBytes       int64 // bytes of those nodes
	Gets           int64 // GetNode calls
	Nodes, Bytes   int64 // nodes and bytes held
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{nodes: make(map[ID][]byte)} }

// PutNode implements NodeStore.
func (m *MemStore) PutNode(ctx context.Context, data []byte) (ID, error) {
	if err := ctx.Err(); err != nil {
		return ID{}, err
	}
	id := blake3.Sum256(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Puts++
	m.stats.PutBytes += int64(len(data))
	if _, ok := m.nodes[id]; !ok {
		m.nodes[id] = append([]byte(nil), data...)
		m.stats.NewNodes++
		m.stats.NewBytes += int64(len(data))
		m.stats.Nodes++
		m.stats.Bytes += int64(len(data))
	}
	return id, nil
}

// GetNode implements NodeStore.
func (m *MemStore) GetNode(ctx context.Context, id ID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Gets++
	data, ok := m.nodes[id]
	if !ok {
		return nil, fmt.Errorf("%w: %x", ErrNodeNotFound, id[:8])
	}
	return data, nil
}

// Stats returns the counters.
func (m *MemStore) Stats() MemStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Corrupt replaces the bytes stored under id, for tests of error handling.
func (m *MemStore) Corrupt(id ID, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[id] = data
}
