//! `createOrUpdateLead` (SPEC §3, https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads): the exact Sync Leads request Marketo
//! receives, how event values become lead fields, bad events failing alone without a call, and
//! the per-record outcomes.

use marketo_connector::core::{Method, Settings, Status};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

const SYNC_URL: &str = "https://123-ABC-123.mktorest.com/rest/v1/leads.json";

fn upsert(strategy: &str, lead_data: Value, extra: Value) -> Value {
    let mut action = json!({"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": strategy,
                            "leadData": lead_data});
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            action[k] = v;
        }
    }
    action
}

fn field(field: &str, path: &str) -> Value {
    json!({"field": field, "source": {"attribute": path}})
}

fn date_field(field: &str, path: &str) -> Value {
    json!({"field": field, "source": {"attribute": path}, "type": "date"})
}

/// The one Sync Leads request of a harness that delivered one event.
fn only_sync_call(h: &Driver) -> HttpRequestView {
    let rest = h.rest_sent();
    assert_eq!(rest.len(), 1, "expected one Sync Leads call, got {rest:#?}");
    HttpRequestView::of(rest[0])
}

/// What a test compares of a request.
#[derive(Debug, PartialEq)]
struct HttpRequestView {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpRequestView {
    fn of(r: &marketo_connector::core::HttpRequest) -> HttpRequestView {
        HttpRequestView {
            method: r.method,
            url: r.url.clone(),
            headers: r.headers.clone(),
            body: body_text(r).to_string(),
        }
    }
}

fn expected_headers(token: &str) -> Vec<(String, String)> {
    vec![
        ("Authorization".into(), format!("Bearer {token}")),
        ("Accept".into(), "application/json".into()),
        ("Content-Type".into(), "application/json".into()),
    ]
}

#[test]
fn each_update_strategy_sends_the_exact_sync_leads_request() {
    // leadData in alphabetical order, so the body bytes do not depend on map ordering.
    let data = json!([
        field("email", "data.udo.customer_email"),
        field("firstName", "data.udo.customer_first_name")
    ]);
    let cases = [
        (
            "createOrUpdate",
            json!({"partitionName": "Europe"}),
            false,
            r#"{"action":"createOrUpdate","lookupField":"email","partitionName":"Europe","input":[{"email":"jane.doe@example.com","firstName":"Jane"}]}"#,
            "created",
        ),
        (
            "createOnly",
            json!({"partitionName": "Europe"}),
            false,
            r#"{"action":"createOnly","lookupField":"email","partitionName":"Europe","input":[{"email":"jane.doe@example.com","firstName":"Jane"}]}"#,
            "created",
        ),
        (
            "updateOnly",
            json!({}),
            true,
            r#"{"action":"updateOnly","lookupField":"email","input":[{"email":"jane.doe@example.com","firstName":"Jane"}]}"#,
            "updated",
        ),
        (
            "createDuplicate",
            json!({}),
            true,
            r#"{"action":"createDuplicate","lookupField":"email","input":[{"email":"jane.doe@example.com","firstName":"Jane"}]}"#,
            "created",
        ),
    ];
    for (strategy, extra, existing, body, status) in cases {
        let mut h = Driver::new(settings(json!([upsert(strategy, data.clone(), extra)])));
        let existing_id =
            existing.then(|| h.fake.add_lead(json!({"id": 318594, "email": "jane.doe@example.com"})));
        h.event("upsert", &eventstream());
        h.run_until_idle();

        assert_eq!(h.identity_sent().len(), 1, "{strategy}");
        assert_eq!(
            only_sync_call(&h),
            HttpRequestView {
                method: Method::Post,
                url: SYNC_URL.into(),
                headers: expected_headers(&h.token(1)),
                body: body.into(),
            },
            "{strategy}"
        );
        let lead_id = match (status, existing_id) {
            ("updated", Some(id)) => id,
            _ => 1000, // the fake's first new lead
        };
        assert_eq!(
            h.outcome_json("ev-1"),
            json!({"eventId": "ev-1", "actionId": "upsert", "status": "delivered", "leadIds": [lead_id],
                   "requestId": FakeMarketo::request_id(1)}),
            "{strategy}"
        );
        if strategy == "createDuplicate" {
            assert_eq!(h.fake.leads.len(), 2, "createDuplicate creates a second lead with the same email");
        }
        h.assert_all_final();
    }
}

#[test]
fn custom_lookup_field_is_sent_as_lookup_field() {
    let data = json!([field("email", "e"), field("sfdcContactId", "c")]);
    let mut h = Driver::new(settings(json!([upsert(
        "updateOnly",
        data,
        json!({"leadLookupFilter": "sfdcContactId"})
    )])));
    h.fake.add_lead(json!({"id": 77, "sfdcContactId": "0035g00000AbC2DEF"}));
    h.event("upsert", &json!({"e": "new@example.com", "c": "0035g00000AbC2DEF"}));
    h.run_until_idle();
    assert_eq!(
        only_sync_call(&h).body,
        r#"{"action":"updateOnly","lookupField":"sfdcContactId","input":[{"email":"new@example.com","sfdcContactId":"0035g00000AbC2DEF"}]}"#
    );
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
    assert_eq!(h.outcome("ev-1").lead_ids, vec![77]);
    assert_eq!(h.fake.lead(77).unwrap().fields["email"], json!("new@example.com"));
}

#[test]
fn partition_name_is_refused_where_marketo_ignores_it() {
    let data = json!([field("email", "e")]);
    for strategy in ["updateOnly", "createDuplicate"] {
        let err = Settings::from_value(&settings(json!([upsert(
            strategy,
            data.clone(),
            json!({"partitionName": "Europe"})
        )])))
        .unwrap_err()
        .to_string();
        assert!(err.contains("upsert") && err.contains("partitionName"), "{strategy}: {err}");
    }
}

#[test]
fn audiencestream_visitor_profile_maps_to_lead_fields() {
    let data = json!([
        field("email", "visitor.properties.5124"),
        field("firstName", "visitor.properties.Customer first name"),
        field("lastName", "visitor.properties.Customer last name"),
        {"field": "planTier", "source": {"attribute": ["visitor", "properties", "plan.tier"]}},
        field("visitCount", "visitor.metrics.Lifetime visit count"),
        field("lifetimeValue", "visitor.metrics.Lifetime order value"),
        field("emailOptIn", "visitor.flags.Email opt-in"),
        field("churnRisk", "visitor.flags.Churn risk"),
        date_field("firstVisit", "visitor.dates.First visit"),
        date_field("lastPurchase", "visitor.dates.Last purchase"),
        field("entryPage", "visitor.current_visit.properties.Entry page"),
        {"field": "leadSource", "source": {"value": "AudienceStream"}},
        field("notInProfile", "visitor.properties.no such attribute"),
    ]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    h.event("upsert", &audiencestream());
    h.run_until_idle();

    let call = only_sync_call(&h);
    let body: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(
        body,
        json!({"action": "createOrUpdate", "lookupField": "email", "input": [{
            "email": "jane.doe@example.com",
            "firstName": "Jane",
            "lastName": "Doe, Jr.",
            "planTier": "Gold \"Plus\"",
            "visitCount": 12,
            "lifetimeValue": 1999.5,
            "emailOptIn": true,
            "churnRisk": false,
            "firstVisit": "2018-03-15T17:23:46Z",
            "lastPurchase": "2025-11-28T05:30:00Z",
            "entryPage": "/pricing",
            "leadSource": "AudienceStream"
        }]})
    );
    // An absent attribute leaves the field out: it is not cleared.
    assert!(!call.body.contains("notInProfile"));
    assert!(call.body.contains(r#""planTier":"Gold \"Plus\"""#), "{}", call.body);
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
    assert_eq!(h.fake.lead(1000).unwrap().fields["firstVisit"], json!("2018-03-15T17:23:46Z"));
}

#[test]
fn eventstream_event_maps_to_lead_fields_byte_for_byte() {
    let data = json!([
        field("company", "data.udo.company"),
        field("email", "data.udo.customer_email"),
        field("firstName", "data.udo.customer_first_name"),
        field("lastName", "data.udo.customer_last_name"),
        field("newsletter", "data.udo.newsletter"),
        field("notes", "data.udo.notes"),
        field("orderTotal", "data.udo.order_total"),
        date_field("signupDate", "data.udo.signup_date"),
    ]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    h.event("upsert", &eventstream());
    h.run_until_idle();
    // Non-ASCII stays UTF-8, the newline is escaped, `0` and `false` are kept as JSON values,
    // the date with a +01:00 offset becomes UTC.
    assert_eq!(
        only_sync_call(&h).body,
        r#"{"action":"createOrUpdate","lookupField":"email","input":[{"company":"Ümlaut & Söhne GmbH","email":"jane.doe@example.com","firstName":"Jane","lastName":"Doe, Jr.","newsletter":false,"notes":"line one\nline two, with a comma","orderTotal":0,"signupDate":"2026-11-28T08:30:00Z"}]}"#
    );
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
}

#[test]
fn date_fields_become_iso_8601_in_utc() {
    let data = json!([
        date_field("a_epochMs", "ms"),
        date_field("b_epochSeconds", "s"),
        date_field("c_epochMsString", "msText"),
        date_field("d_offsetPlus", "plus"),
        date_field("e_offsetMinus", "minus"),
        field("email", "email"),
        date_field("f_zulu", "zulu"),
        date_field("g_dateOnly", "day"),
        date_field("h_cleared", "nothing"),
    ]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    h.event(
        "upsert",
        &json!({
            "email": "dates@example.com",
            "ms": 1764307800000u64,
            "s": 1764307800,
            "msText": "1764307800000",
            "plus": "2026-11-28T09:30:00+01:00",
            "minus": "2026-11-28T09:30:00-05:00",
            "zulu": "2026-11-28T09:30:00Z",
            "day": "2026-11-28",
            "nothing": null
        }),
    );
    h.run_until_idle();
    assert_eq!(
        only_sync_call(&h).body,
        concat!(
            r#"{"action":"createOrUpdate","lookupField":"email","input":[{"#,
            r#""a_epochMs":"2025-11-28T05:30:00Z","b_epochSeconds":"2025-11-28T05:30:00Z","#,
            r#""c_epochMsString":"2025-11-28T05:30:00Z","d_offsetPlus":"2026-11-28T08:30:00Z","#,
            r#""e_offsetMinus":"2026-11-28T14:30:00Z","email":"dates@example.com","#,
            r#""f_zulu":"2026-11-28T09:30:00Z","g_dateOnly":"2026-11-28T00:00:00Z","h_cleared":null}]}"#
        )
    );
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
}

#[test]
fn values_keep_their_json_types_and_null_clears() {
    let data = json!([
        field("a_zero", "zero"),
        field("b_false", "no"),
        field("c_zeroText", "zeroText"),
        field("d_big", "big"),
        field("e_maxU64", "maxU64"),
        field("email", "email"),
        field("f_minI64", "minI64"),
        field("g_float", "float"),
        field("h_list", "list"),
        field("phone", "phone"),
    ]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    h.fake.add_lead(json!({"id": 5, "email": "types@example.com", "phone": "+1 555 0100"}));
    h.event(
        "upsert",
        &json!({
            "email": "types@example.com",
            "zero": 0,
            "no": false,
            "zeroText": "0",
            "big": 9007199254740993u64,
            "maxU64": u64::MAX,
            "minI64": i64::MIN,
            "float": 0.1,
            "list": [1, "two"],
            "phone": null
        }),
    );
    h.run_until_idle();
    assert_eq!(
        only_sync_call(&h).body,
        concat!(
            r#"{"action":"createOrUpdate","lookupField":"email","input":[{"#,
            r#""a_zero":0,"b_false":false,"c_zeroText":"0","d_big":9007199254740993,"#,
            r#""e_maxU64":18446744073709551615,"email":"types@example.com","#,
            r#""f_minI64":-9223372036854775808,"g_float":0.1,"h_list":[1,"two"],"phone":null}]}"#
        )
    );
    assert_eq!(h.outcome_json("ev-1")["leadIds"], json!([5]));
    // The fake applies `null` as Marketo does: the field is cleared.
    assert_eq!(h.fake.lead(5).unwrap().fields.get("phone"), None);
}

#[test]
fn a_value_that_is_not_a_date_fails_that_event_without_any_request() {
    let data = json!([field("email", "email"), date_field("signupDate", "when")]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    let bad = [json!("next tuesday"), json!(true), json!({"at": 1}), json!("2026-13-45"), json!(1e300)];
    for (i, when) in bad.iter().enumerate() {
        let id = format!("bad-{i}");
        h.event_with_id("upsert", &json!({"email": "jane@example.com", "when": when}), &id);
        let o = h.outcome_json(&id);
        assert_eq!(o["status"], json!("failed"), "{when}");
        assert_eq!(o["code"], json!("INVALID_VALUE"), "{when}");
        assert!(o["message"].as_str().unwrap().contains("signupDate"), "{o}");
        assert_eq!(o.get("requestId"), None);
    }
    assert!(h.sent.is_empty(), "no call (not even identity) for events that cannot be sent: {:#?}", h.sent);
    assert_eq!(h.timeout(), None);

    // The bad events do not hold up a good one.
    h.event_with_id("upsert", &json!({"email": "jane@example.com", "when": "2026-11-28"}), "good");
    h.run_until_idle();
    assert_eq!(
        only_sync_call(&h).body,
        r#"{"action":"createOrUpdate","lookupField":"email","input":[{"email":"jane@example.com","signupDate":"2026-11-28T00:00:00Z"}]}"#
    );
    assert_eq!(h.outcome("good").status, Status::Delivered);
    h.assert_all_final();
}

#[test]
fn a_missing_lookup_field_fails_that_event_without_any_request() {
    for (strategy, lookup, event) in [
        ("createOrUpdate", "email", json!({"name": "Jane"})),
        ("createOrUpdate", "email", json!({"name": "Jane", "email": null})),
        ("updateOnly", "email", json!({"name": "Jane"})),
        ("updateOnly", "sfdcLeadId", json!({"name": "Jane", "email": "jane@example.com"})),
    ] {
        let data = json!([field("email", "email"), field("firstName", "name"), field("sfdcLeadId", "sfdc")]);
        let mut h =
            Driver::new(settings(json!([upsert(strategy, data, json!({"leadLookupFilter": lookup}))])));
        h.event("upsert", &event);
        let o = h.outcome_json("ev-1");
        assert_eq!(o["status"], json!("failed"), "{strategy} {event}");
        assert_eq!(o["code"], json!("MISSING_ATTRIBUTE"), "{strategy} {event}");
        let message = o["message"].as_str().unwrap();
        assert!(message.contains(lookup), "{message}");
        // A `null` is in the event: said so, not "not in the event".
        let said = if event["email"].is_null() && lookup == "email" && event.get("email").is_some() {
            "attribute `email` is null in the event; it needs a value"
        } else {
            "is not in the event"
        };
        assert!(message.ends_with(said), "{strategy} {event}: {message}");
        assert!(h.sent.is_empty(), "{strategy}: {:#?}", h.sent);
        h.assert_all_final();
    }
}

/// A lookup value with nothing but white space fails its event here, with a message that says
/// so (not "not in the event"), batched or not: Marketo cannot find a lead by it (it would skip
/// the record with `1002`), and batched records would be merged by it into one.
#[test]
fn a_blank_lookup_value_fails_that_event_without_any_request() {
    for kind in ["createOrUpdateLead", "createOrUpdateLeadBatched"] {
        for strategy in ["createOrUpdate", "updateOnly"] {
            let data = json!([field("email", "email"), field("firstName", "name")]);
            let mut h = Driver::new(settings(json!([
                {"id": "upsert", "type": kind, "updateStrategy": strategy, "leadData": data}
            ])));
            for (i, blank) in ["", "   ", "\t\n "].iter().enumerate() {
                h.event_with_id("upsert", &json!({"email": blank, "name": "Jane"}), &format!("blank{i}"));
            }
            h.flush();
            h.run_until_idle();
            for i in 0..3 {
                let o = h.outcome_json(&format!("blank{i}"));
                assert_eq!(o["status"], json!("failed"), "{kind} {strategy}: {o}");
                assert_eq!(o["code"], json!("INVALID_VALUE"), "{kind} {strategy}: {o}");
                assert_eq!(
                    o["message"],
                    json!("parameter `leadData field email (the lookup field)`: the value is empty (or only white \
                           space): Marketo cannot find a lead by it")
                );
            }
            assert!(h.sent.is_empty(), "{kind} {strategy}: {:#?}", h.sent);
            h.assert_all_final();
        }
    }
}

/// A lookup value that is a boolean, a list or an object fails its event on arrival, whatever
/// the strategy, before or after the schema is known: the email field's Marketo type would
/// otherwise write `true` as the text `"true"` and name (or create) a lead by it. List lookups
/// refuse the same values.
#[test]
fn a_lookup_value_that_is_not_a_string_or_a_number_fails_that_event_without_sending_it() {
    for kind in ["createOrUpdateLead", "createOrUpdateLeadBatched"] {
        for strategy in ["createOrUpdate", "updateOnly", "createOnly", "createDuplicate"] {
            let data = json!([field("email", "email"), field("firstName", "name")]);
            let mut h = Driver::new(settings(json!([
                {"id": "upsert", "type": kind, "updateStrategy": strategy, "leadData": data}
            ])));
            // Before the schema is read (the first event asks for it), then once it is known.
            h.event_with_id("upsert", &json!({"email": true, "name": "Jane"}), "before");
            h.event_with_id("upsert", &json!({"email": "jane@example.com", "name": "Jane"}), "good");
            h.flush();
            h.run_until_idle();
            let bad = [json!(false), json!(["jane@example.com"]), json!({"address": "jane@example.com"})];
            for (i, value) in bad.iter().enumerate() {
                h.event_with_id("upsert", &json!({"email": value, "name": "Jane"}), &format!("after{i}"));
            }
            h.flush();
            h.run_until_idle();
            for (id, what) in [
                ("before", "a boolean"),
                ("after0", "a boolean"),
                ("after1", "a list"),
                ("after2", "an object"),
            ] {
                let o = h.outcome_json(id);
                assert_eq!(o["status"], json!("failed"), "{kind} {strategy} {id}: {o}");
                assert_eq!(o["code"], json!("INVALID_VALUE"), "{kind} {strategy} {id}: {o}");
                assert_eq!(
                    o["message"],
                    json!(format!(
                        "parameter `leadData field email (the lookup field)`: a lookup value must be a string or a \
                         number, not {what}"
                    )),
                    "{kind} {strategy} {id}"
                );
            }
            // Sent (Marketo's answer per strategy is the fake's: `updateOnly` finds no lead).
            assert_ne!(h.outcome("good").status, Status::Failed, "{kind} {strategy}");
            let bodies: Vec<String> = h.rest_sent().iter().map(|r| body_text(r).to_string()).collect();
            assert_eq!(bodies.len(), 1, "{kind} {strategy}: {bodies:#?}");
            assert!(
                bodies[0].contains(r#""input":[{"email":"jane@example.com","firstName":"Jane"}]"#),
                "{bodies:?}"
            );
            h.assert_all_final();
        }
    }
}

/// A boolean lookup value is refused whatever `type` the configuration reads the field as
/// (`"email"`, `"text"`… would write it as the text `"true"`), in upserts and bulk rows; and a
/// lookup mapping that could never give a string or a number (a literal boolean, list or
/// object, or `type: "boolean"`) is refused when the connector is built.
#[test]
fn a_boolean_lookup_value_is_refused_whatever_type_reads_it_and_a_lookup_that_never_could_at_construction() {
    let message =
        "parameter `leadData field email (the lookup field)`: a lookup value must be a string or a number, \
                   not a boolean";
    for kind in ["createOrUpdateLead", "bulkImportLeads"] {
        for t in
            [None, Some("string"), Some("email"), Some("text"), Some("phone"), Some("url"), Some("integer")]
        {
            let mut email = field("email", "email");
            if let Some(t) = t {
                email["type"] = json!(t);
            }
            let action = if kind == "bulkImportLeads" {
                json!({"id": "a", "type": kind, "leadLookupField": "email", "leadData": [email, field("firstName", "name")]})
            } else {
                json!({"id": "a", "type": kind, "updateStrategy": "createOrUpdate",
                       "leadData": [email, field("firstName", "name")]})
            };
            let mut h = Driver::new(settings(json!([action])));
            // Once the schema is known (the first event reads it), and with a `Boolean` read from
            // the event as JSON reads it.
            h.event_with_id("a", &json!({"email": "jane@example.com", "name": "Jane"}), "good");
            h.flush();
            h.run_until_idle();
            h.event_with_id("a", &json!({"email": true, "name": "Jane"}), "true");
            assert_eq!(h.outcome_json("true")["message"], json!(message), "{kind} {t:?}");
            h.flush();
            h.run_until_idle();
            let sent: Vec<String> = h
                .rest_sent()
                .iter()
                .map(|r| {
                    r.body
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(&b.bytes()).into_owned())
                        .unwrap_or_default()
                })
                .collect();
            assert!(
                sent.iter().all(|b| !b.contains("\"true\"") && !b.contains("\ntrue,")),
                "{kind} {t:?}: {sent:#?}"
            );
        }
    }
    for (email, never) in [
        (json!({"field": "email", "source": {"value": true}}), "a literal that is a boolean"),
        (json!({"field": "email", "source": {"value": ["a@b.c"]}}), "a literal that is a list"),
        (
            json!({"field": "email", "source": {"attribute": "e"}, "type": "boolean"}),
            "a value read as type boolean",
        ),
    ] {
        for action in [
            upsert("createOnly", json!([email.clone()]), json!({})),
            json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "leadData": [email.clone()]}),
        ] {
            let err = Settings::from_value(&settings(json!([action]))).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "maps the lookup field `email` to {never}; a lookup value must be a string or a number"
                )),
                "{err}"
            );
        }
    }
    // A literal null or blank lookup, where Marketo finds leads by it; other strategies send it.
    for (literal, said) in [(json!(null), "a literal null"), (json!("  "), "an empty literal")] {
        let email = json!([{"field": "email", "source": {"value": literal}}]);
        for action in [
            upsert("createOrUpdate", email.clone(), json!({})),
            upsert("updateOnly", email.clone(), json!({})),
            json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "leadData": email.clone()}),
        ] {
            let err = Settings::from_value(&settings(json!([action]))).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "maps the lookup field `email` to {said}; Marketo cannot find a lead by it"
                )),
                "{err}"
            );
        }
        for strategy in ["createOnly", "createDuplicate"] {
            assert!(
                Settings::from_value(&settings(json!([upsert(strategy, email.clone(), json!({}))]))).is_ok()
            );
        }
    }
}

