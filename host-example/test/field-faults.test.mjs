// Issue 9, "Faults from the field": the built package (pkg/) against the simulator over
// loopback, on virtual time (the host's `now` and the simulator's `clock` read the same
// variable; queued work is carried on by moving it to the last time given to setTimer and
// calling wake()). The core's behaviour is tested natively (tests/dates.rs, pacing.rs,
// quota_day.rs, pickers.rs, answers.rs, echoed_secrets.rs, unreadable_events.rs); here are the
// cases that cross the JavaScript boundary or need the whole stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";
import { trackingFetch } from "./tracking-fetch.mjs";

const NOVEMBER = Date.UTC(2026, 10, 28, 12, 0, 0); // 06:00 CST
const JULY = Date.UTC(2026, 6, 14, 12, 0, 0); // 07:00 CDT
const CDT_MIDNIGHT = Date.UTC(2026, 6, 15, 5, 0, 0); // 2026-07-15 00:00 CDT
const CST_MIDNIGHT = Date.UTC(2026, 6, 15, 6, 0, 0); // 2026-07-15 00:00 at UTC−6

const UPSERT = {
  id: "upsert", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
  leadData: [
    { field: "email", source: { attribute: "email" } },
    { field: "leadScore", source: { attribute: "score" } },
    { field: "birthDate", source: { attribute: "born" }, type: "date" },
  ],
};
const EMAIL = {
  id: "email", type: "sendTransactionalEmail", targetEmailCampaign: 3712,
  targetLeadId: { attribute: "lead" },
  tokens: [{ name: "{{my.amount}}", source: { attribute: "amount" } }],
};
const BULK = {
  id: "bulk", type: "bulkImportLeads", leadLookupField: "email",
  leadData: [{ field: "email", source: { attribute: "email" } }, { field: "leadScore", source: { attribute: "score" } }],
};

/** A simulator and a connector on one virtual clock; `drive` carries queued work to the end. */
async function setup({ start = NOVEMBER, sim: simOptions = {}, limits, actions = [UPSERT, EMAIL, BULK], fetch } = {}) {
  const clock = { t: start };
  const timers = [];
  const logs = [];
  const sim = await startSimulator({
    clock: () => clock.t,
    seed: {
      leads: [{ id: 5, email: "known@example.com" }],
      campaigns: [{ id: 3712, name: "Welcome", type: "trigger", isRequestable: true }],
    },
    fields: [{ name: "birthDate", dataType: "datetime" }],
    ...simOptions,
  });
  const settings = {
    clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl,
    identityUrl: sim.identityUrl, actions, ...(limits ? { limits } : {}),
  };
  // wake() does not wait for calls in flight: they come back before the clock moves.
  const net = trackingFetch(fetch ?? globalThis.fetch.bind(globalThis));
  const host = {
    fetch: net.fetch,
    now: () => clock.t,
    setTimer: (at) => timers.push(at),
    seed: 9,
    log: (e) => logs.push(e),
  };
  const c = new Connector(settings, host);
  const outcomes = [];
  /** Wakes at each timer until every id has a final outcome (or `maxWakes`). */
  async function drive(ids, maxWakes = 2000) {
    for (let i = 0; i < maxWakes; i++) {
      const done = new Set(outcomes.filter((o) => o.status !== "queued").map((o) => o.eventId));
      if (ids.every((id) => done.has(id))) return;
      await net.idle();
      const at = timers.at(-1);
      assert.ok(at !== undefined, "events pending but no timer set");
      if (at > clock.t) clock.t = at;
      outcomes.push(...await c.wake());
    }
    assert.fail(`events still pending after ${maxWakes} wakes`);
  }
  const final = (id) => {
    const f = outcomes.filter((o) => o.eventId === id && o.status !== "queued");
    assert.equal(f.length, 1, `${id}: ${JSON.stringify(outcomes)}`);
    return f[0];
  };
  return { sim, c, clock, timers, logs, outcomes, drive, final, settings, host };
}

