// A chaos run of the built package, as a production host lives it: random events across all
// nine actions against the simulator over loopback, random faults on Marketo's answers, and
// `snapshot()` → `Connector.restore()` at random moments, the old instance dropped the way a
// dying process or an evicted Durable Object drops it (its calls in flight still reach Marketo,
// their answers never come back; its pending promises never settle).
//
// The host persists the snapshot the way SPEC §7 asks: right after `process()` accepts an event
// and right after a promise settles and its outcomes are recorded, in the same turn. A restore
// uses the last stored snapshot.
//
// Checked: every accepted event gets exactly one final outcome over all instances; no campaign
// trigger or merge is applied twice in the simulator; the simulator never answered 606/615 on
// its own account (the connector kept the limits, across restores); every event is final
// within `maxSettleMs` of virtual time after faults and restores stop.
//
//   import { runChaos } from "./chaos.mjs";
//   const report = await runChaos({ seed: 1, events: 10_000 });  // throws on a violation
//
// Virtual time: the connector's `now`, the simulator's clock and the host's timers read one
// variable, moved only when no call is open (hung calls excepted) to the last `setTimer` time.
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";

const START = Date.UTC(2026, 10, 28, 12, 0, 0);
const LIST = 1001;
const CAMPAIGN = 3712;
const POOL = 2000; // leads known to Marketo, by email

/** Small seeded PRNG (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const email = (i) => `lead${i}@chaos.example.com`;
const byEmail = (filterType = "email") => ({ filterType, source: { attribute: "email" } });

const ACTIONS = [
  { id: "add", type: "addLeadToList", targetStaticList: LIST, leadIdLookup: byEmail() },
  { id: "addb", type: "addLeadToListBatched", targetStaticList: LIST, leadIdLookup: byEmail() },
  { id: "rm", type: "removeLeadFromList", targetStaticList: LIST, targetLeadId: { attribute: "id" } },
  { id: "rmb", type: "removeLeadFromListBatched", targetStaticList: LIST, targetLeadId: { attribute: "id" } },
  { id: "mail", type: "sendTransactionalEmail", targetEmailCampaign: CAMPAIGN, targetLeadId: { attribute: "id" },
    tokens: [{ name: "{{my.event}}", source: { attribute: "event" } }] },
  { id: "up", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
    leadData: [{ field: "email", source: { attribute: "email" } }, { field: "firstName", source: { attribute: "name" } }] },
  { id: "upb", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
    leadData: [{ field: "email", source: { attribute: "email" } }, { field: "firstName", source: { attribute: "name" } }] },
  { id: "merge", type: "mergeLead", winningLeadId: { attribute: "winner" }, losingLeadIds: { attribute: "loser" } },
  { id: "bulk", type: "bulkImportLeads", leadLookupField: "email", targetStaticList: LIST,
    leadData: [{ field: "email", source: { attribute: "email" } }, { field: "firstName", source: { attribute: "name" } }] },
];
const WEIGHTS = { add: 8, addb: 20, rm: 4, rmb: 10, mail: 6, up: 8, upb: 20, merge: 3, bulk: 21 };

/** The events of a run, and the leads the simulator must know for them. */
function workload(rand, n) {
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  const pick = () => {
    let r = rand() * total;
    for (const [id, w] of Object.entries(WEIGHTS)) if ((r -= w) < 0) return id;
    return "upb";
  };
  const events = [];
  let nextMergeLead = 500_000;
  for (let i = 0; i < n; i++) {
    const action = pick();
    const id = `ev${i}`;
    const lead = Math.floor(rand() * POOL);
    switch (action) {
      case "rm": case "rmb": events.push([action, id, { id: 100_000 + lead }]); break;
      case "mail": events.push([action, id, { id: 100_000 + lead, event: id }]); break;
      case "merge": events.push([action, id, { winner: nextMergeLead++, loser: nextMergeLead++ }]); break;
      case "up": case "upb": case "bulk": events.push([action, id, { email: email(Math.floor(rand() * POOL * 1.2)), name: `N${i}` }]); break;
      default: events.push([action, id, { email: email(lead) }]);
    }
  }
  return { events, mergeLeads: nextMergeLead - 500_000 };
}

