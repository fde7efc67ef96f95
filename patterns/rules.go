package patterns

import (
	"regexp"
	"strings"
)

// DefaultRules returns the built-in third-party rules, a fresh slice each
// call so callers may filter and modify it freely; nothing is cached.
//
// Every rule's Keywords are lower-case literals that any true match
// contains, so the scanner can run its Regex only near a keyword hit.
// Secrets are capture group 1 of every default rule. Token rules are
// Standalone: their regex starts with the token's literal prefix (fast to
// search) and the scanner checks the byte before it. Distinctive prefixes
// and checksums come first; entropy thresholds only where a token has no
// structure to check. Rules with a Path (rules_files.go) run only on their
// kind of file; the generic rule is a Fallback that yields to all others.
func DefaultRules() []Rule {
	c := newCommon()
	var rules []Rule
	for _, group := range [][]Rule{
		c.cloudRules(), c.vcsRules(), c.chatRules(), c.paymentRules(), c.aiRules(),
		c.devToolRules(), c.observabilityRules(), c.cryptoRules(), c.databaseRules(),
		c.webhookRules(), c.saasRules(), c.structuralRules(), c.fileRules(), c.genericRules(),
	} {
		rules = append(rules, group...)
	}
	return rules
}

// Accepts reports whether a candidate secret captured by r.Regex survives the
// rule's filters: Entropy, Validate, Allow and StopWords (compared case-
// insensitively). It is the single place those fields are interpreted.
func (r *Rule) Accepts(secret []byte) bool {
	if r.Entropy > 0 && ShannonEntropy(secret) < r.Entropy {
		return false
	}
	if r.Validate != nil && !r.Validate(secret) {
		return false
	}
	for _, re := range r.Allow {
		if re.Match(secret) {
			return false
		}
	}
	return !containsStopWord(secret, r.StopWords)
}

// tok builds the regex of a token with a distinctive shape. body is the
// token; tail is a character class body (without brackets) of the characters
// that could continue it: the token must not be glued to a following one.
// Group 1 is the token. Rules using tok set Standalone for the check before
// the token, so the regex starts with the token's literal prefix, which Go's
// regexp finds with a substring search (about a thousand times faster than
// trying a leading \b at every position).
func tok(body, tail string) *regexp.Regexp {
	return regexp.MustCompile(`(` + body + `)(?:[^` + tail + `]|\z)`)
}

// Alphabets for then.
const (
	digits      = "0123456789"
	hexDigits   = "0123456789abcdef"
	letters     = "abcdefghijklmnopqrstuvwxyz"
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	base62      = digits + letters
)

// then returns prefix followed by each character of alphabet, lower-cased
// and without repeats: the keywords of a token whose literal prefix is
// short. A 3-byte keyword stands for every fourth byte in the scanner's
// prefilter (128 entries of its 4-byte gram map), so spelling out the
// characters that can follow it keeps the map sparse.
func then(prefix, alphabet string) []string {
	var out []string
	seen := map[byte]bool{}
	for i := 0; i < len(alphabet); i++ {
		c := alphabet[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, prefix+string(c))
		}
	}
	return out
}

// thenEach is then for every prefix, with mid between prefix and the
// alphabet's character.
func thenEach(prefixes []string, mid, alphabet string) []string {
	var out []string
	for _, p := range prefixes {
		out = append(out, then(p+mid, alphabet)...)
	}
	return out
}

// Character classes that continue a token, for tok's tail.
const (
	wordTail   = `0-9A-Za-z_`
	dashTail   = `0-9A-Za-z_-`
	base64Tail = `0-9A-Za-z+/=`
	b64urlTail = `0-9A-Za-z_=-`
)

// kv builds the regex of a secret assigned to a name, as in KEY=value,
// "key": "value", key: value or key => "value". names is an alternation
// matched case-insensitively; value is the secret's shape, matched
// case-sensitively. Group 1 is the value.
func kv(names, value string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(?:\b|_)(?:` + names + `)[ \t\w.-]{0,20}[\s'"]{0,3}` +
		`(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}` +
		`(?-i:(` + value + `))(?:[\x60'"\s;,)}\]<>&|]|\\[nrt]|\z)`)
}

// common holds regexes several rules share, compiled once per DefaultRules
// call; a compiled Regexp is immutable and safe to share.
type common struct {
	placeholder *regexp.Regexp
	dbWords     []*regexp.Regexp
	generic     *genericDeny
}

func newCommon() common {
	return common{
		generic: newGenericDeny(),
		// Documentation examples and template variables.
		placeholder: regexp.MustCompile(`(?i)example|placeholder|redacted|dummy|sample|x{6}|\*{3}|` +
			`your[_-]?(?:api[_-]?)?(?:key|token|secret)|<[^>]*>|\$\{|\{\{`),
		dbWords: []*regexp.Regexp{
			// The placeholders people put in example URLs.
			regexp.MustCompile(`^(?i:pass(?:word|wd)?\d*|pwd|secret|changeme|changeit|example|test|user(?:name)?|root|admin|guest|` +
				`postgres|mysql|mariadb|redis|mongo(?:db)?|rabbitmq|amqp|db_?pass(?:word)?|(?:my|your)_?pass(?:word)?|x+|\*+|\.+|-+|_+)$`),
			// Template and environment variables, format verbs, shell substitutions.
			regexp.MustCompile(`^[$<\[{(]|^%\(|^%[sv]$|\$\{|\{\{`),
			regexp.MustCompile(`(?i)placeholder|redacted|your[_-]?pass`),
		},
	}
}

