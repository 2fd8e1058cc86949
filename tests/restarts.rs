//! Exactly once across restarts and real timers (issue 8): one test per cause a chaos run
//! found, each with the smallest input that showed it. Outcomes reach the host only through
//! settled calls (`core::report`), as through the JavaScript API; the random version of all of
//! this is `exactly_once.rs`.
#![cfg(not(target_arch = "wasm32"))]

use marketo_connector::core::engine::{CALL_TIMEOUT_MS, CLOCK_JUMP_MS};
use marketo_connector::core::{HttpRequest, Millis, Status};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

const LIST: i64 = 77;

/// A host in virtual time whose outcomes arrive only in what its calls return (`Delivery::Calls`).
fn host(actions: Value) -> Driver {
    host_with(settings(actions))
}

fn host_with(settings: Value) -> Driver {
    let mut h = Driver::with_calls(settings);
    h.fake.lists.insert(LIST, Vec::new());
    h
}

fn list_add_batched() -> Value {
    json!({"id": "addb", "type": "addLeadToListBatched", "targetStaticList": LIST,
           "targetLeadId": {"attribute": "id"}})
}

fn upsert() -> Value {
    json!({"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
           "leadData": [{"field": "email", "source": {"attribute": "email"}}]})
}

fn is_list_call(r: &HttpRequest) -> bool {
    r.url.contains(&format!("/v1/lists/{LIST}/leads.json"))
}

fn is_upsert(r: &HttpRequest) -> bool {
    r.url.ends_with("/v1/leads.json") && r.method == marketo_connector::core::Method::Post
}

// ---- 1. finished but unreported outcomes -------------------------------------------------------

/// The smallest input: A queued in a batch, B's call left unanswered, a flush, and
/// Marketo answers A's list call. A's outcome is finished, but no promise has returned it: it
/// must be in the snapshot, and the restored connector hands it out first.
#[test]
fn an_outcome_finished_but_not_returned_is_in_the_snapshot_and_handed_out_after_a_restore() {
    let mut h = host(json!([list_add_batched(), upsert()]));
    h.fake.add_lead(json!({"id": 42, "email": "a@example.com"}));
    h.process("A", "addb", json!({"id": 42}));
    assert_eq!(h.returned_by("A").iter().map(|o| o.status).collect::<Vec<_>>(), vec![Status::Queued]);
    h.process("B", "up", json!({"email": "b@example.com"}));
    h.answer_where(is_identity);
    assert!(h.inbox.iter().any(is_upsert), "B's call is in flight");
    h.flush_named("F");
    h.answer_where(is_list_call);
    assert!(h.finals("A").is_empty(), "no promise returned A yet (B and the flush still wait)");
    let snap = h.restore(SEED + 1);
    assert_eq!(
        snap.finished.iter().map(|o| (o.event_id.as_str(), o.status)).collect::<Vec<_>>(),
        vec![("A", Status::Delivered)],
        "the snapshot carries A's finished outcome"
    );
    assert_eq!(snap.events.iter().map(|e| e.event_id.as_ref()).collect::<Vec<_>>(), vec!["B"]);
    // The restored connector's first call returns A, then B is sent again and delivered.
    h.wake_named("W1");
    assert_eq!(h.returned_by("W1").iter().map(|o| o.event_id.as_str()).collect::<Vec<_>>(), vec!["A"]);
    h.run_until_idle();
    assert_eq!(h.finals("A").len(), 1);
    assert_eq!(h.finals("B").len(), 1);
    assert_eq!(h.finals("B")[0].status, Status::Delivered);
    assert_eq!(h.fake.members(LIST), vec![42], "A added once");
}

