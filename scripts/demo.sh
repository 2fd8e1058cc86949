#!/usr/bin/env bash
# Builds the package and runs the demo: the connector against the local Marketo simulator
# (or a real instance, see README) on the sample events, printing requests and outcomes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
node host-example/demo.mjs
