// The npm package as a user gets it: `npm pack` of pkg/ (after `bash scripts/build.sh`),
// installed into a temporary folder outside the repository, then used from there in every
// runtime the package claims: Node (CommonJS and ESM, and the README's quick start against the
// Marketo simulator), TypeScript --strict, publint and arethetypeswrong, Deno through `npm:`,
// a Worker bundled by wrangler and run in workerd by miniflare, and headless Chromium.
//
// The quick starts are read from the installed package's README (scripts/build.sh copies them
// from the repository README), so what the README says is what runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startSimulator } from "../host-example/simulator/marketo-sim.mjs";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("..", import.meta.url));
const tool = (name) => join(repo, "node_modules", ".bin", name);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const cargoVersion = readFileSync(join(repo, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];

let dir; // the consumer folder, outside the repository
let tarball;
let readme; // the installed package's README
let sim;

before(async () => {
  assert.ok(existsSync(join(repo, "pkg", "package.json")), "build the package first: bash scripts/build.sh");
  dir = mkdtempSync(join(tmpdir(), "marketo-connector-consumer-"));
  assert.ok(!dir.startsWith(repo), `${dir} must be outside the repository`);
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir, join(repo, "pkg")], { encoding: "utf8" });
  tarball = join(dir, packed.trim().split("\n").pop());
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: dir });
  readme = readFileSync(join(dir, "node_modules", "marketo-connector", "README.md"), "utf8");
  sim = await startSimulator();
});

