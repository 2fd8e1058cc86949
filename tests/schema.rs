//! Issue 15: the instance's lead schema drives formatting. The exact request Marketo receives
//! for each data type (upserts, bulk CSV cells, campaign tokens), the refusals naming field and
//! type, text longer than its field (cut with a warning, or refused with `onTooLong: "fail"`),
//! and the schema read itself: once, lazily, kept in the snapshot, refreshed once on a `1006`,
//! and the fallback when the API user may not read it.

use marketo_connector::core::snapshot::Snapshot;
use marketo_connector::core::Status;
use marketo_connector_testkit::*;
use serde_json::{json, Value};

/// Custom fields of every data type, with the standard ones.
fn typed_fields() -> Vec<(String, String, Option<u32>, bool, bool)> {
    let mut fields = standard_fields();
    for (name, t, len) in [
        ("birthday", "date", None),
        ("lastSeen", "datetime", None),
        ("visits", "integer", None),
        ("rating", "score", None),
        ("ratio", "float", None),
        ("spend", "currency", None),
        ("share", "percent", None),
        ("vip", "boolean", None),
        ("nickname", "string", Some(10)),
        ("homepage", "url", Some(20)),
        ("mobile", "phone", Some(12)),
        ("notes", "text", None),
    ] {
        fields.push((name.into(), t.into(), len, true, false));
    }
    fields
}

fn mapping() -> Value {
    let names = [
        "email", "birthday", "lastSeen", "visits", "rating", "ratio", "spend", "share", "vip", "nickname",
        "homepage", "mobile", "notes",
    ];
    Value::Array(names.iter().map(|n| json!({"field": n, "source": {"attribute": n}})).collect())
}

