//! When the engine next needs the host to wake it: a table of the engine's timers, one slot per
//! kind (the shape of quinn-proto's `TimerTable`), each holding the earliest time its kind is
//! due. The next wake-up is the earliest slot.

use crate::core::batch::Queue;
use crate::core::time::Millis;

use super::state::Engine;

/// The kinds of time the engine waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// A restored engine sends nothing before the host's next input: it asks for one now.
    Restored,
    /// A call waits for its retry time or its delay (bulk polling).
    Retry,
    /// A batch reaches its age threshold (SPEC §4).
    BatchAge,
    /// A call in flight reaches [`CALL_TIMEOUT_MS`](super::CALL_TIMEOUT_MS).
    CallTimeout,
    /// The identity call reaches its timeout.
    IdentityTimeout,
    /// Calls held by the rate window, concurrency or daily quota may go.
    Limiter,
    /// Calls held by an identity backoff may go.
    IdentityBackoff,
}

/// Every timer kind's earliest due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timers {
    slots: [Option<Millis>; 7],
}

impl Timers {
    fn slot(timer: Timer) -> usize {
        timer as usize
    }

    /// Sets `timer` to `at` unless it is due earlier already.
    pub fn set(&mut self, timer: Timer, at: Millis) {
        if let Some(slot) = self.slots.get_mut(Timers::slot(timer)) {
            *slot = Some(slot.map_or(at, |t| t.min(at)));
        }
    }

    /// When `timer` is due, if it is set.
    pub fn get(&self, timer: Timer) -> Option<Millis> {
        self.slots.get(Timers::slot(timer)).copied().flatten()
    }

    /// The earliest due time of any timer.
    pub fn next(&self) -> Option<Millis> {
        self.slots.iter().flatten().copied().min()
    }
}

impl Engine {
    /// Every timer the engine has, by kind.
    pub fn timers(&self) -> Timers {
        let mut t = Timers::default();
        if self.needs_pump {
            t.set(Timer::Restored, self.now);
        }
        self.delayed.iter().for_each(|(at, _)| t.set(Timer::Retry, *at));
        self.queues.values().filter_map(Queue::deadline).for_each(|at| t.set(Timer::BatchAge, at));
        // A batch held after a restore goes when the hold ends (only one is waiting to go).
        self.queues
            .values()
            .filter(|q| q.busy.is_none() && !q.is_empty())
            .filter_map(|q| q.held_until)
            .for_each(|at| t.set(Timer::BatchAge, at));
        self.in_flight.values().for_each(|f| t.set(Timer::CallTimeout, f.deadline));
        if let Some((_, at)) = self.identity_deadline {
            t.set(Timer::IdentityTimeout, at);
        }
        if !self.ready.is_empty() || !self.follow.is_empty() {
            if let Some(at) = self.limiter_wake {
                t.set(Timer::Limiter, at);
            }
            if let Some(at) = self.auth.wake_at() {
                t.set(Timer::IdentityBackoff, at);
            }
        }
        t
    }

    /// When to give [`Input::Timeout`](super::Input::Timeout) next; `None` when nothing waits
    /// on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let timers = self.timers();
        // A restored engine wants the host's next input before anything else.
        timers.get(Timer::Restored).or_else(|| timers.next())
    }
}
