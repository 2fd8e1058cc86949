//! The pure core: settings, event mapping, the action families, auth, limits, Marketo wire
//! types and the engine that ties them together. Nothing here performs I/O or reads a clock.
//!
//! Floors, from the bottom up; a module imports only from floors below its own:
//! 1. Shared vocabulary: [`ids`], [`time`], [`date`], [`wire`] (HTTP requests out, Marketo
//!    envelopes in), [`outcome`] (SPEC §6), [`error`], [`classify`] (what each Marketo answer
//!    means), [`redact`], [`retry`], [`listing`].
//! 2. [`schema`]: the instance's lead schema and formatting values by field type; [`source`]:
//!    reading values out of events by attribute path.
//! 3. [`config`]: the settings (SPEC §2) and the nine actions' configuration (SPEC §3).
//! 4. Policies over config: [`cache`] (lead ids), [`batch`] (queues, SPEC §4), [`pace`],
//!    [`limits`] (calls per 20 s, concurrency, daily quota), [`auth`] (the identity call),
//!    [`check`] (problems found from the schema), [`snapshot`] (the restart format).
//! 5. `job`: what a job is (a sequence of Marketo calls for some events).
//! 6. `families`: one module per action family, each owning its whole life cycle behind one
//!    trait; `reads`: the jobs that read the instance (schema, pickers, `check()`).
//! 7. [`engine`]: the state machine (`Input` in, `Output` out); [`report`]: which host call
//!    (promise) returns which outcome.

pub mod auth;
pub mod batch;
pub mod cache;
pub mod check;
pub mod classify;
pub mod config;
pub mod date;
pub mod engine;
pub mod error;
pub mod event_paths;
pub(crate) mod families;
pub mod ids;
pub(crate) mod job;
pub(crate) mod json_text;
pub mod limits;
pub mod listing;
pub mod outcome;
pub mod pace;
pub(crate) mod reads;
pub mod reason;
pub mod redact;
pub mod report;
pub mod retry;
pub mod schema;
pub mod snapshot;
pub mod source;
pub mod time;
pub mod wire;

pub use config::Settings;
pub use engine::{Accepted, Engine, Input, Output};
pub use error::{ConfigError, EventError, UsageError};
pub use ids::{CheckKey, EventKey, ListingKey};
pub use listing::{Listing, Named};
pub use outcome::{Outcome, Status};
pub use reason::{Code, Reason};
pub use time::Millis;
pub use wire::{Body, HttpRequest, Method};
