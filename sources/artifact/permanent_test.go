package artifact_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources/artifact"
)

func TestWrapRead(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: errTimeout{}}
	cases := []struct {
		name      string
		err       error
		permanent bool
	}{
		{"broken archive", io.ErrUnexpectedEOF, true},
		{"body over its limit", httpx.ErrTooLarge, true},
		{"already permanent", artifact.Permanent(errors.New("digest mismatch")), true},
		{"cancelled", context.Canceled, false},
		{"deadline", context.DeadlineExceeded, false},
		{"connection timeout", timeout, false},
	}
	for _, tc := range cases {
		err := artifact.WrapRead("read layer", tc.err)
		if got := artifact.MarkedPermanent(err); got != tc.permanent {
			t.Errorf("%s: permanent = %v, want %v (%v)", tc.name, got, tc.permanent, err)
		}
		if !errors.Is(err, tc.err) || err.Error()[:len("read layer: ")] != "read layer: " {
			t.Errorf("%s: %v does not name what failed and wrap the cause", tc.name, err)
		}
	}
	if artifact.WrapRead("x", nil) != nil {
		t.Error("WrapRead(nil) is not nil")
	}
}

type errTimeout struct{}

func (errTimeout) Error() string { return "i/o timeout" }
func (errTimeout) Timeout() bool { return true }
