//! `bulkImportLeads` (SPEC §3–§6, https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/bulk-import/bulk-lead-import): the exact multipart upload Marketo
//! receives, polling on the host's timers (5 s, 10 s, 20 s, then every 30 s), and the outcome of
//! each event for a job that completes, one that fails, rows that fail or warn, and a full queue.

use marketo_connector::core::{HttpRequest, Method, Status};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

const UPLOAD_URL: &str =
    "https://123-ABC-123.mktorest.com/bulk/v1/leads.json?format=csv&lookupField=email&listId=1001";
const LIST: i64 = 1001;

fn field(field: &str, path: &str) -> Value {
    json!({"field": field, "source": {"attribute": path}})
}

fn bulk_action(lead_data: Value) -> Value {
    json!({"id": "bulk", "type": "bulkImportLeads", "targetStaticList": LIST, "leadLookupField": "email",
           "leadData": lead_data})
}

fn default_data() -> Value {
    json!([field("email", "e"), field("firstName", "n"), field("title", "t")])
}

/// A harness whose instance has the static list the action imports into.
fn harness(action: Value) -> Driver {
    let mut h = Driver::new(settings(json!([action])));
    h.fake.lists.insert(LIST, Vec::new());
    h
}

fn is_upload(r: &HttpRequest) -> bool {
    r.url.contains("/bulk/v1/leads.json")
}

fn is_status(r: &HttpRequest) -> bool {
    r.url.contains("/bulk/v1/leads/batch/") && !r.url.contains("failures") && !r.url.contains("warnings")
}

/// The `requestId`s the fake gave its status answers (the fake numbers REST answers in order).
fn status_request_ids(h: &Driver) -> Vec<String> {
    h.rest_sent()
        .iter()
        .enumerate()
        .filter(|(_, r)| is_status(r))
        .map(|(i, _)| FakeMarketo::request_id(i as u64 + 1))
        .collect()
}

/// An outcome as JSON without its `requestId`, which is checked separately.
fn outcome_without_request_id(h: &Driver, event_id: &str) -> Value {
    let mut o = h.outcome_json(event_id);
    let req = o.as_object_mut().unwrap().remove("requestId");
    let req = req.and_then(|r| r.as_str().map(str::to_owned)).expect("a Marketo outcome carries requestId");
    assert!(status_request_ids(h).contains(&req), "{event_id}: requestId {req} is not a status call's");
    o
}

#[test]
fn the_upload_is_the_exact_multipart_csv_request() {
    let mut h = harness(bulk_action(json!([
        field("email", "e"),
        field("firstName", "n"),
        field("leadScore", "score"),
        {"field": "signupDate", "source": {"attribute": "d"}, "type": "date"},
        field("phone", "missing")
    ])));
    h.event(
        "bulk",
        &json!({"e": "jane.doe@example.com", "n": "Doe, \"Jane\"", "score": 0, "d": 1764307800000u64}),
    );
    h.flush();
    h.answer_all(); // identity, then the upload; the first status call waits on a timer

    let rest = h.rest_sent();
    assert_eq!(rest.len(), 1, "{rest:#?}");
    let req = rest[0];
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, UPLOAD_URL);
    let content_type = header(req, "Content-Type").unwrap();
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
    assert!(
        boundary.len() == 56
            && boundary.starts_with("MarketoConnectorBoundary")
            && boundary[24..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{boundary}"
    );
    assert_eq!(
        req.headers,
        vec![
            ("Authorization".to_string(), format!("Bearer {}", h.token(1))),
            ("Accept".into(), "application/json".into()),
            ("Content-Type".into(), content_type.to_string()),
        ]
    );
    let csv = "email,firstName,leadScore,signupDate,phone\r\n\
               jane.doe@example.com,\"Doe, \"\"Jane\"\"\",0,2025-11-28T05:30:00Z,\r\n";
    let want = format!(
        "--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\n\
         Content-Type: text/csv\r\n\
         \r\n\
         {csv}\
         \r\n\
         --{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8(body_bytes(req).to_vec()).unwrap(), want);

    // What the fake Marketo parsed out of it.
    let job = &h.fake.bulk_jobs[0];
    assert_eq!(job.csv, csv);
    assert_eq!(
        (job.part.filename.as_deref(), job.lookup_field.as_str(), job.list_id),
        (Some("leads.csv"), "email", Some(LIST))
    );
    assert_eq!(job.part.headers[1], ("Content-Type".into(), "text/csv".into()));
    assert_eq!(h.timeout(), Some(h.now + 5_000), "first status call 5 s after the upload");
    assert_eq!(h.outcomes, vec![], "nothing final before the job has run");

    h.run_until_idle();
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "bulk", "status": "delivered", "requestId": FakeMarketo::request_id(2)})
    );
    let lead = h.fake.leads.iter().find(|l| l.fields["email"] == json!("jane.doe@example.com")).unwrap();
    assert_eq!(lead.fields["firstName"], json!("Doe, \"Jane\""));
    assert_eq!(lead.fields.get("phone"), None, "an empty cell sets nothing");
    assert_eq!(h.fake.members(LIST), vec![lead.id]);
    h.assert_all_final();
}

