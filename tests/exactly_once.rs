//! SPEC §6 as a property: every accepted event gets exactly one final outcome — nothing lost,
//! nothing reported twice — under random configurations, workloads and fault schedules, on
//! virtual time, across snapshot-and-restore.
//!
//! A case is a random connector (one to four actions drawn from all nine types, random
//! `limits`), a random list of steps (send a valid or malformed event, answer some requests,
//! let time pass, wake the engine, flush, restart from a snapshot, hand in a late answer) and a
//! random fate for each request the engine emits, in order: the fake Marketo's normal answer,
//! a Marketo error code, an HTTP error, an HTML page, garbage, a transport error, or no answer
//! at all (the engine's call timeout must fire). After the steps every request is answered
//! normally and virtual time is moved to each `poll_timeout()` until the engine is idle (a
//! daily-quota pause is waited out: `poll_timeout()` is then the next US-Central midnight).
//! Each restored engine gets its own seed, as a host seeding from its clock or entropy does.
//!
//! Outcomes reach the host as they do through the JavaScript API: only in what a settled host
//! call returns (`core::report`). Each `Send` is a `process()` call waiting for its event, each
//! wake-up a `wake()` call, each `Flush` a `flush()` call; a restore drops the old instance's
//! pending calls, as a dying process or an evicted Durable Object does, so an outcome finished
//! but not yet returned must survive in the snapshot.
//!
//! The fake Marketo, the driver and the invariants checked on every step are the testkit's
//! (`marketo-connector-testkit`: `FakeMarketo`, `Driver` with `Delivery::Calls`, a `Fault` per
//! request): this file draws the cases and reads them as steps.
//!
//! Checked on every step: at most one final outcome per event id returned (over the whole run,
//! restores included), none for an id never accepted, `queued` only for a `process()` call's own
//! event; REST calls in flight ≤ `limits.concurrency`, counting calls a dead instance left in
//! flight until their call timeout; never two identity calls in flight; the client secret in no
//! outcome, REST request or snapshot (and no token in a snapshot); a snapshot holds exactly the
//! events whose final outcome no settled call has returned (pending, or finished and
//! unreported); a non-idempotent call (campaign trigger, merge, `createDuplicate` upsert) that
//! may have reached Marketo (success, 5xx, unreadable 2xx, transport error, timeout, in flight
//! at a restart) is never sent again.
//! Checked at the end: every accepted event has its one returned outcome, nothing is pending,
//! nothing waits on time, within [`MAX_SETTLE_MS`] of virtual time after the last step
//! (progress); REST calls started in any 20 s window ≤ `limits.callsPer20s`, across restores
//! (the snapshot carries the window); REST calls started per Marketo day ≤ `dailyQuota`
//! (across restores: the quota count is).
//!
//! `PROPTEST_CASES` sets the number of cases (default 256). Bugs the property found are pinned
//! at the end of the file as plain regression tests.
#![cfg(not(target_arch = "wasm32"))]

use marketo_connector::core::engine::CLOCK_JUMP_MS;
use marketo_connector::core::limits::WINDOW_MS;
use marketo_connector::core::{Millis, UsageError};
use marketo_connector_testkit::{
    settings, settings_with_limits, Checks, Delivery, Driver, FakeMarketo, Fault, Input, Reply, SEED, T0,
};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Virtual start time: 2025-11-28T12:00:00Z.
const START: Millis = T0;
/// The static list every list action and bulk import uses.
const LIST: i64 = 77;
/// The campaign every `sendTransactionalEmail` triggers.
const CAMPAIGN: i64 = 9;
/// Leads the fake knows at the start: an event's `pool` 0–5 names an existing lead, 6–7 none.
const KNOWN: u64 = 6;
/// Bounds the final drive to quiescence (answers plus wake-ups).
const MAX_SETTLE_STEPS: usize = 60_000;
/// Progress: once faults stop, every event is final within this much virtual time (a daily
/// quota pause of up to 25 h, bulk polling, the longest retry chains).
const MAX_SETTLE_MS: Millis = 2 * 24 * 3_600_000;

// ---- the random case ------------------------------------------------------------------------

/// How a list action finds its lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// `targetLeadId`.
    TargetLeadId,
    /// `leadIdLookup` with these filter types.
    Email,
    Id,
    Cookies,
    Twitter,
}

/// `updateStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upd {
    CreateOrUpdate,
    UpdateOnly,
    CreateOnly,
    CreateDuplicate,
}

