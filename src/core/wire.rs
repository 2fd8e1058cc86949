//! Marketo wire types: the HTTP requests the engine hands to the host, and the response
//! envelope Marketo answers with (`{requestId, success, result, errors, warnings, ...}`).

use std::sync::Arc;

use crate::core::ids::RequestId;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde_json::Value;

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// DELETE
    Delete,
}

impl Method {
    /// The method name as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// JSON or form text: shared, not copied, between the call kept for a retry and each
    /// request sending it (a Sync Leads body is up to 1 MB).
    Text(Arc<String>),
    /// Text kept as the pieces it is written from (a Sync Leads body: its envelope and its
    /// records, each record shared with the job that keeps it for a snapshot): the host is
    /// handed the text joined, which the connector never holds (up to 1 MB a call).
    Joined(Arc<Joined>),
    /// The same, handed to the host as bytes (a bulk upload's multipart body: its framing and
    /// CSV header, and the rows, each shared with the job; up to 10 MB).
    JoinedBytes(Arc<Joined>),
}

/// A text written as `head`, then `parts` separated by `sep`, then `tail`.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    /// What comes before the first part (`{"action":…,"input":[`).
    pub head: String,
    /// The parts (a Sync Leads body's records), each shared with whatever else holds it.
    pub parts: Vec<Arc<str>>,
    /// What comes between two parts (`,`; nothing between CSV rows, which end with CRLF).
    pub sep: &'static str,
    /// What comes after the last part (`]}`).
    pub tail: String,
}

impl Joined {
    /// Bytes of the text.
    pub fn len(&self) -> usize {
        self.head.len()
            + self.parts.iter().map(|p| p.len()).sum::<usize>()
            + self.parts.len().saturating_sub(1) * self.sep.len()
            + self.tail.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces of the text in order: `head`, the parts with `sep` between them, `tail`.
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        let parts =
            self.parts.iter().enumerate().flat_map(|(i, part)| [if i > 0 { self.sep } else { "" }, &**part]);
        std::iter::once(self.head.as_str()).chain(parts).chain(std::iter::once(self.tail.as_str()))
    }

    /// The text, joined.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.len());
        self.pieces().for_each(|piece| out.push_str(piece));
        out
    }
}

impl Body {
    /// Size in bytes as sent.
    pub fn len(&self) -> usize {
        match self {
            Body::Text(s) => s.len(),
            Body::Joined(j) | Body::JoinedBytes(j) => j.len(),
        }
    }

    /// The body as text (a [`Body::Joined`] joined); `None` for bytes.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Body::Text(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
            Body::Joined(j) => Some(std::borrow::Cow::Owned(j.text())),
            Body::JoinedBytes(_) => None,
        }
    }

    /// The bytes sent (pieces joined).
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Body::Text(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
            Body::Joined(j) | Body::JoinedBytes(j) => std::borrow::Cow::Owned(j.text().into_bytes()),
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An HTTP request for the host to send. Answer it with the engine's `handle_response` or
/// `handle_transport_error`, passing back `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct HttpRequest {
    /// Engine-assigned id, echoed back with the answer.
    pub id: RequestId,
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Body>,
}

/// Characters left unescaped in query values: RFC 3986 unreserved plus `,` (Marketo's list
/// separator), `:` and `@`, which are legal in a query and keep URLs short. `&`, `=`, `+`, `%`,
/// `#` and spaces are escaped (a raw `&` in a cookie value would split the query).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',')
    .remove(b':')
    .remove(b'@');

/// Percent-encodes a query (or form) value.
pub fn encode_query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// The length of [`encode_query_value`]`(v)`, counted without writing it.
pub fn encoded_query_value_len(v: &str) -> usize {
    utf8_percent_encode(v, QUERY_VALUE).map(str::len).sum()
}

/// Builds `k=v&k=v` with encoded values.
pub fn query_string(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_query_value(k));
        out.push('=');
        out.push_str(&encode_query_value(v));
    }
    out
}

/// One entry of `errors[]` or of a record's `reasons[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// Marketo's code, as a string (`"601"`, `"1004"`).
    pub code: String,
    /// Marketo's message.
    pub message: String,
}

/// A parsed Marketo response envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Marketo's `requestId`.
    pub request_id: Option<String>,
    /// `success`.
    pub success: bool,
    /// `result` (empty when absent).
    pub result: Vec<Value>,
    /// `errors`.
    pub errors: Vec<ApiError>,
    /// `moreResult`.
    pub more_result: bool,
    /// `nextPageToken`.
    pub next_page_token: Option<String>,
}

