package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemStore is a KeyStore in memory, for tests and single-process experiments.
type MemStore struct {
	mu   sync.RWMutex
	keys map[string]Key
}

var _ KeyStore = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{keys: map[string]Key{}} }

// Lookup implements KeyStore.
func (s *MemStore) Lookup(_ context.Context, id string) (Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	if !ok {
		return Key{}, fmt.Errorf("%w: %s", ErrKeyNotFound, id)
	}
	k.Hash = slices.Clone(k.Hash)
	return k, nil
}

// Create implements KeyStore.
func (s *MemStore) Create(_ context.Context, k Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("%w: %s", ErrKeyExists, k.ID)
	}
	k.Hash = slices.Clone(k.Hash)
	s.keys[k.ID] = k
	return nil
}

// Revoke implements KeyStore.
func (s *MemStore) Revoke(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrKeyNotFound, id)
	}
	if !k.Revoked() {
		k.RevokedAt = at.UTC()
		s.keys[id] = k
	}
	return nil
}

// List implements KeyStore.
func (s *MemStore) List(_ context.Context) ([]Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Key, 0, len(s.keys))
	for _, k := range s.keys {
		k.Hash = nil
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
