// The README's command-line example, run exactly as written (the block between
// `<!-- cli-example -->` markers) with bash from the repository root, on a free port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  // Its files in a folder of the test's own, not /tmp itself: a reader trying the example
  // while the tests run must not share (or lose) the checkpoint and outcomes files.
  const dir = mkdtempSync(join(tmpdir(), "cli-readme-"));
  const script = block.replaceAll("8787", String(port)).replaceAll("/tmp/", `${dir}/`);
  assert.equal(block.match(/\/tmp\//g)?.length, 4, "the example's files are all under /tmp/");
  const r = spawnSync("bash", ["-c", script], {
    cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /summary: 4 events, failed 1, delivered 3; Marketo calls 2, identity calls 1; /);
  assert.match(r.stdout, /^exit status 1$/m);
  const outcomes = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.deepEqual(outcomes.map((o) => [o.eventId, o.status]).sort(), [["u-1", "delivered"], ["u-2", "delivered"], ["u-3", "failed"], ["u-4", "delivered"]]);
  assert.match(r.stdout, /^1001 {2}Simulator List$/m);
});
