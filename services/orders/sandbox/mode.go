package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is a failure mode of a sandbox server.
type Mode string

// The failure modes. Names are what the admin API and `rebound sandbox fail <mode>` take
// (ParseMode also takes the aliases in its documentation).
const (
	// ModeNone answers normally.
	ModeNone Mode = "none"
	// ModeDown drops every request without an answer (the connection is reset): the caller sees
	// a connection reset, as when the system is down behind a load balancer.
	ModeDown Mode = "down"
	// ModeSlow does the work, then holds the answer for Failure.Delay (default 10 s): a caller
	// with a shorter timeout gives up although the order was created — the lost acknowledgement
	// that idempotency keys exist for.
	ModeSlow Mode = "slow"
	// ModeHTTP500 answers 500 INTERNAL_ERROR.
	ModeHTTP500 Mode = "http-500"
	// ModeHTTP429 answers 429 RATE_LIMITED with Retry-After (Failure.RetryAfter, default 30 s).
	ModeHTTP429 Mode = "http-429"
	// ModeHTTP401 answers 401 UNAUTHORIZED, as for revoked credentials.
	ModeHTTP401 Mode = "http-401"
	// ModeInvalidAddress answers new orders with 422 INVALID_ADDRESS (WMS only).
	ModeInvalidAddress Mode = "invalid-address"
	// ModeUnknownShipMethod answers new orders with 422 SHIP_METHOD_UNKNOWN (WMS only).
	ModeUnknownShipMethod Mode = "unknown-ship-method"
	// ModeFlaky answers a request with 503 SERVICE_UNAVAILABLE with probability
	// Failure.Probability (default 0.5), drawn from the server's seeded generator.
	ModeFlaky Mode = "flaky"
)

// Modes returns every mode, in the order the documentation lists them.
func Modes() []Mode {
	return []Mode{ModeNone, ModeDown, ModeSlow, ModeHTTP500, ModeHTTP429, ModeHTTP401, ModeInvalidAddress, ModeUnknownShipMethod, ModeFlaky}
}

var modeAliases = map[string]Mode{
	"ok": ModeNone, "off": ModeNone, "normal": ModeNone,
	"500": ModeHTTP500, "http500": ModeHTTP500, "error": ModeHTTP500,
	"429": ModeHTTP429, "http429": ModeHTTP429, "rate-limited": ModeHTTP429, "rate_limited": ModeHTTP429,
	"401": ModeHTTP401, "http401": ModeHTTP401, "unauthorized": ModeHTTP401, "auth": ModeHTTP401,
	"422-address": ModeInvalidAddress, "invalid_address": ModeInvalidAddress, "address": ModeInvalidAddress,
	"unknown_ship_method": ModeUnknownShipMethod, "ship-method": ModeUnknownShipMethod,
}

// ParseMode reads a mode by name (case-insensitive) or alias: ok/off (none), 500, 429 or
// rate-limited, 401 or unauthorized, address (invalid-address), ship-method (unknown-ship-method).
func ParseMode(s string) (Mode, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if m := Mode(s); slices.Contains(Modes(), m) {
		return m, nil
	}
	if m, ok := modeAliases[s]; ok {
		return m, nil
	}
	names := make([]string, 0, len(Modes()))
	for _, m := range Modes() {
		names = append(names, string(m))
	}
	return "", fmt.Errorf("sandbox: unknown failure mode %q (one of %s)", s, strings.Join(names, ", "))
}

// wmsOnly reports whether the mode concerns orders and so only the WMS.
func (m Mode) wmsOnly() bool { return m == ModeInvalidAddress || m == ModeUnknownShipMethod }

// Failure is a failure mode with its parameters, as the admin API takes and shows it.
type Failure struct {
	// Mode is the failure mode.
	Mode Mode `json:"mode"`
	// Probability is, for flaky, the chance that a request fails (0 < p <= 1; default 0.5).
	Probability float64 `json:"probability,omitempty"`
	// Delay is, for slow, how long the answer is held (default 10 s, at most 10 min).
	Delay Duration `json:"delay,omitempty"`
	// RetryAfter is, for http-429, the Retry-After sent (whole seconds, rounded up; default 30 s).
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Times limits the mode to the next Times requests it affects, then the connection answers
	// normally again; 0 keeps it until it is changed. GET /admin/failures shows how many are left.
	Times int `json:"times,omitempty"`
}

// Defaults of the mode parameters.
const (
	DefaultFlakyProbability = 0.5
	DefaultSlowDelay        = 10 * time.Second
	DefaultRetryAfter       = 30 * time.Second
	maxDelay                = 10 * time.Minute
)

