//! The import job: uploads the files, polls each import until Marketo has read it, fetches its
//! reports and gives every event its outcome.

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

use crate::core::config::BulkParams;
use crate::core::error::EventError;
use crate::core::ids::{EventKey, EventKeys, Step};
use crate::core::job::{Api, CallSpec, Delivery, EventRef, Failure, Progress, Steps};
use crate::core::outcome::Status;
use crate::core::reason::Reason;
use crate::core::retry::Jitter;
use crate::core::schema::Format;
use crate::core::snapshot::ResumeData;
use crate::core::time::Millis;
use crate::core::wire::{Body, Envelope, Joined, Method};

use super::multipart::{boundary_avoiding, file_overhead, multipart_parts, split_files};
use super::report::{as_count, match_rows, parse_report, reason, row_keys};
use super::rows::{header_record, prepare_row, BulkRow};

/// Waits before the 1st, 2nd, 3rd and every later status call.
pub(crate) const POLL_DELAYS_MS: [Millis; 4] = [FIRST_POLL_MS, 10_000, 20_000, LATER_POLL_MS];
/// The wait before the first status call.
const FIRST_POLL_MS: Millis = 5_000;
/// The wait between status calls once the job has run a while.
const LATER_POLL_MS: Millis = 30_000;
/// How long a job may stay `Queued`/`Importing` before its events are given up as `uncertain`.
pub(crate) const MAX_POLL_MS: Millis = 24 * 60 * 60 * 1000;
/// Status calls that may fail for good in a row (after the engine's own retries) before the
/// job's events are given up as `uncertain`.
const MAX_POLL_FAILURES: u32 = 3;
/// The reason columns Marketo appends to the report files.
const FAILURE_COLUMN: &str = "Import Failure Reason";
const WARNING_COLUMN: &str = "Import Warning Reason";
/// Path placeholder `preview` shows for the batch id, which only the upload's answer gives.
const BATCH_ID_PLACEHOLDER: &str = "{batchId}";

/// One event's row (24 bytes in wasm: a job holds up to 25,000; the few rows Marketo reports on
/// have their reasons in [`BulkJob::reasons`], not a field of every row).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    ev: EventRef,
    /// Its CSV record and lookup key.
    row: BulkRow,
    /// Its final outcome is out.
    done: bool,
}

/// What Marketo's report files say of a row: `Import Failure Reason` from `failures.json`,
/// `Import Warning Reason` from `warnings.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Said {
    failed: Option<Box<str>>,
    warned: Option<Box<str>>,
}

/// What a call of the job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Upload,
    Status,
    Failures,
    Warnings,
}

/// One uploaded file: one Marketo import job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ImportFile {
    /// Its rows: a range of [`BulkJob::rows`] (files split a job's rows, and a file refused as
    /// too large its own, into consecutive halves).
    rows: Range<usize>,
    /// Marketo's `batchId`, once the upload is accepted.
    batch_id: Option<i64>,
    /// Status calls issued.
    polls: u32,
    /// Sum of the waits before those status calls.
    waited_ms: Millis,
    /// Status calls that failed for good in a row.
    poll_failures: u32,
    /// The last status Marketo reported.
    status: String,
    /// `requestId` of the last status call.
    request_id: Option<String>,
    /// `numOfRowsFailed` / `numOfRowsWithWarning` of the completed job.
    rows_failed: u64,
    rows_warned: u64,
    /// Report files asked for and not yet answered.
    awaiting_failures: bool,
    awaiting_warnings: bool,
    /// Why the failures file could not be used, when it could not.
    failures_unavailable: Option<Reason>,
    /// Report rows that matched no event of this file (for debugging; they are ignored).
    unmatched_rows: u64,
}

/// Imports a set of events' rows as one or more bulk jobs. All state is plain data (ids,
/// strings, numbers), so it can be snapshotted.
pub(crate) struct BulkJob {
    lookup_field: String,
    list_id: Option<i64>,
    /// Drives the multipart boundaries.
    seed: u64,
    /// The CSV header record (CRLF-terminated).
    header: String,
    /// The rows' CSV records are their events' only copy (the action keeps a prepared event
    /// only as its row, [`BulkParams::undoable`]): they stay until the job ends, as a snapshot
    /// writes the events from them.
    keep_lines: bool,
    /// What a dropped line is: one empty text for all (an empty `Arc<str>` allocates).
    no_line: Arc<str>,
    rows: Vec<Row>,
    /// What the report files say of the rows they name: `reasons[n]` for the row whose entry in
    /// `reason_of` is `n` (`reasons[0]` says nothing, for the rows not named). Both are empty
    /// until a report names a row (most jobs fetch no report); then `reason_of` has one entry
    /// per row.
    reasons: Vec<Said>,
    reason_of: Vec<u32>,
    files: Vec<ImportFile>,
    /// Calls awaiting an answer: (step, file index, what the call is for). A handful per file,
    /// so a list (a map type of its own would cost the wasm more than it saves).
    steps: Vec<(Step, usize, StepKind)>,
    tags: Steps,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for BulkJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkJob").finish_non_exhaustive()
    }
}

/// The job's rows. Collected, not pushed into a list of their own: from a batch's items (the
/// queue's list of `(EventRef, Prepared)`, the size of a `Row` in wasm and natively), std's
/// in-place collection writes the rows into that list's allocation, so a 25,000-row batch need
/// not hold its items and its rows in two lists at once (wasm memory, once grown for both,
/// stays grown). Measured natively with a counting allocator (a probe, not in the repo): the
/// peak while a 25,000-row batch becomes a job 249 → 233 bytes per row.
fn rows_of(rows: impl IntoIterator<Item = (EventRef, BulkRow)>) -> Vec<Row> {
    rows.into_iter().map(|(ev, row)| Row { ev, row, done: false }).collect()
}

impl BulkJob {
    /// A job for `events`; events that cannot become a row fail at once. `seed` makes the
    /// multipart boundaries deterministic. (The engine prepares rows as events arrive and uses
    /// [`BulkJob::from_rows`]; this is the tests' shortcut.)
    #[cfg(test)]
    pub fn new(params: &BulkParams, events: Vec<(EventRef, &Value)>, seed: u64) -> (BulkJob, Progress) {
        let mut progress = Progress::default();
        let mut rows = Vec::with_capacity(events.len());
        for (ev, event) in events {
            match prepare_row(params, event, &Format::default(), &mut Vec::new()) {
                Ok(row) => rows.push((ev, row)),
                Err(e) => {
                    let o = ev.with_reason(Status::Failed, &reason(e.code(), e.to_string()), None);
                    progress.outcome(&ev, o);
                }
            }
        }
        (BulkJob::from_rows(params, rows, seed), progress)
    }