fn upsert_settings(extra: Value) -> Value {
    let mut s =
        settings(json!([{"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                                 "leadData": mapping()}]));
    if let (Some(s), Some(extra)) = (s.as_object_mut(), extra.as_object()) {
        s.extend(extra.clone());
    }
    s
}

fn harness(extra: Value) -> Driver {
    let mut h = Driver::new(upsert_settings(extra));
    h.fake.fields = typed_fields();
    h
}

/// The record Marketo receives for `event`, or the event's outcome when nothing was sent.
fn sent(extra: Value, event: Value) -> Result<(Value, Value), Value> {
    let mut h = harness(extra);
    let id = h.event("up", &event);
    h.run_until_idle();
    h.assert_all_final();
    match h.rest_sent().first() {
        Some(req) => Ok((body_json(req)["input"][0].clone(), h.outcome_json(&id))),
        None => Err(h.outcome_json(&id)),
    }
}

#[test]
fn each_data_type_reaches_marketo_in_its_format_without_a_type_in_the_configuration() {
    let (record, outcome) = sent(
        json!({}),
        json!({"email": "a@example.com", "birthday": "2026-11-28T23:30:00-05:00", "lastSeen": 1764307800000u64,
               "visits": "42", "rating": 7.0, "ratio": "0.25", "spend": "19.99", "share": 12, "vip": "true",
               "nickname": 12345, "homepage": "https://x.example", "mobile": "+1 555 0100", "notes": false}),
    )
    .unwrap();
    assert_eq!(
        record,
        json!({"email": "a@example.com", "birthday": "2026-11-29", "lastSeen": "2025-11-28T05:30:00Z",
               "visits": 42, "rating": 7, "ratio": 0.25, "spend": 19.99, "share": 12, "vip": true,
               "nickname": "12345", "homepage": "https://x.example", "mobile": "+1 555 0100", "notes": "false"})
    );
    assert_eq!(outcome["status"], "delivered");
    // Booleans: 1 and 0 too; null still clears any field.
    let (record, _) = sent(json!({}), json!({"email": "a@example.com", "vip": 0, "visits": null})).unwrap();
    assert_eq!(record, json!({"email": "a@example.com", "vip": false, "visits": null}));
}

#[test]
fn a_value_its_field_type_cannot_take_fails_the_event_naming_field_and_type_and_nothing_is_sent() {
    for (field, value, says) in [
        ("visits", json!("4.5"), "type integer"),
        ("rating", json!("high"), "type score"),
        ("spend", json!("12,50"), "type currency"),
        ("ratio", json!("12345678901234567"), "type float"),
        ("share", json!(true), "type percent"),
        ("vip", json!("yes"), "type boolean"),
        ("birthday", json!("soon"), "type date"),
        ("lastSeen", json!([1]), "type datetime"),
        ("nickname", json!({"a": 1}), "type string"),
    ] {
        let mut event = json!({"email": "a@example.com"});
        event[field] = value.clone();
        let outcome = sent(json!({}), event).expect_err("nothing is sent");
        assert_eq!(outcome["status"], "failed", "{field}");
        assert_eq!(outcome["code"], "INVALID_VALUE", "{field}");
        let m = outcome["message"].as_str().unwrap();
        assert!(m.contains(&format!("leadData field {field}")) && m.contains(says), "{field}: {m}");
    }
}

#[test]
fn text_longer_than_its_field_is_cut_on_a_character_boundary_with_a_warning_by_default() {
    let (record, outcome) = sent(
        json!({}),
        json!({"email": "a@example.com", "nickname": "Ångström-Éloïse", "mobile": "+1 555 0100"}),
    )
    .unwrap();
    assert_eq!(record["nickname"], "Ångström-É");
    assert_eq!(outcome["status"], "delivered");
    assert_eq!(outcome["code"], "TRUNCATED");
    let m = outcome["message"].as_str().unwrap();
    assert!(m.contains("nickname") && m.contains("limit of 10 characters"), "{m}");
}

#[test]
fn with_on_too_long_fail_a_long_value_fails_the_event_naming_field_and_limit() {
    let outcome = sent(
        json!({"onTooLong": "fail"}),
        json!({"email": "a@example.com", "homepage": "https://a-long-host.example/path"}),
    )
    .expect_err("nothing is sent");
    assert_eq!(
        (outcome["status"].as_str(), outcome["code"].as_str()),
        (Some("failed"), Some("INVALID_VALUE"))
    );
    let m = outcome["message"].as_str().unwrap();
    assert!(m.contains("homepage") && m.contains("limit of 20"), "{m}");
    // A value within the limit goes through unchanged.
    let (record, outcome) = sent(
        json!({"onTooLong": "fail"}),
        json!({"email": "a@example.com", "homepage": "https://x.example"}),
    )
    .unwrap();
    assert_eq!((record["homepage"].as_str(), outcome.get("code")), (Some("https://x.example"), None));
}

#[test]
fn a_lookup_value_longer_than_its_field_is_never_cut() {
    let long = format!("{}@example.com", "a".repeat(250));
    let outcome = sent(json!({}), json!({"email": long})).expect_err("nothing is sent");
    assert_eq!(outcome["code"], "INVALID_VALUE");
    assert!(outcome["message"].as_str().unwrap().contains("never cut"), "{outcome}");
}

#[test]
fn an_explicit_type_says_how_to_read_what_is_sent_follows_the_marketo_type() {
    let mut h = Driver::new(settings(
        json!([{"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
        "leadData": [{"field": "email", "source": {"attribute": "email"}},
                     {"field": "birthday", "source": {"attribute": "b"}, "type": "date"},
                     {"field": "nickname", "source": {"attribute": "n"}, "type": "date"},
                     {"field": "visits", "source": {"attribute": "v"}, "type": "integer"}]}]),
    ));
    h.fake.fields = typed_fields();
    h.event("up", &json!({"email": "a@example.com", "b": 1764307800, "n": 0, "v": "7"}));
    h.run_until_idle();
    // A date read into a date field is YYYY-MM-DD; into a 10-character text field, its ISO form cut.
    assert_eq!(
        body_json(h.rest_sent()[0])["input"][0],
        json!({"email": "a@example.com", "birthday": "2025-11-28", "nickname": "1970-01-01", "visits": 7})
    );
}

#[test]
fn bulk_cells_follow_the_same_rules() {
    let action = json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
        "leadData": [{"field": "email", "source": {"attribute": "email"}},
                     {"field": "birthday", "source": {"attribute": "birthday"}},
                     {"field": "vip", "source": {"attribute": "vip"}},
                     {"field": "spend", "source": {"attribute": "spend"}},
                     {"field": "nickname", "source": {"attribute": "nickname"}}]});
    let mut h = Driver::new(settings(json!([action])));
    h.fake.fields = typed_fields();
    h.event(
        "bulk",
        &json!({"email": "a@example.com", "birthday": "2026-03-01T10:00:00Z", "vip": 1, "spend": "5.50",
                            "nickname": "abcdefghijklmno"}),
    );
    let bad = h.event("bulk", &json!({"email": "b@example.com", "spend": "five"}));
    h.flush();
    h.run_until_idle();
    let rows = parse_csv(&h.fake.bulk_jobs[0].csv);
    assert_eq!(rows[0], vec!["email", "birthday", "vip", "spend", "nickname"]);
    assert_eq!(rows[1], vec!["a@example.com", "2026-03-01", "true", "5.5", "abcdefghij"]);
    assert_eq!(rows.len(), 2, "the refused row is not in the file");
    let o = h.outcome_json("ev-1");
    assert_eq!((o["status"].as_str(), o["code"].as_str()), (Some("delivered"), Some("TRUNCATED")));
    let o = h.outcome_json(&bad);
    assert_eq!(o["code"], "INVALID_VALUE");
    assert!(o["message"].as_str().unwrap().contains("spend"), "{o}");
    assert_eq!(h.describe_sent().len(), 1);
}

#[test]
fn tokens_are_read_by_their_configured_type_and_sent_as_its_string_form() {
    let action = json!({"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": 77,
        "targetLeadId": {"attribute": "id"},
        "tokens": [{"name": "{{my.count}}", "source": {"attribute": "count"}, "type": "integer"},
                   {"name": "{{my.flag}}", "source": {"attribute": "flag"}, "type": "boolean"},
                   {"name": "{{my.day}}", "source": {"attribute": "day"}, "type": "date"},
                   {"name": "{{my.when}}", "source": {"attribute": "when"}, "type": "datetime"}]});
    let mut h = Driver::new(settings(json!([action])));
    h.fake.script.push_back(Reply::ok(json!({"requestId": "r#1", "success": true, "result": [{"id": 77}]})));
    h.event("mail", &json!({"id": 5, "count": "42", "flag": 1, "day": "2026-11-28", "when": 1764307800}));
    let bad = h.event("mail", &json!({"id": 6, "count": "many"}));
    h.run_until_idle();
    let sent = h.rest_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        body_json(sent[0])["input"]["tokens"],
        json!([{"name": "{{my.count}}", "value": "42"}, {"name": "{{my.flag}}", "value": "true"},
               {"name": "{{my.day}}", "value": "2026-11-28T00:00:00Z"}, {"name": "{{my.when}}", "value": "2025-11-28T05:30:00Z"}])
    );
    let o = h.outcome_json(&bad);
    assert_eq!(o["code"], "INVALID_VALUE");
    assert!(o["message"].as_str().unwrap().contains("{{my.count}}"), "{o}");
    assert!(h.describe_sent().is_empty(), "tokens are no lead fields: no schema read");
}

/// (number, what JavaScript's `String(number)` writes), from `node -e 'console.log(String(x))'`.
const JS_NUMBER_TEXT: [(f64, &str); 20] = [
    (1e20, "100000000000000000000"),
    (1e21, "1e+21"),
    (123.456, "123.456"),
    (0.1, "0.1"),
    (1e-7, "1e-7"),
    (0.000001, "0.000001"),
    (-0.0, "0"),
    (9007199254740994.0, "9007199254740994"), // 2**53 + 2
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (-1.5e-9, "-1.5e-9"),
    (1.5e300, "1.5e+300"),
    (123456789012345680000.0, "123456789012345680000"),
    (0.000123, "0.000123"),
    (-42.5, "-42.5"),
    (1.0 / 3.0, "0.3333333333333333"),
    (100.0, "100"),
    (18446744073709552000.0, "18446744073709552000"), // 2**64
    (999999999999999900000.0, "999999999999999900000"),
    (0.0000015, "0.0000015"),
];

#[test]
fn a_number_is_written_into_text_as_javascripts_string_of_it() {
    use marketo_connector::core::schema::{f64_text, js_text};
    for (f, js) in JS_NUMBER_TEXT {
        assert_eq!(f64_text(f), js, "{f:e}");
        // As a number in an event: serde_json holds integers as u64/i64, the rest as f64.
        let n: serde_json::Number = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(js_text(&n), js, "{f:e} as a serde_json number");
    }
    for (n, js) in [(json!(u64::MAX), "18446744073709551615"), (json!(i64::MIN), "-9223372036854775808")] {
        assert_eq!(js_text(n.as_number().unwrap()), js);
    }
}

#[test]
fn numbers_reach_text_fields_tokens_and_bulk_cells_as_javascript_writes_them() {
    // A string field: the exact request body.
    let mut h = harness(json!({}));
    h.event("up", &json!({"email": "a@example.com", "notes": 1e20, "nickname": 1e21, "mobile": 1e-7}));
    h.run_until_idle();
    assert_eq!(
        body_text(h.rest_sent()[0]),
        r#"{"action":"createOrUpdate","lookupField":"email","input":[{"email":"a@example.com","mobile":"1e-7","nickname":"1e+21","notes":"100000000000000000000"}]}"#
    );
    // A campaign token.
    let action = json!({"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": 77,
        "targetLeadId": {"attribute": "id"},
        "tokens": [{"name": "{{my.amount}}", "source": {"attribute": "amount"}}]});
    let mut h = Driver::new(settings(json!([action])));
    h.fake.script.push_back(Reply::ok(json!({"requestId": "r#1", "success": true, "result": [{"id": 77}]})));
    h.event("mail", &json!({"id": 5, "amount": 1e20}));
    h.run_until_idle();
    assert_eq!(
        body_text(h.rest_sent()[0]),
        r#"{"input":{"leads":[{"id":5}],"tokens":[{"name":"{{my.amount}}","value":"100000000000000000000"}]}}"#
    );
    // A bulk import cell.
    let action = json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
        "leadData": [{"field": "email", "source": {"attribute": "email"}},
                     {"field": "notes", "source": {"attribute": "notes"}}]});
    let mut h = Driver::new(settings(json!([action])));
    h.event("bulk", &json!({"email": "a@example.com", "notes": 1e20}));
    h.flush();
    h.run_until_idle();
    assert_eq!(h.fake.bulk_jobs[0].csv, "email,notes\r\na@example.com,100000000000000000000\r\n");
}

