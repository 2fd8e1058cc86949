// Route table: (effective method, path pattern) → handler. A path that matches a pattern for
// another method answers 605; a path matching nothing answers 610.

import * as leads from './leads.mjs';
import * as lists from './lists.mjs';
import * as campaigns from './campaigns.mjs';
import * as bulk from './bulk.mjs';

const R = (method, pattern, handler) => ({ method, pattern, handler });

export const ROUTES = [
  // Lead database
  R('GET', /^\/rest\/v1\/leads\.json$/, leads.getLeadsByFilter),
  R('POST', /^\/rest\/v1\/leads\.json$/, leads.syncLeads),
  R('DELETE', /^\/rest\/v1\/leads\.json$/, leads.deleteLeads),
  R('POST', /^\/rest\/v1\/leads\/delete\.json$/, leads.deleteLeads),
  R('GET', /^\/rest\/v1\/lead\/(?<leadId>\d+)\.json$/, leads.getLeadById),
  R('GET', /^\/rest\/v1\/leads\/describe\.json$/, leads.describe),
  R('GET', /^\/rest\/v1\/leads\/describe2\.json$/, leads.describe2),
  R('GET', /^\/rest\/v1\/leads\/partitions\.json$/, leads.partitions),
  R('POST', /^\/rest\/v1\/leads\/(?<leadId>\d+)\/merge\.json$/, leads.mergeLeads),
  // Static lists
  R('GET', /^\/rest\/v1\/lists\.json$/, lists.getLists),
  R('GET', /^\/rest\/v1\/lists\/(?<listId>\d+)\.json$/, lists.getList),
  R('GET', /^\/rest\/v1\/lists\/(?<listId>\d+)\/leads\.json$/, lists.listMembers),
  R('POST', /^\/rest\/v1\/lists\/(?<listId>\d+)\/leads\.json$/, lists.addToList),
  R('DELETE', /^\/rest\/v1\/lists\/(?<listId>\d+)\/leads\.json$/, lists.removeFromList),
  R('GET', /^\/rest\/v1\/lists\/(?<listId>\d+)\/leads\/ismember\.json$/, lists.isMember),
  R('GET', /^\/rest\/asset\/v1\/staticLists\.json$/, lists.assetStaticLists),
  R('GET', /^\/rest\/asset\/v1\/staticList\/byName\.json$/, lists.assetStaticListByName),
  R('GET', /^\/rest\/asset\/v1\/staticList\/(?<listId>\d+)\.json$/, lists.assetStaticList),
  // Campaigns
  R('GET', /^\/rest\/v1\/campaigns\.json$/, campaigns.getCampaigns),
  R('GET', /^\/rest\/v1\/campaigns\/(?<campaignId>\d+)\.json$/, campaigns.getCampaign),
  R('POST', /^\/rest\/v1\/campaigns\/(?<campaignId>\d+)\/trigger\.json$/, campaigns.triggerCampaign),
  R('GET', /^\/rest\/asset\/v1\/smartCampaigns\.json$/, campaigns.smartCampaigns),
  R('GET', /^\/rest\/asset\/v1\/smartCampaign\/(?<campaignId>\d+)\.json$/, campaigns.smartCampaign),
  R('GET', /^\/rest\/asset\/v1\/program\/(?<programId>\d+)\.json$/, campaigns.program),
  R('GET', /^\/rest\/asset\/v1\/folder\/(?<folderId>\d+)\/tokens\.json$/, campaigns.folderTokens),
  // Bulk import (no /rest prefix)
  R('POST', /^\/bulk\/v1\/leads\.json$/, bulk.createImport),
  R('GET', /^\/bulk\/v1\/leads\/batch\/(?<batchId>\d+)\.json$/, bulk.importStatus),
  R('GET', /^\/bulk\/v1\/leads\/batch\/(?<batchId>\d+)\/failures\.json$/, bulk.importFailures),
  R('GET', /^\/bulk\/v1\/leads\/batch\/(?<batchId>\d+)\/warnings\.json$/, bulk.importWarnings),
];

/** → {route, params} | {methodNotAllowed: true} | null */
export function resolve(method, path) {
  let pathKnown = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method === method) return { route, params: { ...(m.groups ?? {}) } };
    pathKnown = true;
  }
  return pathKnown ? { methodNotAllowed: true } : null;
}