/// Why a response body is not a Marketo envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnEnvelope {
    /// What is wrong.
    problem: &'static str,
    /// The body's start, uncut and unredacted (see [`NotAnEnvelope::message`]).
    start: Option<String>,
}

/// Characters of a non-JSON body a message quotes.
const QUOTED_START_CHARS: usize = 40;
/// Characters of a non-JSON body kept for the message: the quoted start plus room for any
/// secret that begins inside it, so redaction sees it whole before the cut.
const KEPT_START_CHARS: usize = QUOTED_START_CHARS + 1_024;

impl NotAnEnvelope {
    /// The message for an outcome: `redact` is applied to the body's start before it is cut to
    /// 40 characters, so no fragment of a token survives the cut.
    pub fn message(&self, redact: impl Fn(&str) -> String) -> String {
        match &self.start {
            None => self.problem.to_string(),
            Some(raw) => {
                let start: String = redact(raw).chars().take(QUOTED_START_CHARS).collect();
                format!("{} (starts with {start:?})", self.problem)
            }
        }
    }
}

/// The code given to an error Marketo sent without a usable code (`null`, absent, empty, or
/// not a string or number), so every failed outcome still carries one.
pub const NO_CODE: &str = "UNKNOWN_ERROR";

fn code_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Marketo's meaning of a response-level code, from the classification table.
fn meaning_of(code: &str) -> Option<&'static str> {
    super::classify::RESPONSE_CODES.iter().find(|r| r.code == code).map(|r| r.meaning)
}

/// `v` as compact JSON, for messages quoting what Marketo sent. Not cut here: messages are cut
/// only after redaction ([`cut`]), so no fragment of a secret survives a cut.
fn quote(v: &Value) -> String {
    v.to_string()
}

/// Longest message an outcome carries, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// `text` cut to `max` characters, with `…` when cut. Callers redact first.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// One `errors[i]` or `reasons[i]` entry, with a code and a message whatever Marketo sent:
/// a missing code becomes [`NO_CODE`], a missing message says what was there instead.
fn api_error(e: &Value) -> ApiError {
    let code = code_of(e.get("code"));
    let message = e.get("message").and_then(Value::as_str).map(str::trim).filter(|m| !m.is_empty());
    match (code, message) {
        (Some(code), Some(m)) => ApiError { code, message: m.to_string() },
        (Some(code), None) => {
            let message = match meaning_of(&code) {
                Some(meaning) => format!("{meaning} (Marketo sent code {code} without a message)"),
                None => format!("Marketo sent code {code} without a message"),
            };
            ApiError { code, message }
        }
        (None, Some(m)) => ApiError { code: NO_CODE.into(), message: format!("{m} (Marketo sent no code)") },
        (None, None) => ApiError {
            code: NO_CODE.into(),
            message: format!("Marketo sent an error without a code or message: {}", quote(e)),
        },
    }
}

fn api_errors(v: Option<&Value>) -> Vec<ApiError> {
    v.and_then(Value::as_array).map(|list| list.iter().map(api_error).collect()).unwrap_or_default()
}

/// The errors of a `success:false` answer, never empty: `errors` that is absent, empty or not
/// a list becomes one error saying what Marketo answered.
fn failure_errors(v: Option<&Value>) -> Vec<ApiError> {
    let missing = |what: String| {
        vec![ApiError { code: NO_CODE.into(), message: format!("Marketo answered success:false {what}") }]
    };
    match v {
        None | Some(Value::Null) => missing("without errors".into()),
        Some(Value::Array(list)) if list.is_empty() => missing("with an empty errors list".into()),
        Some(Value::Array(list)) => list.iter().map(api_error).collect(),
        Some(other) => missing(format!("with errors that are not a list: {}", quote(other))),
    }
}

