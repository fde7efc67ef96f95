package notifier

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// Email is a rendered leak notice.
type Email struct {
	Subject string
	Text    string
	HTML    string
}

// view is what the templates see. Every string in it comes from the store
// (hash-free, plaintext-free) or from a public page, so the HTML template
// escapes it all.
type view struct {
	Redacted   string
	KeyName    string
	KeyID      string
	KeyType    string
	Mode       string
	Revoked    bool // revoked now, because of this exposure
	StateLine  string
	Source     string
	URL        string
	URLLabel   string // what URL is: "URL", "Tarball", "Blob", "Paste"
	Page       string // the public web page, when not URL itself
	Package    string // name@version of an npm package
	RepoLabel  string
	CommitLbl  string
	Repository string
	Commit     string
	Path       string
	Line       int
	Layer      string
	Rule       string
	FoundAt    string
	RevokedAt  string
	IncidentID string
	Activity   *activityView
	Since      string
	LeaksURL   string // the console's Leaks page, "" when unknown
}

// activityView is the key's activity as the message words it.
type activityView struct {
	keystore.Activity
	From, Until string
	// Familiar says what "new to this key" was measured against.
	Familiar  string
	Volume    string // the unusual-volume verdict, with its numbers
	Resources []keystore.ResourceActivity
}

func newActivityView(a *keystore.Activity) *activityView {
	if a == nil {
		return nil
	}
	v := &activityView{Activity: *a, From: a.From.UTC().Format(timeLayout), Until: "now", Resources: a.Resources}
	if !a.Until.IsZero() {
		v.Until = a.Until.UTC().Format(timeLayout)
	}
	if a.BaselineSince != nil && a.BaselineSince.Before(a.From) {
		v.Familiar = fmt.Sprintf("an address is new when this key's first recorded use from it is on or after %s; "+
			"compared with the addresses this key used since %s (an address idle for 30 days is forgotten)",
			v.From, a.BaselineSince.UTC().Format(timeLayout))
	} else {
		v.Familiar = fmt.Sprintf("this key has no recorded use before %s, so every address that used it since counts as new", v.From)
	}
	recentDays := int((keystore.ActivityWindow - keystore.ActivityRecent) / (24 * time.Hour))
	rule := fmt.Sprintf("unusual means at least %d list calls in a day, and more than %d times the key's average day over the %d days before",
		keystore.UnusualMin, keystore.UnusualFactor, recentDays)
	verdict := "no"
	if a.UnusualVolume {
		verdict = "YES"
	}
	v.Volume = fmt.Sprintf("%s: list calls peaked at %d in a day in the last %d days before it was found and since, against %.1f a day before (%s)",
		verdict, a.ListPeak, int(keystore.ActivityRecent/(24*time.Hour)), a.ListBaseline, rule)
	if a.Partial {
		v.Volume += fmt.Sprintf("; counted over the newest %d requests only", keystore.MaxActivityEntries)
	}
	return v
}

const timeLayout = "2006-01-02 15:04:05 MST"

// sourceName is how a source is shown to people.
func sourceName(s string) string {
	switch s {
	case leakguard.SourceGitHub:
		return "GitHub (public commits)"
	case leakguard.SourceGists:
		return "GitHub Gists"
	case leakguard.SourceNPM:
		return "npm (published package)"
	case leakguard.SourceDockerHub:
		return "Docker Hub (public image)"
	case leakguard.SourcePastebin:
		return "Pastebin"
	case leakguard.SourceGitHubScanning:
		return "GitHub secret scanning"
	}
	return s
}

func keyTypeName(t keyformat.KeyType) string {
	switch t {
	case keyformat.Secret:
		return "secret key"
	case keyformat.Restricted:
		return "restricted key"
	case keyformat.Publishable:
		return "publishable key"
	}
	return "API key"
}

