//! Issue 14: a queued upsert, bulk row or list add by lookup is kept only as its record, CSV row
//! or lookup value, not also as its event's text, and a snapshot writes the event back from that
//! item. The property: with the
//! same settings, a restored connector sends byte for byte what the first would have sent, for
//! any event values (every JSON type, text that needs CSV quoting, dates in any form, values a
//! field's type converts or cuts), whether the snapshot is taken while the events wait in their
//! queue or while their call is in flight.
#![cfg(not(target_arch = "wasm32"))]

use marketo_connector::core::{HttpRequest, Method, Status};
use marketo_connector_testkit::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The mapping both actions use: plain, typed and schema-converted fields, a nested path, a
/// literal and a field whose text Marketo limits to 8 characters (`onTooLong: "truncate"`).
fn lead_data() -> Value {
    json!([
        {"field": "email", "source": {"attribute": "email"}},
        {"field": "firstName", "source": {"attribute": "first"}},
        {"field": "leadScore", "source": {"attribute": "score"}},
        {"field": "signupDate", "source": {"attribute": ["when", "signed.up"]}, "type": "date"},
        {"field": "optIn", "source": {"attribute": "opt"}},
        {"field": "shortNote", "source": {"attribute": "note"}},
        {"field": "annualRevenue", "source": {"attribute": "revenue"}},
        {"field": "city", "source": {"attribute": "address.1.city"}},
        {"field": "leadSource", "source": {"value": "web"}}
    ])
}

fn host() -> Driver {
    host_with("truncate")
}

/// [`host`] with `onTooLong` set to `on_too_long`.
fn host_with(on_too_long: &str) -> Driver {
    let mut s = settings(json!([
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate", "leadData": lead_data()},
        {"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "leadData": lead_data()},
        {"id": "addb", "type": "addLeadToListBatched", "targetStaticList": 1001,
         "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}}
    ]));
    s["onTooLong"] = json!(on_too_long);
    let mut h = Driver::new(s);
    for (name, kind, length) in [
        ("signupDate", "date", None),
        ("optIn", "boolean", None),
        ("shortNote", "string", Some(8)),
        ("city", "string", Some(255)),
    ] {
        h.fake.fields.push((name.into(), kind.into(), length, true, false));
    }
    // The list adds' leads exist, whichever call reaches Marketo first.
    for email in ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "\u{feff}a@x.io"] {
        h.fake.add_lead(json!({"email": email}));
    }
    h
}

/// Each event's values: some absent, each of any JSON type.
fn value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<bool>().prop_map(|b| Some(json!(b))),
        any::<i64>().prop_map(|n| Some(json!(n))),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| Some(json!(f))),
        "[a-z ,\"\r\nÜ東🚀0-9.:+-]{0,14}".prop_map(|s| Some(json!(s))),
        prop::sample::select(vec![
            "2026-11-28",
            "2026-11-28T09:30:00Z",
            "2026-11-28T09:30:00+02:00",
            "true",
            "no",
            "12.30",
            "1e21",
            "  7 ",
        ])
        .prop_map(|s| Some(json!(s))),
        Just(Some(json!([1, "a,b", {"k": null}]))),
        Just(Some(json!({"nested": "x\"y"}))),
    ]
}

fn event() -> impl Strategy<Value = Value> {
    // U+FEFF first: the first CSV cell, which a reader would drop as a byte-order mark.
    let emails = prop::sample::select(vec!["a@x.io", " B@X.io ", "c@x.io", "d@x.io", "\u{feff}a@x.io"]);
    (emails, value(), value(), value(), value(), value(), value(), value()).prop_map(
        |(email, first, score, when, opt, note, revenue, city)| {
            let mut e = json!({"email": email, "address": [{"city": "zero"}, {}], "when": {}});
            for (v, key) in
                [(first, "first"), (score, "score"), (opt, "opt"), (note, "note"), (revenue, "revenue")]
            {
                if let Some(v) = v {
                    e[key] = v;
                }
            }
            if let Some(when) = when {
                e["when"]["signed.up"] = when;
            }
            if let Some(city) = city {
                e["address"][1]["city"] = city;
            }
            e
        },
    )
}

