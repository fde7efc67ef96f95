package artifact

import (
	"context"
	"errors"
	"fmt"

	"github.com/leakguard/leakguard/internal/httpx"
)

// PermanentError marks a failure that retrying the same item cannot fix: a
// bad manifest, a digest or integrity mismatch, a broken archive, a 4xx.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent.
func Permanent(err error) error { return &PermanentError{Err: err} }

// MarkedPermanent reports an error marked with Permanent, or a body over
// its limit.
func MarkedPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p) || errors.Is(err, httpx.ErrTooLarge)
}

// WrapRead names what failed while reading a download; a broken or short
// archive is the content's fault (permanent) unless the context ended or
// the connection timed out.
func WrapRead(what string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", what, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || MarkedPermanent(err) {
		return err
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return err
	}
	return Permanent(err)
}
