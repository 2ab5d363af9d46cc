#!/usr/bin/env bash
# Command 2 of the README: set up everything the tests need (Python deps, the Label Studio
# server's own venv, Debian test fixtures, headless Chromium), then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/test_services.sh
exec .venv/bin/python -m pytest -q -ra --durations=25 "$@"  # the slowest tests, to keep a loaded run far under the CI limit
