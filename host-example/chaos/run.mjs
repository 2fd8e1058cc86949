// Long chaos runs of the built package (not part of the test command):
//   node host-example/chaos/run.mjs [--seeds 1,2,3 | --seeds 1-20] [--events 50000]
//                                   [--fault-rate 0.08] [--restore-rate 0.004]
// Prints one JSON line per seed; exits 1 at the first violation, naming its seed.
import { parseArgs } from "node:util";
import { runChaos } from "./chaos.mjs";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "1,2,3" },
    events: { type: "string", default: "50000" },
    "fault-rate": { type: "string", default: "0.08" },
    "restore-rate": { type: "string", default: "0.004" },
  },
});
const seeds = values.seeds.includes("-")
  ? (([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i))(values.seeds.split("-").map(Number))
  : values.seeds.split(",").map(Number);
for (const seed of seeds) {
  const started = Date.now();
  try {
    const report = await runChaos({
      seed, events: Number(values.events), faultRate: Number(values["fault-rate"]),
      restoreRate: Number(values["restore-rate"]), progress: (line) => console.error(line),
    });
    console.log(JSON.stringify({ ...report, wallMs: Date.now() - started }));
  } catch (e) {
    console.error(`FAILED (seed ${seed}): ${e.message}`);
    process.exit(1);
  }
}
