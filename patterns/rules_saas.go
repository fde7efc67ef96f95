package patterns

import (
	"bytes"
	"encoding/json"
)

// Rules for provider families beyond the first set: each format is the one
// the provider documents for its tokens (a fixed prefix and an alphabet and
// length, or, where the token has no prefix, the setting names its docs
// tell users to store it under). Prefixed tokens are Standalone; bare
// values need a provider-named setting (kv) and an entropy floor.

// token is a Standalone rule for a token with a literal prefix. re is the
// whole token; tail the characters that would continue it (see tok).
func (c common) token(id, desc, re, tail string, redact int, entropy float64, keywords ...string) Rule {
	return Rule{
		ID:           id,
		Description:  desc,
		Keywords:     keywords,
		Regex:        tok(re, tail),
		SecretGroup:  1,
		Standalone:   true,
		Entropy:      entropy,
		Allow:        c.ph(),
		RedactPrefix: redact,
	}
}

// named is a rule for a bare value assigned to a provider-named setting.
func (c common) named(id, desc, names, value string, entropy float64, keywords ...string) Rule {
	return Rule{
		ID:          id,
		Description: desc,
		Keywords:    keywords,
		Regex:       kv(names, value),
		SecretGroup: 1,
		Entropy:     entropy,
		Allow:       c.ph(),
	}
}

