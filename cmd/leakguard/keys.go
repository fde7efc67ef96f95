package main

import "context"

func runKeys(_ context.Context, e *env, _ []string) int { return fail(e, "keys: %v", errNotYet) }
