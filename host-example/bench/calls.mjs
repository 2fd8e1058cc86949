// Call-count benchmark: fixed workloads through the built package against the simulator,
// printing per workload the Marketo calls made and the minimum Marketo's limits allow for the
// same batches, and their ratio. Identity calls are not counted (Marketo does not count them).
//
//   node host-example/bench/calls.mjs          (after bash scripts/build.sh)
//
// The minimum is computed here, independently of the connector: the events are grouped into
// the batches SPEC §4's thresholds form (300 events or 1 MB per batch, in arrival order; 25,000
// rows or 10 MB per bulk file), and each batch is charged the fewest calls Marketo's per-call
// limits allow: ≤ 300 lookup values (a long lookup goes as one POST ?_method=GET), ≤ 300 ids per
// list call, ≤ 300 records and ≤ 1 MB per Sync Leads call, and for a bulk file one upload, one
// status poll, and one failures download if rows failed. A value an earlier batch found needs no
// second lookup; one that found nobody does (the lead may have been created since). Actions that
// map lead fields (upserts, bulk import) also read the instance's lead schema once
// (`GET /rest/v1/leads/describe2.json`) to format values by field type: one call per workload.
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";
import { trackingFetch } from "../test/tracking-fetch.mjs";

const MB = 1_048_576;

/** Drives a connector on virtual time until every event has its final outcome. */
async function drive(sim, connector, clock, events) {
  const finals = new Map();
  const take = (outs) => { for (const o of outs) if (o.status !== "queued") finals.set(o.eventId, o); };
  for (const [action, ev, id] of events) take(await connector.process(action, ev, id));
  take(await connector.flush());
  for (let i = 0; i < 10_000 && finals.size < events.length; i++) {
    await clock.net.idle(); // calls in flight come back before the clock moves
    if (clock.timers.length) clock.t = Math.max(clock.t, Math.min(...clock.timers));
    clock.timers.length = 0;
    take(await connector.wake());
    if (!clock.timers.length && finals.size < events.length) clock.t += 1_000;
  }
  return finals;
}

function connectorFor(sim, clock, actions) {
  return new Connector(
    { clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
      limits: { callsPer20s: 100, concurrency: 10 }, actions },
    { fetch: (clock.net ??= trackingFetch()).fetch, now: () => clock.t, setTimer: (at) => clock.timers.push(at), seed: 1 },
  );
}

const chunks = (n, size) => Math.ceil(n / size);

/** 3,000 batched list adds by email lookup; 1,500 people each twice, 10% unknown to Marketo. */
async function listAdds() {
  const people = Array.from({ length: 1500 }, (_, i) => `person${i}@bench.example.com`);
  const known = new Set(people.filter((_, i) => i % 10 !== 0));
  const clock = { t: Date.UTC(2026, 10, 28, 8), timers: [] };
  const sim = await startSimulator({
    clock: () => clock.t,
    seed: { leads: [...known].map((email, i) => ({ id: 100000 + i, email })), lists: [{ id: 1001, name: "Bench" }] },
  });
  const order = Array.from({ length: 3000 }, (_, i) => people[(i * 7919) % 1500]);
  const c = connectorFor(sim, clock, [{ id: "add", type: "addLeadToListBatched", targetStaticList: 1001,
    leadIdLookup: { filterType: "email", source: { attribute: "email" } } }]);
  const finals = await drive(sim, c, clock, order.map((email, i) => ["add", { email }, `e${i}`]));
  // Minimum: per 300-event batch, one lookup per 300 distinct values not already found (a value
  // that found nobody must be asked again: the lead may exist by now), one list call per 300
  // distinct ids.
  let min = 0;
  const found = new Set();
  for (let b = 0; b < order.length; b += 300) {
    const batch = order.slice(b, b + 300);
    const fresh = new Set(batch.filter((e) => !found.has(e)));
    fresh.forEach((e) => { if (known.has(e)) found.add(e); });
    const ids = new Set(batch.filter((e) => known.has(e)));
    min += chunks(fresh.size, 300) + chunks(ids.size, 300);
  }
  const result = summary("3,000 batched list adds by email (1,500 people, 10% unknown)", sim, finals, 3000, min);
  await sim.close();
  return result;
}

