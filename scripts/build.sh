#!/usr/bin/env bash
# Builds the npm package into pkg/. Everything the package does comes out of wasm-pack:
# `--target nodejs` (pkg/nodejs, CommonJS, reads its .wasm from disk) and `--target web`
# (pkg/web, the ES module glue that workerd.js and browser.js initialise). wasm-opt -Oz comes from
# the npm package binaryen 132 (never whatever wasm-opt is on PATH), run until it stops shrinking
# the module (`--converge`: about 1 KB less gzipped). Then the entries from npm/
# (node.js, workerd.js, browser.js and their types), the inlined module for browser.js, and the
# metadata: version and repository from Cargo.toml, README, LICENSE.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

rm -rf pkg
for target in nodejs web; do
  wasm-pack build --release --target "$target" --out-dir "pkg/$target" --out-name marketo_connector --no-pack >/dev/null 2>pkg-build.log \
    || { cat pkg-build.log; exit 1; }
  node_modules/.bin/wasm-opt -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "pkg/$target/marketo_connector_bg.wasm" -o "pkg/$target/marketo_connector_bg.wasm"
  rm -f "pkg/$target/.gitignore"
done
rm -f pkg-build.log

# Both glues load the same module (wasm-bindgen gives both targets one import namespace): the
# package ships it once, in nodejs/, where the CommonJS glue reads it and workerd.js imports it.
if ! cmp -s pkg/nodejs/marketo_connector_bg.wasm pkg/web/marketo_connector_bg.wasm; then
  echo "build.sh: the nodejs and web targets produced different .wasm files; npm/workerd.js imports the nodejs one" >&2
  exit 1
fi
rm pkg/web/marketo_connector_bg.wasm pkg/web/marketo_connector_bg.wasm.d.ts

# The CommonJS build inside a "type": "module" package.
echo '{ "type": "commonjs" }' > pkg/nodejs/package.json
# The binding's small JavaScript helpers (`inline_js` in src/wasm/) come out of wasm-bindgen as
# ES modules, which the CommonJS glue `require`s: Node 20 before 20.19 cannot require an ES
# module. Each is written as CommonJS here; the helpers are plain `export function`s, and
# anything else in them stops the build.
node --input-type=module - <<'JS'
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
const root = "pkg/nodejs/snippets";
for (const dir of readdirSync(root)) {
  for (const file of readdirSync(`${root}/${dir}`)) {
    const path = `${root}/${dir}/${file}`;
    const names = [];
    const body = readFileSync(path, "utf8").replace(/^export function (\w+)/gm, (_, name) => (names.push(name), `function ${name}`));
    if (/^\s*(export|import)\b/m.test(body) || names.length === 0) throw new Error(`${path}: only \`export function\` is made CommonJS here`);
    writeFileSync(path, `"use strict";\n${body}\nmodule.exports = { ${names.join(", ")} };\n`);
  }
}
JS
cp npm/node.js npm/workerd.js npm/browser.js npm/index.d.ts LICENSE pkg/
node --input-type=module - <<'JS'
import { readFileSync, writeFileSync } from "node:fs";
const cargo = readFileSync("Cargo.toml", "utf8");
const field = (name) => cargo.match(new RegExp(`^${name} = "([^"]*)"`, "m"))?.[1];
const wasm = readFileSync("pkg/nodejs/marketo_connector_bg.wasm");
writeFileSync("pkg/wasm-base64.js",
  "// The connector's WebAssembly module (nodejs/marketo_connector_bg.wasm), base64: browser.js instantiates it.\n" +
  `export default "${wasm.toString("base64")}";\n`);
// The package README: npm/README.md around the repository README's install and quick starts.
const readme = readFileSync("README.md", "utf8");
const quick = readme.match(/<!-- quick-start[^]*?-->\n([^]*?)<!-- \/quick-start -->/)?.[1];
if (!quick) throw new Error("README.md has no <!-- quick-start --> … <!-- /quick-start --> section");
const home = field("repository").replace(/\.git$/, "");
writeFileSync("pkg/README.md", readFileSync("npm/README.md", "utf8")
  .replace("QUICK_START", quick.trim()).replace("REPOSITORY_README", `${home}#using-the-package`));
const pkg = JSON.parse(readFileSync("npm/package.json", "utf8"));
pkg.version = field("version");
pkg.repository = { type: "git", url: `git+${field("repository")}` };
writeFileSync("pkg/package.json", JSON.stringify(pkg, null, 2) + "\n");
JS

size() { printf "%s bytes (%s gzipped)" "$(stat -c %s "$1")" "$(gzip -9 -c "$1" | wc -c)"; }
echo "built pkg/: marketo_connector_bg.wasm $(size pkg/nodejs/marketo_connector_bg.wasm);" \
  "the browser entry inlines it as wasm-base64.js, $(size pkg/wasm-base64.js)"
bash scripts/build-cli.sh
