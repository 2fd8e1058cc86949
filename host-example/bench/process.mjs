// Per-event cost of process() in the built package, against plain JavaScript doing the same
// copy of the event in the same run (SPEC §8). Marketo is replaced by an in-process fetch that
// answers at once, so the figure is the connector's own work (boundary crossing, mapping,
// batching, request building, outcome routing), not the network.
//
//   node host-example/bench/process.mjs        (after bash scripts/build.sh)
import { readFileSync } from "node:fs";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";

const N = Number(process.env.BENCH_EVENTS ?? 30_000);
const event = JSON.parse(readFileSync(new URL("../../fixtures/eventstream-event.json", import.meta.url), "utf8"));
const leadData = [
  ["email", "data.udo.customer_email"], ["firstName", "data.udo.customer_first_name"],
  ["lastName", "data.udo.customer_last_name"], ["company", "data.udo.company"],
  ["orderTotal", "data.udo.order_total"], ["notes", "data.udo.notes"],
];

// The lead schema the instance describes (describe2, Adobe's shape: one lead object with its
// fields): the mapped fields, as text or a number. A shape the connector did not read left the
// batch waiting for the schema read's retry, which this host's setTimer never wakes.
const describe2 = JSON.stringify({ requestId: "d#1", success: true, result: [{ name: "API Lead", searchableFields: [["email"]],
  fields: leadData.map(([field]) => ({ name: field, displayName: field, dataType: field === "orderTotal" ? "float" : "string",
    updateable: true, crmManaged: false, ...(field === "orderTotal" ? {} : { length: 255 }) })) }] });
const fetch = async (url, init) => {
  const body = url.includes("/leads/describe2.json") ? describe2 : url.includes("oauth")
    ? '{"access_token":"t","token_type":"bearer","expires_in":3600,"scope":"s"}'
    : JSON.stringify({ requestId: "r#1", success: true,
      result: JSON.parse(init.body).input.map((_, i) => ({ id: i + 1, status: "updated" })) });
  return { status: 200, text: async () => body };
};
const connector = new Connector({
  clientId: "bench", clientSecret: "bench", endpointUrl: "https://123-ABC-123.mktorest.com/rest",
  identityUrl: "https://123-ABC-123.mktorest.com/identity", limits: { callsPer20s: 100, concurrency: 10, dailyQuota: 1e9 },
  actions: [{ id: "up", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
    leadData: leadData.map(([field, attribute]) => ({ field, source: { attribute } })) }],
}, { fetch, now: Date.now, setTimer() {}, seed: 1 });

const events = Array.from({ length: N }, (_, i) => {
  const e = structuredClone(event);
  e.data.udo.customer_email = `p${i}@example.com`;
  return e;
});

async function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / N; // µs per event
}

// Warm the JIT on both sides before measuring.
let sink = 0;
for (const e of events.slice(0, 2000)) sink += JSON.parse(JSON.stringify(e)).data.udo.order_total;
for (let i = 0; i < 600; i++) await connector.process("up", events[i], `warm${i}`);
await connector.flush();

// Baseline 1: the copy every connector needs to take of the event (a JSON round trip).
const copy = await timeIt(async () => {
  for (const e of events) sink += JSON.parse(JSON.stringify(e)).data.udo.order_total;
});
// Baseline 2: plain JS doing the copy and the leadData mapping into a Sync Leads record.
const get = (o, path) => path.split(".").reduce((n, k) => (n == null ? undefined : n[k]), o);
const mapped = await timeIt(async () => {
  const records = [];
  for (const e of events) {
    const c = JSON.parse(JSON.stringify(e));
    const r = {};
    for (const [field, path] of leadData) { const v = get(c, path); if (v !== undefined) r[field] = v; }
    records.push(r);
    if (records.length === 300) { sink += JSON.stringify({ action: "createOrUpdate", lookupField: "email", input: records }).length; records.length = 0; }
  }
});
const connectorCost = await timeIt(async () => {
  for (let i = 0; i < N; i++) await connector.process("up", events[i], `e${i}`);
  await connector.flush();
});

const row = (name, us) => console.log(`${name.padEnd(58)} ${us.toFixed(2).padStart(8)} µs/event  ${(us / copy).toFixed(1).padStart(6)}× the copy`);
console.log(`${N} EventStream events, createOrUpdateLeadBatched with 6 mapped fields (sink ${sink > 0})`);
row("plain JS: copy of the event (JSON round trip)", copy);
row("plain JS: copy + leadData mapping + Sync Leads body", mapped);
row("connector.process() (await each), batching, bodies, outcomes", connectorCost);
