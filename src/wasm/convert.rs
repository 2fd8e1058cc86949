//! Values between JavaScript and Rust: settings, and the values an event's attribute paths end
//! at when they are not plain (`super::event`), in through `JSON.stringify` (with the
//! non-finite numbers it hides put back and a reason for what it cannot carry), outcomes out,
//! arguments checked, errors as JS `Error`s with a stable `code`.

use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;

use crate::core::event_paths::{EventPaths, ReadError, MAX_NESTING};
use crate::core::outcome::Outcome;
use crate::core::source::non_finite_marker;

#[wasm_bindgen]
extern "C" {
    /// `Array.isArray(v)`; a revoked Proxy throws.
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array(v: &JsValue) -> Result<bool, JsValue>;
    /// `Object.keys(v)`; a Proxy's `ownKeys` trap may throw.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(v: &JsValue) -> Result<js_sys::Array, JsValue>;
}

/// A real JS `Error` with a stable `code` property.
pub(super) fn coded(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

#[wasm_bindgen(inline_js = "export function queued(eventId, actionId, status) {
  return Promise.resolve([{ eventId, actionId, status }]);
}
export function outcomes(ids, nums, table) {
  const out = [];
  for (let at = 0, from = 0; at < nums.length; ) {
    const end = nums[at + 5], k = nums[at + 6];
    const o = { eventId: ids.slice(from, end), actionId: table[nums[at + 1]], status: table[nums[at]] };
    if (k > 0) { const l = new Array(k); for (let j = 0; j < k; j++) l[j] = nums[at + 7 + j]; o.leadIds = l; }
    if (nums[at + 2] >= 0) o.code = table[nums[at + 2]];
    if (nums[at + 3] >= 0) o.message = table[nums[at + 3]];
    if (nums[at + 4] >= 0) o.requestId = table[nums[at + 4]];
    out.push(o);
    from = end;
    at += 7 + k;
  }
  return out;
}")]
extern "C" {
    /// `Promise.resolve([outcome])` of a `queued` outcome (no lead ids, code, message or
    /// request id): one call for what took four (the array, the object, setting it, the promise).
    #[wasm_bindgen(js_name = queued)]
    fn queued_promise(event_id: &JsValue, action_id: &JsValue, status: &JsValue) -> Promise;
    /// The outcomes [`outcomes_to_js`] lays out, as an array of plain objects: `ids` every
    /// event id in turn, `nums` per outcome `[status, action, code, message, requestId,` the end
    /// of its id in `ids` (UTF-16 units)`, k,` then its k lead ids`]`, each string an index
    /// into `table` (−1 for none).
    #[wasm_bindgen(js_name = outcomes)]
    fn outcomes_from(ids: &str, nums: &[f64], table: &js_sys::Array) -> JsValue;
}

/// The statuses' names, in [`STATUS`]'s order.
const STATUS_NAMES: [&str; 5] = ["queued", "delivered", "skipped", "failed", "uncertain"];

thread_local! {
    /// The status strings, made once.
    static STATUS: [JsValue; 5] = STATUS_NAMES.map(JsValue::from_str);
}

/// `process()`'s answer for an event answered `queued` at once
/// ([`crate::core::report::Reporter::settles_alone`]): a promise resolved with
/// `[{eventId, actionId, status: "queued"}]`, the object [`outcomes_to_js`] makes of a queued
/// outcome. `event_id` is the id the call gave when it gave a string (kept exactly), so no
/// copy of it is made out of wasm again.
pub(super) fn queued_to_js(event_id: &JsValue, action_id: &JsValue) -> Promise {
    STATUS.with(|status| queued_promise(event_id, action_id, &status[0]))
}

