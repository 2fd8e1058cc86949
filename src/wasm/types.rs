//! The TypeScript declarations of the package, written for its users: wasm-bindgen appends this
//! section to every generated `.d.ts`, next to the `Connector` class.
//!
//! They follow the configuration parser (`src/core/config/actions.rs`, `settings.rs`, `source.rs`):
//! the nine action types as a union discriminated on `type`, each with exactly the parameters
//! the parser takes, so a misspelled parameter or value is a compile error rather than an
//! `INVALID_ACTION` at run time. Keep the two in step: a parameter added there is added here.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A JSON value. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/** A JSON object (an `undefined` property is left out, as `JSON.stringify` does). */
export interface JsonObject {
  readonly [key: string]: JsonValue | undefined;
}

/**
 * An event from the pipeline: a JSON object whose attributes the actions read by path,
 * e.g. an AudienceStream visitor or an EventStream event.
 */
export type PipelineEvent = JsonObject;

/**
 * Where a parameter's value comes from: an attribute of the event, as a dot path
 * (`"visitor.properties.Customer first name"`; numeric segments index lists) or as a list of
 * keys (for keys containing dots), or a literal value.
 */
export type Source =
  | { attribute: string | readonly [string, ...string[]]; value?: never }
  | { value: JsonValue; attribute?: never };

/** A Marketo id (lead, static list, campaign): an integer or a string of digits. */
export type MarketoId = number | string;

/** The fields a lead can be looked up by (`leadIdLookup.filterType`). */
export type FilterType =
  | "id" | "cookies" | "email" | "twitterId" | "facebookId" | "linkedInId"
  | "sfdcAccountId" | "sfdcContactId" | "sfdcLeadId" | "sfdcLeadOwnerId" | "sfdcOpptyId";

/** Marketo's Sync Leads `action`. */
export type UpdateStrategy = "createOrUpdate" | "createOnly" | "updateOnly" | "createDuplicate";

/** Marketo's lead field data types a value can be read as (README "Field types"). */
export type MarketoDataType =
  | "date" | "datetime" | "integer" | "score" | "float" | "currency" | "percent" | "boolean"
  | "string" | "email" | "phone" | "url" | "text";

/** One `leadData` entry: a Marketo REST field name and where its value comes from. */
export interface FieldMapping {
  /** The Marketo REST API field name, e.g. `email`, `firstName` (case-sensitive). */
  field: string;
  source: Source;
  /**
   * How to read the value: `"date"` reads it as a date (ISO 8601 UTC, or `YYYY-MM-DD` for a
   * Marketo `date` field), a Marketo type reads it as that type; absent, `"auto"` or
   * `"string"` keep it as is. What is sent follows the field's Marketo type when the
   * instance's schema is known.
   */
  type?: MarketoDataType | "auto";
}

/** A `{{my.token}}` of a transactional email. */
export interface TokenMapping {
  name: `{{my.${string}}}`;
  source: Source;
  /** How to read the value (`"date"`: ISO 8601 UTC); the token is sent as the string form. */
  type?: MarketoDataType | "auto";
}

/** Look the lead up by a field; `addLead` creates it when none is found. */
export type LeadIdLookupParams =
  | {
      leadIdLookup: { filterType: Exclude<FilterType, "id" | "cookies">; source: Source };
      /** Create the lead (keyed on the lookup field) when the lookup finds none. */
      addLead?: boolean;
      targetLeadId?: never;
    }
  | {
      /** Marketo cannot create a lead from an id or a cookie, so no `addLead` here. */
      leadIdLookup: { filterType: "id" | "cookies"; source: Source };
      addLead?: false;
      targetLeadId?: never;
    }
  | {
      /** The event carries the Marketo lead id. */
      targetLeadId: Source;
      leadIdLookup?: never;
      addLead?: false;
    };

/** The parameters of the four list actions. */
export type ListParams = {
  /** The static list id. */
  targetStaticList: MarketoId;
} & LeadIdLookupParams;

/** The parameters of the two `createOrUpdateLead` actions. */
export type UpsertParams = {
  /** The lookup (dedupe) field, default `email`; it must be mapped in `leadData` for `createOrUpdate`/`updateOnly`. */
  leadLookupFilter?: string;
  leadData: readonly FieldMapping[];
} & (
  | { updateStrategy: "createOrUpdate" | "createOnly"; partitionName?: string }
  | { updateStrategy: "updateOnly" | "createDuplicate"; partitionName?: never }
);

interface ActionBase<T extends string> {
  /** Unique among the actions; `process(actionId, …)` names it. */
  id: string;
  type: T;
}