#[test]
fn the_schema_is_read_once_lazily_and_kept_in_the_snapshot() {
    let mut h = harness(json!({}));
    h.drain();
    assert!(h.sent.is_empty(), "construction sends nothing");
    h.engine.preview("up", &json!({"email": "a@example.com"})).unwrap();
    h.drain();
    assert!(h.sent.is_empty(), "preview sends nothing");
    for i in 0..3 {
        h.event("up", &json!({"email": format!("p{i}@example.com"), "visits": "1"}));
    }
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 1);
    assert_eq!(h.describe_sent()[0].url, format!("{REST}/v1/leads/describe2.json"));
    assert!(h.rest_sent().iter().all(|r| body_json(r)["input"][0]["visits"] == json!(1)));
    let calls = h.engine.stats().calls;
    assert_eq!(calls, 4, "the schema read is counted like any call");
    let snap = h.engine.snapshot();
    let fields =
        snap.schema.as_ref().and_then(|s| s["fields"].as_array()).expect("the schema is in the snapshot");
    assert!(fields.iter().any(|f| f["name"] == "visits" && f["dataType"] == "integer"));
    let text = serde_json::to_string(&snap).unwrap();
    let mut restored = Driver::with_seed(upsert_settings(json!({})), SEED, h.now);
    restored.restore_from(&Snapshot::parse(&text).unwrap(), SEED);
    let preview = restored.engine.preview("up", &json!({"email": "a@example.com", "visits": "3"})).unwrap();
    assert!(
        preview[0].body.as_deref().unwrap().contains(r#""visits":3"#),
        "restored connectors format at once"
    );
}

