//! Error types. Our side (bad settings, bad calls) is an error; Marketo's answers and bad
//! events are outcomes (see [`crate::core::outcome`]), never errors that stop the connector.

use crate::core::ids::RequestId;
use thiserror::Error;

/// Invalid settings or action configuration, found when the connector is constructed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A connector setting (SPEC §2) is missing or invalid.
    #[error("setting `{setting}`: {problem}")]
    Setting {
        /// The setting's key, e.g. `endpointUrl` or `limits.concurrency`.
        setting: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// An action's configuration (SPEC §3) is invalid.
    #[error("action `{action}`, parameter `{parameter}`: {problem}")]
    Action {
        /// The action's `id` (or its position when it has none).
        action: String,
        /// The parameter at fault, e.g. `leadIdLookup.filterType`.
        parameter: String,
        /// What is wrong and what is expected.
        problem: String,
    },
}

impl ConfigError {
    /// A stable code for JavaScript callers (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Setting { .. } => "INVALID_SETTINGS",
            ConfigError::Action { .. } => "INVALID_ACTION",
        }
    }

    /// The same error with every occurrence of `secret` replaced by `***`.
    pub(crate) fn redact(self, secret: &str) -> ConfigError {
        let r = |s: String| s.replace(secret, "***");
        match self {
            ConfigError::Setting { setting, problem } => {
                ConfigError::Setting { setting: r(setting), problem: r(problem) }
            }
            ConfigError::Action { action, parameter, problem } => {
                ConfigError::Action { action: r(action), parameter: r(parameter), problem: r(problem) }
            }
        }
    }

    pub(crate) fn setting(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Setting { setting: setting.into(), problem: problem.into() }
    }

    pub(crate) fn action(
        action: impl Into<String>,
        parameter: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        ConfigError::Action { action: action.into(), parameter: parameter.into(), problem: problem.into() }
    }
}

/// A misuse of the connector's API by the calling code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// `process`/`preview` named an action id that is not configured.
    #[error("unknown action id `{0}`: it is not among the configured actions")]
    UnknownAction(String),
    /// A response or transport error was reported for a request id the engine is not waiting
    /// for (already answered, timed out, or never issued).
    #[error("no request with id {0} is waiting for an answer")]
    UnknownRequest(RequestId),
}

impl UsageError {
    /// A stable code for JavaScript callers (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            UsageError::UnknownAction(_) => "UNKNOWN_ACTION",
            UsageError::UnknownRequest(_) => "UNKNOWN_REQUEST",
        }
    }
}

/// Why one event cannot be turned into a Marketo call. It fails that event only.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// A required parameter's attribute is absent from the event.
    #[error("parameter `{parameter}`: attribute {path} is not in the event")]
    MissingAttribute {
        /// The action parameter, e.g. `targetLeadId`.
        parameter: String,
        /// The attribute path as configured.
        path: String,
    },
    /// A required parameter's attribute is in the event but `null` (same code as
    /// [`EventError::MissingAttribute`]: there is no value to send).
    #[error("parameter `{parameter}`: attribute {path} is null in the event; it needs a value")]
    NullAttribute {
        /// The action parameter, e.g. `targetLeadId`.
        parameter: String,
        /// The attribute path as configured.
        path: String,
    },
    /// A value is present but unusable (not an id, not a date, wrong type...).
    #[error("parameter `{parameter}`: {problem}")]
    InvalidValue {
        /// The action parameter or lead field.
        parameter: String,
        /// What is wrong with the value.
        problem: String,
    },
    /// The event's request body would be larger than Marketo takes in any call: its own record
    /// (or its tokens) with the request's envelope, alone in a call, is over Marketo's JSON body
    /// limit of 1 MB (1,048,576 bytes; Marketo answers `413` beyond it, error-codes page).
    #[error(
        "{what} is {bytes} bytes of JSON: alone in a request, with the request's own {envelope} bytes, it is over \
         Marketo's body limit of {limit} bytes (1 MB; Marketo refuses larger bodies with HTTP 413), so it is never sent; \
         shorten its values"
    )]
    TooLarge {
        /// What is too large, e.g. `the lead record` or `the tokens list`.
        what: &'static str,
        /// Its size in bytes (UTF-8 JSON text).
        bytes: usize,
        /// The bytes of the request around it (the Sync Leads envelope, the trigger's lead).
        envelope: usize,
        /// Marketo's limit in bytes.
        limit: usize,
    },
    /// The event's bulk import row could never be uploaded: alone in an import file, with the
    /// file's own bytes (multipart framing and the CSV header record), it is not under
    /// Marketo's file limit of 10 MB (10,485,760 bytes; Marketo answers `413` otherwise, error-codes
    /// page and <https://developer.adobe.com/marketo-apis/api/mapi/#tag/Bulk-Import-Leads>).
    #[error(
        "its CSV row is {bytes} bytes: alone in an import file, with the file's own {envelope} bytes (multipart \
         framing and the header record), it is not under Marketo's file limit of {limit} bytes (10 MB; Marketo \
         refuses larger files with HTTP 413), so it is never sent; shorten its values"
    )]
    RowTooLarge {
        /// The row's size in bytes (UTF-8 CSV, CRLF-terminated).
        bytes: usize,
        /// The file's bytes besides its rows.
        envelope: usize,
        /// Marketo's limit in bytes.
        limit: usize,
    },
    /// The event is not a JSON object.
    #[error("the event must be a JSON object: it is {0}")]
    NotAnObject(&'static str),
    /// The event cannot be read as JSON at all: it is cyclic, holds a BigInt, has a getter or
    /// `toJSON` that throws, or is nested past the limit. The text says which, and where.
    #[error("the event must be a JSON object: {0}")]
    NotJson(String),
}

