#!/usr/bin/env bash
# Quick start, command 1: sets up and runs Herald on this machine — Redis and a MongoDB-wire
# server where none answers, the provider simulator (standing in for Meta, Twilio and MyOperator at
# once; WHATSAPP_PROVIDER picks the one Herald sends through), the API and one worker — then prints
# the URLs and an admin token. Ctrl-C stops what it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
setup_project

secret() { node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))"; }
# .env from .env.example with fresh secrets, once; the environment still overrides it.
if [ ! -f .env ]; then
  log "creating .env from .env.example with fresh random secrets"
  sed -e "s|^JWT_SECRET=.*|JWT_SECRET=$(secret)$(secret)|" \
      -e "s|^CALLBACK_SECRET=.*|CALLBACK_SECRET=$(secret)|" .env.example >.env
  chmod 600 .env
fi
file_value() { sed -n "s/^$1=//p" .env | tail -n1; }
# The value the processes will see: the environment's, else the file's.
env_value() { local v; v=$(file_value "$1"); printf '%s' "${!1:-$v}"; }
set_file_value() {
  local tmp
  if grep -q "^$1=" .env; then tmp=$(mktemp); awk -v k="$1" -v v="$2" 'index($0, k "=") == 1 { $0 = k "=" v } { print }' .env >"$tmp" && cat "$tmp" >.env && rm -f "$tmp"
  else printf '%s=%s\n' "$1" "$2" >>.env; fi
}
# Every provider whose webhook secret is empty in .env (a new file, or one from before this script
# wired all three) is wired to the simulator with fresh credentials, so that WHATSAPP_PROVIDER can
# pick any of them; a provider configured by hand is left alone.
sim_from_file=$(file_value SIMULATOR_PORT); sim="http://127.0.0.1:${sim_from_file:-4010}"
if [ -z "$(file_value META_APP_SECRET)" ]; then
  log "wiring Meta to the simulator in .env"
  set_file_value META_API_BASE_URL "$sim"
  for k in META_ACCESS_TOKEN META_APP_SECRET META_VERIFY_TOKEN; do set_file_value $k "$(secret)"; done
fi
if [ -z "$(file_value TWILIO_AUTH_TOKEN)" ]; then
  log "wiring Twilio to the simulator in .env"
  set_file_value TWILIO_API_BASE_URL "$sim"
  set_file_value TWILIO_ACCOUNT_SID "AC$(node -e "process.stdout.write(require('node:crypto').randomBytes(16).toString('hex'))")"
  set_file_value TWILIO_AUTH_TOKEN "$(secret)"
  set_file_value TWILIO_FROM "+14155238886"
fi
if [ -z "$(file_value MYOPERATOR_WEBHOOK_SECRET)" ]; then
  log "wiring MyOperator to the simulator in .env"
  set_file_value MYOPERATOR_API_BASE_URL "$sim"
  set_file_value MYOPERATOR_API_KEY "$(secret)"
  set_file_value MYOPERATOR_COMPANY_ID "local-company"
  set_file_value MYOPERATOR_PHONE_NUMBER_ID "900000000000001"
  set_file_value MYOPERATOR_WEBHOOK_SECRET "$(secret)"
fi

# The key that encrypts stored senders' credentials (32 random bytes): also given to a .env made
# before senders existed, so that one can store senders too. Nothing else in it changes.
if ! grep -q '^SENDER_KEYS=.' .env; then
  log "adding SENDER_KEYS (a fresh key for senders' credentials) to .env"
  sender_key="k1:$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64'))")"
  (umask 077; { grep -v '^SENDER_KEYS=' .env; printf 'SENDER_KEYS=%s\n' "$sender_key"; } >.env.new) && mv .env.new .env
fi
# The service URLs and ports from .env, unless the environment sets them.
export REDIS_URL MONGO_URL
REDIS_URL=$(env_value REDIS_URL); MONGO_URL=$(env_value MONGO_URL)
port=$(env_value PORT); sim_port=$(env_value SIMULATOR_PORT); host=$(env_value HOST)
metrics_port=$(env_value WORKER_METRICS_PORT); provider=$(env_value WHATSAPP_PROVIDER)
# A port the environment moves (a second run beside another) moves the URLs of .env that name it,
# unless the environment sets those too.
follow_port() {
  local from=$1 to=$2 name; shift 2
  [ "$from" = "$to" ] && return 0
  for name in "$@"; do
    [ -z "${!name:-}" ] && [ "$(file_value "$name")" = "$from" ] && export "$name=$to"
  done
  return 0
}
port_from_file=$(file_value PORT)
follow_port "http://127.0.0.1:${port_from_file:-3000}" "http://127.0.0.1:${port:-3000}" PUBLIC_BASE_URL SIMULATOR_WEBHOOK_URL
follow_port "$sim" "http://127.0.0.1:${sim_port:-4010}" META_API_BASE_URL TWILIO_API_BASE_URL MYOPERATOR_API_BASE_URL

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

for p in "$sim_port" "$port" "${metrics_port:-9464}"; do
  port_open "${host:-127.0.0.1}" "$p" && die "port $p is taken (an earlier run still going?): stop it or set PORT / SIMULATOR_PORT / WORKER_METRICS_PORT"
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
# Outside a recipient's 24-hour window only provider templates may be sent (SPEC 8): where Meta is
# the simulator, the default templates get mappings to its APPROVED templates (never replacing one).
if [ "$(env_value META_API_BASE_URL)" = "http://127.0.0.1:${sim_port:-4010}" ]; then
  node scripts/quickstart-mappings.ts "$api" "$token" || log "could not map the default templates (see above)"
  # Two tenants with a number each (issue 13): their messages go from their own numbers.
  if [ -n "$(env_value SENDER_KEYS)" ]; then
    node scripts/quickstart-tenants.ts "$api" "http://${host:-127.0.0.1}:$sim_port" "$token" || log "could not set up the two tenants (see above)"
    bakery_token=$(node apps/api/src/bin/token.ts --role service --tenant bakery --ttl 12h)
    florist_token=$(node apps/api/src/bin/token.ts --role service --tenant florist --ttl 12h)
  fi
fi
cat <<INFO

  Herald is running, sending through the simulator as ${provider:-meta}. Meta, Twilio and MyOperator
  are all wired to it: WHATSAPP_PROVIDER=meta|twilio|myoperator bash scripts/start.sh picks another.

  API        $api
  Docs       $api/docs
  Health     $api/api/notifications/health
  Console    $api/console (sign in with the admin token below)
  Queues     $api/admin/queues
  Simulator  http://${host:-127.0.0.1}:$sim_port/_sim/messages
  Logs       $DATA_DIR/{api,worker,simulator}.log

  Admin token (12 h):
  $token

  Tenants bakery and florist each send from a number of their own (a sender; see
  $api/api/v1/admin/senders). Their service tokens (12 h):
  bakery   ${bakery_token:-(no SENDER_KEYS in .env)}
  florist  ${florist_token:-(no SENDER_KEYS in .env)}

  Try it:
  curl -s $api/api/notifications/send-message \\
    -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
    -d '{"phone":"+919876543210","message_type":"delivery_reminder","context":{"customer_name":"Asha","delivery_date":"2026-02-01"}}'

  Ctrl-C stops everything this command started.
INFO

# Exit (and clean up) as soon as any of the three stops.
wait -n "${PIDS[@]}" || true
log "a Herald process stopped; see $DATA_DIR/*.log"
