package patterns

import (
	"encoding/base64"
	"strings"
)

// jwt returns a token of RFC 7519's shape with random claims and signature.
func (g *gen) jwt(alg string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." +
		enc([]byte(`{"sub":"`+g.s(alphaDigit, 10)+`","iss":"https://auth.acme.test","exp":1900000000}`)) + "." + g.b64url(43)
}

func structuralCases(g *gen) []ruleCase {
	rfcExample := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." + g.b64url(43)
	b64 := base64.StdEncoding.EncodeToString
	return []ruleCase{
		{id: "jwt",
			yes: []example{in("Authorization: Bearer {}\n", g.jwt("RS256")), in(`{"id_token": "{}"}`, g.jwt("HS256"))},
			no: []string{rfcExample, g.jwt("none"), "eyJ" + g.b64url(20) + ".eyJ" + g.b64url(20) + "." + g.b64url(43),
				"x" + g.jwt("RS256")}},
		{id: "curl-auth-user",
			yes: []example{in("curl -u {} https://api.example.net/v1/items\n", "alice:"+g.f("{b16}")),
				in("curl --user '{}' -X POST https://x.test/\n", "deploy:"+g.f("{b12}#{d2}")),
				in("curl https://api.example.net/v1/charges \\\n  -u {} \\\n  -d amount=100\n", g.f("{b32}")+":")},
			no: []string{"curl -u user:password https://x.test/\n", "curl -u $USER:$PASS https://x.test/\n", "curl -u admin: https://x.test/\n",
				"curl -u \"${API_KEY}:\" https://x.test/\n", "wget --user alice:" + g.f("{b16}") + " https://x.test/\n"}},
		{id: "curl-auth-header",
			yes: []example{in(`curl -H "Authorization: Bearer {}" https://api.example.net/`+"\n", g.f("{B40}")),
				in("curl -s -X GET https://gitlab.example.com/api/v4/projects --header 'PRIVATE-TOKEN: {}'\n", g.f("{b20}")),
				in(`curl https://x.test/ -H 'x-api-key: {}'`+"\n", g.f("{b32}"))},
			no: []string{`curl -H "Authorization: Bearer $TOKEN" https://x.test/` + "\n", `curl -H "Authorization: Bearer <token>" https://x.test/` + "\n",
				`curl -H "Content-Type: application/json" https://x.test/` + "\n", `http GET x.test "Authorization: Bearer ` + g.f("{B40}") + `"` + "\n"}},
		{id: "kubernetes-secret-yaml",
			yes: []example{in("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: {}\n", b64([]byte(g.f("{b20}")))),
				in("kind: Secret\nmetadata:\n  name: api\ndata:\n  username: "+b64([]byte("svc"))+"\n  token: \"{}\"\n", b64([]byte(g.f("{B40}"))))},
			no: []string{"kind: Secret\ndata:\n  password: " + b64([]byte("changeme")) + "\n", "kind: ConfigMap\ndata:\n  password: " + b64([]byte(g.f("{b20}"))) + "\n",
				"kind: Secret\ndata:\n  key: " + b64([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) + "\n"}},
	}
}

// pkcs12 returns a DER-shaped PFX: SEQUENCE (long form), INTEGER 3, and
// random content.
func (g *gen) pkcs12() string {
	body := "\x02\x01\x03\x30\x82\x01\x00" + g.s(alphaB64, 600)
	n := len(body)
	return "\x30\x82" + string([]byte{byte(n >> 8), byte(n)}) + body
}

// pathCases hold true and false examples of the credential-file rules, in
// the files they are for (TestRuleExamples also checks that the same text
// elsewhere is not reported).
func pathCases(g *gen) []ruleCase {
	pw := func() string { return g.f("{b14}") }
	bcrypt := "$2y$10$" + g.s("./"+alphaB62, 53)
	sha512crypt := "$6$" + g.s(alphaB62, 16) + "$" + g.s("./"+alphaB62, 86)
	apr1 := "$apr1$" + g.s(alphaB62, 8) + "$" + g.s("./"+alphaB62, 22)
	return []ruleCase{
		{id: "netrc-password", path: "home/alice/.netrc",
			yes: []example{in("machine api.heroku.com\n  login alice@example.com\n  password {}\n", g.f("{u}")),
				in("machine github.com login bob password {}\n", pw()), in("default login anonymous password {}\n", pw())},
			no: []string{"machine example.com login alice\n", "machine x login y password password\n", "machine x login y password ${TOKEN}\n"}},
		{id: "pgpass-password", path: ".pgpass",
			yes: []example{in("db.internal:5432:app:app:{}\n", pw()), in("# prod\n*:*:*:replicator:{}\n", pw()), in(`h:5432:d:u\:x:{}`+"\n", pw())},
			no:  []string{"# hostname:port:database:username:password\n", "localhost:5432:app:app:postgres\n"}},
		{id: "git-credentials-password", path: ".git-credentials",
			yes: []example{in("https://alice:{}@github.com\n", g.f("{b20}")), in("https://oauth2:{}@gitlab.example.com\n", g.f("{B26}"))},
			no:  []string{"https://github.com\n", "https://alice:password@github.com\n"}},
		{id: "aws-session-token-file", path: "home/u/.aws/credentials",
			yes: []example{in("[default]\naws_access_key_id = ASIA"+g.s(alphaB32, 16)+"\naws_session_token = {}\n", g.f("IQoJb3JpZ2luX2VjE{s200}"))},
			no:  []string{"[default]\naws_session_token = \n", "aws_session_token = " + strings.Repeat("A", 120) + "\n"}},
		{id: "s3cfg-secret-key", path: ".s3cfg",
			yes: []example{in("[default]\naccess_key = AKIA"+g.s(alphaB32, 16)+"\nsecret_key = {}\n", g.f("{s40}"))},
			no:  []string{"secret_key = \n", "secret_key = " + strings.Repeat("x", 40) + "\n"}},
		{id: "s3fs-passwd", path: ".passwd-s3fs",
			yes: []example{in("AKIA"+g.s(alphaB32, 16)+":{}\n", g.f("{s40}")), in("mybucket:ASIA"+g.s(alphaB32, 16)+":{}\n", g.f("{s40}"))},
			no:  []string{"AKIA" + g.s(alphaB32, 16) + ":" + strings.Repeat("a", 40) + "\n", "key:secret\n"}},
		{id: "wordpress-db-password", path: "public_html/wp-config.php",
			yes: []example{in("define( 'DB_PASSWORD', '{}' );\n", pw()), in(`define("DB_PASSWORD", "{}");`, g.f("{b10}#{d4}"))},
			no:  []string{"define( 'DB_PASSWORD', 'password_here' );\n", "define( 'DB_PASSWORD', getenv('DB_PASSWORD') );\n", "define( 'DB_USER', 'wp' );\n"}},
		{id: "wordpress-auth-key", path: "wp-config.php",
			yes: []example{in("define( 'AUTH_KEY',         '{}' );\n", g.f("{s64}")), in("define('NONCE_SALT', '{}');\n", g.f("{b64}"))},
			no:  []string{"define( 'AUTH_KEY',         'put your unique phrase here' );\n", "define( 'WP_DEBUG', false );\n"}},
		{id: "rails-master-key", path: "config/master.key",
			yes: []example{in("{}\n", g.f("{h32}")), in("{}", g.f("{h32}"))},
			no:  []string{g.f("{h31}") + "\n", "see README\n" + g.f("{h32}")}},
		{id: "rails-secret-key-base", path: "config/secrets.yml",
			yes: []example{in("production:\n  secret_key_base: {}\n", g.f("{h128}"))},
			no:  []string{"production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n"}},
		{id: "htpasswd-hash", path: "site/.htpasswd",
			yes: []example{in("admin:{}\n", apr1), in("bob:{}\n", bcrypt), in("carol:{}\n", "{SHA}"+base64.StdEncoding.EncodeToString([]byte(g.s(alphaB62, 20))))},
			no:  []string{"# user:hash\n", "admin:\n"}},
		{id: "shadow-hash", path: "etc/shadow",
			yes: []example{in("root:{}:19700:0:99999:7:::\n", sha512crypt), in("deploy:{}:19000::::::\n", "$y$j9T$"+g.s(alphaB62, 22)+"$"+g.s(alphaB62, 43))},
			no:  []string{"daemon:*:19700:0:99999:7:::\n", "nobody:!:19700::::::\n", "alice:!!:19700::::::\n"}},
		{id: "filezilla-password", path: "AppData/Roaming/FileZilla/sitemanager.xml",
			yes: []example{in(`<Server><Host>ftp.example.com</Host><User>alice</User><Pass encoding="base64">{}</Pass></Server>`, base64.StdEncoding.EncodeToString([]byte(pw()))),
				in("<Pass>{}</Pass>", pw())},
			no: []string{"<Server><Host>ftp.example.com</Host><User>alice</User></Server>", "<Pass>password</Pass>"}},
		{id: "robomongo-password", path: ".3T/robo-3t/1.4.4/robo3t.json",
			yes: []example{in(`"credentials": [{"databaseName": "admin", "userName": "root", "userPassword": "{}"}]`, pw())},
			no:  []string{`"userPassword": ""`, `"userName": "root"`}},
		{id: "dbeaver-password", path: ".dbeaver/data-sources.json",
			yes: []example{in(`"auth-model": "native", "user": "app", "password": "{}"`, pw())},
			no:  []string{`"user": "app"`, `"password": "<password>"`}},
		{id: "pypirc-password", path: "home/u/.pypirc",
			yes: []example{in("[pypi]\nusername = __token__\npassword = {}\n", "pypi-"+g.b64url(120)), in("[testpypi]\npassword: {}\n", pw())},
			no:  []string{"[pypi]\nusername = __token__\n", "password = changeme\n"}},
		{id: "npmrc-auth", path: "project/.npmrc",
			yes: []example{in("//npm.pkg.github.com/:_authToken={}\n", g.f("{b40}")), in("_auth = {}\n", base64.StdEncoding.EncodeToString([]byte("bob:"+pw()))),
				in("//registry.example.com/:_password=\"{}\"\n", base64.StdEncoding.EncodeToString([]byte(pw())))},
			no: []string{"//npm.pkg.github.com/:_authToken=${NPM_TOKEN}\n", "registry=https://registry.npmjs.org/\n"}},
		{id: "cargo-credentials", path: "home/u/.cargo/credentials.toml",
			yes: []example{in("[registry]\ntoken = \"{}\"\n", "cio"+g.f("{b32}"))},
			no:  []string{"[registry]\ntoken = \"\"\n", "[registry]\ntoken = \"" + strings.Repeat("a", 35) + "\"\n"}},
		{id: "composer-auth-password", path: "auth.json",
			yes: []example{in(`{"http-basic": {"repo.example.com": {"username": "bob", "password": "{}"}}}`, pw()),
				in(`{"github-oauth": {"github.com": "{}"}}`, g.f("{b40}"))},
			no: []string{`{"http-basic": {"repo.example.com": {"username": "bob"}}}`, `{"password": "changeme"}`}},
		{id: "terraform-credentials", path: ".terraform.d/credentials.tfrc.json",
			yes: []example{in(`{"credentials": {"app.terraform.io": {"token": "{}"}}}`, g.f("{b24}"))},
			no:  []string{`{"credentials": {}}`, `{"token": "` + strings.Repeat("x", 20) + `"}`}},
		{id: "gh-hosts-token", path: ".config/gh/hosts.yml",
			yes: []example{in("github.com:\n    user: alice\n    oauth_token: {}\n", g.f("{b40}"))},
			no:  []string{"github.com:\n    user: alice\n    git_protocol: https\n"}},
		{id: "kubeconfig-token", path: "home/u/.kube/config",
			yes: []example{in("users:\n- name: ci\n  user:\n    token: {}\n", g.f("{B60}"))},
			no:  []string{"users:\n- name: ci\n  user:\n    token: \n", "users:\n- name: ci\n  user:\n    token: " + strings.Repeat("a", 30) + "\n"}},
		{id: "nuget-config-password", path: "src/NuGet.Config",
			yes: []example{in(`<packageSourceCredentials><feed><add key="Username" value="bob" /><add key="ClearTextPassword" value="{}" /></feed></packageSourceCredentials>`, pw())},
			no:  []string{`<add key="Username" value="bob" />`, `<add key="ClearTextPassword" value="%FEED_PASSWORD%" />`}},
		{id: "sql-dump-password-hash", path: "backups/users.sql",
			yes: []example{in("INSERT INTO `users` VALUES (1,'alice@example.com','{}','2024-01-01');\n", bcrypt),
				in("INSERT INTO wp_users VALUES (1,'admin','{}','admin');\n", "$P$"+g.s("./"+alphaB62, 31)),
				in("CREATE USER 'app'@'%' IDENTIFIED WITH mysql_native_password AS '{}';\n", "*"+strings.ToUpper(g.s(alphaHex, 40))),
				in("CREATE ROLE app LOGIN PASSWORD '{}';\n", "md5"+g.s(alphaHex, 32))},
			no: []string{"INSERT INTO users VALUES (1,'alice@example.com',NULL);\n", "-- password_hash text NOT NULL\n"}},
		{id: "sql-plaintext-password", path: "db/init.sql",
			yes: []example{in("CREATE USER 'app'@'%' IDENTIFIED BY '{}';\n", pw()), in("ALTER ROLE app WITH PASSWORD '{}';\n", pw())},
			no:  []string{"CREATE USER 'app'@'%' IDENTIFIED BY 'password';\n", "CREATE ROLE app PASSWORD 'md5" + g.s(alphaHex, 32) + "';\n", "CREATE USER app;\n"}},
		{id: "putty-private-key",
			yes: []example{in("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ed25519-key-20240101\nPublic-Lines: 2\n"+g.s(alphaB64, 64)+"\n"+g.s(alphaB64, 20)+"\nPrivate-Lines: 1\n{}\nPrivate-MAC: "+g.s(alphaHex, 64)+"\n", g.s(alphaB64, 64)+"\n"+g.s(alphaB64, 40)),
				in("PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: aes256-cbc\r\nComment: rsa-key\r\nPublic-Lines: 1\r\nAAAA\r\nPrivate-Lines: 2\r\n{}\r\nPrivate-MAC: "+g.s(alphaHex, 40)+"\r\n", g.s(alphaB64, 64)+"\r\n"+g.s(alphaB64, 64))},
			no: []string{"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAA\nPrivate-MAC: 00\n", "PuTTY-User-Key-File-3: ssh-ed25519\n"}},
		{id: "pkcs12-file", path: "certs/client.p12",
			yes: []example{in("{}", g.pkcs12())},
			no:  []string{"\x30\x82\x01\x00\x02\x01\x01" + g.s(alphaB64, 100), "not a keystore"}},
	}
}
