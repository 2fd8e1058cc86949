// One Durable Object's throughput: how many webhook requests and events one Marketo instance's
// object accepts per second (each one stored in a snapshot before its 202), in workerd through
// miniflare, with the simulator on loopback as Marketo. After `bash scripts/build.sh`:
//
//   node host-example/bench/worker.mjs [--clients 50] [--requests 2000]
//
// Batched actions are measured (list adds, 300 to a Marketo call), since a non-batched action
// is bound by Marketo's own limits long before the object: 100 calls per 20 s is 5 events a
// second per instance, whatever the host.
import { parseArgs } from "node:util";
import { edgeHarness } from "../test/worker-harness.mjs";

const { values } = parseArgs({ options: { clients: { type: "string", default: "50" }, requests: { type: "string", default: "2000" } } });
const clients = Number(values.clients);
const total = Number(values.requests);

const h = await edgeHarness();
const out = [];
try {
  h.sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }] });
  for (const perRequest of [1, 10, 100]) {
    const w = await h.startWorker();
    try {
      let next = 0;
      let failed = 0;
      const latencies = [];
      const t0 = performance.now();
      await Promise.all(Array.from({ length: clients }, async () => {
        while (next < total) {
          const r = next++;
          const body = Array.from({ length: perRequest }, (_, k) =>
            JSON.stringify({ data: { udo: { customer_email: `tp.${perRequest}.${r}.${k}@example.com`, event_id: `tp-${perRequest}-${r}-${k}` } } })).join("\n");
          const s = performance.now();
          const res = await w.call("POST", "/events/newsletter", body);
          latencies.push(performance.now() - s);
          if (res.status !== 202) failed++;
        }
      }));
      const secs = (performance.now() - t0) / 1000;
      const health = (await w.call("GET", "/health")).body;
      latencies.sort((a, b) => a - b);
      const p = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(0);
      out.push(`${clients} clients, ${total} requests of ${String(perRequest).padStart(3)} event(s): ` +
        `${(total / secs).toFixed(0).padStart(5)} requests/s, ${(total * perRequest / secs).toFixed(0).padStart(6)} events/s, ` +
        `latency p50 ${p(0.5)} ms p99 ${p(0.99)} ms, ${health.storage.commits} snapshots stored, ${failed} refused`);
      console.error(out.at(-1));
    } finally {
      await w.dispose();
    }
  }
} finally {
  await h.close();
}
console.log(out.join("\n"));
