# verify-notation-signatures: build, test and publish the Kubewarden policy.
SHELL := /bin/bash
WASM_TARGET := wasm32-wasip1
POLICY_WASM := target/$(WASM_TARGET)/release/verify_notation_signatures.wasm
KWCTL := $(shell command -v kwctl 2>/dev/null)
WASM_OPT := $(shell command -v wasm-opt 2>/dev/null)
REGISTRY ?= ghcr.io/verify-notation-signatures/policies/verify-notation-signatures
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

.PHONY: all build annotate test unit e2e fmt lint machete check-standalone publish bench bench-engine test-wasm demo setup clean fuzz web web-test web-screenshots image vns-static load

all: build

setup:
	bash scripts/setup.sh

# The release module, optimised with wasm-opt when it is installed.
policy.wasm: $(shell find src crates/notation-verifier/src -name '*.rs') Cargo.toml Cargo.lock
	cargo build --target=$(WASM_TARGET) --release --locked -p verify-notation-signatures
ifneq ($(WASM_OPT),)
	$(WASM_OPT) -O3 --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals $(POLICY_WASM) -o policy.wasm
else
	cp $(POLICY_WASM) policy.wasm
endif

build: policy.wasm
ifneq ($(KWCTL),)
	$(MAKE) annotate
else
	@echo "kwctl is not installed: policy.wasm is built but not annotated (make annotate needs kwctl)"
endif

annotated-policy.wasm: policy.wasm policy-metadata/metadata.yml README.md
	kwctl annotate -m policy-metadata/metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

annotate: annotated-policy.wasm

# Artifact Hub package metadata, from policy-metadata/ (kwctl when installed).
artifacthub-pkg.yml: policy-metadata/metadata.yml policy-metadata/questions-ui.yml
ifneq ($(KWCTL),)
	kwctl scaffold artifacthub -m policy-metadata/metadata.yml -q policy-metadata/questions-ui.yml -o artifacthub-pkg.yml
else
	python3 scripts/artifacthub.py
endif

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p verify-notation-signatures -p notation-verifier --target=$(WASM_TARGET) --locked -- -D warnings
	cargo clippy -p notation-verifier --features wasm-bindgen --target=wasm32-unknown-unknown --locked -- -D warnings

# Every declared dependency is used (cargo-machete; scripts/setup.sh installs it).
machete:
	cargo machete

# No tracked file reads or names a path outside the repository.
check-standalone:
	bash .ci/check-standalone

# The whole suite: formatting, lints, unused dependencies, paths outside the
# repository, unit tests, the verifier vectors, the built policy in a real
# waPC host against a real local registry, and the browser inspector in
# headless Chromium.
#
# One registry serves the whole suite: the one `.ci/run` passes in
# VNS_TEST_REGISTRY, or one started here and stopped when the tests end (a
# test binary that starts its own shared registry cannot stop it, and would
# leave it running).
test: fmt lint machete check-standalone policy.wasm web
	@if [ -n "$$VNS_TEST_REGISTRY" ]; then \
	  cargo test --workspace --locked; \
	else \
	  state=$$(mktemp -d); \
	  trap 'bash scripts/registry.sh stop "$$state"; rm -rf "$$state"' EXIT; \
	  VNS_TEST_REGISTRY=$$(bash scripts/registry.sh start "$$state") && export VNS_TEST_REGISTRY && \
	  echo "test registry: $$VNS_TEST_REGISTRY" && cargo test --workspace --locked; \
	fi
	# The browser inspector's entry points (a feature no workspace member enables).
	cargo test --locked -p notation-verifier --features wasm-bindgen --lib wasm::
	$(MAKE) test-wasm
	$(MAKE) web-test
	$(MAKE) vns-static

# The static vns (x86_64-unknown-linux-musl) runs: --version and one verify
# against a local registry. Skips, saying why, when the musl target or
# musl-gcc is missing (make setup installs them). The dev profile keeps CI
# short: measured from cold on the shared 2-core machine, 3 min 36 s (2 min
# CPU) against 6 min 47 s for the LTO release build that `make image` uses.
vns-static:
	bash scripts/vns-static.sh dev

# The vns container image (Containerfile): the static release binary on an
# empty base, built with podman, buildah or docker, whichever is installed.
IMAGE ?= vns:$(VERSION)
image:
	bash scripts/image.sh $(IMAGE)

# The browser inspector (web/): the verifier core built for
# wasm32-unknown-unknown into web/pkg; open web/index.html afterwards.
web:
	bash scripts/build-web.sh

# The page in headless Debian chromium (playwright-core), on the Notation vectors.
web-test:
	cd web && npm ci --no-audit --no-fund && npm test

# Refreshes docs/inspector.png and docs/inspector-tampered.png.
web-screenshots: web
	cd web && npm ci --no-audit --no-fund && VNS_UPDATE_SCREENSHOTS=1 npm test

e2e: policy.wasm
	cargo test --locked -p verify-notation-signatures --test '*'