    /// A job for rows prepared earlier ([`prepare_row`]), taken straight from `rows` (a queue
    /// of 25,000 is not first collected apart).
    pub fn from_rows(
        params: &BulkParams,
        rows: impl IntoIterator<Item = (EventRef, BulkRow)>,
        seed: u64,
    ) -> BulkJob {
        BulkJob {
            lookup_field: params.lookup_field.clone(),
            list_id: params.list_id,
            seed,
            header: header_record(params),
            keep_lines: params.undoable,
            no_line: Arc::from(""),
            rows: rows_of(rows),
            reasons: Vec::new(),
            reason_of: Vec::new(),
            files: Vec::new(),
            steps: Vec::new(),
            tags: Steps::default(),
        }
    }

    /// The events whose rows it imports, in file order.
    pub fn events(&self) -> EventKeys {
        self.rows.iter().map(|r| r.ev.key).collect()
    }

    /// A job restored from a snapshot whose rows were already uploaded as import `batch_id`:
    /// it polls that job instead of uploading again.
    pub fn resume(params: &BulkParams, rows: Vec<(EventRef, BulkRow)>, batch_id: i64, seed: u64) -> BulkJob {
        let mut job = BulkJob::from_rows(params, rows, seed);
        let all = 0..job.rows.len();
        job.files.push(ImportFile { rows: all, batch_id: Some(batch_id), ..ImportFile::default() });
        job
    }

    /// The requests one event would cause alone: the upload, then the first status call (its
    /// batch id comes from the upload's answer, so the path shows `{batchId}`).
    pub fn preview(
        params: &BulkParams,
        event: &Value,
        fmt: &Format<'_>,
    ) -> Result<Vec<CallSpec>, EventError> {
        let row = prepare_row(params, event, fmt, &mut Vec::new())?;
        let ev = EventRef { key: crate::core::ids::EventKey(0) };
        let mut job = BulkJob::from_rows(params, vec![(ev, row)], 0);
        let mut progress = Progress::default();
        job.start(&mut progress);
        let mut poll = CallSpec::get(
            job.tags.next(),
            Api::Bulk,
            format!("/v1/leads/batch/{BATCH_ID_PLACEHOLDER}.json"),
            Vec::new(),
        );
        poll.delay_ms = FIRST_POLL_MS;
        progress.calls.push(poll);
        Ok(progress.calls)
    }

    /// The file and purpose of call `step`, which is no longer awaited.
    fn take_step(&mut self, step: Step) -> Option<(usize, StepKind)> {
        let at = self.steps.iter().position(|(s, _, _)| *s == step)?;
        let (_, f, kind) = self.steps.swap_remove(at);
        Some((f, kind))
    }