// --- case 1: dates, NaN, ±Infinity ---------------------------------------------------------

test("dates as pipelines write them reach Marketo as the same instant, 8 digits as a date", async () => {
  const s = await setup();
  try {
    const cases = [
      ["2013-09-26T06:56:35+0000", "2013-09-26T06:56:35Z"],
      ["19900517", "1990-05-17T00:00:00Z"],
      ["2013-09-26 01:56-05", "2013-09-26T06:56:00Z"],
      ["Thu, 26 Sep 2013 06:56:35 +0000", "2013-09-26T06:56:35Z"],
      [new Date(Date.UTC(2013, 8, 26, 6, 56, 35)), "2013-09-26T06:56:35Z"],
    ];
    for (const [i, [born, expected]] of cases.entries()) {
      s.outcomes.push(...await s.c.process("upsert", { email: `d${i}@example.com`, born }, `d${i}`));
      assert.equal(s.final(`d${i}`).status, "delivered", String(born));
      const sent = s.sim.requests.filter((r) => r.path === "/rest/v1/leads.json").at(-1);
      assert.equal(sent.json.input[0].birthDate, expected, String(born));
    }
    s.outcomes.push(...await s.c.process("upsert", { email: "x@example.com", born: "19901317" }, "bad"));
    const bad = s.final("bad");
    assert.equal(bad.code, "INVALID_VALUE");
    assert.match(bad.message, /birthDate.*YYYYMMDD date with month 13/);
  } finally {
    await s.sim.close();
  }
});

test("NaN, ±Infinity and an invalid Date (also behind a Number wrapper or toJSON) fail the event naming the field, never clear it", async () => {
  const s = await setup();
  try {
    const before = s.sim.requests.length;
    const events = [
      ["n1", "upsert", { email: "a@example.com", score: NaN }, /leadScore.*the value is NaN/],
      ["n2", "upsert", { email: "a@example.com", score: Infinity }, /leadScore.*the value is Infinity/],
      ["n3", "upsert", { email: "a@example.com", born: -Infinity }, /birthDate.*the value is -Infinity/],
      ["n4", "upsert", { email: "a@example.com", born: new Date(NaN) }, /birthDate.*the value is an invalid Date/],
      ["n5", "upsert", { email: "a@example.com", score: [1, { x: NaN }] }, /leadScore.*NaN/],
      ["n6", "email", { lead: 5, amount: NaN }, /tokens \{\{my\.amount\}\}.*NaN/],
      ["n7", "bulk", { email: "a@example.com", score: Infinity }, /leadData field leadScore.*Infinity/],
      ["n8", "email", { lead: NaN }, /targetLeadId.*NaN/],
      // JSON.stringify writes null for these too: behind a Number wrapper, or from toJSON.
      ["n9", "upsert", { email: "a@example.com", score: new Number(NaN) }, /leadScore.*the value is NaN/],
      ["n10", "upsert", { email: "a@example.com", score: { toJSON: () => Infinity } }, /leadScore.*the value is Infinity/],
      ["n11", "upsert", { email: "a@example.com", score: [2, new Number(-Infinity)] }, /leadScore.*-Infinity/],
      ["n12", "upsert", { email: "a@example.com", score: [{ toJSON: () => NaN }] }, /leadScore.*NaN/],
      // ... and inside what a toJSON returns, on the way to the value or at it.
      ["n13", "upsert", { email: "a@example.com", score: 5, toJSON() { return { email: "a@example.com", score: NaN }; } }, /leadScore.*the value is NaN/],
      ["n14", "upsert", { email: "a@example.com", score: { toJSON: () => ({ a: NaN }) } }, /leadScore.*NaN/],
      ["n15", "upsert", { email: "a@example.com", score: { toJSON: () => [1, new Number(Infinity)] } }, /leadScore.*Infinity/],
      ["n16", "bulk", { email: "a@example.com", score: { toJSON: () => ({ a: -Infinity }) } }, /leadData field leadScore.*-Infinity/],
      // toJSON is given its key, as JSON.stringify of the event gives it.
      ["n17", "upsert", { email: "a@example.com", score: { toJSON(k) { return k === "score" ? NaN : 1; } } }, /leadScore.*the value is NaN/],
      ["n18", "upsert", { email: "a@example.com", score: [{ toJSON(k) { return k === "0" ? Infinity : 1; } }] }, /leadScore.*Infinity/],
    ];
    for (const [id, action, ev, re] of events) {
      s.outcomes.push(...await s.c.process(action, ev, id));
      const o = s.final(id);
      assert.equal(o.status, "failed", id);
      assert.equal(o.code, "INVALID_VALUE", id);
      assert.match(o.message, re, id);
    }
    assert.equal(s.sim.requests.length, before, "nothing was sent for them");
    assert.throws(() => s.c.preview("upsert", { email: "a@example.com", score: NaN }), { code: "INVALID_VALUE" });
    // A NaN in an attribute no action reads is no reason to fail.
    s.outcomes.push(...await s.c.process("upsert", { email: "ok@example.com", unrelated: NaN, born: null }, "ok"));
    assert.equal(s.final("ok").status, "delivered");
  } finally {
    await s.sim.close();
  }
});