#[test]
fn wake_returns_what_has_finished_without_waiting_for_calls_in_flight() {
    let mut h = host(json!([list_add_batched(), upsert()]));
    h.fake.add_lead(json!({"id": 42}));
    h.process("A", "addb", json!({"id": 42}));
    h.process("B", "up", json!({"email": "b@example.com"}));
    h.answer_where(is_identity);
    h.flush_named("F");
    h.answer_where(is_list_call);
    h.wake_named("W");
    let w: Vec<(&str, Status)> = h.returned_by("W").iter().map(|o| (o.event_id.as_str(), o.status)).collect();
    assert_eq!(w, vec![("A", Status::Delivered)], "B's call is still in flight; wake() does not wait for it");
    assert!(h.returned_by("F").is_empty(), "flush() waits for B, which it sent");
    h.answer_where(is_upsert);
    assert_eq!(h.returned_by("B").iter().map(|o| o.status).collect::<Vec<_>>(), vec![Status::Delivered]);
    assert_eq!(h.returned_by("F").len(), 0, "B's own promise returned B");
    assert_eq!(h.returned.iter().filter(|(n, _)| *n == "F").count(), 1, "flush() settled");
}

#[test]
fn process_of_a_batched_event_answers_queued_at_once_while_another_call_hangs() {
    let mut h = host(json!([list_add_batched(), upsert()]));
    h.process("B", "up", json!({"email": "b@example.com"}));
    h.answer_where(is_identity);
    assert!(h.returned_by("B").is_empty(), "B waits for its own call");
    h.process("A", "addb", json!({"id": 42}));
    let a: Vec<Status> = h.returned_by("A").iter().map(|o| o.status).collect();
    assert_eq!(a, vec![Status::Queued], "answered at once, not when B's call comes back");
}

#[test]
fn an_outcome_that_finishes_with_no_call_waiting_asks_for_a_wake_up() {
    let mut h = host(json!([upsert()]));
    h.process("B", "up", json!({"email": "b@example.com"}));
    h.answer_where(is_identity);
    h.fake.script.push_back(Reply::error("604", "Request time-out"));
    h.answer_where(is_upsert);
    assert_eq!(h.returned_by("B").iter().map(|o| o.status).collect::<Vec<_>>(), vec![Status::Queued]);
    h.now = h.timeout().expect("a retry is due");
    h.wake_named("W1");
    assert!(h.returned_by("W1").is_empty());
    assert!(!h.reporter.wants_wake());
    h.answer_where(is_upsert);
    assert!(h.reporter.wants_wake(), "B finished and no call will return it: the host must wake now");
    h.wake_named("W2");
    assert_eq!(h.returned_by("W2").iter().map(|o| o.status).collect::<Vec<_>>(), vec![Status::Delivered]);
    assert!(!h.reporter.wants_wake());
}

#[test]
fn restarted_in_flight_outcomes_survive_a_second_restore_before_anyone_returned_them() {
    let mut h = host(json!([
        {"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": 9,
         "targetLeadId": {"attribute": "lead"}}
    ]));
    h.process("M", "mail", json!({"lead": 5}));
    h.answer_where(is_identity);
    assert!(h.inbox.iter().any(|r| r.url.contains("/trigger.json")), "the trigger is in flight");
    h.restore(SEED + 1); // the trigger becomes uncertain: finished, not yet returned
    let again = h.restore(SEED + 2); // a crash loop: restored twice before any host call
    assert_eq!(again.finished.len(), 1, "the uncertain outcome is still carried");
    h.run_until_idle();
    let m = h.finals("M");
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].status, m[0].code.as_deref()), (Status::Uncertain, Some("RESTARTED_IN_FLIGHT")));
    assert_eq!(h.sent.iter().filter(|r| r.url.contains("/trigger.json")).count(), 1, "never sent twice");
}

// ---- 3. restores that finish ------------------------------------------------------------------