    /// A new file of these rows and the call that uploads it.
    fn upload(&mut self, rows: Range<usize>, p: &mut Progress) {
        // The body as its framing and the rows it shares with the job: the host joins it.
        let lines = self.rows.get(rows.clone()).unwrap_or_default();
        let parts: Vec<Arc<str>> = lines.iter().map(|r| Arc::clone(&r.row.line)).collect();
        // Each file its own draw, all from the job's seed.
        let n = self.files.len() as u64;
        let mut jitter = Jitter::new(self.seed ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let b = boundary_avoiding(&mut jitter, &self.header, &parts);
        let (mut head, tail) = multipart_parts(&b);
        head.push_str(&self.header);
        let body = Arc::new(Joined { head, parts, sep: "", tail });
        let f = self.files.len();
        self.files.push(ImportFile { rows, ..ImportFile::default() });
        let step = self.tags.next();
        self.steps.push((step, f, StepKind::Upload));
        p.calls.push(CallSpec {
            step,
            method: Method::Post,
            api: Api::Bulk,
            path: "/v1/leads.json".into(),
            query: self.upload_query(),
            body: Some((Body::JoinedBytes(body), format!("multipart/form-data; boundary={b}"))),
            // An import is an upsert keyed on the lookup field: sending it again writes the same
            // values.
            idempotent: true,
            delay_ms: 0,
            raw: false,
        });
    }

    /// The upload of file `f` is answered: its rows' CSV records are no longer needed.
    fn drop_lines(&mut self, f: usize) {
        if self.keep_lines {
            return;
        }
        let Some(file) = self.files.get(f) else { return };
        for row in self.rows.get_mut(file.rows.clone()).unwrap_or_default() {
            row.row.line = Arc::clone(&self.no_line);
        }
    }

    fn upload_query(&self) -> Vec<(String, String)> {
        let mut q = vec![
            ("format".to_string(), "csv".to_string()),
            ("lookupField".into(), self.lookup_field.clone()),
        ];
        if let Some(list) = self.list_id {
            q.push(("listId".into(), list.to_string()));
        }
        q
    }

    /// Schedules the next status call of file `f`.
    fn poll(&mut self, f: usize, delay_ms: Millis, p: &mut Progress) {
        let Some(file) = self.files.get_mut(f) else { return };
        let Some(batch) = file.batch_id else { return };
        file.polls += 1;
        file.waited_ms = file.waited_ms.saturating_add(delay_ms);
        let mut call =
            CallSpec::get(self.tags.next(), Api::Bulk, format!("/v1/leads/batch/{batch}.json"), Vec::new());
        call.delay_ms = delay_ms;
        self.steps.push((call.step, f, StepKind::Status));
        p.calls.push(call);
    }

    /// The wait before file `f`'s next status call: 5 s, 10 s, 20 s, then 30 s.
    fn next_delay(&self, f: usize) -> Millis {
        let polls = self.files.get(f).map_or(0, |file| file.polls) as usize;
        POLL_DELAYS_MS.get(polls).copied().unwrap_or(LATER_POLL_MS)
    }

    fn fetch_report(&mut self, f: usize, kind: StepKind, p: &mut Progress) {
        let Some(batch) = self.files.get(f).and_then(|file| file.batch_id) else { return };
        let name = if kind == StepKind::Failures { "failures" } else { "warnings" };
        let mut call = CallSpec::get(
            self.tags.next(),
            Api::Bulk,
            format!("/v1/leads/batch/{batch}/{name}.json"),
            Vec::new(),
        );
        call.raw = true;
        self.steps.push((call.step, f, kind));
        p.calls.push(call);
    }

    /// Gives every open row of file `f` the same outcome.
    fn settle_all(
        &mut self,
        f: usize,
        status: Status,
        why: &Reason,
        request_id: Option<&str>,
        p: &mut Progress,
    ) {
        let Some(file) = self.files.get(f) else { return };
        for row in self.rows.get_mut(file.rows.clone()).unwrap_or_default().iter_mut().filter(|r| !r.done) {
            row.done = true;
            p.outcome(&row.ev, row.ev.with_reason(status, why, request_id));
        }
    }

    /// The job of file `f` completed and its reports are in: one outcome per row.
    fn finish(&mut self, f: usize, p: &mut Progress) {
        let Some(file) = self.files.get(f) else { return };
        let request_id = file.request_id.clone();
        let req = request_id.as_deref();
        let batch = file.batch_id.unwrap_or(0);
        let total = file.rows.len() as u64;
        let rows = file.rows.clone();
        let unavailable = file.failures_unavailable.clone().map(|why| {
            if file.rows_failed >= total {
                // Every row failed: no file needed to say which.
                (Status::Skipped, reason("ROW_FAILED", format!(
                    "Marketo reported every row of import job {batch} as failed; the reasons could not be read ({}: {})",
                    why.code(), why.message()
                )))
            } else {
                (Status::Uncertain, reason("FAILURES_UNAVAILABLE", format!(
                    "Marketo reported {} of {total} rows of import job {batch} as failed, but which ones could not be \
                     read ({}: {}); this row may not have been imported",
                    file.rows_failed, why.code(), why.message()
                )))
            }
        });
        let (reasons, reason_of) = (&self.reasons, &self.reason_of);
        let said = |i: usize| reason_of.get(i).and_then(|n| reasons.get(usize::try_from(*n).ok()?));
        let slice = self.rows.get_mut(rows.clone()).unwrap_or_default();
        for (i, row) in rows.zip(slice).filter(|(_, r)| !r.done) {
            row.done = true;
            let said = said(i);
            let (failed, warned) =
                (said.and_then(|s| s.failed.as_ref()), said.and_then(|s| s.warned.as_ref()));
            let o = match (failed, warned, &unavailable) {
                (Some(why), _, _) => {
                    row.ev.with_reason(Status::Skipped, &reason("ROW_FAILED", why.to_string()), req)
                }
                (None, _, Some((status, why))) => row.ev.with_reason(*status, why, req),
                (None, Some(why), None) => {
                    row.ev.with_reason(Status::Delivered, &reason("ROW_WARNING", why.to_string()), req)
                }
                (None, None, None) => {
                    let mut o = row.ev.outcome(Status::Delivered);
                    o.request_id = request_id.clone();
                    o
                }
            };
            p.outcome(&row.ev, o);
        }
    }

    fn finish_if_ready(&mut self, f: usize, p: &mut Progress) {
        if self.files.get(f).is_some_and(|file| !file.awaiting_failures && !file.awaiting_warnings) {
            self.finish(f, p);
        }
    }

    fn on_upload(&mut self, f: usize, env: &Envelope, p: &mut Progress) {
        self.drop_lines(f);
        let batch = env.result.first().and_then(|r| r.get("batchId")).and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        match (batch, self.files.get_mut(f)) {
            (Some(batch), Some(file)) => {
                file.batch_id = Some(batch);
                file.status = env
                    .result
                    .first()
                    .and_then(|r| r.get("status"))
                    .and_then(Value::as_str)
                    .unwrap_or("Queued")
                    .to_string();
                let delay = self.next_delay(f);
                self.poll(f, delay, p);
            }
            _ => {
                let why =
                    reason("BAD_RESPONSE", "Marketo accepted the import file but its answer has no batchId");
                self.settle_all(f, Status::Failed, &why, env.request_id.as_deref(), p);
            }
        }
    }

    fn on_status(&mut self, f: usize, env: &Envelope, p: &mut Progress) {
        let result = env.result.first();
        let status = result.and_then(|r| r.get("status")).and_then(Value::as_str).unwrap_or("").to_string();
        let message = result.and_then(|r| r.get("message")).and_then(Value::as_str).unwrap_or("").to_string();
        let Some(file) = self.files.get_mut(f) else { return };
        file.poll_failures = 0;
        file.request_id = env.request_id.clone();
        file.status = status.clone();
        let batch = file.batch_id.unwrap_or(0);
        match status.as_str() {
            "Complete" => {
                file.rows_failed = as_count(result.and_then(|r| r.get("numOfRowsFailed"))).unwrap_or(0);
                file.rows_warned = as_count(result.and_then(|r| r.get("numOfRowsWithWarning"))).unwrap_or(0);
                file.awaiting_failures = file.rows_failed > 0;
                file.awaiting_warnings = file.rows_warned > 0;
                let (failures, warnings) = (file.awaiting_failures, file.awaiting_warnings);
                if failures {
                    self.fetch_report(f, StepKind::Failures, p);
                }
                if warnings {
                    self.fetch_report(f, StepKind::Warnings, p);
                }
                self.finish_if_ready(f, p);
            }
            "Failed" => {
                let message = if message.is_empty() {
                    format!("Marketo reported import job {batch} as Failed")
                } else {
                    message
                };
                let req = env.request_id.clone();
                self.settle_all(f, Status::Failed, &reason("IMPORT_FAILED", message), req.as_deref(), p);
            }
            // Queued, Importing (or a status Marketo may add): look again later.
            _ => {
                if file.waited_ms >= MAX_POLL_MS {
                    let why = reason(
                        "IMPORT_TIMEOUT",
                        format!(
                            "import job {batch} was still {} after {} hours; the connector stopped polling it",
                            if status.is_empty() { "unfinished" } else { status.as_str() },
                            MAX_POLL_MS / 3_600_000
                        ),
                    );
                    let req = env.request_id.clone();
                    self.settle_all(f, Status::Uncertain, &why, req.as_deref(), p);
                } else {
                    let delay = self.next_delay(f);
                    self.poll(f, delay, p);
                }
            }
        }
    }

    fn on_report(&mut self, f: usize, kind: StepKind, body: &str, p: &mut Progress) {
        let column = if kind == StepKind::Failures { FAILURE_COLUMN } else { WARNING_COLUMN };
        let parsed = parse_report(body, &self.lookup_field, column);
        let Some(file) = self.files.get(f) else { return };
        let lines = self.rows.get(file.rows.clone()).unwrap_or_default().iter().map(|r| &*r.row.line);
        let keys = row_keys(&self.header, &self.lookup_field, lines);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (matched, unmatched) = match &parsed {
            Some(report) => {
                let (m, u) = match_rows(&keys, &report.rows);
                (m, u + report.unreadable)
            }
            None => (Vec::new(), 0),
        };
        let targets: Vec<(usize, String)> = matched
            .into_iter()
            .filter_map(|(pos, why)| file.rows.clone().nth(pos).map(|i| (i, why)))
            .collect();
        if !targets.is_empty() && self.reason_of.is_empty() {
            self.reason_of = vec![0; self.rows.len()];
            self.reasons.push(Said::default());
        }
        for (i, why) in targets {
            let Some(n) = self.reason_of.get_mut(i) else { continue };
            if *n == 0 {
                *n = u32::try_from(self.reasons.len()).unwrap_or(u32::MAX);
                self.reasons.push(Said::default());
            }
            let Some(said) = usize::try_from(*n).ok().and_then(|n| self.reasons.get_mut(n)) else { continue };
            let why = if why.is_empty() { "Marketo gave no reason".into() } else { why.into_boxed_str() };
            match kind {
                StepKind::Failures => said.failed = Some(why),
                _ => said.warned = Some(why),
            }
        }
        let Some(file) = self.files.get_mut(f) else { return };
        file.unmatched_rows += unmatched;
        match kind {
            StepKind::Failures => {
                file.awaiting_failures = false;
                if parsed.is_none() {
                    file.failures_unavailable = Some(reason(
                        "BAD_RESPONSE",
                        format!("the failures file has no `{}` column", self.lookup_field),
                    ));
                }
            }
            _ => file.awaiting_warnings = false,
        }
        self.finish_if_ready(f, p);
    }
}

impl Delivery for BulkJob {
    /// Each unfinished row's CSV record (kept until the job ends when they are the events'
    /// only copy, [`BulkJob::keep_lines`]).
    fn item_texts(&self) -> Vec<(EventKey, &str)> {
        self.rows.iter().filter(|r| !r.done).map(|r| (r.ev.key, &*r.row.line)).collect()
    }