/// A request's body as text, its multipart boundary (drawn per file) replaced by `B`.
fn body_of(r: &HttpRequest) -> String {
    let text = match &r.body {
        Some(body) => String::from_utf8_lossy(&body.bytes()).into_owned(),
        None => String::new(),
    };
    let boundary = r
        .headers
        .iter()
        .find_map(|(k, v)| v.strip_prefix("multipart/form-data; boundary=").filter(|_| k == "Content-Type"));
    match boundary {
        Some(b) => text.replace(b, "B"),
        None => text,
    }
}

/// The Sync Leads and bulk upload bodies, lookups (their URL) and list calls sent, in order.
fn deliveries(h: &Driver) -> Vec<String> {
    h.rest_sent()
        .into_iter()
        .filter(|r| r.url.contains("/v1/leads.json") || r.url.contains("/v1/lists/"))
        .map(|r| match r.method {
            Method::Get => r.url.clone(),
            _ => format!("{} {}", r.url, body_of(r)),
        })
        .collect()
}

/// What a run left: the Sync Leads and bulk upload bodies Marketo received for the events
/// (after the restart, if any), each event's final status, and the leads in Marketo (by email,
/// without ids and timestamps).
struct Ran {
    bodies: Vec<String>,
    statuses: Vec<(String, Status)>,
    leads: Vec<(String, Value)>,
    /// The emails of the static list's members.
    members: Vec<String>,
}

/// Sends `events` to both actions after the lead schema is read (the bulk rows for leads of
/// their own, `bulk.` before the email); `restart` restores from a snapshot taken with the
/// events queued (`Some(false)`) or their calls in flight (`Some(true)`).
fn run(events: &[Value], restart: Option<bool>) -> Ran {
    let mut h = host();
    // The schema is read first, so events are formatted on arrival and kept only as items.
    h.process("warm", "upb", json!({"email": "warm@x.io"}));
    h.flush();
    h.run_until_idle();
    for (i, e) in events.iter().enumerate() {
        h.process(&format!("u{i}"), "upb", e.clone());
        let mut row = e.clone();
        let email = e["email"].as_str().unwrap_or_default();
        // A U+FEFF stays first: the row's first cell begins with it.
        row["email"] = json!(match email.strip_prefix('\u{feff}') {
            Some(rest) => format!("\u{feff}bulk.{rest}"),
            None => format!("bulk.{email}"),
        });
        h.process(&format!("b{i}"), "bulk", row);
        h.process(&format!("l{i}"), "addb", e.clone());
    }
    let mut from = deliveries(&h).len();
    if let Some(in_flight) = restart {
        if in_flight {
            h.flush();
        }
        from = deliveries(&h).len();
        h.restore(7);
    }
    h.flush();
    h.run_until_idle();
    let mut statuses: Vec<(String, Status)> =
        h.outcomes.iter().filter(|o| o.event_id != "warm").map(|o| (o.event_id.clone(), o.status)).collect();
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    let mut leads: Vec<(String, Value)> = h
        .fake
        .leads
        .iter()
        .map(|l| {
            let mut fields = l.fields.clone();
            for gone in ["id", "createdAt", "updatedAt"] {
                fields.remove(gone);
            }
            (
                l.fields.get("email").and_then(Value::as_str).unwrap_or_default().to_lowercase(),
                Value::Object(fields),
            )
        })
        .collect();
    leads.sort_by(|a, b| a.0.cmp(&b.0));
    let mut members: Vec<String> = h
        .fake
        .members(1001)
        .into_iter()
        .filter_map(|id| h.fake.leads.iter().find(|l| l.id == id))
        .filter_map(|l| l.fields.get("email").and_then(Value::as_str).map(str::to_lowercase))
        .collect();
    members.sort();
    Ran { bodies: deliveries(&h).split_off(from), statuses, leads, members }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn a_restored_connector_sends_what_the_first_would_have(
        events in prop::collection::vec(event(), 1..12),
        in_flight in any::<bool>(),
    ) {
        let first = run(&events, None);
        let restored = run(&events, Some(in_flight));
        prop_assert_eq!(&restored.statuses, &first.statuses);
        prop_assert_eq!(&restored.leads, &first.leads);
        prop_assert_eq!(&restored.members, &first.members);
        // Not vacuous: each run looks its list adds' emails up, and adds a lead to the list.
        prop_assert!(first.bodies.iter().any(|b| b.contains("filterType=email")));
        prop_assert!(!first.members.is_empty());
        if !in_flight {
            // Restored from the queue: the same calls, byte for byte.
            prop_assert_eq!(restored.bodies, first.bodies);
        }
    }
}

