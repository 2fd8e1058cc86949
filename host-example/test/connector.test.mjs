// Node integration tests: the built package (pkg/) against the Marketo simulator over loopback
// HTTP. They assert the exact requests the simulator received and the outcome of each event.
// Time is virtual: the connector's host.now and the simulator's clock read the same variable.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";
import { demoActions, demoSeed } from "../demo-config.mjs";
import { trackingFetch } from "./tracking-fetch.mjs";
import { createServer } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const START = Date.UTC(2026, 10, 28, 12, 0, 0);
let t;
let sim;
let timers;
let logs;
let net;

beforeEach(async () => {
  t = START;
  timers = [];
  logs = [];
  net = trackingFetch();
  sim = await startSimulator({ ...demoSeed(), clock: () => t });
  sim.seed({
    leads: [
      { id: 5001, email: "twin@example.com", twitterId: "twin" },
      { id: 5002, email: "twin2@example.com", twitterId: "twin" },
    ],
  });
});
afterEach(() => sim.close());

function connector(actions, extra = {}) {
  const host = {
    fetch: net.fetch,
    now: () => t,
    setTimer: (at) => timers.push(at),
    seed: 42,
    log: (e) => logs.push(e),
  };
  return new Connector({
    clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
    actions, ...extra,
  }, host);
}

// REST calls other than the lead schema's one read (describe2), which check.test.mjs tests.
const rest = () => sim.requests.filter((r) => !r.path.startsWith("/identity") && !/\/leads\/describe2?\.json$/.test(r.path));
const identity = () => sim.requests.filter((r) => r.path.startsWith("/identity"));
const upsert = (strategy, extra = {}) => ({
  id: `upsert-${strategy}`, type: "createOrUpdateLead", updateStrategy: strategy,
  leadData: [
    { field: "email", source: { attribute: "data.udo.customer_email" } },
    { field: "firstName", source: { attribute: "data.udo.customer_first_name" } },
    { field: "orderTotal", source: { attribute: "data.udo.order_total" } },
    { field: "signupDate", source: { attribute: "data.udo.signup_date" }, type: "date" },
  ],
  ...extra,
});
const ev = (email, more = {}) => ({ data: { udo: { customer_email: email, customer_first_name: "Ann", order_total: 0, signup_date: 1764307800000, ...more } } });

test("createOrUpdateLead: the four strategies send Swagger-shaped Sync Leads calls and report per-record results", async () => {
  const c = connector(["createOrUpdate", "createOnly", "updateOnly", "createDuplicate"].map((s) => upsert(s)));
  const out = [
    ...(await c.process("upsert-createOrUpdate", ev("jane.doe@example.com"), "e1")),
    ...(await c.process("upsert-createOnly", ev("jane.doe@example.com"), "e2")),
    ...(await c.process("upsert-updateOnly", ev("nobody@example.com"), "e3")),
    ...(await c.process("upsert-createDuplicate", ev("jane.doe@example.com"), "e4")),
  ];
  assert.equal(identity().length, 1, "one identity call, token reused");
  const calls = rest();
  assert.deepEqual(calls.map((r) => `${r.method} ${r.path}`), Array(4).fill("POST /rest/v1/leads.json"));
  for (const r of calls) {
    assert.match(r.headers.authorization, /^Bearer \S+$/);
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.rawQuery ?? "", "");
  }
  assert.equal(calls[0].body,
    '{"action":"createOrUpdate","lookupField":"email","input":[{"email":"jane.doe@example.com","firstName":"Ann","orderTotal":0,"signupDate":"2025-11-28T05:30:00Z"}]}');
  assert.deepEqual(calls.map((r) => r.json.action), ["createOrUpdate", "createOnly", "updateOnly", "createDuplicate"]);

  assert.deepEqual(out.map(({ eventId, status, code, leadIds }) => ({ eventId, status, code, leadIds })), [
    { eventId: "e1", status: "delivered", code: undefined, leadIds: [318594] },
    { eventId: "e2", status: "skipped", code: "1005", leadIds: undefined },
    { eventId: "e3", status: "skipped", code: "1004", leadIds: undefined },
    { eventId: "e4", status: "delivered", code: undefined, leadIds: [out[3].leadIds?.[0]] },
  ]);
  assert.ok(out[3].leadIds[0] !== 318594, "createDuplicate made a new lead");
  assert.ok(out.every((o) => o.requestId), "every Marketo outcome carries Marketo's requestId");
  const jane = sim.state.leads.get(318594);
  assert.equal(jane.firstName, "Ann");
  assert.equal(jane.orderTotal, 0, "0 is kept as a number");
  assert.equal(jane.signupDate, "2025-11-28T05:30:00Z");
});