/// One configured action (all nine types are reachable).
#[derive(Debug, Clone)]
enum ActionSpec {
    /// add/remove, batched or not.
    List { batched: bool, remove: bool, by: By, add_lead: bool },
    /// `sendTransactionalEmail` with 0–3 tokens.
    Email { tokens: usize, id_as_string: bool },
    /// `createOrUpdateLead[Batched]`.
    Upsert { batched: bool, strategy: Upd, partition: bool, date: bool },
    /// `mergeLead`.
    Merge { in_crm: bool },
    /// `bulkImportLeads`.
    Bulk { list: bool, date: bool },
}

/// The connector's `limits` (`dailyQuota` small now and then, to force quota pauses).
#[derive(Debug, Clone, Copy)]
struct Limits {
    calls_per_20s: u32,
    concurrency: u32,
    daily_quota: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
enum HugeField {
    /// A huge `firstName`: big bodies (batch and 1 MB thresholds, 413).
    First,
    /// A huge lookup value: long URLs (`_method=GET`, 414).
    Email,
    /// A huge token value.
    Token,
}

/// An event: valid, or malformed in one of several ways.
#[derive(Debug, Clone)]
enum Ev {
    /// Every attribute any action reads, well-formed. `pool` picks a shared lead (0–5 exist),
    /// `losers + 1` is the number of losing ids (1–60), `alt` alternative spellings (ids as strings,
    /// losers as a comma string, upper-case emails, epoch dates).
    Valid { pool: u8, losers: u8, alt: bool },
    /// None of the attributes the actions need.
    Missing,
    /// Every attribute of a wrong type.
    WrongType(u8),
    /// Not an object at all.
    NotObject(u8),
    /// A valid event with one huge string.
    Huge { field: HugeField, kb: usize },
}

#[derive(Debug, Clone)]
enum Step {
    /// Hands an event to action `action % actions`; `generated_id` lets the engine name it.
    Send {
        action: usize,
        event: Ev,
        generated_id: bool,
    },
    /// `count` valid events for one action at the same instant.
    Burst {
        action: usize,
        count: u8,
        pool: u8,
    },
    /// An action id that is not configured: refused, and no outcome ever.
    SendUnknownAction,
    /// Answers the `n` oldest requests that get an answer, each with its fate.
    Answer {
        n: usize,
    },
    /// Answers one request out of order.
    AnswerOne {
        pick: usize,
    },
    /// Moves time; `wake` calls `handle_timeout` (else the host's timer is late).
    Advance {
        ms: u64,
        wake: bool,
    },
    /// Moves time to `poll_timeout()` and wakes the engine.
    WakeAtTimeout,
    Flush,
    /// Snapshot, JSON round trip, `Engine::restore`; requests in flight are dropped.
    Restore,
    /// Answers a request the engine gave up on (timed out): refused, harmless.
    LateAnswer {
        pick: usize,
    },
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    limits: Limits,
    actions: Vec<ActionSpec>,
    steps: Vec<Step>,
    /// What happens to each request the engine emits, in order.
    fates: Vec<Fault>,
}

const CODES: &[&str] = &[
    "601", "602", "603", "604", "606", "607", "608", "609", "610", "611", "612", "613", "614", "615", "701",
    "713", "1003", "1004", "1016", "1019", "1029", "",
];

const GARBAGE: &[&str] = &[
    "",
    "null",
    "[]",
    "{}",
    "{\"success\": tru",
    "{\"success\":\"yes\"}",
    "{\"success\":true}",
    "{\"success\":true,\"result\":{\"not\":\"a list\"}}",
    "{\"success\":true,\"result\":[{\"status\":\"skipped\"}]}",
    "{\"success\":false}",
    "id,email\r\n1,a@b.c\r\n",
];

fn action_spec() -> impl Strategy<Value = ActionSpec> {
    let by = prop_oneof![
        Just(By::TargetLeadId),
        Just(By::Email),
        Just(By::Id),
        Just(By::Cookies),
        Just(By::Twitter)
    ];
    let strategy = prop_oneof![
        Just(Upd::CreateOrUpdate),
        Just(Upd::UpdateOnly),
        Just(Upd::CreateOnly),
        Just(Upd::CreateDuplicate)
    ];
    prop_oneof![
        4 => (any::<bool>(), any::<bool>(), by, any::<bool>())
            .prop_map(|(batched, remove, by, add_lead)| ActionSpec::List { batched, remove, by, add_lead }),
        1 => (0usize..=3, any::<bool>())
            .prop_map(|(tokens, id_as_string)| ActionSpec::Email { tokens, id_as_string }),
        2 => (any::<bool>(), strategy, any::<bool>(), any::<bool>()).prop_map(
            |(batched, strategy, partition, date)| ActionSpec::Upsert { batched, strategy, partition, date }
        ),
        1 => any::<bool>().prop_map(|in_crm| ActionSpec::Merge { in_crm }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(list, date)| ActionSpec::Bulk { list, date }),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    let quota = prop_oneof![3 => Just(None), 1 => (1u32..=40).prop_map(Some)];
    (1u32..=100, 1u32..=10, quota).prop_map(|(calls_per_20s, concurrency, daily_quota)| Limits {
        calls_per_20s,
        concurrency,
        daily_quota,
    })
}

fn event() -> impl Strategy<Value = Ev> {
    let field = prop_oneof![Just(HugeField::First), Just(HugeField::Email), Just(HugeField::Token)];
    prop_oneof![
        12 => (0u8..8, 0u8..60, any::<bool>()).prop_map(|(pool, losers, alt)| Ev::Valid { pool, losers, alt }),
        1 => Just(Ev::Missing),
        1 => (0u8..6).prop_map(Ev::WrongType),
        1 => (0u8..5).prop_map(Ev::NotObject),
        // Over 1 MB only now and then: serializing it is most of a case's time in debug builds.
        1 => (field, prop_oneof![4 => Just(9usize), 2 => Just(300), 1 => Just(1100)])
            .prop_map(|(field, kb)| Ev::Huge { field, kb }),
    ]
}

fn advance_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..5_000,
        3 => 5_000u64..60_000,
        2 => 60_000u64..400_000,
        1 => Just(30 * 60_000u64),
        1 => 3_600_000u64..90_000_000,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0usize..8, event(), prop::bool::weighted(0.1))
            .prop_map(|(action, event, generated_id)| Step::Send { action, event, generated_id }),
        1 => (0usize..8, 2u8..40, 0u8..8).prop_map(|(action, count, pool)| Step::Burst { action, count, pool }),
        1 => Just(Step::SendUnknownAction),
        5 => (1usize..6).prop_map(|n| Step::Answer { n }),
        2 => (0usize..16).prop_map(|pick| Step::AnswerOne { pick }),
        3 => (advance_ms(), prop::bool::weighted(0.8)).prop_map(|(ms, wake)| Step::Advance { ms, wake }),
        2 => Just(Step::WakeAtTimeout),
        1 => Just(Step::Flush),
        1 => Just(Step::Restore),
        1 => (0usize..8).prop_map(|pick| Step::LateAnswer { pick }),
    ]
}

