package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/leakguard/leakguard/console"
	"github.com/leakguard/leakguard/keystore"
)

// accountsLoginLink prints a one-time sign-in link for the owner console
// (docs/console.md): the operator's way in for an owner, and the way in on
// a laptop with no mail relay.
func accountsLoginLink(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("accounts login-link")
	account := fs.String("account", "", "the account to sign in to")
	asJSON := fs.Bool("json", false, `print {"url": "..."}`)
	rest, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(e.stdout, accountsUsage)
		return exitOK
	}
	if err != nil {
		return fail(e, "accounts login-link: %v", err)
	}
	switch {
	case len(rest) > 0:
		return fail(e, "accounts login-link: unexpected argument %q", rest[0])
	case strings.TrimSpace(*account) == "":
		return fail(e, "accounts login-link: --account is required")
	}
	cfg, err := loadConfig(e.getenv)
	if err != nil {
		return fail(e, "accounts login-link: %s", foldLines(err.Error()))
	}
	base, err := console.ParseBaseURL(cfg.ConsoleURL)
	if err != nil {
		return fail(e, "accounts login-link: LEAKGUARD_CONSOLE_URL: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fail(e, "accounts login-link: open store: %s", foldLines(err.Error()))
	}
	defer store.Close()
	ss, ok := store.(keystore.SessionStore)
	if !ok {
		return fail(e, "accounts login-link: this store keeps no console sessions")
	}
	u, err := console.IssueLink(ctx, ss, base, strings.TrimSpace(*account), "", time.Now(), console.DefaultLinkTTL)
	if err != nil {
		return fail(e, "accounts login-link: %s", errMessage(err))
	}
	if *asJSON {
		return printJSON(e, struct {
			URL string `json:"url"`
		}{u})
	}
	fmt.Fprintf(e.stdout, "Sign-in link for account %s (works once, for %d minutes):\n\n    %s\n\n", strings.TrimSpace(*account), int(console.DefaultLinkTTL/time.Minute), u)
	return exitOK
}
