//! Static list membership: `addLeadToList`, `removeLeadFromList` and their batched forms.
//!
//! A job finds the lead ids (given, or looked up many values per call), creates missing leads
//! when `addLead` is set (one `createOnly` call for all of them), then adds or removes the ids
//! (≤ 300 per call). Each event's outcome lists every id it acted on.

use std::borrow::Cow;

use litemap::LiteMap;

use serde::Serialize;
use serde_json::Value;

use crate::core::batch::{Thresholds, BATCHED};
use crate::core::config::{FilterType, LeadSelector, ListParams};
use crate::core::error::EventError;
use crate::core::ids::{EventKey, EventKeys, Step};
use crate::core::job::{
    chunk_by, value_text, Api, CallSpec, Delivery, EventRef, Failure, Progress, Steps, MAX_RECORDS,
    MAX_URL_BYTES,
};
use crate::core::job::{items_of, known_ids, Context, Family, NewJob, Prepared, Start};
use crate::core::outcome::Status;
use crate::core::reason::Reason;
use crate::core::schema::Format;
use crate::core::source::{put_at, to_id, Source};
use crate::core::wire::{encoded_query_value_len, query_string, Envelope, Method, RecordResult};

/// Add to or remove from the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListOp {
    Add,
    Remove,
}

#[derive(Debug)]
struct Item {
    ev: EventRef,
    /// The lookup value, when the lead is looked up.
    lookup: Option<String>,
    /// The lookup value as Marketo compares it (emails case-insensitively).
    key: Option<String>,
    ids: Vec<i64>,
    done: bool,
}

/// What one of the job's calls is for (its phase and the values or ids it carries).
#[derive(Debug)]
enum CallFor {
    Lookup { values: Vec<String> },
    Create { values: Vec<String> },
    List { ids: Vec<i64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Lookup,
    Create,
    List,
}

/// Delivers list membership changes for a set of events.
pub(crate) struct ListJob {
    op: ListOp,
    list_id: i64,
    filter: Option<FilterType>,
    add_lead: bool,
    /// Room left for query parameters in an 8 KB GET URL, after the base URL and path.
    url_room: usize,
    items: Vec<Item>,
    steps: LiteMap<Step, CallFor>,
    tags: Steps,
    phase: Phase,
    /// Lookup value → lead ids found (or created).
    found: LiteMap<String, Vec<i64>>,
    /// Steps sent again after a failure that may have been applied.
    retried: LiteMap<Step, ()>,
    /// Lead id → Marketo's per-record answer from the list call.
    results: LiteMap<i64, (RecordResult, Option<String>)>,
    /// Events restored while their call was in flight: that call may have been applied, so
    /// their list call is answered as a retry's would be.
    replayed: Vec<EventKey>,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for ListJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListJob").finish_non_exhaustive()
    }
}

const LOOKUP_PATH: &str = "/v1/leads.json";

impl CallFor {
    /// The phase this call belongs to. (A re-lookup after a `1005` is a lookup call sent in the
    /// create phase.)
    fn phase(&self) -> Phase {
        match self {
            CallFor::Lookup { .. } => Phase::Lookup,
            CallFor::Create { .. } => Phase::Create,
            CallFor::List { .. } => Phase::List,
        }
    }
}

impl ListJob {
    /// A job for events already read (see [`resolve`]). `known` holds lookup values whose ids
    /// the lead cache already has: they cost no lookup call.
    pub fn new(
        params: &ListParams,
        op: ListOp,
        prepared: Vec<(EventRef, ListInput)>,
        rest_base_len: usize,
        known: LiteMap<String, Vec<i64>>,
    ) -> ListJob {
        let filter = match &params.lead {
            LeadSelector::Lookup { filter, .. } if *filter != FilterType::Id => Some(*filter),
            _ => None,
        };
        let mut found = LiteMap::new();
        for (v, ids) in known.into_tuple_vec() {
            found.insert(norm(filter, &v), ids);
        }
        let items = prepared
            .into_iter()
            .map(|(ev, input)| {
                let key = input.lookup.as_deref().map(|v| norm(filter, v));
                Item { ev, lookup: input.lookup, key, ids: input.ids, done: false }
            })
            .collect();
        let url_room = MAX_URL_BYTES.saturating_sub(rest_base_len + LOOKUP_PATH.len() + 1);
        ListJob {
            op,
            list_id: params.list_id,
            filter,
            add_lead: params.add_lead,
            url_room,
            items,
            steps: LiteMap::new(),
            tags: Steps::default(),
            phase: Phase::Lookup,
            found,
            retried: LiteMap::new(),
            results: LiteMap::new(),
            replayed: Vec::new(),
        }
    }

