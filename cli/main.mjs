#!/usr/bin/env node
// marketo-connector: backfills and checks from the command line (the package's `bin`).
//
//   marketo-connector send --config FILE --action ID [--event-id PATH] [--outcomes FILE]
//                          [--checkpoint FILE] [--dry-run] [EVENTS.ndjson | -]
//   marketo-connector lists --config FILE [--json]
//   marketo-connector campaigns --config FILE [--json]
//   marketo-connector check --config FILE [--json]
//
// Exit status: 0 every event delivered or skipped (check: no problem found); 1 any failed or
// uncertain (or Marketo refused a listing; check: problems found); 2 a usage or configuration
// error, whose message names the option or setting.
import { parseArgs } from "node:util";
import { UsageError, loadSettings } from "./config.mjs";
import { send } from "./send.mjs";
import { pickers } from "./pickers.mjs";
import { check } from "./check.mjs";

const USAGE = `usage:
  marketo-connector send --config FILE --action ID [--event-id PATH] [--outcomes FILE]
                         [--checkpoint FILE] [--dry-run] [EVENTS.ndjson | -]
  marketo-connector lists --config FILE [--json]
  marketo-connector campaigns --config FILE [--json]
  marketo-connector check --config FILE [--json]

check reads the instance's lead schema, lists, campaigns, program tokens and partitions and
prints every problem of the configuration (exit 0: none, 1: problems found).

The settings file holds {clientId, clientSecret, endpointUrl, identityUrl, limits?, actions};
the four credentials may come from MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET,
MARKETO_ENDPOINT_URL and MARKETO_IDENTITY_URL instead.
`;

const OPTIONS = {
  send: {
    config: { type: "string" }, action: { type: "string" }, "event-id": { type: "string" },
    outcomes: { type: "string" }, checkpoint: { type: "string" }, "dry-run": { type: "boolean" },
  },
  lists: { config: { type: "string" }, json: { type: "boolean" } },
  campaigns: { config: { type: "string" }, json: { type: "boolean" } },
  check: { config: { type: "string" }, json: { type: "boolean" } },
};

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!OPTIONS[command]) throw new UsageError(`unknown command ${JSON.stringify(command)} (send, lists, campaigns or check)`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS[command], allowPositionals: command === "send", strict: true });
  } catch (e) {
    throw new UsageError(e.message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`one events file at most, got ${positionals.join(" ")}`);
  const settings = loadSettings(values.config, process.env, { dryRun: command === "send" && values["dry-run"] });
  if (command === "send") {
    if (!values.action) throw new UsageError("--action ID is required (the id of an action in the settings file)");
    return send({
      settings, action: values.action, eventId: values["event-id"], outcomes: values.outcomes,
      checkpoint: values.checkpoint, dryRun: values["dry-run"], input: positionals[0],
    });
  }
  if (command === "check") return check(settings, values.json);
  return pickers(command, settings, values.json);
}

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
}, (e) => {
  if (e instanceof UsageError) {
    process.stderr.write(`marketo-connector: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`marketo-connector: ${e.stack ?? e}\n`);
    process.exitCode = 1;
  }
});