fn fate() -> impl Strategy<Value = Fault> {
    prop_oneof![
        10 => Just(Fault::Normal),
        4 => prop::sample::select(CODES).prop_map(Fault::Marketo),
        2 => prop::sample::select(&[500u16, 502, 503, 413, 414, 404, 400, 429, 302, 0][..]).prop_map(Fault::Http),
        1 => prop::sample::select(&[200u16, 502, 503, 404][..]).prop_map(Fault::Html),
        1 => prop::sample::select(GARBAGE).prop_map(Fault::Garbage),
        2 => Just(Fault::Transport),
        1 => Just(Fault::NoAnswer),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        limits(),
        prop::collection::vec(action_spec(), 1..=4),
        prop::collection::vec(step(), 1..80),
        prop::collection::vec(fate(), 0..80),
    )
        .prop_map(|(seed, limits, actions, steps, fates)| Case { seed, limits, actions, steps, fates })
}

// ---- configuration and events as JSON -------------------------------------------------------

impl ActionSpec {
    fn to_json(&self, id: &str) -> Value {
        match *self {
            ActionSpec::List { batched, remove, by, add_lead } => {
                let ty = match (remove, batched) {
                    (false, false) => "addLeadToList",
                    (false, true) => "addLeadToListBatched",
                    (true, false) => "removeLeadFromList",
                    (true, true) => "removeLeadFromListBatched",
                };
                let mut a = json!({"id": id, "type": ty, "targetStaticList": LIST});
                let lookup = |filter: &str, source: Value| json!({"filterType": filter, "source": source});
                match by {
                    By::TargetLeadId => a["targetLeadId"] = json!({"attribute": "leadId"}),
                    By::Email => a["leadIdLookup"] = lookup("email", json!({"attribute": "email"})),
                    By::Id => a["leadIdLookup"] = lookup("id", json!({"attribute": "leadId"})),
                    By::Cookies => a["leadIdLookup"] = lookup("cookies", json!({"attribute": "cookie"})),
                    By::Twitter => {
                        a["leadIdLookup"] =
                            lookup("twitterId", json!({"attribute": ["profile", "twitter.handle"]}))
                    }
                }
                // Marketo cannot create by id or cookie, nor from a given lead id.
                a["addLead"] = json!(add_lead && matches!(by, By::Email | By::Twitter));
                a
            }
            ActionSpec::Email { tokens, id_as_string } => {
                let campaign = if id_as_string { json!(CAMPAIGN.to_string()) } else { json!(CAMPAIGN) };
                let mut a = json!({"id": id, "type": "sendTransactionalEmail", "targetEmailCampaign": campaign,
                                   "targetLeadId": {"attribute": "uid"}});
                let all = [
                    json!({"name": "{{my.message}}", "source": {"attribute": "msg"}}),
                    json!({"name": "{{my.visit}}", "source": {"attribute": "visit"}, "type": "date"}),
                    json!({"name": "{{my.fixed}}", "source": {"value": "Hello"}}),
                ];
                if tokens > 0 {
                    a["tokens"] = Value::Array(all[..tokens].to_vec());
                }
                a
            }
            ActionSpec::Upsert { batched, strategy, partition, date } => {
                let ty = if batched { "createOrUpdateLeadBatched" } else { "createOrUpdateLead" };
                // createDuplicate writes a unique email per event, so a resent call is visible.
                let (name, email) = match strategy {
                    Upd::CreateOrUpdate => ("createOrUpdate", "email"),
                    Upd::UpdateOnly => ("updateOnly", "email"),
                    Upd::CreateOnly => ("createOnly", "email"),
                    Upd::CreateDuplicate => ("createDuplicate", "uniqueEmail"),
                };
                let mut data = vec![
                    json!({"field": "email", "source": {"attribute": email}}),
                    json!({"field": "firstName", "source": {"attribute": "first"}}),
                    json!({"field": "leadScore", "source": {"attribute": "score"}}),
                ];
                if date {
                    data.push(
                        json!({"field": "lastVisit", "source": {"attribute": "visit"}, "type": "date"}),
                    );
                }
                let mut a = json!({"id": id, "type": ty, "updateStrategy": name, "leadData": data});
                if partition && matches!(strategy, Upd::CreateOnly | Upd::CreateOrUpdate) {
                    a["partitionName"] = json!("Default");
                }
                a
            }
            ActionSpec::Merge { in_crm } => json!({
                "id": id, "type": "mergeLead", "winningLeadId": {"attribute": "uid"},
                "losingLeadIds": {"attribute": "losers"}, "mergeInCrm": in_crm,
            }),
            ActionSpec::Bulk { list, date } => {
                let mut data = vec![
                    json!({"field": "email", "source": {"attribute": "email"}}),
                    json!({"field": "firstName", "source": {"attribute": "first"}}),
                ];
                if date {
                    data.push(
                        json!({"field": "lastVisit", "source": {"attribute": "visit"}, "type": "date"}),
                    );
                }
                let mut a = json!({"id": id, "type": "bulkImportLeads", "leadLookupField": "email", "leadData": data});
                if list {
                    a["targetStaticList"] = json!(LIST);
                }
                a
            }
        }
    }
}

