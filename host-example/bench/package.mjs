// The package's costs against baselines measured in the same run (issue 14's table): per-event
// cost of process(), how it scales with queued rows and pending promises, memory against the
// bytes queued, a 50k-event backlog (and its snapshot and restore), the .wasm size, cold start,
// and end to end on loopback against a plain JS client making the same calls.
//
//   node host-example/bench/package.mjs                 (after bash scripts/build.sh)
//   BENCH_RUNS=7 node host-example/bench/package.mjs    (runs per timing row; default 5)
//   node host-example/bench/package.mjs perEvent bulk   (some workloads only)
//
// Every row is a ratio to a baseline measured in the same process and run; a timing row is the
// median over BENCH_RUNS runs of that ratio. Each workload runs in its own Node process (Node
// 20.20's TurboFan crashed in the deoptimizer running several workloads in one process, see
// calls.mjs; it also keeps one workload's heap and wasm memory out of the next one's figures).
//
// Marketo is an in-process fetch for the cost and memory rows: it answers the identity call and
// the lead schema read at once, and every other call never (so the calls stay in flight, and
// the figures are the connector's own work, not the network). The end-to-end rows use the
// simulator in host-example/simulator over loopback.
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const GLUE = fileURLToPath(new URL("../../pkg/nodejs/marketo_connector.js", import.meta.url));
const WASM = fileURLToPath(new URL("../../pkg/nodejs/marketo_connector_bg.wasm", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
// The nodejs glue keeps its instance to itself: the memory is taken as it is instantiated.
let loaded;
let linearMemory;
function glue() {
  if (!loaded) {
    const Instance = WebAssembly.Instance;
    WebAssembly.Instance = function (module, imports) {
      const instance = new Instance(module, imports);
      linearMemory ??= instance.exports.memory;
      return instance;
    };
    try { loaded = require(GLUE); } finally { WebAssembly.Instance = Instance; }
    if (!(linearMemory instanceof WebAssembly.Memory)) throw new Error("the wasm instance exports no memory");
  }
  return loaded;
}
const fixture = JSON.parse(readFileSync(new URL("../../fixtures/eventstream-event.json", import.meta.url), "utf8"));
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MB = 1_048_576;

// ---- the connector's configuration and the events ---------------------------------------------

const settings = (actions) => ({
  clientId: "bench", clientSecret: "bench-secret", endpointUrl: "https://123-ABC-123.mktorest.com/rest",
  identityUrl: "https://123-ABC-123.mktorest.com/identity", limits: { callsPer20s: 100, concurrency: 10 }, actions,
});
const TEN_FIELDS = [
  ["email", "data.udo.customer_email"], ["firstName", "data.udo.customer_first_name"],
  ["lastName", "data.udo.customer_last_name"], ["company", "data.udo.company"],
  ["orderTotal", "data.udo.order_total"], ["notes", "data.udo.notes"], ["city", "data.udo.city"],
  ["country", "data.udo.country"], ["phone", "data.udo.phone"],
].map(([field, attribute]) => ({ field, source: { attribute } }));
TEN_FIELDS.push({ field: "signupDate", source: { attribute: "data.udo.signup_date" }, type: "date" });
const upsertBatched = { id: "upb", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate", leadData: TEN_FIELDS };
const upsert = { id: "up", type: "createOrUpdateLead", updateStrategy: "createOrUpdate", leadData: TEN_FIELDS.slice(0, 3) };
const listByEmail = { id: "addb", type: "addLeadToListBatched", targetStaticList: 1001,
  leadIdLookup: { filterType: "email", source: { attribute: "data.udo.customer_email" } } };
const bulk = { id: "bulk", type: "bulkImportLeads", leadLookupField: "email", leadData: TEN_FIELDS };

/** The i-th event: the EventStream fixture with its own email and the 10 fields' values. */
const event = (i, notes) => {
  const e = structuredClone(fixture);
  Object.assign(e.data.udo, { customer_email: `p${i}@example.com`, city: "Lyon", country: "FR", phone: "+33 1 23 45 67 89", signup_date: "2026-11-28T09:30:00Z" });
  if (notes !== undefined) e.data.udo.notes = notes;
  return e;
};

// The lead schema (describe2) for the mapped fields; `others` more fields listed before them (a
// real instance lists hundreds: standard fields and its own).
const describe2 = (others = 0) => JSON.stringify({ requestId: "d#1", success: true, result: [{ name: "API Lead", searchableFields: [["email"]],
  fields: [...Array.from({ length: others }, (_, i) => [`customField${i}__c`, "string"]),
    ["email", "email"], ["firstName", "string"], ["lastName", "string"], ["company", "string"], ["orderTotal", "currency"],
    ["notes", "text"], ["city", "string"], ["country", "string"], ["phone", "phone"], ["signupDate", "date"]]
    .map(([name, dataType]) => ({ name, displayName: name, dataType, updateable: true, crmManaged: false,
      ...(["string", "email", "phone"].includes(dataType) ? { length: 255 } : {}) })) }] });
const DESCRIBE2 = describe2();
const DESCRIBE2_WIDE = describe2(500);
const TOKEN = '{"access_token":"t:ab","token_type":"bearer","expires_in":3600,"scope":"s"}';

/**
 * An in-process Marketo: the identity call and the schema read are answered at once, every
 * other call stays in flight until `drop()` (the process that made them is gone: they fail as
 * fetch does when the network is). `sent` keeps the other calls' body sizes.
 */
function marketo(schema = DESCRIBE2) {
  const sent = [];
  const inFlight = [];
  let gone = false;
  const fetch = (url, init) => {
    if (gone) return Promise.reject(new TypeError("fetch failed"));
    if (url.includes("/identity/")) return Promise.resolve({ status: 200, text: async () => TOKEN });
    if (url.includes("/describe2.json")) return Promise.resolve({ status: 200, text: async () => schema });
    sent.push(init?.body == null ? 0 : typeof init.body === "string" ? Buffer.byteLength(init.body) : init.body.byteLength);
    return new Promise((_, reject) => inFlight.push(reject));
  };
  const drop = () => { gone = true; for (const reject of inFlight.splice(0)) reject(new TypeError("fetch failed")); };
  return { sent, drop, host: { fetch, now: Date.now, setTimer() {}, seed: 1 } };
}
const ticks = async (n = 8) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

/** For the promises of events still open when a workload frees their connector. */
const ignoreDestroyed = (e) => { if (e?.code !== "DESTROYED") throw e; };

/** A connector with `actions` whose identity call and schema read (`schema`) are answered. */
async function ready(actions, schema) {
  const m = marketo(schema);
  const c = new (glue().Connector)(settings(actions), m.host);
  // A warm-up event still in flight when a workload frees `c` (backlog) rejects DESTROYED.
  for (const a of actions) c.process(a.id, event(1e9), "warm").catch(ignoreDestroyed);
  await ticks();
  return { c, sent: m.sent, host: m.host, drop: m.drop };
}

/** µs per call of `fn(i)` for i in [from, to): the process's CPU time (user + system), not the
 * wall clock, so time the machine's other load takes from this process is not counted (GC and
 * compiler threads are: they are this process's work). BENCH_CLOCK=wall uses the wall clock. */
const WALL = process.env.BENCH_CLOCK === "wall";
function perCall(from, to, fn) {
  if (WALL) {
    const t0 = process.hrtime.bigint();
    for (let i = from; i < to; i++) fn(i);
    return Number(process.hrtime.bigint() - t0) / 1e3 / (to - from);
  }
  const c0 = process.cpuUsage();
  for (let i = from; i < to; i++) fn(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (to - from);
}
/** The process's CPU time (user + system) `fn()` takes, in ms. */
function cpuMs(fn) {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}
let sink = 0;
const copy = (e) => { sink += JSON.parse(JSON.stringify(e)).post_time & 1; };
const copyCost = (events, from = 0, to = events.length) => perCall(from, to, (i) => copy(events[i]));

// ---- memory --------------------------------------------------------------------------------

/** Bytes in use: the wasm linear memory (one per process, every connector shares it; its size,
 * which only grows), the JS heap after a full GC, and ArrayBuffers (request bodies handed to
 * fetch; Node counts wasm memory apart from them). */
function footprint() {
  glue();
  if (!globalThis.gc) throw new Error("memory rows need node --expose-gc (measure() runs them so)");
  globalThis.gc(); globalThis.gc();
  const m = process.memoryUsage();
  const wasm = linearMemory.buffer.byteLength;
  return { wasm, heap: m.heapUsed, buffers: m.arrayBuffers, total: wasm + m.heapUsed + m.arrayBuffers };
}
const grown = (a, b) => b.total - a.total;
const mb = (n) => `${(n / MB).toFixed(1)} MB`;
const detailOf = (a, b) => `wasm +${mb(b.wasm - a.wasm)}, JS heap +${mb(b.heap - a.heap)}, buffers +${mb(b.buffers - a.buffers)}`;

// ---- the workloads: each returns its rows ---------------------------------------------------

const row = (id, what, ratio, goal, unit, detail = "") => ({ id, what, ratio, goal, unit, detail });

/** process() per event with the batch not due, against a JSON copy of the same events. Windows
 * of 290 events (one connector each, built untimed) alternate with the copy of the same 290;
 * the ratio is median window against median window, so a pause from the machine's other load
 * lands in one window, not in the figure. */
async function perEvent(runs) {
  const rows = [];
  const NOT_DUE = 290; // a connector's batch is due at 300 events (one warm-up event is queued)
  const K = 20;
  const events = Array.from({ length: NOT_DUE * K }, (_, i) => event(i));
  for (const [id, name, action, schema] of [["perEvent.upsertBatched", "createOrUpdateLeadBatched, 10 fields incl. a date", upsertBatched],
    ["perEvent.listAddByEmail", "addLeadToListBatched, email lookup", listByEmail],
    ["perEvent.upsertWideSchema", "same upserts, the schema listing 500 more fields", upsertBatched, DESCRIBE2_WIDE]]) {
    const ratios = [];
    const pairs = [];
    for (let r = -1; r < runs; r++) { // r = -1 warms the JIT on both sides
      const conns = [];
      for (let k = 0; k < K; k++) conns.push((await ready([action], schema)).c);
      const costs = [];
      const copies = [];
      for (let k = 0; k < K; k++) {
        const c = conns[k];
        const [from, to] = [k * NOT_DUE, (k + 1) * NOT_DUE];
        costs.push(perCall(from, to, (i) => c.process(action.id, events[i], `e${i}`)));
        copies.push(copyCost(events, from, to));
      }
      for (const c of conns) c.free();
      if (r >= 0) { ratios.push(median(costs) / median(copies)); pairs.push([median(costs), median(copies)]); }
    }
    const [cost, base] = pairs[ratios.indexOf(median(ratios))];
    rows.push(row(id, `process() per event, ${name} (batch not due)`, median(ratios), 1.0, "× a JSON copy of the event",
      `${cost.toFixed(2)} µs vs ${base.toFixed(2)} µs`));
  }
  return rows;
}

/** bulkImportLeads: per-event cost as the file grows (chunks of 1,000 rows, up to 24,000; the
 * median chunk of each range). */
async function bulkDepth(runs) {
  const events = Array.from({ length: 24_000 }, (_, i) => event(i));
  const against = [];
  const flat = [];
  for (let r = -1; r < runs; r++) {
    const { c } = await ready([bulk]);
    const costs = [];
    const copies = [];
    for (let k = 0; k < 24; k++) { // chunks of 1,000: the connector's, then the copy of the same events
      costs.push(perCall(k * 1000, (k + 1) * 1000, (i) => c.process("bulk", events[i], `b${i}`)));
      copies.push(copyCost(events, k * 1000, (k + 1) * 1000));
    }
    const at = (xs, from, to) => median(xs.slice(from / 1000, to / 1000));
    if (r >= 0) {
      against.push(at(costs, 5000, 15000) / at(copies, 5000, 15000));
      flat.push(at(costs, 18000, 24000) / at(costs, 0, 8000));
    }
    c.free();
  }
  return [
    row("bulk.perEvent", "process() per event, bulkImportLeads, 5k–15k rows queued", median(against), 1.0, "× a JSON copy of the event"),
    row("bulk.flat", "same, 18k–24k rows queued, against 0–8k rows", median(flat), 1.5, "× the cost at ≤ 8k rows"),
  ];
}

/** process() not awaited while calls are in flight: the cost at 20k pending promises vs at 1k
 * (each the median of 10 windows of 100 events). */
async function pending(runs) {
  const ratios = [];
  const pairs = [];
  // 1,000 events, cycled (event ids stay distinct): 21,000 of them held by the benchmark made
  // every major GC slower as the run went on, and the ratio measured that.
  const pool = Array.from({ length: 1000 }, (_, i) => event(i));
  for (let r = 0; r < runs; r++) { // no warm-up run: the first 1,000 events (untimed) warm the JIT
    const { c } = await ready([upsert]);
    // Median of 5 windows of 400 calls: with windows of 100, a major GC of the JS heap (20k
    // promises) landing in a few of them moved single runs between 0.6 and 2.8.
    const windows = (from) => median(Array.from({ length: 5 }, (_, w) =>
      perCall(from + w * 400, from + (w + 1) * 400, (i) => c.process("up", pool[i % 1000], `h${i}`))));
    perCall(0, 1000, (i) => c.process("up", pool[i % 1000], `h${i}`));
    const first = windows(1000);
    perCall(3000, 20_000, (i) => c.process("up", pool[i % 1000], `h${i}`));
    const last = windows(20_000);
    ratios.push(last / first); pairs.push([last, first]);
  }
  const [last, first] = pairs[ratios.indexOf(median(ratios))];
  return [row("pending.flat", "process() not awaited, calls in flight: at 20k pending promises vs at 1k", median(ratios), 1.5, "× the cost at 1k",
    `${last.toFixed(2)} µs vs ${first.toFixed(2)} µs`)];
}

/** process() with a flush() waiting: batched upserts with 10,000 events pending (their batches
 * sealed, calls in flight), the cost per call with a flush() waiting for those 10,000 vs
 * without (each the median of 5 windows of 400 events). A waiting flush() is looked at after
 * every process() that settles (each batched one does, as `queued`): that look must cost what
 * changed, not what the flush waits for (it walked every event it waits for: about 60×). */
async function flushWaiting(runs) {
  const ratios = [];
  const pairs = [];
  const pool = Array.from({ length: 1000 }, (_, i) => event(i));
  for (let r = 0; r < runs; r++) {
    const { c } = await ready([upsertBatched]);
    const windows = (from) => median(Array.from({ length: 5 }, (_, w) =>
      perCall(from + w * 400, from + (w + 1) * 400, (i) => c.process("upb", pool[i % 1000], `f${i}`))));
    perCall(0, 10_000, (i) => c.process("upb", pool[i % 1000], `f${i}`));
    const without = windows(10_000);
    // Never settles (the calls stay in flight); rejects with DESTROYED when `c` is freed.
    c.flush().catch(() => {});
    const waiting = windows(12_000);
    ratios.push(waiting / without); pairs.push([waiting, without]);
    c.free();
  }
  const [waiting, without] = pairs[ratios.indexOf(median(ratios))];
  return [row("flush.flat", "process() with a flush() waiting for 10k pending events vs without", median(ratios), 1.5,
    "× the cost without", `${waiting.toFixed(2)} µs vs ${without.toFixed(2)} µs`)];
}

/** Memory with 25,000 bulk rows queued (the file is sealed and its upload in flight), against the
 * bytes of that upload. */
async function memoryBulk() {
  const m0 = footprint();
  const { c, sent } = await ready([bulk]);
  for (let i = 0; i < 25_000 - 1; i++) c.process("bulk", event(i), `b${i}`); // + the warm-up event
  await ticks();
  const m1 = footprint();
  if (sent.length !== 1) throw new Error(`expected one bulk upload in flight, saw ${sent.length} calls`);
  return [row("memory.bulk", "memory with 25,000 bulk rows queued (wasm + JS heap + buffers)", grown(m0, m1) / sent[0], 2.0,
    "× the upload's bytes", `${mb(grown(m0, m1))} for a ${mb(sent[0])} upload; ${detailOf(m0, m1)}`)];
}

/** Memory with 300 × 3 KB batched upserts (the batch is sealed, its call in flight), against the
 * bytes of that call's body. */
async function memoryUpserts() {
  const notes = "n".repeat(3 * 1024 - 400); // the other nine fields make up the rest of 3 KB
  const m0 = footprint();
  const { c, sent } = await ready([upsertBatched]);
  for (let i = 0; i < 300 - 1; i++) c.process("upb", event(i, notes), `u${i}`);
  await ticks();
  const m1 = footprint();
  if (sent.length !== 1) throw new Error(`expected one Sync Leads call in flight, saw ${sent.length}`);
  return [row("memory.upserts", "memory with 300 × 3 KB batched upserts queued (wasm + JS heap + buffers)", grown(m0, m1) / sent[0], 2.0,
    "× the records' bytes (the call's body)", `${mb(grown(m0, m1))} for a ${(sent[0] / 1024).toFixed(0)} KB body; ${detailOf(m0, m1)}`)];
}

/** A backlog of 50,000 open events across the actions (calls in flight never answered), then
 * snapshot() (the string held) and restore() from it, against 128 MB. Before the restore the
 * first connector is freed and its calls in flight fail, as when the host that ran it is gone
 * (a freed connector's calls in flight still settle its promises, so until they do its state
 * stays in memory). Wasm memory only grows, so each figure counts its high-water mark: the
 * restore's counts the first connector's, as a restore in the same process would. */
async function backlog() {
  const actions = [upsertBatched, upsert, listByEmail, bulk];
  const split = [["upb", 14_000], ["up", 4_000], ["addb", 14_000], ["bulk", 18_000 - actions.length]];
  const m0 = footprint();
  const { c, host, drop } = await ready(actions);
  let i = 0;
  // Once the connector is freed below, its promises still pending reject with DESTROYED (the
  // restored connector delivers those events).
  for (const [id, n] of split) for (let k = 0; k < n; k++, i++) c.process(id, event(i), `o${i}`).catch(ignoreDestroyed);
  await ticks();
  const m1 = footprint();
  const snap = c.snapshot();
  const m2 = footprint();
  c.free();
  drop();
  await ticks(64);
  const restored = glue().Connector.restore(settings(actions), host, snap);
  await ticks();
  const m3 = footprint();
  const budget = 128 * MB;
  return [
    row("backlog.open", "backlog of 50,000 open events across the actions", grown(m0, m1) / budget, 1.0, "× 128 MB", detailOf(m0, m1)),
    row("backlog.snapshot", "same, with its snapshot() string held", grown(m0, m2) / budget, 1.0, "× 128 MB",
      `snapshot ${mb(snap.length)}; ${detailOf(m0, m2)}`),
    row("backlog.restore", "same, restore()d from the snapshot (first connector freed)", grown(m0, m3) / budget, 1.0, "× 128 MB",
      `${detailOf(m0, m3)}${restored ? "" : "?"}`),
  ];
}

/** The .wasm's size, gzipped (-9), against the 120 KB. */
async function size() {
  const raw = statSync(WASM).size;
  const gz = gzipSync(readFileSync(WASM), { level: 9 }).length;
  return [row("size.wasmGzip", ".wasm gzipped", gz / (120 * 1024), 1.0, "× 120 KB", `${raw} B raw, ${gz} B gzipped`)];
}

/** Cold start: a Node process that loads the package, instantiates the module, constructs a
 * connector and hands it one event, against `node -e 0`; runs alternate between the two. */
async function coldStart(runs) {
  const cold = `const {Connector}=require(${JSON.stringify(GLUE)});` +
    `const c=new Connector(${JSON.stringify(settings([upsertBatched]))},{fetch:()=>new Promise(()=>{}),now:Date.now,setTimer(){}});` +
    `c.process("upb",{data:{udo:{customer_email:"a@b.c"}}},"e1");`;
  const time = (args) => {
    const t0 = process.hrtime.bigint();
    execFileSync(process.execPath, args);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const ratios = [];
  const pairs = [];
  time(["-e", "0"]); time(["-e", cold]); // the files into the page cache
  for (let r = 0; r < 3 * runs; r++) { // cheap, and the noisiest row: three pairs per run
    const base = time(["-e", "0"]);
    const conn = time(["-e", cold]);
    ratios.push(conn / base); pairs.push([conn, base]);
  }
  const [conn, base] = pairs[ratios.indexOf(median(ratios))];
  return [row("coldStart", "cold start: load, instantiate, construct, first process()", median(ratios), 1.1, "× node -e 0",
    `${conn.toFixed(0)} ms vs ${base.toFixed(0)} ms`)];
}

/** The time of snapshot() and restore() with 10,000 open events across the four actions (the
 * backlog row's mix, a fifth of it: the snapshot then holds every kind of pending event), against
 * JSON.stringify of the same events and JSON.parse of that text. Each the median of 5 pairs
 * (one of each, in turn), the restored connectors freed untimed. A snapshot writes queued
 * events back from what their batch keeps (a record, a CSV row, a lookup value): a cost per
 * event that must stay that of a copy, not grow with the events queued (a new CSV reader per
 * bulk row, and a walk over every row per row, made it 0.9 s for 25,000 bulk rows). */
async function snapshotTime() {
  const actions = [upsertBatched, upsert, listByEmail, bulk];
  const split = [["upb", 2_800], ["up", 800], ["addb", 2_800], ["bulk", 3_600 - actions.length]];
  const { c, host } = await ready(actions);
  const events = [];
  for (const [id, n] of split) {
    for (let k = 0; k < n; k++) {
      const e = event(events.length);
      events.push(e);
      c.process(id, e, `s${events.length}`).catch(ignoreDestroyed);
    }
  }
  await ticks();
  const snap = c.snapshot();
  const text = JSON.stringify(events);
  const pairs = { snapshot: [], restore: [] };
  for (let r = 0; r < 5; r++) {
    pairs.snapshot.push([cpuMs(() => c.snapshot()), cpuMs(() => JSON.stringify(events))]);
    let again;
    const restoreMs = cpuMs(() => { again = glue().Connector.restore(settings(actions), host, snap); });
    again.free();
    pairs.restore.push([restoreMs, cpuMs(() => JSON.parse(text))]);
  }
  c.free();
  const rowOf = (id, what, timed, unit) => {
    const ratios = timed.map(([conn, base]) => conn / base);
    const [conn, base] = timed[ratios.indexOf(median(ratios))];
    return row(id, what, median(ratios), 1.0, unit, `${conn.toFixed(1)} ms vs ${base.toFixed(1)} ms; snapshot ${mb(snap.length)}`);
  };
  return [
    rowOf("snapshot.time", "snapshot() of 10,000 open events across the actions", pairs.snapshot, "× JSON.stringify of the events"),
    rowOf("restore.time", "restore() of that snapshot", pairs.restore, "× JSON.parse of the events' text"),
  ];
}

// ---- end to end over loopback ---------------------------------------------------------------

/** The simulator on loopback (real clock), and a connector on it driven by Node's timers. */
async function onLoopback(seed) {
  const { startSimulator } = await import("../simulator/marketo-sim.mjs");
  const { createConnector } = await import("../node-host.mjs");
  const sim = await startSimulator({ seed });
  const connect = (actions) => createConnector({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, limits: { callsPer20s: 100, concurrency: 10 }, actions });
  return { sim, connect };
}

/** Events through the connector until each is final; ms. */
async function throughConnector(c, action, events) {
  const t0 = performance.now();
  const finals = [];
  const take = (outs) => { for (const o of outs) if (o.status !== "queued") finals.push(o); };
  const pending = events.map((e, i) => c.process(action, e, `x${i}`).then(take));
  await Promise.all(pending);
  take(await c.flush());
  const ms = performance.now() - t0;
  if (finals.length !== events.length || finals.some((o) => o.status === "failed")) {
    throw new Error(`connector: ${finals.length} final outcomes of ${events.length}: ${JSON.stringify(finals.find((o) => o.status === "failed"))}`);
  }
  return ms;
}

/** A plain JS client: a token, then `calls(call)` one after the other; ms. */
async function plainClient(sim, calls) {
  const t0 = performance.now();
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: sim.clientId, client_secret: sim.clientSecret });
  const token = (await (await fetch(`${sim.identityUrl}/oauth/token`, { method: "POST", body: form })).json()).access_token;
  const call = async (method, path, body) => {
    const res = await fetch(`${sim.endpointUrl}${path}`, { method, headers: { Authorization: `Bearer ${token}`,
      ...(body ? { "Content-Type": "application/json" } : {}) }, body: body && JSON.stringify(body) });
    const json = await res.json();
    if (!json.success) throw new Error(`plain client: ${path} ${JSON.stringify(json.errors)}`);
    return json.result;
  };
  await calls(call);
  return performance.now() - t0;
}

const restCalls = (sim) => sim.requests.filter((r) => !r.path.startsWith("/identity")).map((r) => `${r.method} ${r.path.split("?")[0]}`);
const sameCalls = (a, b) => {
  const count = (xs) => JSON.stringify(Object.entries(xs.reduce((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {})).sort());
  if (count(a) !== count(b)) throw new Error(`the connector and the plain client made different calls:\n${count(a)}\n${count(b)}`);
};

/** `[await a(), await b()]`, run in turn: `a` first in even runs, `b` first in odd ones (each
 * run's simulator, and the garbage the other side left, would otherwise always weigh on the
 * same side). */
async function inTurn(r, a, b) {
  if (r % 2 === 0) { const x = await a(); return [x, await b()]; }
  const y = await b();
  return [await a(), y];
}

/** 3,000 batched upserts (email, first name, company) vs hand-made batches of 300. */
async function e2eUpserts(runs) {
  const people = Array.from({ length: 3000 }, (_, i) => ({ email: `u${i}@bench.example.com`, first: `U${i}`, company: "Bench, Inc." }));
  const action = { id: "up", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
    leadData: [["email", "email"], ["firstName", "first"], ["company", "company"]].map(([field, attribute]) => ({ field, source: { attribute } })) };
  const ratios = [];
  const pairs = [];
  for (let r = -1; r < runs; r++) {
    const viaConnector = async () => {
      const env = await onLoopback({});
      const ms = await throughConnector(env.connect([action]), "up", people);
      await env.sim.close();
      return { ms, calls: restCalls(env.sim) };
    };
    const viaPlain = async () => {
      const env = await onLoopback({});
      const ms = await plainClient(env.sim, async (call) => {
        await call("GET", "/v1/leads/describe2.json");
        for (let b = 0; b < people.length; b += 300) {
          await call("POST", "/v1/leads.json", { action: "createOrUpdate", lookupField: "email",
            input: people.slice(b, b + 300).map((p) => ({ email: p.email, firstName: p.first, company: p.company })) });
        }
      });
      await env.sim.close();
      return { ms, calls: restCalls(env.sim) };
    };
    const [conn, plain] = await inTurn(r, viaConnector, viaPlain);
    sameCalls(conn.calls, plain.calls);
    if (r >= 0) { ratios.push(conn.ms / plain.ms); pairs.push([conn.ms, plain.ms]); }
  }
  const [conn, plain] = pairs[ratios.indexOf(median(ratios))];
  return [row("e2e.upserts", "3,000 batched upserts end to end (loopback simulator)", median(ratios), 1.1,
    "× a plain JS client, batches of 300", `${conn.toFixed(0)} ms vs ${plain.toFixed(0)} ms`)];
}

/** 1,000 list adds by email (all known to Marketo) vs a plain client: per 300, one lookup and
 * one list call. */
async function e2eListAdds(runs) {
  const emails = Array.from({ length: 1000 }, (_, i) => `l${i}@bench.example.com`);
  const seed = { leads: emails.map((email, i) => ({ id: 100000 + i, email })), lists: [{ id: 1001, name: "Bench" }] };
  const action = { id: "add", type: "addLeadToListBatched", targetStaticList: 1001,
    leadIdLookup: { filterType: "email", source: { attribute: "email" } } };
  const ratios = [];
  const pairs = [];
  for (let r = -1; r < runs; r++) {
    const viaConnector = async () => {
      const env = await onLoopback(seed);
      const ms = await throughConnector(env.connect([action]), "add", emails.map((email) => ({ email })));
      await env.sim.close();
      return { ms, calls: restCalls(env.sim) };
    };
    const viaPlain = async () => {
      const env = await onLoopback(seed);
      const ms = await plainClient(env.sim, async (call) => {
        for (let b = 0; b < emails.length; b += 300) {
          const q = new URLSearchParams({ filterType: "email", filterValues: emails.slice(b, b + 300).join(","), fields: "id,email", batchSize: 300 });
          const found = await call("GET", `/v1/leads.json?${q}`);
          await call("POST", "/v1/lists/1001/leads.json", { input: found.map((l) => ({ id: l.id })) });
        }
      });
      await env.sim.close();
      return { ms, calls: restCalls(env.sim) };
    };
    const [conn, plain] = await inTurn(r, viaConnector, viaPlain);
    sameCalls(conn.calls, plain.calls);
    if (r >= 0) { ratios.push(conn.ms / plain.ms); pairs.push([conn.ms, plain.ms]); }
  }
  const [conn, plain] = pairs[ratios.indexOf(median(ratios))];
  return [row("e2e.listAdds", "1,000 list adds by email end to end (loopback simulator)", median(ratios), 1.1,
    "× a plain JS client, batches of 300", `${conn.toFixed(0)} ms vs ${plain.toFixed(0)} ms`)];
}

export const workloads = { perEvent, bulkDepth, pending, flushWaiting, memoryBulk, memoryUpserts, backlog, snapshotTime, size, coldStart, e2eUpserts, e2eListAdds };

// Workloads whose every run needs a fresh process: a run leaves 21,000 pending promises and
// their events in the one wasm instance, and the next run would be measured on top of them.
const PROCESS_PER_RUN = new Set(["pending"]);

/** Runs one workload in a Node process of its own; its rows. */
function child(name, runs) {
  // --no-liftoff: the module is compiled optimised at once. Otherwise V8 runs it in its
  // baseline tier until background threads, which the machine's other load delays, have
  // optimised the hot functions: the figures would measure the machine's load. (coldStart
  // times its own child processes with Node's defaults.)
  const out = execFileSync(process.execPath, ["--expose-gc", "--no-liftoff", "--input-type=module", "-e",
    `const m = await import(${JSON.stringify(SELF)}); console.log(JSON.stringify(await m.workloads.${name}(${runs})));`],
  { encoding: "utf8", maxBuffer: 64 * MB, stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out.trim().split("\n").at(-1));
}

/** Runs the named workloads, each in its own Node process (or one per run), with `runs` runs
 * per timing row; a row's ratio is the median over the runs. */
export function measure(names, runs) {
  const rows = [];
  for (const name of names) {
    if (!workloads[name]) throw new Error(`no workload ${name}; there are ${Object.keys(workloads).join(", ")}`);
    if (!PROCESS_PER_RUN.has(name)) {
      rows.push(...child(name, runs));
      continue;
    }
    const all = Array.from({ length: runs }, () => child(name, 1));
    for (const i of all[0].keys()) {
      const these = all.map((rs) => rs[i]);
      const mid = median(these.map((r) => r.ratio));
      rows.push({ ...these.find((r) => r.ratio === mid), detail: `${these.find((r) => r.ratio === mid).detail}; runs ${these.map((r) => r.ratio.toFixed(2)).join(", ")}` });
    }
  }
  return rows;
}

export function table(rows) {
  const lines = ["row | ratio | goal | against | measured", "---|---:|---:|---|---"];
  for (const r of rows) lines.push(`${r.what} | ${r.ratio.toFixed(2)} | ≤ ${r.goal} | ${r.unit} | ${r.detail}`);
  return lines.join("\n");
}

if (process.argv[1] === SELF) {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(workloads);
  const t0 = performance.now();
  const rows = measure(names, runs);
  console.log(`node ${process.version}, ${runs} runs per timing row (median of the ratios), ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(table(rows));
}
