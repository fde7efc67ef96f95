package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/console"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/metrics"
	"github.com/leakguard/leakguard/notifier"
	"github.com/leakguard/leakguard/partner"
	"github.com/leakguard/leakguard/revoker"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/dockerhub"
	"github.com/leakguard/leakguard/sources/gists"
	"github.com/leakguard/leakguard/sources/github"
	"github.com/leakguard/leakguard/sources/npm"
	"github.com/leakguard/leakguard/sources/pastebin"
)

const serveUsage = `usage: leakguard serve [--roles api,sources,revoker,notifier]

Runs the daemon. Every role runs by default; run roles in separate processes
to scale each on its own. Configuration comes from LEAKGUARD_* environment
variables (see README): with none set, the store is SQLite and NATS is
embedded, both under ./leakguard-data.

Endpoints (on LEAKGUARD_HTTP_ADDR): the key API under /v1/, GitHub's secret
scanning partner endpoint POST /v1/secret-scanning/github, /healthz,
/readyz, /metrics, and the owner console at / (sign in with a link from
'leakguard accounts login-link' or the console's email form).
`

// leaseTTL is how long a source's lease outlives a crashed holder.
const leaseTTL = 30 * time.Second

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("serve")
	rolesFlag := fs.String("roles", "api,sources,revoker,notifier", "comma list of roles to run")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, serveUsage)
		return exitOK
	}
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	if len(pos) > 0 {
		return fail(e, "serve: unexpected argument %q", pos[0])
	}
	roles, err := parseRoles(*rolesFlag)
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	cfg, err := loadConfig(e.getenv)
	if err != nil {
		return fail(e, "serve: %s", foldLines(err.Error()))
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var environ []string
	if e.environ != nil {
		environ = e.environ()
	}
	for _, w := range envWarnings(cfg, environ) {
		logger.Warn(w)
	}
	if err := serve(ctx, cfg, roles, logger, nil); err != nil {
		return fail(e, "serve: %v", err)
	}
	return exitOK
}

// serveInfo is what a started daemon tells its caller (tests use it).
type serveInfo struct {
	Addr    string // HTTP listen address, "" if none
	NATSURL string // the bus, embedded or not
}

// serviceConfig is the key service's configuration.
func serviceConfig(cfg config, logger *slog.Logger) keystore.Config {
	return keystore.Config{Mode: cfg.Mode, Resources: cfg.Resources, Logger: logger}
}

