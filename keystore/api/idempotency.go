package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/keystore"
)

// Waiting for a concurrent request with the same Idempotency-Key: polls
// this often, this long, then answers 409 (the client retries later).
const (
	idemPoll = 25 * time.Millisecond
	idemWait = 10 * time.Second
)

// idempotent runs an authenticated POST once per Idempotency-Key (docs/api.md):
// the first request claims the key in the store (so API processes sharing
// the store agree), runs, and stores its sealed answer; a retry with the
// same body gets that answer again, with its status; a retry with another
// body, or on another endpoint, is 400 idempotency_error. A retry that
// arrives while the first still runs waits for its answer. An answer of
// 5xx (or none) is not kept: the next retry runs the request again.
func (h *handler) idempotent(c *call, p *keystore.Principal, value string, run func()) {
	ik, err := keystore.NewIdempotencyKey(p.Key.AccountID, p.Key.Mode, value)
	var ue *keystore.Error
	if errors.As(err, &ue) {
		h.writeError(c, http.StatusBadRequest, "idempotency_error", ue.Message)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, h.cfg.MaxBody))
	if err != nil {
		h.writeError(c, http.StatusBadRequest, "invalid_request", decodeMessage(err, h.cfg.MaxBody))
		return
	}
	c.r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	rec := keystore.IdempotencyRecord{KeyHash: ik.Hash, AccountID: p.Key.AccountID, Method: c.r.Method,
		Path: c.r.URL.Path, BodyHash: hex.EncodeToString(sum[:]), CreatedAt: c.now}
	ctx := c.r.Context()
	stored, claimed, err := h.svc.ClaimIdempotency(ctx, rec)
	if err != nil {
		h.fail(c, err)
		return
	}
	if !claimed {
		h.replay(c, ik, rec, stored)
		return
	}
	c.capture = true
	run()
	c.capture = false
	if c.status == 0 || c.status >= 500 {
		if err := h.svc.ReleaseIdempotency(ctx, ik.Hash); err != nil {
			h.log.Warn("release idempotency key", "request_id", c.id, "err", err)
		}
		return
	}
	if err := h.svc.CompleteIdempotency(ctx, ik.Hash, c.status, ik.Seal(c.answer)); err != nil {
		// The answer was given; a retry within the lease waits, then runs again.
		h.log.Warn("store idempotent answer", "request_id", c.id, "err", err)
	}
	clear(c.answer) // it may hold a new key's secret
}

// replay answers a retry from the stored record, waiting while the first
// request still runs.
func (h *handler) replay(c *call, ik keystore.IdempotencyKey, rec, stored keystore.IdempotencyRecord) {
	deadline := time.Now().Add(idemWait)
	for {
		if !stored.Matches(rec) {
			h.writeError(c, http.StatusBadRequest, "idempotency_error", fmt.Sprintf(
				"This Idempotency-Key was already used for another request (%s %s with a different body) in the last %s: use a new key for a new request.",
				stored.Method, stored.Path, keystore.IdempotencyTTL))
			return
		}
		if stored.Status != 0 {
			answer, err := ik.Open(stored.Answer)
			if err != nil {
				h.log.Error("replay idempotent answer", "request_id", c.id, "err", err)
				h.writeError(c, http.StatusInternalServerError, "internal_error", "The stored answer to this Idempotency-Key cannot be read (request "+c.id+").")
				return
			}
			c.w.Header().Set("Idempotent-Replayed", "true")
			h.writeBody(c, stored.Status, answer)
			clear(answer)
			return
		}
		if time.Now().After(deadline) {
			h.writeError(c, http.StatusConflict, "idempotency_error", "A request with this Idempotency-Key is still being processed; retry shortly.")
			return
		}
		select {
		case <-c.r.Context().Done():
			return
		case <-time.After(idemPoll):
		}
		var err error
		stored, err = h.svc.GetIdempotency(c.r.Context(), ik.Hash)
		if errors.Is(err, keystore.ErrNotFound) {
			// The first request failed and let go: the client's next retry
			// runs it.
			h.writeError(c, http.StatusConflict, "idempotency_error", "The first request with this Idempotency-Key failed; retry it.")
			return
		}
		if err != nil {
			h.fail(c, err)
			return
		}
	}
}
