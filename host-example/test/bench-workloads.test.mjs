// The package benchmark's workloads that the performance budget (scripts/perf-budget.sh) does not
// run, run once each so that the README's `node host-example/bench/package.mjs` keeps working:
// each must print its rows with a finite ratio. Their figures are not checked here (README
// "Performance" says why they have no budget). The backlog workload, then outside the budget,
// broke unnoticed once: a warm-up promise rejected DESTROYED without a handler when it freed
// its connector.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { measure } from "../bench/package.mjs";

const budgeted = new Set(JSON.parse(readFileSync(new URL("../bench/budgets.json", import.meta.url), "utf8")).workloads);
const { workloads } = await import("../bench/package.mjs");
const others = Object.keys(workloads).filter((name) => !budgeted.has(name));

test("the workloads outside the budget are the end-to-end ones", () => {
  assert.deepEqual(others.sort(), ["e2eListAdds", "e2eUpserts"]);
});

for (const name of others) {
  test(`bench workload ${name} runs and prints its rows`, { timeout: 180_000 }, () => {
    const rows = measure([name], 1);
    assert.ok(rows.length > 0, `${name} printed no row`);
    for (const r of rows) assert.ok(Number.isFinite(r.ratio) && r.ratio > 0, `${r.id}: ratio ${r.ratio}`);
  });
}
