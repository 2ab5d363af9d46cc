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
# Headless Chromium (Debian's package) for the report test.
if ! command -v chromium >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || { echo "test_services: chromium not installed" >&2; [ "$strict" = true ] && exit 1; }
fi
exit 0
