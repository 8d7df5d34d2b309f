package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events/natstest"
)

// showJSON runs `alerts show --json` and decodes its answer.
func showJSON(t *testing.T, url string, args ...string) (alertShowJSON, *alertsv1.Alert) {
	t.Helper()
	env, out, errOut := testEnv(map[string]string{"REBOUND_NATS_URL": url})
	if code := run(context.Background(), env, append([]string{"alerts", "show", "--json"}, args...)); code != 0 {
		t.Fatalf("alerts show %v exited %d: %s", args, code, errOut)
	}
	var got alertShowJSON
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("alerts show --json printed %q: %v", out, err)
	}
	a := &alertsv1.Alert{}
	if err := protojson.Unmarshal(got.Alert, a); err != nil {
		t.Fatalf("the alert is not a rebound.alerts.v1.Alert: %v: %s", err, got.Alert)
	}
	return got, a
}

func TestAlertsShow_asOfReturnsTheStateAtThatTime(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	f := newAlertFixture(t, url)
	account := unique("asof")
	ref := orderRef(account, "", "1001")
	t0 := time.Now().Add(-time.Hour).UTC()

	// Four events, each its own append: raised, occurred, resolved, reopened. The pauses keep
	// their recorded times apart.
	stream := f.fail(ref, "a1", 503, "", "Service Unavailable", t0)
	clockMoves()
	f.fail(ref, "a2", 503, "", "Service Unavailable again", t0.Add(time.Minute))
	clockMoves()
	f.resolve(stream, t0.Add(2*time.Minute))
	clockMoves()
	f.fail(ref, "a3", 503, "", "down once more", t0.Add(3*time.Minute))
	recs := f.history(stream)
	if len(recs) != 4 {
		t.Fatalf("the fixture stored %d events, want 4", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if !recs[i].RecordedAt.After(recs[i-1].RecordedAt) {
			t.Fatalf("events %d and %d share a recorded time", i, i+1)
		}
	}
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

	cases := []struct {
		name        string
		asOf        string
		version     uint64
		status      alertsv1.AlertStatus
		occurrences uint32
		lastMessage string
	}{
		{"at the first event", rfc(recs[0].RecordedAt), 1, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 1, "Service Unavailable"},
		{"just before the second", rfc(recs[1].RecordedAt.Add(-time.Nanosecond)), 1, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 1, "Service Unavailable"},
		{"at the second", rfc(recs[1].RecordedAt), 2, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 2, "Service Unavailable again"},
		{"at the resolution", rfc(recs[2].RecordedAt), 3, alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, 2, "Service Unavailable again"},
		{"at the second's position", strconv.FormatUint(recs[1].Position, 10), 2, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 2, "Service Unavailable again"},
		{"at the resolution's position", strconv.FormatUint(recs[2].Position, 10), 3, alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, 2, "Service Unavailable again"},
		{"now", "now", 4, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 3, "down once more"},
		{"without --as-of", "", 4, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 3, "down once more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{stream.ID, "--account", account}
			if tc.asOf != "" {
				args = append(args, "--as-of", tc.asOf)
			}
			got, a := showJSON(t, url, args...)
			if got.Version != tc.version || got.CurrentVersion != 4 || got.Position != recs[tc.version-1].Position ||
				got.LastEventType != recs[tc.version-1].EventType {
				t.Fatalf("as of %s: version %d of %d at position %d (%s); want version %d of 4 at %d",
					tc.asOf, got.Version, got.CurrentVersion, got.Position, got.LastEventType, tc.version, recs[tc.version-1].Position)
			}
			if a.GetStatus() != tc.status || a.GetOccurrences() != tc.occurrences || a.GetLastFailure().GetMessage() != tc.lastMessage {
				t.Fatalf("as of %s: %v with %d occurrences, last %q; want %v with %d, last %q",
					tc.asOf, a.GetStatus(), a.GetOccurrences(), a.GetLastFailure().GetMessage(), tc.status, tc.occurrences, tc.lastMessage)
			}
			if a.GetAlertId() != stream.ID || a.GetRecord().GetOrderNumber() != "#1001" {
				t.Fatalf("the alert is %s for %q", a.GetAlertId(), a.GetRecord().GetOrderNumber())
			}
		})
	}

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		env, out, errOut := testEnv(map[string]string{"REBOUND_NATS_URL": url})
		if code := run(context.Background(), env, []string{"alerts", "show", stream.ID, "--account", account, "--as-of", rfc(recs[2].RecordedAt)}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{
			"status", "resolved", "type wms_unavailable, class transient", "order #1001 (id 1001) on connection wms-1 (wms sandbox-wms)",
			"2 occurrences", "HTTP 503 Service Unavailable again", "record_succeeded, attempt ok-1", "version 3 of 4, last event AlertResolved",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("text lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("before the first event", func(t *testing.T) {
		t.Parallel()
		env, _, errOut := testEnv(map[string]string{"REBOUND_NATS_URL": url})
		code := run(context.Background(), env, []string{"alerts", "show", stream.ID, "--account", account, "--as-of", rfc(recs[0].RecordedAt.Add(-time.Second))})
		if code != 1 || !strings.Contains(errOut.String(), "did not exist at") || !strings.Contains(errOut.String(), "its first event (AlertRaised) was recorded at "+rfc(recs[0].RecordedAt)) {
			t.Fatalf("exit %d, stderr %q; want exit 1 saying when the first event was recorded", code, errOut)
		}
	})
}

func TestAlertsShow_errorsAreClear(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	f := newAlertFixture(t, url)
	account := unique("showerr")
	stream := f.fail(orderRef(account, "", "7"), "a1", 503, "", "Service Unavailable", time.Now())
	vars := map[string]string{"REBOUND_NATS_URL": url}
	cases := map[string]struct {
		args []string
		vars map[string]string
		code int
		want string
	}{
		"no subcommand":  {[]string{"alerts"}, vars, 2, "name a subcommand: list, show"},
		"bad subcommand": {[]string{"alerts", "frob"}, vars, 2, `unknown subcommand "frob"`},
		"no id":          {[]string{"alerts", "show", "--account", account}, vars, 2, "want <alert id>"},
		"no account":     {[]string{"alerts", "show", stream.ID}, vars, 2, "--account is required"},
		"bad account":    {[]string{"alerts", "show", stream.ID, "--account", "a.b"}, vars, 2, "--account"},
		"bad id":         {[]string{"alerts", "show", "x y", "--account", account}, vars, 2, "alert id"},
		"bad as-of":      {[]string{"alerts", "show", stream.ID, "--account", account, "--as-of", "yesterday"}, vars, 2, "--as-of \"yesterday\" is neither a position nor an RFC 3339 time"},
		"position zero":  {[]string{"alerts", "show", stream.ID, "--account", account, "--as-of", "0"}, vars, 2, "--as-of \"0\" is not a position"},
		"unknown alert":  {[]string{"alerts", "show", "nope", "--account", account}, vars, 1, "no alert nope in account " + account},
		"no server":      {[]string{"alerts", "show", stream.ID, "--account", account}, map[string]string{"REBOUND_NATS_URL": "nats://127.0.0.1:1"}, 1, "is `rebound dev` running"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, _, errOut := testEnv(tc.vars)
			code := run(context.Background(), env, tc.args)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}
