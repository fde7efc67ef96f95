package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", c.home)
	m.HandleFunc("GET /static/{name}", c.staticFile)
	m.HandleFunc("GET /signin", c.signinPage)
	m.HandleFunc("POST /signin", c.signinSubmit)
	m.HandleFunc("GET /signin/link", c.linkPage)
	m.HandleFunc("POST /signin/link", c.linkSubmit)
	m.HandleFunc("POST /signout", c.authed(c.signout))
	m.HandleFunc("GET /keys", c.authed(c.keysPage))
	m.HandleFunc("GET /keys/new", c.authed(c.newKeyPage))
	m.HandleFunc("POST /keys", c.authed(c.createKey))
	m.HandleFunc("POST /keys/preview", c.authed(c.previewFragment))
	m.HandleFunc("GET /keys/{id}/rotate", c.authed(c.rotatePage))
	m.HandleFunc("POST /keys/{id}/rotate", c.authed(c.rotateKey))
	m.HandleFunc("GET /keys/{id}/revoke", c.authed(c.revokePage))
	m.HandleFunc("POST /keys/{id}/revoke", c.authed(c.revokeKey))
	m.HandleFunc("GET /logs", c.authed(c.logsPage))
	m.HandleFunc("GET /leaks", c.authed(c.leaksPage))
	m.HandleFunc("POST /leaks/{id}/roll", c.authed(c.rollKey))
	m.HandleFunc("GET /webhooks", c.authed(c.webhooksPage))
	// Other methods on a known path: a clear page, not the mux's text.
	for path, allow := range map[string]string{"/signin": "GET, POST", "/signin/link": "GET, POST", "/signout": "POST",
		"/keys": "GET, POST", "/keys/new": "GET", "/keys/preview": "POST", "/keys/{id}/rotate": "GET, POST",
		"/keys/{id}/revoke": "GET, POST", "/logs": "GET", "/leaks": "GET", "/leaks/{id}/roll": "POST", "/webhooks": "GET"} {
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			noStore(w)
			w.Header().Set("Allow", allow)
			c.errorPage(w, r, nil, http.StatusMethodNotAllowed, "Not allowed", "This page does not take "+r.Method+" requests.")
		})
	}
	m.HandleFunc("/", c.notFound)
	c.mux = m
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	c.errorPage(w, r, nil, http.StatusNotFound, "Page not found", "There is no such page in the console.")
}

// mode is the mode a request shows: ?mode= (or the form's mode), else the
// account's own.
func (c *Console) mode(r *http.Request, s *session) keyformat.Mode {
	m := keyformat.Mode(r.URL.Query().Get("mode"))
	if r.Method == http.MethodPost {
		if fm := keyformat.Mode(r.PostFormValue("mode")); fm != "" {
			m = fm
		}
	}
	if m.Valid() {
		return m
	}
	if s != nil && s.account.Mode.Valid() {
		return s.account.Mode
	}
	return keyformat.Test
}

// owner is the actor the console acts as: the account's owner, with the
// full power of a secret key of the shown mode, so the service applies
// the same rules as for a call with such a key.
func owner(s *session, m keyformat.Mode) *keystore.Key {
	return &keystore.Key{AccountID: s.account.ID, Type: keyformat.Secret, Mode: m}
}

func (c *Console) basePage(r *http.Request, s *session, title, nav string) page {
	m := c.mode(r, s)
	sw := r.URL.Path
	if r.Method != http.MethodGet || (sw != "/"+nav && sw != "/keys/new") {
		// A page about one key (or a form's answer) has no twin in the
		// other mode: the switch leads to the section's list.
		sw = "/" + nav
	} else {
		q := r.URL.Query()
		q.Del("mode")
		q.Del("after") // pages of one mode mean nothing in the other
		if len(q) > 0 {
			sw += "?" + q.Encode()
		}
	}
	return page{Title: title, Nav: nav, Account: &s.account, Mode: m, CSRF: s.csrf(), ModeSwitch: sw}
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(keyformat.IsBase62(c) || c == '_') {
			return false
		}
	}
	return true
}

// ---- API keys ----

// keyView is a key as the pages show it; it never holds the secret.
type keyView struct {
	ID            string
	Name          string
	Type          string
	Mode          string
	Scopes        []string
	AllowedIPs    []string
	Redacted      string
	Status        string
	CreatedAt     time.Time
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	RevokedReason string
	LastUsedAt    *time.Time
	LastUsedIP    string
	Key           keystore.Key
}

