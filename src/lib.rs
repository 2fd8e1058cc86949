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
//! The run loop, for any driver: after every `handle_*` call (or `flush`), drain
//! [`core::Engine::poll_request`] and [`core::Engine::poll_outcome`] until they return `None`,
//! then ask [`core::Engine::poll_timeout`] when to call [`core::Engine::handle_timeout`] next.
#![warn(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
mod ts_types;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
