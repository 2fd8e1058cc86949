// The simulated Marketo instance's data: field catalogue, leads, static lists, smart campaigns,
// partitions, and the helpers that read and write them. Everything lives in plain Maps/arrays on
// `state` so tests can inspect it directly.

import { isoZ, isoAsset } from './http-util.mjs';
import { reason } from './errors.mjs';

// --- field catalogue -------------------------------------------------------------------------
// Standard lead fields the simulator knows (REST API names, https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads). `searchable`
// marks the filterTypes / lookupFields Adobe lists for Get Leads by Filter Type and Bulk Import.
const STANDARD_FIELDS = [
  // name, dataType, displayName, updateable, searchable
  ['id', 'integer', 'Id', false, true],
  ['email', 'email', 'Email Address', true, true],
  ['firstName', 'string', 'First Name', true, false],
  ['lastName', 'string', 'Last Name', true, false],
  ['company', 'string', 'Company Name', true, false],
  ['title', 'string', 'Job Title', true, false],
  ['phone', 'phone', 'Phone Number', true, false],
  ['leadScore', 'integer', 'Lead Score', true, false],
  ['leadSource', 'string', 'Lead Source', true, false],
  ['city', 'string', 'City', true, false],
  ['country', 'string', 'Country', true, false],
  ['postalCode', 'string', 'Postal Code', true, false],
  ['cookies', 'string', 'Cookies', true, true],
  ['twitterId', 'string', 'Twitter Id', true, true],
  ['facebookId', 'string', 'Facebook Id', true, true],
  ['linkedInId', 'string', 'LinkedIn Id', true, true],
  ['sfdcAccountId', 'string', 'SFDC Account Id', true, true],
  ['sfdcContactId', 'string', 'SFDC Contact Id', true, true],
  ['sfdcLeadId', 'string', 'SFDC Lead Id', true, true],
  ['sfdcLeadOwnerId', 'string', 'SFDC Lead Owner Id', true, true],
  ['sfdcOpptyId', 'string', 'SFDC Oppty Id', true, true],
  ['createdAt', 'datetime', 'Created At', false, false],
  ['updatedAt', 'datetime', 'Updated At', false, false],
  ['leadPartitionId', 'integer', 'Lead Partition Id', false, true],
];

/** The filterType values Adobe lists for Get Leads by Filter Type (plus custom string/email/integer). */
export const STANDARD_FILTER_TYPES = [
  'id', 'email', 'cookies', 'twitterId', 'facebookId', 'linkedInId', 'sfdcAccountId',
  'sfdcContactId', 'sfdcLeadId', 'sfdcLeadOwnerId', 'sfdcOpptyId', 'leadPartitionId',
];

