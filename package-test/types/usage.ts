// Compiles under `tsc --strict` with Node's types, the DOM library or @cloudflare/workers-types:
// every action type with its parameters, a host built on globalThis.fetch, outcomes and errors.
import {
  Connector,
  type ActionConfig,
  type CheckResult,
  type Problem,
  type ProblemCode,
  type ConnectorError,
  type ErrorCode,
  type Host,
  type Outcome,
  type OutcomeCode,
  type PipelineEvent,
  type Settings,
} from "marketo-connector";

const email = { filterType: "email", source: { attribute: "data.udo.customer_email" } } as const;
const leadData = [
  { field: "email", source: { attribute: "data.udo.customer_email" } },
  { field: "firstName", source: { attribute: ["visitor", "properties", "Customer first name"] } },
  { field: "signupDate", source: { attribute: "data.udo.signup_date" }, type: "date" },
  { field: "loyaltyPoints", source: { attribute: "data.udo.points" }, type: "integer" },
] as const;

const actions: ActionConfig[] = [
  { id: "add", type: "addLeadToList", targetStaticList: 1001, leadIdLookup: email, addLead: true },
  { id: "add-batched", type: "addLeadToListBatched", targetStaticList: "1001", targetLeadId: { attribute: "lead.id" } },
  { id: "remove", type: "removeLeadFromList", targetStaticList: 1001, leadIdLookup: { filterType: "cookies", source: { attribute: "cookie" } } },
  { id: "remove-batched", type: "removeLeadFromListBatched", targetStaticList: 1001, leadIdLookup: email },
  {
    id: "welcome", type: "sendTransactionalEmail", targetEmailCampaign: 3712,
    targetLeadId: { attribute: "visitor.metrics.Marketo lead id" },
    tokens: [{ name: "{{my.first name}}", source: { attribute: "first" } }, { name: "{{my.day}}", source: { value: 0 }, type: "date" }],
  },
  { id: "upsert", type: "createOrUpdateLead", updateStrategy: "createOrUpdate", leadData, partitionName: "Default" },
  { id: "upsert-batched", type: "createOrUpdateLeadBatched", updateStrategy: "updateOnly", leadLookupFilter: "id", leadData: [{ field: "id", source: { attribute: "id" } }] },
  { id: "merge", type: "mergeLead", winningLeadId: { attribute: "winner" }, losingLeadIds: { value: [2, 3] }, mergeInCrm: false },
  { id: "import", type: "bulkImportLeads", leadLookupField: "email", leadData, targetStaticList: 1001 },
];

const settings: Settings = {
  clientId: "id",
  clientSecret: "secret",
  endpointUrl: "https://123-ABC-123.mktorest.com/rest",
  identityUrl: "https://123-ABC-123.mktorest.com/identity",
  limits: { callsPer20s: 50, concurrency: 5, dailyQuota: 50000 },
  actions,
  onTooLong: "fail",
};

let connector: Connector;
let timer: ReturnType<typeof setTimeout> | undefined;
const host: Host = {
  fetch: globalThis.fetch.bind(globalThis),
  now: Date.now,
  setTimer: (atMs) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void connector.wake().then(report), atMs - Date.now());
  },
  seed: 7,
  log: (entry) => {
    if (entry.type === "request") console.log(entry.method, entry.url);
  },
};
// The unbound function and a wrapper are fine too.
const plain: Host = { ...host, fetch: globalThis.fetch };
const wrapped: Host = { ...host, fetch: (url, init) => fetch(url, init) };

function report(outcomes: Outcome[]): void {
  for (const o of outcomes) {
    const code: OutcomeCode | undefined = o.code;
    switch (o.status) {
      case "delivered": console.log(o.eventId, o.leadIds?.join(",")); break;
      case "queued": break;
      case "skipped": case "failed": case "uncertain": console.log(o.eventId, code, o.message); break;
    }
  }
}

export async function run(events: PipelineEvent[]): Promise<void> {
  connector = new Connector(settings, host);
  const checked: CheckResult = await connector.check();
  if (!checked.ok) {
    for (const p of checked.problems satisfies Problem[]) {
      const code: ProblemCode = p.code;
      console.log(p.actionId, p.parameter, code, p.message, p.suggestion ?? "");
    }
  }
  for (const [i, event] of events.entries()) report(await connector.process("upsert", event, `event-${i}`));
  // An id from a database column (a number), or none (null or left out: a generated one).
  report(await connector.process("upsert", events[0], 318594));
  report(await connector.process("upsert", events[0], null));
  report(await connector.flush());
  const requests = connector.preview("add", { data: { udo: { customer_email: "jane@example.com", n: 0, ok: false, tags: ["a"] } } });
  console.log(requests.map((r) => `${r.method} ${r.url}`), connector.stats().calls);
  const lists = await connector.staticLists();
  console.log(lists.map((l) => `${l.id} ${l.name}`));
  const again = Connector.restore(settings, plain, connector.snapshot());
  connector.free();
  try {
    await connector.process("upsert", {});
  } catch (e) {
    const code: ErrorCode = (e as ConnectorError).code;
    if (code === "DESTROYED") console.log("freed");
  }
  again.free();
  new Connector(settings, wrapped).free();
}
