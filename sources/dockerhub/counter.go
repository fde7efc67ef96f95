package dockerhub

import "sync"

// counter counts failures per key; when full, the oldest key goes.
type counter struct {
	mu    sync.Mutex
	max   int
	n     map[string]int
	order []string
}

func newCounter(max int) *counter { return &counter{max: max, n: map[string]int{}} }

func (c *counter) inc(key string) int {
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

func (c *counter) del(key string) {
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
