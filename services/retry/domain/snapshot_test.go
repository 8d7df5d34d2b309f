package domain_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// diffState compares two schedules field by field, unexported fields included (so a field the
// snapshot forgets shows), messages as messages, times with Equal, nil and empty alike. It
// returns "" when they are the same, else the difference (-x +y).
func diffState(x, y *domain.Schedule) string {
	all := cmp.Exporter(func(reflect.Type) bool { return true })
	// proto.Equal first: protocmp's readable diff is slow.
	if cmp.Equal(x, y, all, cmp.Comparer(func(a, b proto.Message) bool { return proto.Equal(a, b) }), cmpopts.EquateEmpty()) {
		return ""
	}
	return cmp.Diff(x, y, all, protocmp.Transform(), cmpopts.EquateEmpty())
}

// TestSnapshot_restoresWhatFoldingGives folds every prefix of every golden history, snapshots
// the schedule, restores the snapshot into a fresh one and checks that both are the same: the
// whole state, and how they answer every command (the events raised, the error, the state after).
func TestSnapshot_restoresWhatFoldingGives(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.events.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".events.jsonl"), func(t *testing.T) {
			t.Parallel()
			msgs := readHistory(t, file)
			ref := firstRecord(t, msgs)
			for n := range len(msgs) + 1 {
				folded := foldN(t, ref, msgs[:n])
				if folded.SnapshotSchema() != "retry.schedule/1" {
					t.Fatalf("schema %q", folded.SnapshotSchema())
				}
				restored := restore(t, folded)
				if diff := diffState(folded, restored); diff != "" {
					t.Fatalf("after %d events the restored schedule differs (-folded +restored):\n%s", n, diff)
				}
				for _, p := range probes(ref, folded) {
					a, b := foldN(t, ref, msgs[:n]), restore(t, folded)
					errA, errB := p.run(a), p.run(b)
					if fmt.Sprint(errA) != fmt.Sprint(errB) {
						t.Fatalf("after %d events, %s: folded says %v, restored %v", n, p.name, errA, errB)
					}
					if diff := diffState(a, b); diff != "" {
						t.Fatalf("after %d events, %s: the schedules differ (-folded +restored):\n%s", n, p.name, diff)
					}
				}
			}
		})
	}
}

func TestSnapshot_refusesGarbage(t *testing.T) {
	t.Parallel()
	s := domain.New(domain.StreamOf(orderRef("#S1")))
	for _, data := range [][]byte{{0x0a, 0x05, 0x01}, {0x10, 0x63}, {0xff}} {
		if err := s.UnmarshalSnapshot(data); err == nil {
			t.Errorf("UnmarshalSnapshot(%x): want an error", data)
		}
	}
}

// TestRepository_loadsFromSnapshots runs a schedule through a repository that keeps one
// schedule in memory and saves the evicted ones as snapshots: every load is a restore plus the
// events after the snapshot, and it ends where folding the stream does.
func TestRepository_loadsFromSnapshots(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := memstore.New(events.NewRegistry(domain.Events()...))
	snaps := aggregate.NewMemorySnapshots()
	repo, err := aggregate.NewRepository(store, domain.New, aggregate.Config{CacheSize: 1, Snapshots: snaps})
	must(t, err)
	ref, other := orderRef("#S2"), orderRef("#S2-other")
	stream := domain.StreamOf(ref)
	c := newClock()
	evict := func() {
		t.Helper()
		must(t, repo.Update(ctx, domain.StreamOf(other), events.Metadata{}, func(s *domain.Schedule) error {
			return s.RecordFailure(failure(other, fmt.Sprint("o", c.Now().Unix()), c.Now()), transient, orderPolicy(), c.Now())
		}))
	}
	attempt := "a0"
	for i := range 4 {
		must(t, repo.Update(ctx, stream, events.Metadata{}, func(s *domain.Schedule) error {
			return s.RecordFailure(failure(ref, attempt, c.Now()), transient, orderPolicy(), c.Now())
		}))
		evict()
		must(t, repo.Update(ctx, stream, events.Metadata{}, func(s *domain.Schedule) error {
			next, ok := s.NextAttemptAt()
			if !ok {
				return fmt.Errorf("round %d: no attempt pending", i)
			}
			if err := s.Fire(c.Set(next)); err != nil {
				return err
			}
			due, _ := s.DueCommand()
			attempt = due.GetAttemptId()
			return nil
		}))
		evict()
		c.Advance(time.Second)
	}
	if snaps.Len() != 2 {
		t.Fatalf("%d snapshots, want one per schedule", snaps.Len())
	}
	var viewed *domain.Schedule
	must(t, repo.View(ctx, stream, func(s *domain.Schedule) { viewed = restore(t, s) }))
	folded, _, err := repo.Read(ctx, stream)
	must(t, err)
	if diff := diffState(folded, viewed); diff != "" {
		t.Fatalf("loaded from a snapshot (+) differs from folded (-):\n%s", diff)
	}
	if folded.Attempts() != 4 {
		t.Fatalf("%d attempts, want 4", folded.Attempts())
	}
}

