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
ws=$(dirname "$(dirname "$run_dir")")
# Every release is signed: create the workspace's publisher key once (kept in $ws/keys, mode 0600).
if [ -z "${YULIAO_SIGNING_KEY:-}" ] && [ ! -f "$ws/keys/publisher.key" ]; then
  .venv/bin/yuliao keys create --workspace "$ws" --owner "yuliao demo publisher"
fi
# Who may pull what: the example policy, unless the workspace has its own.
[ -f "$ws/access-policy.yaml" ] || cp configs/access-policy.yaml "$ws/access-policy.yaml"
.venv/bin/yuliao release "$run_dir"
.venv/bin/yuliao verify demo@latest --workspace "$ws"
# What stays up for the next commands: the local Prefect API (its UI lists the runs) and, from a terminal,
# the warm yuliao worker. Both stop after 30 minutes unused.
echo "demo: the local Prefect API and the yuliao worker stay up for your next commands; '.venv/bin/yuliao server status' shows them, '.venv/bin/yuliao server down' stops them" >&2
