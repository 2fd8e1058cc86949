//! `addLeadToList` / `removeLeadFromList` (SPEC §3, https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads, https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/assets/static-lists): lead ids given or
//! looked up by each of the eleven filter types, the exact lookup, create and list calls, and the
//! per-event outcomes (`leadIds`, Marketo's skip codes).

use marketo_connector::core::{HttpRequest, Method, Settings, Status};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

const LIST: i64 = 1089;
const LIST_URL: &str = "https://123-ABC-123.mktorest.com/rest/v1/lists/1089/leads.json";
const LEADS_URL: &str = "https://123-ABC-123.mktorest.com/rest/v1/leads.json";

fn add_by_id(path: &str) -> Value {
    json!({"id": "add", "type": "addLeadToList", "targetStaticList": LIST, "targetLeadId": {"attribute": path}})
}

fn add_by_lookup(filter: &str, path: &str, add_lead: bool) -> Value {
    json!({"id": "add", "type": "addLeadToList", "targetStaticList": LIST,
           "leadIdLookup": {"filterType": filter, "source": {"attribute": path}}, "addLead": add_lead})
}

fn assert_list_call(req: &HttpRequest, method: Method, body: &str, token: &str) {
    assert_eq!(req.method, method);
    assert_eq!(req.url, LIST_URL);
    assert_eq!(
        req.headers,
        vec![
            ("Authorization".to_string(), format!("Bearer {token}")),
            ("Accept".to_string(), "application/json".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ]
    );
    assert_eq!(body_text(req), body);
}

fn assert_lookup_call(req: &HttpRequest, filter: &str, encoded_values: &str, token: &str) {
    assert_eq!(req.method, Method::Get);
    assert_eq!(
        req.url,
        format!(
            "{LEADS_URL}?filterType={filter}&filterValues={encoded_values}&fields=id,{filter}&batchSize=300"
        )
    );
    assert_eq!(
        req.headers,
        vec![
            ("Authorization".to_string(), format!("Bearer {token}")),
            ("Accept".to_string(), "application/json".to_string()),
        ]
    );
    assert_eq!(req.body, None);
}

#[test]
fn target_lead_id_number_or_numeric_string_is_sent_as_an_integer() {
    // AudienceStream carries the id as a number, EventStream as a string.
    for (event, path) in [
        (audiencestream(), "visitor.metrics.Marketo lead id"),
        (eventstream(), "data.udo.marketo_lead_id"),
        (json!({"id": " 318594 "}), "id"),
    ] {
        let mut h = Driver::new(settings(json!([add_by_id(path)])));
        h.fake.add_lead(json!({"id": 318594, "email": "jane.doe@example.com"}));
        h.event("add", &event);
        h.run_until_idle();
        let rest = h.rest_sent();
        assert_eq!(rest.len(), 1, "no lookup when the id is given: {rest:#?}");
        assert_list_call(rest[0], Method::Post, r#"{"input":[{"id":318594}]}"#, &h.token(1));
        assert_eq!(
            h.outcome_json("ev-1"),
            json!({"eventId": "ev-1", "actionId": "add", "status": "delivered", "leadIds": [318594],
                   "requestId": FakeMarketo::request_id(1)})
        );
        assert_eq!(h.fake.members(LIST), vec![318594]);
        h.assert_all_final();
    }
}

#[test]
fn a_target_lead_id_that_is_not_an_integer_fails_the_event_without_any_request() {
    let mut h = Driver::new(settings(json!([add_by_id("lead")])));
    let bad =
        [json!(null), json!(true), json!("abc"), json!(1.5), json!(-3), json!(""), json!([1]), json!("1e3")];
    for (i, value) in bad.iter().enumerate() {
        let id = format!("bad-{i}");
        h.event_with_id("add", &json!({"lead": value}), &id);
        let o = h.outcome_json(&id);
        assert_eq!(o["status"], json!("failed"), "{value}");
        let expected_code = if value.is_null() { "MISSING_ATTRIBUTE" } else { "INVALID_VALUE" };
        assert_eq!(o["code"], json!(expected_code), "{value}");
        assert!(o["message"].as_str().unwrap().contains("targetLeadId"), "{o}");
        assert_eq!(o.get("leadIds"), None);
    }
    // Absent altogether.
    h.event_with_id("add", &json!({"other": 1}), "absent");
    assert_eq!(h.outcome_json("absent")["code"], json!("MISSING_ATTRIBUTE"));
    assert!(h.sent.is_empty(), "{:#?}", h.sent);
    assert_eq!(h.timeout(), None);
    h.assert_all_final();
}

#[test]
fn a_lookup_value_that_names_no_lead_fails_the_event_saying_why_without_any_request() {
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "email", false)])));
    let cases = [
        (json!(null), "MISSING_ATTRIBUTE", "attribute `email` is null in the event; it needs a value"),
        (
            json!(""),
            "INVALID_VALUE",
            "the value is empty (or only white space): Marketo cannot find a lead by it",
        ),
        (
            json!(" \t\u{a0}"),
            "INVALID_VALUE",
            "the value is empty (or only white space): Marketo cannot find a lead by it",
        ),
        (json!(true), "INVALID_VALUE", "the email to look up must be a string or a number, not a boolean"),
        (
            json!({"a": 1}),
            "INVALID_VALUE",
            "the email to look up must be a string or a number, not an object",
        ),
    ];
    for (i, (value, code, said)) in cases.iter().enumerate() {
        let id = format!("bad-{i}");
        h.event_with_id("add", &json!({"email": value}), &id);
        let o = h.outcome_json(&id);
        assert_eq!((&o["status"], &o["code"]), (&json!("failed"), &json!(code)), "{value}");
        assert_eq!(o["message"], json!(format!("parameter `leadIdLookup.source`: {said}")), "{value}");
    }
    h.event_with_id("add", &json!({"other": 1}), "absent");
    assert_eq!(
        h.outcome_json("absent")["message"],
        json!("parameter `leadIdLookup.source`: attribute `email` is not in the event")
    );
    assert!(h.sent.is_empty(), "{:#?}", h.sent);
    h.assert_all_final();
}

