//! Every call the benchmarks make into the core, in one place: when the engine's API changes
//! (inputs, outputs, snapshot), this file is the one to edit. The benches themselves only see
//! [`Connector`], [`event`] and the action configurations.
//!
//! The engine is driven the way the package drives it (src/wasm/): an event in, then the
//! requests and outcomes it produced drained. Requests are never answered during a measurement
//! (no batch is due, or calls stay in flight), except in [`Connector::new`], which answers the
//! identity call and the lead schema read (describe2) so the measured events are formatted with
//! the schema known, as they are in a running connector.

use marketo_connector::core::snapshot::Snapshot;
use marketo_connector::core::{Engine, Input, Millis, Output, Settings};
use serde_json::{json, Value};

/// Virtual time: 2025-11-28T12:00:00Z. Never moves, so no batch grows old.
pub const T0: Millis = 1_764_331_200_000;
const SEED: u64 = 1;

/// The EventStream fixture (the repository's one copy of the sample event).
const EVENTSTREAM: &str = include_str!("../../fixtures/eventstream-event.json");

/// The `i`-th benchmark event: the fixture with its own email and the fields the 10-field
/// mapping reads (a city, a country, a phone, a date).
pub fn event(i: usize) -> Value {
    let mut e: Value = serde_json::from_str(EVENTSTREAM).expect("fixture is JSON");
    let udo = &mut e["data"]["udo"];
    udo["customer_email"] = json!(format!("p{i}@example.com"));
    udo["city"] = json!("Lyon");
    udo["country"] = json!("FR");
    udo["phone"] = json!("+33 1 23 45 67 89");
    udo["signup_date"] = json!("2026-11-28T09:30:00Z");
    e
}

/// The 10 mapped fields of issue 14 (9 attributes and a date), as host-example/bench/package.mjs
/// maps them.
fn ten_fields() -> Value {
    let mut fields: Vec<Value> = [
        ("email", "data.udo.customer_email"),
        ("firstName", "data.udo.customer_first_name"),
        ("lastName", "data.udo.customer_last_name"),
        ("company", "data.udo.company"),
        ("orderTotal", "data.udo.order_total"),
        ("notes", "data.udo.notes"),
        ("city", "data.udo.city"),
        ("country", "data.udo.country"),
        ("phone", "data.udo.phone"),
    ]
    .iter()
    .map(|(field, attribute)| json!({"field": field, "source": {"attribute": attribute}}))
    .collect();
    fields.push(
        json!({"field": "signupDate", "source": {"attribute": "data.udo.signup_date"}, "type": "date"}),
    );
    Value::Array(fields)
}

/// `createOrUpdateLeadBatched` with the 10 fields, id `upb`.
pub fn upsert_batched() -> Value {
    json!({"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate", "leadData": ten_fields()})
}

/// `createOrUpdateLead` (one call per event) with 3 fields, id `up`.
pub fn upsert() -> Value {
    let three: Vec<Value> = ten_fields().as_array().expect("array")[..3].to_vec();
    json!({"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate", "leadData": three})
}

/// `addLeadToListBatched` looking the lead up by email, id `addb`.
pub fn list_add_by_email() -> Value {
    json!({"id": "addb", "type": "addLeadToListBatched", "targetStaticList": 1001,
           "leadIdLookup": {"filterType": "email", "source": {"attribute": "data.udo.customer_email"}}})
}

/// `bulkImportLeads` with the 10 fields, looked up by email, id `bulk`.
pub fn bulk_import() -> Value {
    json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "leadData": ten_fields()})
}

fn settings(actions: &[Value]) -> Settings {
    Settings::from_value(&json!({
        "clientId": "bench", "clientSecret": "bench-secret",
        "endpointUrl": "https://123-ABC-123.mktorest.com/rest",
        "identityUrl": "https://123-ABC-123.mktorest.com/identity",
        "limits": {"callsPer20s": 100, "concurrency": 10},
        "actions": actions,
    }))
    .expect("benchmark settings are valid")
}

