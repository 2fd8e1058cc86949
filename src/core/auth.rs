//! Authentication: one identity call at a time, the token reused until shortly before it
//! expires, and dropped when Marketo says it is invalid (601) or expired (602).
//!
//! The identity call is a `POST` with a form body, so the client secret never appears in a
//! URL (and so never in a proxy or host log line). Marketo accepts the three parameters as
//! query or form fields.

use std::sync::Arc;

use crate::core::ids::RequestId;
use serde_json::Value;

use super::redact::Redactor;
use super::retry::{backoff, Jitter, MAX_ATTEMPTS};
use super::time::Millis;
use super::wire::{encode_query_value, Body, HttpRequest, Method};
use crate::core::config::Settings;

/// A token is refreshed this long before Marketo says it expires, so a call never leaves with
/// a token that dies in transit. A token handed out with no more than this left (Marketo's
/// answer to a refresh before expiry) is used to its end instead.
pub const REFRESH_MARGIN_MS: Millis = 60_000;

#[derive(Clone)]
enum State {
    Empty,
    Fetching {
        request: RequestId,
    },
    Valid {
        token: String,
        /// The token is used before this instant: its expiry less [`REFRESH_MARGIN_MS`], or the
        /// expiry itself when Marketo handed it out with no more than the margin left.
        use_until: Millis,
    },
    /// Backing off after a failed identity call.
    Waiting {
        until: Millis,
    },
}

// By hand, so a debug print of the engine never shows the token.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Empty => f.write_str("Empty"),
            State::Fetching { request } => write!(f, "Fetching {{ request: {request} }}"),
            State::Valid { use_until, .. } => write!(f, "Valid {{ token: ***, use_until: {use_until} }}"),
            State::Waiting { until } => write!(f, "Waiting {{ until: {until} }}"),
        }
    }
}

/// Whether a token can travel as `Authorization: Bearer <token>` as it is: visible ASCII only
/// (RFC 9110 §5.5 field values, without spaces, which would end the credentials,
/// <https://www.rfc-editor.org/rfc/rfc9110#section-5.5>).
fn is_header_value(token: &str) -> bool {
    token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Token state.
#[derive(Debug, Clone)]
pub struct Auth {
    state: State,
    /// Consecutive failed identity attempts.
    failures: u32,
    /// The client secret and every token issued, to hide from whatever leaves the connector.
    redactor: Redactor,
}

/// What an identity answer means for the calls waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    /// A token is ready: send the waiting calls.
    Ready,
    /// A transient failure; another identity call is scheduled.
    Retrying,
    /// The credentials were refused, or identity failed too often: fail the waiting calls.
    Rejected {
        /// Stable code for the outcomes.
        code: &'static str,
        /// What happened, without secrets.
        message: String,
    },
}

impl Default for Auth {
    fn default() -> Self {
        Auth { state: State::Empty, failures: 0, redactor: Redactor::default() }
    }
}

impl Auth {
    /// The token to use at `now`, if one is valid for a while yet.
    pub fn token(&self, now: Millis) -> Option<&str> {
        match &self.state {
            State::Valid { token, use_until } if now < *use_until => Some(token),
            _ => None,
        }
    }

    /// Whether an identity call should be sent now (never two in flight).
    pub fn should_fetch(&self, now: Millis) -> bool {
        match &self.state {
            State::Fetching { .. } => false,
            State::Waiting { until } => now >= *until,
            State::Empty => true,
            State::Valid { .. } => self.token(now).is_none(),
        }
    }

    /// Whether an identity call is in flight.
    pub fn is_fetching(&self) -> bool {
        matches!(self.state, State::Fetching { .. })
    }

    /// Text with the client secret and every token issued so far masked (see [`Redactor`]).
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// The identity request with engine id `id`; marks the call as in flight.
    pub fn identity_request(&mut self, id: RequestId, settings: &Settings) -> HttpRequest {
        // The secret leaves the connector only in this body: from now on it may come back.
        self.redactor.learn_secret(settings.client_secret.expose());
        self.state = State::Fetching { request: id };
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            encode_query_value(&settings.client_id),
            encode_query_value(settings.client_secret.expose())
        );
        HttpRequest {
            id,
            method: Method::Post,
            url: format!("{}/oauth/token", settings.identity_url),
            headers: vec![
                ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: Some(Body::Text(Arc::new(body))),
        }
    }

