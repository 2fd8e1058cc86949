//! What the action families share: a job delivers one or more events through a sequence of
//! Marketo calls. The engine sends the calls (auth, limits, retries); the job decides what
//! to call next and what each event's outcome is.

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use litemap::LiteMap;
use serde_json::Value;

use crate::core::batch::Thresholds;
use crate::core::cache::LeadCache;
use crate::core::config::FilterType;
use crate::core::error::EventError;
use crate::core::ids::{EventKey, EventKeys, Step};
use crate::core::outcome::{Outcome, Status};
use crate::core::reason::Reason;
use crate::core::retry::Jitter;
use crate::core::schema::Format;
use crate::core::snapshot::ResumeData;
use crate::core::time::Millis;
use crate::core::wire::{Body, Joined, Method};

/// The event a job works for: its key only. Its id and action id stay in the engine's pending
/// entry (one copy per event), which fills them into the event's outcome when it is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventRef {
    pub key: EventKey,
}

impl EventRef {
    /// An outcome for this event, its `eventId` and `actionId` left empty: the engine fills
    /// them in as it emits the outcome ([`crate::core::Engine`]'s `emit`).
    pub fn outcome(&self, status: Status) -> Outcome {
        Outcome {
            event_id: String::new(),
            action_id: String::new(),
            status,
            lead_ids: Vec::new(),
            code: None,
            message: None,
            request_id: None,
        }
    }

    /// An outcome carrying Marketo's (or our) reason. It always has a code and a message: a
    /// reason without one (a record skipped with no `reasons`) gets
    /// [`NO_CODE`](crate::core::wire::NO_CODE) and a message saying so.
    pub fn with_reason(&self, status: Status, reason: &Reason, request_id: Option<&str>) -> Outcome {
        let code = match reason.code().trim() {
            "" => crate::core::wire::NO_CODE.to_string(),
            c => c.to_string(),
        };
        let message = match reason.message().trim() {
            "" => format!("Marketo gave no reason (code {code})"),
            m => m.to_string(),
        };
        Outcome {
            code: Some(code),
            message: Some(message),
            request_id: request_id.map(str::to_owned),
            ..self.outcome(status)
        }
    }
}

/// Which base URL a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `…/rest`
    Rest,
    /// `…/bulk` (no `/rest` prefix).
    Bulk,
}

/// A Marketo call a job wants made. The engine adds the token and the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallSpec {
    /// Job-defined tag, handed back with the answer.
    pub step: Step,
    pub method: Method,
    pub api: Api,
    /// Path under the base, starting with `/`.
    pub path: String,
    /// Query parameters, unencoded.
    pub query: Vec<(String, String)>,
    /// Body and its content type.
    pub body: Option<(Body, String)>,
    /// Whether sending it twice is harmless. Non-idempotent calls are not retried after a
    /// failure that may have reached Marketo.
    pub idempotent: bool,
    /// Send no earlier than this long after the call is issued (bulk job polling).
    pub delay_ms: Millis,
    /// The answer is a file (CSV), not a Marketo envelope: on success the job gets the text.
    pub raw: bool,
}

impl CallSpec {
    pub fn json(step: Step, method: Method, path: String, body: &impl serde::Serialize) -> CallSpec {
        // Serializing plain data (strings, numbers, maps) cannot fail; fall back to "{}" rather
        // than panic if it ever did.
        let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
        CallSpec::json_text(step, method, path, text)
    }

    /// A call whose JSON body is written as pieces (see [`Joined`]), sent joined.
    pub fn json_joined(step: Step, method: Method, path: String, body: Joined) -> CallSpec {
        CallSpec::json_body(step, method, path, Body::Joined(Arc::new(body)))
    }

    /// A call whose JSON body the job has already written (`text` is sent as it is; a job that
    /// keeps reading it passes it shared).
    pub fn json_text(step: Step, method: Method, path: String, text: impl Into<Arc<String>>) -> CallSpec {
        CallSpec::json_body(step, method, path, Body::Text(text.into()))
    }

