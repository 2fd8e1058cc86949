// The edge host (host-example/worker/) in the real workerd runtime, as a team deploys it (see
// worker-harness.mjs): the packed package beside a copy of the Worker, bundled by `wrangler
// deploy --dry-run`, run by miniflare with its Durable Object against the simulator on loopback,
// on a virtual clock the object and the simulator share.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { edgeHarness, SECRET, sleep } from "./worker-harness.mjs";

const MINUTE = 60_000;
let h; // the harness
let sim;
let dist;
let dryRun;
let startWorker;

before(async () => {
  h = await edgeHarness();
  ({ sim, dist, dryRun, startWorker } = h);
});

after(async () => {
  await h?.close();
});

const calls = (path) => sim.requests.filter((r) => r.path === path);
const LIST_PATH = "/rest/v1/lists/1001/leads.json";
const email = (i, tag) => `${tag}.${i}@example.com`;
const udo = (i, tag) => ({ data: { udo: { customer_email: email(i, tag), event_id: `${tag}-${i}` } } });

test("wrangler deploy --dry-run bundles the Worker with the package's .wasm as a module", () => {
  assert.match(dryRun, /--dry-run: exiting now/);
  assert.match(dryRun, /env\.MARKETO \(MarketoInstance\)\s+Durable Object/);
  const out = readdirSync(dist);
  assert.equal(out.filter((f) => f.endsWith(".wasm")).length, 1, `the workerd entry imports the .wasm: ${out}`);
  assert.ok(statSync(join(dist, "index.js")).size < 200_000, "the bundle must not carry the inlined (browser) module");
});

test("the README's Worker section sets every secret the Worker reads and deploys this folder", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("\n## In a Cloudflare Worker\n");
  assert.ok(start >= 0, "README has no \"## In a Cloudflare Worker\" section");
  const commands = readme.slice(start).match(/```sh\n([^]*?)```/)[1];
  assert.match(commands, /^cd host-example\/worker$/m);
  assert.match(commands, /^npx wrangler deploy$/m);
  const secrets = [...commands.matchAll(/^npx wrangler secret put (\w+)/gm)].map((m) => m[1]).sort();
  const source = readFileSync(new URL("../worker/src/index.js", import.meta.url), "utf8");
  const read = [...new Set([...source.matchAll(/env\.((?:MARKETO|WEBHOOK)_[A-Z_]+)/g)].map((m) => m[1]))]
    .filter((name) => !(name in h.vars)).sort();
  assert.deepEqual(secrets, read, "the secrets the README sets are the settings the Worker reads and wrangler.jsonc lacks");
  assert.deepEqual(read, ["MARKETO_CLIENT_ID", "MARKETO_CLIENT_SECRET", "MARKETO_ENDPOINT_URL", "MARKETO_IDENTITY_URL", "WEBHOOK_SECRET"]);
});

test("a wrong or missing secret is 401 and a body that is not JSON is 400 naming the line; nothing is queued", async () => {
  sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }] });
  const w = await startWorker();
  try {
    const before = sim.requests.length;
    for (const headers of [{ authorization: "" }, { authorization: "Bearer wrong" }, { authorization: `Bearer ${SECRET}x` }, { authorization: SECRET }]) {
      for (const [method, path] of [["POST", "/events/newsletter"], ["GET", "/outcomes"], ["POST", "/flush"], ["GET", "/health"]]) {
        const r = await w.call(method, path, method === "POST" ? udo(1, "nope") : undefined, headers);
        assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
      }
    }
    const ndjson = [JSON.stringify(udo(1, "bad")), JSON.stringify(udo(2, "bad")), '{"data": {"udo": ', JSON.stringify(udo(3, "bad"))].join("\n");
    const bad = await w.call("POST", "/events/newsletter", ndjson);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^line 3 is not JSON/);
    const notObject = await w.call("POST", "/events/newsletter", JSON.stringify([udo(1, "bad"), 7]));
    assert.equal(notObject.status, 400);
    assert.match(notObject.body.error, /element 1 of the array is not a JSON object/);
    assert.equal((await w.call("POST", "/events/newsletter", "")).status, 400);
    assert.equal((await w.call("POST", "/events/nosuchaction", udo(1, "bad"))).status, 404);

    const health = await w.call("GET", "/health");
    assert.equal(health.status, 200);
    assert.deepEqual(health.body.stats.queues, { upsert: 0, newsletter: 0 }, "nothing from a refused request is queued");
    assert.equal(health.body.stats.oldestQueuedAgeMs, null);
    assert.deepEqual((await w.call("POST", "/flush")).body.outcomes, []);
    assert.equal(sim.requests.length, before, "Marketo heard nothing");
  } finally {
    await w.dispose();
  }
});