#[test]
fn a_restored_connector_with_the_schema_does_not_read_it_again() {
    let mut h = harness(json!({}));
    h.event("up", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    let snap = h.engine.snapshot();
    let mut h2 = Driver::with_seed(upsert_settings(json!({})), SEED, h.now);
    h2.restore_from(&snap, SEED);
    h2.event("up", &json!({"email": "b@example.com", "visits": "2"}));
    h2.run_until_idle();
    assert!(h2.describe_sent().is_empty());
    assert_eq!(body_json(h2.rest_sent()[0])["input"][0]["visits"], 2);
}

#[test]
fn a_1006_for_a_field_the_schema_has_refreshes_it_once() {
    let mut h = harness(json!({}));
    h.event("up", &json!({"email": "a@example.com", "visits": "1"}));
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 1);
    // The field was deleted in Marketo: Sync Leads skips records naming it.
    let skipped = |n: u32| {
        Reply::ok(json!({"requestId": format!("r#{n}"), "success": true, "result": [{"status": "skipped",
            "reasons": [{"code": "1006", "message": "Field 'visits' not found"}]}]}))
    };
    h.fake.fields.retain(|f| f.0 != "visits");
    h.fake.script.push_back(skipped(2));
    h.event("up", &json!({"email": "b@example.com", "visits": "2"}));
    h.run_until_idle();
    assert_eq!(h.outcome_json("ev-2")["code"], "1006");
    h.fake.script.push_back(skipped(3));
    h.event("up", &json!({"email": "c@example.com", "visits": "3"}));
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 2, "the 1006 made the next event read the schema again");
    // The refreshed schema no longer knows `visits`: the value goes as the event holds it, and
    // Marketo's 1006 for it does not read the schema a third time.
    assert_eq!(body_json(h.rest_sent().last().unwrap())["input"][0]["visits"], "3");
    h.fake.script.push_back(skipped(4));
    h.event("up", &json!({"email": "d@example.com", "visits": "4"}));
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 2);
    h.assert_all_final();
}

