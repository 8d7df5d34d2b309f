// Package pages serves the pages behind the signed links of notification emails:
//
//	GET  /links/{account}/{action}?t=<token>   shows what the link acts on, and a form
//	POST /links/{account}/{action}             performs the action (token in the form or query)
//
// Actions: map-ship-method (and release every order held on it), correct-address, resend,
// dismiss, unsubscribe. A GET never changes anything (mail scanners open links); the POST does,
// through the application's commands (app.FixHandler), the same ones gRPC clients use. A POST of
// "List-Unsubscribe=One-Click" to an unsubscribe link is RFC 8058's one-click unsubscribe.
//
// The link alone authenticates a page, and only for its account, target and action: a tampered
// (403), expired (410), malformed (400), other-account or other-action (403) link gets an error
// page and changes nothing. Pages are server-rendered with html/template (auto-escaping), no
// JavaScript, and sent with a strict Content-Security-Policy, no-referrer and no-store.
package pages

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/link"
)

//go:embed templates/*.tmpl
var files embed.FS

var tmpl = template.Must(template.ParseFS(files, "templates/pages.html.tmpl"))

// Pages serves the link pages. It is safe for concurrent use.
type Pages struct {
	app *app.Application
	log *slog.Logger
}

// New returns the pages over a.
func New(a *app.Application, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pages{app: a, log: log}
}

// Register adds the pages to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /links/{account}/{action}", p.get)
	mux.HandleFunc("POST /links/{account}/{action}", p.post)
}

type input struct {
	WMSShipMethod string
	Reason        string
}

type view struct {
	Title, Error, Done, Token, Action, Kind, Expires, Status, RecordRef string
	Page                                                                *app.LinkPage
	Address                                                             *ordersv1.Address
	Input                                                               input
}

var titles = map[link.Action]string{
	link.MapShipMethod: "Map a ship method", link.CorrectAddress: "Correct an address", link.Resend: "Send a record again",
	link.Dismiss: "Dismiss an alert", link.Unsubscribe: "Unsubscribe from alert emails",
}

func (p *Pages) get(w http.ResponseWriter, r *http.Request) {
	action := link.Action(r.PathValue("action"))
	v := view{Title: titles[action], Token: r.URL.Query().Get("t"), Action: r.URL.Path, Kind: string(action)}
	if !action.Valid() {
		p.render(w, http.StatusNotFound, view{Title: "Unknown link", Error: "This page does not exist."})
		return
	}
	page, err := p.app.Queries.OpenLink.Handle(r.Context(), app.OpenLink{Token: v.Token, Account: r.PathValue("account"), Action: action})
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.fill(page)
	p.render(w, http.StatusOK, v)
}

func (p *Pages) post(w http.ResponseWriter, r *http.Request) {
	action := link.Action(r.PathValue("action"))
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, view{Title: "Bad request", Error: "The form could not be read."})
		return
	}
	v := view{Title: titles[action], Token: r.FormValue("t"), Action: r.URL.Path, Kind: string(action),
		Input: input{WMSShipMethod: r.PostFormValue("wms_ship_method"), Reason: r.PostFormValue("reason")}}
	if !action.Valid() {
		p.render(w, http.StatusNotFound, view{Title: "Unknown link", Error: "This page does not exist."})
		return
	}
	cmd := app.Fix{OpenLink: app.OpenLink{Token: v.Token, Account: r.PathValue("account"), Action: action},
		WMSShipMethod: v.Input.WMSShipMethod, Reason: v.Input.Reason}
	if action == link.CorrectAddress {
		f := r.PostFormValue
		cmd.Address = &ordersv1.Address{Name: f("name"), Company: f("company"), Address1: f("address1"), Address2: f("address2"),
			City: f("city"), Region: f("region"), PostalCode: f("postal_code"), CountryCode: strings.ToUpper(f("country_code")),
			Phone: f("phone")}
		v.Address = cmd.Address
	}
	res, err := p.app.Commands.Fix.Handle(r.Context(), cmd)
	if err != nil {
		if errors.Is(err, events.ErrInvalidArgument) || errors.Is(err, app.ErrRefused) {
			// Show the form again with what was entered.
			if page, perr := p.app.Queries.OpenLink.Handle(r.Context(), cmd.OpenLink); perr == nil {
				addr := v.Address
				v.fill(page)
				if addr != nil {
					v.Address = addr
				}
			}
		}
		p.fail(w, r, v, err)
		return
	}
	v.fill(res.Page)
	v.Done = res.Done
	p.render(w, http.StatusOK, v)
}

func (v *view) fill(page *app.LinkPage) {
	v.Page = page
	v.Expires = page.Link.Expires.Format(time.RFC1123)
	if a := page.Alert; a != nil {
		v.Status = strings.ToLower(strings.TrimPrefix(a.GetStatus().String(), "ALERT_STATUS_"))
		v.RecordRef = recordRef(a)
	}
	if v.Address == nil && page.Order != nil {
		v.Address = page.Order.GetShipTo()
		if v.Address == nil {
			v.Address = &ordersv1.Address{}
		}
	}
}

func recordRef(a *alertsv1.Alert) string {
	r := a.GetRecord()
	switch {
	case r.GetOrderNumber() != "":
		return "order " + r.GetOrderNumber()
	case r.GetSku() != "":
		return "SKU " + r.GetSku()
	}
	return r.GetRecordId()
}

// fail renders the error page for err with its status.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, v view, err error) {
	code, msg := http.StatusBadGateway, "Something went wrong on our side; nothing was changed. Please try again in a minute."
	switch {
	case errors.Is(err, link.ErrMalformed):
		code, msg = http.StatusBadRequest, "This link is malformed. Open it again from the email, without changing it."
	case errors.Is(err, link.ErrSignature):
		code, msg = http.StatusForbidden, "This link is not valid: it was changed or not made by Rebound. Nothing was changed."
	case errors.Is(err, link.ErrWrongAccount):
		code, msg = http.StatusForbidden, "This link belongs to another account. Nothing was changed."
	case errors.Is(err, link.ErrWrongAction):
		code, msg = http.StatusForbidden, "This link is for another action. Nothing was changed."
	case errors.Is(err, link.ErrExpired):
		code, msg = http.StatusGone, "This link has expired. Newer emails carry fresh links."
	case errors.Is(err, events.ErrNotFound):
		code, msg = http.StatusNotFound, "What this link points to no longer exists."
	case errors.Is(err, events.ErrInvalidArgument):
		code, msg = http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, app.ErrRefused):
		code, msg = http.StatusConflict, err.Error()
	case errors.Is(err, app.ErrNoFixer):
		code, msg = http.StatusServiceUnavailable, "This Rebound installation cannot perform this action."
	}
	if code >= 500 {
		p.log.Error("link page failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	} else {
		p.log.Info("link page refused", slog.String("path", r.URL.Path), slog.Int("status", code), slog.Any("error", err))
	}
	if code == http.StatusBadRequest || code == http.StatusForbidden || code == http.StatusGone || code == http.StatusNotFound {
		v.Page = nil // show nothing of the target
	}
	v.Error = msg
	p.render(w, code, v)
}

func (p *Pages) render(w http.ResponseWriter, code int, v view) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	if v.Title == "" {
		v.Title = "Rebound"
	}
	w.WriteHeader(code)
	if err := tmpl.ExecuteTemplate(w, "layout", v); err != nil {
		p.log.Error("rendering a link page", slog.Any("error", err))
	}
}
