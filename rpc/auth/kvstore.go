package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the JetStream key-value bucket that holds API keys. It is a persisted name:
// never rename it.
const DefaultBucket = "API_KEYS"

// KVConfig configures a KVStore.
type KVConfig struct {
	// Bucket is the key-value bucket; default DefaultBucket.
	Bucket string
	// Replicas is how many copies a clustered server keeps; default 1. Only used when the
	// bucket is created.
	Replicas int
}

func (c *KVConfig) setDefaults() {
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
}

// Validate reports every problem with the configuration.
func (c KVConfig) Validate() error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("auth: KV replicas %d must be 1-5", c.Replicas))
	}
	return errors.Join(errs...)
}

// KVStore is a KeyStore in a JetStream key-value bucket (file storage), one entry per key id.
// Entries are JSON records holding the SHA-256 digest of the secret, never the secret. It is
// safe for concurrent use.
type KVStore struct {
	kv jetstream.KeyValue
}

var _ KeyStore = (*KVStore)(nil)

// NewKVStore opens the bucket, creating it when it does not exist. An existing bucket's
// configuration is left as it is, so operators may tune it.
func NewKVStore(ctx context.Context, js jetstream.JetStream, cfg KVConfig) (*KVStore, error) {
	if js == nil {
		return nil, errors.New("auth: NewKVStore needs a JetStream context")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      cfg.Bucket,
			Description: "Rebound API keys (SHA-256 digests of the secrets, never the secrets)",
			History:     5,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // another process created it first
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: opening the key-value bucket %s: %w", cfg.Bucket, err)
	}
	return &KVStore{kv: kv}, nil
}

// kvRecord is the stored form of a Key. Its JSON field names are persisted: never rename one.
type kvRecord struct {
	ID          string     `json:"id"`
	Scope       Scope      `json:"scope"`
	Account     string     `json:"account,omitempty"`
	Description string     `json:"description,omitempty"`
	HashAlg     string     `json:"hash_alg"`
	Hash        string     `json:"hash"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

const hashAlgSHA256 = "sha256"

func encodeKey(k Key) ([]byte, error) {
	r := kvRecord{
		ID: k.ID, Scope: k.Scope, Account: k.Account, Description: k.Description,
		HashAlg: hashAlgSHA256, Hash: hex.EncodeToString(k.Hash), CreatedAt: k.CreatedAt.UTC(),
	}
	if k.Revoked() {
		t := k.RevokedAt.UTC()
		r.RevokedAt = &t
	}
	return json.Marshal(r)
}

func decodeKey(id string, b []byte) (Key, error) {
	var r kvRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Key{}, fmt.Errorf("auth: decoding API key %s: %w", id, err)
	}
	if r.HashAlg != hashAlgSHA256 {
		return Key{}, fmt.Errorf("auth: API key %s: unknown hash algorithm %q", id, r.HashAlg)
	}
	h, err := hex.DecodeString(r.Hash)
	if err != nil {
		return Key{}, fmt.Errorf("auth: API key %s: decoding its hash: %w", id, err)
	}
	k := Key{ID: r.ID, Scope: r.Scope, Account: r.Account, Description: r.Description, Hash: h, CreatedAt: r.CreatedAt}
	if r.RevokedAt != nil {
		k.RevokedAt = *r.RevokedAt
	}
	return k, nil
}

// Lookup implements KeyStore.
func (s *KVStore) Lookup(ctx context.Context, id string) (Key, error) {
	k, _, err := s.get(ctx, id)
	return k, err
}

func (s *KVStore) get(ctx context.Context, id string) (Key, uint64, error) {
	if !keyIDRE.MatchString(id) { // not a valid KV key either
		return Key{}, 0, fmt.Errorf("%w: %q", ErrKeyNotFound, id)
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Key{}, 0, fmt.Errorf("%w: %s", ErrKeyNotFound, id)
	}
	if err != nil {
		return Key{}, 0, fmt.Errorf("auth: reading API key %s: %w", id, err)
	}
	k, err := decodeKey(id, e.Value())
	return k, e.Revision(), err
}

// Create implements KeyStore.
func (s *KVStore) Create(ctx context.Context, k Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	b, err := encodeKey(k)
	if err != nil {
		return fmt.Errorf("auth: encoding API key %s: %w", k.ID, err)
	}
	if _, err := s.kv.Create(ctx, k.ID, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %s", ErrKeyExists, k.ID)
		}
		return fmt.Errorf("auth: storing API key %s: %w", k.ID, err)
	}
	return nil
}

// Revoke implements KeyStore.
func (s *KVStore) Revoke(ctx context.Context, id string, at time.Time) error {
	for range 10 {
		k, rev, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		if k.Revoked() {
			return nil
		}
		k.RevokedAt = at.UTC()
		b, err := encodeKey(k)
		if err != nil {
			return fmt.Errorf("auth: encoding API key %s: %w", id, err)
		}
		_, err = s.kv.Update(ctx, id, b, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // changed under us: read again
		}
		if err != nil {
			return fmt.Errorf("auth: revoking API key %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("auth: revoking API key %s: it kept changing concurrently", id)
}

// List implements KeyStore.
func (s *KVStore) List(ctx context.Context) ([]Key, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("auth: listing API keys: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []Key
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("auth: listing API keys: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("auth: listing API keys: the watcher stopped early")
			}
			if e == nil { // every current value was delivered
				slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
				return out, nil
			}
			k, err := decodeKey(e.Key(), e.Value())
			if err != nil {
				return nil, err
			}
			k.Hash = nil
			out = append(out, k)
		}
	}
}
