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

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{header, is_identity, settings_with_limits, FakeMarketo, Reply, CLIENT_SECRET, REST};
use marketo_connector::core::engine::{CALL_TIMEOUT_MS, CLOCK_JUMP_MS};
use marketo_connector::core::limits::WINDOW_MS;
use marketo_connector::core::report::{Reporter, Settled};
use marketo_connector::core::snapshot::Snapshot;
use marketo_connector::core::time::quota_day;
use marketo_connector::core::{
    Body, Engine, EventKey, HttpRequest, Method, Millis, Outcome, Settings, UsageError,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

/// Virtual start time: 2025-11-28T12:00:00Z.
const START: Millis = common::T0;
/// The bulk API base of the fake instance.
const BULK: &str = "https://123-ABC-123.mktorest.com/bulk";
/// The static list every list action and bulk import uses.
const LIST: i64 = 77;
/// The campaign every `sendTransactionalEmail` triggers.
const CAMPAIGN: i64 = 9;
/// Leads the fake knows at the start: an event's `pool` 0–5 names an existing lead, 6–7 none.
const KNOWN: u64 = 6;
/// The property once had to step around a bug ([`merge_progress_is_lost_by_a_restore`]); it is
/// fixed, and this stays `false` so the property checks it too.
const TOLERATE_MERGE_RESTART_BUG: bool = false;
/// Bounds the final drive to quiescence (answers plus wake-ups).
const MAX_SETTLE_STEPS: usize = 60_000;
/// Progress: once faults stop, every event is final within this much virtual time (a daily
/// quota pause of up to 25 h, bulk polling, the longest retry chains).
const MAX_SETTLE_MS: Millis = 2 * 24 * 3_600_000;

/// A pending host call.
#[derive(Debug)]
enum Waiter {
    /// `process()` for this event.
    Process(EventKey),
    /// `wake()` or `flush()`.
    Collect,
}

type R = Result<(), TestCaseError>;

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

/// What happens to one request.
#[derive(Debug, Clone)]
enum Fate {
    /// The fake Marketo's own answer.
    Normal,
    /// HTTP 200, `success:false` with this code.
    Marketo(&'static str),
    /// This HTTP status, empty body.
    Http(u16),
    /// An HTML error page with this status.
    Html(u16),
    /// HTTP 200 with this body.
    Garbage(&'static str),
    /// `fetch` failed.
    Transport,
    /// Never answered: the call timeout must fire.
    NoAnswer,
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    limits: Limits,
    actions: Vec<ActionSpec>,
    steps: Vec<Step>,
    fates: Vec<Fate>,
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

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        10 => Just(Fate::Normal),
        4 => prop::sample::select(CODES).prop_map(Fate::Marketo),
        2 => prop::sample::select(&[500u16, 502, 503, 413, 414, 404, 400, 429, 302, 0][..]).prop_map(Fate::Http),
        1 => prop::sample::select(&[200u16, 502, 503, 404][..]).prop_map(Fate::Html),
        1 => prop::sample::select(GARBAGE).prop_map(Fate::Garbage),
        2 => Just(Fate::Transport),
        1 => Just(Fate::NoAnswer),
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

// ---- the fake Marketo, completed ------------------------------------------------------------

/// `common::FakeMarketo` answers identity, leads and lists; this adds campaign triggers,
/// merges, the bulk import API and Marketo's 1 MB / 10 MB body limits.
struct Marketo {
    fake: FakeMarketo,
    imports: BTreeMap<i64, Import>,
    next_batch: i64,
}

struct Import {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    polls: u32,
}

fn body_len(req: &HttpRequest) -> usize {
    req.body.as_ref().map_or(0, Body::len)
}

fn csv_text(records: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    for r in records {
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

impl Marketo {
    fn new() -> Marketo {
        let mut fake = FakeMarketo::default();
        for k in 0..KNOWN {
            fake.add_lead(json!({"id": 1000 + k, "email": format!("u{k}@example.com"),
                                 "cookies": format!("_mch-example.com-{k}"), "twitterId": format!("tw{k}")}));
        }
        fake.lists.insert(LIST, vec![1000, 1001]);
        Marketo { fake, imports: BTreeMap::new(), next_batch: 5000 }
    }

    fn ok(&self, result: Value) -> Reply {
        Reply::ok(
            json!({"requestId": format!("r#{}", self.fake.rest_calls), "success": true, "result": result}),
        )
    }

    fn token_problem(&self, req: &HttpRequest, now: Millis) -> Option<Reply> {
        let token = header(req, "Authorization").and_then(|a| a.strip_prefix("Bearer "));
        match token.and_then(|t| self.fake.tokens.iter().find(|x| x.value == t)) {
            None => Some(Reply::error("601", "Access token invalid")),
            Some(t) if t.revoked => Some(Reply::error("601", "Access token invalid")),
            Some(t) if now >= t.expires_at => Some(Reply::error("602", "Access token expired")),
            Some(_) => None,
        }
    }

    fn answer(&mut self, req: &HttpRequest, now: Millis) -> Reply {
        if is_identity(req) {
            return self.fake.handle(req, now);
        }
        let path = req.url.split('?').next().unwrap_or("").to_string();
        if let Some(bulk) = path.strip_prefix(BULK) {
            self.fake.rest_calls += 1;
            if let Some(r) = self.token_problem(req, now) {
                return r;
            }
            return self.bulk(req, bulk);
        }
        if body_len(req) > 1_048_576 {
            self.fake.rest_calls += 1;
            return Reply::Http(413, "<html><body>413 Request Entity Too Large</body></html>".into());
        }
        if path.ends_with("/trigger.json") || path.ends_with("/merge.json") {
            self.fake.rest_calls += 1;
            if let Some(r) = self.token_problem(req, now) {
                return r;
            }
            if path.ends_with("/trigger.json") {
                return self.ok(json!([{"id": CAMPAIGN}]));
            }
            return self.ok(json!([]));
        }
        self.fake.handle(req, now)
    }

    fn bulk(&mut self, req: &HttpRequest, path: &str) -> Reply {
        if path == "/v1/leads.json" && req.method == Method::Post {
            if body_len(req) >= 10_485_760 {
                return Reply::Http(413, "<html><body>413 Request Entity Too Large</body></html>".into());
            }
            let text = match &req.body {
                Some(Body::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(Body::Text(t)) => t.clone(),
                None => String::new(),
            };
            let file = text.find("\r\n\r\n").and_then(|s| text.rfind("\r\n--").map(|e| (s + 4, e)));
            let Some((start, end)) = file.filter(|(s, e)| s <= e) else {
                return Reply::error("613", "Invalid Multipart Request");
            };
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&text.as_bytes()[start..end]);
            let mut records =
                rdr.records().filter_map(Result::ok).map(|r| r.iter().map(str::to_owned).collect());
            let header: Vec<String> = records.next().unwrap_or_default();
            let rows: Vec<Vec<String>> = records.collect();
            self.next_batch += 1;
            let batch = self.next_batch;
            self.imports.insert(batch, Import { header, rows, polls: 0 });
            return self.ok(json!([{"batchId": batch, "importId": batch.to_string(), "status": "Queued"}]));
        }
        let Some(rest) = path.strip_prefix("/v1/leads/batch/") else {
            return Reply::Http(404, "<html><body>Not Found</body></html>".into());
        };
        let (id, what) = match rest.split_once('/') {
            Some((id, what)) => (id.to_string(), what.to_string()),
            None => (rest.trim_end_matches(".json").to_string(), String::new()),
        };
        let Some(batch) = id.parse::<i64>().ok() else {
            return Reply::error("1003", "Invalid batch id");
        };
        let request_id = format!("r#{}", self.fake.rest_calls);
        let Some(import) = self.imports.get_mut(&batch) else {
            return Reply::error("1003", "Invalid batch id");
        };
        let email = import.header.iter().position(|h| h == "email").unwrap_or(0);
        let flagged = |prefix: &str, row: &Vec<String>| {
            row.get(email).is_some_and(|e| e.to_lowercase().starts_with(prefix))
        };
        // Rows of lead u3 fail, rows of lead u4 get a warning.
        let failed: Vec<Vec<String>> = import.rows.iter().filter(|r| flagged("u3@", r)).cloned().collect();
        let warned: Vec<Vec<String>> = import.rows.iter().filter(|r| flagged("u4@", r)).cloned().collect();
        let report = |column: &str, reason: &str, rows: Vec<Vec<String>>, header: &[String]| {
            let mut h = header.to_vec();
            h.push(column.to_string());
            let mut all = vec![h];
            all.extend(rows.into_iter().map(|mut r| {
                r.push(reason.to_string());
                r
            }));
            Reply::Http(200, csv_text(&all))
        };
        match what.as_str() {
            "" => {
                import.polls += 1;
                let status = if import.polls == 1 { "Importing" } else { "Complete" };
                Reply::ok(json!({"requestId": request_id, "success": true, "result": [{
                    "batchId": batch, "importId": batch.to_string(), "status": status,
                    "numOfLeadsProcessed": import.rows.len() - failed.len(),
                    "numOfRowsFailed": failed.len(), "numOfRowsWithWarning": warned.len(),
                    "message": "Import completed"}]}))
            }
            "failures.json" => {
                report("Import Failure Reason", "1006, Field 'x' not found", failed, &import.header)
            }
            "warnings.json" => report("Import Warning Reason", "Value truncated", warned, &import.header),
            _ => Reply::Http(404, "<html><body>Not Found</body></html>".into()),
        }
    }
}

// ---- the driver -----------------------------------------------------------------------------

/// How a non-idempotent call may have reached Marketo.
struct Taint {
    why: String,
    /// Marketo answered it with `success:true`.
    success: bool,
    /// Restores before it.
    restores: u64,
}

/// A request the engine emitted and still waits on (by its own reckoning: it has not answered
/// it and not given it up after the call timeout).
struct Sent {
    req: HttpRequest,
    at: Millis,
    fate: Fate,
}

/// Calls that must not be sent twice, as comparable keys: one per lead of a campaign trigger,
/// one per merge call, one per `createDuplicate` record (by its unique email).
fn non_idempotent_units(req: &HttpRequest) -> Vec<String> {
    if is_identity(req) {
        return Vec::new();
    }
    let path = req.url.split('?').next().unwrap_or("");
    let body: Option<Value> = match &req.body {
        Some(Body::Text(t)) => serde_json::from_str(t).ok(),
        _ => None,
    };
    if path.ends_with("/trigger.json") {
        let leads = body.as_ref().and_then(|b| b["input"]["leads"].as_array().cloned()).unwrap_or_default();
        return leads.iter().map(|l| format!("trigger {path} lead {}", l["id"])).collect();
    }
    if path.ends_with("/merge.json") {
        return vec![format!("merge {}", req.url)];
    }
    if path == format!("{REST}/v1/leads.json") && req.method == Method::Post {
        if let Some(b) = body.filter(|b| b["action"] == "createDuplicate") {
            let input = b["input"].as_array().cloned().unwrap_or_default();
            return input
                .iter()
                .filter_map(|r| r["email"].as_str().map(|e| format!("createDuplicate {e}")))
                .collect();
        }
    }
    Vec::new()
}

/// Whether Marketo may have applied a call answered this way: not for `success:false` (the
/// request was not executed) or a 4xx; for anything else, success included.
fn may_have_applied(reply: &Reply) -> bool {
    match reply {
        Reply::Transport(_) => true,
        Reply::Http(status, _) if (400..500).contains(status) => false,
        Reply::Http(status, body) if (200..300).contains(status) => {
            serde_json::from_str::<Value>(body).map_or(true, |v| v.get("success") != Some(&json!(false)))
        }
        Reply::Http(..) => true,
    }
}

/// How long Marketo may run a call (its documented per-endpoint timeouts): a call a dead
/// instance left in flight holds a slot at Marketo until then.
fn marketo_timeout_ms(req: &HttpRequest) -> Millis {
    let path = req.url.split('?').next().unwrap_or("");
    if path.ends_with("/merge.json") {
        180_000
    } else if path.ends_with("/rest/v1/leads.json")
        && req.method == Method::Post
        && !req.url.contains("_method=GET")
    {
        90_000
    } else if path.ends_with("/rest/v1/leads.json") {
        60_000
    } else {
        30_000
    }
}

fn contains_secret(req: &HttpRequest) -> bool {
    req.url.contains(CLIENT_SECRET)
        || req.headers.iter().any(|(k, v)| k.contains(CLIENT_SECRET) || v.contains(CLIENT_SECRET))
        || match &req.body {
            Some(Body::Text(t)) => t.contains(CLIENT_SECRET),
            Some(Body::Bytes(b)) => String::from_utf8_lossy(b).contains(CLIENT_SECRET),
            None => false,
        }
}

fn short(req: &HttpRequest) -> String {
    let url: String = req.url.chars().take(160).collect();
    format!("#{} {} {url}", req.id, req.method.as_str())
}

struct World {
    settings: Value,
    limits: Limits,
    seed: u64,
    engine: Engine,
    now: Millis,
    marketo: Marketo,
    fates: Vec<Fate>,
    next_fate: usize,
    /// Fates apply while the steps run; the final drive answers normally.
    faults: bool,
    outstanding: Vec<Sent>,
    /// Which host call returns which outcome, as in the binding.
    reporter: Reporter<Waiter>,
    /// Calls dead instances left in flight: until their call timeout, Marketo may still run
    /// them, so they count against `concurrency`.
    zombies: Vec<Millis>,
    /// Ids of requests the engine gave up on (timed out), this engine only.
    late: Vec<u32>,
    next_event: u64,
    accepted: BTreeSet<String>,
    outcomes: BTreeMap<String, Outcome>,
    /// An event accepted with a generated id and finished at once: its id comes with its outcome.
    fresh_key: Option<EventKey>,
    /// REST call start times, one list per engine (restores start a new one).
    starts: Vec<Vec<Millis>>,
    /// Non-idempotent call → how it may have reached Marketo.
    tainted: BTreeMap<String, Taint>,
    /// Resends tolerated as the known bug of [`merge_progress_is_lost_by_a_restore`].
    known_bug_resends: u64,
    restores: u64,
}

impl World {
    fn new(case: &Case) -> Result<World, TestCaseError> {
        let settings = settings_json(case);
        let parsed = Settings::from_value(&settings)
            .map_err(|e| TestCaseError::fail(format!("the generated settings are invalid: {e}")))?;
        Ok(World {
            engine: Engine::new(parsed, case.seed, START),
            settings,
            limits: case.limits,
            seed: case.seed,
            now: START,
            marketo: Marketo::new(),
            fates: case.fates.clone(),
            next_fate: 0,
            faults: true,
            outstanding: Vec::new(),
            reporter: Reporter::default(),
            zombies: Vec::new(),
            late: Vec::new(),
            next_event: 0,
            accepted: BTreeSet::new(),
            outcomes: BTreeMap::new(),
            fresh_key: None,
            starts: vec![Vec::new()],
            tainted: BTreeMap::new(),
            known_bug_resends: 0,
            restores: 0,
        })
    }

    fn next_fate(&mut self) -> Fate {
        if !self.faults {
            return Fate::Normal;
        }
        let f = self.fates.get(self.next_fate).cloned().unwrap_or(Fate::Normal);
        self.next_fate += 1;
        f
    }

    fn taint(&mut self, req: &HttpRequest, why: &str, success: bool) {
        for unit in non_idempotent_units(req) {
            self.tainted.entry(unit).or_insert_with(|| Taint {
                why: format!("{why} (request {})", short(req)),
                success,
                restores: self.restores,
            });
        }
    }

    /// Collects what the engine emitted, checking the per-step invariants.
    fn drain(&mut self) -> R {
        while let Some(req) = self.engine.poll_request() {
            prop_assert!(!req.url.contains(CLIENT_SECRET), "secret in a URL: {}", short(&req));
            if !is_identity(&req) {
                prop_assert!(!contains_secret(&req), "secret in a REST request: {}", short(&req));
                if let Some(list) = self.starts.last_mut() {
                    list.push(self.now);
                }
                for unit in non_idempotent_units(&req) {
                    let Some(taint) = self.tainted.get(&unit) else { continue };
                    // Known bug, pinned by `merge_progress_is_lost_by_a_restore`: a restore
                    // restarts a partly done merge from its first group.
                    if TOLERATE_MERGE_RESTART_BUG
                        && unit.starts_with("merge ")
                        && taint.success
                        && self.restores > taint.restores
                    {
                        self.known_bug_resends += 1;
                        continue;
                    }
                    prop_assert!(
                        false,
                        "non-idempotent call sent again: {} ({unit}) after {}",
                        short(&req),
                        taint.why
                    );
                }
            }
            let fate = self.next_fate();
            self.outstanding.push(Sent { req, at: self.now, fate });
        }
        let identity = self.outstanding.iter().filter(|s| is_identity(&s.req)).count();
        prop_assert!(identity <= 1, "{identity} identity calls in flight at once");
        let rest = self.outstanding.len() - identity;
        let now = self.now;
        self.zombies.retain(|deadline| *deadline > now);
        prop_assert!(
            rest + self.zombies.len() <= self.limits.concurrency as usize,
            "{rest} REST calls in flight and {} left by a dead instance, limits.concurrency is {}",
            self.zombies.len(),
            self.limits.concurrency
        );
        for (waiter, settled) in self.reporter.collect(&mut self.engine) {
            let Settled::Outcomes(outcomes) = settled else {
                return Err(TestCaseError::fail("a listing settled; none was started"));
            };
            for (i, o) in outcomes.into_iter().enumerate() {
                let own = matches!(waiter, Waiter::Process(_)) && i == 0;
                if let (true, Waiter::Process(key)) = (own, &waiter) {
                    if self.fresh_key == Some(*key) {
                        self.fresh_key = None;
                        prop_assert!(
                            self.accepted.insert(o.event_id.clone()),
                            "generated event id {} collides",
                            o.event_id
                        );
                    }
                }
                if !o.status.is_final() {
                    prop_assert!(own, "a call returned another event's non-final outcome: {o:?}");
                    continue;
                }
                self.record(o)?;
            }
        }
        Ok(())
    }

    /// A final outcome a settled host call returned.
    fn record(&mut self, o: Outcome) -> R {
        prop_assert!(self.accepted.contains(&o.event_id), "outcome for an event never accepted: {o:?}");
        let text = serde_json::to_string(&o).expect("outcomes serialize");
        prop_assert!(!text.contains(CLIENT_SECRET), "secret in an outcome: {text}");
        if let Some(first) = self.outcomes.get(&o.event_id) {
            prop_assert!(false, "second final outcome for {}: first {first:?}, then {o:?}", o.event_id);
        }
        self.outcomes.insert(o.event_id.clone(), o);
        Ok(())
    }

    fn send(&mut self, action: usize, ev: &Ev, generated_id: bool) -> R {
        self.next_event += 1;
        let n = self.next_event;
        let action_id = format!("a{}", action % self.action_count());
        let event = event_json(ev, n);
        let given = (!generated_id).then(|| format!("e{n}"));
        let key = match self.engine.handle_event(self.now, &action_id, &event, given.clone()) {
            Ok(key) => key,
            Err(e) => return Err(TestCaseError::fail(format!("configured action {action_id} refused: {e}"))),
        };
        self.reporter.wait_event(key, Waiter::Process(key));
        match given.or_else(|| self.engine.queued_outcome(key).map(|o| o.event_id)) {
            Some(id) => prop_assert!(self.accepted.insert(id.clone()), "event id {id} accepted twice"),
            None => self.fresh_key = Some(key),
        }
        self.drain()?;
        prop_assert!(self.fresh_key.is_none(), "an event was accepted, but is neither pending nor finished");
        Ok(())
    }

    fn action_count(&self) -> usize {
        self.settings["actions"].as_array().map_or(1, Vec::len)
    }

    fn send_unknown(&mut self) -> R {
        self.next_event += 1;
        let id = format!("unknown-{}", self.next_event);
        let r = self.engine.handle_event(self.now, "no-such-action", &json!({"email": "x@y.z"}), Some(id));
        prop_assert!(matches!(r, Err(UsageError::UnknownAction(_))), "unknown action accepted: {r:?}");
        self.drain()
    }

    fn answerable(&self) -> Vec<usize> {
        (0..self.outstanding.len()).filter(|i| !matches!(self.outstanding[*i].fate, Fate::NoAnswer)).collect()
    }

    fn answer(&mut self, i: usize) -> R {
        let sent = self.outstanding.remove(i);
        let reply = match sent.fate {
            Fate::Normal | Fate::NoAnswer => self.marketo.answer(&sent.req, self.now),
            Fate::Marketo(code) => Reply::error(code, "scripted Marketo error"),
            Fate::Http(status) => Reply::Http(status, String::new()),
            Fate::Html(status) => Reply::Http(
                status,
                format!("<html><head><title>{status}</title></head><body>oops</body></html>"),
            ),
            Fate::Garbage(body) => Reply::Http(200, body.to_string()),
            Fate::Transport => Reply::Transport("connection reset by peer".into()),
        };
        if may_have_applied(&reply) {
            let (why, success) = match &reply {
                Reply::Transport(_) => ("a transport error".to_string(), false),
                Reply::Http(s, body) if (200..300).contains(s) => {
                    let ok = serde_json::from_str::<Value>(body).is_ok_and(|v| v["success"] == json!(true));
                    let what = if ok { "a success answer" } else { "an unreadable answer" };
                    (format!("HTTP {s} with {what}"), ok)
                }
                Reply::Http(s, _) => (format!("an HTTP {s} answer"), false),
            };
            self.taint(&sent.req, &why, success);
        }
        let id = sent.req.id;
        let r = match reply {
            Reply::Http(status, body) => self.engine.handle_response(self.now, id, status, &body),
            Reply::Transport(message) => self.engine.handle_transport_error(self.now, id, &message),
        };
        prop_assert!(
            r.is_ok(),
            "the engine refused the answer to {} sent at +{} ms (now +{} ms): {r:?}",
            short(&sent.req),
            sent.at - START,
            self.now - START
        );
        self.drain()
    }

    /// `handle_timeout` at `now`; first drops what the engine gives up on (the call timeout).
    fn wake(&mut self) -> R {
        let now = self.now;
        let mut i = 0;
        while i < self.outstanding.len() {
            if self.outstanding[i].at + CALL_TIMEOUT_MS <= now {
                let s = self.outstanding.remove(i);
                self.taint(&s.req, "no answer within the call timeout", false);
                self.late.push(s.req.id);
            } else {
                i += 1;
            }
        }
        self.engine.handle_timeout(now);
        self.reporter.wait_wake(Waiter::Collect);
        self.drain()
    }

    fn late_answer(&mut self, pick: usize) -> R {
        if self.late.is_empty() {
            return Ok(());
        }
        let id = self.late[pick % self.late.len()];
        let r = self.engine.handle_response(
            self.now,
            id,
            200,
            r#"{"requestId":"x#1","success":true,"result":[]}"#,
        );
        prop_assert!(matches!(r, Err(UsageError::UnknownRequest(_))), "a late answer was taken: {r:?}");
        self.drain()
    }

    fn restore(&mut self) -> R {
        let snapshot = self.reporter.snapshot(&self.engine);
        let text = serde_json::to_string(&snapshot).expect("snapshots serialize");
        prop_assert!(!text.contains(CLIENT_SECRET), "secret in a snapshot");
        for t in &self.marketo.fake.tokens {
            prop_assert!(!text.contains(&t.value), "token in a snapshot");
        }
        let pending: BTreeSet<String> =
            self.accepted.iter().filter(|id| !self.outcomes.contains_key(*id)).cloned().collect();
        let ids: Vec<String> = snapshot
            .events
            .iter()
            .map(|e| e.event_id.clone())
            .chain(snapshot.finished.iter().map(|o| o.event_id.clone()))
            .collect();
        let in_snapshot: BTreeSet<String> = ids.iter().cloned().collect();
        prop_assert_eq!(in_snapshot.len(), ids.len(), "an event twice in one snapshot: {:?}", ids);
        prop_assert_eq!(
            &in_snapshot,
            &pending,
            "a snapshot must hold exactly the accepted events whose final outcome no settled call returned"
        );
        let (id, generation) = (snapshot.id.clone(), snapshot.generation);
        let parsed =
            Snapshot::parse(&text).map_err(|e| TestCaseError::fail(format!("own snapshot refused: {e}")))?;
        // Requests in flight are lost with the old engine; they may have reached Marketo, and
        // may still be running there until their call timeout.
        for s in std::mem::take(&mut self.outstanding) {
            self.taint(&s.req, "it was in flight when the connector restarted", false);
            if !is_identity(&s.req) {
                self.zombies.push(s.at + marketo_timeout_ms(&s.req));
            }
        }
        self.late.clear();
        self.starts.push(Vec::new());
        self.restores += 1;
        let settings = Settings::from_value(&self.settings).expect("valid settings");
        self.engine = Engine::restore(settings, self.seed.wrapping_add(self.restores), self.now, &parsed);
        // The old instance's pending calls die with it.
        self.reporter = Reporter::restore(&parsed);
        prop_assert_eq!(
            self.engine.identity(),
            (id.as_str(), generation + 1),
            "identity kept, generation up"
        );
        prop_assert!(
            self.engine.poll_request().is_none(),
            "a restored engine sent before the host's next call"
        );
        self.drain()
    }

    fn step(&mut self, step: &Step) -> R {
        match step {
            Step::Send { action, event, generated_id } => self.send(*action, event, *generated_id),
            Step::Burst { action, count, pool } => {
                for i in 0..*count {
                    let event = Ev::Valid { pool: pool.wrapping_add(i), losers: i, alt: i % 3 == 0 };
                    self.send(*action, &event, false)?;
                }
                Ok(())
            }
            Step::SendUnknownAction => self.send_unknown(),
            Step::Answer { n } => {
                for _ in 0..*n {
                    let Some(&i) = self.answerable().first() else { break };
                    self.answer(i)?;
                }
                Ok(())
            }
            Step::AnswerOne { pick } => {
                let open = self.answerable();
                if open.is_empty() {
                    return Ok(());
                }
                self.answer(open[pick % open.len()])
            }
            Step::Advance { ms, wake } => {
                self.now += ms;
                if *ms > CLOCK_JUMP_MS {
                    // A jump of more than a day is held until a second reading confirms it:
                    // the host's first input after it (here a wake-up) only reads the clock.
                    self.engine.handle_timeout(self.now);
                    self.drain()?;
                }
                if *wake {
                    self.wake()
                } else {
                    Ok(())
                }
            }
            Step::WakeAtTimeout => {
                if let Some(t) = self.engine.poll_timeout() {
                    self.now = self.now.max(t);
                }
                self.wake()
            }
            Step::Flush => {
                self.engine.flush(self.now);
                self.reporter.wait_flush(&self.engine, Waiter::Collect);
                self.drain()
            }
            Step::Restore => self.restore(),
            Step::LateAnswer { pick } => self.late_answer(*pick),
        }
    }

    /// Answers everything normally and follows `poll_timeout()` until the engine is idle.
    fn settle(&mut self) -> R {
        self.faults = false;
        let from = self.now;
        for _ in 0..MAX_SETTLE_STEPS {
            if let Some(&i) = self.answerable().first() {
                self.answer(i)?;
                continue;
            }
            // Outcomes finished with no call to return them ask for a wake-up now.
            let wake_at = self.engine.poll_timeout().or(self.reporter.wants_wake().then_some(self.now));
            // A small daily quota spreads the calls over days: one more day per quota's worth.
            let quota_days = self.limits.daily_quota.map_or(0, |q| {
                let calls = self.starts.iter().flatten().filter(|t| **t >= from).count() as u64;
                calls / u64::from(q.max(1)) + 1
            });
            prop_assert!(
                self.now - from <= MAX_SETTLE_MS + quota_days * 86_400_000,
                "no progress: still busy {} ms after the faults stopped ({} pending)",
                self.now - from,
                self.engine.pending_events()
            );
            match wake_at {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.wake()?;
                }
                None => {
                    prop_assert!(
                        self.outstanding.is_empty(),
                        "requests in flight ({}) but poll_timeout() is None",
                        self.outstanding.len()
                    );
                    return Ok(());
                }
            }
        }
        Err(TestCaseError::fail(format!(
            "not idle after {MAX_SETTLE_STEPS} steps: now +{} ms, poll_timeout {:?}, {} pending, {} in flight",
            self.now - START,
            self.engine.poll_timeout().map(|t| t as i128 - self.now as i128),
            self.engine.pending_events(),
            self.engine.in_flight()
        )))
    }

    fn final_checks(&self) -> R {
        let missing: Vec<&String> =
            self.accepted.iter().filter(|id| !self.outcomes.contains_key(*id)).collect();
        prop_assert!(
            missing.is_empty(),
            "accepted events without a final outcome: {missing:?} ({} pending in the engine, poll_timeout {:?})",
            self.engine.pending_events(),
            self.engine.poll_timeout()
        );
        prop_assert_eq!(self.engine.pending_events(), 0, "events still pending");
        prop_assert_eq!(self.engine.poll_timeout(), None, "idle, yet waiting on time");
        prop_assert_eq!(self.engine.in_flight(), 0, "idle, yet calls in flight");
        prop_assert_eq!(self.outcomes.len(), self.accepted.len());
        let limit = self.limits.calls_per_20s as usize;
        // Across restores: the snapshot carries the window.
        let mut starts: Vec<Millis> = self.starts.iter().flatten().copied().collect();
        starts.sort_unstable();
        let mut lo = 0;
        for hi in 0..starts.len() {
            while starts[lo] + WINDOW_MS <= starts[hi] {
                lo += 1;
            }
            prop_assert!(
                hi - lo < limit,
                "{} REST calls started within 20 s (from +{} ms, {} restores), callsPer20s is {limit}",
                hi - lo + 1,
                starts[lo] - START,
                self.restores
            );
        }
        if let Some(quota) = self.limits.daily_quota {
            let mut per_day: BTreeMap<i64, u32> = BTreeMap::new();
            for t in self.starts.iter().flatten() {
                *per_day.entry(quota_day(*t)).or_default() += 1;
            }
            for (day, n) in per_day {
                prop_assert!(n <= quota, "{n} REST calls on Marketo day {day}, dailyQuota is {quota}");
            }
        }
        Ok(())
    }
}

fn run(case: &Case) -> R {
    let mut w = World::new(case)?;
    w.drain()?;
    for step in &case.steps {
        w.step(step)?;
    }
    w.settle()?;
    // A flush with nothing queued changes nothing.
    w.engine.flush(w.now);
    w.drain()?;
    w.settle()?;
    w.final_checks()
}

proptest! {
    // No regression files: a failure is turned into a plain #[test] below.
    #![proptest_config(ProptestConfig {
        max_shrink_iters: 4_096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_event_gets_exactly_one_final_outcome(case in case()) {
        run(&case)?;
    }
}

// ---- bugs the property found, minimised ------------------------------------------------------

/// Moves the pending state to a fresh engine, as a host restoring from storage does; answers
/// to the old engine's requests never arrive. Event keys are per engine, so the harness's
/// key-based bookkeeping starts again (outcomes are kept).
fn restart(h: &mut common::Harness, settings: &Value) {
    let text = serde_json::to_string(&h.engine.snapshot()).expect("snapshot serializes");
    let snapshot = Snapshot::parse(&text).expect("own snapshot parses");
    let settings = Settings::from_value(settings).expect("valid settings");
    h.engine = Engine::restore(settings, common::SEED + 1, h.now, &snapshot);
    h.inbox.clear();
    h.outcome_keys.clear();
    h.accepted.clear();
    h.drain();
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
    let settings = common::settings(json!([
        {"id": "merge", "type": "mergeLead", "winningLeadId": {"attribute": "winner"},
         "losingLeadIds": {"attribute": "losers"}}
    ]));
    let mut h = common::Harness::new(settings.clone());
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

    restart(&mut h, &settings);
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
    let settings = common::settings_with_limits(
        json!([{"id": "now", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
                "leadData": [{"field": "email", "source": {"attribute": "email"}}]}]),
        json!({"callsPer20s": 2}),
    );
    let mut h = common::Harness::new(settings.clone());
    h.event_with_id("now", &json!({"email": "a@example.com"}), "a");
    h.event_with_id("now", &json!({"email": "b@example.com"}), "b");
    h.answer_all();
    restart(&mut h, &settings);
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
    let settings = Settings::from_value(&common::settings(json!([
        {"id": "up", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]}
    ])))
    .expect("valid settings");
    let mut old = Engine::new(settings.clone(), 7, START);
    let _bad = old.handle_event(START, "up", &json!({"no email": 1}), None).expect("known action");
    let queued =
        old.handle_event(START, "up", &json!({"email": "a@example.com"}), None).expect("known action");
    let finished: Vec<String> = std::iter::from_fn(|| old.poll_outcome()).map(|(_, o)| o.event_id).collect();
    let pending = old.queued_outcome(queued).expect("queued in its batch").event_id;

    let mut new = Engine::restore(settings, 7, START, &old.snapshot());
    let key = new.handle_event(START, "up", &json!({"email": "b@example.com"}), None).expect("known action");
    let id = new.queued_outcome(key).expect("queued in its batch").event_id;
    assert!(
        id != pending && !finished.contains(&id),
        "the new event got id {id}; the restored, still pending event has {pending}, finished ones {finished:?}"
    );
}
