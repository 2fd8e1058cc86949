// Campaign endpoints: Request Campaign (trigger), legacy Get Campaigns, Asset Get Smart
// Campaigns. See https://developer.adobe.com/marketo-apis/api/mapi/ (Campaigns)

import { ApiError, messageFor } from './errors.mjs';
import { qstr, qlist } from './http-util.mjs';
import { jsonBody, intId, leadDbPage, assetPage, noAssets, blank } from './common.mjs';
import { campaignOut, smartCampaignOut } from './store.mjs';

export const MAX_TRIGGER_LEADS = 100;
export const MAX_TRIGGER_TOKENS = 100;
const TOKEN_NAME = /^\{\{my\.[^{}]+\}\}$/;

// POST /rest/v1/campaigns/{campaignId}/trigger.json
export function triggerCampaign(ctx) {
  const { state } = ctx;
  const campaignId = Number(ctx.params.campaignId);
  const campaign = state.campaigns.get(campaignId);
  if (!campaign) throw new ApiError(1013);
  // Only active trigger campaigns with "Campaign is Requested: Web Service API" can be requested.
  // Batch campaign → 1003 "Invalid data" (Adobe's table). The same answer for an inactive or
  // non-requestable trigger campaign is a simulator choice (exact text UNCONFIRMED).
  if (!campaign.isRequestable) throw new ApiError(1003);

  const body = jsonBody(ctx);
  const input = body?.input;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw blank('input');
  const leads = input.leads;
  if (!Array.isArray(leads) || leads.length === 0) throw blank('leads');
  if (leads.length > MAX_TRIGGER_LEADS) {
    // Adobe: max 100 leads per call; REST error for more is UNCONFIRMED → 1003.
    throw new ApiError(1003, `Invalid data: ${leads.length} leads, the maximum is ${MAX_TRIGGER_LEADS}`);
  }
  const leadIds = leads.map((l) => intId(ctx, l?.id, 'lead id'));
  const tokens = input.tokens ?? [];
  if (!Array.isArray(tokens)) throw new ApiError(1003, 'Invalid data: tokens must be an array');
  if (tokens.length > MAX_TRIGGER_TOKENS) {
    throw new ApiError(1003, `Invalid data: ${tokens.length} tokens, the maximum is ${MAX_TRIGGER_TOKENS}`);
  }
  for (const t of tokens) {
    // Token names must be written `{{my.name}}` [SC]. The error code for a malformed name is
    // UNCONFIRMED; the simulator uses the documented generic 1003 "Invalid data" with detail.
    if (!t || typeof t !== 'object' || typeof t.name !== 'string' || !TOKEN_NAME.test(t.name)) {
      throw new ApiError(1003, `Invalid data: token name ${JSON.stringify(t?.name)} is not of the form {{my.name}}`);
    }
    if (t.value !== undefined && typeof t.value !== 'string') {
      ctx.note(`token ${t.name} value is a ${typeof t.value}, not a string`);
    }
  }
  for (const id of leadIds) {
    // UNCONFIRMED: what Marketo does with an unknown lead id here; the simulator refuses the call
    // with 1004 so a connector's handling of it is observable.
    if (!state.leads.has(id)) throw new ApiError(1004, `Lead [${id}] not found`);
  }
  state.triggers.push({
    campaignId,
    leadIds,
    leads: leadIds,
    tokens: tokens.map((t) => ({ name: t.name, value: t.value })),
    at: ctx.now,
    requestId: ctx.requestId,
  });
  // result[0].id echoes the campaign id (common reading of Adobe's sample; UNCONFIRMED).
  return { result: [{ id: campaignId }], success: true };
}

// GET /rest/v1/campaigns.json (superseded, still served)
export function getCampaigns(ctx) {
  const q = ctx.query;
  const ids = qlist(q, 'id')?.map(Number);
  const names = qlist(q, 'name');
  const programs = qlist(q, 'programName');
  const workspaces = qlist(q, 'workspaceName');
  const triggerable = qstr(q, 'isTriggerable') === 'true';
  const items = [...ctx.state.campaigns.values()]
    .filter((c) => !ids || ids.includes(c.id))
    .filter((c) => !names || names.includes(c.name))
    .filter((c) => !programs || programs.includes(c.programName))
    .filter((c) => !workspaces || workspaces.includes(c.workspaceName))
    .filter((c) => !triggerable || c.isRequestable)
    .sort((a, b) => a.id - b.id)
    .map(campaignOut);
  return leadDbPage(ctx, items, 'campaigns');
}

// GET /rest/v1/campaigns/{campaignId}.json
export function getCampaign(ctx) {
  const c = ctx.state.campaigns.get(Number(ctx.params.campaignId));
  if (!c) throw new ApiError(1013, messageFor(1013));
  return { result: [campaignOut(c)], success: true };
}

// GET /rest/asset/v1/smartCampaigns.json (offset/maxReturn; isActive filter)
export function smartCampaigns(ctx) {
  const activeOnly = qstr(ctx.query, 'isActive') === 'true';
  const items = [...ctx.state.campaigns.values()]
    .filter((c) => !activeOnly || c.active)
    .sort((a, b) => a.id - b.id)
    .map(smartCampaignOut);
  return assetPage(ctx, items);
}

// GET /rest/asset/v1/program/{id}.json (getProgramByIdUsingGET)
export function program(ctx) {
  const p = ctx.state.programs.get(Number(ctx.params.programId));
  if (!p) return noAssets();
  return {
    success: true, errors: [], warnings: [],
    result: [{ id: p.id, name: p.name, type: 'program', channel: 'Operational', status: '', workspace: 'Default',
               folder: { type: 'Folder', value: 1, folderName: 'Marketing Activities' } }],
  };
}

// GET /rest/asset/v1/folder/{id}/tokens.json?folderType=Program (getTokensByFolderIdUsingGET)
export function folderTokens(ctx) {
  const type = qstr(ctx.query, 'folderType') ?? 'Folder';
  const p = type === 'Program' ? ctx.state.programs.get(Number(ctx.params.folderId)) : undefined;
  if (!p) return noAssets();
  return {
    success: true, errors: [], warnings: [],
    result: [{ folder: { id: p.id, type: 'Program' },
               tokens: p.tokens.map((t) => ({ name: t.name, type: t.type, value: t.value,
                                               computedUrl: `https://app-sim.marketo.com/#PG${p.id}A1` })) }],
  };
}

// GET /rest/asset/v1/smartCampaign/{id}.json
export function smartCampaign(ctx) {
  const c = ctx.state.campaigns.get(Number(ctx.params.campaignId));
  if (!c) return noAssets();
  return { success: true, errors: [], result: [smartCampaignOut(c)], warnings: [] };
}
