//! Reading an event from the JavaScript object itself: only the attribute paths its action
//! reads ([`EventPaths`]) are looked up, and each value they end at is taken as
//! `JSON.stringify` would write it. The rest of the event is never touched: a cycle, a BigInt,
//! a getter that throws or deep nesting where the action does not read is no concern of this
//! event's.
//!
//! What reaches the engine is the same `serde_json::Value` [`EventPaths::read`] makes of the
//! event's JSON text (the wasm tests compare the two on many events), without writing the
//! whole event as text, copying it into wasm and parsing it:
//! - a key is read only when it is the object's own enumerable property (what `JSON.stringify`
//!   writes); `undefined`, a function or a symbol leaves it out;
//! - a string, number, boolean or `null` is taken as it is (a non-finite number as
//!   [`crate::core::source::non_finite_marker`], a number as [`js_number`]);
//! - any other value (a list, a `Date`, an object with `toJSON`, a `String`, `Number` or
//!   `Boolean` object, one a path ends at) is
//!   written by `JSON.stringify` and read through the paths below it, as before
//!   ([`super::convert::read_js`]).
//!
//! One call into JavaScript per event (`read_paths`, below) walks the paths, each key read
//! once, and writes what it finds into a buffer in wasm memory: a tag per place on the paths
//! (absent, an object whose keys follow, a string with its UTF-8 bytes, a number's 8 bytes,
//! `true`, `false`, `null`), in the order of [`EventPaths::children`]. A value that needs more
//! than that (a list, a `Date`, an object with `toJSON`, a BigInt, a string holding half a
//! character) and an error a getter or a Proxy threw are kept aside in JavaScript, as they
//! were read, and taken by index: the rest of the reading runs here as before, without
//! reading any key twice. The paths' keys are a JS plan made once per action
//! ([`EventReader::new`]). Before, each key, each object on the way and each string was a
//! call of its own (README "Performance": the boundary crossings).

use std::cell::{Cell, RefCell};

use js_sys::Array;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use crate::core::event_paths::{js_number, EventPaths, ReadError, MAX_NESTING};

use super::convert::{
    holds_half_character, js_message, left_out, place, read_js_at, refuse_boxed, refuse_read,
    refuse_undefined, to_json_of,
};

#[wasm_bindgen(inline_js = r#"
const encoder = new TextEncoder();
const enumerable = Object.prototype.propertyIsEnumerable;
let r = null;
function fresh(reader) { reader.buf = new Uint8Array(1024); reader.data = new DataView(reader.buf.buffer); }
function room(n) {
  if (r.end + n <= r.buf.length) return;
  const grown = new Uint8Array(Math.max(r.buf.length * 2, r.end + n));
  grown.set(r.buf.subarray(0, r.end));
  r.buf = grown;
  r.data = new DataView(grown.buffer);
}
function put(tag) { room(1); r.buf[r.end++] = tag; }
function keep(tag, v) { room(5); r.buf[r.end] = tag; r.data.setUint32(r.end + 1, r.kept.length, true); r.end += 5; r.kept.push(v); }
function whole(s) {
  if (typeof s.isWellFormed === "function") return s.isWellFormed();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) { const d = s.charCodeAt(i + 1); if (!(d >= 0xdc00 && d <= 0xdfff)) return false; i++; }
    else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}
