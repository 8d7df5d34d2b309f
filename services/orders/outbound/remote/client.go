// Package remote is the HTTP/JSON core of the orders service's connectors (outbound/wms,
// outbound/cart): one Client per connection, configured with its base URL, credentials and
// timeout, that maps every outcome of a call to either a decoded answer or a *Failure — network
// errors, timeouts, each HTTP status, the body's error code and message, and Retry-After — ready
// to be reported as a connectorv1.RecordFailed.
//
// The caller's own cancellation is not the system's failure: when the caller's context ends, Do
// returns an error wrapping ctx.Err(), never a *Failure.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures the client of one connection.
type Config struct {
	// BaseURL is the API's base URL (http or https); request paths are appended to it.
	BaseURL string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Username and Password, when Token is empty and Username is set, are sent as HTTP basic auth.
	Username string
	Password string
	// Timeout bounds each call, answer included; default 30 s.
	Timeout time.Duration
	// UserAgent is the User-Agent header; default "rebound-orders".
	UserAgent string
	// MaxResponseBytes bounds the answer read; default 1 MiB. A longer answer is cut (an error
	// body) or invalid (a success body).
	MaxResponseBytes int64
}

// Defaults.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultUserAgent        = "rebound-orders"
	DefaultMaxResponseBytes = 1 << 20
)

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("remote: base URL is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("remote: base URL: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("remote: base URL %q must be http or https", c.BaseURL))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("remote: base URL %q has no host", c.BaseURL))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("remote: timeout must not be negative"))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("remote: max response bytes must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return c
}

// sharedTransport keeps connections to every system alive and pools enough of them per host for
// many attempts in parallel.
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}()

// Client calls one connection's API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string // without a trailing slash
	http *http.Client
}

// New returns a client for cfg. hc is the HTTP client to use; nil shares a pooled transport
// among all clients. The client's own Timeout field should be zero: cfg.Timeout applies.
func New(cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Transport: sharedTransport}
	}
	return &Client{cfg: cfg.withDefaults(), base: strings.TrimRight(cfg.BaseURL, "/"), http: hc}, nil
}

// BaseURL returns the API's base URL.
func (c *Client) BaseURL() string { return c.base }

// Request is one call.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is appended to the base URL ("/v1/orders"); segments must be escaped already.
	Path string
	// Query is the query string, if any.
	Query url.Values
	// IdempotencyKey, when set, is sent as Idempotency-Key, so the system can recognise a repeat.
	IdempotencyKey string
	// Body is marshalled as the JSON body; nil sends none.
	Body any
}

// errRequestTimeout is the cause of a call's own deadline.
var errRequestTimeout = errors.New("remote: request timed out")

// Do performs the call and decodes a 2xx answer's JSON body into out (nil ignores it). It returns
// the answer's status. Every outcome of the system — no answer, a non-2xx status, a 2xx body that
// does not decode — is a *Failure; the caller's cancellation is an error wrapping ctx.Err().
func (c *Client) Do(ctx context.Context, r Request, out any) (int, error) {
	var body io.Reader
	if r.Body != nil {
		data, err := json.Marshal(r.Body)
		if err != nil {
			return 0, fmt.Errorf("remote: encoding the %s %s body: %w", r.Method, r.Path, err)
		}
		body = bytes.NewReader(data)
	}
	target := c.base + r.Path
	if len(r.Query) > 0 {
		target += "?" + r.Query.Encode()
	}
	rctx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, errRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, r.Method, target, body)
	if err != nil {
		return 0, fmt.Errorf("remote: building %s %s: %w", r.Method, target, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.IdempotencyKey)
	}
	switch {
	case c.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	case c.cfg.Username != "":
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}

	now := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, c.transportErr(ctx, rctx, r, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return 0, c.transportErr(ctx, rctx, r, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, statusFailure(resp, data, now)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return resp.StatusCode, &Failure{HTTPStatus: resp.StatusCode, Code: CodeInvalidResponse,
			Message: fmt.Sprintf("the %d answer to %s %s is longer than %d bytes", resp.StatusCode, r.Method, r.Path, c.cfg.MaxResponseBytes)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, &Failure{HTTPStatus: resp.StatusCode, Code: CodeInvalidResponse,
			Message: fmt.Sprintf("the %d answer to %s %s is not the expected JSON: %v (%s)", resp.StatusCode, r.Method, r.Path, err, oneLine(string(data), 200))}
	}
	return resp.StatusCode, nil
}

// transportErr classifies a round-trip error: the caller's cancellation stays an error, the rest
// is a Failure.
func (c *Client) transportErr(ctx, rctx context.Context, r Request, err error) error {
	if callerDone(ctx) {
		return fmt.Errorf("remote: %s %s%s: %w", r.Method, c.base, r.Path, ctx.Err())
	}
	timedOut := errors.Is(context.Cause(rctx), errRequestTimeout)
	return transportFailure(err, timedOut, c.cfg.Timeout, r.Method+" "+c.base+r.Path)
}