# One table: criterion (native), the module in wasmtime, openssl speed, Pods end to end.
# The rsa_public and ecdsa_verify groups (the crates we replaced against our
# RSA and ECDSA paths; they read no files) also run as a WASI module under Node
# when node is installed; their estimates go to target/criterion-wasm and
# benches/policy/ prints them next to the native ones and openssl's.
bench: policy.wasm
	cargo bench --locked -p notation-verifier --bench verify -- --noplot
	@if command -v node >/dev/null; then \
	  wasm=$$(cargo bench --locked -p notation-verifier --bench verify --target $(WASM_TARGET) --no-run --message-format=json | sed -n 's/.*"executable":"\([^"]*\.wasm\)".*/\1/p' | tail -1); \
	  test -n "$$wasm" && CRITERION_HOME=target/criterion-wasm node --no-warnings crates/notation-verifier/benches/wasi.mjs $$wasm 'rsa_public|ecdsa_verify' --noplot --warm-up-time 1 --measurement-time 3; \
	else echo "node is not installed: the rsa_public and ecdsa_verify comparisons in wasm are skipped"; fi
	cargo bench --locked -p verify-notation-signatures --bench policy
	$(MAKE) bench-engine

# The verifier's crypto unit tests (our RSA and ECDSA arithmetic against the
# RustCrypto crates) compiled for wasm32-wasip1 and run under Node's WASI: the
# policy's target, with overflow checks on. The debug build runs the short
# sweeps (a few minutes); `cargo test --release` there runs 300 keys per
# curve, which in wasm takes most of an hour (the reference crates are slow
# there). Skips, saying why, when node is not installed.
test-wasm:
	@if command -v node >/dev/null; then \
	  wasm=$$(cargo test --locked -p notation-verifier --lib --target $(WASM_TARGET) --no-run --message-format=json | sed -n 's/.*"executable":"\([^"]*\.wasm\)".*/\1/p' | tail -1); \
	  test -n "$$wasm" && node --no-warnings crates/notation-verifier/benches/wasi.mjs --run $$wasm 'crypto::'; \
	else echo "SKIPPED test-wasm: node is not installed (the crypto tests in wasm need Node's WASI)"; fi

# The built module in Kubewarden's engine: kwctl bench on Pods signed at
# bench time, pushed to a local registry, against the performance budgets
# (scripts/bench-engine.sh; skipped with a message when kwctl is absent).
bench-engine: policy.wasm
	bash scripts/bench-engine.sh policy.wasm

# Load runs (not part of `make test`); each prints its docs/performance.md rows.
# - `vns serve`, the Gatekeeper provider: 50 HTTPS clients on loopback, up to
#   20,000 keys or 60 s per phase, cold and warm cache, against the local
#   registry. LOAD_PROFILE=dev reuses the test build (no release build of
#   every crate).
# - The failure path through Kubewarden's policy-server (kwctl and
#   policy-server on PATH, else skipped with a message): 32 clients, signed,
#   unsigned, slow and silent registries, over HTTP and HTTPS,
#   VNS_LOAD_SECONDS (10) per scenario, about 8 minutes. The test build is
#   enough: the load generator is a plain HTTP client, the figures are the
#   policy server's.
# Both share one registry, started here and stopped at the end as in `test`.
LOAD_PROFILE ?= release
load: policy.wasm
	@state=$$(mktemp -d); \
	trap 'bash scripts/registry.sh stop "$$state"; rm -rf "$$state"' EXIT; \
	VNS_TEST_REGISTRY=$${VNS_TEST_REGISTRY:-$$(bash scripts/registry.sh start "$$state")} && export VNS_TEST_REGISTRY && \
	cargo test --locked --profile $(LOAD_PROFILE) -p vns --test serve_load -- --ignored --nocapture && \
	cargo test --locked -p verify-notation-signatures --test policy_server_load -- --ignored --nocapture

publish: annotated-policy.wasm
	kwctl push annotated-policy.wasm registry://$(REGISTRY):v$(VERSION)

# Quick start: build, start a local registry, publish a signed sample image
# and its bundle, and evaluate admission requests against it.
demo: setup policy.wasm
	bash scripts/demo.sh policy.wasm

# Each fuzz target for FUZZ_SECONDS, seeded from the Notation vectors (needs cargo-fuzz).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := jws_envelope cose_envelope certificate_chain timestamp_token revocation_material trust_policy policy_settings bundle_manifest policy_validate inspect_envelope ecdsa_differential
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  case $$t in jws_envelope) find testdata/notation -name '*.jws' -o -name '*.sig' | xargs -I{} cp {} fuzz/corpus/$$t/ ;; \
	    cose_envelope) find testdata/notation -name '*.cose' -o -name '*.sig' | xargs -I{} cp {} fuzz/corpus/$$t/ ;; \
	    inspect_envelope) find testdata/notation -name '*.jws' -o -name '*.cose' -o -name '*.sig' | xargs -I{} cp {} fuzz/corpus/$$t/ ;; \
	    certificate_chain) find testdata/notation -name '*.pem' -o -name '*.crt' -o -name '*.cer' | xargs -I{} cp {} fuzz/corpus/$$t/ ;; \
	    timestamp_token) find testdata/notation -name '*.p7s' -o -name '*.tsq' -o -name '*.tsr' | xargs -I{} cp {} fuzz/corpus/$$t/ ;; \
	    trust_policy|policy_settings) find testdata/notation* -name '*.json' | xargs -I{} cp {} fuzz/corpus/$$t/ ;; \
	  esac; \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048) || exit 1; \
	done

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
