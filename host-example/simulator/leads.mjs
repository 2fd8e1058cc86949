// Lead endpoints: Sync Leads, Get Leads by Filter Type, Get Lead by Id, Delete Leads, Merge,
// Describe. See https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads

import { ApiError, reason, messageFor } from './errors.mjs';
import { qstr, qlist, isoZ } from './http-util.mjs';
import { jsonBody, intId, leadDbPage, blank } from './common.mjs';
import {
  STANDARD_FILTER_TYPES, isLookupField, checkJsonValue, findLeads, createLead, updateLead,
  projectLead, DEFAULT_LEAD_FIELDS, cookieToken,
} from './store.mjs';

const ACTIONS = ['createOrUpdate', 'createOnly', 'updateOnly', 'createDuplicate'];
export const MAX_BATCH = 300;

// --- Sync Leads: POST /rest/v1/leads.json ----------------------------------------------------

export function syncLeads(ctx) {
  const body = jsonBody(ctx);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(609);
  const input = body.input;
  if (!Array.isArray(input) || input.length === 0) throw blank('input');
  if (input.length > MAX_BATCH) {
    // UNCONFIRMED: Adobe documents the 300-record limit but not the error for exceeding it;
    // the simulator refuses the whole request with 1003.
    throw new ApiError(1003, `Invalid data: input has ${input.length} records, the maximum is ${MAX_BATCH}`);
  }
  const action = body.action ?? 'createOrUpdate';
  if (!ACTIONS.includes(action)) {
    // UNCONFIRMED code for an unknown action; 1003 "Invalid data" is the generic one.
    throw new ApiError(1003, `Invalid data: unknown action '${action}'`);
  }
  const lookupField = body.lookupField ?? 'email';

  // partitionName only applies to createOnly / createOrUpdate (ignored otherwise) [LEADS].
  let partitionId = null;
  let partitionError = null;
  if (body.partitionName !== undefined && body.partitionName !== null && (action === 'createOnly' || action === 'createOrUpdate')) {
    partitionId = ctx.state.partitions.get(body.partitionName) ?? null;
    if (partitionId === null) partitionError = reason(1008, body.partitionName);
  }

  const result = input.map((rec) => {
    const r = syncOne(ctx, rec, { action, lookupField, partitionId, partitionError });
    return r;
  });
  return { result, success: true };
}

function skipped(...reasons) {
  return { status: 'skipped', reasons };
}

function syncOne(ctx, rec, { action, lookupField, partitionId, partitionError }) {
  const { state } = ctx;
  const fields = state.fields;
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return skipped(reason(1003));
  if (partitionError) return skipped(partitionError);

  // Unknown field names → 1006 "Field 'x' not found".
  for (const key of Object.keys(rec)) {
    if (!fields.has(key)) return skipped(reason(1006, key));
  }
  if (action !== 'createDuplicate' && !isLookupField(fields, lookupField)) {
    return skipped(reason(1011, lookupField));
  }

  // `id` is system managed: only with updateOnly (or lookupField=id) [LEADS]; with createOnly
  // Adobe lists 1003 "Invalid data". The simulator applies 1003 to every other combination too
  // (UNCONFIRMED for createOrUpdate / createDuplicate).
  const hasId = rec.id !== undefined && rec.id !== null;
  if (lookupField === 'id' && (action === 'createOnly' || action === 'createDuplicate')) return skipped(reason(1003));
  if (hasId && action !== 'updateOnly' && lookupField !== 'id') return skipped(reason(1003));

  // Validate and normalise the values to write. Read-only fields (createdAt, updatedAt,
  // leadPartitionId) are ignored rather than refused (simulator choice).
  const values = {};
  for (const [key, value] of Object.entries(rec)) {
    if (key === 'id') continue;
    const field = fields.get(key);
    if (!field.updateable) {
      ctx.note(`read-only field '${key}' ignored in Sync Leads`);
      continue;
    }
    const checked = checkJsonValue(field, value);
    if (checked.error) return skipped(checked.error);
    values[key] = checked.value;
  }

  if (action === 'createDuplicate') {
    const lead = createLead(ctx.sim, values, partitionId ?? 1);
    return { id: lead.id, status: 'created' };
  }

  const keyField = action === 'updateOnly' && hasId ? 'id' : lookupField;
  const keyValue = rec[keyField];
  if (keyValue === undefined || keyValue === null || keyValue === '') {
    return skipped(reason(1002, keyField));
  }
  let matches = findLeads(state, keyField, keyValue);
  if (partitionId !== null) matches = matches.filter((l) => l.leadPartitionId === partitionId);

  if (matches.length > 1 && action !== 'createOnly') return skipped(reason(1007));
  switch (action) {
    case 'createOnly':
      if (matches.length > 0) return skipped(reason(1005));
      return { id: createLead(ctx.sim, values, partitionId ?? 1).id, status: 'created' };
    case 'updateOnly':
      if (matches.length === 0) return skipped(reason(1004));
      updateLead(ctx.sim, matches[0], values);
      return { id: matches[0].id, status: 'updated' };
    default: // createOrUpdate
      if (keyField === 'id' && matches.length === 0) return skipped(reason(1004)); // cannot create by id
      if (matches.length === 0) return { id: createLead(ctx.sim, values, partitionId ?? 1).id, status: 'created' };
      updateLead(ctx.sim, matches[0], values);
      return { id: matches[0].id, status: 'updated' };
  }
}

