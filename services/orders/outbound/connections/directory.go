// Package connections is how the orders service knows its connections: Directory follows the
// connection configurations in the event store (evt.connection_config.>) and builds the HTTP
// connectors of each (outbound/wms, outbound/cart) with its base URL, timeout and credentials,
// which Secrets keeps in a key-value bucket outside the event store.
package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"google.golang.org/protobuf/proto"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/connection"
	"github.com/reboundhq/rebound/services/orders/outbound/cart"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// Directory knows every configured connection and builds their connectors. Run keeps it up to
// date with the event store; a connection it does not know yet is loaded from its stream on first
// use. Safe for concurrent use.
type Directory struct {
	store   events.Store
	secrets *Secrets
	hc      *http.Client
	log     *slog.Logger

	mu      sync.RWMutex
	entries map[connKey]*entry
	ready   chan struct{}
}

type connKey struct{ account, id string }

// entry is a connection as configured and the connectors built for that configuration.
type entry struct {
	snap *connectionsv1.Connection

	mu   sync.Mutex
	wms  *wms.Client
	cart *cart.Client
}

// NewDirectory returns a directory over the event store and the secrets; hc is the HTTP client of
// the connectors (nil: a shared pooled transport). It does no I/O.
func NewDirectory(store events.Store, secrets *Secrets, hc *http.Client, log *slog.Logger) (*Directory, error) {
	if store == nil || secrets == nil {
		return nil, errors.New("connections: NewDirectory needs a store and the secrets")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Directory{store: store, secrets: secrets, hc: hc, log: log, entries: make(map[connKey]*entry), ready: make(chan struct{})}, nil
}

// Connection returns a connection's configuration; events.ErrNotFound when it has none.
func (d *Directory) Connection(ctx context.Context, account, id string) (*connectionsv1.Connection, error) {
	e, err := d.entry(ctx, account, id)
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(e.snap), nil
}

// entry returns the known entry, loading the connection's stream when it is not known.
func (d *Directory) entry(ctx context.Context, account, id string) (*entry, error) {
	if !events.ValidToken(account) || !events.ValidToken(id) {
		return nil, fmt.Errorf("connection %q of account %q: %w", id, account, events.ErrNotFound)
	}
	k := connKey{account, id}
	d.mu.RLock()
	e, ok := d.entries[k]
	d.mu.RUnlock()
	if ok {
		return e, nil
	}
	loaded, err := d.store.Load(ctx, connection.Stream(account, id), 0)
	if err != nil {
		if errors.Is(err, events.ErrNotFound) {
			return nil, fmt.Errorf("connection %s of account %s: %w", id, account, events.ErrNotFound)
		}
		return nil, err
	}
	c := connection.New(connection.Stream(account, id))
	for _, rec := range loaded.Events {
		if err := c.Apply(rec); err != nil {
			return nil, fmt.Errorf("connections: %w", err)
		}
	}
	return d.put(c.Snapshot()), nil
}

// put stores a configuration unless a later one is known, and returns the current entry.
func (d *Directory) put(snap *connectionsv1.Connection) *entry {
	s := snap.GetSettings()
	k := connKey{s.GetAccountId(), s.GetConnectionId()}
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur, ok := d.entries[k]; ok && cur.snap.GetVersion() >= snap.GetVersion() {
		return cur
	}
	e := &entry{snap: snap}
	d.entries[k] = e
	return e
}

// List returns every configured connection, once the directory caught up with the store (it
// waits for that, up to ctx).
func (d *Directory) List(ctx context.Context) ([]*connectionsv1.Connection, error) {
	select {
	case <-d.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("connections: waiting for the directory to load: %w", ctx.Err())
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*connectionsv1.Connection, 0, len(d.entries))
	for _, e := range d.entries {
		out = append(out, proto.CloneOf(e.snap))
	}
	return out, nil
}

// Ready is closed once the directory has read every configuration stored when Run started.
func (d *Directory) Ready() <-chan struct{} { return d.ready }

// Configured records a configuration this process stored, so it applies at once.
func (d *Directory) Configured(c *connectionsv1.Connection) { d.put(proto.CloneOf(c)) }

// apply folds a followed ConnectionConfigured into the directory.
func (d *Directory) apply(rec events.Record) {
	e, ok := rec.Message.(*connectionsv1.ConnectionConfigured)
	if !ok {
		return
	}
	stream := rec.Stream()
	k := connKey{stream.Account, stream.ID}
	d.mu.RLock()
	cur, known := d.entries[k]
	d.mu.RUnlock()
	var created = e.GetConfiguredAt()
	switch {
	case known && rec.Version <= cur.snap.GetVersion():
		return
	case known && rec.Version == cur.snap.GetVersion()+1:
		created = cur.snap.GetCreatedAt()
	case rec.Version != 1:
		// Not known from its first configuration: forget it, the next use loads its stream.
		d.mu.Lock()
		delete(d.entries, k)
		d.mu.Unlock()
		return
	}
	d.put(&connectionsv1.Connection{
		Settings:    e.GetSettings(),
		Credentials: &connectionsv1.CredentialsInfo{Kind: e.GetCredentials().GetKind(), Revision: e.GetCredentials().GetRevision()},
		Version:     rec.Version, CreatedAt: created, UpdatedAt: e.GetConfiguredAt(),
	})
}

// Run reads every stored configuration (then Ready is closed), then follows new ones until ctx
// ends; it returns nil then.
func (d *Directory) Run(ctx context.Context) error {
	filter := []string{events.SubjectPrefix + "." + connection.AggregateType + ".>"}
	last, err := d.store.LastPosition(ctx)
	if err != nil {
		return ctxErr(ctx, fmt.Errorf("connections: %w", err))
	}
	var pos uint64
	err = d.store.Read(ctx, events.ReadOptions{Filters: filter}, func(_ context.Context, rec events.Record) error {
		d.apply(rec)
		pos = rec.Position
		return nil
	})
	if err != nil {
		return ctxErr(ctx, fmt.Errorf("connections: loading: %w", err))
	}
	close(d.ready)
	d.log.Debug("connection directory loaded", slog.Int("connections", d.count()))
	from := max(pos, last) + 1
	err = d.store.Read(ctx, events.ReadOptions{From: from, Filters: filter, Follow: true}, func(_ context.Context, rec events.Record) error {
		d.apply(rec)
		return nil
	})
	return ctxErr(ctx, err)
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (d *Directory) count() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}

// remoteConfig returns the HTTP configuration of a connection, with its credentials.
func (d *Directory) remoteConfig(ctx context.Context, snap *connectionsv1.Connection) (remote.Config, error) {
	s := snap.GetSettings()
	cfg := remote.Config{BaseURL: s.GetBaseUrl(), Timeout: connection.Timeout(s)}
	if snap.GetCredentials().GetKind() == connectionsv1.CredentialsKind_CREDENTIALS_KIND_UNSPECIFIED {
		return cfg, nil
	}
	cr, err := d.secrets.Get(ctx, s.GetAccountId(), s.GetConnectionId())
	if err != nil {
		return remote.Config{}, err
	}
	cfg.Token, cfg.Username, cfg.Password = cr.GetToken(), cr.GetUsername(), cr.GetPassword()
	return cfg, nil
}

// WMS returns the connector of a WMS connection, built once per configuration.
func (d *Directory) WMS(ctx context.Context, account, id string) (wms.Connector, error) {
	e, err := d.entry(ctx, account, id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wms == nil {
		cfg, err := d.remoteConfig(ctx, e.snap)
		if err != nil {
			return nil, err
		}
		if e.wms, err = wms.New(cfg, d.hc); err != nil {
			return nil, err
		}
	}
	return e.wms, nil
}

// Cart returns the connector of a cart connection, built once per configuration.
func (d *Directory) Cart(ctx context.Context, account, id string) (cart.Connector, error) {
	e, err := d.entry(ctx, account, id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cart == nil {
		cfg, err := d.remoteConfig(ctx, e.snap)
		if err != nil {
			return nil, err
		}
		if e.cart, err = cart.New(cfg, d.hc); err != nil {
			return nil, err
		}
	}
	return e.cart, nil
}
