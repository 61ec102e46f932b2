#!/usr/bin/env bash
# Builds `vns` as a static binary (x86_64-unknown-linux-musl) and checks it:
# statically linked, `vns --version`, and one `vns verify` against a real local
# registry (VNS_TEST_REGISTRY, or one started here), which must resolve an
# unsigned image and answer NO_SIGNATURE (exit 1).
#   scripts/vns-static.sh [PROFILE]   PROFILE: dev (default, for CI) or release (the image)
# Skips with a message, exit 0, when the musl target or musl-gcc is missing
# (`make setup` installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dev}
target=x86_64-unknown-linux-musl
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  echo "vns-static: SKIPPED: the $target target is not installed (rustup target add $target, or make setup)"
  exit 0
fi
if ! command -v musl-gcc >/dev/null 2>&1; then
  echo "vns-static: SKIPPED: musl-gcc is not installed (apt-get install musl-tools, or make setup); aws-lc-rs, the TLS crypto, is C"
  exit 0
fi
start=$(date +%s)
# aws-lc-sys compiles its C with the cc crate; musl-gcc is the C compiler
# for this target (the cc crate picks it), no cmake needed.
cargo build --locked -p vns --target "$target" --profile "$profile"
dir=$profile; [ "$profile" = dev ] && dir=debug
bin=target/$target/$dir/vns
echo "vns-static: built $bin ($profile) in $(( $(date +%s) - start )) s"
# ldd says "statically linked" (static-pie) or "not a dynamic executable".
linkage=$(ldd "$bin" 2>&1 || true)
case "$linkage" in
  *"statically linked"*|*"not a dynamic executable"*) ;;
  *) echo "vns-static: FAILED: $bin is dynamically linked:" >&2; echo "$linkage" >&2; exit 1 ;;
esac
"$bin" --version

state=$(mktemp -d)
trap 'bash scripts/registry.sh stop "$state"; rm -rf "$state"' EXIT
registry=${VNS_TEST_REGISTRY:-}
[ -n "$registry" ] || registry=$(bash scripts/registry.sh start "$state")

# An unsigned image: one config blob and its manifest, pushed with the
# registry API.
repo=vns-static/app-$$
config='{}'
config_digest=sha256:$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
upload=$(curl -fsS -o /dev/null -D - -X POST "http://$registry/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case "$upload" in http*) ;; *) upload="http://$registry$upload" ;; esac
sep='?'; case "$upload" in *\?*) sep='&' ;; esac
curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "$config" "$upload${sep}digest=$config_digest" >/dev/null
manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'$config_digest'","size":2},"layers":[]}'
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$manifest" "http://$registry/v2/$repo/manifests/v1" >/dev/null

# Settings that verify every image with a throwaway CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=vns-static test CA" -keyout "$state/ca.key" -out "$state/ca.pem" 2>/dev/null
{
  printf 'trustPolicy:\n  version: "1.0"\n  trustPolicies:\n    - name: all\n      registryScopes: ["*"]\n'
  printf '      signatureVerification: {level: strict}\n      trustStores: ["ca:test"]\n      trustedIdentities: ["*"]\n'
  printf 'trustStores:\n  ca:\n    test: |\n'
  sed 's/^/      /' "$state/ca.pem"
} > "$state/settings.yaml"

set +e
"$bin" verify "$registry/$repo:v1" --settings "$state/settings.yaml" --output json > "$state/report.json"
code=$?
set -e
if [ "$code" -ne 1 ] || ! grep -q '"reason": *"NO_SIGNATURE"' "$state/report.json"; then
  echo "vns-static: FAILED: vns verify of an unsigned image exited $code:" >&2
  cat "$state/report.json" >&2
  exit 1
fi
echo "vns-static: $bin verified $registry/$repo:v1 against the local registry (NO_SIGNATURE, exit 1, as expected)"
