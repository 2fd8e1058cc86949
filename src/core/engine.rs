//! The engine: a sans-IO state machine. Inputs come in through `handle_*` (an event for an
//! action, an HTTP answer for a request id, a transport error, a timeout, a flush), each with
//! `now`; outputs go out through `poll_*` (requests to send, outcomes, the next wake-up time).
//!
//! After every input, drain [`Engine::poll_request`] and [`Engine::poll_outcome`] until they
//! return `None`, then call [`Engine::handle_timeout`] at or after [`Engine::poll_timeout`].
//! Early or repeated timeouts are harmless.
//!
//! The host clock is trusted only so far (see [`Engine::handle_timeout`] and friends, which all
//! read `now` through one guard): a reading up to [`CLOCK_STEP_TOLERANCE_MS`] behind the last
//! accepted one is read as that one; a larger step back is accepted, and every wait computed
//! from the later time (retries, call timeouts, batch ages, the rate window, a quota day) is
//! moved back with it, so nothing waits on time that has not come; a reading more than
//! [`CLOCK_JUMP_MS`] ahead is held until the next reading confirms it, so one bad reading
//! (`1e15`) cannot age every batch and retry to the year 9999.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::auth::{Auth, AuthEvent};
use super::batch::Queue;
use super::cache::LeadCache;
use super::check::{schema_problems, CheckResult};
use super::classify::{classify_code, classify_http, Class};
use super::error::{EventError, UsageError};
use super::limits::{Blocked, Limiter};
use super::outcome::{Outcome, Status};
use super::pace::{Pace, PaceStats};
use super::reason::{Code, Reason};
use super::retry::{backoff, Jitter, MAX_ATTEMPTS};
use super::schema::{Format, SchemaSlot};
use super::snapshot::{
    CachedLookup, PendingEntry, QuotaState, ResumeData, Snapshot, VERSION as SNAPSHOT_VERSION,
};
use super::time::Millis;
use super::wire::{cut, query_string, Body, Envelope, HttpRequest, Method, MAX_MESSAGE_CHARS};
use crate::core::config::FilterType;
use crate::core::config::Settings;
use crate::core::families::family;
use crate::core::ids::{CheckKey, EventKey, ListingKey};
use crate::core::job::{
    Api, CallSpec, Context, Delivery, EventRef, Failure, Family, Prepared, Progress, Start,
};
use crate::core::listing::{Listing, Named};
use crate::core::reads::check::CheckJob;
use crate::core::reads::pickers::ListingJob;
use crate::core::reads::schema::SchemaJob;

/// Waits for a full bulk import queue before its events fail (about 75 minutes at the 120 s
/// backoff cap): the queue drains at Marketo's pace, not ours.
const MAX_QUEUE_ATTEMPTS: u32 = 40;

/// The latest time the engine accepts (9999-12-31T23:59:59.999Z): a host clock beyond it is
/// read as this, leaving centuries of headroom for every deadline added to it.
pub const MAX_NOW: Millis = 253_402_300_799_999;

/// A host clock reading more than this ahead of the last accepted one (24 h) is held until the
/// following reading confirms it: one bad reading must not age every batch and retry at once,
/// while a host restored days later is legitimate.
pub const CLOCK_JUMP_MS: Millis = 24 * 60 * 60 * 1000;

/// A reading at most this far behind the last accepted one is jitter and read as that one; a
/// larger step back is a clock that was set back, and the engine's waits move back with it.
pub const CLOCK_STEP_TOLERANCE_MS: Millis = 1_000;

/// A call gets no answer within this long → treated as a transport failure. Marketo's own
/// slowest documented endpoint (merge) times out at 180 s.
pub const CALL_TIMEOUT_MS: Millis = 200_000;

#[derive(Debug)]
struct Call {
    job: u64,
    spec: CallSpec,
    /// Attempts made so far.
    attempts: u32,
    /// Token refreshes made for this call (601/602).
    refreshes: u32,
    /// Waits for a full bulk import queue (1016/1019/1029), beyond the ordinary attempts.
    queue_waits: u32,
    /// Refused with 606/615 since (host time), and how many times: such refusals cost no
    /// attempt and are bounded by `limits.deliveryDeadlineMs` instead.
    rate_limited: Option<(Millis, u32)>,
}

#[derive(Debug)]
struct InFlight {
    call: Call,
    token: String,
    deadline: Millis,
}

#[derive(Debug)]
struct JobEntry {
    job: Box<dyn Delivery>,
    /// Calls issued and not yet finally answered.
    outstanding: usize,
    /// Of those, the calls in flight or waiting to be sent (not waiting for a retry time).
    sending: usize,
    /// Whether Marketo has answered one of its calls: its next calls go before new jobs' first
    /// calls, so work already started finishes first (a restore restarts every job at once).
    started: bool,
    /// The lookup type of a list job, for the lead cache.
    lookup: Option<FilterType>,
    /// The events it delivers.
    events: Vec<EventKey>,
}

#[derive(Debug)]
struct PendingEvent {
    event_id: String,
    action_id: String,
    /// Kept until the final outcome, for snapshots.
    event: Value,
    accepted_at: Millis,
    /// Its action queues events (a `…Batched` action or bulk import).
    batched: bool,
    /// Restored while a call for it was in flight: the call may have been applied already.
    replayed: bool,
}

/// Counters for the host (`stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Marketo calls started (identity calls excluded, as Marketo does not count them).
    pub calls: u64,
    /// Identity calls started.
    pub identity_calls: u64,
    /// Calls retried after a transient failure.
    pub retries: u64,
    /// Times Marketo answered 606 or 615 (the limiter aims to keep this at zero).
    pub rate_limited: u64,
    /// The current pace within `limits` (lowered on 606/615, raised as calls go through).
    pub pace: PaceStats,
    /// Events without a final outcome, by action id: every configured action (0 when none),
    /// counting events in a batch, waiting for a retry, a limiter slot or a bulk job, or in a
    /// call in flight.
    pub queues: BTreeMap<String, u64>,
    /// The age of the oldest event without a final outcome at the time asked for (see
    /// [`Engine::stats_at`]); `None` when there is none.
    pub oldest_queued_age_ms: Option<Millis>,
}

/// A request `preview` shows: what would be sent, without the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewRequest {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers, without `Authorization`.
    pub headers: BTreeMap<String, String>,
    /// The body, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The connector's state machine.