#[test]
fn every_lookup_filter_type_finds_the_lead_then_adds_it() {
    let cookie = "id:123-ABC-123&token:_mch-example.com-1718000000000-12345";
    // (filterType, value in the event, the lead's stored field value, the value as it appears in the URL)
    let cases: [(&str, Value, Value, &str); 11] = [
        ("id", json!(318594), json!(null), ""),
        (
            "cookies",
            json!(cookie),
            json!("_mch-example.com-1718000000000-12345"),
            "id:123-ABC-123%26token:_mch-example.com-1718000000000-12345",
        ),
        ("email", json!("jane.doe@example.com"), json!("jane.doe@example.com"), "jane.doe@example.com"),
        ("twitterId", json!("janedoe_tw"), json!("janedoe_tw"), "janedoe_tw"),
        ("facebookId", json!(100004123456789u64), json!("100004123456789"), "100004123456789"),
        ("linkedInId", json!("jane-doe-4b1a2c"), json!("jane-doe-4b1a2c"), "jane-doe-4b1a2c"),
        ("sfdcAccountId", json!("0015g00000XyZ1AAA"), json!("0015g00000XyZ1AAA"), "0015g00000XyZ1AAA"),
        ("sfdcContactId", json!("0035g00000AbC2DEF"), json!("0035g00000AbC2DEF"), "0035g00000AbC2DEF"),
        ("sfdcLeadId", json!("00Q5g00000QwErTYU"), json!("00Q5g00000QwErTYU"), "00Q5g00000QwErTYU"),
        ("sfdcLeadOwnerId", json!("0055g00000OwNeR12"), json!("0055g00000OwNeR12"), "0055g00000OwNeR12"),
        ("sfdcOpptyId", json!("0065g00000OpPtY34"), json!("0065g00000OpPtY34"), "0065g00000OpPtY34"),
    ];
    for (filter, value, stored, encoded) in cases {
        let mut h = Driver::new(settings(json!([add_by_lookup(filter, "lookup.value", false)])));
        // A decoy, so a lookup that ignored its filter would find the wrong lead.
        h.fake.add_lead(json!({"id": 7, "email": "someone.else@example.com"}));
        let mut lead = json!({"id": 318594, "email": "jane.doe@example.com"});
        if filter != "id" && filter != "email" {
            lead[filter] = stored;
        }
        h.fake.add_lead(lead);
        h.event("add", &json!({"lookup": {"value": value}}));
        h.run_until_idle();

        let token = h.token(1);
        let rest = h.rest_sent();
        if filter == "id" {
            assert_eq!(rest.len(), 1, "id is used directly, without a lookup: {rest:#?}");
        } else {
            assert_eq!(rest.len(), 2, "{filter}: {rest:#?}");
            assert_lookup_call(rest[0], filter, encoded, &token);
        }
        assert_list_call(rest[rest.len() - 1], Method::Post, r#"{"input":[{"id":318594}]}"#, &token);
        let o = h.outcome("ev-1");
        assert_eq!((o.status, o.lead_ids.clone()), (Status::Delivered, vec![318594]), "{filter}");
        assert_eq!(h.fake.members(LIST), vec![318594], "{filter}");
        h.assert_all_final();
    }
}

#[test]
fn the_munchkin_cookie_from_an_eventstream_event_reaches_marketo_url_encoded() {
    let mut h = Driver::new(settings(json!([add_by_lookup(
        "cookies",
        "data.firstparty_tealium_cookies._mkto_trk",
        false
    )])));
    h.fake.add_lead(json!({"id": 583, "cookies": "_mch-example.com-1718000000000-12345"}));
    h.event("add", &eventstream());
    h.run_until_idle();
    let lookup = h.rest_sent()[0].url.clone();
    assert!(
        lookup.contains("filterValues=id:123-ABC-123%26token:_mch-example.com-1718000000000-12345&"),
        "{lookup}"
    );
    assert!(!lookup.contains("&token:"), "a raw `&` would split Marketo's query: {lookup}");
    assert_eq!(h.outcome("ev-1").lead_ids, vec![583]);
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
}

#[test]
fn an_audiencestream_email_lookup_adds_the_lead() {
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "visitor.properties.5124", false)])));
    h.fake.add_lead(json!({"id": 318594, "email": "Jane.Doe@Example.com"}));
    h.event("add", &audiencestream());
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_lookup_call(rest[0], "email", "jane.doe@example.com", &h.token(1));
    assert_list_call(rest[1], Method::Post, r#"{"input":[{"id":318594}]}"#, &h.token(1));
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "add", "status": "delivered", "leadIds": [318594],
               "requestId": FakeMarketo::request_id(2)})
    );
}

