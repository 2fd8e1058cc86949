// Issue 15 through the built package against the simulator: check() finds each problem on a
// configuration that has it and not on one that does not; values reach Marketo formatted by the
// field's type (upserts, bulk cells, tokens) as the exact request the simulator received; the
// schema is read once and again after a 1006; without the permission the connector carries on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";
import { EXAMPLE_CUSTOM_FIELDS } from "../simulator/store.mjs";
import { trackingFetch } from "./tracking-fetch.mjs";

const START = Date.UTC(2026, 10, 28, 12, 0, 0);

/** A simulator with custom fields of every type, list 1001, campaigns 3712 (requestable, program 1001 with
 *  tokens "first name" and "plan"), 3713 (inactive), 3714 (batch), a partition "Europe". */
async function instance(t, options = {}) {
  const sim = await startSimulator({
    clock: () => t.now,
    fields: EXAMPLE_CUSTOM_FIELDS,
    partitions: ["Europe"],
    seed: {
      lists: [{ id: 1001, name: "Newsletter" }],
      programs: [{ id: 1001, name: "Onboarding", tokens: ["first name", "plan"] }],
      campaigns: [
        { id: 3712, name: "Welcome", type: "trigger", isRequestable: true, programId: 1001 },
        { id: 3713, name: "Paused", type: "trigger", active: false, programId: 1001 },
        { id: 3714, name: "Nightly", type: "batch", active: true, programId: 1001 },
      ],
    },
    ...options,
  });
  return sim;
}

function connectorFor(sim, t, actions, extra = {}) {
  const net = trackingFetch();
  const c = new Connector(
    { clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
      actions, ...extra },
    { fetch: net.fetch, now: () => t.now, setTimer() {}, seed: 7 },
  );
  return c;
}

const describes = (sim) => sim.requests.filter((r) => /\/leads\/describe2?\.json$/.test(r.path));
const syncs = (sim) => sim.requests.filter((r) => r.path === "/rest/v1/leads.json" && r.method === "POST");
const field = (name, attribute = name, type) => ({ field: name, source: { attribute }, ...(type ? { type } : {}) });
const upsert = (fields, extra = {}) => ({ id: "up", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
  leadData: fields.map((f) => (typeof f === "string" ? field(f) : f)), ...extra });

async function check(actions, options) {
  const t = { now: START };
  const sim = await instance(t, options);
  try {
    const c = connectorFor(sim, t, actions);
    const r = await c.check();
    c.free();
    assert.equal(r.ok, r.problems.length === 0);
    return { result: r, sim };
  } finally {
    await sim.close();
  }
}

const codes = (r) => r.problems.map((p) => `${p.actionId} ${p.parameter} ${p.code}`);

test("check(): a configuration that matches the instance has no problem, and construction sends nothing", async () => {
  const t = { now: START };
  const sim = await instance(t);
  const actions = [
    upsert(["email", "firstName", "birthday", "vip"], { partitionName: "Europe" }),
    { id: "mail", type: "sendTransactionalEmail", targetEmailCampaign: 3712, targetLeadId: { attribute: "id" },
      tokens: [{ name: "{{my.first name}}", source: { attribute: "n" } }] },
    { id: "add", type: "addLeadToList", targetStaticList: 1001, leadIdLookup: { filterType: "email", source: { attribute: "e" } } },
    { id: "bulk", type: "bulkImportLeads", leadLookupField: "email", targetStaticList: 1001, leadData: [field("email"), field("loyaltyPoints")] },
  ];
  const c = connectorFor(sim, t, actions);
  c.preview("up", { email: "a@example.com" });
  assert.equal(sim.requests.length, 0, "nothing before the first check() or delivery");
  const r = await c.check();
  assert.deepEqual(r, { ok: true, problems: [] });
  assert.deepEqual(sim.requests.filter((q) => !q.path.startsWith("/identity")).map((q) => `${q.method} ${q.path}${q.rawQuery ? `?${q.rawQuery}` : ""}`), [
    "GET /rest/v1/leads/describe2.json",
    "GET /rest/v1/lists/1001.json",
    "GET /rest/asset/v1/smartCampaign/3712.json",
    "GET /rest/v1/leads/partitions.json",
    "GET /rest/asset/v1/folder/1001/tokens.json?folderType=Program",
  ]);
  // Delivery afterwards needs no schema read of its own.
  await c.process("up", { email: "a@example.com", birthday: "2001-02-03T10:00:00Z" });
  assert.equal(describes(sim).length, 1);
  c.free();
  await sim.close();
});

test("check(): a misspelled field is found with its right spelling; an unknown one without", async () => {
  const { result } = await check([upsert(["email", "FirstName", "favouriteColour"])]);
  assert.deepEqual(result.problems.map((p) => [p.parameter, p.code, p.suggestion]), [
    ["leadData[1].field", "UNKNOWN_FIELD", "firstName"],
    ["leadData[2].field", "UNKNOWN_FIELD", undefined],
  ]);
  assert.match(result.problems[0].message, /case-sensitive/);
});