// foldN folds msgs into a new schedule of ref's stream.
func foldN(t *testing.T, ref *connectorv1.RecordRef, msgs []proto.Message) *domain.Schedule {
	t.Helper()
	s := domain.New(domain.StreamOf(ref))
	for i, m := range msgs {
		rec := events.Record{Event: events.Event{Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)}, Message: m}}
		if err := s.Apply(rec); err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
	}
	return s
}

// restore snapshots s and restores the snapshot into a new schedule.
func restore(t *testing.T, s *domain.Schedule) *domain.Schedule {
	t.Helper()
	data, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := domain.New(s.Stream())
	if err := r.UnmarshalSnapshot(data); err != nil {
		t.Fatal(err)
	}
	return r
}

type probe struct {
	name string
	run  func(*domain.Schedule) error
}

// probes returns every command of a schedule, with arguments that make sense for s: reports of
// its last attempt and of a new one in every class, timers at its wake time and later, cycles,
// outages, edits, resends and what people ask for.
func probes(ref *connectorv1.RecordRef, s *domain.Schedule) []probe {
	base := t0
	if u := s.Snapshot().GetUpdatedAt(); u != nil && u.AsTime().After(base) {
		base = u.AsTime()
	}
	policy := orderPolicy()
	if ref.GetRecordKind() == connectorv1.RecordKind_RECORD_KIND_TRACKING {
		policy = trackingPolicy(day)
	}
	attempt := "a0"
	if due, ok := s.DueCommand(); ok {
		attempt = due.GetAttemptId()
	}
	var ps []probe
	add := func(name string, run func(*domain.Schedule) error) { ps = append(ps, probe{name, run}) }
	fireAt := []time.Time{base.Add(time.Second), base.Add(time.Hour), base.Add(40 * day)}
	if w, ok := s.WakeAt(); ok {
		fireAt = append(fireAt, w)
	}
	if d, ok := s.Deadline(); ok {
		fireAt = append(fireAt, d)
	}
	for _, at := range fireAt {
		add("Fire at "+at.Format(time.RFC3339), func(s *domain.Schedule) error { return s.Fire(at) })
	}
	classes := map[string]domain.Classification{"transient": transient, "rate_limited": rateLimited, "auth": authFailure, "manual": manual, "rejected": rejected}
	for name, class := range classes {
		for _, id := range []string{attempt, "probe"} {
			add("RecordFailure "+name+" "+id, func(s *domain.Schedule) error {
				f := failure(ref, id, base.Add(time.Minute))
				if class == rateLimited {
					f = withRetryAfter(f, 3*time.Hour)
				}
				return s.RecordFailure(f, class, policy, base.Add(time.Minute))
			})
		}
	}
	add("RecordSucceeded", func(s *domain.Schedule) error {
		return s.RecordSucceeded(success(ref, attempt, base.Add(time.Minute)), base.Add(time.Minute))
	})
	for _, change := range []connectorv1.RecordChange{connectorv1.RecordChange_RECORD_CHANGE_EDITED, connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED, connectorv1.RecordChange_RECORD_CHANGE_CANCELED} {
		add("RecordUpdated "+change.String(), func(s *domain.Schedule) error {
			return s.RecordUpdated(updated(ref, change, base.Add(time.Minute)), base.Add(time.Minute))
		})
	}
	add("SyncCycleStarted", func(s *domain.Schedule) error {
		return s.SyncCycleStarted(cycle(ref, "probe", base.Add(time.Hour), day), base.Add(time.Hour+time.Second))
	})
	add("Pause, Resume, Fire", func(s *domain.Schedule) error {
		if err := s.Pause(base.Add(time.Minute)); err != nil {
			return err
		}
		if err := s.Resume(base.Add(5 * time.Hour)); err != nil {
			return err
		}
		return s.Fire(base.Add(5 * time.Hour))
	})
	add("Resume", func(s *domain.Schedule) error { return s.Resume(base.Add(2 * time.Hour)) })
	add("RetryNow", func(s *domain.Schedule) error { return s.RetryNow("probe@example.com", base.Add(time.Minute)) })
	add("Cancel", func(s *domain.Schedule) error { return s.Cancel("probe@example.com", base.Add(time.Minute)) })
	return ps
}
