#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine with rustup:
# the wasm32-wasip1 target (the policy), wasm32-unknown-unknown (the browser
# inspector), x86_64-unknown-linux-musl with musl-tools (the static `vns` of
# the container image; aws-lc-rs, its TLS crypto, compiles C), Debian's docker-registry (the real local registry the tests run
# against), and Debian's chromium with Node.js for the inspector's browser
# test. Idempotent; needs root for apt-get.
set -euo pipefail

for target in wasm32-wasip1 wasm32-unknown-unknown x86_64-unknown-linux-musl; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's package enables a system service on port 5000; the tests start
# their own registries on free loopback ports and do not need it.
if command -v systemctl >/dev/null 2>&1; then systemctl stop docker-registry >/dev/null 2>&1 || true; fi
echo "setup: wasm and musl targets, musl-tools, docker-registry, chromium and node are installed"
