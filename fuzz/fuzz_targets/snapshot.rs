//! Arbitrary bytes as a snapshot: `Snapshot::parse` must answer Ok or an error; a snapshot that
//! parses is restored under a fixed configuration and the engine is driven with canned answers.
#![no_main]

use fuzz_support::{driver, run_canned, MAX_ROUNDS, SEED};
use libfuzzer_sys::fuzz_target;
use marketo_connector::core::snapshot::Snapshot;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(snap) = Snapshot::parse(&text) else { return };
    let mut d = driver(0, SEED);
    d.restore_from(&snap, SEED);
    d.check_snapshot();
    d.flush();
    run_canned(&mut d, MAX_ROUNDS);
    d.check_snapshot();
});