impl Envelope {
    /// Parses a response body.
    ///
    /// # Errors
    /// [`NotAnEnvelope`] when the body is not JSON or has no boolean `success` (an HTML error
    /// page from a proxy, a truncated answer...).
    pub fn parse(body: &str) -> Result<Envelope, NotAnEnvelope> {
        let mut v: Value = serde_json::from_str(body).map_err(|_| NotAnEnvelope {
            problem: "response is not JSON",
            start: Some(body.trim_start().chars().take(KEPT_START_CHARS).collect()),
        })?;
        let success = v
            .get("success")
            .and_then(Value::as_bool)
            .ok_or(NotAnEnvelope { problem: "response has no boolean `success`", start: None })?;
        // Taken out of the parsed answer, not copied (a page of lead records can be large).
        let result = match v.get_mut("result").map(Value::take) {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        Ok(Envelope {
            request_id: v.get("requestId").and_then(Value::as_str).map(str::to_owned),
            success,
            result,
            errors: if success { api_errors(v.get("errors")) } else { failure_errors(v.get("errors")) },
            more_result: v.get("moreResult").and_then(Value::as_bool).unwrap_or(false),
            next_page_token: v.get("nextPageToken").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// The first error: for a `success:false` answer there is always one with a code and a
    /// message (see [`NO_CODE`]).
    pub fn first_error(&self) -> ApiError {
        self.errors.first().cloned().unwrap_or_else(|| ApiError {
            code: NO_CODE.into(),
            message: "Marketo answered success:false without errors".into(),
        })
    }
}

/// A per-record result (`result[i]` of sync and list calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    /// The lead id, absent on some skipped records.
    pub id: Option<i64>,
    /// `created`, `updated`, `added`, `removed`, `skipped`...
    pub status: String,
    /// `reasons` of a skipped record.
    pub reasons: Vec<ApiError>,
}

impl RecordResult {
    /// Reads one `result[i]`.
    pub fn from_value(v: &Value) -> RecordResult {
        RecordResult {
            id: v.get("id").and_then(Value::as_i64),
            status: v.get("status").and_then(Value::as_str).unwrap_or("").to_string(),
            reasons: api_errors(v.get("reasons")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_ampersand_is_encoded_commas_are_not() {
        assert_eq!(
            encode_query_value("id:123-ABC-123&token:_mch-example.com-1718000000000-12345"),
            "id:123-ABC-123%26token:_mch-example.com-1718000000000-12345"
        );
        assert_eq!(encode_query_value("a+b@x.com,c d"), "a%2Bb@x.com,c%20d");
    }

    #[test]
    fn envelopes_parse_leniently_and_reject_html() {
        let e = Envelope::parse(
            r#"{"requestId":"e42b#1","success":false,"errors":[{"code":601,"message":"Unauthorized"}]}"#,
        )
        .unwrap();
        assert_eq!(e.first_error(), ApiError { code: "601".into(), message: "Unauthorized".into() });
        let html = Envelope::parse("<html><body>502 Bad Gateway</body></html>").unwrap_err();
        assert_eq!(
            html.message(str::to_string),
            r#"response is not JSON (starts with "<html><body>502 Bad Gateway</body></html")"#
        );
        // Redaction sees the token whole although it runs past the 40 quoted characters.
        let token = "cdf01657-110d-4155-99a7-f986b2ff13a0:ab";
        let echo = Envelope::parse(&format!("Error for Bearer {token}: denied")).unwrap_err();
        let m = echo.message(|t| t.replace(token, "***"));
        assert_eq!(m, r#"response is not JSON (starts with "Error for Bearer ***: denied")"#);
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        let no_code = |body: &str| Envelope::parse(body).unwrap().first_error();
        assert_eq!(
            no_code(r#"{"success":false,"errors":[{"code":null,"message":null}]}"#),
            ApiError {
                code: "UNKNOWN_ERROR".into(),
                message: r#"Marketo sent an error without a code or message: {"code":null,"message":null}"#
                    .into()
            }
        );
        assert_eq!(
            no_code(r#"{"success":false,"errors":[{"code":"606"}]}"#).message,
            "Max rate limit exceeded (Marketo sent code 606 without a message)"
        );
        assert_eq!(
            no_code(r#"{"success":false,"errors":[{"message":"Boom"}]}"#),
            ApiError { code: "UNKNOWN_ERROR".into(), message: "Boom (Marketo sent no code)".into() }
        );
        assert_eq!(
            no_code(r#"{"success":false,"errors":"quota"}"#).message,
            r#"Marketo answered success:false with errors that are not a list: "quota""#
        );
        assert_eq!(no_code(r#"{"success":false}"#).message, "Marketo answered success:false without errors");
        assert_eq!(no_code(r#"{"success":false,"errors":[]}"#).code, "UNKNOWN_ERROR");
        assert!(Envelope::parse(r#"{"ok":true}"#).is_err());
    }
}
