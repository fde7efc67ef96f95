package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/notifier"
)

//go:embed templates/*.html templates/*.txt
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what every template sees.
type page struct {
	Title   string // the page's heading and <title>
	Nav     string // "keys", "logs", "leaks"
	Account *keystore.Account
	Mode    keyformat.Mode
	CSRF    string
	Notice  string // a success message
	Error   string // a problem, shown above the content
	// ModeSwitch is the current page's URL without its mode, for the
	// "Test mode" / "Live mode" switch.
	ModeSwitch string
	Data       any
	// Page names the template (body[data-page]), for tests and styles.
	Page string
}

type views struct {
	pages  map[string]*template.Template
	assets map[string]asset // by name, e.g. "console.css"
	mail   *texttemplate.Template
	mailH  *template.Template
}

type asset struct {
	body  []byte
	ctype string
	ver   string // short content hash, for cache busting
}

var pageNames = []string{"signin", "link", "error", "keys", "newkey", "secret", "rotate", "revoke", "logs", "leaks", "webhooks", "preview"}

func loadViews() (*views, error) {
	v := &views{pages: map[string]*template.Template{}, assets: map[string]asset{}}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := "application/octet-stream"
		switch path.Ext(p) {
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		v.assets[p] = asset{body: b, ctype: ct, ver: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	funcs := template.FuncMap{
		"asset": func(name string) string {
			a, ok := v.assets[name]
			if !ok {
				panic("console: no asset " + name) // a template bug, caught by tests
			}
			return "/static/" + name + "?v=" + a.ver
		},
		"when":      when,
		"ago":       ago,
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"modeName":  modeName,
		"typeName":  typeName,
		"statusTag": statusTag,
		"join":      strings.Join,
		"withMode":  withMode,
		"deref": func(t *time.Time) time.Time {
			if t == nil {
				return time.Time{}
			}
			return *t
		},
		"list": func() []string { return []string{"200", "400", "401", "403", "404", "429"} },
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		v.pages[name] = t
	}
	if v.mail, err = texttemplate.ParseFS(templateFS, "templates/signin_mail.txt"); err != nil {
		return nil, fmt.Errorf("console mail template: %w", err)
	}
	if v.mailH, err = template.ParseFS(templateFS, "templates/signin_mail.html"); err != nil {
		return nil, fmt.Errorf("console mail template: %w", err)
	}
	return v, nil
}

func (v *views) signinMail(a keystore.Account, link string, ttl time.Duration) (notifier.Mail, error) {
	d := struct {
		Email, AccountID, Link string
		Minutes                int
	}{a.Email, a.ID, link, int(ttl / time.Minute)}
	var t, h bytes.Buffer
	if err := v.mail.Execute(&t, d); err != nil {
		return notifier.Mail{}, err
	}
	if err := v.mailH.Execute(&h, d); err != nil {
		return notifier.Mail{}, err
	}
	return notifier.Mail{To: a.Email, Subject: "Your leakguard console sign-in link", Text: t.String(), HTML: h.String()}, nil
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// render writes a page, buffered so that a template error is a clean 500
// rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := c.views.pages[name]
	p.Page = name
	var b bytes.Buffer
	tmpl := "layout.html"
	if name == "preview" {
		tmpl = "preview"
	}
	if err := t.ExecuteTemplate(&b, tmpl, p); err != nil {
		c.log.Error("render console page", "page", name, "err", err)
		if name != "error" {
			c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again.")
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		noStore(w)
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

type errorData struct {
	Message string
	Back    string
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, title, msg string) {
	p := page{Title: title, Data: errorData{Message: msg}}
	if s != nil {
		p.Account = &s.account
		p.CSRF = s.csrf()
		p.Mode = c.mode(r, s)
	}
	c.render(w, r, status, "error", p)
}

// fail answers an error of the key service or the store.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ue *keystore.Error
	switch {
	case errors.As(err, &ue) && errors.Is(ue.Kind, keystore.ErrNotFound):
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", ue.Message)
	case errors.As(err, &ue):
		c.errorPage(w, r, s, http.StatusBadRequest, "Not done", ue.Message)
	case errors.Is(err, keystore.ErrNotFound):
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", "There is no such item in your account.")
	case errors.Is(err, keystore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		c.log.Warn("console: store unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		c.errorPage(w, r, s, http.StatusServiceUnavailable, "Temporarily unavailable", "The key service is temporarily unavailable. Nothing was changed; try again in a moment.")
	case errors.Is(err, context.Canceled):
		// the browser went away
	default:
		c.log.Error("console request failed", "path", r.URL.Path, "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again.")
	}
}

func (c *Console) staticFile(w http.ResponseWriter, r *http.Request) {
	a, ok := c.views.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	if r.URL.Query().Get("v") == a.ver {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(a.body)
}

// ---- template helpers ----

const timeLayout = "2006-01-02 15:04 UTC"

func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format(timeLayout)
	case *time.Time:
		if v == nil {
			return "—"
		}
		return v.UTC().Format(timeLayout)
	}
	return ""
}

func ago(now time.Time, t *time.Time) string {
	if t == nil {
		return "Never"
	}
	d := now.Sub(*t)
	switch {
	case d < time.Minute:
		return "Just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func modeName(m keyformat.Mode) string {
	if m == keyformat.Live {
		return "Live mode"
	}
	return "Test mode"
}

func typeName(t keyformat.KeyType) string {
	switch t {
	case keyformat.Secret:
		return "Secret"
	case keyformat.Restricted:
		return "Restricted"
	case keyformat.Publishable:
		return "Publishable"
	}
	return string(t)
}

// statusTag is a key status's badge class.
func statusTag(st string) string {
	switch st {
	case "active":
		return "ok"
	case "expiring":
		return "warn"
	}
	return "bad"
}

// withMode sets mode in a console URL.
func withMode(u string, m keyformat.Mode) string {
	p, err := url.Parse(u)
	if err != nil {
		return "/keys?mode=" + string(m)
	}
	q := p.Query()
	q.Set("mode", string(m))
	p.RawQuery = q.Encode()
	return p.String()
}
