//! Batching (SPEC §4): a queue per batched action collects events and seals a batch when any
//! threshold is reached — event count, age of the oldest event, or the bytes the batch will
//! send — or when the host flushes. Sealed batches of one action go out one after the other,
//! so a lead's operations within an action keep their order.

use crate::core::ids::JobId;
use std::collections::VecDeque;

use super::time::Millis;

/// When a queue is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Events per batch.
    pub max_events: usize,
    /// Age of the oldest queued event.
    pub max_age_ms: Millis,
    /// Bytes the batch's items add to what is sent (bodies, or the bulk file).
    pub max_bytes: usize,
}

/// The three `…Batched` actions: 300 events, 30 minutes, 1 MB.
pub const BATCHED: Thresholds =
    Thresholds { max_events: 300, max_age_ms: 30 * 60 * 1000, max_bytes: 1_048_576 };

/// `bulkImportLeads`: 25,000 events, 30 minutes, 10 MB.
pub const BULK: Thresholds =
    Thresholds { max_events: 25_000, max_age_ms: 30 * 60 * 1000, max_bytes: 10_485_760 };

/// One action's queue.
#[derive(Debug, Clone)]
pub struct Queue<T> {
    limits: Thresholds,
    /// Bytes every batch carries besides its items (the body's envelope, the CSV header…).
    overhead: usize,
    open: Vec<T>,
    bytes: usize,
    oldest: Option<Millis>,
    sealed: VecDeque<Vec<T>>,
    /// The job delivering this action's previous batch, while it runs.
    pub busy: Option<JobId>,
    /// Restored while a batch of this action was in flight in the previous instance: Marketo
    /// may still be running that call until this time (its own timeout), so no batch goes
    /// before it (a later update of a lead must not land before that call does).
    pub held_until: Option<Millis>,
}

impl<T> Queue<T> {
    /// An empty queue.
    pub fn new(limits: Thresholds, overhead: usize) -> Queue<T> {
        Queue {
            limits,
            overhead,
            open: Vec::new(),
            bytes: 0,
            oldest: None,
            sealed: VecDeque::new(),
            busy: None,
            held_until: None,
        }
    }

    /// Adds an item of `size` bytes. A batch never grows past `max_bytes`: an item that would
    /// overflow it seals the batch before it and starts the next.
    pub fn push(&mut self, now: Millis, item: T, size: usize) {
        if !self.open.is_empty() && self.overhead + self.bytes + size > self.limits.max_bytes {
            self.seal();
        }
        if self.open.len() == self.open.capacity() {
            // Doubling, but never past the batch's event count: a bulk queue sealed at 25,000
            // items would otherwise hold room for 32,768 (185 KB of wasm memory unused).
            let room = self.limits.max_events.saturating_sub(self.open.len()).max(1);
            self.open.reserve_exact(self.open.capacity().max(4).min(room));
        }
        self.open.push(item);
        self.bytes += size;
        self.oldest.get_or_insert(now);
        if self.open.len() >= self.limits.max_events || self.overhead + self.bytes >= self.limits.max_bytes {
            self.seal();
        }
    }

    /// Seals the open batch (flush).
    pub fn seal(&mut self) {
        if !self.open.is_empty() {
            self.sealed.push_back(std::mem::take(&mut self.open));
            self.bytes = 0;
            self.oldest = None;
        }
    }

    /// Seals the open batch if its oldest event has waited `max_age_ms`.
    pub fn seal_if_due(&mut self, now: Millis) {
        if self.deadline().is_some_and(|d| now >= d) {
            self.seal();
        }
    }

    /// The host clock stepped back to `now`: an arrival recorded later counts as `now`, so
    /// the age limit is not pushed back by the step.
    pub fn arrived_by(&mut self, now: Millis) {
        if let Some(t) = &mut self.oldest {
            *t = (*t).min(now);
        }
    }

    /// When the open batch must be sent at the latest.
    pub fn deadline(&self) -> Option<Millis> {
        self.oldest.map(|t| t.saturating_add(self.limits.max_age_ms))
    }

    /// The next sealed batch at `now`, if the previous one is done (and, after a restore, the
    /// previous instance's may be: [`Queue::held_until`]).
    pub fn take_ready(&mut self, now: Millis) -> Option<Vec<T>> {
        if self.busy.is_some() || self.held_at(now) {
            return None;
        }
        self.held_until = None;
        self.sealed.pop_front()
    }

    /// Whether a restore still holds this queue at `now` ([`Queue::held_until`]).
    pub fn held_at(&self, now: Millis) -> bool {
        self.held_until.is_some_and(|t| now < t)
    }

    /// The items of the sealed batches (closed, waiting to go out).
    pub fn sealed_items(&self) -> impl Iterator<Item = &T> {
        self.sealed.iter().flatten()
    }

    /// Items queued, open and sealed.
    pub fn len(&self) -> usize {
        self.open.len() + self.sealed.iter().map(Vec::len).sum::<usize>()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every queued item, sealed batches first (for snapshots).
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.sealed.iter().flatten().chain(self.open.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Thresholds = Thresholds { max_events: 3, max_age_ms: 1_000, max_bytes: 100 };

    #[test]
    fn count_threshold_seals_at_exactly_max_events() {
        let mut q = Queue::new(SMALL, 0);
        q.push(0, 'a', 1);
        q.push(0, 'b', 1);
        assert_eq!(q.take_ready(0), None);
        q.push(0, 'c', 1);
        assert_eq!(q.take_ready(0), Some(vec!['a', 'b', 'c']));
        assert!(q.is_empty());
    }

    #[test]
    fn age_threshold_is_measured_from_the_oldest_event() {
        let mut q = Queue::new(SMALL, 0);
        q.push(10, 'a', 1);
        q.push(500, 'b', 1);
        assert_eq!(q.deadline(), Some(1_010));
        q.seal_if_due(1_009);
        assert_eq!(q.take_ready(0), None);
        q.seal_if_due(1_010);
        assert_eq!(q.take_ready(0), Some(vec!['a', 'b']));
        assert_eq!(q.deadline(), None);
    }

    #[test]
    fn bytes_never_exceed_the_limit_with_overhead() {
        let mut q = Queue::new(SMALL, 20);
        q.push(0, 'a', 40);
        q.push(0, 'b', 41); // 20 + 40 + 41 = 101 > 100: 'a' goes alone
        assert_eq!(q.take_ready(0), Some(vec!['a']));
        q.push(0, 'c', 39); // 20 + 41 + 39 = 100: exactly full, sealed
        assert_eq!(q.take_ready(0), Some(vec!['b', 'c']));
    }

    #[test]
    fn batches_of_one_action_go_one_after_the_other() {
        let mut q = Queue::new(SMALL, 0);
        for c in ['a', 'b', 'c', 'd', 'e', 'f'] {
            q.push(0, c, 1);
        }
        q.busy = Some(JobId(1));
        assert_eq!(q.take_ready(0), None);
        q.busy = None;
        assert_eq!(q.take_ready(0), Some(vec!['a', 'b', 'c']));
        assert_eq!(q.items().count(), 3);
    }

    #[test]
    fn a_held_queue_sends_nothing_before_the_hold_ends() {
        let mut q = Queue::new(SMALL, 0);
        for c in ['a', 'b', 'c'] {
            q.push(0, c, 1);
        }
        q.held_until = Some(90_000);
        assert_eq!(q.take_ready(89_999), None);
        assert_eq!(q.take_ready(90_000), Some(vec!['a', 'b', 'c']));
        assert_eq!(q.held_until, None, "the hold is over");
    }
}