fn settings_json(case: &Case) -> Value {
    let actions: Vec<Value> =
        case.actions.iter().enumerate().map(|(i, a)| a.to_json(&format!("a{i}"))).collect();
    let mut limits =
        json!({"callsPer20s": case.limits.calls_per_20s, "concurrency": case.limits.concurrency});
    if let Some(q) = case.limits.daily_quota {
        limits["dailyQuota"] = json!(q);
    }
    settings_with_limits(Value::Array(actions), limits)
}

/// Event number `n` (unique in a run): ids that non-idempotent calls carry (`uid`, losers,
/// `uniqueEmail`) are unique per event, so a call sent twice for one event can be recognised.
fn valid_event(n: u64, pool: u8, losers: u8, alt: bool) -> Value {
    let k = u64::from(pool) % 8;
    let loser_ids: Vec<u64> = (0..=u64::from(losers % 60)).map(|j| 200_000 + n * 100 + j).collect();
    let id = |v: u64| if alt { json!(v.to_string()) } else { json!(v) };
    let losers = if alt {
        json!(loser_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
    } else {
        json!(loser_ids)
    };
    json!({
        "email": if alt { format!("U{k}@Example.com") } else { format!("u{k}@example.com") },
        "uniqueEmail": format!("d{n}@example.com"),
        "leadId": id(1000 + k),
        "uid": id(100_000 + n),
        "cookie": format!("id:AAA-BBB-CCC&token:_mch-example.com-{k}"),
        "profile": {"twitter.handle": format!("tw{k}")},
        "losers": losers,
        "first": format!("First \"{n}\", Jr."),
        "score": n,
        "visit": if alt { json!(1_764_307_800_000u64) } else { json!("2026-11-28T09:30:00Z") },
        "msg": format!("message {n} & more"),
    })
}

fn event_json(ev: &Ev, n: u64) -> Value {
    match *ev {
        Ev::Valid { pool, losers, alt } => valid_event(n, pool, losers, alt),
        Ev::Missing => json!({"unrelated": {"x": 1}, "visitor": {"properties": {}}}),
        Ev::WrongType(k) => {
            let wrong = [json!(true), json!(1.5), json!({"a": 1}), json!([1, 2]), json!(""), json!("abc")];
            let w = wrong[usize::from(k) % wrong.len()].clone();
            // Never a string where a non-idempotent call's unique key would be.
            let not_text =
                [json!(false), json!(2.5), json!({"b": 2}), json!([3])][usize::from(k) % 4].clone();
            json!({"email": w, "uniqueEmail": not_text, "leadId": w, "uid": not_text, "cookie": w,
                   "profile": w, "losers": not_text, "first": w, "score": w, "visit": "next tuesday",
                   "msg": {"nested": true}})
        }
        Ev::NotObject(k) => [json!([1, 2, 3]), json!("just a string"), json!(42), Value::Null, json!(true)]
            [usize::from(k) % 5]
            .clone(),
        Ev::Huge { field, kb } => {
            let mut v = valid_event(n, 0, 0, false);
            let big = "x".repeat(kb * 1024);
            match field {
                HugeField::First => v["first"] = json!(big),
                HugeField::Email => {
                    v["email"] = json!(format!("{big}@example.com"));
                    v["uniqueEmail"] = json!(format!("d{n}{big}@example.com"));
                }
                HugeField::Token => v["msg"] = json!(big),
            }
            v
        }
    }
}

// ---- the fake Marketo and the world -----------------------------------------------------------

/// The testkit's fake with the property's instance: leads 1000–1005 (`u0`…`u5`, with cookies
/// and Twitter ids), list 77 holding two of them, bulk jobs that finish at their second status
/// poll, bulk rows of lead u3 failing and of lead u4 warned, no cap on running imports.
fn marketo() -> FakeMarketo {
    let mut fake = FakeMarketo::default();
    for k in 0..KNOWN {
        fake.add_lead(json!({"id": 1000 + k, "email": format!("u{k}@example.com"),
                             "cookies": format!("_mch-example.com-{k}"), "twitterId": format!("tw{k}")}));
    }
    fake.lists.insert(LIST, vec![1000, 1001]);
    fake.bulk_status_polls = Some(1);
    fake.bulk_row_rules = vec![
        ("u3@".into(), true, "1006, Field 'x' not found".into()),
        ("u4@".into(), false, "Value truncated".into()),
    ];
    fake.bulk_max_running = usize::MAX;
    fake
}

/// A case's steps on the testkit's driver: outcomes only in what settled host calls return,
/// each request answered as its fault says, the opt-in invariants on (`concurrency`, no resend
/// of a non-idempotent call).
struct World {
    d: Driver,
    limits: Limits,
    seed: u64,
    next_event: u64,
}

impl World {
    fn new(case: &Case) -> World {
        let mut d = Driver::with_seed(settings_json(case), case.seed, START);
        d.delivery = Delivery::Calls;
        // Describe calls get their fault like any call.
        d.auto_describe = false;
        d.fake = marketo();
        d.faults = case.fates.iter().cloned().collect();
        d.checks_on = Checks {
            concurrency: Some(case.limits.concurrency as usize),
            no_resend: true,
            ..Checks::default()
        };
        World { d, limits: case.limits, seed: case.seed, next_event: 0 }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Send { action, event, generated_id } => self.send(*action, event, *generated_id),
            Step::Burst { action, count, pool } => {
                for i in 0..*count {
                    let event = Ev::Valid { pool: pool.wrapping_add(i), losers: i, alt: i % 3 == 0 };
                    self.send(*action, &event, false);
                }
            }
            Step::SendUnknownAction => {
                self.next_event += 1;
                let id = format!("unknown-{}", self.next_event);
                let r = self.d.process_as("process", "no-such-action", &json!({"email": "x@y.z"}), Some(&id));
                assert!(matches!(r, Err(UsageError::UnknownAction(_))), "unknown action accepted: {r:?}");
                self.d.drain();
            }
            Step::Answer { n } => {
                for _ in 0..*n {
                    let Some(&id) = self.d.answerable().first() else { break };
                    self.d.answer(id);
                }
            }
            Step::AnswerOne { pick } => {
                let open = self.d.answerable();
                if !open.is_empty() {
                    self.d.answer(open[pick % open.len()]);
                }
            }
            Step::Advance { ms, wake } => {
                self.d.now += ms;
                if self.d.now.saturating_sub(self.d.read_at) > CLOCK_JUMP_MS {
                    // A jump of more than a day since the engine's last reading (over one step
                    // or several) is held until a second reading confirms it: the host's first
                    // input after it (here a wake-up) only reads the clock.
                    self.d.wake_silently();
                }
                if *wake {
                    self.wake();
                }
            }
            Step::WakeAtTimeout => {
                if let Some(t) = self.d.timeout() {
                    self.d.now = self.d.now.max(t);
                }
                self.wake();
            }
            Step::Flush => self.d.flush_named("flush"),
            Step::Restore => {
                let seed = self.seed.wrapping_add(self.d.restores + 1);
                self.d.restore(seed);
            }
            Step::LateAnswer { pick } => {
                if !self.d.late.is_empty() {
                    let id = self.d.late[pick % self.d.late.len()];
                    let ok = Reply::Http(200, r#"{"requestId":"x#1","success":true,"result":[]}"#.into());
                    let r = self.d.late_answer(id, ok);
                    assert!(
                        matches!(r, Err(UsageError::UnknownRequest(_))),
                        "a late answer was taken: {r:?}"
                    );
                }
            }
        }
        assert!(
            self.d.listings.is_empty() && self.d.checks.is_empty(),
            "a listing settled; none was started"
        );
    }

    fn send(&mut self, action: usize, ev: &Ev, generated_id: bool) {
        self.next_event += 1;
        let n = self.next_event;
        let action_id = format!("a{}", action % self.action_count());
        let given = (!generated_id).then(|| format!("e{n}"));
        if let Err(e) = self.d.process_as("process", &action_id, &event_json(ev, n), given.as_deref()) {
            panic!("configured action {action_id} refused: {e}");
        }
    }

    fn action_count(&self) -> usize {
        self.d.settings["actions"].as_array().map_or(1, Vec::len)
    }

    /// `wake()` at `now`; first drops what the engine gives up on (the call timeout).
    fn wake(&mut self) {
        self.d.expire_calls();
        self.d.wake_named("wake");
    }

    /// Answers everything normally and follows the engine's timer until it is idle.
    fn settle(&mut self) {
        self.d.faulty = false;
        let from = self.d.now;
        for _ in 0..MAX_SETTLE_STEPS {
            if let Some(&id) = self.d.answerable().first() {
                self.d.answer(id);
                continue;
            }
            // Outcomes finished with no call to return them ask for a wake-up now.
            let wake_at = self.d.wake_at();
            // A small daily quota spreads the calls over days: one more day per quota's worth.
            let quota_days = self.limits.daily_quota.map_or(0, |q| {
                let calls = self.d.starts.iter().flatten().filter(|t| **t >= from).count() as u64;
                calls / u64::from(q.max(1)) + 1
            });
            assert!(
                self.d.now - from <= MAX_SETTLE_MS + quota_days * 86_400_000,
                "no progress: still busy {} ms after the faults stopped ({} pending)",
                self.d.now - from,
                self.d.engine.pending_events()
            );
            match wake_at {
                Some(t) => {
                    self.d.now = self.d.now.max(t);
                    self.wake();
                }
                None => {
                    assert!(
                        self.d.inbox.is_empty(),
                        "requests in flight ({}) but poll_timeout() is None",
                        self.d.inbox.len()
                    );
                    return;
                }
            }
        }
        panic!(
            "not idle after {MAX_SETTLE_STEPS} steps: now +{} ms, poll_timeout {:?}, {} pending, {} in flight",
            self.d.now - START,
            self.d.timeout().map(|t| t as i128 - self.d.now as i128),
            self.d.engine.pending_events(),
            self.d.engine.in_flight()
        );
    }

    /// Every accepted event has its one returned outcome, nothing pending or waiting on time;
    /// REST call starts within `callsPer20s` per 20 s and `dailyQuota` per Marketo day, across
    /// restores.
    fn final_checks(&self) {
        self.d.assert_idle_and_all_final();
        self.d.assert_rate_window(self.limits.calls_per_20s as usize);
        if let Some(quota) = self.limits.daily_quota {
            self.d.assert_daily_quota(quota);
        }
    }
}

fn run(case: &Case) {
    let mut w = World::new(case);
    w.d.drain();
    for step in &case.steps {
        w.step(step);
    }
    w.settle();
    // A flush with nothing queued changes nothing.
    w.d.input(Input::Flush).expect("a flush is always taken");
    w.settle();
    w.final_checks();
}

/// The seed the property draws its cases from: `PROPTEST_RNG_SEED` when set, else a fixed one.
fn fixed_unless_given() -> proptest::test_runner::RngSeed {
    let given = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok());
    proptest::test_runner::RngSeed::Fixed(given.unwrap_or(20_261_130))
}