#[test]
fn without_permission_to_read_the_schema_events_go_as_configured_and_check_says_why() {
    let mut h = harness(json!({}));
    h.fake.describe_script.push_back(Reply::error("603", "Access denied"));
    let id = h.event(
        "up",
        &json!({"email": "a@example.com", "visits": "42", "nickname": "much too long a nickname"}),
    );
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 1, "603 is not retried, and describe.json needs the same permission");
    assert_eq!(body_json(h.rest_sent()[0])["input"][0]["visits"], "42", "today's behaviour: unformatted");
    assert_eq!(h.outcome(&id).status, Status::Delivered);
    // More events do not ask again.
    h.event("up", &json!({"email": "b@example.com"}));
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 1);
    // check() asks again (a permission may have been granted); still refused, it says which.
    h.fake.describe_script.push_back(Reply::error("603", "Access denied"));
    let key = h.start_check("check");
    h.run_until_idle();
    let (k, result) = h.take_check().expect("check finished");
    assert_eq!(k, Some(key));
    assert!(!result.ok);
    let p = &result.problems[0];
    assert_eq!(
        (p.action_id.as_str(), p.code.as_str(), p.parameter.as_str()),
        ("up", "PERMISSION_DENIED", "leadData")
    );
    assert!(p.message.contains("Read-Only Lead"), "{}", p.message);
}

#[test]
fn when_describe2_is_not_served_describe_json_gives_the_schema() {
    let mut h = harness(json!({}));
    h.fake.describe_script.push_back(Reply::error("610", "Requested resource not found"));
    h.event("up", &json!({"email": "a@example.com", "visits": "5"}));
    h.run_until_idle();
    let urls: Vec<&str> = h.describe_sent().iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        vec![format!("{REST}/v1/leads/describe2.json"), format!("{REST}/v1/leads/describe.json")]
    );
    assert_eq!(body_json(h.rest_sent()[0])["input"][0]["visits"], 5);
}

#[test]
fn a_transient_failure_of_the_schema_read_is_retried_like_any_call() {
    let mut h = harness(json!({}));
    h.fake.describe_script.push_back(Reply::error("606", "Max rate limit '100' exceeded with in '20' secs"));
    h.fake.describe_script.push_back(Reply::Http(503, "<html>busy</html>".into()));
    h.event("up", &json!({"email": "a@example.com", "visits": "5"}));
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 3);
    assert_eq!(body_json(h.rest_sent()[0])["input"][0]["visits"], 5);
}