    fn json_body(step: Step, method: Method, path: String, body: Body) -> CallSpec {
        CallSpec {
            step,
            method,
            api: Api::Rest,
            path,
            query: Vec::new(),
            body: Some((body, "application/json".into())),
            idempotent: true,
            delay_ms: 0,
            raw: false,
        }
    }

    pub fn get(step: Step, api: Api, path: String, query: Vec<(String, String)>) -> CallSpec {
        CallSpec {
            step,
            method: Method::Get,
            api,
            path,
            query,
            body: None,
            idempotent: true,
            delay_ms: 0,
            raw: false,
        }
    }

    /// The same GET sent as `POST …?_method=GET` with its parameters as a form body: how
    /// Marketo takes a query too long for its 8 KB URL limit (414). Source:
    /// <https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/rest-api>
    /// ("URI too long"). Other calls are returned as they are.
    pub fn into_post_form(mut self) -> CallSpec {
        if self.method == Method::Get {
            let form = crate::core::wire::query_string(&self.query);
            self.method = Method::Post;
            self.query = vec![("_method".into(), "GET".into())];
            self.body = Some((Body::Text(Arc::new(form)), "application/x-www-form-urlencoded".into()));
        }
        self
    }
}

/// A failure of one call, applied to the events it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The status its events get (`failed`, or `uncertain` when it may have been applied and
    /// cannot be sent again).
    pub status: Status,
    /// Why.
    pub reason: Reason,
    /// Marketo's `requestId` of the answer, if it gave one.
    pub request_id: Option<String>,
    /// Whether the call may have been applied although it failed ([`Reason::may_have_applied`]).
    pub may_have_applied: bool,
}

impl Failure {
    /// A failure for `reason`: its events get `status`.
    pub fn new(status: Status, reason: Reason, request_id: Option<String>) -> Failure {
        let may_have_applied = reason.may_have_applied();
        Failure { status, reason, request_id, may_have_applied }
    }
}

/// What a job produced: calls to make and outcomes that are final.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub calls: Vec<CallSpec>,
    pub outcomes: Vec<(EventKey, Outcome)>,
    /// Lookup value → lead ids learned (for the lead cache).
    pub learned: Vec<(String, Vec<i64>)>,
    /// Lead ids Marketo said are gone (to drop from the lead cache).
    pub forget: Vec<i64>,
    /// A picker listing's final result (listing jobs only).
    pub listing: Option<Result<Vec<crate::core::listing::Named>, Reason>>,
    /// The lead schema read, or why it could not be (schema jobs only).
    pub schema: Option<Result<crate::core::schema::LeadSchema, Reason>>,
    /// The problems a configuration check found (check jobs only).
    pub check: Option<Vec<crate::core::check::Problem>>,
}

impl Progress {
    pub fn outcome(&mut self, ev: &EventRef, outcome: Outcome) {
        self.outcomes.push((ev.key, outcome));
    }
}

/// Turns a value from an event into the text Marketo compares (`filterValues`, lookup keys): a
/// string trimmed, a number as JavaScript's `String(n)` writes it.
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(crate::core::schema::js_text(n)),
        _ => None,
    }
}

/// Allocates step tags within a job.
#[derive(Debug, Default)]
pub(crate) struct Steps(u32);

impl Steps {
    pub fn next(&mut self) -> Step {
        self.0 += 1;
        Step(self.0)
    }
}

/// Marketo's per-call record limit for lead and list calls.
pub(crate) const MAX_RECORDS: usize = 300;
/// Marketo's JSON body limit (1 MB).
pub(crate) const MAX_BODY_BYTES: usize = 1_048_576;
/// Marketo's GET URL limit (8 KB).
pub(crate) const MAX_URL_BYTES: usize = 8_192;

/// Splits `items` into consecutive groups of at most `max_count` items whose summed `size`
/// plus `overhead` stays within `max_bytes`. An item too big on its own gets a group alone
/// (the call then fails for that item only, with Marketo's 413/414).
pub(crate) fn chunk_by<T>(
    items: Vec<T>,
    max_count: usize,
    overhead: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let groups = chunk_ranges(items.iter().map(size), max_count, overhead, max_bytes);
    let mut items = items;
    let mut out: Vec<Vec<T>> = groups.iter().rev().map(|group| items.split_off(group.start)).collect();
    out.reverse();
    out
}

