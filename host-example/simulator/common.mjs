// Helpers shared by the endpoint handlers: JSON bodies, integer parameters, the two paging styles.

import { ApiError, messageFor } from './errors.mjs';
import { qstr, makePageToken, readPageToken } from './http-util.mjs';

/**
 * The parsed JSON body of a request. Marketo wants `Content-Type: application/json` for JSON
 * bodies (612 otherwise) and answers 609 for a body that does not parse.
 * `required: false` returns undefined for an empty body.
 */
export function jsonBody(ctx, { required = true } = {}) {
  if (ctx.rawBody.length === 0) {
    if (!required) return undefined;
    throw new ApiError(609);
  }
  const ct = ctx.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(ct)) throw new ApiError(612);
  if (ctx.json === undefined) throw new ApiError(609);
  return ctx.json;
}

/**
 * An id sent over JSON. Adobe's Swagger declares ids as integers; a numeric string is accepted
 * (Marketo's JSON binding coerces it) but noted in the request log so tests can see it.
 * Anything else is rejected with 1003.
 */
export function intId(ctx, value, what = 'id') {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    ctx.note(`${what} sent as a string (${JSON.stringify(value)}), Swagger declares an integer`);
    return Number(value);
  }
  throw new ApiError(1003, `Invalid value '${value === undefined ? '' : JSON.stringify(value)}' for ${what}. Required of type 'integer'`);
}

/** Integer query parameter with bounds, default when absent. */
export function intParam(query, name, { def, min, max }) {
  const raw = qstr(query, name);
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ApiError(1003, `Invalid value '${raw}' for ${name}. Required of type 'integer'`);
  const n = Number(raw);
  if (n < min || n > max) {
    // Simulator choice (UNCONFIRMED): out-of-range paging sizes are refused rather than clamped,
    // so a connector that asks for more than Marketo's maximum is caught.
    throw new ApiError(1003, `Invalid value '${raw}' for ${name}, must be between ${min} and ${max}`);
  }
  return n;
}

/**
 * Lead-database paging: `batchSize` (default and max 300) + opaque `nextPageToken`.
 * When more rows exist the body carries `moreResult: true` and `nextPageToken`; on the last page
 * both are absent (the recorded empty result `{"requestId":…,"result":[],"success":true}` has
 * neither).
 */
export function leadDbPage(ctx, items, kind) {
  const batchSize = intParam(ctx.query, 'batchSize', { def: 300, min: 1, max: 300 });
  const token = qstr(ctx.query, 'nextPageToken');
  let offset = 0;
  if (token !== undefined && token !== '') {
    offset = readPageToken(kind, token);
    if (offset === null) throw new ApiError(1003, `Invalid nextPageToken '${token}'`);
  }
  const page = items.slice(offset, offset + batchSize);
  const out = { result: page, success: true };
  // `paging.moreResult: false` (lists and campaigns only): pages as Adobe's Swagger models for
  // those two endpoints describe them, with `nextPageToken` on every page and no `moreResult`,
  // the last page followed by an empty one.
  const swaggerPaging = ctx.sim?.paging?.moreResult === false && (kind === 'lists' || kind === 'campaigns');
  if (swaggerPaging) {
    if (page.length > 0) out.nextPageToken = makePageToken(kind, offset + batchSize);
  } else if (offset + batchSize < items.length) {
    out.moreResult = true;
    out.nextPageToken = makePageToken(kind, offset + batchSize);
  }
  return out;
}

/**
 * Asset-API paging: `offset` + `maxReturn` (default 20, max 200). Past the end (or nothing
 * matching) is success with the warning "No assets found for the given search criteria." and
 * NO `result` key (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes).
 */
export function assetPage(ctx, items) {
  const offset = intParam(ctx.query, 'offset', { def: 0, min: 0, max: Number.MAX_SAFE_INTEGER });
  const maxReturn = intParam(ctx.query, 'maxReturn', { def: 20, min: 1, max: 200 });
  const page = items.slice(offset, offset + maxReturn);
  if (page.length === 0) return noAssets();
  return { success: true, errors: [], result: page, warnings: [] };
}

export function noAssets() {
  return { success: true, errors: [], warnings: ['No assets found for the given search criteria.'] };
}

export function blank(what) {
  return new ApiError(701, messageFor(701, what));
}
