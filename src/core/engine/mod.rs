//! The engine: a sans-IO state machine. The host hands it [`Input`]s (an event for an action,
//! an HTTP answer for a request id, a transport error, a timeout, a flush, a listing, a check),
//! each with `now`, through [`Engine::handle_input`]; after each, it drains
//! [`Engine::poll_output`] — requests to send, outcomes, listing and check results — until
//! [`Output::Timeout`] says when to wake the engine next. Early or repeated timeouts are
//! harmless. The per-kind methods (`handle_event`, `poll_request`…) are what `handle_input`
//! and `poll_output` dispatch to.
//!
//! The host clock is trusted only so far (every input reads `now` through one guard): a
//! reading up to [`CLOCK_STEP_TOLERANCE_MS`] behind the last accepted one is read as that one; a larger step back is accepted, and every wait computed
//! from the later time (retries, call timeouts, batch ages, the rate window, a quota day) is
//! moved back with it, so nothing waits on time that has not come; a reading more than
//! [`CLOCK_JUMP_MS`] ahead is held until the next reading confirms it, so one bad reading
//! (`1e15`) cannot age every batch and retry to the year 9999.

mod answers;
mod clock;
mod events;
mod io;
mod pending;
mod preview;
mod reads;
mod restore;
mod send;
mod state;
mod timer;

pub use io::{Accepted, Input, Output};
pub use preview::PreviewRequest;
pub use state::{Engine, Stats, CALL_TIMEOUT_MS, CLOCK_JUMP_MS, CLOCK_STEP_TOLERANCE_MS, MAX_NOW};
pub use timer::{Timer, Timers};

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use litemap::LiteMap;

use pending::PendingTable;
use state::BATCHED;

