//! Why an event failed, was skipped or is uncertain: Marketo's reason (its code and message),
//! an HTTP status Marketo (or a proxy before it) answered with, or the connector's own (the
//! event could not be read, no readable answer came back). The three are different types of
//! fact, in the manner of h11's local and remote protocol errors: only Marketo's codes key into
//! the classification table ([`crate::core::classify`]), and only they prove the call reached
//! Marketo. An outcome shows every reason as a `code` and a `message`; their JSON is the same
//! for all three (SPEC §6).

use std::borrow::Cow;

pub use crate::core::classify::Code;

/// Why one call, or one event, did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Marketo's own reason: an `errors[]` entry of its answer, or a record's `reasons[]`.
    Marketo {
        /// Marketo's code.
        code: Code,
        /// Marketo's message (redacted).
        message: String,
    },
    /// An HTTP status that is not an answer Marketo's API gave (`HTTP_413`, `HTTP_502`).
    Http {
        /// The status.
        status: u16,
        /// What it means here.
        message: String,
    },
    /// The connector's own reason: the event could not be read (`MISSING_ATTRIBUTE`), the call
    /// got no readable answer (`NETWORK`, `BAD_RESPONSE`), the identity call was refused
    /// (`AUTH_REJECTED`), a bulk import's result (`ROW_FAILED`)…
    Local {
        /// A stable code, in upper snake case.
        code: &'static str,
        /// What happened, in words.
        message: String,
    },
}

impl Reason {
    /// Marketo's reason `code` with `message`.
    pub fn marketo(code: impl Into<String>, message: impl Into<String>) -> Reason {
        Reason::Marketo { code: Code(code.into()), message: message.into() }
    }

    /// The connector's own reason.
    pub fn local(code: &'static str, message: impl Into<String>) -> Reason {
        Reason::Local { code, message: message.into() }
    }

    /// Marketo (or what stands before it) answered HTTP `status`.
    pub fn http(status: u16) -> Reason {
        Reason::Http { status, message: format!("Marketo answered HTTP {status}") }
    }

    /// The code an outcome shows: Marketo's, `HTTP_<status>`, or the connector's.
    pub fn code(&self) -> Cow<'_, str> {
        match self {
            Reason::Marketo { code, .. } => Cow::Borrowed(code.as_str()),
            Reason::Http { status, .. } => Cow::Owned(format!("HTTP_{status}")),
            Reason::Local { code, .. } => Cow::Borrowed(code),
        }
    }

    /// The message an outcome shows.
    pub fn message(&self) -> &str {
        match self {
            Reason::Marketo { message, .. }
            | Reason::Http { message, .. }
            | Reason::Local { message, .. } => message,
        }
    }

    /// The message, to extend (`… (gave up after 5 attempts)`).
    pub fn message_mut(&mut self) -> &mut String {
        match self {
            Reason::Marketo { message, .. }
            | Reason::Http { message, .. }
            | Reason::Local { message, .. } => message,
        }
    }

    /// Marketo's code, when the reason is Marketo's (the classification table's key).
    pub fn marketo_code(&self) -> Option<&Code> {
        match self {
            Reason::Marketo { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the call may have been applied although it failed: Marketo's numbered codes say
    /// it was not executed; an HTTP error, a garbled answer, a lost connection or an error
    /// without a code may hide an applied call.
    pub fn may_have_applied(&self) -> bool {
        !matches!(self, Reason::Marketo { code, .. } if code.is_numbered())
    }

    /// Whether the identity service refused or failed (the auth module's reasons), not
    /// Marketo's REST API.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Reason::Local { code: "AUTH_REJECTED" | "AUTH_UNAVAILABLE", .. })
    }
}

impl From<crate::core::wire::ApiError> for Reason {
    fn from(e: crate::core::wire::ApiError) -> Reason {
        Reason::Marketo { code: Code(e.code), message: e.message }
    }
}
