#!/usr/bin/env bash
# Long chaos runs (not in the test command): the built package against the simulator, random
# workloads of all nine actions, faults and restores. Default: seeds 1-5, 50,000 events each;
# any argument is passed on (e.g. `--seeds 7 --events 10000` to replay a failing seed).
# The native property test takes more cases (PROPTEST_CASES) from a random seed (run here too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The test command draws the property's cases from a fixed seed; here a new one each run
# (printed, so a failure can be replayed with PROPTEST_RNG_SEED=<seed>).
PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
echo "property test seed: PROPTEST_RNG_SEED=$PROPTEST_RNG_SEED"
PROPTEST_RNG_SEED="$PROPTEST_RNG_SEED" PROPTEST_CASES="${PROPTEST_CASES:-5000}" cargo test --release --test exactly_once
if [ "$#" -eq 0 ]; then set -- --seeds 1-5 --events 50000; fi
node host-example/chaos/run.mjs "$@"
