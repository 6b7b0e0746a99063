#!/usr/bin/env bash
# Quick start, command 1: sets up and runs Herald on this machine — Redis and a MongoDB-wire
# server where none answers, the provider simulator (as Meta), the API and one worker — then
# prints the URLs and an admin token. Ctrl-C stops what it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
setup_project

# .env from .env.example with fresh secrets, once; the environment still overrides it.
if [ ! -f .env ]; then
  log "creating .env from .env.example with fresh random secrets"
  secret() { node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))"; }
  sed -e "s|^JWT_SECRET=.*|JWT_SECRET=$(secret)$(secret)|" \
      -e "s|^META_ACCESS_TOKEN=.*|META_ACCESS_TOKEN=$(secret)|" \
      -e "s|^META_APP_SECRET=.*|META_APP_SECRET=$(secret)|" \
      -e "s|^META_VERIFY_TOKEN=.*|META_VERIFY_TOKEN=$(secret)|" \
      -e "s|^CALLBACK_SECRET=.*|CALLBACK_SECRET=$(secret)|" .env.example >.env
  chmod 600 .env
fi
# The key that encrypts stored senders' credentials (32 random bytes): also given to a .env made
# before senders existed, so that one can store senders too. Nothing else in it changes.
if ! grep -q '^SENDER_KEYS=.' .env; then
  log "adding SENDER_KEYS (a fresh key for senders' credentials) to .env"
  sender_key="k1:$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64'))")"
  (umask 077; { grep -v '^SENDER_KEYS=' .env; printf 'SENDER_KEYS=%s\n' "$sender_key"; } >.env.new) && mv .env.new .env
fi
# The service URLs and ports from .env, unless the environment sets them.
env_value() { local v; v=$(sed -n "s/^$1=//p" .env | tail -n1); printf '%s' "${!1:-$v}"; }
export REDIS_URL MONGO_URL
REDIS_URL=$(env_value REDIS_URL); MONGO_URL=$(env_value MONGO_URL)
port=$(env_value PORT); sim_port=$(env_value SIMULATOR_PORT); host=$(env_value HOST)

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  log "stopping"
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_started_services
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_redis
ensure_mongo

for p in "$sim_port" "$port"; do
  port_open "${host:-127.0.0.1}" "$p" && die "port $p is taken (an earlier run still going?): stop it or set PORT / SIMULATOR_PORT"
done

mkdir -p "$DATA_DIR"
node apps/simulator/src/server.ts >"$DATA_DIR/simulator.log" 2>&1 & PIDS+=($!)
wait_port "${host:-127.0.0.1}" "$sim_port" simulator
node apps/api/src/server.ts >"$DATA_DIR/api.log" 2>&1 & PIDS+=($!)
wait_port "${host:-127.0.0.1}" "$port" api
node apps/worker/src/main.ts >"$DATA_DIR/worker.log" 2>&1 & PIDS+=($!)

api="http://${host:-127.0.0.1}:$port"
for _ in $(seq 1 100); do
  curl -fsS "$api/api/notifications/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$api/api/notifications/health" >/dev/null || die "the API does not answer healthy (log: $DATA_DIR/api.log)"

token=$(node apps/api/src/bin/token.ts --role admin --ttl 12h)
cat <<INFO

  Herald is running (provider: the simulator as Meta Cloud API).

  API        $api
  Docs       $api/docs
  Health     $api/api/notifications/health
  Simulator  http://${host:-127.0.0.1}:$sim_port/_sim/messages
  Logs       $DATA_DIR/{api,worker,simulator}.log

  Admin token (12 h):
  $token

  Try it:
  curl -s $api/api/notifications/send-message \\
    -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
    -d '{"phone":"+919876543210","message_type":"delivery_reminder","context":{"customer_name":"Asha","delivery_date":"2026-02-01"}}'

  Ctrl-C stops everything this command started.
INFO

# Exit (and clean up) as soon as any of the three stops.
wait -n "${PIDS[@]}" || true
log "a Herald process stopped; see $DATA_DIR/*.log"
