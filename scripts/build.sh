#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack for the nodejs and web targets, then wasm-opt -Oz
# from the npm package binaryen 132 (never whatever wasm-opt is on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

rm -rf pkg
for target in nodejs web; do
  wasm-pack build --release --target "$target" --out-dir "pkg/$target" --out-name marketo_connector --no-pack >/dev/null 2>pkg-build.log \
    || { cat pkg-build.log; exit 1; }
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "pkg/$target/marketo_connector_bg.wasm" -o "pkg/$target/marketo_connector_bg.wasm"
  rm -f "pkg/$target/.gitignore"
done
rm -f pkg-build.log
cp npm/package.json npm/README.md pkg/ 2>/dev/null || cp npm/package.json pkg/
raw=$(stat -c %s pkg/nodejs/marketo_connector_bg.wasm)
gz=$(gzip -9 -c pkg/nodejs/marketo_connector_bg.wasm | wc -c)
echo "built pkg/: marketo_connector_bg.wasm $raw bytes ($gz gzipped)"
bash scripts/build-cli.sh