use crate::core::auth::Auth;
use crate::core::cache::LeadCache;
use crate::core::config::Settings;
use crate::core::error::UsageError;
use crate::core::ids::EventKey;
use crate::core::limits::Limiter;
use crate::core::outcome::{Outcome, Status};
use crate::core::pace::Pace;
use crate::core::retry::Jitter;
use crate::core::schema::SchemaSlot;
use crate::core::time::Millis;

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
            ready: VecDeque::new(),
            follow: VecDeque::new(),
            delayed: Vec::new(),
            in_flight: LiteMap::new(),
            identity_deadline: None,
            limiter_wake: None,
            pending: PendingTable::default(),
            pending_by_action: Vec::new(),
            requests_out: VecDeque::new(),
            outcomes_out: VecDeque::new(),
            listings_out: VecDeque::new(),
            listing_jobs: LiteMap::new(),
            next_listing: 0,
            queues: LiteMap::new(),
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
        let mut queues: LiteMap<String, u64> = LiteMap::new();
        for a in &self.settings.actions {
            queues.insert(a.id.clone(), 0);
        }
        for (action_id, n) in &self.pending_by_action {
            queues.insert(action_id.to_string(), *n);
        }
        let oldest_queued_age_ms = self.pending.oldest().map(|t| now.saturating_sub(t));
        Stats { queues, oldest_queued_age_ms, ..self.stats.clone() }
    }

    /// The snapshot identity: `(id, generation)`.
    pub fn identity(&self) -> (&str, u64) {
        (&self.id, self.generation)
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
        self.pending.get(&key).is_some_and(|p| !p.is(BATCHED)) && self.in_progress(key)
    }

    /// Whether event `key` is on its way to a final outcome without waiting on time: a call
    /// carrying it is in flight, or waiting to be sent while neither the rate window, the daily
    /// quota nor an identity backoff holds calls back, or (batched) it sits in a sealed batch
    /// behind its action's batch in flight, unless a restore holds its action's queue until
    /// the previous instance's call has run out ([`crate::core::batch::Queue::held_until`]) or
    /// the job ahead of it waits on time itself (every call it has left waits for a retry or a
    /// poll time, or, for a batch held for the lead schema, the schema read does). What
    /// `flush()` waits for.
    pub fn in_progress(&self, key: EventKey) -> bool {
        let Some(p) = self.pending.get(&key) else { return false };
        let time_blocked = self.time_blocked();
        match &p.job() {
            Some(job) => {
                let sending = self.jobs.get(job).map_or(0, |e| e.sending);
                sending > 0 && (!time_blocked || self.in_flight.values().any(|f| f.call.job == *job))
            }
            None => {
                let queue = self.queues.get(&*p.action_id);
                let held = queue.is_some_and(|q| q.held_at(self.now));
                let ahead_waits = queue
                    .and_then(|q| q.busy)
                    .is_some_and(|job| self.jobs.get(&job).is_some_and(|e| e.sending == 0));
                p.is(BATCHED) && !time_blocked && !held && !ahead_waits
            }
        }
    }

    /// Whether calls waiting to be sent wait on time: the rate window or the daily quota (until
    /// a time still to come: the last `pump` sends them once it has passed, before `wake()`
    /// clears it), or an identity backoff.
    pub(super) fn time_blocked(&self) -> bool {
        self.limiter_wake.is_some_and(|t| t > self.now) || self.auth.wake_at().is_some()
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
        self.pending.keys()
    }

    /// A `queued` outcome for an event still pending, for hosts that report progress.
    pub fn queued_outcome(&self, key: EventKey) -> Option<Outcome> {
        self.pending.get(&key).map(|p| Outcome {
            event_id: p.event_id.to_string(),
            action_id: String::from(&*p.action_id),
            status: Status::Queued,
            lead_ids: Vec::new(),
            code: None,
            message: None,
            request_id: None,
        })
    }

    /// Whether event `key` is pending and a host call waiting for it need not wait any longer
    /// (not [`Engine::awaits_answer`]): its outcome now is [`Engine::queued_outcome`]. One
    /// lookup for a batched event.
    pub fn waits_queued(&self, key: EventKey) -> bool {
        self.pending.get(&key).is_some_and(|p| p.is(BATCHED) || !self.in_progress(key))
    }

    /// Requests sent and not yet answered (identity included).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len() + usize::from(self.auth.is_fetching())
    }

    /// Events accepted and without a final outcome yet.
    pub fn pending_events(&self) -> usize {
        self.pending.len()
    }

    /// `text` without the client secret or any token issued, in any form it can take
    /// ([`crate::core::redact`]): for whatever the host shows from outside text (log entries
    /// of transport errors, messages).
    pub fn redact(&self, text: &str) -> String {
        self.auth.redact(text)
    }

    /// Hands the engine one input at the host's time `now` (epoch ms). Then drain
    /// [`Engine::poll_output`] until it returns [`Output::Timeout`].
    ///
    /// # Errors
    /// [`UsageError::UnknownAction`] for an event of an action no one configured (nothing is
    /// recorded); [`UsageError::UnknownRequest`] for an answer to a request that is not waiting
    /// for one (answered already, or given up after [`CALL_TIMEOUT_MS`]): it is ignored.
    pub fn handle_input(&mut self, now: Millis, input: Input<'_>) -> Result<Accepted, UsageError> {
        Ok(match input {
            Input::Event { action_id, event, event_id } => {
                Accepted::Event(self.handle_event(now, action_id, event, event_id.map(str::to_owned))?)
            }
            Input::UnreadableEvent { action_id, why, event_id } => Accepted::Event(
                self.handle_unreadable_event(now, action_id, why, event_id.map(str::to_owned))?,
            ),
            Input::Response { id, status, body } => {
                self.handle_response(now, id, status, body)?;
                Accepted::Nothing
            }
            Input::TransportError { id, message } => {
                self.handle_transport_error(now, id, message)?;
                Accepted::Nothing
            }
            Input::Timeout => {
                self.handle_timeout(now);
                Accepted::Nothing
            }
            Input::Flush => {
                self.flush(now);
                Accepted::Nothing
            }
            Input::Listing(kind) => Accepted::Listing(self.handle_listing(now, kind)),
            Input::Check => Accepted::Check(self.handle_check(now)),
        })
    }

    /// Whether [`Engine::poll_output`] has anything to give before its timeout: a request, an
    /// outcome, a listing or a check result.
    pub fn has_output(&self) -> bool {
        !self.requests_out.is_empty()
            || !self.outcomes_out.is_empty()
            || !self.listings_out.is_empty()
            || !self.checks_out.is_empty()
    }

    /// The next thing the host must do: requests to send first, then outcomes, listings and
    /// checks in the order they finished, and last [`Output::Timeout`] with the next wake-up.
    pub fn poll_output(&mut self) -> Output {
        if let Some(request) = self.poll_request() {
            return Output::Request(request);
        }
        if let Some((key, outcome)) = self.poll_outcome() {
            return Output::Outcome(key, outcome);
        }
        if let Some((key, result)) = self.poll_listing() {
            return Output::Listing(key, result);
        }
        if let Some((key, result)) = self.poll_check() {
            return Output::Check(key, result);
        }
        Output::Timeout(self.poll_timeout())
    }
}
