#!/usr/bin/env bash
# Command 1 of the README: set up everything, curate the bundled sample corpus, publish it as a
# release (demo@vN) and print where the curated data, the report and the release are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export YULIAO_PROGRESS=1
out=$(.venv/bin/yuliao run configs/recipes/demo.yaml "$@")
echo "$out"
run_dir=$(printf '%s\n' "$out" | sed -n 's|^kept: \(.*\)/kept$|\1|p')
.venv/bin/yuliao release "$run_dir"
