// The edge host: a Cloudflare Worker that takes events over HTTP (a Tealium-style webhook) and
// routes them to one Durable Object per Marketo instance, which keeps the connector, stores its
// snapshot before acknowledging anything and uses its alarm as the connector's timer.
//
// The Worker (stateless, any isolate, any location) authenticates the caller, reads the body
// and checks it; nothing reaches the Durable Object from a request it refuses. The Durable
// Object (one per Marketo instance, keyed by the REST endpoint's host) is the only place that
// calls that instance: its rate limit, daily quota and token are shared by every caller.
//
// Configuration (README "In a Cloudflare Worker"):
//   secrets  MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, MARKETO_ENDPOINT_URL, MARKETO_IDENTITY_URL,
//            WEBHOOK_SECRET (callers send it as `Authorization: Bearer …`)
//   vars     MARKETO_CONFIG {actions, limits?}, and optionally EVENT_ID_PATH (a dot path into each
//            event), OUTCOME_RETENTION_DAYS (default 7), OUTCOME_CALLBACK_URL
//   test     TEST_HOOKS = "enabled" adds POST /test/clock and POST /test/evict (never deploy it)
import { DurableObject } from "cloudflare:workers";
import { Connector } from "marketo-connector";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Outcomes one `GET /outcomes` returns at most (`limit` may ask for fewer). */
const MAX_PAGE = 1000;
/** A storage `put()` takes at most 128 keys. */
const MAX_KEYS_PER_PUT = 128;
/**
 * Characters per stored piece. Storage serialises a string at up to 2 bytes per character, so
 * these stay within the per-value limit: 2 MB on SQLite-backed objects (the default, see
 * wrangler.jsonc), 128 KiB on key-value-backed ones.
 */
const PIECE_CHARS = { sqlite: 1_000_000, kv: 60_000 };

// ---- configuration --------------------------------------------------------------------------

function json(value) {
  return typeof value === "string" ? JSON.parse(value) : value ?? {};
}

/** The connector's settings: the four from secrets, actions and limits from MARKETO_CONFIG. */
export function settingsFrom(env) {
  const { actions = [], limits } = json(env.MARKETO_CONFIG);
  return {
    clientId: env.MARKETO_CLIENT_ID,
    clientSecret: env.MARKETO_CLIENT_SECRET,
    endpointUrl: env.MARKETO_ENDPOINT_URL,
    identityUrl: env.MARKETO_IDENTITY_URL,
    ...(limits ? { limits } : {}),
    actions,
  };
}

/** The Durable Object of the Marketo instance behind MARKETO_ENDPOINT_URL (its host). */
function instanceOf(env) {
  const host = new URL(env.MARKETO_ENDPOINT_URL).host;
  return env.MARKETO.get(env.MARKETO.idFromName(host));
}

// ---- the Worker: authentication, parsing, routing -------------------------------------------

const answer = (status, body) => Response.json(body, { status });

/** Constant-time comparison of the caller's secret (hashed first, so lengths leak nothing). */
async function authorized(request, env) {
  const secret = env.WEBHOOK_SECRET;
  if (typeof secret !== "string" || secret === "") return false;
  const header = request.headers.get("authorization") ?? "";
  const given = header.startsWith("Bearer ") ? header.slice(7) : "";
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(given)),
    crypto.subtle.digest("SHA-256", enc.encode(secret)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b) && given !== "";
}

/** The value at a dot path (`user.id`), or undefined. */
function at(event, path) {
  let v = event;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = v[key];
  }
  return v;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The request's events: one JSON object, a JSON array of objects, or NDJSON (one object a line,
 * blank lines skipped). Throws a message naming the line (or array element) that is wrong.
 */
export function parseEvents(text) {
  if (text.trim() === "") throw new Error("the body is empty: send a JSON event, a JSON array or NDJSON");
  let whole;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (Array.isArray(whole)) {
    const bad = whole.findIndex((e) => !isObject(e));
    if (bad >= 0) throw new Error(`element ${bad} of the array is not a JSON object`);
    if (whole.length === 0) throw new Error("the array holds no event");
    return whole;
  }
  if (isObject(whole)) return [whole];
  const events = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch (e) {
      throw new Error(`line ${i + 1} is not JSON: ${e.message}`);
    }
    if (!isObject(event)) throw new Error(`line ${i + 1} is not a JSON object`);
    events.push(event);
  }
  return events;
}

