//! `snapshot()` / restore: queues, events in flight and the quota pause survive a restart,
//! no secret or token is written, and every event is delivered exactly once.

use marketo_connector::core::snapshot::{Snapshot, SnapshotError};
use marketo_connector::core::Status;
use marketo_connector_testkit::*;
use serde_json::{json, Value};

fn actions() -> Value {
    json!([
        {"id": "up", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]},
        {"id": "now", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]},
        {"id": "mail", "type": "sendTransactionalEmail", "targetEmailCampaign": 9, "targetLeadId": {"attribute": "lead"}}
    ])
}

/// Moves the engine's pending state to a fresh engine, as a host restoring from storage does.
fn restart(h: &mut Driver) -> String {
    let text = h.snapshot_text();
    let sent_before = h.sent.len();
    h.restore(SEED); // answers to the old engine's requests never arrive
                     // A restored engine sends nothing until the host's next input; its poll_timeout asks for
                     // one now, and the host wakes it.
    assert_eq!(h.timeout(), Some(h.now), "a restored engine asks to be woken at once");
    assert_eq!(h.sent.len(), sent_before, "nothing sent before the host's next call");
    h.wake();
    text
}

#[test]
fn queued_and_in_flight_events_are_delivered_exactly_once_after_a_restore() {
    let mut h = Driver::new(settings(actions()));
    for i in 0..5 {
        h.event_with_id("up", &json!({"email": format!("q{i}@example.com")}), &format!("q{i}"));
    }
    h.event_with_id("now", &json!({"email": "flying@example.com"}), "flying");
    assert!(!h.inbox.is_empty(), "identity call in flight");
    let text = restart(&mut h);
    assert!(!text.contains(CLIENT_SECRET), "no secret in the snapshot");
    assert!(!text.contains("Bearer") && !text.contains("access_token"), "no token in the snapshot");
    let snap: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(snap["version"], 1);
    assert_eq!(snap["events"].as_array().map(Vec::len), Some(6));

    h.flush();
    h.run_until_idle();
    for id in ["q0", "q1", "q2", "q3", "q4", "flying"] {
        assert_eq!(h.outcomes.iter().filter(|o| o.event_id == id).count(), 1, "{id}: exactly one outcome");
        assert_eq!(h.outcome(id).status, Status::Delivered, "{id}");
    }
    assert_eq!(h.fake.leads.len(), 6, "each lead written once");
}

#[test]
fn a_restored_batch_keeps_its_age() {
    let mut h = Driver::new(settings(actions()));
    h.event("up", &json!({"email": "old@example.com"}));
    h.answer_all(); // the lead schema, read at the first event
    h.advance_to(T0 + 20 * 60_000);
    restart(&mut h);
    assert_eq!(h.timeout(), Some(T0 + 30 * 60_000), "the 30 minutes count from arrival");
}

#[test]
fn a_campaign_trigger_in_flight_at_restart_is_uncertain_not_resent() {
    let mut h = Driver::new(settings(actions()));
    h.event_with_id("mail", &json!({"lead": 5}), "mail-1");
    h.answer_next(); // identity answered; the trigger is now in flight
    assert!(h.inbox.iter().any(|r| r.url.ends_with("/campaigns/9/trigger.json")));
    let before = h.rest_sent().len();
    restart(&mut h);
    h.run_until_idle();
    assert_eq!(h.outcome("mail-1").status, Status::Uncertain);
    assert_eq!(h.outcome("mail-1").code.as_deref(), Some("RESTARTED_IN_FLIGHT"));
    assert_eq!(h.rest_sent().len(), before, "not sent again");
}

#[test]
fn a_quota_pause_survives_a_restore() {
    let mut h = Driver::new(settings(actions()));
    h.fake.script.push_back(Reply::error("607", "Daily quota reached"));
    h.event_with_id("now", &json!({"email": "late@example.com"}), "late");
    h.answer_all();
    assert!(h.timeout().is_some_and(|t| t > h.now + 3_600_000), "paused until the reset");
    let sent = h.rest_sent().len();
    restart(&mut h);
    h.answer_all();
    assert_eq!(h.rest_sent().len(), sent, "still paused after the restore");
    h.run_until_idle();
    assert_eq!(h.outcome("late").status, Status::Delivered, "sent after the reset");
}

