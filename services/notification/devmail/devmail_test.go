package devmail_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/services/notification/devmail"
	"github.com/reboundhq/rebound/services/notification/outbound/smtp"
)

// Mail sent to the catcher over SMTP shows on the inbox page a person opens in `rebound dev`.
func TestCatcher_inboxShowsWhatArrived(t *testing.T) {
	t.Parallel()
	c, err := devmail.Start(devmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := smtp.New(smtp.Config{URL: c.URL()})
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: a@x.test\r\nTo: b@x.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nhello =E2=9C=93\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		"<p>hello</p>\r\n--b1--\r\n"
	if err := s.Send(t.Context(), "b@x.test", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	ms := c.Messages()
	if len(ms) != 1 || ms[0].Subject != "Grüße" || !strings.Contains(ms[0].Text, "hello ✓") || !strings.Contains(ms[0].HTML, "<p>hello</p>") {
		t.Fatalf("received %+v", ms)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for path, want := range map[string]string{"/dev/mail": "Grüße", "/dev/mail/1": "hello ✓", "/dev/mail/1/html": "<p>hello</p>"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d\n%s", path, res.StatusCode, b)
		}
	}
	// A server that refuses for good: the sender reports it as permanent.
	c.Fail(550, "no such user")
	if err := s.Send(t.Context(), "b@x.test", []byte(msg)); err == nil || !strings.Contains(err.Error(), "permanent") {
		t.Errorf("a 550 reply: %v; want a permanent failure", err)
	}
	// STARTTLS is required unless the URL says otherwise.
	strict, _ := smtp.New(smtp.Config{URL: "smtp://" + c.Addr()})
	if err := strict.Send(t.Context(), "b@x.test", []byte(msg)); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("a server without STARTTLS: %v; want a refusal", err)
	}
}
