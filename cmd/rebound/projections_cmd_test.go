package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections"
)

// runOK runs a command that must succeed and returns its stdout and stderr.
func runOK(t *testing.T, vars map[string]string, args ...string) (string, string) {
	t.Helper()
	env, out, errOut := testEnv(vars)
	if code := run(context.Background(), env, args); code != 0 {
		t.Fatalf("rebound %v exited %d:\n%s%s", args, code, out, errOut)
	}
	return out.String(), errOut.String()
}

// alertIDsOf decodes `alerts list --json` and returns the listed alerts' ids.
func alertIDsOf(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		a := &alertsv1.Alert{}
		if err := protojson.Unmarshal([]byte(line), a); err != nil {
			t.Fatalf("line is not a rebound.alerts.v1.Alert: %v: %s", err, line)
		}
		ids = append(ids, a.GetAlertId())
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// TestProjections_rebuildStatusAndAlertsList stores real alert events on a server of its own,
// rebuilds the alerts read model with `projections rebuild`, checks `projections status`, and
// lists the alerts with every filter of `alerts list`.
func TestProjections_rebuildStatusAndAlertsList(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	url := srv.ClientURL()
	f := newAlertFixture(t, url)
	now := time.Now().UTC()
	// m1 (merchant of wh-1): a ship method the WMS does not know (manual action, needs
	// attention) and a WMS outage of another order that later went through.
	shipMethod := f.fail(orderRef("m1", "wh-1", "1001"), "a1", 422, "SHIP_METHOD_NOT_MAPPED", "Ship method 'UPS Ground Saver' is not mapped", now.Add(-3*time.Hour))
	unavailable := f.fail(orderRef("m1", "wh-1", "1002"), "b1", 503, "", "Service Unavailable", now.Add(-2*time.Hour))
	f.fail(orderRef("m1", "wh-1", "1002"), "b2", 503, "", "Service Unavailable", now.Add(-90*time.Minute))
	f.resolve(unavailable, now.Add(-time.Hour))
	// m2 (merchant of wh-2): the cart refuses the credentials for a stock level.
	auth := f.fail(inventoryRef("m2", "wh-2", "SKU-9"), "c1", 401, "", "Unauthorized", now.Add(-30*time.Minute))

	dataDir := t.TempDir()
	vars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir}
	last, err := f.store.LastPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Nothing reads a data dir without read models.
	env, _, errOut := testEnv(vars)
	if code := run(context.Background(), env, []string{"alerts", "list"}); code != 1 || !strings.Contains(errOut.String(), "no read models at "+dataDir) {
		t.Fatalf("alerts list on an empty data dir: exit %d, %q", code, errOut)
	}

	out, progress := runOK(t, vars, "projections", "rebuild", "alerts")
	if !strings.Contains(progress, "rebuild alerts: done: ") || !strings.Contains(progress, fmt.Sprintf("swapped in at position %d", last)) || out != "rebuilt alerts\n" {
		t.Fatalf("rebuild printed\n%s\nto stderr and %q to stdout", progress, out)
	}

	t.Run("status", func(t *testing.T) {
		// The process's metrics, when they answer, add its error counts and lag.
		metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/metrics" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, "# HELP rebound_projection_errors_total x\n# TYPE rebound_projection_errors_total counter\n"+
				"rebound_projection_errors_total{projection=\"alerts\"} 3\nrebound_projection_lag_events{projection=\"alerts\"} 0\n"+
				"rebound_projection_rebuilding{projection=\"alerts\"} 0\nrebound_projection_errors_total{projection=\"orders\"} 0\n")
		}))
		defer metrics.Close()
		svars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir, "REBOUND_HTTP_ADDR": strings.TrimPrefix(metrics.URL, "http://")}
		out, _ := runOK(t, svars, "projections", "status", "--json")
		byName := map[string]projectionStatusJSON{}
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var s projectionStatusJSON
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("status line %q: %v", line, err)
			}
			byName[s.Name] = s
		}
		if len(byName) != 4 {
			t.Fatalf("status lists %d read models, want 4:\n%s", len(byName), out)
		}
		a := byName["alerts"]
		if a.Checkpoint != last || a.LastPosition != last || a.Lag != 0 || a.Generation != 1 || a.UpdatedAt == nil || a.Rebuilding || a.LastError != "" {
			t.Fatalf("alerts after the rebuild: %+v; want checkpoint %d, no lag, generation 1", a, last)
		}
		if a.Service == nil || a.Service.Errors != 3 {
			t.Fatalf("alerts' service figures: %+v, want 3 errors from /metrics", a.Service)
		}
		// connection health reads alert events too and was never built: it lags.
		if h := byName["connection_health"]; h.Checkpoint != 0 || h.Lag != last {
			t.Fatalf("connection_health: %+v; want checkpoint 0 and lag %d", h, last)
		}

		text, _ := runOK(t, map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir, "REBOUND_HTTP_ADDR": "127.0.0.1:1"}, "projections", "status")
		for _, want := range []string{"READ MODEL", "CHECKPOINT", "LAG", "LAST ERROR",
			fmt.Sprintf("event store EVENTS at position %d", last), "service errors unknown: no answer from http://127.0.0.1:1/metrics"} {
			if !strings.Contains(text, want) {
				t.Errorf("status text lacks %q:\n%s", want, text)
			}
		}
		found := false
		for line := range strings.SplitSeq(text, "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[0] == "alerts" {
				found = f[1] == fmt.Sprint(last) && f[2] == "0" && f[3] == "1"
			}
		}
		if !found {
			t.Errorf("status text has no row: alerts, checkpoint %d, lag 0, generation 1:\n%s", last, text)
		}
	})

	t.Run("list filters", func(t *testing.T) {
		all := sorted(shipMethod.ID, unavailable.ID, auth.ID)
		cases := []struct {
			args []string
			want []string
		}{
			{nil, all},
			{[]string{"--account", "m1"}, sorted(shipMethod.ID, unavailable.ID)},
			{[]string{"--warehouse", "wh-2"}, sorted(auth.ID)},
			{[]string{"--status", "open"}, sorted(shipMethod.ID, auth.ID)},
			{[]string{"--status", "resolved,dismissed"}, sorted(unavailable.ID)},
			{[]string{"--status", "OPEN", "--status", "ALERT_STATUS_RESOLVED"}, all},
			{[]string{"--type", "ship_method_unmapped"}, sorted(shipMethod.ID)},
			{[]string{"--class", "manual-action", "--class", "auth"}, sorted(shipMethod.ID, auth.ID)},
			{[]string{"--connection", "cart-1"}, sorted(auth.ID)},
			{[]string{"--record-kind", "order"}, sorted(shipMethod.ID, unavailable.ID)},
			{[]string{"--order-number", "#1002"}, sorted(unavailable.ID)},
			{[]string{"--sku", "SKU-9"}, sorted(auth.ID)},
			{[]string{"--needs-attention", "true"}, sorted(shipMethod.ID, auth.ID)},
			{[]string{"--needs-attention", "false"}, sorted(unavailable.ID)},
			{[]string{"--since", "1h"}, sorted(auth.ID)},
			{[]string{"--since", now.Add(-100 * time.Minute).Format(time.RFC3339), "--until", now.Add(-time.Hour).Format(time.RFC3339)}, sorted(unavailable.ID)},
			{[]string{"--sort", "first-seen", "--until", now.Add(-150 * time.Minute).Format(time.RFC3339)}, sorted(shipMethod.ID)},
			{[]string{"--account", "m1", "--status", "open", "--type", "wms_unavailable"}, nil},
		}
		for _, tc := range cases {
			out, _ := runOK(t, vars, append([]string{"alerts", "list", "--json"}, tc.args...)...)
			if got := alertIDsOf(t, out); !slices.Equal(got, tc.want) {
				t.Errorf("alerts list %v = %v, want %v", tc.args, got, tc.want)
			}
		}
	})

	t.Run("list text and pages", func(t *testing.T) {
		text, _ := runOK(t, vars, "alerts", "list")
		lines := strings.Split(strings.TrimSpace(text), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "LAST SEEN") || lines[4] != "3 shown of 3 matching alerts (open 2, resolved 1)" {
			t.Fatalf("alerts list printed:\n%s", text)
		}
		// Newest first: the auth failure, the resolved outage, the ship method.
		for i, want := range []string{"auth_failed", "wms_unavailable", "ship_method_unmapped"} {
			if !strings.Contains(lines[i+1], want) {
				t.Errorf("row %d is not the %s alert: %s", i+1, want, lines[i+1])
			}
		}
		// Columns line up.
		if col := strings.Index(lines[0], "ALERT ID"); strings.Index(lines[1], auth.ID) != col || strings.Index(lines[3], shipMethod.ID) != col {
			t.Errorf("the ALERT ID column is not aligned:\n%s", text)
		}
		for _, want := range []string{"order #1001", "inventory SKU-9", "manual_action", "Ship method 'UPS Ground Saver' is not mapped", "resolved"} {
			if !strings.Contains(text, want) {
				t.Errorf("alerts list lacks %q:\n%s", want, text)
			}
		}

		var seen []string
		args := []string{"alerts", "list", "--limit", "1", "--asc"}
		for page := 0; ; page++ {
			if page > 3 {
				t.Fatalf("more pages than alerts: %v", seen)
			}
			text, _ := runOK(t, vars, args...)
			lines := strings.Split(strings.TrimSpace(text), "\n")
			for _, f := range strings.Fields(lines[1]) {
				if strings.HasPrefix(f, "alt_") {
					seen = append(seen, f)
				}
			}
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "next page: --cursor ") {
				break
			}
			args = []string{"alerts", "list", "--limit", "1", "--asc", "--cursor", strings.TrimPrefix(last, "next page: --cursor ")}
		}
		if want := []string{shipMethod.ID, unavailable.ID, auth.ID}; !slices.Equal(seen, want) {
			t.Fatalf("pages of one, oldest first, gave %v, want %v", seen, want)
		}

		out, errOut := runOK(t, vars, "alerts", "list", "--json", "--limit", "2")
		if len(alertIDsOf(t, out)) != 2 || !strings.Contains(errOut, "more alerts: --cursor ") {
			t.Fatalf("--json --limit 2: %s / %s", out, errOut)
		}
		out, _ = runOK(t, vars, "alerts", "list", "--json", "--all")
		if got := alertIDsOf(t, out); !slices.Equal(got, sorted(shipMethod.ID, unavailable.ID, auth.ID)) {
			t.Fatalf("--all listed %v", got)
		}
	})

	t.Run("a rebuild elsewhere", func(t *testing.T) {
		// Another process's rebuild holds the lease: status shows it, a second rebuild waits.
		sqlDB, err := sql.Open("sqlite", filepath.Join(dataDir, projections.SQLiteFile))
		if err != nil {
			t.Fatal(err)
		}
		defer sqlDB.Close()
		until := time.Now().Add(time.Minute)
		if _, err := sqlDB.Exec(`UPDATE projection_state SET rebuild_owner = 'elsewhere', rebuild_lease = ? WHERE name = 'alerts'`, until.UnixNano()); err != nil {
			t.Fatal(err)
		}
		out, _ := runOK(t, vars, "projections", "status", "--json")
		var a projectionStatusJSON
		if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &a); err != nil {
			t.Fatal(err)
		}
		if a.Name != "alerts" || !a.Rebuilding || a.RebuildLease == nil || !a.RebuildLease.Equal(until.UTC().Truncate(0)) {
			t.Fatalf("status during another rebuild: %+v", a)
		}
		env, _, errOut := testEnv(vars)
		if code := run(context.Background(), env, []string{"projections", "rebuild", "alerts"}); code != 1 || !strings.Contains(errOut.String(), "alerts is being rebuilt by another process already") {
			t.Fatalf("a second rebuild: exit %d, %q", code, errOut)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cases := map[string]struct {
			args []string
			code int
			want string
		}{
			"status":          {[]string{"alerts", "list", "--status", "gone"}, 2, `--status "gone" is not one of open, resolved, dismissed`},
			"class":           {[]string{"alerts", "list", "--class", "weird"}, 2, `--class "weird" is not one of transient, rate_limited, auth, manual_action, rejected`},
			"record kind":     {[]string{"alerts", "list", "--record-kind", "invoice"}, 2, "--record-kind"},
			"needs attention": {[]string{"alerts", "list", "--needs-attention", "maybe"}, 2, "--needs-attention"},
			"sort":            {[]string{"alerts", "list", "--sort", "oldest"}, 2, `--sort "oldest"`},
			"limit":           {[]string{"alerts", "list", "--limit", "0"}, 2, "--limit 0 must be 1 to 500"},
			"since":           {[]string{"alerts", "list", "--since", "last week"}, 2, `--since "last week"`},
			"until":           {[]string{"alerts", "list", "--since", "1h", "--until", "2h"}, 2, "--until"},
			"cursor":          {[]string{"alerts", "list", "--cursor", "garbage"}, 2, "--cursor is not a cursor this service returned"},
			"all and cursor":  {[]string{"alerts", "list", "--all", "--cursor", "x"}, 2, "--all and --cursor"},
			"account":         {[]string{"alerts", "list", "--account", "a b"}, 2, "--account"},
			"argument":        {[]string{"alerts", "list", "open"}, 2, "takes no arguments"},
			"two problems":    {[]string{"alerts", "list", "--status", "x", "--limit", "-1"}, 2, `--status "x" is not one of open, resolved, dismissed; --limit -1`},
			"rebuild what":    {[]string{"projections", "rebuild"}, 2, "name one read model (alerts, retry_queue, orders, connection_health)"},
			"rebuild unknown": {[]string{"projections", "rebuild", "invoices"}, 2, `unknown read model "invoices"`},
			"projections":     {[]string{"projections", "purge"}, 2, `unknown subcommand "purge" (want one of rebuild, status)`},
			"status argument": {[]string{"projections", "status", "alerts"}, 2, "takes no arguments"},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				env, _, errOut := testEnv(vars)
				code := run(context.Background(), env, tc.args)
				if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
					t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.want)
				}
			})
		}
	})
}

func TestProjectionsStatus_errorsAreClear(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	// A data dir with a database and no read models yet, and one with read models.
	empty, dataDir := t.TempDir(), t.TempDir()
	for _, dir := range []string{empty, dataDir} {
		db, err := (&readModelFlags{dataDir: dir}).open(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		if dir == dataDir {
			r, err := projections.NewRunner(db, memstore.New(allTypes()), projections.Config{}, allProjections()...)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		_ = db.Close()
	}
	cases := map[string]struct {
		vars map[string]string
		want string
	}{
		"no read models": {map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": t.TempDir()}, "no read models at "},
		"never built":    {map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": empty}, "(has Rebound run its projections there?)"},
		"no server":      {map[string]string{"REBOUND_NATS_URL": "nats://127.0.0.1:1", "REBOUND_DATA_DIR": dataDir}, "is `rebound dev` running"},
		"bad postgres":   {map[string]string{"REBOUND_NATS_URL": url, "REBOUND_POSTGRES_URL": "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}, "REBOUND_POSTGRES_URL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, _, errOut := testEnv(tc.vars)
			if code := run(context.Background(), env, []string{"projections", "status"}); code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 mentioning %q", code, errOut, tc.want)
			}
		})
	}
}
