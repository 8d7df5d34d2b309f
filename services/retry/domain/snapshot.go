package domain

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events/aggregate"
)

// SnapshotSchema names the encoding of a schedule's snapshots (aggregate.Snapshotter). A
// persisted identifier: change it whenever the encoding changes meaning, and snapshots of the
// old schema are ignored (the schedule is then folded from its events).
const SnapshotSchema = "retry.schedule/1"

var _ aggregate.Snapshotter = (*Schedule)(nil)

// Field numbers of a snapshot. The snapshot is the protobuf wire form of this message (written
// with protowire, as a .proto of the service's internal state would not belong in the public
// protos); absent fields are zero:
//
//	message ScheduleSnapshot {
//	  rebound.connector.v1.RecordRef record = 1;
//	  uint32 phase = 2;                        // the phase constants, below: never renumber
//	  bool paused = 3;
//	  google.protobuf.Timestamp paused_since = 4;
//	  google.protobuf.Timestamp held_since = 5;
//	  google.protobuf.Timestamp frozen_since = 6;
//	  rebound.retry.v1.RetryWindow window = 7;  // with its policy
//	  google.protobuf.Timestamp next_attempt_at = 8;
//	  google.protobuf.Timestamp not_before = 9;
//	  rebound.retry.v1.Failure last_failure = 10;
//	  rebound.retry.v1.RetryAttempt last_attempt = 11;
//	  rebound.retry.v1.ExhaustedReason exhausted_reason = 12;
//	  google.protobuf.Timestamp ended_at = 13;
//	  google.protobuf.Timestamp updated_at = 14;
//	}
//
// The query message (RetrySchedule) is not enough: it derives the status from the phase and the
// pause (a paused schedule does not say whether it waits for a timer or a sync cycle) and has no
// frozen-since time.
const (
	snapRecord protowire.Number = iota + 1
	snapPhase
	snapPaused
	snapPausedSince
	snapHeldSince
	snapFrozenSince
	snapWindow
	snapNextAttemptAt
	snapNotBefore
	snapLastFailure
	snapLastAttempt
	snapExhaustedReason
	snapEndedAt
	snapUpdatedAt
)

// SnapshotSchema implements aggregate.Snapshotter.
func (s *Schedule) SnapshotSchema() string { return SnapshotSchema }

// MarshalSnapshot implements aggregate.Snapshotter: it encodes the whole state (see
// SnapshotSchema). Restoring it with UnmarshalSnapshot gives exactly the schedule that folding
// the same events gives.
func (s *Schedule) MarshalSnapshot() ([]byte, error) {
	var w snapshotWriter
	w.message(snapRecord, s.record)
	w.varint(snapPhase, uint64(s.phase))
	if s.paused {
		w.varint(snapPaused, 1)
	}
	w.time(snapPausedSince, s.pausedSince)
	w.time(snapHeldSince, s.heldSince)
	w.time(snapFrozenSince, s.frozenSince)
	if s.win != (window{}) {
		w.message(snapWindow, s.win.proto())
	}
	w.time(snapNextAttemptAt, s.nextAttemptAt)
	w.time(snapNotBefore, s.notBefore)
	w.message(snapLastFailure, s.lastFailure)
	w.message(snapLastAttempt, s.lastAttempt)
	w.varint(snapExhaustedReason, uint64(s.exhaustedReason))
	w.time(snapEndedAt, s.endedAt)
	w.time(snapUpdatedAt, s.updatedAt)
	if w.err != nil {
		return nil, fmt.Errorf("retry: snapshot of %s: %w", s.stream, w.err)
	}
	return w.b, nil
}

