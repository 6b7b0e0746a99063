#!/usr/bin/env bash
# `pnpm reliability`: sets up what the reliability runs need (toolchain, dependencies, PostgreSQL for
# the script's own FerretDB; SQLite by default, --pg for PostgreSQL) and runs bench/reliability.ts, which prints a Markdown table.
# Options: --messages N (default 10000) --only kill-worker,restart-redis,stop-ferretdb,provider-faults
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
setup_project
command -v redis-server >/dev/null || die "pnpm reliability needs redis-server (apt-get install redis-server)"
ensure_ferretdb
node bench/reliability.ts "$@"