    /// Marks events restored while a call for them was in flight (see `replayed`; in key
    /// order).
    pub fn with_replayed(mut self, replayed: Vec<EventKey>) -> ListJob {
        self.replayed = replayed;
        self
    }

    /// Whether a call of `phase` is still waiting for its answer.
    fn outstanding(&self, phase: Phase) -> bool {
        self.steps.values().any(|s| s.phase() == phase)
    }

    /// Gives every unfinished item matching `pred` the outcome `status` for `reason`.
    fn finish_where(
        &mut self,
        progress: &mut Progress,
        pred: impl Fn(&Item) -> bool,
        status: Status,
        reason: &Reason,
        request_id: Option<&str>,
    ) {
        for item in self.items.iter_mut().filter(|i| !i.done && pred(i)) {
            item.done = true;
            let mut o = item.ev.with_reason(status, reason, request_id);
            o.lead_ids = item.ids.clone();
            progress.outcome(&item.ev, o);
        }
    }

    /// Moves to the next phase once the current one has no calls outstanding: lookups end
    /// in creates (when `addLead` has leads to create), creates in the list calls, and the
    /// list calls in the last outcomes.
    fn advance(&mut self, progress: &mut Progress) {
        if self.outstanding(self.phase) {
            return;
        }
        if self.phase == Phase::Lookup {
            self.phase = Phase::Create;
            if self.end_lookups(progress) {
                return;
            }
        }
        if self.phase == Phase::Create {
            // A re-lookup after a 1005 runs in this phase too.
            if self.outstanding(Phase::Create) || self.outstanding(Phase::Lookup) {
                return;
            }
            self.phase = Phase::List;
            self.start_list_calls(progress);
            return;
        }
        // List phase over: anything not yet settled has no answer.
        self.settle_list_items(progress, true);
    }

    /// The requests one event would cause alone (lookups shown as the lookup call, later calls
    /// with a placeholder where the looked-up id goes).
    pub fn preview(
        params: &ListParams,
        op: ListOp,
        event: &Value,
        rest_base_len: usize,
    ) -> Result<Vec<CallSpec>, EventError> {
        let input = resolve(params, event)?;
        let lookup = input.lookup.clone();
        let ev = EventRef { key: crate::core::ids::EventKey(0) };
        let mut job = ListJob::new(params, op, vec![(ev, input)], rest_base_len, LiteMap::new());
        let mut progress = Progress::default();
        job.start(&mut progress);
        let mut calls = progress.calls;
        if lookup.is_some() && job.filter.is_some() {
            let method = if op == ListOp::Add { Method::Post } else { Method::Delete };
            let body = serde_json::json!({"input": [{"id": "<lead id found by the lookup>"}]});
            let step = Step(u32::try_from(calls.len()).unwrap_or(u32::MAX).saturating_add(1));
            let list_call =
                CallSpec::json(step, method, format!("/v1/lists/{}/leads.json", params.list_id), &body);
            calls.push(list_call);
        }
        Ok(calls)
    }
}

