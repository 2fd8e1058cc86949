// Swagger conformance: the validator in swagger.mjs, tested on hand-made requests (it must catch
// real mistakes, not only pass good requests), then every request the built package (pkg/)
// sends to the simulator for every action type, checked against Adobe's Swagger files.
// The Swagger files are the unmodified copies in ./swagger/ (see ./swagger/ORIGIN.md).
import { test } from "node:test";
import { trackingFetch } from "./tracking-fetch.mjs";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { Connector } from "../../pkg/nodejs/marketo_connector.js";
import { startSimulator } from "../simulator/marketo-sim.mjs";
import { demoActions, demoSeed } from "../demo-config.mjs";
import { createValidator } from "./swagger.mjs";

const SWAGGER_DIR = new URL("./swagger/", import.meta.url);
const FILES = ["swagger-mapi.json", "swagger-identity.json", "swagger-asset.json"];
const raw = Object.fromEntries(FILES.map((f) => [f, readFileSync(new URL(f, SWAGGER_DIR))]));
const [mapi, identity, asset] = FILES.map((f) => JSON.parse(raw[f].toString("utf8")));
const swagger = createValidator([mapi, identity, asset]);

const JSON_CT = { "content-type": "application/json", authorization: "Bearer t" };
const FORM_CT = { "content-type": "application/x-www-form-urlencoded" };
const post = (path, body, headers = JSON_CT) => ({ method: "POST", path, headers, body: typeof body === "string" ? body : JSON.stringify(body) });
const get = (path) => ({ method: "GET", path, headers: { authorization: "Bearer t" } });
/** Asserts the request's problems are exactly one per pattern, in order (rejected for the right reasons). */
function rejects(request, ...patterns) {
  const problems = swagger.validate(request);
  const shown = JSON.stringify(problems, null, 1);
  assert.equal(problems.length, patterns.length, `expected ${patterns.length} problem(s) matching ${patterns.join(", ")}, got ${shown}`);
  patterns.forEach((p, i) => assert.match(problems[i], p, shown));
}
function conforms(request) {
  assert.deepEqual(swagger.validate(request), [], `${request.method} ${request.path}`);
}

// --- the copies ------------------------------------------------------------------------------

test("the Swagger copies are byte-identical to the files ORIGIN.md describes", () => {
  const origin = readFileSync(new URL("ORIGIN.md", SWAGGER_DIR), "utf8");
  for (const f of FILES) {
    const row = origin.split("\n").find((l) => l.startsWith(`| ${f} `));
    assert.ok(row, `${f} listed in ORIGIN.md`);
    const sha = createHash("sha256").update(raw[f]).digest("hex");
    assert.ok(row.includes(sha), `${f}: sha256 ${sha} is not the one in ORIGIN.md`);
  }
});

// --- the validator itself --------------------------------------------------------------------