/// [`chunk_by`] for items given by their sizes in order: each group as the range of its
/// items' positions, with no list of the items (a bulk job's 25,000 rows, a Sync Leads job's
/// records).
pub(crate) fn chunk_ranges(
    sizes: impl IntoIterator<Item = usize>,
    max_count: usize,
    overhead: usize,
    max_bytes: usize,
) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut end, mut bytes) = (0, 0, overhead);
    for size in sizes {
        if end > start && (end - start >= max_count || bytes + size > max_bytes) {
            groups.push(start..end);
            (start, bytes) = (end, overhead);
        }
        bytes += size;
        end += 1;
    }
    if end > start {
        groups.push(start..end);
    }
    groups
}

/// One action family's delivery logic for a set of events. The engine calls `start` once, then
/// one of `on_success` / `on_raw` / `on_failure` per call the job issued (after retries).
pub(crate) trait Delivery: std::fmt::Debug {
    /// The first calls (and outcomes for events that need none).
    fn start(&mut self, p: &mut Progress);
    /// Marketo answered call `step` with `success: true`.
    fn on_success(&mut self, step: Step, env: &crate::core::wire::Envelope, p: &mut Progress);
    /// Call `step` (a `raw` call) answered with a file.
    fn on_raw(&mut self, step: Step, body: &str, p: &mut Progress) {
        let _ = (step, body, p);
    }
    /// Call `step` failed for good.
    fn on_failure(&mut self, step: Step, failure: &Failure, p: &mut Progress);
    /// Call `step` failed in a way that may or may not have been applied and will be sent
    /// again: an answer to the retry may reflect the first attempt's effect.
    fn on_retry(&mut self, step: Step) {
        let _ = step;
    }
    /// What of each of its events' delivery is already done and must not be redone after a
    /// restore (plain JSON, carried in the snapshot), added to `out` for the events it applies
    /// to. Asked once per job for a snapshot, not once per event (a bulk job of 25,000 rows
    /// would otherwise walk its rows for each of them).
    fn progress(&self, out: &mut Vec<(EventKey, ResumeData)>) {
        let _ = out;
    }
    /// Marketo refused call `step` as too large (413): replace it by smaller calls in `p`.
    /// Returns false when it cannot be split (the call then fails).
    fn split(&mut self, step: Step, p: &mut Progress) -> bool {
        let _ = (step, p);
        false
    }
    /// The item texts of the events it has not finished (see [`Family::item_text`]), for a
    /// snapshot of events kept only as their item: a record's JSON (several events merged into
    /// one record share it), a CSV row.
    fn item_texts(&self) -> Vec<(EventKey, &str)> {
        Vec::new()
    }
}

/// What a family made of one event before it waits in a queue: the family's own type (a list
/// lookup, a mapped record, the event itself) or a text (a CSV row), and the bytes it adds to a
/// call.
pub(crate) struct Prepared {
    /// Bytes this event adds to its batch's call (the queue's byte threshold, SPEC §4).
    pub size: usize,
    item: Item,
}

/// A prepared item: a text is kept as it is, anything else boxed. A queue of 25,000 bulk rows
/// then holds no box per row (one allocation each, 16 bytes in wasm with dlmalloc's header,
/// whose holes stay in linear memory once the batch is sent).
enum Item {
    Text(Arc<str>),
    Other(Box<dyn Any>),
}

impl Prepared {
    /// `item`, adding `size` bytes to a call.
    pub fn new<T: Any>(item: T, size: usize) -> Prepared {
        Prepared { size, item: Item::Other(Box::new(item)) }
    }

    /// A text item, adding `size` bytes to a call.
    pub fn text(text: Arc<str>, size: usize) -> Prepared {
        Prepared { size, item: Item::Text(text) }
    }

    /// The item, when it is a `T` (always, for the family that prepared it).
    pub fn take<T: Any>(self) -> Option<T> {
        match self.item {
            Item::Other(item) => item.downcast::<T>().ok().map(|b| *b),
            Item::Text(_) => None,
        }
    }

