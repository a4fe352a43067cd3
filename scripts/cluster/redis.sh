#!/usr/bin/env bash
# A Redis server of the project's own (Debian's redis-server), for Celery's broker and results:
# data under DIR with an append-only file, so queued tasks survive a restart.
#
#   scripts/cluster/redis.sh start   DIR PORT
#   scripts/cluster/redis.sh stop    DIR PORT
#   scripts/cluster/redis.sh restart DIR PORT
#   scripts/cluster/redis.sh url     DIR PORT      # redis://127.0.0.1:PORT/0
#
# Environment: REDIS_LISTEN (127.0.0.1; an address of this machine to serve workers elsewhere,
# then set REDIS_PASSWORD).
set -euo pipefail
cmd=${1:?usage: redis.sh start|stop|restart|url DIR PORT}
dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
port=${3:-6379}
listen=${REDIS_LISTEN:-127.0.0.1}
command -v redis-server >/dev/null || { echo "redis.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
cli() { redis-cli -h 127.0.0.1 -p "$port" ${REDIS_PASSWORD:+-a "$REDIS_PASSWORD" --no-auth-warning} "$@"; }

start() {
  if cli ping >/dev/null 2>&1; then
    # Ours (its pid file is in DIR), or another server on that port, which we must not adopt
    # (our stop would shut it down).
    if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
      echo "redis: already running on $port"; return 0
    fi
    echo "redis.sh: port $port is taken by another Redis server; choose another port (REDIS_PORT)" >&2
    exit 1
  fi
  redis-server --port "$port" --bind "$listen" --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --appendonly yes --appendfsync everysec --save "" \
    ${REDIS_PASSWORD:+--requirepass "$REDIS_PASSWORD"} >/dev/null
  for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  cli ping >/dev/null
  echo "redis: $(url) (data $dir)"
}

stop() {
  cli ping >/dev/null 2>&1 || return 0
  # Only the server this folder started.
  [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null || return 0
  # SHUTDOWN writes the append-only file first.
  cli shutdown >/dev/null 2>&1 || true
  for _ in $(seq 100); do cli ping >/dev/null 2>&1 || break; sleep 0.1; done
}

url() {
  local host=127.0.0.1
  [ "$listen" = "127.0.0.1" ] || host=$listen
  echo "redis://${REDIS_PASSWORD:+:$REDIS_PASSWORD@}$host:$port/0"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  url) url ;;
  *) echo "usage: redis.sh start|stop|restart|url DIR PORT" >&2; exit 2 ;;
esac