#[test]
fn lookup_values_are_percent_encoded_so_marketo_reads_them_intact() {
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "email", false)])));
    h.fake.add_lead(json!({"id": 42, "email": "jane+news@example.com"}));
    h.fake.add_lead(json!({"id": 43, "email": "jane news@example.com"}));
    h.event("add", &json!({"email": "jane+news@example.com"}));
    h.run_until_idle();
    assert_lookup_call(h.rest_sent()[0], "email", "jane%2Bnews@example.com", &h.token(1));
    assert_eq!(h.outcome("ev-1").lead_ids, vec![42]);
}

#[test]
fn several_matching_leads_are_all_added_and_all_reported() {
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "email", false)])));
    h.fake.add_lead(json!({"id": 501, "email": "shared@example.com"}));
    h.fake.add_lead(json!({"id": 502, "email": "shared@example.com"}));
    h.fake.add_lead(json!({"id": 503, "email": "other@example.com"}));
    h.event("add", &json!({"email": "shared@example.com"}));
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_eq!(rest.len(), 2);
    assert_list_call(rest[1], Method::Post, r#"{"input":[{"id":501},{"id":502}]}"#, &h.token(1));
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "add", "status": "delivered", "leadIds": [501, 502],
               "requestId": FakeMarketo::request_id(2)})
    );
    assert_eq!(h.fake.members(LIST), vec![501, 502]);
}

#[test]
fn a_lookup_that_finds_nothing_is_skipped_with_1004_and_no_list_call() {
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "email", false)])));
    h.fake.add_lead(json!({"id": 501, "email": "someone@example.com"}));
    h.event("add", &json!({"email": "ghost@example.com"}));
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_eq!(rest.len(), 1, "only the lookup: {rest:#?}");
    assert_lookup_call(rest[0], "email", "ghost@example.com", &h.token(1));
    let o = h.outcome_json("ev-1");
    assert_eq!(o["status"], json!("skipped"));
    assert_eq!(o["code"], json!("1004"));
    assert!(o["message"].as_str().unwrap().contains("Lead not found"), "{o}");
    assert_eq!(o.get("leadIds"), None);
    assert!(h.fake.members(LIST).is_empty());
    assert_eq!(h.fake.leads.len(), 1, "no lead was created");
    h.assert_all_final();
}