impl EventError {
    /// The error for an event that is JSON but not an object, naming what it is instead.
    pub fn not_an_object(event: &serde_json::Value) -> EventError {
        use serde_json::Value;
        EventError::NotAnObject(match event {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string (JSON text must be parsed first)",
            Value::Array(_) => "an array (give its events one by one)",
            Value::Object(_) => "an object",
        })
    }

    /// The error for a lookup field whose value is a string with nothing but white space in it
    /// (`""`, `"  "`): Marketo cannot find a lead by it (the Sync Leads call skips such a record
    /// with `1002`, a bulk import fails its row), and batched records would be merged by it, so
    /// the event fails here without a call (README "createOrUpdateLead").
    pub fn blank_lookup(field: &str) -> EventError {
        EventError::blank_value(format!("leadData field {field} (the lookup field)"))
    }

    /// A lookup value for `parameter` that is empty or only white space
    /// ([`EventError::blank_lookup`]; a list action's `leadIdLookup.source` likewise).
    pub fn blank_value(parameter: String) -> EventError {
        EventError::InvalidValue {
            parameter,
            problem: "the value is empty (or only white space): Marketo cannot find a lead by it".into(),
        }
    }

    /// A lookup value for `parameter` that is not a string or a number (`value`: a boolean, a
    /// list or an object): Marketo finds leads by text (`filterValues`, a record's lookup field,
    /// a bulk row's lookup column), and a boolean written as `"true"` would name a lead by that.
    pub fn lookup_type(parameter: String, value: &serde_json::Value) -> EventError {
        EventError::InvalidValue {
            parameter,
            problem: format!("a lookup value must be a string or a number, not {}", value_kind(value)),
        }
    }

    /// A required parameter's attribute that has no value: absent from the event (`value` is
    /// `None`, [`EventError::MissingAttribute`]) or `null` ([`EventError::NullAttribute`]).
    pub fn no_value(parameter: String, path: String, value: Option<&serde_json::Value>) -> EventError {
        match value {
            Some(serde_json::Value::Null) => EventError::NullAttribute { parameter, path },
            _ => EventError::MissingAttribute { parameter, path },
        }
    }

    /// The outcome code for an event that failed this way.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::MissingAttribute { .. } | EventError::NullAttribute { .. } => "MISSING_ATTRIBUTE",
            EventError::InvalidValue { .. } => "INVALID_VALUE",
            EventError::NotAnObject(_) | EventError::NotJson(_) => "INVALID_EVENT",
            EventError::TooLarge { .. } | EventError::RowTooLarge { .. } => "RECORD_TOO_LARGE",
        }
    }
}

/// What `v` is, for messages ("a boolean", "a list"…).
pub(crate) fn value_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
