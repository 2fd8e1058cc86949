//! Which host call returns which outcome (SPEC §7), decided here so it is tested natively and
//! the binding only converts values.
//!
//! A host calls `process`, `wake`, `flush`, `staticLists` and `triggerableCampaigns`; each call
//! is a *waiter* of type `W` (in the binding, a promise's resolve and reject functions). After
//! every input to the engine, [`Reporter::step`] drains the engine's outputs and
//! says which waiters settle now, and with what:
//!
//! - `process(event)` settles with the event's final outcome, or with `queued` as soon as the
//!   event is not waiting for an answer ([`Engine::awaits_answer`]: a batched event answers
//!   `queued` at once; an event waiting for a retry, the rate window or the daily quota too);
//! - `wake()` settles at once, with what has finished, never waiting for calls in flight;
//! - `flush()` settles when every event pending at the flush is final or no longer waiting for
//!   an answer;
//! - a picker listing settles with its result, and so does `check()`.
//!
//! Every settling waiter also takes the finished outcomes no other pending `process` owns, so
//! each outcome is returned by exactly one promise. Until then an outcome is *finished but not
//! reported*: it stays in [`Reporter::snapshot`], and a restored connector hands it out first
//! ([`Reporter::restore`]). When outcomes are finished and no waiter is pending,
//! [`Reporter::wants_wake`] tells the host to call `wake()` now.

use std::collections::BTreeMap;

use litemap::LiteMap;

use super::check::CheckResult;
use super::engine::{Engine, Output};
use super::ids::{CheckKey, EventKey, ListingKey};
use super::outcome::Outcome;
use super::reason::Reason;
use super::snapshot::Snapshot;
use super::time::Millis;
use super::wire::HttpRequest;
use crate::core::listing::Named;

/// What a waiter settles with.
#[derive(Debug, PartialEq)]
pub enum Settled {
    /// Outcomes, in the order they finished (a `process` waiter's own event first).
    Outcomes(Vec<Outcome>),
    /// A picker listing's entries, or why Marketo refused it.
    Listing(Result<Vec<Named>, Reason>),
    /// A `check()`'s result.
    Check(CheckResult),
}

/// Pending host calls and the outcomes no resolved call has returned yet.
#[derive(Debug)]
pub struct Reporter<W> {
    /// `process` calls by event.
    events: BTreeMap<EventKey, W>,
    /// `wake` calls: they settle at the next collection.
    wakes: Vec<W>,
    /// `flush` calls, the events each waits for (in key order), and how many of those have been
    /// seen final or waiting on time (see [`Reporter::settle_flushes`]).
    flushes: Vec<(W, Vec<EventKey>, usize)>,
    /// Picker listings.
    listings: LiteMap<ListingKey, W>,
    /// `check()` calls.
    checks: Vec<(CheckKey, W)>,
    /// Final outcomes no settled waiter has returned, in the order they finished (`None`: a
    /// restored outcome, owned by no `process`).
    finished: Vec<(Option<EventKey>, Outcome)>,
    /// `process` calls registered since the last collection: looked at once, at the next.
    fresh: Vec<EventKey>,
    /// The engine's [`Engine::stall_epoch`] at the last full look at every waiter.
    seen_epoch: Option<u64>,
    /// Requests drained from the engine and not yet handed to the host.
    requests: Vec<HttpRequest>,
    /// The wake-up time the host last accepted (`setTimer` returned), if any.
    armed: Option<Millis>,
}

/// What the host must do after an input: send the requests, settle the waiters, and ask for a
/// wake-up at `set_timer` (when `Some`: the time asked for before, if any, no longer stands).
#[derive(Debug)]
pub struct Step<W> {
    /// Requests to send, in order.
    pub requests: Vec<HttpRequest>,
    /// Waiters that settle now, with what.
    pub settled: Vec<(W, Settled)>,
    /// Ask the host for a wake-up at this time (epoch ms); report back with
    /// [`Reporter::timer_set`].
    pub set_timer: Option<Millis>,
}

impl<W> Default for Reporter<W> {
    fn default() -> Self {
        Reporter {
            events: BTreeMap::new(),
            wakes: Vec::new(),
            flushes: Vec::new(),
            listings: LiteMap::new(),
            checks: Vec::new(),
            finished: Vec::new(),
            fresh: Vec::new(),
            seen_epoch: None,
            requests: Vec::new(),
            armed: None,
        }
    }
}

impl<W> Reporter<W> {
    /// A reporter that hands out a snapshot's finished outcomes first.
    pub fn restore(snapshot: &Snapshot) -> Reporter<W> {
        Reporter {
            finished: snapshot.finished.iter().cloned().map(|o| (None, o)).collect(),
            ..Reporter::default()
        }
    }

    /// A `process` call waiting for `key`'s outcome.
    pub fn wait_event(&mut self, key: EventKey, waiter: W) {
        self.events.insert(key, waiter);
        self.fresh.push(key);
    }