/// The strings of a list of outcomes, as indexes into one table for JavaScript: a string is
/// added again only when it differs from the one before in its column (the outcomes of one
/// call share its `requestId`, a failed batch its code and message, an action its id), so
/// each is copied out of wasm once, not once per event.
struct Table<'a> {
    table: js_sys::Array,
    /// Per column (status, action, code, message, request id): the last string and its index.
    last: [Option<(&'a str, f64)>; 5],
}

impl<'a> Table<'a> {
    /// The index of `s` in column `column` (−1 for none), added when it differs from the last.
    fn index(&mut self, column: usize, s: Option<&'a str>, js: impl FnOnce(&str) -> JsValue) -> f64 {
        let Some(s) = s else { return -1.0 };
        let Some(last) = self.last.get_mut(column) else { return -1.0 };
        match last {
            Some((l, i)) if *l == s => *i,
            _ => {
                let i = f64::from(self.table.push(&js(s)).saturating_sub(1));
                *last = Some((s, i));
                i
            }
        }
    }
}

/// Outcomes as an array of plain objects (the same keys, order and values `to_js` gives), made
/// in one call into JavaScript: the event ids as one string, the rest as numbers indexing a
/// table of the distinct strings ([`outcomes_from`]). Each outcome by a call of its own, with
/// its event id and lead ids copied out apart, cost about 3 µs (README "Performance": the
/// boundary crossings). Lead ids as numbers (they are far below 2^53).
pub(super) fn outcomes_to_js(outcomes: &[Outcome], action_js: impl Fn(&str) -> JsValue) -> JsValue {
    use crate::core::outcome::Status;
    let mut ids = String::with_capacity(outcomes.iter().map(|o| o.event_id.len()).sum());
    let mut nums: Vec<f64> = Vec::with_capacity(outcomes.len() * 8);
    let mut table = Table { table: js_sys::Array::new(), last: [None; 5] };
    let mut end = 0usize; // UTF-16 units of `ids` so far
    for o in outcomes {
        let status = match o.status {
            Status::Queued => 0,
            Status::Delivered => 1,
            Status::Skipped => 2,
            Status::Failed => 3,
            Status::Uncertain => 4,
        };
        ids.push_str(&o.event_id);
        end += if o.event_id.is_ascii() { o.event_id.len() } else { o.event_id.encode_utf16().count() };
        let status_js = |_: &str| STATUS.with(|s| s.get(status).cloned().unwrap_or(JsValue::UNDEFINED));
        nums.extend([
            table.index(0, STATUS_NAMES.get(status).copied(), status_js),
            table.index(1, Some(&o.action_id), &action_js),
            table.index(2, o.code.as_deref(), JsValue::from_str),
            table.index(3, o.message.as_deref(), JsValue::from_str),
            table.index(4, o.request_id.as_deref(), JsValue::from_str),
            end as f64,
            o.lead_ids.len() as f64,
        ]);
        nums.extend(o.lead_ids.iter().map(|&id| id as f64));
    }
    outcomes_from(&ids, &nums, &table.table)
}

pub(super) fn to_js(v: &impl serde::Serialize) -> JsValue {
    serde_json::to_string(v).ok().and_then(|s| JSON::parse(&s).ok()).unwrap_or(JsValue::NULL)
}

/// JS value → serde_json via `JSON.stringify` (faster than walking the object from Rust).
///
/// `JSON.stringify` writes `NaN`, `±Infinity` and an invalid `Date` as `null`, which would clear
/// a Marketo field: each `null` it wrote is checked against the JS value at the same place and
/// such a number becomes [`non_finite_marker`], which fails the event that maps it. When
/// `JSON.stringify` throws (a cycle, a BigInt, a getter or `toJSON` that throws) or the JSON is
/// nested too deep, the error says which and where.
pub(super) fn from_js(v: &JsValue) -> Result<serde_json::Value, String> {
    read_js(v, &EventPaths::everything())
}

/// [`from_js`] keeping only the values on `paths` (an event as its action reads it): the parts
/// of the text off the paths are skipped, not built.
pub(super) fn read_js(v: &JsValue, paths: &EventPaths) -> Result<serde_json::Value, String> {
    read_event_with(v, |v| read_js_at(v, paths, &[]))
}

/// An event read by `read` (the whole of it, or the values on its action's paths), with what
/// every way of reading refuses: `undefined`, a function or a symbol (`read` gives `None`), a
/// `String`, `Number` or `Boolean` object (JSON writes its primitive, whatever properties it
/// has), and a `Date`, `Map` or `Set`, which JSON shows as a string or `{}`.
pub(super) fn read_event_with(
    v: &JsValue,
    read: impl FnOnce(&JsValue) -> Result<Option<serde_json::Value>, String>,
) -> Result<serde_json::Value, String> {
    refuse_root(v)?;
    let value = read(v)?.ok_or_else(|| left_out(v))?;
    refuse_read(v, &value)?;
    Ok(value)
}

/// Why JSON writes nothing for the event `v`: it is a function or a symbol, or its `toJSON`
/// gave `undefined` (or one of those).
pub(super) fn left_out(v: &JsValue) -> String {
    if v.is_function() {
        "it is a function, which JSON cannot carry".into()
    } else if v.is_symbol() {
        "it is a symbol, which JSON cannot carry".into()
    } else {
        "its toJSON() gave a value JSON leaves out (undefined, a function or a symbol)".into()
    }
}

/// What every way of reading refuses before reading: `undefined`, and a `String`, `Number` or
/// `Boolean` object ([`read_event_with`]).
pub(super) fn refuse_root(v: &JsValue) -> Result<(), String> {
    refuse_undefined(v)?;
    refuse_boxed(v)
}

/// [`refuse_root`]'s first half: `undefined`.
pub(super) fn refuse_undefined(v: &JsValue) -> Result<(), String> {
    match v.is_undefined() {
        true => Err("it is undefined".into()),
        false => Ok(()),
    }
}

/// [`refuse_root`]'s second half: a `String`, `Number` or `Boolean` object.
pub(super) fn refuse_boxed(v: &JsValue) -> Result<(), String> {
    match boxed_kind(v) {
        Some(kind) => Err(format!("it is {kind}, not an object of attributes")),
        None => Ok(()),
    }
}

/// What every way of reading refuses once `v` is read as `value`: a `Date`, `Map` or `Set`,
/// which JSON shows as a string or `{}` ([`read_event_with`]).
pub(super) fn refuse_read(v: &JsValue, value: &serde_json::Value) -> Result<(), String> {
    let looks_empty = match value {
        serde_json::Value::Object(map) => map.is_empty(),
        _ => true,
    };
    // Asked only then: each `instanceof` is a call into JavaScript, and most events have values.
    match looks_empty.then(|| hidden_kind(v)).flatten() {
        Some(kind) => Err(format!("it is {kind}, not an object of attributes")),
        None => Ok(()),
    }
}

/// The value `v`, found at the attribute path `at` of an event, written by `JSON.stringify`
/// and read through `paths` (the depth rule counting the keys of `at`); `None` when JSON
/// leaves it out (a function, a symbol, `toJSON` returning `undefined`).
pub(super) fn read_js_at(
    v: &JsValue,
    paths: &EventPaths,
    at: &[&str],
) -> Result<Option<serde_json::Value>, String> {
    // A value with a `toJSON` is written from an object holding it under its key, as
    // `JSON.stringify` of the event would: its `toJSON` gets that key, not "".
    let keyed = at.last().filter(|_| has_to_json(v, at).unwrap_or(false));
    let js = match keyed {
        Some(key) => {
            // Without a prototype: on a plain object, setting `__proto__` would set its
            // prototype instead of holding the value under that key.
            let holder: Object = Object::create(JsValue::NULL.unchecked_ref::<Object>());
            let _ = Reflect::set(&holder, &JsValue::from_str(key), v);
            JsValue::from(holder)
        }
        None => v.clone(),
    };
    let written = match JSON::stringify(&js) {
        Ok(t) if t.is_undefined() => return Ok(None),
        Ok(t) => t.as_string().ok_or("it is a function or a symbol, which JSON cannot carry")?,
        Err(e) => {
            let mut path = at.iter().map(|k| (*k).to_owned()).collect();
            return Err(diagnose(v, &mut path, &mut Vec::new()).unwrap_or_else(|| js_message(&e)));
        }
    };
    // The holder's text is `{"key":value}`, or `{}` when `toJSON` gave `undefined`.
    let text = match keyed {
        Some(_) => match held_value(&written) {
            Some(text) => text,
            None => return Ok(None),
        },
        None => written.as_str(),
    };
    let mut value = paths.read_nested(text, at.len()).map_err(|e| match e {
        // Somewhere in the value: name where the value is.
        ReadError::HalfCharacter if !at.is_empty() => format!("{e}, in {}", place(at)),
        e => e.to_string(),
    })?;
    if text.contains("null") {
        restore_non_finite(v, keyed.copied().unwrap_or(""), &mut value);
    }
    Ok(Some(value))
}

/// What `JSON.stringify` makes look like something else: a `Date` (a string) or a `Map` or
/// `Set` (`{}`: their entries are not properties). Looked at only when the text is not an
/// object, or an empty one.
fn hidden_kind(js: &JsValue) -> Option<&'static str> {
    if js.is_instance_of::<js_sys::Date>() {
        Some("a Date")
    } else if js.is_instance_of::<js_sys::Map>() {
        Some("a Map (Object.fromEntries(map) makes an object of it)")
    } else if js.is_instance_of::<js_sys::Set>() {
        Some("a Set")
    } else {
        None
    }
}

