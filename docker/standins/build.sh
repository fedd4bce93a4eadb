#!/usr/bin/env bash
# Stand-ins for the upstream base images, for machines that reach Debian's packages and the
# language registries but no container registry (CI). Each stand-in is built from Debian's
# packages (debootstrap + docker import for the base, then Dockerfiles in this folder) and keeps
# the contract the stack relies on; see README.md here. A laptop never needs them: it pulls the
# real images.
#
#   docker/standins/build.sh          # build the stand-ins that are missing
#   docker/standins/build.sh --env    # print the variables that point the stack at them
#
# Images are tagged lakehouse-standin/<upstream name>:<tag>, never with the upstream name, so
# a stand-in is never mistaken for the real image.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
PREFIX=lakehouse-standin
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
GO_VERSION=${GO_VERSION:-1.25.5}

# upstream image the stack names -> stand-in tag; the variables are docker-compose.yml's.
env_lines() {
  cat <<VARS
LAKEHOUSE_PYTHON_IMAGE=$PREFIX/python:3.11-slim-bookworm
LAKEHOUSE_POSTGRES_IMAGE=$PREFIX/postgres:15-bookworm
LAKEHOUSE_GO_IMAGE=$PREFIX/golang:$GO_VERSION-bookworm
LAKEHOUSE_ALPINE_IMAGE=$PREFIX/alpine:busybox-bookworm
VARS
}
if [[ ${1:-} == --env ]]; then env_lines; exit 0; fi

have() { docker image inspect "$1" >/dev/null 2>&1; }
step() { echo "stand-in: $*"; }

base=$PREFIX/debian:$SUITE-slim
if ! have "$base"; then
  step "$base from debootstrap --variant=minbase $SUITE ($MIRROR)"
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >/dev/null
  # What debian:*-slim does on top of minbase: no docs or caches in layers built on it.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # The machine's own extra CA certificates (e.g. a TLS-inspecting egress proxy in front of the
  # registries): images that install ca-certificates trust what the machine trusts.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  tar -C "$root" -c . | docker import \
    -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' \
    -m "debootstrap --variant=minbase $SUITE" - "$base" >/dev/null
fi

build() {  # build TAG DOCKERFILE [ARGS...]
  local tag=$1 file=$2; shift 2
  if have "$tag"; then return; fi
  step "$tag ($file)"
  docker build -q --build-arg "BASE=$base" "$@" -t "$tag" -f "$HERE/$file" "$HERE" >/dev/null
}
while IFS='=' read -r var tag; do
  case $var in
    LAKEHOUSE_PYTHON_IMAGE) build "$tag" python.Dockerfile ;;
    LAKEHOUSE_POSTGRES_IMAGE) build "$tag" postgres.Dockerfile ;;
    LAKEHOUSE_GO_IMAGE) build "$tag" golang.Dockerfile --build-arg "GO_VERSION=$GO_VERSION" ;;
    LAKEHOUSE_ALPINE_IMAGE) build "$tag" busybox.Dockerfile ;;
  esac
done < <(env_lines)
step "ready:"
docker image ls "$PREFIX/*" --format '  {{.Repository}}:{{.Tag}}  {{.Size}}'
