// Marketo Engage REST API simulator (Node 20, ESM, no dependencies).
//
// One HTTP server on 127.0.0.1 plays a whole Marketo instance: Identity (/identity/oauth/token),
// the lead database and asset APIs (/rest/v1/…, /rest/asset/v1/…) and Bulk Import (/bulk/v1/…).
// It reproduces the behaviours Adobe documents (https://developer.adobe.com/marketo-apis/ and
// https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes): HTTP-200 error
// envelopes, token reuse and expiry, rate / concurrency / daily limits, 413/414 size limits,
// record-level statuses, paging styles, the bulk job life cycle, plus fault injection.
//
//   import { startSimulator } from './marketo-sim.mjs';
//   const sim = await startSimulator({ clock: () => t, seed: { leads: [...], lists: [...] } });
//   ... point the connector at sim.endpointUrl / sim.identityUrl with sim.clientId/clientSecret
//   sim.requests  // every HTTP request received, in order
//   sim.state     // leads, lists, campaigns, triggers, merges, bulkJobs, tokens, counters
//   await sim.close();
//
// Standalone: node host-example/simulator/marketo-sim.mjs [--port N] [--seed file.json]

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { ApiError, messageFor, UNCOUNTED_CODES, nginxPage, HTTP_TEXT } from './errors.mjs';
import { parseForm, addParam, qstr, sleep } from './http-util.mjs';
import { boundaryOf, parseMultipart, summarizeMultipart } from './multipart.mjs';
import { buildFields, seedLead, seedList, seedCampaign, seedProgram, EXAMPLE_CUSTOM_FIELDS } from './store.mjs';
import { resolve } from './routes.mjs';
import { BULK_DEFAULTS, advanceBulk } from './bulk.mjs';

export const DEFAULT_LIMITS = { rate: 100, windowMs: 20000, concurrency: 10, dailyQuota: 50000 };
export const MAX_URI_BYTES = 8192; // "GET URI > 8 KB → 414"
export const MAX_BODY_BYTES = 1048576; // 1 MB → 413
export const MAX_BULK_BODY_BYTES = 10485760; // 10 MB bulk import → 413
const JSON_TYPE = 'application/json;charset=UTF-8';

// Marketo's daily quota resets at midnight US Central time.
const CHICAGO_DAY = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'America/Chicago', year: 'numeric', month: '2-digit', day: '2-digit',
});

