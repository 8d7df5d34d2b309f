package remote_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
)

// answer returns a server that answers every request with status, headers and body.
func answer(t *testing.T, status int, header http.Header, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func client(t *testing.T, cfg remote.Config) *remote.Client {
	t.Helper()
	c, err := remote.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func failureOf(t *testing.T, err error) *remote.Failure {
	t.Helper()
	f, ok := remote.AsFailure(err)
	if !ok {
		t.Fatalf("err = %v (%T), want a *remote.Failure", err, err)
	}
	return f
}

func TestDo_mapsEachAnswerToAFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   remote.Failure
	}{
		{"error object", 422, nil, `{"error":{"code":"INVALID_ADDRESS","message":"Ship-to address is invalid: postal code is missing"}}`,
			remote.Failure{HTTPStatus: 422, Code: "INVALID_ADDRESS", Message: "Ship-to address is invalid: postal code is missing"}},
		{"oauth error", 401, nil, `{"error":"invalid_grant","error_description":"Token expired"}`,
			remote.Failure{HTTPStatus: 401, Code: "invalid_grant", Message: "Token expired"}},
		{"error string", 400, nil, `{"error":"bad things"}`, remote.Failure{HTTPStatus: 400, Message: "bad things"}},
		{"errors list", 422, nil, `{"errors":[{"code":"SKU_NOT_FOUND","message":"SKU A not found"},{"code":"X","message":"SKU B not found"}]}`,
			remote.Failure{HTTPStatus: 422, Code: "SKU_NOT_FOUND", Message: "SKU A not found; SKU B not found"}},
		{"top-level numeric code", 500, nil, `{"code":1042,"message":"database unavailable"}`,
			remote.Failure{HTTPStatus: 500, Code: "1042", Message: "database unavailable"}},
		{"problem details", 403, nil, `{"type":"about:blank","title":"Forbidden","detail":"API key lacks orders:write"}`,
			remote.Failure{HTTPStatus: 403, Message: "Forbidden: API key lacks orders:write"}},
		{"html", 502, nil, "<html>\n<body>Bad   Gateway</body></html>", remote.Failure{HTTPStatus: 502, Message: "<html> <body>Bad Gateway</body></html>"}},
		{"empty", 503, http.Header{"Retry-After": {"120"}}, "", remote.Failure{HTTPStatus: 503, Message: "Service Unavailable", RetryAfter: 2 * time.Minute}},
		{"429 with a date", 429, http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}, `{"error":{"code":"RATE_LIMITED","message":"slow down"}}`,
			remote.Failure{HTTPStatus: 429, Code: "RATE_LIMITED", Message: "slow down", RetryAfter: time.Hour}},
		{"redirect", 302, http.Header{"Location": {"/"}}, "", remote.Failure{HTTPStatus: 302, Message: "Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := answer(t, tt.status, tt.header, tt.body)
			c := client(t, remote.Config{BaseURL: srv.URL})
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			if tt.status == 302 {
				c, _ = remote.New(remote.Config{BaseURL: srv.URL}, hc)
			}
			status, err := c.Do(context.Background(), remote.Request{Method: http.MethodPost, Path: "/v1/orders", Body: map[string]int{"a": 1}}, &struct{}{})
			f := failureOf(t, err)
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if tt.want.RetryAfter >= time.Hour { // an HTTP date is relative to now: allow a second
				if d := f.RetryAfter - tt.want.RetryAfter; d < -2*time.Second || d > 2*time.Second {
					t.Errorf("retry after %s, want about %s", f.RetryAfter, tt.want.RetryAfter)
				}
				f.RetryAfter = tt.want.RetryAfter
			}
			if *f != tt.want {
				t.Fatalf("failure %+v, want %+v", *f, tt.want)
			}
		})
	}
}

