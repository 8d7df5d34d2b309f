package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// DefaultIndexBucket is the key-value bucket of the retry index. A persisted identifier.
const DefaultIndexBucket = "RETRY_INDEX"

// Index is the retry service's index in a JetStream key-value bucket (DefaultIndexBucket). Its
// keys, all persisted identifiers:
//
//	waiting.<account>.<connection>.<record kind>.<schedule id>  a schedule waiting for a sync cycle
//	paused.<account>.<connection>.<schedule id>                 a schedule paused by an outage (value: since, RFC 3339)
//	interval.<account>.<connection>                             the connection's sync interval (value: nanoseconds)
//	down.<account>.<connection>                                 the connection is down (value: outage number and since)
//	drain.<account>.<connection>                                the drain job of a recovered connection (value: JSON)
//
// Removed keys leave a marker for a minute (the bucket's LimitMarkerTTL), so the bucket holds
// about one entry per waiting or paused schedule and per connection. The bucket is created on
// first use. It is safe for concurrent use.
type Index struct {
	js       jetstream.JetStream
	bucket   string
	replicas int

	mu sync.Mutex
	kv jetstream.KeyValue

	imu       sync.Mutex
	intervals map[app.Connection]cachedInterval
}

type cachedInterval struct {
	d  time.Duration
	at time.Time
}

const (
	// markerTTL is how long a removed key's marker stays.
	markerTTL = time.Minute
	// intervalTTL is how long a sync interval read from the bucket is trusted.
	intervalTTL = time.Minute
	// maxIntervals bounds the cached sync intervals.
	maxIntervals = 100_000
)

var (
	_ app.Index         = (*Index)(nil)
	_ app.WaitingIndex  = (*Index)(nil)
	_ app.SyncIntervals = (*Index)(nil)
	_ app.Outages       = (*Index)(nil)
)

// NewIndex returns the index in bucket (DefaultIndexBucket when empty), with replicas copies
// (1 when 0). It does no I/O.
func NewIndex(js jetstream.JetStream, bucket string, replicas int) (*Index, error) {
	if js == nil {
		return nil, errors.New("retry index: a JetStream context is required")
	}
	if bucket == "" {
		bucket = DefaultIndexBucket
	}
	if replicas == 0 {
		replicas = 1
	}
	return &Index{js: js, bucket: bucket, replicas: replicas, intervals: make(map[app.Connection]cachedInterval)}, nil
}

// Ensure creates the bucket when it is missing.
func (ix *Index) Ensure(ctx context.Context) error {
	_, err := ix.store(ctx)
	return err
}

func (ix *Index) store(ctx context.Context) (jetstream.KeyValue, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.kv != nil {
		return ix.kv, nil
	}
	// Open before creating: creating or updating an existing bucket is a stream update, which
	// races with the consumers of watchers being created on it.
	kv, err := ix.js.KeyValue(ctx, ix.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = ix.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         ix.bucket,
			Description:    "Rebound retry service: schedules waiting for a sync cycle or paused by an outage, per connection",
			History:        1,
			Storage:        jetstream.FileStorage,
			Replicas:       ix.replicas,
			LimitMarkerTTL: markerTTL,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = ix.js.KeyValue(ctx, ix.bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("retry index: opening bucket %s: %w", ix.bucket, err)
	}
	ix.kv = kv
	return kv, nil
}

func connKey(family string, conn app.Connection) string {
	return family + "." + conn.Account + "." + conn.ID
}

func (ix *Index) put(ctx context.Context, key string, value []byte) error {
	kv, err := ix.store(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("retry index: putting %s: %w", key, err)
	}
	return nil
}

func (ix *Index) remove(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	kv, err := ix.store(ctx)
	if err != nil {
		return err
	}
	if err := kv.Purge(ctx, key, append(opts, jetstream.PurgeTTL(markerTTL))...); err != nil {
		return fmt.Errorf("retry index: removing %s: %w", key, err)
	}
	return nil
}

func (ix *Index) get(ctx context.Context, key string) ([]byte, bool, error) {
	kv, err := ix.store(ctx)
	if err != nil {
		return nil, false, err
	}
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("retry index: reading %s: %w", key, err)
	}
	return e.Value(), true, nil
}

