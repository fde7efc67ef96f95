package github_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/fakeupstream"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/github"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// coverage is what one firehose run found.
type coverage struct {
	events, planted, found int
	p50, p90               time.Duration // plant → hit, in upstream time
	limited                int           // requests refused for the rate limit
}

// runFirehose feeds the fake 1,000 push events a minute, one in 20 with a
// key, for minutes of upstream time, with GitHub's limits (60 requests an
// hour without a token, 5,000 with one; X-Poll-Interval 60; 300 events in
// the feed), all compressed by scale (scale 60: an upstream minute is a
// second), and counts the keys the source reported.
func runFirehose(t *testing.T, token string, minutes, scale float64) coverage {
	t.Helper()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	minute := time.Duration(float64(time.Minute) / scale)
	fake.SetRateLimit(60, 5000, 60*minute)
	fake.SetPollInterval(max(1, int(minute/time.Second)))
	src, err := github.New(github.Config{APIURL: fake.URL(), Token: token, History: github.HistoryConfig{Dir: t.TempDir()}}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: minute, BaseBackoff: minute / 30, MaxBackoff: minute}, kit.Store, nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(ctx) }()

	planted := map[string]time.Time{} // fingerprint → when
	total := int(1000 * minutes)
	start := time.Now()
	perEvent := minute / 1000
	for i := range total {
		// Keep to the rate: event i is due at start + i·perEvent.
		if d := time.Until(start.Add(time.Duration(i) * perEvent)); d > 0 {
			time.Sleep(d)
		}
		repo := "user" + strconv.Itoa(i%200) + "/project"
		content := fmt.Sprintf("change %d\n", i)
		if i%20 == 0 {
			k, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
			if err != nil {
				t.Fatal(err)
			}
			content += "KEY=" + k + "\n"
			planted[keyformat.Fingerprint([]byte(k))] = time.Now()
		}
		fake.PlantPush(repo, "file"+strconv.Itoa(i%7)+".txt", content)
	}
	produced := time.Since(start)
	time.Sleep(2 * minute) // the last poll's work drains
	cancel()
	wg.Wait()

	c := coverage{events: total, planted: len(planted), limited: fake.RateLimited()}
	var lat []time.Duration
	for _, h := range kit.Pub.Hits() {
		if at, ok := planted[h.SecretSHA256]; ok {
			c.found++
			lat = append(lat, time.Duration(float64(h.FoundAt.Sub(at))*scale))
			delete(planted, h.SecretSHA256)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		c.p50, c.p90 = lat[len(lat)/2], lat[len(lat)*9/10]
	}
	if rate := float64(total) / produced.Seconds() * minute.Seconds(); rate < 900 {
		t.Logf("the fake fell behind: %.0f events per upstream minute", rate)
	}
	return c
}

// How much of the public firehose the events API lets one poller see, with
// and without a token. LEAKGUARD_TEST_COVERAGE_MINUTES sets the upstream
// minutes per run (default 3; the notes use 10).
func TestGitHubCoverageUnderFirehose(t *testing.T) {
	if testing.Short() {
		t.Skip("a timed run")
	}
	minutes := 3.0
	if v, err := strconv.ParseFloat(os.Getenv("LEAKGUARD_TEST_COVERAGE_MINUTES"), 64); err == nil && v > 0 {
		minutes = v
	}
	const scale = 60
	res := map[string]coverage{}
	for _, mode := range []struct{ name, token string }{{"no token", ""}, {"token", "ghp_firehosetesttoken"}} {
		c := runFirehose(t, mode.token, minutes, scale)
		res[mode.name] = c
		t.Logf("firehose %s: %d events over %.0f upstream minutes, %d keys planted, %d found (%.1f%%), plant→hit p50 %v p90 %v (upstream time), %d requests refused for the rate limit",
			mode.name, c.events, minutes, c.planted, c.found, 100*float64(c.found)/float64(c.planted), c.p50.Round(time.Second), c.p90.Round(time.Second), c.limited)
	}
	if res["token"].found <= res["no token"].found {
		t.Fatalf("a token found %d keys, no token %d: the token must widen coverage", res["token"].found, res["no token"].found)
	}
	if res["token"].found == 0 {
		t.Fatal("nothing found with a token")
	}
}
