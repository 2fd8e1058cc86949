//! The engine's state: every field the input and output halves share, and the limits it keeps.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use litemap::LiteMap;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::core::auth::Auth;
use crate::core::batch::Queue;
use crate::core::cache::LeadCache;
use crate::core::check::CheckResult;
use crate::core::config::FilterType;
use crate::core::config::Settings;
use crate::core::ids::{CheckKey, EventKey, EventKeys, JobId, ListingKey, RequestId};
use crate::core::job::{CallSpec, Delivery, EventRef, Prepared};
use crate::core::limits::Limiter;
use crate::core::listing::Named;
use crate::core::outcome::Outcome;
use crate::core::pace::PaceStats;
use crate::core::reason::Reason;
use crate::core::retry::Jitter;
use crate::core::schema::SchemaSlot;
use crate::core::time::Millis;
use crate::core::wire::HttpRequest;

use super::pending::{Arrived, PendingTable};

/// Waits for a full bulk import queue before its events fail (about 75 minutes at the 120 s
/// backoff cap): the queue drains at Marketo's pace, not ours.
pub(super) const MAX_QUEUE_ATTEMPTS: u32 = 40;

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
pub(super) struct Call {
    pub(super) job: JobId,
    pub(super) spec: CallSpec,
    /// Attempts made so far.
    pub(super) attempts: u32,
    /// Token refreshes made for this call (601/602).
    pub(super) refreshes: u32,
    /// Waits for a full bulk import queue (1016/1019/1029), beyond the ordinary attempts.
    pub(super) queue_waits: u32,
    /// Refused with 606/615 since (host time), and how many times: such refusals cost no
    /// attempt and are bounded by `limits.deliveryDeadlineMs` instead.
    pub(super) rate_limited: Option<(Millis, u32)>,
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) call: Call,
    pub(super) token: String,
    pub(super) deadline: Millis,
}

#[derive(Debug)]
pub(super) struct JobEntry {
    pub(super) job: Box<dyn Delivery>,
    /// Calls issued and not yet finally answered.
    pub(super) outstanding: usize,
    /// Of those, the calls in flight or waiting to be sent (not waiting for a retry time).
    pub(super) sending: usize,
    /// Whether Marketo has answered one of its calls: its next calls go before new jobs' first
    /// calls, so work already started finishes first (a restore restarts every job at once).
    pub(super) started: bool,
    /// The lookup type of a list job, for the lead cache.
    pub(super) lookup: Option<FilterType>,
    /// The events it delivers.
    pub(super) events: EventKeys,
}

/// One event without its final outcome: 40 bytes in wasm (a queue of 25,000 bulk rows holds
/// 25,000), so its id is a boxed text, not a `String`, and its flags share a word with its job.
#[derive(Debug)]
pub(super) struct PendingEvent {
    pub(super) event_id: Box<str>,
    /// Shared by the action's pending events ([`Engine::shared_action_id`]), not copied per event.
    pub(super) action_id: Arc<str>,
    /// The event, as its compact JSON text: a fraction of the memory of a parsed tree, written
    /// into snapshots as it is, parsed again only when it must be prepared again. `None` once
    /// its family keeps it only as its prepared item ([`crate::core::job::Family::keeps_item_only`]):
    /// a snapshot then writes it from that item.
    pub(super) event: Option<Box<RawValue>>,
    pub(super) accepted_at: Millis,
    /// The id of the job delivering it while it runs (the schema read's while it waits for the
    /// field types, so it counts as in progress; 0 for none, as job ids start at 1) in the low
    /// 61 bits, and the flags [`BATCHED`], [`REPLAYED`] and [`UNFORMATTED`] in the top three.
    /// See [`Self::job`].
    job_and_flags: u64,
}

/// Its action queues events (a `…Batched` action or bulk import).
pub(super) const BATCHED: u64 = 1 << 63;
/// Restored while a call for it was in flight: the call may have been applied already.
pub(super) const REPLAYED: u64 = 1 << 62;
/// Queued, prepared before the schema was known: formatted again when its batch is sent (from
/// its text, which it keeps meanwhile).
pub(super) const UNFORMATTED: u64 = 1 << 61;
/// The bits of [`PendingEvent`]'s word that hold its job's id (an engine starting a job every
/// microsecond would take 73,000 years to need more).
const JOB_BITS: u64 = UNFORMATTED - 1;

// The size the layout above is for: a build that grows it fails here, not in the memory budget.
#[cfg(target_arch = "wasm32")]
const _: () = assert!(std::mem::size_of::<PendingEvent>() == 40);

impl Arrived for PendingEvent {
    fn arrived(&self) -> Millis {
        self.accepted_at
    }
}

impl PendingEvent {
    /// An event with no job yet, and `flags` ([`BATCHED`], [`REPLAYED`]) set.
    pub(super) fn new(
        event_id: Box<str>,
        action_id: Arc<str>,
        event: Option<Box<RawValue>>,
        accepted_at: Millis,
        flags: u64,
    ) -> PendingEvent {
        PendingEvent { event_id, action_id, event, accepted_at, job_and_flags: flags & !JOB_BITS }
    }

    /// The job delivering it, if one is.
    pub(super) fn job(&self) -> Option<JobId> {
        let job = self.job_and_flags & JOB_BITS;
        (job != 0).then_some(JobId(job))
    }

    /// Records the job delivering it (`None`: none now).
    pub(super) fn set_job(&mut self, job: Option<JobId>) {
        let id = job.map_or(0, |j| j.0) & JOB_BITS;
        self.job_and_flags = (self.job_and_flags & !JOB_BITS) | id;
    }

