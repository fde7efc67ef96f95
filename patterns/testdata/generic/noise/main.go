package main

import (
	"go/token"
	"os"
)

func main() {
	apiKey := os.Getenv("API_KEY")
	secret := []byte(os.Getenv("HMAC_SECRET"))
	var tok token.Token
	fset := token.NewFileSet()
	pos := fset.Position(token.NoPos)
	password := flag.String("password", "", "database password")
	tokenFile := flag.String("token-file", "/var/run/secrets/token", "path of the token")
	cfg.Password = os.Getenv("DB_PASSWORD")
	cfg.SecretKey = mustRead(*secretPath)
	if token == nil || tok == token.EOF {
		return
	}
	secretName := fmt.Sprintf("projects/%s/secrets/%s/versions/latest", project, name)
	tokenSource := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken})
	const tokenHeader = "X-Auth-Token"
	const passwordEnv = "PGPASSWORD"
	credentials, err := google.FindDefaultCredentials(ctx, scopes...)
	key := strconv.Itoa(i)
	m[key] = value
	cache_key := fmt.Sprintf("user:%d", id)
	_ = apiKey
	_ = secret
	_ = tok
	_ = pos
	_ = password
	_ = tokenFile
	_ = secretName
}
