package sources

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/leakguard/leakguard/internal/httpx"
)

// ErrPublish marks an error from putting a hit on the bus: the item must be
// retried, never skipped.
var ErrPublish = errors.New("publish hit")

// Attempts counts failed attempts per item, so a source can give up on an
// item that keeps failing (a poison pill) instead of blocking its cursor
// forever, while still retrying what is worth retrying. Safe for concurrent
// use; it forgets everything when it grows past its bound.
type Attempts struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// NewAttempts gives up on an item after max failures (default 5).
func NewAttempts(max int) *Attempts {
	if max <= 0 {
		max = 5
	}
	return &Attempts{max: max, n: map[string]int{}}
}

// GiveUp records that item id failed with err and reports whether to skip
// it now. Rate limits, refusals, bus failures and a cancelled context never
// give up;
// a permanent error (permanent, or isPermanent(err)) gives up at once;
// anything else after max failures.
func (a *Attempts) GiveUp(id string, err error, permanent bool) bool {
	var rl *httpx.RateLimitedError
	if err == nil || errors.As(err, &rl) || errors.Is(err, ErrPublish) || errors.Is(err, httpx.ErrForbidden) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if permanent || isPermanent(err) {
		a.Done(id)
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.n) > 10_000 {
		a.n = map[string]int{}
	}
	a.n[id]++
	if a.n[id] >= a.max {
		delete(a.n, id)
		return true
	}
	return false
}

// Done forgets id (it succeeded or was skipped).
func (a *Attempts) Done(id string) {
	a.mu.Lock()
	delete(a.n, id)
	a.mu.Unlock()
}

// isPermanent reports an error that retrying the same item cannot fix: a
// body over its limit, a malformed answer, a 4xx other than 408 and 429.
func isPermanent(err error) bool {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	if errors.Is(err, httpx.ErrTooLarge) || errors.As(err, &se) || errors.As(err, &ute) {
		return true
	}
	c := httpx.HTTPStatus(err)
	return c >= 400 && c < 500 && c != 408 && c != 429
}