#[test]
fn an_empty_string_is_an_empty_cell_like_null_which_leaves_the_field_unchanged() {
    // README "bulkImportLeads": "" and null both become an empty cell, and Marketo's bulk import
    // leaves a field unchanged for an empty cell (unlike Sync Leads, where null clears it and ""
    // writes an empty value).
    let mut h = harness(bulk_action(default_data()));
    h.fake.add_lead(json!({"id": 7, "email": "kept@example.com", "firstName": "Kim", "title": "CTO"}));
    h.event("bulk", &json!({"e": "kept@example.com", "n": "", "t": null}));
    h.flush();
    h.run_until_idle();
    assert_eq!(h.fake.bulk_jobs[0].csv, "email,firstName,title\r\nkept@example.com,,\r\n");
    let lead = h.fake.lead(7).unwrap();
    assert_eq!((&lead.fields["firstName"], &lead.fields["title"]), (&json!("Kim"), &json!("CTO")));
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
}

#[test]
fn an_email_lookup_value_is_sent_trimmed_so_both_rows_import_and_both_events_are_delivered() {
    // A fresh user's case: the second event's email had a trailing space. Sent as it was, its
    // row failed ("Invalid email address") and, matched by the trimmed key, the failure went
    // to the first event while the failed one was reported delivered.
    let mut h = harness(bulk_action(default_data()));
    h.event("bulk", &json!({"e": "jo@example.com", "n": "A"}));
    h.event("bulk", &json!({"e": " Jo@example.com ", "n": "B"}));
    h.flush();
    h.run_until_idle();
    assert_eq!(
        h.fake.bulk_jobs[0].csv,
        "email,firstName,title\r\njo@example.com,A,\r\nJo@example.com,B,\r\n"
    );
    for id in ["ev-1", "ev-2"] {
        assert_eq!(h.outcome(id).status, Status::Delivered, "{id}");
    }
    h.assert_all_final();
}

#[test]
fn no_list_means_no_list_id() {
    let mut action = bulk_action(default_data());
    action.as_object_mut().unwrap().remove("targetStaticList");
    let mut h = harness(action);
    h.event("bulk", &json!({"e": "a@example.com"}));
    h.flush();
    h.run_until_idle();
    assert_eq!(
        h.rest_sent()[0].url,
        "https://123-ABC-123.mktorest.com/bulk/v1/leads.json?format=csv&lookupField=email"
    );
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
    assert!(h.fake.members(LIST).is_empty());
}

