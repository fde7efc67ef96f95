#!/usr/bin/env bash
# Screenshots of the owner console for the README: runs a real console with
# sample data (console/screenshots_test.go) in headless Chromium and saves
# PNGs, light and dark, to docs/img/.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/.."
out="${1:-docs/img}"
mkdir -p "$out"
LEAKGUARD_SCREENSHOTS="$(cd "$out" && pwd)" go test -count=1 -run '^TestScreenshots$' ./console/
ls -1 "$out"/console-*.png
