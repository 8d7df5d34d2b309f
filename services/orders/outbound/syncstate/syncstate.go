// Package syncstate keeps what the orders service's sync cycles remember between runs and
// processes, in a JetStream key-value bucket (ORDERS_SYNC by default, created on first use):
//
//	cursor.<account>.<wms connection id>   the position read up to in the WMS's shipment feed
//	next.<account>.<cart connection id>    when the connection's next cycle is due (unix ms)
//
// Claiming a cycle is a compare-and-set of its next key, so among several processes running the
// service exactly one runs each cycle, and a restart neither repeats nor skips one.
package syncstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the bucket's default name. A persisted identifier.
const DefaultBucket = "ORDERS_SYNC"

// Store is the sync state. Safe for concurrent use.
type Store struct {
	js       jetstream.JetStream
	bucket   string
	replicas int

	mu sync.Mutex
	kv jetstream.KeyValue
}

// New returns the store on bucket (default DefaultBucket). It does no I/O.
func New(js jetstream.JetStream, bucket string, replicas int) (*Store, error) {
	if js == nil {
		return nil, errors.New("syncstate: New needs a JetStream context")
	}
	if bucket == "" {
		bucket = DefaultBucket
	}
	return &Store{js: js, bucket: bucket, replicas: max(replicas, 1)}, nil
}

func (s *Store) store(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.bucket,
		Description: "Rebound orders sync cycles: shipment feed cursors and cycle schedule",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("syncstate: bucket %s: %w", s.bucket, err)
	}
	s.kv = kv
	return kv, nil
}

// Cursor returns the position read up to in a WMS connection's shipment feed ("" for none).
func (s *Store) Cursor(ctx context.Context, account, wmsConnectionID string) (string, error) {
	kv, err := s.store(ctx)
	if err != nil {
		return "", err
	}
	e, err := kv.Get(ctx, "cursor."+account+"."+wmsConnectionID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("syncstate: %w", err)
	}
	return string(e.Value()), nil
}

// SetCursor stores the position read up to.
func (s *Store) SetCursor(ctx context.Context, account, wmsConnectionID, cursor string) error {
	kv, err := s.store(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, "cursor."+account+"."+wmsConnectionID, []byte(cursor)); err != nil {
		return fmt.Errorf("syncstate: %w", err)
	}
	return nil
}

// Claim claims the cycle of a cart connection that is due at or before now: it returns the
// cycle's due time and true when this caller got it (the next one is then due interval later, or
// interval after now when cycles were missed), and the next due time and false when no cycle is
// due or another process claimed it first. A connection without a schedule yet gets its first
// cycle at once; one scheduled further away than interval (the interval was shortened) is moved to
// an interval from now.
func (s *Store) Claim(ctx context.Context, account, connectionID string, now time.Time, interval time.Duration) (time.Time, bool, error) {
	kv, err := s.store(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	k := "next." + account + "." + connectionID
	e, err := kv.Get(ctx, k)
	var due time.Time
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		due = now
	case err != nil:
		return time.Time{}, false, fmt.Errorf("syncstate: %w", err)
	default:
		ms, perr := strconv.ParseInt(string(e.Value()), 10, 64)
		if perr != nil {
			due = now
		} else {
			due = time.UnixMilli(ms)
		}
		rev = e.Revision()
	}
	if due.After(now.Add(interval)) && rev != 0 {
		// The interval was shortened since the cycle was scheduled: the next one is due an interval
		// from now.
		next := now.Add(interval)
		if _, err := kv.Update(ctx, k, []byte(strconv.FormatInt(next.UnixMilli(), 10)), rev); err != nil &&
			!errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return time.Time{}, false, fmt.Errorf("syncstate: %w", err)
		}
		return next, false, nil
	}
	if due.After(now) {
		return due, false, nil
	}
	next := due.Add(interval)
	if !next.After(now) {
		next = now.Add(interval)
	}
	val := []byte(strconv.FormatInt(next.UnixMilli(), 10))
	if rev == 0 {
		_, err = kv.Create(ctx, k, val)
	} else {
		_, err = kv.Update(ctx, k, val, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return next, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("syncstate: %w", err)
	}
	return due, true, nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}