class MarketoSimulator {
  constructor(options = {}) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.clientId = options.clientId ?? 'sim-client-id';
    this.clientSecret = options.clientSecret ?? 'sim-client-secret';
    this.scope = options.scope ?? 'apis@simulator.example';
    this.limits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
    this.bulk = { ...BULK_DEFAULTS, ...(options.bulk ?? {}) };
    this.tokenLifetimeSec = options.tokenLifetimeSec ?? 3600;
    // `{moreResult: false}`: list and campaign pages without `moreResult` (see leadDbPage).
    this.paging = options.paging ?? {};
    // Other integrations sharing the instance's limits: `{callsPer20s, concurrency}` they use
    // all the time (so only the rest is left for the client under test); see setOtherApps().
    this.otherApps = { callsPer20s: 0, concurrency: 0, ...(options.otherApps ?? {}) };
    // How the quota day turns: 'central' (America/Chicago local midnight, CDT in summer) or
    // 'cst' (midnight at a fixed UTC−6 all year): Marketo documents "12:00 AM CST" only.
    this.quotaReset = options.quotaReset ?? 'central';
    this.latencyMs = options.latencyMs ?? 0;
    // Legacy `access_token` query/form parameter: rejected (as if no token was sent) unless this
    // switch is on. Either way every use is counted in state.counters.deprecatedAccessTokenParam.
    this.acceptQueryToken = options.acceptQueryToken ?? false;
    this.requests = [];
    this.faults = [];
    this.seq = 0;
    this.state = {
      leads: new Map(),
      lists: new Map(),
      campaigns: new Map(),
      programs: new Map(),
      triggers: [],
      merges: [],
      mergedInto: new Map(), // loser id → winner id
      bulkJobs: new Map(),
      tokens: new Map(), // access_token → {token, clientId, issuedAt, expiresAt, revoked}
      currentToken: new Map(), // clientId → access_token
      partitions: new Map([['Default', 1]]),
      fields: buildFields(options.fields ?? []),
      counters: newCounters(),
      rateWindow: [], // clock times of calls counted in the sliding window
      nextLeadId: options.firstLeadId ?? 1001,
      nextListId: 1001,
      nextCampaignId: 1001,
      nextBatchId: 1001,
      bulkCursor: undefined,
    };
    let pid = 2;
    for (const p of options.partitions ?? []) {
      const name = typeof p === 'string' ? p : p.name;
      this.state.partitions.set(name, typeof p === 'string' ? pid++ : p.id ?? pid++);
    }
    // Permissions the API user's role lacks (names as the Swagger's "Required Permissions":
    // 'Read-Only Lead', 'Read-Only Assets', 'Read-Only Campaigns'): reads needing them get 603.
    this.missingPermissions = new Set(options.missingPermissions ?? []);
    this.seed(options.seed ?? {});
  }

  /** The read permission a GET needs (Swagger "Required Permissions"), if the simulator checks it. */
  static permissionFor(path) {
    if (path.startsWith('/rest/asset/')) return 'Read-Only Assets';
    if (/^\/rest\/v1\/campaigns(\/\d+)?\.json$/.test(path)) return 'Read-Only Campaigns';
    if (/^\/rest\/v1\/(leads\/(describe2?|partitions)|lists\/\d+)\.json$/.test(path)) return 'Read-Only Lead';
    return undefined;
  }

  now() {
    return this.clock();
  }

  seed({ leads = [], lists = [], campaigns = [], programs = [] } = {}) {
    for (const p of programs) seedProgram(this, p);
    for (const l of leads) seedLead(this, l);
    for (const l of lists) seedList(this, l);
    for (const c of campaigns) seedCampaign(this, c);
  }

  nextRequestId() {
    // Marketo requestIds look like "e42b#14272d07d78": hex#hex.
    this.seq += 1;
    return `${(0x1000 + this.seq).toString(16)}#${Math.max(0, Math.floor(this.now())).toString(16)}`;
  }

  advance() {
    advanceBulk(this, this.now());
  }

  // --- fault injection -----------------------------------------------------------------------

  inject(fault) {
    const KIND_KEYS = ['code', 'message', 'http', 'html', 'drop', 'slowMs', 'afterApply', 'body', 'contentType'];
    const kind = fault.kind ?? Object.fromEntries(KIND_KEYS.filter((k) => k in fault).map((k) => [k, fault[k]]));
    const f = {
      path: fault.path,
      method: fault.method ? fault.method.toUpperCase() : undefined,
      remaining: fault.times ?? 1,
      hits: 0,
      kind,
    };
    this.faults.push(f);
    return f;
  }

  /** Other apps' share of the instance's limits from now on: `{callsPer20s?, concurrency?}`. */
  setOtherApps(load) {
    this.otherApps = { callsPer20s: 0, concurrency: 0, ...load };
  }

  takeFault(methods, path) {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.method && !methods.includes(f.method)) continue;
      if (f.path !== undefined) {
        if (f.path instanceof RegExp) {
          f.path.lastIndex = 0;
          if (!f.path.test(path)) continue;
        } else if (!path.includes(f.path)) continue;
      }
      f.remaining -= 1;
      f.hits += 1;
      return f;
    }
    return null;
  }

  // --- HTTP plumbing -------------------------------------------------------------------------

  listen(port, host) {
    this.server = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
      this.onRequest(req, res).catch((err) => {
        console.error('[marketo-sim] internal error', err);
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end('simulator internal error');
        }
      });
    });
    return new Promise((resolveListen, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolveListen(this.server.address().port));
    });
  }

  close() {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  async onRequest(req, res) {
    const at = this.now();
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    // Split by hand: `new URL()` would treat "//rest/…" as a host and hide a double slash.
    const path = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const rawQuery = qi < 0 ? '' : rawUrl.slice(qi + 1);
    const entry = {
      method: req.method,
      path,
      query: parseForm(rawQuery),
      rawQuery,
      headers: { ...req.headers },
      body: '',
      json: undefined,
      status: undefined,
      response: undefined,
      at,
    };
    this.requests.push(entry);

    const limit = path.startsWith('/bulk/') ? MAX_BULK_BODY_BYTES : MAX_BODY_BYTES;
    const { buf, size } = await readBody(req, limit);
    entry.rawBody = buf;
    entry.bodySize = size;
    const ct = entry.headers['content-type'] ?? '';
    const boundary = boundaryOf(ct);
    let parts;
    if (boundary && size <= limit) {
      try {
        parts = parseMultipart(buf, boundary);
        entry.body = summarizeMultipart(boundary, parts);
      } catch {
        entry.body = buf.toString('utf8');
      }
    } else {
      entry.body = buf.toString('utf8');
    }
    if (/^application\/json\s*(;|$)/i.test(ct) && buf.length > 0) {
      try {
        entry.json = JSON.parse(entry.body);
      } catch {
        /* stays undefined; handlers answer 609 */
      }
    }
    if (/^application\/x-www-form-urlencoded\s*(;|$)/i.test(ct)) entry.form = parseForm(entry.body);

    // Gateway limits first (nginx answers these with HTML, before any API logic).
    if (Buffer.byteLength(rawUrl) > MAX_URI_BYTES) return this.sendHttp(entry, res, 414);
    if (size > limit) return this.sendHttp(entry, res, 413);

    this.advance();
    if (path === '/identity/oauth/token') return this.identity(entry, req, res);
    if (path.startsWith('/rest/') || path.startsWith('/bulk/')) return this.api(entry, req, res, parts);
    return this.sendError(entry, res, '610');
  }

  // --- Identity ------------------------------------------------------------------------------

  async identity(entry, req, res) {
    const c = this.state.counters;
    c.identityCalls += 1; // not counted against rate limit / quota [SPEC-ID]
    c.identityInFlight += 1;
    c.peakIdentityConcurrency = Math.max(c.peakIdentityConcurrency, c.identityInFlight);
    try {
      const fault = this.takeFault([req.method], entry.path);
      if (fault) entry.fault = fault.kind;
      const run = () => this.issueToken(entry, req);
      const finish = (out) => this.sendJson(entry, res, out.status, out.body, out.headers);
      if (this.latencyMs) await sleep(this.latencyMs);
      await this.respondWithFault(fault?.kind, entry, res, req, run, finish);
    } finally {
      c.identityInFlight -= 1;
    }
  }

  issueToken(entry, req) {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return { status: 405, body: { error: 'method_not_allowed', error_description: `Request method '${req.method}' not supported` } };
    }
    // Spec: query parameters. In practice a form body on POST also works [SEG]; query wins.
    const params = { ...entry.query };
    if (req.method === 'POST' && entry.form) {
      for (const [k, v] of Object.entries(entry.form)) if (!(k in params)) addParam(params, k, v);
    }
    const clientId = qstr(params, 'client_id');
    const secret = qstr(params, 'client_secret');
    if (clientId !== this.clientId || secret !== this.clientSecret) {
      // Exact body per case UNCONFIRMED; "Bad client credentials" is one of the two observed texts.
      return { status: 401, body: { error: 'unauthorized', error_description: 'Bad client credentials' } };
    }
    const grant = qstr(params, 'grant_type');
    if (grant !== 'client_credentials') {
      return {
        status: 400,
        body: grant
          ? { error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${grant}` }
          : { error: 'invalid_request', error_description: 'Missing grant type' },
      };
    }
    const now = this.now();
    const { tokens, currentToken } = this.state;
    let tok = tokens.get(currentToken.get(clientId));
    // "If you call the Identity endpoint before the token expires, the response returns the same
    // token and its remaining lifespan." [AUTH]
    if (!tok || tok.revoked || now >= tok.expiresAt) {
      const token = `${randomUUID()}:sim`;
      tok = { token, clientId, issuedAt: now, expiresAt: now + this.tokenLifetimeSec * 1000, revoked: false };
      tokens.set(token, tok);
      currentToken.set(clientId, token);
      this.state.counters.tokensIssued += 1;
    }
    // A fresh token reports lifetime-1 (Adobe's sample shows 3599 for a 3600 s token) and the
    // value falls with the clock.
    const expiresIn = Math.max(0, Math.ceil((tok.expiresAt - now) / 1000) - 1);
    return {
      status: 200,
      body: { access_token: tok.token, token_type: 'bearer', expires_in: expiresIn, scope: this.scope },
      headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    };
  }

  /** null if the call may proceed, else the error code (600/601/602). */
  checkToken(entry) {
    const h = entry.headers.authorization;
    let token;
    if (h !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      if (!m) return '600';
      token = m[1];
    } else if (this.acceptQueryToken && entry.query.access_token !== undefined) {
      token = qstr(entry.query, 'access_token');
    } else {
      return '600';
    }
    const tok = this.state.tokens.get(token);
    if (!tok || tok.revoked) return '601';
    if (this.now() >= tok.expiresAt) return '602';
    return null;
  }

  // --- REST and Bulk -------------------------------------------------------------------------

  async api(entry, req, res, parts) {
    const c = this.state.counters;
    const note = (m) => (entry.notes ??= []).push(m);
    if (entry.query.access_token !== undefined || entry.form?.access_token !== undefined) {
      c.deprecatedAccessTokenParam += 1;
      note('deprecated access_token parameter present');
    }
    const tokenError = this.checkToken(entry);
    if (tokenError) return this.sendError(entry, res, tokenError);

    // `POST …?_method=GET` with a form body is Marketo's workaround for long GETs [LEADS][LDB].
    // `_method=DELETE` is accepted too (recorded for leads.json; UNCONFIRMED for lists).
    // The Asset API stopped honouring _method in 2020 [BLOG], so it is ignored there.
    let method = req.method;
    let query = entry.query;
    const override = qstr(entry.query, '_method');
    if (req.method === 'POST' && override !== undefined && !entry.path.startsWith('/rest/asset/')) {
      const m = override.toUpperCase();
      query = { ...entry.query };
      delete query._method;
      if (m === 'GET') {
        const ct = entry.headers['content-type'] ?? '';
        if (entry.rawBody.length > 0 && !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(ct)) {
          return this.sendError(entry, res, '612');
        }
        for (const [k, v] of Object.entries(entry.form ?? {})) {
          for (const one of Array.isArray(v) ? v : [v]) addParam(query, k, one);
        }
        method = 'GET';
      } else if (m === 'DELETE') {
        method = 'DELETE';
      } else {
        return this.sendError(entry, res, '605');
      }
      entry.effectiveMethod = method;
    }

    const found = resolve(method, entry.path);
    if (!found) return this.sendError(entry, res, '610');
    if (found.methodNotAllowed) return this.sendError(entry, res, '605');
    const permission = method === 'GET' ? MarketoSimulator.permissionFor(entry.path) : undefined;
    if (permission && this.missingPermissions.has(permission)) {
      return this.sendError(entry, res, '603', `Access denied: the API user's role lacks ${permission}`);
    }

    const denied = this.admit(entry);
    if (denied) return this.sendError(entry, res, denied);
    entry.counted = true;
    try {
      const fault = this.takeFault([req.method, method], entry.path);
      if (fault) entry.fault = fault.kind;
      const run = () => {
        const requestId = this.nextRequestId();
        const ctx = {
          sim: this,
          state: this.state,
          now: this.now(),
          requestId,
          method,
          path: entry.path,
          params: found.params,
          query,
          headers: entry.headers,
          rawBody: entry.rawBody,
          json: entry.json,
          multipart: parts,
          note,
        };
        try {
          return { requestId, out: found.route.handler(ctx) };
        } catch (e) {
          if (e instanceof ApiError) return { requestId, error: e };
          // Unhandled exception: Marketo answers 611 "System error"; keep the stack for debugging.
          console.error('[marketo-sim] handler error', e);
          entry.internalError = String(e?.stack ?? e);
          c.internalErrors += 1;
          return { requestId, error: new ApiError(611) };
        }
      };
      const finish = (r) => {
        if (r.error) return this.sendError(entry, res, r.error.code, r.error.message, r.requestId);
        if (r.out.raw !== undefined) return this.sendText(entry, res, 200, r.out.raw, r.out.contentType);
        return this.sendJson(entry, res, 200, { requestId: r.requestId, ...r.out });
      };
      if (this.latencyMs) await sleep(this.latencyMs);
      await this.respondWithFault(fault?.kind, entry, res, req, run, finish);
    } finally {
      c.inFlight -= 1;
    }
  }

  /**
   * Concurrency (615), sliding-window rate (606) and daily quota (607), in that order. Refused
   * calls are not counted (UNCONFIRMED whether Marketo counts them). Returns null when admitted.
   */
  admit(entry) {
    const L = this.limits;
    const st = this.state;
    const c = st.counters;
    const now = this.now();
    const other = this.otherApps;
    if (c.inFlight + other.concurrency >= L.concurrency) return '615';
    const w = st.rateWindow;
    while (w.length && w[0] <= now - L.windowMs) w.shift();
    if (w.length + other.callsPer20s >= L.rate) return '606';
    const day = this.quotaReset === 'cst'
      ? new Date(now - 6 * 3600000).toISOString().slice(0, 10)
      : CHICAGO_DAY.format(new Date(now));
    if (c.quotaDay !== day) {
      c.quotaDay = day;
      c.callsToday = 0;
    }
    if (c.callsToday >= L.dailyQuota) return '607';
    w.push(now);
    entry.admittedAt = now;
    c.callsToday += 1;
    c.calls += 1;
    c.inFlight += 1;
    c.peakConcurrency = Math.max(c.peakConcurrency, c.inFlight);
    c.peakRate = Math.max(c.peakRate, w.length);
    return null;
  }

  /** Codes Adobe marks "not counted against your daily quota, or your rate limit". */
  uncount(entry) {
    if (!entry.counted) return;
    entry.counted = false;
    const w = this.state.rateWindow;
    const i = w.lastIndexOf(entry.admittedAt);
    if (i >= 0) w.splice(i, 1);
    this.state.counters.callsToday = Math.max(0, this.state.counters.callsToday - 1);
  }

  /**
   * Produce the response, applying an injected fault if any. `run()` executes the handler and
   * returns its result; `finish(result)` sends a handler result normally.
   * Kinds: {code, message?} HTTP 200 error envelope; {http: N, body?, contentType?}; {html: true}
   * (HTTP 502, or kind.http, with an nginx HTML page); {drop: true} destroy the socket without
   * answering; {slowMs: N} wait N real ms first (combinable with the others); {afterApply: kind}
   * run the handler (the change IS applied) and then answer with `kind` instead.
   */
  async respondWithFault(kind, entry, res, req, run, finish) {
    if (!kind) return finish(run());
    if (kind.slowMs) await sleep(kind.slowMs);
    let k = kind;
    let result;
    if (kind.afterApply) {
      result = run(); // the change is applied; the client will not see this answer
      k = kind.afterApply;
      if (k.slowMs) await sleep(k.slowMs);
    }
    if (k.drop) {
      entry.status = null;
      entry.dropped = true;
      req.socket.destroy();
      return;
    }
    if (k.echo) return this.sendEcho(k, entry, res);
    if (k.html) {
      const status = k.http ?? 502;
      return this.sendText(entry, res, status, nginxPage(status, HTTP_TEXT[status] ?? 'Error'), 'text/html');
    }
    if (k.http) return this.sendText(entry, res, k.http, k.body ?? '', k.contentType ?? 'text/plain');
    if (k.code !== undefined) return this.sendError(entry, res, String(k.code), k.message);
    return finish(result ?? run()); // e.g. only slowMs
  }

  // --- responses -----------------------------------------------------------------------------

  errorMessage(code) {
    if (code === '606') return messageFor(606, this.limits.rate, Math.round(this.limits.windowMs / 1000));
    if (code === '615') return messageFor(615, this.limits.concurrency);
    return messageFor(code);
  }

  sendError(entry, res, code, message, requestId) {
    code = String(code);
    const c = this.state.counters;
    c.errors[code] = (c.errors[code] ?? 0) + 1;
    if (UNCOUNTED_CODES.has(code)) this.uncount(entry);
    const body = {
      requestId: requestId ?? this.nextRequestId(),
      success: false,
      errors: [{ code, message: message ?? this.errorMessage(code) }],
    };
    this.sendJson(entry, res, 200, body);
  }

  sendJson(entry, res, status, obj, headers = {}) {
    const text = JSON.stringify(obj);
    entry.status = status;
    entry.response = JSON.parse(text); // a detached copy
    const c = this.state.counters;
    c.httpStatus[status] = (c.httpStatus[status] ?? 0) + 1;
    res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /**
   * Answers that quote the request back, as misconfigured proxies and servers do:
   * `echo: 'html'` an HTTP 502 error page listing the request headers (Authorization included);
   * `echo: 'body'` an HTTP 200 non-JSON body that starts with the bearer token;
   * `echo: 'message'` a Marketo error envelope (`code`, default 603) whose message quotes the token;
   * `echo: 'form'` an HTTP 401 (or `http`) identity answer whose error_description quotes the form body.
   */
  sendEcho(k, entry, res) {
    const auth = entry.headers.authorization ?? '';
    const token = auth.replace(/^Bearer\s+/i, '');
    if (k.echo === 'body') return this.sendText(entry, res, k.http ?? 200, `${token} rejected by upstream filter`, 'text/plain');
    if (k.echo === 'message') {
      return this.sendError(entry, res, String(k.code ?? '603'), `Access denied for token ${token} (${auth})`);
    }
    if (k.echo === 'form') {
      return this.sendJson(entry, res, k.http ?? 401, {
        error: 'unauthorized',
        error_description: `Bad client credentials in request body: ${entry.body}`,
      });
    }
    const headers = Object.entries(entry.headers).map(([h, v]) => `${h}: ${v}`).join('\n');
    const page = `<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>` +
      `<p>The upstream server did not answer. Your request:</p><pre>${entry.method} ${entry.path}\n${headers}</pre></body></html>`;
    return this.sendText(entry, res, k.http ?? 502, page, 'text/html');
  }

  sendText(entry, res, status, text, contentType) {
    entry.status = status;
    entry.response = text;
    const c = this.state.counters;
    c.httpStatus[status] = (c.httpStatus[status] ?? 0) + 1;
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Gateway-level answers (413/414…) as nginx HTML pages. */
  sendHttp(entry, res, status) {
    this.sendText(entry, res, status, nginxPage(status, HTTP_TEXT[status] ?? 'Error'), 'text/html');
  }
}

function newCounters() {
  return {
    calls: 0, // REST/bulk calls admitted past the limits
    callsToday: 0, // calls counted against the daily quota (asterisk codes un-counted)
    quotaDay: null, // America/Chicago date the callsToday counter belongs to
    identityCalls: 0,
    tokensIssued: 0,
    inFlight: 0,
    peakConcurrency: 0,
    identityInFlight: 0,
    peakIdentityConcurrency: 0,
    peakRate: 0, // most calls seen inside one sliding window
    errors: {}, // response-level error code → times sent (e.g. errors['606'])
    httpStatus: {}, // HTTP status → times sent
    deprecatedAccessTokenParam: 0,
    truncatedCookieFilters: 0,
    internalErrors: 0,
  };
}

/** Read a request body; keeps at most limit+1 bytes but always drains and measures it all. */
function readBody(req, limit) {
  return new Promise((resolveBody) => {
    const chunks = [];
    let kept = 0;
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (kept <= limit) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    const done = () => resolveBody({ buf: Buffer.concat(chunks), size });
    req.on('end', done);
    req.on('error', done);
    req.on('aborted', done);
  });
}

/**
 * Start a simulator. Resolves to
 * { url, port, endpointUrl, identityUrl, clientId, clientSecret, requests, state,
 *   close(), reset(), setClock(fn), inject(fault), ...helpers }.
 */
export async function startSimulator(options = {}) {
  const sim = new MarketoSimulator(options);
  const port = await sim.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    port,
    endpointUrl: `${url}/rest`,
    identityUrl: `${url}/identity`,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    requests: sim.requests,
    state: sim.state,
    faults: sim.faults,
    limits: sim.limits,
    server: sim.server,
    /** Stop the server (open connections are closed). */
    close: () => sim.close(),
    /** Clear the request log (state and counters are kept). */
    reset: () => {
      sim.requests.length = 0;
    },
    /** Replace the clock: a function returning epoch ms (or a fixed number). */
    setClock: (fn) => {
      sim.clock = typeof fn === 'function' ? fn : () => fn;
    },
    /** Inject a fault for the next `times` matching requests; returns the live fault record. */
    inject: (fault) => sim.inject(fault),
    clearFaults: () => {
      sim.faults.length = 0;
    },
    /** Other apps' share of the instance's limits from now on: `{callsPer20s?, concurrency?}`. */
    setOtherApps: (load) => sim.setOtherApps(load),
    /** Add leads / lists / campaigns after start. */
    seed: (data) => sim.seed(data),
    /** Run bulk-job progression up to the current clock (also done on every request). */
    advance: () => sim.advance(),
    setLatency: (ms) => {
      sim.latencyMs = ms;
    },
    /** Make every issued token expired (→ 602) or invalid (→ 601). */
    expireTokens: () => {
      const now = sim.now();
      for (const t of sim.state.tokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
    },
    invalidateTokens: () => {
      for (const t of sim.state.tokens.values()) t.revoked = true;
    },
    /** How many times a response-level error code was sent. */
    errorCount: (code) => sim.state.counters.errors[String(code)] ?? 0,
    resetCounters: () => {
      Object.assign(sim.state.counters, newCounters());
      sim.state.rateWindow.length = 0;
    },
  };
}

// --- standalone ------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const options = {};
  if (opt('--port')) options.port = Number(opt('--port'));
  if (opt('--seed')) options.seed = JSON.parse(readFileSync(opt('--seed'), 'utf8'));
  else {
    options.fields = EXAMPLE_CUSTOM_FIELDS;
    options.seed = {
      leads: [{ email: 'abe@usa.gov', firstName: 'Abraham', lastName: 'Lincoln' }],
      lists: [{ id: 1001, name: 'Simulator List' }],
      campaigns: [{ id: 2001, name: 'Simulator Trigger Campaign', type: 'trigger', isRequestable: true }],
    };
  }
  const sim = await startSimulator(options);
  console.log(
    JSON.stringify(
      { url: sim.url, endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, clientId: sim.clientId, clientSecret: sim.clientSecret },
      null,
      2,
    ),
  );
  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
