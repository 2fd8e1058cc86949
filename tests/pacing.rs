//! An instance shared with other apps (issue 9, case 2): Marketo's 100 calls per 20 s and 10
//! concurrent calls are per instance. `606`/`615` mean "not executed": they never exhaust an
//! event's attempts; the pace halves on them and rises again as calls go through (AIMD), never
//! above `limits`; refusals are bounded by `limits.deliveryDeadlineMs`, then the event fails
//! saying so.

use marketo_connector::core::{Millis, Status};
use marketo_connector_testkit::*;
use serde_json::json;

const RATE_606: &str = "Max rate limit '100' exceeded with in '20' secs";

fn upserts(limits: serde_json::Value) -> Driver {
    Driver::new(settings_with_limits(
        json!([{"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                "leadData": [{"field": "email", "source": {"attribute": "email"}}]}]),
        limits,
    ))
}

/// Runs the driver against an instance where other apps make `other` of the 100 calls allowed
/// per 20 s: a call that would make it 100 or more is refused with 606. Returns the 606 count
/// and the lowest pace seen.
fn run_shared(h: &mut Driver, other: usize) -> (usize, u32) {
    h.fake.shared_rate = Some(other);
    h.fake.admitted.clear();
    let before = h.fake.rate_refused;
    let mut lowest = u32::MAX;
    h.run_until_idle_with(200_000, |h| lowest = lowest.min(h.engine.stats().pace.calls_per_20s));
    (h.fake.rate_refused - before, lowest)
}

#[test]
fn other_apps_using_90_of_100_calls_300_upserts_are_all_delivered() {
    let mut h = upserts(json!({}));
    let ids: Vec<String> =
        (0..300).map(|i| h.event("upsert", &json!({"email": format!("p{i}@example.com")}))).collect();
    let (refused, lowest) = run_shared(&mut h, 90);
    h.assert_all_final();
    for id in &ids {
        assert_eq!(h.outcome(id).status, Status::Delivered, "{:?}", h.outcome(id));
    }
    assert_eq!(h.fake.leads.len(), 300);
    // The pace came down to what the instance had left (10 per 20 s) instead of retrying at 50.
    assert!(lowest <= 10, "lowest pace {lowest}");
    // Before pacing: 31 events failed and 808 calls were refused. Now a refusal costs no attempt
    // and the pace keeps refusals to a fraction of the calls.
    assert!(refused < 50, "{refused} calls refused with 606");
    assert_eq!(h.engine.stats().rate_limited as usize, refused);
    // 300 calls at 10 per 20 s take at least 580 s; the pace keeps close to that.
    assert!((580_000..1_200_000).contains(&(h.now - T0)), "{} ms", h.now - T0);
}

#[test]
fn the_pace_rises_again_when_the_other_apps_stop() {
    let mut h = upserts(json!({"callsPer20s": 40}));
    for i in 0..60 {
        h.event("upsert", &json!({"email": format!("a{i}@example.com")}));
    }
    let (_, lowest) = run_shared(&mut h, 95);
    assert!(lowest <= 5, "lowest pace {lowest}");
    let low = h.engine.stats().pace.calls_per_20s;
    assert!(low < 40);
    for i in 0..3_000 {
        h.event("upsert", &json!({"email": format!("b{i}@example.com")}));
    }
    let (refused, _) = run_shared(&mut h, 0);
    assert_eq!(refused, 0);
    h.assert_all_final();
    let pace = h.engine.stats().pace;
    assert_eq!((pace.calls_per_20s, pace.concurrency), (40, 5), "back at limits, never above");
}

#[test]
fn ten_606_and_615_in_a_row_do_not_exhaust_the_six_attempts() {
    for code in ["606", "615"] {
        let mut h = upserts(json!({}));
        for _ in 0..10 {
            h.fake.script.push_back(Reply::error(code, "refused"));
        }
        let id = h.event("upsert", &json!({"email": "a@example.com"}));
        h.run_until_idle();
        assert_eq!(h.outcome(&id).status, Status::Delivered, "{code}: {:?}", h.outcome(&id));
        assert_eq!(h.rest_sent().len(), 11, "{code}");
        assert_eq!(h.engine.stats().rate_limited, 10);
        let pace = h.engine.stats().pace;
        if code == "615" {
            assert!(pace.concurrency < 5 && pace.calls_per_20s == 50, "{pace:?}");
        } else {
            assert!(pace.calls_per_20s < 50 && pace.concurrency == 5, "{pace:?}");
        }
    }
}

#[test]
fn refusals_past_the_delivery_deadline_fail_the_event_saying_so() {
    let mut h = upserts(json!({"deliveryDeadlineMs": 600_000}));
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    let (refused, lowest) = run_shared(&mut h, 100);
    let o = h.outcome_json(&id);
    assert_eq!((o["status"].as_str(), o["code"].as_str()), (Some("failed"), Some("606")));
    let m = o["message"].as_str().unwrap_or("");
    assert!(m.starts_with(RATE_606) && m.contains("limits.deliveryDeadlineMs = 600000 ms"), "{m}");
    assert!(refused > 6, "more tries than the 6 attempts: {refused}");
    assert_eq!(lowest, 1);
    // Refused from T0 on; given up at the deadline, not long after.
    let last = *h.rest_sent_at().last().unwrap_or(&0);
    assert_eq!(last, T0 + 600_000, "the last try is at the deadline");
}

#[test]
fn a_quota_pause_does_not_count_toward_the_delivery_deadline() {
    // Event a is refused with 606 (deadline 1 h); event b's call meets a 607 that holds every
    // call until Central midnight, 18 h later. After the pause a is refused once more and then
    // goes through: the 18 h held for the quota are not refusal time.
    let mut h = upserts(json!({"deliveryDeadlineMs": 3_600_000}));
    h.fake.script.push_back(Reply::error("606", RATE_606));
    h.fake.script.push_back(Reply::error("607", "Daily quota reached"));
    // At midnight b goes first (it was held at the front), then a is refused again.
    h.fake.script.push_back(Reply::ok(json!({"success": true, "result": [{"id": 7, "status": "created"}]})));
    h.fake.script.push_back(Reply::error("606", RATE_606));
    let a = h.event("upsert", &json!({"email": "a@example.com"}));
    h.answer_next(); // identity
    h.answer_next(); // a: 606
    let b = h.event("upsert", &json!({"email": "b@example.com"}));
    h.answer_next(); // b: 607
    h.run_until_idle();
    h.assert_all_final();
    assert_eq!(h.outcome(&a).status, Status::Delivered, "{:?}", h.outcome(&a));
    assert_eq!(h.outcome(&b).status, Status::Delivered);
    let midnight = T0 + 18 * 3_600_000;
    let after: Vec<Millis> = h.rest_sent_at().into_iter().filter(|t| *t >= midnight).collect();
    assert_eq!(after.len(), 3, "b, a refused, a delivered: {after:?}");
    assert_eq!(h.engine.stats().rate_limited, 2);
}
