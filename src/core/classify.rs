//! What each Marketo answer means for the call that got it (SPEC §5): a table, as data, of every
//! response-level code in Marketo's error reference and of the HTTP-level outcomes. The engine
//! acts on the class; the README's "Failure handling" table is this table.

/// What to do with a call after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Applied: hand the result to the job (record-level skips become `skipped` outcomes there).
    Success,
    /// The token is invalid or expired: refresh it (one identity call at a time) and replay.
    RefreshToken,
    /// Transient: retry with exponential backoff and jitter, starting at `base_ms`.
    Retry {
        /// First backoff.
        base_ms: u64,
    },
    /// The daily quota is spent: hold every call until the quota resets (midnight CST).
    WaitForQuota,
    /// The bulk import queue is full or busy: wait (long backoff) and retry.
    WaitForBulkQueue,
    /// The body is too large (413): split the batch and send the halves.
    Split,
    /// The URL is too long (414): send again as `POST …?_method=GET` with a form body.
    MethodGet,
    /// Permanent: fail the events the call carried with Marketo's code and message.
    Fail,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Marketo's code (`"606"`) or an HTTP-level condition (`"HTTP 5xx"`).
    pub code: &'static str,
    /// Marketo's meaning.
    pub meaning: &'static str,
    /// What the connector does.
    pub class: Class,
}

const RETRY: Class = Class::Retry { base_ms: 2_000 };

/// Response-level codes (`success:false`, `errors[0].code`), from Marketo's error reference.
pub const RESPONSE_CODES: &[Rule] = &[
    Rule { code: "600", meaning: "Access token not specified", class: Class::RefreshToken },
    Rule { code: "601", meaning: "Access token invalid", class: Class::RefreshToken },
    Rule { code: "602", meaning: "Access token expired", class: Class::RefreshToken },
    Rule { code: "603", meaning: "Access denied", class: Class::Fail },
    Rule { code: "604", meaning: "Request time-out", class: RETRY },
    Rule { code: "605", meaning: "HTTP method not supported", class: Class::Fail },
    Rule { code: "606", meaning: "Max rate limit exceeded", class: Class::Retry { base_ms: 20_000 } },
    Rule { code: "607", meaning: "Daily quota reached", class: Class::WaitForQuota },
    Rule { code: "608", meaning: "API temporarily unavailable", class: RETRY },
    Rule { code: "609", meaning: "Invalid JSON", class: Class::Fail },
    Rule { code: "610", meaning: "Requested resource not found", class: Class::Fail },
    Rule { code: "611", meaning: "System error", class: RETRY },
    Rule { code: "612", meaning: "Invalid content type", class: Class::Fail },
    Rule { code: "613", meaning: "Invalid multipart request", class: Class::Fail },
    Rule { code: "614", meaning: "Invalid subscription (temporarily inaccessible)", class: RETRY },
    Rule { code: "615", meaning: "Concurrent access limit reached", class: Class::Retry { base_ms: 5_000 } },
    Rule { code: "616", meaning: "Invalid subscription type", class: Class::Fail },
    Rule { code: "701", meaning: "Cannot be blank", class: Class::Fail },
    Rule { code: "702", meaning: "No data found", class: Class::Fail },
    Rule { code: "703", meaning: "Feature not enabled", class: Class::Fail },
    Rule { code: "704", meaning: "Invalid date format", class: Class::Fail },
    Rule { code: "709", meaning: "Business rule violation", class: Class::Fail },
    Rule { code: "710", meaning: "Parent folder not found", class: Class::Fail },
    Rule { code: "711", meaning: "Incompatible folder type", class: Class::Fail },
    Rule { code: "712", meaning: "Merge operation invalid for person account", class: Class::Fail },
    Rule { code: "713", meaning: "Transient error", class: RETRY },
    Rule { code: "714", meaning: "Unable to find the default record type", class: Class::Fail },
    Rule { code: "718", meaning: "ExternalSalesPersonID not found", class: Class::Fail },
    Rule { code: "719", meaning: "Lock wait timeout", class: RETRY },
    Rule { code: "1003", meaning: "Invalid data", class: Class::Fail },
    Rule { code: "1004", meaning: "Lead not found", class: Class::Fail },
    Rule { code: "1013", meaning: "Object not found (list, campaign)", class: Class::Fail },
    Rule { code: "1016", meaning: "Too many imports", class: Class::WaitForBulkQueue },
    Rule { code: "1019", meaning: "Import in progress", class: Class::WaitForBulkQueue },
    Rule { code: "1029", meaning: "Too many jobs in queue / export quota", class: Class::WaitForBulkQueue },
    Rule { code: "1080", meaning: "More than 25 ids in leadIds", class: Class::Fail },
];

/// HTTP-level outcomes, and answers that are not Marketo envelopes.
pub const HTTP_RULES: &[Rule] = &[
    Rule {
        code: "HTTP 413",
        meaning: "Request entity too large (> 1 MB, bulk > 10 MB)",
        class: Class::Split,
    },
    Rule { code: "HTTP 414", meaning: "Request URI too long (> 8 KB)", class: Class::MethodGet },
    Rule { code: "HTTP 5xx", meaning: "Server error / bad gateway", class: RETRY },
    Rule { code: "not JSON", meaning: "HTML error page, truncated or garbled body", class: RETRY },
    Rule { code: "network", meaning: "Connection refused/reset, DNS, no answer within 200 s", class: RETRY },
    Rule { code: "HTTP other", meaning: "Any other status (401, 403, 404…)", class: Class::Fail },
];

/// A Marketo error code as Marketo sent it (`"601"`, `"1004"`), or
/// `UNKNOWN_ERROR` ([`crate::core::wire::NO_CODE`]) when it sent none. The key into the
/// classification table (Adobe's error-codes page,
/// <https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes>).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub String);

impl Code {
    /// The code's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is one of Marketo's numbered codes (not a placeholder for a missing one).
    pub fn is_numbered(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

/// The class of a response-level error code. Codes not in Marketo's table fail the call.
pub fn classify_code(code: &Code) -> Class {
    RESPONSE_CODES.iter().find(|r| r.code == code.as_str()).map_or(Class::Fail, |r| r.class)
}

/// The class of an HTTP status whose body is not a usable Marketo envelope.
pub fn classify_http(status: u16) -> Class {
    match status {
        413 => Class::Split,
        414 => Class::MethodGet,
        500..=599 => RETRY,
        _ => Class::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_one_rule() {
        for (i, r) in RESPONSE_CODES.iter().enumerate() {
            assert!(RESPONSE_CODES.iter().skip(i + 1).all(|o| o.code != r.code), "{} twice", r.code);
        }
        for code in
            ["601", "602", "604", "606", "607", "608", "611", "614", "615", "713", "1016", "1019", "1029"]
        {
            assert_ne!(classify_code(&Code(code.to_string())), Class::Fail, "{code} is recoverable");
        }
        assert_eq!(classify_code(&Code("1003".into())), Class::Fail);
        assert_eq!(classify_code(&Code("9999".into())), Class::Fail);
        assert_eq!(classify_http(502), Class::Retry { base_ms: 2_000 });
        assert_eq!(classify_http(413), Class::Split);
        assert_eq!(classify_http(404), Class::Fail);
    }
}
