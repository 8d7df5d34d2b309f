package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
)

// Rate is a measured throughput.
type Rate struct {
	// N is how many items (rows, messages, events) were processed.
	N int
	// Took is how long it took.
	Took time.Duration
}

// PerSecond is the rate in items per second.
func (r Rate) PerSecond() float64 {
	if r.Took <= 0 {
		return 0
	}
	return float64(r.N) / r.Took.Seconds()
}

func (r Rate) String() string {
	return fmt.Sprintf("%d in %s (%.0f/s)", r.N, r.Took.Round(time.Millisecond), r.PerSecond())
}

// RawSQLiteUpsert measures the raw batched upsert rate of SQLite as the read models use it (the
// same driver, pragmas and multi-row INSERT ... ON CONFLICT DO UPDATE of 256 rows per statement,
// 5000 rows per transaction) into a fresh file in dir: n rows of a key and a 400-byte payload,
// the size of an alert's stored state.
func RawSQLiteUpsert(ctx context.Context, dir string, n int) (Rate, error) {
	path := filepath.Join(dir, "raw-upsert.db")
	_ = os.Remove(path)
	defer os.Remove(path)
	defer os.Remove(path + "-wal")
	defer os.Remove(path + "-shm")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
		"?_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)&_pragma=journal_mode(WAL)&_pragma=cache_size(-65536)&_txlock=immediate")
	if err != nil {
		return Rate{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE raw (id TEXT NOT NULL PRIMARY KEY, n BIGINT NOT NULL, payload BLOB NOT NULL)`); err != nil {
		return Rate{}, err
	}
	const perStmt, perTx = 256, 5000
	stmt := `INSERT INTO raw (id, n, payload) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?),", perStmt), ",") +
		` ON CONFLICT (id) DO UPDATE SET n = excluded.n, payload = excluded.payload`
	payload := make([]byte, 400)
	_, _ = rand.Read(payload)
	args := make([]any, 0, 3*perStmt)
	start := time.Now()
	var tx *sql.Tx
	for i := 0; i < n; {
		if tx == nil {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return Rate{}, err
			}
		}
		k := min(perStmt, n-i)
		args = args[:0]
		for j := range k {
			// Ids spread over the key space like hashed alert ids.
			args = append(args, fmt.Sprintf("alt_%016x", uint64(i+j)*0x9e3779b97f4a7c15), int64(i+j), payload)
		}
		q := stmt
		if k < perStmt {
			q = `INSERT INTO raw (id, n, payload) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?),", k), ",") +
				` ON CONFLICT (id) DO UPDATE SET n = excluded.n, payload = excluded.payload`
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			_ = tx.Rollback()
			return Rate{}, err
		}
		i += k
		if i%perTx < perStmt || i == n {
			if err := tx.Commit(); err != nil {
				return Rate{}, err
			}
			tx = nil
		}
	}
	return Rate{N: n, Took: time.Since(start)}, nil
}

// RawOrderedConsumer measures the raw rate of reading the first n messages of a stream matching
// filter (e.g. "evt.alert.>") with a nats.go ordered consumer, doing nothing with them: the
// event store's side of a rebuild.
func RawOrderedConsumer(ctx context.Context, js jetstream.JetStream, stream, filter string, n int) (Rate, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return Rate{}, err
	}
	start := time.Now()
	msgs, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return Rate{}, err
	}
	defer msgs.Stop()
	for i := range n {
		if _, err := msgs.Next(); err != nil {
			return Rate{N: i, Took: time.Since(start)}, err
		}
	}
	return Rate{N: n, Took: time.Since(start)}, nil
}

// Rebuild measures a rebuild of the alerts projection from the first event of store into db,
// writing its progress lines to progress (nil for none). The rate counts the events applied.
func Rebuild(ctx context.Context, db *projections.DB, store events.Store, progress io.Writer) (Rate, error) {
	r, err := projections.NewRunner(db, store, projections.Config{}, alerts.New())
	if err != nil {
		return Rate{}, err
	}
	if err := r.Migrate(ctx); err != nil {
		return Rate{}, err
	}
	counter := &countingWriter{w: progress}
	start := time.Now()
	if err := r.Rebuild(ctx, alerts.Name, counter); err != nil {
		return Rate{}, err
	}
	took := time.Since(start)
	st, err := r.Status(ctx)
	if err != nil {
		return Rate{}, err
	}
	n, err := applied(ctx, store, st[0].Checkpoint)
	if err != nil {
		return Rate{}, err
	}
	return Rate{N: n, Took: took}, nil
}

// applied counts the alert events up to position last.
func applied(ctx context.Context, store events.Store, last uint64) (int, error) {
	if g, ok := store.(GeneratedStore); ok {
		return int(min(last, uint64(g.History.Events))), nil
	}
	n := 0
	errDone := errors.New("done")
	err := store.Read(ctx, events.ReadOptions{Filters: alerts.New().Filters()}, func(_ context.Context, rec events.Record) error {
		if rec.Position > last {
			return errDone
		}
		n++
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return 0, err
	}
	return n, nil
}

type countingWriter struct{ w io.Writer }

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}

// FillAlerts fills the alerts read model in db with n distinct alerts (and their counts) through
// a rebuild from a generated history: n AlertRaised events over 1000 merchant accounts of 100
// warehouses and 200 lone merchants, every third alert resolved and every fifth needing
// attention.
func FillAlerts(ctx context.Context, db *projections.DB, n int, progress io.Writer) (Rate, error) {
	return Rebuild(ctx, db, alertStore{n: n}, progress)
}

// alertStore generates n distinct alerts.
type alertStore struct {
	events.Store
	n int
}

func (s alertStore) LastPosition(context.Context) (uint64, error) { return uint64(s.n), nil }

func (s alertStore) Read(ctx context.Context, opts events.ReadOptions, fn func(context.Context, events.Record) error) error {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := max(int(opts.From), 1); i <= s.n; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		msg, stream := benchAlert(i, base)
		ev := events.NewEvent(msg, events.Metadata{})
		ev.AggregateType, ev.Account, ev.AggregateID = stream.AggregateType, stream.Account, stream.ID
		if err := fn(ctx, events.Record{Event: ev, Position: uint64(i)}); err != nil {
			return err
		}
	}
	if opts.Follow {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

var benchTypes = []struct {
	name  string
	class connectorv1.ErrorClass
}{
	{"wms_unavailable", connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT},
	{"rate_limited", connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED},
	{"auth_failed", connectorv1.ErrorClass_ERROR_CLASS_AUTH},
	{"ship_method_unmapped", connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION},
	{"address_invalid", connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION},
	{"validation_failed", connectorv1.ErrorClass_ERROR_CLASS_REJECTED},
}

// BenchAccount returns the merchant account of alert i in FillAlerts, and its warehouse ("" for
// lone merchants).
func BenchAccount(i int) (account, warehouse string) {
	m := i % 1200
	if m >= 1000 {
		return fmt.Sprintf("lone-%d", m-1000), ""
	}
	return fmt.Sprintf("m-%d", m), fmt.Sprintf("wh-%d", m%100)
}

func benchAlert(i int, base time.Time) (proto.Message, events.StreamID) {
	account, warehouse := BenchAccount(i)
	t := benchTypes[i%len(benchTypes)]
	at := timestamppb.New(base.Add(time.Duration(i) * 3 * time.Second))
	id := fmt.Sprintf("alt_%08d", i)
	rec := &connectorv1.RecordRef{AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: warehouse,
		ConnectionId: fmt.Sprintf("%s-c%d", account, i%2), SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: fmt.Sprintf("o%d", i), OrderNumber: fmt.Sprintf("#%d", 100000+i)}
	ref := &alertsv1.AlertRef{AlertId: id, Incarnation: 1, Record: rec, AlertType: t.name, ErrorClass: t.class}
	stream := events.StreamID{AggregateType: "alert", Account: account, ID: id}
	f := &alertsv1.Failure{AttemptId: fmt.Sprintf("att-%d", i), Message: "The WMS answered 503 Service Unavailable: upstream connect error or disconnect/reset before headers",
		Code: "SERVICE_UNAVAILABLE", HttpStatus: 503, RuleId: "status-5xx", FailedAt: at}
	return &alertsv1.AlertRaised{Alert: ref, Failure: f, RaisedAt: at}, stream
}

// Latency is a latency distribution.
type Latency struct {
	N             int
	P50, P99, Max time.Duration
}

func (l Latency) String() string {
	return fmt.Sprintf("%d queries: p50 %s, p99 %s, max %s", l.N, l.P50, l.P99, l.Max)
}

// ListAlerts measures the latency of n ListAlerts calls over a read model filled by FillAlerts:
// the first and next pages (50 alerts, newest first) of a merchant, of a warehouse, of everyone,
// open alerts only, by first seen, and by type, in turn.
func ListAlerts(ctx context.Context, db *projections.DB, n int) (Latency, error) {
	r := alerts.NewReader(db)
	open := []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_OPEN}
	type query struct {
		access projections.Access
		filter alerts.Filter
		order  alerts.Order
	}
	var qs []query
	for i := range 20 {
		account, warehouse := BenchAccount(i * 37)
		qs = append(qs,
			query{projections.Access{Account: account}, alerts.Filter{}, alerts.Order{}},
			query{projections.Access{Account: account}, alerts.Filter{Statuses: open}, alerts.Order{}},
			query{projections.Access{Warehouse: warehouse}, alerts.Filter{Statuses: open}, alerts.Order{}},
			query{projections.Access{Warehouse: warehouse}, alerts.Filter{}, alerts.Order{By: alerts.SortFirstSeen}},
			query{projections.AllAccounts(), alerts.Filter{Statuses: open}, alerts.Order{}},
			query{projections.AllAccounts(), alerts.Filter{Types: []string{benchTypes[i%len(benchTypes)].name}}, alerts.Order{}},
		)
	}
	durs := make([]time.Duration, 0, n)
	cursors := make([]string, len(qs))
	for i := range n {
		k := i % len(qs)
		q := qs[k]
		start := time.Now()
		_, next, err := r.List(ctx, q.access, q.filter, q.order, projections.Page{Size: 50, Cursor: cursors[k]})
		durs = append(durs, time.Since(start))
		if err != nil {
			return Latency{}, err
		}
		cursors[k] = next
	}
	slices.Sort(durs)
	pct := func(p float64) time.Duration { return durs[min(len(durs)-1, int(p*float64(len(durs))))] }
	return Latency{N: n, P50: pct(0.50), P99: pct(0.99), Max: durs[len(durs)-1]}, nil
}
