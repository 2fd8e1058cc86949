//! Dates as pipelines write them, and numbers that are not finite (issue 9, case 1): the exact
//! value Marketo receives for each form, and the event failing (never a different date, never
//! `null`) for a value that is not a date or not a finite number, in every place a mapped value
//! goes: lead fields, campaign tokens, bulk cells, ids.

use marketo_connector::core::source::non_finite_marker;
use marketo_connector::core::Status;
use marketo_connector_testkit::*;
use serde_json::{json, Value};

fn upsert_harness() -> Driver {
    Driver::new(settings(
        json!([{"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
        "leadData": [{"field": "email", "source": {"attribute": "email"}},
                     {"field": "score", "source": {"attribute": "score"}},
                     {"field": "birthDate", "source": {"attribute": "born"}, "type": "date"}]}]),
    ))
}

/// The Sync Leads record Marketo receives for one event, or the event's failed outcome.
fn sent_record(event: Value) -> Result<Value, Value> {
    let mut h = upsert_harness();
    let id = h.event("upsert", &event);
    h.run_until_idle();
    h.assert_all_final();
    match h.rest_sent().first() {
        Some(req) => Ok(body_json(req)["input"][0].clone()),
        None => Err(h.outcome_json(&id)),
    }
}

#[test]
fn marketo_export_dates_basic_dates_and_offsets_reach_marketo_as_utc() {
    for (born, expected) in [
        (json!("2013-09-26T06:56:35+0000"), "2013-09-26T06:56:35Z"),
        (json!("2013-09-26 01:56:35-05"), "2013-09-26T06:56:35Z"),
        (json!("2013-09-26T08:56+02:00"), "2013-09-26T06:56:00Z"),
        (json!("20130926T065635Z"), "2013-09-26T06:56:35Z"),
        (json!("19900517"), "1990-05-17T00:00:00Z"),
        (json!("Thu, 26 Sep 2013 06:56:35 +0000"), "2013-09-26T06:56:35Z"),
        (json!(1_380_178_595_000u64), "2013-09-26T06:56:35Z"),
        (json!("1380178595"), "2013-09-26T06:56:35Z"),
    ] {
        let record = sent_record(json!({"email": "a@example.com", "born": born})).expect("sent");
        assert_eq!(record["birthDate"], expected, "{born}");
    }
}

#[test]
fn a_value_that_is_not_a_date_fails_the_event_naming_the_form() {
    let o = sent_record(json!({"email": "a@example.com", "born": "19901317"})).unwrap_err();
    assert_eq!(o["status"], "failed");
    assert_eq!(o["code"], "INVALID_VALUE");
    let m = o["message"].as_str().unwrap_or("");
    assert!(m.contains("birthDate") && m.contains("YYYYMMDD date with month 13"), "{m}");
}

#[test]
fn nan_and_infinity_fail_the_event_instead_of_clearing_the_field() {
    for (event, field, what) in [
        (json!({"email": "a@example.com", "score": non_finite_marker("NaN")}), "score", "NaN"),
        (json!({"email": "a@example.com", "born": non_finite_marker("Infinity")}), "birthDate", "Infinity"),
        (
            json!({"email": "a@example.com", "score": [1, non_finite_marker("-Infinity")]}),
            "score",
            "-Infinity",
        ),
    ] {
        let o = sent_record(event).unwrap_err();
        assert_eq!((o["status"].as_str(), o["code"].as_str()), (Some("failed"), Some("INVALID_VALUE")));
        let m = o["message"].as_str().unwrap_or("");
        assert!(m.contains(field) && m.contains(&format!("the value is {what}")), "{m}");
    }
}

#[test]
fn a_nan_token_value_bulk_cell_or_id_fails_its_event() {
    let mut h = Driver::new(settings(json!([
        {"id": "email", "type": "sendTransactionalEmail", "targetEmailCampaign": 3712,
         "targetLeadId": {"attribute": "lead"},
         "tokens": [{"name": "{{my.amount}}", "source": {"attribute": "amount"}}]},
        {"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
         "leadData": [{"field": "email", "source": {"attribute": "email"}},
                      {"field": "score", "source": {"attribute": "score"}}]},
        {"id": "add", "type": "addLeadToList", "targetStaticList": 1001, "targetLeadId": {"attribute": "lead"}},
    ])));
    let token = h.event("email", &json!({"lead": 5, "amount": non_finite_marker("NaN")}));
    let cell = h.event("bulk", &json!({"email": "a@example.com", "score": non_finite_marker("Infinity")}));
    let id = h.event("add", &json!({"lead": non_finite_marker("NaN")}));
    h.flush();
    h.run_until_idle();
    assert!(h.rest_sent().is_empty(), "nothing is sent for them");
    for (event, needle) in
        [(token, "tokens {{my.amount}}"), (cell, "leadData field score"), (id, "targetLeadId")]
    {
        let o = h.outcome(&event);
        assert_eq!((o.status, o.code.as_deref()), (Status::Failed, Some("INVALID_VALUE")));
        assert!(o.message.as_deref().unwrap_or("").contains(needle), "{o:?}");
    }
}
