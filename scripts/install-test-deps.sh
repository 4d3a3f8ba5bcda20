#!/usr/bin/env bash
# Installs what the integration tests need, once per machine: etcd, Prometheus, Chromium and tmux from
# Debian's packages, and a real kube-apiserver built from Debian bookworm's `kubernetes` source package
# (no registry ships a binary; see shared/reference/environment.md). Idempotent: every piece is skipped
# when already there, and the apiserver binary is cached outside the repo in $MTOP_CACHE_DIR.
set -euo pipefail

CACHE_DIR="${MTOP_CACHE_DIR:-$HOME/.cache/mtop}"
K8S_SOURCE_DIR="kubernetes-1.20.5+really1.20.2"
APISERVER="$CACHE_DIR/kube-apiserver-v1.20.2"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
command -v tmux >/dev/null || need+=(tmux)
command -v openssl >/dev/null || need+=(openssl)
if [ ! -x "$APISERVER" ]; then
  need+=(golang-go dpkg-dev rsync jq golang-github-modern-go-reflect2-dev)
  # `apt-get source` needs a deb-src entry: derive it from the machine's own sources (no mirror is named here).
  if [ ! -f /etc/apt/sources.list.d/mtop-deb-src.sources ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      | $SUDO tee /etc/apt/sources.list.d/mtop-deb-src.sources >/dev/null
  fi
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x "$APISERVER" ]; then
  echo "install-test-deps: building kube-apiserver v1.20.2 (about 4 minutes, once per machine)"
  build="$(mktemp -d)"
  trap 'rm -rf "$build"' EXIT
  (
    cd "$build"
    apt-get source -qq kubernetes >/dev/null 2>&1
    cd "$K8S_SOURCE_DIR"
    # The vendored reflect2 v1.0.1 crashes under Go >= 1.18 on the first custom-object POST; Debian ships v1.0.2.
    rm -rf vendor/github.com/modern-go/reflect2
    cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
    CGO_ENABLED=0 HOME="$build/home" make WHAT=cmd/kube-apiserver >/dev/null
  )
  mkdir -p "$CACHE_DIR"
  cp "$build/$K8S_SOURCE_DIR/_output/bin/kube-apiserver" "$APISERVER.tmp"
  mv "$APISERVER.tmp" "$APISERVER"
fi
echo "install-test-deps: ready (kube-apiserver at $APISERVER)"