proptest! {
    // No regression files: a failure is turned into a plain #[test] below. The driver's checks
    // panic; proptest catches the panic and shrinks the case like a failed `prop_assert!`.
    #![proptest_config(ProptestConfig {
        max_shrink_iters: 4_096,
        failure_persistence: None,
        // The test command runs the same cases every time (a fixed seed); PROPTEST_RNG_SEED
        // picks other ones (`scripts/chaos.sh` draws a random seed and prints it).
        rng_seed: fixed_unless_given(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_event_gets_exactly_one_final_outcome(case in case()) {
        run(&case);
    }
}

// ---- bugs the property found, minimised ------------------------------------------------------

/// The model's bug, not the engine's: a clock jump of more than a day reached over two host
/// steps (17.6 h, then 6.4 h: one day and 1 ms since the engine's last reading) is held by the
/// engine's clock guard like a jump in one step, so the identity call in flight is not given up
/// and its answer is still taken. The model used to hold only single steps over a day, gave the
/// call up itself and expected its late answer refused.
#[test]
fn a_jump_over_a_day_in_two_steps_is_held() {
    run(&Case {
        seed: SEED,
        limits: Limits { calls_per_20s: 100, concurrency: 10, daily_quota: None },
        actions: vec![ActionSpec::Email { tokens: 0, id_as_string: false }],
        steps: vec![
            Step::Send {
                action: 0,
                event: Ev::Valid { pool: 0, losers: 0, alt: false },
                generated_id: false,
            },
            Step::Advance { ms: 63_458_441, wake: false },
            Step::Advance { ms: 22_941_560, wake: false },
            Step::Advance { ms: 0, wake: true },
            Step::LateAnswer { pick: 0 },
        ],
        fates: Vec::new(),
    });
}

/// A merge of 26 losers is two calls (≤ 25 losing ids each). The first is applied (`success`),
/// the second is answered `604` and waits for its retry — nothing is in flight — when the host
/// takes a snapshot and restores. The snapshot does not record the merge's progress
/// (`PendingEntry::in_flight` is false: no call is in flight), so `Engine::restore` re-accepts
/// the event and the new `MergeJob` starts again at group 0: it sends the merge of the first 25
/// losers a second time, a non-idempotent call Marketo already applied (those leads no longer
/// exist; the event would end `failed` although 25 leads were merged).
///
/// Expected: the restored connector sends only the remaining group (`leadIds=2026`), or reports
/// the event `uncertain` / with the partial merge, without resending the first group.
#[test]
fn merge_progress_is_lost_by_a_restore() {
    let settings = settings(json!([
        {"id": "merge", "type": "mergeLead", "winningLeadId": {"attribute": "winner"},
         "losingLeadIds": {"attribute": "losers"}}
    ]));
    let mut h = Driver::new(settings);
    let losers: Vec<u64> = (2001..=2026).collect();
    h.event_with_id("merge", &json!({"winner": 1000, "losers": losers}), "m1");
    h.answer_next(); // identity
    let first = h.inbox.pop_front().expect("the first merge call");
    assert!(first.url.contains("leadIds=2001,") && first.url.contains(",2025&"), "{}", first.url);
    h.inbox.push_front(first.clone());
    h.respond(first.id, 200, r#"{"requestId":"a1#1","success":true,"result":[]}"#);
    let second = h.inbox.front().cloned().expect("the second merge call");
    assert!(second.url.contains("leadIds=2026&"), "{}", second.url);
    h.respond(
        second.id,
        200,
        r#"{"requestId":"a1#2","success":false,"errors":[{"code":"604","message":"Request time-out"}]}"#,
    );
    assert!(h.inbox.is_empty(), "nothing in flight: the second call waits for its retry");

    h.restore(SEED + 1);
    let before = h.sent.len();
    h.answer_next(); // identity of the new engine
    let resent: Vec<String> =
        h.sent[before..].iter().filter(|r| r.url.contains("leadIds=2001,")).map(|r| r.url.clone()).collect();
    assert!(
        resent.is_empty(),
        "the merge of the first 25 losers, already applied, was sent again: {resent:?}"
    );
}

/// `limits.callsPer20s` holds per engine, but the 20 s window is not part of a snapshot: an
/// engine restored right after its predecessor made calls starts with an empty window. With
/// `callsPer20s: 2`, two calls before a restore and two after it all start at the same instant
/// (4 calls in one 20 s window). The property measures the window per engine; measured across
/// restores it is exceeded in about 4 % of its cases.
///
/// Expected: the restored engine holds the third and fourth calls until 20 s after the first two
/// (the snapshot carries the recent call start times, as it carries the daily quota count).
#[test]
fn the_rate_window_survives_a_restore() {
    let settings = settings_with_limits(
        json!([{"id": "now", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                "leadData": [{"field": "email", "source": {"attribute": "email"}}]}]),
        json!({"callsPer20s": 2}),
    );
    let mut h = Driver::new(settings);
    h.event_with_id("now", &json!({"email": "a@example.com"}), "a");
    h.event_with_id("now", &json!({"email": "b@example.com"}), "b");
    h.answer_all();
    h.restore(SEED + 1);
    h.event_with_id("now", &json!({"email": "c@example.com"}), "c");
    h.event_with_id("now", &json!({"email": "d@example.com"}), "d");
    h.answer_all();
    let starts = h.rest_sent_at();
    let in_first_window = starts.iter().filter(|t| **t < starts[0] + WINDOW_MS).count();
    assert!(in_first_window <= 2, "{in_first_window} calls started in one 20 s window: {starts:?}");
}
/// Generated event ids are `{prefix}-{n}`: the prefix comes from `seed ^ now` at construction
/// and `n` counts the events the engine accepted. `Engine::restore` builds a new engine (same
/// prefix when the host passes the same seed at the same `now`) and re-accepts the snapshot's
/// events first, so the counter restarts below the ids the old engine handed out: the first
/// event accepted after the restore gets the id of an event restored from the snapshot, still
/// pending — two events with one id, so the host cannot tell their outcomes apart.
///
/// Found while checking the property's use of generated ids (the property gives every restored
/// engine its own seed, so it does not reach this). Needs the same seed and the same `now`, so
/// unlikely in production; a fixed `host.seed` and a restore within the same millisecond (e.g.
/// a workerd request, whose clock does not move while it runs) are enough.
///
/// Expected: a generated id is never one an engine (or its predecessor) already used, e.g. by
/// starting the counter past the restored events or deriving the prefix from the snapshot.
#[test]
fn generated_event_ids_do_not_repeat_after_a_restore() {
    let settings = settings(json!([
        {"id": "up", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}
    ]));
    let mut old = Driver::with_seed(settings.clone(), 7, START);
    let _bad = old.event_generated("up", &json!({"no email": 1}));
    let queued = old.event_generated("up", &json!({"email": "a@example.com"}));
    let finished: Vec<String> = old.outcomes.iter().map(|o| o.event_id.clone()).collect();
    let pending = old.engine.queued_outcome(queued).expect("queued in its batch").event_id;

    let mut new = Driver::with_seed(settings, 7, START);
    new.restore_from(&old.engine.snapshot(), 7);
    let key = new.event_generated("up", &json!({"email": "b@example.com"}));
    let id = new.engine.queued_outcome(key).expect("queued in its batch").event_id;
    assert!(
        id != pending && !finished.contains(&id),
        "the new event got id {id}; the restored, still pending event has {pending}, finished ones {finished:?}"
    );
}
