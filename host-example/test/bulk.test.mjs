// bulkImportLeads through the built package (pkg/) against the Marketo simulator: the multipart
// CSV the simulator receives, the job polled on the host's timer, the leads it ends up with and
// each event's outcome. Time is virtual: host.now and the simulator's clock read the same `t`;
// after process() answers `queued`, the test moves `t` to the time given to host.setTimer and
// calls connector.wake() until every event has its final outcome.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";
import { demoSeed } from "../demo-config.mjs";
import { trackingFetch } from "./tracking-fetch.mjs";

const START = Date.UTC(2026, 10, 28, 12, 0, 0);
let t;
let sim;
let timers;
let net;

beforeEach(async () => {
  t = START;
  timers = [];
  net = trackingFetch();
  sim = await startSimulator({ ...demoSeed(), clock: () => t });
});
afterEach(() => sim.close());

function connector(actions) {
  const host = { fetch: net.fetch, now: () => t, setTimer: (at) => timers.push(at), seed: 7 };
  return new Connector({
    clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions,
  }, host);
}

const bulkAction = {
  id: "bulk", type: "bulkImportLeads", targetStaticList: 1001, leadLookupField: "email",
  leadData: [
    { field: "email", source: { attribute: "data.udo.customer_email" } },
    { field: "firstName", source: { attribute: "data.udo.customer_first_name" } },
    { field: "leadScore", source: { attribute: "data.udo.score" } },
    { field: "title", source: { attribute: "data.udo.title" } },
  ],
};
const ev = (udo) => ({ data: { udo } });
const uploads = () => sim.requests.filter((r) => r.method === "POST" && r.path === "/bulk/v1/leads.json");
const statusCalls = () => sim.requests.filter((r) => /^\/bulk\/v1\/leads\/batch\/\d+\.json$/.test(r.path));

/** Hands events to the connector, flushes, then follows the host timer until all are final. */
async function deliver(c, events) {
  const outs = [];
  for (const [id, event] of events) outs.push(...(await c.process("bulk", event, id)));
  outs.push(...(await c.flush()));
  const final = () => outs.filter((o) => o.status !== "queued");
  const done = () => events.every(([id]) => final().some((o) => o.eventId === id));
  for (let i = 0; !done() && i < 100; i++) {
    await net.idle(); // calls in flight come back before the clock moves
    const at = timers.at(-1);
    assert.ok(at !== undefined, "the connector set a timer while work remains");
    t = Math.max(t, at);
    outs.push(...(await c.wake()));
  }
  assert.ok(done(), `every event has a final outcome: ${JSON.stringify(outs)}`);
  return Object.fromEntries(final().map((o) => [o.eventId, o]));
}