export type AddLeadToListAction = ActionBase<"addLeadToList"> & ListParams;
export type AddLeadToListBatchedAction = ActionBase<"addLeadToListBatched"> & ListParams;
export type RemoveLeadFromListAction = ActionBase<"removeLeadFromList"> & ListParams;
export type RemoveLeadFromListBatchedAction = ActionBase<"removeLeadFromListBatched"> & ListParams;
export type CreateOrUpdateLeadAction = ActionBase<"createOrUpdateLead"> & UpsertParams;
export type CreateOrUpdateLeadBatchedAction = ActionBase<"createOrUpdateLeadBatched"> & UpsertParams;

export interface SendTransactionalEmailAction extends ActionBase<"sendTransactionalEmail"> {
  /** A campaign that can be requested (`triggerableCampaigns()` lists them). */
  targetEmailCampaign: MarketoId;
  targetLeadId: Source;
  /** At most 100. */
  tokens?: readonly TokenMapping[];
}

export interface MergeLeadAction extends ActionBase<"mergeLead"> {
  winningLeadId: Source;
  /** A number, a list, or a comma-separated string of ids. */
  losingLeadIds: Source;
  mergeInCrm?: boolean;
}

export interface BulkImportLeadsAction extends ActionBase<"bulkImportLeads"> {
  /** The dedupe field; it must be mapped in `leadData`. */
  leadLookupField: string;
  leadData: readonly FieldMapping[];
  /** Also add the imported leads to this static list. */
  targetStaticList?: MarketoId;
}

/** One configured action: `{id, type, ...parameters}`, discriminated on `type`. */
export type ActionConfig =
  | AddLeadToListAction
  | AddLeadToListBatchedAction
  | RemoveLeadFromListAction
  | RemoveLeadFromListBatchedAction
  | SendTransactionalEmailAction
  | CreateOrUpdateLeadAction
  | CreateOrUpdateLeadBatchedAction
  | MergeLeadAction
  | BulkImportLeadsAction;

/** The nine action types. */
export type ActionType = ActionConfig["type"];

/** Client-side limits; the connector never exceeds them. */
export interface Limits {
  /** Calls started in any 20 s window: 1 to 100, default 50. */
  callsPer20s?: number;
  /** Calls in flight at once: 1 to 10, default 5. */
  concurrency?: number;
  /** Calls per Marketo day (midnight to midnight CST), default 50000. */
  dailyQuota?: number;
  /** How long an event may take to reach a final outcome, in milliseconds. */
  deliveryDeadlineMs?: number;
}

/** Connector settings. */
export interface Settings {
  /** REST API Client ID (Admin → Web Services in Marketo). */
  clientId: string;
  /** REST API Client Secret; never in an outcome, log entry, error or preview. */
  clientSecret: string;
  /** e.g. `https://123-ABC-123.mktorest.com/rest` (plain http only on loopback). */
  endpointUrl: string;
  /** e.g. `https://123-ABC-123.mktorest.com/identity`. */
  identityUrl: string;
  limits?: Limits;
  actions?: readonly ActionConfig[];
  /**
   * Text longer than its Marketo field's `length`: `"truncate"` (default) cuts it on a
   * character boundary and delivers the event with code `TRUNCATED`; `"fail"` fails the event
   * with `INVALID_VALUE`. A lookup value is never cut.
   */
  onTooLong?: "truncate" | "fail";
}

/** What the connector hands to `host.fetch` as `init`. */
export interface FetchInit {
  method: "GET" | "POST" | "DELETE";
  headers: Record<string, string>;
  /** A string, or the bytes of a multipart body (bulk import). */
  body?: string | Uint8Array<ArrayBuffer>;
}

/** What the connector reads from a `fetch` response. */
export interface FetchResponse {
  status: number;
  text(): Promise<string>;
}

/** What the connector needs from its host. */
export interface Host {
  /** WHATWG fetch: `globalThis.fetch.bind(globalThis)` works as is. */
  fetch: (url: string, init: FetchInit) => Promise<FetchResponse>;
  /** Epoch milliseconds. */
  now: () => number;
  /** Call `connector.wake()` at or after `atMs`; the latest call wins. */
  setTimer: (atMs: number) => void;
  /** Jitter seed, for deterministic retries in tests. */
  seed?: number;
  /** Structured log; entries never contain secrets or tokens. */
  log?: (entry: LogEntry) => void;
}

/** A `host.log` entry. */
export type LogEntry =
  | { type: "request"; id: number; method: "GET" | "POST" | "DELETE"; url: string }
  | { type: "response"; id: number; status: number }
  | { type: "transportError"; id: number; message: string }
  /** `host.now()` returned something that is not a time; the last reading was used. */
  | { type: "hostError"; message: string };

/** Where an event stands; every status but `queued` is final. */
export type OutcomeStatus = "queued" | "delivered" | "skipped" | "failed" | "uncertain";

