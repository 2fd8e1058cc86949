//! Rows: one event becomes one CSV record under a header of the REST field names (the rules are
//! in [`super`]'s docs). RFC 4180 quoting, CRLF line breaks ([`csv_record`]).

use std::borrow::Cow;

use serde_json::Value;

use crate::core::config::BulkParams;
use crate::core::error::EventError;
use crate::core::schema::Format;

/// The text of one cell: `null` (like `""`) is empty, which Marketo's bulk import reads as
/// "leave the field unchanged" (README "bulkImportLeads"); numbers as JavaScript's `String(n)`
/// writes them ([`crate::core::schema::js_text`]: integers exact, `100000000000000000000` for
/// 1e20), lists and objects their JSON.
pub(crate) fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::core::schema::js_text(n),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// The form of a lookup value that report rows are matched by: trimmed, and lower-case for
/// `email` (Marketo compares emails case-insensitively; its email fields take ASCII only, so
/// ASCII case folding suffices and keeps Unicode's case tables out of the wasm). A leading
/// U+FEFF is part of the value (Marketo keeps it: `\u{feff}b@x.com` is not `b@x.com`); only
/// the report file's own byte-order mark is not, which its reader drops.
pub(crate) fn match_key(lookup_field: &str, value: &str) -> String {
    let v = value.trim();
    if lookup_field.eq_ignore_ascii_case("email") {
        v.to_ascii_lowercase()
    } else {
        v.to_string()
    }
}

/// One CSV record (RFC 4180, CRLF-terminated), with the rules of the `csv` crate's writer
/// (`QuoteStyle::Necessary`): a cell holding `,`, `"`, CR or LF is quoted, its quotes doubled;
/// a record whose only cell is empty (or that has none) is `""`, so it is not a blank line.
/// Also quoted: a first cell beginning with U+FEFF, which a reader takes for a file's
/// byte-order mark at the start of its input and drops (csv-core does, reading a row back
/// for a snapshot: the cell lost it, or the field itself when that was all it held).
pub(crate) fn csv_record<I, T>(cells: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_cell(&mut line, i, cell.as_ref());
    }
    end_record(&mut line);
    line
}

/// Appends cell `i` of a record, quoted when it holds `,`, `"`, CR or LF, or when it is the
/// first and begins with U+FEFF ([`csv_record`]).
fn push_cell(line: &mut String, i: usize, cell: &str) {
    if cell.contains([',', '"', '\r', '\n']) || (i == 0 && cell.starts_with('\u{feff}')) {
        line.push('"');
        for part in cell.split('"').enumerate() {
            if part.0 > 0 {
                line.push_str("\"\"");
            }
            line.push_str(part.1);
        }
        line.push('"');
    } else {
        line.push_str(cell);
    }
}

/// Ends a record: CRLF, after `""` when it is empty (not a blank line).
fn end_record(line: &mut String) {
    if line.is_empty() {
        line.push_str("\"\"");
    }
    line.push_str("\r\n");
}

/// The cells of a record [`prepare_row`] wrote (`n` of them), read back by csv-core's reader
/// under the same RFC 4180 rules; `None` when `line` is not one record of `n` cells. `reader`
/// is reset first: one reader serves every row (building one, its DFA, costs more than reading
/// a row).
pub(crate) fn row_cells(reader: &mut csv_core::Reader, line: &str, n: usize) -> Option<Vec<String>> {
    reader.reset();
    let mut out = vec![0u8; line.len()];
    let mut ends = vec![0usize; n + 1];
    let (result, _, written, fields) = reader.read_record(line.as_bytes(), &mut out, &mut ends);
    if result != csv_core::ReadRecordResult::Record || fields != n {
        return None;
    }
    let out = out.get(..written)?;
    let mut cells = Vec::with_capacity(n);
    let mut start = 0;
    for end in ends.get(..fields)? {
        cells.push(String::from_utf8(out.get(start..*end)?.to_vec()).ok()?);
        start = *end;
    }
    Some(cells)
}

