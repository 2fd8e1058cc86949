#!/usr/bin/env bash
# Every test: formatting, lints, native core tests, wasm-bindgen tests in Node, the package
# build, and the Node integration tests against the simulator over loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy (native and wasm32)"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
echo "== cargo test (native core)"
cargo test
echo "== wasm-bindgen tests (Node)"
# Not `-q`: wasm-bindgen-test-runner rejects --quiet.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --target wasm32-unknown-unknown --test wasm
echo "== package build"
bash scripts/build.sh
echo "== Node integration tests (simulator over loopback)"
node --test host-example/test/*.test.mjs
