//! The test instance (its URLs and credentials), virtual time's origin, connector settings for
//! it, and the sample events of `fixtures/` (the repository's one copy of them).

use marketo_connector::core::Millis;
use serde_json::{json, Value};

/// Virtual start time: 2025-11-28T12:00:00Z (06:00 in Marketo's quota time zone, CST).
pub const T0: Millis = 1_764_331_200_000;
/// The jitter seed every test uses unless it says otherwise.
pub const SEED: u64 = 42;
/// The instance's REST base.
pub const REST: &str = "https://123-ABC-123.mktorest.com/rest";
/// The instance's bulk API base (same host, `/bulk` in place of `/rest`).
pub const BULK: &str = "https://123-ABC-123.mktorest.com/bulk";
/// The instance's identity base.
pub const IDENTITY: &str = "https://123-ABC-123.mktorest.com/identity";
/// Credentials the fake instance accepts.
pub const CLIENT_ID: &str = "5c1d7e0a-connector-client";
pub const CLIENT_SECRET: &str = "Sup3r-S3cret-value-9f7";

/// The AudienceStream visitor profile from `fixtures/`.
pub const AUDIENCESTREAM: &str = include_str!("../../fixtures/audiencestream-visitor.json");
/// The EventStream event from `fixtures/`.
pub const EVENTSTREAM: &str = include_str!("../../fixtures/eventstream-event.json");

/// The AudienceStream fixture as JSON.
pub fn audiencestream() -> Value {
    serde_json::from_str(AUDIENCESTREAM).expect("fixture is JSON")
}

/// The EventStream fixture as JSON.
pub fn eventstream() -> Value {
    serde_json::from_str(EVENTSTREAM).expect("fixture is JSON")
}

/// Connector settings for the test instance with these actions.
pub fn settings(actions: Value) -> Value {
    json!({
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "endpointUrl": REST,
        "identityUrl": IDENTITY,
        "actions": actions,
    })
}

/// Connector settings with client-side `limits`.
pub fn settings_with_limits(actions: Value, limits: Value) -> Value {
    let mut s = settings(actions);
    s["limits"] = limits;
    s
}
