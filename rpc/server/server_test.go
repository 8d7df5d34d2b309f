package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/errmap"
	"github.com/reboundhq/rebound/rpc/server"
)

// logBuffer collects the server's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// calls returns the "grpc call" lines, decoded.
func (b *logBuffer) calls(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if m["msg"] == "grpc call" {
			out = append(out, m)
		}
	}
	return out
}

// env is a running server with a test service, a client and one key per scope.
type env struct {
	srv      *server.Server
	conn     *grpc.ClientConn
	logs     *logBuffer
	keys     *auth.MemStore
	httpURL  string
	plain    map[string]string // "admin", "m1", "w1", "revoked" -> plain key
	keyIDs   map[string]string
	setReady func(func(context.Context) error)
}

func start(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{logs: &logBuffer{}, keys: auth.NewMemStore(), plain: map[string]string{}, keyIDs: map[string]string{}}
	for name, sc := range map[string]struct {
		scope   auth.Scope
		account string
	}{
		"admin":   {auth.ScopeAdmin, ""},
		"m1":      {auth.ScopeMerchant, "m1"},
		"w1":      {auth.ScopeWarehouse, "w1"},
		"revoked": {auth.ScopeMerchant, "m1"},
	} {
		plain, k, err := auth.IssueKey(ctx, e.keys, sc.scope, sc.account, name)
		if err != nil {
			t.Fatal(err)
		}
		e.plain[name], e.keyIDs[name] = plain, k.ID
	}
	if err := e.keys.Revoke(ctx, e.keyIDs["revoked"], time.Now()); err != nil {
		t.Fatal(err)
	}

	mapper := errmap.NewMapper()
	mapper.RegisterPrecondition(errWrongState)
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Mapper: mapper, ShutdownTimeout: 5 * time.Second},
		e.keys, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv.GRPC().RegisterService(&testServiceDesc, testService{})
	e.srv = srv
	grpcAddr, httpAddr := srv.Addrs()
	e.httpURL = "http://" + httpAddr

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of its context ending")
		}
	})

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	e.conn = conn
	return e
}

// ctx returns a context that sends the named key ("" for none).
func (e *env) ctx(t *testing.T, key string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.plain[key])
	}
	return ctx
}

func (e *env) call(ctx context.Context, method, value string) (string, error) {
	out := new(wrapperspb.StringValue)
	err := e.conn.Invoke(ctx, "/"+testServiceName+"/"+method, wrapperspb.String(value), out)
	return out.GetValue(), err
}

func TestServer_authentication(t *testing.T) {
	t.Parallel()
	e := start(t)
	id, _, _ := auth.ParseKey(e.plain["m1"])
	tests := []struct {
		name   string
		header []string // authorization values; nil sends none
	}{
		{"missing", nil},
		{"not bearer", []string{"Basic " + e.plain["m1"]}},
		{"malformed", []string{"Bearer nonsense"}},
		{"empty bearer", []string{"Bearer "}},
		{"wrong secret", []string{"Bearer rbk_" + id + "_" + strings.Repeat("a", 52)}},
		{"unknown key", []string{"Bearer rbk_ffffffffffffffff_" + strings.Repeat("a", 52)}},
		{"revoked", []string{"Bearer " + e.plain["revoked"]}},
		{"two keys", []string{"Bearer " + e.plain["m1"], "Bearer " + e.plain["admin"]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := e.ctx(t, "")
			for _, h := range tt.header {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", h)
			}
			_, err := e.call(ctx, "Get", "m1/r1")
			if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != errmap.MsgUnauthenticated {
				t.Fatalf("status = %s %q, want Unauthenticated", st.Code(), st.Message())
			}
		})
	}
	t.Run("lower-case scheme", func(t *testing.T) {
		t.Parallel()
		ctx := metadata.AppendToOutgoingContext(e.ctx(t, ""), "authorization", "bearer "+e.plain["m1"])
		if _, err := e.call(ctx, "Get", "m1/r1"); err != nil {
			t.Fatalf("call = %v, want OK", err)
		}
	})
}

