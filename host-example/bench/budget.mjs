// The performance budget (issue 14), run by scripts/test.sh after the package build: the cheap
// rows of package.mjs, each a ratio to a baseline measured in the same run, median of
// budgets.json's `runs` runs, against the budget in budgets.json. Fails naming every row over
// its budget × (1 + tolerance).
//
//   node host-example/bench/budget.mjs          (after bash scripts/build.sh)
//   BENCH_RUNS=5 node host-example/bench/budget.mjs
//   BENCH_BUDGETS=/tmp/budgets.json node host-example/bench/budget.mjs
//
// A budget is today's measured ratio, not the goal: it stops regressions while the goals (the
// `goal` column, issue 14's) are not met yet. After an improvement, lower the budget in
// budgets.json to the new figure (package.mjs prints it); never raise one to make a change pass
// without saying why in the commit.
import { readFileSync } from "node:fs";
import { measure } from "./package.mjs";

// BENCH_BUDGETS: another budget file (to try a change of budgets, or the failure message).
const file = process.env.BENCH_BUDGETS ?? new URL("./budgets.json", import.meta.url);
const config = JSON.parse(readFileSync(file, "utf8"));
const runs = Number(process.env.BENCH_RUNS ?? config.runs);
const t0 = performance.now();
const rows = measure(config.workloads, runs);
const seconds = ((performance.now() - t0) / 1000).toFixed(0);

const over = [];
const lines = [];
const byId = new Map(rows.map((r) => [r.id, r]));
for (const [id, b] of Object.entries(config.rows)) {
  const r = byId.get(id);
  if (!r) {
    over.push(`${id}: budgets.json has a budget for it, but no workload printed the row`);
    continue;
  }
  const limit = b.budget * (1 + b.tolerance);
  const ok = r.ratio <= limit;
  // Three decimals: at two, a row just over its limit could read "0.17 … (≤ 0.17) OVER".
  lines.push(`${ok ? "ok  " : "OVER"} ${r.what.padEnd(78)} ${r.ratio.toFixed(3).padStart(6)}  budget ${b.budget.toFixed(3)} +${Math.round(b.tolerance * 100)}% ` +
    `(≤ ${limit.toFixed(3)})  goal ≤ ${b.goal} ${r.unit}${r.detail ? `  [${r.detail}]` : ""}`);
  if (!ok) {
    over.push(`${id} ("${r.what}"): ${r.ratio.toFixed(3)} ${r.unit}, over its budget ${b.budget} + ${Math.round(b.tolerance * 100)}% = ${limit.toFixed(3)} (goal ${b.goal})`);
  }
}
for (const r of rows) if (!(r.id in config.rows)) lines.push(`(no budget) ${r.id}: ${r.ratio.toFixed(2)} ${r.unit}`);

console.log(`performance budget: ${rows.length} rows, median of ${runs} runs each, ${seconds} s (node ${process.version})`);
console.log(lines.join("\n"));
if (over.length) {
  console.error(`\nperformance budget exceeded (${process.env.BENCH_BUDGETS ?? "host-example/bench/budgets.json"}):\n  ${over.join("\n  ")}`);
  process.exit(1);
}