// oneLine strips what must not reach a header: line breaks and other
// control characters (a key name is user input).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func newView(msg Message) view {
	n := msg.Notice
	in, k := n.Incident, n.Key
	redacted := in.Redacted
	if redacted == "" {
		redacted = k.Redacted()
	}
	v := view{
		Redacted: redacted, KeyName: oneLine(k.Name), KeyID: k.ID, KeyType: keyTypeName(k.Type),
		Mode: string(k.Mode), Revoked: in.Action == keystore.OutcomeRevoked,
		Source: sourceName(in.Source), URL: in.Location.URL, Repository: in.Location.Repository,
		Commit: in.Location.Commit, Path: in.Location.Path, Line: in.Location.Line, Layer: in.Location.Layer,
		Rule: in.Rule, FoundAt: in.FirstSeenAt.UTC().Format(timeLayout), IncidentID: in.ID,
		Activity: newActivityView(msg.Activity), Since: in.FirstSeenAt.UTC().Format(timeLayout),
		LeaksURL: LeaksURL(msg.ConsoleURL, k.Mode),
	}
	v.URLLabel, v.RepoLabel, v.CommitLbl = "URL", "Repository", "Commit"
	switch in.Source {
	case leakguard.SourceNPM:
		v.URLLabel, v.RepoLabel, v.CommitLbl = "Tarball", "Package", "Version"
		if l := in.Location; l.Repository != "" && l.Commit != "" {
			v.Package = l.Repository + "@" + l.Commit
		}
	case leakguard.SourceDockerHub:
		v.URLLabel, v.RepoLabel, v.CommitLbl = "Blob", "Image", "Manifest"
	case leakguard.SourcePastebin:
		v.URLLabel = "Paste"
	case leakguard.SourceGists:
		v.RepoLabel = "Gist"
	}
	v.Page = PublicPage(in.Source, in.Location)
	revokedAt := in.RevokedAt
	if revokedAt == nil {
		revokedAt = k.RevokedAt
	}
	if revokedAt != nil {
		v.RevokedAt = revokedAt.UTC().Format(timeLayout)
	}
	switch {
	case v.Revoked:
		v.StateLine = fmt.Sprintf("We revoked it at %s. It no longer works: every request made with it is refused.", v.RevokedAt)
	case k.RevokedAt != nil:
		v.StateLine = fmt.Sprintf("It had already been revoked (%s) at %s, before it was found, so it did not work for whoever found it.",
			k.RevokedReason, v.RevokedAt)
	case k.ExpiresAt != nil:
		v.StateLine = fmt.Sprintf("It had already expired at %s, before it was found, so it did not work for whoever found it.",
			k.ExpiresAt.UTC().Format(timeLayout))
	default:
		v.StateLine = "It was already inactive when it was found."
	}
	return v
}

// Subject is the subject line of a notice's email.
func Subject(msg Message) string {
	v := newView(msg)
	name := ""
	if v.KeyName != "" {
		name = fmt.Sprintf(" (%q)", v.KeyName)
	}
	if v.Revoked {
		return fmt.Sprintf("Your API key %s%s was found in public and has been revoked", v.Redacted, name)
	}
	return fmt.Sprintf("Your API key %s%s was found in public; it was already inactive", v.Redacted, name)
}

// Render renders the email of a notice: subject, plain text and HTML.
func Render(msg Message) (Email, error) {
	v := newView(msg)
	var text, html bytes.Buffer
	if err := textBody.Execute(&text, v); err != nil {
		return Email{}, fmt.Errorf("render text of notice %s: %w", msg.Notice.ID, err)
	}
	if err := htmlBody.Execute(&html, v); err != nil {
		return Email{}, fmt.Errorf("render html of notice %s: %w", msg.Notice.ID, err)
	}
	return Email{Subject: Subject(msg), Text: text.String(), HTML: html.String()}, nil
}

