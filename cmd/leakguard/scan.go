package main

import "context"

func runScan(_ context.Context, e *env, _ []string) int { return fail(e, "scan: %v", errNotYet) }