/// Phase 1: looking the leads up by filter (Get Leads by Filter).
impl ListJob {
    /// Starts the job: lookup calls for the distinct values the lead cache does not know, or,
    /// with nothing to look up, straight on to the next phase.
    fn start_lookups(&mut self, progress: &mut Progress) {
        // Distinct values as Marketo compares them; those the lead cache knows cost no lookup.
        let mut distinct: LiteMap<String, String> = LiteMap::new();
        for item in &self.items {
            if let (Some(v), Some(k)) = (&item.lookup, &item.key) {
                if !self.found.contains_key(k) {
                    distinct.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        let values: Vec<String> = distinct.into_tuple_vec().into_iter().map(|(_, v)| v).collect();
        match self.filter {
            Some(filter) if !values.is_empty() => self.send_lookups(filter, values, progress),
            _ => self.advance(progress),
        }
    }

    /// Lookup calls for `values`, 300 values a call whatever their length (a URL over 8 KB
    /// goes as `_method=GET`).
    fn send_lookups(&mut self, filter: FilterType, values: Vec<String>, progress: &mut Progress) {
        for group in chunk_by(values, MAX_RECORDS, 0, usize::MAX, |_| 0) {
            let call = self.lookup_call(filter, &group, None);
            self.steps.insert(call.step, CallFor::Lookup { values: group });
            progress.calls.push(call);
        }
    }

    /// A Get Leads by Filter call. When the URL would pass Marketo's 8 KB limit it is sent as
    /// `POST …/leads.json?_method=GET` with the parameters as a form body, which Marketo
    /// documents for exactly this case: one call instead of several.
    fn lookup_call(&mut self, filter: FilterType, values: &[String], page: Option<&str>) -> CallSpec {
        let mut query = vec![
            ("filterType".to_string(), filter.as_str().to_string()),
            ("filterValues".to_string(), values.join(",")),
            ("fields".to_string(), format!("id,{}", filter.as_str())),
            ("batchSize".to_string(), "300".to_string()),
        ];
        if let Some(token) = page {
            query.push(("nextPageToken".to_string(), token.to_string()));
        }
        let form = query_string(&query);
        let mut call = CallSpec::get(self.tags.next(), Api::Rest, LOOKUP_PATH.into(), query);
        if form.len() + 1 > self.url_room {
            call = call.into_post_form();
        }
        call
    }

    /// A lookup call's answer: the ids found for each value are kept (and passed on for the
    /// lead cache), and the next page is asked for when there is one.
    fn on_lookup_answer(&mut self, values: Vec<String>, env: &Envelope, progress: &mut Progress) {
        self.record_lookup_rows(&values, &env.result);
        for v in &values {
            if let Some(ids) = self.found.get(&norm(self.filter, v)) {
                progress.learned.push((v.clone(), ids.clone()));
            }
        }
        if env.more_result {
            if let (Some(token), Some(filter)) = (env.next_page_token.as_deref(), self.filter) {
                let call = self.lookup_call(filter, &values, Some(token));
                self.steps.insert(call.step, CallFor::Lookup { values });
                progress.calls.push(call);
            }
        }
    }

    /// Files each result row's id under the looked-up value it matches (see [`lookup_matches`]).
    fn record_lookup_rows(&mut self, values: &[String], rows: &[Value]) {
        for (v, id) in lookup_matches(self.filter, values, rows) {
            let ids = self.found.entry(norm(self.filter, v)).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    /// Ends the lookup phase: items whose lead was found take its ids, those not found are
    /// skipped unless `addLead` creates them. Returns whether create calls were sent.
    fn end_lookups(&mut self, progress: &mut Progress) -> bool {
        let missing = self.take_found_ids();
        let filter_name = self.filter.map(FilterType::as_str).unwrap_or("id");
        let not_found =
            Reason::marketo("1004", format!("Lead not found: no lead matches the {filter_name} lookup"));
        self.finish_where(
            progress,
            |i| i.key.as_ref().is_some_and(|k| !missing.contains_key(k)) && i.ids.is_empty(),
            Status::Skipped,
            &not_found,
            None,
        );
        match (self.filter, missing.is_empty()) {
            (Some(filter), false) => {
                self.send_creates(filter, missing, progress);
                true
            }
            _ => false,
        }
    }

    /// Gives each looked-up item the ids found for its value, and returns the values found
    /// for none that `addLead` asks to create (normalised value → the spelling to create the
    /// lead with).
    fn take_found_ids(&mut self) -> LiteMap<String, String> {
        let mut missing: LiteMap<String, String> = LiteMap::new();
        for item in self.items.iter_mut().filter(|i| !i.done) {
            let (Some(value), Some(key)) = (&item.lookup, &item.key) else { continue };
            match self.found.get(key) {
                Some(ids) if !ids.is_empty() => item.ids = ids.clone(),
                _ if self.add_lead => {
                    missing.entry(key.clone()).or_insert_with(|| value.clone());
                }
                _ => {}
            }
        }
        missing
    }
}

/// Phase 2: creating the leads not found (`addLead`), one `createOnly` call per 300.
impl ListJob {
    /// Create calls for the `missing` leads, each with only its lookup field.
    fn send_creates(
        &mut self,
        filter: FilterType,
        missing: LiteMap<String, String>,
        progress: &mut Progress,
    ) {
        for values in chunk_by(
            missing.into_tuple_vec().into_iter().map(|(_, v)| v).collect(),
            MAX_RECORDS,
            0,
            usize::MAX,
            |_| 0,
        ) {
            let input: Vec<Value> =
                values.iter().map(|v| serde_json::json!({ filter.as_str(): v })).collect();
            let body = SyncBody { action: "createOnly", lookup_field: filter.as_str(), input };
            let call = CallSpec::json(self.tags.next(), Method::Post, LOOKUP_PATH.into(), &body);
            self.steps.insert(call.step, CallFor::Create { values });
            progress.calls.push(call);
        }
    }

    /// A create call's answer, one record per value in order. Leads that exist after all
    /// (created meanwhile, or by our own earlier attempt whose answer was lost) are looked up
    /// again instead of given up.
    fn on_create_answer(&mut self, values: Vec<String>, env: &Envelope, progress: &mut Progress) {
        let mut exists: Vec<String> = Vec::new();
        for (i, value) in values.iter().enumerate() {
            let rec = env.result.get(i).map(RecordResult::from_value);
            if self.record_created(value, rec, env.request_id.as_deref(), progress) {
                exists.push(value.clone());
            }
        }
        if let (Some(filter), false) = (self.filter, exists.is_empty()) {
            self.send_lookups(filter, exists, progress);
        }
    }

    /// Marketo's record `rec` for the lead created for `value`: its id is kept, or the items
    /// looking it up end (skipped when refused, failed when the record is missing). Returns
    /// whether the lead already exists (`1005`) and should be looked up again.
    fn record_created(
        &mut self,
        value: &str,
        rec: Option<RecordResult>,
        request_id: Option<&str>,
        progress: &mut Progress,
    ) -> bool {
        let key = norm(self.filter, value);
        let (status, reason) = match rec {
            Some(RecordResult { id: Some(id), ref status, .. })
                if status == "created" || status == "updated" =>
            {
                self.found.insert(norm(self.filter, value), vec![id]);
                progress.learned.push((value.to_string(), vec![id]));
                return false;
            }
            Some(rec) if rec.reasons.iter().any(|r| r.code == "1005") => return true,
            Some(rec) => (Status::Skipped, create_refusal(&rec)),
            None => (
                Status::Failed,
                Reason::local("NO_RESULT", "Marketo's answer had no result for the lead to create"),
            ),
        };
        self.finish_where(progress, |i| i.key.as_deref() == Some(key.as_str()), status, &reason, request_id);
        false
    }
}

/// Why Marketo did not create a lead: its first reason, or its status.
fn create_refusal(rec: &RecordResult) -> Reason {
    rec.reasons.first().cloned().map(Reason::from).unwrap_or_else(|| {
        Reason::marketo("", format!("Marketo did not create the lead (status `{}`)", rec.status))
    })
}

/// Phase 3: the list calls (Add to / Remove from List), ≤ 300 lead ids each.
impl ListJob {
    /// Starts the list phase: items still without ids take those found or created, those
    /// with none are skipped, and each distinct id goes in one list call.
    fn start_list_calls(&mut self, progress: &mut Progress) {
        for item in self.items.iter_mut().filter(|i| !i.done && i.ids.is_empty()) {
            if let Some(ids) = item.key.as_ref().and_then(|k| self.found.get(k)) {
                item.ids = ids.clone();
            }
        }
        let not_found = Reason::marketo(
            "1004",
            "Lead not found: Marketo reported it as existing but the lookup found none",
        );
        self.finish_where(progress, |i| i.ids.is_empty(), Status::Skipped, &not_found, None);
        let mut seen: LiteMap<i64, ()> = LiteMap::new();
        let ids: Vec<i64> = self
            .items
            .iter()
            .filter(|i| !i.done)
            .flat_map(|i| i.ids.iter().copied())
            .filter(|id| seen.insert(*id, ()).is_none())
            .collect();
        self.send_list_calls(ids, progress);
    }

    /// List calls for `ids`, 300 a call: `POST` to add, `DELETE` to remove.
    fn send_list_calls(&mut self, ids: Vec<i64>, progress: &mut Progress) {
        let method = match self.op {
            ListOp::Add => Method::Post,
            ListOp::Remove => Method::Delete,
        };
        for group in chunk_by(ids, MAX_RECORDS, 0, usize::MAX, |_| 0) {
            let body = ListBody { input: group.iter().map(|id| LeadId { id: *id }).collect() };
            let call = CallSpec::json(
                self.tags.next(),
                method,
                format!("/v1/lists/{}/leads.json", self.list_id),
                &body,
            );
            self.steps.insert(call.step, CallFor::List { ids: group });
            progress.calls.push(call);
        }
    }

    /// A list call's answer: each record for one of its `ids` is kept, and the items whose
    /// ids all have one get their outcome.
    fn on_list_answer(&mut self, step: Step, ids: &[i64], env: &Envelope, progress: &mut Progress) {
        for row in &env.result {
            let mut rec = RecordResult::from_value(row);
            let retried = self.may_repeat(step, rec.id);
            if retried && self.op == ListOp::Remove && rec.reasons.iter().any(|r| r.code == "1015") {
                // An earlier attempt of this very call may have removed it (its answer was
                // lost): the lead is out of the list either way.
                rec.status = "removed".into();
                rec.reasons.clear();
            }
            if let Some(id) = rec.id.filter(|id| ids.contains(id)) {
                if rec.reasons.iter().any(|r| r.code == "1004") {
                    // Marketo no longer knows this id (deleted or merged away).
                    progress.forget.push(id);
                }
                self.results.insert(id, (rec, env.request_id.clone()));
            }
        }
        self.settle_list_items(progress, false);
    }

    /// Whether lead `id`'s list call repeats one that may have been applied: the call was
    /// retried after an ambiguous failure, or an event for this lead was replayed by a restore.
    fn may_repeat(&self, step: Step, id: Option<i64>) -> bool {
        self.retried.contains_key(&step)
            || id.is_some_and(|id| {
                // Nothing replayed (no restore): skip the walk over the items for each row.
                !self.replayed.is_empty()
                    && self
                        .items
                        .iter()
                        .any(|it| it.ids.contains(&id) && self.replayed.binary_search(&it.ev.key).is_ok())
            })
    }

    /// Gives every item whose ids all have a list answer its outcome. With `all`, items still
    /// missing an answer fail (Marketo's answer did not mention their lead).
    fn settle_list_items(&mut self, progress: &mut Progress, all: bool) {
        let list_word = match self.op {
            ListOp::Add => "added",
            ListOp::Remove => "removed",
        };
        for item in self.items.iter_mut().filter(|i| !i.done && !i.ids.is_empty()) {
            let answers: Vec<&(RecordResult, Option<String>)> =
                item.ids.iter().filter_map(|id| self.results.get(id)).collect();
            if answers.len() < item.ids.len() {
                if all {
                    item.done = true;
                    let reason = Reason::local("NO_RESULT", "Marketo's answer did not mention this lead");
                    let mut o = item.ev.with_reason(Status::Failed, &reason, None);
                    o.lead_ids = item.ids.clone();
                    progress.outcome(&item.ev, o);
                }
                continue;
            }
            item.done = true;
            let request_id = answers.first().and_then(|(_, r)| r.clone());
            let mut o = if answers.iter().any(|(r, _)| r.status == list_word) {
                item.ev.outcome(Status::Delivered)
            } else {
                let reason = answers
                    .iter()
                    .find_map(|(r, _)| r.reasons.first().cloned())
                    .map(Reason::from)
                    .unwrap_or_else(|| {
                        Reason::marketo("", format!("Marketo did not report the lead as {list_word}"))
                    });
                item.ev.with_reason(Status::Skipped, &reason, None)
            };
            o.request_id = request_id;
            o.lead_ids = item.ids.clone();
            progress.outcome(&item.ev, o);
        }
    }
}

impl Delivery for ListJob {
    fn on_retry(&mut self, step: Step) {
        self.retried.insert(step, ());
    }

    /// Each unfinished item's lookup value (see [`ListFamily::keeps_item_only`]).
    fn item_texts(&self) -> Vec<(EventKey, &str)> {
        let unfinished = self.items.iter().filter(|i| !i.done);
        unfinished.filter_map(|i| i.lookup.as_deref().map(|v| (i.ev.key, v))).collect()
    }

    /// The first calls.
    fn start(&mut self, progress: &mut Progress) {
        self.start_lookups(progress);
    }

    /// Marketo answered a call with `success: true`: the answer goes to its phase, then the
    /// job moves on when that phase is over.
    fn on_success(&mut self, step: Step, env: &Envelope, progress: &mut Progress) {
        let Some(kind) = self.steps.remove(&step) else { return };
        match kind {
            CallFor::Lookup { values } => self.on_lookup_answer(values, env, progress),
            CallFor::Create { values } => self.on_create_answer(values, env, progress),
            CallFor::List { ids } => self.on_list_answer(step, &ids, env, progress),
        }
        self.advance(progress);
    }

    /// A call failed for good (after any retries).
    fn on_failure(&mut self, step: Step, failure: &Failure, progress: &mut Progress) {
        let Some(kind) = self.steps.remove(&step) else { return };
        let req = failure.request_id.as_deref();
        match kind {
            CallFor::Lookup { values } | CallFor::Create { values } => {
                let filter = self.filter;
                self.finish_where(
                    progress,
                    |i| i.key.as_ref().is_some_and(|k| values.iter().any(|v| norm(filter, v) == *k)),
                    failure.status,
                    &failure.reason,
                    req,
                );
            }
            CallFor::List { ids } => {
                self.finish_where(
                    progress,
                    |i| i.ids.iter().any(|id| ids.contains(id)),
                    failure.status,
                    &failure.reason,
                    req,
                );
            }
        }
        self.advance(progress);
    }
}

#[derive(Serialize)]
struct SyncBody<'a> {
    action: &'a str,
    #[serde(rename = "lookupField")]
    lookup_field: &'a str,
    input: Vec<Value>,
}

#[derive(Serialize)]
struct LeadId {
    id: i64,
}

#[derive(Serialize)]
struct ListBody {
    input: Vec<LeadId>,
}

/// An event read for a list action: the lookup value, or the lead ids it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListInput {
    pub lookup: Option<String>,
    pub ids: Vec<i64>,
}

impl ListInput {
    /// The bytes this event adds to what is sent: its lookup value in the URL, or its ids in
    /// the list call's body.
    pub fn size(&self) -> usize {
        match &self.lookup {
            Some(v) => encoded_query_value_len(v) + 1,
            // `{"id":N},`: 8 bytes and the digits (and sign) of N.
            None => self.ids.iter().map(|id| 8 + crate::core::json_text::decimal_len(*id)).sum(),
        }
    }
}

/// Reads the lead reference out of an event.
pub(crate) fn resolve(params: &ListParams, event: &Value) -> Result<ListInput, EventError> {
    if !event.is_object() {
        return Err(EventError::not_an_object(event));
    }
    match &params.lead {
        LeadSelector::Id(source) => {
            let v = source.require(event, "targetLeadId")?;
            Ok(ListInput { lookup: None, ids: vec![to_id(v, "targetLeadId")?] })
        }
        LeadSelector::Lookup { filter: FilterType::Id, source } => {
            let v = source.require(event, "leadIdLookup.source")?;
            Ok(ListInput { lookup: None, ids: vec![to_id(v, "leadIdLookup.source")?] })
        }
        LeadSelector::Lookup { filter, source } => {
            let v = source.require(event, "leadIdLookup.source")?;
            let text = value_text(v).ok_or_else(|| match v {
                Value::String(_) => EventError::blank_value("leadIdLookup.source".into()),
                _ => EventError::InvalidValue {
                    parameter: "leadIdLookup.source".into(),
                    problem: format!(
                        "the {} to look up must be a string or a number, not {}",
                        filter.as_str(),
                        crate::core::error::value_kind(v)
                    ),
                },
            })?;
            if text.contains(',') {
                // Marketo splits filterValues on commas, so such a value cannot be looked up.
                return Err(EventError::InvalidValue {
                    parameter: "leadIdLookup.source".into(),
                    problem: "the lookup value contains a comma, which Marketo's lookup cannot carry".into(),
                });
            }
            if *filter == FilterType::Cookies && cookie_token(&text).is_none() {
                return Err(EventError::InvalidValue {
                    parameter: "leadIdLookup.source".into(),
                    problem: "not a Munchkin cookie (expected id:XXX-XXX-XXX&token:_mch-…)".into(),
                });
            }
            Ok(ListInput { lookup: Some(text), ids: Vec::new() })
        }
    }
}

/// A lookup value as Marketo compares it: emails case-insensitively.
fn norm(filter: Option<FilterType>, value: &str) -> String {
    if filter == Some(FilterType::Email) {
        value.to_lowercase()
    } else {
        value.to_string()
    }
}

/// The `_mch-…` token of a Munchkin cookie value (what Marketo returns as `cookies`).
fn cookie_token(cookie: &str) -> Option<&str> {
    cookie.split('&').find_map(|part| part.strip_prefix("token:")).filter(|t| !t.is_empty())
}

/// Each lookup result row's lead id with each looked-up value the row matches
/// ([`row_matches`]), in the rows' order; any row matches when only one value was looked up.
///
/// A row is compared only with the values of its own key, [`norm`] of its text (their
/// positions filed by key; whenever [`row_matches`] pairs a value and a row, their keys are
/// equal), not with every value: a lookup of 300 values answered with 300 rows made 90,000
/// comparisons, most of the cost of a list action's answer. Cookie lookups match by token
/// containment, which has no such key: each row is compared with every value.
fn lookup_matches<'v>(
    filter: Option<FilterType>,
    values: &'v [String],
    rows: &[Value],
) -> Vec<(&'v String, i64)> {
    // The same map type as `ListJob::found`, so the .wasm has no second copy of its code.
    let mut by_key: LiteMap<String, Vec<i64>> = LiteMap::new();
    if let Some(f) = filter.filter(|f| *f != FilterType::Cookies && values.len() > 1) {
        for (i, v) in (0_i64..).zip(values) {
            by_key.entry(norm(Some(f), v)).or_default().push(i);
        }
    }
    let mut matches = Vec::new();
    for row in rows {
        let Some(id) = row.get("id").and_then(Value::as_i64) else { continue };
        match (values, filter) {
            ([only], _) => matches.push((only, id)),
            (_, Some(FilterType::Cookies)) => {
                let matching = values.iter().filter(|v| row_matches(FilterType::Cookies, v, row));
                matches.extend(matching.map(|v| (v, id)));
            }
            (_, Some(f)) => {
                let Some(text) = row_text(f, row) else { continue };
                let positions = by_key.get(&norm(Some(f), &text)).map_or(&[][..], Vec::as_slice);
                let candidates = positions.iter().filter_map(|i| values.get(usize::try_from(*i).ok()?));
                matches.extend(candidates.filter(|v| row_matches(f, v, row)).map(|v| (v, id)));
            }
            (_, None) => {}
        }
    }
    matches
}

/// The text of a lookup result row's filter field (a number as JavaScript writes it), if it
/// has one.
fn row_text(filter: FilterType, row: &Value) -> Option<Cow<'_, str>> {
    match row.get(filter.as_str())? {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(crate::core::schema::js_text(n))),
        _ => None,
    }
}

