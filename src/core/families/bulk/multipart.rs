//! The upload's body: CSV files as `multipart/form-data` under Marketo's limits (under 10 MB,
//! at most 25,000 rows), with a boundary drawn from the seeded jitter.

use std::sync::Arc;

use crate::core::config::BulkParams;
use crate::core::job::chunk_ranges;
use crate::core::retry::Jitter;
use std::ops::Range;

use super::rows::header_record;

/// Marketo's bulk import file limit: a file must be *under* 10 MB (413 otherwise).
pub(crate) const MAX_FILE_BYTES: usize = 10_485_760;
/// Rows per file at most (SPEC §4).
pub(crate) const MAX_FILE_ROWS: usize = 25_000;
/// The file name Marketo sees.
const FILE_NAME: &str = "leads.csv";

/// A multipart boundary that occurs in neither `header` nor any of `records` (a CSV file's
/// CRLF-terminated records: a boundary holds no CR or LF, so it cannot run from one record into
/// the next, and this is the boundary of the file they make), derived from the jitter stream.
pub(crate) fn boundary_avoiding(jitter: &mut Jitter, header: &str, records: &[Arc<str>]) -> String {
    let mut b = String::new();
    // A 128-bit random boundary in real data is practically impossible; the bound keeps this
    // total even for hostile input (a clash then fails the upload with Marketo's 613).
    for _ in 0..16 {
        b = format!("MarketoConnectorBoundary{:016x}{:016x}", jitter.next_u64(), jitter.next_u64());
        let mut texts = std::iter::once(header).chain(records.iter().map(|r| &**r));
        if !texts.any(|r| contains(r.as_bytes(), b.as_bytes())) {
            break;
        }
    }
    b
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bytes around the file in the multipart body.
pub(crate) fn multipart_parts(boundary: &str) -> (String, String) {
    (
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{FILE_NAME}\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        ),
        format!("\r\n--{boundary}--\r\n"),
    )
}

/// Bytes of the multipart body other than the rows (the boundary has a fixed length).
/// The bytes a bulk file carries besides its rows (multipart framing and the header record),
/// for the queue's 10 MB threshold.
pub(crate) fn overhead(params: &BulkParams) -> usize {
    file_overhead(&header_record(params))
}

pub(crate) fn file_overhead(header: &str) -> usize {
    let (head, tail) = multipart_parts(&format!("MarketoConnectorBoundary{:032x}", 0));
    head.len() + header.len() + tail.len()
}

/// Groups rows, given their record sizes in order, into files of consecutive rows: ≤ 25,000
/// rows and a body under 10 MB each (a row alone past that is a file of its own). The files'
/// row index ranges, in order.
pub(crate) fn split_files(sizes: impl Iterator<Item = usize>, overhead: usize) -> Vec<Range<usize>> {
    chunk_ranges(sizes, MAX_FILE_ROWS, overhead, MAX_FILE_BYTES - 1)
}
