package patterns

import (
	"bytes"
	"regexp"
)

// Rules for credential files people commit by accident. Each knows its
// file's syntax and runs only on files whose path names that kind of file
// (Rule.Path; the scanner decides once per file), so a line shaped like
// `machine x login y password z` is a finding in .netrc and nothing in a
// README. Without keywords a path rule sees the whole file.

// filePath matches a path whose last element (after "/" or an archive's
// "!") matches name.
func filePath(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[/!\\])(?:` + name + `)$`)
}

func (c common) fileRule(id, desc string, path *regexp.Regexp, re string, entropy float64) Rule {
	return Rule{
		ID:          id,
		Description: desc,
		Path:        path,
		Regex:       regexp.MustCompile(re),
		SecretGroup: 1,
		Entropy:     entropy,
		Allow:       append(c.ph(), c.dbAllow()...),
	}
}

func (c common) fileRules() []Rule {
	// A crypt(3)-style hash: MD5-crypt/apr1, bcrypt, SHA-256/512-crypt,
	// yescrypt, scrypt.
	const cryptHash = `\$(?:1|apr1|2[aby]|5|6|y|gy|7)\$[./0-9A-Za-z$=,]{8,}`
	rules := []Rule{
		c.fileRule("netrc-password", "Password in a .netrc (machine ... login ... password ...)",
			filePath(`[._]netrc`), `(?:machine\s+\S+|default)(?:\s+(?:login|account|port)\s+\S+)*\s+password\s+(\S+)`, 0),
		c.fileRule("pgpass-password", "Password in a PostgreSQL password file (host:port:db:user:password)",
			filePath(`\.?pgpass(?:\.conf)?`), `(?m)^(?:[^#:\n\\]|\\.)(?:[^:\n\\]|\\.)*:(?:[0-9]+|\*):(?:[^:\n\\]|\\.)*:(?:[^:\n\\]|\\.)*:((?:[^\n\\\r]|\\.)+)\r?$`, 0),
		c.fileRule("git-credentials-password", "Password or token in a git credential store (.git-credentials)",
			filePath(`\.git-credentials`), `(?m)^[ \t]*[a-z][a-z0-9+.-]*://[^:@/\s]+:([^@\s]+)@[^\s/]+`, 0),
		c.fileRule("aws-session-token-file", "AWS session token in an AWS credentials or config file",
			filePath(`credentials|config|\.boto`), `(?im)^[ \t]*(?:aws_session_token|aws_security_token)[ \t]*=[ \t]*([A-Za-z0-9/+=]{100,})[ \t]*\r?$`, 4),
		c.fileRule("s3cfg-secret-key", "Secret key in an s3cmd configuration (.s3cfg)",
			filePath(`\.s3cfg`), `(?m)^[ \t]*secret_key[ \t]*=[ \t]*([A-Za-z0-9/+]{40})[ \t]*\r?$`, 4),
		c.fileRule("s3fs-passwd", "Access key and secret in an s3fs password file",
			filePath(`\.?passwd-s3fs`), `(?m)^(?:[\w.-]+:)?(?:AKIA|ASIA)[A-Z2-7]{16}:([A-Za-z0-9/+]{40})\r?$`, 4),
		c.fileRule("wordpress-db-password", "Database password in a WordPress wp-config.php",
			filePath(`wp-config(?:[.-][\w.-]+)?\.php`), `define\(\s*['"]DB_PASSWORD['"]\s*,\s*['"]([^'"\n]{1,256})['"]\s*\)`, 0),
		c.fileRule("wordpress-auth-key", "Authentication key or salt in a WordPress wp-config.php",
			filePath(`wp-config(?:[.-][\w.-]+)?\.php`), `define\(\s*['"](?:AUTH|SECURE_AUTH|LOGGED_IN|NONCE)_(?:KEY|SALT)['"]\s*,\s*['"]([^'"\n]{32,256})['"]\s*\)`, 4),
		c.fileRule("rails-master-key", "Rails master key (config/master.key or config/credentials/*.key)",
			filePath(`master\.key|credentials[/\\][\w.-]+\.key`), `\A\s*([0-9a-f]{32})\s*\z`, 2.9),
		c.fileRule("rails-secret-key-base", "Rails secret_key_base in config/secrets.yml",
			filePath(`secrets\.ya?ml`), `(?m)^[ \t]*secret_(?:key_base|token):[ \t]*["']?([0-9a-f]{64,256})["']?[ \t]*\r?$`, 3),
		c.fileRule("htpasswd-hash", "Password hash in an Apache .htpasswd file",
			filePath(`\.?htpasswd(?:[.-][\w.-]+)?`), `(?m)^[^:\s#]+:(`+cryptHash+`|\{SHA\}[A-Za-z0-9+/]{27}=|[./0-9A-Za-z]{13})\r?$`, 2.5),
		c.fileRule("shadow-hash", "Password hash in a shadow password file",
			filePath(`(?:g?shadow|master\.passwd)(?:-|\.bak|\.old)?`), `(?m)^[a-z_][a-z0-9_.-]*\$?:(`+cryptHash+`)(?::|\r?$)`, 2.5),
		c.fileRule("filezilla-password", "Saved password in a FileZilla site manager or recent servers file",
			regexp.MustCompile(`(?i)(?:^|[/!\\])(?:sitemanager|recentservers|filezilla)\.xml$`), `<Pass(?:\s+encoding="base64")?\s*>([^<]{1,512})</Pass>`, 0),
		c.fileRule("robomongo-password", "Saved password in a Robomongo / Robo 3T connection file",
			regexp.MustCompile(`(?i)(?:^|[/!\\])(?:robomongo|robo3t|3t)[\w.-]*\.json$`), `"(?:userPassword|sshUserPassword|sshPassphrase)"\s*:\s*"([^"]{1,256})"`, 0),
		c.fileRule("dbeaver-password", "Saved password in a DBeaver data sources file",
			regexp.MustCompile(`(?i)(?:^|[/!\\])data-sources[\w.-]*\.json$`), `"password"\s*:\s*"([^"]{1,256})"`, 0),
		c.fileRule("pypirc-password", "Password or token in a .pypirc",
			filePath(`\.pypirc`), `(?m)^[ \t]*password[ \t]*[:=][ \t]*(\S+)`, 0),
		c.fileRule("npmrc-auth", "Credentials in an .npmrc (_auth, _password, or another registry's _authToken)",
			filePath(`\.npmrc`), `(?m)(?:^|:)(?:_auth|_password|_authToken)[ \t]*=[ \t]*["']?([^\s"']{8,})`, 0),
		c.fileRule("cargo-credentials", "crates.io or registry token in Cargo's credentials file",
			filePath(`\.cargo[/\\]credentials(?:\.toml)?`), `(?m)^[ \t]*token[ \t]*=[ \t]*"([^"]{16,})"`, 3),
		c.fileRule("composer-auth-password", "Password or token in a Composer auth.json",
			filePath(`auth\.json`), `"(?:password|github-oauth|gitlab-token|bearer)"\s*:\s*(?:\{\s*"[^"]+"\s*:\s*)?"([^"]{6,256})"`, 0),
		c.fileRule("terraform-credentials", "API token in a Terraform CLI credentials file",
			filePath(`credentials\.tfrc\.json|\.terraformrc|terraform\.rc`), `(?m)(?:"token"\s*:\s*"|^\s*token\s*=\s*")([^"]{16,})"`, 3),
		c.fileRule("gh-hosts-token", "OAuth token in a GitHub CLI or hub configuration",
			filePath(`gh[/\\]hosts\.ya?ml|hub`), `(?m)^\s*oauth_token:\s*["']?([A-Za-z0-9_]{20,})`, 3),
		c.fileRule("kubeconfig-token", "Bearer token of a kubeconfig user",
			filePath(`\.kube[/\\]config|kubeconfig[\w.-]*`), `(?m)^\s+token:\s*["']?([A-Za-z0-9._~+/=-]{20,})`, 3.5),
		c.fileRule("nuget-config-password", "Package source password in a NuGet.config",
			regexp.MustCompile(`(?i)(?:^|[/!\\])nuget\.config$`), `(?i)<add\s+key\s*=\s*"(?:ClearTextPassword|Password)"\s+value\s*=\s*"([^"]{4,})"`, 0),
		c.fileRule("sql-dump-password-hash", "Password hash in an SQL dump (bcrypt, argon2, crypt, phpass, Django, MySQL, PostgreSQL)",
			regexp.MustCompile(`(?i)\.(?:sql|dump|psql|pgsql|mysql)$`),
			`'(`+cryptHash+`|\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{32,}|\$[PH]\$[./0-9A-Za-z]{31}|`+
				`pbkdf2_sha(?:1|256)\$\d+\$[0-9A-Za-z]+\$[A-Za-z0-9+/=]{28,}|\*[0-9A-F]{40}|md5[0-9a-f]{32}|SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+)'`, 2.5),
		c.fileRule("sql-plaintext-password", "Plaintext password in SQL (IDENTIFIED BY, PASSWORD '...')",
			regexp.MustCompile(`(?i)\.(?:sql|dump|psql|pgsql|mysql)$`),
			`(?i)(?:IDENTIFIED\s+(?:WITH\s+\w+\s+)?BY|\bPASSWORD)\s+'([^'\n]{4,128})'`, 0),
	}
	// A PuTTY private key is recognisable by content alone, wherever it is.
	rules = append(rules, Rule{
		ID:          "putty-private-key",
		Description: "PuTTY private key (.ppk), its private lines",
		Keywords:    []string{"putty-user-key-file-"},
		Regex: regexp.MustCompile(`PuTTY-User-Key-File-[23]: [\w@.-]+\r?\nEncryption: [\w-]+\r?\n[\s\S]{0,1000}?` +
			`Private-Lines: [0-9]+\r?\n((?:[A-Za-z0-9+/=]+\r?\n)*[A-Za-z0-9+/=]+)\r?\nPrivate-(?:MAC|Hash): [0-9a-f]+`),
		SecretGroup: 1,
		Entropy:     4,
		MaxLen:      8192,
	})
	// A PKCS#12 keystore (.p12, .pfx) holds private keys: the file is the
	// secret. Its DER starts with a SEQUENCE and version 3; Go's regexp
	// sees a length byte above 0x7f as U+FFFD, hence the loose middle.
	rules = append(rules, Rule{
		ID:          "pkcs12-file",
		Description: "PKCS#12 keystore (.p12, .pfx) holding private keys",
		Path:        regexp.MustCompile(`(?i)\.(?:p12|pfx)$`),
		Regex:       regexp.MustCompile(`\A(0[\s\S]{1,4}\x02\x01\x03[\s\S]{16,})`),
		SecretGroup: 1,
		Validate:    validPKCS12,
		MaxLen:      16384,
	})
	// Hashes and dumps: the plaintext is not there, so a hash of a
	// well-known placeholder is as real as any; only the common
	// placeholders in the other rules' values are dropped.
	for i := range rules {
		switch rules[i].ID {
		case "htpasswd-hash", "shadow-hash", "sql-dump-password-hash", "pkcs12-file", "rails-master-key", "rails-secret-key-base":
			rules[i].Allow = nil
		case "sql-plaintext-password":
			// A hash passed as the "password" is the other rule's.
			rules[i].Allow = append(rules[i].Allow, regexp.MustCompile(`^(?:md5[0-9a-f]{32}|SCRAM-SHA-256\$.*|\*[0-9A-F]{40})$`))
		case "nuget-config-password":
			rules[i].Allow = append(rules[i].Allow, regexp.MustCompile(`^%\w+%$`)) // an environment variable
		case "wordpress-db-password", "wordpress-auth-key":
			rules[i].Allow = append(rules[i].Allow, regexp.MustCompile(`(?i)password_here|put your unique phrase here|^getenv`))
		}
	}
	return rules
}

// validPKCS12 checks the DER header of a PKCS#12 PFX: SEQUENCE, a length
// in short or long form, INTEGER 3.
func validPKCS12(b []byte) bool {
	if len(b) < 8 || b[0] != 0x30 {
		return false
	}
	i := 2
	if b[1]&0x80 != 0 {
		n := int(b[1] & 0x7f)
		if n < 1 || n > 3 {
			return false
		}
		i += n
	}
	return len(b) >= i+3 && bytes.Equal(b[i:i+3], []byte{0x02, 0x01, 0x03})
}
