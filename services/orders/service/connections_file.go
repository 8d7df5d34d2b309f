package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/services/orders/app"
)

// ConnectionsFile is a connections file, decoded: YAML (or JSON, which is YAML) with unknown keys
// refused.
//
//	connections:
//	  - account_id: acme
//	    account_kind: merchant          # merchant | warehouse
//	    warehouse_id: wh-1              # optional
//	    connection_id: shop-1
//	    system_kind: cart               # cart | wms
//	    system: shopify
//	    base_url: https://shop.example.com/api
//	    timeout: 10s                    # optional
//	    sync_interval: 5m               # cart connections: run sync cycles
//	    wms_connection_id: wms-1        # cart connections: where orders go, shipments come from
//	    ship_method_pass_through: false # optional, cart connections
//	    credentials:                    # optional; omitted keeps what is stored, {} removes
//	      token_env: SHOP_1_TOKEN       # or token, or username + password / password_env
//
// Secrets are best given as *_env (the name of an environment variable holding them), so the
// file holds none. They are stored in the secrets bucket, never in an event, never logged.
type ConnectionsFile struct {
	Connections []FileConnection `yaml:"connections"`
}

// FileConnection is one connection of a connections file.
type FileConnection struct {
	AccountID             string           `yaml:"account_id"`
	AccountKind           string           `yaml:"account_kind"`
	WarehouseID           string           `yaml:"warehouse_id"`
	ConnectionID          string           `yaml:"connection_id"`
	SystemKind            string           `yaml:"system_kind"`
	System                string           `yaml:"system"`
	BaseURL               string           `yaml:"base_url"`
	Timeout               string           `yaml:"timeout"`
	SyncInterval          string           `yaml:"sync_interval"`
	WMSConnectionID       string           `yaml:"wms_connection_id"`
	ShipMethodPassThrough *bool            `yaml:"ship_method_pass_through"`
	Credentials           *FileCredentials `yaml:"credentials"`
}

// FileCredentials are a connection's credentials in a connections file.
type FileCredentials struct {
	Token       string `yaml:"token"`
	TokenEnv    string `yaml:"token_env"`
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
}

// ParseConnectionsFile decodes a connections file's content.
func ParseConnectionsFile(data []byte) (ConnectionsFile, error) {
	var f ConnectionsFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return ConnectionsFile{}, err
	}
	return f, nil
}

// Upserts returns the file's connections as UpsertConnection commands (by "file:<path>"),
// reading the *_env variables with getenv.
func (f ConnectionsFile) Upserts(path string, getenv func(string) string) ([]app.UpsertConnection, error) {
	var out []app.UpsertConnection
	var errs []error
	for i, c := range f.Connections {
		cmd, err := c.upsert(getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("connections[%d]: %w", i, err))
			continue
		}
		cmd.By = "file:" + path
		cmd.Authorize = func(string, string, bool) error { return nil }
		out = append(out, cmd)
	}
	return out, errors.Join(errs...)
}

func (c FileConnection) upsert(getenv func(string) string) (app.UpsertConnection, error) {
	var errs []error
	s := &connectionsv1.ConnectionSettings{
		ConnectionId: c.ConnectionID, AccountId: c.AccountID, WarehouseId: c.WarehouseID, System: c.System,
		BaseUrl: c.BaseURL, WmsConnectionId: c.WMSConnectionID,
	}
	switch strings.ToLower(c.AccountKind) {
	case "merchant":
		s.AccountKind = connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT
	case "warehouse":
		s.AccountKind = connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE
	default:
		errs = append(errs, fmt.Errorf("account_kind %q must be merchant or warehouse", c.AccountKind))
	}
	switch strings.ToLower(c.SystemKind) {
	case "cart":
		s.SystemKind = connectorv1.SystemKind_SYSTEM_KIND_CART
	case "wms":
		s.SystemKind = connectorv1.SystemKind_SYSTEM_KIND_WMS
	default:
		errs = append(errs, fmt.Errorf("system_kind %q must be cart or wms", c.SystemKind))
	}
	for name, v := range map[string]struct {
		raw string
		dst **durationpb.Duration
	}{"timeout": {c.Timeout, &s.Timeout}, "sync_interval": {c.SyncInterval, &s.SyncInterval}} {
		if v.raw == "" {
			continue
		}
		d, err := time.ParseDuration(v.raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a duration such as 30s or 5m", name, v.raw))
			continue
		}
		*v.dst = durationpb.New(d)
	}
	cmd := app.UpsertConnection{Settings: s, PassThrough: c.ShipMethodPassThrough}
	if cr := c.Credentials; cr != nil {
		cmd.Credentials = &connectionsv1.Credentials{Token: cr.Token, Username: cr.Username, Password: cr.Password}
		if cr.TokenEnv != "" {
			if cmd.Credentials.Token = getenv(cr.TokenEnv); cmd.Credentials.Token == "" {
				errs = append(errs, fmt.Errorf("credentials.token_env: the environment variable %s is empty", cr.TokenEnv))
			}
		}
		if cr.PasswordEnv != "" {
			if cmd.Credentials.Password = getenv(cr.PasswordEnv); cmd.Credentials.Password == "" {
				errs = append(errs, fmt.Errorf("credentials.password_env: the environment variable %s is empty", cr.PasswordEnv))
			}
		}
	}
	return cmd, errors.Join(errs...)
}

// LoadConnectionsFile reads a connections file and configures its connections through the same
// command as ConnectionService (so the same validation applies, and an unchanged connection
// stores nothing). It returns how many connections changed.
func (s *Service) LoadConnectionsFile(ctx context.Context, path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("orders: connections file: %w", err)
	}
	f, err := ParseConnectionsFile(data)
	if err != nil {
		return 0, fmt.Errorf("orders: connections file %s: %w", path, err)
	}
	cmds, err := f.Upserts(path, os.Getenv)
	if err != nil {
		return 0, fmt.Errorf("orders: connections file %s: %w", path, err)
	}
	changed := 0
	for i, cmd := range cmds {
		out, err := s.app.Commands.UpsertConnection.Handle(ctx, cmd)
		if err != nil {
			return changed, fmt.Errorf("orders: connections file %s: connections[%d] (%s/%s): %w", path, i,
				cmd.Settings.GetAccountId(), cmd.Settings.GetConnectionId(), err)
		}
		if out.Changed {
			changed++
		}
	}
	return changed, nil
}