// normalize checks f and fills in defaults.
func (f Failure) normalize(wms bool) (Failure, error) {
	m, err := ParseMode(string(f.Mode))
	if err != nil {
		return f, err
	}
	f.Mode = m
	var errs []error
	if m.wmsOnly() && !wms {
		errs = append(errs, fmt.Errorf("sandbox: mode %s applies to the sandbox WMS only", m))
	}
	if f.Probability < 0 || f.Probability > 1 {
		errs = append(errs, fmt.Errorf("sandbox: probability %v must be between 0 and 1", f.Probability))
	}
	if f.Delay < 0 || time.Duration(f.Delay) > maxDelay {
		errs = append(errs, fmt.Errorf("sandbox: delay %s must be between 0 and %s", time.Duration(f.Delay), maxDelay))
	}
	if f.RetryAfter < 0 {
		errs = append(errs, errors.New("sandbox: retry_after must not be negative"))
	}
	if f.Times < 0 {
		errs = append(errs, errors.New("sandbox: times must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return f, err
	}
	if m == ModeFlaky && f.Probability == 0 {
		f.Probability = DefaultFlakyProbability
	}
	if m == ModeSlow && f.Delay == 0 {
		f.Delay = Duration(DefaultSlowDelay)
	}
	if m == ModeHTTP429 {
		if f.RetryAfter == 0 {
			f.RetryAfter = Duration(DefaultRetryAfter)
		}
		if d := time.Duration(f.RetryAfter); d%time.Second != 0 {
			f.RetryAfter = Duration(d.Truncate(time.Second) + time.Second)
		}
	}
	return f, nil
}

// Duration is a time.Duration that reads and writes JSON as "1.5s" (a number is seconds).
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("sandbox: duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("sandbox: duration %s must be a string such as \"2s\" or a number of seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Failures is the failure configuration of one server: the default for every connection and
// each connection's own.
type Failures struct {
	// Default applies to connections without their own mode.
	Default Failure `json:"default"`
	// Connections are the connections' own modes.
	Connections map[string]Failure `json:"connections"`
}

// AllConnections is the connection name that sets the default mode.
const AllConnections = "*"

// faults holds a server's failure modes and the seeded generator flaky mode draws from.
type faults struct {
	wms bool

	mu     sync.Mutex
	def    Failure
	byConn map[string]Failure
	rng    *rand.Rand

	injected atomic.Int64
}

func newFaults(wms bool, seed uint64) *faults {
	return &faults{wms: wms, def: Failure{Mode: ModeNone}, byConn: make(map[string]Failure), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// set stores the mode of a connection (AllConnections: the default).
func (f *faults) set(conn string, fl Failure) (Failure, error) {
	fl, err := fl.normalize(f.wms)
	if err != nil {
		return fl, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if conn == AllConnections {
		f.def = fl
	} else {
		f.byConn[conn] = fl
	}
	return fl, nil
}

// clear removes a connection's own mode (AllConnections: resets the default to none).
func (f *faults) clear(conn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if conn == AllConnections {
		f.def = Failure{Mode: ModeNone}
	} else {
		delete(f.byConn, conn)
	}
}

// clearAll resets every mode.
func (f *faults) clearAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.def = Failure{Mode: ModeNone}
	clear(f.byConn)
}

func (f *faults) list() Failures {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := Failures{Default: f.def, Connections: make(map[string]Failure, len(f.byConn))}
	for c, fl := range f.byConn {
		out.Connections[c] = fl
	}
	return out
}

// pick returns the failure to apply to one request of conn, if any. Flaky mode draws from the
// generator here; a limited mode counts the request down.
func (f *faults) pick(conn string) (Failure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, own := f.byConn[conn]
	if !own {
		fl = f.def
	}
	if fl.Mode == ModeNone || fl.Mode == "" {
		return Failure{}, false
	}
	if fl.Mode == ModeFlaky && f.rng.Float64() >= fl.Probability {
		return Failure{}, false
	}
	if fl.Times > 0 {
		fl.Times--
		next := fl
		if next.Times == 0 {
			next = Failure{Mode: ModeNone}
		}
		if own {
			f.byConn[conn] = next
		} else {
			f.def = next
		}
	}
	f.injected.Add(1)
	return fl, true
}

// inject answers the request for the modes that fail it before any work: down, http-500,
// http-429, http-401 and flaky. It reports whether it answered.
func inject(w http.ResponseWriter, fl Failure) bool {
	switch fl.Mode {
	case ModeDown:
		hangUp(w)
	case ModeHTTP500:
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Internal server error (sandbox failure mode http-500)")
	case ModeHTTP429:
		secs := int64(time.Duration(fl.RetryAfter) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeError(w, http.StatusTooManyRequests, "RATE_LIMITED", fmt.Sprintf("Too many requests: rate limit exceeded, retry after %d seconds", secs))
	case ModeHTTP401:
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid or expired API token")
	case ModeFlaky:
		writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service temporarily unavailable (sandbox failure mode flaky)")
	default:
		return false
	}
	return true
}

// hold delays the answer of a slow request until its delay passed or the caller went away.
func hold(r *http.Request, fl Failure) {
	if fl.Mode != ModeSlow {
		return
	}
	t := time.NewTimer(time.Duration(fl.Delay))
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// hangUp drops the connection without an answer; the caller sees a reset.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with a reset, not an orderly shutdown
	}
	_ = conn.Close()
}