var textBody = texttemplate.Must(texttemplate.New("text").Funcs(texttemplate.FuncMap{"join": strings.Join}).Parse(`Hello,

We found your {{.KeyType}} {{.Redacted}}{{if .KeyName}} ("{{.KeyName}}"){{end}} in public.
{{.StateLine}}

Where it was found
  Source:      {{.Source}}
  {{printf "%-12s" (print .URLLabel ":")}} {{.URL}}
{{- if .Page}}
  Web page:    {{.Page}}{{end}}
{{- if .Package}}
  Package:     {{.Package}}{{else}}
{{- if .Repository}}
  {{printf "%-12s" (print .RepoLabel ":")}} {{.Repository}}{{end}}
{{- if .Commit}}
  {{printf "%-12s" (print .CommitLbl ":")}} {{.Commit}}{{end}}{{end}}
{{- if .Path}}
  File:        {{.Path}}{{end}}
{{- if .Line}}
  Line:        {{.Line}}{{end}}
{{- if .Layer}}
  Image layer: {{.Layer}}{{end}}
  Detected by: {{.Rule}}
  Found at:    {{.FoundAt}}
{{- if .RevokedAt}}
  Revoked at:  {{.RevokedAt}}{{end}}

What to do next
{{- if .LeaksURL}}
  Sign in to your console to roll a replacement key in one step (a sign-in
  link is emailed to this address; no key needed):
  {{.LeaksURL}}
{{- end}}
  1. Create a new key (POST /v1/api-keys, or: leakguard keys create) and use it
     wherever the old one was used{{if not .Revoked}}, if you have not already{{end}}.
  2. Update every integration, deployment and CI secret that held the old key.
  3. Review your API logs (GET /v1/api-logs?key_id={{.KeyID}}) for requests you
     do not recognise.
  4. Remove the key from where it was published, including the history of the
     repository or package: it stays visible in old commits and versions.

API activity with this key, 30 days before it was found ({{.Since}}) and since
{{- if .Activity}}
  Window:      {{.Activity.From}} to {{.Activity.Until}}
  Requests:    {{.Activity.Before}} in the 30 days before, {{.Activity.Requests}} since
{{- if .Activity.Resources}}
  By resource:{{range .Activity.Resources}}
    {{.Resource}}: {{.Before}} before, {{.Since}} since{{end}}
{{- end}}
  Addresses new to this key: {{if .Activity.NewIPs}}{{join .Activity.NewIPs ", "}}{{else}}none{{end}}
    ({{.Activity.Familiar}})
{{- if .RevokedAt}}
  Refused attempts after the revocation: {{.Activity.RefusedAfterRevocation}}
{{- end}}
  Unusual volume: {{.Activity.Volume}}
{{- else}}
  Not available right now: check your API logs.
{{- end}}

Incident {{.IncidentID}}, key {{.KeyID}} ({{.Mode}} mode).
-- 
leakguard
`))

