#!/usr/bin/env bash
# Install, start, stop and inspect a local headless Label Studio for yuliao.
#
#   bash scripts/label_studio.sh install   # own venv (label-studio pins clash with the pipeline's)
#   bash scripts/label_studio.sh start     # 127.0.0.1, SQLite, preset admin + API token, waits for /health
#   bash scripts/label_studio.sh status    # running? healthy? prints URL and where the token lives
#   bash scripts/label_studio.sh stop      # SIGTERM to the PID in the PID file, waits for exit
#   bash scripts/label_studio.sh env       # prints export lines for YULIAO_LS_URL / YULIAO_LS_TOKEN
#
# Settings (environment, all optional; safe local defaults):
#   YULIAO_LS_VENV            venv for the server              (default <repo>/.ls-venv)
#   YULIAO_LS_DATA_DIR        SQLite DB, media, logs, PID file  (default <repo>/.yuliao/label-studio)
#   YULIAO_LS_PORT            port on 127.0.0.1                 (default 8089)
#   YULIAO_LS_TOKEN           admin API token, 40 hex chars     (default: generated once, kept in DATA_DIR/token)
#   YULIAO_LS_ADMIN_EMAIL     admin login                       (default admin@yuliao.local)
#   YULIAO_LS_ADMIN_PASSWORD  admin password                    (default: generated once, kept in DATA_DIR/admin_password)
#   YULIAO_LS_START_TIMEOUT   seconds to wait for /health       (default 240; the first start migrates the DB)
set -euo pipefail

LS_VERSION="1.23.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YULIAO_LS_VENV:-$ROOT/.ls-venv}"
DATA_DIR="${YULIAO_LS_DATA_DIR:-$ROOT/.yuliao/label-studio}"
PORT="${YULIAO_LS_PORT:-8089}"
HOST="127.0.0.1"
URL="http://$HOST:$PORT"
ADMIN_EMAIL="${YULIAO_LS_ADMIN_EMAIL:-admin@yuliao.local}"
START_TIMEOUT="${YULIAO_LS_START_TIMEOUT:-240}"
PID_FILE="$DATA_DIR/label-studio.pid"
LOG_FILE="$DATA_DIR/label-studio.log"

die() { echo "label_studio.sh: $*" >&2; exit 1; }

