//! Reading the requests the engine emits the way a server does: URL classes, headers, bodies,
//! forms, multipart/form-data (RFC 7578) and CSV (RFC 4180).

use marketo_connector::core::{Body, HttpRequest, Outcome};
use serde_json::Value;

use crate::fixtures::IDENTITY;

/// Whether a request is an identity (token) call.
pub fn is_identity(req: &HttpRequest) -> bool {
    req.url.starts_with(IDENTITY)
}

/// Whether `req` reads the lead schema (`leads/describe2.json` or `leads/describe.json`).
pub fn is_describe(req: &HttpRequest) -> bool {
    let path = req.url.split('?').next().unwrap_or("");
    path.ends_with("/v1/leads/describe2.json") || path.ends_with("/v1/leads/describe.json")
}

/// A header's value (names compared case-insensitively).
pub fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The body as text (as the host is handed it); panics when there is none or it is binary.
pub fn body_text(req: &HttpRequest) -> std::borrow::Cow<'_, str> {
    match req.body.as_ref().and_then(Body::text) {
        Some(text) => text,
        None => panic!("request {} has no text body: {:?}", req.url, req.body),
    }
}

/// The body parsed as JSON.
pub fn body_json(req: &HttpRequest) -> Value {
    serde_json::from_str(&body_text(req)).expect("request body is JSON")
}

/// An outcome as the JSON the JavaScript API hands out.
pub fn outcome_json(o: &Outcome) -> Value {
    serde_json::to_value(o).expect("outcomes serialize")
}

/// Percent-decodes a query or form component (`+` is a space, as servers read forms).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=2` the way a server does: split on `&` first, then on the first `=`, then decode.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

// ---- multipart and CSV (bulk import) --------------------------------------------------------

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// `name` and `filename` of its `Content-Disposition`.
    pub name: Option<String>,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Parses a multipart/form-data body (RFC 7578) the way a strict server does: every line break
/// of the framing must be CRLF; the body must start with the first delimiter.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}").into_bytes();
    if !body.starts_with(&delim) {
        return Err("the body does not start with the boundary".into());
    }
    let next = [b"\r\n".as_slice(), &delim].concat();
    let mut pos = delim.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts); // closing delimiter; the epilogue is ignored
        }
        if !rest.starts_with(b"\r\n") {
            return Err("a boundary line is not terminated by CRLF".into());
        }
        pos += 2;
        let head_end =
            find(&body[pos..], b"\r\n\r\n").ok_or("part headers not terminated by CRLF CRLF")? + pos;
        let text = std::str::from_utf8(&body[pos..head_end]).map_err(|_| "part headers are not UTF-8")?;
        let mut headers = Vec::new();
        for line in text.split("\r\n") {
            let (k, v) = line.split_once(':').ok_or_else(|| format!("malformed part header {line:?}"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let data_start = head_end + 4;
        let end = find(&body[data_start..], &next).ok_or("part not terminated by a delimiter")? + data_start;
        let disposition = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Disposition"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        parts.push(Part {
            name: disposition_param(&disposition, "name"),
            filename: disposition_param(&disposition, "filename"),
            headers,
            data: body[data_start..end].to_vec(),
        });
        pos = end + next.len();
    }
}

/// Parses CSV text into rows of cells (RFC 4180, any line break).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("CSV the fake can read").iter().map(str::to_owned).collect())
        .collect()
}

/// The body as bytes (as the host is handed them); panics when there is none or it is text.
pub fn body_bytes(req: &HttpRequest) -> std::borrow::Cow<'_, [u8]> {
    match &req.body {
        Some(b @ Body::JoinedBytes(_)) => b.bytes(),
        other => panic!("request {} has no binary body: {other:?}", req.url),
    }
}