/// An upsert whose only mapped field is the lookup field, absent from the event: the message
/// names the lookup field (as it does when other fields are mapped), not `leadData`.
#[test]
fn a_lone_lookup_field_absent_from_the_event_is_named_as_the_lookup_field() {
    for strategy in ["createOrUpdate", "updateOnly"] {
        let mut h =
            Driver::new(settings(json!([upsert(strategy, json!([field("email", "email")]), json!({}))])));
        h.event_with_id("upsert", &json!({"name": "Jane"}), "absent");
        assert_eq!(
            h.outcome_json("absent")["message"],
            json!(
                "parameter `leadData field email (the lookup field)`: attribute `email` is not in the event"
            ),
            "{strategy}"
        );
        assert!(h.sent.is_empty(), "{strategy}: {:#?}", h.sent);
    }
    // Other strategies need no lookup value: with nothing to send, the mapping is named.
    let mut h =
        Driver::new(settings(json!([upsert("createOnly", json!([field("email", "email")]), json!({}))])));
    h.event_with_id("upsert", &json!({"name": "Jane"}), "absent");
    assert_eq!(
        h.outcome_json("absent")["message"],
        json!("parameter `leadData`: attribute `email` is not in the event")
    );
}

#[test]
fn per_record_results_become_per_event_outcomes() {
    let data = json!([field("email", "email"), field("firstName", "name")]);
    let mut h = Driver::new(settings(json!([
        upsert("createOrUpdate", data.clone(), json!({})),
        {"id": "createOnly", "type": "createOrUpdateLead", "updateStrategy": "createOnly", "leadData": data.clone()},
        {"id": "updateOnly", "type": "createOrUpdateLead", "updateStrategy": "updateOnly", "leadData": data},
    ])));
    let jane = h.fake.add_lead(json!({"id": 318594, "email": "jane@example.com"}));
    h.fake.add_lead(json!({"id": 600, "email": "twin@example.com"}));
    h.fake.add_lead(json!({"id": 601, "email": "twin@example.com"}));

    h.event_with_id("upsert", &json!({"email": "new@example.com", "name": "New"}), "created");
    h.run_until_idle();
    h.event_with_id("upsert", &json!({"email": "jane@example.com", "name": "Jane"}), "updated");
    h.run_until_idle();
    h.event_with_id("createOnly", &json!({"email": "jane@example.com"}), "exists");
    h.run_until_idle();
    h.event_with_id("updateOnly", &json!({"email": "ghost@example.com"}), "missing");
    h.run_until_idle();
    h.event_with_id("upsert", &json!({"email": "twin@example.com"}), "ambiguous");
    h.run_until_idle();

    assert_eq!(
        h.outcome_json("created"),
        json!({"eventId": "created", "actionId": "upsert", "status": "delivered", "leadIds": [1000],
               "requestId": FakeMarketo::request_id(1)})
    );
    assert_eq!(
        h.outcome_json("updated"),
        json!({"eventId": "updated", "actionId": "upsert", "status": "delivered", "leadIds": [jane],
               "requestId": FakeMarketo::request_id(2)})
    );
    assert_eq!(
        h.outcome_json("exists"),
        json!({"eventId": "exists", "actionId": "createOnly", "status": "skipped", "code": "1005",
               "message": "Lead already exists", "requestId": FakeMarketo::request_id(3)})
    );
    assert_eq!(
        h.outcome_json("missing"),
        json!({"eventId": "missing", "actionId": "updateOnly", "status": "skipped", "code": "1004",
               "message": "Lead not found", "requestId": FakeMarketo::request_id(4)})
    );
    assert_eq!(
        h.outcome_json("ambiguous"),
        json!({"eventId": "ambiguous", "actionId": "upsert", "status": "skipped", "code": "1007",
               "message": "Multiple lead match lookup criteria", "requestId": FakeMarketo::request_id(5)})
    );
    assert_eq!(h.fake.lead(jane).unwrap().fields["firstName"], json!("Jane"));
    assert_eq!(h.identity_sent().len(), 1, "one token for all five calls");
    h.assert_all_final();
}