test("createOrUpdateLead: partitionName, null clears a field, bad dates and missing lookup fields fail without a call", async () => {
  const c = connector([upsert("createOrUpdate", { partitionName: "Default" })]);
  const [ok] = await c.process("upsert-createOrUpdate", ev("jane.doe@example.com", { customer_first_name: null }), "p1");
  assert.equal(ok.status, "delivered");
  assert.equal(rest()[0].json.partitionName, "Default");
  assert.equal(rest()[0].json.input[0].firstName, null);
  assert.equal(sim.state.leads.get(318594).firstName ?? null, null);

  const [badDate] = await c.process("upsert-createOrUpdate", ev("jane.doe@example.com", { signup_date: "next week" }), "p2");
  assert.equal(badDate.status, "failed");
  assert.equal(badDate.code, "INVALID_VALUE");
  assert.match(badDate.message, /signupDate/);
  const [noEmail] = await c.process("upsert-createOrUpdate", { data: { udo: { customer_first_name: "X" } } }, "p3");
  assert.equal(noEmail.code, "MISSING_ATTRIBUTE");
  assert.equal(rest().length, 1, "no call for events that cannot be delivered");
});

test("addLeadToList: ids, lookups of every kind, addLead, cookies encoded, several matches", async () => {
  const c = connector([
    ...demoActions({ newsletterList: 1001, visitorsList: 1002 }),
    { id: "by-twitter", type: "addLeadToList", targetStaticList: 1002, leadIdLookup: { filterType: "twitterId", source: { attribute: "tw" } } },
    { id: "by-email-strict", type: "addLeadToList", targetStaticList: 1002, leadIdLookup: { filterType: "email", source: { attribute: "e" } } },
    { id: "by-lookup-id", type: "addLeadToList", targetStaticList: 1002, leadIdLookup: { filterType: "id", source: { attribute: "lead" } } },
  ]);
  const [byId] = await c.process("list-by-id", { visitor: { metrics: { "Marketo lead id": "318594" } } }, "l1");
  assert.deepEqual(rest().at(-1).json, { input: [{ id: 318594 }] }, "numeric string sent as an integer");
  assert.equal(byId.status, "delivered");

  sim.reset();
  const [cookie] = await c.process("list-by-cookie", { data: { firstparty_tealium_cookies: { _mkto_trk: "id:123-ABC-123&token:_mch-example.com-1718000000000-12345" } } }, "l2");
  assert.equal(rest()[0].rawQuery,
    "filterType=cookies&filterValues=id:123-ABC-123%26token:_mch-example.com-1718000000000-12345&fields=id,cookies&batchSize=300");
  assert.deepEqual(cookie.leadIds, [318594]);
  assert.equal(sim.state.counters.truncatedCookieFilters, 0);

  sim.reset();
  const [twins] = await c.process("by-twitter", { tw: "twin" }, "l3");
  assert.deepEqual(twins.leadIds.sort(), [5001, 5002]);
  assert.deepEqual(rest()[1].json.input.map((x) => x.id).sort(), [5001, 5002]);
  assert.deepEqual([...sim.state.lists.get(1002).members].sort(), [318594, 5001, 5002]);

  sim.reset();
  const [missing] = await c.process("by-email-strict", { e: "ghost@example.com" }, "l4");
  assert.equal(missing.status, "skipped");
  assert.equal(missing.code, "1004");
  assert.equal(rest().length, 1, "only the lookup: nothing to add");

  sim.reset();
  const [created] = await c.process("list-by-email", { data: { udo: { customer_email: "brand.new@example.com" } } }, "l5");
  assert.deepEqual(rest().map((r) => `${r.method} ${r.path}`), ["GET /rest/v1/leads.json", "POST /rest/v1/leads.json", "POST /rest/v1/lists/1001/leads.json"]);
  assert.deepEqual(rest()[1].json, { action: "createOnly", lookupField: "email", input: [{ email: "brand.new@example.com" }] });
  assert.equal(created.status, "delivered");
  assert.ok(sim.state.lists.get(1001).members.has(created.leadIds[0]));

  sim.reset();
  const [unknownId] = await c.process("by-lookup-id", { lead: 999999 }, "l6");
  assert.deepEqual(rest().map((r) => `${r.method} ${r.path}`), ["POST /rest/v1/lists/1002/leads.json"], "an id needs no lookup");
  assert.equal(unknownId.status, "skipped");
  assert.equal(unknownId.code, "1004");

  const [bad] = await c.process("list-by-id", { visitor: { metrics: { "Marketo lead id": 1.5 } } }, "l7");
  assert.equal(bad.status, "failed");
  assert.match(bad.message, /targetLeadId/);
});