#[derive(Debug)]
pub struct Engine {
    settings: Arc<Settings>,
    auth: Auth,
    limiter: Limiter,
    jitter: Jitter,
    jobs: BTreeMap<u64, JobEntry>,
    /// The job delivering each event, while it runs.
    job_of: BTreeMap<EventKey, u64>,
    /// First calls of new jobs waiting to be sent, in order.
    ready: VecDeque<Call>,
    /// Calls of jobs already started (and retries) waiting to be sent: they go first.
    follow: VecDeque<Call>,
    /// Calls waiting for a retry time.
    delayed: Vec<(Millis, Call)>,
    in_flight: BTreeMap<u32, InFlight>,
    identity_deadline: Option<(u32, Millis)>,
    /// Wake-up for calls held back by the limiter's window or quota.
    limiter_wake: Option<Millis>,
    pending: BTreeMap<EventKey, PendingEvent>,
    /// `pending` counted by action id, and its arrival times in order: `stats()` is called
    /// often (a progress line per event) and must not walk every pending event.
    pending_by_action: BTreeMap<String, u64>,
    arrivals: BTreeSet<(Millis, EventKey)>,
    requests_out: VecDeque<HttpRequest>,
    outcomes_out: VecDeque<(EventKey, Outcome)>,
    listings_out: VecDeque<(ListingKey, Result<Vec<Named>, Reason>)>,
    /// Listing job → its key.
    listing_jobs: BTreeMap<u64, ListingKey>,
    next_listing: u64,
    /// Batched actions' queues, by action id.
    queues: BTreeMap<String, Queue<(EventRef, Prepared)>>,
    cache: LeadCache,
    next_request: u32,
    next_job: u64,
    next_event: u64,
    event_prefix: String,
    /// The last accepted host time.
    now: Millis,
    /// A reading far ahead of `now`, held until the next reading confirms it.
    suspect_now: Option<Millis>,
    /// Restored and not yet driven: nothing is sent before the host's next input.
    needs_pump: bool,
    /// Rises whenever an event may have stopped being [`Engine::in_progress`] other than by
    /// finishing (a call waits for a retry time, the limiter or an identity backoff holds
    /// calls): see [`Engine::stall_epoch`].
    epoch: u64,
    /// This connector's identity (kept across restores) and its restore count.
    id: String,
    generation: u64,
    stats: Stats,
    /// The lead schema (README "Field types"), read lazily, and the work waiting for it.
    schema: SchemaSlot,
    /// Events waiting for the schema before they are formatted (mapped to the schema job in
    /// `job_of` meanwhile, so they count as in progress).
    parked: Vec<EventKey>,
    /// Queued events prepared before the schema was known: formatted again when their batch
    /// is sent (batches read the schema when they go out, not when events arrive).
    unformatted: BTreeSet<EventKey>,
    /// Batches due while the schema is being read, by action id.
    held: Vec<(String, Vec<(EventRef, Prepared)>)>,
    /// Warnings for events (values cut to their field's length), attached to their outcome.
    notes: Vec<(EventKey, String)>,
    /// `check()`s waiting for the schema; check jobs by job id; finished checks.
    checks_waiting: Vec<CheckKey>,
    check_jobs: Vec<(u64, CheckKey)>,
    checks_out: VecDeque<(CheckKey, CheckResult)>,
    next_check: u64,
}

impl Engine {
    /// A new engine. `seed` drives retry jitter and generated event ids; `now` is the host's clock.
    pub fn new(settings: Settings, seed: u64, now: Millis) -> Engine {
        // Mixed, not XORed: a host that seeds with its clock must not cancel the clock out.
        let mut jitter = Jitter::new(Jitter::new(seed).next_u64() ^ now);
        let event_prefix = format!("{:012x}", jitter.next_u64() >> 16);
        let id = format!("{:016x}", jitter.next_u64());
        Engine {
            stats: Stats { pace: Pace::new(&settings.limits).stats(), ..Stats::default() },
            limiter: Limiter::new(settings.limits),
            settings: Arc::new(settings),
            auth: Auth::default(),
            jitter,
            jobs: BTreeMap::new(),
            job_of: BTreeMap::new(),
            ready: VecDeque::new(),
            follow: VecDeque::new(),
            delayed: Vec::new(),
            in_flight: BTreeMap::new(),
            identity_deadline: None,
            limiter_wake: None,
            pending: BTreeMap::new(),
            pending_by_action: BTreeMap::new(),
            arrivals: BTreeSet::new(),
            requests_out: VecDeque::new(),
            outcomes_out: VecDeque::new(),
            listings_out: VecDeque::new(),
            listing_jobs: BTreeMap::new(),
            next_listing: 0,
            queues: BTreeMap::new(),
            cache: LeadCache::default(),
            next_request: 0,
            next_job: 0,
            next_event: 0,
            event_prefix,
            now: now.min(MAX_NOW),
            suspect_now: None,
            needs_pump: false,
            epoch: 0,
            id,
            generation: 0,
            schema: SchemaSlot::default(),
            parked: Vec::new(),
            unformatted: BTreeSet::new(),
            held: Vec::new(),
            notes: Vec::new(),
            checks_waiting: Vec::new(),
            check_jobs: Vec::new(),
            checks_out: VecDeque::new(),
            next_check: 0,
        }
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Counters since construction, with the queues as of the last host clock reading.
    pub fn stats(&self) -> Stats {
        self.stats_at(self.now)
    }

    /// Counters since construction, the events without a final outcome by action, and the age
    /// of the oldest of them at `now` (the host's clock; never less than the last reading, so
    /// a clock that stepped back gives no negative age). Reads; changes nothing.
    pub fn stats_at(&self, now: Millis) -> Stats {
        let now = now.min(MAX_NOW).max(self.now);
        let mut queues: BTreeMap<String, u64> =
            self.settings.actions.iter().map(|a| (a.id.clone(), 0)).collect();
        for (action_id, n) in &self.pending_by_action {
            queues.insert(action_id.clone(), *n);
        }
        let oldest_queued_age_ms = self.arrivals.first().map(|(t, _)| now.saturating_sub(*t));
        Stats { queues, oldest_queued_age_ms, ..self.stats.clone() }
    }

    /// The guard every host reading goes through (see the module docs): never past
    /// [`MAX_NOW`], so deadlines computed from it cannot overflow; small steps back read as the
    /// last time; a large step back moves the engine's waits back with it; a jump of more than
    /// [`CLOCK_JUMP_MS`] ahead counts only once a second reading confirms it.
    fn clamp(&mut self, now: Millis) -> Millis {
        let now = now.min(MAX_NOW);
        if now > self.now.saturating_add(CLOCK_JUMP_MS) {
            let confirmed = self.suspect_now.is_some_and(|s| now >= s && now - s <= CLOCK_JUMP_MS);
            if !confirmed {
                self.suspect_now = Some(now);
                return self.now;
            }
        }
        self.suspect_now = None;
        if now.saturating_add(CLOCK_STEP_TOLERANCE_MS) < self.now {
            self.step_back(now);
        }
        self.now = self.now.max(now);
        self.now
    }

    /// The host clock was set back to `now`: every wait computed from the later time keeps its
    /// remaining length from `now` (retries, call timeouts), and recorded times later than
    /// `now` (batch arrivals, the rate window, a quota day) are brought back to it.
    fn step_back(&mut self, now: Millis) {
        let old = self.now;
        let rebase = |t: Millis| now.saturating_add(t.saturating_sub(old));
        for (at, _) in &mut self.delayed {
            *at = rebase(*at);
        }
        for f in self.in_flight.values_mut() {
            f.deadline = rebase(f.deadline);
        }
        if let Some((_, d)) = &mut self.identity_deadline {
            *d = rebase(*d);
        }
        self.auth.step_back(old, now);
        self.limiter.forget_after(now);
        self.limiter_wake = None;
        for p in self.pending.values_mut() {
            p.accepted_at = p.accepted_at.min(now);
        }
        self.arrivals.clear();
        for (k, p) in &self.pending {
            self.arrivals.insert((p.accepted_at, *k));
        }
        for q in self.queues.values_mut() {
            q.arrived_by(now);
        }
        self.now = now;
    }

    /// The snapshot identity: `(id, generation)`.
    pub fn identity(&self) -> (&str, u64) {
        (&self.id, self.generation)
    }

    // ---- inputs -------------------------------------------------------------------------

    /// Accepts an event for the action `action_id`. The event's outcome(s) come out of
    /// [`Engine::poll_outcome`]: at once when it cannot be delivered (bad input), otherwise
    /// when Marketo has answered.
    ///
    /// # Errors
    /// [`UsageError::UnknownAction`] when no action has that id (nothing is recorded).
    pub fn handle_event(
        &mut self,
        now: Millis,
        action_id: &str,
        event: &Value,
        event_id: Option<String>,
    ) -> Result<EventKey, UsageError> {
        let now = self.clamp(now);
        let settings = Arc::clone(&self.settings);
        let action =
            settings.action(action_id).ok_or_else(|| UsageError::UnknownAction(action_id.to_string()))?;
        let key = self.accept(now, &*family(&action.action), action_id, event, event_id, false);
        self.pump(now);
        Ok(key)
    }

    /// Accepts an event the host could not turn into JSON (cyclic, holding a BigInt, a getter
    /// that throws, nested too deep: `why` says which) and fails it at once with
    /// [`EventError::NotJson`] (`INVALID_EVENT`), so it still gets exactly one outcome.
    ///
    /// # Errors
    /// [`UsageError::UnknownAction`] when no action has that id (nothing is recorded).
    pub fn handle_unreadable_event(
        &mut self,
        now: Millis,
        action_id: &str,
        why: &str,
        event_id: Option<String>,
    ) -> Result<EventKey, UsageError> {
        let now = self.clamp(now);
        if self.settings.action(action_id).is_none() {
            return Err(UsageError::UnknownAction(action_id.to_string()));
        }
        self.next_event += 1;
        let key = EventKey(self.next_event);
        let event_id = event_id.unwrap_or_else(|| format!("{}-{}", self.event_prefix, self.next_event));
        let event = Value::Null;
        let pending = PendingEvent {
            event_id: event_id.clone(),
            action_id: action_id.into(),
            event,
            accepted_at: now,
            batched: false,
            replayed: false,
        };
        self.admit(key, pending);
        let ev = EventRef { key, event_id, action_id: action_id.to_string() };
        let e = EventError::NotJson(why.to_string());
        let reason = Reason::local(e.code(), e.to_string());
        self.emit(key, ev.with_reason(Status::Failed, &reason, None));
        Ok(key)
    }

    /// Records an event and queues or starts its delivery; `accepted_at` is when it first
    /// arrived (earlier than now for restored events, so batch ages carry over); `replayed`
    /// when a restored event's call was in flight (it may have been applied).
    fn accept(
        &mut self,
        accepted_at: Millis,
        family: &dyn Family,
        action_id: &str,
        event: &Value,
        event_id: Option<String>,
        replayed: bool,
    ) -> EventKey {
        self.next_event += 1;
        let key = EventKey(self.next_event);
        let event_id = event_id.unwrap_or_else(|| format!("{}-{}", self.event_prefix, self.next_event));
        let pending = PendingEvent {
            event_id: event_id.clone(),
            action_id: action_id.to_string(),
            event: event.clone(),
            accepted_at,
            batched: family.thresholds().is_some(),
            replayed,
        };
        self.admit(key, pending);
        let ev = EventRef { key, event_id, action_id: action_id.to_string() };
        if family.needs_schema()
            && family.thresholds().is_none()
            && (self.schema.wants_read() || self.schema.reading.is_some())
        {
            // Formatting needs the field types: the event waits for the schema (one read),
            // unless it fails without them. Queued events wait only when their batch goes out.
            let fmt = Format { schema: None, on_too_long: self.settings.on_too_long };
            if let Err(e) = family.prepare(event, &fmt, &mut Vec::new()) {
                let reason = Reason::local(e.code(), e.to_string());
                self.emit(key, ev.with_reason(Status::Failed, &reason, None));
                return key;
            }
            if self.schema_pending() {
                self.parked.push(key);
                if let Some(job) = self.schema.reading {
                    self.job_of.insert(key, job);
                }
                return key;
            }
        }
        self.deliver(accepted_at, family, ev, event);
        key
    }

    /// Prepares an accepted event with the schema as known now, then queues it or starts its
    /// delivery.
    fn deliver(&mut self, accepted_at: Millis, family: &dyn Family, ev: EventRef, event: &Value) {
        let key = ev.key;
        let mut warnings = Vec::new();
        let fmt = Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long };
        let prepared = match family.prepare(event, &fmt, &mut warnings) {
            Ok(p) => p,
            Err(e) => {
                let reason = Reason::local(e.code(), e.to_string());
                self.emit(key, ev.with_reason(Status::Failed, &reason, None));
                return;
            }
        };
        if !warnings.is_empty() {
            self.notes.push((key, warnings.join("; ")));
        }
        if family.needs_schema()
            && ((self.schema.schema.is_none() && self.schema.error.is_none()) || self.schema.stale)
        {
            // Formatted without the schema, or with one a 1006 made stale: again when the batch
            // goes out, after the (re-)read.
            self.unformatted.insert(key);
        }
        let action_id = ev.action_id.clone();
        match family.thresholds() {
            Some(limits) => {
                let size = prepared.size;
                self.queues.entry(action_id).or_insert_with(|| Queue::new(limits, family.overhead())).push(
                    accepted_at,
                    (ev, prepared),
                    size,
                );
            }
            None => {
                self.start_prepared(family, vec![(ev, prepared)]);
            }
        }
    }