// scan calls fn with every key (and value) that matches filters, as the bucket holds them now.
func (ix *Index) scan(ctx context.Context, filters []string, fn func(key string, value []byte) error) error {
	kv, err := ix.store(ctx)
	if err != nil {
		return err
	}
	w, err := kv.WatchFiltered(ctx, filters, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("retry index: listing %s: %w", strings.Join(filters, ", "), err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("retry index: listing %s: the watcher stopped", strings.Join(filters, ", "))
			}
			if e == nil {
				return nil // every current key was delivered
			}
			if err := fn(e.Key(), e.Value()); err != nil {
				return err
			}
		}
	}
}

// SetWaiting adds or removes a schedule waiting for a sync cycle.
func (ix *Index) SetWaiting(ctx context.Context, conn app.Connection, kind connectorv1.RecordKind, scheduleID string, waiting bool) error {
	key := connKey("waiting", conn) + "." + domain.KindWord(kind) + "." + scheduleID
	if waiting {
		return ix.put(ctx, key, []byte("1"))
	}
	return ix.remove(ctx, key)
}

// Waiting lists the schedules of conn waiting for a sync cycle, of the given kinds (all when
// empty).
func (ix *Index) Waiting(ctx context.Context, conn app.Connection, kinds []connectorv1.RecordKind, fn func(scheduleID string) error) error {
	prefix := connKey("waiting", conn) + "."
	filters := []string{prefix + "*.*"}
	if len(kinds) > 0 {
		filters = filters[:0]
		seen := make(map[connectorv1.RecordKind]bool, len(kinds))
		for _, k := range kinds {
			if !seen[k] {
				seen[k] = true
				filters = append(filters, prefix+domain.KindWord(k)+".*")
			}
		}
	}
	return ix.scan(ctx, filters, func(key string, _ []byte) error {
		return fn(key[strings.LastIndexByte(key, '.')+1:])
	})
}

// SetPaused adds a schedule paused since since, or removes it (zero since).
func (ix *Index) SetPaused(ctx context.Context, conn app.Connection, scheduleID string, since time.Time) error {
	key := connKey("paused", conn) + "." + scheduleID
	if since.IsZero() {
		return ix.remove(ctx, key)
	}
	return ix.put(ctx, key, []byte(since.UTC().Format(time.RFC3339Nano)))
}

// Paused lists the paused schedules of conn with the time their pause started.
func (ix *Index) Paused(ctx context.Context, conn app.Connection, fn func(scheduleID string, since time.Time) error) error {
	return ix.scan(ctx, []string{connKey("paused", conn) + ".*"}, func(key string, value []byte) error {
		since, err := time.Parse(time.RFC3339Nano, string(value))
		if err != nil {
			since = time.Time{} // unreadable: treat as paused long ago, so a drain resumes it
		}
		return fn(key[strings.LastIndexByte(key, '.')+1:], since)
	})
}

// SyncInterval returns the connection's sync interval (0 when unknown), from a cache that trusts
// a value for a minute.
func (ix *Index) SyncInterval(ctx context.Context, conn app.Connection) (time.Duration, error) {
	ix.imu.Lock()
	c, ok := ix.intervals[conn]
	ix.imu.Unlock()
	if ok && time.Since(c.at) < intervalTTL {
		return c.d, nil
	}
	v, found, err := ix.get(ctx, connKey("interval", conn))
	if err != nil {
		return 0, err
	}
	var d time.Duration
	if found {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err == nil && n > 0 {
			d = time.Duration(n)
		}
	}
	ix.cacheInterval(conn, d)
	return d, nil
}

