//! An event read through its action's paths (what the package's binding hands the engine:
//! `ActionConfig::reads` applied to the event's JSON text) gives every action the same calls,
//! or the same error, as the whole event: random events, each of the nine action types with
//! sources at nested keys, array indices, dotted key lists and whole objects.
#![cfg(not(target_arch = "wasm32"))]

use marketo_connector::core::engine::Engine;
use marketo_connector::core::Settings;
use marketo_connector_testkit::{settings, T0};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn actions() -> Value {
    let lead_data = json!([
        {"field": "email", "source": {"attribute": "a.email"}},
        {"field": "firstName", "source": {"attribute": ["a", "x.y"]}},
        {"field": "company", "source": {"attribute": "b.0.x"}},
        {"field": "signupDate", "source": {"attribute": "a.t"}, "type": "date"},
        {"field": "notes", "source": {"attribute": "c"}},
        {"field": "city", "source": {"value": "Lyon"}}
    ]);
    let lookup = json!({"filterType": "email", "source": {"attribute": "a.email"}});
    json!([
        {"id": "add", "type": "addLeadToList", "targetStaticList": 1001, "leadIdLookup": lookup},
        {"id": "addb", "type": "addLeadToListBatched", "targetStaticList": 1001, "targetLeadId": {"attribute": "a.id"}},
        {"id": "rm", "type": "removeLeadFromList", "targetStaticList": 1001, "targetLeadId": {"attribute": "b.1"}},
        {"id": "rmb", "type": "removeLeadFromListBatched", "targetStaticList": 1001, "leadIdLookup": lookup},
        {"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": 7, "targetLeadId": {"attribute": "a.id"},
         "tokens": [{"name": "{{my.a}}", "source": {"attribute": "c"}}, {"name": "{{my.b}}", "source": {"attribute": "a.x.y"}}]},
        {"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate", "leadData": lead_data},
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate", "leadData": lead_data},
        {"id": "merge", "type": "mergeLead", "winningLeadId": {"attribute": "a.id"}, "losingLeadIds": {"attribute": "l"}},
        {"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "leadData": lead_data}
    ])
}

const KEYS: &[&str] = &["a", "b", "c", "l", "email", "id", "x", "x.y", "t", "0", "1", "z"];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3000).prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        Just(json!("p1@example.com")),
        Just(json!("2026-11-28T09:30:00Z")),
        Just(json!("1001,1002")),
        "[a-z\"\\\\ é]{0,6}".prop_map(Value::String),
    ]
}

fn event() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(14),
        ..ProptestConfig::default()
    })]

    #[test]
    fn an_event_read_through_its_paths_gives_the_same_calls(event in event()) {
        let parsed = Settings::from_value(&settings(actions())).unwrap();
        let engine = Engine::new(parsed.clone(), 1, T0);
        let text = serde_json::to_string(&event).unwrap();
        for action in &parsed.actions {
            let read = action.reads.read(&text).unwrap();
            prop_assert_eq!(engine.preview(&action.id, &read), engine.preview(&action.id, &event), "action {}", action.id);
        }
    }
}

/// The same holds for the fixtures' real events: only the mapped values are kept.
#[test]
fn a_real_event_keeps_only_the_mapped_values() {
    let parsed = Settings::from_value(&settings(json!([
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate", "leadData": [
            {"field": "email", "source": {"attribute": "data.udo.customer_email"}},
            {"field": "firstName", "source": {"attribute": "data.udo.customer_first_name"}}]}
    ])))
    .unwrap();
    let text = marketo_connector_testkit::EVENTSTREAM;
    let read = parsed.actions[0].reads.read(text).unwrap();
    let full: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        read,
        json!({"data": {"udo": {"customer_email": full["data"]["udo"]["customer_email"],
                                "customer_first_name": full["data"]["udo"]["customer_first_name"]}}})
    );
    let engine = Engine::new(parsed.clone(), 1, T0);
    assert_eq!(engine.preview("upb", &read), engine.preview("upb", &full));
}

/// A connector restored under settings that read another index of a list the old settings read
/// part of: an event kept as its text keeps the list whole, so the new index reads its real
/// value (it was once kept as `[null, "ONE"]`, and the restored upsert sent `firstName: null`,
/// clearing the field). An event kept only as its lead record (a batched upsert's) holds the
/// index it read as an object key: the new index reads nothing, and the field is left out,
/// never sent as `null`.
#[test]
fn a_restore_under_new_settings_reads_the_list_the_old_ones_went_into() {
    use marketo_connector::core::snapshot::Snapshot;
    use marketo_connector_testkit::{body_json, Driver, Input, SEED};
    for (kind, sent) in [
        ("createOrUpdateLead", json!([{"email": "i1@example.com", "firstName": "ZERO"}])),
        ("createOrUpdateLeadBatched", json!([{"email": "i1@example.com"}])),
    ] {
        let action = |first: &str| {
            settings(json!([{"id": "b", "type": kind, "updateStrategy": "createOrUpdate",
                "leadData": [{"field": "email", "source": {"attribute": "email"}},
                             {"field": "firstName", "source": {"attribute": first}}]}]))
        };
        let mut old = Driver::new(action("items.1"));
        old.event_with_id("b", &json!({"email": "i1@example.com", "items": ["ZERO", "ONE"], "x": 1}), "i1");
        let snap = Snapshot::parse(&old.snapshot_text()).unwrap();
        assert!(!snap.events[0].event.get().contains("\"x\""), "unread attributes are not kept");

        let mut new = Driver::new(action("items.0"));
        new.restore_from(&snap, SEED + 1);
        new.input(Input::Flush).unwrap();
        new.answer_all();
        let sync = new.sent.iter().find(|r| r.url.ends_with("/v1/leads.json"));
        let sync = sync.unwrap_or_else(|| panic!("{kind}: no Sync Leads call; outcomes {:?}", new.outcomes));
        assert_eq!(body_json(sync)["input"], sent, "{kind}");
    }
}
