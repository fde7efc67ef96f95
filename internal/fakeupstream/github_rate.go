package fakeupstream

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimit is GitHub's primary rate limit: so many REST requests per
// window per token (or per address without one). A 304 to a conditional
// request made with an Authorization header is free, as GitHub documents;
// raw files and git clones are not counted.
type rateLimit struct {
	mu     sync.Mutex
	anon   int // 0: not enforced (headers say 5000)
	authed int
	window time.Duration
	used   map[string]int
	reset  map[string]time.Time
}

func (rl *rateLimit) init() {
	rl.used, rl.reset, rl.window = map[string]int{}, map[string]time.Time{}, time.Hour
}

// SetRateLimit enforces GitHub's primary rate limit: anon requests per
// window per client address without a token (GitHub: 60 an hour), authed
// per token (5,000 an hour). A test compresses the hour into window. Past
// the limit, requests get 403 with x-ratelimit-remaining 0 until the reset.
func (g *GitHub) SetRateLimit(anon, authed int, window time.Duration) {
	g.rate.mu.Lock()
	defer g.rate.mu.Unlock()
	g.rate.anon, g.rate.authed, g.rate.window = anon, authed, window
	clear(g.rate.used)
	clear(g.rate.reset)
}

// RateLimited counts requests refused for the rate limit.
func (g *GitHub) RateLimited() int {
	g.rate.mu.Lock()
	defer g.rate.mu.Unlock()
	return g.rate.used["refused"]
}

func identity(r *http.Request) (id string, authed bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		return "token " + a, true
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return "ip " + host, false
}

// state rolls the window over and returns the limit, the use so far and
// the reset time of id. rl.mu must be held.
func (rl *rateLimit) state(id string, authed bool) (limit, used int, reset time.Time) {
	limit = rl.anon
	if authed {
		limit = rl.authed
	}
	now := time.Now()
	if r, ok := rl.reset[id]; !ok || !now.Before(r) {
		rl.reset[id] = now.Add(rl.window)
		rl.used[id] = 0
	}
	return limit, rl.used[id], rl.reset[id]
}

// take answers 403 and reports false when id has no request left;
// otherwise it counts the request (unless deferred: a conditional request
// with a token, charged only if it is not a 304) and sets the headers.
func (rl *rateLimit) take(w http.ResponseWriter, r *http.Request, conditional bool) bool {
	id, authed := identity(r)
	rl.mu.Lock()
	limit, used, reset := rl.state(id, authed)
	enforced := limit > 0
	if !enforced {
		limit = 5000
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	if enforced && used >= limit {
		rl.used["refused"]++
		rl.mu.Unlock()
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", strconv.Itoa(used))
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		msg := `{"message":"API rate limit exceeded for user ID 583231.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}`
		if !authed {
			msg = `{"message":"API rate limit exceeded for 203.0.113.7. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`
		}
		_, _ = w.Write([]byte(msg))
		return false
	}
	if !(conditional && authed) {
		used++
		rl.used[id] = used
	}
	rl.mu.Unlock()
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	return true
}

// charge counts a deferred conditional request that was answered in full.
func (rl *rateLimit) charge(r *http.Request) {
	id, authed := identity(r)
	if !authed {
		return // already counted by take
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.state(id, authed)
	rl.used[id]++
}
