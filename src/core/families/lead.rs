//! Lead upserts: `createOrUpdateLead` and `createOrUpdateLeadBatched` through Sync Leads
//! (`POST /rest/v1/leads.json`), one per-record result per event.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use litemap::LiteMap;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::core::batch::{Thresholds, BATCHED};
use crate::core::config::{UpdateStrategy, UpsertParams};
use crate::core::error::EventError;
use crate::core::ids::{EventKey, EventKeys, Step};
use crate::core::job::{
    chunk_ranges, CallSpec, Delivery, EventRef, Failure, Progress, Steps, MAX_BODY_BYTES, MAX_RECORDS,
};
use crate::core::job::{items_of, Context, Family, NewJob, Prepared, Start};
use crate::core::json_text;
use crate::core::outcome::Status;
use crate::core::reason::Reason;
use crate::core::schema::Format;
use crate::core::wire::{Envelope, Joined, Method, RecordResult};

#[derive(Debug)]
struct Item {
    ev: EventRef,
    done: bool,
}

/// One lead record as it waits in a queue: written once to its compact JSON text (an object,
/// exactly what serde_json writes for the mapped `Map`, so with its keys in `Map`'s order), and
/// the lookup key the job merges records of the same lead by. Text and key share one allocation:
/// a queued event holds a few bytes more than its record's text, not a tree of fields.
#[derive(Debug)]
pub(crate) struct Written {
    /// The record's text, followed by its key when it has one.
    buf: Box<str>,
    /// Bytes of `buf` that are the record's text.
    text_len: usize,
    /// Whether `buf` goes on with a key after the text.
    keyed: bool,
}

impl Written {
    /// A record's text with no key (a merged record: it is merged with nothing more).
    fn unkeyed(text: String) -> Written {
        Written { text_len: text.len(), buf: text.into_boxed_str(), keyed: false }
    }

    /// The record's compact JSON text (an object).
    fn text(&self) -> &str {
        self.buf.get(..self.text_len).unwrap_or_default()
    }

    /// What records of the same lead share: the lookup field's value (an email trimmed and
    /// lower-cased, as Marketo compares them; any other value as its JSON text). `None` when the
    /// strategy does not merge (`createOnly`, `createDuplicate`) or the field is absent.
    fn key(&self) -> Option<&str> {
        self.keyed.then(|| self.buf.get(self.text_len..)).flatten()
    }

    /// The bytes it adds to a Sync Leads body: its text and a separating comma.
    fn size(&self) -> usize {
        self.text_len + 1
    }
}

/// A record's text: its own until the first call carrying it is built, then shared (`Arc`)
/// with that call's body ([`crate::core::wire::Body::Joined`]), which the engine keeps for a retry. A batch in
/// flight holds its records once, not also joined into a body (up to 1 MB a call): the host
/// is handed the body joined.
#[derive(Debug)]
enum RecordText {
    Own(Written),
    Shared(Arc<str>),
}

impl RecordText {
    fn text(&self) -> &str {
        match self {
            RecordText::Own(written) => written.text(),
            RecordText::Shared(text) => text,
        }
    }

    /// The text shared, made so first (its key dropped).
    fn share(&mut self) -> Arc<str> {
        let text: Arc<str> = match self {
            RecordText::Shared(text) => return Arc::clone(text),
            RecordText::Own(written) => Arc::from(written.text()),
        };
        *self = RecordText::Shared(Arc::clone(&text));
        text
    }

    /// The bytes it adds to a Sync Leads body: its text and a separating comma.
    fn size(&self) -> usize {
        self.text().len() + 1
    }
}

/// One record sent: one event's, or several events' for the same lead merged.
#[derive(Debug)]
struct Record {
    text: RecordText,
    /// The events merged into it, in arrival order.
    items: Vec<usize>,
}

/// Delivers lead upserts for a set of events.
#[derive(Debug)]
pub(crate) struct SyncJob {
    strategy: UpdateStrategy,
    /// Every body's start: `{"action":…,"lookupField":…,["partitionName":…,]"input":[`.
    head: String,
    items: Vec<Item>,
    records: Vec<Record>,
    /// Step → indexes of the records it carries, in input order.
    steps: LiteMap<Step, Vec<usize>>,
    tags: Steps,
}

