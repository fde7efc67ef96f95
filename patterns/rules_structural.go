package patterns

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// Structural rules: secrets recognised by the shape around them rather
// than a provider's prefix. JSON Web Tokens (RFC 7519) are three base64url
// parts, the first two JSON; curl passes credentials with -u user:password
// or an Authorization header; a Kubernetes Secret holds base64 values
// under data.

func (c common) structuralRules() []Rule {
	return []Rule{
		{
			ID:          "jwt",
			Description: "JSON Web Token (header and claims verified)",
			Keywords:    then("eyj", base62+"_-"),
			Regex:       tok(`eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{16,}`, dashTail),
			SecretGroup: 1, Standalone: true, Entropy: 4,
			Validate: validJWT,
			// The example of RFC 7519's and jwt.io's documentation.
			Allow:        append(c.ph(), regexp.MustCompile(`^eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ\.`)),
			RedactPrefix: 3,
			MaxLen:       4096,
		},
		{
			ID:          "curl-auth-user",
			Description: "Credentials passed to curl with -u / --user",
			Keywords:    []string{"curl"},
			Regex: regexp.MustCompile(`curl(?:[^\n]|\\\n){0,300}?\s(?:-u|--user)(?:\s+|=)?["']?` +
				`([^\s"':$<{]{1,128}:[^\s"'$<{]{0,128})["']?(?:\s|\\|\z)`),
			SecretGroup: 1,
			Validate:    validCurlUser,
			MaxLen:      512,
		},
		{
			ID:          "curl-auth-header",
			Description: "Token passed to curl in an Authorization or API-key header",
			Keywords:    []string{"curl"},
			Regex: regexp.MustCompile(`curl(?:[^\n]|\\\n){0,300}?\s(?:-H|--header)\s*["'](?i:authorization:\s*(?:bearer|basic|token|bot|apikey|key)\s+|` +
				`(?:x-api-key|x-auth-token|x-api-token|api-key|apikey|private-token|x-access-token):\s*)([^\s"'$<{]{8,512})["']`),
			SecretGroup: 1,
			Entropy:     3.5,
			Allow:       c.ph(),
			MaxLen:      1024,
		},
		{
			ID:          "kubernetes-secret-yaml",
			Description: "Value of a Kubernetes Secret manifest (base64 under data, checked to decode to a real value)",
			Keywords:    []string{"kind: secret"},
			Regex: regexp.MustCompile(`kind:[ \t]*Secret\b[\s\S]{0,400}?\ndata:[ \t]*\r?\n(?:[ \t]+[\w.-]+:.*\r?\n){0,20}?` +
				`[ \t]+[\w.-]+:[ \t]*["']?([A-Za-z0-9+/]{12,}={0,2})["']?[ \t]*(?:\r?\n|\z)`),
			SecretGroup: 1,
			Validate:    validK8sSecretValue,
			MaxLen:      2048,
			// The value decoded is scanned too: when it holds a secret a
			// specific rule knows (a platform key, an AWS key), that is the
			// one finding, not the manifest's value beside it.
			Fallback: true,
		},
	}
}

// validJWT checks that the first two parts of a JWT decode to JSON
// objects, the header naming a signing algorithm other than "none".
func validJWT(tok []byte) bool {
	parts := bytes.SplitN(tok, []byte("."), 3)
	if len(parts) != 3 {
		return false
	}
	h, ok := decodeBase64Any(parts[0])
	if !ok {
		return false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(h, &header) != nil || header.Alg == "" || header.Alg == "none" {
		return false
	}
	p, ok := decodeBase64Any(parts[1])
	var claims map[string]json.RawMessage
	return ok && json.Unmarshal(p, &claims) == nil
}

// validCurlUser checks user:password from curl -u: with a password that is
// not a placeholder, or, with none (API keys passed as the user, "key:"),
// a user that looks random.
func validCurlUser(b []byte) bool {
	user, pass, _ := bytes.Cut(b, []byte(":"))
	if len(user) == 0 {
		return false
	}
	if len(pass) == 0 {
		return len(user) >= 16 && ShannonEntropy(user) >= 3.5
	}
	lower := bytes.ToLower(pass)
	for _, p := range []string{"password", "passwd", "pass", "secret", "changeme", "xxx", "***", "..."} {
		if bytes.Equal(lower, []byte(p)) || (len(p) >= 4 && bytes.Contains(lower, []byte(p))) {
			return false
		}
	}
	return len(pass) >= 4
}

// validK8sSecretValue checks that a Secret's data value decodes to at
// least 8 printable bytes that are not a placeholder.
func validK8sSecretValue(b64 []byte) bool {
	raw, ok := decodeBase64Any(b64)
	if !ok || len(raw) < 8 {
		return false
	}
	for _, c := range raw {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	lower := bytes.ToLower(raw)
	for _, p := range []string{"changeme", "password", "example", "placeholder", "xxxx", "${", "{{", "<"} {
		if bytes.Contains(lower, []byte(p)) {
			return false
		}
	}
	return ShannonEntropy(raw) >= 3
}