// --- Get Leads by Filter Type: GET /rest/v1/leads.json ---------------------------------------

export const MAX_FILTER_VALUES = 300;
export const MAX_FILTER_MATCHES = 1000;

/** Requested `fields`, validated against the catalogue (unknown → 1006). */
export function requestedFields(ctx) {
  const list = qlist(ctx.query, 'fields');
  if (!list || list.length === 0) return DEFAULT_LEAD_FIELDS;
  for (const f of list) {
    if (!ctx.state.fields.has(f)) throw new ApiError(1006, messageFor(1006, f));
  }
  return list;
}

export function getLeadsByFilter(ctx) {
  const { state, query } = ctx;
  const filterType = qstr(query, 'filterType');
  if (filterType === undefined || filterType === '') throw blank('filterType');
  const rawValues = qstr(query, 'filterValues');
  if (rawValues === undefined || rawValues === '') throw blank('filterValues');

  const field = state.fields.get(filterType);
  const supported =
    field && (STANDARD_FILTER_TYPES.includes(filterType) || (field.custom && field.searchable));
  if (!supported) throw new ApiError(1011, messageFor(1011, filterType));

  const values = rawValues.split(',').filter((v) => v !== '');
  if (values.length > MAX_FILTER_VALUES) {
    // UNCONFIRMED code for > 300 filterValues (Adobe documents the limit only).
    throw new ApiError(1003, `Invalid data: ${values.length} filterValues, the maximum is ${MAX_FILTER_VALUES}`);
  }

  if (filterType === 'cookies') {
    for (const v of values) {
      if (cookieToken(v)) continue;
      if (/^id:[^&]*$/.test(v)) {
        // The `&token:…` half is missing: the connector sent the cookie's '&' unencoded and the
        // query string split it (the rest became a separate parameter). It matches nothing,
        // exactly like on the real service, and we count it so tests can see it.
        state.counters.truncatedCookieFilters++;
        ctx.note(`cookie filter value '${v}' has no token part (unencoded '&'?)`);
        continue;
      }
      throw new ApiError(1012, messageFor(1012, v));
    }
  }

  const fieldNames = requestedFields(ctx);
  const byId = new Map();
  for (const v of values) {
    for (const lead of findLeads(state, filterType, v)) byId.set(lead.id, lead);
  }
  const matches = [...byId.values()].sort((a, b) => a.id - b.id);
  if (matches.length > MAX_FILTER_MATCHES) throw new ApiError(1003, 'Too many results match the filter');
  return leadDbPage(ctx, matches.map((l) => projectLead(l, fieldNames)), 'leads');
}

// --- Get Lead by Id: GET /rest/v1/lead/{leadId}.json -----------------------------------------

export function getLeadById(ctx) {
  const lead = ctx.state.leads.get(Number(ctx.params.leadId));
  const fieldNames = requestedFields(ctx);
  return { result: lead ? [projectLead(lead, fieldNames)] : [], success: true };
}

// --- Delete Leads: POST /rest/v1/leads/delete.json, DELETE (or POST ?_method=DELETE) leads.json

export function deleteLeads(ctx) {
  const body = jsonBody(ctx, { required: false });
  let ids;
  if (body && Array.isArray(body.input)) ids = body.input.map((r) => intId(ctx, r?.id));
  else ids = (qlist(ctx.query, 'id') ?? []).map((s) => intId(ctx, s));
  if (ids.length === 0) throw blank('input');
  if (ids.length > MAX_BATCH) throw new ApiError(1003, `Invalid data: ${ids.length} ids, the maximum is ${MAX_BATCH}`);
  const result = ids.map((id) => {
    if (!ctx.state.leads.has(id)) return { id, status: 'skipped', reasons: [reason(1004)] };
    removeLead(ctx.state, id);
    return { id, status: 'deleted' };
  });
  return { result, success: true };
}