func TestDo_sendsCredentialsIdempotencyKeyAndDecodesSuccess(t *testing.T) {
	t.Parallel()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"W1"}`))
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		cfg  remote.Config
		auth string
	}{
		{remote.Config{BaseURL: srv.URL + "/", Token: "t0k"}, "Bearer t0k"},
		{remote.Config{BaseURL: srv.URL, Username: "u", Password: "p"}, "Basic dTpw"},
		{remote.Config{BaseURL: srv.URL}, ""},
	} {
		var out struct{ ID string }
		status, err := client(t, tt.cfg).Do(context.Background(), remote.Request{Method: http.MethodPost, Path: "/v1/orders", IdempotencyKey: "ord_1", Body: struct{}{}}, &out)
		if err != nil || status != 201 || out.ID != "W1" {
			t.Fatalf("status %d, out %+v, err %v", status, out, err)
		}
		if got.Get("Authorization") != tt.auth || got.Get("Idempotency-Key") != "ord_1" || got.Get("Content-Type") != "application/json" || got.Get("User-Agent") != remote.DefaultUserAgent {
			t.Fatalf("headers %v", got)
		}
	}
}

func TestDo_successThatIsNotJSONIsAnInvalidResponse(t *testing.T) {
	t.Parallel()
	srv := answer(t, 200, nil, "<html>ok</html>")
	var out struct{ ID string }
	_, err := client(t, remote.Config{BaseURL: srv.URL}).Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/x"}, &out)
	if f := failureOf(t, err); f.Code != remote.CodeInvalidResponse || f.HTTPStatus != 200 || !strings.Contains(f.Message, "<html>ok</html>") {
		t.Fatalf("failure %+v", f)
	}
	big := answer(t, 200, nil, `{"id":"`+strings.Repeat("x", 2000)+`"}`)
	_, err = client(t, remote.Config{BaseURL: big.URL, MaxResponseBytes: 1000}).Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/x"}, &out)
	if f := failureOf(t, err); f.Code != remote.CodeInvalidResponse || !strings.Contains(f.Message, "longer than 1000 bytes") {
		t.Fatalf("failure %+v", f)
	}
}

func TestDo_longMessagesAreCutToTheReportLimit(t *testing.T) {
	t.Parallel()
	srv := answer(t, 500, nil, `{"error":{"code":"E","message":"`+strings.Repeat("é", 3000)+`"}}`)
	_, err := client(t, remote.Config{BaseURL: srv.URL}).Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/"}, nil)
	f := failureOf(t, err)
	if len(f.Message) > connector.MaxMessageLen || len(f.Message) < connector.MaxMessageLen-2 {
		t.Fatalf("message of %d bytes", len(f.Message))
	}
	rep := f.Report(ref(), "a1", time.Now(), time.Now())
	if err := connector.ValidateFailed(rep); err != nil {
		t.Fatalf("report: %v", err)
	}
}

func TestDo_timeoutConnectionRefusedAndCancellation(t *testing.T) {
	t.Parallel()
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(stall.Close)

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		_, err := client(t, remote.Config{BaseURL: stall.URL, Timeout: 50 * time.Millisecond}).Do(context.Background(), remote.Request{Method: http.MethodPost, Path: "/v1/orders"}, nil)
		f := failureOf(t, err)
		if f.Code != remote.CodeTimeout || f.HTTPStatus != 0 || !strings.Contains(f.Message, "within 50ms") || !strings.Contains(f.Message, stall.URL) {
			t.Fatalf("failure %+v", f)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := client(t, remote.Config{BaseURL: stall.URL}).Do(ctx, remote.Request{Method: http.MethodGet, Path: "/"}, nil)
			done <- err
		}()
		cancel()
		err := <-done
		if _, isFailure := remote.AsFailure(err); isFailure || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled and no Failure", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		_, err = client(t, remote.Config{BaseURL: "http://" + addr}).Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/"}, nil)
		if f := failureOf(t, err); f.Code != remote.CodeConnectionRefused || !strings.Contains(f.Message, "connection refused") {
			t.Fatalf("failure %+v", f)
		}
	})
	t.Run("no such host", func(t *testing.T) {
		t.Parallel()
		_, err := client(t, remote.Config{BaseURL: "http://no-such-host.invalid"}).Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/"}, nil)
		if f := failureOf(t, err); f.Code != remote.CodeDNS {
			t.Fatalf("failure %+v", f)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		" 5 ":                           5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Mon, 02 Mar 2026 09:01:30 GMT": 90 * time.Second,
		"Mon, 02 Mar 2026 08:00:00 GMT": 0,
	} {
		if got := remote.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestFailure_reportCarriesEveryField(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := &remote.Failure{Message: "slow down", Code: "RATE_LIMITED", HTTPStatus: 429, RetryAfter: 30 * time.Second}
	r := f.Report(ref(), "a1", at, at.Add(time.Second))
	if r.GetCode() != "RATE_LIMITED" || r.GetHttpStatus() != 429 || r.GetRetryAfter().AsDuration() != 30*time.Second ||
		r.GetMessage() != "slow down" || r.GetAttemptId() != "a1" || !r.GetFailedAt().AsTime().Equal(at.Add(time.Second)) {
		t.Fatalf("report %v", r)
	}
	if err := connector.ValidateFailed(r); err != nil {
		t.Fatal(err)
	}
	if got := f.Error(); got != "remote: 429 RATE_LIMITED: slow down (retry after 30s)" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestConfig_validate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []remote.Config{{}, {BaseURL: "ftp://x"}, {BaseURL: "http://"}, {BaseURL: "http://x", Timeout: -1}} {
		if _, err := remote.New(cfg, nil); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func ref() *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: "wms-1",
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "ord_1", OrderNumber: "#1",
	}
}