    /// Rows whose file Marketo accepted carry its batch id: a restore polls that import
    /// instead of uploading the rows again.
    fn progress(&self, out: &mut Vec<(EventKey, ResumeData)>) {
        for file in &self.files {
            let Some(batch_id) = file.batch_id else { continue };
            let rows = self.rows.get(file.rows.clone()).unwrap_or_default().iter().filter(|r| !r.done);
            out.extend(rows.map(|r| (r.ev.key, ResumeData::BulkBatch { batch_id })));
        }
    }

    /// One upload per file: ≤ 25,000 rows and a multipart body under 10 MB.
    fn start(&mut self, p: &mut Progress) {
        if self.files.iter().any(|f| f.batch_id.is_some()) {
            // Restored after its upload: carry on polling.
            for f in 0..self.files.len() {
                self.poll(f, FIRST_POLL_MS, p);
            }
            return;
        }
        let files = split_files(self.rows.iter().map(|r| r.row.size()), file_overhead(&self.header));
        for rows in files {
            self.upload(rows, p);
        }
    }

    /// Marketo refused an upload as too large (413): upload each half of its rows as a file of
    /// its own. A file of one row cannot be split (its event then fails with the 413).
    fn split(&mut self, step: Step, p: &mut Progress) -> bool {
        let Some((f, kind)) = self.take_step(step) else { return false };
        let rows = self.files.get(f).map(|file| file.rows.clone()).unwrap_or_default();
        if kind != StepKind::Upload || rows.len() < 2 {
            self.steps.push((step, f, kind));
            return false;
        }
        if let Some(file) = self.files.get_mut(f) {
            // Its rows now belong to the two new files.
            file.rows = 0..0;
        }
        let mid = rows.start + rows.len() / 2;
        self.upload(rows.start..mid, p);
        self.upload(mid..rows.end, p);
        true
    }

    fn on_success(&mut self, step: Step, env: &Envelope, p: &mut Progress) {
        let Some((f, kind)) = self.take_step(step) else { return };
        match kind {
            StepKind::Upload => self.on_upload(f, env, p),
            StepKind::Status => self.on_status(f, env, p),
            // A report answered as a JSON envelope (no file): no rows.
            StepKind::Failures | StepKind::Warnings => self.on_report(f, kind, "", p),
        }
    }

    fn on_raw(&mut self, step: Step, body: &str, p: &mut Progress) {
        let Some((f, kind)) = self.take_step(step) else { return };
        match kind {
            StepKind::Failures | StepKind::Warnings => self.on_report(f, kind, body, p),
            // Not raw calls; a file where an envelope was expected is a bad answer.
            StepKind::Upload | StepKind::Status => {
                let failure = Failure::new(
                    Status::Failed,
                    reason("BAD_RESPONSE", "Marketo's answer is not a JSON envelope"),
                    None,
                );
                self.steps.push((step, f, kind));
                self.on_failure(step, &failure, p);
            }
        }
    }

    fn on_failure(&mut self, step: Step, failure: &Failure, p: &mut Progress) {
        let Some((f, kind)) = self.take_step(step) else { return };
        let req = failure.request_id.as_deref();
        match kind {
            StepKind::Upload => {
                self.drop_lines(f);
                self.settle_all(f, failure.status, &failure.reason, req, p);
            }
            StepKind::Status => {
                let Some(file) = self.files.get_mut(f) else { return };
                file.poll_failures += 1;
                if file.poll_failures < MAX_POLL_FAILURES && file.waited_ms < MAX_POLL_MS {
                    // The job runs on at Marketo whatever happened to this call: ask again.
                    self.poll(f, LATER_POLL_MS, p);
                } else {
                    let batch = file.batch_id.unwrap_or(0);
                    let mut why = failure.reason.clone();
                    why.message_mut().push_str(&format!(
                        " (import job {batch} was created; its result could not be read)"
                    ));
                    self.settle_all(f, Status::Uncertain, &why, req, p);
                }
            }
            StepKind::Failures => {
                if let Some(file) = self.files.get_mut(f) {
                    file.awaiting_failures = false;
                    file.failures_unavailable = Some(failure.reason.clone());
                }
                self.finish_if_ready(f, p);
            }
            StepKind::Warnings => {
                // A 404 or any other trouble: the rows were imported, only without their warning.
                if let Some(file) = self.files.get_mut(f) {
                    file.awaiting_warnings = false;
                }
                self.finish_if_ready(f, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{parse_actions, Action};
    use crate::core::families::bulk::{multipart::*, rows::*};
    use crate::core::ids::EventKey;
    use serde_json::json;

    fn params(action: Value) -> BulkParams {
        match parse_actions(&json!([action])).unwrap().remove(0).action {
            Action::BulkImportLeads(p) => p,
            other => panic!("not a bulk action: {other:?}"),
        }
    }

    fn simple() -> BulkParams {
        params(
            json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email", "targetStaticList": 1001,
            "leadData": [{"field": "email", "source": {"attribute": "e"}},
                         {"field": "firstName", "source": {"attribute": "n"}}]}),
        )
    }

    fn ev(n: u64) -> EventRef {
        EventRef { key: EventKey(n) }
    }

    fn bytes(call: &CallSpec) -> std::borrow::Cow<'_, [u8]> {
        match &call.body {
            Some((b @ Body::JoinedBytes(_), _)) => b.bytes(),
            other => panic!("no bytes body: {other:?}"),
        }
    }

    fn content_type(call: &CallSpec) -> &str {
        call.body.as_ref().map(|(_, ct)| ct.as_str()).unwrap()
    }

    /// The CSV inside an upload's multipart body.
    fn csv_of(call: &CallSpec) -> String {
        let b = content_type(call).strip_prefix("multipart/form-data; boundary=").unwrap().to_string();
        let text = String::from_utf8(bytes(call).to_vec()).unwrap();
        let head = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        );
        let tail = format!("\r\n--{b}--\r\n");
        text.strip_prefix(&head).and_then(|t| t.strip_suffix(&tail)).expect("multipart framing").to_string()
    }