#[test]
fn a_batched_upsert_reads_the_schema_at_its_first_event_and_events_before_it_are_judged_when_it_is() {
    let mut h = Driver::new(settings(json!([{"id": "upb", "type": "createOrUpdateLeadBatched",
        "updateStrategy": "createOrUpdate", "leadData": mapping()}])));
    h.fake.fields = typed_fields();
    h.event("upb", &json!({"email": "a@example.com", "visits": "1"}));
    h.event("upb", &json!({"email": "b@example.com", "visits": "x"}));
    assert!(h.rest_sent().is_empty(), "queued events send no Sync Leads call");
    assert_eq!(h.outcomes.len(), 0, "the second event waits for the schema to be judged");
    h.answer_all();
    assert_eq!(h.describe_sent().len(), 1, "read at the first event, before the batch is due");
    assert!(h.rest_sent().is_empty());
    // Arriving after the read, an event is judged on arrival.
    h.event("upb", &json!({"email": "c@example.com", "visits": "y"}));
    assert_eq!(h.outcome_json("ev-3")["code"], "INVALID_VALUE");
    h.flush();
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 1);
    assert_eq!(body_json(h.rest_sent()[0])["input"], json!([{"email": "a@example.com", "visits": 1}]));
    assert_eq!(h.outcome_json("ev-2")["code"], "INVALID_VALUE");
    h.assert_all_final();
}

#[test]
fn a_1006_in_a_batched_action_refreshes_the_schema_once_when_the_next_batch_goes_out() {
    let mut h = Driver::new(settings(json!([{"id": "upb", "type": "createOrUpdateLeadBatched",
        "updateStrategy": "createOrUpdate", "leadData": mapping()}])));
    h.fake.fields = typed_fields();
    h.event("upb", &json!({"email": "a@example.com", "visits": "1"}));
    h.flush();
    h.run_until_idle();
    h.fake.fields.retain(|f| f.0 != "visits");
    h.fake
        .script
        .push_back(Reply::ok(json!({"requestId": "r#2", "success": true, "result": [{"status": "skipped",
        "reasons": [{"code": "1006", "message": "Field 'visits' not found"}]}]})));
    h.event("upb", &json!({"email": "b@example.com", "visits": "2"}));
    h.flush();
    h.run_until_idle();
    assert_eq!(h.outcome_json("ev-2")["code"], "1006");
    for (i, email) in ["c@example.com", "d@example.com"].iter().enumerate() {
        h.event("upb", &json!({"email": email, "visits": "3"}));
        h.flush();
        h.run_until_idle();
        assert_eq!(h.describe_sent().len(), 2, "batch {i}: one re-read after the 1006, not one per batch");
    }
    assert_eq!(body_json(h.rest_sent().last().unwrap())["input"][0]["visits"], "3");
    h.assert_all_final();
}

/// A fresh user's case: the first schema read answers 503, and a full batch of 300 waits for it
/// while a 301st event waits behind that batch. Every event then waits on time (the read's
/// retry), so `flush()` settles at once instead of waiting for the retry (a host without
/// timers, as a Worker between requests, would have waited for ever).
#[test]
fn flush_settles_while_the_batches_wait_for_the_schema_reads_retry() {
    let mut h = Driver::with_calls(settings(json!([{"id": "upb", "type": "createOrUpdateLeadBatched",
        "updateStrategy": "createOrUpdate", "leadData": mapping()}])));
    h.fake.fields = typed_fields();
    h.fake.describe_script.push_back(Reply::Http(503, "<html>busy</html>".into()));
    for i in 0..301 {
        h.process(&format!("e{i}"), "upb", json!({"email": format!("p{i}@example.com"), "visits": "1"}));
    }
    h.flush_named("F");
    h.answer_all();
    assert_eq!(h.describe_sent().len(), 1, "the read waits for its retry");
    assert!(h.rest_sent().is_empty(), "no batch goes before the schema is read");
    assert!(
        h.returned.iter().any(|(name, _)| name == "F"),
        "flush() settled: every event waits on the schema read's retry time"
    );
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 2);
    assert_eq!(h.rest_sent().len(), 2, "the full batch, then the 301st event");
    h.flush_named("after");
    for i in 0..301 {
        assert_eq!(h.finals(&format!("e{i}")).len(), 1, "e{i}");
    }
}