after(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The `n`th fenced block of language `lang` under the README heading `### title`. */
function block(title, lang, n = 0) {
  const start = readme.indexOf(`\n### ${title}\n`);
  assert.ok(start >= 0, `README has no "### ${title}" section`);
  const next = readme.indexOf("\n### ", start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const blocks = [...section.matchAll(new RegExp("```" + lang + "\\n([^]*?)```", "g"))].map((m) => m[1]);
  assert.ok(blocks[n], `README "### ${title}" has no ${lang} block #${n}`);
  return blocks[n];
}

function write(path, text) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

const simEnv = () => ({
  MARKETO_CLIENT_ID: sim.clientId,
  MARKETO_CLIENT_SECRET: sim.clientSecret,
  MARKETO_ENDPOINT_URL: sim.endpointUrl,
  MARKETO_IDENTITY_URL: sim.identityUrl,
});

const leadByEmail = (email) => [...sim.state.leads.values()].find((l) => l.email === email);

/** Runs a program in the consumer folder (asynchronously: the simulator answers meanwhile). */
async function runIn(cmd, args, env = {}) {
  try {
    return await run(cmd, args, { cwd: dir, env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 120_000 });
  } catch (e) {
    assert.fail(`${cmd} ${args.join(" ")} failed (${e.code}):\n${e.stdout}\n${e.stderr}`);
  }
}

// A program exercising the package with a fake Marketo, printing what it saw as JSON.
const PROBE = `
const host = {
  now: () => 1764331200000, setTimer() {},
  fetch: async (url, init) => url.endsWith("/oauth/token")
    ? { status: 200, text: async () => '{"access_token":"t","token_type":"bearer","expires_in":3600}' }
    : { status: 200, text: async () => JSON.stringify({ requestId: "r1", success: true, result: [{ id: 7, status: "created" }] }) },
};
const settings = { clientId: "id", clientSecret: "secret", endpointUrl: "https://1-A-1.mktorest.com/rest",
  identityUrl: "https://1-A-1.mktorest.com/identity",
  actions: [{ id: "upsert", type: "createOrUpdateLead", updateStrategy: "createOrUpdate", leadData: [{ field: "email", source: { attribute: "email" } }] }] };
async function probe(Connector) {
  const c = new Connector(settings, host);
  const outcomes = await c.process("upsert", { email: "a@example.com" }, "e1");
  c.free();
  const seen = { outcomes, destroyed: {} };
  for (const m of ["snapshot", "stats"]) {
    try { c[m](); seen.destroyed[m] = "returned"; } catch (e) { seen.destroyed[m] = [e instanceof Error, e.code, "sync"]; }
  }
  try { c.preview("upsert", {}); } catch (e) { seen.destroyed.preview = [e instanceof Error, e.code, "sync"]; }
  for (const m of ["process", "wake", "flush", "staticLists", "triggerableCampaigns"]) {
    let p;
    try { p = m === "process" ? c.process("upsert", {}) : c[m](); } catch (e) { seen.destroyed[m] = ["threw", e.code]; continue; }
    seen.destroyed[m] = await p.then(() => "resolved", (e) => [e instanceof Error, e.code, p instanceof Promise ? "async" : "?"]);
  }
  try { new Connector({ ...settings, actions: [{ id: "x", type: "createOrUpdateLead", updateStrategy: "createOrUpdat", leadData: [] }] }, host); }
  catch (e) { seen.invalid = [e instanceof Error, e.code]; }
  return seen;
}
`;

function assertProbe(seen) {
  assert.deepEqual(seen.outcomes, [{ eventId: "e1", actionId: "upsert", status: "delivered", leadIds: [7], requestId: "r1" }]);
  for (const m of ["snapshot", "stats", "preview"]) assert.deepEqual(seen.destroyed[m], [true, "DESTROYED", "sync"], m);
  for (const m of ["process", "wake", "flush", "staticLists", "triggerableCampaigns"]) {
    assert.deepEqual(seen.destroyed[m], [true, "DESTROYED", "async"], m);
  }
  assert.deepEqual(seen.invalid, [true, "INVALID_ACTION"]);
}

test("CommonJS: require() by name, package.json exported, free() then DESTROYED", async () => {
  write(join(dir, "cjs.cjs"), `${PROBE}
const { Connector } = require("marketo-connector");
const { version } = require("marketo-connector/package.json");
probe(Connector).then((seen) => console.log(JSON.stringify({ ...seen, version })));
`);
  const { stdout } = await runIn(process.execPath, ["cjs.cjs"]);
  const seen = JSON.parse(stdout);
  assertProbe(seen);
  assert.equal(seen.version, cargoVersion);
});

test("ESM: import by name, the same module as require(), free() then DESTROYED", async () => {
  write(join(dir, "esm.mjs"), `${PROBE}
import { Connector } from "marketo-connector";
import { createRequire } from "node:module";
const same = createRequire(import.meta.url)("marketo-connector").Connector === Connector;
console.log(JSON.stringify({ ...(await probe(Connector)), same }));
`);
  const { stdout } = await runIn(process.execPath, ["esm.mjs"]);
  const seen = JSON.parse(stdout);
  assertProbe(seen);
  assert.equal(seen.same, true, "import and require must share one instance");
});

test("the README's Node quick start, pasted, upserts a lead in the simulator", async () => {
  write(join(dir, "node-quick-start.mjs"), block("Node", "js"));
  const { stdout } = await runIn(process.execPath, ["node-quick-start.mjs"], simEnv());
  assert.match(stdout, /^event-1 delivered \[ \d+ \]/m);
  const lead = leadByEmail("jane.doe@example.com");
  assert.equal(lead?.firstName, "Jane");
  assert.match(stdout, new RegExp(`event-1 delivered \\[ ${lead.id} \\]`));
});

test("TypeScript --strict: typed examples compile with Node's, DOM and workers types; misspellings do not", async () => {
  for (const f of ["usage.ts", "misspelled.ts"]) write(join(dir, "types", f), readFileSync(new URL(`types/${f}`, import.meta.url), "utf8"));
  write(join(dir, "types", "readme.ts"), block("TypeScript", "ts"));
  // The type libraries come from the repository's devDependencies.
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  mkdirSync(join(dir, "node_modules", "@cloudflare"), { recursive: true });
  symlinkSync(join(repo, "node_modules", "@types", "node"), join(dir, "node_modules", "@types", "node"));
  symlinkSync(join(repo, "node_modules", "@cloudflare", "workers-types"), join(dir, "node_modules", "@cloudflare", "workers-types"));
  const files = ["types/usage.ts", "types/misspelled.ts", "types/readme.ts"];
  const configs = {
    node: { module: "nodenext", lib: ["es2022", "dom"], types: ["node"] },
    workers: { module: "esnext", moduleResolution: "bundler", customConditions: ["workerd"], lib: ["es2022"], types: ["@cloudflare/workers-types"] },
    browser: { module: "esnext", moduleResolution: "bundler", customConditions: ["browser"], lib: ["es2022", "dom"], types: [] },
  };
  for (const [name, options] of Object.entries(configs)) {
    const compilerOptions = { strict: true, noEmit: true, target: "es2022", skipLibCheck: false, ...options };
    write(join(dir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files }));
    const { stdout } = await runIn(tool("tsc"), ["-p", `tsconfig.${name}.json`, "--pretty", "false"]);
    assert.equal(stdout, "", `tsc (${name}) reported:\n${stdout}`);
  }
  // The @ts-expect-error lines are what fails without them: every one is an error of its own.
  const stripped = readFileSync(join(dir, "types", "misspelled.ts"), "utf8").replace(/^\s*\/\/ @ts-expect-error.*\n/gm, "");
  write(join(dir, "types", "misspelled.ts"), stripped);
  const expected = (readFileSync(new URL("types/misspelled.ts", import.meta.url), "utf8").match(/^\s*\/\/ @ts-expect-error/gm) ?? []).length;
  const failed = await run(tool("tsc"), ["-p", "tsconfig.node.json", "--pretty", "false"], { cwd: dir }).then(() => null, (e) => e);
  assert.ok(failed, "misspelled.ts compiled without its @ts-expect-error lines");
  const lines = new Set([...failed.stdout.matchAll(/^types\/misspelled\.ts\((\d+),/gm)].map((m) => m[1]));
  assert.equal(lines.size, expected, failed.stdout);
});

test("publint --strict and arethetypeswrong find nothing", async () => {
  const publint = await runIn(tool("publint"), ["--strict", join(dir, "node_modules", "marketo-connector")]);
  assert.match(publint.stdout, /All good!/);
  const attw = await runIn(tool("attw"), [tarball, "--format", "json"]);
  const report = JSON.parse(attw.stdout);
  assert.deepEqual(report.analysis.problems, [], JSON.stringify(report.analysis.problems));
});

test("Deno: the README's Deno quick start and the Node one through npm:", async () => {
  const env = { ...simEnv(), DENO_DIR: join(dir, ".deno"), DENO_NO_UPDATE_CHECK: "1" };
  const flags = ["run", "--allow-net", "--allow-env", "--node-modules-dir=manual"];
  write(join(dir, "deno-quick-start.js"), block("Deno", "js"));
  const deno = await runIn(tool("deno"), [...flags, "deno-quick-start.js"], env);
  assert.match(deno.stdout, /eventId: "event-1"[^]*status: "delivered"/);
  write(join(dir, "deno-node-quick-start.mjs"), block("Node", "js").replace('from "marketo-connector"', 'from "npm:marketo-connector"'));
  const node = await runIn(tool("deno"), [...flags, "deno-node-quick-start.mjs"], env);
  assert.match(node.stdout, /^event-1 delivered \[ \d+ \]/m);
});

/** Writes a README Worker (its js and jsonc blocks) into `name`/ and bundles it with wrangler. */
async function bundleWorker(name, title) {
  const worker = join(dir, name);
  write(join(worker, "src", "index.js"), block(title, "js"));
  write(join(worker, "wrangler.jsonc"), block(title, "jsonc"));
  const env = { WRANGLER_SEND_METRICS: "false", WRANGLER_LOG_PATH: join(dir, "wrangler-logs"), XDG_CONFIG_HOME: join(dir, ".config"), CI: "true" };
  const { stdout } = await run(tool("wrangler"), ["deploy", "--dry-run", "--outdir", "dist"], { cwd: worker, env: { ...process.env, ...env } })
    .catch((e) => assert.fail(`wrangler failed:\n${e.stdout}\n${e.stderr}`));
  assert.match(stdout, /--dry-run: exiting now/);
  const dist = join(worker, "dist");
  const out = readdirSync(dist);
  assert.equal(out.filter((f) => f.endsWith(".wasm")).length, 1, `the workerd entry imports the .wasm as a module: ${out}`);
  assert.ok(readFileSync(join(dist, "index.js")).length < 200_000, "the bundle must not carry the inlined (browser) module");
  return dist;
}

/** Miniflare running a wrangler bundle in workerd, with the simulator's settings as bindings. */
async function miniflare(dist, options = {}) {
  const { Miniflare } = await import("miniflare");
  return new Miniflare({
    modules: true,
    scriptPath: join(dist, "index.js"),
    modulesRoot: dist,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
    bindings: simEnv(),
    ...options,
  });
}

test("workerd: the README's Worker, bundled by wrangler and run by miniflare, upserts a lead", async () => {
  const mf = await miniflare(await bundleWorker("worker", "Cloudflare Worker"));
  try {
    const res = await mf.dispatchFetch("http://worker.test/", { method: "POST", body: JSON.stringify({ email: "worker.user@example.com" }) });
    const outcomes = await res.json();
    assert.equal(res.status, 200);
    const lead = leadByEmail("worker.user@example.com");
    assert.ok(lead, "the lead reached the simulator");
    assert.deepEqual(outcomes.map((o) => [o.status, o.leadIds]), [["delivered", [lead.id]]]);
  } finally {
    await mf.dispose();
  }
});

test("workerd: the README's Durable Object batches, survives a restart, delivers each event once", async () => {
  sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }], leads: [{ id: 4242, email: "known.member@example.com" }] });
  const dist = await bundleWorker("worker-do", "Cloudflare Worker with a Durable Object");
  const options = {
    durableObjects: { MARKETO: { className: "MarketoInstance", useSQLite: true } },
    durableObjectsPersist: join(dir, "durable-objects"),
  };
  const post = async (mf, path, event) =>
    (await mf.dispatchFetch(`http://worker.test${path}`, { method: "POST", body: JSON.stringify(event ?? {}) })).json();
  const listCalls = () => sim.requests.filter((r) => r.path === "/rest/v1/lists/1001/leads.json").length;
  const before = listCalls();

  let mf = await miniflare(dist, options);
  try {
    assert.deepEqual((await post(mf, "/", { email: "known.member@example.com" })).map((o) => o.status), ["queued"]);
    assert.deepEqual((await post(mf, "/", { email: "do.user@example.com" })).map((o) => o.status), ["queued"]);
  } finally {
    await mf.dispose(); // the runtime goes away; the Durable Object's storage stays
  }
  assert.equal(listCalls(), before, "nothing sent yet: the events wait in their batch");

  mf = await miniflare(dist, options);
  try {
    const outcomes = await post(mf, "/flush");
    const created = leadByEmail("do.user@example.com");
    assert.ok(created, "the missing lead was created (addLead)");
    assert.deepEqual(outcomes.map((o) => [o.status, o.leadIds]).sort(), [["delivered", [4242]], ["delivered", [created.id]]].sort());
    assert.equal(listCalls(), before + 1, "one batched list call for both events");
    assert.deepEqual([...sim.state.lists.get(1001).members].sort(), [4242, created.id].sort());
    assert.deepEqual(await post(mf, "/flush"), [], "nothing left to deliver twice");
  } finally {
    await mf.dispose();
  }
});

