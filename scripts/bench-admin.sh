#!/usr/bin/env bash
# `pnpm bench:admin`: history, statistics and send-bulk at volume (bench/admin.ts). Options:
# --messages N (default 100000; the target store is 1000000), --keep NAME (reuse a loaded store).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
setup_project
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
export TEST_MONGO_URL=${TEST_MONGO_URL:-mongodb://127.0.0.1:27017}
REDIS_URL=$TEST_REDIS_URL MONGO_URL=$TEST_MONGO_URL/herald
export REDIS_URL MONGO_URL
trap stop_started_services EXIT
ensure_redis
ensure_mongo
node bench/admin.ts "$@"
