#!/usr/bin/env bash
# The performance budget (issue 14): the cheap rows of host-example/bench/package.mjs, each a
# ratio to a baseline measured in the same run (median of several runs), against
# host-example/bench/budgets.json. Needs the built package (bash scripts/build.sh).
# BENCH_RUNS overrides the number of runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f pkg/nodejs/marketo_connector_bg.wasm ]; then
  echo "perf-budget.sh: no pkg/ (run bash scripts/build.sh first)" >&2
  exit 1
fi
node host-example/bench/budget.mjs
