//! One event for one of the nine actions under one of a few fixed configurations:
//! byte 0 picks the configuration, byte 1 the action, byte 2 the seed; the rest is the event
//! (JSON, or raw bytes read leniently). The event goes through `handle_event`, `preview` and
//! `snapshot`, then every request is answered with a canned success and the engine is woken
//! when it asks, a bounded number of times.
#![no_main]

use fuzz_support::{lenient_event, settings, Bytes, Host, ACTION_IDS, MAX_ROUNDS, T0};
use libfuzzer_sys::fuzz_target;
use marketo_connector::core::Engine;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let config = usize::from(input.u8());
    let action = ACTION_IDS[usize::from(input.u8()) % ACTION_IDS.len()];
    let seed = u64::from(input.u8());
    let event = lenient_event(input.rest());

    let engine = Engine::new(settings(config), seed, T0);
    let mut host = Host::new(engine, T0);
    let _ = host.engine.preview(action, &event);
    let key = host.engine.handle_event(T0, action, &event, None).expect("the action is configured");
    host.accepted.insert(key);
    host.drain();
    host.check_snapshot();
    // The same event again with a caller-given id, then a flush: batched actions send now.
    let key = host.engine.handle_event(T0 + 1, action, &event, Some("given-id".into())).expect("configured");
    host.accepted.insert(key);
    host.engine.flush(T0 + 1);
    host.drain();
    host.run_canned(MAX_ROUNDS);
    host.check_snapshot();
});