/** Each event with its id: from EVENT_ID_PATH, else the X-Event-Id header (one event), else generated. */
function withIds(events, request, env) {
  const header = request.headers.get("x-event-id");
  return events.map((event) => {
    let id = env.EVENT_ID_PATH ? at(event, env.EVENT_ID_PATH) : undefined;
    if ((typeof id !== "string" || id === "") && typeof id !== "number") id = undefined;
    if (id === undefined && header && events.length === 1) id = header;
    return { id: id === undefined ? crypto.randomUUID() : String(id), event };
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (!(await authorized(request, env))) return answer(401, { error: "missing or wrong Authorization: Bearer <WEBHOOK_SECRET>" });
    let settings;
    try {
      settings = settingsFrom(env);
    } catch (e) {
      return answer(500, { error: `MARKETO_CONFIG is not JSON: ${e.message}` });
    }
    const instance = instanceOf(env);

    const events = url.pathname.match(/^\/events\/([^/]+)$/);
    if (events && request.method === "POST") {
      const actionId = decodeURIComponent(events[1]);
      if (!settings.actions.some((a) => a.id === actionId)) return answer(404, { error: `no action "${actionId}" in MARKETO_CONFIG` });
      let parsed;
      try {
        parsed = parseEvents(await request.text());
      } catch (e) {
        return answer(400, { error: `${e.message}; nothing from this request was queued` });
      }
      return answer(202, await instance.accept(actionId, withIds(parsed, request, env)));
    }
    if (route === "GET /outcomes") {
      const after = url.searchParams.get("after") ?? "0";
      const limit = Number(url.searchParams.get("limit") ?? MAX_PAGE);
      if (!/^\d+$/.test(after) || !Number.isInteger(limit) || limit < 1) return answer(400, { error: "after must be a cursor (an integer), limit a positive integer" });
      return answer(200, await instance.outcomes(Number(after), Math.min(limit, MAX_PAGE)));
    }
    if (route === "POST /flush") return answer(200, await instance.flush());
    if (route === "GET /health") return answer(200, await instance.health());
    // GET /check (issue 15): the configuration checked against the instance's schema, lists,
    // campaigns and tokens, once the connector has `check()`.
    if (route === "GET /check") {
      const checked = await instance.check();
      return answer(checked.unavailable ? 501 : 200, checked.unavailable ? { error: checked.unavailable } : checked);
    }
    if (env.TEST_HOOKS === "enabled") {
      if (route === "POST /test/clock") return answer(200, await instance.testClock((await request.json()).offsetMs));
      if (route === "POST /test/evict") return answer(200, await instance.testEvict().then(() => ({}), () => ({ evicted: true })));
    }
    return answer(404, { error: "routes: POST /events/{actionId}, GET /outcomes?after=, POST /flush, GET /health, GET /check" });
  },
};

// ---- the Durable Object: the connector, its snapshot, its alarm -----------------------------

/**
 * One per Marketo instance. Storage layout (all keys in this object's storage):
 *   meta             {pieces, nextSeq, id, generation, storedAt, chars}
 *   snapshot/<i>     the i-th piece of connector.snapshot()
 *   out/<lastSeq>    a page of final outcomes [{seq, storedAt, ...outcome}], keyed by its last seq
 *   clockOffsetMs    the test-only clock offset
 * meta, the pieces and the outcome pages of one commit are written by one put(), so a snapshot
 * and the outcomes its promise returned are stored together or not at all.
 */
export class MarketoInstance extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.settings = settingsFrom(env);
    this.retentionMs = Number(env.OUTCOME_RETENTION_DAYS ?? 7) * DAY_MS;
    this.callbackUrl = env.OUTCOME_CALLBACK_URL || null;
    this.offsetMs = 0;
    this.pieceChars = PIECE_CHARS[sqliteBacked(ctx) ? "sqlite" : "kv"];
    this.host = {
      // Every Marketo call goes out only once a snapshot showing it in flight is stored: an
      // object that dies meanwhile restores knowing the call may have been made, so a campaign
      // trigger, a merge or a createDuplicate upsert is reported `uncertain`, never sent twice.
      // Calls starting together share one stored snapshot.
      fetch: async (url, init) => {
        await this.#commitSoon([]);
        return fetch(url, init);
      },
      now: () => Date.now() + this.offsetMs,
      // The alarm is the timer: one per object, and setAlarm replaces it (the latest call wins).
      setTimer: (atMs) => {
        this.timerAt = atMs;
        void this.ctx.storage.setAlarm(atMs - this.offsetMs);
      },
      log: env.CONNECTOR_LOG === "enabled" ? (entry) => console.log(JSON.stringify(entry)) : undefined,
    };
    ctx.blockConcurrencyWhile(() => this.#start());
  }

  /** Restores from storage (or starts empty) and stores the restored snapshot before anything is sent. */
  async #start() {
    const [meta, offset] = await Promise.all([this.ctx.storage.get("meta"), this.ctx.storage.get("clockOffsetMs")]);
    this.offsetMs = offset ?? 0;
    this.nextSeq = meta?.nextSeq ?? 1;
    this.storedPieces = meta?.pieces ?? 0;
    this.lastStore = null;
    this.commits = 0;
    this.unstored = [];
    this.soon = null;
    let saved = null;
    if (meta?.pieces) {
      const keys = Array.from({ length: meta.pieces }, (_, i) => `snapshot/${i}`);
      const got = new Map();
      for (let i = 0; i < keys.length; i += MAX_KEYS_PER_PUT) {
        for (const [k, v] of await this.ctx.storage.get(keys.slice(i, i + MAX_KEYS_PER_PUT))) got.set(k, v);
      }
      saved = keys.map((k) => got.get(k) ?? "").join("");
    }
    // Connector.restore sends nothing until the host's next call (it asks for one with
    // setTimer(now): this object's alarm). The restored connector's snapshot, with its new
    // generation, is stored first.
    this.connector = saved ? Connector.restore(this.settings, this.host, saved) : new Connector(this.settings, this.host);
    this.restored = Boolean(saved);
    await this.#commit([]);
  }

  /**
   * Stores the connector's snapshot together with the final outcomes among `outcomes`, in one
   * atomic put; the snapshot is taken now, after the promise that returned them resolved (SPEC
   * §7: an event stays in the snapshot until a resolved promise returned its outcome, so a
   * snapshot taken before would still hold it, and one taken with them drops it). Returns the put.
   */
  #commit(outcomes) {
    const finals = outcomes.filter((o) => o.status !== "queued");
    const snapshot = this.connector.snapshot();
    // Read once per instance (it parses the whole snapshot): a restore is the only thing that
    // changes the generation, and this instance was made by one.
    this.identity ??= Connector.snapshotInfo(snapshot);
    const { id, generation } = this.identity;
    const storedAt = this.host.now();
    const entries = {};
    const pieces = Math.max(1, Math.ceil(snapshot.length / this.pieceChars));
    for (let i = 0; i < pieces; i++) entries[`snapshot/${i}`] = snapshot.slice(i * this.pieceChars, (i + 1) * this.pieceChars);
    const logged = [];
    let page = [];
    let pageChars = 0;
    const closePage = () => {
      if (page.length) entries[`out/${seqKey(page[page.length - 1].seq)}`] = page;
      page = [];
      pageChars = 0;
    };
    for (const o of finals) {
      const record = { seq: this.nextSeq++, storedAt, ...o };
      const size = JSON.stringify(record).length;
      if (pageChars + size > this.pieceChars) closePage();
      page.push(record);
      pageChars += size;
      logged.push(record);
    }
    closePage();
    entries.meta = { pieces, nextSeq: this.nextSeq, id, generation, storedAt, chars: snapshot.length };
    // One put when it fits (128 keys); otherwise several puts in this same turn, which the
    // runtime coalesces into one atomic write (no await between them).
    const names = Object.keys(entries);
    const puts = [];
    for (let i = 0; i < names.length; i += MAX_KEYS_PER_PUT) {
      puts.push(this.ctx.storage.put(Object.fromEntries(names.slice(i, i + MAX_KEYS_PER_PUT).map((k) => [k, entries[k]]))));
    }
    if (this.storedPieces > pieces) {
      this.ctx.storage.delete(Array.from({ length: this.storedPieces - pieces }, (_, i) => `snapshot/${pieces + i}`).slice(0, MAX_KEYS_PER_PUT));
    }
    this.storedPieces = pieces;
    const started = Date.now();
    return Promise.all(puts).then(() => {
      this.commits++;
      this.lastStore = { chars: snapshot.length, pieces, keys: names.length, ms: Date.now() - started, generation };
      if (logged.length && this.callbackUrl) this.#callback(logged);
    });
  }

  /** Commits what a connector promise returns, as soon as it resolves (same turn). */
  #track(promise) {
    return promise.then((outcomes) => this.#commit(outcomes).then(() => outcomes));
  }

  /**
   * Group commit: stores `outcomes` with a snapshot taken on the next turn of the event loop,
   * shared by every request, promise and call that asked meanwhile. snapshot() costs time in
   * proportion to what is pending (about 0.7 s for a 13 MB bulk queue), so requests arriving
   * together share one instead of paying one each.
   */
  #commitSoon(outcomes) {
    this.unstored.push(...outcomes);
    if (!this.soon) {
      this.soon = new Promise((resolve, reject) => {
        setTimeout(() => {
          const batch = this.unstored;
          this.unstored = [];
          this.soon = null;
          try {
            this.#commit(batch).then(resolve, reject);
          } catch (e) {
            reject(e);
          }
        }, 0);
      });
    }
    return this.soon;
  }

  /** POST /events/{actionId}: every event is in the stored snapshot before this answers. */
  async accept(actionId, items) {
    const known = new Map();
    const resolved = [];
    for (const { id, event } of items) {
      this.connector.process(actionId, event, id).then((outcomes) => {
        for (const o of outcomes) if (o.eventId === id) known.set(id, o);
        resolved.push(this.#commitSoon(outcomes));
      }, (e) => console.log(JSON.stringify({ type: "process rejected", code: e.code, message: e.message })));
    }
    // The snapshot holding this request's events (and those of requests arriving with it).
    await this.#commitSoon([]);
    // Promises that resolved meanwhile (a batched event answers `queued` at once) have their
    // outcomes stored before the answer; the others are not waited for (a call in flight, a
    // quota pause): their final outcomes reach GET /outcomes.
    await Promise.all(resolved);
    return {
      accepted: items.length,
      outcomes: items.map(({ id }) => known.get(id) ?? { eventId: id, actionId, status: "queued" }),
    };
  }

  /** POST /flush: sends every queue now; answers with the outcomes once stored. */
  async flush() {
    return { outcomes: await this.#track(this.connector.flush()) };
  }

  /** The alarm is the connector's timer. */
  async alarm() {
    await this.#track(this.connector.wake());
    await this.#prune(0);
  }

  /** GET /outcomes?after=: final outcomes in order after the cursor; older ones are dropped. */
  async outcomes(after, limit) {
    await this.#prune(after);
    const pageLimit = Math.min(limit, 100);
    const pages = await this.ctx.storage.list({ prefix: "out/", start: `out/${seqKey(after + 1)}`, limit: pageLimit });
    const outcomes = [];
    let more = pages.size >= pageLimit;
    for (const page of pages.values()) {
      for (const record of page) {
        if (record.seq <= after) continue;
        if (outcomes.length >= limit) more = true;
        else outcomes.push(record);
      }
    }
    const cursor = outcomes.length ? outcomes[outcomes.length - 1].seq : after;
    return { outcomes, cursor, more };
  }

  /** Drops outcome pages a cursor has passed (every seq ≤ `after`) or older than the retention. */
  async #prune(after) {
    const old = this.host.now() - this.retentionMs;
    const drop = [];
    const pages = await this.ctx.storage.list({ prefix: "out/", limit: MAX_KEYS_PER_PUT });
    for (const [key, page] of pages) {
      const last = page[page.length - 1];
      if (last.seq <= after || last.storedAt < old) drop.push(key);
      else break;
    }
    if (drop.length) await this.ctx.storage.delete(drop);
  }

  /** POSTs newly stored final outcomes to OUTCOME_CALLBACK_URL; best effort (GET /outcomes has them too). */
  #callback(outcomes) {
    const headers = { "content-type": "application/json", authorization: `Bearer ${this.env.WEBHOOK_SECRET}` };
    const cursor = outcomes[outcomes.length - 1].seq;
    fetch(this.callbackUrl, { method: "POST", headers, body: JSON.stringify({ outcomes, cursor }) }).then(
      (r) => r.body?.cancel(),
      (e) => console.log(JSON.stringify({ type: "callback failed", message: String(e) })),
    );
  }

  /** GET /health: the connector's stats and what is stored. */
  async health() {
    return {
      stats: this.connector.stats(),
      storage: { ...this.lastStore, commits: this.commits, storedPieces: this.storedPieces, nextSeq: this.nextSeq, restored: this.restored },
    };
  }

  /** GET /check (issue 15): `connector.check()` once the package has it. */
  async check() {
    if (typeof this.connector.check !== "function") return { unavailable: "this version of marketo-connector has no check()" };
    return this.connector.check();
  }

  /**
   * Test hook: moves this object's clock (and so the connector's) to `offsetMs` ahead of real
   * time and re-arms the alarm for the time the connector last asked for: what is due then is
   * done by alarm(), as it would be after that much real time.
   */
  async testClock(offsetMs) {
    this.offsetMs = offsetMs;
    await this.ctx.storage.put("clockOffsetMs", offsetMs);
    if (this.timerAt !== undefined) await this.ctx.storage.setAlarm(this.timerAt - offsetMs);
    return { offsetMs, alarmAt: this.timerAt ?? null };
  }

  /** Test hook: ends this instance as an eviction would; the next request makes a new one. */
  async testEvict() {
    this.ctx.abort("evicted by the test");
  }
}

/** Whether this object is SQLite-backed (ctx.storage.sql exists only there). */
function sqliteBacked(ctx) {
  try {
    return typeof ctx.storage.sql?.exec === "function" && ctx.storage.sql.databaseSize >= 0;
  } catch {
    return false;
  }
}

const seqKey = (seq) => String(seq).padStart(16, "0");

