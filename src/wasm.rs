//! The JavaScript API (SPEC §7): a thin wasm-bindgen layer that converts values and drives the
//! core [`Engine`] with the host's `fetch`, `now` and `setTimer`. The only module that names
//! `wasm_bindgen` or `js_sys`.
//!
//! Concurrency: every method may be called while earlier promises are pending. State lives in
//! an `Rc<RefCell<..>>` that is borrowed only between awaits, never across one, and host
//! callbacks (fetch, setTimer, log, promise resolvers) are called only after the borrow ends,
//! so a host that re-enters the connector from a callback cannot trip a double borrow.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::core::report::{Reporter, Settled};
use crate::core::snapshot::Snapshot;
use crate::core::source::non_finite_marker;
use crate::core::{Body, Engine, HttpRequest, Listing, Settings};

mod destroy;

struct Host {
    this: JsValue,
    fetch: Function,
    now: Function,
    set_timer: Function,
    log: Option<Function>,
}

impl Host {
    fn from_js(host: &JsValue) -> Result<Host, JsValue> {
        let func = |name: &str, required: bool| -> Result<Option<Function>, JsValue> {
            let v = Reflect::get(host, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
            if v.is_undefined() && !required {
                return Ok(None);
            }
            v.dyn_into::<Function>()
                .map(Some)
                .map_err(|_| coded(&format!("host.{name} must be a function"), "INVALID_HOST"))
        };
        if !host.is_object() {
            return Err(coded("host must be an object {fetch, now, setTimer, seed?, log?}", "INVALID_HOST"));
        }
        let missing = || coded("host.fetch, host.now and host.setTimer are required", "INVALID_HOST");
        Ok(Host {
            this: host.clone(),
            fetch: func("fetch", true)?.ok_or_else(missing)?,
            now: func("now", true)?.ok_or_else(missing)?,
            set_timer: func("setTimer", true)?.ok_or_else(missing)?,
            log: func("log", false)?,
        })
    }

    fn now(&self) -> u64 {
        let v = self.now.call0(&self.this).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
        if v.is_finite() && v > 0.0 {
            v as u64
        } else {
            0
        }
    }

    fn seed(host: &JsValue) -> Option<u64> {
        Reflect::get(host, &JsValue::from_str("seed")).ok().and_then(|v| v.as_f64()).map(|f| f as u64)
    }

    fn log(&self, entry: &serde_json::Value) {
        if let Some(log) = &self.log {
            // A throwing logger must not break delivery.
            let _ = log.call1(&self.this, &to_js(entry));
        }
    }
}

/// A real JS `Error` with a stable `code` property.
fn coded(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

fn to_js(v: &impl serde::Serialize) -> JsValue {
    serde_json::to_string(v).ok().and_then(|s| JSON::parse(&s).ok()).unwrap_or(JsValue::NULL)
}

/// Nesting serde_json reads (its recursion limit): an event nested deeper is refused.
const MAX_NESTING: usize = 127;

/// JS value → serde_json via `JSON.stringify` (faster than walking the object from Rust).
///
/// `JSON.stringify` writes `NaN`, `±Infinity` and an invalid `Date` as `null`, which would clear
/// a Marketo field: each `null` it wrote is checked against the JS value at the same place and
/// such a number becomes [`non_finite_marker`], which fails the event that maps it. When
/// `JSON.stringify` throws (a cycle, a BigInt, a getter or `toJSON` that throws) or the JSON is
/// nested too deep, the error says which and where.
fn from_js(v: &JsValue) -> Result<serde_json::Value, String> {
    if v.is_undefined() {
        return Err("it is undefined".into());
    }
    let text = match JSON::stringify(v) {
        Ok(t) => t.as_string().ok_or("it is a function or a symbol, which JSON cannot carry")?,
        Err(e) => return Err(diagnose(v, &mut Vec::new(), &mut Vec::new()).unwrap_or_else(|| js_message(&e))),
    };
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            format!("it is nested more than {MAX_NESTING} levels deep")
        } else {
            e.to_string()
        }
    })?;
    if text.contains("null") {
        restore_non_finite(v, &mut value);
    }
    Ok(value)
}

