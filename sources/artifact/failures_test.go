package artifact_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/leakguard/leakguard/sources/artifact"
)

func TestFailureCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		max  int
		ops  []string // "+key" counts a failure, "-key" forgets the key
		want []int    // Inc's answers, in order
	}{
		{"counts per key", 10, []string{"+a", "+a", "+b", "+a"}, []int{1, 2, 1, 3}},
		{"forget resets", 10, []string{"+a", "+a", "-a", "+a"}, []int{1, 2, 1}},
		{"forget unknown is harmless", 10, []string{"-x", "+a", "-x", "+a"}, []int{1, 2}},
		{"full: the first counted goes", 2, []string{"+a", "+a", "+b", "+c", "+b", "+a"}, []int{1, 2, 1, 1, 2, 1}},
		{"forget frees a slot", 2, []string{"+a", "+b", "-a", "+c", "+b"}, []int{1, 1, 1, 2}},
		{"max 1", 1, []string{"+a", "+a", "+b", "+a"}, []int{1, 2, 1, 1}},
		{"max 0 takes the default", 0, []string{"+a", "+b", "+a"}, []int{1, 1, 2}},
	}
	for _, tc := range tests {
		c := artifact.NewFailureCounter(tc.max)
		var got []int
		for _, op := range tc.ops {
			if op[0] == '+' {
				got = append(got, c.Inc(op[1:]))
			} else {
				c.Forget(op[1:])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: Inc answered %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFailureCounterStaysBounded(t *testing.T) {
	t.Parallel()
	c := artifact.NewFailureCounter(100)
	for i := range 10_000 {
		c.Inc(fmt.Sprint(i))
	}
	// The 100 newest keys are still counted, the older ones are gone.
	if n := c.Inc("9999"); n != 2 {
		t.Fatalf("newest key count %d, want 2", n)
	}
	if n := c.Inc("0"); n != 1 {
		t.Fatalf("oldest key count %d, want 1 (evicted)", n)
	}
}

func TestFailureCounterConcurrent(t *testing.T) {
	t.Parallel()
	c := artifact.NewFailureCounter(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := fmt.Sprint(i % 60)
				c.Inc(key)
				if i%7 == g {
					c.Forget(key)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Inc("shared"); n != 1 {
		t.Fatalf("fresh key count %d", n)
	}
}