/** Turn "myCustomField" into "My Custom Field" for display names of custom fields. */
function displayNameOf(name) {
  const spaced = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2');
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/**
 * Build the field catalogue: Map name → {name, dataType, displayName, updateable, searchable,
 * custom}. `custom` is options.fields: ["name", ...] (string fields) or [{name, dataType,
 * displayName?}]. Custom fields of type string/email/integer are searchable, as Adobe documents.
 */
export function buildFields(custom = []) {
  const fields = new Map();
  for (const [name, dataType, displayName, updateable, searchable] of STANDARD_FIELDS) {
    const length = dataType === 'string' || dataType === 'email' ? 255 : undefined;
    fields.set(name, { name, dataType, displayName, updateable, searchable, custom: false, length });
  }
  for (const f of custom) {
    const def = typeof f === 'string' ? { name: f } : f;
    const dataType = def.dataType ?? 'string';
    fields.set(def.name, {
      name: def.name,
      dataType,
      displayName: def.displayName ?? displayNameOf(def.name),
      updateable: def.updateable ?? true,
      searchable: def.searchable ?? ['string', 'email', 'integer'].includes(dataType),
      custom: true,
      length: def.length ?? (['string', 'email'].includes(dataType) ? 255 : undefined),
    });
  }
  return fields;
}

/**
 * Custom fields of every data type Marketo's CreateLeadField enum lists (swagger-mapi.json), with
 * a read-only one and a short text field: the standalone simulator's and the demo's instance.
 */
export const EXAMPLE_CUSTOM_FIELDS = [
  { name: 'birthday', dataType: 'date' },
  { name: 'lastPurchaseAt', dataType: 'datetime' },
  { name: 'loyaltyPoints', dataType: 'integer' },
  { name: 'engagementScore', dataType: 'score' },
  { name: 'churnProbability', dataType: 'float' },
  { name: 'lifetimeValue', dataType: 'currency' },
  { name: 'discountRate', dataType: 'percent' },
  { name: 'vip', dataType: 'boolean' },
  { name: 'membershipLevel', dataType: 'string', length: 20 },
  { name: 'backupEmail', dataType: 'email' },
  { name: 'mobilePhone', dataType: 'phone', length: 20 },
  { name: 'profileUrl', dataType: 'url', length: 255 },
  { name: 'crmSegment', dataType: 'string', updateable: false },
];

/** Field names usable as Sync Leads / Bulk Import lookupField. */
export function isLookupField(fields, name) {
  const f = fields.get(name);
  return !!f && f.searchable && name !== 'leadPartitionId';
}

// --- value validation ------------------------------------------------------------------------

const ASCII = /^[\x00-\x7f]*$/;
const INT = /^[+-]?\d+$/;
const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Validate a JSON value sent through Sync Leads for a field. Returns {value} (possibly
 * normalised: integer strings become numbers for integer fields) or {error: reason}.
 * null clears the field. Strings are stored as sent (JSON types are kept).
 */
export function checkJsonValue(field, value) {
  if (value === null) return { value: null };
  const bad = () => ({ error: reason(1001, typeof value === 'object' ? JSON.stringify(value) : value, field.dataType) });
  if (typeof value === 'object') return bad();
  switch (field.dataType) {
    case 'email':
      // Adobe: "Email values: ASCII only" (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads). Format beyond that is not checked
      // by Sync Leads in the simulator (UNCONFIRMED what Marketo does with "foo").
      if (typeof value !== 'string' || !ASCII.test(value)) return bad();
      return { value };
    case 'integer':
    case 'score':
      if (typeof value === 'number' && Number.isInteger(value)) return { value };
      if (typeof value === 'string' && INT.test(value.trim())) return { value: Number(value.trim()) };
      return bad();
    case 'float':
    case 'currency':
    case 'percent':
      if (typeof value === 'number' && Number.isFinite(value)) return { value };
      if (typeof value === 'string' && NUM.test(value.trim())) return { value: Number(value.trim()) };
      return bad();
    case 'boolean':
      if (typeof value === 'boolean') return { value };
      if (value === 'true' || value === 'false') return { value: value === 'true' };
      return bad();
    case 'date':
      if (typeof value === 'string' && DATE.test(value)) return { value };
      return bad();
    case 'datetime':
      if (typeof value === 'string' && (DATETIME.test(value) || DATE.test(value)) && !Number.isNaN(Date.parse(value))) {
        return { value };
      }
      return bad();
    default:
      return { value };
  }
}

/**
 * Validate a CSV cell (always a string) for Bulk Import. Returns {value} | {fail: message} |
 * {value, warn: message}. Failure texts follow the sibling bulk-import example
 * "Invalid data type in field Lead Score" (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/bulk-import/bulk-lead-import).
 */
export function checkCsvValue(field, text) {
  const invalidType = { fail: `Invalid data type in field ${field.displayName}` };
  switch (field.dataType) {
    case 'email':
      // Brief + Adobe: ASCII only; an address without '@' is also rejected in bulk import.
      if (!ASCII.test(text) || !/^[^@\s]+@[^@\s]+$/.test(text)) return { fail: 'Invalid email address' };
      return { value: text };
    case 'integer':
    case 'score':
      return INT.test(text.trim()) ? { value: Number(text.trim()) } : invalidType;
    case 'float':
    case 'currency':
    case 'percent':
      return NUM.test(text.trim()) ? { value: Number(text.trim()) } : invalidType;
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(t)) return { value: true };
      if (['false', '0', 'no'].includes(t)) return { value: false };
      return invalidType;
    }
    case 'date':
      return DATE.test(text) ? { value: text } : invalidType;
    case 'datetime':
      return (DATETIME.test(text) || DATE.test(text)) && !Number.isNaN(Date.parse(text)) ? { value: text } : invalidType;
    default:
      // WARNING CONDITION (simulator choice, documented): string values longer than 255
      // characters are truncated to 255 and the row is imported with a warning.
      if (field.dataType === 'string' && [...text].length > 255) {
        return { value: [...text].slice(0, 255).join(''), warn: `Value truncated to 255 characters in field ${field.displayName}` };
      }
      return { value: text };
  }
}

// --- Munchkin cookies ------------------------------------------------------------------------
// Cookie value format: `id:561-HYG-937&token:_mch-marketo.com-1374552656411-90718`. Leads keep
// the FULL cookie strings in `lead.cookies` (an array: a person can have several browsers);
// the API returns only the `_mch-…` token part(s) for the `cookies` field.