func TestServer_authorization(t *testing.T) {
	t.Parallel()
	e := start(t)
	tests := []struct {
		key, resource string
		code          codes.Code
	}{
		{"m1", "m1/r1", codes.OK},
		{"m1", "m1/nope", codes.NotFound},
		{"m1", "m2/r1", codes.PermissionDenied},
		{"m1", "m2/nope", codes.PermissionDenied}, // same answer whether or not it exists
		{"m1", "w1/r1", codes.PermissionDenied},
		{"w1", "w1/r1", codes.OK},
		{"w1", "w1/nope", codes.NotFound},
		{"w1", "m1/r1", codes.OK},
		{"w1", "m3/r1", codes.OK},
		{"w1", "m2/r1", codes.PermissionDenied}, // another warehouse's merchant
		{"w1", "m9/nope", codes.PermissionDenied},
		{"admin", "m2/r1", codes.OK},
		{"admin", "w1/r1", codes.OK},
		{"admin", "m9/nope", codes.NotFound},
	}
	denied := map[string]string{} // message by key, the same for every denial
	for _, tt := range tests {
		_, err := e.call(e.ctx(t, tt.key), "Get", tt.resource)
		st := status.Convert(err)
		if st.Code() != tt.code {
			t.Errorf("%s key on %s: %s %q, want %s", tt.key, tt.resource, st.Code(), st.Message(), tt.code)
		}
		if st.Code() == codes.PermissionDenied {
			if prev, ok := denied[tt.key]; ok && prev != st.Message() {
				t.Errorf("%s key on %s: message %q differs from %q", tt.key, tt.resource, st.Message(), prev)
			}
			denied[tt.key] = st.Message()
			if strings.Contains(st.Message(), strings.Split(tt.resource, "/")[0]) {
				t.Errorf("denial %q names the account", st.Message())
			}
		}
	}
}

func TestServer_errorMapping(t *testing.T) {
	t.Parallel()
	e := start(t)
	tests := []struct {
		kind    string
		code    codes.Code
		message string
	}{
		{"invalid", codes.InvalidArgument, "invalid argument: record.account_id: is required; failed_at: is required"},
		{"notfound", codes.NotFound, "alert a1: events: stream not found"},
		{"conflict", codes.Aborted, errmap.MsgAborted},
		{"precondition", codes.FailedPrecondition, "dismiss a1: the alert is already dismissed"},
		{"shared-precondition", codes.FailedPrecondition, "order o1 is shipped: failed precondition"},
		{"status", codes.ResourceExhausted, "slow down"},
		{"internal", codes.Internal, errmap.MsgInternal},
		{"panic", codes.Internal, errmap.MsgInternal},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			_, err := e.call(e.ctx(t, "m1"), "Fail", tt.kind)
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.message {
				t.Fatalf("status = %s %q, want %s %q", st.Code(), st.Message(), tt.code, tt.message)
			}
			if tt.code != codes.InvalidArgument {
				return
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if strings.Join(fields, ",") != "record.account_id,failed_at" {
				t.Fatalf("BadRequest fields = %v, want record.account_id, failed_at", fields)
			}
		})
	}
	t.Run("the detail is logged", func(t *testing.T) {
		t.Parallel()
		_, _ = e.call(e.ctx(t, "m1"), "Fail", "panic")
		for _, c := range e.logs.calls(t) {
			errText, _ := c["error"].(string)
			if c["code"] == "Internal" && strings.Contains(errText, "panic: boom") {
				if stack, _ := c["stack"].(string); !strings.Contains(stack, "testService.Fail") {
					t.Fatalf("panic logged without its stack: %v", c)
				}
				if c["level"] != "ERROR" {
					t.Fatalf("panic logged at %v, want ERROR", c["level"])
				}
				return
			}
		}
		t.Fatalf("no log line with the panic in:\n%s", e.logs.String())
	})
}

