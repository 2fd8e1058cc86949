//! Test support for the Marketo connector's pure core, shared by the integration tests
//! (`tests/`), the property test (`tests/exactly_once.rs`) and the fuzz targets (`fuzz/`):
//!
//! - [`FakeMarketo`]: the one fake Marketo instance ([`fake`]);
//! - [`Driver`]: the one driver, an engine in virtual time ([`driver`]), in the manner of
//!   quinn-proto's `Pair` and str0m's `netem`/`progress`;
//! - [`fixtures`]: the test instance, settings for it and the sample events of `fixtures/`;
//! - [`http`]: reading requests the way a server does.
//!
//! Deterministic: no clock, no random source, no network.

pub mod driver;
pub mod fake;
pub mod fixtures;
pub mod http;

pub use driver::{Call, Checks, Delivery, Driver, Fault, Handled, InFlight, Input, MAX_STEPS};
pub use fake::{canned, standard_fields, FakeBulkJob, FakeBulkResult, FakeMarketo, Lead, Reply, Token};
pub use fixtures::*;
pub use http::*;