// --- case 2: an instance shared with other apps --------------------------------------------

test("other apps using 90 of 100 calls per 20 s: 300 upserts all delivered at a lowered pace", { timeout: 120_000 }, async () => {
  const s = await setup({ sim: { otherApps: { callsPer20s: 90 } }, actions: [UPSERT] });
  try {
    const ids = [];
    const pending = [];
    for (let i = 0; i < 300; i++) {
      ids.push(`u${i}`);
      pending.push(s.c.process("upsert", { email: `p${i}@example.com` }, `u${i}`).then((o) => s.outcomes.push(...o)));
    }
    await Promise.all(pending);
    let lowest = s.c.stats().pace.callsPer20s;
    const wake = s.c.wake.bind(s.c);
    s.c.wake = async () => {
      const out = await wake();
      lowest = Math.min(lowest, s.c.stats().pace.callsPer20s);
      return out;
    };
    await s.drive(ids, 5000);
    for (const id of ids) assert.equal(s.final(id).status, "delivered", JSON.stringify(s.final(id)));
    const refused = s.sim.errorCount("606");
    const stats = s.c.stats();
    assert.equal(stats.rateLimited, refused);
    assert.ok(refused < 100, `${refused} calls refused (808 before pacing)`);
    assert.ok(lowest <= 10, `the pace came down to what is left: ${lowest}`);
    assert.ok(stats.pace.callsPer20s <= 50 && stats.pace.concurrency <= 5, JSON.stringify(stats.pace));
  } finally {
    await s.sim.close();
  }
});

// --- case 3: the quota day in US Central local time ----------------------------------------

for (const [reset, expected] of [["central", [CDT_MIDNIGHT]], ["cst", [CDT_MIDNIGHT, CST_MIDNIGHT]]]) {
  test(`after a 607 in July, resume at CDT midnight (Marketo resetting at ${reset} midnight)`, async () => {
    // dailyQuota 2: the lead schema's read and the first upsert.
    const s = await setup({ start: JULY, sim: { limits: { dailyQuota: 2 }, quotaReset: reset }, actions: [UPSERT] });
    try {
      s.outcomes.push(...await s.c.process("upsert", { email: "first@example.com" }, "q1"));
      assert.equal(s.final("q1").status, "delivered");
      s.outcomes.push(...await s.c.process("upsert", { email: "second@example.com" }, "q2"));
      assert.equal(s.sim.errorCount("607"), 1);
      await s.drive(["q2"]);
      assert.equal(s.final("q2").status, "delivered");
      const after = s.sim.requests.filter((r) => r.path === "/rest/v1/leads.json").slice(2).map((r) => r.at);
      // One call at CDT midnight; when Marketo still says 607 then, one more at CST midnight.
      assert.deepEqual(after, expected);
      assert.equal(s.sim.errorCount("607"), expected.length);
    } finally {
      await s.sim.close();
    }
  });
}

