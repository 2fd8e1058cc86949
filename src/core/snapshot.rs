//! The snapshot format (`snapshot()` / `Connector.restore()`): what a connector must carry over
//! a restart so every accepted event is still delivered and reported once — the events without
//! a final outcome (queued, waiting for a retry, or in flight, with how far their delivery got),
//! the final outcomes no resolved promise has returned yet, the lookups already made, the calls
//! still in flight, and the rate and daily-quota state. Versioned JSON; never the client
//! secret or a token.
//!
//! Each snapshot names its connector (`id`, fixed at construction) and the `generation`
//! (0 at construction, one more at each restore), so a host with a compare-and-set store can
//! refuse a snapshot from a connector restored from an older one (SPEC §7).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::event_paths::nesting_depth;
use super::json_text::escaped_len;
use super::outcome::Outcome;
use super::time::Millis;

/// The current format version.
pub const VERSION: u32 = 1;

/// A connector's pending state. `'a` is the engine's when it is written
/// ([`crate::core::Engine::snapshot`] borrows the events' text rather than copying a backlog of
/// tens of MB into wasm memory, which never shrinks); [`Snapshot::parse`] gives an owned one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot<'a> {
    /// Format version; a connector refuses versions it does not know.
    pub version: u32,
    /// When it was taken (host clock).
    pub taken_at: Millis,
    /// Events without a final outcome, in arrival order.
    pub events: Vec<PendingEntry<'a>>,
    /// Marketo-day quota accounting, so a restored connector neither overspends nor forgets a
    /// 607 pause.
    pub quota: QuotaState,
    /// Start times of the calls in the last 20 s, so a restored connector keeps `callsPer20s`.
    #[serde(default)]
    pub recent_calls: Vec<Millis>,
    /// The generated event ids' prefix and counter, so ids generated after a restore never
    /// repeat one still pending.
    #[serde(default)]
    pub id_prefix: String,
    /// See `id_prefix`.
    #[serde(default)]
    pub next_event: u64,
    /// The connector's identity: drawn at construction, kept across restores.
    #[serde(default)]
    pub id: String,
    /// Restores since construction: a restored connector's snapshots carry one more than the
    /// snapshot it was restored from.
    #[serde(default)]
    pub generation: u64,
    /// Final outcomes no resolved promise has returned yet: the restored connector hands them
    /// out first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finished: Vec<Outcome>,
    /// When the calls in flight at the snapshot time out (ms): Marketo may still be running
    /// them, so a restored connector counts them against `concurrency` until then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_flight_until: Vec<Millis>,
    /// Lookups already answered (the lead-id cache), so a restore does not look them up again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookups: Vec<CachedLookup>,
    /// The instance's lead schema, once read, so a restored connector formats by field type
    /// without reading it again (README "Field types"), in describe2's shape
    /// ([`super::schema::LeadSchema::to_describe2`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// One lead-id cache entry: `filterType` `value` found `ids` at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedLookup {
    /// Marketo's filter type name (`email`, `cookies`…).
    pub filter_type: String,
    /// The value as Marketo compares it.
    pub value: String,
    /// The lead ids found.
    pub ids: Vec<i64>,
    /// When they were found (ms).
    pub at: Millis,
}

/// What [`Snapshot::info`] reads without restoring: the connector's identity and generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    /// The connector's identity, fixed at construction.
    pub id: String,
    /// Restores since construction.
    pub generation: u64,
}

/// One pending event: borrowed from the engine when written, owned when parsed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEntry<'a> {
    /// The engine's number for this event ([`crate::core::EventKey`]), unique among a
    /// snapshot's events (event ids need not be: a host may give two events one id), so an
    /// entry listed twice is found ([`Snapshot::parse`]). Absent in snapshots written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u64>,
    /// The event's id.
    pub event_id: Cow<'a, str>,
    /// The action it was given to.
    pub action_id: Cow<'a, str>,
    /// The event itself, as JSON text (kept and written as it is; parsed when restored).
    pub event: Cow<'a, RawValue>,
    /// When it was accepted (batch ages count from here).
    pub accepted_at: Millis,
    /// A call that may have reached Marketo was in flight for it. After a restore such an
    /// event is sent again if its call is idempotent, and reported `uncertain` otherwise.
    #[serde(default)]
    pub in_flight: bool,
    /// What of its delivery is already done (e.g. the losers a merge has merged), so a restore
    /// does not redo it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_resume")]
    pub progress: Option<ResumeData>,
    /// When its next call was due (host clock, ms) if the call waited on time: a retry's
    /// backoff after a 5xx, a 1029 or a transport error, or a bulk import's next poll. A
    /// restored connector sends nothing for it before then. Absent in snapshots written before
    /// it (such events are sent at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Millis>,
    /// A batched event whose batch was closed (sent, waiting to be sent, or waiting for a
    /// retry): a restored connector sends it without waiting for the batch thresholds again.
    /// Absent in snapshots written before it (such events wait for their batch's age again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
}

