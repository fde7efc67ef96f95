package keystore

import (
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// The revoke decision, written once. Both stores and the manual path call
// these functions: a store only locks the key row, reads what they need and
// writes what they decide, so "when is a key revoked?" has one answer.

// Revocation decides whether revoking k for reason at changes it, and
// returns the key as it should then be stored. A revocation is never
// changed or undone, so a revoked key is returned unchanged. A manual or
// rotation revocation applies to any unrevoked key (an expired key gets the
// record too); an exposure revokes only a key that still works, and never a
// publishable key (meant to be public: found in public it is information,
// not a leak).
func Revocation(k Key, reason RevokeReason, at time.Time) (Key, bool) {
	if k.RevokedAt != nil {
		return k, false
	}
	if reason == ReasonExposed {
		if k.Type == keyformat.Publishable {
			return k, false
		}
		if st := k.Status(at); st != StatusActive && st != StatusExpiring {
			return k, false
		}
	}
	t := at
	k.RevokedAt = &t
	k.RevokedReason = reason
	return k, true
}

// ExposureDecision is what recording a hit does, decided by DecideExposure.
type ExposureDecision struct {
	Outcome ExposureOutcome
	// Revoke: store Key (revoked for exposure at the hit's time).
	Revoke bool
	Key    Key
	// NewIncident: create the key's incident, with IncidentRevokedAt as its
	// revocation time; otherwise the hit is one more sighting of the
	// existing incident (or, for an unknown key, nothing at all).
	NewIncident       bool
	IncidentRevokedAt *time.Time
	// Notify: queue the owner's notices for the new incident.
	Notify bool
}

// DecideExposure decides a hit on key k (nil: no key has the hit's hash),
// which already has an incident when hasIncident, at time at:
//
//   - unknown: nothing is recorded;
//   - a key with an incident: one more sighting, nothing revoked, no notice;
//   - publishable: an incident as information, never revoked, no notice;
//   - active or expiring: revoked for exposure, incident and notices;
//   - already revoked (manually, rotated) or expired: incident and notices,
//     the revocation left as it was ("inactive").
func DecideExposure(k *Key, hasIncident bool, at time.Time) ExposureDecision {
	if k == nil {
		return ExposureDecision{Outcome: OutcomeUnknown}
	}
	d := ExposureDecision{Key: *k}
	publishable := k.Type == keyformat.Publishable
	switch {
	case hasIncident && publishable:
		d.Outcome = OutcomePublishable
		return d
	case hasIncident:
		d.Outcome = OutcomeSighting
		return d
	case publishable:
		d.Outcome = OutcomePublishable
		d.NewIncident = true
		return d
	}
	d.NewIncident, d.Notify = true, true
	if next, changed := Revocation(*k, ReasonExposed, at); changed {
		d.Outcome, d.Revoke, d.Key = OutcomeRevoked, true, next
		d.IncidentRevokedAt = next.RevokedAt
		return d
	}
	d.Outcome = OutcomeInactive
	d.IncidentRevokedAt = k.RevokedAt
	return d
}

// Rotation decides what rotating old at does to it, given the end of its
// overlap: a revoked or expired key cannot be rotated (ErrConflict); an
// overlap that ends now revokes it (reason rotated); otherwise it expires at
// the earlier of its own expiry and oldExpiresAt. It returns the old key as
// it should be stored and whether it changed.
func Rotation(old Key, oldExpiresAt, at time.Time) (Key, bool, error) {
	if st := old.Status(at); st == StatusRevoked || st == StatusExpired {
		return old, false, &Error{Kind: ErrConflict, Message: "The API key is " + string(st) + " and cannot be rotated."}
	}
	if !oldExpiresAt.After(at) {
		k, changed := Revocation(old, ReasonRotated, at)
		return k, changed, nil
	}
	if old.ExpiresAt == nil || oldExpiresAt.Before(*old.ExpiresAt) {
		t := oldExpiresAt
		old.ExpiresAt = &t
		return old, true, nil
	}
	return old, false, nil
}
