package patterns

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
)

// f fills a format: {d12} digits, {h40} lower hex, {H8} upper hex, {b36}
// base62, {l30} lower case and digits, {U27} upper case and digits, {a34}
// letters, {B43} base64url, {s40} standard base64, {z52} lower base32,
// {u} a UUID; anything else is literal. The formats in the cases below are
// the providers' documented token shapes, written independently of the
// rules' regexes.
func (g *gen) f(format string) string {
	return fmtRe.ReplaceAllStringFunc(format, func(m string) string {
		if m == "{u}" {
			return g.uuid()
		}
		n, _ := strconv.Atoi(m[2 : len(m)-1])
		switch m[1] {
		case 'd':
			return g.s(alphaDigit, n)
		case 'h':
			return g.s(alphaHex, n)
		case 'H':
			return strings.ToUpper(g.s(alphaHex, n))
		case 'b':
			return g.s(alphaB62, n)
		case 'l':
			return g.s(alphaLower, n)
		case 'U':
			return g.s(alphaUpper, n)
		case 'a':
			return g.s(alphaLetter, n)
		case 'B':
			return g.b64url(n)
		case 's':
			return g.s(alphaB64, n)
		case 'z':
			return g.s("abcdefghijklmnopqrstuvwxyz234567", n)
		}
		panic("bad format " + m)
	})
}

var fmtRe = regexp.MustCompile(`\{(?:u|[dhHblUaBsz][0-9]+)\}`)

// tk is a case for a prefixed token: found alone, quoted and assigned;
// not found one character short, with a placeholder body, or glued.
func (g *gen) tk(id, format string, no ...string) ruleCase {
	c := ruleCase{id: id}
	for _, tmpl := range []string{"TOKEN={}\n", `{"key": "{}"}`, "Authorization: Bearer {}\r\n"} {
		c.yes = append(c.yes, in(tmpl, g.f(format)))
	}
	for _, n := range no {
		c.no = append(c.no, g.f(n))
	}
	c.no = append(c.no, "x"+g.f(format), "token: "+fmtRe.ReplaceAllStringFunc(format, func(m string) string {
		if m == "{u}" {
			return "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
		}
		n, _ := strconv.Atoi(m[2 : len(m)-1])
		return strings.Repeat("x", n)
	}))
	return c
}

// kvc is a case for a bare value assigned to a provider-named setting,
// in .env, JSON and YAML; not found under another name or one short.
func (g *gen) kvc(id, name, format, short string) ruleCase {
	c := ruleCase{id: id}
	lower := strings.ToLower(name)
	for _, tmpl := range []string{name + "={}\n", `{"` + lower + `": "{}"}`, lower + `: '{}'` + "\n"} {
		c.yes = append(c.yes, in(tmpl, g.f(format)))
	}
	c.no = append(c.no, "SOME_VALUE="+g.f(format)+"\n", name+"="+g.f(short)+"\n", name+"=${"+name+"}\n")
	return c
}

