#!/usr/bin/env bash
# A PostgreSQL server of the project's own (Debian's binaries), its data under DIR, listening on
# 127.0.0.1:PORT (or LISTEN) — no system service needed. Used by `make up-cluster` and the tests.
#
#   scripts/cluster/postgres.sh start   DIR PORT   # initdb once, start, create database "videogen"
#   scripts/cluster/postgres.sh stop    DIR        # fast shutdown
#   scripts/cluster/postgres.sh restart DIR PORT   # stop then start (the chain-restart test)
#   scripts/cluster/postgres.sh url     DIR PORT   # the URL the project reads (VIDEOGEN_DATABASE_URL)
#
# Environment: PG_USER (videogen), PG_DB (videogen), PG_LISTEN (127.0.0.1; "*" to serve other
# machines, then set PG_PASSWORD so that remote clients authenticate with scram-sha-256).
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop|restart|url DIR [PORT]}
dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
port=${3:-5432}
user=${PG_USER:-videogen}
db=${PG_DB:-videogen}
listen=${PG_LISTEN:-127.0.0.1}
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bin/pg_ctl" ] || { echo "postgres.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

# initdb and postgres refuse to run as root: run them as the postgres user the package made.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir/data"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir" && chmod 700 "$dir/data"
    local pwfile=()
    if [ -n "${PG_PASSWORD:-}" ]; then
      printf '%s\n' "$PG_PASSWORD" > "$dir/.pw" && chmod 600 "$dir/.pw"
      [ "$(id -u)" -eq 0 ] && chown postgres "$dir/.pw"
      pwfile=(--pwfile="$dir/.pw" --auth-host=scram-sha-256)
    else
      pwfile=(--auth-host=trust)
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U "$user" --auth-local=trust "${pwfile[@]}" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    rm -f "$dir/.pw"
    if [ "$listen" != "127.0.0.1" ]; then
      echo "host all all 0.0.0.0/0 scram-sha-256" >> "$dir/data/pg_hba.conf"
    fi
  fi
  if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "postgres: already running ($dir)"
  else
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses='$listen' -c max_connections=300 -c fsync=${PG_FSYNC:-on}" start >/dev/null
  fi
  if ! as_owner "$bin/psql" -h "$dir" -p "$port" -U "$user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    as_owner "$bin/createdb" -h "$dir" -p "$port" -U "$user" "$db"
  fi
  echo "postgres: $(url) (data $dir/data)"
}

stop() {
  [ -f "$dir/data/PG_VERSION" ] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

url() {
  local host=127.0.0.1
  [ "$listen" = "127.0.0.1" ] || host=$(hostname -f 2>/dev/null || hostname)
  echo "postgresql://$user${PG_PASSWORD:+:$PG_PASSWORD}@$host:$port/$db"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  url) url ;;
  *) echo "usage: postgres.sh start|stop|restart|url DIR [PORT]" >&2; exit 2 ;;
esac
