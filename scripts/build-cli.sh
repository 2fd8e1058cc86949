#!/usr/bin/env bash
# Bundles the command-line tool (cli/) into pkg/bin/marketo-connector.mjs with its npm
# dependencies (cli-progress), so the library that Workers and browsers install gains no
# runtime dependency, and declares it as the package's `bin`. Called by scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p pkg/bin
# The tool imports the package by its own name (Node resolves a package's self-reference
# through its `exports`); cli-progress is CommonJS, so the bundle gets a `require`; esbuild
# keeps cli/main.mjs's `#!` line first.
node_modules/.bin/esbuild cli/main.mjs --bundle --platform=node --target=node20 --format=esm \
  --external:marketo-connector --log-level=warning \
  --banner:js='import { createRequire as __cliRequire } from "node:module"; const require = __cliRequire(import.meta.url);' \
  --outfile=pkg/bin/marketo-connector.mjs
chmod +x pkg/bin/marketo-connector.mjs
node -e '
const fs = require("fs");
const p = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
p.bin = { "marketo-connector": "./bin/marketo-connector.mjs" };
if (Array.isArray(p.files) && !p.files.includes("bin/")) p.files.push("bin/");
fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
'
