//! Every answer Marketo (or the network) could give. A fixed configuration gets a few events
//! and both listings; then the input, read as a sequence of operations, answers the requests
//! the engine emits (identity calls included) with chosen HTTP statuses and arbitrary bodies
//! (raw, or input bytes inside a Marketo-shaped body), transport errors, canned successes, time
//! advances, more events, flushes and snapshots.
//! This reaches every response parser: envelopes, per-record results, identity answers, bulk
//! upload and status answers, failures/warnings CSV files, listings.
#![no_main]

use fuzz_support::{driver, run_canned, sample_events, Bytes, Driver, Reply, ACTION_IDS, MAX_ROUNDS, SEED};
use libfuzzer_sys::fuzz_target;
use marketo_connector::core::ids::RequestId;
use marketo_connector::core::Listing;

/// Statuses worth hitting; a byte with the high bit set picks a raw status instead.
const STATUSES: [u16; 16] = [200, 200, 200, 201, 204, 299, 400, 401, 403, 404, 413, 414, 429, 500, 502, 503];
/// Operations per input at most.
const MAX_OPS: usize = 512;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let config = usize::from(input.u8() % 3);
    let mut d = driver(config, SEED);
    let events = sample_events();
    for (i, action) in ACTION_IDS.iter().enumerate() {
        d.event_generated(action, &events[i % 2]);
    }
    d.start_listing(Listing::StaticLists, "staticLists");
    d.start_listing(Listing::TriggerableCampaigns, "triggerableCampaigns");
    d.flush();

    let mut ops = 0;
    while !input.is_empty() && ops < MAX_OPS {
        ops += 1;
        let op = input.u8();
        let index = usize::from(input.u8());
        match op % 14 {
            // An HTTP answer with a chosen status and an arbitrary body.
            0..=3 => {
                let s = input.u8();
                let status =
                    if s & 0x80 != 0 { input.u16() } else { STATUSES[usize::from(s) % STATUSES.len()] };
                let body = String::from_utf8_lossy(input.chunk()).into_owned();
                reply(&mut d, index, Reply::Http(status, body));
            }
            // A plausible success, to get past a step cheaply.
            4 | 5 => {
                if let Some(id) = d.nth_in_flight(index) {
                    let _ = d.try_answer(id);
                }
            }
            6 => {
                let message = String::from_utf8_lossy(input.chunk()).into_owned();
                reply(&mut d, index, Reply::Transport(message));
            }
            // Time passes: a little, or up to ~50 days.
            7 => {
                let delta =
                    if index & 1 == 0 { u64::from(input.u16()) * 100 } else { u64::from(input.u32()) };
                d.advance_to(d.now.saturating_add(delta));
            }
            // Wake exactly when the engine asked.
            8 => {
                if let Some(t) = d.timeout() {
                    d.advance_to(t);
                }
            }
            // Another event, fixed or from the input.
            9 => {
                let action = ACTION_IDS[index % ACTION_IDS.len()];
                let ev = if index & 0x10 == 0 {
                    events[index % events.len()].clone()
                } else {
                    fuzz_support::lenient_event(input.chunk())
                };
                d.event_generated(action, &ev);
            }
            10 => match index % 4 {
                0 => d.flush(),
                1 => {
                    d.start_listing(Listing::StaticLists, "staticLists");
                }
                2 => d.check_snapshot(),
                _ => {
                    // A request id nobody is waiting for.
                    let id = RequestId(input.u32());
                    if !d.inbox.iter().any(|r| r.id == id) {
                        assert!(d.late_answer(id, Reply::Http(200, "{}".into())).is_err());
                    }
                }
            },
            // HTTP 200 with a Marketo-shaped body around input bytes, so mutations go to the parts
            // the parsers look at rather than to the envelope's syntax.
            12 | 13 => {
                let shape = input.u8();
                let n = input.u16();
                let text = String::from_utf8_lossy(input.chunk()).into_owned();
                let body = match shape % 6 {
                    0 => format!(r#"{{"requestId":"f#1","success":true,"result":{text}}}"#),
                    1 => format!(
                        r#"{{"requestId":"f#2","success":true,"result":{text},"moreResult":true,"nextPageToken":"P{n}"}}"#
                    ),
                    2 => format!(
                        r#"{{"requestId":"f#3","success":false,"errors":[{{"code":{text},"message":"m{n}"}}]}}"#
                    ),
                    3 => format!(
                        r#"{{"requestId":"f#4","success":true,"result":[{{"batchId":{n},"status":"{text}","numOfRowsFailed":{},"numOfRowsWithWarning":{}}}]}}"#,
                        n % 4,
                        n / 4 % 4
                    ),
                    4 => format!("email,firstName,Import Failure Reason\r\n{text}"),
                    _ => format!(r#"{{"access_token":"{text}","token_type":"bearer","expires_in":{n}}}"#),
                };
                reply(&mut d, index, Reply::Http(200, body));
            }
            // A request left unanswered: it moves to the back (answered later, or timed out).
            _ => {
                if !d.inbox.is_empty() {
                    let i = index % d.inbox.len();
                    if let Some(r) = d.inbox.remove(i) {
                        d.inbox.push_back(r);
                    }
                }
            }
        }
    }
    d.check_snapshot();
    run_canned(&mut d, MAX_ROUNDS);
});

/// Answers the request in flight at `index` (modulo their number), if any; the driver checks
/// that a refusal only meets a request past its call timeout.
fn reply(d: &mut Driver, index: usize, reply: Reply) {
    if let Some(id) = d.nth_in_flight(index) {
        let _ = d.try_reply(id, reply);
    }
}