/// A `String`, `Number` or `Boolean` object: JSON writes its primitive value, never its
/// properties. (A primitive is no instance of any: nothing else need be asked first.)
fn boxed_kind(js: &JsValue) -> Option<&'static str> {
    if js.is_instance_of::<js_sys::JsString>() {
        Some("a String object (new String(…)), which JSON writes as its text")
    } else if js.is_instance_of::<js_sys::Number>() {
        Some("a Number object (new Number(…)), which JSON writes as its number")
    } else if js.is_instance_of::<js_sys::Boolean>() {
        Some("a Boolean object (new Boolean(…)), which JSON writes as true or false")
    } else {
        None
    }
}

/// `NaN`, `Infinity`, `-Infinity` or `an invalid Date` when `js` is one.
fn non_finite_kind(js: &JsValue) -> Option<&'static str> {
    // A `Number` wrapper is written as its number (`new Number(NaN)` as `null`).
    // (`dyn_ref` would check `typeof` and see an object: `instanceof` is what finds it.)
    let number = js.as_f64().or_else(|| {
        js.is_instance_of::<js_sys::Number>().then(|| js.unchecked_ref::<js_sys::Number>().value_of())
    });
    match number {
        Some(f) if f.is_nan() => Some("NaN"),
        Some(f) if f == f64::INFINITY => Some("Infinity"),
        Some(f) if f == f64::NEG_INFINITY => Some("-Infinity"),
        Some(_) => None,
        None => js.dyn_ref::<js_sys::Date>().filter(|d| d.get_time().is_nan()).map(|_| "an invalid Date"),
    }
}

