package connector

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
)

// FieldError says which field of a report is wrong and why. It wraps events.ErrInvalidArgument,
// so the gRPC layer maps it to InvalidArgument naming the field and the bus sends the report to
// the poison subject.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, events.ErrInvalidArgument) hold.
func (e *FieldError) Unwrap() error { return events.ErrInvalidArgument }

// Limits on free-text fields, so one report cannot bloat the store.
const (
	MaxMessageLen = 4096
	MaxRefLen     = 256
)

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ValidateRecordRef checks a record reference; prefix is the field path of the ref ("record").
func ValidateRecordRef(prefix string, r *connectorv1.RecordRef) error {
	if r == nil {
		return fieldErr(prefix, "is required")
	}
	var errs []error
	if !events.ValidToken(r.GetAccountId()) {
		errs = append(errs, fieldErr(prefix+".account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", r.GetAccountId()))
	}
	if r.GetAccountKind() == connectorv1.AccountKind_ACCOUNT_KIND_UNSPECIFIED {
		errs = append(errs, fieldErr(prefix+".account_kind", "is required (merchant or warehouse)"))
	} else if _, ok := connectorv1.AccountKind_name[int32(r.GetAccountKind())]; !ok {
		errs = append(errs, fieldErr(prefix+".account_kind", "unknown value %d", r.GetAccountKind()))
	}
	if w := r.GetWarehouseId(); w != "" && !events.ValidToken(w) {
		errs = append(errs, fieldErr(prefix+".warehouse_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", w))
	}
	if r.GetAccountKind() == connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE && r.GetWarehouseId() != "" && r.GetWarehouseId() != r.GetAccountId() {
		errs = append(errs, fieldErr(prefix+".warehouse_id", "a warehouse account cannot belong to another warehouse"))
	}
	if !events.ValidToken(r.GetConnectionId()) {
		errs = append(errs, fieldErr(prefix+".connection_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", r.GetConnectionId()))
	}
	if r.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_UNSPECIFIED {
		errs = append(errs, fieldErr(prefix+".system_kind", "is required (cart or wms)"))
	} else if _, ok := connectorv1.SystemKind_name[int32(r.GetSystemKind())]; !ok {
		errs = append(errs, fieldErr(prefix+".system_kind", "unknown value %d", r.GetSystemKind()))
	}
	errs = append(errs, text(prefix+".system", r.GetSystem(), MaxRefLen, true))
	if r.GetRecordKind() == connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
		errs = append(errs, fieldErr(prefix+".record_kind", "is required (order, tracking, inventory or product)"))
	} else if _, ok := connectorv1.RecordKind_name[int32(r.GetRecordKind())]; !ok {
		errs = append(errs, fieldErr(prefix+".record_kind", "unknown value %d", r.GetRecordKind()))
	}
	errs = append(errs,
		text(prefix+".record_id", r.GetRecordId(), MaxRefLen, true),
		text(prefix+".order_number", r.GetOrderNumber(), MaxRefLen, false),
		text(prefix+".sku", r.GetSku(), MaxRefLen, false),
	)
	return errors.Join(errs...)
}

func text(field, v string, maxLen int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fieldErr(field, "is required")
	case len(v) > maxLen:
		return fieldErr(field, "is %d bytes long; at most %d", len(v), maxLen)
	case !utf8.ValidString(v):
		return fieldErr(field, "is not valid UTF-8")
	}
	return nil
}

// ValidateFailed checks a RecordFailed report.
func ValidateFailed(m *connectorv1.RecordFailed) error {
	if m == nil {
		return fieldErr("record_failed", "is required")
	}
	errs := []error{
		ValidateRecordRef("record", m.GetRecord()),
		text("attempt_id", m.GetAttemptId(), MaxRefLen, true),
		text("message", m.GetMessage(), MaxMessageLen, false),
		text("code", m.GetCode(), MaxRefLen, false),
	}
	if m.GetMessage() == "" && m.GetCode() == "" && m.GetHttpStatus() == 0 {
		errs = append(errs, fieldErr("message", "a failure needs the system's message, a code or an HTTP status"))
	}
	if s := m.GetHttpStatus(); s != 0 && (s < 100 || s > 599) {
		errs = append(errs, fieldErr("http_status", "%d is not an HTTP status", s))
	}
	if ra := m.GetRetryAfter(); ra != nil && (ra.CheckValid() != nil || ra.AsDuration() < 0) {
		errs = append(errs, fieldErr("retry_after", "must be a non-negative duration"))
	}
	if m.GetFailedAt() == nil {
		errs = append(errs, fieldErr("failed_at", "is required"))
	} else if m.GetFailedAt().CheckValid() != nil {
		errs = append(errs, fieldErr("failed_at", "is not a valid time"))
	}
	return errors.Join(errs...)
}

