#!/usr/bin/env bash
# Installs everything `make demo` and `make test` use on a fresh Debian machine
# with rustup (README, "Quick start", lists the same). Idempotent: anything
# already present is skipped. Needs root, or sudo, for apt-get.
#   rustup:        wasm32-wasip1 (the policy), wasm32-unknown-unknown (the
#                  browser inspector), x86_64-unknown-linux-musl (the static
#                  `vns` of the container image), rustfmt, clippy
#   cargo install: cargo-machete (unused dependencies, in `make test`),
#                  wasm-bindgen-cli at the version Cargo.lock pins
#   apt-get:       docker-registry (the real local registry), python3 and curl
#                  (registry.sh, demo.sh, build-web.sh), openssl (the
#                  revocation test has it parse an OCSP request), chromium, nodejs, npm
#                  (the inspector's browser test), gcc, make, git, musl-tools
#                  (aws-lc-rs, the static vns's TLS crypto, compiles C),
#                  ca-certificates (copied into the vns image)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v rustup >/dev/null 2>&1 || {
  echo "setup: rustup is missing; install it first (https://rustup.rs), then re-run scripts/setup.sh" >&2
  exit 1
}
for target in wasm32-wasip1 wasm32-unknown-unknown x86_64-unknown-linux-musl; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

# Debian packages, by the command each provides.
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need docker-registry docker-registry
need python3 python3
need curl curl
need openssl openssl
need node nodejs
need npm npm
need cc gcc
need make make
need git git
need musl-gcc musl-tools
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ca-certificates "${missing[@]}" >/dev/null
fi
# Debian's docker-registry package enables a system service on port 5000; the
# demo and the tests start their own registries on free loopback ports.
if command -v systemctl >/dev/null 2>&1; then systemctl stop docker-registry >/dev/null 2>&1 || true; fi

# Cargo tools. wasm-bindgen-cli must match the wasm-bindgen crate exactly; it
# is installed without --locked because its lock file pins webpki-roots
# 1.0.11, which the crates.io index did not offer when this was written.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v cargo-machete >/dev/null 2>&1 || cargo install --locked cargo-machete
want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
[ "$have" = "$want" ] || cargo install wasm-bindgen-cli --version "$want"

echo "setup: wasm and musl targets, musl-tools, ca-certificates, rustfmt, clippy, cargo-machete, wasm-bindgen-cli $want, docker-registry, python3, curl, openssl, chromium and node are installed"
