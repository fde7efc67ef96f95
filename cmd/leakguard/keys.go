package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
)

const keysUsage = `usage:
  leakguard keys create --account ID [--type secret|restricted|publishable] [--mode live|test]
                        [--scope RESOURCE:read|write]... [--name NAME] [--allowed-ip CIDR]...
                        [--expires-at RFC3339] [--json]
  leakguard keys list   --account ID [--json]
  leakguard keys revoke --account ID KEY_ID        (or --id KEY_ID) [--json]
  leakguard keys rotate --account ID KEY_ID        (or --id KEY_ID) [--expires-in DURATION] [--json]

create and rotate show the new secret once; with --json they print
{"account_id": "...", "key_id": "...", "secret": "..."}. list --json prints a
JSON array of key objects, as the API shows them. rotate keeps the old key
working for --expires-in (default 24h, 0 = revoked now, at most 168h).
The type defaults to restricted when scopes are given, else secret; the mode
to the account's. Uses the same store settings as 'leakguard serve'.`

func runKeys(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		return fail(e, "keys: missing subcommand (want: create, list, revoke or rotate)")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(e.stdout, keysUsage)
		return exitOK
	case "create":
		return keysCreate(ctx, e, args[1:])
	case "list":
		return keysList(ctx, e, args[1:])
	case "revoke":
		return keysRevoke(ctx, e, args[1:])
	case "rotate":
		return keysRotate(ctx, e, args[1:])
	}
	return fail(e, "keys: unknown subcommand %q (want: create, list, revoke or rotate)", args[0])
}

// keysFlags parses a keys subcommand's flags; done is set when the caller
// should return code right away (help or a bad flag).
func keysFlags(e *env, fs *flag.FlagSet, what string, args []string) (rest []string, done bool, code int) {
	rest, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(e.stdout, keysUsage)
		return nil, true, exitOK
	}
	if err != nil {
		return nil, true, fail(e, "%s: %v", what, err)
	}
	return rest, false, exitOK
}

func keysCreate(ctx context.Context, e *env, args []string) int {
	const what = "keys create"
	fs := newFlagSet(what)
	account := fs.String("account", "", "account id")
	typ := fs.String("type", "", "secret, restricted or publishable")
	mode := fs.String("mode", "", "live or test (default: the account's)")
	name := fs.String("name", "", "a name for the key")
	expires := fs.String("expires-at", "", "RFC 3339 time after which the key stops working")
	asJSON := fs.Bool("json", false, "print one JSON object")
	var scopes, ips listFlag
	fs.Var(&scopes, "scope", "RESOURCE:read or RESOURCE:write (repeatable)")
	fs.Var(&ips, "allowed-ip", "CIDR or address the key may be used from (repeatable)")
	rest, done, code := keysFlags(e, fs, what, args)
	if done {
		return code
	}
	switch {
	case len(rest) > 0:
		return fail(e, "%s: unexpected argument %q", what, rest[0])
	case *account == "":
		return fail(e, "%s: --account is required", what)
	case *typ != "" && !keyformat.KeyType(*typ).Valid():
		return fail(e, "%s: --type must be secret, restricted or publishable, not %q", what, *typ)
	case *mode != "" && !keyformat.Mode(*mode).Valid():
		return fail(e, "%s: --mode must be live or test, not %q", what, *mode)
	}
	req := keystore.KeyRequest{Name: *name, Type: keyformat.KeyType(*typ), Mode: keyformat.Mode(*mode), Scopes: scopes, AllowedIPs: ips}
	if *expires != "" {
		t, err := time.Parse(time.RFC3339, *expires)
		if err != nil {
			return fail(e, "%s: --expires-at %q is not an RFC 3339 time like 2030-01-02T15:04:05Z", what, *expires)
		}
		req.ExpiresAt = &t
	}
	svc, closeStore, code := openService(ctx, e, what)
	if svc == nil {
		return code
	}
	defer closeStore()
	nk, err := svc.CreateKey(ctx, nil, *account, req)
	if err != nil {
		return fail(e, "%s: %s", what, errMessage(err))
	}
	if *asJSON {
		return printJSON(e, createdJSON{AccountID: *account, KeyID: nk.Key.ID, Secret: nk.Secret})
	}
	printNewKey(e.stdout, nk)
	return exitOK
}

