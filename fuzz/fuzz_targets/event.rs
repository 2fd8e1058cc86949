//! One event for one of the nine actions under one of a few fixed configurations:
//! byte 0 picks the configuration, byte 1 the action, byte 2 the seed; the rest is the event
//! (JSON, or raw bytes read leniently). The event goes through `handle_event`, `preview` and
//! `snapshot`, then every request is answered with a canned success and the engine is woken
//! when it asks, a bounded number of times.
#![no_main]

use fuzz_support::{driver, lenient_event, run_canned, Bytes, ACTION_IDS, MAX_ROUNDS, T0};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let config = usize::from(input.u8());
    let action = ACTION_IDS[usize::from(input.u8()) % ACTION_IDS.len()];
    let seed = u64::from(input.u8());
    let event = lenient_event(input.rest());

    let mut d = driver(config, seed);
    let _ = d.engine.preview(action, &event);
    d.event_generated(action, &event);
    d.check_snapshot();
    // The same event again with a caller-given id, then a flush: batched actions send now.
    d.now = T0 + 1;
    d.event_with_id(action, &event, "given-id");
    d.flush();
    run_canned(&mut d, MAX_ROUNDS);
    d.check_snapshot();
});
