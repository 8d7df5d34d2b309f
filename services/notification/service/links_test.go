package service_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/link"
)

// swapToken returns u with its token replaced.
func swapToken(u, tok string) string {
	base, _, _ := strings.Cut(u, "?")
	return base + "?t=" + url.QueryEscape(tok)
}

func tokenOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get("t")
}

// tamper changes the payload's account and keeps the signature.
func tamper(tok, from, to string) string {
	parts := strings.Split(strings.TrimPrefix(tok, "v1."), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[0])
	return "v1." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), from, to, 1))) + "." + parts[1]
}

func post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	res, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Signed links refuse tampering, expiry, use for another account and replay to another action
// with a clear 4xx page, and change nothing; a genuine link acts once through the application.
func TestLinks_refusedWhenTamperedExpiredOtherAccountOrOtherAction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.start(e.config(), serviceDeps())
	acct, other := unique("m"), unique("m")
	c := e.addContact(r, acct, contact.Settings{Email: "ops@acme.test", Frequency: freq30})
	otherC := e.addContact(r, other, contact.Settings{Email: "ops@other.test", Frequency: freq30})
	ref := alertRef(acct, "", "wms-1", "o1", "ship_method_unmapped", true)
	e.fixer.add(ref, "cart-1", "UPS_GS")
	otherRef := alertRef(other, "", "wms-1", "o1", "ship_method_unmapped", true)
	e.fixer.add(otherRef, "cart-9", "UPS_GS")
	e.needsAttention(ref)

	msgs := e.mail(c.GetEmail())
	if len(msgs) != 1 {
		t.Fatalf("%d emails", len(msgs))
	}
	ls := links(msgs[0])
	fix, dismiss := ls["map-ship-method"], ls["dismiss"]
	unsub := strings.Trim(msgs[0].Header.Get("List-Unsubscribe"), "<>")
	fixTok := tokenOf(t, fix)
	forger, err := link.NewSigner([]byte("another-secret-another-secret-0123456789"), e.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := forger.URL(link.Link{Action: link.MapShipMethod, Account: acct, Target: ref.GetAlertId(), Contact: c.GetContactId(),
		Expires: e.clock.Now().Add(time.Hour)})

	mapForm := url.Values{"wms_ship_method": {"ups_ground"}}
	cases := []struct {
		name, url string
		status    int
		says      string
	}{
		{"tampered account", swapToken(fix, tamper(fixTok, acct, other)), 403, "not valid"},
		{"tampered signature", swapToken(fix, fixTok[:len(fixTok)-2]+"AA"), 403, "not valid"},
		{"signed with another key", forged, 403, "not valid"},
		{"used for another account", strings.Replace(fix, "/links/"+acct+"/", "/links/"+other+"/", 1), 403, "another account"},
		{"replayed to another action", swapToken(dismiss, fixTok), 403, "another action"},
		{"dismiss link replayed to map", swapToken(fix, tokenOf(t, dismiss)), 403, "another action"},
		{"unsubscribe link used for another account", strings.Replace(unsub, "/links/"+acct+"/", "/links/"+other+"/", 1), 403, "another account"},
		{"malformed", swapToken(fix, "v1.%%%"), 400, "malformed"},
		{"missing token", strings.SplitN(fix, "?", 2)[0], 400, "malformed"},
		{"unknown action", strings.Replace(fix, "/map-ship-method?", "/delete-everything?", 1), 404, "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				var code int
				var body string
				if method == "GET" {
					code, body = get(t, tc.url)
				} else {
					form := url.Values{"wms_ship_method": mapForm["wms_ship_method"], "reason": {"x"}}
					if tok := tokenOf(t, tc.url); tok != "" {
						form.Set("t", tok)
					}
					code, body = post(t, strings.SplitN(tc.url, "?", 2)[0], form)
				}
				if code != tc.status || !strings.Contains(body, tc.says) {
					t.Errorf("%s: %d; want %d saying %q\n%s", method, code, tc.status, tc.says, body)
				}
				if strings.Contains(body, "UPS_GS") {
					t.Errorf("%s: a refused link shows its target", method)
				}
			}
		})
	}
	// Expired: seven days later the genuine link is refused too.
	saved := e.clock.Now()
	e.clock.set(saved.Add(7*24*time.Hour + time.Second))
	if code, body := post(t, strings.SplitN(fix, "?", 2)[0], url.Values{"t": {fixTok}, "wms_ship_method": {"x"}}); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Errorf("expired: %d\n%s", code, body)
	}
	if code, _ := post(t, unsub, url.Values{"List-Unsubscribe": {"One-Click"}}); code != http.StatusGone {
		t.Errorf("expired unsubscribe: %d", code)
	}
	e.clock.set(saved)

	// Nothing changed.
	if calls := e.fixer.Calls(); len(calls) != 0 {
		t.Fatalf("refused links acted: %v", calls)
	}
	for _, x := range []*notificationv1.Contact{c, otherC} {
		cs, _ := r.svc.App().Queries.ListContacts.Handle(t.Context(), app.ListContacts{Account: x.GetAccountId()})
		if len(cs) != 1 || cs[0].GetFrequency() != freq30 {
			t.Fatalf("contacts of %s changed: %v", x.GetAccountId(), cs)
		}
	}

	// The genuine links work: the mapping goes through the application, once per POST.
	if code, body := get(t, fix); code != 200 || !strings.Contains(body, "UPS_GS") || !strings.Contains(body, `name="wms_ship_method"`) {
		t.Fatalf("GET fix: %d\n%s", code, body)
	}
	if code, body := post(t, strings.SplitN(fix, "?", 2)[0], url.Values{"t": {fixTok}, "wms_ship_method": {""}}); code != 422 {
		t.Errorf("an empty ship method: %d; want 422\n%s", code, body)
	}
	code, body := post(t, strings.SplitN(fix, "?", 2)[0], url.Values{"t": {fixTok}, "wms_ship_method": {"ups_ground"}})
	if code != 200 || !strings.Contains(body, "now maps to") {
		t.Fatalf("POST fix: %d\n%s", code, body)
	}
	if calls := e.fixer.Calls(); len(calls) != 1 || calls[0] != "map "+acct+" cart-1 UPS_GS=ups_ground by link:"+c.GetContactId() {
		t.Errorf("fixer calls %v", calls)
	}
	// RFC 8058 one-click unsubscribe sets the contact to off.
	if code, _ := post(t, unsub, url.Values{"List-Unsubscribe": {"One-Click"}}); code != 200 {
		t.Fatalf("unsubscribe: %d", code)
	}
	cs, _ := r.svc.App().Queries.ListContacts.Handle(t.Context(), app.ListContacts{Account: acct})
	if len(cs) != 1 || cs[0].GetFrequency() != freqOff {
		t.Errorf("after unsubscribing: %v", cs)
	}
}
