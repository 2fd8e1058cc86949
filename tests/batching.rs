//! Batching (SPEC §4): threshold decisions at their exact boundaries on virtual time, split
//! points, merged updates, per-lead order, batched lookups and the lead-id cache.

use marketo_connector::core::Status;
use marketo_connector_testkit::*;
use serde_json::{json, Value};

const MINUTE: u64 = 60_000;

fn upsert_batched(strategy: &str) -> Value {
    json!({"id": "up", "type": "createOrUpdateLeadBatched", "updateStrategy": strategy,
           "leadData": [{"field": "email", "source": {"attribute": "email"}},
                        {"field": "firstName", "source": {"attribute": "first"}},
                        {"field": "title", "source": {"attribute": "title"}},
                        {"field": "notes", "source": {"attribute": "notes"}}]})
}

fn list_batched(add_lead: bool) -> Value {
    json!({"id": "add", "type": "addLeadToListBatched", "targetStaticList": 77, "addLead": add_lead,
           "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}})
}

fn sync_calls(h: &Driver) -> Vec<Value> {
    h.rest_sent().iter().filter(|r| r.url.ends_with("/v1/leads.json")).map(|r| body_json(r)).collect()
}

#[test]
fn a_queue_is_sent_at_exactly_300_events_and_not_before() {
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    for i in 0..299 {
        h.event("up", &json!({"email": format!("p{i}@example.com")}));
    }
    h.answer_all();
    assert!(h.rest_sent().is_empty(), "299 events wait");
    assert_eq!(h.engine.pending_events(), 299);
    h.event("up", &json!({"email": "p299@example.com"}));
    h.answer_all();
    let calls = sync_calls(&h);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["input"].as_array().map(Vec::len), Some(300));
    assert_eq!(h.outcomes.len(), 300);
    assert!(h.outcomes.iter().all(|o| o.status == Status::Delivered));
}

#[test]
fn a_queue_is_sent_when_its_oldest_event_is_30_minutes_old() {
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    h.event("up", &json!({"email": "old@example.com"}));
    h.answer_all(); // the lead schema, read at the first event
    h.advance_to(T0 + 10 * MINUTE);
    h.event("up", &json!({"email": "young@example.com"}));
    assert_eq!(h.timeout(), Some(T0 + 30 * MINUTE), "the host is told when to wake");
    h.advance_to(T0 + 30 * MINUTE - 1);
    h.answer_all();
    assert!(h.rest_sent().is_empty());
    h.advance_to(T0 + 30 * MINUTE);
    h.answer_all();
    assert_eq!(sync_calls(&h).len(), 1);
    assert_eq!(sync_calls(&h)[0]["input"].as_array().map(Vec::len), Some(2));
}

#[test]
fn flush_sends_a_partial_batch_now() {
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    h.event("up", &json!({"email": "a@example.com"}));
    h.flush();
    h.answer_all();
    assert_eq!(sync_calls(&h).len(), 1);
    h.assert_all_final();
}

#[test]
fn bodies_never_exceed_1_mb_and_use_the_fewest_calls() {
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    let notes = "x".repeat(9_000);
    let n = 250; // 250 × ~9 KB ≈ 2.2 MB: at least 3 calls
    for i in 0..n {
        h.event("up", &json!({"email": format!("big{i}@example.com"), "notes": notes}));
    }
    h.flush();
    h.run_until_idle();
    let bodies: Vec<usize> = h.rest_sent().iter().map(|r| body_text(r).len()).collect();
    assert!(bodies.iter().all(|b| *b <= 1_048_576), "{bodies:?}");
    let total: usize = bodies.iter().sum();
    assert_eq!(bodies.len(), total.div_ceil(1_048_576), "no more calls than the bytes require: {bodies:?}");
    assert_eq!(h.outcomes.len(), n);
    // Each full batch is filled to within one record of the limit.
    assert!(bodies[0] > 1_048_576 - 9_100, "{bodies:?}");
}

#[test]
fn a_record_no_body_can_hold_fails_on_arrival_and_is_never_sent() {
    // Before: the record was queued, sent alone once its batch went, and failed with HTTP_413.
    // The check is made once the record is formatted with the lead schema: a long value of a
    // field with a length is cut first (`onTooLong: "truncate"`), so that record goes (a fresh
    // user saw it fail on a new connector, before the schema was read, and be cut on one that
    // had read it).
    let head = r#"{"action":"createOrUpdate","lookupField":"email","input":["#;
    let record = |notes: &str| format!(r#"{{"email":"big@example.com","notes":"{notes}"}}"#);
    let fits = 1_048_576 - head.len() - record("").len() - "]}".len();
    for action in [
        upsert_batched("createOrUpdate"),
        json!({"id": "now", "type": "createOrUpdateLead",
        "updateStrategy": "createOrUpdate", "leadData": [{"field": "email", "source": {"attribute": "email"}},
                                                         {"field": "notes", "source": {"attribute": "notes"}},
                                                         {"field": "title", "source": {"attribute": "title"}}]}),
    ] {
        let id = action["id"].as_str().unwrap().to_owned();
        let mut h = Driver::new(settings(json!([action])));
        let too_big = json!({"email": "big@example.com", "notes": "x".repeat(fits + 1)});
        h.event_with_id(&id, &too_big, "too-big");
        h.event_with_id(&id, &json!({"email": "cut@example.com", "title": "t".repeat(2 << 20)}), "cut");
        // A record of exactly the limit's size goes, in a body of exactly 1 MB.
        h.event_with_id(&id, &json!({"email": "big@example.com", "notes": "x".repeat(fits)}), "fits");
        h.flush();
        h.run_until_idle();
        let o = h.outcome_json("too-big");
        assert_eq!(
            (o["status"].as_str(), o["code"].as_str()),
            (Some("failed"), Some("RECORD_TOO_LARGE")),
            "{id}"
        );
        let m = o["message"].as_str().unwrap();
        let bytes = record(&"x".repeat(fits + 1)).len();
        assert!(
            m.contains(&format!("the lead record is {bytes} bytes")) && m.contains("limit of 1048576 bytes"),
            "{id}: {m}"
        );
        // `preview()` refuses it as `process()` did (it showed the request that never goes).
        let preview = h.engine.preview(&id, &too_big).map(|calls| calls.len());
        assert!(matches!(&preview, Err(Err(e)) if e.code() == "RECORD_TOO_LARGE"), "{id}: {preview:?}");
        let cut = h.outcome_json("cut");
        assert_eq!(
            (cut["status"].as_str(), cut["code"].as_str()),
            (Some("delivered"), Some("TRUNCATED")),
            "{id}"
        );
        let mut bodies: Vec<usize> = h.rest_sent().iter().map(|r| body_text(r).len()).collect();
        bodies.sort_unstable();
        assert_eq!(bodies.last(), Some(&1_048_576), "{id}: the record that fits is sent");
        assert!(bodies.iter().all(|b| *b <= 1_048_576), "{id}: {bodies:?}");
        assert!(
            h.rest_sent().iter().all(|r| !body_text(r).contains(&"x".repeat(fits + 1))),
            "{id}: the record too large is never sent"
        );
        assert_eq!(h.outcome("fits").status, Status::Delivered, "{id}");
        h.assert_all_final();
    }
}

/// A batch whose only event fails as the schema formats it (its record too large for any body)
/// starts no call: the queue's next batch goes out at once, not when a timer next fires (a
/// fresh user saw it wait for the 200 s call timeout, and `flush()` with it).
#[test]
fn a_batch_emptied_by_the_schema_does_not_hold_up_the_next() {
    let big = |email: &str| json!({"email": email, "notes": "x".repeat(1_100_000)});
    let small = |email: &str| json!({"email": email});
    // Before the schema is read, each record over 1 MB is a batch of its own: first (its batch
    // waits for the schema), in the middle, or two in a row.
    for order in ["sbs", "bs", "bbs", "sbbs"] {
        let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
        let start = h.now;
        let mut sent = Vec::new();
        for (i, kind) in order.chars().enumerate() {
            let email = format!("{kind}{i}@example.com");
            let event = if kind == 'b' { big(&email) } else { small(&email) };
            h.event_with_id("up", &event, &format!("{kind}{i}"));
            if kind == 's' {
                sent.push(json!(email));
            }
        }
        h.flush();
        h.answer_all(); // without moving time
        for (i, kind) in order.chars().enumerate() {
            let o = h.outcome(&format!("{kind}{i}"));
            match kind {
                'b' => assert_eq!(o.code.as_deref(), Some("RECORD_TOO_LARGE"), "{order}"),
                _ => assert_eq!(o.status, Status::Delivered, "{order}: sent without waiting for a wake-up"),
            }
        }
        let emails: Vec<Value> = sync_calls(&h).iter().map(|b| b["input"][0]["email"].clone()).collect();
        assert_eq!(emails, sent, "{order}");
        assert!(h.rest_sent_at().iter().all(|t| *t == start), "{order}: {:?}", h.rest_sent_at());
        h.assert_all_final();
    }
}

/// The same for a full batch of 300 values the field types refuse (`onTooLong: "fail"`, titles
/// over the field's 255 characters): the event after it goes out at once.
#[test]
fn a_batch_of_values_the_schema_refuses_does_not_hold_up_the_next() {
    let mut s = settings(json!([upsert_batched("createOrUpdate")]));
    s["onTooLong"] = json!("fail");
    let mut h = Driver::new(s);
    let start = h.now;
    // Before the schema is read: a batch of one (it waits for the schema), then the 300.
    h.event_with_id("up", &json!({"email": "a@example.com"}), "a");
    h.flush();
    for i in 0..300 {
        h.event_with_id(
            "up",
            &json!({"email": format!("p{i}@example.com"), "title": "t".repeat(300)}),
            &format!("p{i}"),
        );
    }
    h.event_with_id("up", &json!({"email": "c@example.com"}), "c");
    h.flush();
    h.answer_all(); // without moving time
    assert!((0..300).all(|i| h.outcome(&format!("p{i}")).code.as_deref() == Some("INVALID_VALUE")));
    assert_eq!(h.outcome("a").status, Status::Delivered);
    assert_eq!(h.outcome("c").status, Status::Delivered, "sent without waiting for a wake-up");
    assert_eq!(sync_calls(&h).len(), 2);
    assert!(h.rest_sent_at().iter().all(|t| *t == start), "{:?}", h.rest_sent_at());
    h.assert_all_final();
}

#[test]
fn repeated_updates_of_one_lead_merge_into_one_record_later_values_winning() {
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    h.event_with_id("up", &json!({"email": "Jane@Example.com", "first": "J", "title": "Dev"}), "1");
    h.event_with_id("up", &json!({"email": "other@example.com", "first": "O"}), "2");
    h.event_with_id("up", &json!({"email": "jane@example.com", "first": "Jane"}), "3");
    h.flush();
    h.answer_all();
    let calls = sync_calls(&h);
    assert_eq!(
        calls[0]["input"],
        json!([{"email": "jane@example.com", "firstName": "Jane", "title": "Dev"},
               {"email": "other@example.com", "firstName": "O"}])
    );
    assert_eq!(h.outcome("1").lead_ids, h.outcome("3").lead_ids);
    assert_eq!(h.outcome("1").status, Status::Delivered);
}

#[test]
fn a_merged_record_carries_the_email_trimmed_as_an_unmerged_one_does() {
    // Records are merged by the trimmed, lower-cased email: the later, untrimmed email of a
    // merged record was sent as it came, naming a lead the merge said was the same one.
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    h.event_with_id("up", &json!({"email": "jane@example.com", "first": "J"}), "1");
    h.event_with_id("up", &json!({"email": "  Jane@Example.com\t", "title": "Dev"}), "2");
    h.event_with_id("up", &json!({"email": " solo@example.com ", "first": "S"}), "3");
    h.flush();
    h.answer_all();
    let bodies: Vec<String> = h.rest_sent().iter().map(|r| body_text(r).into_owned()).collect();
    assert_eq!(
        bodies,
        vec![concat!(
            r#"{"action":"createOrUpdate","lookupField":"email","input":["#,
            r#"{"email":"Jane@Example.com","firstName":"J","title":"Dev"},"#,
            r#"{"email":"solo@example.com","firstName":"S"}]}"#
        )]
    );
    assert_eq!(h.outcome("1").lead_ids, h.outcome("2").lead_ids);
    assert_eq!(h.outcome("3").status, Status::Delivered);
}

#[test]
fn create_duplicate_and_create_only_are_never_merged() {
    for strategy in ["createDuplicate", "createOnly"] {
        let mut h = Driver::new(settings(json!([upsert_batched(strategy)])));
        h.event("up", &json!({"email": "dup@example.com", "first": "A"}));
        h.event("up", &json!({"email": "dup@example.com", "first": "B"}));
        h.flush();
        h.answer_all();
        assert_eq!(sync_calls(&h)[0]["input"].as_array().map(Vec::len), Some(2), "{strategy}");
    }
}

#[test]
fn one_batch_of_an_action_at_a_time_keeps_each_leads_order() {
    let mut h = Driver::new(settings(json!([upsert_batched("createOrUpdate")])));
    for i in 0..300 {
        h.event("up", &json!({"email": format!("p{i}@example.com"), "title": "first"}));
    }
    for i in 0..300 {
        h.event("up", &json!({"email": format!("p{i}@example.com"), "title": "second"}));
    }
    // Identity, then the first batch; the second waits for the first's answer.
    h.answer_next();
    assert_eq!(h.inbox.len(), 1, "only the first batch is in flight");
    h.answer_all();
    let calls = sync_calls(&h);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["input"][0]["title"], "first");
    assert_eq!(calls[1]["input"][0]["title"], "second");
    assert_eq!(
        h.fake
            .leads
            .iter()
            .find(|l| l.fields["email"] == "p0@example.com")
            .map(|l| l.fields["title"].clone()),
        Some(json!("second"))
    );
}

#[test]
fn batched_list_adds_deduplicate_lookups_and_ids_and_cache_them() {
    let mut h = Driver::new(settings(json!([list_batched(false)])));
    let known: Vec<i64> =
        (0..4).map(|i| h.fake.add_lead(json!({"email": format!("k{i}@example.com")}))).collect();
    let emails = ["k0", "k1", "k2", "k3", "k0", "K1", "ghost1", "ghost2", "k2", "ghost1"];
    for (i, e) in emails.iter().enumerate() {
        h.event_with_id("add", &json!({"email": format!("{e}@example.com")}), &format!("e{i}"));
    }
    h.flush();
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_eq!(
        rest.len(),
        2,
        "one lookup, one list call: {:#?}",
        rest.iter().map(|r| &r.url).collect::<Vec<_>>()
    );
    assert!(rest[0].url.contains("filterValues="), "{}", rest[0].url);
    let looked_up = rest[0].url.split("filterValues=").nth(1).and_then(|q| q.split('&').next()).unwrap_or("");
    assert_eq!(
        looked_up.split(',').count(),
        6,
        "distinct values only, emails case-insensitively: {looked_up}"
    );
    let mut sent_ids: Vec<i64> =
        body_json(rest[1])["input"].as_array().unwrap().iter().filter_map(|x| x["id"].as_i64()).collect();
    sent_ids.sort();
    assert_eq!(sent_ids, known, "each lead added once");
    assert_eq!(h.outcome("e6").status, Status::Skipped);
    assert_eq!(h.outcome("e6").code.as_deref(), Some("1004"));
    assert_eq!(h.outcome("e5").status, Status::Delivered);
    assert_eq!(h.outcome("e5").lead_ids, vec![known[1]]);

    // The same people again: the cache answers, only the list call is made.
    for (i, e) in ["k0", "k3"].iter().enumerate() {
        h.event_with_id("add", &json!({"email": format!("{e}@example.com")}), &format!("again{i}"));
    }
    h.flush();
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_eq!(rest.len(), 3, "no second lookup");
    assert!(rest[2].url.ends_with("/lists/77/leads.json"));
}

#[test]
fn a_cached_id_marketo_no_longer_knows_is_looked_up_again() {
    let mut h = Driver::new(settings(json!([list_batched(false)])));
    let id = h.fake.add_lead(json!({"email": "gone@example.com"}));
    h.event("add", &json!({"email": "gone@example.com"}));
    h.flush();
    h.run_until_idle();
    h.fake.leads.retain(|l| l.id != id); // deleted in Marketo
    let new_id = h.fake.add_lead(json!({"email": "gone@example.com"}));
    h.event_with_id("add", &json!({"email": "gone@example.com"}), "second");
    h.flush();
    h.run_until_idle();
    assert_eq!(h.outcome("second").status, Status::Skipped, "the stale id is reported");
    h.event_with_id("add", &json!({"email": "gone@example.com"}), "third");
    h.flush();
    h.run_until_idle();
    assert_eq!(h.outcome("third").lead_ids, vec![new_id], "looked up afresh after the 1004");
}

#[test]
fn a_lookup_past_8_kb_goes_as_one_post_with_method_get_not_several_gets() {
    let mut h = Driver::new(settings(json!([list_batched(false)])));
    let long = "a-rather-long-mailbox-name-for-testing";
    for i in 0..300 {
        let email = format!("{long}.{i}@example.com");
        h.fake.add_lead(json!({"email": email}));
        h.event("add", &json!({"email": email}));
    }
    h.run_until_idle();
    let rest = h.rest_sent();
    assert_eq!(rest.len(), 2, "one lookup, one list call");
    let lookup = rest[0];
    assert_eq!(lookup.method.as_str(), "POST");
    assert_eq!(lookup.url, "https://123-ABC-123.mktorest.com/rest/v1/leads.json?_method=GET");
    assert_eq!(header(lookup, "Content-Type"), Some("application/x-www-form-urlencoded"));
    let form = parse_form(&body_text(lookup));
    assert!(form.iter().any(|(k, v)| k == "filterValues" && v.split(',').count() == 300));
    assert!(body_text(lookup).len() > 8_192);
    assert_eq!(h.outcomes.iter().filter(|o| o.status == Status::Delivered).count(), 300);
}

#[test]
fn stats_show_each_actions_events_without_a_final_outcome_and_the_oldest_ones_age() {
    let upsert = json!({"id": "now", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                        "leadData": [{"field": "email", "source": {"attribute": "email"}}]});
    let mut h = Driver::new(settings(json!([list_batched(false), upsert_batched("createOrUpdate"), upsert])));
    let stats = serde_json::to_value(h.engine.stats()).unwrap();
    assert_eq!(stats["queues"], json!({"add": 0, "up": 0, "now": 0}), "every action, none waiting");
    assert_eq!(stats["oldestQueuedAgeMs"], Value::Null);

    h.event("add", &json!({"email": "a@example.com"}));
    h.advance_to(T0 + 2 * MINUTE);
    h.event("add", &json!({"email": "b@example.com"}));
    h.event("up", &json!({"email": "c@example.com"}));
    h.answer_all();
    let stats = h.engine.stats_at(T0 + 5 * MINUTE);
    assert_eq!(stats.queues.get("add"), Some(&2));
    assert_eq!(stats.queues.get("up"), Some(&1));
    assert_eq!(stats.queues.get("now"), Some(&0));
    assert_eq!(stats.oldest_queued_age_ms, Some(5 * MINUTE), "measured from the first event's arrival");
    assert_eq!(h.engine.stats_at(T0).oldest_queued_age_ms, Some(2 * MINUTE), "never before the last reading");

    // A restore carries the queues and the arrival times over.
    h.restore(7);
    let restored = h.engine.stats_at(T0 + 5 * MINUTE);
    assert_eq!((restored.queues.get("add"), restored.queues.get("up")), (Some(&2), Some(&1)));
    assert_eq!(restored.oldest_queued_age_ms, Some(5 * MINUTE));

    h.flush();
    h.answer_all();
    assert_eq!(h.engine.pending_events(), 0, "every event final");
    let stats = h.engine.stats_at(T0 + 5 * MINUTE);
    assert_eq!(stats.queues.values().sum::<u64>(), 0, "delivered events leave the queues");
    assert_eq!(stats.oldest_queued_age_ms, None);
}

#[test]
fn transactional_email_tokens_too_large_for_any_call_fail_that_event_and_are_never_sent() {
    // A Request Campaign body over 1 MB is refused with 413 (error-codes page); tokens that make
    // one even for a single lead fail on arrival, as a lead record that large does.
    let action = json!({"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": 77,
        "targetLeadId": {"attribute": "id"},
        "tokens": [{"name": "{{my.t}}", "source": {"attribute": "t"}}, {"name": "{{my.u}}", "source": {"attribute": "u"}}]});
    // The newline is written as two bytes, `\n`.
    let tokens = |t: &str| {
        format!(r#"[{{"name":"{{{{my.t}}}}","value":"{t}"}},{{"name":"{{{{my.u}}}}","value":"\n"}}]"#)
    };
    let body = |t: &str| format!(r#"{{"input":{{"leads":[{{"id":5}}],"tokens":{}}}}}"#, tokens(t));
    let fits = 1_048_576 - body("").len();
    let mut h = Driver::new(settings(json!([action])));
    h.fake.script.push_back(Reply::ok(json!({"requestId": "r#1", "success": true, "result": [{"id": 77}]})));
    let too_big = h.event("mail", &json!({"id": 5, "t": "x".repeat(fits + 1), "u": "\n"}));
    h.run_until_idle();
    let o = h.outcome_json(&too_big);
    assert_eq!((o["status"].as_str(), o["code"].as_str()), (Some("failed"), Some("RECORD_TOO_LARGE")), "{o}");
    let m = o["message"].as_str().unwrap();
    let bytes = tokens(&"x".repeat(fits + 1)).len();
    assert!(m.starts_with(&format!("the tokens list is {bytes} bytes of JSON")), "{m}");
    assert!(h.rest_sent().is_empty(), "never sent");
    // Tokens that make a body of exactly 1 MB go.
    let fits_id = h.event("mail", &json!({"id": 5, "t": "x".repeat(fits), "u": "\n"}));
    h.run_until_idle();
    let sent = h.rest_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(body_text(sent[0]).len(), 1_048_576);
    assert_eq!(body_text(sent[0]), body(&"x".repeat(fits)));
    assert_eq!(h.outcome_json(&fits_id)["status"], json!("delivered"));
}