/// The lead schema Marketo's describe2 gives for the mapped fields.
fn describe2() -> String {
    let fields: Vec<Value> = [
        ("email", "email"),
        ("firstName", "string"),
        ("lastName", "string"),
        ("company", "string"),
        ("orderTotal", "currency"),
        ("notes", "text"),
        ("city", "string"),
        ("country", "string"),
        ("phone", "phone"),
        ("signupDate", "date"),
    ]
    .iter()
    .map(|(name, t)| {
        let mut f = json!({"name": name, "displayName": name, "dataType": t, "updateable": true, "crmManaged": false});
        if matches!(*t, "string" | "email" | "phone") {
            f["length"] = json!(255);
        }
        f
    })
    .collect();
    json!({"requestId": "b#1", "success": true,
           "result": [{"name": "API Lead", "searchableFields": [["email"]], "fields": fields}]})
    .to_string()
}

/// An engine with the actions configured, as a running connector holds it.
pub struct Connector {
    engine: Engine,
    actions: Vec<Value>,
    next: u64,
}

impl Connector {
    /// A connector with these actions whose identity call and schema read are answered (one
    /// warm-up event per action that needs the schema stays queued).
    pub fn new(actions: &[Value]) -> Connector {
        let mut c = Connector {
            engine: Engine::new(settings(actions), SEED, T0),
            actions: actions.to_vec(),
            next: 0,
        };
        for a in actions {
            let id = a["id"].as_str().expect("action id");
            c.process(id, &event(usize::MAX / 2));
            c.answer_setup();
        }
        c
    }

    /// Answers the identity call and the schema read; other requests stay in flight.
    fn answer_setup(&mut self) {
        for _ in 0..4 {
            let mut answers = Vec::new();
            loop {
                let req = match self.engine.poll_output() {
                    Output::Request(req) => req,
                    Output::Timeout(_) => break,
                    _ => continue,
                };
                if req.url.contains("/identity/") {
                    let token =
                        r#"{"access_token":"t:ab","token_type":"bearer","expires_in":3600,"scope":"s"}"#;
                    answers.push((req.id, token.to_string()));
                } else if req.url.contains("/leads/describe2.json") {
                    answers.push((req.id, describe2()));
                }
            }
            if answers.is_empty() {
                break;
            }
            for (id, body) in answers {
                let answer = Input::Response { id, status: 200, body: &body };
                let _ = self.engine.handle_input(T0, answer).expect("a request the engine sent");
            }
        }
    }

    /// Hands one event to `action` and drains what it produced (requests are left unanswered,
    /// as calls in flight). What `Connector.process()` does in the package, minus the JS
    /// boundary.
    pub fn process(&mut self, action: &str, event: &Value) {
        self.next += 1;
        let id = format!("e{}", self.next);
        let input = Input::Event { action_id: action, event, event_id: Some(&id) };
        let key = self.engine.handle_input(T0, input);
        let _ = std::hint::black_box(key.expect("a configured action"));
        loop {
            match self.engine.poll_output() {
                Output::Timeout(at) => {
                    std::hint::black_box(at);
                    break;
                }
                other => {
                    std::hint::black_box(&other);
                }
            }
        }
    }

    /// Events without a final outcome.
    pub fn pending(&self) -> usize {
        self.engine.pending_events()
    }

    /// `Connector.snapshot()`: the pending state as the text a host stores.
    pub fn snapshot(&self) -> String {
        self.engine.snapshot().to_json().expect("snapshots serialize")
    }

    /// `Connector.restore()` from that text, with the same actions.
    pub fn restore(&self, text: &str) -> Connector {
        let snap = Snapshot::parse(text).expect("a snapshot this engine wrote");
        Connector {
            engine: Engine::restore(settings(&self.actions), SEED + 1, T0, snap),
            actions: self.actions.clone(),
            next: self.next,
        }
    }
}