/** The connector's own outcome codes (Marketo's are numeric strings, HTTP statuses `HTTP_<n>`). */
export type ConnectorCode =
  | "MISSING_ATTRIBUTE" | "INVALID_VALUE" | "INVALID_EVENT" | "UNKNOWN_ACTION"
  | "AUTH_REJECTED" | "AUTH_UNAVAILABLE" | "NETWORK" | "BAD_RESPONSE" | "NO_RESULT"
  | "ROW_FAILED" | "ROW_WARNING" | "IMPORT_FAILED" | "IMPORT_TIMEOUT" | "FAILURES_UNAVAILABLE"
  | "RESTARTED_IN_FLIGHT" | "UNKNOWN_ERROR" | "INTERNAL" | "TRUNCATED" | "RECORD_TOO_LARGE";

/** Marketo's own code, e.g. `"1004"` (lead not found) or `"606"` (rate limit). */
export type MarketoCode = `${number}`;

/** An HTTP status Marketo answered with that fails the event, e.g. `"HTTP_413"`. */
export type HttpCode = `HTTP_${number}`;

/** Why an event was skipped or failed (or a warning on a delivered one). */
export type OutcomeCode = ConnectorCode | MarketoCode | HttpCode;

/** The outcome of one event. */
export interface Outcome {
  eventId: string;
  actionId: string;
  status: OutcomeStatus;
  /** Every lead the event acted on (looked up, created or given). */
  leadIds?: number[];
  code?: OutcomeCode;
  message?: string;
  /** Marketo's `requestId` of the call that decided the outcome. */
  requestId?: string;
}

/** The `code` of an `Error` the connector throws or rejects with. */
export type ErrorCode =
  | "INVALID_SETTINGS" | "INVALID_ACTION" | "INVALID_HOST" | "INVALID_SNAPSHOT"
  | "UNKNOWN_ACTION" | "MISSING_ATTRIBUTE" | "INVALID_VALUE" | "INVALID_EVENT"
  | "LISTING_FAILED" | "DESTROYED" | "BUSY" | "INTERNAL" | "INVALID_EVENT_ID";

/** An `Error` from the connector: `code` says which, `message` what to do about it. */
export interface ConnectorError extends Error {
  code: ErrorCode;
}

/** A request `preview` shows (never with the token). */
export interface PreviewRequest {
  method: "GET" | "POST" | "DELETE";
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** What `check()` can find wrong with the configuration. */
export type ProblemCode =
  | "UNKNOWN_FIELD" | "READ_ONLY_FIELD" | "NOT_SEARCHABLE" | "CANNOT_DEDUPE"
  | "UNKNOWN_LIST" | "UNKNOWN_CAMPAIGN" | "CAMPAIGN_INACTIVE" | "CAMPAIGN_NOT_TRIGGERABLE"
  | "UNKNOWN_TOKEN" | "UNKNOWN_PARTITION" | "PERMISSION_DENIED" | "SCHEMA_UNKNOWN" | "CHECK_FAILED";

/** One problem `check()` found. */
export interface Problem {
  /** The action it concerns. */
  actionId: string;
  /** The parameter at fault, e.g. `leadData[2].field`, `targetStaticList`, `tokens[0].name`. */
  parameter: string;
  code: ProblemCode;
  message: string;
  /** The likely fix, e.g. the field's right spelling when only the case differs. */
  suggestion?: string;
}

/** What `check()` resolves with: `ok` when no problem was found. */
export interface CheckResult {
  ok: boolean;
  problems: Problem[];
}

/** A static list or a campaign, for a picker. */
export interface ListItem {
  id: number;
  name: string;
}

/** What `Connector.snapshotInfo(snapshot)` reads from a snapshot without restoring it. */
export interface SnapshotInfo {
  /** Drawn when a connector is constructed, kept by every restore. */
  id: string;
  /** Rises by one at each restore: a host storing snapshots can refuse an older generation. */
  generation: number;
}

/** Counters since construction. */
export interface Stats {
  /** Marketo calls started (identity calls excluded, as Marketo does not count them). */
  calls: number;
  identityCalls: number;
  retries: number;
  /** 606/615 answers. */
  rateLimited: number;
  /** The pace the connector keeps now: lowered on 606/615, raised again as calls go through, never above `limits`. */
  pace: { callsPer20s: number; concurrency: number };
  /** Events without a final outcome, by action id (every configured action, 0 when none): in a batch, waiting for a retry, a limiter slot or a bulk job, or in a call in flight. */
  queues: Record<string, number>;
  /** Age of the oldest event without a final outcome at `host.now()`, in milliseconds; `null` when there is none. */
  oldestQueuedAgeMs: number | null;
}

declare global {
  // `Connector` has `[Symbol.dispose]()` (wasm-bindgen adds it, so `using` frees it). Declared
  // here as @types/node does, for TypeScript libs without `esnext.disposable`.
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}
"#;
