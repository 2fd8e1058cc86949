// The chaos test of the built package (issue 8): three seeds × 10,000 events across all nine
// actions, 8% of Marketo calls faulted, snapshot → restore at random moments; see
// host-example/chaos/chaos.mjs for what is checked. Longer runs: `bash scripts/chaos.sh`.
// A failure names its seed; `node host-example/chaos/run.mjs --seeds N --events 10000` replays it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runChaos } from "../chaos/chaos.mjs";

for (const seed of [1, 2, 3]) {
  test(`chaos seed ${seed}: 10,000 events, faults and restores, every event final exactly once`, async () => {
    const report = await runChaos({ seed, events: 10_000 });
    assert.equal(report.finals, report.events);
    assert.ok(report.restores >= 10, `restores happened: ${report.restores}`);
    assert.ok(report.faults >= 300, `faults happened: ${report.faults}`);
  });
}