    /// The item, borrowed, when it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        match &self.item {
            Item::Other(item) => item.downcast_ref::<T>(),
            Item::Text(_) => None,
        }
    }

    /// The item, when it is a text.
    pub fn take_text(self) -> Option<Arc<str>> {
        match self.item {
            Item::Text(text) => Some(text),
            Item::Other(_) => None,
        }
    }

    /// The item, borrowed, when it is a text.
    pub fn get_text(&self) -> Option<&str> {
        match &self.item {
            Item::Text(text) => Some(text),
            Item::Other(_) => None,
        }
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prepared({} bytes)", self.size)
    }
}

/// The event itself as what a family prepares, for families whose job reads the event (it
/// waits in no queue, so it adds no bytes to count); an event that is not a JSON object fails.
pub(crate) fn whole_event(event: &Value) -> Result<Prepared, EventError> {
    if event.is_object() {
        Ok(Prepared::new(event.clone(), 0))
    } else {
        Err(EventError::not_an_object(event))
    }
}

/// Items of one family's type `T`, taken out of `items` (the others, which cannot occur, are
/// dropped).
pub(crate) fn items_of<T: Any>(items: Vec<(EventRef, Prepared)>) -> Vec<(EventRef, T)> {
    each_item_of(items).collect()
}

/// [`items_of`] one at a time, for a job that keeps them in its own form (no second list of
/// a 25,000-row batch).
pub(crate) fn each_item_of<T: Any>(items: Vec<(EventRef, Prepared)>) -> impl Iterator<Item = (EventRef, T)> {
    items.into_iter().filter_map(|(ev, p)| p.take::<T>().map(|t| (ev, t)))
}

/// What the engine lends a family starting or resuming jobs.
pub(crate) struct Context<'a> {
    /// The engine's current time (ms since the epoch).
    pub now: Millis,
    /// Bytes of the REST base URL (GET URLs must stay under [`MAX_URL_BYTES`]).
    pub rest_len: usize,
    /// How mapped values are formatted (the lead schema as known now).
    pub format: Format<'a>,
    /// Lead ids already looked up: lookups it knows cost no call.
    pub cache: &'a LeadCache,
    /// Of the events being started, those whose call was in flight when a previous instance
    /// stopped (it may have been applied), in key order ([`slice::binary_search`]).
    pub replayed: &'a [EventKey],
    /// The engine's seeded jitter, for jobs that draw their own.
    pub jitter: &'a mut Jitter,
}

/// A job a family wants started.
#[derive(Debug)]
pub(crate) struct NewJob {
    /// The job.
    pub job: Box<dyn Delivery>,
    /// What it produced while being built (outcomes of events that need no call).
    pub progress: Progress,
    /// The lookup filter whose answers feed the lead cache, if any.
    pub lookup: Option<FilterType>,
    /// The events it delivers.
    pub events: EventKeys,
}

impl NewJob {
    /// `job` for `events`, with nothing produced yet and no lookup.
    pub fn plain(job: impl Delivery + 'static, events: EventKeys) -> NewJob {
        NewJob { job: Box::new(job), progress: Progress::default(), lookup: None, events }
    }
}

/// What a family made of a set of events: jobs to start, and events that failed before any
/// call.
#[derive(Debug, Default)]
pub(crate) struct Start {
    /// Jobs to register and start, in this order.
    pub jobs: Vec<NewJob>,
    /// Events that cannot be delivered as they are.
    pub failed: Vec<(EventRef, EventError)>,
}

