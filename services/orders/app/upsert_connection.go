package app

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/connection"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// MaxSecretLen bounds a token or password.
const MaxSecretLen = 4096

// UpsertConnection adds or reconfigures a connection.
type UpsertConnection struct {
	Settings *connectionsv1.ConnectionSettings
	// Credentials replace the connection's when not nil (an empty message removes them).
	Credentials *connectionsv1.Credentials
	// PassThrough, when not nil, turns passing unmapped ship method codes through on or off (cart
	// connections).
	PassThrough *bool
	// By is who configures: "api-key:<id>" or "file:<path>".
	By            string
	CorrelationID string
	// Authorize checks the caller against the connection as stored and as configured.
	Authorize Authorize
}

// Validate reports every problem with the command's arguments. Secrets are never part of an
// error message.
func (c UpsertConnection) Validate() error {
	errs := []error{connection.ValidateSettings("settings", c.Settings)}
	if cr := c.Credentials; cr != nil {
		if len(cr.GetToken()) > MaxSecretLen || len(cr.GetPassword()) > MaxSecretLen {
			errs = append(errs, fieldErr("credentials", "a token or password is at most %d bytes", MaxSecretLen))
		}
		if len(cr.GetUsername()) > connector.MaxRefLen {
			errs = append(errs, fieldErr("credentials.username", "is at most %d bytes", connector.MaxRefLen))
		}
		if cr.GetToken() != "" && (cr.GetUsername() != "" || cr.GetPassword() != "") {
			errs = append(errs, fieldErr("credentials", "set a token or a username and password, not both"))
		}
		if cr.GetPassword() != "" && cr.GetUsername() == "" {
			errs = append(errs, fieldErr("credentials.username", "is required with a password"))
		}
	}
	if c.PassThrough != nil && c.Settings.GetSystemKind() != connectorv1.SystemKind_SYSTEM_KIND_CART {
		errs = append(errs, fieldErr("ship_method_pass_through", "applies to cart connections only"))
	}
	return errors.Join(errs...)
}

// Upserted is a connection after an upsert.
type Upserted struct {
	Connection *connectionsv1.Connection
	Changed    bool
}

// UpsertConnectionHandler configures connections.
type UpsertConnectionHandler struct{ d Deps }

func credentialsKind(c *connectionsv1.Credentials) connectionsv1.CredentialsKind {
	switch {
	case c.GetToken() != "":
		return connectionsv1.CredentialsKind_CREDENTIALS_KIND_BEARER_TOKEN
	case c.GetUsername() != "":
		return connectionsv1.CredentialsKind_CREDENTIALS_KIND_BASIC
	}
	return connectionsv1.CredentialsKind_CREDENTIALS_KIND_UNSPECIFIED
}

// Handle stores new credentials in the secrets bucket (only when they changed), then the
// configuration with a reference to them (ConnectionConfigured; nothing when nothing changed),
// and the pass-through setting on the connection's ship method mappings.
func (h UpsertConnectionHandler) Handle(ctx context.Context, c UpsertConnection) (Upserted, error) {
	if err := c.Validate(); err != nil {
		return Upserted{}, err
	}
	s := c.Settings
	account, id := s.GetAccountId(), s.GetConnectionId()
	stream := connection.Stream(account, id)
	var (
		exists bool
		cur    *connectionsv1.SecretRef
		oldWh  string
	)
	if err := h.d.Configs.View(ctx, stream, func(cn *connection.Connection) {
		exists, cur, oldWh = cn.Exists(), cn.Secret(), cn.Settings().GetWarehouseId()
	}); err != nil {
		return Upserted{}, err
	}
	if c.Authorize == nil {
		return Upserted{}, errors.New("app: no authorization check")
	}
	if exists {
		if err := c.Authorize(account, oldWh, true); err != nil {
			return Upserted{}, err
		}
	}
	if err := c.Authorize(account, s.GetWarehouseId(), true); err != nil {
		return Upserted{}, err
	}
	ref, err := h.secret(ctx, account, id, c.Credentials, cur)
	if err != nil {
		return Upserted{}, err
	}
	now := h.d.Clock.Now()
	var out Upserted
	err = h.d.Configs.Update(ctx, stream, events.Metadata{CorrelationID: c.CorrelationID}, func(cn *connection.Connection) error {
		changed, err := cn.Configure(s, ref, c.By, now)
		if err != nil {
			return err
		}
		out = Upserted{Connection: cn.Snapshot(), Changed: changed}
		return nil
	})
	if err != nil {
		return Upserted{}, err
	}
	h.d.Connections.Configured(proto.CloneOf(out.Connection))
	if c.PassThrough != nil {
		err := h.d.Mappings.Update(ctx, shipmap.Stream(account, id), events.Metadata{CorrelationID: c.CorrelationID}, func(m *shipmap.Mappings) error {
			before := len(m.Changes())
			if err := m.SetPassThrough(*c.PassThrough, c.By, now); err != nil {
				return err
			}
			out.Changed = out.Changed || len(m.Changes()) > before
			return nil
		})
		if err != nil {
			return Upserted{}, fmt.Errorf("ship method pass-through of connection %s: %w", id, err)
		}
	}
	out.Connection = h.d.withAlertHealth(ctx, h.d.view(ctx, out.Connection))
	return out, nil
}

// secret stores changed credentials and returns the reference to configure; nil keeps the
// current one.
func (h UpsertConnectionHandler) secret(ctx context.Context, account, id string, cr *connectionsv1.Credentials, cur *connectionsv1.SecretRef) (*connectionsv1.SecretRef, error) {
	if cr == nil {
		return nil, nil
	}
	kind := credentialsKind(cr)
	key := account + "." + id
	if kind == connectionsv1.CredentialsKind_CREDENTIALS_KIND_UNSPECIFIED {
		if cur.GetKind() == connectionsv1.CredentialsKind_CREDENTIALS_KIND_UNSPECIFIED {
			return nil, nil
		}
		if err := h.d.Secrets.Delete(ctx, account, id); err != nil {
			return nil, fmt.Errorf("removing the credentials of connection %s: %w", id, err)
		}
		return &connectionsv1.SecretRef{Bucket: h.d.Secrets.Bucket(), Key: key}, nil
	}
	if cur.GetKind() == kind {
		stored, err := h.d.Secrets.Get(ctx, account, id)
		if err != nil {
			return nil, fmt.Errorf("reading the credentials of connection %s: %w", id, err)
		}
		if stored != nil && proto.Equal(stored, cr) {
			return nil, nil
		}
	}
	rev, err := h.d.Secrets.Put(ctx, account, id, cr)
	if err != nil {
		return nil, fmt.Errorf("storing the credentials of connection %s: %w", id, err)
	}
	return &connectionsv1.SecretRef{Bucket: h.d.Secrets.Bucket(), Key: key, Revision: rev, Kind: kind}, nil
}

// view completes a connection's state with its pass-through setting and health.
func (d Deps) view(ctx context.Context, c *connectionsv1.Connection) *connectionsv1.Connection {
	s := c.GetSettings()
	if s.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_CART {
		_ = d.Mappings.View(ctx, shipmap.Stream(s.GetAccountId(), s.GetConnectionId()), func(m *shipmap.Mappings) {
			c.ShipMethodPassThrough = m.PassThrough()
		})
	}
	c.Health = d.Health.Get(s.GetAccountId(), s.GetConnectionId())
	return c
}