const uuidRe = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`

func (c common) saasRules() []Rule {
	rules := []Rule{
		// Social and identity.
		c.token("twitter-bearer-token", "Twitter/X app-only bearer token", `AAAAAAAAAAAAAAAAAAAAA[0-9B-Za-z%][0-9A-Za-z%]{29,119}`, `0-9A-Za-z%`, 0, 3.5, "aaaaaaaaaaaaaaaaaaaaa"),
		c.named("twitter-api-key", "Twitter/X API key (consumer key) in a twitter- or x_api-named setting",
			`twitter[\w.-]{0,20}(?:api|consumer)[_.-]?key`, `[0-9A-Za-z]{25}`, 3.5, "twitter"),
		c.named("twitter-api-secret", "Twitter/X API secret (consumer secret) in a twitter- or x_api-named setting",
			`twitter[\w.-]{0,20}(?:api|consumer)[_.-]?secret`, `[0-9A-Za-z]{50}`, 4, "twitter"),
		c.named("twitter-access-token", "Twitter/X user access token in a twitter-named setting",
			`twitter`, `[0-9]{1,20}-[0-9A-Za-z]{40}`, 3.5, "twitter"),
		c.named("twitter-access-secret", "Twitter/X access token secret in a twitter-named setting",
			`twitter[\w.-]{0,20}access[_.-]?(?:token[_.-]?)?secret`, `[0-9A-Za-z]{45}`, 4, "twitter"),
		c.token("facebook-access-token", "Facebook / Meta Graph API access token (user, page or system user)", `EAA[A-Z][0-9A-Za-z]{90,300}`, wordTail, 3, 4, then("eaa", letters)...),
		c.named("facebook-secret", "Facebook app secret in a facebook- or fb-named setting",
			`facebook|fb[_.-]app[_.-]secret`, `[0-9a-f]{32}`, 3, "facebook", "fb_app", "fb-app", "fb.app"),
		c.named("linkedin-client-id", "LinkedIn application client id in a linkedin-named setting", `linkedin[\w.-]{0,20}(?:client|app)[_.-]?id`, `[0-9a-z]{14}`, 2.7, "linkedin"),
		c.named("linkedin-client-secret", "LinkedIn application client secret in a linkedin-named setting", `linkedin[\w.-]{0,20}secret`, `[0-9A-Za-z]{16}`, 3.1, "linkedin"),

		// Search, maps, APIs.
		c.named("algolia-api-key", "Algolia admin or write API key in an algolia-named setting", `algolia`, `[0-9a-f]{32}`, 3, "algolia"),
		{
			ID:          "mapbox-api-token",
			Description: "Mapbox secret or temporary access token (payload verified; pk. tokens are public)",
			Keywords:    []string{"sk.eyj", "tk.eyj"},
			Regex:       tok(`[st]k\.eyJ[0-9A-Za-z_-]{20,200}\.[0-9A-Za-z_-]{20,30}`, dashTail),
			SecretGroup: 1, Standalone: true, Entropy: 4, RedactPrefix: 3,
			Validate: validMapbox,
		},
		c.token("rapidapi-access-token", "RapidAPI application key", `[0-9a-f]{10}msh[0-9a-f]{15}p[0-9a-f]{6}jsn[0-9a-f]{12}`, wordTail, 0, 3, then("msh", hexDigits)...),

		// Artifact stores and CI.
		c.token("jfrog-api-key", "JFrog Artifactory API key", `AKCp[0-9A-Za-z]{69}`, wordTail, 4, 4, "akcp"),
		c.token("jfrog-reference-token", "JFrog Artifactory reference (identity) token", `cmVmdGtuOjAxOj[0-9A-Za-z]{50}`, wordTail, 8, 4, "cmvmdgtuojaxoj"),
		c.named("jfrog-identity-token", "JFrog access or identity token in an artifactory- or jfrog-named setting",
			`artifactory|jfrog`, `[0-9A-Za-z]{64}`, 4, "artifactory", "jfrog"),
		c.token("sonarqube-token", "SonarQube user, project or global analysis token", `sq[aup]_[0-9a-f]{40}`, wordTail, 4, 3, "sqa_", "sqp_", "squ_"),
		c.named("sonar-api-token", "SonarCloud / SonarQube legacy token in a sonar-named setting", `sonar`, `[0-9a-f]{40}`, 3, "sonar"),
		c.named("snyk-api-token", "Snyk API token in a snyk-named setting", `snyk`, uuidRe, 3, "snyk"),
		c.named("codecov-access-token", "Codecov upload or API token in a codecov-named setting", `codecov`, uuidRe+`|[0-9a-f]{40}`, 3, "codecov"),
		c.token("netlify-access-token", "Netlify personal access token", `nfp_[0-9A-Za-z]{36}`, wordTail, 4, 3.5, "nfp_"),
		c.named("netlify-legacy-token", "Netlify legacy access token in a netlify-named setting", `netlify`, `[0-9A-Za-z_-]{43}`, 4, "netlify"),
		c.named("travisci-access-token", "Travis CI API token in a travis-named setting", `travis`, `[0-9A-Za-z]{22}`, 3.5, "travis"),
		c.named("droneci-access-token", "Drone CI token in a drone-named setting", `drone`, `[0-9A-Za-z]{32}`, 3.5, "drone"),
		c.token("circleci-pat", "CircleCI personal API token", `CCIPAT_[0-9A-Za-z]{22}_[0-9a-f]{40}`, wordTail, 7, 3.5, "ccipat_"),
		c.token("circleci-project-token", "CircleCI project API token", `CCIPRJ_[0-9A-Za-z]{22}_[0-9a-f]{40}`, wordTail, 7, 3.5, "cciprj_"),
		c.token("buildkite-agent-token", "Buildkite API access token", `bkua_[0-9a-f]{40}`, wordTail, 5, 3, "bkua_"),
		c.token("octopus-deploy-api-key", "Octopus Deploy API key", `API-[0-9A-Z]{26,32}`, wordTail, 4, 3.5, "api-"),
		c.token("prefect-api-token", "Prefect Cloud API key", `pnu_[0-9A-Za-z]{36}`, wordTail, 4, 3.5, "pnu_"),
		c.token("harness-api-key", "Harness personal or service account token", `(?:pat|sat)\.[0-9A-Za-z_-]{22}\.[0-9a-f]{24}\.[0-9A-Za-z]{20}`, wordTail, 4, 3.5, "pat.", "sat."),
		c.token("clojars-api-token", "Clojars deploy token", `CLOJARS_[0-9a-z]{60}`, wordTail, 8, 3.5, "clojars_"),
		c.token("infracost-api-token", "Infracost API key", `ico-[0-9A-Za-z]{32}`, wordTail, 4, 3.5, "ico-"),
		c.token("scalingo-api-token", "Scalingo API token", `tk-us-[0-9A-Za-z_-]{48}`, dashTail, 6, 3.5, "tk-us-"),
		c.token("sourcegraph-access-token", "Sourcegraph access token", `sgp_(?:[0-9a-f]{16}_|local_)?[0-9a-f]{40}`, wordTail, 4, 3, "sgp_"),
		c.token("readme-api-token", "ReadMe API key", `rdme_[0-9a-z]{70}`, wordTail, 5, 3.5, "rdme_"),
		c.token("typeform-api-token", "Typeform personal access token", `tfp_[0-9A-Za-z_-]{44}_[0-9A-Za-z]{14}`, dashTail, 4, 3.5, "tfp_"),
		c.token("frameio-api-token", "Frame.io developer token", `fio-u-[0-9A-Za-z_=-]{64}`, dashTail, 6, 3.5, "fio-u-"),
		c.token("defined-networking-api-token", "Defined Networking (Nebula) API key", `dnkey-[0-9a-z_-]{26}-[0-9a-z_-]{52}`, dashTail, 6, 3.5, "dnkey-"),
		c.token("gitlab-session-cookie", "GitLab session cookie", `_gitlab_session=[0-9a-z]{32}`, wordTail, 16, 3, "_gitlab_session="),
		c.named("gitter-access-token", "Gitter access token in a gitter-named setting", `gitter`, `[0-9a-f]{40}`, 3, "gitter"),
		c.named("gitea-access-token", "Gitea / Forgejo access token in a gitea- or forgejo-named setting", `gitea|forgejo`, `[0-9a-f]{40}`, 3, "gitea", "forgejo"),
		c.token("azure-devops-pat", "Azure DevOps personal access token (current format)", `[0-9A-Za-z]{52}AZDO[0-9A-Za-z]{28}`, wordTail, 0, 4, "azdo"),
		c.named("azure-devops-legacy-pat", "Azure DevOps legacy personal access token in an azure devops-named setting",
			`azure[_.-]?devops[\w.-]{0,10}|ado[_.-]?pat|azdo[_.-]?(?:pat|token)`, `[a-z2-7]{52}`, 3.5, "devops", "ado_pat", "ado-pat", "azdo"),

		// Marketing, CRM, support.
		c.token("hubspot-private-app-token", "HubSpot private app access token", `pat-(?:na|eu|ap)[0-9]-`+uuidRe, dashTail, 7, 3, "pat-na", "pat-eu", "pat-ap"),
		c.named("hubspot-api-key", "HubSpot legacy API key (hapikey) in a hubspot-named setting", `hubspot|hapikey`, uuidRe, 3, "hubspot", "hapikey"),
		c.named("intercom-api-key", "Intercom access token in an intercom-named setting", `intercom`, `[0-9A-Za-z=_+/-]{60}`, 4, "intercom"),
		c.named("zendesk-secret-key", "Zendesk API token in a zendesk-named setting", `zendesk`, `[0-9A-Za-z]{40}`, 4, "zendesk"),
		c.named("mattermost-access-token", "Mattermost access token in a mattermost-named setting", `mattermost`, `[0-9a-z]{26}`, 3.5, "mattermost"),
		c.named("messagebird-api-token", "MessageBird API key in a messagebird-named setting", `message[_.-]?bird`, `[0-9A-Za-z]{25}`, 3.5, "messagebird", "message_bird", "message-bird", "message.bird"),
		c.named("sendbird-access-token", "Sendbird API token in a sendbird-named setting", `sendbird`, `[0-9a-f]{40}`, 3, "sendbird"),
		c.named("beamer-api-token", "Beamer API key in a beamer-named setting", `beamer`, `b_[0-9A-Za-z=_-]{44}`, 3.5, "beamer"),
		c.token("mailgun-pub-key", "Mailgun public validation key", `pubkey-[0-9a-f]{32}`, wordTail, 7, 3, "pubkey-"),
		c.named("postmark-server-token", "Postmark server or account token in a postmark-named setting", `postmark`, uuidRe, 3, "postmark"),
		c.named("sparkpost-api-key", "SparkPost API key in a sparkpost-named setting", `sparkpost`, `[0-9a-f]{40}`, 3, "sparkpost"),
		c.named("mandrill-api-key", "Mandrill API key in a mandrill-named setting", `mandrill`, `[0-9A-Za-z_-]{22}`, 3.5, "mandrill"),
		c.token("resend-api-key", "Resend API key", `re_[0-9A-Za-z]{8}_[0-9A-Za-z]{24}`, wordTail, 3, 3.5, then("re_", base62)...),
		c.named("telnyx-api-key", "Telnyx API v2 key in a telnyx-named setting", `telnyx`, `KEY[0-9A-F]{32}_[0-9A-Za-z]{22}`, 3.5, "telnyx"),
		c.named("ably-api-key", "Ably API key in an ably-named setting", `ably`, `[0-9A-Za-z_-]{6}\.[0-9A-Za-z_-]{6}:[0-9A-Za-z_-]{43}`, 4, "ably"),
		c.named("pusher-secret", "Pusher Channels app secret in a pusher-named setting", `pusher[\w.-]{0,20}secret`, `[0-9a-f]{20}`, 2.7, "pusher"),

		// Payments and finance.
		c.named("plaid-client-id", "Plaid client id in a plaid-named setting", `plaid`, `[0-9a-f]{24}`, 2.85, "plaid"),
		c.named("plaid-secret-key", "Plaid secret in a plaid-named setting", `plaid`, `[0-9a-f]{30}`, 3, "plaid"),
		c.token("plaid-api-token", "Plaid access token", `access-(?:sandbox|development|production)-`+uuidRe, dashTail, 7, 3, "access-sandbox-", "access-development-", "access-production-"),
		c.named("coinbase-access-token", "Coinbase access token in a coinbase-named setting", `coinbase`, `[0-9A-Za-z_-]{64}`, 4, "coinbase"),
		c.named("coinbase-api-key", "Coinbase legacy API key in a coinbase-named setting", `coinbase[\w.-]{0,20}key`, `[0-9A-Za-z]{16}`, 3, "coinbase"),
		c.named("coinbase-api-secret", "Coinbase legacy API secret in a coinbase-named setting", `coinbase[\w.-]{0,20}secret`, `[0-9A-Za-z]{32}`, 3.5, "coinbase"),
		c.named("gocardless-api-token", "GoCardless access token in a gocardless-named setting", `gocardless`, `(?:live|sandbox)_[0-9A-Za-z_=-]{40}`, 3.5, "gocardless"),
		c.token("flutterwave-secret-key", "Flutterwave secret key", `FLWSECK(?:_TEST)?-[0-9a-f]{32}-X`, wordTail, 8, 3, "flwseck"),
		c.token("flutterwave-encryption-key", "Flutterwave encryption key", `FLWSECK(?:_TEST)?[0-9a-f]{12}`, wordTail, 7, 3, "flwseck"),
		c.token("razorpay-key-id", "Razorpay key id", `rzp_(?:live|test)_[0-9A-Za-z]{14}`, wordTail, 9, 3, "rzp_live_", "rzp_test_"),
		c.named("razorpay-key-secret", "Razorpay key secret in a razorpay-named setting", `razorpay`, `[0-9A-Za-z]{24}`, 3.5, "razorpay"),
		c.token("shippo-api-token", "Shippo API token", `shippo_(?:live|test)_[0-9a-f]{40}`, wordTail, 12, 3, "shippo_live_", "shippo_test_"),
		c.token("easypost-api-token", "EasyPost production API key", `EZAK[0-9A-Za-z]{54}`, wordTail, 4, 4, "ezak"),
		c.token("easypost-test-api-token", "EasyPost test API key", `EZTK[0-9A-Za-z]{54}`, wordTail, 4, 4, "eztk"),
		c.token("duffel-api-token", "Duffel API token", `duffel_(?:test|live)_[0-9A-Za-z_=-]{43}`, dashTail, 12, 3.5, "duffel_test_", "duffel_live_"),
		c.named("lob-api-key", "Lob secret API key in a lob-named setting", `lob[_.-]`, `(?:live|test)_[0-9a-f]{35}`, 3, "lob_", "lob-", "lob."),
		c.token("lob-pub-api-key", "Lob publishable API key", `(?:test|live)_pub_[0-9a-f]{31}`, wordTail, 5, 3, "_pub_"),
		c.named("finicity-client-secret", "Finicity client secret in a finicity-named setting", `finicity`, `[0-9A-Za-z]{20}`, 3.45, "finicity"),
		c.named("finicity-api-token", "Finicity app key in a finicity-named setting", `finicity`, `[0-9a-f]{32}`, 3, "finicity"),
		c.named("finnhub-access-token", "Finnhub API key in a finnhub-named setting", `finnhub`, `[0-9a-z]{20}`, 3.2, "finnhub"),
		c.named("mollie-api-key", "Mollie API key in a mollie-named setting", `mollie`, `(?:live|test)_[0-9A-Za-z]{30}`, 3.5, "mollie"),
		c.named("paypal-client-secret", "PayPal REST client secret in a paypal-named setting", `paypal[\w.-]{0,20}secret`, `E[0-9A-Za-z_-]{79}`, 4, "paypal"),

		// Crypto exchanges.
		c.named("binance-api-key", "Binance API key or secret in a binance-named setting", `binance`, `[0-9A-Za-z]{64}`, 4, "binance"),
		c.named("kraken-access-token", "Kraken API private key in a kraken-named setting", `kraken`, `[0-9A-Za-z/+]{80,90}={0,2}`, 4.5, "kraken"),
		c.named("kucoin-access-token", "KuCoin API key in a kucoin-named setting", `kucoin`, `[0-9a-f]{24}`, 2.85, "kucoin"),
		c.named("kucoin-secret-key", "KuCoin API secret in a kucoin-named setting", `kucoin`, uuidRe, 3, "kucoin"),
		c.named("bittrex-access-key", "Bittrex API key or secret in a bittrex-named setting", `bittrex`, `[0-9a-f]{32}`, 3, "bittrex"),
		c.named("bitfinex-api-key", "Bitfinex API key or secret in a bitfinex-named setting", `bitfinex`, `[0-9A-Za-z]{43}`, 4, "bitfinex"),
		c.named("bybit-api-secret", "Bybit API secret in a bybit-named setting", `bybit`, `[0-9A-Za-z]{36}`, 4, "bybit"),
		c.named("okx-api-key", "OKX API key in an okx-named setting", `okx[_.-]|okex`, uuidRe, 3, "okx_", "okx-", "okx.", "okex"),
		c.token("gemini-exchange-api-key", "Gemini (crypto exchange) API key", `(?:account|master)-[0-9A-Za-z]{20}`, wordTail, 0, 3.5, "account-", "master-"),

		// Data and messaging platforms.
		c.named("confluent-access-token", "Confluent Cloud API key in a confluent-named setting", `confluent`, `[0-9A-Z]{16}`, 2.9, "confluent"),
		c.named("confluent-secret-key", "Confluent Cloud API secret in a confluent-named setting", `confluent`, `[0-9A-Za-z+/]{64}`, 4.5, "confluent"),
		c.token("contentful-personal-access-token", "Contentful management personal access token", `CFPAT-[0-9A-Za-z_-]{43}`, dashTail, 6, 4, "cfpat-"),
		c.named("contentful-delivery-api-token", "Contentful delivery or preview API token in a contentful-named setting", `contentful`, `[0-9A-Za-z_-]{43}`, 4, "contentful"),
		c.token("launchdarkly-access-token", "LaunchDarkly API access token or SDK key", `(?:api|sdk)-`+uuidRe, dashTail, 4, 3, "api-", "sdk-"),
		c.token("clickhouse-cloud-api-secret-key", "ClickHouse Cloud API secret key", `4b1d[0-9A-Za-z]{38}`, wordTail, 4, 4, "4b1d"),
		c.token("supabase-access-token", "Supabase personal access token", `sbp_[0-9a-f]{40}`, wordTail, 4, 3, "sbp_"),
		c.token("supabase-secret-key", "Supabase secret API key", `sb_secret_[0-9A-Za-z_-]{31}`, dashTail, 10, 3.5, "sb_secret_"),
		c.token("neon-api-key", "Neon API key", `napi_[0-9a-z]{64}`, wordTail, 5, 3.5, "napi_"),
		c.named("fauna-secret", "Fauna database secret in a fauna-named setting", `fauna`, `fn[0-9A-Za-z_-]{38}`, 4, "fauna"),
		c.named("upstash-redis-token", "Upstash REST token in an upstash-named setting", `upstash`, `A[0-9A-Za-z]{50,120}=?`, 4, "upstash"),
		c.token("tailscale-key", "Tailscale auth, API, OAuth client or webhook key", `tskey-(?:auth|api|client|scim|webhook)-[0-9A-Za-z]{10,20}-[0-9A-Za-z]{28,40}`, dashTail, 6, 3.5, "tskey-"),
		c.named("ngrok-auth-token", "ngrok authtoken in an ngrok-named setting", `ngrok`, `[0-9A-Za-z]{27}_[0-9A-Za-z]{21}`, 4, "ngrok"),

		// Cloud, hosting, infrastructure.
		c.token("flyio-access-token", "Fly.io access or deploy token", `(?:FlyV1 )?fm[12][ar]?_[0-9A-Za-z+/]{100,}={0,3}(?:,fm[12][ar]?_[0-9A-Za-z+/]{50,}={0,3})*|fo1_[0-9A-Za-z_-]{43}`, base64Tail, 4, 4.5, "flyv1 ", "fm1_", "fm1a", "fm1r", "fm2_", "fm2a", "fm2r", "fo1_"),
		c.token("openshift-user-token", "OpenShift user OAuth access token", `sha256~[0-9A-Za-z_-]{43}`, dashTail, 7, 4, "sha256~"),
		c.token("maxmind-license-key", "MaxMind license key", `[0-9A-Za-z]{6}_[0-9A-Za-z]{29}_mmk`, wordTail, 0, 4, "_mmk"),
		c.token("adafruit-api-key", "Adafruit IO key", `aio_[0-9A-Za-z]{28}`, wordTail, 4, 3.5, "aio_"),
		c.token("yandex-api-key", "Yandex Cloud API key", `AQVN[0-9A-Za-z_-]{35,38}`, dashTail, 4, 3.5, "aqvn"),
		c.token("yandex-access-token", "Yandex OAuth token", `y[0-3]_[0-9A-Za-z_-]{55}`, dashTail, 3, 4, thenEach([]string{"y0", "y1", "y2", "y3"}, "_", base62+"_-")...),
		c.token("yandex-iam-token", "Yandex Cloud IAM token", `t1\.[0-9A-Za-z_-]{8,}={0,2}\.[0-9A-Za-z_-]{86}={0,2}`, dashTail, 3, 4, then("t1.", base62+"_-")...),
		c.named("yandex-aws-access-token", "Yandex Cloud static access key in a yandex-named setting", `yandex`, `YC[0-9A-Za-z_-]{38}`, 4, "yandex"),
		c.token("tencent-secret-id", "Tencent Cloud SecretId", `AKID[0-9A-Za-z]{32}`, wordTail, 4, 4, "akid"),
		c.named("tencent-secret-key", "Tencent Cloud SecretKey in a tencent- or secret_key-named setting", `tencent[\w.-]{0,20}|tencentcloud`, `[0-9A-Za-z]{32}`, 4, "tencent"),
		c.named("alibaba-secret-key", "Alibaba Cloud AccessKey secret in an alibaba- or aliyun-named setting",
			`alibaba|aliyun|access[_.-]?key[_.-]?secret`, `[0-9A-Za-z]{30}`, 4, "alibaba", "aliyun", "access_key_secret", "accesskeysecret", "access-key-secret", "access.key.secret"),
		c.token("scaleway-access-key", "Scaleway access key", `SCW[0-9A-Z]{17}`, wordTail, 3, 3.2, then("scw", upperDigits)...),
		c.named("scaleway-secret-key", "Scaleway secret key in a scaleway- or scw-named setting", `scaleway|scw[_.-]?secret`, uuidRe, 3, "scaleway", "scw_secret", "scw-secret", "scw.secret"),
		c.named("linode-api-token", "Linode / Akamai Cloud personal access token in a linode-named setting", `linode`, `[0-9a-f]{64}`, 3, "linode"),
		c.named("vultr-api-key", "Vultr API key in a vultr-named setting", `vultr`, `[0-9A-Z]{36}`, 3.5, "vultr"),
		c.named("hetzner-api-token", "Hetzner Cloud API token in a hetzner- or hcloud-named setting", `hetzner|hcloud`, `[0-9A-Za-z]{64}`, 4, "hetzner", "hcloud"),
		c.named("backblaze-application-key", "Backblaze B2 application key in a b2- or backblaze-named setting", `backblaze|b2[_.-]?(?:application|app)[_.-]?key`, `K00[0-9A-Za-z+/]{28}`, 4, "backblaze", "b2_app", "b2-app", "b2.app"),
		c.token("akamai-edgegrid-token", "Akamai EdgeGrid client or access token", `akab-[0-9a-z]{16}-[0-9a-z]{16}`, dashTail, 5, 3.5, "akab-"),
		c.named("vercel-token", "Vercel access token in a vercel-named setting", `vercel`, `[0-9A-Za-z]{24}`, 3.5, "vercel"),
		c.token("render-api-key", "Render API key", `rnd_[0-9A-Za-z]{32}`, wordTail, 4, 3.5, "rnd_"),
		c.named("railway-token", "Railway API or project token in a railway-named setting", `railway`, uuidRe, 3, "railway"),
		c.named("ibm-cloud-api-key", "IBM Cloud API key in an ibm-named setting", `ibm[_.-]?cloud`, `[0-9A-Za-z_-]{44}`, 4, "ibmcloud", "ibm_cloud", "ibm-cloud", "ibm.cloud"),
		c.named("cisco-meraki-api-key", "Cisco Meraki API key in a meraki-named setting", `meraki`, `[0-9a-f]{40}`, 3, "meraki"),
		c.named("consul-acl-token", "Consul ACL token in a consul-named setting", `consul[\w.-]{0,20}token`, uuidRe, 3, "consul"),
		c.named("nomad-acl-token", "Nomad ACL token in a nomad-named setting", `nomad[\w.-]{0,20}token`, uuidRe, 3, "nomad"),
		c.token("firebase-cloud-messaging-key", "Firebase Cloud Messaging legacy server key", `AAAA[0-9A-Za-z_-]{7}:APA91b[0-9A-Za-z_-]{134}`, dashTail, 4, 4, "apa91b"),

		// AI.
		c.token("perplexity-api-key", "Perplexity API key", `pplx-[0-9A-Za-z]{48}`, wordTail, 5, 4, "pplx-"),
		c.named("cohere-api-token", "Cohere API key in a cohere- or co_api_key-named setting", `cohere|co[_.-]api[_.-]key`, `[0-9A-Za-z]{40}`, 4, "cohere", "co_api", "co-api", "co.api"),
		c.named("mistral-api-key", "Mistral AI API key in a mistral-named setting", `mistral`, `[0-9A-Za-z]{32}`, 4, "mistral"),
		c.token("xai-api-key", "xAI (Grok) API key", `xai-[0-9A-Za-z]{80}`, wordTail, 4, 4, "xai-"),
		c.token("replicate-api-token", "Replicate API token", `r8_[0-9A-Za-z]{37}`, wordTail, 3, 4, then("r8_", base62)...),
		c.token("langsmith-api-key", "LangSmith (LangChain) API key", `lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}`, wordTail, 8, 3.5, "lsv2_"),
		c.token("pinecone-api-key", "Pinecone API key", `pcsk_[0-9A-Za-z]{5,6}_[0-9A-Za-z]{60,70}`, wordTail, 5, 4, "pcsk_"),
		c.named("deepgram-api-key", "Deepgram API key in a deepgram-named setting", `deepgram`, `[0-9a-f]{40}`, 3, "deepgram"),
		c.named("elevenlabs-api-key", "ElevenLabs API key in an elevenlabs- or xi-api-key-named setting", `eleven[_.-]?labs|xi[_-]api[_-]key`, `(?:sk_)?[0-9a-f]{32,48}`, 3, "elevenlabs", "eleven_labs", "eleven-labs", "eleven.labs", "xi-api-key", "xi_api_key"),
		c.named("privateai-api-token", "Private AI API key in a private_ai-named setting", `private[_.-]?ai`, `[0-9a-z]{32}`, 3.5, "privateai", "private_ai", "private-ai", "private.ai"),

		// Observability and alerting.
		c.token("new-relic-browser-api-token", "New Relic browser API key", `NRJS-[0-9a-f]{19}`, wordTail, 5, 3, "nrjs-"),
		c.named("sumologic-access-id", "Sumo Logic access id in a sumo-named setting", `sumo`, `su[0-9A-Za-z]{12}`, 2.9, "sumo"),
		c.named("sumologic-access-token", "Sumo Logic access key in a sumo-named setting", `sumo`, `[0-9A-Za-z]{64}`, 4, "sumo"),
		c.named("rollbar-access-token", "Rollbar access token in a rollbar-named setting", `rollbar`, `[0-9a-f]{32}`, 3, "rollbar"),
		c.named("bugsnag-api-key", "Bugsnag API key in a bugsnag-named setting", `bugsnag`, `[0-9a-f]{32}`, 3, "bugsnag"),
		c.named("honeycomb-api-key", "Honeycomb API key in a honeycomb-named setting", `honeycomb`, `[0-9A-Za-z]{22}|[0-9a-f]{32}|hc[a-z]{2}k_[0-9a-z]{58}`, 3.5, "honeycomb"),
		c.named("pagerduty-api-key", "PagerDuty API key in a pagerduty-named setting", `pager[_.-]?duty`, `[0-9A-Za-z_+-]{20}`, 3.45, "pagerduty", "pager_duty", "pager-duty", "pager.duty"),
		c.named("opsgenie-api-key", "Opsgenie API key in an opsgenie-named setting", `opsgenie`, uuidRe, 3, "opsgenie"),
		c.named("splunk-hec-token", "Splunk HTTP Event Collector token in a splunk- or hec-named setting", `splunk|hec[_.-]?token`, uuidRe, 3, "splunk", "hec_token", "hec-token", "hec.token"),
		c.named("loggly-token", "Loggly customer token in a loggly-named setting", `loggly`, uuidRe, 3, "loggly"),
		c.named("sentry-access-token", "Sentry legacy auth token in a sentry-named setting", `sentry`, `[0-9a-f]{64}`, 3, "sentry"),
		{
			ID:          "grafana-api-key",
			Description: "Grafana legacy API key (payload verified)",
			Keywords:    []string{"eyjrijoi"},
			Regex:       tok(`eyJrIjoi[0-9A-Za-z+/]{60,400}={0,2}`, base64Tail),
			SecretGroup: 1, Standalone: true, Entropy: 4, RedactPrefix: 8,
			Validate: validGrafanaLegacy,
		},

		// Productivity and collaboration.
		c.named("atlassian-legacy-api-token", "Atlassian (Jira, Confluence) 24-character API token in an atlassian-, jira- or confluence-named setting",
			`atlassian|jira|confluence`, `[0-9A-Za-z]{24}`, 3.5, "atlassian", "jira", "confluence"),
		c.token("bitbucket-app-password", "Bitbucket app password", `ATBB[0-9A-Za-z]{28}[0-9A-F]{8}`, wordTail, 4, 4, "atbb"),
		c.named("bitbucket-client-id", "Bitbucket OAuth consumer key in a bitbucket-named setting", `bitbucket[\w.-]{0,20}(?:key|id)`, `[0-9A-Za-z]{18}|[0-9A-Za-z]{32}`, 3.3, "bitbucket"),
		c.named("bitbucket-client-secret", "Bitbucket OAuth consumer secret in a bitbucket-named setting", `bitbucket[\w.-]{0,20}secret`, `[0-9A-Za-z_=-]{32}|[0-9A-Za-z_=-]{64}`, 4, "bitbucket"),
		c.named("asana-client-secret", "Asana OAuth client secret in an asana-named setting", `asana[\w.-]{0,20}secret`, `[0-9a-z]{32}`, 3.5, "asana"),
		c.named("linear-client-secret", "Linear OAuth client secret in a linear-named setting", `linear[\w.-]{0,20}secret`, `[0-9a-f]{32}`, 3, "linear"),
		c.token("figma-pat", "Figma personal access token", `figd_[0-9A-Za-z_-]{40}`, dashTail, 5, 4, "figd_"),
		c.named("trello-api-token", "Trello API key or token in a trello-named setting", `trello`, `[0-9a-f]{32}|ATTA[0-9a-f]{64}[0-9A-F]{8}|[0-9a-f]{64}`, 3, "trello"),
		c.token("clickup-api-token", "ClickUp personal API token", `pk_[0-9]{6,10}_[0-9A-Z]{32}`, wordTail, 3, 3.5, then("pk_", digits)...),
		c.named("airtable-api-key", "Airtable legacy API key in an airtable-named setting", `airtable`, `key[0-9A-Za-z]{14}`, 3.2, "airtable"),
		c.named("adobe-client-id", "Adobe client id (API key) in an adobe-named setting", `adobe`, `[0-9a-f]{32}`, 3, "adobe"),
		c.token("adobe-client-secret", "Adobe client secret", `p8e-[0-9A-Za-z_-]{32}`, dashTail, 4, 3.5, "p8e-"),
		c.named("zoom-client-secret", "Zoom OAuth or JWT app secret in a zoom-named setting", `zoom[\w.-]{0,20}secret`, `[0-9A-Za-z]{32}`, 3.5, "zoom"),
		c.named("etsy-access-token", "Etsy API key in an etsy-named setting", `etsy`, `[0-9a-z]{24}`, 3.4, "etsy"),
		c.named("flickr-access-token", "Flickr API key in a flickr-named setting", `flickr`, `[0-9a-f]{32}`, 3, "flickr"),
		c.named("freshbooks-access-token", "FreshBooks access token in a freshbooks-named setting", `freshbooks`, `[0-9a-f]{64}`, 3, "freshbooks"),
		c.named("nytimes-access-token", "New York Times API key in an nytimes-named setting", `nytimes|new[_.-]?york[_.-]?times|nyt[_.-]api`, `[0-9A-Za-z=_-]{32}`, 3.5, "nytimes", "york", "nyt_api", "nyt-api", "nyt.api"),
		c.named("looker-client-secret", "Looker API client secret in a looker-named setting", `looker[\w.-]{0,20}secret`, `[0-9A-Za-z]{24}`, 3.5, "looker"),
		c.named("squarespace-access-token", "Squarespace API key in a squarespace-named setting", `squarespace`, uuidRe, 3, "squarespace"),
		c.named("discord-client-secret", "Discord OAuth2 client secret in a discord-named setting", `discord[\w.-]{0,20}secret`, `[0-9A-Za-z_-]{32}`, 3.5, "discord"),
		c.token("intra42-client-secret", "42 Intra API client secret", `s-s4t2(?:ud|af)-[0-9a-f]{64}`, dashTail, 9, 3, "s-s4t2"),
		c.token("settlemint-access-token", "SettleMint application, personal or service access token", `sm_(?:aat|pat|sat)_[0-9A-Za-z]{16}`, wordTail, 7, 3.5, "sm_aat_", "sm_pat_", "sm_sat_"),
		c.token("authress-service-client-access-key", "Authress service client access key",
			`(?:sc|ext|scauth|authress)_[0-9A-Za-z]{30,35}\.[0-9a-z]{4,6}\.acc[_-][0-9a-z]{10,32}\.[0-9A-Za-z+/_=-]{30,120}`, `0-9A-Za-z_=+/-`, 0, 4, ".acc_", ".acc-"),
		c.named("sidekiq-secret", "Sidekiq Pro / Enterprise gem server credentials in a BUNDLE_*__CONTRIBSYS__COM setting",
			`bundle_(?:enterprise|gems)__contribsys__com`, `[0-9a-f]{8}:[0-9a-f]{8}`, 2.5, "__contribsys__com"),
		c.token("sidekiq-sensitive-url", "Sidekiq gem server URL with credentials", `https?://[0-9a-f]{8}:[0-9a-f]{8}@(?:gems|enterprise)\.contribsys\.com`, `0-9A-Za-z_.-`, 8, 3, "contribsys.com"),
		c.token("onepassword-secret-key", "1Password account Secret Key", `A3-[0-9A-Z]{6}-(?:[0-9A-Z]{11}|[0-9A-Z]{6}-[0-9A-Z]{5})-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}`, dashTail, 3, 3.5, then("a3-", upperDigits)...),
		c.token("aws-bedrock-api-key-long-lived", "Amazon Bedrock long-term API key", `ABSKQmVkcm9ja0FQSUtleS[0-9A-Za-z+/]{100,200}={0,2}`, base64Tail, 4, 4, "absk"),
		c.token("aws-bedrock-api-key-short-lived", "Amazon Bedrock short-term API key", `bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[0-9A-Za-z+/]{50,1000}(?:[0-9A-Za-z+/]{0,1000})={0,2}`, base64Tail, 16, 4, "bedrock-api-key-"),
	}
	// Long tokens: Fly.io macaroons, Bedrock's presigned short-term keys.
	for i := range rules {
		switch rules[i].ID {
		case "flyio-access-token":
			rules[i].MaxLen = 4096
		case "aws-bedrock-api-key-short-lived":
			rules[i].MaxLen = 4096
		}
	}
	return rules
}

// validMapbox checks that the middle of a Mapbox token is base64 JSON
// naming a user ("u").
func validMapbox(tok []byte) bool {
	parts := bytes.SplitN(tok, []byte("."), 3)
	if len(parts) != 3 {
		return false
	}
	raw, ok := decodeBase64Any(parts[1])
	return ok && jsonHasKey(raw, "u")
}

// jsonHasKey reports whether raw is a JSON object with the given key.
func jsonHasKey(raw []byte, key string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return false
	}
	_, ok := obj[key]
	return ok
}

// validGrafanaLegacy checks a Grafana legacy API key: base64 JSON with the
// key ("k"), its name ("n") and the organisation id ("id").
func validGrafanaLegacy(tok []byte) bool {
	raw, ok := decodeBase64Any(tok)
	return ok && jsonHasKey(raw, "k") && jsonHasKey(raw, "n") && jsonHasKey(raw, "id")
}
