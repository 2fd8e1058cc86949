// Browsers, bundlers and other ES module runtimes: the .wasm is inlined (base64, in
// wasm-base64.js) and instantiated at import with top-level await, so a plain import works with
// no bundler configuration, no init call and no asset to copy.
import init from "./web/marketo_connector.js";
import wasmBase64 from "./wasm-base64.js";

const text = atob(wasmBase64);
const bytes = new Uint8Array(text.length);
for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
await init({ module_or_path: bytes });

export { Connector } from "./web/marketo_connector.js";
