package scanner

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// TestKubernetesSecretReportedOnce: a Kubernetes Secret's base64 value
// that decodes to a secret another rule knows is one leak, reported under
// that rule (a platform key is what gets revoked); a value no other rule
// knows is still reported as the manifest's.
func TestKubernetesSecretReportedOnce(t *testing.T) {
	manifest := func(value string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  token: " +
			base64.StdEncoding.EncodeToString([]byte(value)) + "\n"
	}
	platform := newKey(t, keyformat.Secret, keyformat.Live)
	cases := []struct {
		name, value, rule, secret string
	}{
		{"platform key", platform, "leakguard-secret-key", platform},
		{"AWS access key id", "aws_access_key_id=AKIAQYLPMN5HHHFPZAM2", "aws-access-key-id", "AKIAQYLPMN5HHHFPZAM2"},
		{"password no rule knows", "Zt8#qL2!vR9wKx4p", "kubernetes-secret-yaml", base64.StdEncoding.EncodeToString([]byte("Zt8#qL2!vR9wKx4p"))},
	}
	e := mustEngine(t, Options{})
	for _, tc := range cases {
		var got []string
		e.ScanBytes("deploy/secret.yaml", []byte(manifest(tc.value)), func(f Finding) {
			got = append(got, f.RuleID+" "+string(f.Secret))
		})
		if len(got) != 1 || got[0] != tc.rule+" "+tc.secret {
			t.Errorf("%s: got %q, want one finding %s %s", tc.name, got, tc.rule, tc.secret)
		}
		for _, g := range got {
			if tc.rule == "leakguard-secret-key" && strings.Contains(g, "kubernetes") {
				t.Errorf("%s: the manifest's value is reported beside the key it holds", tc.name)
			}
		}
	}
}