    /// Whether `id` is the identity call in flight.
    pub fn owns(&self, id: RequestId) -> bool {
        matches!(self.state, State::Fetching { request } if request == id)
    }

    /// The host clock stepped back from `old` to `now`: the token's life and a backoff keep
    /// their remaining length from `now`.
    pub fn step_back(&mut self, old: Millis, now: Millis) {
        let rebase = |t: Millis| now.saturating_add(t.saturating_sub(old));
        match &mut self.state {
            State::Valid { use_until, .. } => *use_until = rebase(*use_until),
            State::Waiting { until } => *until = rebase(*until),
            State::Empty | State::Fetching { .. } => {}
        }
    }

    /// When a backed-off identity call is due.
    pub fn wake_at(&self) -> Option<Millis> {
        match self.state {
            State::Waiting { until } => Some(until),
            _ => None,
        }
    }

    /// Handles the identity call's HTTP answer.
    pub fn handle_response(
        &mut self,
        now: Millis,
        status: u16,
        body: &str,
        jitter: &mut Jitter,
    ) -> AuthEvent {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let field =
            |k: &str| parsed.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str).map(str::to_owned);
        if status == 200 {
            let token = field("access_token").filter(|t| !t.is_empty());
            if let Some(t) = &token {
                self.redactor.learn_token(t);
                if !is_header_value(t) {
                    // Never placed in a header: CR/LF would split it (header injection).
                    return self.transient(
                        now,
                        "identity call answered a token that is not a plain header value (spaces or control characters); not used".into(),
                        jitter,
                    );
                }
            }
            let expires_in = parsed.as_ref().and_then(|v| v.get("expires_in")).and_then(Value::as_u64);
            if let (Some(token), Some(expires_in)) = (token, expires_in) {
                let life = expires_in.saturating_mul(1000);
                if life == 0 {
                    // The same token in its last second: ask again once it has expired.
                    return self.transient(now, "identity call answered an expired token".into(), jitter);
                }
                // Asked before the token expires, Marketo answers with the same token and its
                // remaining life, so a refresh inside the margin gets back a token that is still
                // inside it. Use such a token to its end (a call it does not outlive is refreshed
                // on 602) instead of asking again at once, in a loop, until it expires.
                let margin = if life > REFRESH_MARGIN_MS { REFRESH_MARGIN_MS } else { 0 };
                self.failures = 0;
                self.state = State::Valid { token, use_until: now.saturating_add(life - margin) };
                return AuthEvent::Ready;
            }
        }
        if status == 400 || status == 401 || status == 403 {
            self.state = State::Empty;
            self.failures = 0;
            let why = field("error_description")
                .or_else(|| field("error"))
                .unwrap_or_else(|| format!("HTTP {status}"));
            return AuthEvent::Rejected {
                code: "AUTH_REJECTED",
                message: format!("Marketo's identity service refused the client id and secret: {why}"),
            };
        }
        self.transient(now, format!("identity call answered HTTP {status} without a token"), jitter)
    }

    /// Handles the identity call failing in transport (connection refused, reset, timeout).
    pub fn handle_transport_error(&mut self, now: Millis, message: &str, jitter: &mut Jitter) -> AuthEvent {
        self.transient(now, format!("identity call failed: {message}"), jitter)
    }

    fn transient(&mut self, now: Millis, message: String, jitter: &mut Jitter) -> AuthEvent {
        self.failures += 1;
        if self.failures >= MAX_ATTEMPTS {
            self.failures = 0;
            self.state = State::Empty;
            return AuthEvent::Rejected { code: "AUTH_UNAVAILABLE", message };
        }
        self.state = State::Waiting { until: now + backoff(self.failures, 1_000, 30_000, jitter) };
        AuthEvent::Retrying
    }

    /// Drops `token` after Marketo answered 601/602 for a call that carried it. A newer token
    /// obtained meanwhile is kept.
    pub fn invalidate(&mut self, token: &str) {
        if matches!(&self.state, State::Valid { token: t, .. } if t == token) {
            self.state = State::Empty;
        }
    }
}
