package notifier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/notifier"
)

// The leak email links to the console's Leaks page of the key's mode, so
// an owner whose only key was revoked can get back in (docs/console.md).
func TestEmailLinksToConsoleLeaksPage(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		console string
		mode    keyformat.Mode
		want    string
	}{
		{"https://console.example.com/", keyformat.Live, "https://console.example.com/leaks?mode=live"},
		{"http://127.0.0.1:8080", keyformat.Test, "http://127.0.0.1:8080/leaks?mode=test"},
		{"", keyformat.Live, ""},
	} {
		msg := notifier.Message{ConsoleURL: tc.console, Notice: keystore.Notice{
			ID: "ntc_1", Channel: keystore.ChannelEmail,
			Incident: keystore.Incident{ID: "inc_1", Redacted: "sk_" + string(tc.mode) + "_…a1B2", Action: keystore.OutcomeRevoked,
				Source: "github", Rule: keyformat.RuleSecretKey, FirstSeenAt: now, RevokedAt: &now},
			Key: keystore.Key{ID: "key_1", Type: keyformat.Secret, Mode: tc.mode, Prefix: "sk_" + string(tc.mode) + "_", Last4: "a1B2"},
		}}
		e, err := notifier.Render(msg)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if strings.Contains(e.Text, "/leaks?mode=") || strings.Contains(e.HTML, "/leaks?mode=") {
				t.Errorf("no console URL, yet the email links to a Leaks page")
			}
			continue
		}
		if !strings.Contains(e.Text, tc.want) {
			t.Errorf("text body lacks %s:\n%s", tc.want, e.Text)
		}
		if !strings.Contains(e.HTML, `href="`+tc.want+`"`) {
			t.Errorf("HTML body does not link to %s", tc.want)
		}
	}
}