test("batched events accepted over many requests go as one call; outcomes come back through the cursor once", async () => {
  sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }] });
  const w = await startWorker();
  try {
    const before = calls(LIST_PATH).length;
    const ids = [];
    for (let r = 0; r < 20; r++) {
      const events = Array.from({ length: 5 }, (_, k) => udo(r * 5 + k, "batch"));
      ids.push(...events.map((e) => e.data.udo.event_id));
      // JSON arrays, NDJSON and single events.
      const body = r % 3 === 0 ? JSON.stringify(events) : events.map((e) => JSON.stringify(e)).join("\n");
      const res = await w.call("POST", "/events/newsletter", body);
      assert.equal(res.status, 202);
      assert.deepEqual(res.body.outcomes.map((o) => [o.eventId, o.status]), events.map((e) => [e.data.udo.event_id, "queued"]));
    }
    const generated = await w.call("POST", "/events/newsletter", { data: { udo: { customer_email: "generated@example.com" } } });
    assert.match(generated.body.outcomes[0].eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "no id: one generated");
    ids.push(generated.body.outcomes[0].eventId);
    const one = await w.call("POST", "/events/newsletter", { data: { udo: { customer_email: "header@example.com" } } }, { "x-event-id": "from-header" });
    assert.deepEqual(one.body.outcomes.map((o) => [o.eventId, o.status]), [["from-header", "queued"]], "EVENT_ID_PATH absent: the header names it");
    ids.push("from-header");

    const health = (await w.call("GET", "/health")).body;
    assert.deepEqual(health.stats.queues, { upsert: 0, newsletter: 102 });
    assert.ok(health.stats.oldestQueuedAgeMs >= 0);
    assert.ok(health.storage.generation === 0 && health.storage.pieces >= 1);
    assert.equal(calls(LIST_PATH).length, before, "nothing sent while the batch fills");
    assert.equal((await w.readOutcomes()).outcomes.length, 0, "no final outcome yet");

    const flushed = await w.call("POST", "/flush");
    assert.equal(flushed.status, 200);
    assert.equal(calls(LIST_PATH).length, before + 1, "102 events from 22 requests in one list call");
    assert.equal(calls(LIST_PATH).at(-1).json.input.length, 102);

    // Read back 30 at a time: in order, each once, then nothing more.
    const { outcomes, cursor } = await w.readOutcomes(0, 30);
    assert.deepEqual(outcomes.map((o) => o.eventId).sort(), [...ids].sort());
    assert.ok(outcomes.every((o) => o.status === "delivered" && o.leadIds.length === 1), JSON.stringify(outcomes.slice(0, 3)));
    assert.deepEqual(outcomes.map((o) => o.seq), outcomes.map((_, i) => i + 1), "sequence numbers in order");
    assert.deepEqual((await w.call("GET", `/outcomes?after=${cursor}`)).body, { outcomes: [], cursor, more: false });
    assert.deepEqual((await w.call("GET", "/outcomes?after=0")).body.outcomes, [], "pages a cursor passed are dropped");
    const members = sim.state.lists.get(1001).members;
    for (let i = 0; i < 100; i++) assert.ok(members.has([...sim.state.leads.values()].find((l) => l.email === email(i, "batch")).id));
  } finally {
    await w.dispose();
  }
});

test("the alarm sends a batch once its oldest event is 30 minutes old (test clock)", async () => {
  sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }] });
  const w = await startWorker();
  try {
    const before = calls(LIST_PATH).length;
    for (let i = 0; i < 3; i++) assert.equal((await w.call("POST", "/events/newsletter", udo(i, "age"))).status, 202);
    await w.advance(29 * MINUTE);
    await sleep(300);
    assert.equal(calls(LIST_PATH).length, before, "29 minutes: still waiting");
    await w.advance(MINUTE + 1000);
    const { outcomes } = await w.waitOutcomes(3);
    assert.deepEqual(outcomes.map((o) => [o.eventId, o.status]).sort(), [0, 1, 2].map((i) => [`age-${i}`, "delivered"]));
    assert.equal(calls(LIST_PATH).length, before + 1, "one call, from the alarm");
  } finally {
    await w.dispose();
  }
});

