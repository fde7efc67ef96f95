#!/bin/bash
# A refused-key flood: one revoked key replayed as fast as wrk can send it
# against `leakguard serve --roles api` on PostgreSQL, then what the flood
# cost the store: rows written per second (PostgreSQL's own counters for the
# database) and what the API log holds (entries and summary counts).
#   scripts/bench-refused-flood.sh [wrk args...]   (default -t1 -c2 -d10s)
# Needs wrk, psql, and PostgreSQL on 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
[ $# -eq 0 ] && set -- -t1 -c2 -d10s
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/leakguard
export GOTOOLCHAIN=go1.27.3
go build -o "$bin" ./cmd/leakguard
db=lgflood
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -qc "CREATE DATABASE $db" >/dev/null
export LEAKGUARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
export LEAKGUARD_DATA_DIR=$(mktemp -d) LEAKGUARD_HTTP_ADDR=127.0.0.1:18081 LEAKGUARD_RATE_LIMIT=off LEAKGUARD_MODE=test
out=$("$bin" accounts create --email flood@example.com --json)
acct=$(sed -n 's/.*"account_id": *"\([^"]*\)".*/\1/p' <<<"$out")
key=$(sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p' <<<"$out")
kid=$(sed -n 's/.*"key_id": *"\([^"]*\)".*/\1/p' <<<"$out")
"$bin" keys revoke --account "$acct" "$kid" >/dev/null
"$bin" serve --roles api >"$LEAKGUARD_DATA_DIR/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" http://127.0.0.1:18081/v1/account)" = 401 ] && break
  sleep 0.1
done
sleep 2 # one flush and a stats report
q() { psql -h 127.0.0.1 -U postgres -d $db -Atc "$1"; }
writes="SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = '$db'"
before=$(q "$writes"); t0=$(date +%s.%N)
wrk "$@" -H "Authorization: Bearer $key" http://127.0.0.1:18081/v1/account
sleep 3 # the last flush, and PostgreSQL's statistics (reported about once a second)
after=$(q "$writes"); t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc -l)
echo "rows written during the flood: $((after - before)) in ${secs%.*} s ($(echo "($after - $before) / $secs" | bc) rows/s, PostgreSQL's own count, all tables)"
echo "api_log_blocks rows: $(q 'SELECT count(*) FROM api_log_blocks'), entries in them: $(q 'SELECT coalesce(sum(entries), 0) FROM api_log_blocks')"
