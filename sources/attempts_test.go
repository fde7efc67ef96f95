package sources_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources"
)

func TestAttemptsGiveUp(t *testing.T) {
	t.Parallel()
	var syntax error
	if err := json.Unmarshal([]byte("{"), &struct{}{}); err != nil {
		syntax = err
	}
	tests := []struct {
		name  string
		err   error
		perm  bool
		after int // attempts until it gives up; 0 = never
	}{
		{"transient", errors.New("connection reset"), false, 3},
		{"5xx", &httpx.StatusError{StatusCode: 502}, false, 3},
		{"4xx", &httpx.StatusError{StatusCode: 410}, false, 1},
		{"caller says permanent", errors.New("x"), true, 1},
		{"too large", fmt.Errorf("get: %w", httpx.ErrTooLarge), false, 1},
		{"malformed", syntax, false, 1},
		{"rate limited", &httpx.RateLimitedError{Until: time.Now(), Err: errors.New("429")}, false, 0},
		{"bus down", fmt.Errorf("%w: nats: timeout", sources.ErrPublish), true, 0},
		{"refused", fmt.Errorf("x: %w", httpx.ErrForbidden), false, 0},
		{"cancelled", context.Canceled, false, 0},
	}
	for _, tc := range tests {
		a := sources.NewAttempts(3)
		gaveUp := 0
		for i := 1; i <= 10; i++ {
			if a.GiveUp("item", tc.err, tc.perm) {
				gaveUp = i
				break
			}
		}
		if gaveUp != tc.after {
			t.Errorf("%s: gave up after %d, want %d", tc.name, gaveUp, tc.after)
		}
	}
	a := sources.NewAttempts(2)
	a.GiveUp("x", errors.New("e"), false)
	a.Done("x")
	if a.GiveUp("x", errors.New("e"), false) {
		t.Fatal("Done did not reset the count")
	}
}