#[test]
fn the_job_is_polled_after_5_10_20_then_every_30_seconds() {
    let mut h = harness(bulk_action(default_data()));
    h.fake.bulk_importing_ms = 80_000; // Complete 82 s after the upload
    h.event("bulk", &json!({"e": "slow@example.com", "n": "Slow"}));
    h.flush();
    h.answer_all();
    let uploaded_at = h.now;
    let mut waits = Vec::new();
    while h.outcomes.is_empty() {
        let next = h.timeout().expect("a status call is scheduled");
        waits.push(next - h.now);
        h.advance_to(next);
        h.answer_all();
        assert!(waits.len() < 20);
    }
    assert_eq!(waits, vec![5_000, 10_000, 20_000, 30_000, 30_000]);
    let polls: Vec<u64> = h
        .rest_sent()
        .iter()
        .zip(h.rest_sent_at())
        .filter(|(r, _)| is_status(r))
        .map(|(r, t)| {
            assert_eq!(r.url, "https://123-ABC-123.mktorest.com/bulk/v1/leads/batch/3404.json");
            assert_eq!(r.method, Method::Get);
            t - uploaded_at
        })
        .collect();
    assert_eq!(polls, vec![5_000, 15_000, 35_000, 65_000, 95_000]);
    assert_eq!(
        h.outcome_json("ev-1"),
        json!({"eventId": "ev-1", "actionId": "bulk", "status": "delivered", "requestId": FakeMarketo::request_id(6)})
    );
    assert_eq!(h.timeout(), None, "nothing left to wait for");
    h.assert_all_final();
}

#[test]
fn a_failed_job_fails_every_event_with_marketos_message() {
    let mut h = harness(bulk_action(json!([field("email", "e"), field("favoriteColor", "c")])));
    h.fake.bulk_fields = Some(vec!["email".into(), "firstName".into()]);
    h.event("bulk", &json!({"e": "a@example.com", "c": "blue"}));
    h.event("bulk", &json!({"e": "b@example.com", "c": "red"}));
    h.flush();
    h.run_until_idle();
    for id in ["ev-1", "ev-2"] {
        assert_eq!(
            outcome_without_request_id(&h, id),
            json!({"eventId": id, "actionId": "bulk", "status": "failed", "code": "IMPORT_FAILED",
                   "message": "Field 'favoriteColor' not found"})
        );
    }
    assert!(h.fake.leads.is_empty());
    assert!(h.rest_sent().iter().all(|r| is_upload(r) || is_status(r)), "no report files for a failed job");
    h.assert_all_final();
}

