//! Issue 15: `check()` finds a bad configuration before the first event. Each problem it can
//! report is found on a configuration that has it and absent on one that does not, against the
//! fake instance; a user without a permission gets the permission named, and the check falls
//! back to the other documented endpoint where there is one.

use marketo_connector::core::check::{CheckResult, Problem};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

/// A harness whose instance has list 1001, campaign 77 (active, requestable, program 500 with
/// tokens `message` and `offer`), campaign 78 (inactive), 79 (active, batch) and partitions
/// Default and Europe.
fn instance(actions: Value) -> Driver {
    let mut h = Driver::new(settings(actions));
    h.fake.lists.insert(1001, Vec::new());
    h.fake.campaigns.insert(77, (true, true, 500));
    h.fake.campaigns.insert(78, (false, true, 500));
    h.fake.campaigns.insert(79, (true, false, 500));
    h.fake.program_tokens.insert(500, vec!["message".into(), "offer".into()]);
    h.fake.partitions = vec!["Default".into(), "Europe".into()];
    h
}

fn run_check(h: &mut Driver) -> CheckResult {
    let key = h.start_check("check");
    h.run_until_idle();
    let (k, result) = h.take_check().expect("the check finished");
    assert_eq!(k, Some(key));
    assert_eq!(result.ok, result.problems.is_empty());
    result
}

fn check(actions: Value) -> CheckResult {
    run_check(&mut instance(actions))
}

fn codes(r: &CheckResult) -> Vec<(&str, &str, &str)> {
    r.problems.iter().map(|p| (p.action_id.as_str(), p.parameter.as_str(), p.code.as_str())).collect()
}

fn one(r: &CheckResult) -> &Problem {
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    &r.problems[0]
}

fn upsert(lookup: &str, fields: &[&str], partition: Option<&str>) -> Value {
    let data: Vec<Value> = fields.iter().map(|f| json!({"field": f, "source": {"attribute": f}})).collect();
    let mut a = json!({"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                       "leadLookupFilter": lookup, "leadData": data});
    if let Some(p) = partition {
        a["partitionName"] = json!(p);
    }
    a
}

fn email(campaign: i64, tokens: &[&str]) -> Value {
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|t| json!({"name": format!("{{{{my.{t}}}}}"), "source": {"attribute": t}}))
        .collect();
    json!({"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": campaign,
           "targetLeadId": {"attribute": "id"}, "tokens": tokens})
}

fn list_add(list: i64, filter: &str) -> Value {
    json!({"id": "add", "type": "addLeadToList", "targetStaticList": list,
           "leadIdLookup": {"filterType": filter, "source": {"attribute": "v"}}})
}

fn bulk(lookup: &str) -> Value {
    json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": lookup,
           "leadData": [{"field": lookup, "source": {"attribute": "k"}}, {"field": "firstName", "source": {"attribute": "n"}}]})
}

#[test]
fn a_configuration_that_matches_the_instance_has_no_problem() {
    let r = check(json!([
        upsert("email", &["email", "firstName", "leadScore"], Some("Europe")),
        email(77, &["message", "offer"]),
        list_add(1001, "email"),
        bulk("email"),
    ]));
    assert!(r.ok && r.problems.is_empty(), "{:#?}", r.problems);
}

#[test]
fn a_field_that_differs_only_in_case_is_unknown_and_the_right_spelling_suggested() {
    let r = check(json!([upsert("email", &["email", "FirstName"], None)]));
    let p = one(&r);
    assert_eq!((p.parameter.as_str(), p.code.as_str()), ("leadData[1].field", "UNKNOWN_FIELD"));
    assert_eq!(p.suggestion.as_deref(), Some("firstName"));
    assert!(p.message.contains("case-sensitive"), "{}", p.message);
    let r = check(json!([upsert("email", &["email", "favouriteColour"], None)]));
    let p = one(&r);
    assert_eq!((p.code.as_str(), p.suggestion.as_deref()), ("UNKNOWN_FIELD", None));
}