/// The CSV header: the REST field names in `leadData` order.
pub(crate) fn header_record(params: &BulkParams) -> String {
    csv_record(params.lead_data.iter().map(|m| m.field.as_str()))
}

/// An event turned into its CSV row: what a bulk batch holds for the event until it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BulkRow {
    /// The CSV record, CRLF-terminated (dropped once its upload is answered). No spare
    /// capacity is kept for each of up to 25,000 queued rows; shared (`Arc`) with the upload's
    /// body ([`crate::core::wire::Body::JoinedBytes`]), which is never written out in wasm.
    pub(crate) line: std::sync::Arc<str>,
}

impl BulkRow {
    /// The exact bytes this row adds to its file (and to the upload's body).
    pub fn size(&self) -> usize {
        self.line.len()
    }
}

/// Turns one event into its row. Fails when the event has no value for the lookup field
/// (`MISSING_ATTRIBUTE`), it is blank ([`EventError::blank_lookup`]) or a `type: "date"` value is
/// not a date (`INVALID_VALUE`).
pub(crate) fn prepare_row(
    params: &BulkParams,
    event: &Value,
    fmt: &Format<'_>,
    warnings: &mut Vec<String>,
) -> Result<BulkRow, EventError> {
    if !event.is_object() {
        return Err(EventError::not_an_object(event));
    }
    // Written straight into the record (no cell copied apart): one allocation in the common
    // case, the cells' own bytes plus a few for the commas and quotes.
    let mut line = String::with_capacity(params.lead_data.len() * 16 + 2);
    let mut mapped = false; // the lookup field
    for (i, m) in params.lead_data.iter().enumerate() {
        let is_key = m.field == params.lookup_field;
        let value = m.value_for(event, fmt, is_key, warnings)?;
        let value = value.as_deref();
        if is_key {
            let parameter = || format!("leadData field {} (the lookup field)", m.field);
            match &value {
                None | Some(Value::Null) => {
                    return Err(EventError::no_value(parameter(), m.source.describe(), value))
                }
                Some(Value::String(s)) if s.trim().is_empty() => {
                    return Err(EventError::blank_lookup(&m.field))
                }
                Some(Value::String(_) | Value::Number(_)) => {}
                // Refused by `value_for` already (as it read the value); kept for the match.
                Some(other) => return Err(EventError::lookup_type(parameter(), other)),
            }
        }
        if i > 0 {
            line.push(',');
        }
        let text = match &value {
            // An email lookup value is sent trimmed, as in every upsert record: leads are matched
            // by it that way, and report rows by its trimmed form (`match_key`).
            Some(Value::String(s)) if is_key && params.lookup_field == "email" => Cow::Borrowed(s.trim()),
            Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
            Some(other) => Cow::Owned(cell_text(other)),
            None => Cow::Borrowed(""),
        };
        push_cell(&mut line, i, &text);
        mapped |= is_key;
    }
    if !mapped {
        return Err(EventError::MissingAttribute {
            parameter: format!("leadData field {} (the lookup field)", params.lookup_field),
            path: "(not mapped)".into(),
        });
    }
    end_record(&mut line);
    Ok(BulkRow { line: std::sync::Arc::from(line) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_the_cells_it_was_written_from() {
        // One reader for all, as a snapshot reads its rows; a record it refused comes before
        // each next one.
        let mut reader = csv_core::Reader::new();
        for cells in [
            vec!["a@x.io", "", "The \"Boss\"", "line 1\r\nline 2", "a,b", "Zürich 🚀", ""],
            vec![""],
            vec!["\"", ",", "\"\""],
            // A first cell beginning with U+FEFF (which csv-core drops at an input's start).
            vec!["\u{feff}Bom first", "\u{feff}"],
            vec!["\u{feff}"],
            vec!["\u{feff}\u{feff}x", "y"],
        ] {
            let line = csv_record(&cells);
            assert_eq!(
                row_cells(&mut reader, &line, cells.len()),
                Some(cells.iter().map(|c| c.to_string()).collect()),
                "{line}"
            );
            assert_eq!(row_cells(&mut reader, &line, cells.len() + 1), None);
        }
    }
}