func (c *Console) view(k keystore.Key) keyView {
	v := keyView{ID: k.ID, Name: k.Name, Type: string(k.Type), Mode: string(k.Mode), Redacted: k.Redacted(),
		Status: string(k.Status(c.svc.Now())), CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt,
		LastUsedAt: k.LastUsedAt, LastUsedIP: k.LastUsedIP, Key: k}
	if k.Type == keyformat.Restricted {
		v.Scopes = k.Scopes
	}
	for _, p := range k.AllowedIPs {
		v.AllowedIPs = append(v.AllowedIPs, prefixText(p))
	}
	if k.RevokedAt != nil {
		v.RevokedReason = string(k.RevokedReason)
	}
	return v
}

type keysData struct {
	Keys    []keyView
	Now     time.Time
	Next    string // id to start the next page after, "" if last
	Paged   bool   // not the first page
	Created string // flash after revoking
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := c.basePage(r, s, "API keys", "keys")
	pg := keystore.Page{Limit: KeysPerPage}
	if after := r.URL.Query().Get("after"); after != "" {
		if !validID(after) {
			c.errorPage(w, r, s, http.StatusBadRequest, "Not found", "That page of keys does not exist.")
			return
		}
		pg.StartingAfter = after
	}
	keys, more, err := c.svc.ListKeys(r.Context(), owner(s, p.Mode), s.account.ID, pg)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := keysData{Now: c.svc.Now(), Paged: pg.StartingAfter != ""}
	for _, k := range keys {
		d.Keys = append(d.Keys, c.view(k))
	}
	if more && len(keys) > 0 {
		d.Next = keys[len(keys)-1].ID
	}
	switch {
	case r.URL.Query().Has("revoked"):
		p.Notice = "The key was revoked. Requests made with it are refused from now on."
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "keys", p)
}

// keyForm is the new-key form as filled.
type keyForm struct {
	Mode        keyformat.Mode
	Type        keyformat.KeyType
	Name        string
	Perms       []permRow
	AllowedIPs  string
	Referrers   string
	Preview     preview
	FieldErrors map[string]string
}

type permRow struct {
	Resource string
	Label    string
	Level    string // "none", "read", "write"
}

func (c *Console) readKeyForm(r *http.Request, m keyformat.Mode) keyForm {
	get := r.FormValue
	f := keyForm{Mode: m, Type: keyformat.KeyType(get("type")), Name: strings.TrimSpace(get("name")),
		AllowedIPs: get("allowed_ips"), Referrers: get("allowed_referrers")}
	if !f.Type.Valid() {
		f.Type = keyformat.Secret
	}
	for _, res := range c.svc.Resources() {
		lvl := get("perm_" + res)
		if lvl != "read" && lvl != "write" {
			lvl = "none"
		}
		f.Perms = append(f.Perms, permRow{Resource: res, Label: resourceLabel(res), Level: lvl})
	}
	f.Preview = c.preview(f.Type, f.scopes(), splitList(f.AllowedIPs), f.Mode)
	return f
}

func (f keyForm) scopes() []string {
	if f.Type != keyformat.Restricted {
		return nil
	}
	var out []string
	for _, p := range f.Perms {
		if p.Level != "none" {
			out = append(out, p.Resource+":"+p.Level)
		}
	}
	return out
}

// splitList splits a textarea of items by lines, commas or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
}

func resourceLabel(res string) string {
	switch res {
	case keystore.ResourceAccount:
		return "Account"
	case keystore.ResourceAPIKeys:
		return "API keys"
	case keystore.ResourceAPILogs:
		return "API logs"
	case keystore.ResourceLeaks:
		return "Leaks"
	}
	l := strings.ReplaceAll(res, "_", " ")
	return strings.ToUpper(l[:1]) + l[1:]
}

func (c *Console) newKeyPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := c.basePage(r, s, "API keys", "keys")
	p.Data = c.readKeyForm(r, p.Mode)
	c.render(w, r, http.StatusOK, "newkey", p)
}

func (c *Console) previewFragment(w http.ResponseWriter, r *http.Request, s *session) {
	f := c.readKeyForm(r, c.mode(r, s))
	c.render(w, r, http.StatusOK, "preview", page{Data: f})
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	p := c.basePage(r, s, "API keys", "keys")
	f := c.readKeyForm(r, p.Mode)
	p.Data = f
	if r.PostFormValue("action") != "create" {
		// "Update preview", the form's default button without JavaScript.
		c.render(w, r, http.StatusOK, "newkey", p)
		return
	}
	if strings.TrimSpace(f.Referrers) != "" && f.Type != keyformat.Publishable {
		p.Error = "Allowed referrers apply to publishable keys only."
		c.render(w, r, http.StatusBadRequest, "newkey", p)
		return
	}
	req := keystore.KeyRequest{Name: f.Name, Type: f.Type, Mode: f.Mode, Scopes: f.scopes(),
		AllowedIPs: splitList(f.AllowedIPs), AllowedReferrers: splitList(f.Referrers)}
	if f.Type == keyformat.Restricted && len(req.Scopes) == 0 {
		p.Error = "Give a restricted key Read or Write on at least one resource."
		c.render(w, r, http.StatusBadRequest, "newkey", p)
		return
	}
	nk, err := c.svc.CreateKey(r.Context(), owner(s, f.Mode), s.account.ID, req)
	if err != nil {
		if msg, ok := userMessage(err); ok {
			p.Error = msg
			c.render(w, r, http.StatusBadRequest, "newkey", p)
			return
		}
		c.fail(w, r, s, err)
		return
	}
	c.showSecret(w, r, s, p, nk, "Your new key", "")
}

