#!/usr/bin/env bash
# Build the Docker Compose v2 CLI plugin from the Go module proxy, for machines whose Docker
# (e.g. Debian's docker.io) has no `docker compose`. `go install` refuses the module (its go.mod
# has exclude directives), so the module is downloaded and built inside its own tree. The binary
# is cached under .stack/cache/ (ignored) and linked into Docker's CLI plugin folder; the version
# is stamped with -ldflags so `docker compose version` tells the truth.
#
#   docker/standins/compose-plugin.sh            # build (once) and install
#   COMPOSE_VERSION=v2.40.3 docker/standins/compose-plugin.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=${COMPOSE_VERSION:-v2.40.3}
CACHE=${LAKEHOUSE_CACHE_DIR:-$PWD/.stack/cache}/compose-$VERSION
BIN=$CACHE/docker-compose
PLUGINS=${DOCKER_CLI_PLUGINS_DIR:-/usr/local/lib/docker/cli-plugins}

if [[ ! -x $BIN ]]; then
  command -v go >/dev/null || { echo "compose-plugin: the Go toolchain is needed to build Compose" >&2; exit 1; }
  echo "building Docker Compose $VERSION from the Go module proxy (about 10 minutes on one core)"
  mkdir -p "$CACHE"
  export GOPATH=$CACHE/gopath GOFLAGS=-modcacherw CGO_ENABLED=0
  dir=$(go mod download -json "github.com/docker/compose/v2@$VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  (cd "$dir" && go build -trimpath -o "$BIN.tmp" \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" ./cmd)
  mv "$BIN.tmp" "$BIN"
  # The module cache is only needed for the build (hundreds of MB).
  go clean -modcache >/dev/null 2>&1 || chmod -R u+w "$GOPATH" && rm -rf "$GOPATH"
fi
mkdir -p "$PLUGINS"
ln -sf "$BIN" "$PLUGINS/docker-compose"
docker compose version
