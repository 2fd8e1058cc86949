//! The JavaScript API (SPEC §7): a thin wasm-bindgen layer that converts values and drives the
//! core [`Engine`] with the host's `fetch`, `now` and `setTimer`. The only module that names
//! `wasm_bindgen` or `js_sys`.
//!
//! Concurrency: every method may be called while earlier promises are pending. State lives in
//! an `Rc<RefCell<..>>` that is borrowed only between awaits, never across one, and host
//! callbacks (fetch, setTimer, log, promise resolvers) are called only after the borrow ends,
//! so a host that re-enters the connector from a callback cannot trip a double borrow.

mod alloc;
mod connector;
mod convert;
mod destroy;
mod drive;
mod host;
mod types;

pub use connector::Connector;
