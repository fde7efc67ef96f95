#!/bin/bash
# Benchmark GET /v1/account on the real binary against PostgreSQL, as in
# BENCHMARKS.md: a fresh database, one account, `leakguard serve --roles api`,
# a 3 s warm-up, then wrk with the given arguments (default -t1 -c2 -d10s),
# and finally the number of API calls the log stored.
#   scripts/bench-api.sh [wrk args...]
# Needs wrk, psql, and PostgreSQL on 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
[ $# -eq 0 ] && set -- -t1 -c2 -d10s
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/leakguard
export GOTOOLCHAIN=go1.27.3
go build -o "$bin" ./cmd/leakguard
db=lgbench
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -qc "CREATE DATABASE $db" >/dev/null
export LEAKGUARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
export LEAKGUARD_DATA_DIR=$(mktemp -d) LEAKGUARD_HTTP_ADDR=127.0.0.1:18080 LEAKGUARD_RATE_LIMIT=off LEAKGUARD_MODE=test
key=$("$bin" accounts create --email bench@example.com --json | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p')
"$bin" serve --roles api >"$LEAKGUARD_DATA_DIR/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -sf -o /dev/null -H "Authorization: Bearer $key" http://127.0.0.1:18080/v1/account && break
  sleep 0.1
done
wrk -t1 -c2 -d3s -H "Authorization: Bearer $key" http://127.0.0.1:18080/v1/account >/dev/null
wrk "$@" --latency -H "Authorization: Bearer $key" http://127.0.0.1:18080/v1/account
sleep 1.5 # one flush
echo "API calls logged: $(psql -h 127.0.0.1 -U postgres -d $db -Atc 'SELECT sum(entries) FROM api_log_blocks')"