// --- case 4: pickers without moreResult ----------------------------------------------------

test("pickers follow nextPageToken when pages carry no moreResult", async () => {
  const lists = Array.from({ length: 460 }, (_, i) => ({ id: 2000 + i, name: `List ${i}` }));
  const campaigns = Array.from({ length: 330 }, (_, i) => ({ id: 5000 + i, name: `C ${i}`, type: "trigger", isRequestable: true }));
  const s = await setup({ sim: { paging: { moreResult: false }, seed: { lists, campaigns } }, actions: [] });
  try {
    const got = await s.c.staticLists();
    assert.equal(got.length, 460);
    assert.deepEqual(got.at(-1), { id: 2459, name: "List 459" });
    assert.equal((await s.c.triggerableCampaigns()).length, 330);
    const pages = s.sim.requests.filter((r) => r.path === "/rest/v1/lists.json");
    assert.equal(pages.length, 3, "300, 160, then the empty page");
    assert.ok(pages.every((p) => p.response?.moreResult === undefined), "no page said moreResult");
  } finally {
    await s.sim.close();
  }
});

// --- case 5: answers without a code or message ----------------------------------------------

test("an answer without a code or message fails the event with both", async () => {
  const s = await setup({ actions: [UPSERT] });
  try {
    s.sim.inject({
      path: "/rest/v1/leads.json", method: "POST",
      kind: { http: 200, contentType: "application/json", body: '{"success":false,"errors":[{"code":null,"message":null}]}' },
    });
    s.outcomes.push(...await s.c.process("upsert", { email: "a@example.com" }, "a"));
    const o = s.final("a");
    assert.deepEqual([o.status, o.code], ["failed", "UNKNOWN_ERROR"]);
    assert.equal(o.message, 'Marketo sent an error without a code or message: {"code":null,"message":null}');
  } finally {
    await s.sim.close();
  }
});

// --- case 6: echoed tokens and secrets -----------------------------------------------------

const b64 = (s) => Buffer.from(s).toString("base64");

/** Asserts `text` carries no token the simulator issued and not the secret, in any form. */
function assertClean(sim, what, text) {
  const secrets = [sim.clientSecret, ...sim.state.tokens.keys()];
  assert.ok(secrets.length >= 2, "a token was issued");
  for (const s of secrets) {
    const head = s.split(":")[0];
    for (const form of [s, encodeURIComponent(s), head, encodeURIComponent(head), b64(s).slice(4, 24), head.slice(0, 12)]) {
      assert.ok(!text.includes(form), `${what} carries ${JSON.stringify(form)}: ${text}`);
    }
  }
}

test("echoed tokens never reach outcomes, log entries, errors or snapshots", async () => {
  let failFetch = 0;
  let s;
  const fetch = (url, init) => {
    if (failFetch > 0 && url.includes("/rest/v1/leads.json")) {
      failFetch -= 1;
      // A host fetch that quotes the request in its error, as some HTTP clients do.
      return Promise.reject(new Error(`request failed: ${url} ${JSON.stringify(init.headers)} ` +
        `auth=${encodeURIComponent(init.headers.Authorization)} b64=${b64(init.headers.Authorization)}`));
    }
    return globalThis.fetch(url, init);
  };
  s = await setup({ actions: [UPSERT], fetch });
  try {
    const echo = (kind, times = 6) => s.sim.inject({ path: "/rest/v1/leads.json", method: "POST", times, kind });
    const errors = [];
    // One event at a time, each to its final outcome, so each meets its own echo.
    const one = async (id, email) => {
      s.outcomes.push(...await s.c.process("upsert", { email }, id));
      await s.drive([id]);
    };
    echo({ echo: "html", http: 200 });
    await one("html", "a@example.com");
    echo({ echo: "body" });
    await one("body", "b@example.com");
    echo({ echo: "message" }, 1);
    await one("603", "c@example.com");
    failFetch = 6;
    await one("fetch", "d@example.com");
    s.sim.inject({ path: "/rest/v1/lists.json", kind: { echo: "message" } });
    await s.c.staticLists().catch((e) => errors.push(`${e.code} ${e.message}`));
    assert.deepEqual(["html", "body", "603", "fetch"].map((id) => s.final(id).code), ["BAD_RESPONSE", "BAD_RESPONSE", "603", "NETWORK"]);
    assert.match(s.final("603").message, /^Access denied for token \*\*\* \(Bearer \*\*\*\)$/);
    assert.match(s.final("body").message, /starts with "\*\*\* rejected by upstream filter"/);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^LISTING_FAILED .*603 Access denied for token \*\*\*/);
    const transport = s.logs.filter((e) => e.type === "transportError");
    assert.equal(transport.length, 6);
    assert.match(transport[0].message, /\*\*\*/);
    const all = JSON.stringify(s.outcomes) + JSON.stringify(s.logs) + errors.join("\n") + s.c.snapshot() +
      JSON.stringify(s.c.stats()) + JSON.stringify(s.c.preview("upsert", { email: "e@example.com" }));
    assertClean(s.sim, "what left the connector", all);
  } finally {
    await s.sim.close();
  }
});

