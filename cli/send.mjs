// `marketo-connector send`: NDJSON events through one action, one outcome per line out,
// progress on stderr, resumable from a checkpoint.
import { createReadStream, ftruncateSync, openSync, readSync, statSync, writeSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { Connector } from "marketo-connector";
import { UsageError, readPath } from "./config.mjs";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.mjs";
import { fmt, progressReporter } from "./progress.mjs";

const CHECKPOINT_EVERY_MS = 2000;
/** Promises of `process()` not yet settled, at most (non-batched actions wait for Marketo). */
const MAX_OPEN = 2000;

/**
 * @param {object} o
 * @param {object} o.settings       from the settings file and the environment
 * @param {string} o.action         action id
 * @param {string} [o.eventId]      attribute path of the event id; else `line-N`
 * @param {string} [o.outcomes]     outcomes file; else stdout
 * @param {string} [o.checkpoint]   checkpoint file
 * @param {boolean} [o.dryRun]
 * @param {string} [o.input]        NDJSON file, or `-`/undefined for stdin
 * @returns {Promise<number>} the exit status: 0 all delivered or skipped, 1 any failed or uncertain
 */
export async function send(o) {
  if (o.checkpoint && !o.outcomes) {
    throw new UsageError("--checkpoint needs --outcomes FILE: a resumed run cuts the outcomes file back to the checkpoint, which stdout cannot be");
  }
  if (!(o.settings.actions ?? []).some((a) => a?.id === o.action)) {
    throw new UsageError(`--action ${o.action}: no action with that id in the settings (have: ${(o.settings.actions ?? []).map((a) => JSON.stringify(a?.id)).join(", ") || "none"})`);
  }
  const started = Date.now();
  const input = !o.input || o.input === "-" ? process.stdin : openInput(o.input);
  const total = o.input && o.input !== "-" ? await countLines(o.input) : undefined;
  if (o.dryRun) return dryRun(o, input);

  const cp = o.checkpoint ? readCheckpoint(o.checkpoint) : undefined;
  if (cp && cp.action !== o.action) {
    throw new UsageError(`--checkpoint ${o.checkpoint} was written for --action ${cp.action}, not ${o.action}`);
  }
  const inputId = identifyInput(o.input);
  if (cp?.input && (cp.input.name !== inputId.name || cp.input.head !== inputId.head)) {
    // Resuming would skip this input's first lines as if they were the other's: refuse.
    throw new UsageError(`--checkpoint ${o.checkpoint} belongs to another input (${cp.input.name}), not ${inputId.name}: ` +
      "use a new checkpoint path for a new backfill, or delete this one to start over");
  }
  const out = openOutcomes(o.outcomes, cp);

  let connector;
  let timer;
  const host = {
    // No Marketo call leaves before a checkpoint holds it as in flight: a resumed run must know
    // it may have been applied (a trigger sent twice, a duplicate lead). Marketo's rate limit
    // makes this a few writes a second at most.
    async fetch(url, init) {
      if (o.checkpoint && !url.includes("/identity/")) {
        // One macrotask first: outcomes of promises the connector just resolved (their events
        // have left the snapshot) are written by their handlers before the checkpoint is taken.
        await new Promise((resolve) => setImmediate(resolve));
        save();
      }
      return globalThis.fetch(url, init);
    },
    now: Date.now,
    setTimer(atMs) {
      clearTimeout(timer);
      timer = setTimeout(() => settle(connector.wake()), Math.max(0, atMs - Date.now()));
    },
  };
  try {
    connector = cp ? Connector.restore(o.settings, host, cp.snapshot) : new Connector(o.settings, host);
  } catch (e) {
    throw new UsageError(`settings: ${e.message}`);
  }

  // Events the connector holds: those of a checkpoint's snapshot, then each one handed over;
  // a resumed run also counts the outcomes the file kept, for the summary and exit status.
  const statuses = {};
  for (const kept of out.kept) statuses[kept.status] = (statuses[kept.status] ?? 0) + 1;
  let finals = out.kept.length;
  let expected = (cp ? pendingIn(cp.snapshot) : 0) + finals;
  let open = 0;
  let read = cp?.line ?? 0;
  let line = 0;
  const progress = progressReporter({ total });
  const report = () => progress.update({ read, final: finals, statuses, calls: connector.stats().calls });
  let wakeFinished;
  const write = (outcome) => {
    out.write(`${JSON.stringify(outcome)}\n`);
    statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
    finals++;
    if (finals >= expected) wakeFinished?.();
  };
  function settle(promise) {
    open++;
    promise.then((outs) => {
      open--;
      for (const outcome of outs) if (outcome.status !== "queued") write(outcome);
      report();
    }, (e) => {
      open--;
      process.stderr.write(`error: ${e.message}\n`);
    });
  }
  const save = () => {
    if (o.checkpoint) writeCheckpoint(o.checkpoint, { snapshot: connector.snapshot(), line: read, outcomeBytes: out.bytes(), action: o.action, input: inputId });
  };
  const saver = o.checkpoint ? setInterval(save, CHECKPOINT_EVERY_MS) : undefined;
  const onSignal = (signal, status) => () => {
    save();
    process.stderr.write(`\n${signal}: checkpoint written${o.checkpoint ? ` to ${o.checkpoint}` : " (none: no --checkpoint)"}; stopping\n`);
    process.exit(status);
  };
  process.once("SIGINT", onSignal("SIGINT", 130));
  process.once("SIGTERM", onSignal("SIGTERM", 143));
  if (cp) settle(connector.wake()); // the restored connector carries on

  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (line <= read) continue; // handed over before the checkpoint
    read = line;
    if (text.trim() === "") continue;
    let event;
    try {
      event = JSON.parse(text);
    } catch (e) {
      expected++;
      write({ eventId: `line-${line}`, actionId: o.action, status: "failed", code: "INVALID_EVENT", message: `line ${line} is not JSON: ${e.message}` });
      continue;
    }
    const id = eventIdOf(event, o.eventId, line);
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      expected++;
      write({ eventId: id, actionId: o.action, status: "failed", code: "INVALID_EVENT", message: `line ${line} is not a JSON object` });
      continue;
    }
    const badId = badEventId(event, o.eventId, line);
    if (badId) {
      expected++;
      write({ eventId: id, actionId: o.action, status: "failed", code: "INVALID_EVENT", message: badId });
      continue;
    }
    expected++;
    settle(connector.process(o.action, event, id));
    while (open >= MAX_OPEN) await new Promise((r) => setTimeout(r, 5));
    report();
  }
  settle(connector.flush());
  if (finals < expected) await new Promise((r) => { wakeFinished = r; });
  clearTimeout(timer);
  clearInterval(saver);
  save();
  progress.stop();
  out.close();
  const stats = connector.stats();
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`summary: ${finals} events, ${fmt(statuses) || "no outcomes"}; Marketo calls ${stats.calls}, identity calls ${stats.identityCalls}; ${secs} s\n`);
  return (statuses.failed ?? 0) + (statuses.uncertain ?? 0) > 0 ? 1 : 0;
}

