#!/usr/bin/env bash
# Every test: formatting, lints, native core tests, wasm-bindgen tests in Node, the package
# build, the performance budget, the Node integration tests against the simulator over loopback,
# and the packed package installed outside the repository and used in Node, TypeScript, Deno,
# workerd and Chromium.
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
echo "== performance budget (ratios to same-run baselines against host-example/bench/budgets.json; about 11 s)"
bash scripts/perf-budget.sh
echo "== Node integration tests (simulator over loopback)"
node --test host-example/test/*.test.mjs
echo "== the packed package from a folder outside the repository (Node, tsc, publint, attw, Deno, workerd, Chromium)"
# The browser test drives Debian's chromium; installed here when missing, skipped (and said so)
# when it cannot be.
if ! command -v chromium >/dev/null; then
  echo "-- installing chromium (apt-get)"
  if [ "$(id -u)" -eq 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    :
  else
    echo "!! chromium could not be installed: the browser test will be skipped, everything else runs"
  fi
fi
CHROMIUM="$(command -v chromium || echo /usr/bin/chromium)" node --test package-test/*.test.mjs
