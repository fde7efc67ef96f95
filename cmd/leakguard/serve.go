package main

import "context"

func runServe(_ context.Context, e *env, _ []string) int { return fail(e, "serve: %v", errNotYet) }
