// `lists` and `campaigns`: the pickers (every static list; every campaign that can be
// requested), as a table or with --json.
import { Connector } from "marketo-connector";
import { UsageError } from "./config.mjs";

export async function pickers(command, settings, json) {
  let connector;
  try {
    connector = new Connector({ ...settings, actions: settings.actions ?? [] }, {
      fetch: globalThis.fetch.bind(globalThis), now: Date.now, setTimer() {},
    });
  } catch (e) {
    throw new UsageError(`settings: ${e.message}`);
  }
  let items;
  try {
    items = command === "lists" ? await connector.staticLists() : await connector.triggerableCampaigns();
  } catch (e) {
    process.stderr.write(`marketo-connector: ${e.message}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(items)}\n`);
  } else {
    const width = Math.max(2, ...items.map((i) => String(i.id).length));
    process.stdout.write(`${"id".padStart(width)}  name\n`);
    for (const i of items) process.stdout.write(`${String(i.id).padStart(width)}  ${i.name}\n`);
  }
  return 0;
}
