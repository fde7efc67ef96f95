package console

import (
	"context"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// The key service's lists, in one place: the pages filter what the store
// cannot (the mode of an incident or a log entry's key) themselves, so
// these calls are where a store-side filter goes once the service takes it.

// listIncidents lists an account's incidents, newest first; m is the mode
// the page shows (the page keeps that mode's only).
func (c *Console) listIncidents(ctx context.Context, accountID string, m keyformat.Mode, p keystore.Page) ([]keystore.Incident, bool, error) {
	return c.svc.ListIncidents(ctx, accountID, m, p)
}

// listLogs lists an account's API log, newest first, by f.
func (c *Console) listLogs(ctx context.Context, accountID string, f keystore.LogFilter) ([]keystore.APILogEntry, bool, error) {
	return c.svc.ListAPILogs(ctx, accountID, f)
}

// activity is a leaked key's use since it was exposed, as the leak email
// summarises it; nil when the store cannot say right now.
func (c *Console) activity(ctx context.Context, in keystore.Incident) *keystore.Activity {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	act, err := c.store.KeyActivity(actx, in.KeyID, keystore.ActivityQuery{Detected: in.FirstSeenAt, RevokedAt: in.RevokedAt})
	if err != nil {
		return nil
	}
	return &act
}
