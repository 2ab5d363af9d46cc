#!/usr/bin/env bash
# Download Debian's fortunes-zh (poems with ANSI colour escapes) and manpages-zh (troff man
# pages, Simplified and Traditional) and extract them into .yuliao/debian-zh/ (gitignored).
# Used by tests/transforms/test_clean.py and bench/bench_clean_pii.py; they skip when it fails.
# Usage: scripts/fetch_debian_zh.sh [DEST]      (idempotent; re-runs are no-ops)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.yuliao/debian-zh}"
PACKAGES=(fortunes-zh manpages-zh)

if [[ -f "$DEST/.complete" ]]; then
  echo "debian-zh already present in $DEST"
  exit 0
fi
command -v apt-get >/dev/null || { echo "apt-get not found: cannot fetch ${PACKAGES[*]}" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "dpkg-deb not found: cannot extract ${PACKAGES[*]}" >&2; exit 2; }

mkdir -p "$DEST/debs"
cd "$DEST/debs"
# apt-get download needs package lists; refresh them once if the first try fails.
if ! apt-get download "${PACKAGES[@]}" >/dev/null 2>&1; then
  apt-get update >/dev/null 2>&1 || true
  apt-get download "${PACKAGES[@]}" >/dev/null
fi
for deb in ./*.deb; do
  dpkg-deb -x "$deb" "$DEST/root"
done
touch "$DEST/.complete"
echo "extracted ${PACKAGES[*]} into $DEST/root"