function openInput(path) {
  try {
    statSync(path);
  } catch (e) {
    throw new UsageError(`${path}: cannot read the events file (${e.code ?? e.message})`);
  }
  return createReadStream(path);
}

function countLines(path) {
  const size = statSync(path).size;
  if (size > 512 * 1048576) return undefined; // too big to count up front: no time estimate
  return new Promise((resolve) => {
    let n = 0;
    let last = 10;
    createReadStream(path).on("data", (b) => {
      for (const c of b) if (c === 10) n++;
      last = b[b.length - 1];
    }).on("end", () => resolve(n + (last === 10 ? 0 : 1))).on("error", () => resolve(undefined));
  });
}

/** The event's id: the `--event-id` attribute when it is a string or an integer (as
 * `process()` takes them), else `line-N`. */
function eventIdOf(event, path, line) {
  if (!path) return `line-${line}`;
  const v = event !== null && typeof event === "object" ? readPath(event, path) : undefined;
  return typeof v === "string" || Number.isSafeInteger(v) ? String(v) : `line-${line}`;
}

/** Why the `--event-id` attribute cannot be the event's id (present, but neither a string nor an
 * integer), or undefined. An absent attribute is not an error: the id is `line-N`. */
function badEventId(event, path, line) {
  if (!path) return undefined;
  const v = readPath(event, path);
  if (typeof v === "string" && !v.isWellFormed()) {
    // The connector refuses it too (INVALID_EVENT_ID): a lone surrogate cannot be kept as it is.
    return `line ${line}: --event-id ${path} holds half of a character (a lone UTF-16 surrogate); an event id must be whole text`;
  }
  if (v === undefined || v === null || typeof v === "string" || Number.isSafeInteger(v)) return undefined;
  if (Number.isInteger(v)) {
    return `line ${line}: --event-id ${path} is an integer past 2^53 (read as ${v}: JSON.parse rounds it); give it as a string`;
  }
  const what = Array.isArray(v) ? "an array" : typeof v === "number" ? `the number ${v}`
    : typeof v === "object" ? "an object" : `a ${typeof v}`;
  return `line ${line}: --event-id ${path} is ${what}; an event id is a string or an integer`;
}

