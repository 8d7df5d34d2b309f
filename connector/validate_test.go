package connector_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
)

func validFailure() *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{
		Record: &connectorv1.RecordRef{
			AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
			RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "#1001", OrderNumber: "#1001",
		},
		AttemptId: "a1", Message: "Service Unavailable", HttpStatus: 503,
		FailedAt: timestamppb.New(time.Now()),
	}
}

func TestValidateFailed_namesTheField(t *testing.T) {
	cases := map[string]struct {
		mutate func(*connectorv1.RecordFailed)
		field  string
	}{
		"missing record":  {func(m *connectorv1.RecordFailed) { m.Record = nil }, "record"},
		"dotted account":  {func(m *connectorv1.RecordFailed) { m.Record.AccountId = "a.b" }, "record.account_id"},
		"no account kind": {func(m *connectorv1.RecordFailed) { m.Record.AccountKind = 0 }, "record.account_kind"},
		"no connection":   {func(m *connectorv1.RecordFailed) { m.Record.ConnectionId = "" }, "record.connection_id"},
		"no record kind":  {func(m *connectorv1.RecordFailed) { m.Record.RecordKind = 0 }, "record.record_kind"},
		"unknown kind":    {func(m *connectorv1.RecordFailed) { m.Record.RecordKind = 42 }, "record.record_kind"},
		"no record id":    {func(m *connectorv1.RecordFailed) { m.Record.RecordId = " " }, "record.record_id"},
		"no attempt":      {func(m *connectorv1.RecordFailed) { m.AttemptId = "" }, "attempt_id"},
		"nothing said":    {func(m *connectorv1.RecordFailed) { m.Message, m.HttpStatus = "", 0 }, "message"},
		"bad status":      {func(m *connectorv1.RecordFailed) { m.HttpStatus = 42 }, "http_status"},
		"negative wait":   {func(m *connectorv1.RecordFailed) { m.RetryAfter = durationpb.New(-time.Second) }, "retry_after"},
		"no time":         {func(m *connectorv1.RecordFailed) { m.FailedAt = nil }, "failed_at"},
		"huge message":    {func(m *connectorv1.RecordFailed) { m.Message = strings.Repeat("x", connector.MaxMessageLen+1) }, "message"},
	}
	if err := connector.ValidateFailed(validFailure()); err != nil {
		t.Fatalf("valid failure refused: %v", err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := proto.Clone(validFailure()).(*connectorv1.RecordFailed)
			tc.mutate(m)
			err := connector.ValidateFailed(m)
			var fe *connector.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, events.ErrInvalidArgument) {
				t.Fatalf("err = %v, want a FieldError wrapping ErrInvalidArgument", err)
			}
			if fe.Field != tc.field {
				t.Fatalf("error names %q (%v), want %q", fe.Field, err, tc.field)
			}
		})
	}
}

func TestRecordKey_stableTokenPerRecord(t *testing.T) {
	k1 := connector.RecordKey("wms-1", connectorv1.RecordKind_RECORD_KIND_ORDER, "#1001 / A.B")
	k2 := connector.RecordKey("wms-1", connectorv1.RecordKind_RECORD_KIND_ORDER, "#1001 / A.B")
	if k1 != k2 || !events.ValidToken(k1) {
		t.Fatalf("keys %q and %q: want equal valid tokens", k1, k2)
	}
	for _, other := range []string{
		connector.RecordKey("wms-2", connectorv1.RecordKind_RECORD_KIND_ORDER, "#1001 / A.B"),
		connector.RecordKey("wms-1", connectorv1.RecordKind_RECORD_KIND_TRACKING, "#1001 / A.B"),
		connector.RecordKey("wms-1", connectorv1.RecordKind_RECORD_KIND_ORDER, "#1002 / A.B"),
	} {
		if other == k1 {
			t.Fatalf("different records share key %s", k1)
		}
	}
}