function removeLead(state, id) {
  state.leads.delete(id);
  for (const list of state.lists.values()) list.members.delete(id);
}

// --- Merge Leads: POST /rest/v1/leads/{winnerId}/merge.json ----------------------------------

export const MAX_MERGE_IDS = 25;

export function mergeLeads(ctx) {
  const { state, query } = ctx;
  const winnerId = Number(ctx.params.leadId);
  const raw = [...(qlist(query, 'leadId') ?? []), ...(qlist(query, 'leadIds') ?? [])];
  if (raw.length === 0) throw blank('leadId');
  // "Beginning March 31, 2026, calls which include more than 25 IDs in the leadIds parameter …
  // will result in a 1080 error code" [LEADS]. Message text UNCONFIRMED.
  if (raw.length > MAX_MERGE_IDS) throw new ApiError(1080);
  const loserIds = [];
  for (const s of raw) {
    if (!/^\d+$/.test(s.trim())) throw new ApiError(1003, `Invalid value '${s}' for leadIds. Required of type 'integer'`);
    const id = Number(s.trim());
    if (!loserIds.includes(id)) loserIds.push(id);
  }
  const winner = state.leads.get(winnerId);
  if (!winner) throw new ApiError(1004, `Lead [${winnerId}] not found`);
  for (const id of loserIds) {
    if (id === winnerId) throw new ApiError(1003, 'Invalid data: the winning lead is also in leadIds');
    if (!state.leads.has(id)) throw new ApiError(1004, `Lead [${id}] not found`);
  }
  const mergeInCRM = qstr(query, 'mergeInCRM');

  for (const id of loserIds) {
    const loser = state.leads.get(id);
    // "Winner's values win unless empty and loser's is non-empty" [LEADS].
    for (const [k, v] of Object.entries(loser)) {
      if (['id', 'createdAt', 'updatedAt', 'leadPartitionId'].includes(k)) continue;
      if (k === 'cookies') {
        winner.cookies = [...new Set([...(winner.cookies ?? []), ...(v ?? [])])];
        continue;
      }
      const w = winner[k];
      const empty = w === undefined || w === null || w === '';
      if (empty && v !== undefined && v !== null && v !== '') winner[k] = v;
    }
    // List memberships move to the winner.
    for (const list of state.lists.values()) {
      if (list.members.delete(id)) list.members.add(winnerId);
    }
    state.leads.delete(id);
    state.mergedInto.set(id, winnerId);
  }
  winner.updatedAt = isoZ(ctx.now);
  state.merges.push({
    winnerId,
    loserIds,
    mergeInCRM: mergeInCRM === undefined ? undefined : mergeInCRM === 'true',
    at: ctx.now,
    requestId: ctx.requestId,
  });
  return { success: true }; // ResponseWithoutResult
}

// --- Partitions: GET /rest/v1/leads/partitions.json (getLeadPartitionsUsingGET) -------------

export function partitions(ctx) {
  const result = [...ctx.state.partitions.entries()]
    .sort((a, b) => a[1] - b[1])
    .map(([name, id]) => ({ id, name, description: id === 1 ? 'Initial system lead partition' : '' }));
  return { result, success: true };
}

// --- Describe: GET /rest/v1/leads/describe.json and describe2.json ---------------------------

// Text fields carry their `length` (255 for standard string and email fields; a custom field's
// own `length` option); other types have none, as in Adobe's describe sample.
const lengthOf = (f) => (f.length !== undefined ? { length: f.length } : {});

export function describe(ctx) {
  let id = 1;
  const result = [...ctx.state.fields.values()].map((f) => ({
    id: id++,
    displayName: f.displayName,
    dataType: f.dataType,
    ...lengthOf(f),
    rest: { name: f.name, readOnly: !f.updateable },
    soap: { name: f.name.charAt(0).toUpperCase() + f.name.slice(1), readOnly: !f.updateable },
  }));
  return { result, success: true };
}

export function describe2(ctx) {
  const fields = [...ctx.state.fields.values()];
  return {
    result: [
      {
        name: 'API Lead',
        searchableFields: fields.filter((f) => f.searchable).map((f) => [f.name]),
        fields: fields.map((f) => ({
          name: f.name,
          displayName: f.displayName,
          dataType: f.dataType,
          ...lengthOf(f),
          updateable: f.updateable,
          crmManaged: false,
        })),
      },
    ],
    success: true,
  };
}
