package index

import (
	"os"

	"github.com/cockroachdb/pebble"

	"github.com/orgsnap/orgsnap/repo/crypto"
)

// IDSet is a set of IDs under one-byte namespaces, in a throwaway pebble
// database: big sets (prune's live set of every blob in the repository)
// stay on disk instead of in the Go heap. It has no WAL: a crash loses it,
// and its users start over.
type IDSet struct {
	dir string
	db  *pebble.DB
}

// OpenIDSet creates (or opens) a set in dir.
func OpenIDSet(dir string) (*IDSet, error) {
	db, err := pebble.Open(dir, &pebble.Options{
		Logger:       quietLogger{},
		DisableWAL:   true,
		MemTableSize: 8 << 20,
	})
	if err != nil {
		return nil, err
	}
	return &IDSet{dir: dir, db: db}, nil
}

// Remove closes the set and deletes its files.
func (s *IDSet) Remove() error {
	err := s.db.Close()
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

func idKey(ns byte, id crypto.ID) []byte { return append([]byte{ns}, id[:]...) }

// Has reports whether id is in namespace ns.
func (s *IDSet) Has(ns byte, id crypto.ID) (bool, error) { return has(s.db, idKey(ns, id)) }

// Add inserts id into ns and reports whether it was new.
func (s *IDSet) Add(ns byte, id crypto.ID) (bool, error) {
	if ok, err := s.Has(ns, id); err != nil || ok {
		return false, err
	}
	return true, s.db.Set(idKey(ns, id), nil, pebble.NoSync)
}

// Each calls fn for every id of ns, in ID order.
func (s *IDSet) Each(ns byte, fn func(crypto.ID) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{ns}, UpperBound: []byte{ns + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var id crypto.ID
		copy(id[:], it.Key()[1:])
		if err := fn(id); err != nil {
			return err
		}
	}
	return it.Error()
}