/// 600 list adds by email (a lookup, then the list call, per event), a restore after every 20
/// answers (30 and more restores), no faults: every event finishes, and a restore costs only
/// the calls it had in flight, not every job's lookup again.
#[test]
fn restores_under_a_backlog_resume_started_work_and_keep_lookups() {
    let mut h = host(json!([
        {"id": "add", "type": "addLeadToList", "targetStaticList": LIST,
         "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}}
    ]));
    for i in 0..600 {
        h.fake.add_lead(json!({"email": format!("p{i}@example.com")}));
    }
    for i in 0..600 {
        h.process_as("p", "add", &json!({"email": format!("p{i}@example.com")}), Some(&format!("e{i}")))
            .expect("known action");
    }
    let mut answers = 0;
    let mut restores = 0;
    let mut first_final_at: Option<Millis> = None;
    for _ in 0..50_000 {
        if first_final_at.is_none() && h.returned.iter().flat_map(|(_, o)| o).any(|o| o.status.is_final()) {
            first_final_at = Some(h.now);
        }
        if !h.inbox.is_empty() {
            h.answer_next();
            answers += 1;
            if answers % 20 == 0 && restores < 40 {
                restores += 1;
                h.restore(SEED + restores);
            }
            continue;
        }
        match h.wake_at() {
            Some(t) => {
                h.now = h.now.max(t);
                h.wake_named("timer");
            }
            None => break,
        }
    }
    assert!(restores >= 30, "{restores} restores");
    for i in 0..600 {
        let id = format!("e{i}");
        let f = h.finals(&id);
        assert_eq!(f.len(), 1, "{id}: {f:?}");
        assert_eq!(f[0].status, Status::Delivered, "{id}");
    }
    let rest = h.sent.iter().filter(|r| !is_identity(r)).count();
    let per_event = rest as f64 / 600.0;
    assert!(per_event <= 2.5, "{per_event:.2} calls per event (2 without restores), {restores} restores");
    // Started work goes first: the first list call follows its lookup, not 599 other lookups
    // (which the rate limit spreads over minutes).
    let first = first_final_at.expect("something finished") - T0;
    assert!(first < 60_000, "the first event finished only after {} s", first / 1000);
}

/// A batch whose lookup Marketo answered, restored while its list call was in flight: the
/// restored connector sends the list call again, not the lookup (the snapshot carries it).
#[test]
fn a_restore_does_not_look_up_again_what_was_looked_up() {
    let mut h = host(json!([
        {"id": "addb", "type": "addLeadToListBatched", "targetStaticList": LIST,
         "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}}
    ]));
    for i in 0..3 {
        h.fake.add_lead(json!({"email": format!("p{i}@example.com")}));
        h.process_as("p", "addb", &json!({"email": format!("P{i}@Example.com")}), Some(&format!("p{i}")))
            .expect("known action");
    }
    h.flush_named("F");
    h.answer_where(is_identity);
    h.answer_where(|r| r.url.contains("filterType=email"));
    assert!(h.inbox.iter().any(is_list_call), "the list call is in flight");
    let snap = h.restore(SEED + 1);
    assert_eq!(snap.lookups.len(), 3, "{:?}", snap.lookups);
    h.run_until_idle();
    let lookups = h.sent.iter().filter(|r| r.url.contains("filterType=email")).count();
    assert_eq!(lookups, 1, "looked up once, across the restore");
    assert_eq!(h.fake.members(LIST).len(), 3);
}

// ---- 4. the host clock ----------------------------------------------------------------------

#[test]
fn one_wild_clock_reading_does_not_wedge_the_connector() {
    let mut h = Driver::new(settings(json!([upsert(),
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}])));
    for i in 0..60 {
        let action = if i % 2 == 0 { "up" } else { "upb" };
        h.event(action, &json!({"email": format!("x{i}@example.com")}));
        h.answer_next();
    }
    // One reading of 1e15 ms (year 33658): held, not believed.
    h.clock_reading(1_000_000_000_000_000);
    let snap = h.engine.snapshot();
    assert!(snap.taken_at < T0 + CLOCK_JUMP_MS, "the snapshot carries a held reading: {}", snap.taken_at);
    for i in 60..120 {
        let action = if i % 2 == 0 { "up" } else { "upb" };
        h.event(action, &json!({"email": format!("x{i}@example.com")}));
    }
    h.run_until_idle();
    h.assert_all_final();
    assert!(h.now < T0 + 3_600_000, "delivered within the hour, not in the year 9999");
    assert!(h.outcomes.iter().all(|o| o.status == Status::Delivered));
}

#[test]
fn a_jump_of_days_counts_once_a_second_reading_confirms_it() {
    let mut h = Driver::new(settings(json!([
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}])));
    h.event("upb", &json!({"email": "a@example.com"}));
    h.answer_all(); // the lead schema, read at the first event
    let before = h.sent.len();
    let later = T0 + 3 * 86_400_000;
    h.clock_reading(later);
    assert_eq!(h.sent.len(), before, "held: nothing sent on one reading three days ahead");
    assert_eq!(h.timeout(), Some(T0), "and the engine asks for another reading at once");
    h.clock_reading(later + 5);
    assert_eq!(
        h.sent.len(),
        before + 1,
        "confirmed: the batch goes (first an identity call: the token expired)"
    );
    h.answer_all();
    assert_eq!(h.rest_sent().len(), 1, "the 30-minute-old batch");
}