test("an identity 401 echoing client_secret=… does not show the secret", async () => {
  const s = await setup({ actions: [UPSERT] });
  try {
    s.sim.inject({ path: "/identity/oauth/token", kind: { echo: "form" } });
    s.outcomes.push(...await s.c.process("upsert", { email: "a@example.com" }, "a"));
    const o = s.final("a");
    assert.equal(o.code, "AUTH_REJECTED");
    assert.match(o.message, /client_secret=\*\*\*/);
    assert.ok(!JSON.stringify(s.outcomes).includes(s.sim.clientSecret));
  } finally {
    await s.sim.close();
  }
});

// --- case 7: events that are not plain JSON ------------------------------------------------

test("cyclic, BigInt, throwing getters and deep nesting fail saying which", async () => {
  const s = await setup({ actions: [UPSERT] });
  try {
    // Each fault sits on an attribute the action reads (`email`, `score`, `born`).
    const cyclic = { email: "a@example.com", score: { udo: {} } };
    cyclic.score.udo.self = cyclic.score;
    const getter = { email: "a@example.com" };
    Object.defineProperty(getter, "score", { enumerable: true, get() { throw new Error("plan is not loaded"); } });
    let deep = { email: "a@example.com" };
    for (let i = 0; i < 200; i++) deep = { next: deep };
    const cases = [
      ["cyclic", cyclic, "it is cyclic: `score.udo.self` refers back to an object that contains it"],
      ["bigint", { email: "a@example.com", score: 10n }, "it holds a BigInt at `score`, which JSON cannot carry"],
      ["getter", getter, "reading `score` threw: plan is not loaded"],
      ["tojson", { email: "a@example.com", born: { toJSON() { throw new Error("bad clock"); } } }, "`born`.toJSON() threw: bad clock"],
      ["deep", { email: "a@example.com", score: deep }, "it is nested more than 127 levels deep"],
      ["date", new Date(0), "it is a Date, not an object of attributes"],
      ["map", new Map([["email", "a@example.com"]]), "it is a Map (Object.fromEntries(map) makes an object of it), not an object of attributes"],
      ["surrogate", { email: "a@example.com\ud83d" }, "a string it holds has half of a character (a lone UTF-16 surrogate"],
      ["string", new String("a@example.com"), "it is a String object (new String(…)), which JSON writes as its text, not an object of attributes"],
      // JSON writes the primitive, whatever properties the object has.
      ["number", Object.assign(new Number(7), { email: "a@example.com" }), "it is a Number object (new Number(…)), which JSON writes as its number"],
      ["boolean", Object.assign(new Boolean(true), { email: "a@example.com" }), "it is a Boolean object (new Boolean(…)), which JSON writes as true or false"],
      ["string-props", Object.assign(new String("x"), { email: "a@example.com" }), "it is a String object"],
      // A Proxy whose traps throw while JSON.stringify lists its keys or reads a list's length.
      ["proxy-keys", { email: "a@example.com", score: new Proxy({}, { ownKeys() { throw new Error("no keys today"); } }) },
        "listing the keys of `score` threw: no keys today"],
      ["proxy-length", { email: "a@example.com", score: new Proxy([1], { get(t, k) { if (k === "length") throw new Error("no length"); return t[k]; } }) },
        "listing the keys of `score` threw: no length"],
      // Events JSON writes nothing for.
      ["root-tojson", { email: "a@example.com", toJSON() { return undefined; } }, "its toJSON() gave a value JSON leaves out (undefined, a function or a symbol)"],
      ["function", Object.assign(() => 1, { email: "a@example.com" }), "it is a function, which JSON cannot carry"],
      ["bigint-event", 10n, "it is a BigInt, which JSON cannot carry"],
      ["root-tojson-throws", { email: "a@example.com", toJSON() { throw new Error("boom"); } }, "the event's toJSON() threw: boom"],
      // A revoked Proxy as the event: asking what it is throws.
      ["revoked", (() => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; })(),
        "reading the event itself threw: Cannot perform 'IsArray' on a proxy that has been revoked"],
      // A list too long for JSON's text (JSON.stringify's own RangeError), not walked key by key.
      ["huge-list", { email: "a@example.com", score: Object.assign([], { length: 2 ** 32 - 1 }) }, "Invalid string length"],
    ];
    const before = s.sim.requests.length;
    for (const [id, ev, why] of cases) {
      s.outcomes.push(...await s.c.process("upsert", ev, id));
      const o = s.final(id);
      assert.deepEqual([o.status, o.code], ["failed", "INVALID_EVENT"], id);
      assert.ok(o.message.startsWith(`the event must be a JSON object: ${why}`), `${id}: ${o.message}`);
    }
    assert.equal(s.sim.requests.length, before, "nothing was sent");
    // Half of a character is named where it is: the string itself, or the list or object holding it.
    for (const [id, ev, where] of [["half-at", { email: "a@example.com", score: "9\udc00" }, / at `score`$/],
      ["half-in", { email: "a@example.com", score: ["ok", "\ud83d"] }, /, in `score`$/]]) {
      s.outcomes.push(...await s.c.process("upsert", ev, id));
      assert.match(s.final(id).message, where, id);
    }
    assert.throws(() => s.c.preview("upsert", cyclic), { code: "INVALID_EVENT", message: /cyclic/ });
    // A deep value JSON.stringify itself cannot handle (it overflows the stack) says the same.
    let deeper = {};
    for (let i = 0; i < 20000; i++) deeper = { next: deeper };
    s.outcomes.push(...await s.c.process("upsert", { email: "a@example.com", score: deeper }, "deeper"));
    assert.match(s.final("deeper").message, /nested more than 127 levels deep/);
    // Only what the action reads is read: the same faults where no source reads, and half a
    // character there, are skipped like the rest of what it does not read.
    const elsewhere = { email: "half@example.com", note: "cut \ud83d", ["\udc00"]: 1, count: 10n, deep, deeper, data: {} };
    elsewhere.data.self = elsewhere;
    Object.defineProperty(elsewhere, "plan", { enumerable: true, get() { throw new Error("plan is not loaded"); } });
    elsewhere.when = { toJSON() { throw new Error("bad clock"); } };
    s.outcomes.push(...await s.c.process("upsert", elsewhere, "half"));
    assert.equal(s.final("half").status, "delivered");
    assert.deepEqual(s.c.preview("upsert", elsewhere).map((r) => JSON.parse(r.body).input), [[{ email: "half@example.com" }]]);
  } finally {
    await s.sim.close();
  }
});

