// The README's command-line example, run exactly as written (the block between
// `<!-- cli-example -->` markers) with bash from the repository root, on a free port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

test("the README's command-line example runs as written against the simulator", async () => {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const block = /<!-- cli-example -->\n```sh\n([\s\S]*?)```\n<!-- \/cli-example -->/.exec(readme)?.[1];
  assert.ok(block, "the README has the example block");
  const port = await freePort();
  for (const f of ["/tmp/outcomes.ndjson", "/tmp/backfill.checkpoint"]) rmSync(f, { force: true });
  const r = spawnSync("bash", ["-c", block.replaceAll("8787", String(port))], {
    cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /summary: 4 events, failed 1, delivered 3; Marketo calls 2, identity calls 1; /);
  assert.match(r.stdout, /^exit status 1$/m);
  const outcomes = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.deepEqual(outcomes.map((o) => [o.eventId, o.status]).sort(), [["u-1", "delivered"], ["u-2", "delivered"], ["u-3", "failed"], ["u-4", "delivered"]]);
  assert.match(r.stdout, /^1001 {2}Simulator List$/m);
});