    /// Whether formatting must wait for the schema: starts reading it when it is needed and
    /// not known (or stale after a 1006), and says whether a read is running.
    fn schema_pending(&mut self) -> bool {
        if self.schema.wants_read() {
            // `start_job` gives the job the next id; the slot knows it before the job starts.
            self.schema.reading = Some(self.next_job + 1);
            self.start_job(Box::new(SchemaJob::default()), Progress::default(), None, Vec::new());
        }
        self.schema.reading.is_some()
    }

    /// The schema read finished: parked events are formatted and sent, waiting checks start.
    fn schema_read(&mut self, result: Result<super::schema::LeadSchema, Reason>) {
        // Refused credentials fail the waiting events as they would fail their own calls,
        // without another identity call.
        let auth = result.as_ref().err().filter(|e| e.is_auth_failure()).cloned();
        self.schema.finished(result);
        for key in std::mem::take(&mut self.parked) {
            self.job_of.remove(&key);
            let Some(p) = self.pending.get(&key) else { continue };
            let ev = EventRef { key, event_id: p.event_id.clone(), action_id: p.action_id.clone() };
            if let Some(reason) = &auth {
                self.emit(key, ev.with_reason(Status::Failed, reason, None));
                continue;
            }
            let (event, accepted_at) = (p.event.clone(), p.accepted_at);
            let settings = Arc::clone(&self.settings);
            if let Some(action) = settings.action(&ev.action_id) {
                self.deliver(accepted_at, &*family(&action.action), ev, &event);
            }
        }
        for (action_id, batch) in std::mem::take(&mut self.held) {
            for (ev, _) in &batch {
                self.job_of.remove(&ev.key);
            }
            let settings = Arc::clone(&self.settings);
            let Some(action) = settings.action(&action_id) else { continue };
            let family = family(&action.action);
            let batch = self.reformat(&*family, batch);
            let job = self.start_prepared(&*family, batch);
            if let Some(q) = self.queues.get_mut(&action_id) {
                q.busy = job;
            }
        }
        for key in std::mem::take(&mut self.checks_waiting) {
            self.start_check(key);
        }
    }

    /// Starts checking the configuration against the instance (the schema is read or known
    /// to be unreadable).
    fn start_check(&mut self, key: CheckKey) {
        let first = schema_problems(&self.settings, self.schema.schema.as_ref(), self.schema.error.as_ref());
        let job = CheckJob::new(&self.settings, first);
        self.check_jobs.push((self.next_job + 1, key));
        self.start_job(Box::new(job), Progress::default(), None, Vec::new());
    }

