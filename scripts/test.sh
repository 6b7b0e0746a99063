#!/usr/bin/env bash
# Quick start, command 2: sets up and runs the whole test suite — typecheck, lint, then one root
# vitest run over every package against real Redis, a real MongoDB-wire server and the simulator.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
setup_project

# Tests use their own databases and queue prefixes on these servers; .env is not read.
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
export MONGO_URL=${TEST_MONGO_URL:-mongodb://127.0.0.1:27017}/herald
export TEST_REDIS_URL=$REDIS_URL TEST_MONGO_URL=${TEST_MONGO_URL:-mongodb://127.0.0.1:27017}
trap stop_started_services EXIT
ensure_redis
ensure_mongo
mkdir -p "$DATA_DIR"
ensure_chromium

log "typecheck"
pnpm exec tsc -p tsconfig.json --noEmit
log "lint"
pnpm exec biome check .
log "import cycles"
pnpm run -s cycles
log "tests"
pnpm exec vitest run "$@"