#[test]
fn unknown_versions_and_garbage_are_refused() {
    assert_eq!(
        Snapshot::parse(r#"{"version": 99, "events": []}"#).err(),
        Some(SnapshotError::Version("99".into()))
    );
    // An edited version is named as it is written, not read as another number.
    for (written, named) in [
        (r#""1""#, r#""1""#),
        ("1.0", "1.0"),
        ("4294967297", "4294967297"),
        ("-1", "-1"),
        ("1e0", "1e0"),
        ("-0", "-0"),
        ("18446744073709551617", "18446744073709551617"),
        ("1e400", "1e400"),
    ] {
        let text = format!(r#"{{"version": {written}, "events": []}}"#);
        let err = Snapshot::parse(&text).err();
        assert_eq!(err, Some(SnapshotError::Version(named.into())), "{written}");
        assert!(err
            .is_some_and(|e| e.to_string().contains(&format!("snapshot version {named} is not supported"))));
    }
    assert!(matches!(Snapshot::parse("not json"), Err(SnapshotError::Malformed(_))));
    assert!(Snapshot::parse(r#"{"version": 1}"#).is_err());
}

#[test]
fn text_that_is_not_a_snapshot_says_what_a_snapshot_is() {
    for text in ["null", "[]", "\"text\"", "{}", r#"{"events": []}"#] {
        let message = Snapshot::parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("Connector.snapshot()"), "{text}: {message}");
        assert!(!message.contains("struct"), "{text}: a Rust type name leaks: {message}");
    }
}

/// The snapshot of two queued events, as JSON to damage.
fn two_queued() -> (Driver, Value) {
    let mut h = Driver::new(settings(actions()));
    h.event_with_id("up", &json!({"email": "a@example.com"}), "a");
    h.event_with_id("up", &json!({"email": "b@example.com"}), "b");
    let snap = serde_json::from_str(&h.snapshot_text()).unwrap();
    (h, snap)
}

fn damaged(text: &str) -> String {
    match Snapshot::parse(text) {
        Err(e @ SnapshotError::Damaged(_)) => e.to_string(),
        other => panic!("expected a damaged snapshot, got {other:?}"),
    }
}

#[test]
fn an_event_listed_twice_is_refused_not_delivered_twice() {
    let (_, mut snap) = two_queued();
    let first = snap["events"][0].clone();
    snap["events"].as_array_mut().unwrap().push(first);
    let message = damaged(&snap.to_string());
    assert!(
        message.starts_with("the snapshot was damaged:")
            && message.contains("is listed 2 times (event `a` (action `up`), `a` (action `up`))"),
        "{message}"
    );
}

#[test]
fn events_a_host_gave_one_id_are_two_events_and_restore() {
    // Event ids need not be unique (a host may reuse one): only the same entry twice is damage.
    let mut h = Driver::new(settings(actions()));
    h.event_with_id("up", &json!({"email": "a@example.com"}), "same");
    h.event_with_id("up", &json!({"email": "a@example.com"}), "same");
    let text = h.snapshot_text();
    let snap = Snapshot::parse(&text).expect("a snapshot() with a repeated event id restores");
    assert_eq!(snap.events.len(), 2);
    assert_ne!(snap.events[0].key, snap.events[1].key);
}

#[test]
fn half_of_a_surrogate_pair_in_an_event_is_refused() {
    let (_, snap) = two_queued();
    let text = snap.to_string();
    assert!(text.contains(r#""email":"b@example.com""#));
    for (half, event) in [(r"\ud83d", r"\ud83db"), (r"\ude00", r"x\ude00"), (r"\uD83D", r"\uD83D\n")] {
        let bad = text.replace(r#""email":"b@example.com""#, &format!(r#""email":"{event}@example.com""#));
        let message = damaged(&bad);
        assert!(
            message.contains(&format!(
                "event `b` (action `up`) holds `{half}`, half of a UTF-16 surrogate pair"
            )),
            "{event}: {message}"
        );
    }
    // A whole pair, and an escaped backslash before `ud83d` (text, not an escape), are fine.
    for event in [r"\ud83d\ude00", r"\\ud83d"] {
        let good = text.replace(r#""email":"b@example.com""#, &format!(r#""email":"{event}@example.com""#));
        assert!(Snapshot::parse(&good).is_ok(), "{event}");
    }
}
