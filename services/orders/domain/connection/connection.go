// Package connection is the configuration of one connection between an account and an external
// system (a cart or a WMS), stored as evt.connection_config.<account>.<connection id>.<EventType>
// (the aggregate type "connection" holds connectors' SyncCycleStarted reports, so this one has its
// own).
//
// A configuration is its settings (system, base URL, timeout, sync interval, the WMS connection
// of a cart connection) and a reference to its credentials: the secrets themselves never go into
// an event (the event store is immutable), but into a key-value bucket, and the event records only
// which revision it configured (SecretRef). Configure raises ConnectionConfigured with the whole
// configuration when anything changed, nothing otherwise.
package connection

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// AggregateType is the aggregate type of connection configurations. A persisted identifier.
const AggregateType = "connection_config"

// Limits on settings.
const (
	// DefaultTimeout bounds a call when the settings set no timeout.
	DefaultTimeout = 10 * time.Second
	// MinTimeout and MaxTimeout bound the timeout a connection may set.
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = 5 * time.Minute
	// MinSyncInterval and MaxSyncInterval bound a cart connection's sync interval.
	MinSyncInterval = time.Second
	MaxSyncInterval = 7 * 24 * time.Hour
)

// Stream returns the stream of one connection of an account.
func Stream(account, connectionID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: connectionID}
}

// EventTypes lists every event the aggregate stores.
func EventTypes() []proto.Message { return []proto.Message{&connectionsv1.ConnectionConfigured{}} }

// Connection is one connection's configuration. Not safe for concurrent use.
type Connection struct {
	aggregate.Recorder

	stream    events.StreamID
	settings  *connectionsv1.ConnectionSettings
	secret    *connectionsv1.SecretRef
	version   uint64
	createdAt *timestamppb.Timestamp
	updatedAt *timestamppb.Timestamp
}

var _ aggregate.Root = (*Connection)(nil)

// New returns the unconfigured connection of a stream (see Stream).
func New(stream events.StreamID) *Connection { return &Connection{stream: stream} }

// Exists reports whether the connection was configured.
func (c *Connection) Exists() bool { return c.settings != nil }

// Settings returns a copy of the settings; nil before the first configuration.
func (c *Connection) Settings() *connectionsv1.ConnectionSettings {
	if c.settings == nil {
		return nil
	}
	return proto.CloneOf(c.settings)
}

// Secret returns the reference to the connection's credentials (a zero reference when it has
// none).
func (c *Connection) Secret() *connectionsv1.SecretRef {
	if c.secret == nil {
		return &connectionsv1.SecretRef{}
	}
	return proto.CloneOf(c.secret)
}

// Version returns how many configurations were stored.
func (c *Connection) Version() uint64 { return c.version }

// Snapshot returns the connection as clients see it, without health and pass-through (the
// service adds them); nil before the first configuration.
func (c *Connection) Snapshot() *connectionsv1.Connection {
	if c.settings == nil {
		return nil
	}
	return &connectionsv1.Connection{
		Settings:    proto.CloneOf(c.settings),
		Credentials: &connectionsv1.CredentialsInfo{Kind: c.secret.GetKind(), Revision: c.secret.GetRevision()},
		Version:     c.version, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt,
	}
}

