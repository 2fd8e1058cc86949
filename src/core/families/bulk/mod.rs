//! `bulkImportLeads`: Bulk Lead Import (marketo-api.md §7). The events' rows go up as one CSV
//! file per job (`POST /bulk/v1/leads.json?format=csv&lookupField=…&listId=…`, multipart), the
//! job is polled (`GET /bulk/v1/leads/batch/{batchId}.json`) until `Complete` or `Failed`, and
//! the rows Marketo refused or warned about (`…/failures.json`, `…/warnings.json`) are matched
//! back to their events.
//!
//! **Rows.** One per event, cells in `leadData` order under a header of the REST field names.
//! Strings go as they are, numbers as serde_json writes them (integers exactly, even past 2^53),
//! booleans as `true`/`false`, `type: "date"` values as ISO 8601, lists and objects as their JSON
//! text. `null`, absent attributes and `""` become an **empty cell, which does not clear the field**:
//! Marketo's bulk import leaves a field unchanged for an empty cell (as far as Adobe documents it,
//! and as the simulator assumes), unlike `null` in Sync Leads (`createOrUpdateLead`), which
//! clears it. The CSV is written by the `csv` crate (RFC 4180 quoting, CRLF line breaks).
//!
//! **Files.** Marketo takes files under 10 MB; a job splits its rows into several files by the
//! exact byte size of the multipart body, and never puts more than 25,000 rows in one. A file
//! Marketo refuses as too large all the same (413) is uploaded again in halves. The upload is an
//! upsert keyed on the lookup field, so it is retried like any idempotent call; `1016` (too many
//! imports) and `1019` (list being imported to) are waited out by the engine.
//!
//! **Polling.** 5 s after the upload is accepted, then 10 s, 20 s and every 30 s after that
//! (Adobe advises 5–30 s), on the host's timers (`CallSpec::delay_ms`). A status call that fails
//! for good (after the engine's retries) is made again 30 s later, up to three times in a row;
//! after that, or after 24 hours of `Queued`/`Importing` (`IMPORT_TIMEOUT`), the job's events
//! become `uncertain`: the job exists at Marketo, its result is unknown.
//!
//! **Outcomes.** `Failed` job → every event of the file `failed` with `IMPORT_FAILED` and Marketo's
//! message. `Complete` → failed rows `skipped` with `ROW_FAILED`, warned rows `delivered` with
//! `ROW_WARNING` (the reason is the message), the others `delivered`; no lead ids (the bulk API
//! does not return them); `requestId` of the status call. A warnings file that cannot be had
//! (404, error) means no warnings. A failures file that cannot be had (or read) while Marketo
//! counted failed rows leaves the other events `uncertain` (`FAILURES_UNAVAILABLE`), or all
//! `skipped` when every row failed.
//!
//! **Matching.** A row of the failures or warnings file is matched to its event by the lookup
//! field's value (trimmed; case-insensitive for `email`): the k-th report row carrying a value
//! belongs to the k-th event of that file with that value. The key is plain data (the value
//! itself, no hash), so it survives a snapshot and restore. When two events of one file share a
//! lookup value and only one of their rows fails, the report cannot say which: the earlier event
//! is taken. A report row that matches no event is ignored and counted (`unmatched_rows`).
//!
//! Modules: [`rows`] (an event's CSV row), [`multipart`] (files and the upload body),
//! [`report`] (reading the failures/warnings files), [`job`] (the upload, polling and outcomes).

pub(crate) mod job;
pub(crate) mod multipart;
pub(crate) mod report;
pub(crate) mod rows;

use std::cell::RefCell;

use serde_json::Value;

use crate::core::batch::{Thresholds, BULK};
use crate::core::config::BulkParams;
use crate::core::error::EventError;
use crate::core::ids::EventKeys;
use crate::core::job::{CallSpec, Context, EventRef, Family, NewJob, Prepared, Start};
use crate::core::schema::{js_text, Format};
use crate::core::snapshot::ResumeData;

use job::BulkJob;
use multipart::{overhead, MAX_FILE_BYTES};
use rows::{prepare_row, row_cells, BulkRow};

/// The bulk family (`bulkImportLeads`): events become CSV rows of an import file uploaded to
/// `POST /bulk/v1/leads.json` (Swagger `importLeadUsingPOST`), then polled until Marketo has
/// read it. A restore after the upload polls the same batch instead of uploading again.
pub(crate) struct BulkFamily<'a> {
    /// The action's configuration.
    pub params: &'a BulkParams,
    /// csv-core's reader for [`Family::write_event_of_item`], built at its first use and reused
    /// for each row after: building one (its DFA) costs more than reading a row. A snapshot of
    /// 25,000 queued rows spent 0.4 s building readers.
    pub reader: RefCell<Option<Box<csv_core::Reader>>>,
}