/// The longest text of a number in a snapshot (`-9223372036854775808`) and its comma.
const NUMBER: usize = 21;
/// A pending entry's text without its ids' characters, its event and its progress, every
/// number at its longest.
const ENTRY_FIXED: usize = r#"{"key":18446744073709551615,"eventId":"","actionId":"","event":,"acceptedAt":18446744073709551615,"inFlight":false,"retryAt":18446744073709551615,"sealed":false},"#.len();
/// The same for a finished outcome (status at its longest, each optional key present).
const OUTCOME_FIXED: usize =
    r#"{"eventId":"","actionId":"","status":"uncertain","leadIds":[],"code":"","message":"","requestId":""},"#
        .len() + 16;
/// The same for a cached lookup.
const LOOKUP_FIXED: usize = r#"{"filterType":"","value":"","ids":[],"at":18446744073709551615},"#.len();

/// At least the bytes of `v`'s compact JSON text.
fn value_len_bound(v: &Value) -> usize {
    match v {
        Value::String(s) => escaped_len(s) + 3,
        Value::Object(map) => {
            2 + map.iter().map(|(k, v)| escaped_len(k) + 4 + value_len_bound(v)).sum::<usize>()
        }
        Value::Array(items) => 2 + items.iter().map(|v| 1 + value_len_bound(v)).sum::<usize>(),
        _ => 25,
    }
}

impl PendingEntry<'_> {
    /// At least the bytes of this entry's text in a snapshot, with its comma
    /// ([`Snapshot::text_len_bound`]).
    fn text_len_bound(&self) -> usize {
        let progress = match &self.progress {
            None => 0,
            Some(ResumeData::BulkBatch { .. }) => r#","progress":{"bulkBatch":{"batchId":}}"#.len() + NUMBER,
            Some(ResumeData::Merged { merged }) => {
                r#","progress":{"merged":{"merged":[]}}"#.len() + NUMBER * merged.len()
            }
        };
        ENTRY_FIXED
            + escaped_len(&self.event_id)
            + escaped_len(&self.action_id)
            + self.event.get().len()
            + progress
    }
}

impl PartialEq for PendingEntry<'_> {
    /// Equal when every field is, the event compared as its JSON text.
    fn eq(&self, other: &PendingEntry<'_>) -> bool {
        self.key == other.key
            && self.event_id == other.event_id
            && self.action_id == other.action_id
            && self.event.get() == other.event.get()
            && self.accepted_at == other.accepted_at
            && self.in_flight == other.in_flight
            && self.progress == other.progress
            && self.retry_at == other.retry_at
            && self.sealed == other.sealed
    }
}

/// What of an event's delivery a previous instance already did, so a restore carries on from
/// there instead of redoing it. The JSON shapes are the snapshot's `progress` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResumeData {
    /// A bulk import whose file Marketo accepted as batch `batchId`: poll it, do not upload
    /// again.
    BulkBatch {
        /// Marketo's `batchId`.
        #[serde(rename = "batchId")]
        batch_id: i64,
    },
    /// A merge that already merged these losers into the winner.
    Merged {
        /// The loser lead ids merged.
        merged: Vec<i64>,
    },
}

impl ResumeData {
    /// Events resumed together share this (one bulk batch); `None`: each resumes alone.
    pub fn group(&self) -> Option<i64> {
        match self {
            ResumeData::BulkBatch { batch_id } => Some(*batch_id),
            ResumeData::Merged { .. } => None,
        }
    }
}

/// Reads `progress` as [`ResumeData`]; a shape this version does not know resumes nothing (the
/// event is delivered from the start, as before resume data existed).
fn lenient_resume<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ResumeData>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.and_then(|v| serde_json::from_value(v).ok()))
}

/// Daily quota accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct QuotaState {
    /// The Marketo day (days since the epoch, CST) the count belongs to.
    pub day: i64,
    /// Calls counted that day.
    pub used: u32,
}