#[test]
fn an_unknown_lookup_field_is_found() {
    let mut a = upsert("email", &["email"], None);
    a["leadLookupFilter"] = json!("Email");
    a["updateStrategy"] = json!("createOnly");
    let r = check(json!([a]));
    let p = one(&r);
    assert_eq!(
        (p.parameter.as_str(), p.code.as_str(), p.suggestion.as_deref()),
        ("leadLookupFilter", "UNKNOWN_FIELD", Some("email"))
    );
}

#[test]
fn a_read_only_field_is_found() {
    let r = check(json!([upsert("email", &["email", "createdAt"], None)]));
    assert_eq!(codes(&r), vec![("up", "leadData[1].field", "READ_ONLY_FIELD")]);
    // `id` is read-only but is how updateOnly finds the lead: not a problem as the lookup field.
    let a = json!({"id": "up", "type": "createOrUpdateLead", "updateStrategy": "updateOnly", "leadLookupFilter": "id",
                   "leadData": [{"field": "id", "source": {"attribute": "id"}}, {"field": "title", "source": {"attribute": "t"}}]});
    assert!(check(json!([a])).ok);
}

#[test]
fn a_lookup_field_that_is_not_searchable_is_found() {
    let r = check(json!([upsert("firstName", &["firstName", "email"], None)]));
    assert_eq!(codes(&r), vec![("up", "leadLookupFilter", "NOT_SEARCHABLE")]);
    let r = check(json!([upsert("sfdcLeadId", &["sfdcLeadId", "email"], None)]));
    assert!(r.ok, "{:#?}", r.problems);
}

#[test]
fn a_bulk_lookup_field_import_cannot_dedupe_by_is_found() {
    let r = check(json!([bulk("lastName")]));
    assert_eq!(codes(&r), vec![("bulk", "leadLookupField", "CANNOT_DEDUPE")]);
    assert!(check(json!([bulk("twitterId")])).ok);
}

#[test]
fn a_static_list_that_does_not_exist_is_found() {
    let r = check(json!([list_add(4242, "email")]));
    let p = one(&r);
    assert_eq!((p.parameter.as_str(), p.code.as_str()), ("targetStaticList", "UNKNOWN_LIST"));
    assert!(p.message.contains("4242"));
    let r = check(
        json!([{"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "targetStaticList": 4242,
                          "leadData": [{"field": "email", "source": {"attribute": "e"}}]}]),
    );
    assert_eq!(codes(&r), vec![("bulk", "targetStaticList", "UNKNOWN_LIST")]);
}

#[test]
fn campaigns_that_do_not_exist_are_inactive_or_cannot_be_requested_are_found() {
    let r = check(json!([email(99, &[])]));
    assert_eq!(codes(&r), vec![("mail", "targetEmailCampaign", "UNKNOWN_CAMPAIGN")]);
    let r = check(json!([email(78, &[])]));
    assert_eq!(codes(&r), vec![("mail", "targetEmailCampaign", "CAMPAIGN_INACTIVE")]);
    let r = check(json!([email(79, &[])]));
    let p = one(&r);
    assert_eq!(p.code, "CAMPAIGN_NOT_TRIGGERABLE");
    assert!(p.message.contains("Campaign is Requested"), "{}", p.message);
}

#[test]
fn a_token_the_campaigns_program_does_not_define_is_found() {
    let r = check(json!([email(77, &["message", "Offer", "coupon"])]));
    assert_eq!(
        codes(&r),
        vec![("mail", "tokens[1].name", "UNKNOWN_TOKEN"), ("mail", "tokens[2].name", "UNKNOWN_TOKEN")]
    );
    assert_eq!(r.problems[0].suggestion.as_deref(), Some("{{my.offer}}"));
    let tokens_call = h_urls(json!([email(77, &["message"])]));
    assert!(
        tokens_call.contains(&format!("{REST}/asset/v1/folder/500/tokens.json?folderType=Program")),
        "{tokens_call:#?}"
    );
}

/// The URLs a check of `actions` called.
fn h_urls(actions: Value) -> Vec<String> {
    let mut h = instance(actions);
    run_check(&mut h);
    h.sent.iter().filter(|r| !is_identity(r)).map(|r| r.url.clone()).collect()
}

#[test]
fn a_partition_that_does_not_exist_is_found() {
    let r = check(json!([upsert("email", &["email"], Some("europe"))]));
    let p = one(&r);
    assert_eq!(
        (p.parameter.as_str(), p.code.as_str(), p.suggestion.as_deref()),
        ("partitionName", "UNKNOWN_PARTITION", Some("Europe"))
    );
}