/// The value's text in `{"key":value}` as `JSON.stringify` writes an object of one property;
/// `None` for `{}`. (The key is skipped as a JSON string: up to its unescaped closing quote.)
fn held_value(text: &str) -> Option<&str> {
    let body = text.strip_prefix("{\"")?.strip_suffix('}')?;
    let mut escaped = false;
    let end = body.char_indices().find_map(|(i, c)| match (escaped, c) {
        (true, _) => {
            escaped = false;
            None
        }
        (false, '\\') => {
            escaped = true;
            None
        }
        (false, '"') => Some(i),
        _ => None,
    })?;
    body.get(end + 1..)?.strip_prefix(':')
}

/// What `js.toJSON(key)` returns, when `js` has a `toJSON` (what `JSON.stringify` wrote in
/// its place, `key` being the property or index it was written under). Asked only where a
/// `null` was written, so a `toJSON` runs again only then.
fn to_json_result(js: &JsValue, key: &str) -> Option<JsValue> {
    to_json_fn(js).ok().flatten()?.call1(js, &JsValue::from_str(key)).ok()
}

/// `js`'s `toJSON` function, if it has one (the one lookup of it every check shares).
///
/// # Errors
/// What reading the property threw (a getter).
fn to_json_fn(js: &JsValue) -> Result<Option<Function>, JsValue> {
    thread_local! {
        static TO_JSON: JsValue = JsValue::from_str("toJSON");
    }
    let f = TO_JSON.with(|key| Reflect::get(js, key))?;
    // `typeof` (a function from another realm is one too), not `instanceof Function`.
    Ok(f.is_function().then(|| f.unchecked_into::<Function>()))
}

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(items) => items.iter().any(has_null),
        serde_json::Value::Object(map) => map.values().any(has_null),
        _ => false,
    }
}

