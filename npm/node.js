// Node ≥ 20, imported as an ES module: the CommonJS build `wasm-pack build --target nodejs` makes,
// re-exported, so `import` and `require` share one instance of the module.
import cjs from "./nodejs/marketo_connector.js";

export const { Connector } = cjs;