test("an eviction (a new instance) and a workerd restart over stored state: every accepted event delivered once", async () => {
  sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }] });
  const persist = join(h.dir, "storage-evictions");
  const before = calls(LIST_PATH).length;
  const accepted = [];
  let w = await startWorker({ persist });
  try {
    for (let i = 0; i < 10; i++) {
      const r = await w.call("POST", "/events/newsletter", udo(i, "evict"));
      assert.equal(r.status, 202);
      accepted.push(...r.body.outcomes.map((o) => o.eventId));
    }
    assert.equal((await w.call("POST", "/test/evict")).status, 200);
    const health = (await w.call("GET", "/health")).body; // a new instance, restored from storage
    assert.equal(health.storage.restored, true);
    assert.equal(health.storage.generation, 1, "the restored connector's snapshot is stored (generation 1)");
    assert.deepEqual(health.stats.queues.newsletter, 10, "the queue came back");
    for (let i = 10; i < 15; i++) accepted.push(...(await w.call("POST", "/events/newsletter", udo(i, "evict"))).body.outcomes.map((o) => o.eventId));
  } finally {
    await w.dispose(); // workerd goes away; the object's storage stays on disk
  }
  assert.equal(calls(LIST_PATH).length, before, "nothing sent yet");
  w = await startWorker({ persist });
  try {
    const health = (await w.call("GET", "/health")).body;
    assert.equal(health.storage.generation, 2);
    assert.equal(health.stats.queues.newsletter, 15);
    assert.equal((await w.call("POST", "/flush")).status, 200);
    const { outcomes } = await w.waitOutcomes(15);
    assert.deepEqual(outcomes.map((o) => o.eventId).sort(), [...accepted].sort(), "each accepted event has one outcome");
    assert.ok(outcomes.every((o) => o.status === "delivered"));
    assert.equal(calls(LIST_PATH).length, before + 1, "one list call for all 15");
    assert.equal(calls(LIST_PATH).at(-1).json.input.length, 15);
    assert.deepEqual((await w.call("POST", "/flush")).body.outcomes, [], "nothing left to send twice");
  } finally {
    await w.dispose();
  }
});

test("a campaign trigger in flight during an eviction is reported uncertain and never sent twice", async () => {
  sim.seed({ leads: [{ id: 7001, email: "trigger.me@example.com" }], campaigns: [{ id: 3712, name: "Welcome", type: "trigger", isRequestable: true }] });
  const config = {
    actions: [{ id: "welcome", type: "sendTransactionalEmail", targetEmailCampaign: 3712, targetLeadId: { attribute: "lead" } }],
  };
  const w = await startWorker({ config });
  const TRIGGER = "/rest/v1/campaigns/3712/trigger.json";
  try {
    sim.inject({ path: TRIGGER, slowMs: 1500 }); // the trigger reaches Marketo, the answer is late
    const triggersBefore = sim.state.triggers.length;
    const accepted = await w.call("POST", "/events/welcome", { lead: 7001 }, { "x-event-id": "welcome-1" });
    assert.equal(accepted.status, 202, "answered once stored, not after Marketo's answer");
    assert.deepEqual(accepted.body.outcomes.map((o) => [o.eventId, o.status]), [["welcome-1", "queued"]]);
    for (let i = 0; i < 100 && calls(TRIGGER).length === 0; i++) await sleep(20);
    assert.equal(calls(TRIGGER).length, 1, "the trigger is in flight");
    await w.call("POST", "/test/evict");
    const { outcomes } = await w.waitOutcomes(1);
    assert.deepEqual(outcomes.map((o) => [o.eventId, o.status, o.code]), [["welcome-1", "uncertain", "RESTARTED_IN_FLIGHT"]]);
    await sleep(1700); // the late answer has come and gone
    await w.call("POST", "/flush");
    assert.equal(calls(TRIGGER).length, 1, "never sent twice");
    assert.equal(sim.state.triggers.length, triggersBefore + 1);
    assert.equal((await w.readOutcomes(outcomes.at(-1).seq)).outcomes.length, 0, "one outcome for the event");
  } finally {
    sim.clearFaults?.();
    await w.dispose();
  }
});

