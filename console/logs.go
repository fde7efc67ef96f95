package console

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// logRetention is how far back the API log goes (the store purges older).
const logRetention = 30 * 24 * time.Hour

// maxLogScan bounds the entries one logs page reads to find a page of
// matches: filters the store cannot apply (IP, status, the mode of the
// key) are applied here, and a rare match must not make one page read
// the whole log. Past it the page offers to keep searching.
const maxLogScan = 5000

// maxKeysInFilter is how many of the mode's newest keys the key filter
// offers; maxKeysPerLogPage bounds the keys one page looks up.
const (
	maxKeysInFilter   = keystore.MaxPageLimit
	maxKeysPerLogPage = 1000
)

type logFilter struct {
	Key    string
	IP     string
	Status string // "", "ok", "refused", or a status code
	Since  string // datetime-local text, UTC
	Until  string

	ip     netip.Prefix
	code   int
	since  time.Time
	until  time.Time
	after  string
	errors []string
}

type logRow struct {
	keystore.APILogEntry
	KeyName  string
	Redacted string
	Refused  bool
}

type logsData struct {
	Filter   logFilter
	Keys     []keystore.Key // of the mode, for the key filter
	Rows     []logRow
	Next     string // after= for the next page
	Paged    bool
	Scanned  int
	Stopped  bool // maxLogScan reached before a full page
	ResumeAt string
}

const dtLocal = "2006-01-02T15:04"