    /// The pending state, for a restart: every event without a final outcome, the lookups
    /// made, the calls in flight and the rate and quota counts. No secret, no token. Final
    /// outcomes already polled are not in it: a host adds those it has not yet handed out
    /// ([`super::report::Reporter::snapshot`] does).
    pub fn snapshot(&self) -> Snapshot {
        let mut in_flight: BTreeSet<EventKey> = BTreeSet::new();
        for f in self.in_flight.values() {
            if let Some(job) = self.jobs.get(&f.call.job) {
                in_flight.extend(job.events.iter().copied());
            }
        }
        let mut progress: BTreeMap<EventKey, ResumeData> = BTreeMap::new();
        for job in self.jobs.values() {
            for key in &job.events {
                if let Some(p) = job.job.progress(*key) {
                    progress.insert(*key, p);
                }
            }
        }
        let (day, used) = self.limiter.quota_state();
        Snapshot {
            version: SNAPSHOT_VERSION,
            taken_at: self.now,
            events: self
                .pending
                .iter()
                .map(|(key, p)| PendingEntry {
                    event_id: p.event_id.clone(),
                    action_id: p.action_id.clone(),
                    event: p.event.clone(),
                    accepted_at: p.accepted_at,
                    // A replayed call not yet answered may still have been applied.
                    in_flight: in_flight.contains(key) || p.replayed,
                    progress: progress.get(key).cloned(),
                })
                .collect(),
            quota: QuotaState { day, used },
            recent_calls: self.limiter.recent_calls(),
            id_prefix: self.event_prefix.clone(),
            next_event: self.next_event,
            id: self.id.clone(),
            generation: self.generation,
            finished: Vec::new(),
            in_flight_until: self
                .in_flight
                .values()
                .map(|f| {
                    let sent = f.deadline.saturating_sub(CALL_TIMEOUT_MS);
                    sent.saturating_add(marketo_timeout_ms(&f.call.spec)).min(f.deadline)
                })
                .chain(self.limiter.inherited().iter().copied())
                .collect(),
            lookups: self
                .cache
                .entries(self.now)
                .into_iter()
                .map(|(filter, value, ids, at)| CachedLookup {
                    filter_type: filter.as_str().to_string(),
                    value,
                    ids,
                    at,
                })
                .collect(),
            schema: self.schema.schema.as_ref().map(super::schema::LeadSchema::to_describe2),
        }
    }

    /// An engine carrying on from `snapshot`: its events are queued or sent again (an event
    /// whose non-idempotent call was in flight is reported `uncertain` instead), and the quota
    /// count carries over. Events for actions no longer configured fail with `UNKNOWN_ACTION`.
    ///
    /// The snapshot's identity is kept and its generation rises by one. State later than the
    /// host's `now` (a snapshot from a clock ahead of this one) is dropped: rate-window calls,
    /// a quota day, arrival and lookup times are brought back to `now`, so nothing waits on
    /// time that has not come. Generated event ids take a prefix drawn from `seed` and `now`,
    /// so two restores of one snapshot with distinct seeds or clocks never generate the same id.
    /// The snapshot's `finished` outcomes are not the engine's: see
    /// [`super::report::Reporter::restore`].
    pub fn restore(settings: Settings, seed: u64, now: Millis, snapshot: &Snapshot) -> Engine {
        let mut engine = Engine::new(settings, seed, now);
        let now = engine.now;
        if !snapshot.id.is_empty() {
            engine.id = snapshot.id.clone();
        }
        engine.generation = snapshot.generation.saturating_add(1);
        if snapshot.quota.day <= super::time::quota_day(now) {
            engine.limiter.restore_quota(snapshot.quota.day, snapshot.quota.used);
        }
        let recent: Vec<Millis> = snapshot.recent_calls.iter().copied().filter(|t| *t <= now).collect();
        engine.limiter.restore_recent_calls(&recent);
        engine.limiter.inherit_in_flight(&snapshot.in_flight_until, now, now.saturating_add(CALL_TIMEOUT_MS));
        for l in &snapshot.lookups {
            if let Some(filter) = FilterType::parse(&l.filter_type) {
                engine.cache.insert(filter, &l.value, l.ids.clone(), l.at.min(now));
            }
        }
        engine.schema.schema = snapshot
            .schema
            .as_ref()
            .and_then(|s| super::schema::LeadSchema::from_describe2(std::slice::from_ref(s)));
        // Restored events take keys after the snapshot's counter.
        engine.next_event = snapshot.next_event;
        engine.restore_events(&snapshot.events);
        // Nothing is sent until the host's next input (SPEC §7: it may store this engine's
        // snapshot, with the new generation, first); `poll_timeout` asks for it now.
        engine.needs_pump = true;
        engine
    }

    /// Takes a snapshot's events back: each is queued or sent again from the start, resumed
    /// from where its family's resume data says it was (bulk imports sharing a batch resume
    /// together, after the others), or given its final outcome when it cannot go on.
    fn restore_events(&mut self, entries: &[PendingEntry]) {
        let settings = Arc::clone(&self.settings);
        let mut grouped: BTreeMap<(&str, i64), (Vec<&PendingEntry>, &ResumeData)> = BTreeMap::new();
        for entry in entries {
            let Some(action) = settings.action(&entry.action_id) else {
                let reason = format!("action `{}` is no longer configured", entry.action_id);
                self.restore_failed(entry, Status::Failed, "UNKNOWN_ACTION", reason);
                continue;
            };
            let family = family(&action.action);
            if entry.in_flight && !family.idempotent() {
                let reason = "the connector restarted while this event's call was in flight; Marketo may or may not have applied it";
                self.restore_failed(entry, Status::Uncertain, "RESTARTED_IN_FLIGHT", reason.into());
                continue;
            }
            match entry.progress.as_ref().filter(|r| family.resumes(r)) {
                Some(resume) => match resume.group() {
                    Some(group) => {
                        grouped.entry((&entry.action_id, group)).or_insert((Vec::new(), resume)).0.push(entry)
                    }
                    None => self.resume(&*family, &[entry], resume),
                },
                None => {
                    let accepted_at = entry.accepted_at.min(self.now);
                    let id = Some(entry.event_id.clone());
                    self.accept(accepted_at, &*family, &entry.action_id, &entry.event, id, entry.in_flight);
                }
            }
        }
        for ((action_id, _), (entries, resume)) in grouped {
            if let Some(action) = settings.action(action_id) {
                self.resume(&*family(&action.action), &entries, resume);
            }
        }
    }

    /// A restored event that cannot go on gets its final outcome now.
    fn restore_failed(&mut self, entry: &PendingEntry, status: Status, code: &'static str, message: String) {
        let ev = self.readmit(entry);
        let reason = Reason::local(code, message);
        self.emit(ev.key, ev.with_reason(status, &reason, None));
    }