func TestServer_stream(t *testing.T) {
	t.Parallel()
	e := start(t)
	watch := func(ctx context.Context, value string) (string, error) {
		s, err := e.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/"+testServiceName+"/Watch")
		if err != nil {
			return "", err
		}
		if err := s.SendMsg(wrapperspb.String(value)); err != nil {
			return "", err
		}
		if err := s.CloseSend(); err != nil {
			return "", err
		}
		out := new(wrapperspb.StringValue)
		if err := s.RecvMsg(out); err != nil {
			return "", err
		}
		if err := s.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
			return "", err
		}
		return out.GetValue(), nil
	}
	if got, err := watch(e.ctx(t, "w1"), "x"); err != nil || got != "w1" {
		t.Fatalf("Watch = %q, %v; want w1", got, err)
	}
	if _, err := watch(e.ctx(t, ""), "x"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Watch without a key = %v, want Unauthenticated", err)
	}
	if _, err := watch(e.ctx(t, "m1"), "fail"); status.Code(err) != codes.NotFound {
		t.Fatalf("failing Watch = %v, want NotFound", err)
	}
	var lines int
	for _, c := range e.logs.calls(t) {
		if c["method"] == "/"+testServiceName+"/Watch" {
			lines++
		}
	}
	if lines != 3 {
		t.Fatalf("%d log lines for 3 Watch calls:\n%s", lines, e.logs.String())
	}
}

func TestServer_logsOneLinePerCall(t *testing.T) {
	t.Parallel()
	e := start(t)
	if _, err := e.call(e.ctx(t, "m1"), "Get", "m1/r1"); err != nil {
		t.Fatal(err)
	}
	_, _ = e.call(e.ctx(t, "m1"), "Get", "m2/r1")
	_, _ = e.call(e.ctx(t, "revoked"), "Get", "m1/r1")
	_, _ = e.call(e.ctx(t, "w1"), "Fail", "internal")

	calls := e.logs.calls(t)
	if len(calls) != 4 {
		t.Fatalf("%d log lines for 4 calls:\n%s", len(calls), e.logs.String())
	}
	want := []struct {
		code, keyID, account string
	}{
		{"OK", e.keyIDs["m1"], "m1"},
		{"PermissionDenied", e.keyIDs["m1"], "m1"},
		{"Unauthenticated", e.keyIDs["revoked"], ""},
		{"Internal", e.keyIDs["w1"], "w1"},
	}
	for i, w := range want {
		c := calls[i]
		if c["code"] != w.code || c["key_id"] != w.keyID || c["account"] != w.account {
			t.Errorf("line %d = %v, want code %s key_id %s account %s", i, c, w.code, w.keyID, w.account)
		}
		if !strings.HasPrefix(c["method"].(string), "/"+testServiceName+"/") {
			t.Errorf("line %d method = %v", i, c["method"])
		}
		if d, ok := c["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("line %d duration_ms = %v", i, c["duration_ms"])
		}
	}
	if errText, _ := calls[3]["error"].(string); !strings.Contains(errText, secretDetail) {
		t.Errorf("the Internal line does not keep the detail: %v", calls[3])
	}
	logs := e.logs.String()
	for name, plain := range e.plain {
		_, secret, _ := auth.ParseKey(plain)
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s key's secret", name)
		}
	}
}

func TestServer_healthWithoutKey(t *testing.T) {
	t.Parallel()
	e := start(t)
	check := func(service string) (string, error) {
		out := new(healthResponse)
		err := e.conn.Invoke(e.ctx(t, ""), "/grpc.health.v1.Health/Check", &healthRequest{Service: service}, out)
		return out.GetStatus().String(), err
	}
	if got, err := check(""); err != nil || got != "SERVING" {
		t.Fatalf("overall health = %s, %v; want SERVING", got, err)
	}
	if _, err := check(testServiceName); status.Code(err) != codes.NotFound {
		t.Fatalf("health of an unmarked service = %v, want NotFound", err)
	}
	e.srv.SetServing(testServiceName)
	if got, err := check(testServiceName); err != nil || got != "SERVING" {
		t.Fatalf("health of %s = %s, %v; want SERVING", testServiceName, got, err)
	}
	e.srv.SetNotServing(testServiceName)
	if got, err := check(testServiceName); err != nil || got != "NOT_SERVING" {
		t.Fatalf("health of %s = %s, %v; want NOT_SERVING", testServiceName, got, err)
	}
	for _, c := range e.logs.calls(t) {
		if c["level"] != "DEBUG" {
			t.Errorf("health call logged at %v, want DEBUG", c["level"])
		}
	}
}

