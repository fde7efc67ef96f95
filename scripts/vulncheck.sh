#!/usr/bin/env bash
# Runs govulncheck on leakguard against an offline vulnerability database
# built from the golang.org/x/vulndb module (fetched through the Go module
# proxy, so no access to vuln.go.dev is needed).
#
#   bash scripts/vulncheck.sh            # newest vulndb
#   VULNDB_VERSION=v0.0.0-2026… bash scripts/vulncheck.sh
#   VULNCHECK_DB=/some/dir bash scripts/vulncheck.sh   # keep the built database
#
# The database is the module's data/osv folder (one OSV file per report),
# indexed by the module's own cmd/indexdb into the layout govulncheck's
# -db file:///… expects: index/db.json, index/modules.json,
# index/vulns.json and ID/<id>.json. Exit status is govulncheck's: 0 when
# no vulnerable code is reached, 3 when some is.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/.."

# The go of GOTOOLCHAIN first: govulncheck type-checks the standard library
# with the go it finds on PATH.
goroot=$(go env GOROOT)
export PATH="$goroot/bin:$PATH:$(go env GOPATH)/bin"

command -v govulncheck >/dev/null || go install golang.org/x/vuln/cmd/govulncheck@latest

version=${VULNDB_VERSION:-latest}
info=$(go mod download -json "golang.org/x/vulndb@$version")
field() { printf '%s\n' "$info" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p"; }
src=$(field Dir)
version=$(field Version)
if [ -z "$src" ] || [ ! -d "$src/data/osv" ]; then
  echo "vulncheck: golang.org/x/vulndb@$version has no data/osv folder" >&2
  exit 2
fi

db=${VULNCHECK_DB:-}
if [ -z "$db" ]; then
  db=$(mktemp -d)
  trap 'rm -rf "$db"' EXIT
fi
rm -rf "$db/vulndb"
go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$db/vulndb"

n=$(find "$db/vulndb/ID" -name '*.json' | wc -l)
# Which Go releases the database knows fixes for: a database older than the
# toolchain says nothing about the toolchain's own bugs.
newest_go=$(grep -l '"name": "stdlib"' "$src"/data/osv/*.json | xargs grep -ho '"fixed": "1\.[0-9]*\.[0-9]*"' |
  sed 's/.*"\(1\.[0-9]*\.[0-9]*\)"/\1/' | sort -t. -k1,1n -k2,2n -k3,3n | tail -1)
echo "vulncheck: golang.org/x/vulndb@$version, $n reports; newest Go fix it knows: go${newest_go:-?}; toolchain $(go env GOVERSION)"

govulncheck -db "file://$db/vulndb" ./...
