// `check`: the configuration checked against the instance (connector.check()): unknown or
// misspelled fields, read-only fields, lookup fields Marketo cannot search or dedupe by, lists
// and campaigns that do not exist, campaigns that are inactive or cannot be requested, tokens
// the campaign's program does not define, partitions that do not exist, missing permissions.
// Prints one line per problem (or the result as JSON with --json); exit 0 when there is none,
// 1 when there are problems.
import { Connector } from "marketo-connector";
import { UsageError } from "./config.mjs";

/** One problem as a line: `action ID, PARAMETER: CODE message (did you mean …?)`. */
export function problemLine(p) {
  const hint = p.suggestion ? ` (did you mean ${JSON.stringify(p.suggestion)}?)` : "";
  return `action ${p.actionId}, ${p.parameter}: ${p.code} ${p.message}${hint}`;
}

export async function check(settings, json) {
  let connector;
  try {
    connector = new Connector(settings, { fetch: globalThis.fetch.bind(globalThis), now: Date.now, setTimer() {} });
  } catch (e) {
    throw new UsageError(`settings: ${e.message}`);
  }
  const result = await connector.check();
  connector.free();
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else if (result.ok) {
    process.stdout.write(`ok: ${settings.actions?.length ?? 0} actions checked against the instance, no problem found\n`);
  } else {
    for (const p of result.problems) process.stdout.write(`${problemLine(p)}\n`);
    process.stdout.write(`${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} found\n`);
  }
  return result.ok ? 0 : 1;
}
