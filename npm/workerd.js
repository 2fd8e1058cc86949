// Cloudflare workerd (the "workerd" export condition, which wrangler and miniflare select): the
// .wasm is imported as a module, the way workerd loads WebAssembly (it forbids compiling bytes
// at run time), and instantiated synchronously at import.
import { initSync } from "./web/marketo_connector.js";
import module from "./nodejs/marketo_connector_bg.wasm";

initSync({ module });

export { Connector } from "./web/marketo_connector.js";
