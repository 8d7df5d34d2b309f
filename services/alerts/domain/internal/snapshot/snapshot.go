// Package snapshot writes and reads the protobuf wire form of the alerts aggregates' snapshots
// (aggregate.Snapshotter): messages of fields numbered by each aggregate, built from the public
// state and event messages plus what those do not carry, without a generated message of their
// own (the service's internal state does not belong in the public protos).
package snapshot

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Writer appends the fields of a snapshot; absent values (nil messages, zero times) are left
// out. The first error sticks and is returned by Bytes.
type Writer struct {
	b   []byte
	err error
}

// Message appends m as field n, unless it is nil.
func (w *Writer) Message(n protowire.Number, m proto.Message) {
	if w.err != nil || m == nil || !m.ProtoReflect().IsValid() {
		return
	}
	w.b = protowire.AppendTag(w.b, n, protowire.BytesType)
	w.b = protowire.AppendVarint(w.b, uint64(proto.Size(m)))
	w.b, w.err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(w.b, m)
}

// Time appends t as field n (a google.protobuf.Timestamp), unless it is zero.
func (w *Writer) Time(n protowire.Number, t time.Time) {
	if !t.IsZero() {
		w.Message(n, timestamppb.New(t))
	}
}

// Bytes returns the snapshot, or the first error.
func (w *Writer) Bytes() ([]byte, error) { return w.b, w.err }

// Read calls fn with the content of every length-delimited field of data, in order (repeated
// fields once per value). Fields of other wire types are skipped.
func Read(data []byte, fn func(n protowire.Number, b []byte) error) error {
	for len(data) > 0 {
		n, typ, l := protowire.ConsumeTag(data)
		if l < 0 {
			return protowire.ParseError(l)
		}
		data = data[l:]
		if typ != protowire.BytesType {
			if l = protowire.ConsumeFieldValue(n, typ, data); l < 0 {
				return fmt.Errorf("field %d: %w", n, protowire.ParseError(l))
			}
			data = data[l:]
			continue
		}
		b, l := protowire.ConsumeBytes(data)
		if l < 0 {
			return fmt.Errorf("field %d: %w", n, protowire.ParseError(l))
		}
		data = data[l:]
		if err := fn(n, b); err != nil {
			return fmt.Errorf("field %d: %w", n, err)
		}
	}
	return nil
}

// Time decodes a field Writer.Time wrote, in UTC.
func Time(b []byte) (time.Time, error) {
	var ts timestamppb.Timestamp
	if err := proto.Unmarshal(b, &ts); err != nil {
		return time.Time{}, err
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, err
	}
	return ts.AsTime(), nil
}