pid_alive() {
  [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

port_busy() {
  # A busy port makes Label Studio silently move to the next one (sharing our DB): refuse instead.
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

healthy() {
  if command -v curl >/dev/null; then
    curl -fsS --max-time 3 "$URL/health" >/dev/null 2>&1
  else
    "$VENV/bin/python" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$URL/health', timeout=3).status != 200)" >/dev/null 2>&1
  fi
}

# Read a secret from the environment, else from DATA_DIR/<file>, else generate and store it (0600).
secret() {
  local env_value="$1" file="$DATA_DIR/$2" nbytes="$3"
  if [[ -n "$env_value" ]]; then
    printf '%s' "$env_value"
  elif [[ -s "$file" ]]; then
    cat "$file"
  else
    (umask 077 && od -An -tx1 -N"$nbytes" /dev/urandom | tr -d ' \n' >"$file")
    cat "$file"
  fi
}

cmd_install() {
  if [[ -x "$VENV/bin/label-studio" ]] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('label-studio') != '$LS_VERSION')" 2>/dev/null; then
    echo "label-studio $LS_VERSION already installed in $VENV"
    return
  fi
  local uv=""
  if [[ -x "$ROOT/.venv/bin/uv" ]]; then uv="$ROOT/.venv/bin/uv"; elif command -v uv >/dev/null; then uv="$(command -v uv)"; fi
  local py="${YULIAO_LS_PYTHON:-$(command -v python3.11 || command -v python3)}"
  if [[ -n "$uv" ]]; then
    "$uv" venv -q -p "$py" "$VENV"
    "$uv" pip install -q -p "$VENV/bin/python" "label-studio==$LS_VERSION"
  else
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q "label-studio==$LS_VERSION"
  fi
  echo "installed label-studio $LS_VERSION into $VENV"
}

cmd_start() {
  [[ -x "$VENV/bin/label-studio" ]] || die "no Label Studio in $VENV: run 'bash scripts/label_studio.sh install' first"
  if pid_alive; then
    healthy && { echo "already running: $URL (pid $(cat "$PID_FILE"))"; return; }
    die "pid $(cat "$PID_FILE") from $PID_FILE is alive but $URL/health does not answer; stop it first"
  fi
  port_busy && die "port $PORT on $HOST is already in use (Label Studio would silently pick another port and share the DB); set YULIAO_LS_PORT"
  mkdir -p "$DATA_DIR"
  chmod 700 "$DATA_DIR"
  local token password
  token="$(secret "${YULIAO_LS_TOKEN:-}" token 20)"
  password="$(secret "${YULIAO_LS_ADMIN_PASSWORD:-}" admin_password 12)"
  [[ "$token" =~ ^[0-9a-f]{40}$ ]] || die "YULIAO_LS_TOKEN must be 40 lowercase hex characters"
  # A clean, explicit environment: Label Studio falls back from LABEL_STUDIO_X to a bare X, so a
  # stray USERNAME/PORT/HOST in the caller's environment would otherwise leak in.
  env -i \
    PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" \
    HOME="$DATA_DIR" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    LABEL_STUDIO_BASE_DATA_DIR="$DATA_DIR" DJANGO_DB=sqlite \
    LABEL_STUDIO_USERNAME="$ADMIN_EMAIL" LABEL_STUDIO_PASSWORD="$password" \
    LABEL_STUDIO_USER_TOKEN="$token" LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
    LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true \
    LATEST_VERSION_CHECK=false SENTRY_DSN= FRONTEND_SENTRY_DSN= COLLECT_ANALYTICS=false \
    "$VENV/bin/label-studio" start --no-browser --internal-host "$HOST" --port "$PORT" \
    </dev/null >>"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  local waited=0
  until healthy; do
    if ! pid_alive; then
      rm -f "$PID_FILE"
      tail -n 30 "$LOG_FILE" >&2
      die "Label Studio exited during start-up (log: $LOG_FILE)"
    fi
    (( waited >= START_TIMEOUT )) && die "no answer from $URL/health after ${START_TIMEOUT}s (log: $LOG_FILE; pid $(cat "$PID_FILE") left running)"
    sleep 1
    waited=$((waited + 1))
  done
  echo "Label Studio $LS_VERSION running: $URL (pid $(cat "$PID_FILE"), ready in ${waited}s)"
  echo "admin: $ADMIN_EMAIL (password in $DATA_DIR/admin_password unless YULIAO_LS_ADMIN_PASSWORD is set)"
  echo "token: YULIAO_LS_TOKEN or $DATA_DIR/token"
}

cmd_stop() {
  if ! [[ -f "$PID_FILE" ]]; then echo "not running (no $PID_FILE)"; return; fi
  local pid; pid="$(cat "$PID_FILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"  # a backgrounded server ignores SIGINT
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "pid $pid did not exit within 30s of SIGTERM"
    echo "stopped Label Studio (pid $pid)"
  else
    echo "not running (stale pid $pid)"
  fi
  rm -f "$PID_FILE"
}

cmd_status() {
  if pid_alive && healthy; then
    echo "running: $URL (pid $(cat "$PID_FILE")), data in $DATA_DIR"
  elif pid_alive; then
    echo "starting or unhealthy: pid $(cat "$PID_FILE"), $URL/health does not answer"; exit 1
  else
    echo "not running ($URL)"; exit 3
  fi
}

cmd_env() {
  [[ -s "$DATA_DIR/token" || -n "${YULIAO_LS_TOKEN:-}" ]] || die "no token yet: start the server once"
  echo "export YULIAO_LS_URL=$URL"
  echo "export YULIAO_LS_TOKEN=${YULIAO_LS_TOKEN:-$(cat "$DATA_DIR/token")}"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
