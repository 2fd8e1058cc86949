//! Lead upserts: `createOrUpdateLead` and `createOrUpdateLeadBatched` through Sync Leads
//! (`POST /rest/v1/leads.json`), one per-record result per event.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::core::batch::{Thresholds, BATCHED};
use crate::core::config::{UpdateStrategy, UpsertParams};
use crate::core::error::EventError;
use crate::core::ids::{EventKey, Step};
use crate::core::job::{
    chunk_by, CallSpec, Delivery, EventRef, Failure, Progress, Steps, MAX_BODY_BYTES, MAX_RECORDS,
};
use crate::core::job::{items_of, Context, Family, NewJob, Prepared, Start};
use crate::core::outcome::Status;
use crate::core::reason::Reason;
use crate::core::schema::Format;
use crate::core::source::map_record;
use crate::core::wire::{Envelope, Method, RecordResult};

#[derive(Debug)]
struct Item {
    ev: EventRef,
    done: bool,
}

/// One record sent: one event's fields, or several events' for the same lead merged.
#[derive(Debug)]
struct Record {
    fields: Map<String, Value>,
    /// The events merged into it, in arrival order.
    items: Vec<usize>,
}

/// Delivers lead upserts for a set of events.
#[derive(Debug)]
pub(crate) struct SyncJob {
    strategy: UpdateStrategy,
    lookup_field: String,
    partition: Option<String>,
    items: Vec<Item>,
    records: Vec<Record>,
    /// Step → indexes of the records it carries, in input order.
    steps: BTreeMap<Step, Vec<usize>>,
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

/// Maps one event to its lead record, formatted by `fmt` (values cut are reported in
/// `warnings`), checking the lookup field is there when Marketo needs it.
pub(crate) fn record_for(
    params: &UpsertParams,
    event: &Value,
    fmt: &Format<'_>,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, EventError> {
    if !event.is_object() {
        return Err(EventError::not_an_object(event));
    }
    let record = map_record(&params.lead_data, event, fmt, &params.lookup_field, warnings)?;
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

/// The bytes a record adds to a Sync Leads body (its JSON and a separating comma).
pub(crate) fn record_size(record: &Map<String, Value>) -> usize {
    /// Counts the bytes written to it (the record is measured, not kept).
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(1);
    match serde_json::to_writer(&mut count, record) {
        Ok(()) => count.0,
        Err(_) => 0,
    }
}

impl SyncJob {
    /// A job for events already mapped to records (see [`record_for`]).
    ///
    /// With `createOrUpdate` and `updateOnly`, records of the same lead (same lookup value;
    /// emails compared case-insensitively, as Marketo does) are merged into one, later values
    /// winning per field: one record instead of several, and the lead's updates applied in
    /// order. `createOnly` and `createDuplicate` keep every record.
    pub fn new(params: &UpsertParams, prepared: Vec<(EventRef, Map<String, Value>)>) -> SyncJob {
        let mergeable =
            matches!(params.strategy, UpdateStrategy::CreateOrUpdate | UpdateStrategy::UpdateOnly);
        let mut items = Vec::with_capacity(prepared.len());
        let mut records: Vec<Record> = Vec::with_capacity(prepared.len());
        let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
        for (i, (ev, fields)) in prepared.into_iter().enumerate() {
            items.push(Item { ev, done: false });
            let key = fields.get(&params.lookup_field).filter(|_| mergeable).map(|v| match v {
                Value::String(s) if params.lookup_field == "email" => s.trim().to_lowercase(),
                other => other.to_string(),
            });
            match key.as_ref().and_then(|k| by_key.get(k)).and_then(|r| records.get_mut(*r)) {
                Some(record) => {
                    record.fields.extend(fields);
                    record.items.push(i);
                }
                None => {
                    if let Some(k) = key {
                        by_key.insert(k, records.len());
                    }
                    records.push(Record { fields, items: vec![i] });
                }
            }
        }
        SyncJob {
            strategy: params.strategy,
            lookup_field: params.lookup_field.clone(),
            partition: params.partition.clone(),
            items,
            records,
            steps: BTreeMap::new(),
            tags: Steps::default(),
        }
    }

    fn finish(
        &mut self,
        record: usize,
        outcome: impl Fn(&EventRef) -> crate::core::outcome::Outcome,
        p: &mut Progress,
    ) {
        let Some(rec) = self.records.get(record) else { return };
        for idx in &rec.items {
            let Some(item) = self.items.get_mut(*idx).filter(|i| !i.done) else { continue };
            item.done = true;
            p.outcome(&item.ev, outcome(&item.ev));
        }
    }

    fn body(&self, idx: &[usize]) -> SyncBody<'_> {
        SyncBody {
            action: self.strategy.as_str(),
            lookup_field: &self.lookup_field,
            partition: self.partition.as_deref(),
            input: idx.iter().filter_map(|i| self.records.get(*i)).map(|r| &r.fields).collect(),
        }
    }
}

impl Delivery for SyncJob {
    /// The calls: ≤ 300 records and ≤ 1 MB per body.
    fn start(&mut self, progress: &mut Progress) {
        let overhead = serde_json::to_string(&self.body(&[])).map(|s| s.len()).unwrap_or(0);
        let sizes: Vec<usize> = self.records.iter().map(|r| record_size(&r.fields)).collect();
        let idx: Vec<usize> = (0..self.records.len()).collect();
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
    fn on_success(&mut self, step: Step, env: &Envelope, progress: &mut Progress) {
        let Some(group) = self.steps.remove(&step) else { return };
        let req = env.request_id.clone();
        for (pos, record) in group.into_iter().enumerate() {
            match env.result.get(pos).map(RecordResult::from_value) {
                Some(rec) if rec.status == "created" || rec.status == "updated" => {
                    self.finish(
                        record,
                        |ev| {
                            let mut o = ev.outcome(Status::Delivered);
                            o.lead_ids = rec.id.into_iter().collect();
                            o.request_id = req.clone();
                            o
                        },
                        progress,
                    );
                }
                Some(rec) => {
                    let reason = rec.reasons.first().cloned().map(Reason::from).unwrap_or_else(|| {
                        Reason::marketo(
                            "",
                            format!("Marketo answered status `{}` for this record", rec.status),
                        )
                    });
                    self.finish(
                        record,
                        |ev| {
                            let mut o = ev.with_reason(Status::Skipped, &reason, req.as_deref());
                            o.lead_ids = rec.id.into_iter().collect();
                            o
                        },
                        progress,
                    );
                }
                None => {
                    let reason = Reason::local("NO_RESULT", "Marketo's answer had no result for this record");
                    self.finish(
                        record,
                        |ev| ev.with_reason(Status::Failed, &reason, req.as_deref()),
                        progress,
                    );
                }
            }
        }
    }

    /// Marketo refused a body as too large (413): send each half on its own.
    fn split(&mut self, step: Step, progress: &mut Progress) -> bool {
        match self.steps.remove(&step) {
            Some(group) if group.len() > 1 => {
                let (a, b) = group.split_at(group.len() / 2);
                for half in [a.to_vec(), b.to_vec()] {
                    let mut call = CallSpec::json(
                        self.tags.next(),
                        Method::Post,
                        "/v1/leads.json".into(),
                        &self.body(&half),
                    );
                    call.idempotent = self.strategy != UpdateStrategy::CreateDuplicate;
                    self.steps.insert(call.step, half);
                    progress.calls.push(call);
                }
                true
            }
            Some(group) => {
                self.steps.insert(step, group);
                false
            }
            None => false,
        }
    }

    /// A call failed for good: every record it carried fails with the reason.
    fn on_failure(&mut self, step: Step, failure: &Failure, progress: &mut Progress) {
        let Some(group) = self.steps.remove(&step) else { return };
        for record in group {
            self.finish(
                record,
                |ev| ev.with_reason(failure.status, &failure.reason, failure.request_id.as_deref()),
                progress,
            );
        }
    }
}

/// The lead family (`createOrUpdateLead` and its batched form): each event becomes one record
/// of a Sync Leads call (`POST /rest/v1/leads.json`, Swagger `syncLeadUsingPOST`).
pub(crate) struct LeadFamily<'a> {
    /// The action's configuration.
    pub params: &'a UpsertParams,
    /// Batched (SPEC §4) or sent on arrival.
    pub batched: bool,
}

impl Family for LeadFamily<'_> {
    fn prepare(
        &self,
        event: &Value,
        format: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Prepared, EventError> {
        let record = record_for(self.params, event, format, warnings)?;
        let size = record_size(&record);
        Ok(Prepared::new(record, size))
    }

    fn thresholds(&self) -> Option<Thresholds> {
        self.batched.then_some(BATCHED)
    }

    /// The Sync Leads envelope around the records.
    fn overhead(&self) -> usize {
        let partition = self.params.partition.as_ref().map_or(0, |n| n.len() + 20);
        r#"{"action":"createDuplicate","lookupField":"","input":[]}"#.len()
            + self.params.lookup_field.len()
            + partition
    }

    /// `createDuplicate` creates a lead each time it is sent.
    fn idempotent(&self) -> bool {
        self.params.strategy != UpdateStrategy::CreateDuplicate
    }

    fn needs_schema(&self) -> bool {
        true
    }

    fn preview(&self, event: &Value, format: &Format<'_>, _: usize) -> Result<Vec<CallSpec>, EventError> {
        let ev = EventRef { key: EventKey(0) };
        let record = record_for(self.params, event, format, &mut Vec::new())?;
        let mut job = SyncJob::new(self.params, vec![(ev, record)]);
        let mut progress = Progress::default();
        job.start(&mut progress);
        Ok(progress.calls)
    }

    fn start(&self, items: Vec<(EventRef, Prepared)>, _: &mut Context<'_>) -> Start {
        let records: Vec<(EventRef, Map<String, Value>)> = items_of(items);
        let events = records.iter().map(|(ev, _)| ev.key).collect();
        Start { jobs: vec![NewJob::plain(SyncJob::new(self.params, records), events)], failed: Vec::new() }
    }
}