function text(s) {
  const n = s.length;
  room(5 + 3 * n);
  const buf = r.buf, at = r.end + 5;
  let i = 0;
  for (; i < n; i++) { const c = s.charCodeAt(i); if (c > 0x7f) break; buf[at + i] = c; }
  let len = i;
  if (i < n) {
    if (!whole(s)) return keep(7, s);
    len += encoder.encodeInto(i === 0 ? s : s.slice(i), buf.subarray(at + i)).written;
  }
  buf[r.end] = 2; r.data.setUint32(r.end + 1, len, true); r.end = at + len;
}
function leaf(v) {
  switch (typeof v) {
    case "string": return text(v);
    case "number": room(9); r.buf[r.end] = 3; r.data.setFloat64(r.end + 1, v, true); r.end += 9; return;
    case "boolean": return put(v ? 4 : 5);
    case "undefined": case "function": case "symbol": return put(0);
    default: return v === null ? put(6) : keep(7, v);
  }
}
// JSON tells a String, Number or Boolean object by its internal slot, which a Proxy never has:
// a Proxy whose getPrototypeOf trap throws is not one (and JSON.stringify never asks it).
function boxed(v) { try { return v instanceof String || v instanceof Number || v instanceof Boolean; } catch (e) { return false; } }
function node(v, plan) {
  if (plan === 0 || typeof v !== "object" || v === null) { leaf(v); return true; }
  let other;
  // A String, Number or Boolean object is written as its primitive, whatever keys it has.
  try { other = Array.isArray(v) || boxed(v); } catch (e) { keep(9, e); return false; }
  if (!other) { try { other = typeof v.toJSON === "function"; } catch (e) { keep(10, e); return false; } }
  if (other) { keep(8, v); return true; }
  put(1);
  for (let i = 0; i < plan.length; i += 2) {
    let child;
    try { child = enumerable.call(v, plan[i]) ? v[plan[i]] : undefined; } catch (e) { keep(9, e); return false; }
    if (!node(child, plan[i + 1])) return false;
  }
  return true;
}
export function read_paths(event, reader, at, space) {
  const outer = r;
  r = reader;
  try {
    if (r.buf === undefined) { fresh(r); r.kept = []; }
    r.end = 0;
    r.kept.length = 0;
    if (typeof event === "object" && event !== null && boxed(event)) keep(11, event);
    else node(event, r.plan);
    const end = r.end;
    if (end <= space) read_again(r, at);
    return end;
  } finally {
    r = outer;
  }
}
export function read_again(reader, at) {
  new Uint8Array(reader.memory.buffer, at, reader.end).set(reader.buf.subarray(0, reader.end));
  // A buffer grown for one large event is not kept for the next.
  if (reader.buf.length > 65536) fresh(reader);
}
export function read_kept(reader, i) { return reader.kept[i]; }
export function read_done(reader) { reader.kept.length = 0; }
"#)]
extern "C" {
    /// Walks `reader.plan` (see [`plan_of`]) from `event`, writing the tags and values into
    /// `reader`'s own buffer, then into `reader.memory` (this module's) at `at` when their
    /// length fits in `space` bytes; that length. Each reader keeps its own state, so a
    /// getter that makes another connector read an event does not disturb this one.
    #[wasm_bindgen(catch)]
    fn read_paths(event: &JsValue, reader: &JsValue, at: u32, space: u32) -> Result<u32, JsValue>;
    /// Writes `reader`'s last bytes at `at` of its memory (there is room for them now).
    fn read_again(reader: &JsValue, at: u32);
    /// The `i`-th value or error `reader` kept aside.
    fn read_kept(reader: &JsValue, i: u32) -> JsValue;
    /// Lets go of what `reader` kept aside.
    fn read_done(reader: &JsValue);
}

/// The tags [`read_paths`] writes, one per place on the paths.
mod tag {
    /// `undefined`, a function or a symbol: left out, as JSON leaves it out.
    pub const ABSENT: u8 = 0;
    /// An object JSON writes by its keys: its keys on the paths follow.
    pub const OBJECT: u8 = 1;
    /// A string: its UTF-8 length (u32, little-endian) and bytes follow.
    pub const STRING: u8 = 2;
    /// A number: its 8 bytes (f64, little-endian) follow.
    pub const NUMBER: u8 = 3;
    pub const TRUE: u8 = 4;
    pub const FALSE: u8 = 5;
    pub const NULL: u8 = 6;
    /// A value a path ends at that is not one of the above (kept aside: its index follows).
    pub const KEPT_LEAF: u8 = 7;
    /// A list, a `String`, `Number` or `Boolean` object or an object with `toJSON` on the way
    /// of a path (kept aside).
    pub const KEPT_OTHER: u8 = 8;
    /// Reading the key, or whether the object is a list (a revoked Proxy), threw (the error
    /// kept aside); nothing follows.
    pub const THREW_READING: u8 = 9;
    /// Reading the object's `toJSON` threw; nothing follows.
    pub const THREW_LOOKING: u8 = 10;
    /// The event itself is a `String`, `Number` or `Boolean` object (kept aside), which JSON
    /// writes as its primitive; nothing follows.
    pub const BOXED: u8 = 11;
}

