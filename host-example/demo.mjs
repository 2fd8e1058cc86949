// The demo: the connector (built package in pkg/) against the local Marketo simulator, or
// against a real instance when MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, MARKETO_ENDPOINT_URL
// and MARKETO_IDENTITY_URL are set. Sends the sample AudienceStream and EventStream events
// through each action and prints every Marketo request and every outcome.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createConnector } from "./node-host.mjs";
import { startSimulator } from "./simulator/marketo-sim.mjs";
import { demoActions, demoSeed } from "./demo-config.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const fixture = (name) => {
  // The fixtures live in the shared folder beside the repository; fall back to a bundled copy.
  for (const dir of [`${here}../../shared/fixtures/`, `${here}fixtures/`]) {
    try { return JSON.parse(readFileSync(dir + name, "utf8")); } catch { /* try the next */ }
  }
  throw new Error(`fixture ${name} not found`);
};

const env = process.env;
const real = env.MARKETO_CLIENT_ID && env.MARKETO_CLIENT_SECRET && env.MARKETO_ENDPOINT_URL && env.MARKETO_IDENTITY_URL;
let sim;
let settings;
if (real) {
  const listId = Number(env.MARKETO_LIST_ID ?? 0);
  settings = {
    clientId: env.MARKETO_CLIENT_ID, clientSecret: env.MARKETO_CLIENT_SECRET,
    endpointUrl: env.MARKETO_ENDPOINT_URL, identityUrl: env.MARKETO_IDENTITY_URL,
    actions: demoActions({ newsletterList: listId, visitorsList: listId }).filter((a) => listId || !a.type.includes("List")),
  };
  console.log(`Real Marketo at ${env.MARKETO_ENDPOINT_URL}${listId ? `, list ${listId}` : " (set MARKETO_LIST_ID to run the list actions)"}`);
} else {
  sim = await startSimulator(demoSeed());
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
  const shownBody = url.includes("/oauth/token") ? "(client credentials)" : init.body;
  console.log(`    ${init.method} ${url}${shownBody ? `\n      ${shownBody}` : ""}`);
  const res = await fetch(url, init);
  const text = await res.text();
  const shownAnswer = url.includes("/oauth/token") ? text.replace(/"access_token":"[^"]*"/, '"access_token":"…"') : text;
  console.log(dim(`      ← ${res.status} ${shownAnswer.length > 300 ? shownAnswer.slice(0, 300) + "…" : shownAnswer}`));
  return { status: res.status, text: async () => text };
};

const connector = createConnector(settings, { fetch: fetchAndShow, seed: 1 });
const visitor = fixture("audiencestream-visitor.json");
const event = fixture("eventstream-event.json");
const newcomer = structuredClone(event);
newcomer.data.udo.customer_email = "new.person@example.com";

const steps = [
  ["upsert-visitor", visitor, "AudienceStream visitor"],
  ["upsert-event", event, "EventStream event"],
  ["list-by-id", visitor, "AudienceStream visitor (lead id attribute)"],
  ["list-by-email", event, "EventStream event (email lookup)"],
  ["list-by-email", newcomer, "EventStream event with an unknown email (addLead creates the lead)"],
  ["list-by-cookie", event, "EventStream event (Munchkin cookie lookup)"],
  ["upsert-event", { data: { udo: { customer_email: "x@example.com", signup_date: "soon" } } }, "an event whose date cannot be read"],
].filter(([action]) => settings.actions.some((a) => a.id === action));

let n = 0;
for (const [action, ev, label] of steps) {
  n += 1;
  console.log(`\n${n}. process("${action}", ${label})`);
  const outcomes = await connector.process(action, ev, `demo-${n}`);
  for (const o of outcomes) console.log(`    ⇒ ${JSON.stringify(o)}`);
}
const rest = await connector.flush();
for (const o of rest) console.log(`    ⇒ ${JSON.stringify(o)}`);

if (sim) {
  console.log("\nSimulator state afterwards:");
  for (const lead of sim.state.leads.values()) console.log(`  lead ${lead.id}: ${JSON.stringify(lead)}`);
  for (const list of sim.state.lists.values()) console.log(`  list ${list.id} "${list.name}": members ${JSON.stringify([...list.members])}`);
  console.log(`  ${sim.requests.length} requests received, ${sim.requests.filter((r) => r.path.includes("/oauth/")).length} of them identity calls`);
  await sim.close();
}
