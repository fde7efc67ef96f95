// Package fakeupstream holds importable fakes of the upstreams leakguard's
// sources poll (GitHub's REST API, npm's replication feed and registry,
// Docker Hub with its registry and token service, Pastebin's scraping
// API), for end-to-end tests. Each fake speaks the real API's routes,
// status codes, headers, JSON field names and pagination, lets a test plant
// content the way a user publishing it would, and can be broken for a while
// (Break/Heal) to show a misbehaving upstream slows only its own source.
// Every fake is safe for concurrent use and is closed when the test ends.
package fakeupstream

import (
	"net/http"
	"sync"
	"time"
)

// fault makes a fake answer every request with a fixed response while set.
type fault struct {
	mu          sync.Mutex
	on          bool
	status      int
	contentType string
	body        string
	broken      int           // requests answered while broken
	delay       time.Duration // added before every answer
}

// SetDelay makes every answer wait d first (0: none), like a slow
// upstream; a request whose client gave up stops waiting.
func (f *fault) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Break makes every request answer status with body (of contentType) until
// Heal: a 500, a 502 from a proxy, or a 200 of garbage.
func (f *fault) Break(status int, contentType, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on, f.status, f.contentType, f.body = true, status, contentType, body
}

// Heal makes the fake answer normally again.
func (f *fault) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = false
}

// BrokenAnswers counts requests answered with the fault so far.
func (f *fault) BrokenAnswers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.broken
}

// intercept waits the delay, answers with the fault when set and reports
// whether it did.
func (f *fault) intercept(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	d := f.delay
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	f.mu.Lock()
	if !f.on {
		f.mu.Unlock()
		return false
	}
	f.broken++
	status, ct, body := f.status, f.contentType, f.body
	f.mu.Unlock()
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return true
}