/// An upsert's outcome as compared between runs: its id, status, code and, unless it failed,
/// its message (a value cut to fit its field is noted there).
type Told = (String, Status, Option<String>, Option<String>);

/// Sends `events` to the batched upsert alone, after the lead schema is read (`before: false`:
/// each is formatted on arrival) or before (`before: true`: each waits as its record made
/// without the schema, formatted from that record once the schema is read); `restart` restores
/// from a snapshot taken while they wait. The Sync Leads bodies sent for them and their outcomes.
fn upserts(events: &[Value], on_too_long: &str, before: bool, restart: bool) -> (Vec<String>, Vec<Told>) {
    let mut h = host_with(on_too_long);
    if !before {
        h.process("warm", "upb", json!({"email": "warm@x.io"}));
        h.flush();
        h.run_until_idle();
    }
    let from = deliveries(&h).len();
    for (i, e) in events.iter().enumerate() {
        h.process(&format!("u{i}"), "upb", e.clone());
    }
    assert_eq!(deliveries(&h).len(), from, "the events wait in their queue");
    if restart {
        h.restore(7);
    }
    h.flush();
    h.run_until_idle();
    assert!(h.describe_sent().len() <= 1, "the schema is read once at most");
    let mut told: Vec<Told> = h
        .outcomes
        .iter()
        .filter(|o| o.event_id != "warm")
        // A failure's message names the first field that failed: on arrival before the schema
        // is read, that is the first one the configured `type` refuses, later ones the schema
        // refuses are found only after it (as before records were formatted from themselves).
        .map(|o| {
            let message = o.message.clone().filter(|_| o.status != Status::Failed);
            (o.event_id.clone(), o.status, o.code.clone(), message)
        })
        .collect();
    told.sort_by(|a, b| a.0.cmp(&b.0));
    (deliveries(&h).split_off(from), told)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Events queued before the schema is read are kept only as their record made without it
    /// (not also as their text) and formatted from it when their batch goes out: Marketo receives
    /// the same records, and each event the same outcome (the same failure for a value its
    /// field's type refuses or that is too long, the same note for one cut), as when the schema
    /// was read first; through a snapshot of the queue too.
    #[test]
    fn upserts_queued_before_the_schema_is_read_are_sent_as_if_it_had_been(
        events in prop::collection::vec(event(), 1..12),
        fail in any::<bool>(),
        restart in any::<bool>(),
    ) {
        let on_too_long = if fail { "fail" } else { "truncate" };
        // Also without the `type: "date"` field, whose value is always formatted again: the
        // records whose values may all be sent as written.
        let undated: Vec<Value> = events.iter().cloned().map(|mut e| { e["when"] = json!({}); e }).collect();
        for events in [&events, &undated] {
            let (after_bodies, after) = upserts(events, on_too_long, false, false);
            let (bodies, told) = upserts(events, on_too_long, true, restart);
            prop_assert_eq!(&told, &after);
            prop_assert_eq!(bodies, after_bodies);
            prop_assert_eq!(told.len(), events.len());
        }
    }
}

/// An email lookup value is trimmed before its length is checked (the value sent is trimmed),
/// whether the event arrived before or after the schema was read, in an upsert record and a
/// bulk row: 255 characters with white space around them fit the `email` field's 255.
#[test]
fn a_padded_email_lookup_is_measured_as_sent() {
    let email = format!("{}@x.io", "e".repeat(250));
    assert_eq!(email.chars().count(), 255);
    for before in [false, true] {
        let (bodies, told) = upserts(&[json!({"email": format!("  {email} ")})], "fail", before, false);
        assert_eq!(told[0].1, Status::Delivered, "before the schema: {before}; {told:?}");
        assert!(bodies.iter().any(|b| b.contains(&format!("{{\"email\":\"{email}\""))), "{bodies:?}");
    }
    // A bulk row's too (its cell is written trimmed).
    let mut h = host_with("fail");
    h.process("b", "bulk", json!({"email": format!("  {email} ")}));
    h.flush();
    h.run_until_idle();
    assert_eq!(h.outcome_json("b")["status"], "delivered", "{:?}", h.outcomes);
    assert!(deliveries(&h).iter().any(|b| b.contains(&format!("\r\n{email},"))), "{:?}", deliveries(&h));
}