/// Whether a lookup result row belongs to the requested value.
fn row_matches(filter: FilterType, value: &str, row: &Value) -> bool {
    let Some(field) = row.get(filter.as_str()) else { return false };
    let text = match field {
        Value::String(s) => s.as_str(),
        Value::Number(n) => return crate::core::schema::js_text(n) == value,
        _ => return false,
    };
    match filter {
        // Ignoring case as [`norm`] does, which merges the values looked up (and the lead
        // cache, its keys): ignoring ASCII case only, "Émile@…" and "émile@…", looked up once
        // as one, matched neither to the lead Marketo found.
        FilterType::Email => {
            text.eq_ignore_ascii_case(value)
                || (!(text.is_ascii() && value.is_ascii()) && text.to_lowercase() == value.to_lowercase())
        }
        FilterType::Cookies => cookie_token(value).is_some_and(|t| t == text || text.contains(t)),
        _ => text == value,
    }
}

/// The list family (`addLeadToList`, `removeLeadFromList` and their batched forms): each event
/// names a lead by id or by a lookup value; lookups go first (the lead cache saves repeats),
/// then the list call.
pub(crate) struct ListFamily<'a> {
    /// The action's configuration.
    pub params: &'a ListParams,
    /// Add or remove.
    pub op: ListOp,
    /// Batched (SPEC §4) or sent on arrival.
    pub batched: bool,
}