// userMessage is a refusal's message for the form (bad input, not trouble).
func userMessage(err error) (string, bool) {
	ue, ok := err.(*keystore.Error)
	if !ok || ue.Kind == keystore.ErrNotFound {
		return "", false
	}
	return ue.Message, true
}

type secretData struct {
	Heading string
	Note    string
	Key     keyView
	Secret  string
}

// showSecret is the one answer that holds a plaintext key. It is never
// stored or cached, and the page links back instead of redirecting, so the
// secret is in no URL and no other page.
func (c *Console) showSecret(w http.ResponseWriter, r *http.Request, s *session, p page, nk keystore.NewKey, heading, note string) {
	noStore(w)
	w.Header().Set("Pragma", "no-cache")
	p.Mode = nk.Key.Mode
	p.ModeSwitch = "/keys"
	p.Data = secretData{Heading: heading, Note: note, Key: c.view(nk.Key), Secret: nk.Secret}
	c.render(w, r, http.StatusOK, "secret", p)
}

type keyActionData struct {
	Key     keyView
	Options []overlapOption
}

type overlapOption struct {
	Seconds int64
	Label   string
	Checked bool
}

// rotateOverlaps are the choices of how long the old key keeps working.
var rotateOverlaps = []overlapOption{
	{0, "Now (the old key stops working at once)", false},
	{3600, "In 1 hour", false},
	{86400, "In 24 hours", true},
	{604800, "In 7 days", false},
}

func (c *Console) keyFor(w http.ResponseWriter, r *http.Request, s *session) (keystore.Key, bool) {
	id := r.PathValue("id")
	if !validID(id) {
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", "There is no such API key in your account.")
		return keystore.Key{}, false
	}
	k, err := c.svc.GetKey(r.Context(), nil, s.account.ID, id)
	if err != nil {
		c.fail(w, r, s, err)
		return keystore.Key{}, false
	}
	return k, true
}

func (c *Console) rotatePage(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := c.keyFor(w, r, s)
	if !ok {
		return
	}
	p := c.basePage(r, s, "API keys", "keys")
	p.Mode = k.Mode
	p.Data = keyActionData{Key: c.view(k), Options: rotateOverlaps}
	c.render(w, r, http.StatusOK, "rotate", p)
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := c.keyFor(w, r, s)
	if !ok {
		return
	}
	p := c.basePage(r, s, "API keys", "keys")
	p.Mode = k.Mode
	secs, err := strconv.ParseInt(r.PostFormValue("expires_in_seconds"), 10, 64)
	if err != nil || !slices.ContainsFunc(rotateOverlaps, func(o overlapOption) bool { return o.Seconds == secs }) {
		p.Error = "Choose when the old key stops working."
		p.Data = keyActionData{Key: c.view(k), Options: rotateOverlaps}
		c.render(w, r, http.StatusBadRequest, "rotate", p)
		return
	}
	d := time.Duration(secs) * time.Second
	_, nk, err := c.svc.RotateKey(r.Context(), owner(s, k.Mode), s.account.ID, k.ID, &d)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	note := "The old key " + k.Redacted() + " stopped working."
	if secs > 0 {
		note = "The old key " + k.Redacted() + " keeps working until " + when(nk.Key.CreatedAt.Add(d)) + "."
	}
	c.showSecret(w, r, s, p, nk, "Key rotated", note)
}

func (c *Console) revokePage(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := c.keyFor(w, r, s)
	if !ok {
		return
	}
	p := c.basePage(r, s, "API keys", "keys")
	p.Mode = k.Mode
	p.Data = keyActionData{Key: c.view(k)}
	c.render(w, r, http.StatusOK, "revoke", p)
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := c.keyFor(w, r, s)
	if !ok {
		return
	}
	if _, err := c.svc.RevokeKey(r.Context(), owner(s, k.Mode), s.account.ID, k.ID); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/keys?"+url.Values{"mode": {string(k.Mode)}, "revoked": {k.ID}}.Encode(), http.StatusSeeOther)
}
