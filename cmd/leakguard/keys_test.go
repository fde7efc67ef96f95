package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
)

type adminOut struct {
	code           int
	stdout, stderr string
}

// adminCLI runs the leakguard command in process with the given variables.
func adminCLI(t *testing.T, vars map[string]string, args ...string) adminOut {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return vars[k] }, isTerminal: func(io.Writer) bool { return false }}
	code := run(context.Background(), e, args)
	return adminOut{code, out.String(), errb.String()}
}

// adminStores runs fn with the variables for the embedded SQLite store and
// for PostgreSQL.
func adminStores(t *testing.T, fn func(t *testing.T, vars map[string]string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, map[string]string{"LEAKGUARD_DATA_DIR": t.TempDir(), "LEAKGUARD_RESOURCES": "orders"})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, map[string]string{"LEAKGUARD_DATABASE_URL": testenv.PostgresURL(t), "LEAKGUARD_DATA_DIR": t.TempDir(), "LEAKGUARD_RESOURCES": "orders"})
	})
}

type adminCreated struct {
	AccountID string `json:"account_id"`
	KeyID     string `json:"key_id"`
	Secret    string `json:"secret"`
}

// oneObject parses stdout as exactly one JSON object with exactly the
// three fields of a create answer.
func oneObject(t *testing.T, r adminOut) adminCreated {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %q", r.stdout)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value on stdout: %q", r.stdout)
	}
	got := keysOfMap(m)
	if !slices.Equal(got, []string{"account_id", "key_id", "secret"}) {
		t.Fatalf("fields %v, want account_id, key_id, secret", got)
	}
	var c adminCreated
	_ = json.Unmarshal([]byte(r.stdout), &c)
	return c
}

func keysOfMap(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestAdminCLI(t *testing.T) {
	adminStores(t, func(t *testing.T, vars map[string]string) {
		acct := oneObject(t, adminCLI(t, vars, "accounts", "create", "--email", "owner@example.com", "--json"))
		if !strings.HasPrefix(acct.Secret, "sk_test_") || !keyformat.ValidKey([]byte(acct.Secret)) || acct.AccountID == "" || acct.KeyID == "" {
			t.Fatalf("account create: %+v", acct.AccountID)
		}
		live := oneObject(t, adminCLI(t, vars, "accounts", "create", "--email", "live@example.com", "--mode", "live", "--json"))
		if !strings.HasPrefix(live.Secret, "sk_live_") {
			t.Fatalf("live account key prefix %q", live.Secret[:8])
		}
		rk := oneObject(t, adminCLI(t, vars, "keys", "create", "--account", acct.AccountID, "--type", "restricted",
			"--scope", "orders:read", "--scope", "leaks:read", "--name", "ci bot", "--allowed-ip", "10.0.0.1", "--json"))
		if !strings.HasPrefix(rk.Secret, "rk_test_") || rk.AccountID != acct.AccountID {
			t.Fatalf("restricted key: %q", rk.Secret[:8])
		}
		pk := oneObject(t, adminCLI(t, vars, "keys", "create", "--account", acct.AccountID, "--type", "publishable", "--mode", "live", "--json"))
		if !strings.HasPrefix(pk.Secret, "pk_live_") {
			t.Fatalf("publishable live key: %q", pk.Secret[:8])
		}

		list := adminCLI(t, vars, "keys", "list", "--account", acct.AccountID, "--json")
		if list.code != 0 {
			t.Fatalf("list: %d %s", list.code, list.stderr)
		}
		var objs []map[string]any
		if err := json.Unmarshal([]byte(list.stdout), &objs); err != nil {
			t.Fatalf("list --json is not a JSON array: %q", list.stdout)
		}
		if len(objs) != 3 {
			t.Fatalf("%d keys listed, want 3", len(objs))
		}
		want := []string{"allowed_ips", "allowed_referrers", "created_at", "expires_at", "id", "last_used_at", "last_used_ip", "mode", "name",
			"redacted", "revoked_at", "revoked_reason", "scopes", "status", "type"}
		var rkObj map[string]any
		for _, o := range objs {
			if got := keysOfMap(o); !slices.Equal(got, want) {
				t.Errorf("key object fields %v", got)
			}
			if o["id"] == rk.KeyID {
				rkObj = o
			}
		}
		if rkObj == nil || rkObj["name"] != "ci bot" || rkObj["type"] != "restricted" || rkObj["status"] != "active" ||
			len(rkObj["scopes"].([]any)) != 2 || rkObj["allowed_ips"].([]any)[0] != "10.0.0.1/32" {
			t.Fatalf("restricted key listed as %v", rkObj)
		}
		for _, s := range []string{acct.Secret, rk.Secret, pk.Secret} {
			if strings.Contains(list.stdout, s) || strings.Contains(list.stdout, s[8:42]) {
				t.Fatal("keys list shows a secret")
			}
		}
		// Text list names every key, no secret.
		text := adminCLI(t, vars, "keys", "list", "--account", acct.AccountID)
		if text.code != 0 || !strings.Contains(text.stdout, rk.KeyID) || strings.Contains(text.stdout, rk.Secret) {
			t.Fatalf("text list: %d %q", text.code, text.stdout)
		}

		// Rotate keeps name, type and scopes; the new secret is shown once.
		rot := oneObject(t, adminCLI(t, vars, "keys", "rotate", "--account", acct.AccountID, "--id", rk.KeyID, "--expires-in", "1h", "--json"))
		if !strings.HasPrefix(rot.Secret, "rk_test_") || rot.KeyID == rk.KeyID || rot.Secret == rk.Secret {
			t.Fatalf("rotate: %+v", rot.KeyID)
		}
		// Revoke, with the id as an argument before or after the flags.
		if r := adminCLI(t, vars, "keys", "revoke", rot.KeyID, "--account", acct.AccountID); r.code != 0 || !strings.Contains(r.stdout, "revoked") {
			t.Fatalf("revoke: %d %q %q", r.code, r.stdout, r.stderr)
		}
		r := adminCLI(t, vars, "keys", "revoke", "--account", acct.AccountID, "--json", rot.KeyID)
		var revoked map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &revoked) != nil || revoked["status"] != "revoked" || revoked["revoked_reason"] != "manual" {
			t.Fatalf("revoke again: %d %q", r.code, r.stdout)
		}
		// Zero overlap: the old key is revoked at once, reason rotated.
		if r := adminCLI(t, vars, "keys", "rotate", "--account", acct.AccountID, acct.KeyID, "--expires-in", "0s"); r.code != 0 || !strings.Contains(r.stdout, "revoked") {
			t.Fatalf("rotate 0: %d %q %q", r.code, r.stdout, r.stderr)
		}
		// Text create shows the secret once, in a line of its own.
		tc := adminCLI(t, vars, "keys", "create", "--account", acct.AccountID, "--scope", "orders:write")
		if tc.code != 0 || !strings.Contains(tc.stdout, "rk_test_") {
			t.Fatalf("text create: %d %q", tc.code, tc.stderr)
		}

		// Errors from the service: exit 2, one line, no secret.
		for _, args := range [][]string{
			{"keys", "create", "--account", "acct_nope"},
			{"keys", "create", "--account", acct.AccountID, "--scope", "refunds:read"},
			{"keys", "create", "--account", acct.AccountID, "--allowed-ip", "10.0.0.0/33"},
			{"keys", "revoke", "--account", live.AccountID, rk.KeyID},
			{"keys", "rotate", "--account", acct.AccountID, rot.KeyID},
			{"keys", "list", "--account", "acct_nope"},
			{"accounts", "create", "--email", "not an email"},
		} {
			r := adminCLI(t, vars, args...)
			oneLineError(t, args, r)
		}
	})
}

