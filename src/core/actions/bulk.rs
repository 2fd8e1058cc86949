//! `bulkImportLeads`: Bulk Lead Import (`POST /bulk/v1/leads.json`, multipart CSV), then the
//! job is polled until `Complete`/`Failed` and failed rows are matched back to their events.
//! (Delivery under construction: events fail with `NOT_SUPPORTED` until it lands.)

use serde_json::Value;

use super::job::{CallSpec, Delivery, EventRef, Failure, Progress};
use super::BulkParams;
use crate::core::error::EventError;
use crate::core::outcome::Status;
use crate::core::wire::{ApiError, Envelope};

/// Imports a set of events' rows as one or more bulk jobs.
#[derive(Debug)]
pub(crate) struct BulkJob {
    events: Vec<EventRef>,
}

impl BulkJob {
    /// A job for `events`. `seed` makes the multipart boundary unique and deterministic.
    pub fn new(params: &BulkParams, events: Vec<(EventRef, &Value)>, seed: u64) -> (BulkJob, Progress) {
        let _ = (params, seed);
        (BulkJob { events: events.into_iter().map(|(ev, _)| ev).collect() }, Progress::default())
    }

    /// The requests one event would cause alone.
    pub fn preview(params: &BulkParams, event: &Value) -> Result<Vec<CallSpec>, EventError> {
        let _ = (params, event);
        Ok(Vec::new())
    }
}

impl Delivery for BulkJob {
    fn start(&mut self, p: &mut Progress) {
        let reason =
            ApiError { code: "NOT_SUPPORTED".into(), message: "bulk import is not delivered yet".into() };
        for ev in &self.events {
            p.outcome(ev, ev.with_reason(Status::Failed, &reason, None));
        }
    }

    fn on_success(&mut self, _step: u32, _env: &Envelope, _p: &mut Progress) {}

    fn on_failure(&mut self, _step: u32, _failure: &Failure, _p: &mut Progress) {}
}
