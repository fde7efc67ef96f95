#!/bin/bash
# Time leakguard and gitleaks on the whole history of one repository, each
# as a whole process under /usr/bin/time -v, and print both wall times, the
# ratio and both peak RSS figures.
#   scripts/race-gitleaks.sh REPO
# GITLEAKS (default: gitleaks on PATH) names the gitleaks binary, e.g. one
# built from github.com/gitleaks/gitleaks v8.30 with -tags gore2regex.
# LEAKGUARD names a leakguard binary (default: built from this tree).
# Also printed: both finding counts, and the cost floor of reading every
# object once (git cat-file --batch-all-objects --batch --unordered).
set -euo pipefail
repo=${1:?usage: scripts/race-gitleaks.sh REPO}
repo=$(cd "$repo" && pwd)
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3
gl=${GITLEAKS:-gitleaks}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lg=${LEAKGUARD:-}
if [ -z "$lg" ]; then
  lg=$work/leakguard
  go build -o "$lg" ./cmd/leakguard
fi

# measure NAME CMD...: runs CMD, keeps its wall seconds and peak RSS (MB).
measure() {
  local name=$1; shift
  local code=0
  /usr/bin/time -v "$@" >"$work/$name.out" 2>"$work/$name.err" || code=$?
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$name.err" |
    awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.err" | awk '{ printf "%.0f", $1/1024 }')
  eval "${name}_wall=$wall ${name}_rss=$rss ${name}_code=$code"
}

measure floor git -C "$repo" cat-file --batch-all-objects --batch --unordered
measure leakguard "$lg" scan --history --no-progress --allow-incomplete --format json "$repo"
measure gitleaks "$gl" git --no-banner --report-format json --report-path "$work/gitleaks.json" "$repo"

lg_n=$(grep -c '"rule":' "$work/leakguard.out" || true)
gl_n=$(grep -c '"RuleID":' "$work/gitleaks.json" 2>/dev/null || true)
bytes=$(git -C "$repo" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' |
  awk '$1 == "blob" { s += $2 } END { print s + 0 }')
echo "repository:  $repo ($(awk -v b="$bytes" 'BEGIN { printf "%.0f MB", b/1e6 }') of unique blobs)"
printf 'cat-file:    %6.1f s  %5s MB RSS   (reading every object once: the floor)\n' "$floor_wall" "$floor_rss"
printf 'leakguard:   %6.1f s  %5s MB RSS   exit %s, %s findings, %s MB/s of unique blobs\n' "$leakguard_wall" "$leakguard_rss" \
  "$leakguard_code" "$lg_n" "$(awk -v b="$bytes" -v t="$leakguard_wall" 'BEGIN { printf "%.0f", b/1e6/t }')"
printf 'gitleaks:    %6.1f s  %5s MB RSS   exit %s, %s findings\n' "$gitleaks_wall" "$gitleaks_rss" "$gitleaks_code" "$gl_n"
awk -v a="$gitleaks_wall" -v b="$leakguard_wall" 'BEGIN { printf "ratio:       leakguard is %.1fx gitleaks\n", a/b }'
grep -h "could not be read\|incomplete" "$work/leakguard.err" || true
grep -h "fatal\|ERR" "$work/gitleaks.err" | head -3 || true