#[test]
fn check_uses_one_call_per_distinct_object_and_the_schema_read_is_shared_with_delivery() {
    let urls = h_urls(json!([
        upsert("email", &["email"], Some("Europe")),
        email(77, &["message"]),
        list_add(1001, "email"),
        {"id": "add2", "type": "removeLeadFromList", "targetStaticList": 1001, "targetLeadId": {"attribute": "id"}},
    ]));
    assert_eq!(
        urls,
        vec![
            format!("{REST}/v1/leads/describe2.json"),
            format!("{REST}/v1/lists/1001.json"),
            format!("{REST}/asset/v1/smartCampaign/77.json"),
            format!("{REST}/v1/leads/partitions.json"),
            format!("{REST}/asset/v1/folder/500/tokens.json?folderType=Program"),
        ]
    );
    // After a check, delivery needs no schema read of its own.
    let mut h = instance(json!([upsert("email", &["email"], None)]));
    run_check(&mut h);
    h.event("up", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    assert_eq!(h.describe_sent().len(), 1);
}

#[test]
fn without_the_assets_permission_campaigns_are_checked_through_the_lead_database_api() {
    let mut h = instance(json!([email(79, &["message"]), email_as("mail2", 99)]));
    h.fake.denied.push("/asset/".into());
    let r = run_check(&mut h);
    assert_eq!(
        codes(&r),
        vec![
            ("mail", "targetEmailCampaign", "CAMPAIGN_NOT_TRIGGERABLE"),
            ("mail", "tokens", "PERMISSION_DENIED"),
            ("mail2", "targetEmailCampaign", "UNKNOWN_CAMPAIGN"),
        ],
        "in configuration order"
    );
    assert!(r.problems[1].message.contains("Read-Only Assets"), "{}", r.problems[1].message);
    let urls: Vec<&str> = h.sent.iter().map(|r| r.url.as_str()).collect();
    assert!(urls.contains(&format!("{REST}/v1/campaigns/79.json").as_str()), "{urls:#?}");
}

fn email_as(id: &str, campaign: i64) -> Value {
    let mut a = email(campaign, &[]);
    a["id"] = json!(id);
    a
}

#[test]
fn without_the_lead_permission_lists_are_checked_through_the_asset_api_or_the_permission_named() {
    let mut h = instance(json!([list_add(4242, "email")]));
    h.fake.denied.push("/v1/lists/".into());
    let r = run_check(&mut h);
    assert_eq!(codes(&r), vec![("add", "targetStaticList", "UNKNOWN_LIST")]);
    let mut h = instance(json!([list_add(1001, "email"), upsert("email", &["email"], Some("Europe"))]));
    h.fake.denied.extend(["/v1/lists/".to_string(), "/asset/".to_string(), "/v1/leads/".to_string()]);
    let r = run_check(&mut h);
    assert_eq!(
        codes(&r),
        vec![
            ("add", "leadIdLookup.filterType", "PERMISSION_DENIED"),
            ("add", "targetStaticList", "PERMISSION_DENIED"),
            ("up", "leadData", "PERMISSION_DENIED"),
            ("up", "partitionName", "PERMISSION_DENIED"),
        ]
    );
    assert!(r.problems.iter().all(|p| p.message.contains("lacks the Read-")), "{:#?}", r.problems);
}

#[test]
fn the_reporter_settles_a_check_call_with_its_result_and_nothing_else() {
    let mut h = instance(json!([list_add(4242, "email")]));
    h.delivery = Delivery::Calls;
    h.start_check("check");
    assert!(h.checks.is_empty() && h.returned.is_empty(), "not before Marketo answered");
    assert_eq!(h.reporter.waiting(), 1);
    h.run_until_idle();
    assert_eq!(h.checks.len(), 1);
    assert!(h.returned.is_empty() && h.listings.is_empty(), "the check call settled, nothing else");
    match &h.checks[0] {
        (_, name, r) if name == "check" => {
            assert_eq!(codes(r), vec![("add", "targetStaticList", "UNKNOWN_LIST")])
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(h.reporter.waiting(), 0);
}
