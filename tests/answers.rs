//! Answers without a code or message (issue 9, case 5): every failed or skipped outcome carries
//! a `code` and a `message` that says what Marketo answered, whatever shape `errors` has.

use marketo_connector::core::Status;
use marketo_connector_testkit::*;
use serde_json::{json, Value};

fn upsert_harness() -> Driver {
    Driver::new(settings(
        json!([{"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
        "leadData": [{"field": "email", "source": {"attribute": "email"}}]}]),
    ))
}

/// The outcome of one upsert whose Sync Leads call Marketo answers with `body`.
fn outcome_for(body: Value) -> Value {
    let mut h = upsert_harness();
    h.fake.script.push_back(Reply::ok(body));
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    h.assert_all_final();
    h.outcome_json(&id)
}

#[test]
fn an_error_with_null_code_and_message_fails_with_both() {
    let o = outcome_for(
        json!({"requestId": "r#1", "success": false, "errors": [{"code": null, "message": null}]}),
    );
    assert_eq!(
        o,
        json!({"eventId": "ev-1", "actionId": "upsert", "status": "failed", "code": "UNKNOWN_ERROR",
               "message": "Marketo sent an error without a code or message: {\"code\":null,\"message\":null}",
               "requestId": "r#1"})
    );
}

#[test]
fn errors_that_are_not_a_list_or_absent_still_say_what_marketo_answered() {
    for (errors, message) in [
        (
            Some(json!("Daily quota reached")),
            "Marketo answered success:false with errors that are not a list: \"Daily quota reached\"",
        ),
        (
            Some(json!({"code": 1003})),
            "Marketo answered success:false with errors that are not a list: {\"code\":1003}",
        ),
        (None, "Marketo answered success:false without errors"),
        (Some(json!([])), "Marketo answered success:false with an empty errors list"),
    ] {
        let mut body = json!({"requestId": "r#2", "success": false});
        if let Some(e) = errors {
            body["errors"] = e;
        }
        let o = outcome_for(body);
        assert_eq!(o["status"], "failed");
        assert_eq!(o["code"], "UNKNOWN_ERROR");
        assert_eq!(o["message"], message);
    }
}

#[test]
fn a_known_code_without_a_message_gets_marketos_meaning() {
    let o = outcome_for(json!({"success": false, "errors": [{"code": 1003}]}));
    assert_eq!(
        (o["code"].as_str(), o["message"].as_str()),
        (Some("1003"), Some("Invalid data (Marketo sent code 1003 without a message)"))
    );
}

#[test]
fn a_skipped_record_without_reasons_has_a_code_and_message() {
    for result in
        [json!([{"status": "skipped"}]), json!([{"status": "skipped", "reasons": [{"code": null}]}])]
    {
        let o = outcome_for(json!({"requestId": "r#3", "success": true, "result": result}));
        assert_eq!(o["status"], "skipped");
        assert_eq!(o["code"], "UNKNOWN_ERROR", "{o}");
        assert!(o["message"].as_str().is_some_and(|m| !m.is_empty()), "{o}");
    }
    let mut h = upsert_harness();
    h.fake.script.push_back(Reply::ok(json!({"success": true, "result": [{"status": "skipped"}]})));
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    assert_eq!(h.outcome(&id).status, Status::Skipped);
}
