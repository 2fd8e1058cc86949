//! The pure core: settings, event mapping, the action families, auth, limits, Marketo wire
//! types and the engine that ties them together. Nothing here performs I/O or reads a clock.
//!
//! Module map (one concern each):
//! - [`settings`]: connector settings (SPEC §2) and their validation.
//! - [`source`]: reading values out of events by attribute path; ids.
//! - [`date`]: reading dates as pipelines write them, printing ISO 8601.
//! - [`actions`]: the nine action types' configuration (SPEC §3) and the jobs that deliver them.
//! - [`auth`]: the identity call and token reuse.
//! - [`batch`]: the per-action queues and their thresholds (SPEC §4).
//! - [`cache`]: the lead-id cache for lookups.
//! - [`classify`]: what each Marketo answer means (the failure-handling table).
//! - [`schema`]: the instance's lead schema (describe2) and formatting values by field type.
//! - [`check`]: `check()`: the configuration checked against the instance.
//! - [`limits`]: the client-side call limiter (calls per 20 s, concurrency, daily quota).
//! - [`pace`]: the current pace below `limits`, lowered on 606/615 and raised as calls go through.
//! - [`redact`]: hiding the client secret and tokens from everything that leaves the connector.
//! - [`retry`]: backoff with seeded jitter.
//! - [`wire`]: HTTP requests out, Marketo response envelopes in.
//! - [`outcome`]: the per-event outcomes (SPEC §6).
//! - [`snapshot`]: the versioned snapshot format for restarts.
//! - [`report`]: which host call (promise) returns which outcome; finished, unreported outcomes.
//! - [`engine`]: the state machine (`handle_*` in, `poll_*` out).

pub mod actions;
pub mod auth;
pub mod batch;
pub mod cache;
pub mod check;
pub mod classify;
pub mod date;
pub mod engine;
pub mod error;
pub mod limits;
pub mod outcome;
pub mod pace;
pub mod redact;
pub mod report;
pub mod retry;
pub mod schema;
pub mod settings;
pub mod snapshot;
pub mod source;
pub mod time;
pub mod wire;

pub use actions::discover::{Listing, Named};
pub use engine::{CheckKey, Engine, EventKey, ListingKey};
pub use error::{ConfigError, EventError, UsageError};
pub use outcome::{Outcome, Status};
pub use settings::Settings;
pub use time::Millis;
pub use wire::{Body, HttpRequest, Method};