// ValidateSucceeded checks a RecordSucceeded report.
func ValidateSucceeded(m *connectorv1.RecordSucceeded) error {
	if m == nil {
		return fieldErr("record_succeeded", "is required")
	}
	errs := []error{
		ValidateRecordRef("record", m.GetRecord()),
		text("attempt_id", m.GetAttemptId(), MaxRefLen, true),
		text("external_id", m.GetExternalId(), MaxRefLen, false),
	}
	if m.GetSucceededAt() == nil || m.GetSucceededAt().CheckValid() != nil {
		errs = append(errs, fieldErr("succeeded_at", "is required and must be a valid time"))
	}
	return errors.Join(errs...)
}

// ValidateUpdated checks a RecordUpdated report.
func ValidateUpdated(m *connectorv1.RecordUpdated) error {
	if m == nil {
		return fieldErr("record_updated", "is required")
	}
	errs := []error{ValidateRecordRef("record", m.GetRecord()), text("actor", m.GetActor(), MaxRefLen, false)}
	if m.GetChange() == connectorv1.RecordChange_RECORD_CHANGE_UNSPECIFIED {
		errs = append(errs, fieldErr("change", "is required (edited, resend_requested or canceled)"))
	} else if _, ok := connectorv1.RecordChange_name[int32(m.GetChange())]; !ok {
		errs = append(errs, fieldErr("change", "unknown value %d", m.GetChange()))
	}
	for i, f := range m.GetChangedFields() {
		errs = append(errs, text(fmt.Sprintf("changed_fields[%d]", i), f, MaxRefLen, true))
	}
	if m.GetUpdatedAt() == nil || m.GetUpdatedAt().CheckValid() != nil {
		errs = append(errs, fieldErr("updated_at", "is required and must be a valid time"))
	}
	return errors.Join(errs...)
}

// ValidateSyncCycle checks a SyncCycleStarted report.
func ValidateSyncCycle(m *connectorv1.SyncCycleStarted) error {
	if m == nil {
		return fieldErr("sync_cycle_started", "is required")
	}
	var errs []error
	if !events.ValidToken(m.GetAccountId()) {
		errs = append(errs, fieldErr("account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", m.GetAccountId()))
	}
	if m.GetAccountKind() == connectorv1.AccountKind_ACCOUNT_KIND_UNSPECIFIED {
		errs = append(errs, fieldErr("account_kind", "is required (merchant or warehouse)"))
	}
	if w := m.GetWarehouseId(); w != "" && !events.ValidToken(w) {
		errs = append(errs, fieldErr("warehouse_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", w))
	}
	if !events.ValidToken(m.GetConnectionId()) {
		errs = append(errs, fieldErr("connection_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", m.GetConnectionId()))
	}
	if m.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_UNSPECIFIED {
		errs = append(errs, fieldErr("system_kind", "is required (cart or wms)"))
	}
	errs = append(errs, text("system", m.GetSystem(), MaxRefLen, true), text("cycle_id", m.GetCycleId(), MaxRefLen, true))
	for i, k := range m.GetRecordKinds() {
		if _, ok := connectorv1.RecordKind_name[int32(k)]; !ok || k == connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
			errs = append(errs, fieldErr(fmt.Sprintf("record_kinds[%d]", i), "unknown value %d", k))
		}
	}
	if si := m.GetSyncInterval(); si != nil && (si.CheckValid() != nil || si.AsDuration() <= 0) {
		errs = append(errs, fieldErr("sync_interval", "must be a positive duration"))
	}
	if m.GetStartedAt() == nil || m.GetStartedAt().CheckValid() != nil {
		errs = append(errs, fieldErr("started_at", "is required and must be a valid time"))
	}
	return errors.Join(errs...)
}
