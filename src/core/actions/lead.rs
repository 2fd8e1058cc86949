//! Lead upserts: `createOrUpdateLead` and `createOrUpdateLeadBatched` through Sync Leads
//! (`POST /rest/v1/leads.json`), one per-record result per event.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::job::{
    chunk_by, CallSpec, Delivery, EventRef, Failure, Progress, Steps, MAX_BODY_BYTES, MAX_RECORDS,
};
use super::{UpdateStrategy, UpsertParams};
use crate::core::error::EventError;
use crate::core::outcome::Status;
use crate::core::source::map_record;
use crate::core::wire::{ApiError, Envelope, Method, RecordResult};

#[derive(Debug)]
struct Item {
    ev: EventRef,
    record: Map<String, Value>,
    done: bool,
}

/// Delivers lead upserts for a set of events.
#[derive(Debug)]
pub(crate) struct SyncJob {
    strategy: UpdateStrategy,
    lookup_field: String,
    partition: Option<String>,
    items: Vec<Item>,
    /// Step → indexes of the items it carries, in input order.
    steps: BTreeMap<u32, Vec<usize>>,
    tags: Steps,
}

#[derive(Serialize)]
struct SyncBody<'a> {
    action: &'a str,
    #[serde(rename = "lookupField")]
    lookup_field: &'a str,
    #[serde(rename = "partitionName", skip_serializing_if = "Option::is_none")]
    partition: Option<&'a str>,
    input: Vec<&'a Map<String, Value>>,
}

/// Maps one event to its lead record, checking the lookup field is there when Marketo needs it.
pub(crate) fn record_for(params: &UpsertParams, event: &Value) -> Result<Map<String, Value>, EventError> {
    if !event.is_object() {
        return Err(EventError::NotAnObject);
    }
    let record = map_record(&params.lead_data, event)?;
    if record.is_empty() {
        let paths: Vec<String> = params.lead_data.iter().map(|m| m.source.describe()).collect();
        return Err(EventError::MissingAttribute { parameter: "leadData".into(), path: paths.join(", ") });
    }
    let needs_key = matches!(params.strategy, UpdateStrategy::CreateOrUpdate | UpdateStrategy::UpdateOnly);
    if needs_key && record.get(&params.lookup_field).is_none_or(Value::is_null) {
        let path = params
            .lead_data
            .iter()
            .find(|m| m.field == params.lookup_field)
            .map(|m| m.source.describe())
            .unwrap_or_default();
        return Err(EventError::MissingAttribute {
            parameter: format!("leadData field {} (the lookup field)", params.lookup_field),
            path,
        });
    }
    Ok(record)
}

impl SyncJob {
    /// A job for `events`; events that cannot be mapped fail at once.
    pub fn new(params: &UpsertParams, events: Vec<(EventRef, &Value)>) -> (SyncJob, Progress) {
        let mut progress = Progress::default();
        let mut items = Vec::with_capacity(events.len());
        for (ev, event) in events {
            match record_for(params, event) {
                Ok(record) => items.push(Item { ev, record, done: false }),
                Err(e) => {
                    let o = ev.with_reason(
                        Status::Failed,
                        &ApiError { code: e.code().into(), message: e.to_string() },
                        None,
                    );
                    progress.outcome(&ev, o);
                }
            }
        }
        let job = SyncJob {
            strategy: params.strategy,
            lookup_field: params.lookup_field.clone(),
            partition: params.partition.clone(),
            items,
            steps: BTreeMap::new(),
            tags: Steps::default(),
        };
        (job, progress)
    }

    fn body(&self, idx: &[usize]) -> SyncBody<'_> {
        SyncBody {
            action: self.strategy.as_str(),
            lookup_field: &self.lookup_field,
            partition: self.partition.as_deref(),
            input: idx.iter().filter_map(|i| self.items.get(*i)).map(|i| &i.record).collect(),
        }
    }
}

impl Delivery for SyncJob {
    /// The calls: ≤ 300 records and ≤ 1 MB per body.
    fn start(&mut self, progress: &mut Progress) {
        let overhead = serde_json::to_string(&self.body(&[])).map(|s| s.len()).unwrap_or(0);
        let sizes: Vec<usize> = self
            .items
            .iter()
            .map(|i| serde_json::to_string(&i.record).map(|s| s.len() + 1).unwrap_or(0))
            .collect();
        let idx: Vec<usize> = (0..self.items.len()).collect();
        for group in
            chunk_by(idx, MAX_RECORDS, overhead, MAX_BODY_BYTES, |i| sizes.get(*i).copied().unwrap_or(0))
        {
            let mut call =
                CallSpec::json(self.tags.next(), Method::Post, "/v1/leads.json".into(), &self.body(&group));
            // A retried createDuplicate after a lost answer would create the lead twice.
            call.idempotent = self.strategy != UpdateStrategy::CreateDuplicate;
            self.steps.insert(call.step, group);
            progress.calls.push(call);
        }
    }
    /// Marketo answered with `success: true`: one result per record, in input order.
    fn on_success(&mut self, step: u32, env: &Envelope, progress: &mut Progress) {
        let Some(group) = self.steps.remove(&step) else { return };
        for (pos, idx) in group.into_iter().enumerate() {
            let Some(item) = self.items.get_mut(idx).filter(|i| !i.done) else { continue };
            item.done = true;
            let req = env.request_id.as_deref();
            let o = match env.result.get(pos).map(RecordResult::from_value) {
                Some(rec) if rec.status == "created" || rec.status == "updated" => {
                    let mut o = item.ev.outcome(Status::Delivered);
                    o.lead_ids = rec.id.into_iter().collect();
                    o.request_id = req.map(str::to_owned);
                    o
                }
                Some(rec) => {
                    let reason = rec.reasons.first().cloned().unwrap_or(ApiError {
                        code: String::new(),
                        message: format!("Marketo answered status `{}` for this record", rec.status),
                    });
                    let mut o = item.ev.with_reason(Status::Skipped, &reason, req);
                    o.lead_ids = rec.id.into_iter().collect();
                    o
                }
                None => item.ev.with_reason(
                    Status::Failed,
                    &ApiError {
                        code: "NO_RESULT".into(),
                        message: "Marketo's answer had no result for this record".into(),
                    },
                    req,
                ),
            };
            progress.outcome(&item.ev, o);
        }
    }
    /// A call failed for good: every record it carried fails with the reason.
    fn on_failure(&mut self, step: u32, failure: &Failure, progress: &mut Progress) {
        let Some(group) = self.steps.remove(&step) else { return };
        for idx in group {
            let Some(item) = self.items.get_mut(idx).filter(|i| !i.done) else { continue };
            item.done = true;
            let o = item.ev.with_reason(failure.status, &failure.reason, failure.request_id.as_deref());
            progress.outcome(&item.ev, o);
        }
    }
}