func TestServer_reflectionListsServices(t *testing.T) {
	t.Parallel()
	e := start(t)
	got, err := listServices(e.ctx(t, ""), e.conn)
	if err != nil {
		t.Fatalf("reflection without a key: %v", err)
	}
	for _, want := range []string{testServiceName, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("reflection lists %v, without %s", got, want)
		}
	}
}

func TestServer_metrics(t *testing.T) {
	t.Parallel()
	e := start(t)
	if _, err := e.call(e.ctx(t, "m1"), "Get", "m1/r1"); err != nil {
		t.Fatal(err)
	}
	_, _ = e.call(e.ctx(t, "m1"), "Get", "m2/r1")
	body := httpGet(t, e.httpURL+"/metrics", http.StatusOK)
	for _, want := range []string{
		`rebound_grpc_requests_total{code="OK",method="Get",service="rebound.rpctest.v1.TestService"} 1`,
		`rebound_grpc_requests_total{code="PermissionDenied",method="Get",service="rebound.rpctest.v1.TestService"} 1`,
		`rebound_grpc_request_duration_seconds_count{method="Get",service="rebound.rpctest.v1.TestService"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

func TestServer_httpProbes(t *testing.T) {
	t.Parallel()
	e := start(t)
	if body := httpGet(t, e.httpURL+"/healthz", http.StatusOK); strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %q", body)
	}
	waitFor(t, func() bool { return httpStatus(t, e.httpURL+"/readyz") == http.StatusOK })
	e.srv.SetReadyCheck(func(context.Context) error { return errors.New("projections catching up") })
	if body := httpGet(t, e.httpURL+"/readyz", http.StatusServiceUnavailable); !strings.Contains(body, "projections catching up") {
		t.Fatalf("/readyz = %q", body)
	}
	e.srv.SetReadyCheck(func(context.Context) error { return nil })
	httpGet(t, e.httpURL+"/readyz", http.StatusOK)
	e.srv.HTTPMux().HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") })
	if body := httpGet(t, e.httpURL+"/hello", http.StatusOK); body != "hi" {
		t.Fatalf("/hello = %q", body)
	}
}

func TestNew_addressTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	tests := []struct {
		cfg server.Config
		env string
	}{
		{server.Config{GRPCAddr: taken, HTTPAddr: "127.0.0.1:0"}, server.EnvGRPCAddr},
		{server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: taken}, server.EnvHTTPAddr},
	}
	for _, tt := range tests {
		s, err := server.New(tt.cfg, auth.NewMemStore(), nil, nil)
		if err == nil {
			_ = s.Close()
			t.Fatalf("New on a taken %s succeeded", tt.env)
		}
		if !errors.Is(err, server.ErrListen) || !strings.Contains(err.Error(), tt.env) || !strings.Contains(err.Error(), taken) {
			t.Fatalf("error %q does not name %s and %s", err, tt.env, taken)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	if err := (server.Config{}).Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	err := server.Config{GRPCAddr: "nonsense", HTTPAddr: "127.0.0.1:99999", ShutdownTimeout: -1}.Validate()
	for _, want := range []string{server.EnvGRPCAddr, server.EnvHTTPAddr, "ShutdownTimeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want a problem with %s", err, want)
		}
	}
	if _, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, nil, nil, nil); err == nil {
		t.Error("New accepted a nil key store")
	}
}

func TestServer_Run(t *testing.T) {
	t.Parallel()
	s, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, auth.NewMemStore(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	_, httpAddr := s.Addrs()
	waitFor(t, func() bool { return httpStatus(t, "http://"+httpAddr+"/readyz") == http.StatusOK })
	if err := s.Run(ctx); err == nil {
		t.Error("a second Run succeeded")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after its context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := http.Get("http://" + httpAddr + "/healthz"); err == nil {
		t.Error("HTTP still serves after Run returned")
	}
}

func TestServer_Close(t *testing.T) {
	t.Parallel()
	s, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, auth.NewMemStore(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, _ := s.Addrs()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		t.Fatalf("the gRPC address is still taken after Close: %v", err)
	}
	_ = l.Close()
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func httpGet(t *testing.T, url string, wantStatus int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s = %d %s, want %d", url, resp.StatusCode, b, wantStatus)
	}
	return string(b)
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		<-poll.C
	}
}