impl Family for BulkFamily<'_> {
    fn prepare(
        &self,
        event: &Value,
        format: &Format<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Prepared, EventError> {
        let row = prepare_row(self.params, event, format, warnings)?;
        let size = row.size();
        // A row no file can hold fails here, not with a 413 once its batch goes (an upload of
        // more than 10 MB, and a file of its own). Once the schema is known: before, its values
        // may still be cut to their fields' lengths (it is prepared again then).
        // (The envelope, a few KB, is written out only for a row of 5 MB or more.)
        if format.schema.is_some() && size >= MAX_FILE_BYTES / 2 {
            let envelope = overhead(self.params);
            if size + envelope >= MAX_FILE_BYTES {
                return Err(EventError::RowTooLarge { bytes: size, envelope, limit: MAX_FILE_BYTES });
            }
        }
        Ok(Prepared::text(row.line, size))
    }

    fn thresholds(&self) -> Option<Thresholds> {
        Some(BULK)
    }

    /// Multipart framing and the header row.
    fn overhead(&self) -> usize {
        overhead(self.params)
    }

    fn needs_schema(&self) -> bool {
        true
    }

    fn preview(&self, event: &Value, format: &Format<'_>, _: usize) -> Result<Vec<CallSpec>, EventError> {
        BulkJob::preview(self.params, event, format)
    }

    fn start(&self, items: Vec<(EventRef, Prepared)>, cx: &mut Context<'_>) -> Start {
        let seed = cx.jitter.next_u64();
        let rows = items.into_iter().filter_map(|(ev, p)| p.take_text().map(|line| (ev, BulkRow { line })));
        let job = BulkJob::from_rows(self.params, rows, seed);
        let events = job.events();
        Start { jobs: vec![NewJob::plain(job, events)], failed: Vec::new() }
    }

    fn resumes(&self, resume: &ResumeData) -> bool {
        matches!(resume, ResumeData::BulkBatch { .. })
    }

    fn resume(&self, events: Vec<(EventRef, &Value)>, resume: &ResumeData, cx: &mut Context<'_>) -> Start {
        let ResumeData::BulkBatch { batch_id } = resume else { return Start::default() };
        let mut start = Start::default();
        let mut rows = Vec::new();
        for (ev, event) in events {
            match prepare_row(self.params, event, &cx.format, &mut Vec::new()) {
                Ok(row) => rows.push((ev, row)),
                Err(e) => start.failed.push((ev, e)),
            }
        }
        let seed = cx.jitter.next_u64();
        let keys: EventKeys = rows.iter().map(|(ev, _)| ev.key).collect();
        start.jobs.push(NewJob::plain(BulkJob::resume(self.params, rows, *batch_id, seed), keys));
        start
    }

    fn keeps_item_only(&self) -> bool {
        self.params.undoable
    }

    fn item_text<'a>(&self, item: &'a Prepared) -> Option<&'a str> {
        item.get_text()
    }

    /// Each cell back at its field's attribute path (see [`cell_value`]).
    fn write_event_of_item(&self, text: &str, out: &mut String) -> bool {
        let n = self.params.lead_data.len();
        let cells = match self.reader.try_borrow_mut() {
            Ok(mut reader) => {
                row_cells(reader.get_or_insert_with(|| Box::new(csv_core::Reader::new())), text, n)
            }
            // Only were this called again from within itself, which it is not.
            Err(_) => row_cells(&mut csv_core::Reader::new(), text, n),
        };
        let Some(cells) = cells else { return false };
        self.params.paths.write(out, &mut |i, out| {
            let value = cells.get(i).and_then(|c| cell_value(c));
            value.map(|v| crate::core::json_text::write_value(out, &v)).is_some()
        });
        true
    }
}

/// A cell as the value written back for it: nothing when empty (an absent value writes the
/// same empty cell, "leave the field unchanged"; `""` would fail a `type: "date"` field, and
/// `null` would clear the field were the action restored as an upsert), a number when the
/// cell is a number's text as [`js_text`] writes it (a number field reads a number more
/// leniently than text: 16 digits of a `currency` are refused as text), otherwise the text.
fn cell_value(cell: &str) -> Option<Value> {
    let first = *cell.as_bytes().first()?;
    if first != b'-' && !first.is_ascii_digit() {
        // Not a number's text (which starts with `-` or a digit): no parse, which for text
        // fails, and a failed parse allocates its error.
        return Some(Value::String(cell.to_owned()));
    }
    Some(match serde_json::from_str::<Value>(cell) {
        Ok(Value::Number(n)) if js_text(&n) == cell => Value::Number(n),
        _ => Value::String(cell.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the parse for text that cannot be a number, each cell reads back as the parse
    /// alone read it.
    #[test]
    fn a_cell_reads_back_as_the_parse_reads_it() {
        let parsed = |cell: &str| match serde_json::from_str::<Value>(cell) {
            Ok(Value::Number(n)) if js_text(&n) == cell => Value::Number(n),
            _ => Value::String(cell.to_owned()),
        };
        let cells = [
            "12",
            "-3",
            "0.5",
            "-0",
            "1e+21",
            "1e21",
            "007",
            " 12",
            "12 ",
            "+1",
            ".5",
            "abc",
            "true",
            "null",
            "[1]",
            "{}",
            "\"x\"",
            "é",
            "-",
            "-a",
            "9007199254740993",
            "1.0",
            "NaN",
            "Infinity",
        ];
        for cell in cells {
            assert_eq!(cell_value(cell), Some(parsed(cell)), "{cell:?}");
        }
        assert_eq!(cell_value(""), None);
        assert_eq!(cell_value("12"), Some(Value::from(12)));
    }
}
