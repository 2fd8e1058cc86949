// The package's costs against baselines measured in the same run (issue 14's table): per-event
// cost of process(), how it scales with queued rows and pending promises, memory against the
// bytes queued, the .wasm size, cold start. Each timing is the median of RUNS runs.
//
//   node host-example/bench/package.mjs            (after bash scripts/build.sh)
//   BENCH_RUNS=7 node host-example/bench/package.mjs
//
// Marketo is an in-process fetch that answers at once (or never, where a call must stay in
// flight), so the figures are the connector's own work, not the network.
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WASM = fileURLToPath(new URL("../../pkg/nodejs/marketo_connector_bg.wasm", import.meta.url));
const fixture = JSON.parse(readFileSync(new URL("../../fixtures/eventstream-event.json", import.meta.url), "utf8"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const settings = (actions, limits = {}) => ({
  clientId: "bench", clientSecret: "bench-secret", endpointUrl: "https://123-ABC-123.mktorest.com/rest",
  identityUrl: "https://123-ABC-123.mktorest.com/identity", limits: { callsPer20s: 100, concurrency: 10, ...limits }, actions,
});
const answering = async (url, init) => {
  const body = url.includes("oauth")
    ? '{"access_token":"t:ab","token_type":"bearer","expires_in":3600,"scope":"s"}'
    : JSON.stringify({ requestId: "r#1", success: true, result: [] });
  return { status: 200, text: async () => body };
};
const hanging = (url) => (url.includes("oauth") ? answering(url) : new Promise(() => {}));
const host = (fetch = answering) => ({ fetch, now: Date.now, setTimer() {}, seed: 1 });

const TEN_FIELDS = [
  ["email", "data.udo.customer_email"], ["firstName", "data.udo.customer_first_name"],
  ["lastName", "data.udo.customer_last_name"], ["company", "data.udo.company"],
  ["orderTotal", "data.udo.order_total"], ["notes", "data.udo.notes"], ["city", "data.udo.city"],
  ["country", "data.udo.country"], ["phone", "data.udo.phone"],
].map(([field, attribute]) => ({ field, source: { attribute } }));
TEN_FIELDS.push({ field: "signupDate", source: { attribute: "data.udo.signup_date" }, type: "date" });
const upsertBatched = { id: "upb", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate", leadData: TEN_FIELDS };
const listByEmail = { id: "addb", type: "addLeadToListBatched", targetStaticList: 1001,
  leadIdLookup: { filterType: "email", source: { attribute: "data.udo.customer_email" } } };
const bulk = { id: "bulk", type: "bulkImportLeads", leadLookupField: "email", leadData: TEN_FIELDS };
const event = (i) => {
  const e = structuredClone(fixture);
  Object.assign(e.data.udo, { customer_email: `p${i}@example.com`, city: "Lyon", country: "FR", phone: "+33 1 23 45 67 89", signup_date: "2026-11-28T09:30:00Z" });
  return e;
};

/** µs per call of `fn(i)` over `n` calls. */
function perCall(n, fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}
const copyCost = (events) => perCall(events.length, (i) => JSON.parse(JSON.stringify(events[i])));

const rows = [];
const mark = (s) => process.env.BENCH_TRACE && console.error(`[${new Date().toISOString()}] ${s}`);
const row = (what, value, baseline, unit, goal) => {
  rows.push({ what, ratio: value / baseline, value, baseline, unit, goal });
};

// --- per-event cost, batch not due: process() not awaited, against a JSON copy of the event ---
for (const [name, action] of [["createOrUpdateLeadBatched, 10 fields incl. a date", upsertBatched], ["addLeadToListBatched, email lookup", listByEmail]]) {
  const events = Array.from({ length: 299 * 20 }, (_, i) => event(i));
  const ratios = [];
  for (let r = 0; r < RUNS; r++) {
    const c = new Connector(settings([action]), host());
    copyCost(events.slice(0, 500)); // warm
    const base = copyCost(events);
    // A fresh connector every 299 events keeps the batch not due.
    let conn = c;
    const cost = perCall(events.length, (i) => {
      if (i % 299 === 0) conn = new Connector(settings([action]), host());
      conn.process(action.id, events[i], `e${i}`);
    });
    ratios.push(cost / base);
  }
  row(`process() per event, ${name}`, median(ratios), 1, "× a JSON copy", "≤ 1.0×");
}

mark("bulk");
// --- bulk: per-event cost as the queue grows, and memory against the CSV bytes ---
{
  const events = Array.from({ length: 24_000 }, (_, i) => event(i));
  const c = new Connector(settings([bulk]), host());
  const base = copyCost(events.slice(0, 5000));
  const mem0 = process.memoryUsage();
  const costs = [];
  for (let k = 0; k < 24; k++) {
    costs.push(perCall(1000, (i) => c.process("bulk", events[k * 1000 + i], `b${k * 1000 + i}`)));
  }
  const at = (from, to) => median(costs.slice(from / 1000, to / 1000));
  row("process() per event, bulkImportLeads, 5k–15k rows queued", at(5000, 15000) / base, 1, "× a JSON copy", "≤ 1.0×");
  row("same, bulk 18k–24k rows queued, against ≤ 8k rows", at(18000, 24000) / at(0, 8000), 1, "× the cost at ≤ 8k", "≤ 1.5×");
  const csvBytes = events.slice(0, 24_000).reduce((n, e) => n + TEN_FIELDS.length * 12 + JSON.stringify(e.data.udo).length / 3, 0);
  const mem1 = process.memoryUsage();
  const grown = (mem1.arrayBuffers - mem0.arrayBuffers) + (mem1.heapUsed - mem0.heapUsed);
  row("memory with 24,000 bulk rows queued (wasm + JS heap growth)", grown / csvBytes, 1, "× the CSV bytes (estimated)", "≤ 2×");
}

mark("pending");
// --- process() not awaited while a call is in flight: 1k vs 20k pending promises ---
{
  const ratios = [];
  for (let r = 0; r < RUNS; r++) {
    const upsert = { id: "up", type: "createOrUpdateLead", updateStrategy: "createOrUpdate", leadData: TEN_FIELDS.slice(0, 3) };
    const c = new Connector(settings([upsert], { concurrency: 10 }), host(hanging));
    const events = Array.from({ length: 21_000 }, (_, i) => event(i));
    const first = perCall(1000, (i) => c.process("up", events[i], `h${i}`));
    perCall(18_000, (i) => c.process("up", events[1000 + i], `h${1000 + i}`));
    const last = perCall(1000, (i) => c.process("up", events[19_000 + i], `h${19_000 + i}`));
    ratios.push(last / first);
  }
  row("process() not awaited, calls in flight: at 20k pending vs at 1k", median(ratios), 1, "× the cost at 1k", "≤ 1.5×");
}

mark("size");
// --- size and cold start ---
{
  const gz = gzipSync(readFileSync(WASM), { level: 9 }).length;
  row(".wasm gzipped", gz / 1024, 120, "KB (against 120 KB)", "< 1.0×");
  const times = (args) => {
    const xs = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = process.hrtime.bigint();
      execFileSync(process.execPath, args);
      xs.push(Number(process.hrtime.bigint() - t0));
    }
    return median(xs);
  };
  const cold = `const {Connector}=require(${JSON.stringify(fileURLToPath(new URL("../../pkg/nodejs/marketo_connector.js", import.meta.url)))});` +
    `const c=new Connector(${JSON.stringify(settings([upsertBatched]))},{fetch:()=>new Promise(()=>{}),now:Date.now,setTimer(){}});` +
    `c.process("upb",{data:{udo:{customer_email:"a@b.c"}}},"e1");`;
  row("cold start: load, instantiate, construct, first process()", times(["-e", cold]) / times(["-e", "0"]), 1, "× node -e 0", "≤ 1.1×");
}

console.log(`node ${process.version}, ${RUNS} runs each (median), ${statSync(WASM).size} B .wasm`);
console.log(`${"what".padEnd(66)} ${"ratio".padStart(7)}  goal`);
for (const r of rows) console.log(`${r.what.padEnd(66)} ${r.ratio.toFixed(2).padStart(7)}  ${r.goal} (${r.unit})`);