test("check(): read-only fields, lookup fields Marketo cannot search or dedupe by", async () => {
  let { result } = await check([upsert(["email", "crmSegment"])]);
  assert.deepEqual(codes(result), ["up leadData[1].field READ_ONLY_FIELD"]);
  ({ result } = await check([upsert(["firstName", "email"], { leadLookupFilter: "firstName" })]));
  assert.deepEqual(codes(result), ["up leadLookupFilter NOT_SEARCHABLE"]);
  ({ result } = await check([upsert(["loyaltyPoints", "email"], { leadLookupFilter: "loyaltyPoints" })]));
  assert.deepEqual(codes(result), [], "a custom integer field is searchable");
  ({ result } = await check([{ id: "bulk", type: "bulkImportLeads", leadLookupField: "lastName", leadData: [field("lastName"), field("email")] }]));
  assert.deepEqual(codes(result), ["bulk leadLookupField CANNOT_DEDUPE"]);
});

test("check(): lists and campaigns that do not exist, inactive and non-triggerable campaigns, undefined tokens, unknown partitions", async () => {
  const mail = (id, campaign, tokens = []) => ({ id, type: "sendTransactionalEmail", targetEmailCampaign: campaign,
    targetLeadId: { attribute: "id" }, tokens: tokens.map((n) => ({ name: `{{my.${n}}}`, source: { attribute: "x" } })) });
  const { result } = await check([
    { id: "add", type: "addLeadToList", targetStaticList: 4040, targetLeadId: { attribute: "id" } },
    mail("m-missing", 9999),
    mail("m-inactive", 3713),
    mail("m-batch", 3714),
    mail("m-tokens", 3712, ["first name", "Plan", "coupon"]),
    upsert(["email"], { partitionName: "europe" }),
  ]);
  assert.deepEqual(codes(result), [
    "add targetStaticList UNKNOWN_LIST",
    "m-missing targetEmailCampaign UNKNOWN_CAMPAIGN",
    "m-inactive targetEmailCampaign CAMPAIGN_INACTIVE",
    "m-batch targetEmailCampaign CAMPAIGN_NOT_TRIGGERABLE",
    "m-tokens tokens[1].name UNKNOWN_TOKEN",
    "m-tokens tokens[2].name UNKNOWN_TOKEN",
    "up partitionName UNKNOWN_PARTITION",
  ]);
  assert.equal(result.problems[4].suggestion, "{{my.plan}}");
  assert.equal(result.problems[6].suggestion, "Europe");
});

test("check(): without a permission the problem names it, and the other documented endpoint is used where there is one", async () => {
  const actions = [
    upsert(["email", "FirstName"]),
    { id: "add", type: "addLeadToList", targetStaticList: 4040, targetLeadId: { attribute: "id" } },
    { id: "mail", type: "sendTransactionalEmail", targetEmailCampaign: 3714, targetLeadId: { attribute: "id" },
      tokens: [{ name: "{{my.plan}}", source: { attribute: "x" } }] },
  ];
  let { result, sim } = await check(actions, { missingPermissions: ["Read-Only Assets"] });
  assert.deepEqual(codes(result), [
    "up leadData[1].field UNKNOWN_FIELD",
    "add targetStaticList UNKNOWN_LIST",
    "mail targetEmailCampaign CAMPAIGN_NOT_TRIGGERABLE",
    "mail tokens PERMISSION_DENIED",
  ]);
  assert.match(result.problems[3].message, /Read-Only Assets/);
  assert.ok(sim.requests.some((q) => q.path === "/rest/v1/campaigns/3714.json"), "campaigns through the lead database API");
  ({ result } = await check(actions, { missingPermissions: ["Read-Only Lead"] }));
  assert.deepEqual(codes(result), [
    "up leadData PERMISSION_DENIED",
    "add targetStaticList UNKNOWN_LIST",
    "mail targetEmailCampaign CAMPAIGN_NOT_TRIGGERABLE",
  ], "lists through the Asset API");
  assert.match(result.problems[0].message, /Read-Only Lead/);
});

test("formatting: each Marketo type as the exact Sync Leads request the simulator received", async () => {
  const t = { now: START };
  const sim = await instance(t);
  const c = connectorFor(sim, t, [upsert(["email", "birthday", "lastPurchaseAt", "loyaltyPoints", "engagementScore", "churnProbability",
    "lifetimeValue", "discountRate", "vip", "membershipLevel", "mobilePhone"])]);
  const [ok] = await c.process("up", { email: "a@example.com", birthday: "1990-07-04T09:00:00+02:00", lastPurchaseAt: 1764307800,
    loyaltyPoints: "1250", engagementScore: 12, churnProbability: "0.125", lifetimeValue: "99.90", discountRate: 15, vip: "false",
    membershipLevel: "Platinum Lifetime Member", mobilePhone: 5550100 });
  assert.deepEqual(syncs(sim)[0].json, ({ action: "createOrUpdate", lookupField: "email", input: [{
    email: "a@example.com", birthday: "1990-07-04", lastPurchaseAt: "2025-11-28T05:30:00Z", loyaltyPoints: 1250, engagementScore: 12,
    churnProbability: 0.125, lifetimeValue: 99.9, discountRate: 15, vip: false, membershipLevel: "Platinum Lifetime Me",
    mobilePhone: "5550100" }] }));
  assert.equal(ok.status, "delivered");
  assert.equal(ok.code, "TRUNCATED");
  assert.match(ok.message, /membershipLevel.*limit of 20 characters/);
  const [bad] = await c.process("up", { email: "b@example.com", loyaltyPoints: "lots" });
  assert.equal(bad.code, "INVALID_VALUE");
  assert.match(bad.message, /leadData field loyaltyPoints.*type integer/);
  assert.equal(syncs(sim).length, 1, "the refused event sent nothing");
  assert.equal(describes(sim).length, 1, "one schema read");
  c.free();
  await sim.close();
});