// serve runs the roles until ctx ends. ready, if set, is called once every
// role has started.
func serve(ctx context.Context, cfg config, roles map[string]bool, logger *slog.Logger, ready func(serveInfo)) error {
	started := time.Now()
	m := metrics.New()

	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	b, err := bus.Open(ctx, bus.Config{URL: cfg.NATSURL, DataDir: cfg.DataDir, Replicas: cfg.NATSReplicas, Logger: logger, Metrics: m})
	if err != nil {
		return fmt.Errorf("open bus: %w", err)
	}
	defer b.Close()

	g, gctx := errgroup.WithContext(ctx)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(pctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"unavailable","component":"store"}`)
			return
		}
		if !b.Conn().IsConnected() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"unavailable","component":"nats"}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`)
	})

	if roles["api"] {
		svc, err := keystore.NewService(store, serviceConfig(cfg, logger))
		if err != nil {
			return err
		}
		g.Go(func() error { return svc.Run(gctx) })
		apiCfg := cfg.API
		if ws, ok := store.(keystore.WebhookStore); ok {
			apiCfg.Webhooks = api.WebhookConfig{Store: ws, Guard: httpx.Guard{AllowPrivate: cfg.WebhookAllowPrivate}}
		}
		mux.Handle("/v1/", api.New(apiCfg, svc, m, logger))
		var kg httpx.Guard // the keys document may redirect nowhere internal
		kg.AllowURL(cfg.GitHubScanningKeysURL)
		keysHTTP := &http.Client{Transport: kg.Transport(), Timeout: 15 * time.Second}
		ph := partner.NewHandler(partner.Config{KeysURL: cfg.GitHubScanningKeysURL, Token: cfg.GitHubToken, HTTP: keysHTTP},
			store, b.Publisher(), logger)
		// GitHub's keys are loaded at start and refreshed in the background.
		g.Go(func() error { ph.Run(gctx); return nil })
		mux.Handle("/v1/secret-scanning/github", ph)
		con, err := newConsole(cfg, svc, store, logger)
		if err != nil {
			return err
		}
		g.Go(func() error { return con.Run(gctx) })
		mux.Handle("/", con)
	}

	// The API role serves on LEAKGUARD_HTTP_ADDR; the others expose their
	// health and metrics there only when it is set, so several processes
	// on one machine don't fight over the default port.
	addr := ""
	if roles["api"] || cfg.HTTPAddrSet {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
		}
		addr = ln.Addr().String()
		srv := api.NewHTTPServer(addr, mux, logger)
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve HTTP: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}

	var n *notifier.Notifier
	var wd *notifier.EndpointDispatcher
	if roles["notifier"] {
		senders, err := newSenders(cfg, logger)
		if err != nil {
			return err
		}
		n = notifier.New(notifier.Config{ConsoleURL: cfg.ConsoleURL}, store, senders, m, logger)
		g.Go(func() error { return n.Run(gctx) })
		if ws, ok := store.(keystore.WebhookStore); ok {
			// Webhook endpoints (docs/api.md): checked again at connect time.
			wd = notifier.NewEndpointDispatcher(notifier.DispatcherConfig{Metrics: m}, ws,
				httpx.Guard{AllowPrivate: cfg.WebhookAllowPrivate}, logger)
			g.Go(func() error { return wd.Run(gctx) })
		}
	}

	if roles["revoker"] {
		rcfg := revoker.Config{Stream: b.StreamName(), Subjects: b.Subjects()}
		if n != nil {
			// In one process, a new incident is mailed at once rather than
			// on the notifier's next poll of the outbox.
			rcfg.OnRecorded = func(_ leakguard.Hit, x keystore.Exposure) {
				if x.Outcome == keystore.OutcomeRevoked || x.Outcome == keystore.OutcomeInactive {
					n.Kick()
					if wd != nil {
						wd.Kick()
					}
				}
			}
		}
		r := revoker.New(rcfg, b.JetStream(), store, m, logger)
		g.Go(func() error { return r.Run(gctx) })
	}

	if roles["sources"] && len(cfg.Sources) > 0 {
		runners, err := buildRunners(gctx, cfg, store, b, m, logger)
		if err != nil {
			return err
		}
		for _, r := range runners {
			g.Go(func() error { return r.Run(gctx) })
		}
	}

	logger.Info("leakguard started", "roles", rolesList(roles), "http", addr, "mode", cfg.Mode,
		"store", storeKind(cfg), "nats", natsKind(b), "sources", cfg.Sources, "startup", time.Since(started).Round(time.Millisecond))
	if ready != nil {
		ready(serveInfo{Addr: addr, NATSURL: b.ClientURL()})
	}
	err = g.Wait()
	logger.Info("leakguard stopped")
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// newSenders builds the notifier's senders (email and webhooks); the
// console's sign-in emails go through the same email sender.
func newSenders(cfg config, logger *slog.Logger) (map[keystore.Channel]notifier.Sender, error) {
	return notifier.NewSenders(notifier.SendersConfig{SMTPAddr: cfg.SMTP.Addr, SMTPFrom: cfg.SMTP.From,
		SMTPUsername: cfg.SMTP.Username, SMTPPassword: cfg.SMTP.Password, SMTPTLS: notifier.SMTPTLS(cfg.SMTP.TLS),
		SMTPCAFile: cfg.SMTP.CAFile, WebhookAllowPrivate: cfg.WebhookAllowPrivate}, logger)
}

// newConsole builds the owner console over the api role's key service
// (docs/console.md).
func newConsole(cfg config, svc *keystore.Service, store keystore.Store, logger *slog.Logger) (*console.Console, error) {
	cs, ok := store.(console.Store)
	if !ok {
		return nil, fmt.Errorf("owner console: the %T store keeps no sessions", store)
	}
	senders, err := newSenders(cfg, logger)
	if err != nil {
		return nil, err
	}
	mailer, _ := senders[keystore.ChannelEmail].(notifier.MailSender)
	return console.New(console.Config{BaseURL: cfg.ConsoleURL, Mailer: mailer, TrustedProxies: cfg.API.TrustedProxies, Logger: logger}, svc, cs)
}

