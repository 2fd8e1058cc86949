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
mod event;
mod host;
mod types;

pub use connector::Connector;

/// For the wasm tests only (not part of the JavaScript API): `event` read through the
/// attribute `paths` (dotted) from the JS object, as `process()` reads it, and through
/// `JSON.stringify` and the event's text, to compare the two.
#[doc(hidden)]
pub fn read_event_both_ways(
    paths: &[&str],
    event: &wasm_bindgen::JsValue,
) -> (Result<serde_json::Value, String>, Result<serde_json::Value, String>) {
    read_events_both_ways(paths, std::slice::from_ref(event)).pop().unwrap_or_else(|| {
        let none = Err("no event read".to_string());
        (none.clone(), none)
    })
}

/// For the wasm tests only: each of `events` read as [`read_event_both_ways`] reads it, all
/// through one reader (as one action reads every event it is given, its tree of the previous
/// event used again).
#[doc(hidden)]
pub fn read_events_both_ways(
    paths: &[&str],
    events: &[wasm_bindgen::JsValue],
) -> Vec<(Result<serde_json::Value, String>, Result<serde_json::Value, String>)> {
    let mut tree = crate::core::event_paths::EventPaths::default();
    for path in paths {
        tree.add(path.split('.'));
    }
    let tree = std::sync::Arc::new(tree);
    let reader = event::EventReader::new(std::sync::Arc::clone(&tree));
    events.iter().map(|event| (reader.read(event), convert::read_js(event, &tree))).collect()
}
