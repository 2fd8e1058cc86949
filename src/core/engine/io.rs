//! The engine's one input and one output type (the shape of str0m's `Input`/`Output`): every
//! host call is an [`Input`] handed to [`Engine::handle_input`](super::Engine::handle_input);
//! everything the engine wants done comes out of
//! [`Engine::poll_output`](super::Engine::poll_output), which ends with [`Output::Timeout`].

use serde_json::Value;

use crate::core::check::CheckResult;
use crate::core::ids::{CheckKey, EventKey, ListingKey, RequestId};
use crate::core::listing::{Listing, Named};
use crate::core::outcome::Outcome;
use crate::core::reason::Reason;
use crate::core::time::Millis;
use crate::core::wire::HttpRequest;

/// Something the host tells the engine. It comes with the host's clock reading (`now`, epoch
/// milliseconds), which every input passes through the clock guard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    /// An event for the action `action_id` (SPEC §7 `process`). `event_id` is the host's id for
    /// it; one is generated when `None`.
    Event {
        /// The configured action's id.
        action_id: &'a str,
        /// The event (a JSON object). It may be the whole event, or what the action reads
        /// of it: a host with the event as JSON text reads it with the action's
        /// [`ActionConfig::reads`](crate::core::config::ActionConfig::reads) (cheaper to parse,
        /// and the engine then keeps only that).
        event: &'a Value,
        /// The event's id.
        event_id: Option<&'a str>,
    },
    /// An event the host could not turn into JSON (cyclic, a BigInt, a throwing getter, nested
    /// too deep): it fails at once with `INVALID_EVENT`, `why` saying which.
    UnreadableEvent {
        /// The configured action's id.
        action_id: &'a str,
        /// Why it could not be read.
        why: &'a str,
        /// The event's id.
        event_id: Option<&'a str>,
    },
    /// The HTTP answer to request `id` (status and body text).
    Response {
        /// [`HttpRequest::id`] of the request answered.
        id: RequestId,
        /// The HTTP status.
        status: u16,
        /// The body, as text.
        body: &'a str,
    },
    /// Request `id` got no HTTP answer (network error, connection dropped, `fetch` threw).
    /// `message` ends up in outcomes and must not contain secrets.
    TransportError {
        /// [`HttpRequest::id`] of the request.
        id: RequestId,
        /// What happened.
        message: &'a str,
    },
    /// The time asked for by [`Output::Timeout`] came (early or repeated wake-ups are harmless).
    Timeout,
    /// Send every queued batch now, whatever its thresholds (SPEC §7 `flush`).
    Flush,
    /// List the instance's static lists or triggerable campaigns (the pickers).
    Listing(Listing),
    /// Check the configuration against the instance (`check()`).
    Check,
}

/// What an input started, for matching later outputs to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Accepted {
    /// The event's key: its outcome comes out as [`Output::Outcome`] with this key.
    Event(EventKey),
    /// The listing's key: its result comes out as [`Output::Listing`].
    Listing(ListingKey),
    /// The check's key: its result comes out as [`Output::Check`].
    Check(CheckKey),
    /// Nothing to match (an answer, a timeout, a flush).
    Nothing,
}

/// Something the engine wants the host to do, in order. Drain
/// [`Engine::poll_output`](super::Engine::poll_output) after every input until it returns
/// [`Output::Timeout`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Output {
    /// Send this request and hand its answer back as [`Input::Response`] (or
    /// [`Input::TransportError`]) with its `id`.
    Request(HttpRequest),
    /// An event's final outcome (SPEC §6), exactly once per event.
    Outcome(EventKey, Outcome),
    /// A picker listing's entries, or Marketo's reason for refusing it.
    Listing(ListingKey, Result<Vec<Named>, Reason>),
    /// A `check()`'s result.
    Check(CheckKey, CheckResult),
    /// Nothing more to do now: give [`Input::Timeout`] at this time (epoch ms), or at the next
    /// input if `None` (nothing waits on time). Always the last output of a drain.
    Timeout(Option<Millis>),
}