test("auth: one identity call for a burst, Bearer header only, refresh before expiry and on 601", async () => {
  const c = connector([upsert("createOrUpdate")]);
  const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => c.process("upsert-createOrUpdate", ev(`p${i}@example.com`), `b${i}`)));
  assert.ok(burst.flat().every((o) => o.status === "delivered"));
  assert.equal(identity().length, 1, "never two identity calls in flight");
  assert.ok(identity().every((r) => !r.rawQuery?.includes("client_secret")), "secret not in a URL");
  assert.equal(sim.state.counters.deprecatedAccessTokenParam, 0);

  t += 3_550_000; // 50 s before the token's hour ends: refreshed ahead of time
  await c.process("upsert-createOrUpdate", ev("late@example.com"), "late");
  assert.equal(identity().length, 2);

  sim.inject({ path: "/rest/v1/leads.json", code: "601", times: 1 });
  const [replayed] = await c.process("upsert-createOrUpdate", ev("again@example.com"), "r601");
  assert.equal(replayed.status, "delivered");
  assert.equal(identity().length, 3, "601 → one refresh");
  assert.ok(logs.every((e) => !JSON.stringify(e).includes(sim.clientSecret)));
});

test("transient errors wait on the host timer and are retried; bad credentials fail events with a clear reason", async () => {
  const c = connector([upsert("createOrUpdate")]);
  sim.inject({ path: "/rest/v1/leads.json", code: "604", times: 1 });
  const [first] = await c.process("upsert-createOrUpdate", ev("retry@example.com"), "t1");
  assert.equal(first.status, "queued");
  const at = timers.at(-1);
  assert.ok(at > t && at <= t + 2_000, `retry scheduled shortly after (${at - t} ms)`);
  t = at;
  assert.deepEqual(await c.wake(), [], "wake() resolves at once, without waiting for the retry's answer");
  await net.idle();
  assert.equal(timers.at(-1), t, "the retry's outcome finished with no promise to return it: wake me now");
  const [done] = await c.wake();
  assert.equal(done.eventId, "t1");
  assert.equal(done.status, "delivered");

  const wrong = new Connector({ clientId: sim.clientId, clientSecret: "not-the-secret", endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions: [upsert("createOrUpdate")] },
    { fetch: globalThis.fetch.bind(globalThis), now: () => t, setTimer() {} });
  const [denied] = await wrong.process("upsert-createOrUpdate", ev("x@example.com"), "t2");
  assert.equal(denied.status, "failed");
  assert.equal(denied.code, "AUTH_REJECTED");
  assert.ok(!JSON.stringify(denied).includes("not-the-secret"));
});

test("limits: a burst of 40 events never exceeds the configured concurrency or provokes 606/615", async () => {
  sim.setLatency(5);
  const c = connector([upsert("createOrUpdate")], { limits: { concurrency: 3, callsPer20s: 100 } });
  const all = await Promise.all(Array.from({ length: 40 }, (_, i) => c.process("upsert-createOrUpdate", ev(`burst${i}@example.com`), `c${i}`)));
  assert.equal(all.flat().filter((o) => o.status === "delivered").length, 40);
  assert.ok(sim.state.counters.peakConcurrency <= 3, `peak ${sim.state.counters.peakConcurrency}`);
  assert.equal(sim.state.counters.errors["606"] ?? 0, 0);
  assert.equal(sim.state.counters.errors["615"] ?? 0, 0);
});

test("preview shows the lookup call and never the token or secret", () => {
  const c = connector(demoActions({ newsletterList: 1001, visitorsList: 1002 }));
  const reqs = c.preview("list-by-email", { data: { udo: { customer_email: "p@example.com" } } });
  assert.deepEqual(reqs.map((r) => `${r.method} ${r.url}`), [
    `GET ${sim.endpointUrl}/v1/leads.json?filterType=email&filterValues=p@example.com&fields=id,email&batchSize=300`,
    `POST ${sim.endpointUrl}/v1/lists/1001/leads.json`,
  ]);
  assert.ok(!JSON.stringify(reqs).includes("Bearer"));
  assert.equal(sim.requests.length, 0, "preview sends nothing");
  assert.throws(() => c.preview("nope", {}), (e) => e instanceof Error && e.code === "UNKNOWN_ACTION");
});

