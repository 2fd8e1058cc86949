// Static list endpoints: add/remove members, members, ismember, and both listing APIs
// (lead-database `/rest/v1/lists.json` and Asset `/rest/asset/v1/staticLists.json`).
// See https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/assets/static-lists

import { ApiError, reason } from './errors.mjs';
import { qstr, qlist } from './http-util.mjs';
import { jsonBody, intId, leadDbPage, assetPage, noAssets, blank } from './common.mjs';
import { listOut, assetListOut, projectLead } from './store.mjs';
import { requestedFields, MAX_BATCH } from './leads.mjs';

function getListOr1013(ctx) {
  const list = ctx.state.lists.get(Number(ctx.params.listId));
  // UNCONFIRMED: Adobe does not document the error for a non-existent list id on add/remove;
  // 1013 "Object not found" is the code documented for "get object (list, campaign) by id".
  if (!list) throw new ApiError(1013);
  return list;
}

/** Lead ids from `{"input":[{"id":N}]}` or from repeated / comma-separated `?id=`. */
function memberIds(ctx) {
  const body = jsonBody(ctx, { required: false });
  let ids;
  if (body !== undefined) {
    if (body === null || typeof body !== 'object' || !Array.isArray(body.input)) throw blank('input');
    ids = body.input.map((r) => intId(ctx, r?.id));
  } else {
    ids = (qlist(ctx.query, 'id') ?? []).map((s) => intId(ctx, /^\d+$/.test(s) ? Number(s) : s));
  }
  if (ids.length === 0) throw blank('input');
  if (ids.length > MAX_BATCH) {
    // "limit of 300 lead ids per request" [SPEC-MAPI]; the error for exceeding it is UNCONFIRMED.
    throw new ApiError(1003, `Invalid data: ${ids.length} lead ids, the maximum is ${MAX_BATCH}`);
  }
  return ids;
}

// POST /rest/v1/lists/{listId}/leads.json
export function addToList(ctx) {
  const list = getListOr1013(ctx);
  const ids = memberIds(ctx);
  const result = ids.map((id) => {
    if (!ctx.state.leads.has(id)) return { id, status: 'skipped', reasons: [reason(1004)] };
    // UNCONFIRMED: status for a lead that is already a member; the simulator answers "added".
    list.members.add(id);
    return { id, status: 'added' };
  });
  list.updatedAt = ctx.now;
  return { result, success: true };
}

// DELETE /rest/v1/lists/{listId}/leads.json (also POST ?_method=DELETE, UNCONFIRMED but accepted)
export function removeFromList(ctx) {
  const list = getListOr1013(ctx);
  const ids = memberIds(ctx);
  const result = ids.map((id) => {
    if (!ctx.state.leads.has(id)) return { id, status: 'skipped', reasons: [reason(1004)] };
    if (!list.members.has(id)) return { id, status: 'skipped', reasons: [reason(1015)] };
    list.members.delete(id);
    return { id, status: 'removed' };
  });
  list.updatedAt = ctx.now;
  return { result, success: true };
}

// GET /rest/v1/lists/{listId}/leads.json
export function listMembers(ctx) {
  const list = getListOr1013(ctx);
  const fields = requestedFields(ctx);
  const leads = [...list.members]
    .map((id) => ctx.state.leads.get(id))
    .filter(Boolean)
    .sort((a, b) => a.id - b.id)
    .map((l) => projectLead(l, fields));
  return leadDbPage(ctx, leads, 'members');
}

// GET /rest/v1/lists/{listId}/leads/ismember.json?id=…
export function isMember(ctx) {
  const list = getListOr1013(ctx);
  const ids = (qlist(ctx.query, 'id') ?? []).map((s) => intId(ctx, /^\d+$/.test(s) ? Number(s) : s));
  if (ids.length === 0) throw blank('id');
  const result = ids.map((id) => {
    if (!ctx.state.leads.has(id)) return { id, status: 'skipped', reasons: [reason(1004)] };
    return { id, status: list.members.has(id) ? 'memberof' : 'notmemberof' };
  });
  return { result, success: true };
}

function filterLists(ctx) {
  const q = ctx.query;
  const ids = qlist(q, 'id')?.map(Number);
  const names = qlist(q, 'name');
  const programs = qlist(q, 'programName');
  const workspaces = qlist(q, 'workspaceName');
  return [...ctx.state.lists.values()]
    .filter((l) => !ids || ids.includes(l.id))
    .filter((l) => !names || names.includes(l.name))
    .filter((l) => !programs || programs.includes(l.programName))
    .filter((l) => !workspaces || workspaces.includes(l.workspaceName))
    .sort((a, b) => a.id - b.id);
}

// GET /rest/v1/lists.json
export function getLists(ctx) {
  return leadDbPage(ctx, filterLists(ctx).map(listOut), 'lists');
}

// GET /rest/v1/lists/{listId}.json
export function getList(ctx) {
  return { result: [listOut(getListOr1013(ctx))], success: true };
}

// GET /rest/asset/v1/staticLists.json
export function assetStaticLists(ctx) {
  const lists = [...ctx.state.lists.values()].sort((a, b) => a.id - b.id).map(assetListOut);
  return assetPage(ctx, lists);
}

// GET /rest/asset/v1/staticList/{id}.json
export function assetStaticList(ctx) {
  const list = ctx.state.lists.get(Number(ctx.params.listId));
  if (!list) return noAssets();
  return { success: true, errors: [], result: [assetListOut(list)], warnings: [] };
}

// GET /rest/asset/v1/staticList/byName.json?name=…  (exact name match)
export function assetStaticListByName(ctx) {
  const name = qstr(ctx.query, 'name');
  if (name === undefined || name === '') throw blank('name');
  const list = [...ctx.state.lists.values()].find((l) => l.name === name);
  if (!list) return noAssets();
  return { success: true, errors: [], result: [assetListOut(list)], warnings: [] };
}
