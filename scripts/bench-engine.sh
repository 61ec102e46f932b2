#!/usr/bin/env bash
# make bench-engine: the built module in Kubewarden's own engine. `kwctl
# bench` (a fresh instance per evaluation, kwctl's host answering the OCI
# calls from a local registry) on Pods whose images are signed now by the
# test PKI or by the Notation CLI's e2e suite (see
# crates/testkit/examples/bench_engine_fixtures.rs), then a markdown table of
# the mean and median per evaluation against the budgets of the performance
# issue. Skips, saying why, when kwctl is not on PATH.
#   scripts/bench-engine.sh [POLICY.wasm]   (BENCH_SECONDS per row, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
POLICY=${1:-policy.wasm}
SECONDS_PER_ROW=${BENCH_SECONDS:-5}
if ! command -v kwctl >/dev/null 2>&1; then
  echo "SKIPPED bench-engine: kwctl is not on PATH (Kubewarden's CLI; put its directory on PATH to run this bench)"
  exit 0
fi
test -f "$POLICY" || { echo "bench-engine: $POLICY does not exist; run make policy.wasm first" >&2; exit 1; }
state=$(mktemp -d)
trap 'bash scripts/registry.sh stop "$state"; rm -rf "$state"' EXIT
REG=$(bash scripts/registry.sh start "$state")
cargo build -q --locked -p testkit --example bench_engine_fixtures
rows=$(target/debug/examples/bench_engine_fixtures "$REG" "$state/fixtures")
printf 'insecure_sources: ["%s"]\n' "$REG" > "$state/sources.yaml"
export NO_COLOR=1

# Budget per row in µs (none for the skip row: it shows the fixed cost).
budget() {
  case $1 in
    rsa2048-e2e|rsa2048-e2e-digest|rsa3072-chain) echo 350 ;;
    rsa2048-e2e-5) echo 1000 ;;
    p256-chain) echo 1000 ;;
    p384-chain) echo 2500 ;;
    *) echo "" ;;
  esac
}
describe() {
  case $1 in
    skip) echo "one image in a \`skip\` scope (instantiate, settings, decision)" ;;
    rsa2048-e2e) echo "one image, Notation e2e signature (RSA-2048 self-signed)" ;;
    rsa2048-e2e-digest) echo "the same image by digest (no tag resolution: one host call fewer)" ;;
    rsa2048-e2e-5) echo "five images, five repositories, same e2e key" ;;
    rsa3072-chain) echo "one image, RSA-3072 root -> intermediate -> leaf" ;;
    p256-chain) echo "one image, P-256 root -> intermediate -> leaf" ;;
    p384-chain) echo "one image, P-384 root -> intermediate -> leaf" ;;
    calls-1) echo "host calls: one (a bundle that is not one, by digest; refused before any signature work)" ;;
    calls-2) echo "host calls: two (the same by tag)" ;;
  esac
}
# kwctl prints durations as 812.3µs, 1.02ms or 1.5s: to µs.
to_us() {
  awk -v d="$1" 'BEGIN {
    n = d + 0; u = d; sub(/^[0-9.]+/, "", u);
    if (u == "ns") n /= 1000; else if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000;
    printf "%.0f", n }'
}

declare -A means
table="| Pod | mean per evaluation | median | budget | margin |
| --- | --- | --- | --- | --- |"
for row in $rows; do
  fixtures="$state/fixtures/$row"
  # The row must be admitted (a verified image, or skipped by the policy):
  # a fast rejection would measure the wrong thing. The host-call rows must
  # be refused for their bundle, and for nothing else.
  kwctl run --sources-path "$state/sources.yaml" -r "$fixtures.request.json" \
    -s "$fixtures.settings.json" "$POLICY" 2>/dev/null > "$state/$row.run"
  case $row in
    calls-*) expect='"allowed":false.*INVALID_BUNDLE: signature bundle [^ ]* the manifest is not a signature bundle' ;;
    *) expect='"allowed":true' ;;
  esac
  grep -q "$expect" "$state/$row.run" || { echo "bench-engine: $row was not answered as expected ($expect):" >&2; cat "$state/$row.run" >&2; exit 1; }
  kwctl bench --sources-path "$state/sources.yaml" -r "$fixtures.request.json" \
    -s "$fixtures.settings.json" --warm-up-time 1 --measurement-time "$SECONDS_PER_ROW" \
    "$POLICY" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' > "$state/$row.bench"
  # The `validate` result: "[min mean max]: [a b c] (sample data: med = m, ...".
  line=$(grep -A1 '^validate \[' "$state/$row.bench" | grep 'elapsed' | tail -1)
  mean=$(echo "$line" | sed -n 's/.*\]:[[:space:]]*\[[^ ]* \([^ ]*\) [^ ]*\].*/\1/p')
  median=$(echo "$line" | sed -n 's/.*med = \([^,]*\),.*/\1/p')
  [ -n "$mean" ] || { echo "bench-engine: no result for $row:" >&2; cat "$state/$row.bench" >&2; exit 1; }
  mean_us=$(to_us "$mean"); median_us=$(to_us "$median")
  limit=$(budget "$row")
  if [ -n "$limit" ]; then
    margin=$(awk -v m="$mean_us" -v l="$limit" 'BEGIN {
      if (m <= l) printf "met, %.0f%% to spare", 100 * (l - m) / l; else printf "missed by %.2fx", m / l }')
    limit="${limit} µs"
  else
    limit="-"; margin="-"
  fi
  table="$table
| $(describe "$row") | ${mean_us} µs | ${median_us} µs | $limit | $margin |"
  echo "$row: mean $mean_us µs, median $median_us µs" >&2
  means[$row]=$mean_us
done
calls=""
if [ -n "${means[calls-1]:-}" ] && [ -n "${means[calls-2]:-}" ] && [ -n "${means[skip]:-}" ]; then
  calls="One host call in this run: $((means[calls-2] - means[calls-1])) µs (\`oci/v1/manifest_digest\`, host calls two minus one); the first row with one call is $((means[calls-1] - means[skip])) µs above \`skip\` (\`oci/v1/oci_manifest\`, the trust store's parse, the refusal)."
fi
echo
echo "kwctl bench, $(kwctl --version 2>/dev/null | head -1), $(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "$table"
if [ -n "$calls" ]; then echo; echo "$calls"; fi