thread_local! {
    /// Where [`read_paths`] writes, kept between events (its length is its capacity, so the
    /// helper writes into initialised bytes). Taken out while in use: a getter that runs a
    /// second connector's `process()` gets a buffer of its own.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Bytes the scratch buffer starts with.
const SCRATCH_START: usize = 4096;
/// The most the scratch buffer keeps between events (the helper's own buffer likewise).
const SCRATCH_KEPT: usize = 65536;

/// One action's attribute paths, and the same as [`read_paths`] takes them: `{plan, memory}`,
/// the plan of [`plan_of`] and this module's memory (which it writes into), plus the helper's
/// own buffer and what it kept aside.
pub(super) struct EventReader {
    paths: std::sync::Arc<EventPaths>,
    plan: JsValue,
    reader: JsValue,
    /// While this reader reads: a getter or `toJSON` that makes the same connector read
    /// another event (`process()` from inside an event) gets a reader object of its own.
    busy: Cell<bool>,
    /// The last event read, used again for the next ([`EventReader::read_with`]).
    tree: RefCell<Value>,
}

/// `{plan, memory}`: what [`read_paths`] takes, with wasm's memory, which it writes into.
fn reader_of(plan: &JsValue) -> JsValue {
    let reader = js_sys::Object::new();
    // Setting a property on a new plain object cannot fail.
    let _ = js_sys::Reflect::set(&reader, &JsValue::from_str("plan"), plan);
    let _ = js_sys::Reflect::set(&reader, &JsValue::from_str("memory"), &wasm_bindgen::memory());
    reader.into()
}

/// `paths` as [`read_paths`] walks them: `0` where a path ends (the value is taken whole),
/// otherwise `[key, plan, key, plan, …]` of the keys below, in [`EventPaths::children`] order.
fn plan_of(paths: &EventPaths) -> JsValue {
    if paths.is_whole() {
        return JsValue::from(0);
    }
    let plan = Array::new();
    for (key, below) in paths.children() {
        plan.push(&JsValue::from_str(key));
        plan.push(&plan_of(below));
    }
    plan.into()
}

impl EventReader {
    pub(super) fn new(paths: std::sync::Arc<EventPaths>) -> EventReader {
        let plan = plan_of(&paths);
        let reader = reader_of(&plan);
        EventReader { paths, plan, reader, busy: Cell::new(false), tree: RefCell::new(Value::Null) }
    }

    /// The event as its action reads it (see the module doc), a copy of [`EventReader::read_with`]'s.
    ///
    /// # Errors
    /// As [`EventReader::read_with`].
    pub(super) fn read(&self, event: &JsValue) -> Result<Value, String> {
        self.read_with(event, |read| read.cloned())
    }

    /// `f` of the event as its action reads it (see the module doc). The value lent to `f` is
    /// this reader's tree of the previous event with this event's values put in: its keys,
    /// its maps and the strings' buffers are used again (most events of an action have the
    /// same shape), where a new tree for each event was built and dropped.
    ///
    /// # Errors
    /// Why the event cannot be read, naming where: `undefined`, not an object (a `Date`, a
    /// `Map`…), or a value on a path that JSON cannot carry (a BigInt, a cycle, a getter or
    /// `toJSON` that throws, half a character, nested past [`MAX_NESTING`]).
    pub(super) fn read_with<R>(&self, event: &JsValue, f: impl FnOnce(Result<&Value, String>) -> R) -> R {
        // Taken out while in use: a read started from `f` or from a getter builds its own.
        let mut tree = self.tree.take();
        let read = self.read_tree(event, &mut tree);
        let out = f(read.map(|()| &tree));
        self.tree.replace(tree);
        out
    }

    fn read_tree(&self, event: &JsValue, tree: &mut Value) -> Result<(), String> {
        refuse_undefined(event)?;
        let mut scratch = SCRATCH.take();
        if scratch.len() < SCRATCH_START {
            scratch.resize(SCRATCH_START, 0);
        }
        let read = if self.busy.replace(true) {
            self.read_into(event, &reader_of(&self.plan), &mut scratch, tree)
        } else {
            let read = self.read_into(event, &self.reader, &mut scratch, tree);
            self.busy.set(false);
            read
        };
        // A buffer grown for one large event goes back to the allocator.
        if scratch.len() > SCRATCH_KEPT {
            scratch = Vec::new();
        }
        SCRATCH.set(scratch);
        if !read? {
            return Err(left_out(event));
        }
        refuse_read(event, tree)
    }

    /// Reads `event` into `tree`; whether JSON would write it at all.
    fn read_into(
        &self,
        event: &JsValue,
        reader: &JsValue,
        scratch: &mut Vec<u8>,
        tree: &mut Value,
    ) -> Result<bool, String> {
        let room = u32::try_from(scratch.len()).unwrap_or(u32::MAX);
        let len = read_paths(event, reader, scratch.as_mut_ptr() as u32, room)
            .map_err(|e| format!("reading the event failed: {}", js_message(&e)))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > scratch.len() {
            scratch.resize(len, 0);
            read_again(reader, scratch.as_mut_ptr() as u32);
        }
        let bytes = scratch.get(..len).ok_or("the event's values did not fit in wasm memory")?;
        let mut stream = Stream { bytes, reader, kept: false };
        let present = decode(&mut stream, &self.paths, &mut Vec::new(), tree);
        if stream.kept {
            read_done(reader);
        }
        present
    }
}

/// The bytes [`read_paths`] wrote, read from the front.
struct Stream<'b> {
    bytes: &'b [u8],
    /// The reader that wrote them (and holds what it kept aside).
    reader: &'b JsValue,
    /// Whether a value kept aside was taken (they are let go once the event is read).
    kept: bool,
}

