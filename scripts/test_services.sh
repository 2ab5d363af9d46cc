#!/usr/bin/env bash
# Install what integration tests need beyond the Python packages. Each step is optional: a
# failure is reported and the dependent tests skip with a message naming this script.
set -uo pipefail
# In CI a failed install is an error, so missing services cannot hide behind skipped tests.
strict=${CI:-false}
cd "$(dirname "$0")/.."
if [ -f scripts/label_studio.sh ]; then
  bash scripts/label_studio.sh install || { echo "test_services: Label Studio install failed" >&2; [ "$strict" = true ] && exit 1; }
fi
# Real dirty Chinese text (fortunes-zh with ANSI escapes, manpages-zh with troff) for the cleaning tests.
bash scripts/fetch_debian_zh.sh || { echo "test_services: Debian zh packages not fetched" >&2; [ "$strict" = true ] && exit 1; }
# Headless Chromium (Debian's package) for the report and Label Studio browser tests, always with a
# CJK font: without one every Chinese character renders as the same box (tests/flows/report/test_cjk_fonts.py).
browser_packages=""
command -v chromium >/dev/null || browser_packages="chromium"
fc-list :lang=zh family 2>/dev/null | grep -q . || browser_packages="$browser_packages fonts-noto-cjk"
if [ -n "$browser_packages" ]; then
  # shellcheck disable=SC2086  # the list is meant to split into package names
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $browser_packages >/dev/null; } \
    || { echo "test_services: could not install: $browser_packages" >&2; [ "$strict" = true ] && exit 1; }
fi
exit 0