test("validator: well-formed requests for the operations the connector uses conform", () => {
  conforms(post("/rest/v1/leads.json", {
    action: "createOrUpdate", lookupField: "email", partitionName: "Default",
    input: [{ email: "a@example.com", firstName: null, orderTotal: 0, newsletter: false, signupDate: "2026-11-28T08:30:00Z" }],
  }));
  conforms(post("/rest/v1/leads.json", { action: "updateOnly", lookupField: "id", input: [{ id: 5, firstName: "A" }] }));
  conforms(get("/rest/v1/leads.json?filterType=email&filterValues=a@example.com,b@example.com&fields=id,email&batchSize=300"));
  conforms(get("/rest/v1/leads.json?filterType=cookies&filterValues=id:123-ABC-123%26token:_mch-x-1-2&fields=id,cookies&batchSize=300&nextPageToken=ABC"));
  conforms(post("/rest/v1/lists/1001/leads.json", { input: [{ id: 318594 }, { id: 5001 }] }));
  conforms({ method: "DELETE", path: "/rest/v1/lists/1001/leads.json?id=318594", headers: JSON_CT, body: '{"input":[{"id":318594}]}' });
  conforms(post("/rest/v1/campaigns/3712/trigger.json", { input: { leads: [{ id: 1 }], tokens: [{ name: "{{my.a}}", value: "1" }] } }));
  conforms(post("/rest/v1/campaigns/3712/trigger.json", { input: { leads: [{ id: 1 }] } }));
  conforms({ method: "POST", path: "/rest/v1/leads/318594/merge.json?leadIds=5001,5002&mergeInCRM=false", headers: JSON_CT });
  conforms({ method: "POST", path: "/rest/v1/leads/318594/merge.json?leadId=5001", headers: JSON_CT });
  conforms({ method: "POST", path: "/identity/oauth/token?grant_type=client_credentials&client_id=a&client_secret=b" });
  conforms({ method: "GET", path: "/identity/oauth/token?grant_type=client_credentials&client_id=a&client_secret=b" });
  // Marketo's long-GET form: the form body's parameters count as the GET operation's query.
  conforms(post("/rest/v1/leads.json?_method=GET", "filterType=email&filterValues=a%40example.com,b%40example.com&fields=id,email", FORM_CT));
  // Bulk import: multipart with the declared file part (the simulator's multipart summary).
  conforms({
    method: "POST", path: "/bulk/v1/leads.json?format=csv&lookupField=email&listId=1001",
    headers: { "content-type": "multipart/form-data; boundary=XyZ" },
    body: { multipart: true, boundary: "XyZ", parts: [{ name: "file", filename: "leads.csv", contentType: "text/csv", text: "email\na@example.com\n" }] },
  });
  // Asset API paths resolve against swagger-asset.json; literal paths win over templates.
  conforms(get("/rest/asset/v1/staticList/byName.json?name=Newsletter"));
  conforms(get("/rest/asset/v1/staticList/1001.json"));
  conforms(get("/rest/v1/leads/describe.json"));
});

test("validator: catches an undeclared query parameter", () => {
  rejects(get("/rest/v1/leads.json?filterType=email&filterValues=a@example.com&access_token=abc"), /query parameter "access_token" is not declared by GET \/rest\/v1\/leads\.json/);
  rejects({ method: "POST", path: "/rest/v1/lists/1001/leads.json?listId=1001", headers: JSON_CT, body: '{"input":[{"id":1}]}' }, /"listId" is not declared/);
});

test("validator: catches a string id in a list body", () => {
  rejects(post("/rest/v1/lists/1001/leads.json", '{"input":[{"id":"5"}]}'), /^body\.input\[0\]\.id: expected integer \(int64\), got string "5" \(LeadInputData\.id\)$/);
  rejects(post("/rest/v1/campaigns/3712/trigger.json", { input: { leads: [{ id: "5" }] } }), /body\.input\.leads\[0\]\.id: expected integer/);
  rejects(post("/rest/v1/lists/1001/leads.json", { input: [{ id: 1.5 }] }), /expected integer/);
});

test("validator: catches a missing required body or property", () => {
  rejects({ method: "POST", path: "/rest/v1/leads.json", headers: { authorization: "Bearer t" } }, /required body parameter "syncLeadRequest" is missing/);
  rejects(post("/rest/v1/leads.json", { action: "createOnly", lookupField: "email" }), /body: required property "input" is missing \(SyncLeadRequest\)/);
  rejects(post("/rest/v1/campaigns/3712/trigger.json", { input: { tokens: [] } }), /required property "leads" is missing \(TriggerCampaignData\)/);
  rejects(post("/rest/v1/campaigns/3712/trigger.json", { input: { leads: [{ id: 1 }], tokens: [{ name: "{{my.a}}" }] } }), /required property "value" is missing \(Token\)/);
});

