package main

import "context"

func runAccounts(_ context.Context, e *env, _ []string) int {
	return fail(e, "accounts: %v", errNotYet)
}