export function cookieToken(value) {
  const m = /^id:[^&]+&token:(_mch-[^&]+)$/.exec(value);
  return m ? m[1] : null;
}

export function cookiesOut(lead) {
  const list = lead.cookies ?? [];
  if (!list.length) return null;
  return list.map((c) => cookieToken(c) ?? c).join(',');
}

// --- leads -----------------------------------------------------------------------------------

/** Compare a stored value with a lookup value coming from the wire. */
function valueMatches(field, stored, wanted) {
  if (stored === null || stored === undefined) return false;
  if (field === 'email') return String(stored).toLowerCase() === String(wanted).toLowerCase();
  if (typeof stored === 'number') return String(wanted).trim() !== '' && Number(wanted) === stored;
  return String(stored) === String(wanted);
}

/** Leads whose `field` equals `value` (email case-insensitive; cookies by token), by id order. */
export function findLeads(state, field, value) {
  const out = [];
  if (field === 'id') {
    const lead = state.leads.get(Number(value));
    return lead && /^\d+$/.test(String(value).trim()) ? [lead] : [];
  }
  if (field === 'cookies') {
    const token = cookieToken(String(value));
    if (!token) return [];
    for (const lead of state.leads.values()) {
      if ((lead.cookies ?? []).some((c) => cookieToken(c) === token)) out.push(lead);
    }
    return out;
  }
  for (const lead of state.leads.values()) {
    if (valueMatches(field, lead[field], value)) out.push(lead);
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Write one field value onto a lead (cookies accumulate; null / "" clear). */
export function setField(lead, name, value) {
  if (name === 'cookies') {
    if (value === null || value === '') lead.cookies = [];
    else {
      const list = lead.cookies ?? (lead.cookies = []);
      const token = cookieToken(String(value));
      if (!list.some((c) => c === value || (token && cookieToken(c) === token))) list.push(String(value));
    }
    return;
  }
  // LDB docs: "the database writes a value of null or an empty string as null" (applied to leads
  // too; UNCONFIRMED for the Leads endpoint specifically).
  lead[name] = value === '' ? null : value;
}

/** Create a lead with the next id and the current time. */
export function createLead(sim, values, partitionId = 1) {
  const now = sim.now();
  const id = sim.state.nextLeadId++;
  const lead = { id, createdAt: isoZ(now), updatedAt: isoZ(now), leadPartitionId: partitionId };
  for (const [k, v] of Object.entries(values)) setField(lead, k, v);
  sim.state.leads.set(id, lead);
  return lead;
}

export function updateLead(sim, lead, values) {
  for (const [k, v] of Object.entries(values)) setField(lead, k, v);
  lead.updatedAt = isoZ(sim.now());
}

/** A lead as the API returns it: `id` first, then each requested field, explicit null if empty. */
export function projectLead(lead, fieldNames) {
  const out = { id: lead.id };
  for (const f of fieldNames) {
    if (f === 'id') continue;
    if (f === 'cookies') out.cookies = cookiesOut(lead);
    else out[f] = lead[f] === undefined ? null : lead[f];
  }
  return out;
}

export const DEFAULT_LEAD_FIELDS = ['id', 'email', 'updatedAt', 'createdAt', 'firstName', 'lastName'];

// --- seeding ---------------------------------------------------------------------------------

/** Normalise a seed lead ({id?, email, ..., cookies: string|string[]}) and store it. */
export function seedLead(sim, seed) {
  const state = sim.state;
  const now = sim.now();
  const id = seed.id ?? state.nextLeadId;
  const lead = {
    id,
    createdAt: isoZ(now),
    updatedAt: isoZ(now),
    leadPartitionId: 1,
  };
  for (const [k, v] of Object.entries(seed)) {
    if (k === 'id') continue;
    if (k === 'cookies') lead.cookies = (Array.isArray(v) ? v : v == null ? [] : [v]).map(String);
    else lead[k] = v;
  }
  state.leads.set(id, lead);
  if (id >= state.nextLeadId) state.nextLeadId = id + 1;
  return lead;
}

export function seedList(sim, seed) {
  const state = sim.state;
  const now = sim.now();
  const id = seed.id ?? state.nextListId;
  const list = {
    id,
    name: seed.name ?? `List ${id}`,
    description: seed.description ?? '',
    programName: seed.programName ?? 'Simulator Program',
    workspaceName: seed.workspaceName ?? 'Default',
    folder: seed.folder ?? { id: 13, type: 'Folder' },
    createdAt: seed.createdAt ?? now,
    updatedAt: seed.updatedAt ?? now,
    members: new Set(seed.members ?? []),
  };
  state.lists.set(id, list);
  if (id >= state.nextListId) state.nextListId = id + 1;
  return list;
}

/**
 * Campaign seed: {id, name, type: 'trigger'|'batch'|'default', active|isActive, isRequestable}.
 * Requestable = active trigger campaign with a "Campaign is Requested: Web Service API" trigger;
 * `isRequestable` defaults to true for active trigger campaigns.
 */
export function seedCampaign(sim, seed) {
  const state = sim.state;
  const now = sim.now();
  const id = seed.id ?? state.nextCampaignId;
  const type = seed.type ?? 'trigger';
  const active = seed.active ?? seed.isActive ?? type === 'trigger';
  const requestable = !!((seed.isRequestable ?? type === 'trigger') && active && type === 'trigger');
  const c = {
    id,
    name: seed.name ?? `Campaign ${id}`,
    description: seed.description ?? '',
    type,
    active: !!active,
    isRequestable: requestable,
    programId: seed.programId ?? 1001,
    programName: seed.programName ?? 'Simulator Program',
    workspaceName: seed.workspaceName ?? 'Default',
    folder: seed.folder ?? { id: seed.programId ?? 1001, type: 'Program' },
    createdAt: seed.createdAt ?? now,
    updatedAt: seed.updatedAt ?? now,
  };
  state.campaigns.set(id, c);
  if (id >= state.nextCampaignId) state.nextCampaignId = id + 1;
  if (!state.programs.has(c.programId)) seedProgram(sim, { id: c.programId, name: c.programName });
  return c;
}

/**
 * Program seed: {id, name, tokens: [{name, type?, value?}]} — My Tokens by name without the
 * `my.` prefix, as Get Tokens by Folder Id lists them (getTokensByFolderIdUsingGET).
 */
export function seedProgram(sim, seed) {
  const state = sim.state;
  const id = seed.id ?? 1001;
  const existing = state.programs.get(id);
  const p = {
    id,
    name: seed.name ?? existing?.name ?? `Program ${id}`,
    tokens: (seed.tokens ?? existing?.tokens ?? []).map((t) =>
      typeof t === 'string' ? { name: t, type: 'text', value: '' } : { type: 'text', value: '', ...t },
    ),
  };
  state.programs.set(id, p);
  return p;
}

/** Shape of a list in `/rest/v1/lists.json`. */
export function listOut(list) {
  return {
    id: list.id,
    name: list.name,
    description: list.description,
    programName: list.programName,
    workspaceName: list.workspaceName,
    createdAt: isoZ(list.createdAt),
    updatedAt: isoZ(list.updatedAt),
  };
}

/** Shape of a list in `/rest/asset/v1/staticLists.json` (Asset API dates end in "Z+0000"). */
export function assetListOut(list) {
  return {
    id: list.id,
    name: list.name,
    description: list.description,
    createdAt: isoAsset(list.createdAt),
    updatedAt: isoAsset(list.updatedAt),
    url: `https://app-sim.marketo.com/#ST${list.id}A1`,
    folder: list.folder,
    workspace: list.workspaceName,
    computedUrl: `https://app-sim.marketo.com/#ST${list.id}A1`,
  };
}

/** Shape of a campaign in `/rest/v1/campaigns.json`. */
export function campaignOut(c) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    type: c.type === 'default' ? 'batch' : c.type, // the legacy API only knows batch|trigger
    programId: c.programId,
    programName: c.programName,
    workspaceName: c.workspaceName,
    createdAt: isoZ(c.createdAt),
    updatedAt: isoZ(c.updatedAt),
    active: c.active,
  };
}

/** Shape of a campaign in `/rest/asset/v1/smartCampaigns.json` (SmartCampaignResponse). */
export function smartCampaignOut(c) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    createdAt: isoAsset(c.createdAt),
    updatedAt: isoAsset(c.updatedAt),
    folder: c.folder,
    status: c.active ? 'Active' : 'Inactive',
    type: c.type,
    isSystem: false,
    isActive: c.active,
    isRequestable: c.isRequestable,
    isCommunicationLimitEnabled: false,
    recurrence: { weekdayOnly: false },
    qualificationRuleType: 'once',
    workspace: c.workspaceName,
    smartListId: 2000 + c.id,
    flowId: 3000 + c.id,
    parentProgramId: c.programId,
    computedUrl: `https://app-sim.marketo.com/#SC${c.id}A1`,
  };
}
