#!/usr/bin/env bash
# The quick start: a local registry, an image signed by the Notation CLI's
# e2e suite and an unsigned one, `vns attach` to publish the signature
# bundle, then two admission requests evaluated by the built policy (with
# kwctl when installed, else with the waPC host from tests/): one admitted
# and pinned to its digest, one denied.
set -euo pipefail
cd "$(dirname "$0")/.."
POLICY=${1:-policy.wasm}
state=$(mktemp -d)
trap 'bash scripts/registry.sh stop "$state"; rm -rf "$state"' EXIT
REG=$(bash scripts/registry.sh start "$state")
echo "== local registry on $REG"

cargo build -q --locked -p vns -p testkit --features testkit/host --examples --bins
push() { target/debug/examples/push_layout "$1" "$REG/$2" | head -1; }
push e2e-valid-signature demo/signed >/dev/null
push e2e demo/unsigned >/dev/null
echo "== pushed $REG/demo/signed:v1 (signed with notation) and $REG/demo/unsigned:v1"

echo "== vns attach (publishes the signature bundle the policy reads)"
target/debug/vns attach --no-revocation "$REG/demo/signed:v1"
target/debug/vns attach --no-revocation "$REG/demo/unsigned:v1" || true

python3 - "$REG" "$state" <<'PY'
import json, sys
reg, state = sys.argv[1], sys.argv[2]
cert = open('testdata/notation-e2e/certs/upstream/e2e.crt').read()
settings = {
  "trustPolicy": {"version": "1.0", "trustPolicies": [{
     "name": "demo", "registryScopes": [f"{reg}/demo/signed", f"{reg}/demo/unsigned"],
     "signatureVerification": {"level": "strict"},
     "trustStores": ["ca:notation-e2e"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Notary"]}]},
  "trustStores": {"ca": {"notation-e2e": cert}},
}
json.dump(settings, open(f"{state}/settings.json", "w"), indent=2)
for name in ["signed", "unsigned"]:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"demo-{name}", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": f"{reg}/demo/{name}:v1"}]}}
    req = {"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
           "resource": {"group": "", "version": "v1", "resource": "pods"},
           "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
           "requestResource": {"group": "", "version": "v1", "resource": "pods"},
           "name": f"demo-{name}", "namespace": "default", "operation": "CREATE",
           "userInfo": {"username": "demo"}, "object": pod, "dryRun": False}
    json.dump(req, open(f"{state}/{name}.json", "w"), indent=2)
PY

for name in signed unsigned; do
  echo "== admission request: Pod with $REG/demo/$name:v1"
  if command -v kwctl >/dev/null 2>&1; then
    printf 'insecure_sources: ["%s"]\n' "$REG" > "$state/sources.yaml"
    kwctl run --sources-path "$state/sources.yaml" --allow-context-aware \
      --settings-path "$state/settings.json" --request-path "$state/$name.json" "$POLICY" || true
  else
    target/debug/evaluate --policy "$POLICY" --settings "$state/settings.json" --request "$state/$name.json" || true
  fi
done
