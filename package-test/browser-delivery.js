// Loaded in headless Chromium from a bundle esbuild made with no configuration: the browser
// entry by the package's name, delivering one event through the page's origin (the test server
// forwards /rest and /identity to the Marketo simulator, as a proxy of the user's would).
import { Connector } from "marketo-connector";

const params = new URLSearchParams(location.search);
const connector = new Connector({
  clientId: params.get("clientId"),
  clientSecret: params.get("clientSecret"),
  endpointUrl: `${location.origin}/rest`,
  identityUrl: `${location.origin}/identity`,
  actions: [{
    id: "upsert", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
    leadData: [{ field: "email", source: { attribute: "email" } }, { field: "company", source: { attribute: "company" } }],
  }],
}, { fetch: globalThis.fetch.bind(globalThis), now: Date.now, setTimer() {} });

const outcomes = await connector.process("upsert", { email: "browser.user@example.com", company: "Chromium" }, "browser-1");
outcomes.push(...(await connector.flush()));
connector.free();
let destroyed = null;
try { connector.snapshot(); } catch (e) { destroyed = e.code; }
window.result = { outcomes, destroyed };
