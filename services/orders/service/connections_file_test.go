package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/services/orders/service"
)

func TestParseConnectionsFile_readsEverySettingAndRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	f, err := service.ParseConnectionsFile([]byte(`
connections:
  - account_id: acme
    account_kind: merchant
    connection_id: shop-1
    system_kind: cart
    system: shopify
    base_url: https://shop.example.com/api
    timeout: 3s
    sync_interval: 5m
    wms_connection_id: wms-1
    ship_method_pass_through: true
    credentials: {token_env: SHOP_TOKEN}
  - {account_id: acme, account_kind: merchant, connection_id: wms-1, system_kind: wms, system: sandbox-wms,
     base_url: "http://127.0.0.1:8091/wms/wms-1", credentials: {username: u, password_env: WMS_PASSWORD}}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SHOP_TOKEN": "t0k", "WMS_PASSWORD": "pw"}
	cmds, err := f.Upserts("conns.yaml", func(k string) string { return env[k] })
	if err != nil || len(cmds) != 2 {
		t.Fatalf("%d commands, %v", len(cmds), err)
	}
	s := cmds[0].Settings
	if s.GetSystemKind() != connectorv1.SystemKind_SYSTEM_KIND_CART || s.GetTimeout().AsDuration() != 3*time.Second ||
		s.GetSyncInterval().AsDuration() != 5*time.Minute || cmds[0].Credentials.GetToken() != "t0k" || !*cmds[0].PassThrough ||
		cmds[0].By != "file:conns.yaml" {
		t.Fatalf("first connection %+v", cmds[0])
	}
	if c := cmds[1].Credentials; c.GetUsername() != "u" || c.GetPassword() != "pw" {
		t.Fatalf("second connection's credentials %v", c)
	}
	if _, err := service.ParseConnectionsFile([]byte("connections:\n  - {account_id: a, colour: red}\n")); err == nil {
		t.Fatal("an unknown key was accepted")
	}
	bad, _ := service.ParseConnectionsFile([]byte("connections:\n  - {account_id: a, account_kind: shop, system_kind: cart, timeout: soon, credentials: {token_env: NOPE}}\n"))
	_, err = bad.Upserts("x", func(string) string { return "" })
	for _, want := range []string{"account_kind", "timeout", "NOPE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad file: %v does not mention %s", err, want)
		}
	}
}

// A connections file configures its connections at start, through the same command as the API;
// loading it again changes nothing.
func TestService_loadsTheConnectionsFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{noRetrySvcs: true})
	path := filepath.Join(t.TempDir(), "connections.yaml")
	data := "connections:\n  - {account_id: " + w.account + ", account_kind: merchant, connection_id: wms-file, system_kind: wms, system: other-wms, base_url: 'http://127.0.0.1:1/x', credentials: {token: abc}}\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := w.orders.LoadConnectionsFile(t.Context(), path)
	if err != nil || n != 1 {
		t.Fatalf("first load: %d, %v", n, err)
	}
	if n, err = w.orders.LoadConnectionsFile(t.Context(), path); err != nil || n != 0 {
		t.Fatalf("second load: %d, %v", n, err)
	}
	c, err := w.conns.GetConnection(w.as("merchant"), &connectionsv1.GetConnectionRequest{AccountId: w.account, ConnectionId: "wms-file"})
	if err != nil || c.GetConnection().GetSettings().GetSystem() != "other-wms" ||
		c.GetConnection().GetCredentials().GetKind() != connectionsv1.CredentialsKind_CREDENTIALS_KIND_BEARER_TOKEN {
		t.Fatalf("GetConnection: %v, %v", c, err)
	}
}
