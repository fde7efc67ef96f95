package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

const accountsUsage = `usage: leakguard accounts create --email ADDRESS [--mode live|test] [--json]
       leakguard accounts login-link --account ID [--json]

create makes an account and its first full-access secret key, shown once.
With --json it prints {"account_id": "...", "key_id": "...", "secret": "..."}.
login-link prints a one-time sign-in URL for the owner console, valid for
15 minutes ({"url": "..."} with --json), under LEAKGUARD_CONSOLE_URL
(default http:// + LEAKGUARD_HTTP_ADDR).
Uses the same store settings as 'leakguard serve' (LEAKGUARD_DATABASE_URL,
LEAKGUARD_DATA_DIR).`

func runAccounts(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		return fail(e, "accounts: missing subcommand (want: accounts create --email ADDRESS)")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(e.stdout, accountsUsage)
		return exitOK
	case "create":
		return accountsCreate(ctx, e, args[1:])
	case "login-link":
		return accountsLoginLink(ctx, e, args[1:])
	}
	return fail(e, "accounts: unknown subcommand %q (want: create, login-link)", args[0])
}

func accountsCreate(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("accounts create")
	email := fs.String("email", "", "the account owner's email address (leak notices go there)")
	mode := fs.String("mode", "test", "mode of the first key: live or test")
	asJSON := fs.Bool("json", false, "print one JSON object")
	rest, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(e.stdout, accountsUsage)
		return exitOK
	}
	if err != nil {
		return fail(e, "accounts create: %v", err)
	}
	switch {
	case len(rest) > 0:
		return fail(e, "accounts create: unexpected argument %q", rest[0])
	case strings.TrimSpace(*email) == "":
		return fail(e, "accounts create: --email is required")
	case !keyformat.Mode(*mode).Valid():
		return fail(e, "accounts create: --mode must be live or test, not %q", *mode)
	}
	svc, closeStore, code := openService(ctx, e, "accounts create")
	if svc == nil {
		return code
	}
	defer closeStore()
	acct, nk, err := svc.CreateAccount(ctx, *email, keyformat.Mode(*mode))
	if err != nil {
		return fail(e, "accounts create: %s", errMessage(err))
	}
	if *asJSON {
		return printJSON(e, createdJSON{AccountID: acct.ID, KeyID: nk.Key.ID, Secret: nk.Secret})
	}
	fmt.Fprintf(e.stdout, "Created account %s (%s, %s mode).\n", acct.ID, acct.Email, acct.Mode)
	printNewKey(e.stdout, nk)
	return exitOK
}

// createdJSON is what --json prints for anything that creates a key.
type createdJSON struct {
	AccountID string `json:"account_id"`
	KeyID     string `json:"key_id"`
	Secret    string `json:"secret"`
}

func printNewKey(w io.Writer, nk keystore.NewKey) {
	fmt.Fprintf(w, "Key %s (%s, %s mode).\n", nk.Key.ID, nk.Key.Type, nk.Key.Mode)
	fmt.Fprintf(w, "Secret, shown only this once; store it now:\n\n    %s\n\n", nk.Secret)
}

func printJSON(e *env, v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fail(e, "write output: %v", err)
	}
	return exitOK
}

// openService opens the store like `serve` does and builds the key service
// over it. On failure it prints the error and returns a nil service.
func openService(ctx context.Context, e *env, what string) (*keystore.Service, func(), int) {
	cfg, err := loadConfig(e.getenv)
	if err != nil {
		return nil, nil, fail(e, "%s: %s", what, foldLines(err.Error()))
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, nil, fail(e, "%s: open store: %s", what, foldLines(err.Error()))
	}
	svc, err := keystore.NewService(store, serviceConfig(cfg, logger))
	if err != nil {
		store.Close()
		return nil, nil, fail(e, "%s: %v", what, err)
	}
	return svc, func() { store.Close() }, exitOK
}

// errMessage is the message for a user: a refusal's own words, else the
// wrapped error (which never holds a plaintext key).
func errMessage(err error) string {
	var ue *keystore.Error
	if errors.As(err, &ue) {
		return foldLines(ue.Message)
	}
	if errors.Is(err, keystore.ErrUnavailable) {
		return "the store is unavailable: " + foldLines(err.Error())
	}
	return foldLines(err.Error())
}

// foldLines folds a multi-line error (pgx lists every address it tried on a
// line of its own) into one line, as the CLI promises.
func foldLines(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return strings.Join(f, "; ")
}
