//! wasm-bindgen tests of the JavaScript binding, run in Node by wasm-bindgen-test-runner:
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test --target wasm32-unknown-unknown --test wasm`.
//! The host is a JS object with a fake `fetch` answering like Marketo.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Promise, Reflect, JSON};
use marketo_connector::wasm::Connector;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

/// A host whose fetch answers identity with token "tok-1", the lead schema (describe2: `email`
/// and a `signup` datetime), and Sync Leads / list calls with the given JSON; it records every
/// request in `host.sent`.
const MAKE_HOST: &str = r#"
  const sent = [];
  const host = {
    sent, timers: [], seed: 7,
    now: () => 1764331200000,
    setTimer: (at) => host.timers.push(at),
    fetch: async (url, init) => {
      sent.push({ url, method: init.method, headers: init.headers, body: init.body });
      if (url.endsWith('/identity/oauth/token')) {
        if (!init.body.includes('client_secret=right')) return { status: 401, text: async () => '{"error":"unauthorized","error_description":"Bad client credentials"}' };
        return { status: 200, text: async () => '{"access_token":"tok-1","token_type":"bearer","expires_in":3600,"scope":"x"}' };
      }
      if (url.endsWith('/leads/describe2.json')) {
        return { status: 200, text: async () => JSON.stringify({ requestId: 'd1#b2', success: true, result: [{ name: 'API Lead',
          searchableFields: [['email']], fields: [{ name: 'email', dataType: 'email', length: 255, updateable: true },
                                                  { name: 'signup', dataType: 'datetime', updateable: true }] }] }) };
      }
      if (url.includes('/leads.json')) {
        const input = JSON.parse(init.body).input;
        return { status: 200, text: async () => JSON.stringify({ requestId: 'a1#b2', success: true,
          result: input.map((r, i) => r.email === 'known@example.com' ? { status: 'skipped', reasons: [{ code: '1005', message: 'Lead already exists' }] } : { id: 100 + i, status: 'created' }) }) };
      }
      throw new TypeError('fetch failed');
    },
  };
  return host;
"#;

fn host() -> JsValue {
    Function::new_no_args(MAKE_HOST).call0(&JsValue::NULL).unwrap_or(JsValue::NULL)
}

fn settings(secret: &str) -> JsValue {
    JSON::parse(&format!(
        r#"{{"clientId":"cid","clientSecret":"{secret}","endpointUrl":"https://123-ABC-123.mktorest.com/rest",
            "identityUrl":"https://123-ABC-123.mktorest.com/identity",
            "actions":[{{"id":"upsert","type":"createOrUpdateLead","updateStrategy":"createOnly",
                         "leadData":[{{"field":"email","source":{{"attribute":"data.udo.customer_email"}}}},
                                     {{"field":"signup","source":{{"attribute":"data.udo.signup_date"}},"type":"date"}}]}}]}}"#
    ))
    .unwrap_or(JsValue::NULL)
}

fn event(email: &str) -> JsValue {
    JSON::parse(&format!(
        r#"{{"data":{{"udo":{{"customer_email":"{email}","signup_date":"2026-11-28T09:30:00+01:00"}}}}}}"#
    ))
    .unwrap_or(JsValue::NULL)
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn stringify(v: &JsValue) -> String {
    JSON::stringify(v).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

async fn outcomes(p: Promise) -> Array {
    JsFuture::from(p).await.map(|v| v.unchecked_into()).unwrap_or_else(|_| Array::new())
}

#[wasm_bindgen_test]
async fn process_delivers_through_host_fetch_with_bearer_token() {
    let h = host();
    let c = Connector::new(settings("right"), h.clone()).map_err(|e| stringify(&e)).unwrap();
    let out = outcomes(c.process(
        JsValue::from_str("upsert"),
        event("new@example.com"),
        Some(JsValue::from_str("ev-1")),
    ))
    .await;
    assert_eq!(
        stringify(&out),
        r#"[{"eventId":"ev-1","actionId":"upsert","status":"delivered","leadIds":[100],"requestId":"a1#b2"}]"#
    );
    let sent: Array = get(&h, "sent").unchecked_into();
    assert_eq!(sent.length(), 3, "one identity call, the lead schema's one read, one sync call");
    assert!(get(&sent.get(1), "url")
        .as_string()
        .unwrap_or_default()
        .ends_with("/rest/v1/leads/describe2.json"));
    let sync = sent.get(2);
    assert_eq!(
        get(&sync, "url").as_string().unwrap_or_default(),
        "https://123-ABC-123.mktorest.com/rest/v1/leads.json"
    );
    assert_eq!(get(&get(&sync, "headers"), "Authorization").as_string().unwrap_or_default(), "Bearer tok-1");
    assert_eq!(
        get(&sync, "body").as_string().unwrap_or_default(),
        r#"{"action":"createOnly","lookupField":"email","input":[{"email":"new@example.com","signup":"2026-11-28T08:30:00Z"}]}"#
    );
}

#[wasm_bindgen_test]
async fn concurrent_calls_settle_on_their_own_outcomes() {
    let c = Connector::new(settings("right"), host()).map_err(|e| stringify(&e)).unwrap();
    let a = c.process(JsValue::from_str("upsert"), event("known@example.com"), Some(JsValue::from_str("a")));
    let b = c.process(
        JsValue::from_str("upsert"),
        JSON::parse("{}").unwrap_or(JsValue::NULL),
        Some(JsValue::from_str("b")),
    );
    let b = outcomes(b).await;
    assert_eq!(get(&b.get(0), "eventId").as_string().as_deref(), Some("b"));
    assert_eq!(get(&b.get(0), "code").as_string().as_deref(), Some("MISSING_ATTRIBUTE"));
    let a = outcomes(a).await;
    assert_eq!(get(&a.get(0), "status").as_string().as_deref(), Some("skipped"));
    assert_eq!(get(&a.get(0), "code").as_string().as_deref(), Some("1005"));
}

#[wasm_bindgen_test]
async fn bad_credentials_become_outcomes_without_the_secret() {
    let c = Connector::new(settings("wrong-secret-value"), host()).map_err(|e| stringify(&e)).unwrap();
    let out = outcomes(c.process(JsValue::from_str("upsert"), event("x@example.com"), None)).await;
    let text = stringify(&out);
    assert!(text.contains(r#""status":"failed""#) && text.contains("AUTH_REJECTED"), "{text}");
    assert!(text.contains("Bad client credentials"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
}

#[wasm_bindgen_test]
async fn misuse_rejects_with_coded_errors() {
    let err = match Connector::new(JSON::parse(r#"{"clientId":"x"}"#).unwrap_or(JsValue::NULL), host()) {
        Err(e) => e,
        Ok(_) => panic!("settings without a secret were accepted"),
    };
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("INVALID_SETTINGS"));
    assert!(get(&err, "message").as_string().unwrap_or_default().contains("clientSecret"));

    let c = Connector::new(settings("right"), host()).map_err(|e| stringify(&e)).unwrap();
    let rejected = JsFuture::from(c.process(JsValue::from_str("nope"), event("a@b.c"), None)).await;
    let e = rejected.err().unwrap_or(JsValue::NULL);
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("UNKNOWN_ACTION"));

    let no_fetch = JSON::parse(r#"{"now":1}"#).unwrap_or(JsValue::NULL);
    let e = Connector::new(settings("right"), no_fetch).err().unwrap_or(JsValue::NULL);
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("INVALID_HOST"));
}

#[wasm_bindgen_test]
fn preview_shows_the_request_without_a_token() {
    let c = Connector::new(settings("right"), host()).map_err(|e| stringify(&e)).unwrap();
    let reqs =
        c.preview(JsValue::from_str("upsert"), event("p@example.com")).map_err(|e| stringify(&e)).unwrap();
    let text = stringify(&reqs);
    assert!(text.contains(r#""url":"https://123-ABC-123.mktorest.com/rest/v1/leads.json""#), "{text}");
    assert!(!text.contains("Bearer") && !text.contains("right"), "{text}");
}

#[wasm_bindgen_test]
async fn check_resolves_with_the_problems_it_found() {
    let settings = JSON::parse(
        r#"{"clientId":"cid","clientSecret":"right","endpointUrl":"https://123-ABC-123.mktorest.com/rest",
            "identityUrl":"https://123-ABC-123.mktorest.com/identity",
            "actions":[{"id":"upsert","type":"createOrUpdateLead","updateStrategy":"createOnly",
                        "leadData":[{"field":"email","source":{"attribute":"e"}},{"field":"Signup","source":{"attribute":"s"}}]}]}"#,
    )
    .unwrap_or(JsValue::NULL);
    let c = Connector::new(settings, host()).map_err(|e| stringify(&e)).unwrap();
    let result = JsFuture::from(c.check()).await.unwrap_or(JsValue::NULL);
    assert_eq!(
        stringify(&result),
        r#"{"ok":false,"problems":[{"actionId":"upsert","parameter":"leadData[1].field","code":"UNKNOWN_FIELD","message":"the instance has no lead field `Signup`; REST field names are case-sensitive and it has `signup`","suggestion":"signup"}]}"#
    );
}

/// Linear memory grows by at least a sixteenth of its size at a time (src/wasm/alloc.rs): every
/// grow makes V8 count the whole memory again as new external memory and collect the JS heap,
/// so growing one page at a time made `process()` slower the more events it held.
#[wasm_bindgen_test]
fn linear_memory_grows_geometrically() {
    use core::arch::wasm32::memory_size;
    let start = memory_size(0);
    let mut held: Vec<Vec<u8>> = Vec::new();
    let (mut grows, mut last) = (0, start);
    for i in 0..20_000u32 {
        held.push(vec![(i % 251) as u8; 2 * 1024]); // 40 MB in all, 2 KB at a time
        if memory_size(0) != last {
            grows += 1;
            last = memory_size(0);
        }
    }
    let needed = 20_000 * 2 * 1024 / (64 * 1024); // pages: 625
    assert!(grows <= 100, "{grows} grows for {needed} pages from {start} (a page at a time: about {needed})");
    assert!(last - start <= needed + needed / 8 + 64, "grew {} pages for {needed}", last - start);
    assert!(held.iter().enumerate().all(|(i, v)| v.len() == 2048 && v[2047] == (i % 251) as u8));
}

/// `Connector.restore` copies a snapshot into wasm 64 Ki UTF-16 units at a time (a 15 MB
/// snapshot with one non-ASCII character took 45 MB of wasm memory copied whole): a snapshot
/// longer than that, with non-ASCII text and a surrogate pair cut by a piece's end, restores to
/// the same events.
#[wasm_bindgen_test]
fn a_long_snapshot_with_a_surrogate_pair_across_a_piece_restores_whole() {
    use js_sys::JsString;
    for pad in ["Ü", "Üx"] {
        let email = format!("{pad}{}@example.com", "😀".repeat(40_000));
        let c = Connector::new(settings("right"), host()).map_err(|e| stringify(&e)).unwrap();
        let _ = c.process(JsValue::from_str("upsert"), event(&email), Some(JsValue::from_str("long")));
        let text = JsString::from(c.snapshot().map_err(|e| stringify(&e)).unwrap());
        let first = text.index_of("😀", 0);
        if first % 2 == 0 {
            continue; // the pair at unit 65,535 starts on an even unit: the other pad cuts it
        }
        let high = text.char_code_at(65_535);
        assert!((55_296.0..56_320.0).contains(&high), "unit 65,535 is a high surrogate ({high})");
        let back = Connector::restore(settings("right"), host(), text.clone().into())
            .map_err(|e| stringify(&e))
            .unwrap();
        let again = back.snapshot().map_err(|e| stringify(&e)).unwrap();
        // Each entry without its `key`: the engine's own number for the event, which a restore
        // draws again.
        let events = |t: &str| {
            let mut v: serde_json::Value = serde_json::from_str(t).unwrap_or_default();
            for e in v["events"].as_array_mut().into_iter().flatten() {
                e.as_object_mut().map(|e| e.remove("key"));
            }
            v["events"].clone()
        };
        let before = events(&String::from(text));
        assert_eq!(before[0]["event"]["data"]["udo"]["customer_email"], email.as_str());
        assert_eq!(events(&again), before, "the restored connector holds the same event");
        return;
    }
    panic!("neither pad put a surrogate pair across unit 65,535");
}

/// Random events made in JavaScript: strings (with non-ASCII, escapes, U+FFFD itself, half of a
/// character), numbers
/// of every kind (random bit patterns, integers around 2^53, 2^63 and 2^64, -0, NaN, ±Infinity),
/// booleans, `null`, `undefined`, functions, symbols, lists, `Date`s (valid and not), objects
/// with `toJSON`, class instances (getters on the prototype), objects without a prototype,
/// properties that are not enumerable, own `__proto__` keys and `String`, `Number` and `Boolean`
/// objects with keys of their own (JSON writes their primitive). Seeded: the same events every
/// run.
const MAKE_EVENTS: &str = r#"
  let seed = 20261130;
  const rnd = () => { // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const keys = ["a", "b", "email", "d.e", "ü", "", "0", "1", "toJSON", "__proto__"];
  // An own property, also `__proto__` (which `o[k] = v` would take as the prototype).
  const put = (o, k, v) => Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
  const bits = () => { const d = new DataView(new ArrayBuffer(8)); d.setUint32(0, rnd() * 2 ** 32); d.setUint32(4, rnd() * 2 ** 32); return d.getFloat64(0); };
  const numbers = () => pick([0, -0, 1, -7, 0.1, 123.456, 1e20, 1e21, 2 ** 53, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), -(2 ** 63) - 2048,
    2 ** 64, 2 ** 64 - 2048, 1.7976931348623157e308, 5e-324, NaN, Infinity, -Infinity, bits(), bits(),
    Math.round(rnd() * 2 ** 53) * pick([1, 1000, 2 ** 11, 2 ** 20]), -Math.round(rnd() * 2 ** 53) * 4096]);
  const strings = () => pick(["", "x", "Ümlaut & Söhne", "line\none", "\"q\" \\ /", "😀", "\u2028", "a\u0000b", "\ufffd", "2026-11-28T09:30:00Z", "cut \ud83d",
    "é".repeat(3000), "x".repeat(5000) + "ü"]);
  class Lead { constructor() { this.email = "own@example.com"; } get first() { return "from the prototype"; } }
  function value(depth) {
    const kinds = depth > 3 ? ["s", "n", "b", "null"] : ["s", "s", "n", "n", "b", "null", "undef", "fn", "sym", "list", "obj", "obj", "obj", "date", "badDate", "toJSON", "lead", "bare", "hidden", "boxed"];
    switch (pick(kinds)) {
      case "s": return strings();
      case "n": return numbers();
      case "b": return rnd() < 0.5;
      case "null": return null;
      case "undef": return undefined;
      case "fn": return () => 1;
      case "sym": return Symbol("s");
      case "list": return Array.from({ length: Math.floor(rnd() * 3) }, () => value(depth + 1));
      case "date": return new Date(Math.floor(rnd() * 2e12));
      case "badDate": return new Date(NaN);
      case "toJSON": { const inner = value(depth + 1); return { x: 1, toJSON() { return inner; } }; }
      case "lead": return new Lead();
      case "bare": { const o = Object.create(null); o.email = strings(); o.n = numbers(); return o; }
      case "hidden": { const o = { shown: strings() }; Object.defineProperty(o, "email", { value: "hidden", enumerable: false }); return o; }
      case "boxed": { const o = pick([new String("abc"), new Number(5), new Boolean(false)]); o.x = strings(); o.a = value(depth + 1); return o; }
      default: { const o = {}; for (let i = Math.floor(rnd() * 4); i > 0; i--) put(o, pick(keys), value(depth + 1)); return o; }
    }
  }
  const events = [];
  for (let i = 0; i < 3000; i++) {
    const e = {};
    for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) put(e, pick(keys), value(1));
    const paths = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(["a", "b", "email", "ü", "0", "1", "first", "shown", "n", "x", "__proto__"])).join("."));
    events.push([e, paths]);
  }
  return events;
"#;

/// An event whose values on the paths take more bytes than the reader's buffers start with
/// (4 KB in wasm, 1 KB in JavaScript), in ASCII and in 2-, 3- and 4-byte UTF-8: every value
/// arrives whole, the same as through its JSON text.
#[wasm_bindgen_test]
fn values_larger_than_the_reading_buffers_arrive_whole() {
    let event: JsValue = Function::new_no_args(
        r#"return { a: { b: "x".repeat(9000), c: "é".repeat(2000), d: ["€".repeat(700)], e: "😀".repeat(800) }, f: 1.5, g: "ü" };"#,
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let (from_object, from_text) =
        marketo_connector::wasm::read_event_both_ways(&["a.b", "a.c", "a.d", "a.e", "f", "g"], &event);
    let value = from_object.unwrap();
    assert_eq!(Ok(&value), from_text.as_ref());
    assert_eq!(value["a"]["b"].as_str().map(str::len), Some(9000));
    assert_eq!(value["a"]["c"].as_str().map(|s| s.chars().count()), Some(2000));
    assert_eq!(value["a"]["e"].as_str().map(|s| s.chars().count()), Some(800));
    assert_eq!(value["g"], "ü");
}

/// One action reads every event it is given through one reader, which puts each event's values
/// into its tree of the previous event: events of every shape in a row (the random events
/// below, through fixed paths) read as their JSON text reads, whatever came before.
#[wasm_bindgen_test]
fn one_reader_reading_events_of_every_shape_in_a_row_gives_what_their_json_text_gives() {
    let events: Array = Function::new_no_args(MAKE_EVENTS).call0(&JsValue::NULL).unwrap().unchecked_into();
    let events: Vec<JsValue> = events.iter().map(|pair| pair.unchecked_into::<Array>().get(0)).collect();
    for paths in [&["a", "b.email", "b.a.b", "email"][..], &["a.a", "a.b", "a.0", "ü.x", "1"], &["a", "a.b"]]
    {
        let mut compared = 0;
        for ((from_object, from_text), event) in
            marketo_connector::wasm::read_events_both_ways(paths, &events).iter().zip(&events)
        {
            let fault = |r: &Result<serde_json::Value, String>| {
                r.clone().map_err(|e| match e.find(" at `").or_else(|| e.find(", in `")) {
                    Some(at) if e.contains("half of a character") => e[..at].to_string(),
                    _ => e,
                })
            };
            assert_eq!(fault(from_object), fault(from_text), "paths {paths:?} of {}", stringify(event));
            assert_eq!(
                from_object.as_ref().map(ToString::to_string).ok(),
                from_text.as_ref().map(ToString::to_string).ok()
            );
            compared += usize::from(from_object.is_ok());
        }
        assert!(compared > 2_500, "{compared} events read through {paths:?}");
    }
}

/// `process()` reads an event from the JS object, one attribute path at a time; the engine
/// gets the same value it got when the whole event went through `JSON.stringify` and its text
/// was read through the paths (what is compared is the value each action's sources see).
#[wasm_bindgen_test]
fn reading_an_event_from_the_object_gives_what_its_json_text_gives() {
    let events: Array = Function::new_no_args(MAKE_EVENTS).call0(&JsValue::NULL).unwrap().unchecked_into();
    let mut compared = 0;
    for pair in events.iter() {
        let pair: Array = pair.unchecked_into();
        let event = pair.get(0);
        let paths: Vec<String> =
            pair.get(1).unchecked_into::<Array>().iter().filter_map(|p| p.as_string()).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let (from_object, from_text) = marketo_connector::wasm::read_event_both_ways(&paths, &event);
        // The same fault: reading from the object also says where half of a character is
        // (`… at \`a.b\``, `…, in \`a\``), which the whole event's text cannot.
        let fault = |r: &Result<serde_json::Value, String>| {
            r.clone().map_err(|e| match e.find(" at `").or_else(|| e.find(", in `")) {
                Some(at) if e.contains("half of a character") => e[..at].to_string(),
                _ => e,
            })
        };
        assert_eq!(fault(&from_object), fault(&from_text), "paths {paths:?} of {}", stringify(&event));
        // The same kind of number too (u64, i64 or f64): it is written back as it was read.
        assert_eq!(
            from_object.as_ref().map(ToString::to_string).ok(),
            from_text.as_ref().map(ToString::to_string).ok()
        );
        compared += usize::from(from_object.is_ok());
    }
    assert!(compared > 2_500, "{compared} events read");
}