#[test]
fn failed_rows_are_skipped_warned_rows_delivered_with_the_warning() {
    let mut h = harness(bulk_action(default_data()));
    // Here Marketo's schema gives `title` no length, so the long value reaches Marketo and its
    // warning comes back (the connector's own cut is tested in tests/schema.rs).
    for f in &mut h.fake.fields {
        if f.0 == "title" {
            f.2 = None;
        }
    }
    let long_title = "T".repeat(300);
    h.event("bulk", &json!({"e": "ok@example.com", "n": "Ok"}));
    h.event("bulk", &json!({"e": "not-an-email", "n": "Bad"}));
    h.event("bulk", &json!({"e": "warn@example.com", "n": "Warn", "t": long_title}));
    h.event("bulk", &json!({"e": "OK2@Example.com", "n": "Ok2"}));
    h.event("bulk", &json!({"n": "No email"}));
    h.event("bulk", &json!({"e": " \t", "n": "Blank email"}));
    h.event("bulk", &json!({"e": null, "n": "Null email"}));
    // A boolean: the email field's type would write it as the text `true` (a lead named so).
    h.event("bulk", &json!({"e": true, "n": "Boolean email"}));
    h.flush();
    h.run_until_idle();

    let got: Vec<Value> =
        ["ev-1", "ev-2", "ev-3", "ev-4"].iter().map(|id| outcome_without_request_id(&h, id)).collect();
    assert_eq!(
        got,
        vec![
            json!({"eventId": "ev-1", "actionId": "bulk", "status": "delivered"}),
            json!({"eventId": "ev-2", "actionId": "bulk", "status": "skipped", "code": "ROW_FAILED",
                   "message": "Invalid email address"}),
            json!({"eventId": "ev-3", "actionId": "bulk", "status": "delivered", "code": "ROW_WARNING",
                   "message": "Value truncated to 255 characters in field title"}),
            json!({"eventId": "ev-4", "actionId": "bulk", "status": "delivered"}),
        ]
    );
    let missing = h.outcome("ev-5");
    assert_eq!((missing.status, missing.code.as_deref()), (Status::Failed, Some("MISSING_ATTRIBUTE")));
    // A blank value is there, but names no lead: said so, not "not in the event".
    assert_eq!(
        h.outcome_json("ev-6"),
        json!({"eventId": "ev-6", "actionId": "bulk", "status": "failed", "code": "INVALID_VALUE",
               "message": "parameter `leadData field email (the lookup field)`: the value is empty (or only white \
                           space): Marketo cannot find a lead by it"})
    );
    assert_eq!(
        h.outcome_json("ev-7")["message"],
        json!("parameter `leadData field email (the lookup field)`: attribute `e` is null in the event; it needs a value")
    );
    assert_eq!(h.outcome_json("ev-7")["code"], json!("MISSING_ATTRIBUTE"));
    assert_eq!(
        h.outcome_json("ev-8"),
        json!({"eventId": "ev-8", "actionId": "bulk", "status": "failed", "code": "INVALID_VALUE",
               "message": "parameter `leadData field email (the lookup field)`: a lookup value must be a string or a \
                           number, not a boolean"})
    );
    assert!(
        h.fake
            .bulk_jobs
            .iter()
            .all(|j| ["No email", "Blank email", "Boolean email"].iter().all(|n| !j.csv.contains(n))),
        "a row without its key is never sent"
    );

    let emails: Vec<&Value> = h.fake.leads.iter().map(|l| &l.fields["email"]).collect();
    assert_eq!(emails, vec![&json!("ok@example.com"), &json!("warn@example.com"), &json!("OK2@Example.com")]);
    assert_eq!(h.fake.leads[1].fields["title"], json!("T".repeat(255)));
    assert_eq!(h.fake.members(LIST).len(), 3);
    let reports: Vec<&str> = h
        .rest_sent()
        .iter()
        .filter_map(|r| r.url.rsplit('/').next().filter(|p| p.ends_with("s.json")))
        .collect();
    assert!(reports.contains(&"failures.json") && reports.contains(&"warnings.json"), "{reports:?}");
    h.assert_all_final();
}

#[test]
fn rows_sharing_a_lookup_value_are_matched_in_order() {
    let mut h = harness(bulk_action(default_data()));
    // Both rows fail (invalid email); the failures file lists them in file order.
    h.event("bulk", &json!({"e": "twin@@example.com", "n": "First"}));
    h.event("bulk", &json!({"e": "twin@@example.com", "n": "Second"}));
    h.event("bulk", &json!({"e": "fine@example.com", "n": "Third"}));
    h.flush();
    h.run_until_idle();
    for id in ["ev-1", "ev-2"] {
        assert_eq!(h.outcome(id).status, Status::Skipped, "{id}");
        assert_eq!(h.outcome(id).code.as_deref(), Some("ROW_FAILED"));
    }
    assert_eq!(h.outcome("ev-3").status, Status::Delivered);
    h.assert_all_final();
}

#[test]
fn a_full_bulk_queue_1016_or_a_busy_list_1019_is_retried_after_about_30_seconds() {
    for (code, message) in [("1016", "Too many imports"), ("1019", "Import in progress")] {
        let mut h = harness(bulk_action(default_data()));
        h.fake.script.push_back(Reply::error(code, message));
        h.event("bulk", &json!({"e": "queue@example.com", "n": "Q"}));
        h.flush();
        h.answer_all();
        let first_at = h.now;
        let retry_at = h.timeout().unwrap();
        assert!(
            (first_at + 15_000..=first_at + 30_000).contains(&retry_at),
            "{code}: {}",
            retry_at - first_at
        );
        h.run_until_idle();

        let uploads: Vec<&HttpRequest> = h.rest_sent().into_iter().filter(|r| is_upload(r)).collect();
        assert_eq!(uploads.len(), 2, "{code}");
        assert_eq!(uploads[0].body, uploads[1].body, "{code}: the same file again");
        assert_eq!(uploads[0].url, uploads[1].url);
        assert_eq!(h.rest_sent_at()[1], retry_at);
        assert_eq!(h.fake.bulk_jobs.len(), 1, "{code}: one job at Marketo");
        assert_eq!(h.outcome("ev-1").status, Status::Delivered, "{code}");
        assert_eq!(h.engine.stats().retries, 1);
        h.assert_all_final();
    }
}