test("formatting: onTooLong \"fail\" refuses a long value naming field and limit", async () => {
  const t = { now: START };
  const sim = await instance(t);
  const c = connectorFor(sim, t, [upsert(["email", "membershipLevel"])], { onTooLong: "fail" });
  const [o] = await c.process("up", { email: "a@example.com", membershipLevel: "Platinum Lifetime Member" });
  assert.equal(o.status, "failed");
  assert.match(o.message, /membershipLevel.*limit of 20/);
  assert.equal(syncs(sim).length, 0);
  assert.throws(() => connectorFor(sim, t, [], { onTooLong: "cut" }), (e) => e.code === "INVALID_SETTINGS" && /onTooLong/.test(e.message));
  c.free();
  await sim.close();
});

test("formatting: bulk CSV cells and campaign tokens follow the same rules", async () => {
  const t = { now: START };
  const sim = await instance(t);
  const c = connectorFor(sim, t, [
    { id: "bulk", type: "bulkImportLeads", leadLookupField: "email",
      leadData: [field("email"), field("birthday"), field("vip"), field("lifetimeValue")] },
    { id: "mail", type: "sendTransactionalEmail", targetEmailCampaign: 3712, targetLeadId: { attribute: "id" },
      tokens: [{ name: "{{my.plan}}", source: { attribute: "points" }, type: "integer" },
               { name: "{{my.first name}}", source: { attribute: "vip" }, type: "boolean" }] },
  ]);
  await c.process("bulk", { email: "a@example.com", birthday: 1764307800000, vip: 1, lifetimeValue: "10.50" });
  await c.flush();
  const upload = sim.requests.find((q) => q.path === "/bulk/v1/leads.json");
  assert.equal(upload.body.parts[0].text, "email,birthday,vip,lifetimeValue\r\na@example.com,2025-11-28,true,10.5\r\n");
  sim.seed({ leads: [{ id: 9001, email: "t@example.com" }] });
  await c.process("mail", { id: 9001, points: "42", vip: 0 });
  const trigger = sim.requests.find((q) => q.path.endsWith("/trigger.json"));
  assert.deepEqual(trigger.json.input.tokens, [{ name: "{{my.plan}}", value: "42" }, { name: "{{my.first name}}", value: "false" }]);
  const [bad] = await c.process("mail", { id: 9001, points: "many" });
  assert.equal(bad.code, "INVALID_VALUE");
  c.free();
  await sim.close();
});

test("schema: a 1006 for a field deleted in Marketo reads the schema again, once", async () => {
  const t = { now: START };
  const sim = await instance(t);
  const c = connectorFor(sim, t, [upsert(["email", "loyaltyPoints"])]);
  assert.equal((await c.process("up", { email: "a@example.com", loyaltyPoints: "1" }))[0].status, "delivered");
  sim.state.fields.delete("loyaltyPoints");
  const [skipped] = await c.process("up", { email: "b@example.com", loyaltyPoints: "2" });
  assert.equal(skipped.code, "1006");
  await c.process("up", { email: "c@example.com", loyaltyPoints: "3" });
  await c.process("up", { email: "d@example.com", loyaltyPoints: "4" });
  assert.equal(describes(sim).length, 2, "read at the first upsert and once after the 1006");
  assert.equal(syncs(sim).at(-1).json.input[0].loyaltyPoints, "4", "a field the instance no longer has goes as the event holds it");
  c.free();
  await sim.close();
});

test("schema: without the Read-Only Lead permission events go as configured (603 is not retried)", async () => {
  const t = { now: START };
  const sim = await instance(t, { missingPermissions: ["Read-Only Lead"] });
  const c = connectorFor(sim, t, [upsert(["email", "loyaltyPoints"])]);
  const [o] = await c.process("up", { email: "a@example.com", loyaltyPoints: "7" });
  assert.equal(o.status, "delivered");
  assert.equal(syncs(sim)[0].json.input[0].loyaltyPoints, "7");
  await c.process("up", { email: "b@example.com" });
  assert.equal(describes(sim).length, 1);
  c.free();
  await sim.close();
});
