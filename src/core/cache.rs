//! The lead-id cache: lookup (filter type, value) → lead ids, so the same person looked up
//! again costs no call. Bounded (oldest entries go first) and with a time to live, since leads
//! are merged, deleted and created in Marketo behind the connector's back. Entries naming an id
//! Marketo reports as gone (1004) are dropped.

use std::collections::{BTreeMap, VecDeque};

use super::time::Millis;
use crate::core::config::FilterType;

/// How long a looked-up id is trusted.
pub const TTL_MS: Millis = 60 * 60 * 1000;
/// Entries kept at most.
pub const CAPACITY: usize = 20_000;

type Key = (FilterType, String);

/// A bounded, expiring map of lookups to lead ids.
#[derive(Debug, Default, Clone)]
pub struct LeadCache {
    entries: BTreeMap<Key, (Vec<i64>, Millis)>,
    /// Insertion order, for eviction (may hold keys already replaced or removed).
    order: VecDeque<(Key, Millis)>,
}

fn key(filter: FilterType, value: &str) -> Key {
    // Marketo matches emails case-insensitively.
    let v = if filter == FilterType::Email { value.to_lowercase() } else { value.to_string() };
    (filter, v)
}

impl LeadCache {
    /// The ids for a lookup value, if known and fresh at `now`.
    pub fn get(&self, filter: FilterType, value: &str, now: Millis) -> Option<&Vec<i64>> {
        self.entries.get(&key(filter, value)).filter(|(_, at)| now < at + TTL_MS).map(|(ids, _)| ids)
    }

    /// Remembers the ids a lookup (or a creation) found.
    pub fn insert(&mut self, filter: FilterType, value: &str, ids: Vec<i64>, now: Millis) {
        if ids.is_empty() {
            return;
        }
        let k = key(filter, value);
        self.order.push_back((k.clone(), now));
        self.entries.insert(k, (ids, now));
        while self.entries.len() > CAPACITY {
            let Some((old, at)) = self.order.pop_front() else { break };
            // Only evict if the entry is still the one this order record refers to.
            if self.entries.get(&old).is_some_and(|(_, t)| *t == at) {
                self.entries.remove(&old);
            }
        }
        if self.order.len() > CAPACITY * 2 {
            let entries = &self.entries;
            self.order.retain(|(k, at)| entries.get(k).is_some_and(|(_, t)| t == at));
        }
    }

    /// Drops every entry naming `id`.
    pub fn forget(&mut self, id: i64) {
        self.entries.retain(|_, (ids, _)| !ids.contains(&id));
    }

    /// Every fresh entry at `now`, oldest first, for snapshots: `(filter, value as compared,
    /// ids, when learned)`.
    pub fn entries(&self, now: Millis) -> Vec<(FilterType, String, Vec<i64>, Millis)> {
        let mut out: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, (_, at))| now < at + TTL_MS)
            .map(|((f, v), (ids, at))| (*f, v.clone(), ids.clone(), *at))
            .collect();
        out.sort_by_key(|e| e.3);
        out
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_evicts_and_forgets() {
        let mut c = LeadCache::default();
        c.insert(FilterType::Email, "Jane@Example.com", vec![1], 0);
        assert_eq!(c.get(FilterType::Email, "jane@example.com", TTL_MS - 1), Some(&vec![1]));
        assert_eq!(c.get(FilterType::Email, "jane@example.com", TTL_MS), None);
        assert_eq!(c.get(FilterType::TwitterId, "jane@example.com", 0), None);
        c.forget(1);
        assert!(c.is_empty());
        for i in 0..(CAPACITY as i64 + 5) {
            c.insert(FilterType::Email, &format!("{i}@x"), vec![i + 1], 0);
        }
        assert_eq!(c.len(), CAPACITY);
        assert_eq!(c.get(FilterType::Email, "0@x", 0), None, "oldest evicted first");
    }
}