#[test]
fn a_clock_set_back_an_hour_moves_batch_ages_and_retries_back_with_it() {
    let mut h = Driver::new(settings(json!([upsert(),
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}])));
    let t = T0 + 2 * 3_600_000;
    h.now = t;
    h.event("upb", &json!({"email": "queued@example.com"}));
    h.event("up", &json!({"email": "retried@example.com"}));
    h.answer_next(); // identity
    h.fake.script.push_back(Reply::error("604", "Request time-out"));
    h.answer_next(); // the upsert: 604, retried in about 2 s
    let retry_in = h.timeout().expect("a retry") - t;
    assert!(retry_in <= 4_000, "{retry_in}");
    let back = t - 3_600_000;
    h.now = back;
    h.wake();
    let next = h.timeout().expect("still waiting");
    assert!(next <= back + 4_000, "the retry stays seconds away, not an hour: {} ms", next - back);
    h.run_until_idle();
    assert!(h.now <= back + 30 * 60_000, "the batch went within its 30 minutes of the new clock");
    h.assert_all_final();
}

#[test]
fn a_snapshot_from_a_clock_ahead_does_not_hold_the_restored_connector() {
    let mut h = Driver::new(settings(json!([upsert()])));
    let ahead = T0 + 86_400_000;
    h.now = ahead;
    h.event("up", &json!({"email": "a@example.com"}));
    h.answer_all();
    h.event("up", &json!({"email": "b@example.com"})); // in flight at the snapshot
                                                       // The host that restores it reads a clock a day behind the one that took it.
    h.now = T0;
    let snap = h.restore(SEED);
    assert!(!snap.recent_calls.is_empty());
    h.wake();
    let next = h.timeout();
    assert!(next.is_none_or(|t| t <= T0 + CALL_TIMEOUT_MS), "waits on the future: {next:?}");
    h.run_until_idle();
    assert!(h.now <= T0 + CALL_TIMEOUT_MS + 60_000, "delivered without waiting a day");
    assert_eq!(h.outcome("ev-2").status, Status::Delivered);
}

// ---- 5. replayed calls --------------------------------------------------------------------------

#[test]
fn a_list_removal_replayed_after_a_restore_is_delivered_not_skipped_1015() {
    let mut h = host(json!([
        {"id": "rm", "type": "removeLeadFromList", "targetStaticList": LIST, "targetLeadId": {"attribute": "id"}}
    ]));
    h.fake.add_lead(json!({"id": 42}));
    h.fake.lists.insert(LIST, vec![42]);
    h.process("R", "rm", json!({"id": 42}));
    h.answer_where(is_identity);
    // Marketo removes the lead, and the answer is lost with the dying instance.
    let call = h.inbox.iter().find(|r| is_list_call(r)).cloned().expect("the removal is in flight");
    let _lost = h.fake.handle(&call, h.now);
    assert!(h.fake.members(LIST).is_empty());
    h.restore(SEED + 1);
    h.run_until_idle();
    let r = h.finals("R");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, Status::Delivered, "its own first attempt removed it: {:?}", r[0]);
}

