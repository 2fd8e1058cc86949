//! The failure classes of the classification table that change the request: 413 splits the
//! batch, 414 resends a lookup as `POST …?_method=GET`, and Marketo's table is the README's.

use marketo_connector::core::classify::{HTTP_RULES, RESPONSE_CODES};
use marketo_connector::core::Status;
use marketo_connector_testkit::*;
use serde_json::json;

#[test]
fn a_413_splits_the_batch_and_each_half_is_delivered() {
    let mut h = Driver::new(settings(json!([
        {"id": "up", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}
    ])));
    for i in 0..4 {
        h.event_with_id("up", &json!({"email": format!("s{i}@example.com")}), &format!("s{i}"));
    }
    h.fake.script.push_back(Reply::Http(413, "<html>413 Request Entity Too Large</html>".into()));
    h.flush();
    h.run_until_idle();
    let sizes: Vec<usize> =
        h.rest_sent().iter().map(|r| body_json(r)["input"].as_array().map_or(0, Vec::len)).collect();
    assert_eq!(sizes, vec![4, 2, 2]);
    // Each half carries the same records as the whole batch did (the halves are cut from the
    // first body, which the job keeps the records in).
    let sent = h.rest_sent();
    let records = |n: usize| sent.get(n).map(|r| body_json(r)["input"].clone());
    let first = records(0).unwrap_or_default();
    assert_eq!(records(1), Some(json!([first[0], first[1]])));
    assert_eq!(records(2), Some(json!([first[2], first[3]])));
    assert_eq!(first[3], json!({"email": "s3@example.com"}));
    for i in 0..4 {
        assert_eq!(h.outcome(&format!("s{i}")).status, Status::Delivered);
    }
}

#[test]
fn a_single_record_too_large_fails_with_413() {
    let mut h = Driver::new(settings(json!([
        {"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}
    ])));
    h.fake.script.push_back(Reply::Http(413, String::new()));
    h.event_with_id("up", &json!({"email": "huge@example.com"}), "huge");
    h.run_until_idle();
    assert_eq!(h.outcome("huge").status, Status::Failed);
    assert_eq!(h.outcome("huge").code.as_deref(), Some("HTTP_413"));
}

#[test]
fn a_414_resends_the_lookup_as_post_method_get() {
    let mut h = Driver::new(settings(json!([
        {"id": "add", "type": "addLeadToList", "targetStaticList": 5,
         "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}}
    ])));
    let id = h.fake.add_lead(json!({"email": "short@example.com"}));
    h.fake.script.push_back(Reply::Http(414, String::new()));
    h.event_with_id("add", &json!({"email": "short@example.com"}), "e");
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_eq!(rest[0].method.as_str(), "GET");
    assert_eq!(rest[1].method.as_str(), "POST");
    assert!(rest[1].url.ends_with("/rest/v1/leads.json?_method=GET"), "{}", rest[1].url);
    assert!(body_text(rest[1]).contains("filterValues=short@example.com"));
    assert_eq!(h.outcome("e").lead_ids, vec![id]);
}

#[test]
fn the_readme_failure_table_lists_every_rule() {
    let readme = include_str!("../README.md");
    for rule in RESPONSE_CODES.iter().chain(HTTP_RULES) {
        assert!(readme.contains(&format!("| `{}` |", rule.code)), "README lacks a row for {}", rule.code);
    }
}

#[test]
fn a_host_clock_at_the_end_of_time_does_not_overflow_a_deadline() {
    let mut h = Driver::with_seed(
        settings(json!([
            {"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
             "leadData": [{"field": "email", "source": {"attribute": "email"}}]}
        ])),
        1,
        u64::MAX,
    );
    h.event_generated("up", &json!({"email": "late@example.com"}));
    let identity = h.inbox.front().cloned().expect("an identity call");
    h.transport_error(identity.id, "down");
    assert!(h.timeout().is_some_and(|t| t > marketo_connector::core::engine::MAX_NOW));
    h.wake();
}