// SetSyncInterval records the connection's sync interval (a write only when it changed).
func (ix *Index) SetSyncInterval(ctx context.Context, conn app.Connection, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	have, err := ix.SyncInterval(ctx, conn)
	if err != nil || have == d {
		return err
	}
	if err := ix.put(ctx, connKey("interval", conn), []byte(strconv.FormatInt(int64(d), 10))); err != nil {
		return err
	}
	ix.cacheInterval(conn, d)
	return nil
}

func (ix *Index) cacheInterval(conn app.Connection, d time.Duration) {
	ix.imu.Lock()
	defer ix.imu.Unlock()
	if len(ix.intervals) >= maxIntervals {
		clear(ix.intervals)
	}
	ix.intervals[conn] = cachedInterval{d: d, at: time.Now()}
}

// SetDown marks the connection down (outage > 0) or up.
func (ix *Index) SetDown(ctx context.Context, conn app.Connection, outage uint32, since time.Time) error {
	if outage == 0 {
		return ix.remove(ctx, connKey("down", conn))
	}
	return ix.put(ctx, connKey("down", conn), []byte(strconv.FormatUint(uint64(outage), 10)+" "+since.UTC().Format(time.RFC3339Nano)))
}

// IsDown reports whether the connection is marked down; it always reads the bucket.
func (ix *Index) IsDown(ctx context.Context, conn app.Connection) (bool, error) {
	_, found, err := ix.get(ctx, connKey("down", conn))
	return found, err
}

// drainValue is a drain job as the bucket stores it.
type drainValue struct {
	Outage        uint32    `json:"outage"`
	Cutoff        time.Time `json:"cutoff"`
	CausationID   string    `json:"causation_id"`
	CorrelationID string    `json:"correlation_id,omitempty"`
}

// PutDrain stores the connection's drain job.
func (ix *Index) PutDrain(ctx context.Context, job app.DrainJob) error {
	v, err := json.Marshal(drainValue{Outage: job.Outage, Cutoff: job.Cutoff.UTC(), CausationID: job.CausationID, CorrelationID: job.CorrelationID})
	if err != nil {
		return err
	}
	return ix.put(ctx, connKey("drain", job.Conn), v)
}

// CancelDrain removes the connection's drain job.
func (ix *Index) CancelDrain(ctx context.Context, conn app.Connection) error {
	_, found, err := ix.get(ctx, connKey("drain", conn))
	if err != nil || !found {
		return err
	}
	return ix.remove(ctx, connKey("drain", conn))
}

// FinishDrain removes the drain job unless a newer one replaced it.
func (ix *Index) FinishDrain(ctx context.Context, job app.DrainJob) error {
	err := ix.remove(ctx, connKey("drain", job.Conn), jetstream.LastRevision(job.Revision))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil // a newer job replaced it
	}
	return err
}

// WatchDrains calls fn with every stored drain job, then with every change (a job stored, or
// removed: deleted true), until ctx ends.
func (ix *Index) WatchDrains(ctx context.Context, fn func(job app.DrainJob, deleted bool)) error {
	kv, err := ix.store(ctx)
	if err != nil {
		return err
	}
	w, err := kv.Watch(ctx, "drain.>")
	if err != nil {
		return fmt.Errorf("retry index: watching drain jobs: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("retry index: the drain job watcher stopped")
			}
			if e == nil {
				continue
			}
			parts := strings.Split(e.Key(), ".")
			if len(parts) != 3 {
				continue
			}
			job := app.DrainJob{Conn: app.Connection{Account: parts[1], ID: parts[2]}, Revision: e.Revision()}
			if e.Operation() != jetstream.KeyValuePut {
				fn(job, true)
				continue
			}
			var v drainValue
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				continue
			}
			job.Outage, job.Cutoff, job.CausationID, job.CorrelationID = v.Outage, v.Cutoff, v.CausationID, v.CorrelationID
			fn(job, false)
		}
	}
}