/// An action family: everything about how one kind of action delivers its events, from
/// reading an event to resuming its job after a restore. The engine knows families only
/// through this trait; `families::family` is the one place that maps an action to its family.
pub(crate) trait Family {
    /// Reads an event for the action, formatted by `format`: bad events fail here, before they
    /// wait in a queue. Values cut to fit their field add a note to `warnings`.
    fn prepare(
        &self,
        event: &Value,
        format: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Prepared, EventError>;
    /// The batch thresholds (SPEC §4); `None` for actions sent on arrival.
    fn thresholds(&self) -> Option<Thresholds> {
        None
    }
    /// Bytes a batch carries besides its events' own (an envelope, a CSV header).
    fn overhead(&self) -> usize {
        64
    }
    /// Whether the action's calls may be sent twice without harm (a restored event whose call
    /// was in flight is sent again only then; otherwise it is `uncertain`).
    fn idempotent(&self) -> bool {
        true
    }
    /// Whether delivery formats values by the lead schema (maps `leadData` fields).
    fn needs_schema(&self) -> bool {
        false
    }
    /// The calls one event would cause if sent alone.
    fn preview(
        &self,
        event: &Value,
        format: &Format<'_>,
        rest_len: usize,
    ) -> Result<Vec<CallSpec>, EventError>;
    /// The jobs delivering prepared `items`.
    fn start(&self, items: Vec<(EventRef, Prepared)>, cx: &mut Context<'_>) -> Start;
    /// Whether the family carries on from `resume` (data its own jobs wrote); otherwise a
    /// restored event is delivered from the start.
    fn resumes(&self, resume: &ResumeData) -> bool {
        let _ = resume;
        false
    }
    /// The job carrying on restored `events` from where `resume` says a previous instance
    /// left them. Called only when [`Family::resumes`] it: a family that resumes implements both.
    fn resume(&self, events: Vec<(EventRef, &Value)>, resume: &ResumeData, cx: &mut Context<'_>) -> Start {
        let _ = (events, resume, cx);
        Start::default()
    }
    /// Whether an event of the action, once prepared with the lead schema, is kept only as its
    /// prepared item (a lead record, a CSV row), not also as its event text: its snapshot entry
    /// is then written from the item by [`Family::write_event_of_item`]. Only for mappings that
    /// function can undo ([`crate::core::source::undoable`]).
    fn keeps_item_only(&self) -> bool {
        false
    }
    /// Whether an item prepared before the lead schema was read can be formatted with it later
    /// from the item itself ([`Family::reformat_item`]), so the event need not be kept as text
    /// meanwhile (when its family keeps it as its item, [`Family::keeps_item_only`]).
    fn reformats_items(&self) -> bool {
        false
    }
    /// `item`, prepared without the lead schema, formatted with `format` now: what
    /// [`Family::prepare`] gives for its event with `format` (the same item, or the same
    /// error). `item` itself where the family cannot format it again
    /// ([`Family::reformats_items`]: the engine then keeps the event's text instead).
    ///
    /// # Errors
    /// As [`Family::prepare`].
    fn reformat_item(
        &self,
        item: Prepared,
        format: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Prepared, EventError> {
        let _ = (format, warnings);
        Ok(item)
    }
    /// The text of a queued `item` this family prepared (the record's JSON, the CSV row), for
    /// [`Family::write_event_of_item`].
    fn item_text<'a>(&self, item: &'a Prepared) -> Option<&'a str> {
        let _ = item;
        None
    }
    /// Writes to `out`, as compact JSON text, the event values an item's text was made from, at
    /// their attribute paths, as the item holds them (formatted for Marketo): what a snapshot
    /// keeps of an event kept only as its item. Preparing that event again gives the same item.
    /// Returns false, having written nothing, when `text` is not an item of this family.
    fn write_event_of_item(&self, text: &str, out: &mut String) -> bool {
        let _ = (text, out);
        false
    }
}

/// Lookup values `cache` knows, with their lead ids, among `values`.
pub(crate) fn known_ids<'v>(
    cache: &LeadCache,
    filter: FilterType,
    values: impl Iterator<Item = &'v String>,
    now: Millis,
) -> LiteMap<String, Vec<i64>> {
    let mut known = LiteMap::new();
    for v in values {
        if let Some(ids) = cache.get(filter, v, now) {
            known.insert(v.clone(), ids.clone());
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_count_and_bytes() {
        let groups = chunk_by((0..7).collect(), 3, 0, 1000, |_| 1);
        assert_eq!(groups, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        let groups = chunk_by(vec![40, 40, 40, 200], 10, 20, 100, |n| *n);
        assert_eq!(groups, vec![vec![40, 40], vec![40], vec![200]]);
        assert_eq!(chunk_ranges([40, 40, 40, 200], 10, 20, 100), vec![0..2, 2..3, 3..4]);
    }
}
