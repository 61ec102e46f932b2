#!/usr/bin/env bash
# Fails when a tracked file names a path outside the repository: the test
# vectors live in testdata/ (found by the `testdata` crate), the settings and
# bundle contracts in docs/, and the Notation specification is cited by its
# public URL. Only .ci/run may mention ../shared/tools/bin (CI's kwctl and
# policy-server, put on PATH when present).
set -euo pipefail
cd "$(dirname "$0")/.."

pattern='\.\./shared|shared/(testdata|spec|guide|tools|hooks)|shared_dir\(|\.\./\.\./\.\./|spec/notation-verification\.md'
hits=$(git grep -nIE "$pattern" -- . ':!scripts/check-standalone.sh' ':!.ci/run' || true)
# .ci/run: only the optional tools directory.
ci=$(git grep -nIE "$pattern" -- .ci/run | grep -v 'shared/tools/bin' || true)
if [ -n "$hits$ci" ]; then
  printf '%s\n' "$hits" "$ci" | sed '/^$/d' >&2
  echo "check-standalone: the lines above reach outside the repository; use testdata/ (testdata::path in Rust), docs/, or a public URL" >&2
  exit 1
fi
echo "check-standalone: no tracked file reaches outside the repository"