#[test]
fn an_html_page_for_the_bulk_failures_file_is_retried_like_a_502() {
    let mut h = Driver::new(settings(json!([
        {"id": "bulk", "type": "bulkImportLeads", "targetStaticList": LIST, "leadLookupField": "email",
         "leadData": [{"field": "email", "source": {"attribute": "e"}}]}
    ])));
    h.fake.lists.insert(LIST, Vec::new());
    h.event("bulk", &json!({"e": "ok@example.com"}));
    h.event("bulk", &json!({"e": "not-an-email"}));
    h.flush();
    let mut pages = 0;
    for _ in 0..500 {
        if let Some(req) = h.inbox.front().cloned() {
            if pages == 0 && req.url.contains("failures.json") {
                pages += 1;
                h.respond(req.id, 200, "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>");
            } else {
                h.answer_next();
            }
            continue;
        }
        match h.timeout() {
            Some(t) => h.advance_to(t),
            None => break,
        }
    }
    assert_eq!(pages, 1);
    assert_eq!(h.outcome("ev-1").status, Status::Delivered);
    let bad = h.outcome("ev-2");
    assert_eq!((bad.status, bad.code.as_deref()), (Status::Skipped, Some("ROW_FAILED")), "{bad:?}");
    assert_eq!(h.sent.iter().filter(|r| r.url.contains("failures.json")).count(), 2, "asked again");
}

// ---- 6. identity and generation -------------------------------------------------------------

#[test]
fn a_snapshot_names_its_connector_and_each_restore_raises_the_generation() {
    let mut h = host(json!([list_add_batched()]));
    h.process("A", "addb", json!({"id": 42}));
    let first = h.reporter.snapshot(&h.engine).info();
    assert_eq!(first.id.len(), 16, "{}", first.id);
    assert_eq!(first.generation, 0);
    let one = h.restore(1);
    assert_eq!((one.id.as_str(), one.generation), (first.id.as_str(), 0), "what was stored");
    let again = h.reporter.snapshot(&h.engine);
    assert_eq!((again.id.as_str(), again.generation), (first.id.as_str(), 1));
    h.restore(2);
    assert_eq!(h.reporter.snapshot(&h.engine).info().generation, 2);
    let other = host(json!([list_add_batched()]));
    assert_ne!(other.reporter.snapshot(&other.engine).id, String::new());
}

#[test]
fn generated_event_ids_differ_between_two_restores_of_one_snapshot_with_distinct_seeds() {
    let h = host(json!([list_add_batched()]));
    let snap = h.reporter.snapshot(&h.engine);
    let mut ids = Vec::new();
    for seed in [1, 2] {
        let mut e = host(json!([list_add_batched()]));
        e.restore_from(&snap, seed);
        let key = e.process_as("x", "addb", &json!({"id": 42}), None).unwrap();
        ids.push(e.engine.queued_outcome(key).unwrap().event_id);
    }
    assert_ne!(ids[0], ids[1]);
}

// ---- 7. calls a dead instance left open --------------------------------------------------------

#[test]
fn calls_in_flight_at_the_snapshot_hold_concurrency_until_their_timeout() {
    let mut h = host_with(settings_with_limits(json!([upsert()]), json!({"concurrency": 2})));
    h.process("B1", "up", json!({"email": "1@example.com"}));
    h.answer_where(is_identity);
    h.process("B2", "up", json!({"email": "2@example.com"}));
    assert_eq!(h.inbox.len(), 2, "two calls in flight");
    let sent_at = h.now;
    h.restore(SEED + 1);
    h.process("B3", "up", json!({"email": "3@example.com"}));
    h.answer_where(is_identity);
    assert!(h.inbox.is_empty(), "the dead instance's two calls may still run at Marketo");
    // Marketo's own timeout for Sync Leads: 90 s after they were sent.
    assert_eq!(h.timeout(), Some(sent_at + 90_000));
    h.now = sent_at + 90_000;
    h.wake_named("W");
    assert!(!h.inbox.is_empty(), "their timeout passed: calls go again");
    h.run_until_idle();
    for id in ["B1", "B2", "B3"] {
        assert_eq!(h.finals(id).len(), 1, "{id}");
    }
}