/// `NaN`, `Infinity`, `-Infinity` or `an invalid Date` when `js` is one.
fn non_finite_kind(js: &JsValue) -> Option<&'static str> {
    match js.as_f64() {
        Some(f) if f.is_nan() => Some("NaN"),
        Some(f) if f == f64::INFINITY => Some("Infinity"),
        Some(f) if f == f64::NEG_INFINITY => Some("-Infinity"),
        Some(_) => None,
        None => js.dyn_ref::<js_sys::Date>().filter(|d| d.get_time().is_nan()).map(|_| "an invalid Date"),
    }
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
fn has_to_json(js: &JsValue) -> bool {
    Reflect::get(js, &JsValue::from_str("toJSON")).is_ok_and(|f| f.is_function())
}

/// Puts [`non_finite_marker`]s where `JSON.stringify` wrote `null` for a non-finite number.
fn restore_non_finite(js: &JsValue, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Null => {
            if let Some(what) = non_finite_kind(js) {
                *value = non_finite_marker(what);
            }
        }
        serde_json::Value::Array(items) if !has_to_json(js) => {
            for (i, item) in items.iter_mut().enumerate() {
                if has_null(item) {
                    if let Ok(child) = Reflect::get(js, &JsValue::from_f64(i as f64)) {
                        restore_non_finite(&child, item);
                    }
                }
            }
        }
        serde_json::Value::Object(map) if !has_to_json(js) => {
            for (key, item) in map.iter_mut() {
                if has_null(item) {
                    if let Ok(child) = Reflect::get(js, &JsValue::from_str(key)) {
                        restore_non_finite(&child, item);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Where a problem is: `the event` or `the attribute \`a.b.0\``.
fn place(path: &[String]) -> String {
    if path.is_empty() {
        "the event itself".into()
    } else {
        format!("`{}`", path.join("."))
    }
}

/// Why `JSON.stringify` threw for `v`: a BigInt, a cycle, a getter or `toJSON` that throws, or
/// nesting past [`MAX_NESTING`], with the attribute path where it is.
fn diagnose(v: &JsValue, path: &mut Vec<String>, ancestors: &mut Vec<JsValue>) -> Option<String> {
    if v.is_bigint() {
        return Some(format!("it holds a BigInt at {}, which JSON cannot carry", place(path)));
    }
    if !v.is_object() {
        return None;
    }
    let to_json = match Reflect::get(v, &JsValue::from_str("toJSON")) {
        Ok(f) => f,
        Err(e) => return Some(format!("reading {}.toJSON threw: {}", place(path), js_message(&e))),
    };
    let v = match to_json.dyn_ref::<Function>() {
        Some(f) => {
            let key = JsValue::from_str(path.last().map_or("", String::as_str));
            match f.call1(v, &key) {
                Ok(r) => r,
                Err(e) => return Some(format!("{}.toJSON() threw: {}", place(path), js_message(&e))),
            }
        }
        None => v.clone(),
    };
    if v.is_bigint() {
        return Some(format!("it holds a BigInt at {}, which JSON cannot carry", place(path)));
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
    // code in the .wasm for this).
    let keys: Vec<(JsValue, String)> = match v.dyn_ref::<js_sys::Array>() {
        Some(list) => (0..list.length()).map(|i| (JsValue::from_f64(f64::from(i)), i.to_string())).collect(),
        None => Object::keys(v.unchecked_ref::<Object>())
            .iter()
            .map(|k| {
                let name = k.as_string().unwrap_or_default();
                (k, name)
            })
            .collect(),
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

fn js_message(e: &JsValue) -> String {
    Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// A pending promise's settlers.
struct Waiter {
    resolve: Function,
    reject: Function,
}

struct State {
    engine: Engine,
    /// Which promise returns which outcome (natively tested in `core::report`).
    reporter: Reporter<Waiter>,
    /// The last time `host.setTimer` accepted (it returned without throwing).
    timer: Option<u64>,
}

/// What a drive step must do once the state borrow is released.
#[derive(Default)]
struct Effects {
    requests: Vec<HttpRequest>,
    /// Promise settlers (resolve or reject) and their values.
    settle: Vec<(Function, JsValue)>,
    timer: Option<u64>,
}

impl State {
    /// Collects what the engine produced. `rearm`: ask for the next wake-up even if it was
    /// asked for before (a `wake()` may have come early, or the host may have lost the timer).
    fn step(&mut self, now: u64, rearm: bool) -> Effects {
        let mut fx = Effects::default();
        while let Some(req) = self.engine.poll_request() {
            fx.requests.push(req);
        }
        for (w, settled) in self.reporter.collect(&mut self.engine) {
            match settled {
                Settled::Outcomes(outcomes) => fx.settle.push((w.resolve, to_js(&outcomes))),
                Settled::Listing(Ok(items)) => fx.settle.push((w.resolve, to_js(&items))),
                Settled::Listing(Err(e)) => fx.settle.push((
                    w.reject,
                    coded(
                        &format!("Marketo did not list them: {} {}", e.code(), e.message()),
                        "LISTING_FAILED",
                    ),
                )),
                Settled::Check(result) => fx.settle.push((w.resolve, to_js(&result))),
            }
        }
        let mut next = self.engine.poll_timeout();
        if self.reporter.wants_wake() {
            // Outcomes finished with no call to return them: ask the host to call wake() now.
            next = Some(now);
        }
        if next.is_some() && (rearm || next != self.timer) {
            fx.timer = next;
        }
        fx
    }
}

struct Shared {
    state: RefCell<State>,
    host: Host,
    /// Inside `host.setTimer`: a host may call `wake()` from it synchronously, whose own
    /// request for a timer is then kept here and made once setTimer returned (no recursion).
    arming: std::cell::Cell<bool>,
    asked_while_arming: std::cell::Cell<Option<u64>>,
}

/// Calls `host.setTimer(at)`. A timer counts as set only once setTimer returned; one that threw
/// is asked again at the next step. A `wake()` made from inside setTimer asks for its timer
/// after this call returns, at most a few times over, instead of recursing.
fn arm(shared: &Rc<Shared>, at: u64) {
    if shared.arming.get() {
        shared.asked_while_arming.set(Some(at));
        return;
    }
    shared.arming.set(true);
    let mut at = at;
    for _ in 0..4 {
        let armed = shared.host.set_timer.call1(&shared.host.this, &JsValue::from_f64(at as f64)).is_ok();
        if let Ok(mut st) = shared.state.try_borrow_mut() {
            st.timer = if armed { Some(at) } else { None };
        }
        match shared.asked_while_arming.take() {
            Some(next) if next != at => at = next,
            _ => break,
        }
    }
    shared.arming.set(false);
}

/// Runs one drive step and performs its effects outside the borrow.
fn drive(shared: &Rc<Shared>, rearm: bool) {
    let now = shared.host.now();
    let fx = match shared.state.try_borrow_mut() {
        Ok(mut st) => st.step(now, rearm),
        Err(_) => return, // cannot happen (no borrow is held across a callback); never trap
    };
    for req in fx.requests {
        shared.host.log(&serde_json::json!({"type": "request", "id": req.id, "method": req.method.as_str(), "url": req.url}));
        spawn_local(send(Rc::clone(shared), req));
    }
    if let Some(at) = fx.timer {
        arm(shared, at);
    }
    for (settle, value) in fx.settle {
        let _ = settle.call1(&JsValue::NULL, &value);
    }
}

async fn send(shared: Rc<Shared>, req: HttpRequest) {
    let id = req.id;
    let result = fetch(&shared.host, req).await;
    let now = shared.host.now();
    match &result {
        Ok((status, _)) => {
            shared.host.log(&serde_json::json!({"type": "response", "id": id, "status": status}))
        }
        Err(m) => {
            // A host fetch error may quote the request's headers: never log the token.
            let m =
                shared.state.try_borrow().map_or_else(|_| "(withheld)".to_string(), |st| st.engine.redact(m));
            shared.host.log(&serde_json::json!({"type": "transportError", "id": id, "message": m}))
        }
    }
    if let Ok(mut st) = shared.state.try_borrow_mut() {
        // An unknown id means the engine gave up on this request already: ignore the answer.
        let _ = match result {
            Ok((status, body)) => st.engine.handle_response(now, id, status, &body),
            Err(message) => st.engine.handle_transport_error(now, id, &message),
        };
    }
    drive(&shared, false);
}

/// Calls `host.fetch` and reads status and text; any throw or rejection is a transport error.
async fn fetch(host: &Host, req: HttpRequest) -> Result<(u16, String), String> {
    let init = Object::new();
    let headers = Object::new();
    for (k, v) in &req.headers {
        let _ = Reflect::set(&headers, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    let _ = Reflect::set(&init, &JsValue::from_str("method"), &JsValue::from_str(req.method.as_str()));
    let _ = Reflect::set(&init, &JsValue::from_str("headers"), &headers);
    match &req.body {
        Some(Body::Text(t)) => {
            let _ = Reflect::set(&init, &JsValue::from_str("body"), &JsValue::from_str(t));
        }
        Some(Body::Bytes(b)) => {
            let _ = Reflect::set(&init, &JsValue::from_str("body"), &Uint8Array::from(b.as_slice()));
        }
        None => {}
    }
    let pending =
        host.fetch.call2(&host.this, &JsValue::from_str(&req.url), &init).map_err(|e| js_message(&e))?;
    let response = JsFuture::from(Promise::resolve(&pending)).await.map_err(|e| js_message(&e))?;
    let status = Reflect::get(&response, &JsValue::from_str("status"))
        .ok()
        .and_then(|s| s.as_f64())
        .filter(|s| (0.0..1000.0).contains(s))
        .ok_or("fetch resolved without a numeric status")? as u16;
    let text_fn = Reflect::get(&response, &JsValue::from_str("text"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or("fetch response has no text() method")?;
    let text_promise = text_fn.call0(&response).map_err(|e| js_message(&e))?;
    let text = JsFuture::from(Promise::resolve(&text_promise)).await.map_err(|e| js_message(&e))?;
    Ok((status, text.as_string().unwrap_or_default()))
}

/// The Marketo connector. See the package README for the full contract.
#[wasm_bindgen]
pub struct Connector {
    /// `None` once `free()` ran: every method then throws or rejects `DESTROYED` (`destroy.rs`).
    shared: RefCell<Option<Rc<Shared>>>,
}

#[wasm_bindgen]
impl Connector {
    /// Validates `settings` (throws an `Error` with `code` `INVALID_SETTINGS`, `INVALID_ACTION`
    /// or `INVALID_HOST` naming what is wrong) and binds the connector to `host`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Settings")] settings: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Host")] host: JsValue,
    ) -> Result<Connector, JsValue> {
        Connector::build(settings, host, None)
    }

    /// A connector that carries on from a `snapshot()` string: queued events are queued again
    /// (batch ages kept), events in flight are sent again (or reported `uncertain` for
    /// non-idempotent calls), the daily-quota count carries over. Throws like the constructor,
    /// or with `code` `INVALID_SNAPSHOT`.
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "Settings")] settings: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Host")] host: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] snapshot: JsValue,
    ) -> Result<Connector, JsValue> {
        let snapshot = text_arg(&snapshot, "snapshot", "INVALID_SNAPSHOT")?;
        Connector::build(settings, host, Some(&snapshot))
    }

    fn build(settings: JsValue, host: JsValue, snapshot: Option<&str>) -> Result<Connector, JsValue> {
        let value = from_js(&settings)
            .map_err(|e| coded(&format!("settings: not representable as JSON: {e}"), "INVALID_SETTINGS"))?;
        let settings = Settings::from_value(&value).map_err(|e| coded(&e.to_string(), e.code()))?;
        let seed = Host::seed(&host);
        let host = Host::from_js(&host)?;
        let now = host.now();
        // Without host.seed, one is drawn here (the binding may read a random source; the core
        // never does): two connectors started in one millisecond must not share an id.
        let seed = seed.unwrap_or_else(|| {
            let draw = || (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
            (draw() << 11) ^ draw()
        });
        let (engine, reporter) = match snapshot {
            None => (Engine::new(settings, seed, now), Reporter::default()),
            Some(text) => {
                let snap = Snapshot::parse(text).map_err(|e| coded(&e.to_string(), "INVALID_SNAPSHOT"))?;
                (Engine::restore(settings, seed, now, &snap), Reporter::restore(&snap))
            }
        };
        let state = State { engine, reporter, timer: None };
        let shared = Rc::new(Shared {
            state: RefCell::new(state),
            host,
            arming: std::cell::Cell::new(false),
            asked_while_arming: std::cell::Cell::new(None),
        });
        // A restored engine sends nothing until the host's next call (SPEC §7); this only asks
        // the host, through setTimer(now), to make one (wake) once it has stored the snapshot.
        drive(&shared, false);
        Ok(Connector { shared: RefCell::new(Some(shared)) })
    }

    /// Counters since construction: `{calls, identityCalls, retries, rateLimited, pace, queues,
    /// oldestQueuedAgeMs}` — Marketo calls started (identity excluded, as Marketo does not count
    /// them), identity calls, retries, 606/615 answers (the client-side limiter keeps this at 0
    /// unless another integration shares the instance's limits), the current pace
    /// `{callsPer20s, concurrency}` (lowered on 606/615, raised again as calls go through, never
    /// above `limits`), the events without a final outcome by action id, and the age of the
    /// oldest of them at `host.now()` (`null` when there is none).
    #[wasm_bindgen(unchecked_return_type = "Stats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let shared = self.live()?;
        let now = shared.host.now();
        let st = shared.state.try_borrow().map_err(|_| coded("connector is busy", "BUSY"))?;
        Ok(to_js(&st.engine.stats_at(now)))
    }

    /// The pending state as a string to store (e.g. in a Durable Object) and pass to
    /// `Connector.restore`: queued events, events in flight, the quota count. No secret, no token.
    pub fn snapshot(&self) -> Result<String, JsValue> {
        let shared = self.live()?;
        let st = shared.state.try_borrow().map_err(|_| coded("connector is busy", "BUSY"))?;
        serde_json::to_string(&st.reporter.snapshot(&st.engine))
            .map_err(|e| coded(&e.to_string(), "INTERNAL"))
    }

    /// The identity and generation a snapshot carries, without restoring it: `{id,
    /// generation}`. The id is drawn when a connector is constructed and kept by every restore;
    /// the generation rises by one at each restore, so a host storing snapshots with a
    /// compare-and-set can refuse one from a second connector restored from an older snapshot.
    /// Throws `INVALID_SNAPSHOT` for text that is not a snapshot.
    #[wasm_bindgen(js_name = "snapshotInfo", unchecked_return_type = "SnapshotInfo")]
    pub fn snapshot_info(
        #[wasm_bindgen(unchecked_param_type = "string")] snapshot: JsValue,
    ) -> Result<JsValue, JsValue> {
        let snapshot = text_arg(&snapshot, "snapshot", "INVALID_SNAPSHOT")?;
        let snap = Snapshot::parse(&snapshot).map_err(|e| coded(&e.to_string(), "INVALID_SNAPSHOT"))?;
        Ok(to_js(&snap.info()))
    }

    /// Hands one event to the action `actionId`. Resolves with this event's outcome
    /// (`queued` when it waits in a batch or for a timer) plus any other outcomes that
    /// finished meanwhile. Rejects only for an unknown action id.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome[]>")]
    pub fn process(
        &self,
        #[wasm_bindgen(js_name = "actionId", unchecked_param_type = "string")] action_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "PipelineEvent")] event: JsValue,
        #[wasm_bindgen(js_name = "eventId", unchecked_optional_param_type = "string | number")]
        event_id: Option<JsValue>,
    ) -> Promise {
        let shared = match self.live() {
            Ok(shared) => shared,
            Err(e) => return Promise::reject(&e),
        };
        let event_id = event_id.unwrap_or(JsValue::UNDEFINED);
        let (action_id, event_id) =
            match (text_arg(&action_id, "actionId", "UNKNOWN_ACTION"), event_id_arg(&event_id)) {
                (Ok(a), Ok(e)) => (a, e),
                (Err(e), _) | (_, Err(e)) => return Promise::reject(&e),
            };
        let now = shared.host.now();
        // Read before the borrow: getters and toJSON are host code. An event JSON cannot carry
        // fails with why (cyclic, BigInt, a throwing getter, too deep).
        let value = from_js(&event);
        let key = match shared.state.try_borrow_mut() {
            Ok(mut st) => match value {
                Ok(value) => st.engine.handle_event(now, &action_id, &value, event_id),
                Err(why) => st.engine.handle_unreadable_event(now, &action_id, &why, event_id),
            },
            Err(_) => {
                return Promise::reject(&coded("connector is busy (re-entered from a host callback)", "BUSY"))
            }
        };
        let key = match key {
            Ok(k) => k,
            Err(e) => return Promise::reject(&coded(&e.to_string(), e.code())),
        };
        self.wait(false, |r, w| r.wait_event(key, w))
    }

    /// Does what is due now (retries, held calls, timeouts) and asks for the next wake-up
    /// again. Resolves at once with the outcomes that have finished and no other promise
    /// returned, without waiting for calls in flight.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome[]>")]
    pub fn wake(&self) -> Promise {
        if let Err(rejected) = self.input(|engine, now| engine.handle_timeout(now)) {
            return rejected;
        }
        self.wait(true, |r, w| r.wait_wake(w))
    }

    /// Sends every queue now and resolves once each event pending now is final or waits on
    /// time (a retry, the rate window, the daily quota, a bulk job's next poll), with the
    /// outcomes that finished.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome[]>")]
    pub fn flush(&self) -> Promise {
        if let Err(rejected) = self.input(|engine, now| engine.flush(now)) {
            return rejected;
        }
        self.wait(false, |r, w| r.wait_flush_now(w))
    }

    /// Hands the engine an input at the host's `now` and returns what it gives back; the
    /// rejected promise to return when the connector is destroyed or busy. The borrow ends here,
    /// before any host callback.
    fn input<T>(&self, input: impl FnOnce(&mut Engine, u64) -> T) -> Result<T, Promise> {
        let shared = self.live().map_err(|e| Promise::reject(&e))?;
        let now = shared.host.now();
        let mut st = shared.state.try_borrow_mut().map_err(|_| busy())?;
        Ok(input(&mut st.engine, now))
    }

    /// The requests this event would cause if sent alone (lookups shown as the lookup call),
    /// without the token. Throws for an unknown action or an event that cannot be delivered.
    #[wasm_bindgen(unchecked_return_type = "PreviewRequest[]")]
    pub fn preview(
        &self,
        #[wasm_bindgen(js_name = "actionId", unchecked_param_type = "string")] action_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "PipelineEvent")] event: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = self.live()?;
        let action_id = text_arg(&action_id, "actionId", "UNKNOWN_ACTION")?;
        let value = from_js(&event)
            .map_err(|why| coded(&crate::core::EventError::NotJson(why).to_string(), "INVALID_EVENT"))?;
        let st = shared.state.try_borrow().map_err(|_| coded("connector is busy", "BUSY"))?;
        match st.engine.preview(&action_id, &value) {
            Ok(reqs) => Ok(to_js(&reqs)),
            Err(Ok(usage)) => Err(coded(&usage.to_string(), usage.code())),
            Err(Err(ev)) => Err(coded(&ev.to_string(), ev.code())),
        }
    }

    /// Every static list, all pages, for a list picker. Rejects with `LISTING_FAILED` when
    /// Marketo refuses (e.g. missing permission), since there is no event to carry an outcome.
    #[wasm_bindgen(js_name = "staticLists", unchecked_return_type = "Promise<ListItem[]>")]
    pub fn static_lists(&self) -> Promise {
        self.listing(Listing::StaticLists)
    }

    /// Every campaign that can be requested through the API (active, with a "Campaign is
    /// Requested: Web Service API" trigger), all pages, for `sendTransactionalEmail`.
    #[wasm_bindgen(js_name = "triggerableCampaigns", unchecked_return_type = "Promise<ListItem[]>")]
    pub fn triggerable_campaigns(&self) -> Promise {
        self.listing(Listing::TriggerableCampaigns)
    }

    /// The configuration checked against the instance (SPEC §7): reads the lead schema when
    /// not known yet, then the configured static lists, campaigns, program tokens and
    /// partitions, and resolves with `{ok, problems}`. Marketo refusing a check is a problem in
    /// the result, never a rejection.
    #[wasm_bindgen(unchecked_return_type = "Promise<CheckResult>")]
    pub fn check(&self) -> Promise {
        match self.input(|engine, now| engine.handle_check(now)) {
            Ok(key) => self.wait(false, |r, w| r.wait_check(key, w)),
            Err(rejected) => rejected,
        }
    }

    fn listing(&self, kind: Listing) -> Promise {
        match self.input(|engine, now| engine.handle_listing(now, kind)) {
            Ok(key) => self.wait(false, |r, w| r.wait_listing(key, w)),
            Err(rejected) => rejected,
        }
    }

    /// A promise registered with the reporter by `register`, then one drive step.
    fn wait(&self, rearm: bool, register: impl FnOnce(&mut WaitOn, Waiter)) -> Promise {
        let shared = match self.live() {
            Ok(shared) => shared,
            Err(e) => return Promise::reject(&e),
        };
        let mut slot: Option<(Function, Function)> = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        if let (Some((resolve, reject)), Ok(mut st)) = (slot, shared.state.try_borrow_mut()) {
            let State { engine, reporter, .. } = &mut *st;
            register(&mut WaitOn { engine, reporter }, Waiter { resolve, reject });
        }
        drive(&shared, rearm);
        promise
    }
}

/// The reporter and engine, for registering a waiter.
struct WaitOn<'a> {
    engine: &'a Engine,
    reporter: &'a mut Reporter<Waiter>,
}

impl WaitOn<'_> {
    fn wait_event(&mut self, key: crate::core::EventKey, w: Waiter) {
        self.reporter.wait_event(key, w);
    }
    fn wait_wake(&mut self, w: Waiter) {
        self.reporter.wait_wake(w);
    }
    fn wait_flush_now(&mut self, w: Waiter) {
        self.reporter.wait_flush(self.engine, w);
    }
    fn wait_listing(&mut self, key: crate::core::ListingKey, w: Waiter) {
        self.reporter.wait_listing(key, w);
    }
    fn wait_check(&mut self, key: crate::core::CheckKey, w: Waiter) {
        self.reporter.wait_check(key, w);
    }
}

/// A string argument; anything else is misuse with `code` (wasm-bindgen would trap on it).
fn text_arg(v: &JsValue, name: &str, code: &str) -> Result<String, JsValue> {
    v.as_string().ok_or_else(|| coded(&format!("{name} must be a string"), code))
}

/// `eventId`: a string, a finite integer (database ids; sent as its decimal text), or absent.
fn event_id_arg(v: &JsValue) -> Result<Option<String>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(s) = v.as_string() {
        return Ok(Some(s));
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
            Ok(Some(format!("{}", n as i64)))
        }
        _ => Err(coded("eventId must be a string, an integer or undefined", "INVALID_EVENT_ID")),
    }
}

fn busy() -> Promise {
    Promise::reject(&coded("connector is busy (re-entered from a host callback)", "BUSY"))
}