/// Whether `js` has its own JSON form (`toJSON`): what JSON holds then is not its properties.
///
/// # Errors
/// Reading `toJSON` threw (a getter), naming the attribute path `at` where `js` is.
pub(super) fn has_to_json(js: &JsValue, at: &[&str]) -> Result<bool, String> {
    to_json_fn(js)
        .map(|f| f.is_some())
        .map_err(|e| format!("reading {} threw: {}", to_json_of(at), js_message(&e)))
}

/// Puts [`non_finite_marker`]s where `JSON.stringify` wrote `null` for a non-finite number:
/// in `js` itself, or in what its `toJSON` returned, at any depth.
fn restore_non_finite(js: &JsValue, key: &str, value: &mut serde_json::Value) {
    if let serde_json::Value::Null = value {
        if let Some(what) = non_finite_kind(js) {
            *value = non_finite_marker(what);
            return;
        }
    }
    // What JSON wrote here: `toJSON`'s result when there is one (whose own `toJSON` it does not
    // call; the values inside it are written as any others).
    let written = to_json_result(js, key);
    let js = written.as_ref().unwrap_or(js);
    match value {
        serde_json::Value::Null => {
            if let Some(what) = written.as_ref().and_then(non_finite_kind) {
                *value = non_finite_marker(what);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                if has_null(item) {
                    if let Ok(child) = Reflect::get(js, &JsValue::from_f64(i as f64)) {
                        restore_non_finite(&child, &i.to_string(), item);
                    }
                }
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if has_null(item) {
                    if let Ok(child) = Reflect::get(js, &JsValue::from_str(key)) {
                        restore_non_finite(&child, key, item);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The `toJSON` property of what is at `path`: `the event's toJSON` or `` `a.b`.toJSON ``.
pub(super) fn to_json_of<S: std::borrow::Borrow<str>>(path: &[S]) -> String {
    if path.is_empty() {
        "the event's toJSON".into()
    } else {
        format!("{}.toJSON", place(path))
    }
}

/// Where a problem is: `the event` or `the attribute \`a.b.0\``.
pub(super) fn place<S: std::borrow::Borrow<str>>(path: &[S]) -> String {
    if path.is_empty() {
        "the event itself".into()
    } else {
        format!("`{}`", path.join("."))
    }
}

/// Why `JSON.stringify` threw for `v`: a BigInt, a cycle, a getter or `toJSON` that throws, or
/// nesting past [`MAX_NESTING`], with the attribute path where it is.
fn diagnose(v: &JsValue, path: &mut Vec<String>, ancestors: &mut Vec<JsValue>) -> Option<String> {
    let bigint = |path: &[String]| match path {
        [] => "it is a BigInt, which JSON cannot carry".to_string(),
        _ => format!("it holds a BigInt at {}, which JSON cannot carry", place(path)),
    };
    if v.is_bigint() {
        return Some(bigint(path));
    }
    if !v.is_object() {
        return None;
    }
    let to_json = match to_json_fn(v) {
        Ok(f) => f,
        Err(e) => return Some(format!("reading {} threw: {}", to_json_of(path), js_message(&e))),
    };
    let v = match to_json {
        Some(f) => {
            let key = JsValue::from_str(path.last().map_or("", String::as_str));
            match f.call1(v, &key) {
                Ok(r) => r,
                Err(e) => return Some(format!("{}() threw: {}", to_json_of(path), js_message(&e))),
            }
        }
        None => v.clone(),
    };
    if v.is_bigint() {
        return Some(bigint(path));
    }
    if !v.is_object() {
        return None;
    }
    if ancestors.iter().any(|a| Object::is(a, &v)) {
        return Some(format!("it is cyclic: {} refers back to an object that contains it", place(path)));
    }
    if ancestors.len() >= MAX_NESTING {
        return Some(format!("it is nested more than {MAX_NESTING} levels deep (at {})", place(path)));
    }
    // Keys as JS values and as text (array indexes formatted as integers: no float formatting
    // code in the .wasm for this). A Proxy's trap may throw on any of these: that is the reason.
    // A value with more keys than [`MAX_DIAGNOSED_KEYS`] is not walked (a sparse list of 2^32 - 1
    // elements would take all memory): JSON's own message says what is wrong.
    let listed = |e: JsValue| Some(format!("listing the keys of {} threw: {}", place(path), js_message(&e)));
    let keys: Vec<(JsValue, String)> = match is_array(&v) {
        Err(e) => return listed(e),
        Ok(true) => {
            let length = match Reflect::get(&v, &JsValue::from_str("length")) {
                Ok(n) => n.as_f64().unwrap_or(0.0),
                Err(e) => return listed(e),
            };
            if !(0.0..=f64::from(MAX_DIAGNOSED_KEYS)).contains(&length) {
                return None;
            }
            (0..length as u32).map(|i| (JsValue::from_f64(f64::from(i)), i.to_string())).collect()
        }
        Ok(false) => match object_keys(&v) {
            Ok(keys) if keys.length() > MAX_DIAGNOSED_KEYS => return None,
            Ok(keys) => keys
                .iter()
                .map(|k| {
                    let name = k.as_string().unwrap_or_default();
                    (k, name)
                })
                .collect(),
            Err(e) => return listed(e),
        },
    };
    ancestors.push(v.clone());
    for (key, name) in keys {
        path.push(name);
        let child = match Reflect::get(&v, &key) {
            Ok(c) => c,
            Err(e) => return Some(format!("reading {} threw: {}", place(path), js_message(&e))),
        };
        if let Some(found) = diagnose(&child, path, ancestors) {
            return Some(found);
        }
        path.pop();
    }
    ancestors.pop();
    None
}

/// The most keys (or list elements) of one value [`diagnose`] walks.
const MAX_DIAGNOSED_KEYS: u32 = 1_000_000;

pub(super) fn js_message(e: &JsValue) -> String {
    let message = own_message(e).unwrap_or_else(|| "unknown error".into());
    // Node's fetch says only "fetch failed"; what failed (ECONNREFUSED 127.0.0.1:1, ENOTFOUND…)
    // is in its `cause`.
    match Reflect::get(e, &JsValue::from_str("cause"))
        .ok()
        .filter(JsValue::is_object)
        .and_then(|c| own_message(&c))
    {
        Some(cause) if !message.contains(&cause) => format!("{message} ({cause})"),
        _ => message,
    }
}

/// An error's `message`, or the value itself when it is a string.
fn own_message(e: &JsValue) -> Option<String> {
    Reflect::get(e, &JsValue::from_str("message")).ok().and_then(|m| m.as_string()).or_else(|| e.as_string())
}

/// A string argument; anything else is misuse with `code` (wasm-bindgen would trap on it).
/// Half of a character (a lone UTF-16 surrogate) is refused: wasm-bindgen would put U+FFFD in
/// its place, so two ids cut differently from emoji would become one, and an outcome would name
/// an event id the host never gave.
pub(super) fn text_arg(v: &JsValue, name: &str, code: &str) -> Result<String, JsValue> {
    checked_text(any_text_arg(v, name, code)?, v, name, code)
}

/// `text`, the JS string `v` as wasm-bindgen copied it, unless it held half of a character.
fn checked_text(text: String, v: &JsValue, name: &str, code: &str) -> Result<String, JsValue> {
    if holds_half_character(&text, v) {
        return Err(coded(
            &format!(
                "{name} holds half of a character (a lone UTF-16 surrogate, as slice() leaves when it cuts an \
                 emoji), which cannot be kept as it is: give it whole"
            ),
            code,
        ));
    }
    Ok(text)
}

/// Whether the JS string `original`, copied into wasm as `text`, held half of a character (a
/// lone UTF-16 surrogate): wasm-bindgen puts U+FFFD in its place, so a `text` holding U+FFFD
/// is made into a JS string again and compared.
pub(super) fn holds_half_character(text: &str, original: &JsValue) -> bool {
    // ASCII text (most of it) is checked a word at a time.
    !text.is_ascii() && text.contains('\u{FFFD}') && JsValue::from_str(text) != *original
}

/// A string argument as wasm-bindgen copies it (a lone surrogate becomes U+FFFD).
fn any_text_arg(v: &JsValue, name: &str, code: &str) -> Result<String, JsValue> {
    v.as_string().ok_or_else(|| coded(&format!("{name} must be a string"), code))
}

/// UTF-16 units copied into wasm at a time by [`large_text_arg`].
const PIECE_UNITS: u32 = 1 << 16;

/// [`text_arg`] for text of any size (a snapshot of tens of MB), copied into wasm in pieces of
/// 64 Ki UTF-16 units. wasm-bindgen copies a string whole and, from its first non-ASCII
/// character on, reserves 3 bytes per unit (UTF-8's worst case): a 15 MB snapshot holding one
/// "Ü" near its start took 45 MB of wasm memory for a moment, and wasm memory never shrinks.
/// Here the text takes its own UTF-8 size plus at most a sixteenth, and one piece.
///
/// Text holding half of a character (a lone UTF-16 surrogate, which a Rust string cannot hold)
/// is refused with `code`, saying it was damaged: wasm-bindgen would silently put U+FFFD in its
/// place, and the connector's own text (`snapshot()`) never holds one.
pub(super) fn large_text_arg(v: &JsValue, name: &str, code: &str) -> Result<String, JsValue> {
    let Some(js) = v.dyn_ref::<js_sys::JsString>() else {
        return Err(coded(&format!("{name} must be a string"), code));
    };
    let len = js.length();
    if len <= PIECE_UNITS {
        let text = any_text_arg(v, name, code)?;
        return whole(text, v, 0, name, code);
    }
    let headroom = (len / 16) as usize;
    let mut out = String::with_capacity(len as usize + headroom);
    let mut start = 0;
    while start < len {
        let mut end = start.saturating_add(PIECE_UNITS).min(len);
        // A surrogate pair is never cut in two (each half would read as U+FFFD).
        let last = js.char_code_at(end - 1);
        if end < len && (55_296.0..56_320.0).contains(&last) {
            end += 1;
        }
        let original = JsValue::from(js.slice(start, end));
        let piece = whole(any_text_arg(&original, name, code)?, &original, start, name, code)?;
        if out.capacity() - out.len() < piece.len() {
            out.reserve_exact(piece.len() + headroom);
        }
        out.push_str(&piece);
        start = end;
    }
    Ok(out)
}

/// `text`, read from the JS string `original` (which starts `offset` UTF-16 units into the
/// argument), when it is the same text: a U+FFFD in `text` is either the character itself or
/// wasm-bindgen's stand-in for half of a character, told apart by making the JS string again.
fn whole(text: String, original: &JsValue, offset: u32, name: &str, code: &str) -> Result<String, JsValue> {
    if !holds_half_character(&text, original) {
        return Ok(text);
    }
    let at = original.dyn_ref::<js_sys::JsString>().and_then(|js| {
        (0..js.length()).find(|i| {
            let unit = js.char_code_at(*i);
            let next = js.char_code_at(i + 1);
            let prev = if *i > 0 { js.char_code_at(i - 1) } else { f64::NAN };
            let (high, low) = (55_296.0..56_320.0, 56_320.0..57_344.0);
            (high.contains(&unit) && !low.contains(&next)) || (low.contains(&unit) && !high.contains(&prev))
        })
    });
    let place =
        at.map(|i| format!(" at UTF-16 unit {}", u64::from(offset) + u64::from(i))).unwrap_or_default();
    Err(coded(
        &format!(
            "{name} was damaged: it holds half of a character (a lone UTF-16 surrogate){place}, which the text \
             Connector.snapshot() returns never does (a string cut between the two halves of a surrogate pair, or \
             re-encoded, loses them); restore the text it returned, unchanged"
        ),
        code,
    ))
}

/// `eventId`: a string, a finite integer (database ids; sent as its decimal text), or absent;
/// and whether it was given as a string (that same string is then the outcome's `eventId`).
pub(super) fn event_id_arg(v: &JsValue) -> Result<(Option<String>, bool), JsValue> {
    if let Some(text) = v.as_string() {
        return checked_text(text, v, "eventId", "INVALID_EVENT_ID").map(|text| (Some(text), true));
    }
    if v.is_undefined() || v.is_null() {
        return Ok((None, false));
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
            Ok((Some(format!("{}", n as i64)), false))
        }
        _ => Err(coded(
            "eventId must be a string, an integer of at most 2^53 - 1 (a larger one loses digits as a number: give it as a string) or undefined",
            "INVALID_EVENT_ID",
        )),
    }
}

pub(super) fn busy() -> Promise {
    Promise::reject(&coded("connector is busy (re-entered from a host callback)", "BUSY"))
}