test("50 concurrent clients: every event delivered once, within calls per 20 s and concurrency", async () => {
  const config = {
    limits: { callsPer20s: 10, concurrency: 2 },
    actions: [{ id: "upsert", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
      leadData: [{ field: "email", source: { attribute: "data.udo.customer_email" } }] }],
  };
  const w = await startWorker({ config });
  const LEADS = "/rest/v1/leads.json";
  try {
    const checked = await w.call("GET", "/check");
    assert.equal(checked.status, 200, "GET /check answers connector.check()");
    assert.deepEqual(checked.body, { ok: true, problems: [] }, "the configuration fits the simulator's instance");
    const first = sim.requests.length;
    sim.state.counters.peakConcurrency = 0;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => w.call("POST", "/events/upsert", udo(i, "crowd"))));
    assert.deepEqual(answers.map((a) => a.status), Array(50).fill(202));
    // Each 20 s of the virtual clock lets 10 more calls go.
    let outcomes = [];
    let cursor = 0;
    for (let step = 0; step < 12 && outcomes.length < 50; step++) {
      const r = await w.waitOutcomes(Math.min(50, (step + 1) * 10) - outcomes.length, cursor);
      outcomes.push(...r.outcomes);
      cursor = r.cursor;
      if (outcomes.length < 50) await w.advance(20_000);
    }
    assert.deepEqual(outcomes.map((o) => o.eventId).sort(), Array.from({ length: 50 }, (_, i) => `crowd-${i}`).sort());
    assert.ok(outcomes.every((o) => o.status === "delivered"), JSON.stringify(outcomes.find((o) => o.status !== "delivered")));
    const sent = sim.requests.slice(first).filter((r) => r.path === LEADS);
    assert.equal(sent.length, 50, "one call per event, none twice");
    for (const r of sent) {
      const inWindow = sent.filter((s) => s.at > r.at - 20_000 && s.at <= r.at).length;
      assert.ok(inWindow <= 10, `${inWindow} calls in the 20 s before ${r.at}`);
    }
    assert.ok(sim.state.counters.peakConcurrency <= 2, `peak concurrency ${sim.state.counters.peakConcurrency}`);
    const refused = sim.requests.slice(first).filter((r) => ["606", "615"].includes(String(r.response?.errors?.[0]?.code)));
    assert.equal(refused.length, 0, "Marketo never refused a call for its limits");
    for (let i = 0; i < 50; i++) assert.equal([...sim.state.leads.values()].filter((l) => l.email === email(i, "crowd")).length, 1);
  } finally {
    await w.dispose();
  }
});

test("outcomes are kept for OUTCOME_RETENTION_DAYS when no cursor passes them, and posted to OUTCOME_CALLBACK_URL", async () => {
  const received = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ authorization: req.headers.authorization, body: JSON.parse(body) });
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const w = await startWorker({ extra: { OUTCOME_RETENTION_DAYS: "2", OUTCOME_CALLBACK_URL: `http://127.0.0.1:${server.address().port}/outcomes` } });
  try {
    const r = await w.call("POST", "/events/upsert", udo(1, "kept"));
    assert.equal(r.status, 202);
    const { outcomes } = await w.waitOutcomes(1);
    assert.deepEqual(outcomes.map((o) => [o.eventId, o.status]), [["kept-1", "delivered"]]);
    for (let i = 0; i < 100 && received.length === 0; i++) await sleep(20);
    assert.deepEqual(received.map((c) => [c.authorization, c.body.cursor, c.body.outcomes.map((o) => o.eventId)]), [[`Bearer ${SECRET}`, 1, ["kept-1"]]]);
    await w.advance(47 * 60 * MINUTE);
    assert.equal((await w.readOutcomes(0)).outcomes.length, 1, "47 hours: still there for a reader that has not passed it");
    await w.advance(2 * 60 * MINUTE);
    assert.equal((await w.readOutcomes(0)).outcomes.length, 0, "49 hours: dropped");
  } finally {
    await w.dispose();
    server.close();
  }
});