test("snapshot → Connector.restore → flush delivers every queued event exactly once, no secret in the snapshot", async () => {
  const actions = [
    { id: "batched", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
      leadData: [{ field: "email", source: { attribute: "email" } }] },
  ];
  const first = connector(actions);
  for (let i = 0; i < 5; i++) {
    const [o] = await first.process("batched", { email: `saved${i}@example.com` }, `s${i}`);
    assert.equal(o.status, "queued");
  }
  const saved = first.snapshot();
  assert.ok(!saved.includes(sim.clientSecret), "no secret");
  assert.equal(JSON.parse(saved).version, 1);
  assert.equal(JSON.parse(saved).events.length, 5);
  first.free(); // the old instance is gone (a restarted worker)

  const host = { fetch: globalThis.fetch.bind(globalThis), now: () => t, setTimer: (at) => timers.push(at), seed: 9 };
  const second = Connector.restore({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions }, host, saved);
  const out = await second.flush();
  assert.deepEqual(out.map((o) => o.eventId).sort(), ["s0", "s1", "s2", "s3", "s4"]);
  assert.ok(out.every((o) => o.status === "delivered"));
  const syncs = rest().filter((r) => r.path === "/rest/v1/leads.json");
  assert.equal(syncs.length, 1, "one call for the five");
  assert.equal(syncs[0].json.input.length, 5);
  assert.throws(() => Connector.restore({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions }, host, '{"version":2}'),
  (e) => e.code === "INVALID_SNAPSHOT");
});

test("free() sends nothing more: the call in flight settles its event, the events waiting for a call reject with DESTROYED", async () => {
  // One call at a time: three unbatched upserts, the first one's Sync Leads call held until the
  // connector is freed (a host that restored another connector from a snapshot must not see
  // this one send the other two as well).
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const sent = [];
  const host = {
    now: () => t, setTimer: (at) => timers.push(at), seed: 3,
    fetch: async (url, init) => {
      sent.push(url);
      if (url.endsWith("/leads.json") && sent.filter((u) => u.endsWith("/leads.json")).length === 1) await held;
      return globalThis.fetch(url, init);
    },
  };
  const c = new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl,
    identityUrl: sim.identityUrl, limits: { concurrency: 1 },
    actions: [{ id: "up", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
      leadData: [{ field: "email", source: { attribute: "email" } }] }] }, host);
  const settled = ["f1", "f2", "f3"].map((id) => c.process("up", { email: `${id}@example.com` }, id)
    .then((o) => o.map((x) => `${x.eventId} ${x.status}`), (e) => [`${id} ${e.code}`]));
  while (!sent.some((u) => u.endsWith("/leads.json"))) await new Promise((r) => setImmediate(r));
  c.free();
  release();
  const results = (await Promise.all(settled)).flat().sort();
  assert.deepEqual(results, ["f1 delivered", "f2 DESTROYED", "f3 DESTROYED"]);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(sent.filter((u) => u.endsWith("/leads.json")).length, 1, `calls after free(): ${sent.join(", ")}`);
  assert.equal(rest().filter((r) => r.path === "/rest/v1/leads.json").length, 1, "Marketo got one Sync Leads call");
});

test("free() from inside a batched process() (a getter, host.now()) rejects it with DESTROYED, not queued", async () => {
  // A queued answer would name an event no snapshot holds and no later call can return.
  for (const where of ["getter", "now"]) {
    let freeNow = false;
    let c;
    const host = { fetch: net.fetch, setTimer: (at) => timers.push(at), seed: 42,
      now: () => { if (freeNow) { freeNow = false; c.free(); } return t; } };
    c = new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl,
      identityUrl: sim.identityUrl, actions: [batchedUpsert()] }, host);
    const [first] = await c.process("upb", ev("first@example.com"), "first"); // asks for a wake-up
    assert.equal(first.status, "queued");
    const victim = where === "getter"
      ? { data: { udo: { get customer_email() { c.free(); return "v@example.com"; } } } }
      : ev("v@example.com");
    freeNow = where === "now";
    await assert.rejects(c.process("upb", victim, "victim"), (e) => e.code === "DESTROYED", where);
  }
});