/// A fresh user's case: a batched upsert's call was still running in Marketo when its instance
/// died. The restored connector sends that lead's next update only once the old call has timed
/// out, so the old values never land over the new ones.
#[test]
fn a_restored_batch_waits_until_the_previous_instances_call_has_run_out() {
    let mut h = host(json!([
        {"id": "upb", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}},
                      {"field": "firstName", "source": {"attribute": "name"}}]}
    ]));
    h.process("OLD", "upb", json!({"email": "jo@example.com", "name": "OLD"}));
    h.flush();
    answer_all_but_upserts(&mut h);
    let old = h.inbox.iter().find(|r| is_upsert(r)).cloned().expect("OLD's batch is in flight");
    let sent_at = h.now;
    h.restore(SEED + 1);
    h.process("NEW", "upb", json!({"email": "jo@example.com", "name": "NEW"}));
    h.flush_named("flush after the restore");
    answer_all_but_upserts(&mut h);
    // The held events wait on time, as on a retry: flush() settles now rather than 90 s later.
    assert!(
        h.returned.iter().any(|(name, _)| name == "flush after the restore"),
        "flush() settled while the batch is held"
    );
    // Marketo finishes the old call late, its answer lost with the dead instance.
    let until = sent_at + marketo_connector_testkit::driver::marketo_timeout_ms(&old);
    h.advance_to(until - 1);
    assert!(!h.inbox.iter().any(is_upsert), "nothing sent while the old call may run");
    let _lost = h.fake.handle(&old, h.now);
    h.run_until_idle();
    let lead = h.fake.leads.iter().find(|l| l.fields["email"] == json!("jo@example.com")).expect("the lead");
    assert_eq!(lead.fields["firstName"], json!("NEW"));
    for name in ["OLD", "NEW"] {
        assert_eq!(h.finals(name).first().map(|o| o.status), Some(Status::Delivered), "{name}");
    }
}

/// Answers the identity call, the schema read and whatever else is not a Sync Leads call.
fn answer_all_but_upserts(h: &mut Driver) {
    while let Some(id) = h.inbox.iter().find(|r| !is_upsert(r)).map(|r| r.id) {
        h.answer(id);
    }
}

// ---- retry waits across a restore ----------------------------------------------------------

/// A call waiting for its retry's backoff (here after a 503) is not sent at once by the
/// connector restored from a snapshot taken during the wait: the snapshot carries the time
/// (`retryAt`), and the restored connector sends the call then.
#[test]
fn a_retry_waiting_at_the_snapshot_waits_out_its_backoff_after_the_restore() {
    let mut h = list_add_answered_503();
    let due = h.timeout().expect("Y's retry time");
    assert!(due > h.now + 100, "a backoff to wait out");
    let snap = h.restore(SEED + 1);
    assert_eq!(snap.events.first().and_then(|e| e.retry_at), Some(due), "the snapshot carries the wait");
    h.wake();
    answer_all_but_list_calls(&mut h); // the restored connector's own token, once it needs one
    assert!(
        !h.inbox.iter().any(is_list_call),
        "the restored connector does not send before the wait is over"
    );
    assert_eq!(h.timeout(), Some(due), "it asks to be woken when the wait is over");
    h.advance_to(due - 1);
    assert!(!h.inbox.iter().any(is_list_call), "nor a millisecond before");
    h.advance_to(due);
    answer_all_but_list_calls(&mut h);
    assert!(h.inbox.iter().any(is_list_call), "the retry goes out at its time");
    h.run_until_idle();
    assert_eq!(h.finals("Y").first().map(|o| o.status), Some(Status::Delivered));
}