func parseLogFilter(q url.Values, now time.Time) logFilter {
	f := logFilter{Key: strings.TrimSpace(q.Get("key")), IP: strings.TrimSpace(q.Get("ip")), Status: strings.TrimSpace(q.Get("status")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")), after: q.Get("after")}
	if f.Key != "" && !validID(f.Key) {
		f.errors = append(f.errors, "Key: choose a key from the list.")
		f.Key = ""
	}
	if f.IP != "" {
		if p, err := netip.ParsePrefix(f.IP); err == nil {
			f.ip = p.Masked()
		} else if a, err := netip.ParseAddr(f.IP); err == nil && a.Zone() == "" {
			a = a.Unmap()
			f.ip = netip.PrefixFrom(a, a.BitLen())
		} else {
			f.errors = append(f.errors, "IP: enter an address like 203.0.113.7 or a range like 203.0.113.0/24.")
		}
	}
	switch f.Status {
	case "", "ok", "refused":
	default:
		n, err := strconv.Atoi(f.Status)
		if err != nil || n < 100 || n > 599 {
			f.errors = append(f.errors, "Status: enter an HTTP status such as 403.")
			f.Status = ""
		} else {
			f.code = n
		}
	}
	f.since = now.Add(-logRetention)
	if f.Since != "" {
		if t, err := time.Parse(dtLocal, f.Since); err == nil {
			f.since = t
		} else {
			f.errors = append(f.errors, "From: enter a time like 2026-01-02T15:04 (UTC).")
		}
	}
	if f.Until != "" {
		if t, err := time.Parse(dtLocal, f.Until); err == nil {
			f.until = t.Add(time.Minute - time.Nanosecond) // the whole minute
		} else {
			f.errors = append(f.errors, "To: enter a time like 2026-01-02T15:04 (UTC).")
		}
	}
	if f.after != "" && !validID(f.after) {
		f.after = ""
	}
	return f
}

func (f *logFilter) match(e *keystore.APILogEntry) bool {
	if f.ip.IsValid() {
		a, err := netip.ParseAddr(e.IP)
		if err != nil || !f.ip.Contains(a.Unmap()) {
			return false
		}
	}
	switch {
	case f.Status == "ok" && e.Status >= 400, f.Status == "refused" && e.Status < 400, f.code != 0 && e.Status != f.code:
		return false
	}
	return f.until.IsZero() || !e.Time.After(f.until)
}

// query is the filter as URL parameters (for pagination links).
func (f *logFilter) query(m keyformat.Mode, after string) string {
	q := url.Values{"mode": {string(m)}}
	for k, v := range map[string]string{"key": f.Key, "ip": f.IP, "status": f.Status, "since": f.Since, "until": f.Until, "after": after} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return "/logs?" + q.Encode()
}

// FirstPage is the first page of the filtered log.
func (f logFilter) FirstPage(m keyformat.Mode) string { return f.query(m, "") }

// untilCursor is a starting_after that begins the list at until: log ids
// start with their creation time in milliseconds (keystore.NewID), so every
// entry at or before until sorts below it.
func untilCursor(until time.Time) string {
	id := keystore.NewID("log", until.Add(time.Millisecond))
	return id[:len("log_")+8]
}

func (c *Console) logsPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := c.basePage(r, s, "API logs", "logs")
	now := c.svc.Now()
	f := parseLogFilter(r.URL.Query(), now)
	d := logsData{Filter: f, Paged: f.after != ""}
	if len(f.errors) > 0 {
		p.Error = strings.Join(f.errors, " ")
	}

	// The key filter offers the mode's newest keys (one store page); an
	// entry's key, to tell its mode and name, is looked up as it comes.
	keys, _, err := c.svc.ListKeys(r.Context(), owner(s, p.Mode), s.account.ID, keystore.Page{Limit: maxKeysInFilter})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	byID := map[string]keystore.Key{}
	for _, k := range keys {
		byID[k.ID] = k
	}
	d.Keys = keys
	keyOf := func(id string) (keystore.Key, bool) {
		if k, ok := byID[id]; ok {
			return k, true
		}
		if len(byID) >= maxKeysPerLogPage {
			return keystore.Key{}, false
		}
		k, err := c.svc.GetKey(r.Context(), nil, s.account.ID, id)
		if err != nil {
			return keystore.Key{}, false
		}
		byID[id] = k
		return k, true
	}
	if f.Key != "" {
		if k, ok := keyOf(f.Key); ok && k.Mode == p.Mode && !slices.ContainsFunc(d.Keys, func(x keystore.Key) bool { return x.ID == k.ID }) {
			d.Keys = append(d.Keys, k) // an older key chosen by link
		}
	}
	if f.Key != "" {
		if k, ok := keyOf(f.Key); !ok || k.Mode != p.Mode {
			// Another mode's (or account's) key: nothing of it shows here.
			d.Filter.errors = nil
			p.Data = d
			c.render(w, r, http.StatusOK, "logs", p)
			return
		}
	}

	lf := keystore.LogFilter{KeyID: f.Key, Since: f.since}
	cursor := f.after
	if cursor == "" && !f.until.IsZero() {
		cursor = untilCursor(f.until)
	}
	const batch = keystore.MaxPageLimit - 1 // one store call per batch
	for d.Scanned < maxLogScan && len(d.Rows) <= LogsPerPage {
		lf.Page = keystore.Page{Limit: min(batch, maxLogScan-d.Scanned), StartingAfter: cursor}
		entries, more, err := c.listLogs(r.Context(), s.account.ID, lf)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for i := range entries {
			e := &entries[i]
			d.Scanned++
			cursor = e.ID
			k, ok := keyOf(e.KeyID)
			if !ok || k.Mode != p.Mode || !f.match(e) {
				continue
			}
			d.Rows = append(d.Rows, logRow{APILogEntry: *e, KeyName: k.Name, Redacted: k.Redacted(), Refused: e.Status >= 400})
			if len(d.Rows) > LogsPerPage {
				break
			}
		}
		if !more {
			cursor = ""
			break
		}
	}
	if len(d.Rows) > LogsPerPage {
		d.Rows = d.Rows[:LogsPerPage]
		d.Next = f.query(p.Mode, d.Rows[LogsPerPage-1].ID)
	} else if cursor != "" && d.Scanned >= maxLogScan {
		d.Stopped = true
		d.ResumeAt = f.query(p.Mode, cursor)
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "logs", p)
}