/** 10,000 batched upserts of ~2 KB records. */
async function upserts() {
  const clock = { t: Date.UTC(2026, 10, 28, 8), timers: [] };
  // `notes` is a text area (no length in the schema), so the 2 KB values go as they are.
  const sim = await startSimulator({ clock: () => clock.t, fields: [{ name: "notes", dataType: "text" }] });
  const pad = "n".repeat(1950);
  const events = Array.from({ length: 10_000 }, (_, i) => ["up", { email: `u${i}@bench.example.com`, notes: `${i}:${pad}` }, `u${i}`]);
  const c = connectorFor(sim, clock, [{ id: "up", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
    leadData: [{ field: "email", source: { attribute: "email" } }, { field: "notes", source: { attribute: "notes" } }] }]);
  const finals = await drive(sim, c, clock, events);
  // Minimum: per batch (300 events or 1 MB), ceil(records/300) and ceil(bytes/1 MB) calls.
  const sizes = events.map(([, ev]) => JSON.stringify({ email: ev.email, notes: ev.notes }).length + 1);
  const overhead = JSON.stringify({ action: "createOrUpdate", lookupField: "email", input: [] }).length;
  let min = 1; // the lead schema's one read
  let n = 0;
  let bytes = overhead;
  for (const s of sizes) {
    if (n > 0 && bytes + s > MB) { min += 1; n = 0; bytes = overhead; }
    n += 1; bytes += s;
    if (n === 300 || bytes >= MB) { min += 1; n = 0; bytes = overhead; }
  }
  if (n) min += 1;
  const result = summary("10,000 batched upserts of 2 KB records", sim, finals, 10_000, min);
  await sim.close();
  return result;
}

/** 25,000 bulk import rows, 1% with an invalid email. */
async function bulk() {
  const clock = { t: Date.UTC(2026, 10, 28, 8), timers: [] };
  const sim = await startSimulator({ clock: () => clock.t, seed: { lists: [{ id: 1001, name: "Bench" }] } });
  const events = Array.from({ length: 25_000 }, (_, i) => ["bulk",
    { email: i % 100 === 7 ? `broken${i}-at-example.com` : `b${i}@bench.example.com`, first: `B${i}`, company: "Bench, Inc." }, `b${i}`]);
  const c = connectorFor(sim, clock, [{ id: "bulk", type: "bulkImportLeads", leadLookupField: "email", targetStaticList: 1001,
    leadData: [{ field: "email", source: { attribute: "email" } }, { field: "firstName", source: { attribute: "first" } },
      { field: "company", source: { attribute: "company" } }] }]);
  const finals = await drive(sim, c, clock, events);
  // Minimum: files of ≤ 25,000 rows and < 10 MB (CSV bytes computed here); per file one upload,
  // one status poll (the job can be complete by the first poll), one failures download if a row
  // in it fails.
  const cell = (v) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const rowBytes = events.map(([, ev]) => Buffer.byteLength([ev.email, ev.first, ev.company].map(cell).join(",") + "\r\n"));
  const header = Buffer.byteLength("email,firstName,company\r\n") + 300; // + multipart framing
  let min = 1; // the lead schema's one read
  let rows = 0;
  let bytes = header;
  let failing = false;
  const closeFile = () => { if (rows) min += 2 + (failing ? 1 : 0); rows = 0; bytes = header; failing = false; };
  events.forEach(([, ev], i) => {
    if (rows === 25_000 || bytes + rowBytes[i] >= 10 * MB) closeFile();
    rows += 1; bytes += rowBytes[i]; failing ||= !ev.email.includes("@");
  });
  closeFile();
  const result = summary("25,000 bulk import rows (1% invalid)", sim, finals, 25_000, min);
  await sim.close();
  return result;
}

function summary(name, sim, finals, events, minimum) {
  const calls = sim.requests.filter((r) => !r.path.startsWith("/identity")).length;
  const statuses = {};
  for (const o of finals.values()) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  return { name, events, outcomes: finals.size, statuses, calls, minimum, ratio: calls / minimum,
    rateLimited: (sim.state.counters.errors["606"] ?? 0) + (sim.state.counters.errors["615"] ?? 0) };
}

export const workloads = { listAdds, upserts, bulk };

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = [];
  // One process per workload (Node 20.20's TurboFan crashed in the deoptimizer running the
  // list workload, then the upsert one, in one process).
  const { execFileSync } = await import("node:child_process");
  for (const name of Object.keys(workloads)) {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e",
      `const m = await import(${JSON.stringify(process.argv[1])}); console.log(JSON.stringify(await m.workloads.${name}()));`],
    { encoding: "utf8" });
    rows.push(JSON.parse(out.trim().split("\n").at(-1)));
  }
  console.log("workload | events | outcomes | calls | minimum | calls/minimum");
  console.log("---|---:|---|---:|---:|---:");
  for (const r of rows) {
    console.log(`${r.name} | ${r.events} | ${JSON.stringify(r.statuses)} | ${r.calls} | ${r.minimum} | ${r.ratio.toFixed(2)}`);
  }
}
