//! Events that are not plain JSON (issue 9, case 7): the host hands the engine `why` (cyclic,
//! a BigInt, a getter that throws, nested past the limit), and the event fails at once with
//! "the event must be a JSON object: …" (`INVALID_EVENT`), exactly one outcome, nothing sent.
//! (host-example/test/field-faults.test.mjs checks the JavaScript side finds each case.)

use marketo_connector::core::{Status, UsageError};
use marketo_connector_testkit::*;
use serde_json::json;

#[test]
fn an_unreadable_event_fails_at_once_saying_why() {
    let mut h = Driver::new(settings(json!([{"id": "upsert", "type": "createOrUpdateLead",
        "updateStrategy": "createOrUpdate", "leadData": [{"field": "email", "source": {"attribute": "email"}}]}])));
    h.unreadable_event(
        "upsert",
        "it is cyclic: `a.self` refers back to an object that contains it",
        Some("e1"),
    )
    .expect("known action");
    h.run_until_idle();
    h.assert_all_final();
    let o = h.outcome("e1");
    assert_eq!((o.status, o.code.as_deref()), (Status::Failed, Some("INVALID_EVENT")));
    assert_eq!(
        o.message.as_deref(),
        Some("the event must be a JSON object: it is cyclic: `a.self` refers back to an object that contains it")
    );
    assert!(h.sent.is_empty());
    assert!(h.engine.snapshot().events.is_empty());
    assert_eq!(
        h.unreadable_event("nope", "it holds a BigInt", None),
        Err(UsageError::UnknownAction("nope".into()))
    );
}

#[test]
fn an_event_that_is_json_but_not_an_object_says_what_it_is() {
    let upsert = json!({"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
        "leadData": [{"field": "email", "source": {"attribute": "email"}}]});
    let list = json!({"id": "add", "type": "addLeadToList", "targetStaticList": 1001,
        "targetLeadId": {"attribute": "id"}});
    let mut h = Driver::new(settings(json!([upsert, list])));
    let cases = [
        (json!("{\"email\":\"a@example.com\"}"), "a string (JSON text must be parsed first)"),
        (json!([{"email": "a@example.com"}]), "an array (give its events one by one)"),
        (json!(7), "a number"),
        (json!(null), "null"),
    ];
    for (i, (event, what)) in cases.iter().enumerate() {
        for action in ["upsert", "add"] {
            let id = h.event(action, event);
            h.run_until_idle();
            let o = h.outcome(&id);
            assert_eq!((o.status, o.code.as_deref()), (Status::Failed, Some("INVALID_EVENT")), "case {i}");
            assert_eq!(
                o.message.as_deref(),
                Some(format!("the event must be a JSON object: it is {what}").as_str())
            );
        }
    }
    assert!(h.rest_sent().is_empty(), "nothing sent for them");
}
