# Sourced after toolchain.sh: starts Redis and a MongoDB-wire server on loopback when nothing
# answers there already. What this starts is recorded so `stop_started_services` stops only that.
# shellcheck shell=bash
# shellcheck source=toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"

STARTED_PIDS=()
DATA_DIR="$HERALD_ROOT/.data"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 what=$3 i
  for i in $(seq 1 150); do port_open "$host" "$port" && return 0; sleep 0.2; done
  die "$what did not start listening on $host:$port (log: $DATA_DIR/$what.log)"
}

# host and port of a redis:// or mongodb:// URL (default ports when absent).
url_host() { local h=${1#*://}; h=${h#*@}; h=${h%%/*}; echo "${h%%:*}"; }
url_port() { local h=${1#*://}; h=${h#*@}; h=${h%%/*}; [[ $h == *:* ]] && echo "${h##*:}" || echo "$2"; }

ensure_redis() {
  local url=${REDIS_URL:-redis://127.0.0.1:6379} host port
  host=$(url_host "$url"); port=$(url_port "$url" 6379)
  if port_open "$host" "$port"; then log "Redis answers on $host:$port"; return; fi
  [[ $host == 127.0.0.1 || $host == localhost ]] || die "Redis at $url does not answer"
  command -v redis-server >/dev/null || die "no Redis on $host:$port and no redis-server to start (apt-get install redis-server)"
  mkdir -p "$DATA_DIR/redis"
  log "starting Redis on 127.0.0.1:$port (AOF on, noeviction)"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$DATA_DIR/redis" --appendonly yes \
    --maxmemory-policy noeviction --save "" --logfile "$DATA_DIR/redis.log" --daemonize no &
  STARTED_PIDS+=($!)
  wait_port 127.0.0.1 "$port" redis
}

ensure_mongo() {
  local url=${MONGO_URL:-mongodb://127.0.0.1:27017/herald} host port handler
  host=$(url_host "$url"); port=$(url_port "$url" 27017)
  if port_open "$host" "$port"; then log "a MongoDB-wire server answers on $host:$port"; return; fi
  [[ $host == 127.0.0.1 || $host == localhost ]] || die "MongoDB at $url does not answer"
  ensure_ferretdb
  mkdir -p "$DATA_DIR"
  # PostgreSQL is FerretDB's most complete back end; SQLite is the fallback where none runs.
  if port_open 127.0.0.1 5432 && command -v psql >/dev/null; then
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ferretdb'" | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE ferretdb' >/dev/null
    # Settings for FerretDB's own connections: set on the database, they apply to every
    # connection FerretDB opens below (re-applying them is harmless). Measured by
    # packages/store/bench/ferretdb-tuning.ts, figures in docs/ferretdb-tuning.md:
    # - plan_cache_mode = force_custom_plan: FerretDB sends every equality filter as the same
    #   prepared statement (`_jsonb->$1 @> $2`). Once a pooled connection has run it a few times
    #   for lookups no index serves (a history page by tenant), PostgreSQL switches that
    #   connection to a generic plan, which no expression index can serve, for good: every later
    #   find by _id on it reads the whole table (10,000 messages: 65 instead of 1,035 finds/s).
    # - synchronous_commit = off: a commit no longer waits for its WAL flush (one client at a
    #   time: updateOne 215 -> 345/s, insertOne 381 -> 520/s). This is the durability of MongoDB's
    #   default write concern (w:1 without j:true): an OS crash or power loss can lose the last
    #   fraction of a second (at most 3 x wal_writer_delay, 0.6 s) of acknowledged writes;
    #   PostgreSQL stays consistent, and a crash of FerretDB or Herald alone loses nothing.
    psql -h 127.0.0.1 -U postgres -q -v ON_ERROR_STOP=1 \
      -c 'ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan' \
      -c 'ALTER DATABASE ferretdb SET synchronous_commit = off' >/dev/null \
      || die "could not apply the FerretDB database settings"
    # GIN indexes for FerretDB's equality filters (see the file: without them every lookup by _id
    # scans its collection).
    PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -U postgres -q -v ON_ERROR_STOP=1 ferretdb \
      -f "$HERALD_ROOT/scripts/lib/ferretdb-gin.sql" >&2 || die "could not install the FerretDB index trigger"
    # A larger pgx pool than FerretDB's default (max(4, CPUs)). FerretDB 1.24 hangs for good once
    # every pooled connection is held by an update waiting for a second one (its query holds the
    # first), so the pool must exceed the sum of all clients' pools (see connectMongo); 90 of
    # PostgreSQL's default 100 connections. sslmode=disable: on this loopback connection TLS
    # protects nothing, and pgx's default (prefer) encrypted every statement and row on both
    # sides — 8 % of FerretDB's CPU in a profile of status updates (docs/ferretdb-tuning.md).
    handler=(--handler=postgresql "--postgresql-url=postgres://postgres@127.0.0.1:5432/ferretdb?pool_max_conns=90&sslmode=disable")
  else
    mkdir -p "$DATA_DIR/ferretdb-sqlite"
    handler=(--handler=sqlite "--sqlite-url=file:$DATA_DIR/ferretdb-sqlite/")
  fi
  log "starting FerretDB on 127.0.0.1:$port (${handler[0]#--handler=}, telemetry off)"
  # GOGC=400: FerretDB decodes and re-encodes every document it reads or writes, and Go's
  # collector took 16 % of its CPU at the default (100); a few tens of MB more heap instead.
  GOGC=${FERRETDB_GOGC:-400} ferretdb "${handler[@]}" --listen-addr="127.0.0.1:$port" --telemetry=disable --debug-addr=- \
    --log-level=WARN --state-dir="$DATA_DIR" >"$DATA_DIR/ferretdb.log" 2>&1 &
  STARTED_PIDS+=($!)
  wait_port 127.0.0.1 "$port" ferretdb
}

stop_started_services() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  STARTED_PIDS=()
}

# Headless Chromium for the dashboard's browser test: Debian's package, installed when missing and
# possible (root + apt-get). Exports CHROMIUM_PATH; without it the browser test skips with a warning.
ensure_chromium() {
  local bin
  for bin in "${CHROMIUM_PATH:-}" "$(command -v chromium || true)" "$(command -v chromium-browser || true)"; do
    if [[ -n $bin && -x $bin ]]; then export CHROMIUM_PATH=$bin; log "Chromium: $bin"; return 0; fi
  done
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    log "installing Chromium (apt-get install chromium) for the dashboard's browser test"
    if { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; } >"$DATA_DIR/chromium-install.log" 2>&1; then
      export CHROMIUM_PATH=$(command -v chromium)
      log "Chromium: $CHROMIUM_PATH"
      return 0
    fi
  fi
  log "WARNING: no Chromium and it could not be installed; the dashboard's browser test will be SKIPPED"
}
