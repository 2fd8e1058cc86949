// Small HTTP helpers: query/form decoding, paging tokens, timestamps.

/**
 * Decode an application/x-www-form-urlencoded string (a URL query or a form body) the way a
 * Java servlet container (Marketo runs on one) does: split on '&', then on the first '=',
 * '+' means space, %XX is UTF-8 percent-decoding. Consequences worth knowing:
 *  - a raw '&' inside a value (e.g. a Munchkin cookie `id:X&token:Y`) splits the value;
 *  - a raw '+' inside a value (e.g. `a+b@x.com`) becomes a space.
 * Repeated keys give an array of strings, in order. Keys like "__proto__" are stored as plain
 * own properties so a hostile query cannot touch the prototype.
 */
export function parseForm(raw) {
  const out = {};
  if (!raw) return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(part.slice(eq + 1));
    addParam(out, key, value);
  }
  return out;
}

export function addParam(obj, key, value) {
  if (Object.prototype.hasOwnProperty.call(obj, key)) {
    const prev = obj[key];
    obj[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  } else {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  }
}

function decodeComponent(s) {
  const spaced = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // malformed %-escape: keep the raw text (it will simply match nothing)
  }
}

/** A single string for a parameter; repeated values are joined with ',' (Marketo's "multi"). */
export function qstr(params, name) {
  const v = params[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** A list parameter: repeated keys and comma-separated values both accepted. Empty items dropped. */
export function qlist(params, name) {
  const v = params[name];
  if (v === undefined) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  return arr.flatMap((s) => s.split(',')).filter((s) => s !== '');
}

/** Lead-database timestamp, e.g. "2016-05-17T22:11:45Z" (no milliseconds). */
export function isoZ(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Asset-API timestamp with Marketo's odd suffix, e.g. "2017-07-27T01:38:33Z+0000". */
export function isoAsset(ms) {
  return isoZ(ms) + '+0000';
}

// --- paging tokens ---------------------------------------------------------------------------
// Real lead-database paging tokens are opaque base32 strings (e.g. "GIYDAOBNGEYS2MBWKQYDAORQ...").
// Ours are base32 (RFC 4648, with '=' padding) of "<kind>:<offset>", so a connector has to treat
// them as opaque and encode them properly in a query string.

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(buf) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

export function base32Decode(str) {
  const clean = str.replace(/=+$/, '');
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const ch of clean) {
    const idx = B32.indexOf(ch);
    if (idx < 0) return null;
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

export function makePageToken(kind, offset) {
  return base32Encode(Buffer.from(`${kind}:${offset}`, 'utf8'));
}

/** Offset encoded in a token of the given kind, or null if the token is not one of ours. */
export function readPageToken(kind, token) {
  const buf = base32Decode(token);
  if (!buf) return null;
  const m = /^([a-z]+):(\d+)$/.exec(buf.toString('utf8'));
  if (!m || m[1] !== kind) return null;
  return Number(m[2]);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
