#!/usr/bin/env bash
# Create .venv and install yuliao with its locked dependencies. Idempotent: reinstalls only when
# requirements.lock or pyproject.toml changed. Needs only Python 3.11+ and pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "yuliao needs Python 3.11 or newer")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.yuliao-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: installing locked dependencies into .venv (first time: 1-2 minutes)" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8" \
  || .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
# --compile-bytecode: every yuliao command imports ~1,100 modules; without .pyc files (a read-only
# venv, or PYTHONDONTWRITEBYTECODE=1 as on our CI machines) each process compiles them again:
# `yuliao check` 2.0 -> 1.4 CPU-s, `yuliao releases` 0.9 -> 0.5 CPU-s once compiled.
if ! .venv/bin/uv pip install --quiet --compile-bytecode -p .venv/bin/python -r requirements.lock; then
  echo "setup: uv failed, falling back to pip" >&2
  .venv/bin/python -m pip install --quiet -r requirements.lock
fi
.venv/bin/uv pip install --quiet -p .venv/bin/python --no-deps -e . \
  || .venv/bin/python -m pip install --quiet --no-deps -e .
echo "$want" > "$stamp"