func keysList(ctx context.Context, e *env, args []string) int {
	const what = "keys list"
	fs := newFlagSet(what)
	account := fs.String("account", "", "account id")
	asJSON := fs.Bool("json", false, "print a JSON array of key objects")
	rest, done, code := keysFlags(e, fs, what, args)
	if done {
		return code
	}
	switch {
	case len(rest) > 0:
		return fail(e, "%s: unexpected argument %q", what, rest[0])
	case *account == "":
		return fail(e, "%s: --account is required", what)
	}
	svc, closeStore, code := openService(ctx, e, what)
	if svc == nil {
		return code
	}
	defer closeStore()
	if _, err := svc.GetAccount(ctx, *account); err != nil {
		return fail(e, "%s: %s", what, errMessage(err))
	}
	objs := []api.KeyObject{}
	p := keystore.Page{Limit: keystore.MaxPageLimit}
	for {
		keys, more, err := svc.ListKeys(ctx, nil, *account, p)
		if err != nil {
			return fail(e, "%s: %s", what, errMessage(err))
		}
		for _, k := range keys {
			objs = append(objs, api.Object(k, svc.Resources(), svc.Now()))
		}
		if !more || len(keys) == 0 {
			break
		}
		p.StartingAfter = keys[len(keys)-1].ID
	}
	if *asJSON {
		return printJSON(e, objs)
	}
	if len(objs) == 0 {
		fmt.Fprintf(e.stdout, "Account %s has no keys.\n", *account)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tMODE\tSTATUS\tREDACTED\tNAME\tSCOPES\tLAST USED")
	for _, o := range objs {
		last := "never"
		if o.LastUsedAt != nil {
			last = o.LastUsedAt.Format(time.RFC3339)
			if o.LastUsedIP != nil {
				last += " from " + *o.LastUsedIP
			}
		}
		scopes := strings.Join(o.Scopes, ",")
		if o.Type == string(keyformat.Secret) {
			scopes = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Type, o.Mode, o.Status, o.Redacted, o.Name, scopes, last)
	}
	if err := tw.Flush(); err != nil {
		return fail(e, "%s: write output: %v", what, err)
	}
	return exitOK
}

// keyTarget reads --account and the key id (--id or one argument).
func keyTarget(e *env, what string, account, id string, rest []string) (string, int, bool) {
	switch {
	case account == "":
		return "", fail(e, "%s: --account is required", what), false
	case id != "" && len(rest) > 0:
		return "", fail(e, "%s: give the key id once (--id or an argument)", what), false
	case len(rest) > 1:
		return "", fail(e, "%s: unexpected argument %q", what, rest[1]), false
	case id == "" && len(rest) == 0:
		return "", fail(e, "%s: the key id is required (KEY_ID or --id)", what), false
	case id == "":
		id = rest[0]
	}
	return id, exitOK, true
}

func keysRevoke(ctx context.Context, e *env, args []string) int {
	const what = "keys revoke"
	fs := newFlagSet(what)
	account := fs.String("account", "", "account id")
	idFlag := fs.String("id", "", "key id")
	asJSON := fs.Bool("json", false, "print the revoked key object")
	rest, done, code := keysFlags(e, fs, what, args)
	if done {
		return code
	}
	id, code, ok := keyTarget(e, what, *account, *idFlag, rest)
	if !ok {
		return code
	}
	svc, closeStore, code := openService(ctx, e, what)
	if svc == nil {
		return code
	}
	defer closeStore()
	k, err := svc.RevokeKey(ctx, nil, *account, id)
	if err != nil {
		return fail(e, "%s: %s", what, errMessage(err))
	}
	if *asJSON {
		return printJSON(e, api.Object(k, svc.Resources(), svc.Now()))
	}
	fmt.Fprintf(e.stdout, "Key %s (%s) is revoked (%s).\n", k.ID, k.Redacted(), k.RevokedReason)
	return exitOK
}

func keysRotate(ctx context.Context, e *env, args []string) int {
	const what = "keys rotate"
	fs := newFlagSet(what)
	account := fs.String("account", "", "account id")
	idFlag := fs.String("id", "", "key id")
	expiresIn := fs.Duration("expires-in", 24*time.Hour, "how long the old key keeps working (0 = revoked now, at most 168h)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	rest, done, code := keysFlags(e, fs, what, args)
	if done {
		return code
	}
	id, code, ok := keyTarget(e, what, *account, *idFlag, rest)
	if !ok {
		return code
	}
	if *expiresIn < 0 || *expiresIn > 7*24*time.Hour {
		return fail(e, "%s: --expires-in must be between 0 and 168h, not %s", what, *expiresIn)
	}
	svc, closeStore, code := openService(ctx, e, what)
	if svc == nil {
		return code
	}
	defer closeStore()
	old, nk, err := svc.RotateKey(ctx, nil, *account, id, expiresIn)
	if err != nil {
		return fail(e, "%s: %s", what, errMessage(err))
	}
	if *asJSON {
		return printJSON(e, createdJSON{AccountID: *account, KeyID: nk.Key.ID, Secret: nk.Secret})
	}
	if st := old.Status(svc.Now()); st == keystore.StatusRevoked {
		fmt.Fprintf(e.stdout, "Key %s (%s) is revoked.\n", old.ID, old.Redacted())
	} else if old.ExpiresAt != nil {
		fmt.Fprintf(e.stdout, "Key %s (%s) keeps working until %s.\n", old.ID, old.Redacted(), old.ExpiresAt.UTC().Format(time.RFC3339))
	}
	printNewKey(e.stdout, nk)
	return exitOK
}
