//! Per-event outcomes (SPEC §6): every event gets exactly one final outcome.

use serde::{Deserialize, Serialize};

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted and waiting (in a batch, or for a retry or quota timer); not final.
    Queued,
    /// Marketo applied it.
    Delivered,
    /// Marketo declined the record (e.g. 1004 lead not found, 1015 lead not in list).
    Skipped,
    /// Bad input or configuration, a non-retryable error, or retries exhausted.
    Failed,
    /// A non-idempotent call whose fate is unknown.
    Uncertain,
}

impl Status {
    /// Whether this is a final status.
    pub fn is_final(self) -> bool {
        self != Status::Queued
    }
}

/// The outcome of one event for one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The event's id (given to `process` or generated).
    pub event_id: String,
    /// The action's id.
    pub action_id: String,
    /// Where the event stands.
    pub status: Status,
    /// Every lead the event acted on (looked up, created or given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lead_ids: Vec<i64>,
    /// Marketo's code (`"1004"`) or the connector's (`"MISSING_ATTRIBUTE"`) for a skip or failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The reason, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Marketo's `requestId` of the call that decided the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