    /// Whether a `process` call for `key`, just accepted, settles with its event's `queued`
    /// outcome ([`Engine::queued_outcome`]) and nothing else, the step [`Reporter::wait_event`]
    /// needs doing nothing more; when `false`, register the waiter and step as usual. Nothing
    /// else is due when the engine has nothing to give (no request, outcome, listing or check),
    /// wants no wake-up but the one the host has, and its stall epoch has not moved; no `wake`,
    /// `flush` or unlooked-at `process` call waits, and no finished outcome waits for a taker;
    /// and the event waits in its batch or on time (not for an answer). The reporter is then
    /// left as the step would leave it.
    ///
    /// Most batched events go this way: it spares the waiter and the step, about a fifth of a
    /// small event's `process()` (README "Performance").
    pub fn settles_alone(&self, engine: &Engine, key: EventKey) -> bool {
        self.wakes.is_empty()
            && self.flushes.is_empty()
            && self.fresh.is_empty()
            && self.finished.is_empty()
            && self.requests.is_empty()
            && self.seen_epoch == Some(engine.stall_epoch())
            && !engine.has_output()
            && engine.poll_timeout().is_none_or(|at| Some(at) == self.armed)
            && engine.waits_queued(key)
    }

    /// A `wake` call: settles at the next [`Reporter::step`].
    pub fn wait_wake(&mut self, waiter: W) {
        self.wakes.push(waiter);
    }

    /// A `flush` call: waits for every event pending in `engine` now.
    pub fn wait_flush(&mut self, engine: &Engine, waiter: W) {
        self.flushes.push((waiter, engine.pending_keys().collect(), 0));
        self.seen_epoch = None; // look at it (and everything) at the next collection
    }

    /// A picker listing started under `key`.
    pub fn wait_listing(&mut self, key: ListingKey, waiter: W) {
        self.listings.insert(key, waiter);
    }

    /// A `check()` started under `key`.
    pub fn wait_check(&mut self, key: CheckKey, waiter: W) {
        self.checks.push((key, waiter));
    }

    /// One drive step after an input at `now`: every output of the engine, sorted into requests
    /// to send, waiters that settle, and the wake-up to ask for. `rearm`: ask for the wake-up
    /// even if the host accepted that time before (a `wake()` may have come early, or the host
    /// may have lost the timer). Finished outcomes no call will return ask for a wake-up now.
    pub fn step(&mut self, engine: &mut Engine, now: Millis, rearm: bool) -> Step<W> {
        let (settled, next) = self.take_in(engine);
        let next = if self.wants_wake() { Some(now) } else { next };
        let set_timer = next.filter(|at| rearm || Some(*at) != self.armed);
        Step { requests: std::mem::take(&mut self.requests), settled, set_timer }
    }

    /// The host's answer to [`Step::set_timer`]: `Some(at)` once it accepted a wake-up at `at`,
    /// `None` when it refused (threw): the next step asks again.
    pub fn timer_set(&mut self, armed: Option<Millis>) {
        self.armed = armed;
    }

    /// Every output of the engine taken in; the waiters that settle, and the next wake-up.
    ///
    /// Costs what changed, not what waits: a `process` waiter is looked at when it is new, when
    /// its event finished, or when the engine's stall epoch moved (some call now waits on
    /// time); otherwise its event is still on its way.
    fn take_in(&mut self, engine: &mut Engine) -> (Vec<(W, Settled)>, Option<Millis>) {
        let before = self.finished.len();
        let mut out = Vec::new();
        let next = loop {
            match engine.poll_output() {
                Output::Request(request) => self.requests.push(request),
                Output::Outcome(key, outcome) => self.finished.push((Some(key), outcome)),
                Output::Listing(key, result) => {
                    if let Some(w) = self.listings.remove(&key) {
                        out.push((w, Settled::Listing(result)));
                    }
                }
                Output::Check(key, result) => {
                    if let Some(i) = self.checks.iter().position(|(k, _)| *k == key) {
                        out.push((self.checks.swap_remove(i).1, Settled::Check(result)));
                    }
                }
                Output::Timeout(next) => break next,
            }
        };
        let epoch = engine.stall_epoch();
        let full = self.seen_epoch != Some(epoch);
        self.seen_epoch = Some(epoch);
        self.settle_events(engine, full, before, &mut out);
        for w in std::mem::take(&mut self.wakes) {
            out.push((w, Settled::Outcomes(self.take_unowned())));
        }
        let changed = full || self.finished.len() > before || !out.is_empty();
        self.settle_flushes(engine, changed, &mut out);
        (out, next)
    }

