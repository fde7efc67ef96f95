package api_test

import (
	"testing"

	"github.com/leakguard/leakguard/keystore/api"
)

func TestConfigFromEnv(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := api.ConfigFromEnv(get(map[string]string{
		"LEAKGUARD_SERVICE_TOKEN": " tok ", "LEAKGUARD_RATE_LIMIT": "25.5", "LEAKGUARD_RATE_BURST": "7",
		"LEAKGUARD_AUTH_FAILURES_PER_MINUTE": "5", "LEAKGUARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1 ,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceToken != "tok" || c.RateLimit != 25.5 || c.RateBurst != 7 || c.AuthFailuresPerMinute != 5 ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Fatalf("config %+v", c)
	}
	if c, err := api.ConfigFromEnv(get(map[string]string{})); err != nil || c.RateLimit != 0 || c.ServiceToken != "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, off := range []string{"0", "off", "-1"} {
		if c, err := api.ConfigFromEnv(get(map[string]string{"LEAKGUARD_RATE_LIMIT": off})); err != nil || c.RateLimit >= 0 {
			t.Errorf("LEAKGUARD_RATE_LIMIT=%s: %+v %v", off, c.RateLimit, err)
		}
	}
	for k, v := range map[string]string{
		"LEAKGUARD_RATE_LIMIT":               "fast",
		"LEAKGUARD_RATE_BURST":               "0",
		"LEAKGUARD_AUTH_FAILURES_PER_MINUTE": "x",
		"LEAKGUARD_TRUSTED_PROXIES":          "10.0.0.0/99",
	} {
		if _, err := api.ConfigFromEnv(get(map[string]string{k: v})); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	// NaN and Inf are not rates.
	for _, v := range []string{"NaN", "Inf"} {
		if _, err := api.ConfigFromEnv(get(map[string]string{"LEAKGUARD_RATE_LIMIT": v})); err == nil {
			t.Errorf("LEAKGUARD_RATE_LIMIT=%s accepted", v)
		}
	}
}
