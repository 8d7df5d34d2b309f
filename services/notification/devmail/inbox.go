package devmail

import (
	"html/template"
	"net/http"
	"strconv"
)

var inboxTmpl = template.Must(template.New("inbox").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Rebound dev mail</title>
<style>body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:960px;margin:24px auto;padding:0 16px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:6px 8px;border-bottom:1px solid #d0d7de;vertical-align:top}
pre{white-space:pre-wrap;background:#f6f8fa;padding:12px}iframe{width:100%;height:640px;border:1px solid #d0d7de}</style></head><body>
{{if .One}}{{with .One}}<p><a href="/dev/mail">← inbox</a></p>
<h1>{{.Subject}}</h1>
<table>{{range $k, $v := .Header}}<tr><th>{{$k}}</th><td>{{range $v}}{{.}} {{end}}</td></tr>{{end}}
<tr><th>Envelope</th><td>from {{.From}} to {{range .To}}{{.}} {{end}}{{if .TLS}}· TLS{{end}}{{with .User}} · AUTH {{.}}{{end}}</td></tr></table>
{{if .HTML}}<h2>HTML</h2><iframe src="/dev/mail/{{.ID}}/html" sandbox="allow-top-navigation-by-user-activation allow-popups"></iframe>{{end}}
<h2>Text</h2><pre>{{.Text}}</pre><p><a href="/dev/mail/{{.ID}}/raw">raw message</a></p>{{end}}
{{else}}<h1>Rebound dev mail</h1><p>Every email Rebound sent in this process (newest first).</p>
<table><tr><th>#</th><th>received</th><th>to</th><th>subject</th></tr>
{{range .All}}<tr><td>{{.ID}}</td><td>{{.Received.Format "15:04:05"}}</td><td>{{range .To}}{{.}} {{end}}</td><td><a href="/dev/mail/{{.ID}}">{{.Subject}}</a></td></tr>
{{else}}<tr><td colspan="4">No mail yet.</td></tr>{{end}}</table>{{end}}
</body></html>`))

// Register adds the inbox pages to mux: GET /dev/mail (the list), /dev/mail/{id} (one message),
// /dev/mail/{id}/html (its HTML part, as sent) and /dev/mail/{id}/raw (the whole message).
func (c *Catcher) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /dev/mail", func(w http.ResponseWriter, _ *http.Request) {
		all := c.Messages()
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		render(w, map[string]any{"All": all})
	})
	mux.HandleFunc("GET /dev/mail/{id}", func(w http.ResponseWriter, r *http.Request) {
		if m := c.byPath(w, r); m != nil {
			render(w, map[string]any{"One": m})
		}
	})
	mux.HandleFunc("GET /dev/mail/{id}/html", func(w http.ResponseWriter, r *http.Request) {
		if m := c.byPath(w, r); m != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
			_, _ = w.Write([]byte(m.HTML))
		}
	})
	mux.HandleFunc("GET /dev/mail/{id}/raw", func(w http.ResponseWriter, r *http.Request) {
		if m := c.byPath(w, r); m != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(m.Raw)
		}
	})
}

func (c *Catcher) byPath(w http.ResponseWriter, r *http.Request) *Message {
	id, err := strconv.Atoi(r.PathValue("id"))
	m := c.Message(id)
	if err != nil || m == nil {
		http.Error(w, "no such message", http.StatusNotFound)
		return nil
	}
	return m
}

func render(w http.ResponseWriter, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = inboxTmpl.Execute(w, data)
}