test("validator: catches a wrong enum value", () => {
  rejects(post("/rest/v1/leads.json", { action: "upsert", input: [{ email: "a@example.com" }] }), /body\.action: "upsert" is not one of \[createOnly, updateOnly, createOrUpdate, createDuplicate\]/);
  rejects({ method: "POST", path: "/identity/oauth/token?grant_type=password&client_id=a&client_secret=b" }, /"grant_type" = "password": not one of the enum values \[client_credentials\]/);
});

test("validator: catches a string where an integer path parameter is required", () => {
  rejects(post("/rest/v1/lists/abc/leads.json", { input: [{ id: 1 }] }), /path parameter "listId" = "abc": expected an integer \(int32\)/);
  rejects(post("/rest/v1/campaigns/send-email/trigger.json", { input: { leads: [{ id: 1 }] } }), /path parameter "campaignId"/);
  rejects(post("/rest/v1/lists/3000000000/leads.json", { input: [{ id: 1 }] }), /out of int32 range/);
  rejects({ method: "POST", path: "/rest/v1/leads/1.5/merge.json?leadId=2", headers: JSON_CT }, /path parameter "leadId" = "1\.5"/);
});

test("validator: catches wrong query types, collection formats, Content-Types, typos and unknown routes", () => {
  rejects(get("/rest/v1/leads.json?filterType=email&filterValues=a@example.com&batchSize=lots"), /"batchSize" = "lots": expected an integer/);
  rejects(get("/rest/v1/leads.json?filterType=email&filterType=id&filterValues=1"), /"filterType" .*sent 2 times, but it is a single string/);
  rejects({ method: "POST", path: "/rest/v1/leads/1/merge.json?leadIds=2,x&mergeInCRM=false", headers: JSON_CT }, /"leadIds" = "2,x": item 1 "x": expected an integer/);
  rejects({ method: "POST", path: "/rest/v1/leads/1/merge.json?leadIds=2&mergeInCRM=yes", headers: JSON_CT }, /"mergeInCRM" = "yes": expected a boolean/);
  // multi without a "comma-separated" description is strict: `id=1,2` is one non-integer item.
  rejects({ method: "DELETE", path: "/rest/v1/lists/1/leads.json?id=1,2", headers: JSON_CT, body: '{"input":[{"id":1}]}' }, /"id" = "1,2": item 0 "1,2": expected an integer/);
  conforms({ method: "DELETE", path: "/rest/v1/lists/1/leads.json?id=1&id=2", headers: JSON_CT, body: '{"input":[{"id":1}]}' });
  rejects(post("/rest/v1/leads.json", { action: "createOnly", lookupFeild: "email", input: [{ email: "a@example.com" }] }), /body\.lookupFeild: not a property of SyncLeadRequest/);
  rejects(post("/rest/v1/lists/1/leads.json", { input: [{ id: 1, email: "a@example.com" }] }), /body\.input\[0\]\.email: not a property of LeadInputData/);
  rejects(post("/rest/v1/campaigns/1/trigger.json", { input: { leads: [{ id: 1 }], tokens: [{ name: "{{my.n}}", value: 5 }] } }), /tokens\[0\]\.value: expected string, got integer 5 \(Token\.value\)/);
  rejects(post("/rest/v1/leads.json", { input: [{ email: "a@example.com" }] }, { "content-type": "text/plain" }), /Content-Type "text\/plain" is not in consumes \[application\/json\]/);
  rejects(post("/rest/v1/leads.json", "{not json"), /the JSON body does not parse/);
  rejects({ method: "GET", path: "/rest/v1/leads.json?filterType=email&filterValues=a", headers: JSON_CT, body: "{}" }, /declares no body or formData parameter, but the request has a body/);
  rejects(post("/rest/v1/leads.json?_method=GET", '{"filterType":"email","filterValues":["a"]}'),
    /POST \?_method=GET must carry its parameters in an application\/x-www-form-urlencoded body; Content-Type is "application\/json"/,
    /required query parameter "filterType" is missing/, /required query parameter "filterValues" is missing/);
  rejects(post("/rest/v1/leads.json?_method=GET", "filterType=email&filterValues=a&bogus=1", FORM_CT), /"bogus" is not declared/);
  rejects({ method: "PUT", path: "/rest/v1/leads.json", headers: JSON_CT, body: "{}" }, /\/rest\/v1\/leads\.json declares no PUT operation \(it has GET, POST\)/);
  rejects(get("/rest/v1/leads.jsn"), /no path template in the Swagger matches \/rest\/v1\/leads\.jsn/);
  rejects(get("//rest/v1/leads.json?filterType=id&filterValues=1"), /no path template/);
});