    /// The `process` waiters whose event is final or no longer waits for an answer settle: all
    /// of them are looked at when `full`, otherwise only new ones and those whose outcome came
    /// after `before`. The first to settle also takes the outcomes no waiter owns.
    fn settle_events(&mut self, engine: &Engine, full: bool, before: usize, out: &mut Vec<(W, Settled)>) {
        let fresh = std::mem::take(&mut self.fresh);
        let events = &self.events;
        let mut settle: Vec<EventKey> = Vec::new();
        if full {
            settle.extend(events.keys().copied().filter(|k| !engine.awaits_answer(*k)));
            settle.extend(self.finished.iter().filter_map(|(k, _)| *k).filter(|k| events.contains_key(k)));
        } else {
            settle.extend(fresh.into_iter().filter(|k| events.contains_key(k) && !engine.awaits_answer(*k)));
            let now_done = self.finished.get(before..).unwrap_or_default();
            settle.extend(now_done.iter().filter_map(|(k, _)| *k).filter(|k| events.contains_key(k)));
        }
        // Each once, in key order (which settles first takes the outcomes no waiter owns).
        settle.sort_unstable();
        settle.dedup();
        let mut first = true;
        for key in settle {
            let Some(w) = self.events.remove(&key) else { continue };
            let own = match self.finished.iter().position(|(k, _)| *k == Some(key)) {
                Some(i) => self.finished.remove(i).1,
                None => match engine.queued_outcome(key) {
                    Some(q) => q,
                    None => continue,
                },
            };
            let mut outcomes = vec![own];
            if std::mem::take(&mut first) {
                outcomes.extend(self.take_unowned());
            }
            out.push((w, Settled::Outcomes(outcomes)));
        }
    }

    /// The `flush` waiters whose events have each been seen final or waiting on time settle
    /// (looked at only when something `changed`). Each waiter's events are looked at in order
    /// from the first not yet seen so, up to the first still on its way: a look costs one event
    /// while the oldest is in flight, not every event pending (a 10,000-event backlog with a
    /// `flush()` waiting made every `process()` walk it). Before it settles, every event is
    /// looked at once more: one seen waiting on time may be on its way again (its retry went
    /// out), and the flush then waits for it.
    fn settle_flushes(&mut self, engine: &Engine, changed: bool, out: &mut Vec<(W, Settled)>) {
        let flushes = std::mem::take(&mut self.flushes);
        for (w, keys, mut seen) in flushes {
            if changed {
                while keys.get(seen).is_some_and(|k| !engine.in_progress(*k)) {
                    seen += 1;
                }
                if seen >= keys.len() {
                    // About to settle: an event seen waiting on time may be on its way again.
                    if let Some(again) = keys.iter().position(|k| engine.in_progress(*k)) {
                        seen = again;
                    }
                }
            }
            if seen >= keys.len() {
                out.push((w, Settled::Outcomes(self.take_unowned())));
            } else {
                self.flushes.push((w, keys, seen));
            }
        }
    }

    /// The finished outcomes no pending `process` waits for, removed.
    fn take_unowned(&mut self) -> Vec<Outcome> {
        if self.finished.is_empty() {
            return Vec::new(); // the common case: no allocation for nothing
        }
        let events = &self.events;
        let (owned, unowned): (Vec<_>, Vec<_>) = std::mem::take(&mut self.finished)
            .into_iter()
            .partition(|(k, _)| k.is_some_and(|k| events.contains_key(&k)));
        self.finished = owned;
        unowned.into_iter().map(|(_, o)| o).collect()
    }

    /// Whether outcomes are finished that no pending call will return: the host should call
    /// `wake()` now (the binding asks through `setTimer(now)`).
    pub fn wants_wake(&self) -> bool {
        !self.finished.is_empty()
            && self.events.is_empty()
            && self.wakes.is_empty()
            && self.flushes.is_empty()
    }

    /// Calls waiting (any kind).
    pub fn waiting(&self) -> usize {
        self.events.len() + self.wakes.len() + self.flushes.len() + self.listings.len() + self.checks.len()
    }

    /// Final outcomes not returned by any settled call yet.
    pub fn unreported(&self) -> usize {
        self.finished.len()
    }

    /// The engine's snapshot plus the outcomes finished but not yet returned: every event whose
    /// final outcome no settled call has returned.
    pub fn snapshot<'e>(&self, engine: &'e Engine) -> Snapshot<'e> {
        let mut snap = engine.snapshot();
        snap.finished = self.finished.iter().map(|(_, o)| o.clone()).collect();
        snap
    }

    /// Every pending waiter, removed (the connector is being destroyed).
    pub fn drain(&mut self) -> Vec<W> {
        let mut out: Vec<W> = std::mem::take(&mut self.events).into_values().collect();
        out.append(&mut self.wakes);
        out.extend(std::mem::take(&mut self.flushes).into_iter().map(|(w, _, _)| w));
        out.extend(std::mem::take(&mut self.listings).into_tuple_vec().into_iter().map(|(_, w)| w));
        out.extend(std::mem::take(&mut self.checks).into_iter().map(|(_, w)| w));
        out
    }
}