test("a bulk queue of nearly 10 MB is stored in pieces, survives an eviction and goes as one import", async (t) => {
  const config = {
    actions: [{ id: "import", type: "bulkImportLeads", leadLookupField: "email",
      leadData: [{ field: "email", source: { attribute: "data.udo.customer_email" } },
                 { field: "company", source: { attribute: "data.udo.company" } }] }],
  };
  const w = await startWorker({ config });
  const BULK = "/bulk/v1/leads.json";
  try {
    const company = "c".repeat(420);
    const per = 3000;
    const requests = 7; // 21,000 rows of about 450 bytes: 9.4 MB of CSV, under the 10 MB file limit
    const timings = [];
    for (let r = 0; r < requests; r++) {
      const body = Array.from({ length: per }, (_, k) => {
        const i = r * per + k;
        return JSON.stringify({ data: { udo: { customer_email: `bulk.${i}@example.com`, company, event_id: `bulk-${i}` } } });
      }).join("\n");
      const t0 = performance.now();
      const res = await w.call("POST", "/events/import", body);
      timings.push(performance.now() - t0);
      assert.equal(res.status, 202);
    }
    const t0 = performance.now();
    assert.equal((await w.call("POST", "/events/import", { data: { udo: { customer_email: "one.more@example.com", company: "x", event_id: "bulk-last" } } })).status, 202);
    const oneMore = performance.now() - t0;
    const health = (await w.call("GET", "/health")).body;
    assert.equal(health.stats.queues.import, per * requests + 1);
    assert.ok(health.storage.chars > 9_000_000, `snapshot of ${health.storage.chars} characters`);
    assert.ok(health.storage.pieces >= Math.ceil(health.storage.chars / 1_000_000), "pieces of at most 1,000,000 characters (2 MB)");
    assert.equal(calls(BULK).length, 0, "below every threshold: nothing sent");
    t.diagnostic(`snapshot ${health.storage.chars} characters in ${health.storage.pieces} pieces; ` +
      `POST of 3,000 events took ${timings.map((ms) => ms.toFixed(0)).join(", ")} ms as the queue grew; ` +
      `one event onto the full queue ${oneMore.toFixed(0)} ms (its put ${health.storage.ms} ms)`);

    await w.call("POST", "/test/evict");
    const restored = (await w.call("GET", "/health")).body;
    assert.equal(restored.storage.restored, true);
    assert.equal(restored.stats.queues.import, per * requests + 1, "the whole queue came back");
    await w.call("POST", "/flush");
    for (let i = 0; i < 100 && calls(BULK).length === 0; i++) await sleep(50);
    assert.equal(calls(BULK).length, 1, "one import");
    const file = calls(BULK)[0].body.parts.find((p) => p.name === "file");
    assert.equal(file.text.trim().split("\n").length, per * requests + 2, "header and every row");
  } finally {
    await w.dispose();
  }
});

test("on a key-value-backed object the snapshot goes in pieces of 60,000 characters (128 KiB)", async () => {
  sim.seed({ lists: [{ id: 1001, name: "Newsletter", members: [] }] });
  const w = await startWorker({ sqlite: false });
  try {
    // A queued event keeps what its action reads (the email) and its id: long ids make 250
    // events (under the batch's 300) over 200,000 characters of snapshot.
    const N = 250;
    const body = Array.from({ length: N }, (_, i) => JSON.stringify({ data: { udo: { customer_email: `kv.${i}@example.com`, event_id: `kv-${i}-${"n".repeat(800)}`, note: "not read" } } })).join("\n");
    assert.equal((await w.call("POST", "/events/newsletter", body)).status, 202);
    const health = (await w.call("GET", "/health")).body;
    assert.ok(health.storage.chars > 200_000, `${health.storage.chars} characters`);
    assert.equal(health.storage.pieces, Math.ceil(health.storage.chars / 60_000));
    await w.call("POST", "/test/evict");
    assert.equal((await w.call("GET", "/health")).body.stats.queues.newsletter, N, "put back together on restore");
  } finally {
    await w.dispose();
  }
});

test("a quota pause (607) never holds a request open: 202 with queued, the event kept for later", async () => {
  const w = await startWorker();
  const LEADS = "/rest/v1/leads.json";
  try {
    sim.inject({ path: LEADS, method: "POST", code: "607", times: 1 });
    const t0 = performance.now();
    const first = await w.call("POST", "/events/upsert", udo(1, "quota"));
    assert.equal(first.status, 202);
    assert.deepEqual(first.body.outcomes.map((o) => [o.eventId, o.status]), [["quota-1", "queued"]]);
    // The pause starts once the 607 is answered (and read: a moment later).
    for (let i = 0; i < 100 && !sim.requests.some((r) => r.path === LEADS && r.response?.errors?.[0]?.code === "607"); i++) await sleep(20);
    await sleep(300);
    const second = await w.call("POST", "/events/upsert", udo(2, "quota"));
    assert.deepEqual(second.body.outcomes.map((o) => [o.eventId, o.status]), [["quota-2", "queued"]], "held behind the pause, answered at once");
    assert.ok(performance.now() - t0 < 5000, "answered without waiting for the quota day");
    assert.equal(sim.requests.filter((r) => r.path === LEADS && r.method === "POST" && r.json?.input?.[0]?.email === email(2, "quota")).length, 0, "nothing sent during the pause");
    const health = (await w.call("GET", "/health")).body;
    assert.equal(health.stats.queues.upsert, 2);
    assert.equal((await w.readOutcomes()).outcomes.length, 0, "no final outcome: both wait for the quota day");
  } finally {
    sim.clearFaults();
    await w.dispose();
  }
});
