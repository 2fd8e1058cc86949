//! `mergeLead`: Merge Leads (`POST /rest/v1/leads/{winner}/merge.json?leadIds=…&mergeInCRM=…`).
//! Marketo takes at most 25 losing ids per call, so more losers mean more calls, sent one after
//! the other in the given order. Not idempotent: an ambiguous failure is `uncertain`.

use crate::core::ids::Step;
use serde_json::Value;

use crate::core::config::MergeParams;
use crate::core::error::EventError;
use crate::core::job::{items_of, whole_event, Context, Family, NewJob, Prepared, Start};
use crate::core::job::{Api, CallSpec, Delivery, EventRef, Failure, Progress, Steps};
use crate::core::outcome::Status;
use crate::core::schema::Format;
use crate::core::snapshot::ResumeData;
use crate::core::source::{id_of, id_of_text, to_id};
use crate::core::wire::{Envelope, Method};

/// Marketo's limit of losing ids per merge call (1080 beyond, since 2026-03-31).
pub(crate) const MAX_LOSERS: usize = 25;

/// Merges the losers of one event into its winner.
pub(crate) struct MergeJob {
    ev: EventRef,
    winner: i64,
    merge_in_crm: bool,
    /// Losers in order, in groups of ≤ 25.
    groups: Vec<Vec<i64>>,
    /// Groups merged so far.
    merged: usize,
    tags: Steps,
    done: bool,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for MergeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeJob").finish_non_exhaustive()
    }
}

/// Reads `losingLeadIds`: a number, a list of ids, or a comma-separated string. Every item
/// of a list or of the text must be an id: an item that is not (`null`, an empty text between
/// two commas or after the last) fails the event, naming the item, rather than merging fewer
/// leads than the event lists.
fn losers(v: &Value) -> Result<Vec<i64>, EventError> {
    let param = "losingLeadIds";
    let item = |n: usize, of: usize, why: &str| EventError::InvalidValue {
        parameter: param.into(),
        problem: format!("item {n} of {of} is {why}; Marketo ids are positive integers"),
    };
    let ids: Vec<i64> = match v {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, x)| id_of(x).map_err(|why| item(i + 1, list.len(), why)))
            .collect::<Result<_, _>>()?,
        Value::String(s) if s.contains(',') => {
            let of = s.split(',').count();
            s.split(',')
                .enumerate()
                .map(|(i, part)| match part.trim() {
                    "" => Err(item(i + 1, of, "empty (the comma-separated text has nothing there)")),
                    part => id_of_text(part).map_err(|why| item(i + 1, of, why)),
                })
                .collect::<Result<_, _>>()?
        }
        other => vec![to_id(other, param)?],
    };
    let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.is_empty() {
        return Err(EventError::InvalidValue { parameter: param.into(), problem: "lists no lead id".into() });
    }
    Ok(unique)
}

fn read(params: &MergeParams, event: &Value) -> Result<(i64, Vec<i64>), EventError> {
    if !event.is_object() {
        return Err(EventError::not_an_object(event));
    }
    let winner = to_id(params.winner.require(event, "winningLeadId")?, "winningLeadId")?;
    let losers = losers(params.losers.require(event, "losingLeadIds")?)?;
    if losers.contains(&winner) {
        return Err(EventError::InvalidValue {
            parameter: "losingLeadIds".into(),
            problem: format!("lists the winning lead {winner} itself"),
        });
    }
    Ok((winner, losers))
}

impl MergeJob {
    /// A job for one event, or its failed outcome when the event cannot be read.
    pub fn new(
        params: &MergeParams,
        ev: EventRef,
        event: &Value,
    ) -> Result<MergeJob, (EventRef, EventError)> {
        match read(params, event) {
            Ok((winner, losers)) => Ok(MergeJob {
                ev,
                winner,
                merge_in_crm: params.merge_in_crm,
                groups: losers.chunks(MAX_LOSERS).map(<[i64]>::to_vec).collect(),
                merged: 0,
                tags: Steps::default(),
                done: false,
            }),
            Err(e) => Err((ev, e)),
        }
    }

    /// A merge restored from a snapshot: the losers in `merged` were merged before the restart
    /// and are not sent again.
    pub fn resume(
        params: &MergeParams,
        ev: EventRef,
        event: &Value,
        merged: &[i64],
    ) -> Result<MergeJob, (EventRef, EventError)> {
        let mut job = MergeJob::new(params, ev, event)?;
        let remaining: Vec<i64> =
            job.groups.iter().flatten().copied().filter(|id| !merged.contains(id)).collect();
        let done: Vec<i64> = job.groups.iter().flatten().copied().filter(|id| merged.contains(id)).collect();
        job.groups = std::iter::once(done)
            .filter(|d| !d.is_empty())
            .chain(remaining.chunks(MAX_LOSERS).map(<[i64]>::to_vec))
            .collect();
        // The first group (if any were merged) counts as done: start after it.
        job.merged = usize::from(!job.groups.is_empty() && !merged.is_empty());
        Ok(job)
    }

    /// The event this merge is for.
    pub fn event_key(&self) -> crate::core::ids::EventKey {
        self.ev.key
    }

