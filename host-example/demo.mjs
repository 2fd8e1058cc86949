// The demo: the connector (built package in pkg/) against the local Marketo simulator, or
// against a real instance when MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, MARKETO_ENDPOINT_URL
// and MARKETO_IDENTITY_URL are set. Sends the sample AudienceStream and EventStream events
// through each action and prints every Marketo request and every outcome. First, check() reads
// the instance's lead schema, lists, campaigns and tokens and prints what is wrong with the
// configuration; a deliberately wrong configuration shows what it finds.
import { Connector } from "../pkg/nodejs/marketo_connector.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createConnector } from "./node-host.mjs";
import { startSimulator } from "./simulator/marketo-sim.mjs";
import { demoActions, demoSeed, wrongActions } from "./demo-config.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
// The sample events: the repository's one copy, in fixtures/ (also read by the tests and fuzz seeds).
const fixture = (name) => JSON.parse(readFileSync(`${here}../fixtures/${name}`, "utf8"));

const env = process.env;
const real = env.MARKETO_CLIENT_ID && env.MARKETO_CLIENT_SECRET && env.MARKETO_ENDPOINT_URL && env.MARKETO_IDENTITY_URL;
let sim;
let settings;
if (real) {
  const listId = Number(env.MARKETO_LIST_ID ?? 0);
  settings = {
    clientId: env.MARKETO_CLIENT_ID, clientSecret: env.MARKETO_CLIENT_SECRET,
    endpointUrl: env.MARKETO_ENDPOINT_URL, identityUrl: env.MARKETO_IDENTITY_URL,
    // Only actions that need no ids from the demo's own data: upserts, and list adds when a list is given.
    actions: demoActions({ newsletterList: listId, visitorsList: listId })
      .filter((a) => ["upsert-visitor", "upsert-event", "upsert-batched", "list-by-email", "list-batched"].includes(a.id))
      .filter((a) => listId || !a.type.includes("List")),
  };
  console.log(`Real Marketo at ${env.MARKETO_ENDPOINT_URL}${listId ? `, list ${listId}` : " (set MARKETO_LIST_ID to run the list actions)"}`);
} else {
  // The simulator's clock runs 20× faster, so bulk jobs finish within the demo.
  const start = Date.now();
  sim = await startSimulator({ ...demoSeed(), clock: () => start + (Date.now() - start) * 20 });
  settings = {
    clientId: sim.clientId, clientSecret: sim.clientSecret,
    endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl,
    actions: demoActions({ newsletterList: 1001, visitorsList: 1002 }),
  };
  console.log(`Local Marketo simulator at ${sim.url}`);
}

const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
// Wrap fetch to show each request Marketo receives and its answer (credentials hidden).
const fetchAndShow = async (url, init) => {
  const shownBody = url.includes("/oauth/token") ? "(client credentials)"
    : init.body instanceof Uint8Array ? new TextDecoder().decode(init.body).replace(/\r\n/g, "\n      ") : init.body;
  console.log(`    ${init.method} ${url}${shownBody ? `\n      ${shownBody}` : ""}`);
  const res = await fetch(url, init);
  const text = await res.text();
  const shownAnswer = url.includes("/oauth/token") ? text.replace(/"access_token":"[^"]*"/, '"access_token":"…"') : text;
  console.log(dim(`      ← ${res.status} ${shownAnswer.length > 300 ? shownAnswer.slice(0, 300) + "…" : shownAnswer}`));
  return { status: res.status, text: async () => text };
};

// The host clock matches the simulator's (20× fast) so bulk polls come due within seconds.
const t0 = Date.now();
const now = real ? Date.now : () => t0 + (Date.now() - t0) * 20;
const connector = createConnector(settings, { fetch: fetchAndShow, seed: 1, now, onOutcomes: (outs) => {
  for (const o of outs) console.log(`    ⇒ (timer) ${JSON.stringify(o)}`);
} });
const visitor = fixture("audiencestream-visitor.json");
const event = fixture("eventstream-event.json");
const newcomer = structuredClone(event);
newcomer.data.udo.customer_email = "new.person@example.com";

