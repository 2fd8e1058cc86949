//! The quota day in US Central local time (issue 9, case 3): the client-side count turns at
//! Central midnight (CDT in summer), and after a `607` the connector resumes at the earliest
//! candidate reset (Central local midnight), and if Marketo still answers `607` then, at CST
//! midnight: at most one call lost.

use marketo_connector::core::{Millis, Status};
use marketo_connector_testkit::*;
use serde_json::json;

const H: Millis = 3_600_000;
/// 2026-07-14T12:00:00Z: 07:00 CDT.
const JULY: Millis = 1_784_030_400_000;
/// 2026-07-15T05:00:00Z: midnight CDT.
const CDT_MIDNIGHT: Millis = JULY + 17 * H;
/// 2026-11-28T12:00:00Z: 06:00 CST.
const NOVEMBER: Millis = 1_795_867_200_000;

fn harness(now: Millis, quota: u32) -> Driver {
    Driver::with_seed(
        settings_with_limits(
            json!([{"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                    "leadData": [{"field": "email", "source": {"attribute": "email"}}]}]),
            json!({"dailyQuota": quota}),
        ),
        SEED,
        now,
    )
}

#[test]
fn after_a_607_in_july_calls_resume_at_cdt_midnight() {
    let mut h = harness(JULY, 50_000);
    h.fake.script.push_back(Reply::error("607", "Daily quota reached"));
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    assert_eq!(h.outcome(&id).status, Status::Delivered);
    assert_eq!(h.rest_sent_at(), vec![JULY, CDT_MIDNIGHT], "one hour before the old UTC−6 reset");
}

#[test]
fn when_marketo_still_answers_607_at_cdt_midnight_calls_wait_for_cst_midnight() {
    let mut h = harness(JULY, 50_000);
    h.fake.script.push_back(Reply::error("607", "Daily quota reached"));
    h.fake.script.push_back(Reply::error("607", "Daily quota reached"));
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    assert_eq!(h.outcome(&id).status, Status::Delivered);
    // One call lost at 05:00 UTC, then delivered at 06:00 UTC (midnight CST).
    assert_eq!(h.rest_sent_at(), vec![JULY, CDT_MIDNIGHT, CDT_MIDNIGHT + H]);
}

#[test]
fn in_november_both_readings_are_the_same_midnight() {
    let mut h = harness(NOVEMBER, 50_000);
    h.fake.script.push_back(Reply::error("607", "Daily quota reached"));
    h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    assert_eq!(h.rest_sent_at(), vec![NOVEMBER, NOVEMBER + 18 * H]);
}

#[test]
fn the_client_side_count_turns_at_central_local_midnight() {
    // dailyQuota 3: the lead schema's read and two upserts fill the Central day; the third
    // upsert waits for CDT midnight (05:00 UTC).
    let mut h = harness(JULY, 3);
    for i in 0..3 {
        h.event("upsert", &json!({"email": format!("p{i}@example.com")}));
    }
    h.run_until_idle();
    h.assert_all_final();
    assert_eq!(h.rest_sent_at(), vec![JULY, JULY, CDT_MIDNIGHT]);
    assert_eq!(h.describe_sent().len(), 1);
}
