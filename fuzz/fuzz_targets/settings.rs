//! Arbitrary bytes as settings JSON: `Settings::from_json` must answer Ok or a ConfigError,
//! never panic, for any text (the nine action types' parameter validation included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use marketo_connector::core::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Settings::from_json(text) {
        Ok(settings) => {
            // Whatever validates must be usable: an engine starts and can snapshot.
            let json = serde_json::from_str(text).unwrap_or_default();
            let d = fuzz_support::Driver::from_settings(settings, json, fuzz_support::SEED, fuzz_support::T0);
            let _ = d.engine.snapshot();
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
});
