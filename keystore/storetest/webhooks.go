package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// RunWebhooks is the contract of a keystore.WebhookStore: deliveries are
// made with the incident (one per endpoint, none for a publishable key or
// an endpoint created later), leased, finished once, listed per endpoint
// and account, purged when finished.
func RunWebhooks(t *testing.T, open func(t *testing.T) keystore.Store) {
	t.Helper()
	ctx := context.Background()
	st := open(t)
	ws, ok := st.(keystore.WebhookStore)
	if !ok {
		t.Fatalf("%T is not a keystore.WebhookStore", st)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	acct := func() keystore.Account {
		a := keystore.Account{ID: keystore.NewID("acct", now), Email: "o@example.com", Mode: keyformat.Live, CreatedAt: now}
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	expose := func(a keystore.Account, typ keyformat.KeyType) keystore.Exposure {
		plain, _ := keyformat.GenerateKey(typ, keyformat.Live)
		k := keystore.Key{ID: keystore.NewID("key", now), AccountID: a.ID, Type: typ, Mode: keyformat.Live, Scopes: []string{},
			Hash: keyformat.Fingerprint([]byte(plain)), Prefix: plain[:keyformat.KeyPrefixLen], Last4: plain[len(plain)-4:], CreatedAt: now}
		if err := st.InsertKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		x, err := st.RecordExposure(ctx, leakguard.Hit{SecretSHA256: k.Hash, Redacted: keyformat.RedactKey([]byte(plain)),
			Rule: typ.RuleID(), Source: leakguard.SourceGitHub, Location: leakguard.Location{URL: "https://github.com/o/r"}, FoundAt: now}, now)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	made := 0
	endpoint := func(a keystore.Account) keystore.WebhookEndpoint {
		made++ // ids sort by their time: one millisecond apart
		e := keystore.WebhookEndpoint{ID: keystore.NewID("we", now.Add(time.Duration(made)*time.Millisecond)), AccountID: a.ID, URL: "https://hooks.example.com/x",
			Secret: "whsec_" + keystore.NewID("s", now), CreatedAt: now}
		if err := ws.CreateWebhookEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	deliveries := func(a keystore.Account, e keystore.WebhookEndpoint) []keystore.WebhookDelivery {
		ds, err := ws.ListWebhookDeliveries(ctx, a.ID, e.ID, keystore.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}

	a, other := acct(), acct()
	e1, e2 := endpoint(a), endpoint(a)
	eo := endpoint(other)
	x := expose(a, keyformat.Secret)
	expose(a, keyformat.Publishable) // info only: no event
	late := endpoint(a)              // created after the leak: no event
	for _, e := range []keystore.WebhookEndpoint{e1, e2} {
		ds := deliveries(a, e)
		if len(ds) != 1 || ds[0].IncidentID != x.IncidentID || ds[0].Status != keystore.DeliveryPending ||
			ds[0].EventID != keystore.EventID(x.IncidentID) || ds[0].NextAttemptAt == nil || ds[0].Attempts != 0 {
			t.Fatalf("deliveries of %s: %+v", e.ID, ds)
		}
	}
	if ds := deliveries(a, late); len(ds) != 0 {
		t.Fatalf("an endpoint created after the leak got %+v", ds)
	}
	if ds := deliveries(other, eo); len(ds) != 0 {
		t.Fatalf("another account's endpoint got %+v", ds)
	}
	if _, err := ws.GetWebhookEndpoint(ctx, other.ID, e1.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("another account reads the endpoint: %v", err)
	}
	if _, err := ws.ListWebhookDeliveries(ctx, other.ID, e1.ID, keystore.Page{}); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("another account reads the deliveries: %v", err)
	}
	if got, err := ws.GetWebhookEndpoint(ctx, a.ID, e1.ID); err != nil || got != e1 {
		t.Fatalf("get: %+v %v, want %+v", got, err, e1)
	}
	// Limit+1 rows, newest first, so the caller can tell there are more.
	if eps, err := ws.ListWebhookEndpoints(ctx, a.ID, keystore.Page{Limit: 2}); err != nil || len(eps) != 3 || eps[0].ID != late.ID || eps[2].ID != e1.ID {
		t.Fatalf("list newest first: %+v %v", eps, err)
	}
	if eps, err := ws.ListWebhookEndpoints(ctx, a.ID, keystore.Page{Limit: 2, StartingAfter: e2.ID}); err != nil || len(eps) != 1 || eps[0].ID != e1.ID {
		t.Fatalf("next page: %+v %v", eps, err)
	}

	// Claim leases: a second claim within the lease gets nothing.
	jobs, err := ws.ClaimWebhookDeliveries(ctx, 10, time.Now(), time.Now().Add(time.Minute))
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	j := jobs[0]
	if j.Delivery.Attempts != 1 || j.Endpoint.Secret == "" || j.Incident.ID != x.IncidentID || j.Key.ID != x.KeyID {
		t.Fatalf("job %+v", j)
	}
	if again, _ := ws.ClaimWebhookDeliveries(ctx, 10, time.Now(), time.Now().Add(time.Minute)); len(again) != 0 {
		t.Fatalf("claimed twice: %+v", again)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := ws.FinishWebhookAttempt(ctx, jobs[0].Delivery.ID, keystore.WebhookResult{At: at, Delivered: true, ResponseStatus: 204,
		Attempt: 1, Duration: 12 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// A late failure report of the same delivery changes nothing.
	if err := ws.FinishWebhookAttempt(ctx, jobs[0].Delivery.ID, keystore.WebhookResult{At: at, Error: "late", NextAttempt: at, Attempt: 2}); err != nil {
		t.Fatal(err)
	}
	if err := ws.FinishWebhookAttempt(ctx, jobs[1].Delivery.ID, keystore.WebhookResult{At: at, ResponseStatus: 500,
		Error: "endpoint answered 500\x00", NextAttempt: at.Add(-time.Second), Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ws.FinishWebhookAttempt(ctx, "whd_nope", keystore.WebhookResult{At: at}); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("unknown delivery: %v", err)
	}
	var done, retry keystore.WebhookDelivery
	for _, e := range []keystore.WebhookEndpoint{e1, e2} {
		d := deliveries(a, e)[0]
		if d.ID == jobs[0].Delivery.ID {
			done = d
		} else {
			retry = d
		}
	}
	if done.Status != keystore.DeliveryDelivered || done.DeliveredAt == nil || done.ResponseStatus != 204 || done.NextAttemptAt != nil || done.LastError != "" {
		t.Fatalf("delivered: %+v", done)
	}
	if retry.Status != keystore.DeliveryPending || retry.ResponseStatus != 500 || retry.Attempts != 1 || retry.LastAttemptAt == nil {
		t.Fatalf("to retry: %+v", retry)
	}
	if l := done.AttemptLog; len(l) != 1 || l[0].Attempt != 1 || l[0].ResponseStatus != 204 || l[0].DurationMS != 12 || !l[0].At.Equal(at) {
		t.Fatalf("attempt log of the delivered one (a late report must not add to it): %+v", l)
	}
	if l := retry.AttemptLog; len(l) != 1 || l[0].ResponseStatus != 500 || l[0].Error != "endpoint answered 500" {
		t.Fatalf("attempt log of the failing one: %+v", l)
	}
	// Due again: claimed again, then given up.
	jobs, err = ws.ClaimWebhookDeliveries(ctx, 10, time.Now(), time.Now().Add(time.Minute))
	if err != nil || len(jobs) != 1 || jobs[0].Delivery.Attempts != 2 {
		t.Fatalf("reclaim: %+v %v", jobs, err)
	}
	if err := ws.FinishWebhookAttempt(ctx, jobs[0].Delivery.ID, keystore.WebhookResult{At: at, GiveUp: true, Error: "gave up"}); err != nil {
		t.Fatal(err)
	}
	if again, _ := ws.ClaimWebhookDeliveries(ctx, 10, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)); len(again) != 0 {
		t.Fatalf("a failed delivery was claimed: %+v", again)
	}

	// Purge drops finished deliveries only.
	x2 := expose(a, keyformat.Secret)
	n, err := ws.PurgeWebhookDeliveries(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("purge: %d %v, want the delivered and the failed one", n, err)
	}
	if ds := deliveries(a, e1); len(ds) != 1 || ds[0].IncidentID != x2.IncidentID {
		t.Fatalf("after purge: %+v", ds)
	}
	// Delete: the endpoint and its deliveries go, the other account's stay.
	if err := ws.DeleteWebhookEndpoint(ctx, other.ID, e1.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("another account deletes: %v", err)
	}
	if err := ws.DeleteWebhookEndpoint(ctx, a.ID, e1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.ListWebhookDeliveries(ctx, a.ID, e1.ID, keystore.Page{}); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("deliveries of a deleted endpoint: %v", err)
	}
	if err := ws.DeleteWebhookEndpoint(ctx, a.ID, e1.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