/// Nesting a snapshot may have: the deepest event serde_json reads (127 levels) under the
/// snapshot object, its `events` list and the entry object.
const MAX_NESTING: usize = 127 + 3;

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not JSON of the expected shape.
    #[error("not a connector snapshot: {0}")]
    Malformed(String),
    /// A version this connector does not read: the snapshot's `version` as its JSON text (`2`,
    /// `"1"`, `1.0`).
    #[error("snapshot version {0} is not supported (this connector reads version {VERSION})")]
    Version(String),
    /// The text reads as a snapshot, but not as one `snapshot()` wrote: it was damaged in
    /// storage or by hand (an event listed twice, half of a character in an event). Restoring
    /// it would deliver an event twice or fail events `snapshot()` kept whole.
    #[error("the snapshot was damaged: {0}; restore the text Connector.snapshot() returned, unchanged")]
    Damaged(String),
}

impl Snapshot<'_> {
    /// Parses a snapshot (owned: nothing borrows `text`, which can be dropped before the
    /// engine is built from it).
    ///
    /// # Errors
    /// [`SnapshotError`] for malformed text or an unknown version.
    pub fn parse(text: &str) -> Result<Snapshot<'static>, SnapshotError> {
        // Events reach the connector through serde_json, which reads at most 127 nested levels,
        // and a snapshot holds each event 3 levels down: read that much nesting (serde_json's own
        // limit would refuse the snapshot of such an event), and no more (the parser recurses).
        if nesting_depth(text) > MAX_NESTING {
            return Err(SnapshotError::Malformed(format!("nested more than {MAX_NESTING} levels deep")));
        }
        if !text.trim_start().starts_with('{') {
            return Err(SnapshotError::Malformed(
                "expected the JSON object Connector.snapshot() returns, got other text".into(),
            ));
        }
        // The whole, straight from the text: events stay JSON text (`RawValue`). The version is
        // read on its own only when the whole does not read as this version's (a snapshot of
        // another version may not), so a snapshot is read once, not twice.
        let whole = read_unbounded::<Snapshot<'static>>(text);
        if let Ok(snapshot) = &whole {
            if snapshot.version != VERSION {
                return Err(SnapshotError::Version(snapshot.version.to_string()));
            }
        }
        let snapshot = match whole {
            Ok(snapshot) => snapshot,
            Err(e) => return Err(Self::version_error(text).unwrap_or(e)),
        };
        snapshot.check_events()?;
        Ok(snapshot)
    }

    /// Why a text that does not read as a snapshot of this version is refused, when its version
    /// says: none (not a snapshot), another one, or JSON that does not read at all; `None` when
    /// it claims this version (its own error then says what is wrong).
    fn version_error(text: &str) -> Option<SnapshotError> {
        #[derive(Deserialize)]
        struct Head<'t> {
            #[serde(borrow)]
            version: Option<&'t RawValue>,
        }
        let version = match read_unbounded::<Head<'_>>(text) {
            Ok(Head { version }) => version,
            Err(e) => return Some(e),
        };
        let Some(version) = version else {
            return Some(SnapshotError::Malformed(
                "the object has no `version`: it is not the text Connector.snapshot() returns".into(),
            ));
        };
        // Named as written (`1e0`, `-0`, a number past any integer type), never read as another.
        (version.get().trim() != VERSION.to_string())
            .then(|| SnapshotError::Version(version.get().trim().to_string()))
    }

    /// What serde_json does not check in a snapshot it reads: no event is listed twice (two
    /// entries with one `key`), and no event's text, kept as it is (`RawValue`, whose escapes
    /// serde_json does not read), holds half of a UTF-16 surrogate pair (`\ud83d` alone), which
    /// no `snapshot()` writes: its events are written from Rust strings.
    fn check_events(&self) -> Result<(), SnapshotError> {
        let mut keys: Vec<u64> = self.events.iter().filter_map(|e| e.key).collect();
        keys.sort_unstable();
        if let Some(twice) = keys.windows(2).find_map(|w| match w {
            [a, b] if a == b => Some(*a),
            _ => None,
        }) {
            let ids: Vec<String> = self
                .events
                .iter()
                .filter(|e| e.key == Some(twice))
                .map(|e| format!("`{}` (action `{}`)", e.event_id, e.action_id))
                .collect();
            return Err(SnapshotError::Damaged(format!(
                "the pending event with key {twice} is listed {} times (event {}), so it would be delivered more than once",
                ids.len(),
                ids.join(", ")
            )));
        }
        for e in &self.events {
            if let Some(half) = lone_surrogate_escape(e.event.get()) {
                return Err(SnapshotError::Damaged(format!(
                    "event `{}` (action `{}`) holds `{half}`, half of a UTF-16 surrogate pair without its other half, \
                     which is not text",
                    e.event_id, e.action_id
                )));
            }
        }
        Ok(())
    }

    /// The snapshot as the JSON text a host stores. The buffer is sized for the events' text up
    /// front: a backlog's snapshot is tens of MB, and growing it by doubling would hold up to
    /// twice that in wasm memory, which never shrinks.
    ///
    /// # Errors
    /// serde_json's, were a value not serialisable (the types here always are).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut out = Vec::with_capacity(self.text_len_bound());
        serde_json::to_writer(&mut out, self)?;
        // serde_json writes UTF-8 only; were it not, say so rather than store an empty snapshot.
        String::from_utf8(out).map_err(<serde_json::Error as serde::ser::Error>::custom)
    }

    /// At least the bytes of [`Snapshot::to_json`]'s text (tested with every field at its
    /// longest): the buffer is never grown, which would double it. The events' fields each
    /// counted at their longest (an id as JSON escapes it, a number with 20 digits), the rest
    /// at a few KB.
    pub(crate) fn text_len_bound(&self) -> usize {
        let events: usize = self.events.iter().map(PendingEntry::text_len_bound).sum();
        let finished: usize = self
            .finished
            .iter()
            .map(|o| {
                let texts = [
                    Some(&o.event_id),
                    Some(&o.action_id),
                    o.code.as_ref(),
                    o.message.as_ref(),
                    o.request_id.as_ref(),
                ];
                OUTCOME_FIXED
                    + texts.iter().flatten().map(|t| escaped_len(t)).sum::<usize>()
                    + NUMBER * o.lead_ids.len()
            })
            .sum();
        let lookups: usize = self
            .lookups
            .iter()
            .map(|l| {
                LOOKUP_FIXED + escaped_len(&l.filter_type) + escaped_len(&l.value) + NUMBER * l.ids.len()
            })
            .sum();
        let schema = self.schema.as_ref().map_or(0, |s| 16 + value_len_bound(s));
        let times = NUMBER * (self.recent_calls.len() + self.in_flight_until.len());
        let ids = escaped_len(&self.id_prefix) + escaped_len(&self.id);
        4096 + events + finished + lookups + schema + times + ids
    }

    /// The identity and generation (`Connector.snapshotInfo`).
    pub fn info(&self) -> SnapshotInfo {
        SnapshotInfo { id: self.id.clone(), generation: self.generation }
    }
}