// Configure stores settings (and, when secret is not nil, a new reference to the credentials)
// as the connection's configuration (ConnectionConfigured). The same configuration again changes
// nothing (false). The settings must name this connection; its system kind cannot change.
func (c *Connection) Configure(s *connectionsv1.ConnectionSettings, secret *connectionsv1.SecretRef, actor string, now time.Time) (bool, error) {
	if err := ValidateSettings("settings", s); err != nil {
		return false, err
	}
	var errs []error
	if s.GetAccountId() != c.stream.Account || s.GetConnectionId() != c.stream.ID {
		errs = append(errs, fieldErr("settings.connection_id", "names connection %s/%s, not %s/%s",
			s.GetAccountId(), s.GetConnectionId(), c.stream.Account, c.stream.ID))
	}
	if c.settings != nil && s.GetSystemKind() != c.settings.GetSystemKind() {
		errs = append(errs, fieldErr("settings.system_kind", "a %s connection cannot become a %s connection; add a new connection",
			kindWord(c.settings.GetSystemKind()), kindWord(s.GetSystemKind())))
	}
	if len(actor) > connector.MaxRefLen || !utf8.ValidString(actor) {
		errs = append(errs, fieldErr("actor", "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen))
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	s = proto.CloneOf(s)
	if secret == nil {
		secret = c.Secret()
	}
	changed := c.changes(s, secret)
	if len(changed) == 0 {
		return false, nil
	}
	c.raise(&connectionsv1.ConnectionConfigured{
		Settings: s, Credentials: proto.CloneOf(secret), Created: c.settings == nil, ChangedFields: changed,
		Actor: actor, ConfiguredAt: timestamppb.New(now.UTC()),
	})
	return true, nil
}

// changes names what differs from the current configuration; every field for a new one.
func (c *Connection) changes(s *connectionsv1.ConnectionSettings, secret *connectionsv1.SecretRef) []string {
	old := c.settings
	if old == nil {
		old = &connectionsv1.ConnectionSettings{}
	}
	var out []string
	add := func(name string, same bool) {
		if !same || c.settings == nil {
			out = append(out, name)
		}
	}
	add("account_kind", old.GetAccountKind() == s.GetAccountKind())
	add("warehouse_id", old.GetWarehouseId() == s.GetWarehouseId())
	add("system_kind", old.GetSystemKind() == s.GetSystemKind())
	add("system", old.GetSystem() == s.GetSystem())
	add("base_url", old.GetBaseUrl() == s.GetBaseUrl())
	add("timeout", proto.Equal(old.GetTimeout(), s.GetTimeout()))
	add("sync_interval", proto.Equal(old.GetSyncInterval(), s.GetSyncInterval()))
	add("wms_connection_id", old.GetWmsConnectionId() == s.GetWmsConnectionId())
	sameSecret := c.secret.GetKind() == secret.GetKind() && c.secret.GetRevision() == secret.GetRevision()
	if !sameSecret || (c.settings == nil && secret.GetKind() != connectionsv1.CredentialsKind_CREDENTIALS_KIND_UNSPECIFIED) {
		out = append(out, "credentials")
	}
	return out
}

// ValidateSettings checks settings, naming fields under prefix ("settings").
func ValidateSettings(prefix string, s *connectionsv1.ConnectionSettings) error {
	if s == nil {
		return fieldErr(prefix, "is required")
	}
	var errs []error
	f := func(name string) string { return prefix + "." + name }
	if !events.ValidToken(s.GetConnectionId()) {
		errs = append(errs, fieldErr(f("connection_id"), "%q must be 1-128 characters of A-Z a-z 0-9 _ -", s.GetConnectionId()))
	}
	if !events.ValidToken(s.GetAccountId()) {
		errs = append(errs, fieldErr(f("account_id"), "%q must be 1-128 characters of A-Z a-z 0-9 _ -", s.GetAccountId()))
	}
	switch k := s.GetAccountKind(); {
	case k == connectorv1.AccountKind_ACCOUNT_KIND_UNSPECIFIED:
		errs = append(errs, fieldErr(f("account_kind"), "is required (merchant or warehouse)"))
	case connectorv1.AccountKind_name[int32(k)] == "":
		errs = append(errs, fieldErr(f("account_kind"), "unknown value %d", k))
	}
	if w := s.GetWarehouseId(); w != "" {
		switch {
		case !events.ValidToken(w):
			errs = append(errs, fieldErr(f("warehouse_id"), "%q must be 1-128 characters of A-Z a-z 0-9 _ -", w))
		case s.GetAccountKind() == connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE && w != s.GetAccountId():
			errs = append(errs, fieldErr(f("warehouse_id"), "a warehouse account cannot belong to another warehouse"))
		}
	}
	cart := s.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_CART
	switch k := s.GetSystemKind(); {
	case k == connectorv1.SystemKind_SYSTEM_KIND_UNSPECIFIED:
		errs = append(errs, fieldErr(f("system_kind"), "is required (cart or wms)"))
	case connectorv1.SystemKind_name[int32(k)] == "":
		errs = append(errs, fieldErr(f("system_kind"), "unknown value %d", k))
	}
	switch sys := s.GetSystem(); {
	case strings.TrimSpace(sys) == "":
		errs = append(errs, fieldErr(f("system"), "is required (e.g. shopify, sandbox-wms)"))
	case len(sys) > connector.MaxRefLen || !utf8.ValidString(sys):
		errs = append(errs, fieldErr(f("system"), "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen))
	}
	errs = append(errs, validURL(f("base_url"), s.GetBaseUrl()))
	if t := s.GetTimeout(); t != nil {
		if d := t.AsDuration(); t.CheckValid() != nil || d < MinTimeout || d > MaxTimeout {
			errs = append(errs, fieldErr(f("timeout"), "must be between %s and %s", MinTimeout, MaxTimeout))
		}
	}
	if si := s.GetSyncInterval(); si != nil {
		d := si.AsDuration()
		switch {
		case !cart:
			errs = append(errs, fieldErr(f("sync_interval"), "only cart connections run sync cycles"))
		case si.CheckValid() != nil || d < MinSyncInterval || d > MaxSyncInterval:
			errs = append(errs, fieldErr(f("sync_interval"), "must be between %s and %s", MinSyncInterval, MaxSyncInterval))
		}
	}
	if w := s.GetWmsConnectionId(); w != "" {
		switch {
		case !cart:
			errs = append(errs, fieldErr(f("wms_connection_id"), "only a cart connection names a WMS connection"))
		case !events.ValidToken(w):
			errs = append(errs, fieldErr(f("wms_connection_id"), "%q must be 1-128 characters of A-Z a-z 0-9 _ -", w))
		}
	}
	return errors.Join(errs...)
}

func validURL(field, raw string) error {
	if raw == "" {
		return fieldErr(field, "is required")
	}
	if len(raw) > 2048 {
		return fieldErr(field, "is %d bytes long; at most 2048", len(raw))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fieldErr(field, "%q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fieldErr(field, "%q must be an http or https URL", raw)
	case u.Host == "":
		return fieldErr(field, "%q has no host", raw)
	case u.User != nil:
		return fieldErr(field, "must not carry credentials: set them as the connection's credentials")
	}
	return nil
}

// Timeout returns the settings' timeout, or DefaultTimeout.
func Timeout(s *connectionsv1.ConnectionSettings) time.Duration {
	if t := s.GetTimeout(); t != nil && t.AsDuration() > 0 {
		return t.AsDuration()
	}
	return DefaultTimeout
}

// Apply folds one stored event.
func (c *Connection) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return c.apply(r.Message)
}

func (c *Connection) raise(msg proto.Message) {
	if err := c.apply(msg); err != nil {
		panic(fmt.Sprintf("connection: applying own event: %v", err)) // every raised type is handled
	}
	c.Raise(msg)
}

func (c *Connection) apply(msg proto.Message) error {
	switch e := msg.(type) {
	case *connectionsv1.ConnectionConfigured:
		c.settings, c.secret = e.GetSettings(), e.GetCredentials()
		c.version++
		if c.createdAt == nil {
			c.createdAt = e.GetConfiguredAt()
		}
		c.updatedAt = e.GetConfiguredAt()
	default:
		return fmt.Errorf("connection: %w", &events.UnknownTypeError{Type: events.TypeName(msg)})
	}
	return nil
}

func kindWord(k connectorv1.SystemKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "SYSTEM_KIND_"))
}

func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