    fn envelope(v: Value) -> Envelope {
        Envelope::parse(&v.to_string()).unwrap()
    }

    fn outcome_json(p: &Progress) -> Vec<Value> {
        // The engine fills in the ids as it emits an outcome; here, as it would for keys `n`.
        let filled = |k: &EventKey, o: &crate::core::outcome::Outcome| crate::core::outcome::Outcome {
            event_id: format!("ev-{}", k.0),
            action_id: "bulk".into(),
            ..o.clone()
        };
        p.outcomes.iter().map(|(k, o)| serde_json::to_value(filled(k, o)).unwrap()).collect()
    }

    #[test]
    fn csv_cells_keep_every_value_exact() {
        let p = params(json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
        "leadData": [
            {"field": "email", "source": {"attribute": "e"}},
            {"field": "company", "source": {"attribute": "comma"}},
            {"field": "title", "source": {"attribute": "quote"}},
            {"field": "notes", "source": {"attribute": "newline"}},
            {"field": "city", "source": {"attribute": "unicode"}},
            {"field": "leadScore", "source": {"attribute": "zero"}},
            {"field": "optIn", "source": {"attribute": "no"}},
            {"field": "big", "source": {"attribute": "big"}},
            {"field": "max", "source": {"attribute": "max"}},
            {"field": "ratio", "source": {"attribute": "float"}},
            {"field": "delta", "source": {"attribute": "neg"}},
            {"field": "signup", "source": {"attribute": "d"}, "type": "date"},
            {"field": "phone", "source": {"attribute": "nul"}},
            {"field": "fax", "source": {"attribute": "absent"}},
            {"field": "tags", "source": {"attribute": "list"}},
            {"field": "meta", "source": {"attribute": "obj"}},
            {"field": "leadSource", "source": {"value": "Web, \"bulk\""}}
        ]}));
        let event = json!({
            "e": "jane.doe@example.com", "comma": "Doe, Jane & Co", "quote": "The \"Boss\"",
            "newline": "line 1\nline 2\r\nline 3", "unicode": "Zürich 東京 🚀", "zero": 0, "no": false,
            "big": 9_007_199_254_740_993u64, "max": u64::MAX, "float": 1.5, "neg": -42,
            "d": 1_764_307_800_000u64, "nul": null, "list": ["a", "b"], "obj": {"k": 1}
        });
        let (mut job, progress) = BulkJob::new(&p, vec![(ev(1), &event)], 7);
        assert!(progress.outcomes.is_empty());
        let mut progress = Progress::default();
        job.start(&mut progress);
        assert_eq!(progress.calls.len(), 1);
        assert_eq!(
            csv_of(&progress.calls[0]),
            "email,company,title,notes,city,leadScore,optIn,big,max,ratio,delta,signup,phone,fax,tags,meta,leadSource\r\n\
             jane.doe@example.com,\"Doe, Jane & Co\",\"The \"\"Boss\"\"\",\"line 1\nline 2\r\nline 3\",Zürich 東京 🚀,0,false,\
             9007199254740993,18446744073709551615,1.5,-42,2025-11-28T05:30:00Z,,,\"[\"\"a\"\",\"\"b\"\"]\",\"{\"\"k\"\":1}\",\
             \"Web, \"\"bulk\"\"\"\r\n"
        );
    }

    #[test]
    fn events_without_lookup_value_or_with_bad_dates_fail_alone() {
        let p = params(json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
            "leadData": [{"field": "email", "source": {"attribute": "e"}},
                         {"field": "signup", "source": {"attribute": "d"}, "type": "date"}]}));
        let events = [
            json!({"d": "2026-01-02"}),
            json!({"e": null}),
            json!({"e": "   "}),
            json!({"e": true}),
            json!({"e": "ok@example.com", "d": "next week"}),
            json!(["not", "an", "object"]),
            json!({"e": "fine@example.com"}),
        ];
        let (mut job, progress) =
            BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64 + 1), e)).collect(), 1);
        let codes: Vec<(String, String)> = progress
            .outcomes
            .iter()
            .map(|(k, o)| (format!("ev-{}", k.0), o.code.clone().unwrap_or_default()))
            .collect();
        let want = [
            ("ev-1", "MISSING_ATTRIBUTE"),
            ("ev-2", "MISSING_ATTRIBUTE"),
            // There, but blank: said so (not "not in the event").
            ("ev-3", "INVALID_VALUE"),
            ("ev-4", "INVALID_VALUE"),
            ("ev-5", "INVALID_VALUE"),
            ("ev-6", "INVALID_EVENT"),
        ];
        assert_eq!(codes, want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec());
        assert!(progress.outcomes.iter().all(|(_, o)| o.status == Status::Failed));
        assert!(progress.outcomes[2].1.message.as_deref().unwrap().contains("the value is empty"));
        assert!(progress.outcomes[4].1.message.as_deref().unwrap().contains("signup"));
        let mut progress = Progress::default();
        job.start(&mut progress);
        assert_eq!(csv_of(&progress.calls[0]), "email,signup\r\nfine@example.com,\r\n");
    }

    #[test]
    fn multipart_body_is_exact_and_its_boundary_deterministic() {
        let p = simple();
        let event = json!({"e": "a@example.com", "n": "Ann"});
        let upload = |seed: u64| {
            let (mut job, _) = BulkJob::new(&p, vec![(ev(1), &event)], seed);
            let mut progress = Progress::default();
            job.start(&mut progress);
            progress.calls.remove(0)
        };
        let call = upload(42);
        let b = {
            let mut j = Jitter::new(42);
            format!("MarketoConnectorBoundary{:016x}{:016x}", j.next_u64(), j.next_u64())
        };
        assert_eq!(content_type(&call), format!("multipart/form-data; boundary={b}"));
        let want = format!(
            "--{b}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\n\
             Content-Type: text/csv\r\n\
             \r\n\
             email,firstName\r\n\
             a@example.com,Ann\r\n\
             \r\n\
             --{b}--\r\n"
        );
        assert_eq!(String::from_utf8(bytes(&call).to_vec()).unwrap(), want);
        assert_eq!(call.method, Method::Post);
        assert_eq!(call.api, Api::Bulk);
        assert_eq!(call.path, "/v1/leads.json");
        assert_eq!(
            call.query,
            [("format", "csv"), ("lookupField", "email"), ("listId", "1001")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .to_vec()
        );
        assert!(call.idempotent && !call.raw && call.delay_ms == 0);
        assert_eq!(upload(42), call, "same seed, same bytes");
        assert_ne!(content_type(&upload(43)), content_type(&call));

        // A value that contains the boundary the seed would give gets another one.
        let hostile = json!({"e": "a@example.com", "n": b});
        let (mut job, _) = BulkJob::new(&p, vec![(ev(1), &hostile)], 42);
        let mut progress = Progress::default();
        job.start(&mut progress);
        let other = content_type(&progress.calls[0]).strip_prefix("multipart/form-data; boundary=").unwrap();
        assert_ne!(other, b);
        assert!(!csv_of(&progress.calls[0]).contains(other));
        assert!(csv_of(&progress.calls[0]).contains(&b));

        // No list configured: no listId.
        let p = params(json!({"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
            "leadData": [{"field": "email", "source": {"attribute": "e"}}]}));
        let (mut job, _) = BulkJob::new(&p, vec![(ev(1), &event)], 1);
        let mut progress = Progress::default();
        job.start(&mut progress);
        assert_eq!(
            progress.calls[0].query,
            vec![("format".into(), "csv".into()), ("lookupField".into(), "email".into())]
        );
    }

    #[test]
    fn files_split_under_10_mb_and_at_25000_rows() {
        // By bytes: the body (overhead + rows) must stay under 10 MB (≤ MAX − 1).
        assert_eq!(split_files([MAX_FILE_BYTES - 61, 1].into_iter(), 60), vec![0..1, 1..2]);
        assert_eq!(split_files([MAX_FILE_BYTES - 62, 1].into_iter(), 60), vec![0..2]);
        // A row too large alone is a file of its own, between its neighbours'.
        assert_eq!(split_files([5, MAX_FILE_BYTES, 5].into_iter(), 60), vec![0..1, 1..2, 2..3]);
        assert_eq!(split_files(std::iter::empty(), 60), vec![]);
        // By rows.
        let groups = split_files(std::iter::repeat_n(10, MAX_FILE_ROWS * 2 + 1), 100);
        let n = MAX_FILE_ROWS;
        assert_eq!(groups, vec![0..n, n..2 * n, 2 * n..2 * n + 1]);

        // Through the job: three 4 MB rows make two files, each body under 10 MB.
        let p = simple();
        let big = "x".repeat(4 * 1024 * 1024);
        let events: Vec<Value> = (0..3).map(|i| json!({"e": format!("{i}@example.com"), "n": big})).collect();
        let (mut job, _) =
            BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64), e)).collect(), 3);
        let mut progress = Progress::default();
        job.start(&mut progress);
        assert_eq!(progress.calls.len(), 2);
        for call in &progress.calls {
            assert!(bytes(call).len() < MAX_FILE_BYTES);
            assert!(csv_of(call).starts_with("email,firstName\r\n"));
        }
        assert_eq!(csv_of(&progress.calls[0]).matches("@example.com").count(), 2);
        assert_eq!(csv_of(&progress.calls[1]).matches("@example.com").count(), 1);
        let overhead = file_overhead(&job.header);
        let first_rows = csv_of(&progress.calls[0]).len() - job.header.len();
        assert_eq!(bytes(&progress.calls[0]).len(), overhead + first_rows, "size computed exactly");

        // Through the job: 25,001 small rows make two files.
        let events: Vec<Value> = (0..=MAX_FILE_ROWS).map(|i| json!({"e": format!("{i}@x.io")})).collect();
        let (mut job, _) =
            BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64), e)).collect(), 3);
        let mut progress = Progress::default();
        job.start(&mut progress);
        let rows: Vec<usize> = progress.calls.iter().map(|c| csv_of(c).matches("\r\n").count() - 1).collect();
        assert_eq!(rows, vec![MAX_FILE_ROWS, 1]);
    }

    #[test]
    fn a_file_marketo_refuses_as_too_large_is_uploaded_in_halves() {
        let p = simple();
        let events: Vec<Value> = (0..3).map(|i| json!({"e": format!("{i}@example.com")})).collect();
        let (mut job, _) =
            BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64 + 1), e)).collect(), 5);
        job.keep_lines = false; // as for a mapping that is not undoable; see the end
        let mut progress = Progress::default();
        job.start(&mut progress);
        let mut halves = Progress::default();
        assert!(job.split(progress.calls[0].step, &mut halves));
        let files: Vec<String> = halves.calls.iter().map(csv_of).collect();
        assert_eq!(
            files,
            vec![
                "email,firstName\r\n0@example.com,\r\n",
                "email,firstName\r\n1@example.com,\r\n2@example.com,\r\n"
            ]
        );
        assert_ne!(
            content_type(&halves.calls[0]),
            content_type(&halves.calls[1]),
            "each file its own boundary"
        );
        // A one-row file cannot be split; its failure then reaches its event.
        let mut quarters = Progress::default();
        assert!(!job.split(halves.calls[0].step, &mut quarters));
        assert!(quarters.calls.is_empty());
        let too_large = Failure::new(Status::Failed, Reason::http(413), None);
        job.on_failure(halves.calls[0].step, &too_large, &mut quarters);
        assert_eq!(quarters.outcomes.len(), 1);
        assert_eq!(quarters.outcomes[0].0, EventKey(1));
        assert_eq!(quarters.outcomes[0].1.code.as_deref(), Some("HTTP_413"));
        // Answered uploads no longer hold their rows' CSV, unless the rows are their events'
        // only copy (an undoable mapping, as `simple()`'s): a snapshot writes the events from them.
        let mut kept = Progress::default();
        let mut job2 =
            BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64), e)).collect(), 9).0;
        job2.start(&mut kept);
        job2.on_success(
            kept.calls[0].step,
            &envelope(json!({"success": true, "result": [{"batchId": 2}]})),
            &mut kept,
        );
        assert!(job2.rows.iter().all(|r| !r.row.line.is_empty()));
        assert_eq!(job2.item_texts().len(), 3);
        let mut done = Progress::default();
        job.on_success(
            halves.calls[1].step,
            &envelope(json!({"success": true, "result": [{"batchId": 1}]})),
            &mut done,
        );
        assert!(job.rows.iter().all(|r| r.row.line.is_empty()));
        assert!(!job.split(done.calls[0].step, &mut done), "only uploads split");
    }

    #[test]
    fn report_rows_match_the_kth_event_with_the_same_lookup_value() {
        let keys = ["a@x.com", "b@x.com", "a@x.com", "c@x.com", "a@x.com"];
        let report: Vec<(String, String)> =
            [("a@x.com", "r1"), ("zz@x.com", "r2"), ("a@x.com", "r3"), ("c@x.com", "r4")]
                .map(|(k, r)| (k.to_string(), r.to_string()))
                .to_vec();
        let (matched, unmatched) = match_rows(&keys, &report);
        assert_eq!(matched, vec![(0, "r1".into()), (2, "r3".into()), (3, "r4".into())]);
        assert_eq!(unmatched, 1);
        // More report rows for a value than events with it: the extra ones match nothing.
        let (matched, unmatched) = match_rows(&["a"], &[("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!((matched, unmatched), (vec![(0, "1".into())], 1));

        // Reading a report: quoted cells, emails compared case-insensitively, reason by name.
        let body = "email,firstName,Import Failure Reason\n\"A@X.com \",\"Doe, J\",Invalid email address\n\
                    b@x.com,B,\"Bad, \"\"really\"\"\"\n";
        let r = parse_report(body, "email", FAILURE_COLUMN).unwrap();
        assert_eq!(
            r.rows,
            vec![
                ("a@x.com".into(), "Invalid email address".into()),
                ("b@x.com".into(), "Bad, \"really\"".into())
            ]
        );
        assert!(parse_report("", "email", FAILURE_COLUMN).is_none());
        assert!(parse_report("firstName,Import Failure Reason\nA,x\n", "email", FAILURE_COLUMN).is_none());
        // Other lookup fields are compared exactly (after trimming).
        assert_eq!(match_key("sfdcLeadId", " 00Q5g00000AbCdE "), "00Q5g00000AbCdE");
        assert_eq!(match_key("email", "Jane.DOE@Example.com"), "jane.doe@example.com");
    }

    /// The multipart boundary is drawn again when the file holds it: the same job (same seed)
    /// whose row carries the boundary it drew before gets another, which occurs in the body
    /// only as the two delimiters.
    #[test]
    fn a_boundary_found_in_a_row_is_drawn_again() {
        let p = simple();
        let upload = |first_name: &str| -> (String, String) {
            let event = json!({"e": "a@example.com", "n": first_name});
            let (mut job, _) = BulkJob::new(&p, vec![(ev(1), &event)], 9);
            let mut progress = Progress::default();
            job.start(&mut progress);
            let (body, content_type) = progress.calls.remove(0).body.expect("an upload body");
            let boundary =
                content_type.strip_prefix("multipart/form-data; boundary=").expect("multipart").to_string();
            (boundary, String::from_utf8(body.bytes().into_owned()).expect("UTF-8"))
        };
        let (drawn, _) = upload("Jane");
        let (again, body) = upload(&drawn);
        assert_ne!(again, drawn);
        assert!(body.contains(&format!("a@example.com,{drawn}\r\n")), "{body}");
        assert_eq!(body.matches(&again).count(), 2, "{body}");
    }

    /// Drives a job through upload → status → reports with scripted answers.
    #[test]
    fn a_completed_job_reports_failed_and_warned_rows_on_their_events() {
        let p = simple();
        let events = [
            json!({"e": "dup@example.com", "n": "First"}),
            json!({"e": "ok@example.com", "n": "Ok"}),
            json!({"e": "DUP@example.com", "n": "Second"}),
            json!({"e": "warn@example.com", "n": "W"}),
        ];
        let (mut job, _) =
            BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64 + 1), e)).collect(), 9);
        let mut progress = Progress::default();
        job.start(&mut progress);
        let upload = progress.calls.remove(0);

        let mut p1 = Progress::default();
        job.on_success(
            upload.step,
            &envelope(json!({"requestId": "r#1", "success": true,
                "result": [{"batchId": 3404, "importId": "3404", "status": "Queued"}]})),
            &mut p1,
        );
        assert!(p1.outcomes.is_empty());
        let mut poll = p1.calls.remove(0);
        assert_eq!(
            (poll.path.as_str(), poll.delay_ms, poll.api),
            ("/v1/leads/batch/3404.json", 5_000, Api::Bulk)
        );

        let mut delays = Vec::new();
        for status in ["Queued", "Importing", "Importing", "Importing"] {
            let mut p2 = Progress::default();
            job.on_success(
                poll.step,
                &envelope(json!({"requestId": "r#2", "success": true,
                    "result": [{"batchId": 3404, "status": status, "numOfLeadsProcessed": 0,
                                "numOfRowsFailed": 0, "numOfRowsWithWarning": 0, "message": status}]})),
                &mut p2,
            );
            poll = p2.calls.remove(0);
            delays.push(poll.delay_ms);
        }
        assert_eq!(delays, vec![10_000, 20_000, 30_000, 30_000]);

        let mut p3 = Progress::default();
        job.on_success(
            poll.step,
            &envelope(json!({"requestId": "status#9", "success": true,
                "result": [{"batchId": 3404, "status": "Complete", "numOfLeadsProcessed": 3,
                            "numOfRowsFailed": 1, "numOfRowsWithWarning": 1,
                            "message": "Import completed with errors, 3 records imported (3 members), 1 failed"}]})),
            &mut p3,
        );
        assert!(p3.outcomes.is_empty());
        let paths: Vec<(&str, bool)> = p3.calls.iter().map(|c| (c.path.as_str(), c.raw)).collect();
        assert_eq!(
            paths,
            vec![("/v1/leads/batch/3404/failures.json", true), ("/v1/leads/batch/3404/warnings.json", true)]
        );
        let (failures, warnings) = (p3.calls[0].step, p3.calls[1].step);
        let mut p4 = Progress::default();
        // Both events carry dup@example.com: the one failure row goes to the first of them.
        job.on_raw(
            failures,
            "email,firstName,Import Failure Reason\r\nDup@Example.com,First,Invalid value\r\nnobody@example.com,X,Y\r\n",
            &mut p4,
        );
        assert!(p4.outcomes.is_empty(), "still waiting for the warnings");
        job.on_raw(
            warnings,
            // A row named by both reports is reported failed (its warning is no use then).
            "email,firstName,Import Warning Reason\nwarn@example.com,W,Value truncated\nDup@Example.com,First,Cut\n",
            &mut p4,
        );
        assert_eq!(
            outcome_json(&p4),
            vec![
                json!({"eventId": "ev-1", "actionId": "bulk", "status": "skipped", "code": "ROW_FAILED",
                       "message": "Invalid value", "requestId": "status#9"}),
                json!({"eventId": "ev-2", "actionId": "bulk", "status": "delivered", "requestId": "status#9"}),
                json!({"eventId": "ev-3", "actionId": "bulk", "status": "delivered", "requestId": "status#9"}),
                json!({"eventId": "ev-4", "actionId": "bulk", "status": "delivered", "code": "ROW_WARNING",
                       "message": "Value truncated", "requestId": "status#9"}),
            ]
        );
        assert!(p4.calls.is_empty());
        assert_eq!(job.files[0].unmatched_rows, 1, "the row matching no event is counted");
    }

    #[test]
    fn failed_jobs_and_unreadable_reports() {
        let p = simple();
        let events = [json!({"e": "a@example.com"}), json!({"e": "b@example.com"})];
        let start = |answer: Value| {
            let (mut job, _) =
                BulkJob::new(&p, events.iter().enumerate().map(|(i, e)| (ev(i as u64 + 1), e)).collect(), 9);
            let mut progress = Progress::default();
            job.start(&mut progress);
            let mut p1 = Progress::default();
            job.on_success(
                progress.calls[0].step,
                &envelope(json!({"success": true, "result": [{"batchId": 7, "status": "Queued"}]})),
                &mut p1,
            );
            let mut p2 = Progress::default();
            job.on_success(p1.calls[0].step, &envelope(answer), &mut p2);
            (job, p2)
        };
        // The whole job failed.
        let (_, p2) = start(json!({"requestId": "s#1", "success": true,
            "result": [{"batchId": 7, "status": "Failed", "message": "Field 'foo' not found"}]}));
        assert_eq!(
            outcome_json(&p2),
            ["ev-1", "ev-2"]
                .map(
                    |e| json!({"eventId": e, "actionId": "bulk", "status": "failed", "code": "IMPORT_FAILED",
                                "message": "Field 'foo' not found", "requestId": "s#1"})
                )
                .to_vec()
        );
        // Rows failed but the failures file cannot be had: uncertain, unless all failed.
        let complete = |failed: u64| {
            json!({"requestId": "s#2", "success": true, "result": [{"batchId": 7, "status": "Complete",
                "numOfRowsFailed": failed, "numOfRowsWithWarning": 1}]})
        };
        let (mut job, p2) = start(complete(1));
        let failure = Failure::new(Status::Failed, Reason::http(404), None);
        let mut p3 = Progress::default();
        job.on_failure(p2.calls[1].step, &failure, &mut p3); // warnings: 404 = none
        job.on_failure(p2.calls[0].step, &failure, &mut p3);
        let statuses: Vec<(Status, Option<String>)> =
            p3.outcomes.iter().map(|(_, o)| (o.status, o.code.clone())).collect();
        assert_eq!(statuses, vec![(Status::Uncertain, Some("FAILURES_UNAVAILABLE".into())); 2]);
        let (mut job, p2) = start(complete(2));
        let mut p3 = Progress::default();
        job.on_raw(p2.calls[1].step, "", &mut p3);
        job.on_raw(p2.calls[0].step, "<html>oops</html>", &mut p3);
        let statuses: Vec<(Status, Option<String>)> =
            p3.outcomes.iter().map(|(_, o)| (o.status, o.code.clone())).collect();
        assert_eq!(statuses, vec![(Status::Skipped, Some("ROW_FAILED".into())); 2]);

        // Status calls failing for good are asked again, then given up as uncertain.
        let (mut job, mut p2) =
            start(json!({"success": true, "result": [{"batchId": 7, "status": "Importing"}]}));
        let mut outcomes = Vec::new();
        for _ in 0..MAX_POLL_FAILURES {
            let poll = p2.calls.remove(0);
            let failure = Failure::new(Status::Failed, reason("NETWORK", "network error: reset"), None);
            p2 = Progress::default();
            job.on_failure(poll.step, &failure, &mut p2);
            outcomes.append(&mut p2.outcomes);
        }
        assert_eq!(outcomes.len(), 2);
        assert!(outcomes.iter().all(|(_, o)| o.status == Status::Uncertain
            && o.message.as_deref().unwrap().contains("import job 7 was created")));
    }

    #[test]
    fn a_job_that_never_finishes_is_given_up_after_a_day() {
        let p = simple();
        let event = json!({"e": "a@example.com"});
        let (mut job, _) = BulkJob::new(&p, vec![(ev(1), &event)], 9);
        let mut progress = Progress::default();
        job.start(&mut progress);
        let mut p1 = Progress::default();
        job.on_success(
            progress.calls[0].step,
            &envelope(json!({"success": true, "result": [{"batchId": 7, "status": "Queued"}]})),
            &mut p1,
        );
        let mut polls = 1;
        let mut waited = p1.calls[0].delay_ms;
        loop {
            let poll = p1.calls.remove(0);
            p1 = Progress::default();
            job.on_success(
                poll.step,
                &envelope(json!({"success": true, "result": [{"batchId": 7, "status": "Queued"}]})),
                &mut p1,
            );
            if !p1.outcomes.is_empty() {
                break;
            }
            polls += 1;
            waited += p1.calls[0].delay_ms;
            assert!(polls < 10_000);
        }
        assert!((MAX_POLL_MS..MAX_POLL_MS + 30_000).contains(&waited), "{waited}");
        assert_eq!(p1.outcomes[0].1.status, Status::Uncertain);
        assert_eq!(p1.outcomes[0].1.code.as_deref(), Some("IMPORT_TIMEOUT"));
    }

    #[test]
    fn preview_shows_the_upload_and_the_first_status_call() {
        let calls = BulkJob::preview(&simple(), &json!({"e": "p@example.com", "n": "P"}), &Format::default())
            .unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(csv_of(&calls[0]), "email,firstName\r\np@example.com,P\r\n");
        assert_eq!(
            (calls[1].method, calls[1].path.as_str()),
            (Method::Get, "/v1/leads/batch/{batchId}.json")
        );
        let err = BulkJob::preview(&simple(), &json!({"n": "P"}), &Format::default()).unwrap_err();
        assert_eq!(err.code(), "MISSING_ATTRIBUTE");
    }
}
