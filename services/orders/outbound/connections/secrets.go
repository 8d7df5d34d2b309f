package connections

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
)

// DefaultSecretsBucket is the key-value bucket connections' credentials live in. A persisted
// identifier.
const DefaultSecretsBucket = "CONNECTION_SECRETS"

// Secrets keeps connections' credentials in a JetStream key-value bucket, one key per connection
// (<account>.<connection id>, the value a protobuf connectionsv1.Credentials), created on first
// use. Credentials never go into the event store, which is immutable; the events reference the
// revision stored here. Restrict access to the bucket to the services that call the systems.
// Safe for concurrent use.
type Secrets struct {
	js       jetstream.JetStream
	bucket   string
	replicas int

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewSecrets returns the secrets store on bucket (default DefaultSecretsBucket). It does no I/O.
func NewSecrets(js jetstream.JetStream, bucket string, replicas int) (*Secrets, error) {
	if js == nil {
		return nil, errors.New("connections: NewSecrets needs a JetStream context")
	}
	if bucket == "" {
		bucket = DefaultSecretsBucket
	}
	return &Secrets{js: js, bucket: bucket, replicas: max(replicas, 1)}, nil
}

// Bucket returns the bucket's name.
func (s *Secrets) Bucket() string { return s.bucket }

func (s *Secrets) store(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.bucket,
		Description: "Rebound connection credentials (never in EVENTS): <account>.<connection id>",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("connections: secrets bucket %s: %w", s.bucket, err)
	}
	s.kv = kv
	return kv, nil
}

func key(account, id string) string { return account + "." + id }

// Get returns a connection's credentials; nil when it has none.
func (s *Secrets) Get(ctx context.Context, account, id string) (*connectionsv1.Credentials, error) {
	kv, err := s.store(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, key(account, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connections: reading the credentials of %s/%s: %w", account, id, err)
	}
	c := &connectionsv1.Credentials{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		return nil, fmt.Errorf("connections: the credentials of %s/%s do not decode: %w", account, id, err)
	}
	return c, nil
}

// Put stores a connection's credentials and returns their revision.
func (s *Secrets) Put(ctx context.Context, account, id string, c *connectionsv1.Credentials) (uint64, error) {
	kv, err := s.store(ctx)
	if err != nil {
		return 0, err
	}
	data, err := proto.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("connections: encoding credentials: %w", err)
	}
	rev, err := kv.Put(ctx, key(account, id), data)
	if err != nil {
		return 0, fmt.Errorf("connections: storing the credentials of %s/%s: %w", account, id, err)
	}
	return rev, nil
}

// Delete removes a connection's credentials.
func (s *Secrets) Delete(ctx context.Context, account, id string) error {
	kv, err := s.store(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, key(account, id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("connections: removing the credentials of %s/%s: %w", account, id, err)
	}
	return nil
}
