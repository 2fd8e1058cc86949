// The call-count benchmark's workloads as tests: the connector must spend exactly the minimum
// number of Marketo calls the limits allow (host-example/bench/calls.mjs computes it), deliver
// every event one final outcome, and never provoke 606/615. A change that costs more calls fails.
//
// Each workload runs in a process of its own: on Node 20.20, TurboFan crashed ("Fatal error …
// unreachable code", in the deoptimizer) optimizing the benchmark's own driver loop when the
// list workload ran before the upsert one in one process; alone, each runs clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const BENCH = fileURLToPath(new URL("../bench/calls.mjs", import.meta.url));

for (const name of ["listAdds", "upserts", "bulk"]) {
  test(`calls/minimum is 1.0: ${name}`, { timeout: 120_000 }, () => {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e",
      `const m = await import(${JSON.stringify(BENCH)}); console.log(JSON.stringify(await m.workloads.${name}()));`],
    { encoding: "utf8", timeout: 110_000 });
    const r = JSON.parse(out.trim().split("\n").at(-1));
    assert.equal(r.outcomes, r.events, "every event has its final outcome");
    assert.equal(r.rateLimited, 0, "no 606/615");
    assert.equal(r.calls, r.minimum, `${r.name}: ${r.calls} calls for a minimum of ${r.minimum}`);
  });
}