impl Family for ListFamily<'_> {
    fn prepare(&self, event: &Value, _: &Format<'_>, _: &mut Vec<String>) -> Result<Prepared, EventError> {
        let input = resolve(self.params, event)?;
        let size = input.size();
        Ok(Prepared::new(input, size))
    }

    fn thresholds(&self) -> Option<Thresholds> {
        self.batched.then_some(BATCHED)
    }

    fn preview(&self, event: &Value, _: &Format<'_>, rest_len: usize) -> Result<Vec<CallSpec>, EventError> {
        ListJob::preview(self.params, self.op, event, rest_len)
    }

    fn start(&self, items: Vec<(EventRef, Prepared)>, cx: &mut Context<'_>) -> Start {
        let filter = match &self.params.lead {
            LeadSelector::Lookup { filter, .. } => Some(*filter),
            LeadSelector::Id(_) => None,
        };
        let inputs: Vec<(EventRef, ListInput)> = items_of(items);
        let known = match filter {
            Some(f) => known_ids(cx.cache, f, inputs.iter().filter_map(|(_, i)| i.lookup.as_ref()), cx.now),
            None => LiteMap::new(),
        };
        let events: EventKeys = inputs.iter().map(|(ev, _)| ev.key).collect();
        let replayed = cx.replayed.to_vec();
        let job = ListJob::new(self.params, self.op, inputs, cx.rest_len, known).with_replayed(replayed);
        let job = NewJob { job: Box::new(job), progress: Progress::default(), lookup: filter, events };
        Start { jobs: vec![job], failed: Vec::new() }
    }

    /// An event whose lead is looked up by a value read at an attribute path is kept as that
    /// value only (its text, as Marketo is asked for it): the rest of the event is never sent.
    /// Events naming their lead id, or looking it up by a literal, keep their text.
    fn keeps_item_only(&self) -> bool {
        self.lookup_path().is_some()
    }

    fn item_text<'a>(&self, item: &'a Prepared) -> Option<&'a str> {
        item.get::<ListInput>().and_then(|i| i.lookup.as_deref())
    }

    /// The lookup value, as a string, back at its path: read again, it gives the same value
    /// ([`resolve`] trims a string and writes a number as JavaScript does; the value kept is
    /// that text).
    fn write_event_of_item(&self, text: &str, out: &mut String) -> bool {
        let Some(path) = self.lookup_path() else { return false };
        let mut event = Value::Object(serde_json::Map::new());
        put_at(&mut event, path, Value::String(text.to_owned()));
        crate::core::json_text::write_value(out, &event);
        true
    }
}

