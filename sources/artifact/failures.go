package artifact

import "sync"

// DefaultTrackedFailures bounds a FailureCounter built with max <= 0.
const DefaultTrackedFailures = 10_000

// FailureCounter counts failures per key (a change, a tag), so a source can
// give up on an item that keeps failing instead of blocking its cursor
// forever. It only counts: the caller decides which errors count and when to
// give up. It holds at most max keys; when full, the key counted first goes,
// so memory stays bounded whatever the upstream sends. Safe for concurrent
// use.
//
// Attempts does a similar job but also classifies the error (it never gives
// up on a timeout or a bus failure, at once on a permanent one); use
// FailureCounter where the source classifies errors itself.
type FailureCounter struct {
	mu    sync.Mutex
	max   int
	n     map[string]int
	order []string // keys in the order they were first counted
}

// NewFailureCounter tracks at most max keys (DefaultTrackedFailures when
// max <= 0).
func NewFailureCounter(max int) *FailureCounter {
	if max <= 0 {
		max = DefaultTrackedFailures
	}
	return &FailureCounter{max: max, n: map[string]int{}}
}

// Inc counts one more failure of key and returns its count so far.
func (c *FailureCounter) Inc(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.n[key]; !ok {
		if len(c.order) >= c.max {
			delete(c.n, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.n[key]++
	return c.n[key]
}

// Forget drops key's count (it succeeded or was given up on).
func (c *FailureCounter) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.n[key]; !ok {
		return
	}
	delete(c.n, key)
	for i, v := range c.order {
		if v == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}