// ph is a fresh Allow slice holding the shared placeholder regex.
func (c common) ph() []*regexp.Regexp { return []*regexp.Regexp{c.placeholder} }

// dbAllow is a fresh Allow slice for passwords in connection URLs.
func (c common) dbAllow() []*regexp.Regexp { return append([]*regexp.Regexp(nil), c.dbWords...) }

func (c common) cloudRules() []Rule {
	return []Rule{
		{
			ID:          "aws-access-key-id",
			Description: "AWS access key id",
			Keywords:    append([]string{"akia", "asia", "abia", "acca"}, then("a3t", upperDigits)...),
			// AWS's documented example key id ends in EXAMPLE: the
			// placeholder allowlist drops it.
			Regex:        tok(`(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 4,
		},
		{
			ID:          "aws-secret-access-key",
			Description: "AWS secret access key assigned to an aws_secret_access_key-like name",
			Keywords: []string{"aws_secret", "aws-secret", "aws.secret", "awssecret",
				"secret_access", "secret-access", "secret.access", "secretaccess"},
			Regex: regexp.MustCompile(`(?i)(?:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key)` +
				`[\w.-]{0,20}["']?\s*(?:=|:=|:|=>|,)\s*["']?(?-i:([A-Za-z0-9/+]{40}))(?:[^A-Za-z0-9/+=]|\z)`),
			SecretGroup: 1,
			// Random base64 of this length scores about 4.8; hex and words less.
			Entropy: 4.2,
			Allow:   c.ph(),
		},
		{
			ID:          "gcp-api-key",
			Description: "Google API key",
			Keywords:    []string{"aiza"},
			Regex:       tok(`AIza[0-9A-Za-z_-]{35}`, dashTail),
			SecretGroup: 1,
			Standalone:  true,
			Entropy:     4,
			// Firebase's SDK docs and samples publish keys built from
			// ascending runs ("...AbC123dEf456GhI789..."): not keys.
			Allow:        append(c.ph(), regexp.MustCompile(`(?i)123.*(?:456|789)|abc.*def.*ghi`)),
			RedactPrefix: 4,
		},
		{
			ID:          "gcp-service-account",
			Description: "Google Cloud service account key file (JSON) with its private key",
			Keywords:    []string{"service_account"},
			Regex: regexp.MustCompile(`"type"\s*:\s*"service_account"[\s\S]{0,600}?"private_key"\s*:\s*"` +
				`(-----BEGIN[ A-Z]{0,30}PRIVATE KEY-----[^"]{64,}?-----END[ A-Z]{0,30}PRIVATE KEY-----)`),
			SecretGroup:  1,
			Validate:     validPEMBody,
			RedactPrefix: 11,
			MaxLen:       16384,
		},
		{
			ID:           "gcp-oauth-client-secret",
			Description:  "Google OAuth client secret",
			Keywords:     []string{"gocspx-"},
			Regex:        tok(`GOCSPX-[0-9A-Za-z_-]{28}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 7,
		},
		{
			ID:          "azure-storage-account-key",
			Description: "Azure storage account key (AccountKey= in a connection string, or a storage key setting)",
			Keywords: []string{"accountkey", "azure_storage", "azure-storage", "azure.storage", "azurestorage",
				"storage_account", "storage-account", "storage.account", "storageaccount"},
			Regex: regexp.MustCompile(`(?i)(?:AccountKey\s{0,5}=\s{0,5}|(?:\b|_)(?:azure[_.-]?storage|storage[_.-]?account)[\w.-]{0,20}` +
				`[\s'"]{0,3}(?:=|:|=>)[\x60'"\s]{0,5})(?-i:([A-Za-z0-9+/]{86}==))(?:[^A-Za-z0-9+/=]|\z)`),
			SecretGroup: 1,
			Entropy:     4.5,
			Allow:       c.ph(),
		},
		{
			ID:          "azure-shared-access-key",
			Description: "Azure Service Bus / Event Hubs / IoT Hub SharedAccessKey in a connection string",
			Keywords:    []string{"sharedaccesskey="},
			Regex:       regexp.MustCompile(`(?i)SharedAccessKey=(?-i:([A-Za-z0-9+/]{42,43}=))(?:[^A-Za-z0-9+/=]|\z)`),
			SecretGroup: 1,
			Entropy:     4,
			Allow:       c.ph(),
		},
		{
			ID:          "azure-ad-client-secret",
			Description: "Microsoft Entra ID (Azure AD) application client secret",
			// A digit, "Q~" and the next character: four-byte keywords,
			// which the prefilter sorts out best (scanner/prefilter.go).
			Keywords:    thenEach(then("", digits), "q~", `0123456789abcdefghijklmnopqrstuvwxyz_~.-`),
			Regex:       tok(`[0-9A-Za-z_][0-9A-Za-z_~.]{2}[0-9]Q~[0-9A-Za-z_~.-]{31,34}`, `0-9A-Za-z_~.-`),
			SecretGroup: 1,
			Standalone:  true,
			Entropy:     3,
			Allow:       c.ph(),
		},
		{
			ID:           "digitalocean-pat",
			Description:  "DigitalOcean personal access token",
			Keywords:     []string{"dop_v1_"},
			Regex:        tok(`dop_v1_[a-f0-9]{64}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 7,
		},
		{
			ID:           "digitalocean-access-token",
			Description:  "DigitalOcean OAuth access token",
			Keywords:     []string{"doo_v1_"},
			Regex:        tok(`doo_v1_[a-f0-9]{64}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 7,
		},
		{
			ID:           "digitalocean-refresh-token",
			Description:  "DigitalOcean OAuth refresh token",
			Keywords:     []string{"dor_v1_"},
			Regex:        tok(`dor_v1_[a-f0-9]{64}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 7,
		},
		{
			ID:          "heroku-api-key",
			Description: "Heroku API key (a UUID assigned to a heroku-named setting)",
			Keywords:    []string{"heroku"},
			Regex:       kv(`heroku`, `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:           "heroku-api-key-v2",
			Description:  "Heroku API key (HRKU- format)",
			Keywords:     []string{"hrku-aa"},
			Regex:        tok(`HRKU-AA[0-9A-Za-z_-]{58}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			RedactPrefix: 7,
		},
		{
			ID:           "alibaba-access-key-id",
			Description:  "Alibaba Cloud AccessKey ID",
			Keywords:     []string{"ltai"},
			Regex:        tok(`LTAI[0-9A-Za-z]{20}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 4,
		},
		{
			ID:          "cloudflare-api-token",
			Description: "Cloudflare API token assigned to a cloudflare-named setting",
			Keywords:    []string{"cloudflare", "cf_api", "cf-api"},
			Regex:       kv(`cloudflare|cf[_-]api`, `[0-9A-Za-z_-]{40}`),
			SecretGroup: 1,
			Entropy:     4,
			Allow:       c.ph(),
		},
		{
			ID:          "cloudflare-global-api-key",
			Description: "Cloudflare global API key assigned to a cloudflare-named setting",
			Keywords:    []string{"cloudflare", "cf_api", "cf-api"},
			Regex:       kv(`cloudflare|cf[_-]api`, `[a-f0-9]{37}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:           "cloudflare-origin-ca-key",
			Description:  "Cloudflare Origin CA key",
			Keywords:     []string{"v1.0-"},
			Regex:        tok(`v1\.0-[a-f0-9]{24}-[a-f0-9]{146}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 5,
		},
		{
			ID:           "fastly-api-token",
			Description:  "Fastly API token assigned to a fastly-named setting",
			Keywords:     []string{"fastly"},
			Regex:        kv(`fastly`, `[0-9A-Za-z_-]{32}`),
			SecretGroup:  1,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 0,
		},
	}
}

func (c common) vcsRules() []Rule {
	gh := func(id, desc, prefix string) Rule {
		return Rule{
			ID:           id,
			Description:  desc + " (checksum verified)",
			Keywords:     []string{prefix},
			Regex:        tok(prefix+`[0-9A-Za-z]{36}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Validate:     validBase62CRC(len(prefix)),
			RedactPrefix: len(prefix),
		}
	}
	gl := func(id, desc, prefix, body string, tail string) Rule {
		return Rule{
			ID:           id,
			Description:  desc,
			Keywords:     []string{strings.ToLower(prefix)},
			Regex:        tok(regexp.QuoteMeta(prefix)+body, tail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: len(prefix),
		}
	}
	return []Rule{
		gh("github-pat", "GitHub personal access token (classic)", "ghp_"),
		gh("github-oauth", "GitHub OAuth access token", "gho_"),
		{
			ID:           "github-app-token",
			Description:  "GitHub App user-to-server or installation token (checksum verified)",
			Keywords:     []string{"ghu_", "ghs_"},
			Regex:        tok(`gh[us]_[0-9A-Za-z]{36}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Validate:     validBase62CRC(4),
			RedactPrefix: 4,
		},
		gh("github-refresh-token", "GitHub refresh token", "ghr_"),
		{
			ID:           "github-fine-grained-pat",
			Description:  "GitHub fine-grained personal access token",
			Keywords:     []string{"github_pat_"},
			Regex:        tok(`github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			Allow:        c.ph(),
			RedactPrefix: 11,
		},
		{
			ID:          "gitlab-pat",
			Description: "GitLab personal, project or group access token (legacy and routable formats)",
			Keywords:    []string{"glpat-"},
			// Routable tokens first: leftmost-first picks the longer form.
			// GitLab's own matcher for them (spec/support/matchers/
			// token_authenticatable_matchers.rb) is a base64 payload of
			// 27-300 characters, ".", a two-character version, ".", a
			// two-character payload length and a seven-character CRC, all
			// base 36; the first routable tokens had no length part.
			Regex:        tok(`glpat-(?:`+gitlabRoutable+`|[0-9A-Za-z_-]{20})`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 6,
			MaxLen:       512,
		},
		gl("gitlab-ptt", "GitLab pipeline trigger token", "glptt-", `[0-9a-f]{40}`, wordTail),
		gl("gitlab-deploy-token", "GitLab deploy token", "gldt-", `[0-9A-Za-z_-]{20}`, dashTail),
		{
			ID:           "gitlab-runner-authentication-token",
			Description:  "GitLab runner authentication token",
			Keywords:     []string{"glrt-"},
			Regex:        tok(`glrt-(?:t\d_`+gitlabRoutable+`|[0-9A-Za-z_-]{20})`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 5,
			MaxLen:       512,
		},
		gl("gitlab-rrt", "GitLab runner registration token", "GR1348941", `[0-9A-Za-z_-]{20}`, dashTail),
		gl("gitlab-cicd-job-token", "GitLab CI/CD job token", "glcbt-", `[0-9A-Za-z]{1,5}_[0-9A-Za-z_-]{20}`, dashTail),
		gl("gitlab-feed-token", "GitLab feed token", "glft-", `[0-9A-Za-z_-]{20}`, dashTail),
		gl("gitlab-kubernetes-agent-token", "GitLab agent for Kubernetes token", "glagent-", `[0-9A-Za-z_-]{50}`, dashTail),
		gl("gitlab-oauth-app-secret", "GitLab OAuth application secret", "gloas-", `[0-9A-Za-z_-]{64}`, dashTail),
		gl("gitlab-scim-token", "GitLab SCIM token", "glsoat-", `[0-9A-Za-z_-]{20}`, dashTail),
		gl("gitlab-incoming-mail-token", "GitLab incoming mail token", "glimt-", `[0-9A-Za-z_-]{25}`, dashTail),
		gl("gitlab-feature-flag-client-token", "GitLab feature flag client token", "glffct-", `[0-9A-Za-z_-]{20}`, dashTail),
		{
			ID:           "atlassian-api-token",
			Description:  "Atlassian (Jira, Confluence) API token",
			Keywords:     []string{"atatt3"},
			Regex:        tok(`ATATT3[0-9A-Za-z_=-]{186}`, b64urlTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			RedactPrefix: 6,
			MaxLen:       512,
		},
		{
			ID:           "linear-api-key",
			Description:  "Linear API key",
			Keywords:     []string{"lin_api_"},
			Regex:        tok(`lin_api_[0-9A-Za-z]{40}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 8,
		},
		{
			ID:          "asana-pat",
			Description: "Asana personal access token assigned to an asana-named setting",
			Keywords:    []string{"asana"},
			Regex:       kv(`asana`, `[0-9]/[0-9]{10,20}(?:/[0-9]{10,20})?:[0-9a-f]{32}`),
			SecretGroup: 1,
			Entropy:     3,
		},
	}
}

func (c common) chatRules() []Rule {
	return []Rule{
		{
			ID:           "slack-bot-token",
			Description:  "Slack bot token",
			Keywords:     []string{"xoxb-"},
			Regex:        tok(`xoxb-[0-9]{8,14}-(?:[0-9]{8,14}-)?[0-9A-Za-z]{18,34}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 5,
		},
		{
			ID:           "slack-user-token",
			Description:  "Slack user token",
			Keywords:     []string{"xoxp-", "xoxe-"},
			Regex:        tok(`xox[pe](?:-[0-9]{10,13}){3}-[0-9A-Za-z]{28,34}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 5,
		},
		{
			ID:           "slack-app-token",
			Description:  "Slack app-level token",
			Keywords:     []string{"xapp-"},
			Regex:        tok(`xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,16}-[0-9A-Za-z]{32,80}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 5,
		},
		{
			ID:           "slack-workspace-token",
			Description:  "Slack workspace access or refresh token (xoxa-, xoxr-)",
			Keywords:     []string{"xoxa-", "xoxr-"},
			Regex:        tok(`xox[ar]-(?:[0-9]-)?[0-9A-Za-z]{8,48}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 5,
		},
		{
			ID:           "slack-legacy-token",
			Description:  "Slack legacy token (xoxo-, xoxs-)",
			Keywords:     []string{"xoxo-", "xoxs-"},
			Regex:        tok(`xox[os]-[0-9]+-[0-9]+-[0-9]+-[0-9a-fA-F]+`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 5,
		},
		{
			ID:           "slack-config-access-token",
			Description:  "Slack app configuration access token",
			Keywords:     []string{"xoxe.xoxb-", "xoxe.xoxp-"},
			Regex:        tok(`xoxe\.xox[bp]-[0-9]-[0-9A-Za-z]{163,166}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 10,
			MaxLen:       512,
		},
		{
			ID:           "slack-config-refresh-token",
			Description:  "Slack app configuration refresh token",
			Keywords:     []string{"xoxe-"},
			Regex:        tok(`xoxe-[0-9]-[0-9A-Za-z]{146}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 5,
			MaxLen:       512,
		},
		{
			ID:          "discord-bot-token",
			Description: "Discord bot token assigned to a discord- or bot_token-named setting, or passed to login() (user id verified)",
			Keywords:    []string{"discord", "bot_token", "bot-token", "bottoken", ".login("},
			Regex: regexp.MustCompile(`(?i)(?:(?:\b|_)(?:discord[\w.-]{0,20}|bot[_-]?token[\w.-]{0,20})[\s'"]{0,3}(?:=|:|=>|:=)[\x60'"\s]{0,5}|\.login\(\s*["'\x60])` +
				`(?-i:([MNO][0-9A-Za-z_-]{23,27}\.[0-9A-Za-z_-]{6}\.[0-9A-Za-z_-]{27,38}))(?:[^0-9A-Za-z_-]|\z)`),
			SecretGroup: 1,
			Validate:    validDiscordBotToken,
		},
		{
			ID:          "telegram-bot-api-token",
			Description: "Telegram bot API token",
			Keywords:    then(":aa", base62+"_-"),
			Regex:       regexp.MustCompile(`(?:\b|\\[nrt]|/bot)([0-9]{8,10}:AA[0-9A-Za-z_-]{33})(?:[^0-9A-Za-z_-]|\z)`),
			SecretGroup: 1,
			Entropy:     3.5,
			Allow:       c.ph(),
		},
		{
			ID:          "twilio-api-key",
			Description: "Twilio API key SID",
			// "SK" and two hex digits: four-byte keywords (see above).
			Keywords:     thenEach(then("sk", hexDigits), "", hexDigits),
			Regex:        tok(`SK[0-9a-fA-F]{32}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 2,
		},
		{
			ID:          "twilio-auth-token",
			Description: "Twilio auth token or API secret assigned to a twilio-named setting",
			Keywords:    []string{"twilio"},
			Regex:       kv(`twilio`, `[0-9a-f]{32}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:           "sendgrid-api-token",
			Description:  "SendGrid API key",
			Keywords:     then("sg.", base62+"_-"),
			Regex:        tok(`SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			Allow:        c.ph(),
			RedactPrefix: 3,
		},
		{
			ID:          "mailgun-private-api-token",
			Description: "Mailgun private API key",
			Keywords:    []string{"key-"},
			// Not part of a longer dotted or dashed name such as cache-key-<md5>.
			Regex:        regexp.MustCompile(`(?:^|[^\w.-]|\\[nrt])(key-[0-9a-f]{32})\b`),
			SecretGroup:  1,
			Entropy:      3.3,
			RedactPrefix: 4,
		},
		{
			ID:          "mailgun-api-key",
			Description: "Mailgun API or webhook signing key (current format) assigned to a mailgun-named setting",
			Keywords:    []string{"mailgun"},
			Regex:       kv(`mailgun`, `[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:          "mailchimp-api-key",
			Description: "Mailchimp API key assigned to a mailchimp-named setting",
			Keywords:    []string{"mailchimp"},
			Regex:       kv(`mailchimp`, `[0-9a-f]{32}-us[0-9]{1,2}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:           "sendinblue-api-token",
			Description:  "Brevo (Sendinblue) API key",
			Keywords:     []string{"xkeysib-"},
			Regex:        tok(`xkeysib-[0-9a-f]{64}-[0-9A-Za-z]{16}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 8,
		},
	}
}

func (c common) paymentRules() []Rule {
	// Stripe's keys share the platform's prefixes. Stripe's own lengths
	// are 24 characters after the prefix (legacy keys, as in its docs'
	// examples) and 90 to 128 (account-scoped keys, "51..."; Stripe allows
	// up to 128). The platform's namespace, 36 to 40 characters, lies
	// between them and belongs to the leakguard-* rules (docs/formats.md).
	stripe := func(id, desc, typ string) Rule {
		return Rule{
			ID:          id,
			Description: desc,
			Keywords:    []string{typ + "_live_", typ + "_test_"},
			Regex:       tok(typ+`_(?:live|test)_(?:[0-9A-Za-z]{24}|[0-9A-Za-z]{90,128})`, wordTail),
			SecretGroup: 1,
			Standalone:  true,
			Entropy:     3,
			Allow:       c.ph(),
			// "sk_live_"
			RedactPrefix: 8,
		}
	}
	return []Rule{
		stripe("stripe-secret-key", "Stripe secret key (live or test mode)", "sk"),
		stripe("stripe-restricted-key", "Stripe restricted key (live or test mode)", "rk"),
		{
			ID:           "stripe-webhook-secret",
			Description:  "Stripe (or Svix-style) webhook signing secret",
			Keywords:     []string{"whsec_"},
			Regex:        tok(`whsec_[0-9A-Za-z+/]{32,64}={0,2}`, base64Tail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 6,
		},
		{
			ID:           "square-access-token",
			Description:  "Square access token",
			Keywords:     []string{"sq0atp-", "eaaa"},
			Regex:        tok(`(?:sq0atp-[0-9A-Za-z_-]{22}|EAAA[0-9A-Za-z_-]{60})`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 4,
		},
		{
			ID:           "square-oauth-secret",
			Description:  "Square OAuth application secret",
			Keywords:     []string{"sq0csp-"},
			Regex:        tok(`sq0csp-[0-9A-Za-z_-]{43}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 7,
		},
		{
			ID:           "braintree-access-token",
			Description:  "PayPal Braintree production access token",
			Keywords:     []string{"access_token$production$"},
			Regex:        tok(`access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 24,
		},
		{
			ID:           "shopify-access-token",
			Description:  "Shopify access token",
			Keywords:     []string{"shpat_"},
			Regex:        tok(`shpat_[a-fA-F0-9]{32}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 6,
		},
		{
			ID:           "shopify-custom-access-token",
			Description:  "Shopify custom app access token",
			Keywords:     []string{"shpca_"},
			Regex:        tok(`shpca_[a-fA-F0-9]{32}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 6,
		},
		{
			ID:           "shopify-private-app-access-token",
			Description:  "Shopify private app access token",
			Keywords:     []string{"shppa_"},
			Regex:        tok(`shppa_[a-fA-F0-9]{32}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 6,
		},
		{
			ID:           "shopify-shared-secret",
			Description:  "Shopify app shared secret",
			Keywords:     []string{"shpss_"},
			Regex:        tok(`shpss_[a-fA-F0-9]{32}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 6,
		},
	}
}

func (c common) aiRules() []Rule {
	return []Rule{
		{
			ID:          "openai-api-key",
			Description: "OpenAI API key (project, service account, admin and legacy formats)",
			Keywords:    []string{"t3blbkfj"},
			Regex: tok(`sk-(?:(?:proj|svcacct|admin)-(?:[0-9A-Za-z_-]{74}|[0-9A-Za-z_-]{58})T3BlbkFJ(?:[0-9A-Za-z_-]{74}|[0-9A-Za-z_-]{58})`+
				`|[0-9A-Za-z]{20}T3BlbkFJ[0-9A-Za-z]{20})`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 3,
			MaxLen:       512,
		},
		{
			ID:           "anthropic-api-key",
			Description:  "Anthropic API key",
			Keywords:     []string{"sk-ant-api03-"},
			Regex:        tok(`sk-ant-api03-[0-9A-Za-z_-]{93}AA`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 13,
		},
		{
			ID:           "anthropic-admin-api-key",
			Description:  "Anthropic Admin API key",
			Keywords:     []string{"sk-ant-admin01-"},
			Regex:        tok(`sk-ant-admin01-[0-9A-Za-z_-]{93}AA`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 15,
		},
		{
			ID:           "huggingface-access-token",
			Description:  "Hugging Face user access token",
			Keywords:     then("hf_", letters),
			Regex:        tok(`hf_[A-Za-z]{34}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 3,
		},
		{
			ID:           "huggingface-organization-api-token",
			Description:  "Hugging Face organization API token",
			Keywords:     []string{"api_org_"},
			Regex:        tok(`api_org_[A-Za-z]{34}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 8,
		},
		{
			ID:           "groq-api-key",
			Description:  "Groq API key",
			Keywords:     []string{"gsk_"},
			Regex:        tok(`gsk_[0-9A-Za-z]{52}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			Allow:        c.ph(),
			RedactPrefix: 4,
		},
		{
			ID:           "databricks-api-token",
			Description:  "Databricks personal access token",
			Keywords:     []string{"dapi"},
			Regex:        tok(`dapi[a-f0-9]{32}(?:-[0-9])?`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 4,
		},
	}
}

func (c common) devToolRules() []Rule {
	return []Rule{
		{
			ID:           "npm-access-token",
			Description:  "npm access token (checksum verified)",
			Keywords:     []string{"npm_"},
			Regex:        tok(`npm_[0-9A-Za-z]{36}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Validate:     validBase62CRC(4),
			RedactPrefix: 4,
		},
		{
			ID:          "npm-legacy-token",
			Description: "npm legacy auth token (a UUID) in an .npmrc _authToken setting",
			Keywords:    []string{"_authtoken"},
			Regex: regexp.MustCompile(`(?i)_authToken\s*=\s*["']?` +
				`([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^0-9A-Za-z-]|\z)`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:          "docker-config-auth",
			Description: "Registry credentials (base64 user:password) in a JSON \"auth\" field, as in Docker's config.json",
			Keywords:    []string{"\"auth\""},
			Regex:       regexp.MustCompile(`"auth"\s*:\s*"([A-Za-z0-9+/]{8,}={0,2})"`),
			SecretGroup: 1,
			Validate:    validBasicAuth,
		},
		{
			ID:           "pypi-upload-token",
			Description:  "PyPI (or TestPyPI) API token",
			Keywords:     []string{"pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw"},
			Regex:        tok(`pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[0-9A-Za-z_-]{50,}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			RedactPrefix: 5,
			MaxLen:       1200,
		},
		{
			ID:           "rubygems-api-token",
			Description:  "RubyGems API key",
			Keywords:     []string{"rubygems_"},
			Regex:        tok(`rubygems_[a-f0-9]{48}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 9,
		},
		{
			ID:           "dockerhub-pat",
			Description:  "Docker Hub personal or organization access token",
			Keywords:     []string{"dckr_pat_", "dckr_oat_"},
			Regex:        tok(`dckr_(?:pat|oat)_[0-9A-Za-z_-]{27,32}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 9,
		},
		{
			ID:           "postman-api-token",
			Description:  "Postman API key",
			Keywords:     []string{"pmak-"},
			Regex:        tok(`PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 5,
		},
		{
			ID:           "pulumi-api-token",
			Description:  "Pulumi access token",
			Keywords:     []string{"pul-"},
			Regex:        tok(`pul-[a-f0-9]{40}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 4,
		},
		{
			ID:          "doppler-api-token",
			Description: "Doppler personal, service, CLI, service account, SCIM or audit token",
			Keywords:    []string{"dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim.", "dp.audit."},
			Regex:       tok(`dp\.(?:pt|st|ct|sa|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[0-9A-Za-z]{40,44}`, wordTail),
			SecretGroup: 1,
			Standalone:  true,
			Entropy:     3.5,
			Allow:       c.ph(),
			// "dp.pt." and the like.
			RedactPrefix: 6,
		},
		{
			ID:           "vault-service-token",
			Description:  "HashiCorp Vault service token",
			Keywords:     []string{"hvs."},
			Regex:        tok(`hvs\.[0-9A-Za-z_-]{90,120}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 4,
		},
		{
			ID:           "vault-batch-token",
			Description:  "HashiCorp Vault batch token",
			Keywords:     []string{"hvb."},
			Regex:        tok(`hvb\.[0-9A-Za-z_-]{138,}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			Allow:        c.ph(),
			RedactPrefix: 4,
			MaxLen:       512,
		},
		{
			ID:           "hashicorp-tf-api-token",
			Description:  "Terraform Cloud / HCP Terraform API token",
			Keywords:     []string{".atlasv1."},
			Regex:        tok(`[0-9A-Za-z]{14}\.atlasv1\.[0-9A-Za-z_=-]{60,70}`, b64urlTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			Allow:        c.ph(),
			RedactPrefix: 0,
		},
		{
			ID:           "planetscale-api-token",
			Description:  "PlanetScale service token, OAuth token or database password",
			Keywords:     []string{"pscale_tkn_", "pscale_oauth_", "pscale_pw_"},
			Regex:        tok(`pscale_(?:tkn|oauth|pw)_[0-9A-Za-z_=.-]{32,64}`, `0-9A-Za-z_=.-`),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 7,
		},
		{
			ID:           "notion-api-token",
			Description:  "Notion integration token",
			Keywords:     []string{"ntn_"},
			Regex:        tok(`ntn_[0-9]{11}[0-9A-Za-z]{35}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			Allow:        c.ph(),
			RedactPrefix: 4,
		},
		{
			ID:           "airtable-pat",
			Description:  "Airtable personal access token",
			Keywords:     then("pat", base62),
			Regex:        tok(`pat[0-9A-Za-z]{14}\.[a-f0-9]{64}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			RedactPrefix: 3,
		},
		{
			ID:          "onepassword-service-account-token",
			Description: "1Password service account token (payload verified)",
			Keywords:    []string{"ops_eyj"},
			Regex:       tok(`ops_eyJ[0-9A-Za-z+/]{250,}={0,3}`, base64Tail),
			SecretGroup: 1,
			Standalone:  true,
			Entropy:     4,
			Validate:    validJSONAfter("ops_"),
			MaxLen:      4096,
			// "ops_"
			RedactPrefix: 4,
		},
		{
			ID:          "okta-access-token",
			Description: "Okta API token assigned to an okta-named setting",
			Keywords:    []string{"okta"},
			Regex:       kv(`okta`, `00[0-9A-Za-z_=-]{40}`),
			SecretGroup: 1,
			Entropy:     4,
			Allow:       c.ph(),
		},
		{
			ID:          "twitch-api-token",
			Description: "Twitch API token assigned to a twitch-named setting",
			Keywords:    []string{"twitch"},
			Regex:       kv(`twitch`, `[0-9a-z]{30}`),
			SecretGroup: 1,
			Entropy:     3.5,
			Allow:       c.ph(),
		},
		{
			ID:          "dropbox-api-token",
			Description: "Dropbox short- or long-lived access token assigned to a dropbox-named setting",
			Keywords:    []string{"dropbox"},
			Regex:       kv(`dropbox`, `sl\.[0-9A-Za-z_=-]{130,}|[0-9A-Za-z]{11}AAAAAAAAAA[0-9A-Za-z_=-]{43}`),
			SecretGroup: 1,
			Entropy:     3.5,
			Allow:       c.ph(),
			MaxLen:      2048,
		},
	}
}

func (c common) observabilityRules() []Rule {
	return []Rule{
		{
			ID:          "datadog-api-key",
			Description: "Datadog API key assigned to a datadog- or dd_api_key-named setting",
			Keywords:    []string{"datadog", "dd_api", "dd-api", "dd.api", "ddapi"},
			Regex:       kv(`datadog|dd[_.-]?api`, `[0-9a-f]{32}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:          "datadog-app-key",
			Description: "Datadog application key assigned to a datadog- or dd_app_key-named setting",
			Keywords:    []string{"datadog", "dd_app", "dd-app", "dd.app", "ddapp"},
			Regex:       kv(`datadog|dd[_.-]?app`, `[0-9a-f]{40}`),
			SecretGroup: 1,
			Entropy:     3,
		},
		{
			ID:           "sentry-user-token",
			Description:  "Sentry user auth token",
			Keywords:     []string{"sntryu_"},
			Regex:        tok(`sntryu_[a-f0-9]{64}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3.5,
			RedactPrefix: 7,
		},
		{
			ID:           "sentry-org-token",
			Description:  "Sentry organization auth token (payload verified)",
			Keywords:     []string{"sntrys_"},
			Regex:        tok(`sntrys_eyJ[0-9A-Za-z+/]{20,}={0,2}_[0-9A-Za-z+/]{43}`, base64Tail),
			SecretGroup:  1,
			Standalone:   true,
			Validate:     validSentryOrgToken,
			RedactPrefix: 7,
			MaxLen:       1024,
		},
		{
			ID:           "new-relic-user-api-key",
			Description:  "New Relic user API key",
			Keywords:     []string{"nrak-"},
			Regex:        tok(`NRAK-[0-9A-Z]{27}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 5,
		},
		{
			ID:           "new-relic-insert-key",
			Description:  "New Relic insights insert key",
			Keywords:     []string{"nrii-"},
			Regex:        tok(`NRII-[0-9A-Za-z_-]{32}`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			RedactPrefix: 5,
		},
		{
			ID:           "grafana-cloud-api-token",
			Description:  "Grafana Cloud access policy token (payload verified)",
			Keywords:     []string{"glc_"},
			Regex:        tok(`glc_eyJ[0-9A-Za-z+/]{32,}={0,2}`, base64Tail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Validate:     validJSONAfter("glc_"),
			RedactPrefix: 4,
			MaxLen:       1024,
		},
		{
			ID:           "grafana-service-account-token",
			Description:  "Grafana service account token",
			Keywords:     []string{"glsa_"},
			Regex:        tok(`glsa_[0-9A-Za-z]{32}_[0-9A-Fa-f]{8}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      3,
			Allow:        c.ph(),
			RedactPrefix: 5,
		},
		{
			ID:           "dynatrace-api-token",
			Description:  "Dynatrace API token",
			Keywords:     []string{"dt0c01."},
			Regex:        tok(`dt0c01\.[0-9A-Za-z]{24}\.[0-9A-Za-z]{64}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			RedactPrefix: 7,
		},
	}
}

func (c common) cryptoRules() []Rule {
	return []Rule{
		{
			ID:          "private-key",
			Description: "Private key block: RSA, EC, DSA, OpenSSH, PKCS#8 (encrypted or not), PGP",
			Keywords:    []string{"private key"},
			// The whole block, BEGIN to END, possibly with \n escapes inside a
			// string literal; Validate checks it holds real key material.
			Regex:        regexp.MustCompile(`(-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)`),
			SecretGroup:  1,
			Validate:     validPEMBody,
			RedactPrefix: 11,
			MaxLen:       16384,
		},
		{
			ID:          "kubeconfig-client-key",
			Description: "Private key embedded in a kubeconfig (client-key-data)",
			Keywords:    []string{"client-key-data"},
			Regex:       regexp.MustCompile(`client-key-data:\s*["']?([A-Za-z0-9+/]{100,}={0,2})`),
			SecretGroup: 1,
			Validate:    validBase64PEM,
			MaxLen:      16384,
		},
		{
			ID:           "age-secret-key",
			Description:  "age encryption secret key (Bech32 checksum verified)",
			Keywords:     []string{"age-secret-key-1"},
			Regex:        tok(`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`, wordTail),
			SecretGroup:  1,
			Standalone:   true,
			Validate:     validBech32,
			RedactPrefix: 16,
		},
	}
}

// dbURL is a connection URL with a user and a non-empty password; the
// password is the secret.
func (c common) dbURL(id, desc, scheme string, keywords ...string) Rule {
	return Rule{
		ID:          id,
		Description: desc,
		Keywords:    keywords,
		Regex: regexp.MustCompile(`(?i)\b(?:` + scheme + `)(?:\+[a-z0-9]+)?://[^:@/?#\s"'<>\x60\\]{0,128}:` +
			`([^:@/?#\s"'<>\x60\\]{1,256})@(?:[0-9a-z_.-]+|\[[0-9a-f:.]+\])`),
		SecretGroup: 1,
		Allow:       c.dbAllow(),
	}
}

func (c common) databaseRules() []Rule {
	return []Rule{
		c.dbURL("postgres-url", "PostgreSQL connection URL with a password", `postgres(?:ql)?`, "postgres"),
		c.dbURL("mysql-url", "MySQL or MariaDB connection URL with a password", `mysql(?:x)?|mariadb`, "mysql", "mariadb"),
		c.dbURL("mongodb-url", "MongoDB connection URL (mongodb:// or mongodb+srv://) with a password", `mongodb`, "mongodb"),
		c.dbURL("redis-url", "Redis connection URL with a password", `rediss?`, "redis"),
		c.dbURL("amqp-url", "AMQP (RabbitMQ) connection URL with a password", `amqps?`, "amqp"),
	}
}

// gitlabRoutable is the body of a GitLab routable token after its prefix.
const gitlabRoutable = `[0-9A-Za-z_+-]{27,300}\.[0-9a-z]{2}(?:\.[0-9a-z]{2})?[0-9a-z]{7}`

func (c common) webhookRules() []Rule {
	return []Rule{
		{
			ID:          "slack-webhook-url",
			Description: "Slack incoming webhook, workflow or trigger URL",
			Keywords:    []string{"hooks.slack.com"},
			Regex: tok(`https?://hooks\.slack\.com/(?:services/T[0-9A-Z]{8,12}/B[0-9A-Z]{8,12}/[0-9A-Za-z]{23,25}`+
				`|(?:workflows|triggers)/[0-9A-Za-z+/]{43,56})`, base64Tail),
			SecretGroup:  1,
			Standalone:   true,
			Allow:        c.ph(),
			RedactPrefix: 8,
		},
		{
			ID:          "discord-webhook-url",
			Description: "Discord webhook URL",
			Keywords:    []string{"discord.com/api/webhooks/", "discordapp.com/api/webhooks/"},
			Regex: tok(`https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[0-9A-Za-z_-]{60,68}`,
				dashTail),
			SecretGroup:  1,
			Standalone:   true,
			Entropy:      4,
			Allow:        c.ph(),
			RedactPrefix: 8,
		},
		{
			ID:          "microsoft-teams-webhook",
			Description: "Microsoft Teams incoming webhook URL",
			Keywords:    []string{"webhook.office.com/webhookb2/"},
			Regex: tok(`https://[0-9a-z-]+\.webhook\.office\.com/webhookb2/[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}@`+
				`[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}/IncomingWebhook/[0-9a-zA-Z]{32}/[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}`+
				`(?:/[0-9A-Za-z_-]{30,60})?`, dashTail),
			SecretGroup:  1,
			Standalone:   true,
			RedactPrefix: 8,
		},
	}
}

func (c common) genericRules() []Rule {
	return []Rule{
		{
			ID:          "generic-password",
			Description: "Quoted password assigned to a password-named setting (off by default: noisy)",
			Keywords:    []string{"password", "passwd", "pwd"},
			Regex:       kv(`passw(?:or)?d|pwd`, `[^\s'"\x60]{8,64}`),
			SecretGroup: 1,
			Entropy:     3,
			Allow:       append(c.ph(), c.dbAllow()...),
			Disabled:    true,
		},
		c.genericAPIKey(),
	}
}