#[test]
fn a_recorded_skipped_record_keeps_marketos_code_message_request_id_and_lead_id() {
    let data = json!([field("email", "email")]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    h.event("upsert", &json!({"email": "jane@example.com"}));
    h.answer_next(); // identity
    let call = h.inbox.front().cloned().unwrap();
    // Shape of the real response in https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads (https://github.com/Marketo/REST-Sample-Code/issues/13), with a lead id on the skip.
    h.respond(
        call.id,
        200,
        r#"{"requestId":"1ddd0#1fd5f0ssss64d","result":[{"id":514,"status":"skipped","reasons":[{"code":"1008","message":"Access denied to partition 'Europe'"}]}],"success":true}"#,
    );
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "upsert", "status": "skipped", "leadIds": [514], "code": "1008",
               "message": "Access denied to partition 'Europe'", "requestId": "1ddd0#1fd5f0ssss64d"})
    );
    assert_eq!(h.timeout(), None);
    h.assert_all_final();
}

/// Numbers reach Marketo as the event holds them: a double read from the event's text and
/// written into the record is the same double (serde_json's `float_roundtrip`; without it about
/// one double in eight with 16 or 17 significant digits came out a unit off in the last place).
#[test]
fn numbers_reach_marketo_as_the_same_doubles() {
    let numbers = [
        0.426_454_663_276_672_03,
        -0.003_886_613_845_825_195_6,
        1.551_540_484_651_923_1e-13,
        0.300_000_000_000_000_04,
        1.234_567_890_123_456_8e20,
        -0.0,
    ];
    let data = json!([field("email", "e"), field("score", "n")]);
    let mut h = Driver::new(settings(json!([upsert("createOrUpdate", data, json!({}))])));
    for (i, n) in numbers.iter().enumerate() {
        h.event("upsert", &json!({"e": format!("n{i}@example.com"), "n": n}));
    }
    h.run_until_idle();
    let sent: Vec<f64> = h
        .rest_sent()
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(&HttpRequestView::of(r).body).ok())
        .filter_map(|b| b["input"][0]["score"].as_f64())
        .collect();
    let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&sent), bits(&numbers), "sent {sent:?}");
}

