#!/usr/bin/env bash
# Cluster mode on one machine (README, "Cluster mode"), for development and for trying it:
# PostgreSQL, Redis, moto_server as S3 (when S3_BUCKET is not set), the head node (Dagster daemon,
# webserver, REST bridge) and WORKERS Celery workers, each in its own folder under VAR with its own
# HOME, DAGSTER_HOME and scratch (VIDEOGEN_VAR_DIR), sharing nothing on disk. Ctrl-C (or TERM, or
# `up.sh down`) stops everything it started, PostgreSQL and Redis included.
#
#   scripts/cluster/up.sh          # `make up-cluster`
#   scripts/cluster/up.sh down     # `make down-cluster`: stops a running up.sh, or what a killed one left
#
# Environment: VAR (var/cluster), WORKERS (2), WORKER_CONCURRENCY (1), PG_PORT (55432),
# REDIS_PORT (56379), S3_PORT (59000), WEB_PORT (3000), API_PORT (8000); S3_BUCKET and the other
# S3_*/AWS_* settings to use a real S3 instead of moto.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
VAR=$(mkdir -p "${VAR:-var/cluster}" && cd "${VAR:-var/cluster}" && pwd)
WORKERS=${WORKERS:-2}
WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-1}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
S3_PORT=${S3_PORT:-59000}
WEB_PORT=${WEB_PORT:-3000}
API_PORT=${API_PORT:-8000}
STOP_SECONDS=${STOP_SECONDS:-20}  # how long processes may take to stop before they are killed

stop_services() {
  bash scripts/cluster/redis.sh stop "$VAR/redis" "$REDIS_PORT" || true
  bash scripts/cluster/postgres.sh stop "$VAR/postgres" || true
  if [ -f "$VAR/moto.pid" ]; then
    kill "$(cat "$VAR/moto.pid")" 2>/dev/null || true
    rm -f "$VAR/moto.pid"
  fi
}

if [ "${1:-}" = "down" ]; then
  if [ -f "$VAR/up.pid" ] && kill -0 "$(cat "$VAR/up.pid")" 2>/dev/null; then
    pid=$(cat "$VAR/up.pid")
    kill -TERM "$pid"
    for _ in $(seq $((STOP_SECONDS + 15))); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  stop_services
  rm -f "$VAR/up.pid"
  echo "up-cluster: stopped (data kept under $VAR)"
  exit 0
fi
if [ -f "$VAR/up.pid" ] && kill -0 "$(cat "$VAR/up.pid")" 2>/dev/null; then
  echo "up-cluster: already running (pid $(cat "$VAR/up.pid")); 'make down-cluster' stops it" >&2
  exit 1
fi
echo $$ > "$VAR/up.pid"