    /// Restored `entries` resume from `resume` (their family [`Family::resumes`] it).
    fn resume(&mut self, family: &dyn Family, entries: &[&PendingEntry], resume: &ResumeData) {
        let events: Vec<(EventRef, &Value)> = entries.iter().map(|e| (self.readmit(e), &e.event)).collect();
        let replayed = BTreeSet::new();
        let mut cx = Context {
            now: self.now,
            rest_len: self.settings.rest_base.len(),
            format: Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long },
            cache: &self.cache,
            replayed: &replayed,
            jitter: &mut self.jitter,
        };
        let start = family.resume(events, resume, &mut cx);
        self.started(start);
    }

    /// Handles the HTTP answer to request `id`.
    ///
    /// # Errors
    /// [`UsageError::UnknownRequest`] when `id` is not waiting for an answer (answered already,
    /// or given up after [`CALL_TIMEOUT_MS`]); the answer is ignored.
    pub fn handle_response(
        &mut self,
        now: Millis,
        id: u32,
        status: u16,
        body: &str,
    ) -> Result<(), UsageError> {
        let now = self.clamp(now);
        if self.auth.owns(id) {
            self.identity_deadline = None;
            let ev = self.auth.handle_response(now, status, body, &mut self.jitter);
            self.after_auth(ev);
            self.pump(now);
            return Ok(());
        }
        let flight = self.in_flight.remove(&id).ok_or(UsageError::UnknownRequest(id))?;
        self.limiter.finish();
        let InFlight { call, token, deadline } = flight;
        self.left_queue(call.job);
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.started = true;
        }
        let parsed = Envelope::parse(body);
        // The pace learns from every answer: 606/615 lower it, anything else raises it.
        let answer_code = match &parsed {
            Ok(env) if !env.success => env.errors.first().map(|e| e.code.as_str()),
            _ => None,
        };
        self.limiter.observe(answer_code, deadline.saturating_sub(CALL_TIMEOUT_MS), now);
        self.stats.pace = self.limiter.pace().stats();
        let page = call.spec.raw && (200..=299).contains(&status) && looks_like_html(body);
        if call.spec.raw
            && !page
            && (200..=299).contains(&status)
            && !matches!(&parsed, Ok(env) if !env.success)
        {
            // A file answer (CSV); a JSON error envelope still goes through the checks below.
            let step = call.spec.step;
            self.with_job(&call, |job, p| job.on_raw(step, body, p));
            self.pump(now);
            return Ok(());
        }
        let (class, reason, request_id) = match (status, parsed) {
            (200..=299, Ok(env)) if env.success => {
                self.call_succeeded(call, &env);
                self.pump(now);
                return Ok(());
            }
            (200..=299, Ok(env)) => {
                let mut err = env.first_error();
                err.message = self.redact_message(&err.message);
                let reason = Reason::from(err);
                let class = reason.marketo_code().map_or(Class::Fail, classify_code);
                (class, reason, env.request_id)
            }
            (200..=299, Err(e)) => (
                Class::Retry { base_ms: 2_000 },
                Reason::local(
                    "BAD_RESPONSE",
                    if page {
                        "Marketo answered with a web page instead of the file".into()
                    } else {
                        e.message(|t| self.auth.redact(t))
                    },
                ),
                None,
            ),
            (status, _) => (classify_http(status), Reason::http(status), None),
        };
        let failure = |status| Failure::new(status, reason.clone(), request_id.clone());
        match class {
            Class::Success => {}
            Class::RefreshToken if call.refreshes < 2 => {
                self.auth.invalidate(&token);
                let mut call = call;
                call.refreshes += 1;
                self.enqueue_front(call);
            }
            Class::WaitForQuota => {
                // Hold this call and all others until the reset; nothing is lost.
                self.limiter.quota_exhausted(now);
                let mut call = call;
                call.rate_limited = None;
                self.enqueue_front(call);
            }
            Class::Retry { base_ms }
                if matches!(reason.marketo_code().map(Code::as_str), Some("606" | "615")) =>
            {
                self.stats.rate_limited += 1;
                self.wait_for_pace(now, call, base_ms, failure(Status::Failed));
            }
            Class::Retry { base_ms } => {
                // 6xx codes mean "not executed"; an HTTP error or garbled answer may hide an
                // applied call.
                self.retry_transient(now, call, base_ms, failure(Status::Failed));
            }
            Class::WaitForBulkQueue => {
                // Marketo's import queue drains at its own pace: wait longer than for an error.
                let mut call = call;
                call.rate_limited = None;
                if call.attempts >= MAX_ATTEMPTS {
                    call.attempts = MAX_ATTEMPTS - 1;
                    call.queue_waits += 1;
                }
                if call.queue_waits > MAX_QUEUE_ATTEMPTS {
                    self.call_failed(call, failure(Status::Failed));
                } else {
                    self.retry(now, call, 30_000, failure(Status::Failed));
                }
            }
            Class::Split => {
                let step = call.spec.step;
                let mut progress = Progress::default();
                let split = match self.jobs.get_mut(&call.job) {
                    Some(entry) => entry.job.split(step, &mut progress),
                    None => false,
                };
                if split {
                    // The halves replace this call in the job's count of outstanding calls.
                    if let Some(entry) = self.jobs.get_mut(&call.job) {
                        entry.outstanding = entry.outstanding.saturating_sub(1);
                    }
                    self.apply(call.job, progress);
                } else {
                    self.call_failed(call, failure(Status::Failed));
                }
            }
            Class::MethodGet if call.spec.method == Method::Get => {
                let mut call = call;
                let form = query_string(&call.spec.query);
                call.spec.method = Method::Post;
                call.spec.query = vec![("_method".into(), "GET".into())];
                call.spec.body = Some((Body::Text(form), "application/x-www-form-urlencoded".into()));
                self.enqueue_front(call);
            }
            Class::RefreshToken | Class::MethodGet | Class::Fail => {
                self.call_failed(call, failure(Status::Failed))
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Handles a transport failure of request `id` (network error, connection dropped, host
    /// `fetch` threw). `message` must not contain secrets; it ends up in outcomes.
    ///
    /// # Errors
    /// [`UsageError::UnknownRequest`] when `id` is not waiting for an answer.
    pub fn handle_transport_error(&mut self, now: Millis, id: u32, message: &str) -> Result<(), UsageError> {
        let now = self.clamp(now);
        if self.auth.owns(id) {
            self.identity_deadline = None;
            let ev = self.auth.handle_transport_error(now, message, &mut self.jitter);
            self.after_auth(ev);
            self.pump(now);
            return Ok(());
        }
        let flight = self.in_flight.remove(&id).ok_or(UsageError::UnknownRequest(id))?;
        self.limiter.finish();
        self.left_queue(flight.call.job);
        let reason = Reason::local("NETWORK", format!("network error: {message}"));
        let failure = Failure::new(Status::Failed, reason, None);
        // A request lost in transport may have reached Marketo.
        self.retry_transient(now, flight.call, 2_000, failure);
        self.pump(now);
        Ok(())
    }

    /// Wakes the engine: due retries and held calls are sent, calls without an answer for
    /// [`CALL_TIMEOUT_MS`] are given up as transport failures.
    pub fn handle_timeout(&mut self, now: Millis) {
        let now = self.clamp(now);
        let expired: Vec<u32> =
            self.in_flight.iter().filter(|(_, f)| f.deadline <= now).map(|(id, _)| *id).collect();
        for id in expired {
            let _ = self.handle_transport_error(now, id, "no answer within the call timeout");
        }
        if let Some((id, deadline)) = self.identity_deadline {
            if deadline <= now {
                let _ = self.handle_transport_error(now, id, "no answer within the call timeout");
            }
        }
        let mut due: Vec<(Millis, Call)> = Vec::new();
        let mut later: Vec<(Millis, Call)> = Vec::new();
        for (at, call) in self.delayed.drain(..) {
            if at <= now {
                due.push((at, call));
            } else {
                later.push((at, call));
            }
        }
        self.delayed = later;
        due.sort_by_key(|(at, _)| *at);
        for (_, call) in due {
            self.enqueue_follow(call);
        }
        if self.limiter_wake.is_some_and(|t| t <= now) {
            self.limiter_wake = None;
        }
        self.pump(now);
    }

    /// Starts listing every static list or requestable campaign, all pages. The result comes
    /// out of [`Engine::poll_listing`] with the returned key.
    pub fn handle_listing(&mut self, now: Millis, kind: Listing) -> ListingKey {
        let now = self.clamp(now);
        self.next_listing += 1;
        let key = ListingKey(self.next_listing);
        match self.start_job(Box::new(ListingJob::new(kind)), Progress::default(), None, Vec::new()) {
            Some(job) => {
                self.listing_jobs.insert(job, key);
            }
            None => self.listings_out.push_back((key, Ok(Vec::new()))),
        }
        self.pump(now);
        key
    }

    /// A finished listing: every entry, or Marketo's error (redacted like outcomes).
    pub fn poll_listing(&mut self) -> Option<(ListingKey, Result<Vec<Named>, Reason>)> {
        let (key, result) = self.listings_out.pop_front()?;
        Some((
            key,
            result.map_err(|mut e| {
                let message = self.redact_message(e.message());
                *e.message_mut() = message;
                if let Reason::Marketo { code, .. } = &mut e {
                    code.0 = self.redact_message(&code.0);
                }
                e
            }),
        ))
    }

    /// Starts `check()`: the configuration checked against the instance's lead schema (read
    /// first when unknown, or again when it could not be read before), lists, campaigns,
    /// program tokens and partitions ([`super::check`]). The result comes out of
    /// [`Engine::poll_check`] with the returned key.
    pub fn handle_check(&mut self, now: Millis) -> CheckKey {
        let now = self.clamp(now);
        self.next_check += 1;
        let key = CheckKey(self.next_check);
        if self.schema.schema.is_none() && self.schema.reading.is_none() {
            // An explicit check asks again (a permission may have been granted since).
            self.schema.error = None;
        }
        if self.schema_pending() {
            self.checks_waiting.push(key);
        } else {
            self.start_check(key);
        }
        self.pump(now);
        key
    }

    /// A finished `check()` (messages redacted like outcomes).
    pub fn poll_check(&mut self) -> Option<(CheckKey, CheckResult)> {
        let (key, mut result) = self.checks_out.pop_front()?;
        for p in &mut result.problems {
            p.message = self.redact_message(&p.message);
        }
        Some((key, result))
    }

    /// Sends whatever is queued now, ignoring batch thresholds.
    pub fn flush(&mut self, now: Millis) {
        let now = self.clamp(now);
        for q in self.queues.values_mut() {
            q.seal();
        }
        self.pump(now);
    }

    // ---- outputs ------------------------------------------------------------------------

    /// The next request to send.
    pub fn poll_request(&mut self) -> Option<HttpRequest> {
        self.requests_out.pop_front()
    }

    /// The next outcome: final ones exactly once per event. Its code, message and request id
    /// never carry the client secret or a token issued (see [`Engine::redact`]).
    pub fn poll_outcome(&mut self) -> Option<(EventKey, Outcome)> {
        let (key, mut o) = self.outcomes_out.pop_front()?;
        for text in [&mut o.code, &mut o.message, &mut o.request_id].into_iter().flatten() {
            *text = self.redact_message(text);
        }
        Some((key, o))
    }

    /// `text` without the client secret or any token issued, in any form it can take
    /// ([`crate::core::redact`]): for whatever the host shows from outside text (log entries
    /// of transport errors, messages).
    pub fn redact(&self, text: &str) -> String {
        self.auth.redact(text)
    }

    /// [`Engine::redact`], then cut to [`MAX_MESSAGE_CHARS`] (never cut before redaction).
    fn redact_message(&self, text: &str) -> String {
        cut(&self.auth.redact(text), MAX_MESSAGE_CHARS)
    }

    /// When to call [`Engine::handle_timeout`] next; `None` when nothing waits on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.needs_pump {
            return Some(self.now);
        }
        let mut t: Option<Millis> = None;
        let mut take = |x: Millis| t = Some(t.map_or(x, |t: Millis| t.min(x)));
        self.delayed.iter().for_each(|(at, _)| take(*at));
        self.queues.values().filter_map(Queue::deadline).for_each(&mut take);
        self.in_flight.values().for_each(|f| take(f.deadline));
        if let Some((_, d)) = self.identity_deadline {
            take(d);
        }
        if !self.ready.is_empty() || !self.follow.is_empty() {
            if let Some(w) = self.limiter_wake {
                take(w);
            }
            if let Some(w) = self.auth.wake_at() {
                take(w);
            }
        }
        t
    }

    /// Whether the event has had its final outcome.
    pub fn is_final(&self, key: EventKey) -> bool {
        !self.pending.contains_key(&key)
    }

    /// Whether a host call waiting for event `key` should keep waiting for its final outcome:
    /// the event is not final, its action sends on arrival (a batched event answers `queued` at
    /// once), and a call carrying it is in flight or about to be sent — not waiting for a retry
    /// time, a bulk job's next poll, the rate window, the daily quota or a new token after an
    /// identity failure. O(log n).
    pub fn awaits_answer(&self, key: EventKey) -> bool {
        self.pending.get(&key).is_some_and(|p| !p.batched) && self.in_progress(key)
    }

    /// Whether event `key` is on its way to a final outcome without waiting on time: a call
    /// carrying it is in flight, or waiting to be sent while neither the rate window, the daily
    /// quota nor an identity backoff holds calls back, or (batched) it sits in a sealed batch
    /// behind its action's batch in flight. What `flush()` waits for.
    pub fn in_progress(&self, key: EventKey) -> bool {
        let Some(p) = self.pending.get(&key) else { return false };
        let time_blocked = self.limiter_wake.is_some() || self.auth.wake_at().is_some();
        match self.job_of.get(&key) {
            Some(job) => {
                let sending = self.jobs.get(job).map_or(0, |e| e.sending);
                sending > 0 && (!time_blocked || self.in_flight.values().any(|f| f.call.job == *job))
            }
            None => p.batched && !time_blocked,
        }
    }

    /// A counter that rises whenever an event may have stopped being [`Engine::in_progress`]
    /// without finishing. A host call waiting for an event need only be looked at again when
    /// its event finished or this changed: settling waiters then costs what changed, not what
    /// waits.
    pub fn stall_epoch(&self) -> u64 {
        self.epoch
    }

    /// The events without a final outcome.
    pub fn pending_keys(&self) -> impl Iterator<Item = EventKey> + '_ {
        self.pending.keys().copied()
    }

    /// A `queued` outcome for an event still pending, for hosts that report progress.
    pub fn queued_outcome(&self, key: EventKey) -> Option<Outcome> {
        self.pending.get(&key).map(|p| Outcome {
            event_id: p.event_id.clone(),
            action_id: p.action_id.clone(),
            status: Status::Queued,
            lead_ids: Vec::new(),
            code: None,
            message: None,
            request_id: None,
        })
    }

    /// Requests sent and not yet answered (identity included).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len() + usize::from(self.auth.is_fetching())
    }

    /// Events accepted and without a final outcome yet.
    pub fn pending_events(&self) -> usize {
        self.pending.len()
    }

    /// The requests one event would cause if sent alone, without the token.
    ///
    /// # Errors
    /// `Err(Ok(UsageError))` for an unknown action, `Err(Err(EventError))` when the event
    /// cannot be delivered as it is.
    pub fn preview(
        &self,
        action_id: &str,
        event: &Value,
    ) -> Result<Vec<PreviewRequest>, Result<UsageError, EventError>> {
        let action = self
            .settings
            .action(action_id)
            .ok_or_else(|| Ok(UsageError::UnknownAction(action_id.to_string())))?;
        let fmt = Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long };
        let calls =
            family(&action.action).preview(event, &fmt, self.settings.rest_base.len()).map_err(Err)?;
        Ok(calls
            .into_iter()
            .map(|c| {
                let mut headers: BTreeMap<String, String> = BTreeMap::new();
                headers.insert("Accept".into(), "application/json".into());
                let url = self.url_of(&c);
                let body = c.body.map(|(b, ct)| {
                    headers.insert("Content-Type".into(), ct);
                    match b {
                        Body::Text(t) => t,
                        Body::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                    }
                });
                PreviewRequest { method: c.method, url, headers, body }
            })
            .collect())
    }

    // ---- internals ----------------------------------------------------------------------

    fn emit(&mut self, key: EventKey, mut outcome: Outcome) {
        // Removing from `pending` is the once-only gate: a second final outcome is dropped.
        if !outcome.status.is_final() {
            return;
        }
        if let Some(p) = self.pending.remove(&key) {
            self.forget(key, &p);
            self.unformatted.remove(&key);
            let note = self.notes.iter().position(|(k, _)| *k == key).map(|i| self.notes.swap_remove(i).1);
            self.schema.noted(&mut outcome, note);
            self.outcomes_out.push_back((key, outcome));
        }
    }

    /// Records a pending event, with the counts `stats()` reads.
    fn admit(&mut self, key: EventKey, pending: PendingEvent) {
        let (accepted_at, action_id) = (pending.accepted_at, pending.action_id.clone());
        if let Some(old) = self.pending.insert(key, pending) {
            self.forget(key, &old); // keys are never reused; were one, its old counts go
        }
        self.arrivals.insert((accepted_at, key));
        *self.pending_by_action.entry(action_id).or_insert(0) += 1;
    }

    /// Takes a pending event that left `pending` out of the counts `stats()` reads.
    fn forget(&mut self, key: EventKey, p: &PendingEvent) {
        self.arrivals.remove(&(p.accepted_at, key));
        if let Some(n) = self.pending_by_action.get_mut(&p.action_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pending_by_action.remove(&p.action_id);
            }
        }
    }

    /// Starts the jobs delivering prepared `items` of `family`; the last job's id, `None` when
    /// every event finished at once.
    fn start_prepared(&mut self, family: &dyn Family, items: Vec<(EventRef, Prepared)>) -> Option<u64> {
        let replayed: BTreeSet<EventKey> = items
            .iter()
            .map(|(ev, _)| ev.key)
            .filter(|k| self.pending.get(k).is_some_and(|p| p.replayed))
            .collect();
        let mut cx = Context {
            now: self.now,
            rest_len: self.settings.rest_base.len(),
            format: Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long },
            cache: &self.cache,
            replayed: &replayed,
            jitter: &mut self.jitter,
        };
        let start = family.start(items, &mut cx);
        self.started(start)
    }

    /// Fails the events a family could not start, then registers and starts its jobs; the last
    /// job's id.
    fn started(&mut self, start: Start) -> Option<u64> {
        for (ev, e) in start.failed {
            let reason = Reason::local(e.code(), e.to_string());
            self.emit(ev.key, ev.with_reason(Status::Failed, &reason, None));
        }
        let mut last = None;
        for new in start.jobs {
            last = self.start_job(new.job, new.progress, new.lookup, new.events);
        }
        last
    }

    /// Seals due queues and starts the batches whose action has no batch in flight.
    fn dispatch_queues(&mut self, now: Millis) {
        let mut ready: Vec<(String, Vec<(EventRef, Prepared)>)> = Vec::new();
        for (action_id, q) in self.queues.iter_mut() {
            q.seal_if_due(now);
            if let Some(batch) = q.take_ready() {
                ready.push((action_id.clone(), batch));
            }
        }
        for (action_id, batch) in ready {
            let settings = Arc::clone(&self.settings);
            let Some(action) = settings.action(&action_id) else { continue };
            let family = family(&action.action);
            let mut batch = batch;
            if family.needs_schema() && batch.iter().any(|(ev, _)| self.unformatted.contains(&ev.key)) {
                if self.schema_pending() {
                    // The batch's call needs the field types: it goes out once they are read,
                    // and its action sends no other batch meanwhile.
                    let reading = self.schema.reading;
                    for (ev, _) in &batch {
                        if let Some(job) = reading {
                            self.job_of.insert(ev.key, job);
                        }
                    }
                    if let Some(q) = self.queues.get_mut(&action_id) {
                        q.busy = reading;
                    }
                    self.held.push((action_id, batch));
                    continue;
                }
                batch = self.reformat(&*family, batch);
            }
            let job = self.start_prepared(&*family, batch);
            if let Some(q) = self.queues.get_mut(&action_id) {
                q.busy = job;
            }
        }
    }

    /// The batch's events prepared before the schema was known, prepared again with it (an
    /// event the field types refuse fails here).
    fn reformat(
        &mut self,
        family: &dyn Family,
        batch: Vec<(EventRef, Prepared)>,
    ) -> Vec<(EventRef, Prepared)> {
        let mut out = Vec::with_capacity(batch.len());
        for (ev, prepared) in batch {
            if !self.unformatted.remove(&ev.key) {
                out.push((ev, prepared));
                continue;
            }
            let Some(event) = self.pending.get(&ev.key).map(|p| p.event.clone()) else { continue };
            let mut warnings = Vec::new();
            let fmt = Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long };
            match family.prepare(&event, &fmt, &mut warnings) {
                Ok(p) => {
                    if !warnings.is_empty() {
                        self.notes.push((ev.key, warnings.join("; ")));
                    }
                    out.push((ev, p));
                }
                Err(e) => {
                    let reason = Reason::local(e.code(), e.to_string());
                    self.emit(ev.key, ev.with_reason(Status::Failed, &reason, None));
                }
            }
        }
        out
    }

    /// Registers a snapshot's event as pending again, under a new key.
    fn readmit(&mut self, entry: &PendingEntry) -> EventRef {
        self.next_event += 1;
        let key = EventKey(self.next_event);
        let batched =
            self.settings.action(&entry.action_id).is_some_and(|a| family(&a.action).thresholds().is_some());
        self.admit(
            key,
            PendingEvent {
                event_id: entry.event_id.clone(),
                action_id: entry.action_id.clone(),
                event: entry.event.clone(),
                accepted_at: entry.accepted_at.min(self.now),
                batched,
                replayed: entry.in_flight,
            },
        );
        EventRef { key, event_id: entry.event_id.clone(), action_id: entry.action_id.clone() }
    }

    /// Registers and starts a job; `None` when it finished at once (no call needed).
    fn start_job(
        &mut self,
        mut job: Box<dyn Delivery>,
        mut progress: Progress,
        lookup: Option<FilterType>,
        events: Vec<EventKey>,
    ) -> Option<u64> {
        self.next_job += 1;
        let id = self.next_job;
        job.start(&mut progress);
        for key in &events {
            self.job_of.insert(*key, id);
        }
        self.jobs.insert(id, JobEntry { job, outstanding: 0, sending: 0, started: false, lookup, events });
        self.apply(id, progress);
        self.jobs.contains_key(&id).then_some(id)
    }

    fn apply(&mut self, job: u64, mut progress: Progress) {
        let schema = progress.schema.take();
        if let Some(problems) = progress.check.take() {
            if let Some(i) = self.check_jobs.iter().position(|(j, _)| *j == job) {
                let (_, key) = self.check_jobs.swap_remove(i);
                self.checks_out.push_back((key, CheckResult::new(problems)));
            }
        }
        for (key, o) in progress.outcomes {
            self.emit(key, o);
        }
        if let Some(result) = progress.listing {
            if let Some(key) = self.listing_jobs.remove(&job) {
                self.listings_out.push_back((key, result));
            }
        }
        if let Some(filter) = self.jobs.get(&job).and_then(|j| j.lookup) {
            for (value, ids) in progress.learned {
                self.cache.insert(filter, &value, ids, self.now);
            }
        }
        for id in progress.forget {
            self.cache.forget(id);
        }
        let n = progress.calls.len();
        let started = self.jobs.get(&job).is_some_and(|j| j.started);
        for spec in progress.calls {
            let delay = spec.delay_ms;
            let call = Call { job, spec, attempts: 0, refreshes: 0, queue_waits: 0, rate_limited: None };
            if delay > 0 {
                self.delayed.push((self.now.saturating_add(delay), call));
                self.epoch += 1;
            } else if started {
                self.enqueue_follow(call);
            } else {
                self.enqueue_new(call);
            }
        }
        let done = match self.jobs.get_mut(&job) {
            Some(entry) => {
                entry.outstanding += n;
                entry.outstanding == 0
            }
            None => false,
        };
        if done {
            if let Some(entry) = self.jobs.remove(&job) {
                for key in &entry.events {
                    self.job_of.remove(key);
                }
                // Safety net for the invariant: a job that ends owes every event an outcome.
                for key in entry.events {
                    if let Some(p) = self.pending.get(&key) {
                        let ev =
                            EventRef { key, event_id: p.event_id.clone(), action_id: p.action_id.clone() };
                        let reason = Reason::local(
                            "INTERNAL",
                            "the connector finished this event without a result; please report this",
                        );
                        self.emit(key, ev.with_reason(Status::Failed, &reason, None));
                    }
                }
            }
            for q in self.queues.values_mut() {
                if q.busy == Some(job) {
                    q.busy = None;
                }
            }
        }
        if let Some(result) = schema {
            self.schema_read(result);
        }
    }

    fn with_job(&mut self, call: &Call, f: impl FnOnce(&mut dyn Delivery, &mut Progress)) {
        let mut progress = Progress::default();
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.outstanding = entry.outstanding.saturating_sub(1);
            f(entry.job.as_mut(), &mut progress);
        }
        self.apply(call.job, progress);
    }

    fn call_succeeded(&mut self, call: Call, env: &Envelope) {
        let step = call.spec.step;
        self.with_job(&call, |job, p| job.on_success(step, env, p));
    }

    fn call_failed(&mut self, call: Call, failure: Failure) {
        let step = call.spec.step;
        self.with_job(&call, |job, p| job.on_failure(step, &failure, p));
    }

    /// Retries a call after a transient failure. When the failure is `ambiguous` (the call may
    /// have been applied), a non-idempotent call is not repeated: its events are `uncertain`.
    fn retry_transient(&mut self, now: Millis, call: Call, base: Millis, mut failure: Failure) {
        if failure.may_have_applied && !call.spec.idempotent {
            failure.status = Status::Uncertain;
            self.call_failed(call, failure);
        } else {
            self.retry(now, call, base, failure);
        }
    }

    fn retry(&mut self, now: Millis, call: Call, base: Millis, mut failure: Failure) {
        if call.attempts >= MAX_ATTEMPTS {
            failure.reason.message_mut().push_str(&format!(" (gave up after {} attempts)", call.attempts));
            self.call_failed(call, failure);
            return;
        }
        self.stats.retries += 1;
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.job.on_retry(call.spec.step);
        }
        let at = now + backoff(call.attempts, base, 120_000, &mut self.jitter);
        self.delayed.push((at, call));
        self.epoch += 1;
    }

    /// Sends a call Marketo refused with 606/615 again later: "not executed", so it costs no
    /// attempt; the pace (lowered by the refusal) and a backoff from `base` space it out, and
    /// its events fail only once refusals have lasted `limits.deliveryDeadlineMs`.
    fn wait_for_pace(&mut self, now: Millis, mut call: Call, base: Millis, mut failure: Failure) {
        let (since, times) = call.rate_limited.unwrap_or((now, 0));
        // Time held by a daily-quota pause meanwhile is not refusal time.
        let since = since.max(self.limiter.quota_hold_ended().unwrap_or(0)).min(now);
        let deadline = self.settings.limits.delivery_deadline_ms;
        if now.saturating_sub(since) >= deadline {
            failure.reason.message_mut().push_str(&format!(
                " (Marketo refused this call {} times over {} s: the instance's shared limits are taken by other apps; gave up after limits.deliveryDeadlineMs = {deadline} ms)",
                times + 1,
                now.saturating_sub(since) / 1000
            ));
            self.call_failed(call, failure);
            return;
        }
        call.attempts = call.attempts.saturating_sub(1);
        call.rate_limited = Some((since, times.saturating_add(1)));
        self.stats.retries += 1;
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.job.on_retry(call.spec.step);
        }
        let wait = backoff(times.saturating_add(1).min(4), base, 120_000, &mut self.jitter);
        let at = now.saturating_add(wait).min(since.saturating_add(deadline));
        self.delayed.push((at, call));
        self.epoch += 1;
    }

    fn after_auth(&mut self, ev: AuthEvent) {
        // Retrying: calls now wait for an identity backoff; Rejected: their events fail.
        self.epoch += 1;
        if let AuthEvent::Rejected { code, message } = ev {
            let reason = Reason::local(code, message);
            let waiting: Vec<Call> = self.follow.drain(..).chain(self.ready.drain(..)).collect();
            for call in waiting {
                self.left_queue(call.job);
                self.call_failed(call, Failure::new(Status::Failed, reason.clone(), None));
            }
        }
    }

    /// Queues a new job's first call: after every call of a job already started.
    fn enqueue_new(&mut self, call: Call) {
        self.count_sending(call.job);
        self.ready.push_back(call);
    }

    /// Queues a call of a job Marketo has answered already (its next step, or a due retry).
    fn enqueue_follow(&mut self, call: Call) {
        self.count_sending(call.job);
        self.follow.push_back(call);
    }

    /// Queues a call to be sent again at once (token refresh, quota hold, `_method=GET`).
    fn enqueue_front(&mut self, call: Call) {
        self.count_sending(call.job);
        self.follow.push_front(call);
    }

    fn count_sending(&mut self, job: u64) {
        if let Some(entry) = self.jobs.get_mut(&job) {
            entry.sending += 1;
        }
    }

    /// A call left the queues for good (answered, failed in transport, or failed unsent).
    fn left_queue(&mut self, job: u64) {
        if let Some(entry) = self.jobs.get_mut(&job) {
            entry.sending = entry.sending.saturating_sub(1);
        }
    }

    fn url_of(&self, spec: &CallSpec) -> String {
        let base = match spec.api {
            Api::Rest => &self.settings.rest_base,
            Api::Bulk => &self.settings.bulk_base,
        };
        if spec.query.is_empty() {
            format!("{base}{}", spec.path)
        } else {
            format!("{base}{}?{}", spec.path, query_string(&spec.query))
        }
    }

    fn next_request_id(&mut self) -> u32 {
        self.next_request = self.next_request.wrapping_add(1).max(1);
        self.next_request
    }

    /// Sends what may be sent: due batches become jobs, a token comes first, then calls go
    /// out within the limits.
    fn pump(&mut self, now: Millis) {
        if self.suspect_now.is_some() {
            // A held clock reading: nothing leaves with deadlines or window times computed from
            // a time that may be wrong; the next reading decides (`poll_timeout` asks for it).
            self.needs_pump = true;
            self.epoch += 1;
            return;
        }
        self.needs_pump = false;
        self.dispatch_queues(now);
        if self.ready.is_empty() && self.follow.is_empty() {
            return;
        }
        let token = match self.auth.token(now) {
            Some(t) => t.to_string(),
            None => {
                if self.auth.should_fetch(now) {
                    let id = self.next_request_id();
                    let req = self.auth.identity_request(id, &self.settings);
                    self.identity_deadline = Some((id, now + CALL_TIMEOUT_MS));
                    self.stats.identity_calls += 1;
                    self.requests_out.push_back(req);
                }
                return;
            }
        };
        while !self.ready.is_empty() || !self.follow.is_empty() {
            match self.limiter.check(now) {
                Ok(()) => {}
                Err(Blocked::Concurrency) => break,
                Err(Blocked::Rate(at)) | Err(Blocked::Quota(at)) => {
                    if self.limiter_wake != Some(at) {
                        self.epoch += 1;
                    }
                    self.limiter_wake = Some(at);
                    break;
                }
            }
            let Some(mut call) = self.follow.pop_front().or_else(|| self.ready.pop_front()) else { break };
            self.limiter.start(now);
            self.stats.calls += 1;
            call.attempts += 1;
            let id = self.next_request_id();
            let mut headers = vec![
                ("Authorization".to_string(), format!("Bearer {token}")),
                ("Accept".to_string(), "application/json".to_string()),
            ];
            let body = call.spec.body.as_ref().map(|(b, ct)| {
                headers.push(("Content-Type".to_string(), ct.clone()));
                b.clone()
            });
            self.requests_out.push_back(HttpRequest {
                id,
                method: call.spec.method,
                url: self.url_of(&call.spec),
                headers,
                body,
            });
            self.in_flight
                .insert(id, InFlight { call, token: token.clone(), deadline: now + CALL_TIMEOUT_MS });
        }
    }
}

/// How long Marketo itself may run a call before it times out, by endpoint: Merge 180 s, Sync
/// Leads 90 s, Get Leads by Filter 60 s, everything else 30 s. A call a dead instance left in
/// flight cannot hold a slot at Marketo longer than this after it was sent.
/// Source: <https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads>.
fn marketo_timeout_ms(spec: &CallSpec) -> Millis {
    let lookup = spec.query.iter().any(|(k, v)| k == "_method" && v == "GET");
    match (spec.method, spec.path.as_str()) {
        (_, p) if p.ends_with("/merge.json") => 180_000,
        (Method::Post, "/v1/leads.json") if !lookup => 90_000,
        (_, "/v1/leads.json") => 60_000,
        _ => 30_000,
    }
}

/// Whether a file answer is really a web page (a proxy's or Marketo's error page served with
/// 200): it is retried like any unreadable answer, never read as the file.
fn looks_like_html(body: &str) -> bool {
    body.trim_start().starts_with('<')
}
