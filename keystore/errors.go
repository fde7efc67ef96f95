package keystore

import (
	"errors"
	"fmt"
)

// Errors of the service that callers (the HTTP API, the CLI) turn into
// answers. They are wrapped in *Error, whose message is safe to show.
var (
	ErrInvalidRequest   = errors.New("invalid request")
	ErrPermissionDenied = errors.New("permission denied")
)

// Error is a refusal with a message meant for the user. It never holds a
// plaintext key.
type Error struct {
	Kind    error // ErrInvalidRequest, ErrPermissionDenied, ErrNotFound, ErrConflict
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func invalidf(format string, a ...any) error {
	return &Error{Kind: ErrInvalidRequest, Message: fmt.Sprintf(format, a...)}
}

func deniedf(format string, a ...any) error {
	return &Error{Kind: ErrPermissionDenied, Message: fmt.Sprintf(format, a...)}
}

func notFound(what, id string) error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("No such %s: %q.", what, id)}
}

// Auth failure codes (docs/api.md) and their finer reasons.
const (
	CodeInvalidAPIKey    = "invalid_api_key"
	CodePermissionDenied = "permission_denied"
)

// AuthReason says exactly why a key was refused.
type AuthReason string

const (
	ReasonMissing     AuthReason = "missing"
	ReasonMalformed   AuthReason = "malformed"
	ReasonUnknown     AuthReason = "unknown"
	ReasonRevoked     AuthReason = "revoked"
	ReasonWasRotated  AuthReason = "rotated"
	ReasonWasExposed  AuthReason = "exposed"
	ReasonExpired     AuthReason = "expired"
	ReasonWrongMode   AuthReason = "wrong_mode"
	ReasonIPNotAllow  AuthReason = "ip_not_allowed"
	ReasonNoScope     AuthReason = "insufficient_scope"
	ReasonPublishable AuthReason = "publishable_key"
	ReasonReferrer    AuthReason = "referrer_not_allowed"
	ReasonRateLimited AuthReason = "rate_limited"
)

// AuthError is a refused key. Code is invalid_api_key (401) or
// permission_denied (403). The message says why and never echoes the key.
type AuthError struct {
	Code    string
	Reason  AuthReason
	Message string
}

func (e *AuthError) Error() string { return e.Message }

// Pre-built refusals, so the hot path allocates nothing for them.
var (
	errMalformed   = &AuthError{CodeInvalidAPIKey, ReasonMalformed, "Invalid API key: this is not a well-formed leakguard key (check for a typo or a truncated copy)."}
	errUnknown     = &AuthError{CodeInvalidAPIKey, ReasonUnknown, "Invalid API key: no such key exists."}
	errRevoked     = &AuthError{CodeInvalidAPIKey, ReasonRevoked, "This API key was revoked and no longer works."}
	errRotated     = &AuthError{CodeInvalidAPIKey, ReasonWasRotated, "This API key was rotated and no longer works; use the key that replaced it."}
	errExposed     = &AuthError{CodeInvalidAPIKey, ReasonWasExposed, "This API key was revoked because it was found in public (exposed). Create a new key, and remove this one from wherever it was published."}
	errExpired     = &AuthError{CodeInvalidAPIKey, ReasonExpired, "This API key has expired."}
	errTestOnLive  = &AuthError{CodeInvalidAPIKey, ReasonWrongMode, "This API key is a test-mode key, but this is a live-mode server: use a live-mode key (sk_live_, rk_live_, pk_live_)."}
	errLiveOnTest  = &AuthError{CodeInvalidAPIKey, ReasonWrongMode, "This API key is a live-mode key, but this is a test-mode server: use a test-mode key (sk_test_, rk_test_, pk_test_)."}
	errIP          = &AuthError{CodePermissionDenied, ReasonIPNotAllow, "This API key is not allowed from your IP address."}
	errPublishable = &AuthError{CodePermissionDenied, ReasonPublishable, "Publishable keys can only identify the account (GET /v1/account); use a secret or restricted key."}
)

// Refusals the API decides itself (the service's Verify never returns them).
var (
	// ErrReferrerNotAllowed refuses a publishable key used from an origin
	// not in its allowed_referrers.
	ErrReferrerNotAllowed = &AuthError{CodePermissionDenied, ReasonReferrer, "This publishable key is not allowed from this website (its Origin or Referer is not one of the key's allowed_referrers)."}
	// ErrPublishableVerify refuses a publishable key on a verification
	// that names no scope: it identifies an account and grants nothing.
	ErrPublishableVerify = &AuthError{CodePermissionDenied, ReasonPublishable, "Publishable keys grant no access: they only identify the account."}
)

// CodeRateLimited is the code of a request refused by a rate limit.
const CodeRateLimited = "rate_limited"

// RateLimitedError is the refusal of a key that went over its rate limit.
func RateLimitedError(retryAfter string) *AuthError {
	return &AuthError{CodeRateLimited, ReasonRateLimited, "Too many requests with this API key; retry after " + retryAfter + " s."}
}

// MissingKeyError is the refusal of a request that carried no key.
func MissingKeyError() *AuthError {
	return &AuthError{CodeInvalidAPIKey, ReasonMissing, "No API key provided: send it as 'Authorization: Bearer KEY'."}
}

func scopeError(scope string) *AuthError {
	return &AuthError{CodePermissionDenied, ReasonNoScope, "This API key does not have the " + scope + " scope."}
}