#[test]
fn an_attribute_path_with_an_empty_key_is_refused_naming_the_action_and_parameter() {
    // `a..b`, `.a`, `a.` and `.` read a key `""` no event means to have: a typo or a cut path
    // would otherwise leave the field out of every record, silently.
    for path in ["a..b", ".email", "email.", "."] {
        let err = Settings::from_value(&settings(json!([upsert(
            "createOrUpdate",
            json!([field("email", "email"), field("firstName", path)]),
            json!({})
        )])))
        .unwrap_err();
        assert_eq!(err.code(), "INVALID_ACTION", "{path}");
        let message = err.to_string();
        assert!(
            message.starts_with("action `upsert`, parameter `leadData[1].source`:")
                && message.contains(&format!("`{path}` has an empty key")),
            "{path}: {message}"
        );
    }
    // The same in the other actions' sources.
    let list = json!({"id": "add", "type": "addLeadToList", "targetStaticList": 1,
                      "leadIdLookup": {"filterType": "email", "source": {"attribute": "user..email"}}});
    let err = Settings::from_value(&settings(json!([list]))).unwrap_err();
    assert_eq!(err.code(), "INVALID_ACTION");
    assert!(err.to_string().contains("parameter `leadIdLookup.source`"), "{err}");
    // An empty key given on purpose, as a list, and plain dot paths still read.
    let ok = json!([field("email", "a.b c.0"), {"field": "x", "source": {"attribute": ["a", "", "b"]}}]);
    assert!(Settings::from_value(&settings(json!([upsert("createOrUpdate", ok, json!({}))]))).is_ok());
}