/// Reads `text` as a `T` without serde_json's recursion limit (the caller bounds the depth).
fn read_unbounded<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, SnapshotError> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    T::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| SnapshotError::Malformed(e.to_string()))
}

/// The first `\uXXXX` escape in JSON text `text` that is half of a UTF-16 surrogate pair
/// without its other half (a high half not followed by a low-half escape, or a low half alone),
/// if any. Backslashes in JSON occur only in strings, each starting an escape.
fn lone_surrogate_escape(text: &str) -> Option<&str> {
    let unit = |at: usize| text.get(at..at + 4).and_then(|h| u16::from_str_radix(h, 16).ok());
    let high = 0xD800..0xDC00;
    let low = 0xDC00..0xE000;
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|t| t.find('\\')).map(|i| from + i) {
        if text.get(at + 1..at + 2) != Some("u") {
            from = at + 2; // `\"`, `\\`, `\n`…
            continue;
        }
        let escape = || text.get(at..at + 6).unwrap_or("\\u");
        match unit(at + 2) {
            Some(u) if high.contains(&u) => {
                let paired =
                    text.get(at + 6..at + 8) == Some("\\u") && unit(at + 8).is_some_and(|l| low.contains(&l));
                if !paired {
                    return Some(escape());
                }
                from = at + 12;
            }
            Some(u) if low.contains(&u) => return Some(escape()),
            _ => from = at + 6,
        }
    }
    None
}

