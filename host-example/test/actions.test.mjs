// Node integration tests for removeLeadFromList, sendTransactionalEmail, mergeLead and the
// list / campaign pickers: the built package against the simulator over loopback.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";

let t;
let sim;
let timers;

beforeEach(async () => {
  t = Date.UTC(2026, 10, 28, 12, 0, 0);
  timers = [];
  sim = await startSimulator({
    clock: () => t,
    seed: {
      leads: [
        { id: 10, email: "winner@example.com", firstName: "Win" },
        ...Array.from({ length: 30 }, (_, i) => ({ id: 100 + i, email: `loser${i}@example.com`, lastName: `L${i}` })),
        { id: 20, email: "member@example.com" },
        { id: 21, email: "outsider@example.com" },
      ],
      lists: [{ id: 1001, name: "Members", members: [20, 100] }],
      campaigns: [
        { id: 3712, name: "Welcome email", type: "trigger", isRequestable: true },
        { id: 3713, name: "Monthly batch", type: "batch" },
      ],
    },
  });
});
afterEach(() => sim.close());

function connector(actions) {
  return new Connector(
    { clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, actions },
    { fetch: globalThis.fetch.bind(globalThis), now: () => t, setTimer: (at) => timers.push(at), seed: 3 },
  );
}
const rest = () => sim.requests.filter((r) => !r.path.startsWith("/identity"));

test("removeLeadFromList: DELETE with a JSON body; removed, and skipped 1015 when not a member", async () => {
  const c = connector([
    { id: "remove", type: "removeLeadFromList", targetStaticList: 1001, leadIdLookup: { filterType: "email", source: { attribute: "email" } } },
  ]);
  const [removed] = await c.process("remove", { email: "member@example.com" }, "r1");
  const [notMember] = await c.process("remove", { email: "outsider@example.com" }, "r2");
  const deletes = rest().filter((r) => r.method === "DELETE");
  assert.deepEqual(deletes.map((r) => [r.path, r.body, r.headers["content-type"]]), [
    ["/rest/v1/lists/1001/leads.json", '{"input":[{"id":20}]}', "application/json"],
    ["/rest/v1/lists/1001/leads.json", '{"input":[{"id":21}]}', "application/json"],
  ]);
  assert.equal(removed.status, "delivered");
  assert.deepEqual(removed.leadIds, [20]);
  assert.equal(notMember.status, "skipped");
  assert.equal(notMember.code, "1015");
  assert.deepEqual([...sim.state.lists.get(1001).members], [100]);
});

test("sendTransactionalEmail: trigger with the lead and {{my.}} tokens as strings, dates ISO; never sent twice", async () => {
  const c = connector([
    {
      id: "email", type: "sendTransactionalEmail", targetEmailCampaign: 3712, targetLeadId: { attribute: "lead" },
      tokens: [
        { name: "{{my.message}}", source: { attribute: "msg" } },
        { name: "{{my.total}}", source: { attribute: "total" } },
        { name: "{{my.when}}", source: { attribute: "when" }, type: "date" },
        { name: "{{my.absent}}", source: { attribute: "nope" } },
      ],
    },
    { id: "batch-campaign", type: "sendTransactionalEmail", targetEmailCampaign: 3713, targetLeadId: { attribute: "lead" } },
  ]);
  const [sent] = await c.process("email", { lead: "10", msg: "Hello, \"Jane\"", total: 0, when: 1764307800000 }, "m1");
  assert.equal(sent.status, "delivered");
  assert.deepEqual(sent.leadIds, [10]);
  const trig = rest().at(-1);
  assert.equal(trig.path, "/rest/v1/campaigns/3712/trigger.json");
  assert.deepEqual(trig.json, {
    input: {
      leads: [{ id: 10 }],
      tokens: [
        { name: "{{my.message}}", value: "Hello, \"Jane\"" },
        { name: "{{my.total}}", value: "0" },
        { name: "{{my.when}}", value: "2025-11-28T05:30:00Z" },
      ],
    },
  });
  assert.equal(sim.state.triggers.length, 1);

  const [refused] = await c.process("batch-campaign", { lead: 10 }, "m2");
  assert.equal(refused.status, "failed");
  assert.equal(refused.code, "1003");

  // A connection dropped after the trigger may have reached Marketo: not resent, uncertain.
  sim.inject({ path: "/trigger.json", drop: true, times: 1 });
  const before = rest().length;
  const [unsure] = await c.process("email", { lead: 10, msg: "x" }, "m3");
  assert.equal(unsure.status, "uncertain");
  assert.equal(rest().length, before + 1, "exactly one attempt");
});

test("mergeLead: winner in the path, losers 25 per call in order, mergeInCRM", async () => {
  const c = connector([
    { id: "merge", type: "mergeLead", winningLeadId: { attribute: "winner" }, losingLeadIds: { attribute: "losers" }, mergeInCrm: false },
  ]);
  const losers = Array.from({ length: 30 }, (_, i) => 100 + i);
  const [merged] = await c.process("merge", { winner: 10, losers: losers.join(",") }, "g1");
  const calls = rest().filter((r) => r.path.includes("/merge.json"));
  assert.deepEqual(calls.map((r) => `${r.method} ${r.path}?${r.rawQuery}`), [
    `POST /rest/v1/leads/10/merge.json?leadIds=${losers.slice(0, 25).join(",")}&mergeInCRM=false`,
    `POST /rest/v1/leads/10/merge.json?leadIds=${losers.slice(25).join(",")}&mergeInCRM=false`,
  ]);
  assert.equal(merged.status, "delivered");
  assert.deepEqual(merged.leadIds, [10, ...losers]);
  assert.ok(losers.every((id) => !sim.state.leads.has(id)), "losers are gone");
  assert.equal(sim.state.errors?.["1080"] ?? sim.state.counters.errors["1080"] ?? 0, 0);

  const [self] = await c.process("merge", { winner: 10, losers: [10] }, "g2");
  assert.equal(self.status, "failed");
  assert.match(self.message, /winning lead 10/);
});

test("pickers: every static list and every requestable campaign, across pages", async () => {
  sim.seed({ lists: Array.from({ length: 650 }, (_, i) => ({ id: 5000 + i, name: `List ${i}` })) });
  const c = connector([]);
  const lists = await c.staticLists();
  assert.equal(lists.length, 651);
  assert.deepEqual(lists[0], { id: 1001, name: "Members" });
  const pages = rest().filter((r) => r.path === "/rest/v1/lists.json");
  assert.equal(pages.length, 3, "300 per page");
  assert.ok(pages.slice(1).every((r) => r.query.nextPageToken), "follows nextPageToken");

  const campaigns = await c.triggerableCampaigns();
  assert.deepEqual(campaigns, [{ id: 3712, name: "Welcome email" }]);
  assert.equal(rest().at(-1).query.isTriggerable, "true");
});