/** Prints a check() result, one line per problem. */
const showCheck = (result) => {
  console.log(`    ⇒ ok: ${result.ok}`);
  for (const p of result.problems) {
    console.log(`    ⇒ ${p.actionId}, ${p.parameter}: ${p.code} ${p.message}${p.suggestion ? ` (did you mean "${p.suggestion}"?)` : ""}`);
  }
};
console.log("\ncheck(): the configuration against the instance's lead schema, lists, campaigns and tokens");
showCheck(await connector.check());
if (!real) {
  // The same check on a configuration with mistakes (a connector of its own; nothing is sent).
  console.log("\ncheck() of a deliberately wrong configuration (FirstName for firstName, a read-only field, a missing list, an undefined token)");
  const wrong = new Connector({ ...settings, actions: wrongActions() }, { fetch: fetchAndShow, now, setTimer() {} });
  showCheck(await wrong.check());
  wrong.free();
}

const lists = await connector.staticLists().catch((e) => e);
const campaigns = await connector.triggerableCampaigns().catch((e) => e);
console.log(`\nstaticLists() → ${JSON.stringify(lists)}`);
console.log(`triggerableCampaigns() → ${JSON.stringify(campaigns)}`);
console.log(`\npreview("list-by-email", …) → ${JSON.stringify(connector.preview("list-by-email", event), null, 1).replace(/\n\s*/g, " ")}`);

const steps = [
  ["upsert-visitor", visitor, "AudienceStream visitor"],
  ["upsert-event", event, "EventStream event"],
  ["list-by-id", visitor, "AudienceStream visitor (lead id attribute)"],
  ["list-by-email", event, "EventStream event (email lookup)"],
  ["list-by-email", newcomer, "EventStream event with an unknown email (addLead creates the lead)"],
  ["list-by-cookie", event, "EventStream event (Munchkin cookie lookup)"],
  ["upsert-event", { data: { udo: { customer_email: "x@example.com", signup_date: "soon" } } }, "an event whose date cannot be read"],
  ["welcome-email", visitor, "AudienceStream visitor (campaign trigger with tokens)"],
  ["upsert-profile", { email: "jane.doe@example.com", born: "1990-07-04T09:00:00+02:00", points: "1250", vip: "true",
    level: "Platinum Lifetime Member" }, "custom fields formatted by their Marketo type (date, integer, boolean, 20-character text)"],
  ["unlist", newcomer, "EventStream event (remove by email)"],
  ["merge-duplicates", { winner: 318594, losers: "318600,318601" }, "two duplicates of Jane"],
  ["upsert-batched", event, "EventStream event (queued)"],
  ["upsert-batched", newcomer, "EventStream event, another lead (queued)"],
  ["list-batched", event, "EventStream event (queued)"],
  ["unlist-batched", visitor, "AudienceStream visitor (queued)"],
  ["bulk-import", event, "EventStream event (queued for the bulk file)"],
  ["bulk-import", newcomer, "EventStream event, another lead (queued for the bulk file)"],
].filter(([action]) => settings.actions.some((a) => a.id === action));

let n = 0;
for (const [action, ev, label] of steps) {
  n += 1;
  console.log(`\n${n}. process("${action}", ${label})`);
  const outcomes = await connector.process(action, ev, `demo-${n}`);
  for (const o of outcomes) console.log(`    ⇒ ${JSON.stringify(o)}`);
}
console.log("\nflush(): the queues go out now; bulk jobs are then polled on the host timer");
let rest = await connector.flush();
for (const o of rest) console.log(`    ⇒ ${JSON.stringify(o)}`);
// Bulk import jobs finish on Marketo's side a few seconds later: wake() on the host's timer.
for (let i = 0; i < 20 && connector.snapshot().includes('"eventId"'); i++) {
  await new Promise((r) => setTimeout(r, 500));
  rest = await connector.wake();
  for (const o of rest) console.log(`    ⇒ ${JSON.stringify(o)}`);
}

if (sim) {
  console.log("\nSimulator state afterwards:");
  for (const lead of sim.state.leads.values()) console.log(`  lead ${lead.id}: ${JSON.stringify(lead)}`);
  for (const list of sim.state.lists.values()) console.log(`  list ${list.id} "${list.name}": members ${JSON.stringify([...list.members])}`);
  console.log(`  ${sim.requests.length} requests received, ${sim.requests.filter((r) => r.path.includes("/oauth/")).length} of them identity calls`);
  await sim.close();
}