test("free() from the host's setTimer or log during process() rejects it with DESTROYED; nothing is sent after it", async () => {
  // The first event of a batch asks for a wake-up (setTimer) and, on a new connector, its
  // identity call is logged: a free() from either, before process() returns, leaves an event
  // no one will deliver.
  for (const where of ["setTimer", "log"]) {
    let c;
    let armed = true;
    const hook = () => { if (armed) { armed = false; c.free(); } };
    const host = { fetch: net.fetch, now: () => t, seed: 42,
      setTimer: (at) => { timers.push(at); if (where === "setTimer") hook(); },
      log: (e) => { if (where === "log" && e.type === "request") hook(); } };
    c = new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl,
      identityUrl: sim.identityUrl, actions: [batchedUpsert()] }, host);
    await assert.rejects(c.process("upb", ev("w@example.com"), "e1"), (e) => e.code === "DESTROYED", where);
    assert.equal(armed, false, `host.${where} was called`);
    await assert.rejects(c.flush(), (e) => e.code === "DESTROYED");
  }
  // A free() from the log of the first of three requests of one step: the other two never go.
  const lists = ["a", "b", "c"].map((id) => ({ id, type: "addLeadToListBatched", targetStaticList: 1001,
    targetLeadId: { attribute: "id" } }));
  let c;
  let armed = false;
  const sent = [];
  const host = { now: () => t, seed: 42, setTimer: (at) => timers.push(at),
    fetch: (url, init) => { sent.push(url); return net.fetch(url, init); },
    log: (e) => { if (armed && e.type === "request") { armed = false; c.free(); } } };
  c = new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl,
    identityUrl: sim.identityUrl, actions: lists }, host);
  await c.process("a", { id: 5001 }, "warm");
  await c.flush(); // the token, and the first list call
  for (const id of ["a", "b", "c"]) await c.process(id, { id: 5002 }, `e-${id}`);
  const before = sent.length;
  const timersBefore = timers.length;
  armed = true;
  const flushed = c.flush().then(() => "resolved", (e) => e.code);
  await net.idle();
  assert.equal(sent.length - before, 1, `sent after free(): ${sent.slice(before).join(", ")}`);
  assert.equal(timers.length, timersBefore, "no timer asked for after free()");
  assert.equal(await flushed, "DESTROYED");
});

// ---- timers and restores (issue 8) --------------------------------------------------------

const batchedUpsert = () => ({ ...upsert("createOrUpdate"), id: "upb", type: "createOrUpdateLeadBatched" });

test("a wake() that comes early re-arms the timer, so a batch is never stranded", async () => {
  const c = connector([batchedUpsert()]);
  const [q] = await c.process("upb", ev("early@example.com"), "e1");
  assert.equal(q.status, "queued");
  await net.idle(); // the lead schema, read at the action's first event
  const due = START + 30 * 60_000;
  assert.equal(timers.at(-1), due, "the batch's age limit");
  // The host's timer fires 1 ms early (setTimeout does; 233 of 2,000 did in Node 20).
  t = due - 1;
  const asked = timers.length;
  assert.deepEqual(await c.wake(), []);
  assert.equal(timers.length, asked + 1, "wake() asked for the same time again");
  assert.equal(timers.at(-1), due);
  t = due;
  await c.wake();
  await net.idle();
  const out = await c.wake();
  assert.deepEqual(out.map((o) => [o.eventId, o.status]), [["e1", "delivered"]]);
});

test("a setTimer that throws is asked again at the next call, not lost", async () => {
  let throws = 0;
  const asked = [];
  const c = new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions: [batchedUpsert()] }, {
    fetch: net.fetch, now: () => t, seed: 1,
    setTimer: (at) => {
      asked.push(at);
      if (throws-- > 0) throw new Error("timer service unavailable");
    },
  });
  // The lead schema is read at the action's first event: a first batch goes, so the next starts empty.
  await c.process("upb", ev("warm@example.com"), "warm");
  await net.idle();
  await c.flush();
  await net.idle();
  throws = 1;
  asked.length = 0;
  await c.process("upb", ev("a@example.com"), "a");
  assert.deepEqual(asked, [START + 30 * 60_000], "asked once, and it threw");
  await c.process("upb", ev("b@example.com"), "b");
  assert.deepEqual(asked, [START + 30 * 60_000, START + 30 * 60_000], "asked again: the first did not count");
  await c.process("upb", ev("c@example.com"), "c");
  assert.equal(asked.length, 2, "once set, the same time is not asked for again");
});

