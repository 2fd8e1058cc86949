//! The snapshot format (`snapshot()` / `Connector.restore()`): what a connector must carry over
//! a restart so every accepted event is still delivered — the events without a final outcome
//! (queued, waiting for a retry, or in flight) and the daily-quota state. Versioned JSON; never
//! the client secret or a token.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::Millis;

/// The current format version.
pub const VERSION: u32 = 1;

/// A connector's pending state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Format version; a connector refuses versions it does not know.
    pub version: u32,
    /// When it was taken (host clock).
    pub taken_at: Millis,
    /// Events without a final outcome, in arrival order.
    pub events: Vec<PendingEntry>,
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
}

/// One pending event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEntry {
    /// The event's id.
    pub event_id: String,
    /// The action it was given to.
    pub action_id: String,
    /// The event itself.
    pub event: Value,
    /// When it was accepted (batch ages count from here).
    pub accepted_at: Millis,
    /// A call that may have reached Marketo was in flight for it. After a restore such an
    /// event is sent again if its call is idempotent, and reported `uncertain` otherwise.
    #[serde(default)]
    pub in_flight: bool,
    /// What of its delivery is already done (e.g. the losers a merge has merged), so a restore
    /// does not redo it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Value>,
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

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not JSON of the expected shape.
    #[error("not a connector snapshot: {0}")]
    Malformed(String),
    /// A version this connector does not read.
    #[error("snapshot version {0} is not supported (this connector reads version {VERSION})")]
    Version(u32),
}

impl Snapshot {
    /// Parses a snapshot.
    ///
    /// # Errors
    /// [`SnapshotError`] for malformed text or an unknown version.
    pub fn parse(text: &str) -> Result<Snapshot, SnapshotError> {
        let v: Value = serde_json::from_str(text).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
        let version = v.get("version").and_then(Value::as_u64).unwrap_or(0) as u32;
        if version != VERSION {
            return Err(SnapshotError::Version(version));
        }
        serde_json::from_value(v).map_err(|e| SnapshotError::Malformed(e.to_string()))
    }
}
