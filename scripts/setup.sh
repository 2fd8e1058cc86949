#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there:
# the wasm32 target, wasm-bindgen-cli (pinned to the crate's wasm-bindgen), wasm-pack, and the
# npm dev dependencies (binaryen 132 for wasm-opt: Debian's binaryen 108 breaks Node 20; and for
# package-test/: typescript, publint, @arethetypeswrong/cli, deno, wrangler, miniflare, esbuild,
# playwright-core, @types/node, @cloudflare/workers-types). scripts/test.sh adds Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml)
WASM_PACK_VERSION=0.15.1
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi
if ! command -v wasm-pack >/dev/null; then
  cargo install wasm-pack --version "=$WASM_PACK_VERSION"
fi
if [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