/// The same for a batch: the restored action's queue is held until the retry's time, then the
/// batch goes out once, with the events it had.
#[test]
fn a_batch_waiting_for_its_retry_at_the_snapshot_is_held_until_then_after_the_restore() {
    let mut h = host(json!([list_add_batched()]));
    let a = h.fake.add_lead(json!({"email": "a@x.com"}));
    let b = h.fake.add_lead(json!({"email": "b@x.com"}));
    h.process("A", "addb", json!({"id": a}));
    h.process("B", "addb", json!({"id": b}));
    h.flush();
    h.answer_where(|r| !is_list_call(r));
    let first = h.inbox.iter().find(|r| is_list_call(r)).map(|r| r.id).expect("the batch's list call");
    h.reply(first, Reply::Http(502, "<html>bad gateway</html>".into()));
    let due = h.timeout().expect("the batch's retry time");
    let snap = h.restore(SEED + 1);
    assert!(snap.events.iter().all(|e| e.retry_at == Some(due) && e.sealed), "both events carry the wait");
    h.wake();
    answer_all_but_list_calls(&mut h); // the restored connector's own token, once it needs one
    assert!(!h.inbox.iter().any(is_list_call), "held after the restore");
    // Restored again before the wait is over (a host stores the restored connector's
    // snapshot first): the wait and the closed batch carry over.
    let again = h.restore(SEED + 2);
    assert!(again.events.iter().all(|e| e.retry_at == Some(due) && e.sealed), "a second restore keeps both");
    h.flush();
    answer_all_but_list_calls(&mut h);
    assert!(!h.inbox.iter().any(is_list_call), "held after the second restore, even when flushed");
    // The batch was closed: it goes at the retry's time, not when a batch of its age is due
    // (30 minutes) and without a flush.
    h.advance_to(due);
    answer_all_but_list_calls(&mut h);
    let sent: Vec<&HttpRequest> = h.inbox.iter().filter(|r| is_list_call(r)).collect();
    assert_eq!(sent.len(), 1, "one batch at the retry's time");
    h.run_until_idle();
    for name in ["A", "B"] {
        assert_eq!(h.finals(name).first().map(|o| o.status), Some(Status::Delivered), "{name}");
    }
    assert_eq!(h.fake.lists[&LIST].len(), 2);
}

/// A snapshot written before `retryAt` existed (no such key) restores as before: the event is
/// sent at once.
#[test]
fn a_snapshot_without_retry_times_sends_at_once() {
    let mut h = list_add_answered_503();
    let mut old: Value = serde_json::from_str(&h.snapshot_text()).expect("JSON");
    for e in old["events"].as_array_mut().expect("events") {
        e.as_object_mut().expect("an entry").remove("retryAt").expect("written");
    }
    let snap = marketo_connector::core::snapshot::Snapshot::parse(&old.to_string())
        .expect("an older snapshot parses");
    h.restore_from(&snap, SEED + 1);
    h.wake();
    answer_all_but_list_calls(&mut h); // the restored connector's own token, once it needs one
    assert!(h.inbox.iter().any(is_list_call), "sent at once, as before");
}

/// A connector whose list add for `Y` Marketo answered 503: the call waits for its retry.
fn list_add_answered_503() -> Driver {
    let add = json!({"id": "add", "type": "addLeadToList", "targetStaticList": LIST,
                     "targetLeadId": {"attribute": "id"}});
    let mut h = host(json!([add]));
    let lead = h.fake.add_lead(json!({"email": "y@x.com"}));
    h.process("Y", "add", json!({"id": lead}));
    h.answer_where(|r| !is_list_call(r));
    let first = h.inbox.iter().find(|r| is_list_call(r)).map(|r| r.id).expect("Y's list call");
    h.reply(first, Reply::Http(503, "<html>busy</html>".into()));
    h
}