#[test]
fn a_queue_that_stays_full_fails_the_events_with_1016() {
    let mut h = harness(bulk_action(default_data()));
    for _ in 0..100 {
        h.fake.script.push_back(Reply::error("1016", "Too many imports"));
    }
    h.event("bulk", &json!({"e": "queue@example.com"}));
    h.flush();
    let start = h.now;
    h.run_until_idle();
    // A full import queue is waited out far longer than an error is retried: over an hour.
    let uploads = h.rest_sent().into_iter().filter(|r| is_upload(r)).count();
    assert_eq!(uploads, 46, "6 ordinary attempts, then 40 more waits");
    assert!(h.now - start > 60 * 60_000, "waited {} min", (h.now - start) / 60_000);
    let o = h.outcome("ev-1");
    assert_eq!((o.status, o.code.as_deref()), (Status::Failed, Some("1016")));
    assert!(o.message.as_deref().unwrap().contains("Too many imports"), "{o:?}");
    assert!(h.fake.bulk_jobs.is_empty());
    h.assert_all_final();
}

#[test]
fn a_status_call_that_fails_for_a_while_is_asked_again() {
    let mut h = harness(bulk_action(default_data()));
    h.event("bulk", &json!({"e": "flaky@example.com"}));
    h.flush();
    h.answer_all();
    // The first status call meets six 5xx answers: the engine gives up on that call, the job
    // schedules another one 30 s later.
    for _ in 0..6 {
        h.fake.script.push_back(Reply::Http(502, "<html>Bad Gateway</html>".into()));
    }
    h.run_until_idle();
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
    assert_eq!(h.rest_sent().iter().filter(|r| is_status(r)).count(), 7);
    h.assert_all_final();
}

#[test]
fn preview_shows_the_upload_and_the_status_call_with_a_placeholder() {
    let h = harness(bulk_action(default_data()));
    let reqs = h.engine.preview("bulk", &json!({"e": "p@example.com", "n": "P"})).unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!((reqs[0].method, reqs[0].url.as_str()), (Method::Post, UPLOAD_URL));
    assert!(reqs[0]
        .headers
        .get("Content-Type")
        .unwrap()
        .starts_with("multipart/form-data; boundary=MarketoConnectorBoundary"));
    assert!(reqs[0].body.as_deref().unwrap().contains("\r\nemail,firstName,title\r\np@example.com,P,\r\n"));
    assert_eq!(
        (reqs[1].method, reqs[1].url.as_str()),
        (Method::Get, "https://123-ABC-123.mktorest.com/bulk/v1/leads/batch/{batchId}.json")
    );
    assert!(!format!("{reqs:?}").contains("Bearer"));
    assert!(h.sent.is_empty());
}