pids=()
descendants() { local p; for p in "$@"; do echo "$p"; descendants $(pgrep -P "$p" || true); done; }
cleanup() {
  trap - INT TERM EXIT
  echo "up-cluster: stopping..."
  local all=() left=()
  [ ${#pids[@]} -gt 0 ] && mapfile -t all < <(descendants "${pids[@]}")
  # TERM: Celery workers finish the runs they hold (a run cut short is retried by Dagster).
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq "$STOP_SECONDS"); do
    left=()
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break
    sleep 1
  done
  [ ${#left[@]} -gt 0 ] && kill -KILL "${left[@]}" 2>/dev/null || true
  stop_services
  rm -f "$VAR/up.pid"
  echo "up-cluster: stopped (data kept under $VAR)"
}
trap cleanup EXIT
trap 'exit 0' INT TERM  # a requested stop is a clean end (cleanup runs on EXIT)

# --- shared services: PostgreSQL, Redis, S3 ---------------------------------------------------
bash scripts/cluster/postgres.sh start "$VAR/postgres" "$PG_PORT"
bash scripts/cluster/redis.sh start "$VAR/redis" "$REDIS_PORT"
pg_url=$(bash scripts/cluster/postgres.sh url "$VAR/postgres" "$PG_PORT")
export VIDEOGEN_DATABASE_URL="postgresql+psycopg2://${pg_url#postgresql://}"
export VIDEOGEN_CELERY_BROKER_URL
VIDEOGEN_CELERY_BROKER_URL=$(bash scripts/cluster/redis.sh url "$VAR/redis" "$REDIS_PORT")
if [ -z "${S3_BUCKET:-}" ]; then
  # moto keeps objects in memory: they are gone when it stops (the records in PostgreSQL stay).
  "$BIN/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$VAR/moto.log" 2>&1 &
  echo $! > "$VAR/moto.pid"
  export S3_BUCKET=videogen S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" S3_CREATE_BUCKET=1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  for _ in $(seq 100); do curl -fs -o /dev/null "$S3_ENDPOINT_URL/moto-api/" && break; sleep 0.2; done
fi
# The project's own check: head_bucket, creating the bucket (versioned) when S3_CREATE_BUCKET=1.
"$BIN/python" -c 'from videogen_dagster.settings import get_settings
from videogen_dagster.stores.objectstore import StoreConfig
StoreConfig.from_settings(get_settings()).store_for(None).check()'

export VIDEOGEN_PUBLIC_URL="${VIDEOGEN_PUBLIC_URL:-http://127.0.0.1:$API_PORT}"
SLOTS=$((WORKERS * WORKER_CONCURRENCY))

# --- head node: daemon, webserver, bridge -------------------------------------------------------
(
  export DAGSTER_HOME=$VAR/head/dagster VIDEOGEN_VAR_DIR=$VAR/head SCENE_CONCURRENCY=$SLOTS
  mkdir -p "$DAGSTER_HOME"
  "$BIN/videogen" cluster-config --render-slots "$SLOTS" >/dev/null
  # Create/upgrade Dagster's tables once, before the daemon and the webserver race to.
  "$BIN/dagster" instance migrate >/dev/null
)
head_env=(DAGSTER_HOME="$VAR/head/dagster" VIDEOGEN_VAR_DIR="$VAR/head" SCENE_CONCURRENCY="$SLOTS")
env "${head_env[@]}" "$BIN/dagster-daemon" run -w workspace.yaml >"$VAR/head/daemon.log" 2>&1 &
pids+=($!)
env "${head_env[@]}" "$BIN/dagster-webserver" -w workspace.yaml -h 127.0.0.1 -p "$WEB_PORT" \
  >"$VAR/head/webserver.log" 2>&1 &
pids+=($!)
env "${head_env[@]}" DAGSTER_PORT="$WEB_PORT" "$BIN/uvicorn" api_bridge.main:app --host 127.0.0.1 \
  --port "$API_PORT" >"$VAR/head/bridge.log" 2>&1 &
pids+=($!)

# --- workers: each its own HOME, DAGSTER_HOME and scratch ---------------------------------------
for i in $(seq "$WORKERS"); do
  w=$VAR/worker-$i
  mkdir -p "$w/home" "$w/dagster"
  env DAGSTER_HOME="$w/dagster" VIDEOGEN_VAR_DIR="$w" "$BIN/videogen" cluster-config --render-slots "$SLOTS" >/dev/null
  env HOME="$w/home" DAGSTER_HOME="$w/dagster" VIDEOGEN_VAR_DIR="$w" \
    "$BIN/videogen" worker --name "worker-$i" --queues render,light --concurrency "$WORKER_CONCURRENCY" \
    >"$w/worker.log" 2>&1 &
  pids+=($!)
done

cat <<EOF
up-cluster: $WORKERS worker(s) x concurrency $WORKER_CONCURRENCY ($SLOTS render slots); logs under $VAR
  Dagster UI:   http://127.0.0.1:$WEB_PORT
  REST API:     http://127.0.0.1:$API_PORT/docs
  health:       http://127.0.0.1:$API_PORT/api/v1/video-generation/health
  PostgreSQL:   $pg_url
  Redis:        $VIDEOGEN_CELERY_BROKER_URL   ($BIN/celery -b $VIDEOGEN_CELERY_BROKER_URL inspect ping)
  S3:           ${S3_ENDPOINT_URL:-AWS S3} bucket $S3_BUCKET
Ctrl-C stops all (or: make down-cluster).
EOF
wait
