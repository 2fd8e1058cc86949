//! Reading an event from the JavaScript object itself: only the attribute paths its action
//! reads ([`EventPaths`]) are looked up, one call into JavaScript per key (`own_get`) and one
//! per object on the way (`node_kind`), and each value they end at is taken as
//! `JSON.stringify` would write it. The rest of the event is never touched: a
//! cycle, a BigInt, a getter that throws or deep nesting where the action does not read is no
//! concern of this event's.
//!
//! What reaches the engine is the same `serde_json::Value` [`EventPaths::read`] makes of the
//! event's JSON text (the wasm tests compare the two on many events), without writing the
//! whole event as text, copying it into wasm and parsing it:
//! - a key is read only when it is the object's own enumerable property (what `JSON.stringify`
//!   writes); `undefined`, a function or a symbol leaves it out;
//! - a string, number, boolean or `null` is taken as it is (a non-finite number as
//!   [`crate::core::source::non_finite_marker`], a number as [`js_number`]);
//! - any other value (a list, a `Date`, an object with `toJSON`, one a path ends at) is
//!   written by `JSON.stringify` and read through the paths below it, as before
//!   ([`super::convert::read_js`]).
//!
//! The key strings are made once per action ([`EventReader::new`]), not per event. The two
//! helpers are JavaScript (`inline_js`): each does in one call what took two to four calls of
//! `Reflect.get`, `propertyIsEnumerable`, `Array.isArray` and `typeof` checks from Rust
//! (README "Performance": the boundary crossings).

use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use crate::core::event_paths::{js_number, EventPaths, ReadError, MAX_NESTING};

use super::convert::{holds_half_character, js_message, place, read_event_with, read_js_at};

#[wasm_bindgen(
    inline_js = "export function own_get(o, k) { return Object.prototype.propertyIsEnumerable.call(o, k) ? o[k] : undefined; }
export function node_kind(v) { if (typeof v !== 'object' || v === null) return 0; if (Array.isArray(v)) return 2; return typeof v.toJSON === 'function' ? 2 : 1; }"
)]
extern "C" {
    /// `object[key]` when `key` is `object`'s own enumerable property (what `JSON.stringify`
    /// writes, its getter run), `undefined` otherwise.
    #[wasm_bindgen(catch)]
    fn own_get(object: &JsValue, key: &JsValue) -> Result<JsValue, JsValue>;
    /// 0: not an object (or `null`); 1: an object JSON writes by its properties; 2: a list or
    /// an object with its own JSON form (`toJSON`).
    #[wasm_bindgen(catch)]
    fn node_kind(v: &JsValue) -> Result<u32, JsValue>;
}

/// One action's attribute paths with their keys as JavaScript strings.
pub(super) struct EventReader {
    paths: std::sync::Arc<EventPaths>,
    keys: Keys,
}

/// The keys of an [`EventPaths`] node as JS strings, in the same order as its children.
struct Keys(Vec<(JsValue, Keys)>);

impl Keys {
    fn of(paths: &EventPaths) -> Keys {
        Keys(paths.children().map(|(key, below)| (JsValue::from_str(key), Keys::of(below))).collect())
    }
}

impl EventReader {
    pub(super) fn new(paths: std::sync::Arc<EventPaths>) -> EventReader {
        let keys = Keys::of(&paths);
        EventReader { paths, keys }
    }

    /// The event as its action reads it (see the module doc).
    ///
    /// # Errors
    /// Why the event cannot be read, naming where: `undefined`, not an object (a `Date`, a
    /// `Map`…), or a value on a path that JSON cannot carry (a BigInt, a cycle, a getter or
    /// `toJSON` that throws, half a character, nested past [`MAX_NESTING`]).
    pub(super) fn read(&self, event: &JsValue) -> Result<Value, String> {
        read_event_with(event, |event| walk(event, &self.paths, &self.keys, &mut Vec::new()))
    }
}

/// The value at `at` read through `paths`; `None` when JSON would leave it out. Each check is
/// a call into JavaScript, so they come in the order values are likely: a node with paths below
/// it is most often an object, a value a path ends at most often a string.
fn walk<'p>(
    js: &JsValue,
    paths: &'p EventPaths,
    keys: &Keys,
    at: &mut Vec<&'p str>,
) -> Result<Option<Value>, String> {
    if paths.is_whole() {
        return leaf(js, paths, at);
    }
    match node_kind(js) {
        Ok(0) => return leaf(js, paths, at),
        Ok(1) => {}
        Ok(_) => return read_js_at(js, paths, at),
        Err(e) => {
            return Err(format!("reading {} threw: {}", super::convert::to_json_of(at), js_message(&e)))
        }
    }
    if at.len() >= MAX_NESTING {
        return Err(ReadError::TooDeep.to_string());
    }
    let mut out = Map::new();
    for ((name, below), (key, below_keys)) in paths.children().zip(&keys.0) {
        at.push(name);
        let threw = |e: JsValue, at: &[&str]| format!("reading {} threw: {}", place(at), js_message(&e));
        // Only an own enumerable property is written by JSON.stringify (and its getter run).
        let child = own_get(js, key).map_err(|e| threw(e, at))?;
        if let Some(v) = walk(&child, below, below_keys, at)? {
            out.insert(name.to_owned(), v);
        }
        at.pop();
    }
    Ok(Some(Value::Object(out)))
}

/// A value taken whole (a path ends at it, or it is not an object): a string, number, boolean
/// or `null` as it is; `undefined`, a function or a symbol left out; anything else written by
/// `JSON.stringify` (a list, a `Date`, an object, a BigInt, which it refuses).
fn leaf(js: &JsValue, paths: &EventPaths, at: &[&str]) -> Result<Option<Value>, String> {
    if let Some(s) = js.as_string() {
        return text(js, s, at).map(Some);
    }
    if let Some(n) = js.as_f64() {
        return Ok(Some(js_number(n)));
    }
    if let Some(b) = js.as_bool() {
        return Ok(Some(Value::Bool(b)));
    }
    if js.is_null() {
        return Ok(Some(Value::Null));
    }
    if js.is_undefined() || js.is_function() || js.is_symbol() {
        return Ok(None);
    }
    read_js_at(js, paths, at)
}

/// A string as JSON carries it: half of a character (a lone UTF-16 surrogate) cannot be. The
/// error names the attribute path `at` where the string is.
fn text(js: &JsValue, s: String, at: &[&str]) -> Result<Value, String> {
    if holds_half_character(&s, js) {
        return Err(format!("{} at {}", ReadError::HalfCharacter, place(at)));
    }
    Ok(Value::String(s))
}