impl Stream<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self.bytes.split_first_chunk::<N>().ok_or_else(cut_short)?;
        self.bytes = rest;
        Ok(*head)
    }

    fn kept(&mut self) -> Result<JsValue, String> {
        self.kept = true;
        Ok(read_kept(self.reader, u32::from_le_bytes(self.take()?)))
    }
}

fn cut_short() -> String {
    "the event's values were cut short reading them (a bug: please report it)".into()
}

/// The value at `at`, decoded along `paths` from `stream` into `slot` (whatever it held
/// before is replaced, its allocations used again where the shape is the same); `false` when
/// JSON would leave the value out (`slot` is then unspecified).
fn decode<'p>(
    stream: &mut Stream<'_>,
    paths: &'p EventPaths,
    at: &mut Vec<&'p str>,
    slot: &mut Value,
) -> Result<bool, String> {
    let [t] = stream.take()?;
    match t {
        tag::ABSENT => return Ok(false),
        tag::OBJECT => {
            if at.len() >= MAX_NESTING {
                return Err(ReadError::TooDeep.to_string());
            }
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(map) = slot else { return Err(cut_short()) };
            // Every key of a map here is one of `paths`' children (a value read whole through
            // `read_js_at` keeps only the keys on the paths), so each is set or removed below.
            for (name, below) in paths.children() {
                at.push(name);
                match map.get_mut(name) {
                    Some(child) => {
                        if !decode(stream, below, at, child)? {
                            map.remove(name);
                        }
                    }
                    None => {
                        let mut child = Value::Null;
                        if decode(stream, below, at, &mut child)? {
                            map.insert(name.to_owned(), child);
                        }
                    }
                }
                at.pop();
            }
        }
        tag::STRING => {
            let len = usize::try_from(u32::from_le_bytes(stream.take()?)).unwrap_or(usize::MAX);
            let (bytes, rest) = stream.bytes.split_at_checked(len).ok_or_else(cut_short)?;
            stream.bytes = rest;
            let text = std::str::from_utf8(bytes).map_err(|_| cut_short())?;
            match slot {
                // The previous event's buffer, unless it was much larger (one large value is
                // not kept for every event after it).
                Value::String(s) if s.capacity() <= 2 * text.len() + 64 => {
                    s.clear();
                    s.push_str(text);
                }
                _ => *slot = Value::String(text.to_owned()),
            }
        }
        tag::NUMBER => *slot = js_number(f64::from_le_bytes(stream.take()?)),
        tag::TRUE => *slot = Value::Bool(true),
        tag::FALSE => *slot = Value::Bool(false),
        tag::NULL => *slot = Value::Null,
        tag::KEPT_LEAF => return put(slot, leaf(&stream.kept()?, paths, at)?),
        tag::KEPT_OTHER => return put(slot, read_js_at(&stream.kept()?, paths, at)?),
        tag::THREW_READING => {
            return Err(format!("reading {} threw: {}", place(at), js_message(&stream.kept()?)))
        }
        tag::BOXED => return refuse_boxed(&stream.kept()?).and_then(|()| Err(cut_short())),
        tag::THREW_LOOKING => {
            return Err(format!("reading {} threw: {}", to_json_of(at), js_message(&stream.kept()?)))
        }
        _ => return Err(cut_short()),
    }
    Ok(true)
}

/// `value` into `slot`; whether there is one.
fn put(slot: &mut Value, value: Option<Value>) -> Result<bool, String> {
    Ok(match value {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    })
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