#[test]
fn add_lead_creates_the_missing_lead_then_adds_the_new_id() {
    for (filter, value) in [("email", "new.person@example.com"), ("twitterId", "newbie_tw")] {
        let mut h = Driver::new(settings(json!([add_by_lookup(filter, "v", true)])));
        h.event("add", &json!({"v": value}));
        h.run_until_idle();
        let token = h.token(1);
        let rest = h.rest_sent();
        assert_eq!(rest.len(), 3, "lookup, create, list: {rest:#?}");
        assert_lookup_call(rest[0], filter, value, &token);
        assert_eq!(rest[1].method, Method::Post);
        assert_eq!(rest[1].url, LEADS_URL);
        assert_eq!(header(rest[1], "Authorization"), Some(format!("Bearer {token}").as_str()));
        assert_eq!(header(rest[1], "Content-Type"), Some("application/json"));
        assert_eq!(
            body_text(rest[1]),
            format!(
                r#"{{"action":"createOnly","lookupField":"{filter}","input":[{{"{filter}":"{value}"}}]}}"#
            )
        );
        assert_list_call(rest[2], Method::Post, r#"{"input":[{"id":1000}]}"#, &token);
        assert_eq!(
            h.outcome_json("ev-1"),
            json!({"eventId": "ev-1", "actionId": "add", "status": "delivered", "leadIds": [1000],
                   "requestId": FakeMarketo::request_id(3)})
        );
        assert_eq!(h.fake.lead(1000).unwrap().fields[filter], json!(value));
        assert_eq!(h.fake.members(LIST), vec![1000]);
        h.assert_all_final();
    }
}

#[test]
fn marketo_skipping_the_list_add_gives_a_skipped_outcome() {
    let mut h = Driver::new(settings(json!([add_by_id("lead")])));
    h.event("add", &json!({"lead": 777}));
    h.run_until_idle();
    assert_list_call(h.rest_sent()[0], Method::Post, r#"{"input":[{"id":777}]}"#, &h.token(1));
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "add", "status": "skipped", "leadIds": [777], "code": "1004",
               "message": "Lead not found", "requestId": FakeMarketo::request_id(1)})
    );
    h.assert_all_final();
}

#[test]
fn a_recorded_list_answer_maps_back_to_each_event() {
    // https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/assets/static-lists: 318594 added, 318595 skipped with 1004.
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "email", false)])));
    h.event("add", &json!({"email": "pair@example.com"}));
    h.answer_next(); // identity
    let lookup = h.inbox.front().cloned().unwrap();
    h.respond(
        lookup.id,
        200,
        r#"{"requestId":"177a1#1578b643357","result":[{"id":318594,"pair":1},{"id":318595}],"success":true}"#,
    );
    let list = h.inbox.front().cloned().unwrap();
    assert_eq!(body_text(&list), r#"{"input":[{"id":318594},{"id":318595}]}"#);
    h.respond(
        list.id,
        200,
        r#"{"requestId":"6860#1706170ba29","result":[{"id":318594,"status":"added"},{"id":318595,"status":"skipped","reasons":[{"code":"1004","message":"Lead not found"}]}],"success":true}"#,
    );
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "add", "status": "delivered", "leadIds": [318594, 318595],
               "requestId": "6860#1706170ba29"})
    );
}

