// The command-line tool (pkg/bin/marketo-connector.mjs, built by scripts/build.sh) against the
// simulator over loopback, run as a user runs it: a child process, stdout not a terminal.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSimulator } from "../simulator/marketo-sim.mjs";

const BIN = fileURLToPath(new URL("../../pkg/bin/marketo-connector.mjs", import.meta.url));
const LIST = 1001;
let dir;
before(() => { dir = mkdtempSync(join(tmpdir(), "marketo-cli-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the tool; resolves with {status, stdout, stderr}. `env` adds to a clean environment. */
function run(args, { env = {}, input, onSpawn } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, ...env }, stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    onSpawn?.(child);
  });
}

function settingsFile(sim, actions, name = "settings.json", withSecrets = true) {
  const path = join(dir, name);
  const s = { endpointUrl: sim.endpointUrl, identityUrl: sim.identityUrl, limits: { callsPer20s: 100, concurrency: 5 }, actions };
  if (withSecrets) Object.assign(s, { clientId: sim.clientId, clientSecret: sim.clientSecret });
  writeFileSync(path, JSON.stringify(s));
  return path;
}

function eventsFile(name, lines) {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return path;
}

const upsertBatched = (strategy = "createOrUpdate") => ({
  id: "upsert", type: "createOrUpdateLeadBatched", updateStrategy: strategy,
  leadData: [{ field: "email", source: { attribute: "user.email" } }, { field: "firstName", source: { attribute: "user.name" } }],
});
const readOutcomes = (path) => readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

test("send: 10,000 events through a batched action — outcomes file, summary, exit 0; credentials from the environment", async (t) => {
  const sim = await startSimulator({ seed: { lists: [{ id: LIST, name: "L" }] } });
  t.after(() => sim.close());
  const config = settingsFile(sim, [upsertBatched()], "env-settings.json", false);
  const events = eventsFile("ten-thousand.ndjson", Array.from({ length: 10_000 }, (_, i) => ({ user: { id: `u${i}`, email: `u${i}@example.com`, name: `U${i}` } })));
  const outcomes = join(dir, "out.ndjson");
  const r = await run(["send", "--config", config, "--action", "upsert", "--event-id", "user.id", "--outcomes", outcomes, events], {
    env: { MARKETO_CLIENT_ID: sim.clientId, MARKETO_CLIENT_SECRET: sim.clientSecret },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "", "nothing but outcomes goes to stdout, and they went to the file");
  const outs = readOutcomes(outcomes);
  assert.equal(outs.length, 10_000);
  assert.equal(new Set(outs.map((o) => o.eventId)).size, 10_000, "one outcome per event");
  assert.ok(outs.every((o) => o.status === "delivered" && o.actionId === "upsert"));
  assert.equal(outs[0].eventId.startsWith("u"), true, "ids from --event-id");
  const syncs = sim.requests.filter((q) => q.path === "/rest/v1/leads.json" && q.method === "POST");
  assert.equal(syncs.length, 34, "300 a call");
  // 34 Sync Leads calls and the lead schema's one read.
  assert.match(r.stderr, /summary: 10000 events, delivered 10000; Marketo calls 35, identity calls 1; [\d.]+ s/);
  assert.match(r.stderr, /progress: read \d+/, "plain progress lines when stderr is not a terminal");
  assert.ok(!r.stderr.includes(sim.clientSecret));
});

test("send: a malformed line fails naming its line number and the run goes on; a failed event means exit 1", async (t) => {
  const sim = await startSimulator({});
  t.after(() => sim.close());
  const config = settingsFile(sim, [upsertBatched()]);
  const events = eventsFile("mixed.ndjson", [
    { user: { email: "a@example.com" } },
    "",
    "{not json",
    "[1, 2]",
    { user: { name: "no email" } },
    { user: { email: "b@example.com" } },
  ]);
  const r = await run(["send", "--config", config, "--action", "upsert", events]);
  assert.equal(r.status, 1, r.stderr);
  const outs = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const byId = Object.fromEntries(outs.map((o) => [o.eventId, o]));
  assert.equal(outs.length, 5, "blank lines are skipped");
  assert.equal(byId["line-1"].status, "delivered");
  assert.equal(byId["line-3"].status, "failed");
  assert.equal(byId["line-3"].code, "INVALID_EVENT");
  assert.match(byId["line-3"].message, /^line 3 is not JSON/);
  assert.match(byId["line-4"].message, /^line 4 is not a JSON object/);
  assert.equal(byId["line-5"].code, "MISSING_ATTRIBUTE");
  assert.equal(byId["line-6"].status, "delivered");
  assert.match(r.stderr, /summary: 5 events, (?=.*delivered 2)(?=.*failed 3)/);

  // --event-id takes strings and integers, as process() does; another value fails its line.
  const ids = eventsFile("ids.ndjson", [
    { user: { id: "u1", email: "c@example.com" } },
    { user: { id: 42, email: "d@example.com" } },
    { user: { id: 2.5, email: "e@example.com" } },
    { user: { id: { x: 1 }, email: "f@example.com" } },
    { user: { email: "g@example.com" } },
  ]);
  const r2 = await run(["send", "--config", config, "--action", "upsert", "--event-id", "user.id", ids]);
  assert.equal(r2.status, 1, r2.stderr);
  const outs2 = Object.fromEntries(r2.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).map((o) => [o.eventId, o]));
  assert.deepEqual(Object.keys(outs2).sort(), ["42", "line-3", "line-4", "line-5", "u1"]);
  assert.equal(outs2.u1.status, "delivered");
  assert.equal(outs2["42"].status, "delivered");
  assert.equal(outs2["line-5"].status, "delivered", "an absent attribute: the line number is the id");
  assert.match(outs2["line-3"].message, /^line 3: --event-id user\.id is the number 2\.5; an event id is a string or an integer/);
  assert.match(outs2["line-4"].message, /^line 4: --event-id user\.id is an object/);
});

test("send: usage and configuration errors exit 2 naming the option or setting", async (t) => {
  const sim = await startSimulator({});
  t.after(() => sim.close());
  const config = settingsFile(sim, [upsertBatched()]);
  let r = await run(["send", "--config", config, "--acton", "upsert"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--acton/);
  r = await run(["send", "--config", config]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--action ID is required/);
  r = await run(["send", "--config", config, "--action", "nope"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--action nope: no action with that id/);
  r = await run(["send", "--config", settingsFile(sim, [upsertBatched()], "nosecret.json", false), "--action", "upsert"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /setting clientId is missing: .* or set MARKETO_CLIENT_ID/);
  r = await run(["send", "--config", settingsFile(sim, [{ ...upsertBatched(), updateStrategy: "createOrUpdat" }], "typo.json"), "--action", "upsert"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /updateStrategy/);
  r = await run(["send", "--config", config, "--action", "upsert", "--checkpoint", join(dir, "cp.json")]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--checkpoint needs --outcomes FILE/);
  assert.equal(sim.requests.length, 0, "nothing sent");
});

test("send --dry-run prints each event's preview and sends nothing", async (t) => {
  const sim = await startSimulator({});
  t.after(() => sim.close());
  const config = settingsFile(sim, [upsertBatched()]);
  const events = eventsFile("dry.ndjson", [{ user: { email: "d@example.com", name: "D" } }, { user: {} }]);
  const r = await run(["send", "--config", settingsFile(sim, [upsertBatched()], "dry-nocreds.json", false), "--action", "upsert", "--dry-run", events]);
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(first.line, 1);
  assert.equal(first.requests[0].method, "POST");
  assert.equal(first.requests[0].url, `${sim.endpointUrl}/v1/leads.json`, "no credentials needed for a dry run");
  assert.deepEqual(JSON.parse(first.requests[0].body).input, [{ email: "d@example.com", firstName: "D" }]);
  assert.equal(second.error.code, "MISSING_ATTRIBUTE");
  assert.equal(sim.requests.length, 0, "no network, no token");
  // An --event-id attribute that cannot be an id fails the line, as `send` fails it.
  const ids = eventsFile("dry-ids.ndjson", [{ user: { email: "e@example.com", name: "E", id: 1.5 } }, { user: { email: "f@example.com", name: "F", id: "f" } }]);
  const byId = await run(["send", "--config", config, "--action", "upsert", "--dry-run", "--event-id", "user.id", ids]);
  const [bad, good] = byId.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual([bad.error?.code, bad.requests], ["INVALID_EVENT", undefined], JSON.stringify(bad));
  assert.equal(good.eventId, "f");
  assert.ok(good.requests.length > 0);
});

test("send --checkpoint: killed with SIGKILL halfway and resumed, each event once, no lead created twice", async (t) => {
  const sim = await startSimulator({ latencyMs: 400 });
  t.after(() => sim.close());
  // createDuplicate is not idempotent: a call in flight at the kill ends `uncertain`, never
  // sent again, so the simulator holding two leads for one email would show a repeat.
  // The action sends one batch at a time. After the eighth, every Sync Leads call is held 20 s,
  // and the kill comes once one is held: mid-run however late a loaded machine runs the poll
  // below (with 400 ms calls alone, the whole run once ended between two polls).
  sim.inject({ path: "/rest/v1/leads.json", method: "POST", slowMs: 0, times: 8 });
  const held = sim.inject({ path: "/rest/v1/leads.json", method: "POST", slowMs: 20_000, times: 1_000 });
  const config = settingsFile(sim, [{ ...upsertBatched("createDuplicate") }]);
  const n = 9_000;
  const events = eventsFile("kill.ndjson", Array.from({ length: n }, (_, i) => ({ user: { id: `k${i}`, email: `k${i}@example.com` } })));
  const outcomes = join(dir, "kill-out.ndjson");
  const checkpoint = join(dir, "kill.checkpoint");
  const args = ["send", "--config", config, "--action", "upsert", "--event-id", "user.id", "--outcomes", outcomes, "--checkpoint", checkpoint, events];
  const first = await run(args, {
    onSpawn: (child) => {
      const poll = setInterval(() => {
        if (existsSync(checkpoint) && held.hits > 0) {
          clearInterval(poll);
          child.kill("SIGKILL");
        }
      }, 20);
    },
  });
  assert.equal(first.signal, "SIGKILL", `killed halfway (exit ${first.status}): ${first.stderr}`);
  const before = readOutcomes(outcomes).length;
  assert.ok(before < n, `killed before the end (${before} outcomes)`);

  sim.clearFaults();
  const second = await run(args);
  const outs = readOutcomes(outcomes);
  const anyBad = outs.some((o) => o.status === "failed" || o.status === "uncertain");
  assert.equal(second.status, anyBad ? 1 : 0, `the exit status counts the outcomes kept from the first run: ${second.stderr}`);
  assert.match(second.stderr, new RegExp(`summary: ${n} events`), "the summary counts both runs");
  const ids = outs.map((o) => o.eventId);
  assert.equal(new Set(ids).size, ids.length, "no event reported twice");
  assert.equal(ids.length, n, "no event skipped");
  const uncertain = outs.filter((o) => o.status === "uncertain");
  assert.ok(uncertain.length <= 300, `at most the batch in flight at the kill is uncertain (${uncertain.length})`);
  assert.ok(outs.every((o) => o.status === "delivered" || o.status === "uncertain"));
  const perEmail = new Map();
  for (const lead of sim.state.leads.values()) perEmail.set(lead.email, (perEmail.get(lead.email) ?? 0) + 1);
  assert.ok([...perEmail.values()].every((k) => k === 1), "no lead created twice");
  const delivered = outs.filter((o) => o.status === "delivered").length;
  assert.ok(perEmail.size >= delivered, "every delivered event made its lead");
});

test("send --checkpoint: a non-batched action killed mid-run loses no outcome and repeats none", async (t) => {
  const n = 60;
  const sim = await startSimulator({
    latencyMs: 5,
    seed: { leads: Array.from({ length: n }, (_, i) => ({ id: 7000 + i, email: `s${i}@example.com` })), lists: [{ id: LIST, name: "L" }] },
  });
  t.after(() => sim.close());
  // One list call per event (Marketo's own timeout for it is 30 s: what a resume may wait for
  // the calls the killed run left in flight).
  const config = settingsFile(sim, [{ id: "add", type: "addLeadToList", targetStaticList: LIST, targetLeadId: { attribute: "user.lead" } }], "single.json");
  const events = eventsFile("single.ndjson", Array.from({ length: n }, (_, i) => ({ user: { id: `s${i}`, lead: 7000 + i } })));
  for (const killAfter of [20]) {
    const outcomes = join(dir, `single-${killAfter}.ndjson`);
    const checkpoint = join(dir, `single-${killAfter}.checkpoint`);
    const args = ["send", "--config", config, "--action", "add", "--event-id", "user.id", "--outcomes", outcomes, "--checkpoint", checkpoint, events];
    const first = await run(args, {
      onSpawn: (child) => {
        const poll = setInterval(() => {
          const lines = existsSync(outcomes) ? readFileSync(outcomes, "utf8").split("\n").length - 1 : 0;
          if (lines >= killAfter) {
            clearInterval(poll);
            child.kill("SIGKILL");
          }
        }, 2);
      },
    });
    assert.equal(first.signal, "SIGKILL", first.stderr);
    const second = await run(args);
    assert.equal(second.status, 0, second.stderr);
    const ids = readOutcomes(outcomes).map((o) => o.eventId).sort();
    assert.deepEqual(ids, Array.from({ length: n }, (_, i) => `s${i}`).sort(), `killed after ${killAfter}: each event once`);
    assert.equal(sim.state.lists.get(LIST).members.size, n, "every lead added");
    const again = await run(args);
    assert.equal(again.status, 0, "a finished checkpoint: nothing to send, the kept outcomes decide");
    assert.match(again.stderr, new RegExp(`summary: ${n} events, delivered ${n}; Marketo calls 0`));
    // The same checkpoint path reused for the next backfill is refused, not read as done.
    const next = eventsFile("single-next.ndjson", [{ user: { id: "next", lead: 7000 } }]);
    const other = await run(["send", "--config", config, "--action", "add", "--event-id", "user.id", "--outcomes", outcomes, "--checkpoint", checkpoint, next]);
    assert.equal(other.status, 2, other.stderr);
    assert.match(other.stderr, /belongs to another input .*single\.ndjson.*use a new checkpoint path/);
  }
});

test("lists and campaigns: the pickers as a table or JSON", async (t) => {
  const sim = await startSimulator({
    seed: {
      lists: [{ id: 1001, name: "Newsletter" }, { id: 1002, name: "Webinar" }],
      campaigns: [{ id: 3712, name: "Welcome email", type: "trigger", isRequestable: true }, { id: 3713, name: "Batch", type: "batch" }],
    },
  });
  t.after(() => sim.close());
  const config = settingsFile(sim, []);
  const lists = await run(["lists", "--config", config, "--json"]);
  assert.equal(lists.status, 0, lists.stderr);
  assert.deepEqual(JSON.parse(lists.stdout).map((l) => l.name), ["Newsletter", "Webinar"]);
  const table = await run(["campaigns", "--config", config]);
  assert.equal(table.status, 0, table.stderr);
  assert.equal(table.stdout, "  id  name\n3712  Welcome email\n");
});

test("check: exit 0 and one line when the configuration matches the instance", async (t) => {
  const sim = await startSimulator({ seed: { lists: [{ id: LIST, name: "L" }] } });
  t.after(() => sim.close());
  const config = settingsFile(sim, [upsertBatched(), { id: "add", type: "addLeadToList", targetStaticList: LIST, targetLeadId: { attribute: "id" } }], "check-ok.json");
  const r = await run(["check", "--config", config]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "ok: 2 actions checked against the instance, no problem found\n");
});

test("check: a misspelled field and a missing list are printed with the fix, exit 1; --json gives the result", async (t) => {
  const sim = await startSimulator({});
  t.after(() => sim.close());
  const wrong = { id: "upsert", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
    leadData: [{ field: "email", source: { attribute: "e" } }, { field: "FirstName", source: { attribute: "n" } }] };
  const config = settingsFile(sim, [wrong, { id: "add", type: "addLeadToList", targetStaticList: 4040, targetLeadId: { attribute: "id" } }], "check-bad.json");
  const r = await run(["check", "--config", config]);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, [
    'action upsert, leadData[1].field: UNKNOWN_FIELD the instance has no lead field `FirstName`; REST field names are case-sensitive and it has `firstName` (did you mean "firstName"?)',
    "action add, targetStaticList: UNKNOWN_LIST the instance has no static list 4040",
    "2 problems found",
    "",
  ].join("\n"));
  const j = await run(["check", "--config", config, "--json"]);
  assert.equal(j.status, 1);
  const result = JSON.parse(j.stdout);
  assert.equal(result.ok, false);
  assert.deepEqual(result.problems.map((p) => p.code), ["UNKNOWN_FIELD", "UNKNOWN_LIST"]);
  assert.ok(!j.stdout.includes(sim.clientSecret) && !r.stdout.includes(sim.clientSecret));
});

test("check: usage errors exit 2 naming what is wrong", async () => {
  const r = await run(["check"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--config FILE is required/);
  const r2 = await run(["check", "--config", "x.json", "--action", "a"]);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /Unknown option '--action'/);
});