#[test]
fn a_file_refused_as_too_large_is_sent_again_in_halves() {
    let mut h = harness(bulk_action(default_data()));
    // Bodies: 240 bytes of multipart framing and header, 18 per row here. Marketo's gateway
    // (413) takes less than the three rows' 294 bytes but the two rows' 276: the job halves
    // the file.
    h.fake.bulk_max_body = 277;
    for (e, n) in [("a@example.com", "A"), ("b@example.com", "B"), ("c@example.com", "C")] {
        h.event("bulk", &json!({"e": e, "n": n}));
    }
    h.flush();
    h.run_until_idle();
    let sizes: Vec<usize> =
        h.rest_sent().iter().filter(|r| is_upload(r)).map(|r| body_bytes(r).len()).collect();
    assert_eq!(sizes, vec![294, 258, 276], "one file of three rows, then its halves");
    let files: Vec<&str> = h.fake.bulk_jobs.iter().map(|j| j.csv.as_str()).collect();
    assert_eq!(
        files,
        vec![
            "email,firstName,title\r\na@example.com,A,\r\n",
            "email,firstName,title\r\nb@example.com,B,\r\nc@example.com,C,\r\n"
        ]
    );
    for id in ["ev-1", "ev-2", "ev-3"] {
        assert_eq!(h.outcome(id).status, Status::Delivered, "{id}");
    }
    h.assert_all_final();
}

#[test]
fn a_restore_while_the_job_is_polled_polls_the_same_import_instead_of_uploading_again() {
    let action = bulk_action(default_data());
    let mut h = harness(action.clone());
    h.event("bulk", &json!({"e": "one@example.com", "n": "One"}));
    h.event("bulk", &json!({"e": "two@example.com", "n": "Two"}));
    h.flush();
    h.answer_all(); // identity and upload answered: the job is Queued, its first poll 5 s away
    assert_eq!(h.rest_sent().iter().filter(|r| is_upload(r)).count(), 1);
    let text = serde_json::to_string(&h.engine.snapshot()).unwrap();
    assert!(text.contains("\"batchId\""), "{text}");
    h.restore(SEED);
    h.run_until_idle();
    assert_eq!(h.rest_sent().iter().filter(|r| is_upload(r)).count(), 1, "not uploaded again");
    assert!(h.rest_sent().iter().any(|r| is_status(r)), "the restored engine polls the import");
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
    assert_eq!(h.outcome("ev-2").status, Status::Delivered);
    assert_eq!(h.fake.members(LIST).len(), 2);
}

#[test]
fn a_row_no_import_file_can_hold_fails_without_an_upload_and_its_neighbours_go_in_one_file() {
    let data = json!([field("email", "e"), field("firstName", "n"), field("bio", "b")]);
    let mut h = harness(bulk_action(data));
    // A text field with no length: nothing cuts the value.
    h.fake.fields.push(("bio".into(), "text".into(), None, true, false));
    // 10 MB of value: with the file's framing and header record, no file under 10 MB holds it.
    let big = "x".repeat(10 * 1024 * 1024);
    // Before the schema is read a value may still be cut to its field's length: the row waits
    // and fails once the schema says nothing will cut it.
    h.event("bulk", &json!({"e": "a@example.com", "n": "A", "b": big}));
    h.answer_all(); // the schema read
    assert!(h.finals("ev-1").is_empty(), "queued until its batch goes");
    h.event("bulk", &json!({"e": "b@example.com", "n": "B"}));
    // The schema known: refused on arrival.
    h.event("bulk", &json!({"e": "c@example.com", "n": "C", "b": big}));
    let refused = h.outcome("ev-3");
    assert_eq!((refused.status, refused.code.as_deref()), (Status::Failed, Some("RECORD_TOO_LARGE")));
    let message = refused.message.as_deref().unwrap_or("");
    assert!(message.contains("not under Marketo's file limit of 10485760 bytes"), "{message}");
    h.flush();
    h.run_until_idle();
    let first = h.outcome("ev-1");
    assert_eq!((first.status, first.code.as_deref()), (Status::Failed, Some("RECORD_TOO_LARGE")));
    assert_eq!(h.outcome("ev-2").status, Status::Delivered);
    let uploads = h.rest_sent().iter().filter(|r| is_upload(r)).count();
    assert_eq!(uploads, 1, "one file, for the row that fits");
    let files: Vec<&str> = h.fake.bulk_jobs.iter().map(|j| j.csv.as_str()).collect();
    assert_eq!(files, vec!["email,firstName,bio\r\nb@example.com,B,\r\n"]);
    h.assert_all_final();
}
