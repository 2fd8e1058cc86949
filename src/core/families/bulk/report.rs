//! The failures and warnings files Marketo writes for a finished import, read as CSV and matched
//! back to the events whose rows they name.

use serde_json::Value;

use crate::core::reason::Reason;

use super::rows::match_key;

/// A failures/warnings file read: `(match key, reason)` per row, and rows that could not be
/// read. `None` when the file has no header with the lookup column.
pub(crate) struct Report {
    pub(crate) rows: Vec<(String, String)>,
    pub(crate) unreadable: u64,
}

pub(crate) fn parse_report(body: &str, lookup_field: &str, reason_column: &str) -> Option<Report> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    // The file's byte-order mark, if any, is dropped by the reader (at the input's start) or
    // here (a header cell's name): a lookup value keeps a U+FEFF of its own (`match_key`).
    let name = |b: &[u8]| text(b).trim_start_matches('\u{feff}').to_string();
    let mut records = csv_records(&mut csv_core::Reader::new(), body.as_bytes()).into_iter();
    let header: Vec<String> = records.next().unwrap_or_default().iter().map(|c| name(c)).collect();
    let key_col = header
        .iter()
        .position(|h| h == lookup_field)
        .or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(lookup_field)))?;
    let reason_col = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case(reason_column))
        .or_else(|| header.len().checked_sub(1))?;
    let mut report = Report { rows: Vec::new(), unreadable: 0 };
    for rec in records {
        match rec.get(key_col).map(|c| text(c)).filter(|k| !k.is_empty()) {
            Some(key) => {
                let reason = rec.get(reason_col).map(|c| text(c)).unwrap_or_default();
                report.rows.push((match_key(lookup_field, &key), reason));
            }
            None => report.unreadable += 1,
        }
    }
    Some(report)
}

/// The lookup value of each of `lines` (CSV records of the file `header` heads, as the
/// connector wrote them) in the form report rows are matched by ([`match_key`]); `""` for a
/// line without one. Read back from the records when a report comes, rather than kept per row
/// (up to 25,000 of them) for a report that seldom comes.
pub(crate) fn row_keys<'l>(
    header: &str,
    lookup_field: &str,
    lines: impl Iterator<Item = &'l str>,
) -> Vec<String> {
    // One reader for every record (building one costs more than reading a row).
    let mut reader = csv_core::Reader::new();
    let names = csv_records(&mut reader, header.as_bytes()).into_iter().next().unwrap_or_default();
    let Some(column) = names.iter().position(|n| n.as_slice() == lookup_field.as_bytes()) else {
        return lines.map(|_| String::new()).collect();
    };
    lines
        .map(|line| {
            let cell = csv_records(&mut reader, line.as_bytes())
                .into_iter()
                .next()
                .and_then(|cells| cells.into_iter().nth(column));
            cell.map_or_else(String::new, |c| match_key(lookup_field, &String::from_utf8_lossy(&c)))
        })
        .collect()
}

/// The records of a CSV file, each a list of cells, read by `csv-core` with the configuration
/// the `csv` crate's reader gives it (RFC 4180; CR, LF or CRLF line breaks; blank lines
/// skipped; records of any length). `rdr` is reset first.
fn csv_records(rdr: &mut csv_core::Reader, mut input: &[u8]) -> Vec<Vec<Vec<u8>>> {
    use csv_core::ReadRecordResult;
    rdr.reset();
    let mut records = Vec::new();
    let (mut out, mut ends) = (vec![0u8; 1024], vec![0usize; 16]);
    let (mut outlen, mut endlen) = (0, 0);
    while let (Some(out_rest), Some(ends_rest)) = (out.get_mut(outlen..), ends.get_mut(endlen..)) {
        let (res, nin, nout, nend) = rdr.read_record(input, out_rest, ends_rest);
        input = input.get(nin..).unwrap_or_default();
        outlen += nout;
        endlen += nend;
        match res {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record => {
                let mut start = 0;
                let cells = ends.iter().take(endlen).map(|&end| {
                    let cell = out.get(start..end).unwrap_or_default().to_vec();
                    start = end;
                    cell
                });
                records.push(cells.collect());
                (outlen, endlen) = (0, 0);
            }
            ReadRecordResult::End => break,
        }
    }
    records
}

