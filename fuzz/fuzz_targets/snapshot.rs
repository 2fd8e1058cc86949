//! Arbitrary bytes as a snapshot: `Snapshot::parse` must answer Ok or an error; a snapshot that
//! parses is restored under a fixed configuration and the engine is driven with canned answers.
#![no_main]

use fuzz_support::{settings, Host, MAX_ROUNDS, SEED, T0};
use libfuzzer_sys::fuzz_target;
use marketo_connector::core::snapshot::Snapshot;
use marketo_connector::core::Engine;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(snap) = Snapshot::parse(&text) else { return };
    let engine = Engine::restore(settings(0), SEED, T0, &snap);
    let mut host = Host::new(engine, T0);
    host.check_snapshot();
    host.engine.flush(T0);
    host.drain();
    host.run_canned(MAX_ROUNDS);
    host.check_snapshot();
});