test("each key on an action's paths is read once, in the paths' order, and nothing else of the event", async () => {
  const s = await setup({ actions: [UPSERT] });
  try {
    // Every property look-up JSON.stringify or the connector could make, logged.
    const log = [];
    const spy = (name, target) => new Proxy(target, {
      get(t, k, r) { if (typeof k === "string") log.push(`get ${name}.${k}`); return Reflect.get(t, k, r); },
      getOwnPropertyDescriptor(t, k) { log.push(`own ${name}.${String(k)}`); return Reflect.getOwnPropertyDescriptor(t, k); },
      ownKeys(t) { log.push(`keys ${name}`); return Reflect.ownKeys(t); },
    });
    let reads = 0;
    const event = spy("event", { email: "Once@Example.com", born: "2001-02-03", unread: { a: 1 } });
    Object.defineProperty(event, "score", { enumerable: true, get() { reads += 1; return 42; } });
    log.length = 0;
    s.outcomes.push(...await s.c.process("upsert", event, "once"));
    assert.equal(reads, 1, "the getter ran once");
    // Whether the event is an Array or has a toJSON, then each of email, score, born: is it
    // its own enumerable property, then its value. `unread` is never touched.
    assert.deepEqual(log, [
      "get event.toJSON",
      "own event.email", "get event.email",
      "own event.score", "get event.score",
      "own event.born", "get event.born",
    ]);
    assert.equal(s.final("once").status, "delivered");
    const lead = [...s.sim.state.leads.values()].find((l) => l.email?.toLowerCase() === "once@example.com");
    assert.ok(lead, "the lead was created");
    assert.equal(lead.leadScore, 42);
  } finally {
    await s.sim.close();
  }
});

