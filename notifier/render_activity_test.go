package notifier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/notifier"
)

// The email summarises the key's activity around the detection: by
// resource, addresses new to the key (and against what), refused attempts
// after the revocation, and the unusual-volume verdict with its numbers.
func TestEmailSummarisesActivity(t *testing.T) {
	found := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	revoked := found.Add(time.Minute)
	baseline := found.Add(-90 * 24 * time.Hour)
	act := keystore.Activity{From: found.Add(-keystore.ActivityWindow), Detected: found, Before: 1200, Requests: 57,
		Resources:              []keystore.ResourceActivity{{Resource: "customers", Before: 900, Since: 50}, {Resource: "orders", Before: 300, Since: 7}},
		NewIPs:                 []string{"203.0.113.5"},
		BaselineSince:          &baseline,
		RefusedAfterRevocation: 50, ListPeak: 800, ListBaseline: 12.5, UnusualVolume: true}
	msg := notifier.Message{Activity: &act, Notice: keystore.Notice{ID: "ntc_1", Channel: keystore.ChannelEmail,
		Incident: keystore.Incident{ID: "inc_1", Redacted: "sk_live_…a1B2", Action: keystore.OutcomeRevoked, Source: "npm",
			Rule: keyformat.RuleSecretKey, FirstSeenAt: found, RevokedAt: &revoked},
		Key: keystore.Key{ID: "key_1", Type: keyformat.Secret, Mode: keyformat.Live, Prefix: "sk_live_", Last4: "a1B2"}}}
	e, err := notifier.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1200 in the 30 days before, 57 since",
		"customers: 900 before, 50 since", "orders: 300 before, 7 since",
		"Addresses new to this key: 203.0.113.5",
		"compared with the addresses this key used since 2026-09-02",
		"Refused attempts after the revocation: 50",
		"Unusual volume: YES: list calls peaked at 800", "against 12.5 a day",
		"at least 20 list calls in a day, and more than 3 times",
	} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, e.Text)
		}
	}
	for _, want := range []string{"<td>customers</td>", "Refused attempts after the revocation: 50", "Unusual volume: YES"} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// A key with no history before the window says so.
	act.BaselineSince = nil
	e, _ = notifier.Render(msg)
	if !strings.Contains(e.Text, "no recorded use before") {
		t.Errorf("no baseline: %s", e.Text)
	}
}