func saasCases(g *gen) []ruleCase {
	mapbox := func(p string) string {
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"u":"` + g.s(alphaLower, 8) + `","a":"` + g.s(alphaLower, 25) + `"}`))
		return p + "." + payload + "." + g.b64url(22)
	}
	grafanaLegacy := "eyJrIjoi" + base64.StdEncoding.EncodeToString([]byte(`{"k":"` + g.s(alphaB62, 32) + `","n":"deploy","id":1}`))[8:]
	return []ruleCase{
		g.tk("twitter-bearer-token", "AAAAAAAAAAAAAAAAAAAAAM{b19}%3D{b50}", "AAAAAAAAAAAAAAAAAAAA{b10}"),
		g.kvc("twitter-api-key", "TWITTER_API_KEY", "{b25}", "{b24}"),
		g.kvc("twitter-api-secret", "TWITTER_API_SECRET", "{b50}", "{b49}"),
		g.kvc("twitter-access-token", "TWITTER_ACCESS_TOKEN", "{d19}-{b40}", "{d19}-{b39}"),
		g.kvc("twitter-access-secret", "TWITTER_ACCESS_TOKEN_SECRET", "{b45}", "{b44}"),
		g.tk("facebook-access-token", "EAAG{b180}", "EAAG{b40}", "eaag{b180}"),
		g.kvc("facebook-secret", "FACEBOOK_APP_SECRET", "{h32}", "{h31}"),
		g.kvc("linkedin-client-id", "LINKEDIN_CLIENT_ID", "{l14}", "{l13}"),
		g.kvc("linkedin-client-secret", "LINKEDIN_CLIENT_SECRET", "{b16}", "{b15}"),
		g.kvc("algolia-api-key", "ALGOLIA_ADMIN_KEY", "{h32}", "{h31}"),
		{id: "mapbox-api-token",
			yes: []example{in("MAPBOX_TOKEN={}\n", mapbox("sk")), in(`"{}"`, mapbox("tk"))},
			no:  []string{mapbox("pk"), "sk.eyJ" + g.b64url(60) + "." + g.b64url(22)}},
		g.tk("rapidapi-access-token", "{h10}msh{h15}p{h6}jsn{h12}", "{h10}msh{h15}p{h6}jsn{h11}"),
		g.tk("jfrog-api-key", "AKCp{b69}", "AKCp{b68}"),
		g.tk("jfrog-reference-token", "cmVmdGtuOjAxOj{b50}", "cmVmdGtuOjAxOj{b49}"),
		g.kvc("jfrog-identity-token", "ARTIFACTORY_TOKEN", "{b64}", "{b63}"),
		g.tk("sonarqube-token", "sqp_{h40}", "sqp_{h39}", "sqx_{h40}"),
		g.kvc("sonar-api-token", "SONAR_TOKEN", "{h40}", "{h39}"),
		g.kvc("snyk-api-token", "SNYK_TOKEN", "{u}", "{h32}"),
		g.kvc("codecov-access-token", "CODECOV_TOKEN", "{u}", "{h32}"),
		g.tk("netlify-access-token", "nfp_{b36}", "nfp_{b35}"),
		g.kvc("netlify-legacy-token", "NETLIFY_AUTH_TOKEN", "{B43}", "{B42}"),
		g.kvc("travisci-access-token", "TRAVIS_API_TOKEN", "{b22}", "{b21}"),
		g.kvc("droneci-access-token", "DRONE_TOKEN", "{b32}", "{b31}"),
		g.tk("circleci-pat", "CCIPAT_{b22}_{h40}", "CCIPAT_{b22}_{h39}"),
		g.tk("circleci-project-token", "CCIPRJ_{b22}_{h40}", "CCIPRJ_{b21}_{h40}"),
		g.tk("buildkite-agent-token", "bkua_{h40}", "bkua_{h39}"),
		g.tk("octopus-deploy-api-key", "API-{U27}", "API-{U20}"),
		g.tk("prefect-api-token", "pnu_{b36}", "pnu_{b35}"),
		g.tk("harness-api-key", "pat.{B22}.{h24}.{b20}", "pat.{B22}.{h24}.{b19}"),
		g.tk("clojars-api-token", "CLOJARS_{l60}", "CLOJARS_{l59}"),
		g.tk("infracost-api-token", "ico-{b32}", "ico-{b31}"),
		g.tk("scalingo-api-token", "tk-us-{B48}", "tk-us-{B40}"),
		g.tk("sourcegraph-access-token", "sgp_{h16}_{h40}", "sgp_{h39}"),
		g.tk("readme-api-token", "rdme_{l70}", "rdme_{l69}"),
		g.tk("typeform-api-token", "tfp_{B44}_{b14}", "tfp_{B44}_{b13}"),
		g.tk("frameio-api-token", "fio-u-{B64}", "fio-u-{B63}"),
		g.tk("defined-networking-api-token", "dnkey-{l26}-{l52}", "dnkey-{l26}-{l51}"),
		g.tk("gitlab-session-cookie", "_gitlab_session={l32}", "_gitlab_session={l31}"),
		g.kvc("gitter-access-token", "GITTER_TOKEN", "{h40}", "{h39}"),
		g.kvc("gitea-access-token", "GITEA_TOKEN", "{h40}", "{h39}"),
		g.tk("azure-devops-pat", "{b52}AZDO{b28}", "{b52}AZDO{b27}"),
		g.kvc("azure-devops-legacy-pat", "AZURE_DEVOPS_PAT", "{z52}", "{z51}"),
		g.tk("hubspot-private-app-token", "pat-na1-{u}", "pat-xx1-{u}"),
		g.kvc("hubspot-api-key", "HUBSPOT_API_KEY", "{u}", "{h32}"),
		g.kvc("intercom-api-key", "INTERCOM_ACCESS_TOKEN", "dG9rOj{b54}", "dG9rOj{b40}"),
		g.kvc("zendesk-secret-key", "ZENDESK_API_TOKEN", "{b40}", "{b39}"),
		g.kvc("mattermost-access-token", "MATTERMOST_TOKEN", "{l26}", "{l25}"),
		g.kvc("messagebird-api-token", "MESSAGEBIRD_API_KEY", "{b25}", "{b24}"),
		g.kvc("sendbird-access-token", "SENDBIRD_API_TOKEN", "{h40}", "{h39}"),
		g.kvc("beamer-api-token", "BEAMER_API_KEY", "b_{B44}", "b_{B43}"),
		g.tk("mailgun-pub-key", "pubkey-{h32}", "pubkey-{h31}"),
		g.kvc("postmark-server-token", "POSTMARK_SERVER_TOKEN", "{u}", "{h32}"),
		g.kvc("sparkpost-api-key", "SPARKPOST_API_KEY", "{h40}", "{h39}"),
		g.kvc("mandrill-api-key", "MANDRILL_API_KEY", "{b22}", "{b21}"),
		g.tk("resend-api-key", "re_{b8}_{b24}", "re_{b8}_{b23}"),
		g.kvc("telnyx-api-key", "TELNYX_API_KEY", "KEY{H32}_{b22}", "KEY{H32}_{b21}"),
		g.kvc("pusher-secret", "PUSHER_APP_SECRET", "{h20}", "{h19}"),
		g.kvc("ably-api-key", "ABLY_API_KEY", "{b6}.{b6}:{b43}", "{b6}.{b6}:{b42}"),
		g.kvc("plaid-client-id", "PLAID_CLIENT_ID", "{h24}", "{h23}"),
		g.kvc("plaid-secret-key", "PLAID_SECRET", "{h30}", "{h29}"),
		g.tk("plaid-api-token", "access-production-{u}", "access-staging-{u}"),
		g.kvc("coinbase-access-token", "COINBASE_ACCESS_TOKEN", "{B64}", "{B63}"),
		g.kvc("coinbase-api-key", "COINBASE_API_KEY", "{b16}", "{b15}"),
		g.kvc("coinbase-api-secret", "COINBASE_API_SECRET", "{b32}", "{b31}"),
		g.kvc("gocardless-api-token", "GOCARDLESS_ACCESS_TOKEN", "live_{B40}", "live_{B39}"),
		g.tk("flutterwave-secret-key", "FLWSECK_TEST-{h32}-X", "FLWSECK_TEST-{h31}-X"),
		g.tk("flutterwave-encryption-key", "FLWSECK_TEST{h12}", "FLWSECK_TEST{h11}"),
		g.tk("razorpay-key-id", "rzp_live_{b14}", "rzp_live_{b13}"),
		g.kvc("razorpay-key-secret", "RAZORPAY_KEY_SECRET", "{b24}", "{b23}"),
		g.tk("shippo-api-token", "shippo_live_{h40}", "shippo_live_{h39}"),
		g.tk("easypost-api-token", "EZAK{b54}", "EZAK{b53}"),
		g.tk("easypost-test-api-token", "EZTK{b54}", "EZTK{b53}"),
		g.tk("duffel-api-token", "duffel_live_{B43}", "duffel_live_{B42}"),
		g.kvc("lob-api-key", "LOB_API_KEY", "live_{h35}", "live_{h34}"),
		g.tk("lob-pub-api-key", "live_pub_{h31}", "live_pub_{h30}"),
		g.kvc("finicity-client-secret", "FINICITY_CLIENT_SECRET", "{b20}", "{b19}"),
		g.kvc("finicity-api-token", "FINICITY_APP_KEY", "{h32}", "{h31}"),
		g.kvc("finnhub-access-token", "FINNHUB_API_KEY", "{l20}", "{l19}"),
		g.kvc("mollie-api-key", "MOLLIE_API_KEY", "live_{b30}", "live_{b29}"),
		g.kvc("paypal-client-secret", "PAYPAL_CLIENT_SECRET", "E{B79}", "E{B78}"),
		g.kvc("binance-api-key", "BINANCE_API_SECRET", "{b64}", "{b63}"),
		g.kvc("kraken-access-token", "KRAKEN_PRIVATE_KEY", "{s86}==", "{s40}"),
		g.kvc("kucoin-access-token", "KUCOIN_API_KEY", "{h24}", "{h23}"),
		g.kvc("kucoin-secret-key", "KUCOIN_API_SECRET", "{u}", "{h32}"),
		g.kvc("bittrex-access-key", "BITTREX_API_KEY", "{h32}", "{h31}"),
		g.kvc("bitfinex-api-key", "BITFINEX_API_SECRET", "{b43}", "{b42}"),
		g.kvc("bybit-api-secret", "BYBIT_API_SECRET", "{b36}", "{b35}"),
		g.kvc("okx-api-key", "OKX_API_KEY", "{u}", "{h32}"),
		g.tk("gemini-exchange-api-key", "master-{b20}", "master-{b19}"),
		g.kvc("confluent-access-token", "CONFLUENT_API_KEY", "{U16}", "{U15}"),
		g.kvc("confluent-secret-key", "CONFLUENT_API_SECRET", "{s64}", "{s63}"),
		g.tk("contentful-personal-access-token", "CFPAT-{B43}", "CFPAT-{B42}"),
		g.kvc("contentful-delivery-api-token", "CONTENTFUL_DELIVERY_TOKEN", "{B43}", "{B42}"),
		g.tk("launchdarkly-access-token", "api-{u}", "api-{h32}"),
		g.tk("clickhouse-cloud-api-secret-key", "4b1d{b38}", "4b1d{b37}"),
		g.tk("supabase-access-token", "sbp_{h40}", "sbp_{h39}"),
		g.tk("supabase-secret-key", "sb_secret_{B31}", "sb_secret_{B30}"),
		g.tk("neon-api-key", "napi_{l64}", "napi_{l63}"),
		g.kvc("fauna-secret", "FAUNA_SECRET", "fn{B38}", "fn{B37}"),
		g.kvc("upstash-redis-token", "UPSTASH_REDIS_REST_TOKEN", "A{b80}", "A{b40}"),
		g.tk("tailscale-key", "tskey-auth-{b17}-{b33}", "tskey-auth-{b17}-{b20}"),
		g.kvc("ngrok-auth-token", "NGROK_AUTHTOKEN", "{b27}_{b21}", "{b27}_{b20}"),
		g.tk("flyio-access-token", "FlyV1 fm2_{s300}", "fm2_{s40}"),
		g.tk("openshift-user-token", "sha256~{B43}", "sha256~{B42}"),
		g.tk("maxmind-license-key", "{b6}_{b29}_mmk", "{b6}_{b28}_mmk"),
		g.tk("adafruit-api-key", "aio_{b28}", "aio_{b27}"),
		g.tk("yandex-api-key", "AQVN{B36}", "AQVN{B30}"),
		g.tk("yandex-access-token", "y0_{B55}", "y0_{B54}"),
		g.tk("yandex-iam-token", "t1.{B20}.{B86}", "t1.{B20}.{B85}"),
		g.kvc("yandex-aws-access-token", "YANDEX_SECRET_KEY", "YC{B38}", "YC{B37}"),
		g.tk("tencent-secret-id", "AKID{b32}", "AKID{b31}"),
		g.kvc("tencent-secret-key", "TENCENTCLOUD_SECRET_KEY", "{b32}", "{b31}"),
		g.kvc("alibaba-secret-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "{b30}", "{b29}"),
		g.tk("scaleway-access-key", "SCW{U17}", "SCW{U16}"),
		g.kvc("scaleway-secret-key", "SCW_SECRET_KEY", "{u}", "{h32}"),
		g.kvc("linode-api-token", "LINODE_TOKEN", "{h64}", "{h63}"),
		g.kvc("vultr-api-key", "VULTR_API_KEY", "{U36}", "{U35}"),
		g.kvc("hetzner-api-token", "HCLOUD_TOKEN", "{b64}", "{b63}"),
		g.kvc("backblaze-application-key", "B2_APPLICATION_KEY", "K00{b28}", "K00{b27}"),
		g.tk("akamai-edgegrid-token", "akab-{l16}-{l16}", "akab-{l16}-{l15}"),
		g.kvc("vercel-token", "VERCEL_TOKEN", "{b24}", "{b23}"),
		g.tk("render-api-key", "rnd_{b32}", "rnd_{b31}"),
		g.kvc("railway-token", "RAILWAY_TOKEN", "{u}", "{h32}"),
		g.kvc("ibm-cloud-api-key", "IBM_CLOUD_API_KEY", "{B44}", "{B43}"),
		g.kvc("cisco-meraki-api-key", "MERAKI_API_KEY", "{h40}", "{h39}"),
		g.kvc("consul-acl-token", "CONSUL_HTTP_TOKEN", "{u}", "{h32}"),
		g.kvc("nomad-acl-token", "NOMAD_TOKEN", "{u}", "{h32}"),
		g.tk("firebase-cloud-messaging-key", "AAAA{B7}:APA91b{B134}", "AAAA{B7}:APA91b{B100}"),
		g.tk("perplexity-api-key", "pplx-{b48}", "pplx-{b47}"),
		g.kvc("cohere-api-token", "COHERE_API_KEY", "{b40}", "{b39}"),
		g.kvc("mistral-api-key", "MISTRAL_API_KEY", "{b32}", "{b31}"),
		g.tk("xai-api-key", "xai-{b80}", "xai-{b79}"),
		g.tk("replicate-api-token", "r8_{b37}", "r8_{b36}"),
		g.tk("langsmith-api-key", "lsv2_pt_{h32}_{h10}", "lsv2_pt_{h32}_{h9}"),
		g.tk("pinecone-api-key", "pcsk_{b6}_{b65}", "pcsk_{b6}_{b40}"),
		g.kvc("deepgram-api-key", "DEEPGRAM_API_KEY", "{h40}", "{h31}"),
		g.kvc("elevenlabs-api-key", "ELEVENLABS_API_KEY", "sk_{h48}", "sk_{h20}"),
		g.kvc("privateai-api-token", "PRIVATE_AI_API_KEY", "{l32}", "{l31}"),
		g.tk("new-relic-browser-api-token", "NRJS-{h19}", "NRJS-{h18}"),
		g.kvc("sumologic-access-id", "SUMO_ACCESS_ID", "su{b12}", "su{b11}"),
		g.kvc("sumologic-access-token", "SUMO_ACCESS_KEY", "{b64}", "{b63}"),
		g.kvc("rollbar-access-token", "ROLLBAR_ACCESS_TOKEN", "{h32}", "{h31}"),
		g.kvc("bugsnag-api-key", "BUGSNAG_API_KEY", "{h32}", "{h31}"),
		g.kvc("honeycomb-api-key", "HONEYCOMB_API_KEY", "{b22}", "{b21}"),
		g.kvc("pagerduty-api-key", "PAGERDUTY_TOKEN", "u+{B18}", "u+{B17}"),
		g.kvc("opsgenie-api-key", "OPSGENIE_API_KEY", "{u}", "{h32}"),
		g.kvc("splunk-hec-token", "SPLUNK_HEC_TOKEN", "{u}", "{h32}"),
		g.kvc("loggly-token", "LOGGLY_TOKEN", "{u}", "{h32}"),
		g.kvc("sentry-access-token", "SENTRY_AUTH_TOKEN", "{h64}", "{h63}"),
		{id: "grafana-api-key",
			yes: []example{in("GRAFANA_API_KEY={}\n", grafanaLegacy), in(`"{}"`, grafanaLegacy)},
			no:  []string{"eyJrIjoi" + g.s(alphaB62, 80), "x" + grafanaLegacy}},
		g.kvc("atlassian-legacy-api-token", "JIRA_API_TOKEN", "{b24}", "{b23}"),
		g.tk("bitbucket-app-password", "ATBB{b28}{H8}", "ATBB{b28}{H7}"),
		g.kvc("bitbucket-client-id", "BITBUCKET_CLIENT_KEY", "{b18}", "{b17}"),
		g.kvc("bitbucket-client-secret", "BITBUCKET_CLIENT_SECRET", "{b32}", "{b31}"),
		g.kvc("asana-client-secret", "ASANA_CLIENT_SECRET", "{l32}", "{l31}"),
		g.kvc("linear-client-secret", "LINEAR_CLIENT_SECRET", "{h32}", "{h31}"),
		g.tk("figma-pat", "figd_{B40}", "figd_{B39}"),
		g.kvc("trello-api-token", "TRELLO_TOKEN", "ATTA{h64}{H8}", "ATTA{h64}{H7}"),
		g.tk("clickup-api-token", "pk_{d8}_{U32}", "pk_{d8}_{U31}"),
		g.kvc("airtable-api-key", "AIRTABLE_API_KEY", "key{b14}", "key{b13}"),
		g.kvc("adobe-client-id", "ADOBE_CLIENT_ID", "{h32}", "{h31}"),
		g.tk("adobe-client-secret", "p8e-{B32}", "p8e-{B31}"),
		g.kvc("zoom-client-secret", "ZOOM_CLIENT_SECRET", "{b32}", "{b31}"),
		g.kvc("etsy-access-token", "ETSY_API_KEY", "{l24}", "{l23}"),
		g.kvc("flickr-access-token", "FLICKR_API_KEY", "{h32}", "{h31}"),
		g.kvc("freshbooks-access-token", "FRESHBOOKS_ACCESS_TOKEN", "{h64}", "{h63}"),
		g.kvc("nytimes-access-token", "NYTIMES_API_KEY", "{b32}", "{b31}"),
		g.kvc("looker-client-secret", "LOOKER_CLIENT_SECRET", "{b24}", "{b23}"),
		g.kvc("squarespace-access-token", "SQUARESPACE_API_KEY", "{u}", "{h32}"),
		g.kvc("discord-client-secret", "DISCORD_CLIENT_SECRET", "{B32}", "{B31}"),
		g.tk("intra42-client-secret", "s-s4t2ud-{h64}", "s-s4t2ud-{h63}"),
		g.tk("settlemint-access-token", "sm_pat_{b16}", "sm_pat_{b15}"),
		g.tk("authress-service-client-access-key", "sc_{b32}.{l5}.acc_{l20}.{B60}", "sc_{b32}.{l5}.acc_{l20}.{B20}"),
		g.kvc("sidekiq-secret", "BUNDLE_ENTERPRISE__CONTRIBSYS__COM", "{h8}:{h8}", "{h8}:{h7}"),
		g.tk("sidekiq-sensitive-url", "https://{h8}:{h8}@gems.contribsys.com", "https://{h8}:{h7}@gems.contribsys.com"),
		g.tk("onepassword-secret-key", "A3-{U6}-{U6}-{U5}-{U5}-{U5}-{U5}", "A3-{U6}-{U6}-{U5}-{U5}-{U5}-{U4}"),
		g.tk("aws-bedrock-api-key-long-lived", "ABSKQmVkcm9ja0FQSUtleS{s130}=", "ABSKQmVkcm9ja0FQSUtleS{s40}"),
		{id: "generic-api-key",
			yes: []example{in("DB_PASSWORD={}\n", g.f("{b16}")), in(`"client_secret": "{}",`, g.f("{B43}")), in("api_key = '{}'\n", g.f("{b32}"))},
			no: []string{"DB_PASSWORD=${DB_PASSWORD}\n", `password_field = "` + g.f("{b16}") + `"`, `api_key = os.environ["API_KEY"]`,
				`token_url = "https://auth.example.com/oauth/token"`, "secret: changeme\n", "password_hash: " + g.f("{h40}") + "\n",
				"request_token = " + g.uuid() + "\n", `API_KEY = "your-api-key-here"`, "token = self.token\n"}},
		g.tk("aws-bedrock-api-key-short-lived", "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{s900}", "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{s20}"),
	}
}