#[test]
fn remove_from_list_sends_delete_and_reports_1015_for_non_members() {
    let action = json!({"id": "remove", "type": "removeLeadFromList", "targetStaticList": LIST,
                        "targetLeadId": {"attribute": "lead"}});
    let mut h = Driver::new(settings(json!([action])));
    h.fake.add_lead(json!({"id": 109}));
    h.fake.add_lead(json!({"id": 110}));
    h.fake.lists.insert(LIST, vec![109]);
    h.event_with_id("remove", &json!({"lead": 109}), "member");
    h.run_until_idle();
    h.event_with_id("remove", &json!({"lead": "110"}), "not-member");
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_list_call(rest[0], Method::Delete, r#"{"input":[{"id":109}]}"#, &h.token(1));
    assert_list_call(rest[1], Method::Delete, r#"{"input":[{"id":110}]}"#, &h.token(1));
    assert_eq!(
        h.outcome_json("member"),
        json!({"eventId": "member", "actionId": "remove", "status": "delivered", "leadIds": [109],
               "requestId": FakeMarketo::request_id(1)})
    );
    assert_eq!(
        h.outcome_json("not-member"),
        json!({"eventId": "not-member", "actionId": "remove", "status": "skipped", "leadIds": [110],
               "code": "1015", "message": "Lead not in list", "requestId": FakeMarketo::request_id(2)})
    );
    assert!(h.fake.members(LIST).is_empty());
    h.assert_all_final();
}

#[test]
fn add_lead_with_a_filter_marketo_cannot_create_by_is_a_configuration_error() {
    for filter in ["id", "cookies"] {
        let err = Settings::from_value(&settings(json!([add_by_lookup(filter, "v", true)])))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`add`") && err.contains("addLead"), "{filter}: {err}");
    }
}

#[test]
fn a_lead_created_by_an_attempt_whose_answer_was_lost_is_looked_up_and_added() {
    let mut h = Driver::new(settings(json!([add_by_lookup("email", "email", true)])));
    h.event_with_id("add", &json!({"email": "new@example.com"}), "e");
    // identity, lookup (nothing found)
    h.answer_next();
    h.answer_next();
    // The createOnly call reaches Marketo, which creates the lead; the answer is lost.
    let create = h.inbox.front().cloned().expect("the create call");
    assert!(body_text(&create).contains("createOnly"));
    let _ = h.fake.handle(&create, h.now);
    h.transport_error(create.id, "connection reset by peer");
    h.run_until_idle();
    let o = h.outcome("e");
    assert_eq!(o.status, Status::Delivered, "{o:?}");
    let id = h.fake.leads.iter().find(|l| l.fields["email"] == "new@example.com").map(|l| l.id);
    assert_eq!(o.lead_ids, id.into_iter().collect::<Vec<_>>());
    assert_eq!(h.fake.leads.iter().filter(|l| l.fields["email"] == "new@example.com").count(), 1);
    assert_eq!(h.fake.members(LIST), o.lead_ids);
}

#[test]
fn a_removal_retried_after_a_lost_answer_is_delivered_not_skipped_1015() {
    let remove = json!({"id": "rm", "type": "removeLeadFromList", "targetStaticList": LIST, "targetLeadId": {"attribute": "id"}});
    let mut h = Driver::new(settings(json!([remove])));
    let id = h.fake.add_lead(json!({"email": "member@example.com"}));
    h.fake.lists.entry(LIST).or_default().push(id);
    h.event_with_id("rm", &json!({"id": id}), "r");
    h.answer_next(); // identity
    let delete = h.inbox.front().cloned().expect("the DELETE");
    let _ = h.fake.handle(&delete, h.now); // applied...
    h.transport_error(delete.id, "connection reset by peer"); // ...answer lost
    h.run_until_idle();
    assert_eq!(h.outcome("r").status, Status::Delivered);
    assert!(h.fake.members(LIST).is_empty());
}

/// Emails that differ only in the case of a non-ASCII letter are one lookup value (merged
/// ignoring case, as the lead cache keys them), and the lead Marketo finds is matched back to
/// each of them: both events are added. Before, both were skipped 1004: the values were merged
/// ignoring case, but the answer's rows matched ignoring ASCII case only.
#[test]
fn emails_differing_in_non_ascii_case_find_their_lead() {
    let action = json!({"id": "add", "type": "addLeadToListBatched", "targetStaticList": LIST,
                        "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}});
    let mut h = Driver::new(settings(json!([action])));
    h.fake.add_lead(json!({"id": 2003, "email": "émile@example.com"}));
    h.fake.add_lead(json!({"id": 2004, "email": "bob@example.com"}));
    for email in ["Émile@example.com", "émile@example.com", "bob@example.com"] {
        h.event("add", &json!({"email": email}));
    }
    h.flush();
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_lookup_call(rest[0], "email", "bob@example.com,%C3%89mile@example.com", &h.token(1));
    for (id, lead) in [("ev-1", 2003), ("ev-2", 2003), ("ev-3", 2004)] {
        let o = h.outcome_json(id);
        assert_eq!((&o["status"], &o["leadIds"]), (&json!("delivered"), &json!([lead])), "{id}: {o}");
    }
    assert_eq!(h.fake.members(LIST), vec![2003, 2004]);
    h.assert_all_final();
}