    fn call(&mut self, group: usize) -> Option<CallSpec> {
        let losers = self.groups.get(group)?;
        let ids: Vec<String> = losers.iter().map(i64::to_string).collect();
        let query = vec![
            ("leadIds".to_string(), ids.join(",")),
            ("mergeInCRM".to_string(), self.merge_in_crm.to_string()),
        ];
        let mut call = CallSpec::get(
            self.tags.next(),
            Api::Rest,
            format!("/v1/leads/{}/merge.json", self.winner),
            query,
        );
        call.method = Method::Post;
        call.idempotent = false;
        Some(call)
    }

    fn merged_ids(&self) -> Vec<i64> {
        let mut ids = vec![self.winner];
        ids.extend(self.groups.iter().take(self.merged).flatten());
        ids
    }

    /// The requests one event would cause alone, in order.
    pub fn preview(params: &MergeParams, event: &Value) -> Result<Vec<CallSpec>, EventError> {
        let ev = EventRef { key: crate::core::ids::EventKey(0) };
        let mut job = MergeJob::new(params, ev, event).map_err(|(_, e)| e)?;
        Ok((0..job.groups.len()).filter_map(|g| job.call(g)).collect())
    }
}

impl Delivery for MergeJob {
    fn start(&mut self, p: &mut Progress) {
        match self.call(self.merged) {
            Some(call) => p.calls.push(call),
            // Everything was merged before a restart: only the outcome was missing.
            None => {
                self.done = true;
                let mut o = self.ev.outcome(Status::Delivered);
                o.lead_ids = self.merged_ids();
                p.outcome(&self.ev, o);
            }
        }
    }

    fn progress(&self, out: &mut Vec<(crate::core::ids::EventKey, ResumeData)>) {
        if self.merged > 0 {
            let merged = self.groups.iter().take(self.merged).flatten().copied().collect();
            out.push((self.ev.key, ResumeData::Merged { merged }));
        }
    }

    fn on_success(&mut self, _step: Step, env: &Envelope, p: &mut Progress) {
        self.merged += 1;
        if let Some(next) = self.call(self.merged) {
            p.calls.push(next);
        } else if !self.done {
            self.done = true;
            let mut o = self.ev.outcome(Status::Delivered);
            o.lead_ids = self.merged_ids();
            o.request_id = env.request_id.clone();
            p.outcome(&self.ev, o);
        }
    }

    fn on_failure(&mut self, _step: Step, failure: &Failure, p: &mut Progress) {
        if self.done {
            return;
        }
        self.done = true;
        let mut reason = failure.reason.clone();
        if self.merged > 0 {
            let merged = self.merged_ids().len() - 1;
            reason
                .message_mut()
                .push_str(&format!(" (the first {merged} losing leads were merged before this call)"));
        }
        let mut o = self.ev.with_reason(failure.status, &reason, failure.request_id.as_deref());
        o.lead_ids = self.merged_ids();
        p.outcome(&self.ev, o);
    }
}

/// The merge family (`mergeLead`): one job per event, merging its losers into the winner in
/// groups (`POST /rest/v1/leads/{id}/merge.json`, Swagger `mergeLeadsUsingPOST`). A merge is
/// not repeated once it may have been applied; a restore resumes after the groups merged.
pub(crate) struct MergeFamily<'a> {
    /// The action's configuration.
    pub params: &'a MergeParams,
}

impl Family for MergeFamily<'_> {
    /// The job reads the event itself; it waits in no queue, so it adds no bytes to count.
    fn prepare(&self, event: &Value, _: &Format<'_>, _: &mut Vec<String>) -> Result<Prepared, EventError> {
        whole_event(event)
    }

    fn idempotent(&self) -> bool {
        false
    }

    fn preview(&self, event: &Value, _: &Format<'_>, _: usize) -> Result<Vec<CallSpec>, EventError> {
        MergeJob::preview(self.params, event)
    }

    /// One job per event: each merge is its own ordered sequence of calls.
    fn start(&self, items: Vec<(EventRef, Prepared)>, _: &mut Context<'_>) -> Start {
        let mut start = Start::default();
        for (ev, event) in items_of::<Value>(items) {
            match MergeJob::new(self.params, ev, &event) {
                Ok(job) => {
                    let key = job.event_key();
                    start.jobs.push(NewJob::plain(job, vec![key].into()));
                }
                Err(failed) => start.failed.push(failed),
            }
        }
        start
    }

    fn resumes(&self, resume: &ResumeData) -> bool {
        matches!(resume, ResumeData::Merged { .. })
    }

    fn resume(&self, events: Vec<(EventRef, &Value)>, resume: &ResumeData, _: &mut Context<'_>) -> Start {
        let ResumeData::Merged { merged } = resume else { return Start::default() };
        let mut start = Start::default();
        for (ev, event) in events {
            let key = ev.key;
            match MergeJob::resume(self.params, ev, event, merged) {
                Ok(job) => start.jobs.push(NewJob::plain(job, vec![key].into())),
                Err(failed) => start.failed.push(failed),
            }
        }
        start
    }
}