const FAULTS = [
  { kind: "code", code: "606" }, { kind: "code", code: "615" }, { kind: "code", code: "604" },
  { kind: "code", code: "611" }, { kind: "code", code: "608" }, { kind: "http", status: 502 },
  { kind: "http", status: 500 }, { kind: "html", status: 503 }, { kind: "drop" },
  { kind: "dropAfterApply" }, { kind: "http500AfterApply" }, { kind: "slow" }, { kind: "hung" },
  { kind: "code", code: "1016", bulkOnly: true },
];

const json = (status, body) => ({ status, text: async () => JSON.stringify(body) });

/**
 * @param {object} o
 * @param {number} o.seed
 * @param {number} o.events          events to send
 * @param {number} [o.faultRate]     share of Marketo calls that get a fault (0.08)
 * @param {number} [o.restoreRate]   chance of a restore per driver step (0.004)
 * @param {number} [o.maxSettleMs]   progress bound once faults stop (virtual time)
 * @param {(line: string) => void} [o.progress]
 */
export async function runChaos({ seed, events: n, faultRate = 0.08, restoreRate = 0.004, maxSettleMs = 3 * 86_400_000, progress }) {
  const rand = prng(seed);
  const { events, mergeLeads } = workload(rand, n);
  let t = START;
  const sim = await startSimulator({
    clock: () => t,
    seed: {
      leads: [
        ...Array.from({ length: POOL }, (_, i) => ({ id: 100_000 + i, email: email(i) })),
        ...Array.from({ length: mergeLeads }, (_, i) => ({ id: 500_000 + i, email: `merge${i}@chaos.example.com` })),
      ],
      lists: [{ id: LIST, name: "Chaos", members: Array.from({ length: POOL / 2 }, (_, i) => 100_000 + i) }],
      campaigns: [{ id: CAMPAIGN, name: "Chaos mail", type: "trigger", isRequestable: true }],
    },
  });
  const settings = {
    clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
    limits: { callsPer20s: 100, concurrency: 10, dailyQuota: 50_000 }, actions: ACTIONS,
  };

  const finals = new Map(); // eventId → final outcomes returned
  const accepted = new Set();
  let faults = true;
  let open = 0; // calls open at the simulator or waiting for an answer (hung ones excluded)
  const counts = { calls: 0, faults: 0, restores: 0, hung: 0 };

  // One instance of the host process: its fetch, timer and promises die with it.
  let instance;
  let saved;
  function makeHost(gen) {
    const self = { gen, alive: true, timer: undefined };
    const fetchFn = async (url, init) => {
      counts.calls++;
      const identity = url.includes("/identity/");
      const fault = !identity && faults && rand() < faultRate ? FAULTS[Math.floor(rand() * FAULTS.length)] : null;
      const isBulkUpload = url.includes("/bulk/v1/leads.json");
      const f = fault && (!fault.bulkOnly || isBulkUpload) ? fault : null;
      if (f) counts.faults++;
      if (f?.kind === "hung") {
        counts.hung++;
        return new Promise(() => {});
      }
      open++;
      try {
        if (f?.kind === "code") return json(200, { requestId: "chaos#1", success: false, errors: [{ code: f.code, message: `chaos ${f.code}` }] });
        if (f?.kind === "http") return { status: f.status, text: async () => "" };
        if (f?.kind === "html") return { status: f.status, text: async () => "<html><body><h1>503 Service Unavailable</h1></body></html>" };
        if (f?.kind === "drop") throw new TypeError("fetch failed: connection reset (chaos)");
        if (f?.kind === "slow") await new Promise((r) => setTimeout(r, 5));
        // A call goes out only once a snapshot showing it in flight is stored (as the command
        // line's checkpoint and the Worker do): a call sent later than the last promise (after
        // a token, a limiter slot or a retry time) would otherwise be sent again by a restore.
        if (self.alive) saved = self.connector.snapshot();
        const response = await globalThis.fetch(url, init);
        const text = await response.text();
        if (f?.kind === "dropAfterApply") throw new TypeError("fetch failed: socket hang up (chaos)");
        if (f?.kind === "http500AfterApply") return { status: 500, text: async () => "" };
        if (!self.alive) return new Promise(() => {}); // the answer reaches no one
        return { status: response.status, text: async () => text };
      } finally {
        open--;
      }
    };
    self.host = {
      fetch: fetchFn,
      now: () => t,
      setTimer: (at) => { if (self.alive) self.timer = at; },
      seed: seed * 1000 + gen,
    };
    return self;
  }

  function record(self, outs) {
    if (!self.alive) return; // the process died before this callback ran
    for (const o of outs) {
      if (o.status === "queued") continue;
      if (!accepted.has(o.eventId)) throw new Error(`seed ${seed}: outcome for an event never accepted: ${JSON.stringify(o)}`);
      const list = finals.get(o.eventId) ?? [];
      list.push(o);
      finals.set(o.eventId, list);
      if (list.length > 1) throw new Error(`seed ${seed}: ${o.eventId} has two final outcomes: ${JSON.stringify(list)}`);
    }
    saved = self.connector.snapshot(); // stored in the same turn as the outcomes
  }
  const settle = (self, promise) => promise.then((outs) => record(self, outs), (e) => {
    if (self.alive) throw e;
  });

  function start(snapshot) {
    const self = makeHost(counts.restores);
    self.connector = snapshot === undefined ? new Connector(settings, self.host) : Connector.restore(settings, self.host, snapshot);
    instance = self;
    saved = self.connector.snapshot();
  }
  function restore() {
    instance.alive = false;
    counts.restores++;
    start(saved);
  }
  const turn = () => new Promise((r) => setImmediate(r));
  async function quiet() {
    for (let q = 0; q < 2;) {
      await turn();
      q = open === 0 ? q + 1 : 0;
    }
  }
  async function advance() {
    await quiet();
    const self = instance;
    if (self.timer !== undefined) t = Math.max(t, self.timer);
    self.timer = undefined;
    settle(self, self.connector.wake());
  }

  start(undefined);
  let sent = 0;
  let steps = 0;
  let last = Date.now();
  while (sent < events.length) {
    steps++;
    const r = rand();
    if (r < restoreRate) {
      restore();
    } else if (r < 0.75) {
      const [action, id, event] = events[sent++];
      const self = instance;
      const p = self.connector.process(action, event, id);
      accepted.add(id);
      saved = self.connector.snapshot();
      settle(self, p);
    } else if (r < 0.77) {
      settle(instance, instance.connector.flush());
    } else {
      await advance();
    }
    await turn();
    if (progress && Date.now() - last > 5000) {
      last = Date.now();
      progress(`seed ${seed}: ${sent}/${events.length} sent, ${finals.size} final, ${counts.restores} restores, virtual +${Math.round((t - START) / 1000)} s`);
    }
  }
  // Faults and restores stop; every event must become final within maxSettleMs.
  faults = false;
  const from = t;
  settle(instance, instance.connector.flush());
  for (let i = 0; finals.size < accepted.size; i++) {
    if (t - from > maxSettleMs || i > 200_000) {
      const missing = [...accepted].filter((id) => !finals.has(id));
      throw new Error(`seed ${seed}: ${missing.length} events without a final outcome after ${Math.round((t - from) / 1000)} s of virtual time, e.g. ${missing.slice(0, 5)}`);
    }
    await advance();
    if (instance.timer === undefined && open === 0) {
      await quiet();
      if (instance.timer === undefined) t += 1000; // nothing asked for: let time pass
    }
  }

  // No effect twice: each trigger carries its event's id as a token; each merge has its loser.
  const triggered = new Map();
  for (const tr of sim.state.triggers) {
    const ev = tr.tokens.find((k) => k.name === "{{my.event}}")?.value;
    triggered.set(ev, (triggered.get(ev) ?? 0) + 1);
  }
  const twice = [...triggered].filter(([, k]) => k > 1);
  const merged = new Map();
  for (const m of sim.state.merges) for (const l of m.loserIds) merged.set(l, (merged.get(l) ?? 0) + 1);
  const mergedTwice = [...merged].filter(([, k]) => k > 1);
  const selfProvoked = (sim.state.counters.errors["606"] ?? 0) + (sim.state.counters.errors["615"] ?? 0);
  const statuses = {};
  for (const [o] of finals.values()) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  await sim.close();
  if (twice.length) throw new Error(`seed ${seed}: campaign triggered twice for ${JSON.stringify(twice.slice(0, 5))}`);
  if (mergedTwice.length) throw new Error(`seed ${seed}: lead merged twice: ${JSON.stringify(mergedTwice.slice(0, 5))}`);
  if (selfProvoked) throw new Error(`seed ${seed}: the simulator answered 606/615 ${selfProvoked} times on its own account`);
  return { seed, events: accepted.size, finals: finals.size, statuses, steps, settleMs: t - from, ...counts };
}
