// Must not compile: each `@ts-expect-error` below marks a line tsc has to reject (when it
// compiles, tsc reports the directive as unused and the test fails).
import type { ActionConfig, Host, Outcome, PipelineEvent, Settings } from "marketo-connector";

const source = { attribute: "email" };

export const wrong: ActionConfig[] = [
  // @ts-expect-error: a misspelled parameter ("leadDtaa")
  { id: "a", type: "createOrUpdateLead", updateStrategy: "createOrUpdate", leadDtaa: [] },
  // @ts-expect-error: a misspelled value ("createOrUpdat")
  { id: "b", type: "createOrUpdateLead", updateStrategy: "createOrUpdat", leadData: [{ field: "email", source }] },
  // @ts-expect-error: an id must be a number or a string
  { id: "c", type: "addLeadToList", targetStaticList: { nope: true }, targetLeadId: source },
  // @ts-expect-error: "phone" is not a lookup filter type
  { id: "d", type: "addLeadToList", targetStaticList: 1, leadIdLookup: { filterType: "phone", source } },
  // @ts-expect-error: Marketo cannot create a lead from a cookie (addLead)
  { id: "e", type: "addLeadToList", targetStaticList: 1, leadIdLookup: { filterType: "cookies", source }, addLead: true },
  // @ts-expect-error: targetLeadId and leadIdLookup together
  { id: "f", type: "removeLeadFromList", targetStaticList: 1, targetLeadId: source, leadIdLookup: { filterType: "email", source } },
  // @ts-expect-error: a token name must read {{my.name}}
  { id: "g", type: "sendTransactionalEmail", targetEmailCampaign: 1, targetLeadId: source, tokens: [{ name: "first", source }] },
  // @ts-expect-error: partitionName does not go with updateOnly
  { id: "h", type: "createOrUpdateLeadBatched", updateStrategy: "updateOnly", leadData: [{ field: "email", source }], partitionName: "P" },
  // @ts-expect-error: a source is an attribute or a value, not both
  { id: "i", type: "mergeLead", winningLeadId: { attribute: "w", value: 1 }, losingLeadIds: source },
  // @ts-expect-error: "sendEmail" is not an action type
  { id: "j", type: "sendEmail", targetLeadId: source },
  // @ts-expect-error: bulkImportLeads needs leadLookupField
  { id: "k", type: "bulkImportLeads", leadData: [{ field: "email", source }] },
];

export const settings: Settings = {
  clientId: "id",
  clientSecret: "secret",
  endpointUrl: "https://123-ABC-123.mktorest.com/rest",
  identityUrl: "https://123-ABC-123.mktorest.com/identity",
  // @ts-expect-error: a misspelled limit
  limits: { callsPer20S: 50 },
};

export const tooLong: Settings = {
  clientId: "id",
  clientSecret: "secret",
  endpointUrl: "https://123-ABC-123.mktorest.com/rest",
  identityUrl: "https://123-ABC-123.mktorest.com/identity",
  // @ts-expect-error: onTooLong is "truncate" or "fail"
  onTooLong: "cut",
};

export const badType: ActionConfig = {
  id: "t", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
  // @ts-expect-error: "number" is not a Marketo data type
  leadData: [{ field: "email", source, type: "number" }],
};

// @ts-expect-error: an event is a JSON object, not a string
export const notAnEvent: PipelineEvent = "jane@example.com";

// @ts-expect-error: a host needs fetch, now and setTimer
export const noTimer: Host = { fetch: globalThis.fetch.bind(globalThis), now: Date.now };

export function status(o: Outcome): string {
  // @ts-expect-error: "sent" is not an outcome status
  return o.status === "sent" ? "sent" : o.status;
}
