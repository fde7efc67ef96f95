// Package fault wraps a real keystore.Store so tests can make it fail or
// hang, and count the calls that reach it. It is for tests only.
package fault

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// Mode is how the wrapped store misbehaves.
type Mode int32

const (
	Healthy Mode = iota
	Down         // every call returns keystore.ErrUnavailable at once
	Hang         // every call blocks until its context ends
)

// Store is a keystore.Store whose calls can be made to fail.
type Store struct {
	keystore.Store
	mode atomic.Int32
	// KeyByHashCalls counts lookups by hash that reached the store.
	KeyByHashCalls atomic.Int64
}

// Wrap wraps s.
func Wrap(s keystore.Store) *Store { return &Store{Store: s} }

// Set switches the store's behaviour.
func (s *Store) Set(m Mode) { s.mode.Store(int32(m)) }

func (s *Store) check(ctx context.Context, op string) error {
	switch Mode(s.mode.Load()) {
	case Down:
		return fmt.Errorf("%s: %w (injected)", op, keystore.ErrUnavailable)
	case Hang:
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case <-time.After(time.Minute):
			return fmt.Errorf("%s: hung for a minute", op)
		}
	}
	return nil
}

func (s *Store) CreateAccount(ctx context.Context, a keystore.Account) error {
	if err := s.check(ctx, "create account"); err != nil {
		return err
	}
	return s.Store.CreateAccount(ctx, a)
}

func (s *Store) GetAccount(ctx context.Context, id string) (keystore.Account, error) {
	if err := s.check(ctx, "get account"); err != nil {
		return keystore.Account{}, err
	}
	return s.Store.GetAccount(ctx, id)
}

func (s *Store) InsertKey(ctx context.Context, k keystore.Key) error {
	if err := s.check(ctx, "insert key"); err != nil {
		return err
	}
	return s.Store.InsertKey(ctx, k)
}

func (s *Store) GetKey(ctx context.Context, id string) (keystore.Key, error) {
	if err := s.check(ctx, "get key"); err != nil {
		return keystore.Key{}, err
	}
	return s.Store.GetKey(ctx, id)
}

func (s *Store) KeyByHash(ctx context.Context, hash string) (keystore.Key, error) {
	s.KeyByHashCalls.Add(1)
	if err := s.check(ctx, "key by hash"); err != nil {
		return keystore.Key{}, err
	}
	return s.Store.KeyByHash(ctx, hash)
}

func (s *Store) ListKeys(ctx context.Context, accountID string, p keystore.Page) ([]keystore.Key, error) {
	if err := s.check(ctx, "list keys"); err != nil {
		return nil, err
	}
	return s.Store.ListKeys(ctx, accountID, p)
}

func (s *Store) RevokeKey(ctx context.Context, id string, reason keystore.RevokeReason, at time.Time) (keystore.Key, error) {
	if err := s.check(ctx, "revoke key"); err != nil {
		return keystore.Key{}, err
	}
	return s.Store.RevokeKey(ctx, id, reason, at)
}

func (s *Store) RotateKey(ctx context.Context, oldID string, next keystore.Key, oldExpiresAt, at time.Time) (keystore.Key, error) {
	if err := s.check(ctx, "rotate key"); err != nil {
		return keystore.Key{}, err
	}
	return s.Store.RotateKey(ctx, oldID, next, oldExpiresAt, at)
}

func (s *Store) KeysChangedSince(ctx context.Context, since time.Time) ([]keystore.Key, error) {
	if err := s.check(ctx, "keys changed since"); err != nil {
		return nil, err
	}
	return s.Store.KeysChangedSince(ctx, since)
}

func (s *Store) RecordKeyUses(ctx context.Context, uses []keystore.KeyUse) error {
	if err := s.check(ctx, "record key uses"); err != nil {
		return err
	}
	return s.Store.RecordKeyUses(ctx, uses)
}

func (s *Store) InsertAPILogs(ctx context.Context, entries []keystore.APILogEntry) error {
	if err := s.check(ctx, "insert API logs"); err != nil {
		return err
	}
	return s.Store.InsertAPILogs(ctx, entries)
}

func (s *Store) ListAPILogs(ctx context.Context, accountID string, f keystore.LogFilter) ([]keystore.APILogEntry, error) {
	if err := s.check(ctx, "list API logs"); err != nil {
		return nil, err
	}
	return s.Store.ListAPILogs(ctx, accountID, f)
}

func (s *Store) PurgeAPILogs(ctx context.Context, before time.Time) (int64, error) {
	if err := s.check(ctx, "purge API logs"); err != nil {
		return 0, err
	}
	return s.Store.PurgeAPILogs(ctx, before)
}

func (s *Store) ListIncidents(ctx context.Context, accountID string, mode keyformat.Mode, p keystore.Page) ([]keystore.Incident, error) {
	if err := s.check(ctx, "list incidents"); err != nil {
		return nil, err
	}
	return s.Store.ListIncidents(ctx, accountID, mode, p)
}

func (s *Store) UpdateKey(ctx context.Context, id string, u keystore.KeyUpdate, at time.Time) (keystore.Key, error) {
	if err := s.check(ctx, "update key"); err != nil {
		return keystore.Key{}, err
	}
	return s.Store.UpdateKey(ctx, id, u, at)
}