/// A Sync Leads body with no records, `{"action":…,…,"input":[]}`: the envelope the records'
/// texts are written into (Swagger `SyncLeadRequest`), keys in this order.
#[derive(Serialize)]
struct SyncHead<'a> {
    action: &'a str,
    #[serde(rename = "lookupField")]
    lookup_field: &'a str,
    #[serde(rename = "partitionName", skip_serializing_if = "Option::is_none")]
    partition: Option<&'a str>,
    input: [(); 0],
}

/// Every Sync Leads body's start for `params`, `{"action":…,"lookupField":…,["partitionName":…,]"input":[`
/// (a body is this, the records joined by `,`, and `]}`).
fn sync_head(params: &UpsertParams) -> String {
    let head = SyncHead {
        action: params.strategy.as_str(),
        lookup_field: &params.lookup_field,
        partition: params.partition.as_deref(),
        input: [],
    };
    // Serializing strings cannot fail; the empty body ends with `]}` (see `SyncHead`).
    let empty = serde_json::to_string(&head).unwrap_or_default();
    empty.strip_suffix("]}").unwrap_or(&empty).to_owned()
}

/// Whether `strategy` merges records of the same lead (it finds leads by the lookup field).
fn mergeable(strategy: UpdateStrategy) -> bool {
    matches!(strategy, UpdateStrategy::CreateOrUpdate | UpdateStrategy::UpdateOnly)
}