func oneLineError(t *testing.T, args []string, r adminOut) {
	t.Helper()
	if r.code != 2 || strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") != 0 || !strings.HasPrefix(r.stderr, "leakguard: ") || r.stdout != "" {
		t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line on stderr", args, r.code, r.stdout, r.stderr)
	}
}

func TestAdminCLIBadFlags(t *testing.T) {
	vars := map[string]string{"LEAKGUARD_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"accounts"},
		{"accounts", "delete"},
		{"accounts", "create"},
		{"accounts", "create", "--email"},
		{"accounts", "create", "--email", "a@b.c", "--mode", "prod"},
		{"accounts", "create", "--email", "a@b.c", "--bogus"},
		{"accounts", "create", "--email", "a@b.c", "extra"},
		{"keys"},
		{"keys", "destroy"},
		{"keys", "create"},
		{"keys", "create", "--account", "a", "--type", "admin"},
		{"keys", "create", "--account", "a", "--mode", "prod"},
		{"keys", "create", "--account", "a", "--expires-at", "tomorrow"},
		{"keys", "create", "--account", "a", "--json=maybe"},
		{"keys", "list"},
		{"keys", "list", "--account", "a", "extra"},
		{"keys", "revoke", "--account", "a"},
		{"keys", "revoke", "key_1"},
		{"keys", "revoke", "--account", "a", "--id", "key_1", "key_2"},
		{"keys", "revoke", "--account", "a", "key_1", "key_2"},
		{"keys", "rotate", "--account", "a", "key_1", "--expires-in", "8d"},
		{"keys", "rotate", "--account", "a", "key_1", "--expires-in", "200h"},
		{"keys", "rotate", "--account", "a", "key_1", "--expires-in", "-1s"},
	} {
		oneLineError(t, args, adminCLI(t, vars, args...))
	}
	// A store that cannot be reached: still one line, and no password.
	down := map[string]string{"LEAKGUARD_DATABASE_URL": "postgres://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2"}
	r := adminCLI(t, down, "accounts", "create", "--email", "a@example.com")
	oneLineError(t, []string{"store down"}, r)
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the password is in the error: %q", r.stderr)
	}
	for _, args := range [][]string{{"keys", "--help"}, {"accounts", "-h"}, {"keys", "create", "-h"}} {
		if r := adminCLI(t, vars, args...); r.code != 0 || !strings.Contains(r.stdout, "usage") {
			t.Errorf("%v: exit %d stdout %q", args, r.code, r.stdout)
		}
	}
}