var htmlBody = htmltemplate.Must(htmltemplate.New("html").Funcs(htmltemplate.FuncMap{"join": strings.Join}).Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif; line-height: 1.4">
<p>Hello,</p>
<p>We found your {{.KeyType}} <code>{{.Redacted}}</code>{{if .KeyName}} (&ldquo;{{.KeyName}}&rdquo;){{end}} in public.
<strong>{{.StateLine}}</strong></p>
<h3>Where it was found</h3>
<table cellpadding="3">
<tr><td>Source</td><td>{{.Source}}</td></tr>
<tr><td>{{.URLLabel}}</td><td><a href="{{.URL}}">{{.URL}}</a></td></tr>
{{if .Page}}<tr><td>Web page</td><td><a href="{{.Page}}">{{.Page}}</a></td></tr>{{end}}
{{if .Package}}<tr><td>Package</td><td><code>{{.Package}}</code></td></tr>{{else}}
{{if .Repository}}<tr><td>{{.RepoLabel}}</td><td>{{.Repository}}</td></tr>{{end}}
{{if .Commit}}<tr><td>{{.CommitLbl}}</td><td><code>{{.Commit}}</code></td></tr>{{end}}{{end}}
{{if .Path}}<tr><td>File</td><td><code>{{.Path}}</code></td></tr>{{end}}
{{if .Line}}<tr><td>Line</td><td>{{.Line}}</td></tr>{{end}}
{{if .Layer}}<tr><td>Image layer</td><td><code>{{.Layer}}</code></td></tr>{{end}}
<tr><td>Detected by</td><td>{{.Rule}}</td></tr>
<tr><td>Found at</td><td>{{.FoundAt}}</td></tr>
{{if .RevokedAt}}<tr><td>Revoked at</td><td>{{.RevokedAt}}</td></tr>{{end}}
</table>
<h3>What to do next</h3>
{{if .LeaksURL}}<p><a href="{{.LeaksURL}}">Open the Leaks page of your console</a> to roll a replacement key in one step (sign in with a link emailed to this address; no key needed).</p>{{end}}
<ol>
<li>Create a new key (<code>POST /v1/api-keys</code>, or <code>leakguard keys create</code>) and use it wherever the old one was used{{if not .Revoked}}, if you have not already{{end}}.</li>
<li>Update every integration, deployment and CI secret that held the old key.</li>
<li>Review your API logs (<code>GET /v1/api-logs?key_id={{.KeyID}}</code>) for requests you do not recognise.</li>
<li>Remove the key from where it was published, including the history of the repository or package: it stays visible in old commits and versions.</li>
</ol>
<h3>API activity with this key, 30 days before it was found ({{.Since}}) and since</h3>
{{if .Activity}}<p>Window: {{.Activity.From}} to {{.Activity.Until}}<br>
Requests: {{.Activity.Before}} in the 30 days before, {{.Activity.Requests}} since</p>
{{if .Activity.Resources}}<table cellpadding="3"><tr><th align="left">Resource</th><th>Before</th><th>Since</th></tr>
{{range .Activity.Resources}}<tr><td>{{.Resource}}</td><td align="right">{{.Before}}</td><td align="right">{{.Since}}</td></tr>
{{end}}</table>{{end}}
<p>Addresses new to this key: {{if .Activity.NewIPs}}{{join .Activity.NewIPs ", "}}{{else}}none{{end}}<br>
<small>({{.Activity.Familiar}})</small></p>
{{if .RevokedAt}}<p>Refused attempts after the revocation: {{.Activity.RefusedAfterRevocation}}</p>{{end}}
<p>Unusual volume: {{.Activity.Volume}}</p>
{{else}}<p>Not available right now: check your API logs.</p>{{end}}
<p style="color: #666">Incident {{.IncidentID}}, key {{.KeyID}} ({{.Mode}} mode).</p>
</body></html>
`))

// LeaksURL is the console's Leaks page for a mode under base ("" if base
// is empty).
func LeaksURL(base string, mode keyformat.Mode) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/leaks?mode=" + string(mode)
}

// PublicPage is the web page people open for a location, when the
// location's URL is an artifact on the upstream's own public service rather
// than a page: an npm tarball on registry.npmjs.org has its package page on
// www.npmjs.com, a blob on Docker Hub's registry its repository page on
// hub.docker.com, a paste read through scrape.pastebin.com its page on
// pastebin.com. For any other registry (a mirror, a private one, a test
// double) there is no such page, and "" is returned: the email then names
// only the exact artifact, never a guess.
func PublicPage(source string, l leakguard.Location) string {
	u, err := url.Parse(l.URL)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	switch source {
	case leakguard.SourceNPM:
		if host == "registry.npmjs.org" && l.Repository != "" && l.Commit != "" {
			return "https://www.npmjs.com/package/" + l.Repository + "/v/" + url.PathEscape(l.Commit)
		}
	case leakguard.SourceDockerHub:
		if host == "registry-1.docker.io" || host == "index.docker.io" || host == "registry.hub.docker.com" {
			name, _, _ := strings.Cut(l.Repository, ":")
			if ns, repo, ok := strings.Cut(name, "/"); ok {
				if ns == "library" {
					return "https://hub.docker.com/_/" + repo + "/tags"
				}
				return "https://hub.docker.com/r/" + ns + "/" + repo + "/tags"
			}
		}
	case leakguard.SourcePastebin:
		if host == "scrape.pastebin.com" && l.Path != "" {
			return "https://pastebin.com/" + url.PathEscape(l.Path)
		}
	}
	return ""
}