/// Maps one event to its lead record, formatted by `fmt` (values cut are reported in
/// `warnings`), checking the lookup field is there when Marketo needs it, and writes it in the
/// form it waits and is sent in: its compact JSON text and its merge key (see
/// [`Written::key`]). The text is byte for byte serde_json's for the record's `Map` (fields by
/// name, `UpsertParams::record_order`), written field by field without building that `Map`;
/// fields are read in mapping order, so the first failing field and the warnings come in that
/// order. An `email` lookup value is trimmed as it is read, before the schema formats it (its
/// length is that of the value sent, [`crate::core::source::FieldMapping::value_for`]):
/// records are merged by the trimmed email (as list lookups and bulk report rows match it), so
/// the record sent, merged or not, names the lead by the value it was merged by, never
/// `" Jane@x.com "` that Marketo could take for another lead (README "createOrUpdateLead").
///
/// # Errors
/// The event is not an object; a field's value cannot be converted ([`crate::core::source::FieldMapping::value_for`]);
/// no field has a value, or the lookup field has none (`MISSING_ATTRIBUTE`); the lookup value is
/// blank ([`EventError::blank_lookup`]).
pub(crate) fn write_record_for(
    params: &UpsertParams,
    event: &Value,
    fmt: &Format<'_>,
    warnings: &mut Vec<String>,
) -> Result<Written, EventError> {
    if !event.is_object() {
        return Err(EventError::not_an_object(event));
    }
    let mut values: Vec<Option<Cow<'_, Value>>> = Vec::with_capacity(params.lead_data.len());
    // A missing, blank or unusable lookup value is the event's failure whatever else is wrong
    // with it: those checks need no lead schema, and another field's (a type's) may, so the
    // event's outcome would otherwise depend on whether the schema had been read. Another
    // field's error waits for them (its field counts as having a value meanwhile).
    let mut failed = None;
    for m in &params.lead_data {
        let lookup = m.field == params.lookup_field;
        match m.value_for(event, fmt, lookup, warnings) {
            Ok(v) => values.push(v),
            Err(e) if lookup => return Err(e),
            Err(e) => {
                values.push(Some(Cow::Owned(Value::Null)));
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => check_values(params, &values).and(Err(e)),
        None => write_values(params, &values),
    }
}

/// A lead record prepared before the schema was read (its values as the configured `type`
/// read them, [`crate::core::source::FieldMapping::read_value`]; `record` is its text read as
/// raw values by field) formatted with `fmt` now: what [`write_record_for`] writes for its event
/// with `fmt`, without the event. Fields are unique in a mapping, so the record holds each
/// mapped field's value. `None` when a value is not JSON (the record was not written here).
///
/// # Errors
/// As [`write_record_for`], for the Marketo types and lengths.
fn rewrite_record(
    params: &UpsertParams,
    record: &BTreeMap<String, &RawValue>,
    fmt: &Format<'_>,
    warnings: &mut Vec<String>,
) -> Option<Result<Written, EventError>> {
    let mut values: Vec<Option<Cow<'_, Value>>> = Vec::with_capacity(params.lead_data.len());
    for m in &params.lead_data {
        let value = match record.get(&m.field) {
            Some(raw) => {
                let read = serde_json::from_str::<Value>(raw.get()).ok()?;
                match m.formatted(Cow::Owned(read), fmt, m.field == params.lookup_field, warnings) {
                    Ok(v) => Some(v),
                    Err(e) => return Some(Err(e)),
                }
            }
            None => None,
        };
        values.push(value);
    }
    Some(write_values(params, &values))
}

/// Writes the record of `values` (one per mapped field, in mapping order; `None` for a field
/// left out): see [`write_record_for`].
///
/// # Errors
/// No field has a value, or the lookup field has none (`MISSING_ATTRIBUTE`) or a blank one
/// ([`EventError::blank_lookup`]).
fn write_values(params: &UpsertParams, values: &[Option<Cow<'_, Value>>]) -> Result<Written, EventError> {
    let merged_by = check_values(params, values)?;
    let email = params.lookup_field == "email";
    let key = merged_by.map(|v| match v {
        Value::String(s) if email => s.to_lowercase(),
        other => other.to_string(),
    });
    let capacity: usize = params
        .lead_data
        .iter()
        .zip(values)
        .filter_map(|(m, v)| v.as_ref().map(|v| m.field.len() + 4 + json_text::capacity(v)))
        .sum();
    let mut buf = String::with_capacity(capacity + 2 + key.as_ref().map_or(0, String::len));
    buf.push('{');
    for i in &params.record_order {
        let (Some(m), Some(Some(v))) = (params.lead_data.get(*i), values.get(*i)) else { continue };
        if buf.len() > 1 {
            buf.push(',');
        }
        json_text::write_str(&mut buf, &m.field);
        buf.push(':');
        json_text::write_value(&mut buf, v);
    }
    buf.push('}');
    let text_len = buf.len();
    let keyed = key.is_some();
    if let Some(key) = key {
        buf.push_str(&key);
    }
    Ok(Written { buf: buf.into_boxed_str(), text_len, keyed })
}

/// The checks of [`write_values`] before it writes: some field has a value, and the lookup
/// field a usable one where records are merged by it. The lookup value records are merged by
/// (`None` when the strategy does not merge).
///
/// # Errors
/// As [`write_values`].
fn check_values<'v>(
    params: &UpsertParams,
    values: &'v [Option<Cow<'_, Value>>],
) -> Result<Option<&'v Value>, EventError> {
    let lookup_at = params.lead_data.iter().position(|m| m.field == params.lookup_field);
    // No value at all: named as the mapping's when it has several fields; a lone lookup field
    // is named as the lookup field below.
    if values.iter().all(Option::is_none) && !(mergeable(params.strategy) && params.lead_data.len() == 1) {
        let paths: Vec<String> = params.lead_data.iter().map(|m| m.source.describe()).collect();
        return Err(EventError::MissingAttribute { parameter: "leadData".into(), path: paths.join(", ") });
    }
    let lookup = lookup_at.and_then(|i| values.get(i)).and_then(Option::as_deref);
    if mergeable(params.strategy) && lookup.is_none_or(Value::is_null) {
        let path =
            lookup_at.and_then(|i| params.lead_data.get(i)).map(|m| m.source.describe()).unwrap_or_default();
        return Err(EventError::no_value(
            format!("leadData field {} (the lookup field)", params.lookup_field),
            path,
            lookup,
        ));
    }
    // What records of the same lead are merged by (`None` when the strategy does not merge).
    let merged_by = lookup.filter(|_| mergeable(params.strategy));
    if let Some(Value::String(s)) = merged_by {
        if s.trim().is_empty() {
            return Err(EventError::blank_lookup(&params.lookup_field));
        }
    }
    Ok(merged_by)
}

/// The records' events: indexes into `prepared` of each record's events, records in order of
/// their first event; events with the same key (see [`Written::key`]) in one record.
fn same_leads(prepared: &[(EventRef, Written)]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::with_capacity(prepared.len());
    let mut by_key: LiteMap<&str, usize> = LiteMap::new();
    for (i, (_, written)) in prepared.iter().enumerate() {
        let key = written.key();
        match key.and_then(|k| by_key.get(k)).and_then(|g| groups.get_mut(*g)) {
            Some(group) => group.push(i),
            None => {
                if let Some(k) = key {
                    by_key.insert(k, groups.len());
                }
                groups.push(vec![i]);
            }
        }
    }
    groups
}