test("bulkImportLeads: the simulator receives the exact multipart CSV, the job completes, the lead is imported", async () => {
  const c = connector([bulkAction]);
  const [queued] = await c.process("bulk", ev({ customer_email: "bulk.one@example.com", customer_first_name: 'Ann, "Jr"', score: 0 }), "b1");
  assert.equal(queued.status, "queued", "the final outcome waits for the import job");
  assert.deepEqual((await c.flush()).filter((o) => o.status !== "queued"), [], "sent, not finished");

  const [up] = uploads();
  assert.equal(uploads().length, 1);
  assert.equal(up.rawQuery, "format=csv&lookupField=email&listId=1001");
  assert.match(up.headers.authorization, /^Bearer \S+$/);
  const boundary = /^multipart\/form-data; boundary=(MarketoConnectorBoundary[0-9a-f]{32})$/.exec(up.headers["content-type"])?.[1];
  assert.ok(boundary, up.headers["content-type"]);
  const csv = 'email,firstName,leadScore,title\r\nbulk.one@example.com,"Ann, ""Jr""",0,\r\n';
  assert.equal(up.rawBody.toString("utf8"),
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="leads.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`);
  assert.deepEqual(up.body.parts.map(({ name, filename, contentType, text }) => ({ name, filename, contentType, text })),
    [{ name: "file", filename: "leads.csv", contentType: "text/csv", text: csv }]);
  assert.equal(sim.state.bulkJobs.size, 1);

  // The first status call comes 5 s after the upload; the simulator's job (2 s queued + 3 s
  // importing) is Complete by then.
  const at = timers.at(-1);
  assert.equal(at - up.at, 5_000);
  t = at;
  assert.deepEqual(await c.wake(), [], "the status call is in flight");
  await net.idle();
  assert.equal(timers.at(-1), t, "the job's outcome finished: wake me now");
  const [done] = await c.wake();
  assert.deepEqual(statusCalls().map((r) => r.at - up.at), [5_000]);
  const status = statusCalls()[0];
  assert.deepEqual(done, { eventId: "b1", actionId: "bulk", status: "delivered", requestId: status.response.requestId });

  const lead = [...sim.state.leads.values()].find((l) => l.email === "bulk.one@example.com");
  assert.equal(lead.firstName, 'Ann, "Jr"');
  assert.equal(lead.leadScore, 0, "0 imported as the integer 0");
  assert.equal(lead.title ?? null, null, "an empty cell sets nothing");
  assert.ok(sim.state.lists.get(1001).members.has(lead.id));
});

test("bulkImportLeads: a failed row is skipped with Marketo's reason, a warned row delivered with it, the rest delivered", async () => {
  // Here the schema gives `title` no length, so the long value reaches Marketo and its warning
  // comes back (the connector's own cut to a known length is tested in check.test.mjs).
  sim.state.fields.get("title").length = undefined;
  const c = connector([bulkAction]);
  const out = await deliver(c, [
    ["ok", ev({ customer_email: "jane.doe@example.com", customer_first_name: "Janet" })],
    ["bad", ev({ customer_email: "not-an-email", customer_first_name: "Bad" })],
    ["long", ev({ customer_email: "long@example.com", title: "T".repeat(300) })],
    ["nokey", ev({ customer_first_name: "No email" })],
  ]);
  const pick = ({ eventId, status, code, message }) => ({ eventId, status, code, message });
  assert.deepEqual(pick(out.ok), { eventId: "ok", status: "delivered", code: undefined, message: undefined });
  assert.deepEqual(pick(out.bad), { eventId: "bad", status: "skipped", code: "ROW_FAILED", message: "Invalid email address" });
  assert.deepEqual(pick(out.long), { eventId: "long", status: "delivered", code: "ROW_WARNING", message: "Value truncated to 255 characters in field Job Title" });
  assert.deepEqual(pick(out.nokey), { eventId: "nokey", status: "failed", code: "MISSING_ATTRIBUTE",
    message: "parameter `leadData field email (the lookup field)`: attribute `data.udo.customer_email` is not in the event" });
  for (const id of ["ok", "bad", "long"]) assert.ok(out[id].requestId, `${id} carries the status call's requestId`);

  assert.ok(sim.requests.some((r) => /\/failures\.json$/.test(r.path)), "the failures file was read");
  assert.ok(sim.requests.some((r) => /\/warnings\.json$/.test(r.path)), "the warnings file was read");
  assert.ok(uploads().every((r) => !r.body.parts[0].text.includes("No email")), "a row without its lookup value is never sent");
  assert.equal(sim.state.leads.get(318594).firstName, "Janet", "the existing lead was updated");
  assert.equal([...sim.state.leads.values()].find((l) => l.email === "long@example.com").title, "T".repeat(255));
  assert.ok(![...sim.state.leads.values()].some((l) => l.firstName === "Bad"));
  const members = sim.state.lists.get(1001).members;
  assert.ok(members.has(318594));
  assert.equal(members.size, 2);
});

test("bulkImportLeads: 1016 (too many imports) waits on the host timer and uploads the same file again", async () => {
  const c = connector([bulkAction]);
  sim.inject({ path: "/bulk/v1/leads.json", code: "1016", times: 1 });
  const [queued] = await c.process("bulk", ev({ customer_email: "queue@example.com" }), "q1");
  assert.equal(queued.status, "queued");
  assert.deepEqual((await c.flush()).filter((o) => o.status !== "queued"), []);
  const first = uploads()[0];
  assert.equal(first.response.errors[0].code, "1016");
  const retryAt = timers.at(-1);
  assert.ok(retryAt - first.at >= 15_000 && retryAt - first.at <= 30_000, `retry after ${retryAt - first.at} ms`);
  t = retryAt;
  const outs = await c.wake(); // the upload again; the first status call then waits on a timer
  assert.deepEqual(outs, []);
  await net.idle();
  assert.equal(uploads().length, 2);
  assert.deepEqual(uploads()[1].rawBody, first.rawBody);
  t = timers.at(-1);
  assert.deepEqual(await c.wake(), [], "the status call is in flight");
  await net.idle();
  const [done] = await c.wake();
  assert.equal(done.eventId, "q1");
  assert.equal(done.status, "delivered");
});

test("bulkImportLeads: preview shows the upload and the status call with a {batchId} placeholder", () => {
  const c = connector([bulkAction]);
  const reqs = c.preview("bulk", ev({ customer_email: "p@example.com", customer_first_name: "P" }));
  const bulkBase = sim.endpointUrl.replace(/\/rest$/, "/bulk");
  assert.deepEqual(reqs.map((r) => `${r.method} ${r.url}`), [
    `POST ${bulkBase}/v1/leads.json?format=csv&lookupField=email&listId=1001`,
    `GET ${bulkBase}/v1/leads/batch/{batchId}.json`,
  ]);
  assert.match(reqs[0].headers["Content-Type"], /^multipart\/form-data; boundary=MarketoConnectorBoundary/);
  assert.ok(reqs[0].body.includes("\r\nemail,firstName,leadScore,title\r\np@example.com,P,,\r\n"));
  assert.equal(sim.requests.length, 0, "preview sends nothing");
});
