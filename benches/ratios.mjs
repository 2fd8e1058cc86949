// Issue 14's ratios from the last `cargo bench --bench engine`: in each criterion group, every
// bench's median time over each of the group's baselines (the benches named "baseline: …"),
// read from target/criterion/<group>/<bench>/new/{benchmark,estimates}.json.
//
//   cargo bench --bench engine && node benches/ratios.mjs
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../target/criterion/", import.meta.url).pathname;
if (!existsSync(root)) throw new Error("no target/criterion: run cargo bench --bench engine first");
const benches = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory() || name === "report" || name === "base" || name === "change") continue;
    if (name === "new") {
      const b = JSON.parse(readFileSync(join(path, "benchmark.json"), "utf8"));
      const e = JSON.parse(readFileSync(join(path, "estimates.json"), "utf8"));
      benches.push({ group: b.group_id, name: [b.function_id, b.value_str].filter(Boolean).join(" / "), ns: e.median.point_estimate });
    } else walk(path);
  }
};
walk(root);
// Benches judged against one baseline only (the rest get every baseline of their group).
const against = { "snapshot()": "baseline: the events to JSON text", "restore()": "baseline: the events from JSON text" };
const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : `${(ns / 1e3).toFixed(2)} µs`);
for (const group of [...new Set(benches.map((b) => b.group))].sort()) {
  const inGroup = benches.filter((b) => b.group === group);
  const bases = inGroup.filter((b) => b.name.startsWith("baseline"));
  console.log(`\n${group}`);
  for (const b of inGroup) {
    const mine = against[b.name] ? bases.filter((x) => x.name === against[b.name]) : bases;
    const ratios = b.name.startsWith("baseline") ? "" : mine.map((x) => `${(b.ns / x.ns).toFixed(2)}× ${x.name.replace(/^baseline: /, "")}`).join(", ");
    console.log(`  ${b.name.padEnd(48)} ${fmt(b.ns).padStart(10)}  ${ratios}`);
  }
  // Flatness: the cost with the deepest queue against the shallowest.
  const deep = inGroup.find((b) => b.name.endsWith("18k–24k rows queued"));
  const shallow = inGroup.find((b) => b.name.endsWith("0k–8k rows queued"));
  if (deep && shallow) console.log(`  flatness: 18k–24k rows against 0k–8k rows: ${(deep.ns / shallow.ns).toFixed(2)}×`);
}
