//! A Marketo Engage connector for customer-data pipelines.
//!
//! The crate has two halves:
//!
//! * [`core`] — a pure, I/O-free state machine (sans-IO, in the manner of quinn-proto and str0m).
//!   It never reads a clock, a network or a random source: time (`now`, epoch milliseconds),
//!   HTTP responses and the jitter seed are passed in; HTTP requests, the next wake-up time and
//!   per-event outcomes come out. It compiles and is tested natively.
//! * `wasm` (only on `wasm32`) — the thin wasm-bindgen layer behind the JavaScript API of the
//!   npm package: it converts values and drives the core with the host's `fetch`, `now` and
//!   `setTimer`.
//!
//! # The run loop
//!
//! Every driver (the wasm binding, the tests, the fuzz targets) has one shape: hand the engine
//! an [`core::Input`] with the host's clock, then drain [`core::Engine::poll_output`] until it
//! returns [`core::Output::Timeout`], which says when to give [`core::Input::Timeout`] next.
//! Requests go out with an id; their answers come back as [`core::Input::Response`] (or
//! [`core::Input::TransportError`]) with that id. A complete example, answering the requests
//! itself as Marketo would:
//!
//! ```
//! use marketo_connector::core::{Engine, Input, Output, Settings, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::from_json(r#"{
//!     "clientId": "id", "clientSecret": "secret",
//!     "endpointUrl": "https://123-ABC-456.mktorest.com/rest",
//!     "identityUrl": "https://123-ABC-456.mktorest.com/identity",
//!     "actions": [{"id": "vip", "type": "addLeadToList", "targetStaticList": 1001,
//!                  "targetLeadId": {"attribute": "leadId"}}]
//! }"#)?;
//! let mut now = 1_764_331_200_000; // epoch ms, from the host's clock
//! let mut engine = Engine::new(settings, 42, now);
//! let event = serde_json::json!({"leadId": 7});
//! let input = Input::Event { action_id: "vip", event: &event, event_id: Some("e1") };
//! engine.handle_input(now, input)?;
//! let mut outcomes = Vec::new();
//! loop {
//!     // Drain every output; answer each request (a real host sends it with fetch).
//!     let mut answers = Vec::new();
//!     let wake = loop {
//!         match engine.poll_output() {
//!             Output::Request(req) if req.url.contains("/identity/oauth/token") => answers.push((
//!                 req.id,
//!                 r#"{"access_token":"t","token_type":"bearer","expires_in":3600,"scope":"s"}"#,
//!             )),
//!             Output::Request(req) => answers.push((
//!                 req.id,
//!                 r#"{"requestId":"r1","success":true,"result":[{"id":7,"status":"added"}]}"#,
//!             )),
//!             Output::Outcome(_, outcome) => outcomes.push(outcome),
//!             Output::Listing(..) | Output::Check(..) => {}
//!             Output::Timeout(at) => break at,
//!         }
//!     };
//!     if !answers.is_empty() {
//!         for (id, body) in answers {
//!             engine.handle_input(now, Input::Response { id, status: 200, body })?;
//!         }
//!     } else if let Some(at) = wake {
//!         now = now.max(at); // a host sets a timer for `at`; here time jumps there
//!         let _ = engine.handle_input(now, Input::Timeout);
//!     } else {
//!         break; // nothing in flight, nothing waiting on time
//!     }
//! }
//! assert_eq!(outcomes.len(), 1);
//! assert_eq!(outcomes[0].status, Status::Delivered);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors, outcomes and bugs
//!
//! Three kinds of failure, never mixed:
//! - **Usage errors** ([`core::UsageError`], [`core::ConfigError`]) are the caller's mistakes:
//!   invalid settings, an unknown action id, an answer to a request that is not waiting. They
//!   are returned at once and change nothing.
//! - **Event failures** are outcomes, not errors: an event that cannot be read, or that
//!   Marketo refuses, gets a final [`core::Outcome`] with a [`core::Reason`]'s code and message
//!   (Marketo's own code, an HTTP status, or the connector's code), exactly once.
//! - **Bugs** must not stop the host's queue. Library code has no `unwrap`, `expect`, panicking
//!   index or `panic!`: a panic in wasm traps and loses every pending event, so impossible
//!   states are handled as failures with the code `INTERNAL`, and the release build aborts
//!   rather than unwinds. The fuzz targets (`scripts/fuzz.sh`) look for panics.
#![warn(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
