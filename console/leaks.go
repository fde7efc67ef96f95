package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

type leakRow struct {
	Incident keystore.Incident
	Key      keyView
	HasKey   bool
	Source   string
	URL      string // the exact place, when it is a web address
	Action   string // what was done, for people
	Tag      string // badge class
	Badge    string // badge text
	Activity *keystore.Activity
	CanRoll  bool
}

type leaksData struct {
	Leaks []leakRow
	Next  string
	Paged bool
}

func sourceName(s string) string {
	switch s {
	case leakguard.SourceGitHub:
		return "GitHub commit"
	case leakguard.SourceGists:
		return "GitHub Gist"
	case leakguard.SourceNPM:
		return "npm package"
	case leakguard.SourceDockerHub:
		return "Docker Hub image"
	case leakguard.SourcePastebin:
		return "Pastebin"
	case leakguard.SourceGitHubScanning:
		return "GitHub secret scanning"
	}
	return s
}

func webURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return s
}

// incidentMode is the mode of a leaked key, from its record or, failing
// that, from its redacted prefix ("sk_live_…").
func incidentMode(in keystore.Incident, k *keystore.Key) keyformat.Mode {
	if k != nil {
		return k.Mode
	}
	if strings.Contains(in.Redacted, "_live_") {
		return keyformat.Live
	}
	return keyformat.Test
}

func (c *Console) leaksPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := c.basePage(r, s, "Leaks", "leaks")
	after := r.URL.Query().Get("after")
	if after != "" && !validID(after) {
		after = ""
	}
	d := leaksData{Paged: after != ""}
	// Incidents of both modes come back; pages are filled with the shown
	// mode's, a bounded number of store pages at a time.
	for range 10 {
		incs, more, err := c.listIncidents(r.Context(), s.account.ID, p.Mode, keystore.Page{Limit: keystore.MaxPageLimit, StartingAfter: after})
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for _, in := range incs {
			after = in.ID
			if len(d.Leaks) == leaksPerPage {
				d.Next = in.ID
				break
			}
			row, ok := c.leakRow(r.Context(), s, in, p.Mode)
			if ok {
				d.Leaks = append(d.Leaks, row)
			}
		}
		if d.Next != "" || !more {
			break
		}
	}
	if d.Next != "" {
		// Next page starts after the last row shown.
		d.Next = "/leaks?" + url.Values{"mode": {string(p.Mode)}, "after": {d.Leaks[len(d.Leaks)-1].Incident.ID}}.Encode()
	}
	if r.URL.Query().Has("rolled") {
		p.Notice = "Replacement key created."
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "leaks", p)
}

func (c *Console) leakRow(ctx context.Context, s *session, in keystore.Incident, m keyformat.Mode) (leakRow, bool) {
	row := leakRow{Incident: in, Source: sourceName(in.Source), URL: webURL(in.Location.URL)}
	k, err := c.svc.GetKey(ctx, nil, s.account.ID, in.KeyID)
	var kp *keystore.Key
	if err == nil {
		kp = &k
		row.Key, row.HasKey = c.view(k), true
	}
	if incidentMode(in, kp) != m {
		return leakRow{}, false
	}
	switch in.Action {
	case keystore.OutcomeRevoked:
		row.Action, row.Tag, row.Badge = "Revoked automatically", "bad", "Revoked"
		if in.RevokedAt != nil {
			row.Action += " at " + when(in.RevokedAt)
		}
	case keystore.OutcomeInactive:
		row.Action, row.Tag, row.Badge = "Already inactive when found: nothing to revoke", "warn", "Already inactive"
	case keystore.OutcomePublishable:
		row.Action, row.Tag, row.Badge = "Reported, not revoked: publishable keys are meant to be public", "info", "Reported"
	default:
		row.Action, row.Tag, row.Badge = string(in.Action), "info", string(in.Action)
	}
	// The activity the leak email summarises: use since exposure.
	row.Activity = c.activity(ctx, in)
	row.CanRoll = row.HasKey
	return row, true
}

// rollKey replaces a leaked key in one step: a new key with the old one's
// name, type, scopes and allowed IPs. A key that still works (a
// publishable key is never revoked) is rotated and stops working now.
func (c *Console) rollKey(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !validID(id) {
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", "There is no such leak in your account.")
		return
	}
	in, ok, err := c.findIncident(r.Context(), s.account.ID, c.mode(r, s), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if !ok {
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", "There is no such leak in your account.")
		return
	}
	k, err := c.svc.GetKey(r.Context(), nil, s.account.ID, in.KeyID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	p := c.basePage(r, s, "Leaks", "leaks")
	actor := owner(s, k.Mode)
	now := c.svc.Now()
	var nk keystore.NewKey
	note := "It replaces the leaked key " + k.Redacted() + ", with the same name, type, permissions and allowed IPs."
	if st := k.Status(now); st == keystore.StatusActive || st == keystore.StatusExpiring {
		zero := time.Duration(0)
		_, nk, err = c.svc.RotateKey(r.Context(), actor, s.account.ID, k.ID, &zero)
		note += " The leaked key stopped working now."
	} else {
		ips := make([]string, 0, len(k.AllowedIPs))
		for _, p := range k.AllowedIPs {
			ips = append(ips, p.String())
		}
		nk, err = c.svc.CreateKey(r.Context(), actor, s.account.ID, keystore.KeyRequest{
			Name: k.Name, Type: k.Type, Mode: k.Mode, Scopes: k.Scopes, AllowedIPs: ips})
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.showSecret(w, r, s, p, nk, "Replacement key", note)
}

// findIncident looks an incident up by id: ids of one kind have one
// length, so the first incident below id+"~" ('~' sorts after every id
// character) is the incident itself, if it exists.
func (c *Console) findIncident(ctx context.Context, accountID string, m keyformat.Mode, id string) (keystore.Incident, bool, error) {
	incs, _, err := c.listIncidents(ctx, accountID, m, keystore.Page{Limit: 1, StartingAfter: id + "~"})
	if err != nil {
		return keystore.Incident{}, false, err
	}
	if len(incs) == 1 && incs[0].ID == id {
		return incs[0], true, nil
	}
	return keystore.Incident{}, false, nil
}