test("validator: bulk import needs a multipart body with the declared file part", () => {
  const multipart = (parts, q = "format=csv") => ({
    method: "POST", path: `/bulk/v1/leads.json?${q}`, headers: { "content-type": "multipart/form-data; boundary=b" },
    body: { multipart: true, boundary: "b", parts },
  });
  const file = { name: "file", filename: "leads.csv", text: "email\n" };
  rejects(multipart([{ name: "data", filename: "leads.csv", text: "email\n" }]), /formData part "data" is not declared \(declared: file\)/, /required formData parameter "file" \(file\) is missing/);
  rejects(multipart([{ name: "file", text: "email\n" }]), /formData part "file" must be a file part/);
  rejects(multipart([file], "format=xlsx"), /"format" = "xlsx": not one of the enum values \[csv, tsv, ssv\]/);
  rejects(multipart([file], "lookupField=email"), /required query parameter "format" is missing/);
  rejects(multipart([file], "format=csv&listId=Newsletter"), /"listId" = "Newsletter": expected an integer/);
  rejects({ method: "POST", path: "/bulk/v1/leads.json?format=csv", headers: { authorization: "Bearer t" } }, /required formData parameter "file" \(file\) is missing/);
  const problems = swagger.validate({ ...post("/bulk/v1/leads.json?format=csv", "email\na@example.com\n", { "content-type": "text/csv" }) });
  assert.ok(problems.some((p) => /Content-Type "text\/csv" is not in consumes \[multipart\/form-data\]/.test(p)), problems.join("\n"));
});