test("browser: bundled with esbuild, no configuration, in headless Chromium", {
  skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (scripts/test.sh installs Debian's chromium)`,
}, async () => {
  const web = join(dir, "web");
  write(join(web, "quick-start.js"), block("Browser or bundler", "js"));
  write(join(web, "delivery.js"), readFileSync(new URL("browser-delivery.js", import.meta.url), "utf8"));
  const esbuild = await import("esbuild");
  for (const name of ["quick-start", "delivery"]) {
    await esbuild.build({
      absWorkingDir: web, entryPoints: [`${name}.js`], bundle: true, format: "esm", platform: "browser",
      outdir: "dist", logLevel: "silent",
    });
  }
  const out = readdirSync(join(web, "dist")).sort();
  assert.deepEqual(out, ["delivery.js", "quick-start.js"], "one JavaScript file each, no .wasm asset");
  const bundle = readFileSync(join(web, "dist", "quick-start.js"), "utf8");
  assert.doesNotMatch(bundle, /\.wasm["'`]/, "no reference to a .wasm file left in the bundle");

  // One origin serves the pages and forwards /rest and /identity to the simulator.
  const page = (src) => `<!doctype html><meta charset="utf-8"><body><script type="module" src="/${src}"></script></body>`;
  const server = createServer(async (req, res) => {
    if (req.url.startsWith("/rest/") || req.url.startsWith("/identity/")) {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const answer = await fetch(sim.url + req.url, {
        method: req.method,
        headers: { "content-type": req.headers["content-type"] ?? "", authorization: req.headers.authorization ?? "" },
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await answer.arrayBuffer()));
    } else if (req.url.endsWith(".js")) {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(readFileSync(join(web, "dist", req.url.slice(1))));
    } else {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(page(req.url.startsWith("/delivery") ? "delivery.js" : "quick-start.js"));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;

  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(dir, "chromium-profile-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const tab = await browser.newPage();
    const errors = [];
    tab.on("pageerror", (e) => errors.push(String(e)));
    tab.on("console", (m) => m.type() === "error" && errors.push(m.text()));

    await tab.goto(`${origin}/`);
    await tab.waitForFunction(() => document.body.textContent.includes("leads.json"), null, { timeout: 30_000 });
    const requests = JSON.parse(await tab.evaluate(() => document.body.textContent));
    assert.deepEqual(requests.map((r) => [r.method, r.url]), [["POST", "https://123-ABC-123.mktorest.com/rest/v1/leads.json"]]);
    assert.deepEqual(JSON.parse(requests[0].body).input, [{ email: "jane.doe@example.com" }]);

    await tab.goto(`${origin}/delivery.html?clientId=${sim.clientId}&clientSecret=${sim.clientSecret}`);
    await tab.waitForFunction(() => window.result, null, { timeout: 30_000 });
    const result = await tab.evaluate(() => window.result);
    const lead = leadByEmail("browser.user@example.com");
    assert.equal(lead?.company, "Chromium");
    assert.deepEqual(result.outcomes.map((o) => [o.eventId, o.status, o.leadIds]), [["browser-1", "delivered", [lead.id]]]);
    assert.equal(result.destroyed, "DESTROYED");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
