// The call-count benchmark's workloads as tests: the connector must spend exactly the minimum
// number of Marketo calls the limits allow (host-example/bench/calls.mjs computes it), deliver
// every event one final outcome, and never provoke 606/615. A change that costs more calls fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { workloads } from "../bench/calls.mjs";

for (const [name, run] of Object.entries(workloads)) {
  test(`calls/minimum is 1.0: ${name}`, { timeout: 120_000 }, async () => {
    const r = await run();
    assert.equal(r.outcomes, r.events, "every event has its final outcome");
    assert.equal(r.rateLimited, 0, "no 606/615");
    assert.equal(r.calls, r.minimum, `${r.name}: ${r.calls} calls for a minimum of ${r.minimum}`);
  });
}
