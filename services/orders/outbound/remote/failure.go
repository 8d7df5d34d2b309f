package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
)

// Transport codes: Failure.Code when the system never answered (or answered with something that is
// not its API). connector/classify's default rules know them (timeout, connection refused/reset,
// DNS); the others fall back to transient. Persisted in stored failures: add, rename none.
const (
	CodeTimeout           = "timeout"
	CodeConnectionRefused = "connection_refused"
	CodeConnectionReset   = "connection_reset"
	CodeDNS               = "dns_error"
	CodeTLS               = "tls_error"
	CodeNetwork           = "network_error"
	CodeInvalidResponse   = "invalid_response"
)

// Failure is one failed call as a connector reports it: the external system's message, code,
// HTTP status and Retry-After, or a transport code and message when it never answered. It is the
// error the clients return for every outcome of the external system (never for the caller's own
// cancellation), and carries the fields of a connectorv1.RecordFailed (Report).
type Failure struct {
	// Message is the system's message, verbatim (shortened to connector.MaxMessageLen bytes), or
	// what the transport saw.
	Message string
	// Code is the system's error code, or one of the transport codes.
	Code string
	// HTTPStatus is the HTTP status of the answer; 0 when there was none.
	HTTPStatus int
	// RetryAfter is the delay the system asked for (Retry-After); 0 when none.
	RetryAfter time.Duration
}

func (f *Failure) Error() string {
	var b strings.Builder
	b.WriteString("remote: ")
	if f.HTTPStatus != 0 {
		b.WriteString(strconv.Itoa(f.HTTPStatus))
		b.WriteByte(' ')
	}
	if f.Code != "" {
		b.WriteString(f.Code)
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	if f.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", f.RetryAfter)
	}
	return b.String()
}

// AsFailure returns the *Failure in err's chain.
func AsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}

// Report returns the failure as the connector report of the record's attempt.
func (f *Failure) Report(ref *connectorv1.RecordRef, attemptID string, attemptedAt, failedAt time.Time) *connectorv1.RecordFailed {
	out := &connectorv1.RecordFailed{
		Record: ref, AttemptId: attemptID, Message: f.Message, Code: f.Code, HttpStatus: int32(f.HTTPStatus),
		AttemptedAt: timestamppb.New(attemptedAt), FailedAt: timestamppb.New(failedAt),
	}
	if f.RetryAfter > 0 {
		out.RetryAfter = durationpb.New(f.RetryAfter)
	}
	return out
}

// transportFailure maps an error of the HTTP round trip (no usable answer) to a Failure.
func transportFailure(err error, timedOut bool, timeout time.Duration, target string) *Failure {
	msg := err.Error()
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case timedOut:
		return &Failure{Code: CodeTimeout, Message: fmt.Sprintf("no answer from %s within %s (timeout)", target, timeout)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Failure{Code: CodeConnectionRefused, Message: msg}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Failure{Code: CodeConnectionReset, Message: msg}
	case errors.As(err, &dnsErr):
		return &Failure{Code: CodeDNS, Message: msg}
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return &Failure{Code: CodeTLS, Message: msg}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &Failure{Code: CodeTimeout, Message: msg}
	}
	return &Failure{Code: CodeNetwork, Message: msg}
}

// statusFailure maps a non-2xx answer to a Failure: the body's error code and message (in the
// shapes APIs commonly use), the status, and Retry-After.
func statusFailure(resp *http.Response, body []byte, now time.Time) *Failure {
	code, msg := errorOf(body)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	if msg == "" {
		msg = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return &Failure{
		HTTPStatus: resp.StatusCode, Code: clip(code, connector.MaxRefLen), Message: clip(msg, connector.MaxMessageLen),
		RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), now),
	}
}

// errorBody is the union of the error shapes APIs answer with:
//
//	{"error": {"code": "INVALID_ADDRESS", "message": "…"}}
//	{"error": "invalid_grant", "error_description": "…"}         (OAuth 2)
//	{"errors": [{"code": "…", "message": "…"}, …]}
//	{"code": "…", "message": "…"}
//	{"type": "…", "title": "…", "detail": "…"}                   (RFC 9457 problem details)
type errorBody struct {
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Errors           []errorEntry    `json:"errors"`
	errorEntry
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

type errorEntry struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	// Description is the message under another name some APIs use.
	Description string `json:"description"`
}

func (e errorEntry) code() string { return scalar(e.Code) }

func (e errorEntry) message() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Description
}

// errorOf extracts the code and message of an error body; a body that is not JSON is the message.
func errorOf(body []byte) (code, msg string) {
	trimmed := strings.TrimSpace(string(body))
	var eb errorBody
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(body, &eb) != nil {
		return "", oneLine(trimmed, 512)
	}
	if len(eb.Error) > 0 {
		var inner errorEntry
		if json.Unmarshal(eb.Error, &inner) == nil && (inner.code() != "" || inner.message() != "") {
			return inner.code(), inner.message()
		}
		if s := scalar(eb.Error); s != "" {
			if eb.ErrorDescription != "" {
				return s, eb.ErrorDescription
			}
			return "", s
		}
	}
	if len(eb.Errors) > 0 {
		msgs := make([]string, 0, len(eb.Errors))
		for _, e := range eb.Errors {
			if m := e.message(); m != "" {
				msgs = append(msgs, m)
			}
		}
		return eb.Errors[0].code(), strings.Join(msgs, "; ")
	}
	if c, m := eb.code(), eb.message(); c != "" || m != "" {
		return c, m
	}
	switch {
	case eb.Title != "" && eb.Detail != "":
		return "", eb.Title + ": " + eb.Detail
	case eb.Title != "" || eb.Detail != "":
		return "", eb.Title + eb.Detail
	}
	return "", oneLine(trimmed, 512)
}

// scalar renders a JSON string or number as text; anything else is empty.
func scalar(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// RetryAfter parses a Retry-After header value: delay-seconds or an HTTP date (relative to now).
// Anything else, and a time in the past, is 0.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(365*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// oneLine collapses whitespace and shortens s to about n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return clip(s, n) + "…"
	}
	return s
}

// callerDone reports whether ctx (the caller's) ended; its error is then not the system's fault.
func callerDone(ctx context.Context) bool { return ctx.Err() != nil }
