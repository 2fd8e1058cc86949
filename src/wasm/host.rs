//! The host object (`{fetch, now, setTimer, seed?, log?}`, SPEC §7) and the calls into it.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::core::{Body, HttpRequest};

use super::convert::{coded, js_message, to_js};

#[wasm_bindgen(inline_js = r#"
let odd = null;
export function read_now(now, host) {
  const v = now.call(host);
  if (typeof v === "number") return v;
  odd = { v };
  return -1;
}
export function odd_now() { const o = odd; odd = null; return o; }
"#)]
extern "C" {
    /// `now.call(host)` as a number, in one call into JavaScript (taking the result as a
    /// `JsValue` and asking whether it is a number were two more): what it returned when not a
    /// number is kept for [`odd_now`], and -1 (never a time) returned instead.
    #[wasm_bindgen(catch)]
    fn read_now(now: &Function, host: &JsValue) -> Result<f64, JsValue>;
    /// `{v}`, the value the last [`read_now`] returned that was not a number (then forgotten),
    /// or `null`.
    fn odd_now() -> JsValue;
}

pub(super) struct Host {
    pub(super) this: JsValue,
    pub(super) fetch: Function,
    pub(super) now: Function,
    pub(super) set_timer: Function,
    pub(super) log: Option<Function>,
    /// The last reading of `host.now()` that was a time: used (and the bad reading logged)
    /// when a later call returns something else.
    last_now: std::cell::Cell<u64>,
}

impl Host {
    pub(super) fn from_js(host: &JsValue) -> Result<Host, JsValue> {
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
        let host = Host {
            this: host.clone(),
            fetch: func("fetch", true)?.ok_or_else(missing)?,
            now: func("now", true)?.ok_or_else(missing)?,
            set_timer: func("setTimer", true)?.ok_or_else(missing)?,
            log: func("log", false)?,
            last_now: std::cell::Cell::new(0),
        };
        // A clock that is not one would put every wait in 1970 (a batch never ages out, a
        // timer fires at once, again and again): refuse it now rather than run on it.
        let first = host.reading().map_err(|got| {
            let message =
                format!("host.now() must return the time in epoch milliseconds (like Date.now()); it {got}");
            coded(&message, "INVALID_HOST")
        })?;
        host.last_now.set(first);
        Ok(host)
    }

    /// `host.now()` as epoch milliseconds, or what it returned instead.
    fn reading(&self) -> Result<u64, String> {
        let ms = match read_now(&self.now, &self.this) {
            Ok(ms) => ms,
            Err(e) => return Err(format!("threw: {}", js_message(&e))),
        };
        if ms.is_finite() && ms >= 1.0 {
            return Ok(ms as u64);
        }
        let odd = odd_now();
        if odd.is_null() {
            return Err(format!("returned {ms}"));
        }
        let v = Reflect::get(&odd, &JsValue::from_str("v")).unwrap_or(JsValue::UNDEFINED);
        Err(format!(
            "returned a value of type {}, not a number",
            v.js_typeof().as_string().unwrap_or_default()
        ))
    }

    /// The host's time (epoch ms). A reading that is not a time is logged (`hostError`) and the
    /// last good one is used instead.
    pub(super) fn now(&self) -> u64 {
        match self.reading() {
            Ok(ms) => {
                self.last_now.set(ms);
                ms
            }
            Err(got) => {
                let message = format!("host.now() {got}; the last reading is used instead");
                self.log(&serde_json::json!({"type": "hostError", "message": message}));
                self.last_now.get()
            }
        }
    }

    pub(super) fn seed(host: &JsValue) -> Option<u64> {
        Reflect::get(host, &JsValue::from_str("seed")).ok().and_then(|v| v.as_f64()).map(|f| f as u64)
    }

    pub(super) fn log(&self, entry: &serde_json::Value) {
        if let Some(log) = &self.log {
            // A throwing logger must not break delivery.
            let _ = log.call1(&self.this, &to_js(entry));
        }
    }
}

/// Calls `host.fetch` and reads status and text; any throw or rejection is a transport error.
pub(super) async fn fetch(host: &Host, req: HttpRequest) -> Result<(u16, String), String> {
    // Only the host's `fetch` holds the request (its body up to 1 MB of JSON or 10 MB of
    // multipart) while the call is out: `init` is dropped before the first `await`.
    let pending = start_fetch(host, &req)?;
    drop(req);
    let response = JsFuture::from(Promise::resolve(&pending)).await.map_err(|e| js_message(&e))?;
    read_response(response).await
}

/// Calls `host.fetch(url, init)` for `req`; the promise (or value) it returned.
fn start_fetch(host: &Host, req: &HttpRequest) -> Result<JsValue, String> {
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
        // Joined in JavaScript, each piece copied out once: the whole body is never written
        // out in wasm memory, which would keep that size for good (up to 1 MB of JSON, 10 MB
        // of multipart).
        Some(Body::Joined(j)) => {
            let text = j
                .pieces()
                .fold(js_sys::JsString::from(""), |text, piece| text.concat(&JsValue::from_str(piece)));
            let _ = Reflect::set(&init, &JsValue::from_str("body"), &text);
        }
        Some(Body::JoinedBytes(j)) => {
            let bytes = Uint8Array::new_with_length(u32::try_from(j.len()).unwrap_or(u32::MAX));
            let mut at = 0u32;
            for piece in j.pieces().map(str::as_bytes) {
                let end = at.saturating_add(u32::try_from(piece.len()).unwrap_or(u32::MAX));
                if !piece.is_empty() && end <= bytes.length() {
                    bytes.subarray(at, end).copy_from(piece);
                }
                at = end;
            }
            let _ = Reflect::set(&init, &JsValue::from_str("body"), &bytes);
        }
        None => {}
    }
    host.fetch.call2(&host.this, &JsValue::from_str(&req.url), &init).map_err(|e| js_message(&e))
}

/// Reads the answer of a call [`start_fetch`] made: status and text.
async fn read_response(response: JsValue) -> Result<(u16, String), String> {
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