/// The snapshot of a queued upsert, bulk row and list add holds their values at their paths, as
/// the records hold them (a date as sent, a bulk cell as text, the lookup value trimmed), not
/// the rest of the event.
#[test]
fn a_snapshot_writes_a_queued_event_from_its_record_its_row_and_its_lookup() {
    let mut h = host();
    h.process("warm", "upb", json!({"email": "warm@x.io"}));
    h.flush();
    h.run_until_idle();
    let e = json!({"email": "a@x.io", "first": "Jane", "score": 7, "when": {"signed.up": "2026-11-28T09:30:00Z"},
                   "opt": true, "note": "a long note", "unread": "not kept", "address": [{}, {"city": "Lyon"}]});
    h.process("u", "upb", e.clone());
    h.process("b", "bulk", e.clone());
    let mut spaced = e;
    spaced["email"] = json!("  A@x.io ");
    h.process("l", "addb", spaced);
    let snap: Value = serde_json::from_str(&h.snapshot_text()).unwrap();
    let events: Vec<&Value> = snap["events"].as_array().unwrap().iter().map(|e| &e["event"]).collect();
    assert_eq!(
        events,
        [
            &json!({"email": "a@x.io", "first": "Jane", "score": 7, "when": {"signed.up": "2026-11-28"}, "opt": true,
                    "note": "a long n", "address": {"1": {"city": "Lyon"}}}),
            // An empty cell (`revenue`, absent) is left out, which writes it again (and leaves
            // the field unchanged under any action type); a number's text as the number.
            &json!({"email": "a@x.io", "first": "Jane", "score": 7, "when": {"signed.up": "2026-11-28"}, "opt": "true",
                    "note": "a long n", "address": {"1": {"city": "Lyon"}}}),
            // The value looked up, as Marketo is asked for it.
            &json!({"email": "A@x.io"}),
        ]
    );
}

/// Upserts queued before the schema is read whose values need nothing changed are sent as they
/// were written; those the schema changes (a note over its field's 8 characters, also written
/// with escapes, a number for a text field, a date) are formatted, whatever else they hold:
/// the same bodies and notes as with the schema read first.
#[test]
fn a_record_the_schema_changes_is_formatted_one_it_does_not_is_sent_as_written() {
    let events = [
        json!({"email": "a@x.io", "first": "Jane", "opt": true, "note": "short", "address": [{}, {"city": "Lyon"}]}),
        json!({"email": "b@x.io", "first": "Joe", "note": "far too long a note"}),
        json!({"email": "c@x.io", "note": "tab\there\"q\" and more"}),
        json!({"email": "d@x.io", "note": "short", "address": [{}, {"city": 75001}]}),
        json!({"email": "a@x.io", "opt": "true", "score": 7}),
    ];
    for on_too_long in ["truncate", "fail"] {
        let (after_bodies, after) = upserts(&events, on_too_long, false, false);
        let (bodies, told) = upserts(&events, on_too_long, true, false);
        assert_eq!(told, after, "{on_too_long}");
        assert_eq!(bodies, after_bodies, "{on_too_long}");
    }
    let (bodies, told) = upserts(&events, "truncate", true, false);
    let body = bodies.concat();
    assert!(body.contains(r#""shortNote":"far too ""#), "{body}");
    assert!(body.contains(r#""shortNote":"tab\there""#), "{body}");
    assert!(body.contains(r#""city":"75001""#), "{body}");
    assert!(body.contains(r#""optIn":true"#), "{body}");
    let truncated: Vec<&str> =
        told.iter().filter(|t| t.2.as_deref() == Some("TRUNCATED")).map(|t| t.0.as_str()).collect();
    assert_eq!(truncated, ["u1", "u2"], "{told:?}");
}