test("restore: sends nothing before the host's next call, keeps the identity, raises the generation", async () => {
  const actions = [upsert("createOrUpdate")];
  const first = connector(actions);
  const pending = first.process("upsert-createOrUpdate", ev("r@example.com"), "r1"); // waits for a token
  const saved = first.snapshot();
  await net.idle(); // the dying instance's identity call still reaches Marketo
  const info = Connector.snapshotInfo(saved);
  assert.match(info.id, /^[0-9a-f]{16}$/);
  assert.equal(info.generation, 0);
  void pending; // the first instance dies; its promise is never looked at

  const before = sim.requests.length;
  const asked = [];
  const host = { fetch: net.fetch, now: () => t, setTimer: (at) => asked.push(at), seed: 5 };
  const second = Connector.restore({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions }, host, saved);
  const stored = second.snapshot(); // what a Durable Object stores before anything is sent
  assert.deepEqual(Connector.snapshotInfo(stored), { id: info.id, generation: 1 });
  await net.idle();
  assert.equal(sim.requests.length, before, "nothing sent before the host's next call");
  assert.deepEqual(asked, [t], "it asks the host to wake it now");
  await second.wake();
  await net.idle();
  const out = await second.wake();
  assert.deepEqual(out.map((o) => [o.eventId, o.status]), [["r1", "delivered"]]);
  assert.throws(() => Connector.snapshotInfo("{}"), (e) => e.code === "INVALID_SNAPSHOT");
});

// ---- what a new user hit (fresh-clone review) ----------------------------------------------

test("a numeric eventId is the id's text; any other type rejects with a code instead of trapping", async () => {
  const c = connector([batchedUpsert()]);
  const [o] = await c.process("upb", ev("n@example.com"), 42);
  assert.equal(o.eventId, "42");
  await assert.rejects(c.process("upb", ev("m@example.com"), {}), (e) => e.code === "INVALID_EVENT_ID");
  await assert.rejects(c.process(7, ev("m@example.com")), (e) => e.code === "UNKNOWN_ACTION");
  assert.throws(() => c.preview(7, ev("m@example.com")), (e) => e.code === "UNKNOWN_ACTION");
  assert.throws(() => Connector.snapshotInfo(7), (e) => e.code === "INVALID_SNAPSHOT");
  const [still] = await c.process("upb", ev("ok@example.com"), "ok");
  assert.equal(still.status, "queued", "the connector still works");
  // Later events of the open batch are answered without a waiter (nothing else is due): the
  // same ids, the same outcome.
  const later = [await c.process("upb", ev("p@example.com"), 43), await c.process("upb", ev("q@example.com"), "a b\u00e9😀"),
    await c.process("upb", ev("r@example.com")), await c.process("upb", ev("s@example.com"), null)];
  assert.deepEqual(later.map((outs) => outs.length), [1, 1, 1, 1]);
  assert.deepEqual(later.map(([o]) => [o.actionId, o.status]), Array(4).fill(["upb", "queued"]));
  const [[n], [t], [g1], [g2]] = later;
  assert.deepEqual([n.eventId, t.eventId], ["43", "a b\u00e9😀"]);
  assert.ok(typeof g1.eventId === "string" && g1.eventId.length > 0 && g1.eventId !== g2.eventId, "generated ids");
});

test("an eventId or actionId holding half of a character rejects instead of coming back changed", async () => {
  // wasm-bindgen copies a lone surrogate as U+FFFD: "id\ud800" and "id\udc00" would both have
  // become "id\ufffd", an id the host never gave, so it could not acknowledge either event.
  const c = connector([batchedUpsert()]);
  for (const id of ["id\ud800", "id\udc00", "😀".slice(0, 1)]) {
    await assert.rejects(c.process("upb", ev("s@example.com"), id),
      (e) => e.code === "INVALID_EVENT_ID" && /eventId holds half of a character/.test(e.message), JSON.stringify(id));
  }
  await assert.rejects(c.process("upb\ud800", ev("s@example.com"), "a"), (e) => e.code === "UNKNOWN_ACTION" && /half of a character/.test(e.message));
  // A whole U+FFFD is an ordinary character.
  const [o] = await c.process("upb", ev("s@example.com"), "id\ufffd😀");
  assert.equal(o.eventId, "id\ufffd😀");
});

test("connectors without host.seed get distinct ids and generated event ids", async () => {
  const make = () => new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions: [batchedUpsert()] },
  { fetch: net.fetch, now: () => t, setTimer() {} });
  const [a, b] = [make(), make()];
  assert.notEqual(Connector.snapshotInfo(a.snapshot()).id, Connector.snapshotInfo(b.snapshot()).id);
  const [oa] = await a.process("upb", ev("a@example.com"));
  const [ob] = await b.process("upb", ev("b@example.com"));
  assert.notEqual(oa.eventId, ob.eventId);
});