/// Answers whatever is in flight but list calls (the identity call, the schema read).
fn answer_all_but_list_calls(h: &mut Driver) {
    while let Some(id) = h.inbox.iter().find(|r| !is_list_call(r)).map(|r| r.id) {
        h.answer(id);
    }
}

/// A batch in flight at the snapshot is sent again by the restored connector once Marketo's
/// timeout for that call has passed, without waiting for the batch thresholds again (it had
/// been closed) and without a `flush()`.
#[test]
fn a_batch_in_flight_at_the_snapshot_goes_again_once_its_call_has_timed_out_without_a_flush() {
    let mut h = host(json!([list_add_batched()]));
    let a = h.fake.add_lead(json!({"email": "a@x.com"}));
    h.process("A", "addb", json!({"id": a}));
    h.flush();
    answer_all_but_list_calls(&mut h);
    let sent = h.inbox.iter().find(|r| is_list_call(r)).cloned().expect("the batch's list call");
    let until = h.now + marketo_connector_testkit::driver::marketo_timeout_ms(&sent);
    let snap = h.restore(SEED + 1);
    assert!(snap.events.iter().all(|e| e.sealed && e.in_flight), "closed and in flight");
    h.wake();
    answer_all_but_list_calls(&mut h);
    assert!(!h.inbox.iter().any(is_list_call), "not while the old call may still run");
    h.advance_to(until);
    answer_all_but_list_calls(&mut h);
    assert_eq!(h.inbox.iter().filter(|r| is_list_call(r)).count(), 1, "sent again at the old call's timeout");
    h.run_until_idle();
    assert_eq!(h.finals("A").first().map(|o| o.status), Some(Status::Delivered));
}

// ---- process() answered without a waiter ----------------------------------------------------

/// A batched event whose `process()` has nothing else to do (no request, no outcome waiting
/// for a taker, no flush or wake waiting, no new wake-up) is answered `queued` without a waiter
/// or a step ([`marketo_connector::core::report::Reporter::settles_alone`]); the driver checks
/// each such answer against what the step settles the call with. Anything else due takes the
/// waiter: the first event of a batch (a wake-up for its age), the first event after outcomes
/// finished that no call has returned yet (it returns them), and an event while a `flush()`
/// waits.
#[test]
fn a_batched_event_with_nothing_else_due_is_answered_queued_without_a_waiter() {
    let mut h = host(json!([list_add_batched()]));
    h.process("first", "addb", json!({"id": 1}));
    assert_eq!(h.alone, 0, "the first event asks for a wake-up at its batch's age");
    for i in 2..=10 {
        h.process(&format!("e{i}"), "addb", json!({"id": i}));
    }
    assert_eq!(h.alone, 9);
    for i in 2..=10 {
        let got: Vec<Status> = h.returned_by(&format!("e{i}")).iter().map(|o| o.status).collect();
        assert_eq!(got, vec![Status::Queued], "e{i}");
    }

    // The batch goes at its age; its ten outcomes finish with no call waiting to return them.
    let due = h.timeout().expect("a wake-up at the batch's age");
    h.advance_to(due);
    h.answer_where(is_identity);
    h.answer_where(is_list_call);
    assert_eq!(h.engine.pending_events(), 0);
    h.process("next", "addb", json!({"id": 11}));
    assert_eq!(
        h.alone, 9,
        "the next call returns the outcomes no call has returned (and asks for a wake-up)"
    );
    let got = h.returned_by("next");
    assert_eq!((got.len(), got.first().map(|o| o.status)), (11, Some(Status::Queued)));

    h.process("quiet again", "addb", json!({"id": 12}));
    assert_eq!(h.alone, 10);
    h.flush_named("F");
    h.process("while F waits", "addb", json!({"id": 13}));
    assert_eq!(h.alone, 10, "a waiting flush is looked at");
}
