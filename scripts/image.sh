#!/usr/bin/env bash
# Builds the `vns` container image (Containerfile) from the static release
# binary: podman, buildah or docker, the first one installed (docker only
# when its daemon answers). Says so and fails when there is none.
#   scripts/image.sh IMAGE_NAME
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?image name, e.g. vns:0.1.0}
target=x86_64-unknown-linux-musl
bin=target/$target/release/vns

builder=""
for b in podman buildah docker; do
  command -v "$b" >/dev/null 2>&1 || continue
  if [ "$b" = docker ] && ! docker info >/dev/null 2>&1; then
    echo "image: docker is installed but its daemon does not answer; skipping it" >&2
    continue
  fi
  builder=$b; break
done
if [ -z "$builder" ]; then
  echo "image: no container builder: install podman, buildah or docker (with its daemon running)" >&2
  exit 1
fi

rustup target list --installed | grep -qx "$target" || {
  echo "image: the $target target is missing: make setup (or rustup target add $target)" >&2; exit 1; }
cargo build --locked --release -p vns --target "$target"
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || { echo "image: $ca is missing (apt-get install ca-certificates)" >&2; exit 1; }

context=target/image
rm -rf "$context"; mkdir -p "$context"
cp "$bin" "$context/vns"
cp "$ca" "$context/ca-certificates.crt"
chmod 0555 "$context/vns"; chmod 0444 "$context/ca-certificates.crt"
case "$builder" in
  buildah) buildah bud --isolation chroot -f Containerfile -t "$name" "$context" ;;
  *) "$builder" build -f Containerfile -t "$name" "$context" ;;
esac
echo "image: built $name with $builder"