test("a Proxy whose getPrototypeOf trap throws is read as JSON.stringify reads it (it never asks that trap)", async () => {
  const s = await setup({ actions: [UPSERT] });
  try {
    const gpo = { getPrototypeOf() { throw new Error("no prototype today"); } };
    for (const event of [new Proxy({ email: "p@example.com", score: 3 }, gpo), { email: "p@example.com", score: new Proxy({ n: 1 }, gpo) }]) {
      const copy = JSON.parse(JSON.stringify(event));
      assert.deepEqual(s.c.preview("upsert", event), s.c.preview("upsert", copy));
    }
  } finally {
    await s.sim.close();
  }
});

test("a getter that makes the same connector read another event does not mix the two events' values", async () => {
  const s = await setup({ actions: [UPSERT] });
  try {
    const inner = [];
    const outer = { email: "outer@example.com", born: "2001-02-03" };
    // Read between `email` and `born`: the inner event goes through the same action's reader.
    Object.defineProperty(outer, "score", {
      enumerable: true,
      get() {
        const nested = { email: `inner-${"x".repeat(200)}@example.com`, score: 7, born: { toJSON: () => "1999-12-31" } };
        inner.push(s.c.process("upsert", nested, "inner"));
        // And once more from inside the inner event's toJSON (its reading is finished here).
        nested.born = { toJSON() { inner.push(s.c.process("upsert", { email: "deepest@example.com", score: 1 }, "deepest")); return "1999-12-31"; } };
        inner.push(s.c.process("upsert", nested, "inner2"));
        return 42;
      },
    });
    s.outcomes.push(...await s.c.process("upsert", outer, "outer"));
    for (const p of inner) s.outcomes.push(...await p);
    const bodies = s.c.preview("upsert", outer).map((r) => JSON.parse(r.body).input);
    assert.deepEqual(bodies, [[{ email: "outer@example.com", leadScore: 42, birthDate: "2001-02-03T00:00:00Z" }]].map((x) => x), "the outer event as written");
    for (const id of ["outer", "inner", "inner2", "deepest"]) assert.equal(s.final(id).status, "delivered", `${id}: ${JSON.stringify(s.final(id))}`);
    const emails = [...s.sim.state.leads.values()].map((l) => l.email).sort();
    assert.ok(emails.includes("outer@example.com") && emails.includes("deepest@example.com"), emails.join());
    assert.ok(emails.includes(`inner-${"x".repeat(200)}@example.com`), "the inner event's own email");
  } finally {
    await s.sim.close();
  }
});
