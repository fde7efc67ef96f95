package partner_test

import (
	"net/http"
	"testing"
)

// FuzzHandler sends correctly signed bodies of any shape: the endpoint
// answers 200, 400 or 413 and never panics or hangs.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{
		`[{"token":"sk_live_abc123xyz789","type":"t","url":"https://github.com/a/b/blob/c/d#L1","source":"content"}]`,
		`[]`, `{}`, `[{"token":1}]`, `[{"url":"https://github.com/a/b/blob/c/d/e#Lx"}]`, ``, `null`,
		`[{"token":"x","url":"http://[::1"}]`,
	} {
		f.Add([]byte(s))
	}
	e := setup(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(t, e.h, body, e.gh.id, e.gh.sign(t, body))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
