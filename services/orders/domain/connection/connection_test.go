package connection_test

import (
	"errors"
	"flag"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/connection"
	"github.com/reboundhq/rebound/services/orders/domain/internal/golden"
)

var record = flag.Bool("record", false, "record new golden histories (never rewrites one)")

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func cart() *connectionsv1.ConnectionSettings {
	return &connectionsv1.ConnectionSettings{
		ConnectionId: "cart-1", AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		WarehouseId: "wh1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify",
		BaseUrl: "https://shop.example.com/api", SyncInterval: durationpb.New(5 * time.Minute), WmsConnectionId: "wms-1",
	}
}

// moved is cart() at another base URL.
func moved() *connectionsv1.ConnectionSettings {
	s := cart()
	s.BaseUrl = "https://shop.example.com/v2"
	return s
}

func secret(rev uint64) *connectionsv1.SecretRef {
	return &connectionsv1.SecretRef{Bucket: "CONNECTION_SECRETS", Key: "m1.cart-1", Revision: rev, Kind: connectionsv1.CredentialsKind_CREDENTIALS_KIND_BEARER_TOKEN}
}

func scenario(t *testing.T) *connection.Connection {
	t.Helper()
	c := connection.New(connection.Stream("m1", "cart-1"))
	steps := []struct {
		s       *connectionsv1.ConnectionSettings
		ref     *connectionsv1.SecretRef
		changed bool
	}{
		{cart(), secret(1), true},
		{cart(), nil, false}, // the same again
		{moved(), nil, true},
		{moved(), secret(4), true},
	}
	for i, st := range steps {
		changed, err := c.Configure(st.s, st.ref, "api-key:k1", t0.Add(time.Duration(i)*time.Hour))
		if err != nil || changed != st.changed {
			t.Fatalf("step %d: changed %v, %v; want %v", i, changed, err, st.changed)
		}
	}
	return c
}

func TestConnection_configure(t *testing.T) {
	t.Parallel()
	c := scenario(t)
	evs := c.Changes()
	if len(evs) != 3 {
		t.Fatalf("raised %d events, want 3", len(evs))
	}
	if got := evs[1].(*connectionsv1.ConnectionConfigured).GetChangedFields(); len(got) != 1 || got[0] != "base_url" {
		t.Fatalf("changed fields %v", got)
	}
	if got := evs[2].(*connectionsv1.ConnectionConfigured).GetChangedFields(); len(got) != 1 || got[0] != "credentials" {
		t.Fatalf("changed fields %v", got)
	}
	snap := c.Snapshot()
	if snap.GetVersion() != 3 || snap.GetCredentials().GetRevision() != 4 || !snap.GetCreatedAt().AsTime().Equal(t0) {
		t.Fatalf("snapshot %v", snap)
	}
}

func TestConnection_refusesBadSettings(t *testing.T) {
	t.Parallel()
	bad := func(mod func(*connectionsv1.ConnectionSettings)) *connectionsv1.ConnectionSettings {
		s := cart()
		mod(s)
		return s
	}
	for field, s := range map[string]*connectionsv1.ConnectionSettings{
		"settings.base_url":          bad(func(s *connectionsv1.ConnectionSettings) { s.BaseUrl = "ftp://x" }),
		"settings.system":            bad(func(s *connectionsv1.ConnectionSettings) { s.System = "" }),
		"settings.system_kind":       bad(func(s *connectionsv1.ConnectionSettings) { s.SystemKind = 0 }),
		"settings.account_kind":      bad(func(s *connectionsv1.ConnectionSettings) { s.AccountKind = 0 }),
		"settings.timeout":           bad(func(s *connectionsv1.ConnectionSettings) { s.Timeout = durationpb.New(time.Hour) }),
		"settings.sync_interval":     bad(func(s *connectionsv1.ConnectionSettings) { s.SyncInterval = durationpb.New(time.Millisecond) }),
		"settings.wms_connection_id": bad(func(s *connectionsv1.ConnectionSettings) { s.WmsConnectionId = "a b" }),
		"settings.connection_id":     bad(func(s *connectionsv1.ConnectionSettings) { s.ConnectionId = "cart-2" }),
	} {
		c := connection.New(connection.Stream("m1", "cart-1"))
		_, err := c.Configure(s, nil, "", t0)
		var fe *connector.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, events.ErrInvalidArgument) {
			t.Errorf("%s: err %v, want a FieldError", field, err)
			continue
		}
		found := false
		for _, e := range unwrapAll(err) {
			if errors.As(e, &fe) && fe.Field == field {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %v does not name the field", field, err)
		}
		if len(c.Changes()) != 0 {
			t.Errorf("%s: a refused configuration raised events", field)
		}
	}
	c := scenario(t)
	wms := cart()
	wms.SystemKind, wms.SyncInterval, wms.WmsConnectionId = connectorv1.SystemKind_SYSTEM_KIND_WMS, nil, ""
	if _, err := c.Configure(wms, nil, "", t0); err == nil {
		t.Fatal("a cart connection became a WMS connection")
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestConnection_golden(t *testing.T) {
	t.Parallel()
	const name = "created_moved_new_credentials"
	if *record {
		c := scenario(t)
		golden.Write(t, name, c.Changes(), c.Snapshot())
	}
	msgs := golden.Read(t, golden.HistoryPath(name), events.NewRegistry(connection.EventTypes()...))
	c := connection.New(connection.Stream("m1", "cart-1"))
	for i, rec := range golden.Records(msgs) {
		if err := c.Apply(rec); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	golden.EqualState(t, golden.StatePath(name), c.Snapshot())
	got := scenario(t).Changes()
	if len(got) != len(msgs) {
		t.Fatalf("the scenario raises %d events, the history holds %d", len(got), len(msgs))
	}
	for i := range got {
		if !proto.Equal(got[i], msgs[i]) {
			t.Fatalf("event %d differs from the history", i+1)
		}
	}
}