    /// Whether `flag` ([`BATCHED`], [`REPLAYED`], [`UNFORMATTED`]) is set.
    pub(super) fn is(&self, flag: u64) -> bool {
        self.job_and_flags & flag & !JOB_BITS != 0
    }

    /// Whether `flag` was set; it is not now.
    pub(super) fn take(&mut self, flag: u64) -> bool {
        let was = self.is(flag);
        self.set(flag, false);
        was
    }

    /// Sets `flag` to `on`.
    pub(super) fn set(&mut self, flag: u64, on: bool) {
        let flag = flag & !JOB_BITS;
        self.job_and_flags = if on { self.job_and_flags | flag } else { self.job_and_flags & !flag };
    }
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
    pub queues: LiteMap<String, u64>,
    /// The age of the oldest event without a final outcome at the time asked for (see
    /// [`Engine::stats_at`]); `None` when there is none.
    pub oldest_queued_age_ms: Option<Millis>,
}

/// The connector's state machine.
#[derive(Debug)]
pub struct Engine {
    pub(super) settings: Arc<Settings>,
    pub(super) auth: Auth,
    pub(super) limiter: Limiter,
    pub(super) jitter: Jitter,
    pub(super) jobs: BTreeMap<JobId, JobEntry>,
    /// First calls of new jobs waiting to be sent, in order.
    pub(super) ready: VecDeque<Call>,
    /// Calls of jobs already started (and retries) waiting to be sent: they go first.
    pub(super) follow: VecDeque<Call>,
    /// Calls waiting for a retry time, in time order (`Engine::delay`).
    pub(super) delayed: Vec<(Millis, Call)>,
    pub(super) in_flight: LiteMap<RequestId, InFlight>,
    pub(super) identity_deadline: Option<(RequestId, Millis)>,
    /// Wake-up for calls held back by the limiter's window or quota.
    pub(super) limiter_wake: Option<Millis>,
    pub(super) pending: PendingTable<PendingEvent>,
    /// `pending` counted by action id (the earliest arrival is the table's own): `stats()` is
    /// called often (a progress line per event) and must not walk every pending event.
    /// (A list: a connector has a few actions; the id is the one its pending events share.)
    pub(super) pending_by_action: Vec<(Arc<str>, u64)>,
    pub(super) requests_out: VecDeque<HttpRequest>,
    pub(super) outcomes_out: VecDeque<(EventKey, Outcome)>,
    pub(super) listings_out: VecDeque<(ListingKey, Result<Vec<Named>, Reason>)>,
    /// Listing job → its key.
    pub(super) listing_jobs: LiteMap<JobId, ListingKey>,
    pub(super) next_listing: u64,
    /// Batched actions' queues, by action id.
    pub(super) queues: LiteMap<String, Queue<(EventRef, Prepared)>>,
    pub(super) cache: LeadCache,
    pub(super) next_request: u32,
    pub(super) next_job: u64,
    pub(super) next_event: u64,
    pub(super) event_prefix: String,
    /// The last accepted host time.
    pub(super) now: Millis,
    /// A reading far ahead of `now`, held until the next reading confirms it.
    pub(super) suspect_now: Option<Millis>,
    /// Restored and not yet driven: nothing is sent before the host's next input.
    pub(super) needs_pump: bool,
    /// Rises whenever an event may have stopped being [`Engine::in_progress`] other than by
    /// finishing (a call waits for a retry time, the limiter or an identity backoff holds
    /// calls): see [`Engine::stall_epoch`].
    pub(super) epoch: u64,
    /// This connector's identity (kept across restores) and its restore count.
    pub(super) id: String,
    pub(super) generation: u64,
    pub(super) stats: Stats,
    /// The lead schema (README "Field types"), read lazily, and the work waiting for it.
    pub(super) schema: SchemaSlot,
    /// Events waiting for the schema before they are formatted (their
    /// [`PendingEvent::job`] the schema read's meanwhile, so they count as in progress).
    pub(super) parked: Vec<EventKey>,
    /// Batches due while the schema is being read, by action id.
    pub(super) held: Vec<(String, Vec<(EventRef, Prepared)>)>,
    /// Warnings for events (values cut to their field's length), attached to their outcome.
    pub(super) notes: Vec<(EventKey, String)>,
    /// `check()`s waiting for the schema; check jobs by job id; finished checks.
    pub(super) checks_waiting: Vec<CheckKey>,
    pub(super) check_jobs: Vec<(JobId, CheckKey)>,
    pub(super) checks_out: VecDeque<(CheckKey, CheckResult)>,
    pub(super) next_check: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_event_keeps_its_job_and_flags_apart() {
        let mut p = PendingEvent::new("e1".into(), Arc::from("a"), None, 5, BATCHED | 7);
        assert!(p.is(BATCHED) && !p.is(REPLAYED) && !p.is(UNFORMATTED));
        assert_eq!(p.job(), None, "bits of `flags` below the flags are not a job");
        p.set_job(Some(JobId(JOB_BITS)));
        p.set(UNFORMATTED, true);
        assert_eq!(p.job(), Some(JobId(JOB_BITS)));
        assert!(p.is(BATCHED) && p.is(UNFORMATTED) && !p.is(REPLAYED));
        p.set(BATCHED, false);
        p.set_job(None);
        assert!(!p.is(BATCHED) && p.is(UNFORMATTED));
        assert_eq!(p.job(), None);
        p.set_job(Some(JobId(42)));
        p.set(UNFORMATTED, false);
        assert_eq!((p.job(), p.is(UNFORMATTED)), (Some(JobId(42)), false));
    }
}