test("validator: identity parameters belong in the query; a form body is reported, not silently accepted", () => {
  const problems = swagger.validate(post("/identity/oauth/token", "grant_type=client_credentials&client_id=a&client_secret=b", FORM_CT));
  assert.deepEqual(problems.map((p) => p.replace(/ \(it was sent.*$/, "")), [
    'required query parameter "client_id" is missing from the query string',
    'required query parameter "client_secret" is missing from the query string',
    'required query parameter "grant_type" is missing from the query string',
    "POST /identity/oauth/token (identityUsingPOST) declares no body or formData parameter, but the request has a body",
    'Content-Type "application/x-www-form-urlencoded" is not in consumes [application/json] of POST /identity/oauth/token (identityUsingPOST)',
  ]);
  rejects({ method: "POST", path: "/identity/oauth/token?client_id=a&client_secret=b" }, /required query parameter "grant_type" is missing$/);
});

// --- end to end: every request the package sends ------------------------------------------

const START = Date.UTC(2026, 10, 28, 12, 0, 0);
const here = new URL("../../fixtures/", import.meta.url);
const fixture = (name) => JSON.parse(readFileSync(new URL(name, here), "utf8"));

/** Every action type the package takes, configured with realistic parameters. */
function allActions() {
  const email = { field: "email", source: { attribute: "data.udo.customer_email" } };
  const own = new Set(["upsert-batched", "list-batched", "unlist", "unlist-batched"]);
  return [
    // The demo's actions, less those configured differently below.
    ...demoActions({ newsletterList: 1001, visitorsList: 1002 }).filter((a) => !own.has(a.id)),
    {
      id: "upsert-batched", type: "createOrUpdateLeadBatched", updateStrategy: "createOnly", partitionName: "Default",
      leadData: [email, { field: "firstName", source: { attribute: "data.udo.customer_first_name" } }],
    },
    { id: "list-batched", type: "addLeadToListBatched", targetStaticList: "1002", targetLeadId: { attribute: "data.udo.marketo_lead_id" } },
    {
      id: "unlist", type: "removeLeadFromList", targetStaticList: 1001,
      leadIdLookup: { filterType: "email", source: { attribute: "data.udo.customer_email" } },
    },
    { id: "unlist-batched", type: "removeLeadFromListBatched", targetStaticList: 1002, targetLeadId: { attribute: "visitor.metrics.Marketo lead id" } },
    {
      id: "send-email", type: "sendTransactionalEmail", targetEmailCampaign: 3712,
      targetLeadId: { attribute: "data.udo.marketo_lead_id" },
      tokens: [
        { name: "{{my.firstName}}", source: { attribute: "data.udo.customer_first_name" } },
        { name: "{{my.orderTotal}}", source: { attribute: "data.udo.order_total" } },
        { name: "{{my.newsletter}}", source: { attribute: "data.udo.newsletter" } },
        { name: "{{my.signupDate}}", source: { attribute: "data.udo.signup_date" }, type: "date" },
        { name: "{{my.company}}", source: { attribute: "data.udo.company" } },
      ],
    },
    { id: "merge", type: "mergeLead", winningLeadId: { attribute: "winner" }, losingLeadIds: { attribute: "losers" }, mergeInCrm: false },
    {
      id: "bulk", type: "bulkImportLeads", targetStaticList: 1001, leadLookupField: "email",
      leadData: [email, { field: "firstName", source: { attribute: "data.udo.customer_first_name" } }, { field: "lastName", source: { attribute: "data.udo.customer_last_name" } }],
    },
  ];
}

/**
 * Requests whose Swagger problems are known and reported, not yet fixed in the connector. Each
 * entry names the operation, the exact problems the validator prints and why. Such a request
 * is shown as a TODO subtest (it still runs and prints its problems); a request with any other
 * problem fails, and an entry that no longer occurs fails the test too (delete it once the
 * connector is fixed). Emptying this list turns the deviations into failures.
 */
const KNOWN_DEVIATIONS = [
  {
    operation: "POST /identity/oauth/token (identityUsingPOST)",
    problems: [
      /^required query parameter "client_id" is missing from the query string \(it was sent in the application\/x-www-form-urlencoded body/,
      /^required query parameter "client_secret" is missing from the query string \(it was sent in the application\/x-www-form-urlencoded body/,
      /^required query parameter "grant_type" is missing from the query string \(it was sent in the application\/x-www-form-urlencoded body/,
      "POST /identity/oauth/token (identityUsingPOST) declares no body or formData parameter, but the request has a body",
      'Content-Type "application/x-www-form-urlencoded" is not in consumes [application/json] of POST /identity/oauth/token (identityUsingPOST)',
    ],
    why: "src/core/auth.rs identity_request sends client_id/client_secret/grant_type as an application/x-www-form-urlencoded " +
      "body (deliberate: the secret never appears in a URL); swagger-identity.json declares them as required query " +
      "parameters and consumes application/json only (Marketo accepts the form body in practice: https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/authentication)",
  },
  {
    operation: "DELETE /rest/v1/lists/{listId}/leads.json (removeLeadsFromListUsingDELETE)",
    problems: ['required query parameter "id" is missing'],
    why: "src/core/families/list.rs sends Remove from List with the JSON body {input:[{id}]} only; swagger-mapi.json marks " +
      "both that body and the `id` query parameter (multi, int32) as required (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/assets/static-lists: clients send either)",
  },
];

test("end to end: every request the connector sends for every action type conforms to Adobe's Swagger", async (t) => {
  let now = START;
  const base = demoSeed();
  const campaign = { id: 3712, name: "Send email", type: "trigger", isRequestable: true, isActive: true };
  const sim = await startSimulator({ ...base, seed: { ...base.seed, campaigns: [campaign] }, clock: () => now });
  t.after(() => sim.close());
  sim.seed({
    leads: [5001, 5002, 5003, 5004].map((id) => ({ id, email: `dup${id}@example.com`, firstName: "Dup" })),
  });

  let timer; // host.setTimer: the latest call wins
  const net = trackingFetch();
  const c = new Connector({
    clientId: sim.clientId, clientSecret: sim.clientSecret, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
    actions: allActions(),
  }, { fetch: net.fetch, now: () => now, setTimer: (at) => { timer = at; }, seed: 7 });

  const visitor = fixture("audiencestream-visitor.json");
  const event = fixture("eventstream-event.json");
  const newcomer = structuredClone(event);
  newcomer.data.udo.customer_email = "new.person@example.com";
  const steps = [
    ["upsert-visitor", visitor],
    ["upsert-event", event],
    ["list-by-id", visitor],
    ["list-by-email", event],
    ["list-by-email", newcomer],
    ["list-by-cookie", event],
    ["upsert-batched", { data: { udo: { customer_email: "batched@example.com", customer_first_name: "Bea" } } }],
    ["list-batched", event],
    ["unlist", event],
    ["unlist-batched", visitor],
    ["send-email", event],
    ["merge", { winner: 318594, losers: [5001] }],
    ["merge", { winner: "5002", losers: "5003, 5004" }],
    ["bulk", event],
    ["bulk", newcomer],
  ];
  const final = new Map();
  const record = (outs) => outs.filter((o) => o.status !== "queued").forEach((o) => final.set(o.eventId, o));
  for (const [i, [action, ev]] of steps.entries()) record(await c.process(action, ev, `e${i + 1}-${action}`));
  record(await c.flush());
  // Whatever still waits (retries, bulk job polling) runs on virtual time.
  for (let guard = 0; final.size < steps.length && guard < 500; guard++) {
    await net.idle(); // calls in flight come back before the clock moves
    if (timer === undefined) break;
    now = Math.max(now, timer);
    timer = undefined;
    record(await c.wake());
  }

  // The list and campaign pickers, where the package has them (they call Marketo too).
  const pickers = ["staticLists", "triggerableCampaigns"].filter((m) => typeof c[m] === "function");
  for (const m of pickers) assert.ok((await c[m]()).length > 0, `${m}() found something`);

  // Every event reached a final outcome, and every delivered action type did its Marketo work.
  assert.equal(final.size, steps.length, `one final outcome per event, got ${JSON.stringify([...final.values()], null, 1)}`);
  for (const o of final.values()) {
    if (o.actionId === "bulk" && o.status === "failed" && o.code === "NOT_SUPPORTED") continue;
    assert.equal(o.status, "delivered", `${o.eventId}: ${JSON.stringify(o)}`);
  }
  const triggered = sim.state.triggers.at(-1);
  assert.equal(triggered?.campaignId, 3712);
  assert.ok(triggered.tokens.every((tok) => typeof tok.value === "string"), "token values are strings");
  assert.equal(sim.state.merges.length, 2);

  // Group the requests by the operation they resolve to and validate each group.
  const groups = new Map();
  for (const r of sim.requests) {
    const method = r.method === "POST" && r.query._method ? String(r.query._method).toUpperCase() : r.method;
    const found = swagger.find(method, r.path);
    const key = found.problem ? `${r.method} ${r.path} (no operation)` : `${method} ${found.template} (${found.op.operationId})`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const operations = [...groups.keys()];
  for (const expected of [
    "POST /identity/oauth/token (identityUsingPOST)",
    "POST /rest/v1/leads.json (syncLeadUsingPOST)",
    "GET /rest/v1/leads.json (getLeadsByFilterUsingGET)",
    "POST /rest/v1/lists/{listId}/leads.json (addLeadsToListUsingPOST)",
    "DELETE /rest/v1/lists/{listId}/leads.json (removeLeadsFromListUsingDELETE)",
    "POST /rest/v1/campaigns/{campaignId}/trigger.json (triggerCampaignUsingPOST)",
    "POST /rest/v1/leads/{leadId}/merge.json (mergeLeadsUsingPOST)",
  ]) {
    assert.ok(operations.includes(expected), `the run exercised ${expected}; it exercised:\n  ${operations.join("\n  ")}`);
  }

  // The check is not vacuous on logged requests: the same requests, broken, are rejected.
  const addCall = sim.requests.find((r) => r.method === "POST" && /^\/rest\/v1\/lists\/\d+\/leads\.json$/.test(r.path));
  const stringId = { ...addCall, json: { input: [{ id: String(addCall.json.input[0].id) }] } };
  stringId.body = JSON.stringify(stringId.json);
  assert.deepEqual(swagger.validate(stringId), [`body.input[0].id: expected integer (int64), got string "${addCall.json.input[0].id}" (LeadInputData.id)`]);
  const lookup = sim.requests.find((r) => r.method === "GET" && r.path === "/rest/v1/leads.json");
  assert.match(swagger.validate({ ...lookup, query: { ...lookup.query, access_token: "x" } }).join("\n"), /"access_token" is not declared/);

  const seen = new Set();
  for (const [operation, requests] of groups) {
    const failures = [];
    const known = new Map(); // deviation → requests showing it
    for (const r of requests) {
      const problems = swagger.validate(r);
      if (problems.length === 0) continue;
      const k = KNOWN_DEVIATIONS.find((d) => d.operation === operation && sameProblems(d.problems, problems));
      if (k) {
        seen.add(k);
        known.set(k, [...(known.get(k) ?? []), describe(r, problems)]);
      } else {
        failures.push(describe(r, problems));
      }
    }
    await t.test(`${operation}: ${requests.length} request(s)`, () => {
      assert.equal(failures.length, 0, `requests that do not conform to Adobe's Swagger:\n\n${failures.join("\n\n")}`);
    });
    for (const [k, shown] of known) {
      await t.test(`${operation}: known deviation in ${shown.length} request(s)`, { todo: k.why }, () => {
        assert.fail(`known deviation from Adobe's Swagger:\n\n${shown.join("\n\n")}`);
      });
    }
  }
  const bulkRequests = sim.requests.filter((r) => r.path.startsWith("/bulk/"));
  const noBulk = bulkRequests.length === 0 && "no bulk request was sent (bulkImportLeads answered NOT_SUPPORTED)";
  await t.test("POST /bulk/v1/leads.json (importLeadUsingPOST) was exercised", { skip: noBulk }, () => {
    assert.ok(bulkRequests.some((r) => r.method === "POST" && r.path === "/bulk/v1/leads.json"), "the bulk upload was sent");
  });
  const stale = KNOWN_DEVIATIONS.filter((k) => !seen.has(k));
  assert.deepEqual(stale.map((k) => k.operation), [], "known deviations that no longer occur: remove them from KNOWN_DEVIATIONS");
});

function sameProblems(expected, actual) {
  return expected.length === actual.length && expected.every((p, i) => (p instanceof RegExp ? p.test(actual[i]) : p === actual[i]));
}

/** A request and its problems, with the token and the client secret hidden. */
function describe(r, problems) {
  const body = typeof r.body === "string" ? r.body.replace(/client_secret=[^&]*/, "client_secret=…") : JSON.stringify(r.body);
  const query = r.rawQuery ? `?${r.rawQuery.replace(/client_secret=[^&]*/, "client_secret=…")}` : "";
  return [
    `${r.method} ${r.path}${query}`,
    `  Content-Type: ${r.headers["content-type"] ?? "(none)"}`,
    body ? `  body: ${body.length > 400 ? `${body.slice(0, 400)}…` : body}` : "  (no body)",
    ...problems.map((p) => `  ✗ ${p}`),
  ].join("\n");
}
