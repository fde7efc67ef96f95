package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSet holds one token bucket per name (key id or client IP),
// bounded: when it grows past max, buckets that are full again (idle) are
// dropped, and if that frees nothing the set starts over.
type limiterSet struct {
	limit rate.Limit
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiterSet(limit rate.Limit, burst, max int) *limiterSet {
	return &limiterSet{limit: limit, burst: burst, max: max, m: make(map[string]*rate.Limiter, 64)}
}

func (s *limiterSet) get(name string, now time.Time, create bool) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[name]
	if l == nil && create {
		if len(s.m) >= s.max {
			s.sweepLocked(now)
		}
		l = rate.NewLimiter(s.limit, s.burst)
		s.m[name] = l
	}
	return l
}

func (s *limiterSet) sweepLocked(now time.Time) {
	for k, l := range s.m {
		if l.TokensAt(now) >= float64(s.burst) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= s.max {
		clear(s.m)
	}
}

// allow takes a token for name; when none is left it returns false and how
// long until one is.
func (s *limiterSet) allow(name string, now time.Time) (bool, time.Duration) {
	l := s.get(name, now, true)
	if l.AllowN(now, 1) {
		return true, 0
	}
	return false, wait(l, now)
}

// blocked reports whether name has no token left, without taking one.
func (s *limiterSet) blocked(name string, now time.Time) (bool, time.Duration) {
	l := s.get(name, now, false)
	if l == nil || l.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, wait(l, now)
}

// spend takes a token for name if one is left (a failure being counted).
func (s *limiterSet) spend(name string, now time.Time) {
	s.get(name, now, true).AllowN(now, 1)
}

func wait(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	if l.Limit() <= 0 || missing <= 0 {
		return time.Second
	}
	return time.Duration(math.Ceil(missing / float64(l.Limit()) * float64(time.Second)))
}