test("a snapshot survives a JSON round trip before any Marketo call", async () => {
  const c = connector([batchedUpsert()]);
  await c.process("upb", ev("rt@example.com"), "rt");
  const text = JSON.stringify(JSON.parse(c.snapshot()));
  const again = Connector.restore({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions: [batchedUpsert()] },
  { fetch: net.fetch, now: () => t, setTimer() {} }, text);
  assert.equal(JSON.parse(again.snapshot()).events.length, 1);
});

test("a snapshot string holding half of a character is refused as damaged, not restored with U+FFFD in its place", async () => {
  // wasm-bindgen copies a lone UTF-16 surrogate into wasm as U+FFFD: the event would have been
  // restored with another value than the one accepted.
  const settings = { clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions: [batchedUpsert()] };
  const host = { fetch: net.fetch, now: () => t, setTimer() {} };
  const small = connector([batchedUpsert()]);
  await small.process("upb", ev("party🎉@example.com"), "small");
  await small.process("upb", ev("u\uFFFDe@example.com"), "replacement-char"); // U+FFFD itself is text
  const large = connector([batchedUpsert()]);
  await large.process("upb", ev("party🎉@example.com", { customer_first_name: "x".repeat(70_000) }), "large");
  const [smallText, largeText] = [small.snapshot(), large.snapshot()];
  assert.ok(largeText.length > 65_536, "longer than one piece copied into wasm");
  for (const text of [smallText, largeText]) {
    assert.ok(JSON.parse(Connector.restore(settings, host, text).snapshot()).events.length > 0, "whole text restores");
  }
  const x = "x".repeat(1_000);
  for (const [what, damaged] of [
    ["a high half alone, in a small snapshot", smallText.replace("🎉", "\ud83d")],
    ["a low half alone, in a small snapshot", smallText.replace("🎉", "\ude00")],
    ["a high half alone past the first 64 Ki units of a large one", largeText.replace(`${x}"`, `${x}\ud83d"`)],
  ]) {
    for (const call of [() => Connector.restore(settings, host, damaged), () => Connector.snapshotInfo(damaged)]) {
      assert.throws(call, (e) => e.code === "INVALID_SNAPSHOT"
        && /^snapshot was damaged: it holds half of a character \(a lone UTF-16 surrogate\) at UTF-16 unit \d+/.test(e.message),
      what);
    }
  }
});

test("a setTimer that calls wake() synchronously neither recurses nor loses the timer", async () => {
  let c;
  const asked = [];
  const woken = [];
  c = new Connector({ clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions: [batchedUpsert()] }, {
    fetch: net.fetch, now: () => t, seed: 3,
    setTimer: (at) => {
      asked.push(at);
      woken.push(c.wake());
    },
  });
  await c.process("upb", ev("s@example.com"), "s1");
  await net.idle(); // the lead schema, read at the action's first event
  assert.ok(asked.length >= 1 && asked.length <= 8, `setTimer called ${asked.length} times`);
  for (const out of await Promise.all(woken)) assert.ok(Array.isArray(out));
  assert.equal(asked.at(-1), START + 30 * 60_000);
});

test("a host clock that is not epoch milliseconds is refused, and a later bad reading logged and replaced", async () => {
  const settings = {
    clientId: sim.clientId, clientSecret: "secret", endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
    actions: [{ id: "ub", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
      leadData: [{ field: "email", source: { attribute: "email" } }] }],
  };
  for (const [now, got] of [[() => new Date(), /it returned a value of type object, not a number$/],
    [() => "1764331200000", /it returned a value of type string, not a number$/], [() => undefined, /of type undefined/],
    [() => NaN, /it returned NaN$/], [() => -1, /it returned -1$/], [() => { throw new Error("no clock"); }, /it threw: .*no clock/]]) {
    assert.throws(() => new Connector(settings, { fetch: net.fetch, now, setTimer() {} }),
      (e) => e.code === "INVALID_HOST" && /host\.now\(\) must return the time in epoch milliseconds/.test(e.message) && got.test(e.message),
      String(now));
  }
  let reading = START;
  const seen = [];
  const c = new Connector(settings,
    { fetch: net.fetch, now: () => reading, setTimer: (at) => seen.push(at), seed: 1, log: (e) => logs.push(e) });
  reading = undefined;
  await c.process("ub", { email: "a@example.com" }, "e1");
  assert.ok(logs.some((e) => e.type === "hostError" && /host\.now\(\) returned/.test(e.message)), JSON.stringify(logs));
  // The batch ages from the last good reading, not from 1970.
  assert.ok(seen.every((at) => at >= START), JSON.stringify(seen));
  c.free();
});

