// The edge host (host-example/worker/) as a team deploys it, for the workerd tests and the
// benchmark: a copy of the Worker outside the repository with the packed package installed
// beside it, bundled by `wrangler deploy --dry-run`, run by miniflare (workerd) with its Durable
// Object (SQLite-backed, storage on disk) against the Marketo simulator on loopback.
//
// Time: the Worker's test hook (TEST_HOOKS=enabled) offsets the Durable Object's clock; the
// simulator reads the same offset, so a 30-minute batch age or a 20 s rate window passes in
// milliseconds and both sides agree on when each call happened.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startSimulator } from "../simulator/marketo-sim.mjs";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../..", import.meta.url));
export const SECRET = "test-webhook-secret-7d1c";
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** wrangler.jsonc without its comment lines. */
const jsonc = (text) => JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));

export async function edgeHarness(simOptions = {}) {
  assert.ok(existsSync(join(repo, "pkg", "package.json")), "build the package first: bash scripts/build.sh");
  const dir = mkdtempSync(join(tmpdir(), "marketo-edge-"));
  const worker = join(dir, "worker");
  cpSync(join(repo, "host-example", "worker"), worker, {
    recursive: true,
    filter: (p) => !/node_modules|dist|\.wrangler/.test(p.slice(repo.length)),
  });
  // The copy installs only the packed package: wrangler, its dev dependency, is the repository's
  // own (node_modules/.bin, from the root lockfile). Listed, it made `npm install --offline`
  // look up wrangler's registry entry, which a fresh machine's npm cache does not hold.
  const manifest = JSON.parse(readFileSync(join(worker, "package.json"), "utf8"));
  delete manifest.devDependencies;
  writeFileSync(join(worker, "package.json"), JSON.stringify(manifest, null, 2));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir, join(repo, "pkg")], { encoding: "utf8" });
  const tarball = join(dir, packed.trim().split("\n").pop());
  execFileSync("npm", ["install", "--offline", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: worker });
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG_PATH: join(dir, "wrangler-logs"), XDG_CONFIG_HOME: join(dir, ".config"), CI: "true" };
  const out = await run(join(repo, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", "dist"], { cwd: worker, env })
    .catch((e) => assert.fail(`wrangler deploy --dry-run failed:\n${e.stdout}\n${e.stderr}`));
  const dist = join(worker, "dist");
  const vars = jsonc(readFileSync(join(worker, "wrangler.jsonc"), "utf8")).vars;
  const clock = { offset: 0 }; // the virtual clock's lead over real time
  const sim = await startSimulator({ clock: () => Date.now() + clock.offset, ...simOptions });

  /** The Worker in workerd; `config` replaces MARKETO_CONFIG, `extra` adds or replaces bindings. */
  async function startWorker({ config, persist = join(dir, `storage-${Math.random().toString(36).slice(2)}`), extra = {}, sqlite = true } = {}) {
    const { Miniflare } = await import("miniflare");
    const mf = new Miniflare({
      modules: true,
      scriptPath: join(dist, "index.js"),
      modulesRoot: dist,
      modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
      compatibilityDate: "2026-04-01",
      durableObjects: { MARKETO: { className: "MarketoInstance", useSQLite: sqlite } },
      durableObjectsPersist: persist,
      bindings: {
        ...vars,
        ...(config ? { MARKETO_CONFIG: config } : {}),
        MARKETO_CLIENT_ID: sim.clientId,
        MARKETO_CLIENT_SECRET: sim.clientSecret,
        MARKETO_ENDPOINT_URL: sim.endpointUrl,
        MARKETO_IDENTITY_URL: sim.identityUrl,
        WEBHOOK_SECRET: SECRET,
        TEST_HOOKS: "enabled",
        ...extra,
      },
    });
    await mf.ready;
    const call = async (method, path, body, headers = {}) => {
      const res = await mf.dispatchFetch(`http://edge.test${path}`, {
        method,
        headers: { authorization: `Bearer ${SECRET}`, ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, body: json };
    };
    /** Moves the shared virtual clock `ms` ahead; the object re-arms its alarm for it. */
    const advance = async (ms) => {
      clock.offset += ms;
      const r = await call("POST", "/test/clock", { offsetMs: clock.offset });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    /** Every final outcome after `after`, read through the cursor `limit` at a time. */
    const readOutcomes = async (after = 0, limit = 1000) => {
      const all = [];
      let cursor = after;
      for (let i = 0; i < 1000; i++) {
        const { status, body } = await call("GET", `/outcomes?after=${cursor}&limit=${limit}`);
        assert.equal(status, 200, JSON.stringify(body));
        all.push(...body.outcomes);
        assert.ok(body.cursor >= cursor, "the cursor never goes back");
        cursor = body.cursor;
        if (!body.more) break;
        assert.ok(body.outcomes.length > 0, "more: true with nothing returned");
      }
      return { outcomes: all, cursor };
    };
    /** Reads outcomes until `n` have come (bounded: about 10 s). */
    const waitOutcomes = async (n, after = 0) => {
      const got = [];
      let cursor = after;
      for (let i = 0; i < 200 && got.length < n; i++) {
        const r = await readOutcomes(cursor);
        got.push(...r.outcomes);
        cursor = r.cursor;
        if (got.length < n) await sleep(50);
      }
      return { outcomes: got, cursor };
    };
    return { mf, call, advance, readOutcomes, waitOutcomes, persist, dispose: () => mf.dispose() };
  }

  return {
    dir, dist, dryRun: out.stdout, vars, sim, clock, startWorker,
    close: async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
