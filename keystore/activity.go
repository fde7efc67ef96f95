package keystore

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// A leak notice tells the owner what the key did around its detection, so
// "audit the last 30 days" starts with the answers: requests by resource,
// addresses new to the key, refused attempts after the revocation, and
// whether list calls ran well above the key's own baseline.

// Activity window and the unusual-volume rule.
const (
	// ActivityWindow is how far before the detection the summary looks
	// (the API log keeps 30 days).
	ActivityWindow = 30 * 24 * time.Hour
	// ActivityRecent is the part of the window just before the detection
	// (and everything since) that is compared with the rest, the baseline.
	ActivityRecent = 7 * 24 * time.Hour
	// UnusualFactor and UnusualMin: list calls on a day of the recent part
	// are unusual when they reach UnusualMin and exceed UnusualFactor times
	// the key's average day in the baseline.
	UnusualFactor = 3
	UnusualMin    = 20
	// MaxActivityEntries bounds the entries a store reads for one summary
	// (newest first); past it the summary says it is partial.
	MaxActivityEntries = 200_000
	maxResources       = 20
	// MaxNewIPs bounds Activity.NewIPs (a notice lists them).
	MaxNewIPs = 100
)

// ActivityQuery asks for a key's activity around its detection.
type ActivityQuery struct {
	Detected  time.Time
	RevokedAt *time.Time // nil: not revoked
	// Until ends "since"; zero: no end (entries stamped by another
	// process's clock, a little ahead, still count).
	Until time.Time
}

// From is the start of the window: ActivityWindow before the detection.
func (q ActivityQuery) From() time.Time { return q.Detected.Add(-ActivityWindow) }

// End is Until, or for none a time after any entry.
func (q ActivityQuery) End() time.Time {
	if q.Until.IsZero() {
		return time.Unix(1<<62, 0) // far beyond any entry, and within every store's range
	}
	return q.Until
}

// ResourceActivity counts the requests to one resource ("orders" for
// /v1/orders/…), before the detection and since.
type ResourceActivity struct {
	Resource      string
	Before, Since int64
}

// Activity is a key's API activity in the 30 days before its detection and
// since.
type Activity struct {
	From, Detected, Until time.Time
	// Before and Requests count requests in [From, Detected) and
	// [Detected, Until]; a summary entry counts as its refusals.
	Before, Requests int64
	// Resources are the most requested resources, most first.
	Resources []ResourceActivity
	// NewIPs are addresses whose first recorded use of the key is at or
	// after From: unfamiliar, measured against the key's own record of
	// addresses, which goes back to BaselineSince.
	NewIPs []string
	// BaselineSince is the key's earliest recorded use (nil: none).
	BaselineSince *time.Time
	// RefusedAfterRevocation counts refused attempts from the revocation on.
	RefusedAfterRevocation int64
	// ListPeak is the most list calls (GET on a collection, served) on one
	// day of the recent part; ListBaseline the average day before it.
	ListPeak     int64
	ListBaseline float64
	// UnusualVolume: ListPeak is at least UnusualMin and more than
	// UnusualFactor × ListBaseline.
	UnusualVolume bool
	// Partial: more than MaxActivityEntries entries; counts are of the newest.
	Partial bool
}

// ActivityBuilder counts log entries into an Activity: the one place the
// summary's rules live, fed by whichever store reads the entries.
type ActivityBuilder struct {
	q         ActivityQuery
	a         Activity
	res       map[string]*ResourceActivity
	listByDay map[int]int64
	n         int
}

// NewActivityBuilder starts a summary for q.
func NewActivityBuilder(q ActivityQuery) *ActivityBuilder {
	return &ActivityBuilder{q: q, a: Activity{From: q.From(), Detected: q.Detected, Until: q.Until},
		res: map[string]*ResourceActivity{}, listByDay: map[int]int64{}}
}

// Add counts one entry (entries outside [From, Until] are ignored). It
// reports false once MaxActivityEntries were counted: the store stops
// reading.
func (b *ActivityBuilder) Add(e *APILogEntry) bool {
	if e.Time.Before(b.a.From) || e.Time.After(b.q.End()) {
		return true
	}
	if b.n >= MaxActivityEntries {
		b.a.Partial = true
		return false
	}
	b.n++
	w := int64(max(e.Count, 1))
	before := e.Time.Before(b.q.Detected)
	if before {
		b.a.Before += w
	} else {
		b.a.Requests += w
	}
	name, collection := resourceOf(e.Path)
	r := b.res[name]
	if r == nil {
		r = &ResourceActivity{Resource: name}
		b.res[name] = r
	}
	if before {
		r.Before += w
	} else {
		r.Since += w
	}
	if e.Reason != "" && b.q.RevokedAt != nil && !e.Time.Before(*b.q.RevokedAt) {
		b.a.RefusedAfterRevocation += w
	}
	if e.Reason == "" && e.Method == "GET" && collection {
		b.listByDay[int(e.Time.Sub(b.a.From)/(24*time.Hour))] += w
	}
	return true
}

// SetAddresses records what the store knows of the key's addresses.
func (b *ActivityBuilder) SetAddresses(newIPs []string, baselineSince *time.Time) {
	b.a.NewIPs = newIPs
	b.a.BaselineSince = baselineSince
}

// Activity finishes the summary.
func (b *ActivityBuilder) Activity() Activity {
	a := b.a
	if a.NewIPs == nil {
		a.NewIPs = []string{}
	}
	a.Resources = make([]ResourceActivity, 0, len(b.res))
	for _, r := range b.res {
		a.Resources = append(a.Resources, *r)
	}
	slices.SortFunc(a.Resources, func(x, y ResourceActivity) int {
		return cmp.Or(cmp.Compare(y.Before+y.Since, x.Before+x.Since), strings.Compare(x.Resource, y.Resource))
	})
	a.Resources = a.Resources[:min(len(a.Resources), maxResources)]
	recent := int((ActivityWindow - ActivityRecent) / (24 * time.Hour))
	var base int64
	for day, n := range b.listByDay {
		if day < recent {
			base += n
		} else {
			a.ListPeak = max(a.ListPeak, n)
		}
	}
	a.ListBaseline = float64(base) / float64(recent)
	a.UnusualVolume = a.ListPeak >= UnusualMin && float64(a.ListPeak) > UnusualFactor*a.ListBaseline
	return a
}

// resourceOf names the resource of an API path ("/v1/orders/ord_1" is
// orders) and reports whether the path is the collection itself (a list
// call).
func resourceOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok || rest == "" {
		return "(other)", false
	}
	name, more, _ := strings.Cut(rest, "/")
	return name, more == ""
}