// UnmarshalSnapshot implements aggregate.Snapshotter: it restores a snapshot of MarshalSnapshot
// into a schedule that New just made.
func (s *Schedule) UnmarshalSnapshot(data []byte) error {
	err := readSnapshot(data, func(n protowire.Number, v uint64, b []byte) error {
		switch n {
		case snapRecord:
			s.record = &connectorv1.RecordRef{}
			return proto.Unmarshal(b, s.record)
		case snapPhase:
			if v > uint64(phaseCanceled) {
				return fmt.Errorf("unknown phase %d", v)
			}
			s.phase = phase(v)
		case snapPaused:
			s.paused = v != 0
		case snapPausedSince:
			return readTime(b, &s.pausedSince)
		case snapHeldSince:
			return readTime(b, &s.heldSince)
		case snapFrozenSince:
			return readTime(b, &s.frozenSince)
		case snapWindow:
			var m retryv1.RetryWindow
			if err := proto.Unmarshal(b, &m); err != nil {
				return err
			}
			s.win = windowOf(&m)
		case snapNextAttemptAt:
			return readTime(b, &s.nextAttemptAt)
		case snapNotBefore:
			return readTime(b, &s.notBefore)
		case snapLastFailure:
			s.lastFailure = &retryv1.Failure{}
			return proto.Unmarshal(b, s.lastFailure)
		case snapLastAttempt:
			s.lastAttempt = &retryv1.RetryAttempt{}
			return proto.Unmarshal(b, s.lastAttempt)
		case snapExhaustedReason:
			s.exhaustedReason = retryv1.ExhaustedReason(v)
		case snapEndedAt:
			return readTime(b, &s.endedAt)
		case snapUpdatedAt:
			return readTime(b, &s.updatedAt)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("retry: restoring a snapshot of %s: %w", s.stream, err)
	}
	return nil
}

// snapshotWriter appends the fields of a snapshot; zero values are left out.
type snapshotWriter struct {
	b   []byte
	err error
}

func (w *snapshotWriter) varint(n protowire.Number, v uint64) {
	if v == 0 {
		return
	}
	w.b = protowire.AppendTag(w.b, n, protowire.VarintType)
	w.b = protowire.AppendVarint(w.b, v)
}

func (w *snapshotWriter) message(n protowire.Number, m proto.Message) {
	if w.err != nil || m == nil || !m.ProtoReflect().IsValid() {
		return
	}
	w.b = protowire.AppendTag(w.b, n, protowire.BytesType)
	w.b = protowire.AppendVarint(w.b, uint64(proto.Size(m)))
	w.b, w.err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(w.b, m)
}

func (w *snapshotWriter) time(n protowire.Number, t time.Time) {
	if !t.IsZero() {
		w.message(n, timestamppb.New(t))
	}
}

// readSnapshot calls fn with every field of a snapshot: v for varints, b for bytes. Fields of
// other wire types are skipped.
func readSnapshot(data []byte, fn func(n protowire.Number, v uint64, b []byte) error) error {
	for len(data) > 0 {
		n, typ, l := protowire.ConsumeTag(data)
		if l < 0 {
			return protowire.ParseError(l)
		}
		data = data[l:]
		var (
			v uint64
			b []byte
		)
		switch typ {
		case protowire.VarintType:
			v, l = protowire.ConsumeVarint(data)
		case protowire.BytesType:
			b, l = protowire.ConsumeBytes(data)
		default:
			l = protowire.ConsumeFieldValue(n, typ, data)
		}
		if l < 0 {
			return fmt.Errorf("field %d: %w", n, protowire.ParseError(l))
		}
		data = data[l:]
		if typ != protowire.VarintType && typ != protowire.BytesType {
			continue
		}
		if err := fn(n, v, b); err != nil {
			return fmt.Errorf("field %d: %w", n, err)
		}
	}
	return nil
}

// readTime decodes a google.protobuf.Timestamp into t, in UTC as the fold keeps times.
func readTime(b []byte, t *time.Time) error {
	var ts timestamppb.Timestamp
	if err := proto.Unmarshal(b, &ts); err != nil {
		return err
	}
	if err := ts.CheckValid(); err != nil {
		return err
	}
	*t = ts.AsTime()
	return nil
}