/** Events a snapshot holds without an outcome returned (pending, or finished and unreported). */
function pendingIn(snapshot) {
  const s = JSON.parse(snapshot);
  return (s.events?.length ?? 0) + (s.finished?.length ?? 0);
}

/** The outcomes sink; a resumed run cuts the file back to what the checkpoint counted. */
function openOutcomes(path, cp) {
  if (!path) {
    let bytes = 0;
    return {
      kept: [],
      write: (s) => { bytes += Buffer.byteLength(s); process.stdout.write(s); },
      bytes: () => bytes,
      close() {},
    };
  }
  let fd;
  try {
    fd = openSync(path, cp ? "r+" : "w");
  } catch (e) {
    if (cp && e.code === "ENOENT") fd = openSync(path, "w");
    else throw new UsageError(`--outcomes ${path}: cannot write it (${e.code ?? e.message})`);
  }
  let bytes = cp ? Math.min(cp.outcomeBytes ?? 0, statSync(path).size) : 0;
  ftruncateSync(fd, bytes);
  const kept = [];
  if (bytes > 0) {
    const buf = Buffer.alloc(bytes);
    readSync(fd, buf, 0, bytes, 0);
    for (const line of buf.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      try {
        kept.push(JSON.parse(line));
      } catch {
        throw new UsageError(`--outcomes ${path}: not an outcomes file this checkpoint wrote (a line is not JSON)`);
      }
    }
  }
  return {
    kept,
    write(s) {
      const b = Buffer.from(s);
      writeSync(fd, b, 0, b.length, bytes);
      bytes += b.length;
    },
    bytes: () => bytes,
    close: () => closeSync(fd),
  };
}

async function dryRun(o, input) {
  const connector = new Connector(o.settings, {
    fetch: () => Promise.reject(new Error("--dry-run sends nothing")),
    now: Date.now,
    setTimer() {},
  });
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === "") continue;
    let event;
    try {
      event = JSON.parse(text);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ line, eventId: `line-${line}`, error: { code: "INVALID_EVENT", message: `not JSON: ${e.message}` } })}\n`);
      continue;
    }
    const eventId = eventIdOf(event, o.eventId, line);
    // The line fails as `send` would fail it: an --event-id attribute that cannot be an id.
    const badId = event !== null && typeof event === "object" && !Array.isArray(event) ? badEventId(event, o.eventId, line) : undefined;
    if (badId) {
      process.stdout.write(`${JSON.stringify({ line, eventId, error: { code: "INVALID_EVENT", message: badId } })}\n`);
      continue;
    }
    try {
      process.stdout.write(`${JSON.stringify({ line, eventId, requests: connector.preview(o.action, event) })}\n`);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ line, eventId, error: { code: e.code, message: e.message } })}\n`);
    }
  }
  return 0;
}

/** Which input a checkpoint belongs to: the file's absolute path and a hash of its first 64 KiB
 * (stdin: only its name; it cannot be checked). */
function identifyInput(input) {
  if (!input || input === "-") return { name: "stdin", head: "" };
  const fd = openSync(input, "r");
  try {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { name: resolve(input), head: createHash("sha256").update(buf.subarray(0, n)).digest("hex") };
  } finally {
    closeSync(fd);
  }
}