/// An event as the engine keeps it: its compact JSON text.
pub(crate) fn event_text(event: &Value) -> Box<RawValue> {
    let mut text = String::with_capacity(super::json_text::capacity(event));
    super::json_text::write_value(&mut text, event);
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// An event kept as text, parsed (`null` if it does not read, which fails the event).
pub(crate) fn event_value(text: &RawValue) -> Value {
    read_unbounded(text.get()).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_json_writes_what_serde_json_writes() {
        let text = with_event(r#"{"email":"a@example.com","n":[1,2.5,"x"]}"#);
        let snap = Snapshot::parse(&text).unwrap();
        assert_eq!(snap.to_json().unwrap(), serde_json::to_string(&snap).unwrap());
        assert_eq!(Snapshot::parse(&snap.to_json().unwrap()).unwrap(), snap);
    }

    /// A snapshot with every field at its longest (numbers at their widest, ids and messages
    /// with escapes, both kinds of progress, finished outcomes, lookups, a schema) is written
    /// into the buffer sized for it, never grown: growing doubles it, and a 15 MB backlog's
    /// snapshot then took 45 MB of wasm memory, which never shrinks.
    #[test]
    fn the_text_fits_the_buffer_sized_for_it() {
        let odd = r#"q\"b\\n\nt\tc\u0001é😀"#;
        let entry = |key: u64, progress: &str| {
            format!(
                r#"{{"key":{key},"eventId":"{odd}","actionId":"{odd}","event":{{"k":"{odd}"}},"acceptedAt":18446744073709551615,"inFlight":true{progress},"retryAt":18446744073709551615,"sealed":true}}"#
            )
        };
        // A thousand of them: a few bytes short per entry would add up past the 4 KB of the rest.
        let mut events: Vec<String> = (0..997).map(|k| entry(k, "")).collect();
        events.extend([
            entry(u64::MAX, ""),
            entry(u64::MAX - 1, r#","progress":{"batchId":-9223372036854775808}"#),
            entry(
                u64::MAX - 2,
                r#","progress":{"merged":[-9223372036854775808,-9223372036854775808,-9223372036854775808]}"#,
            ),
        ]);
        let text = format!(
            r#"{{"version":1,"takenAt":18446744073709551615,"events":[{}],"quota":{{"day":-9223372036854775808,"used":4294967295}},
               "recentCalls":[18446744073709551615,18446744073709551615],"idPrefix":"{odd}","nextEvent":18446744073709551615,"id":"{odd}","generation":18446744073709551615,
               "finished":[{{"eventId":"{odd}","actionId":"{odd}","status":"uncertain","leadIds":[-9223372036854775808,-9223372036854775808],"code":"{odd}","message":"{odd}","requestId":"{odd}"}}],
               "inFlightUntil":[18446744073709551615],"lookups":[{{"filterType":"{odd}","value":"{odd}","ids":[-9223372036854775808],"at":18446744073709551615}}],
               "schema":{{"{odd}":[{{"{odd}":"{odd}","n":-1.7976931348623157e308}},null,true]}}}}"#,
            events.join(",")
        );
        let snap = Snapshot::parse(&text).unwrap();
        assert_eq!(snap.events.len(), 1000);
        assert!(!snap.finished.is_empty() && !snap.lookups.is_empty() && snap.schema.is_some());
        let bound = snap.text_len_bound();
        let written = snap.to_json().unwrap();
        assert!(written.len() <= bound, "{} bytes written, {bound} reserved", written.len());
        // Nor much more than it needs (what is reserved is taken from wasm memory for good).
        assert!(
            bound <= written.len() + written.len() / 4 + 4096,
            "{} bytes written, {bound} reserved",
            written.len()
        );
    }

    fn with_event(event: &str) -> String {
        format!(
            r#"{{"version":1,"takenAt":0,"events":[{{"eventId":"e","actionId":"a","event":{event},"acceptedAt":0}}],"quota":{{"day":0,"used":0}}}}"#
        )
    }

    /// An object `depth` levels deep, with brackets in a string that must not count.
    fn nested(depth: usize) -> String {
        format!(r#"{{"s":"[{{","k":{}{}}}"#, "[".repeat(depth - 1), "]".repeat(depth - 1))
    }

    #[test]
    fn an_event_serde_json_reads_survives_its_snapshot() {
        // The fuzz `event` target's snapshot check (fuzz/seeds/*/regress-deep-event*): an event
        // nested 125 to 127 levels deep was accepted, but its snapshot was refused (serde_json's
        // recursion limit), losing every pending event on restore.
        for depth in [2, 124, 125, 127] {
            let event: Value = serde_json::from_str(&nested(depth)).unwrap();
            let snap = Snapshot::parse(&with_event(&event.to_string())).unwrap();
            assert_eq!(event_value(&snap.events[0].event), event, "depth {depth}");
        }
        assert!(serde_json::from_str::<Value>(&nested(128)).is_err(), "serde_json's own limit");
        let too_deep = Snapshot::parse(&with_event(&nested(128)));
        assert!(matches!(too_deep, Err(SnapshotError::Malformed(m)) if m.contains("nested")));
        // Brackets in strings do not count; garbage after the object is refused.
        assert_eq!(nesting_depth(r#"{"a":"[[[{{\"[","b":[1]}"#), 2);
        assert!(Snapshot::parse(&format!("{} x", with_event("{}"))).is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Snapshot::parse(&deep).is_err(), "deep nesting is refused before it is parsed");
    }
}