test("an identity service that cannot be reached fails events with AUTH_UNAVAILABLE naming the cause", async () => {
  // A loopback port nothing listens on (fetch refuses port 1 outright as a "bad port").
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const c = new Connector({ clientId: sim.clientId, clientSecret: "secret", endpointUrl: sim.endpointUrl,
    identityUrl: `http://127.0.0.1:${port}/identity`, actions: [upsert("createOrUpdate")] },
  { fetch: globalThis.fetch.bind(globalThis), now: () => t, setTimer: (at) => timers.push(at), seed: 5 });
  let outcomes = await c.process("upsert-createOrUpdate", ev("down@example.com"), "down");
  for (let i = 0; i < 40 && !outcomes.some((o) => o.status !== "queued"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20)); // the refused connection's rejection
    t = Math.max(t, timers.at(-1) ?? t);
    outcomes = await c.wake();
  }
  const done = outcomes.find((o) => o.eventId === "down");
  assert.equal(done?.status, "failed", JSON.stringify(outcomes));
  assert.equal(done.code, "AUTH_UNAVAILABLE");
  assert.match(done.message, /identity call failed: fetch failed \(.*ECONNREFUSED/, done.message);
  c.free();
});

test("while a call is out, the connector holds none of its request: a body of up to 1 MB (10 MB for a bulk file) is kept by the host's fetch alone", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc");
  const held = [];
  const host = {
    // The Sync Leads call and the bulk import are never answered; the host keeps only a weak
    // reference to what the connector handed it.
    fetch: (url, init) => {
      if (init?.method === "POST" && new URL(url).pathname.endsWith("/leads.json")) {
        held.push({ url, body: typeof init.body, init: new WeakRef(init) });
        return new Promise(() => {});
      }
      return net.fetch(url, init);
    },
    now: () => t, setTimer: () => {}, seed: 42,
  };
  const leadData = [{ field: "email", source: { attribute: "email" } }, { field: "firstName", source: { attribute: "name" } }];
  const c = new Connector({
    clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
    actions: [{ id: "upb", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate", leadData },
      { id: "bulk", type: "bulkImportLeads", leadLookupField: "email", leadData }],
  }, host);
  const name = "n".repeat(100_000);
  for (let i = 0; i < 5; i++) {
    c.process("upb", { email: `u${i}@example.com`, name }, `u${i}`);
    c.process("bulk", { email: `b${i}@example.com`, name }, `b${i}`);
  }
  c.flush();
  for (let i = 0; i < 200 && held.length < 2; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(held.map((h) => [new URL(h.url).pathname, h.body]).sort(),
    [["/bulk/v1/leads.json", "object"], ["/rest/v1/leads.json", "string"]]);
  for (let i = 0; i < 3; i++) { await new Promise((r) => setImmediate(r)); gc(); }
  assert.deepEqual(held.map((h) => h.init.deref() === undefined), [true, true], "the connector still holds a request it handed to fetch");
  c.free();
});

test("a batch's outcomes come back whole: keys in order, lead ids, codes, messages, non-ASCII event ids kept exactly", async () => {
  const c = connector([{ ...upsert("updateOnly"), id: "upb", type: "createOrUpdateLeadBatched" }]);
  // The first starts with U+FEFF, which a UTF-8 decoder drops unless told to keep it.
  const ids = ["\uFEFFé-1", "😀-2", "ascii-3", "日本-4"];
  const emails = ["jane.doe@example.com", "nobody@example.com", "twin@example.com", "nobody2@example.com"];
  const queued = await Promise.all(ids.map((id, i) => c.process("upb", ev(emails[i]), id)));
  assert.deepEqual(queued.flat().map((o) => JSON.stringify(o)), ids.map((id) => JSON.stringify({ eventId: id, actionId: "upb", status: "queued" })));
  const out = await c.flush();
  const requestId = out[0]?.requestId;
  assert.match(requestId ?? "", /\S/);
  assert.deepEqual(out.map((o) => JSON.stringify(o).replaceAll(requestId, "R")), [
    '{"eventId":"\uFEFFé-1","actionId":"upb","status":"delivered","leadIds":[318594],"requestId":"R"}',
    '{"eventId":"😀-2","actionId":"upb","status":"skipped","code":"1004","message":"Lead not found","requestId":"R"}',
    '{"eventId":"ascii-3","actionId":"upb","status":"delivered","leadIds":[5001],"requestId":"R"}',
    '{"eventId":"日本-4","actionId":"upb","status":"skipped","code":"1004","message":"Lead not found","requestId":"R"}',
  ]);
});
