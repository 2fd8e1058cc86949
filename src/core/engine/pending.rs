//! The engine's pending events by key ([`PendingTable`]): a map from [`EventKey`] to each event
//! still without its final outcome, held in chunks of consecutive keys.
//!
//! Why not a `BTreeMap`: the engine hands out keys in increasing order, and a B-tree filled in
//! increasing order splits each full node in two and never fills the left half again, so its
//! nodes stay about half full: a pending event cost about 1.9× its own size (measured with a
//! counting allocator: 166 bytes per 88-byte entry for 25,000 keys inserted in order). Here a
//! chunk holds the slots of 64 consecutive keys, so a queue of events filled in order costs
//! their own size, plus one map entry per 64 keys; a chunk is freed when its last event leaves.
//! Lookups index the slot directly once the chunk is found (a search over chunk numbers, 64
//! times fewer than keys). Keys need not be dense (a snapshot may hold any keys): a key costs
//! at most a chunk of its own.
//!
//! The table also answers what `stats()` reports, the earliest arrival among its values
//! ([`PendingTable::oldest`]), without a second ordered set of every event (which cost about
//! 34 more bytes per event, for the same reason): each chunk keeps the earliest arrival among
//! its values, and a small set orders the chunks by it. Arrivals are not in key order in
//! general (a restore readmits events in an order of its own), so the set is needed.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::ids::EventKey;
use crate::core::time::Millis;

/// Consecutive keys per chunk.
const CHUNK: u64 = 64;

/// A value with the time it arrived, the earliest of which [`PendingTable::oldest`] reports.
pub(crate) trait Arrived {
    /// When it arrived (host time, ms).
    fn arrived(&self) -> Millis;
}

/// A map from [`EventKey`] to `T`, iterated in key order (see the module docs). A value's
/// arrival time must not change while it is held, except through [`PendingTable::update_all`].
#[derive(Debug)]
pub(crate) struct PendingTable<T> {
    /// Chunk number (`key / CHUNK`) → the slots of its keys. Never holds an empty chunk.
    chunks: BTreeMap<u64, Box<Chunk<T>>>,
    /// `(earliest arrival in the chunk, chunk number)`, one for each chunk.
    by_arrival: BTreeSet<(Millis, u64)>,
    /// Values held.
    len: usize,
}

#[derive(Debug)]
struct Chunk<T> {
    /// Slots in use.
    live: u32,
    /// The earliest arrival among its values.
    oldest: Millis,
    /// The value of key `number * CHUNK + i` at `i`.
    slots: [Option<T>; CHUNK as usize],
}

impl<T: Arrived> Chunk<T> {
    /// The earliest arrival among its values (`Millis::MAX` for none).
    fn earliest(&self) -> Millis {
        self.slots.iter().flatten().map(Arrived::arrived).min().unwrap_or(Millis::MAX)
    }
}

/// Where `key` lives: its chunk number and its slot in the chunk.
fn place(key: EventKey) -> (u64, usize) {
    // `key % CHUNK` is below 64, so the cast keeps it whole.
    (key.0 / CHUNK, (key.0 % CHUNK) as usize)
}

impl<T> Default for PendingTable<T> {
    fn default() -> Self {
        PendingTable { chunks: BTreeMap::new(), by_arrival: BTreeSet::new(), len: 0 }
    }
}

impl<T: Arrived> PendingTable<T> {
    /// The value of `key`.
    pub fn get(&self, key: &EventKey) -> Option<&T> {
        let (chunk, slot) = place(*key);
        self.chunks.get(&chunk)?.slots.get(slot)?.as_ref()
    }

