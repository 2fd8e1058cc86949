// The types of every ES module entry (node.js, workerd.js, browser.js): the same class and types
// as the CommonJS build's declarations, which wasm-bindgen writes from src/wasm/types.rs.
export * from "./nodejs/marketo_connector.js";