impl ListFamily<'_> {
    /// The attribute path a lookup value is read at (`None`: the lead is named by id, or its
    /// lookup value is a literal).
    fn lookup_path(&self) -> Option<&[String]> {
        match &self.params.lead {
            LeadSelector::Lookup { filter, source: Source::Attribute(path) } if *filter != FilterType::Id => {
                Some(path)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_match_their_values() {
        let row = serde_json::json!({"id": 1, "email": "Jane@Example.com", "cookies": "_mch-x-1"});
        assert!(row_matches(FilterType::Email, "jane@example.com", &row));
        assert!(row_matches(FilterType::Cookies, "id:AAA-BBB-CCC&token:_mch-x-1", &row));
        assert!(!row_matches(FilterType::Cookies, "id:AAA-BBB-CCC&token:_mch-x-2", &row));
        assert!(!row_matches(FilterType::TwitterId, "jane", &row));
        // Case ignored beyond ASCII, as `norm` merges values looked up.
        let row = serde_json::json!({"id": 2, "email": "émile@example.com"});
        for value in ["Émile@example.com", "ÉMILE@EXAMPLE.COM", "émile@example.com"] {
            assert!(row_matches(FilterType::Email, value, &row), "{value}");
            assert_eq!(norm(Some(FilterType::Email), value), "émile@example.com");
        }
        assert!(!row_matches(FilterType::Email, "emile@example.com", &row));
    }

    /// The keyed search pairs rows and values exactly as comparing each row with every
    /// value does (the rows' order, then the values' order, within one row's key).
    #[test]
    fn lookup_rows_match_as_compared_one_by_one() {
        let values: Vec<String> = [
            "Jane@Example.com",
            "jane@example.COM",
            "bob@example.com",
            "42",
            "1e+21",
            "1E+21",
            "ÉMILE@example.com",
            "zed@example.com",
            "jane@example.com",
        ]
        .iter()
        .map(|v| v.to_string())
        .collect();
        let rows = vec![
            serde_json::json!({"id": 1, "email": "JANE@example.com", "twitterId": "Jane@Example.com"}),
            serde_json::json!({"id": 2, "email": "bob@example.com", "twitterId": "bob@example.com"}),
            serde_json::json!({"id": 3, "email": 42, "twitterId": 42}),
            serde_json::json!({"id": 4, "email": 1e21, "twitterId": 1e21}),
            serde_json::json!({"id": 5, "email": "émile@example.com", "twitterId": "ÉMILE@example.com"}),
            serde_json::json!({"id": 6, "email": null}),
            serde_json::json!({"email": "bob@example.com"}),
            serde_json::json!({"id": 7, "email": "nobody@example.com", "twitterId": "jane@example.com"}),
            serde_json::json!({"id": 8, "email": "Bob@Example.com"}),
        ];
        for filter in [FilterType::Email, FilterType::TwitterId, FilterType::Cookies] {
            let mut expected = Vec::new();
            for row in &rows {
                let Some(id) = row.get("id").and_then(Value::as_i64) else { continue };
                expected.extend(values.iter().filter(|v| row_matches(filter, v, row)).map(|v| (v, id)));
            }
            assert_eq!(lookup_matches(Some(filter), &values, &rows), expected, "{filter:?}");
        }
        let email = lookup_matches(Some(FilterType::Email), &values, &rows);
        let ids: Vec<i64> = email.iter().map(|(_, id)| *id).collect();
        assert_eq!(ids, [1, 1, 1, 2, 3, 4, 5, 8], "{email:?}");
        // One value: every row is its lead.
        let one = ["x@example.com".to_string()];
        assert_eq!(lookup_matches(Some(FilterType::Email), &one, &rows).len(), 8);
    }

    #[test]
    fn an_event_adds_the_bytes_it_is_sent_as() {
        use crate::core::wire::encode_query_value;
        for v in ["jane@example.com", "a b&c=d+é/%", "id:AAA-BBB-CCC&token:_mch-x-1", ""] {
            let input = ListInput { lookup: Some(v.into()), ids: Vec::new() };
            assert_eq!(input.size(), encode_query_value(v).len() + 1, "{v:?}");
        }
        let ids = vec![1, 9, 10, 99, 100, 123_456_789, i64::MAX, -5, i64::MIN];
        let expected: usize = ids.iter().map(|id| format!("{{\"id\":{id}}},").len()).sum();
        assert_eq!(ListInput { lookup: None, ids }.size(), expected);
    }
}