/// For each report row, in order, the position in `keys` it belongs to: the k-th report row
/// with a key goes to the k-th entry of `keys` with that key. Also the count of report rows
/// that match nothing.
pub(crate) fn match_rows(keys: &[&str], report: &[(String, String)]) -> (Vec<(usize, String)>, u64) {
    // The keys in order, equal keys by position; `taken[p]` counts the entries already matched
    // of the run of equal keys that starts at `p`.
    let mut sorted: Vec<(&str, usize)> = keys.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    let mut taken: Vec<usize> = vec![0; sorted.len()];
    let mut matched = Vec::with_capacity(report.len());
    let mut unmatched = 0;
    for (key, reason) in report {
        let start = sorted.partition_point(|(k, _)| *k < key.as_str());
        let Some(count) = taken.get_mut(start) else {
            unmatched += 1;
            continue;
        };
        match sorted.get(start + *count) {
            Some((k, pos)) if *k == key.as_str() => {
                matched.push((*pos, reason.clone()));
                *count += 1;
            }
            _ => unmatched += 1,
        }
    }
    (matched, unmatched)
}

/// A JSON number or numeric string as a non-negative integer.
pub(crate) fn as_count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The connector's own reason `code` (an import's result), with `message`.
pub(crate) fn reason(code: &'static str, message: impl Into<String>) -> Reason {
    Reason::local(code, message)
}

#[cfg(test)]
mod tests {
    use super::super::rows::csv_record;
    use super::*;

    /// The keys read back from the records are those the rows were matched by when each row
    /// kept its own: trimmed, lower-case for `email`, whatever quoting the cell needed.
    #[test]
    fn row_keys_read_the_lookup_cell_back_from_each_record() {
        let header = csv_record(["firstName", "email", "note"]);
        let lines = [
            csv_record(["Ann", "Ann@Example.COM", "x"]),
            csv_record(["B, \"Bob\"", "bob@example.com", "line\r\nbreak"]),
            csv_record(["", "\"quoted\"@example.com", ""]),
            csv_record(["only one cell"]),
            csv_record(["\u{feff}Bom", "\u{feff}b@example.com", ""]),
        ];
        let keys = row_keys(&header, "email", lines.iter().map(String::as_str));
        // A leading U+FEFF is part of a key (`match_key`), in any column.
        assert_eq!(
            keys,
            ["ann@example.com", "bob@example.com", "\"quoted\"@example.com", "", "\u{feff}b@example.com"]
        );
        // Another lookup field keeps its case; a field the header lacks matches nothing.
        let keys = row_keys(&header, "firstName", lines.iter().map(String::as_str));
        assert_eq!(keys, ["Ann", "B, \"Bob\"", "", "only one cell", "\u{feff}Bom"]);
        assert_eq!(row_keys(&header, "id", lines.iter().map(String::as_str)), ["", "", "", "", ""]);
    }

    /// A report's rows are matched by their lookup value with any U+FEFF it begins with: a
    /// failure for `\u{feff}b@x.com` is not `b@x.com`'s (it went to that event before), and a
    /// value of only U+FEFF is a key, not an unreadable row. The file's own byte-order mark
    /// is not part of the header's first name.
    #[test]
    fn a_report_row_keeps_a_u_feff_of_its_value() {
        let body = "\u{feff}email,Import Failure Reason\r\n\u{feff}b@x.com,Invalid email address\r\n\u{feff},Invalid email address\r\n";
        let report = parse_report(body, "email", "Import Failure Reason").unwrap();
        assert_eq!(
            report.rows,
            [
                ("\u{feff}b@x.com".to_string(), "Invalid email address".to_string()),
                ("\u{feff}".to_string(), "Invalid email address".to_string()),
            ]
        );
        assert_eq!(report.unreadable, 0);
        let keys =
            row_keys(&csv_record(["email"]), "email", ["b@x.com\r\n", "\"\u{feff}b@x.com\"\r\n"].into_iter());
        assert_eq!(
            match_rows(&[&keys[0], &keys[1]], &report.rows[..1]).0,
            [(1, "Invalid email address".to_string())]
        );
    }
}
