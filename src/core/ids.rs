//! The identifiers every layer shares, as newtypes so one cannot be passed for another. They
//! sit at the bottom of the core: nothing here imports anything of the connector.

/// Identifies one accepted event inside an engine (not the user's event id: two events may
/// share that). Keys are never reused by one engine, nor across its snapshots and restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey(pub u64);

/// Identifies a picker listing started with [`Input::Listing`](crate::core::Input::Listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListingKey(pub u64);

/// Identifies a `check()` started with [`Input::Check`](crate::core::Input::Check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckKey(pub u64);

/// Identifies one job inside an engine: a set of events delivered together through a sequence
/// of Marketo calls (a batch, a bulk import, a merge), or a read (schema, picker, check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u64);

/// Identifies one HTTP request the engine asked the host to send; the host hands it back with
/// the answer. Unique within an engine and its restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A job's own tag for one of its calls (which phase it belongs to), handed back with the
/// answer. Each job defines its steps; the engine never reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step(pub u32);

/// The events of a job, in order, kept small: as runs of consecutive keys when that is smaller
/// than the list (events that arrived one after the other for one action, such as a bulk
/// import's 25,000 rows fed by one source, are one run instead of 200 KB of keys), else as the
/// list itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKeys {
    /// `(first key, how many)` for each run of consecutive keys.
    Runs(Vec<(u64, u32)>),
    /// The keys.
    List(Vec<EventKey>),
}

impl Default for EventKeys {
    fn default() -> EventKeys {
        EventKeys::Runs(Vec::new())
    }
}

impl EventKeys {
    /// The keys, in order.
    pub fn iter(&self) -> EventKeysIter<'_> {
        match self {
            EventKeys::Runs(runs) => EventKeysIter { runs, list: &[], next: 0 },
            EventKeys::List(list) => EventKeysIter { runs: &[], list, next: 0 },
        }
    }

    /// Adds `key` after the others (a run of one, extending the last run when it follows it).
    fn push(runs: &mut Vec<(u64, u32)>, EventKey(key): EventKey) {
        match runs.last_mut() {
            Some((first, n)) if first.checked_add(u64::from(*n)) == Some(key) && *n < u32::MAX => *n += 1,
            _ => runs.push((key, 1)),
        }
    }

    /// `runs` of `count` keys, as the smaller of runs and list.
    fn finish(mut runs: Vec<(u64, u32)>, count: usize) -> EventKeys {
        // A run takes two keys' room: a list is smaller once runs average under two keys.
        if runs.len().saturating_mul(2) > count {
            let list = EventKeys::Runs(runs).iter().collect();
            return EventKeys::List(list);
        }
        runs.shrink_to_fit();
        EventKeys::Runs(runs)
    }
}

/// [`EventKeys::iter`].
#[derive(Debug, Clone)]
pub struct EventKeysIter<'a> {
    runs: &'a [(u64, u32)],
    list: &'a [EventKey],
    /// Keys of the first run already given.
    next: u32,
}

impl Iterator for EventKeysIter<'_> {
    type Item = EventKey;

    fn next(&mut self) -> Option<EventKey> {
        if let Some((&(first, n), rest)) = self.runs.split_first() {
            let key = EventKey(first.wrapping_add(u64::from(self.next)));
            self.next += 1;
            if self.next >= n {
                (self.runs, self.next) = (rest, 0);
            }
            return Some(key);
        }
        let (&key, rest) = self.list.split_first()?;
        self.list = rest;
        Some(key)
    }
}

impl FromIterator<EventKey> for EventKeys {
    fn from_iter<I: IntoIterator<Item = EventKey>>(keys: I) -> EventKeys {
        let (mut runs, mut count) = (Vec::new(), 0);
        for key in keys {
            EventKeys::push(&mut runs, key);
            count += 1;
        }
        EventKeys::finish(runs, count)
    }
}

impl From<Vec<EventKey>> for EventKeys {
    fn from(keys: Vec<EventKey>) -> EventKeys {
        keys.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[u64]) -> Vec<EventKey> {
        ks.iter().map(|&k| EventKey(k)).collect()
    }

    #[test]
    fn event_keys_keep_their_order_and_runs_when_smaller() {
        let run: EventKeys = keys(&[5, 6, 7, 8, 20, 21]).into();
        assert_eq!(run, EventKeys::Runs(vec![(5, 4), (20, 2)]));
        assert_eq!(run.iter().collect::<Vec<_>>(), keys(&[5, 6, 7, 8, 20, 21]));
        // Scattered keys: the list (runs would take twice its room).
        let scattered: EventKeys = keys(&[9, 3, 4, 11]).into();
        assert_eq!(scattered, EventKeys::List(keys(&[9, 3, 4, 11])));
        assert_eq!(scattered.iter().collect::<Vec<_>>(), keys(&[9, 3, 4, 11]));
        // Out of order is never merged into a run; the last key does not wrap around.
        let odd: EventKeys = keys(&[u64::MAX, 0, 2, 1]).into();
        assert_eq!(odd.iter().collect::<Vec<_>>(), keys(&[u64::MAX, 0, 2, 1]));
        assert_eq!(EventKeys::from(Vec::new()).iter().count(), 0);
        let many: EventKeys = (0..25_000).map(EventKey).collect();
        assert_eq!(many, EventKeys::Runs(vec![(0, 25_000)]));
    }
}