    /// The value of `key`, to change (but not its arrival time).
    pub fn get_mut(&mut self, key: &EventKey) -> Option<&mut T> {
        let (chunk, slot) = place(*key);
        self.chunks.get_mut(&chunk)?.slots.get_mut(slot)?.as_mut()
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &EventKey) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`'s value; the value it had, if any.
    pub fn insert(&mut self, key: EventKey, value: T) -> Option<T> {
        let (number, slot) = place(key);
        let chunk = self.chunks.entry(number).or_insert_with(|| {
            Box::new(Chunk { live: 0, oldest: Millis::MAX, slots: std::array::from_fn(|_| None) })
        });
        let arrived = value.arrived();
        let old = chunk.slots.get_mut(slot)?.replace(value);
        if old.is_none() {
            chunk.live += 1;
            self.len += 1;
        }
        let was = chunk.oldest;
        // A value replaced may have been the earliest.
        let now = match &old {
            Some(o) if o.arrived() == was => chunk.earliest(),
            _ => was.min(arrived),
        };
        chunk.oldest = now;
        // A new chunk is not in `by_arrival` yet.
        if now != was || chunk.live == 1 {
            self.by_arrival.remove(&(was, number));
            self.by_arrival.insert((now, number));
        }
        old
    }

    /// Takes `key`'s value out; its chunk goes with its last value.
    pub fn remove(&mut self, key: &EventKey) -> Option<T> {
        let (number, slot) = place(*key);
        let chunk = self.chunks.get_mut(&number)?;
        let old = chunk.slots.get_mut(slot)?.take()?;
        chunk.live = chunk.live.saturating_sub(1);
        self.len = self.len.saturating_sub(1);
        let was = chunk.oldest;
        if chunk.live == 0 {
            self.chunks.remove(&number);
            self.by_arrival.remove(&(was, number));
        } else if old.arrived() == was {
            let now = chunk.earliest();
            chunk.oldest = now;
            if now != was {
                self.by_arrival.remove(&(was, number));
                self.by_arrival.insert((now, number));
            }
        }
        Some(old)
    }

    /// The earliest arrival among the values ([`Arrived::arrived`]); `None` when empty.
    pub fn oldest(&self) -> Option<Millis> {
        self.by_arrival.first().map(|(at, _)| *at)
    }

    /// Changes every value with `change`, which may change their arrival times.
    pub fn update_all(&mut self, mut change: impl FnMut(&mut T)) {
        self.by_arrival.clear();
        for (number, chunk) in self.chunks.iter_mut() {
            chunk.slots.iter_mut().flatten().for_each(&mut change);
            chunk.oldest = chunk.earliest();
            self.by_arrival.insert((chunk.oldest, *number));
        }
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Each key and its value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (EventKey, &T)> {
        self.chunks.iter().flat_map(|(number, chunk)| {
            let base = number * CHUNK;
            // `base + i` stays within u64: `base` is a multiple of 64 and `i` below 64.
            (0..CHUNK)
                .zip(chunk.slots.iter())
                .filter_map(move |(i, slot)| slot.as_ref().map(|v| (EventKey(base + i), v)))
        })
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = EventKey> + '_ {
        self.iter().map(|(key, _)| key)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value in tests: its arrival time, and a counter to change.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct V {
        at: Millis,
        n: u32,
    }

    impl Arrived for V {
        fn arrived(&self) -> Millis {
            self.at
        }
    }

    const fn v(at: Millis) -> V {
        V { at, n: 0 }
    }

    #[test]
    fn keys_far_apart_and_at_the_ends_of_the_range_each_take_a_chunk() {
        let mut t = PendingTable::default();
        for k in [u64::MAX, 0, 63, 64, 1 << 40, u64::MAX - 1] {
            assert_eq!(t.insert(EventKey(k), v(k % 1000)), None);
        }
        assert_eq!(t.len(), 6);
        assert_eq!(t.chunks.len(), 4);
        let keys: Vec<u64> = t.keys().map(|k| k.0).collect();
        assert_eq!(keys, vec![0, 63, 64, 1 << 40, u64::MAX - 1, u64::MAX]);
        assert_eq!(t.oldest(), Some(0));
        assert_eq!(t.insert(EventKey(63), v(7)), Some(v(63)));
        assert_eq!(t.remove(&EventKey(0)), Some(v(0)));
        assert_eq!(t.oldest(), Some(7));
        assert_eq!(t.remove(&EventKey(63)), Some(v(7)));
        assert_eq!(t.chunks.len(), 3, "a chunk goes with its last value");
        assert_eq!(t.remove(&EventKey(63)), None);
        assert_eq!(t.len(), 4);
        assert_eq!(t.oldest(), Some(64));
        t.update_all(|x| x.at = x.at.min(10));
        assert_eq!(t.oldest(), Some(10));
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Any sequence of inserts, removals, changes and arrival updates leaves the table
        /// holding what a `BTreeMap` would, in the same order, reporting the earliest arrival,
        /// with no empty chunk kept.
        #[test]
        fn the_table_holds_what_a_btreemap_holds(
            ops in proptest::collection::vec((0u8..5, 0u64..300, 0u64..50), 0..400)
        ) {
            let mut table = PendingTable::default();
            let mut oracle = BTreeMap::new();
            for (op, key, at) in ops {
                let key = if op == 3 { key * 1_000_003 } else { key };
                match op {
                    0 | 3 => proptest::prop_assert_eq!(table.insert(EventKey(key), v(at)), oracle.insert(key, v(at))),
                    1 => proptest::prop_assert_eq!(table.remove(&EventKey(key)), oracle.remove(&key)),
                    2 => {
                        if let Some(x) = table.get_mut(&EventKey(key)) {
                            x.n += 1;
                        }
                        if let Some(x) = oracle.get_mut(&key) {
                            x.n += 1;
                        }
                    }
                    _ => {
                        table.update_all(|x| x.at = x.at.min(at));
                        oracle.values_mut().for_each(|x| x.at = x.at.min(at));
                    }
                }
                proptest::prop_assert_eq!(table.get(&EventKey(key)), oracle.get(&key));
                proptest::prop_assert_eq!(table.contains_key(&EventKey(key)), oracle.contains_key(&key));
                proptest::prop_assert_eq!(table.oldest(), oracle.values().map(|x| x.at).min());
            }
            proptest::prop_assert_eq!(table.len(), oracle.len());
            let held: Vec<(u64, V)> = table.iter().map(|(k, x)| (k.0, *x)).collect();
            let want: Vec<(u64, V)> = oracle.iter().map(|(k, x)| (*k, *x)).collect();
            proptest::prop_assert_eq!(held, want);
            proptest::prop_assert_eq!(table.values().count(), oracle.len());
            proptest::prop_assert!(table.chunks.values().all(|c| c.live > 0 && c.slots.iter().flatten().count() == c.live as usize));
            proptest::prop_assert_eq!(table.by_arrival.len(), table.chunks.len());
        }
    }
}