// buildRunners makes one runner per configured source, each under a NATS
// KV lease so only one process polls a source however many run.
func buildRunners(ctx context.Context, cfg config, store keystore.Store, b *bus.Bus, m *metrics.Metrics, logger *slog.Logger) ([]*sources.Runner, error) {
	// Sources hunt the platform's own keys; publishable ones are reported as
	// info (never revoked), so they are scanned for too.
	engine, err := scanner.New(scanner.Options{RuleIDs: []string{"platform"}, IncludePublishable: true})
	if err != nil {
		return nil, fmt.Errorf("build scanner: %w", err)
	}
	kv, err := sources.OpenLeaseBucket(ctx, b.JetStream(), "leakguard_source_leases", leaseTTL)
	if err != nil {
		return nil, fmt.Errorf("open source leases: %w", err)
	}
	holder := sources.NewHolderID()
	hc := upstreamClient(cfg)
	var runners []*sources.Runner
	for _, name := range cfg.Sources {
		env := sources.Env{
			Scanner:   engine,
			Publisher: b.Publisher(),
			Seen:      sources.NewSeen(store, name, 100_000),
			HTTP:      hc,
			Logger:    logger.With("source", name),
			Metrics:   m,
		}
		if name == leakguard.SourceDockerHub && len(cfg.DockerHubNamespaces) == 0 {
			logger.Warn("dockerhub source not started: LEAKGUARD_DOCKERHUB_NAMESPACES names no namespace to watch (Docker Hub has no firehose)")
			continue
		}
		src, err := newSource(name, cfg, env)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		// LEAKGUARD_POLL_INTERVAL wins; otherwise each source's own pace.
		interval := cfg.PollInterval
		if p, ok := src.(interface{ PollInterval() time.Duration }); ok && interval == 0 {
			interval = p.PollInterval()
		}
		lease := sources.NewKVLease(kv, name, holder, leaseTTL)
		runners = append(runners, sources.NewRunner(src, sources.RunnerConfig{Interval: interval}, store, lease, m, logger))
	}
	return runners, nil
}

func newSource(name string, cfg config, env sources.Env) (sources.Source, error) {
	switch name {
	case leakguard.SourceGitHub:
		return github.New(github.Config{APIURL: cfg.GitHubAPIURL, Token: cfg.GitHubToken, PollInterval: cfg.PollInterval}, env)
	case leakguard.SourceGists:
		return gists.New(gists.Config{APIURL: cfg.GitHubAPIURL, Token: cfg.GitHubToken, PollInterval: cfg.PollInterval}, env)
	case leakguard.SourceNPM:
		return npm.New(npm.Config{ReplicateURL: cfg.NPMReplicateURL, RegistryURL: cfg.NPMRegistryURL, PollInterval: cfg.PollInterval}, env), nil
	case leakguard.SourceDockerHub:
		return dockerhub.New(dockerhub.Config{HubURL: cfg.DockerHubURL, RegistryURL: cfg.DockerRegistryURL, AuthURL: cfg.DockerAuthURL,
			Namespaces: cfg.DockerHubNamespaces, PollInterval: cfg.PollInterval}, env), nil
	case leakguard.SourcePastebin:
		return pastebin.New(pastebin.Config{URL: cfg.PastebinURL, PollInterval: cfg.PollInterval}, env)
	}
	return nil, fmt.Errorf("unknown source %q", name)
}

func rolesList(roles map[string]bool) []string {
	var out []string
	for _, r := range []string{"api", "sources", "revoker", "notifier"} {
		if roles[r] {
			out = append(out, r)
		}
	}
	return out
}

func storeKind(cfg config) string {
	if cfg.DatabaseURL != "" {
		return "postgresql"
	}
	return "sqlite"
}

func natsKind(b *bus.Bus) string {
	if b.Embedded() {
		return "embedded"
	}
	return "external"
}

// upstreamClient is the sources' HTTP client. Every connection is checked
// where it really goes (httpx.Guard): the configured upstream base URLs may
// be anywhere (a fake on loopback, a mirror on a private network), but a
// redirect or a URL in an answer (a tarball, a raw file, a token realm)
// that leads to any other loopback, private, link-local or metadata address
// is refused. No proxy: through one, the connected address would be the
// proxy's and the check meaningless.
func upstreamClient(cfg config) *http.Client {
	var g httpx.Guard
	for _, u := range []string{cfg.GitHubAPIURL, cfg.NPMReplicateURL, cfg.NPMRegistryURL, cfg.DockerHubURL,
		cfg.DockerRegistryURL, cfg.DockerAuthURL, cfg.PastebinURL} {
		g.AllowURL(u)
	}
	return &http.Client{Transport: g.Transport()}
}