/// An action is named by its id exactly as configured: `" upsert "` is not trimmed to `upsert`
/// (it was, and `process(" upsert ")`, the id as the host configured it, was refused).
#[test]
fn an_action_id_is_matched_exactly_as_configured() {
    let mut h = Driver::new(settings(json!([{"id": " upsert ", "type": "createOrUpdateLead",
        "updateStrategy": "createOrUpdate", "leadData": [{"field": "email", "source": {"attribute": "email"}}]}])));
    h.event_with_id(" upsert ", &json!({"email": "a@example.com"}), "e1");
    h.run_until_idle();
    h.assert_all_final();
    let o = h.outcome("e1");
    assert_eq!((o.status, o.action_id.as_str()), (Status::Delivered, " upsert "));
    assert_eq!(
        h.unreadable_event("upsert", "it holds a BigInt", None),
        Err(marketo_connector::core::UsageError::UnknownAction("upsert".into()))
    );
}

/// A missing lookup value fails the event with `MISSING_ATTRIBUTE` whatever else is wrong with
/// it, with or without the lead schema read: a value its field's type refuses (found only once
/// the schema is read) does not take its place. (A fresh user saw `INVALID_VALUE` on a
/// connector that had read the schema and `MISSING_ATTRIBUTE` on a new one.)
#[test]
fn a_missing_lookup_value_is_the_failure_whether_or_not_the_schema_is_read() {
    for action_type in ["createOrUpdateLead", "createOrUpdateLeadBatched"] {
        for schema_read in [false, true] {
            // The faulty field before the lookup field, in the mapping and in the record.
            let data = json!([field("leadScore", "pts"), field("email", "e")]);
            let mut action = upsert("createOrUpdate", data, json!({}));
            action["type"] = json!(action_type);
            let mut h = Driver::new(settings(json!([action])));
            if schema_read {
                h.event("upsert", &json!({"e": "first@example.com", "pts": 1}));
                h.flush();
                h.run_until_idle();
                assert_eq!(h.outcome("ev-1").status, Status::Delivered, "{action_type}");
            }
            let id = h.event("upsert", &json!({"e": null, "pts": "abc"}));
            let o = h.outcome_json(&id);
            let case = format!("{action_type}, schema read: {schema_read}");
            assert_eq!(
                (o["status"].as_str(), o["code"].as_str()),
                (Some("failed"), Some("MISSING_ATTRIBUTE")),
                "{case}"
            );
            let message = o["message"].as_str().unwrap_or("");
            assert!(message.contains("email (the lookup field)"), "{case}: {message}");
            if schema_read {
                // The type check itself still applies once the lookup value is there.
                let id = h.event("upsert", &json!({"e": "b@example.com", "pts": "abc"}));
                let o = h.outcome_json(&id);
                assert_eq!(o["code"].as_str(), Some("INVALID_VALUE"), "{case}: {o}");
                assert!(o["message"].as_str().unwrap_or("").contains("leadScore"), "{case}: {o}");
            }
            h.flush();
            h.run_until_idle();
            h.assert_all_final();
        }
    }
}
