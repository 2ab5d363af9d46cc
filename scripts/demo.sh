#!/usr/bin/env bash
# Command 1 of the README: set up everything, then run the main job on the bundled sample corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export YULIAO_PROGRESS=1
.venv/bin/yuliao run configs/recipes/demo.yaml "$@"