/// Records of one lead merged into one text: later values win per field, keys in `Map`'s order
/// (serde_json is built without `preserve_order`: sorted), as `Map::extend` merged them. The
/// values are copied as written, never parsed. `None` if a text is not a JSON object.
fn merge<'a>(texts: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut fields: BTreeMap<String, &RawValue> = BTreeMap::new();
    for text in texts {
        let record: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
        fields.extend(record);
    }
    serde_json::to_string(&fields).ok()
}

/// Adds the record of the events `group` (indexes into `written`, whose records are taken) to
/// `records`: the event's own record, or the merged record of several.
fn add_record(records: &mut Vec<Record>, group: Vec<usize>, written: &mut [Option<Written>]) {
    if group.len() > 1 {
        let texts = group.iter().filter_map(|i| written.get(*i).and_then(Option::as_ref)).map(Written::text);
        if let Some(text) = merge(texts) {
            records.push(Record { text: RecordText::Own(Written::unkeyed(text)), items: group });
            return;
        }
    }
    // One event, or texts that could not be merged (cannot happen: each is a written `Map`).
    for i in group {
        if let Some(w) = written.get_mut(i).and_then(Option::take) {
            records.push(Record { text: RecordText::Own(w), items: vec![i] });
        }
    }
}

impl SyncJob {
    /// A job for events already written as records (see [`write_record_for`]).
    ///
    /// With `createOrUpdate` and `updateOnly`, records of the same lead (same lookup value;
    /// emails compared case-insensitively, as Marketo does) are merged into one, later values
    /// winning per field: one record instead of several, and the lead's updates applied in
    /// order. `createOnly` and `createDuplicate` keep every record.
    pub fn new(params: &UpsertParams, prepared: Vec<(EventRef, Written)>) -> SyncJob {
        let groups = same_leads(&prepared);
        let mut items = Vec::with_capacity(prepared.len());
        let mut written = Vec::with_capacity(prepared.len());
        for (ev, w) in prepared {
            items.push(Item { ev, done: false });
            written.push(Some(w));
        }
        let mut records = Vec::with_capacity(groups.len());
        for group in groups {
            add_record(&mut records, group, &mut written);
        }
        SyncJob {
            strategy: params.strategy,
            head: sync_head(params),
            items,
            records,
            steps: LiteMap::new(),
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

    /// The Sync Leads body for records `idx`: the head, their texts joined by `,`, and `]}`
    /// (byte for byte what serde_json writes for the envelope holding the records), kept as
    /// those pieces, each record's text shared with the job from then on.
    fn body(&mut self, idx: &[usize]) -> Joined {
        let mut parts = Vec::with_capacity(idx.len());
        for i in idx {
            if let Some(record) = self.records.get_mut(*i) {
                parts.push(record.text.share());
            }
        }
        Joined { head: self.head.clone(), parts, sep: ",", tail: "]}".into() }
    }

    /// The call sending records `group`.
    fn call(&mut self, group: Vec<usize>) -> CallSpec {
        let body = self.body(&group);
        let mut call = CallSpec::json_joined(self.tags.next(), Method::Post, "/v1/leads.json".into(), body);
        // A retried createDuplicate after a lost answer would create the lead twice.
        call.idempotent = self.strategy != UpdateStrategy::CreateDuplicate;
        self.steps.insert(call.step, group);
        call
    }
}

impl Delivery for SyncJob {
    /// The calls: ≤ 300 records and ≤ 1 MB per body.
    fn start(&mut self, progress: &mut Progress) {
        let overhead = self.head.len() + 2;
        let sizes = self.records.iter().map(|r| r.text.size());
        for group in chunk_ranges(sizes, MAX_RECORDS, overhead, MAX_BODY_BYTES) {
            let call = self.call(group.collect());
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
                    let call = self.call(half);
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

    /// Each unfinished event's record (events merged into one record share its text).
    fn item_texts(&self) -> Vec<(EventKey, &str)> {
        let mut out = Vec::with_capacity(self.items.len());
        for rec in &self.records {
            for idx in &rec.items {
                if let Some(item) = self.items.get(*idx).filter(|i| !i.done) {
                    out.push((item.ev.key, rec.text.text()));
                }
            }
        }
        out
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

impl LeadFamily<'_> {
    /// Whether a Sync Leads body can hold `written`: a record no body can hold fails on
    /// arrival, not with a 413 once its batch goes (which would also send it with others).
    /// `overhead()` bounds the envelope from above; the exact one is written only for a record
    /// that close to the limit. Only once formatted with the lead schema: before it is read, a
    /// long string is not yet cut to its field's length (`onTooLong: "truncate"` may bring the
    /// record under the limit), and the event is prepared again with the schema before it is
    /// sent.
    ///
    /// # Errors
    /// [`EventError::TooLarge`] (`RECORD_TOO_LARGE`) with the record's and the envelope's bytes.
    fn fits(&self, written: &Written, format: &Format<'_>) -> Result<(), EventError> {
        if format.schema.is_some() && written.size() + self.overhead() > MAX_BODY_BYTES {
            let envelope = sync_head(self.params).len() + 2;
            if written.text_len + envelope > MAX_BODY_BYTES {
                return Err(EventError::TooLarge {
                    what: "the lead record",
                    bytes: written.text_len,
                    envelope,
                    limit: MAX_BODY_BYTES,
                });
            }
        }
        Ok(())
    }

    /// `written` as a queued item, once [`LeadFamily::fits`] says a body can hold it.
    ///
    /// # Errors
    /// [`EventError::TooLarge`], from [`LeadFamily::fits`].
    fn prepared(&self, written: Written, format: &Format<'_>) -> Result<Prepared, EventError> {
        self.fits(&written, format)?;
        let size = written.size();
        Ok(Prepared::new(written, size))
    }
}

impl Family for LeadFamily<'_> {
    fn prepare(
        &self,
        event: &Value,
        format: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Prepared, EventError> {
        let written = write_record_for(self.params, event, format, warnings)?;
        self.prepared(written, format)
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
        let written = write_record_for(self.params, event, format, &mut Vec::new())?;
        // What `process()` refuses on arrival is refused here too.
        self.fits(&written, format)?;
        let mut job = SyncJob::new(self.params, vec![(ev, written)]);
        let mut progress = Progress::default();
        job.start(&mut progress);
        Ok(progress.calls)
    }

    fn start(&self, items: Vec<(EventRef, Prepared)>, _: &mut Context<'_>) -> Start {
        let records: Vec<(EventRef, Written)> = items_of(items);
        let events: EventKeys = records.iter().map(|(ev, _)| ev.key).collect();
        Start { jobs: vec![NewJob::plain(SyncJob::new(self.params, records), events)], failed: Vec::new() }
    }

    fn keeps_item_only(&self) -> bool {
        self.params.undoable
    }

    fn item_text<'a>(&self, item: &'a Prepared) -> Option<&'a str> {
        item.get::<Written>().map(Written::text)
    }

    fn reformats_items(&self) -> bool {
        true
    }

    fn reformat_item(
        &self,
        item: Prepared,
        format: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Prepared, EventError> {
        let Some(written) = item.get::<Written>() else { return Ok(item) };
        // A record not read back (not written here) is sent as it was written.
        let Ok(record) = serde_json::from_str::<BTreeMap<String, &RawValue>>(written.text()) else {
            return Ok(item);
        };
        // Most records need no value changed (text within its length, numbers as numbers,
        // [`crate::core::source::FieldMapping::formats_unchanged`]): the same item, record, key
        // and checks, only held to the body limit now that the schema is known.
        let fields = &self.params.lead_data;
        if fields
            .iter()
            .all(|m| record.get(&m.field).is_none_or(|raw| m.formats_unchanged(raw.get(), format)))
        {
            self.fits(written, format)?;
            return Ok(item);
        }
        match rewrite_record(self.params, &record, format, warnings) {
            Some(again) => self.prepared(again?, format),
            None => Ok(item),
        }
    }

    /// Each field's value in the record, back at its attribute path. The values are copied as
    /// the record holds them, never parsed: the record was written by the same writer
    /// ([`json_text`]) that would write them again, so the text is the same (the map type is
    /// the one [`merge`] reads records with: no other copy of its code in the `.wasm`).
    fn write_event_of_item(&self, text: &str, out: &mut String) -> bool {
        let Ok(record) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else { return false };
        let fields = &self.params.lead_data;
        self.params.paths.write(out, &mut |i, out| {
            let value = fields.get(i).and_then(|m| record.get(&m.field));
            value.map(|v| out.push_str(v.get())).is_some()
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::source::FieldMapping;
    use serde_json::json;
    use serde_json::Map;

    fn params(strategy: UpdateStrategy) -> UpsertParams {
        let lead_data = json!([
            {"field": "email", "source": {"attribute": "email"}},
            {"field": "firstName", "source": {"attribute": "first"}},
            {"field": "score", "source": {"attribute": "score"}},
        ]);
        let lead_data = FieldMapping::parse_list(&lead_data, "leadData").unwrap();
        UpsertParams {
            strategy,
            lookup_field: "email".into(),
            record_order: crate::core::source::record_order(&lead_data),
            paths: crate::core::source::PathTree::new(&lead_data),
            lead_data,
            partition: Some("Default".into()),
            undoable: true,
        }
    }

    fn ev(n: u64) -> EventRef {
        EventRef { key: EventKey(n) }
    }

    /// What fails an event whose other fields' values fail too: its lookup value's own error,
    /// or a missing, `null` or blank one where records are merged by it.
    fn lookup_error(params: &UpsertParams, event: &Value, fmt: &Format<'_>) -> Option<EventError> {
        let m = params.lead_data.iter().find(|m| m.field == params.lookup_field)?;
        let value = match m.value_for(event, fmt, true, &mut Vec::new()) {
            Ok(v) => v,
            Err(e) => return Some(e),
        };
        if !mergeable(params.strategy) {
            return None;
        }
        match value.as_deref() {
            None | Some(Value::Null) => Some(EventError::no_value(
                format!("leadData field {} (the lookup field)", params.lookup_field),
                m.source.describe(),
                value.as_deref(),
            )),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Some(EventError::blank_lookup(&params.lookup_field))
            }
            Some(_) => None,
        }
    }

    // The record as a `Map`, then written: how records were made before `write_record_for`,
    // kept as the reference it must match byte for byte.
    fn record_for(
        params: &UpsertParams,
        event: &Value,
        fmt: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Map<String, Value>, EventError> {
        if !event.is_object() {
            return Err(EventError::not_an_object(event));
        }
        let record = match crate::core::source::map_record(
            &params.lead_data,
            event,
            fmt,
            &params.lookup_field,
            warnings,
        ) {
            Ok(record) => record,
            // The lookup value's own checks come first (`write_record_for`).
            Err(e) => return Err(lookup_error(params, event, fmt).unwrap_or(e)),
        };
        if record.is_empty() {
            let paths: Vec<String> = params.lead_data.iter().map(|m| m.source.describe()).collect();
            return Err(EventError::MissingAttribute {
                parameter: "leadData".into(),
                path: paths.join(", "),
            });
        }
        if mergeable(params.strategy) && record.get(&params.lookup_field).is_none_or(Value::is_null) {
            let path = params
                .lead_data
                .iter()
                .find(|m| m.field == params.lookup_field)
                .map(|m| m.source.describe())
                .unwrap_or_default();
            return Err(EventError::no_value(
                format!("leadData field {} (the lookup field)", params.lookup_field),
                path,
                record.get(&params.lookup_field),
            ));
        }
        if let Some(Value::String(s)) =
            record.get(&params.lookup_field).filter(|_| mergeable(params.strategy))
        {
            if s.trim().is_empty() {
                return Err(EventError::blank_lookup(&params.lookup_field));
            }
        }
        Ok(record)
    }

    /// A record from [`record_for`] in the form it waits and is sent in: its compact JSON text and
    /// its merge key (see [`Written::key`]). An `email` lookup value is sent trimmed: records are
    /// merged by the trimmed email (as list lookups and bulk report rows match it), so the record
    /// sent, merged or not, names the lead by the value it was merged by, never `" Jane@x.com "`
    /// that Marketo could take for another lead (README "createOrUpdateLead").
    fn write_record(params: &UpsertParams, record: &Map<String, Value>) -> Result<Written, EventError> {
        let trimmed;
        let record = match record.get(&params.lookup_field) {
            Some(Value::String(s)) if params.lookup_field == "email" && s.trim().len() != s.len() => {
                let mut copy = record.clone();
                copy.insert(params.lookup_field.clone(), Value::String(s.trim().to_owned()));
                trimmed = copy;
                &trimmed
            }
            _ => record,
        };
        let key = record.get(&params.lookup_field).filter(|_| mergeable(params.strategy)).map(|v| match v {
            Value::String(s) if params.lookup_field == "email" => s.trim().to_lowercase(),
            other => other.to_string(),
        });
        let mut buf =
            String::with_capacity(json_text::object_capacity(record) + key.as_ref().map_or(0, String::len));
        json_text::write_object(&mut buf, record);
        let text_len = buf.len();
        let keyed = key.is_some();
        if let Some(key) = key {
            buf.push_str(&key);
        }
        Ok(Written { buf: buf.into_boxed_str(), text_len, keyed })
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// The bodies of the calls a job for `records` makes.
    fn bodies(params: &UpsertParams, records: &[Map<String, Value>]) -> Vec<String> {
        let prepared = records
            .iter()
            .enumerate()
            .map(|(n, r)| (ev(n as u64), write_record(params, r).unwrap()))
            .collect();
        let mut job = SyncJob::new(params, prepared);
        let mut progress = Progress::default();
        job.start(&mut progress);
        progress
            .calls
            .into_iter()
            .map(|c| match c.body {
                Some((body, _)) => body.text().expect("a text body").into_owned(),
                None => panic!("no body"),
            })
            .collect()
    }

    #[test]
    fn records_of_one_lead_are_merged_as_the_map_based_job_merged_them() {
        let p = params(UpdateStrategy::CreateOrUpdate);
        let records = [
            map(
                json!({"email": "jane@example.com", "firstName": "Jane", "score": 1.5, "title": "A \"b\" é\n"}),
            ),
            map(json!({"email": "bob@example.com", "firstName": "Bob"})),
            map(
                json!({"email": "  Jane@Example.COM ", "city": "Zürich", "score": 2, "nested": {"z": 1, "a": [1e+300]}}),
            ),
        ];
        let expected = concat!(
            r#"{"action":"createOrUpdate","lookupField":"email","partitionName":"Default","input":["#,
            r#"{"city":"Zürich","email":"Jane@Example.COM","firstName":"Jane","nested":{"a":[1e+300],"z":1},"#,
            r#""score":2,"title":"A \"b\" é\n"},"#,
            r#"{"email":"bob@example.com","firstName":"Bob"}]}"#,
        );
        assert_eq!(bodies(&p, &records), vec![expected.to_string()]);

        // What the Map-based job wrote: `Map::extend` into the first record, the envelope
        // serialised around the maps (the email lookup value trimmed, as every record sends it).
        #[derive(Serialize)]
        struct OldBody<'a> {
            action: &'a str,
            #[serde(rename = "lookupField")]
            lookup_field: &'a str,
            #[serde(rename = "partitionName")]
            partition: &'a str,
            input: Vec<&'a Map<String, Value>>,
        }
        let mut jane = records[0].clone();
        jane.extend(records[2].clone());
        jane.insert("email".into(), json!("Jane@Example.COM"));
        let old = OldBody {
            action: "createOrUpdate",
            lookup_field: "email",
            partition: "Default",
            input: vec![&jane, &records[1]],
        };
        assert_eq!(serde_json::to_string(&old).unwrap(), expected);
    }

    #[test]
    fn records_are_not_merged_when_the_strategy_creates() {
        let p = params(UpdateStrategy::CreateDuplicate);
        let records =
            [map(json!({"email": "a@x.com", "score": 1})), map(json!({"email": "A@x.com", "score": 2}))];
        let expected = concat!(
            r#"{"action":"createDuplicate","lookupField":"email","partitionName":"Default","input":["#,
            r#"{"email":"a@x.com","score":1},{"email":"A@x.com","score":2}]}"#,
        );
        assert_eq!(bodies(&p, &records), vec![expected.to_string()]);
    }

    #[test]
    fn records_are_written_as_serde_json_writes_them() {
        let record = map(json!({
            "email": "a@x.com",
            "quote\"d key": "say \"hi\" \\ back/slash",
            "controls": "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "unicode": "Zoë 東京 🎉 \u{2028}",
            "ints": [0, -1, i64::MIN, u64::MAX],
            "floats": [0.1, -0.0, 1e300, -1.7976931348623157e308, 5e-324, 12.25],
            "other": [true, false, null, {"b": "\"", "a": {}}, []],
            "empty": "",
            "n": 42,
            "f": 2.5,
            "longest": -1.7976931348623157e308,
            "min": i64::MIN,
            "null": null,
        }));
        let written = write_record(&params(UpdateStrategy::CreateOnly), &record).unwrap();
        assert_eq!(written.text(), serde_json::to_string(&record).unwrap());
        assert_eq!(written.key(), None);
        let written = write_record(&params(UpdateStrategy::UpdateOnly), &record).unwrap();
        assert_eq!(written.text(), serde_json::to_string(&record).unwrap());
        assert_eq!(written.key(), Some("a@x.com"));
    }

    #[test]
    fn the_prepared_size_is_what_the_record_adds_to_a_body() {
        let p = params(UpdateStrategy::CreateOrUpdate);
        let family = LeadFamily { params: &p, batched: true };
        let event = json!({"email": "Zoë@example.com", "first": "Zoë \"Z\"", "score": 12.25});
        let prepared = family.prepare(&event, &Format::default(), &mut Vec::new()).unwrap();
        let record = record_for(&p, &event, &Format::default(), &mut Vec::new()).unwrap();
        let other = map(json!({"email": "bob@example.com"}));
        let one = bodies(&p, std::slice::from_ref(&other));
        let two = bodies(&p, &[other, record.clone()]);
        assert_eq!(prepared.size, two[0].len() - one[0].len());
        assert_eq!(prepared.size, serde_json::to_string(&record).unwrap().len() + 1);
    }

    #[test]
    fn a_record_written_field_by_field_is_the_map_written_out() {
        let lead_data = json!([
            {"field": "zeta", "source": {"attribute": "z"}},
            {"field": "email", "source": {"attribute": "e"}},
            {"field": "Apple", "source": {"attribute": "a"}},
            {"field": "apple", "source": {"attribute": "b"}},
            {"field": "é", "source": {"attribute": "c"}},
            {"field": "leadSource", "source": {"value": "web"}},
            {"field": "signup", "source": {"attribute": "d"}, "type": "date"}
        ]);
        let lead_data = FieldMapping::parse_list(&lead_data, "leadData").unwrap();
        let values = [
            json!(null),
            json!(""),
            json!(" A@X.io "),
            json!(7),
            json!(-0.0),
            json!("q\"\n"),
            json!([1, {"b": 1, "a": 2}]),
            json!(true),
            json!("2026-11-28T09:30:00+02:00"),
        ];
        for strategy in
            [UpdateStrategy::CreateOrUpdate, UpdateStrategy::CreateOnly, UpdateStrategy::CreateDuplicate]
        {
            let p = UpsertParams {
                strategy,
                lookup_field: "email".into(),
                record_order: crate::core::source::record_order(&lead_data),
                paths: crate::core::source::PathTree::new(&lead_data),
                lead_data: lead_data.clone(),
                partition: None,
                undoable: true,
            };
            for n in 0..2000u64 {
                // Each key's value drawn apart (a linear congruential sequence per event).
                let mut state =
                    n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let mut event = json!({});
                for key in ["z", "e", "a", "b", "c", "d"] {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    if let Some(v) = values.get((state >> 33) as usize % (values.len() + 1)) {
                        event[key] = v.clone();
                    }
                }
                let (mut w1, mut w2) = (Vec::new(), Vec::new());
                let new = write_record_for(&p, &event, &Format::default(), &mut w1);
                let old =
                    record_for(&p, &event, &Format::default(), &mut w2).and_then(|r| write_record(&p, &r));
                let both_ok = new.is_ok() && old.is_ok();
                match (new, old) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!((a.text(), a.key()), (b.text(), b.key()), "{event}");
                        // The event written back for a snapshot, its values copied from the
                        // record's text, is the text of the event rebuilt from the parsed record.
                        let record: Value = serde_json::from_str(a.text()).unwrap();
                        let rebuilt =
                            crate::core::source::unmap(&p.lead_data, |_, m| record.get(&m.field).cloned());
                        let mut text = String::new();
                        assert!(
                            LeadFamily { params: &p, batched: true }.write_event_of_item(a.text(), &mut text)
                        );
                        assert_eq!(text, crate::core::snapshot::event_text(&rebuilt).get(), "{event}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{event}"),
                    (a, b) => panic!("{event}: {a:?} vs {b:?}"),
                }
                // (A failed event's warnings are never reported: the reference stops at its
                // first error, `write_record_for` reads the other fields too.)
                if both_ok {
                    assert_eq!(w1, w2, "{event}");
                }
            }
        }
    }
}
