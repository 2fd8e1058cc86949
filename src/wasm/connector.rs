//! The `Connector` class (SPEC §7): its methods take JavaScript values, hand the engine its
//! inputs and return promises the core's reporter settles.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::core::engine::Accepted;
use crate::core::report::Reporter;
use crate::core::snapshot::Snapshot;
use crate::core::{Engine, Input, Listing, Settings};

use super::convert::{busy, coded, event_id_arg, from_js, large_text_arg, queued_to_js, text_arg, to_js};
use super::drive::{drive, drive_at, ActionReader, Shared, State, Waiter};
use super::event::EventReader;
use super::host::Host;

/// The Marketo connector. See the package README for the full contract.
#[wasm_bindgen]
pub struct Connector {
    /// `None` once `free()` ran: every method then throws or rejects `DESTROYED` (`destroy.rs`).
    pub(super) shared: RefCell<Option<Rc<Shared>>>,
}

#[wasm_bindgen]
impl Connector {
    /// Validates `settings` (throws an `Error` with `code` `INVALID_SETTINGS`, `INVALID_ACTION`
    /// or `INVALID_HOST` naming what is wrong) and binds the connector to `host`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Settings")] settings: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Host")] host: JsValue,
    ) -> Result<Connector, JsValue> {
        Connector::build(settings, host, None)
    }

    /// A connector that carries on from a `snapshot()` string: queued events are queued again
    /// (batch ages kept), events in flight are sent again (or reported `uncertain` for
    /// non-idempotent calls), the daily-quota count carries over. Throws like the constructor,
    /// or with `code` `INVALID_SNAPSHOT`.
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "Settings")] settings: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Host")] host: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] snapshot: JsValue,
    ) -> Result<Connector, JsValue> {
        let snapshot = large_text_arg(&snapshot, "snapshot", "INVALID_SNAPSHOT")?;
        Connector::build(settings, host, Some(snapshot))
    }

    fn build(settings: JsValue, host: JsValue, snapshot: Option<String>) -> Result<Connector, JsValue> {
        let value = from_js(&settings)
            .map_err(|e| coded(&format!("settings: not representable as JSON: {e}"), "INVALID_SETTINGS"))?;
        let settings = Settings::from_value(&value).map_err(|e| coded(&e.to_string(), e.code()))?;
        let seed = Host::seed(&host);
        let host = Host::from_js(&host)?;
        let now = host.now();
        // Without host.seed, one is drawn here (the binding may read a random source; the core
        // never does): two connectors started in one millisecond must not share an id.
        let seed = seed.unwrap_or_else(|| {
            let draw = || (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
            (draw() << 11) ^ draw()
        });
        let (engine, reporter) = match snapshot {
            None => (Engine::new(settings, seed, now), Reporter::default()),
            Some(text) => {
                let snap = Snapshot::parse(&text).map_err(|e| coded(&e.to_string(), "INVALID_SNAPSHOT"))?;
                // The text's memory goes back to the allocator before the engine is built from
                // the parsed snapshot, which can then reuse it (a restore's high-water mark).
                drop(text);
                let reporter = Reporter::restore(&snap);
                (Engine::restore(settings, seed, now, snap), reporter)
            }
        };
        let actions = engine
            .settings()
            .actions
            .iter()
            .map(|a| ActionReader {
                id: a.id.clone(),
                id_js: JsValue::from_str(&a.id),
                reader: EventReader::new(Arc::clone(&a.reads)),
            })
            .collect();
        let state = State { engine, reporter };
        let shared = Rc::new(Shared {
            state: RefCell::new(state),
            host,
            arming: std::cell::Cell::new(false),
            asked_while_arming: std::cell::Cell::new(None),
            sending: std::cell::Cell::new(0),
            freed: std::cell::Cell::new(false),
            actions,
        });
        // A restored engine sends nothing until the host's next call (SPEC §7); this only asks
        // the host, through setTimer(now), to make one (wake) once it has stored the snapshot.
        drive(&shared, false);
        Ok(Connector { shared: RefCell::new(Some(shared)) })
    }

    /// Counters since construction: `{calls, identityCalls, retries, rateLimited, pace, queues,
    /// oldestQueuedAgeMs}` — Marketo calls started (identity excluded, as Marketo does not count
    /// them), identity calls, retries, 606/615 answers (the client-side limiter keeps this at 0
    /// unless another integration shares the instance's limits), the current pace
    /// `{callsPer20s, concurrency}` (lowered on 606/615, raised again as calls go through, never
    /// above `limits`), the events without a final outcome by action id, and the age of the
    /// oldest of them at `host.now()` (`null` when there is none).
    #[wasm_bindgen(unchecked_return_type = "Stats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let shared = self.live()?;
        let now = shared.host.now();
        let st = shared.state.try_borrow().map_err(|_| coded("connector is busy", "BUSY"))?;
        Ok(to_js(&st.engine.stats_at(now)))
    }

    /// The pending state as a string to store (e.g. in a Durable Object) and pass to
    /// `Connector.restore`: queued events, events in flight, the quota count. No secret, no token.
    pub fn snapshot(&self) -> Result<String, JsValue> {
        let shared = self.live()?;
        let st = shared.state.try_borrow().map_err(|_| coded("connector is busy", "BUSY"))?;
        st.reporter.snapshot(&st.engine).to_json().map_err(|e| coded(&e.to_string(), "INTERNAL"))
    }

    /// The identity and generation a snapshot carries, without restoring it: `{id,
    /// generation}`. The id is drawn when a connector is constructed and kept by every restore;
    /// the generation rises by one at each restore, so a host storing snapshots with a
    /// compare-and-set can refuse one from a second connector restored from an older snapshot.
    /// Throws `INVALID_SNAPSHOT` for text that is not a snapshot.
    #[wasm_bindgen(js_name = "snapshotInfo", unchecked_return_type = "SnapshotInfo")]
    pub fn snapshot_info(
        #[wasm_bindgen(unchecked_param_type = "string")] snapshot: JsValue,
    ) -> Result<JsValue, JsValue> {
        let snapshot = large_text_arg(&snapshot, "snapshot", "INVALID_SNAPSHOT")?;
        let snap = Snapshot::parse(&snapshot).map_err(|e| coded(&e.to_string(), "INVALID_SNAPSHOT"))?;
        Ok(to_js(&snap.info()))
    }

    /// Hands one event to the action `actionId`. Resolves with this event's outcome
    /// (`queued` when it waits in a batch or for a timer) plus any other outcomes that
    /// finished meanwhile. Rejects only on misuse: `UNKNOWN_ACTION`, `INVALID_EVENT_ID` (not a
    /// string, an integer of at most 2^53 − 1, `undefined` or `null`; or a string holding half
    /// of a character), `DESTROYED` (freed, also from inside this call) and `BUSY`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome[]>")]
    pub fn process(
        &self,
        #[wasm_bindgen(js_name = "actionId", unchecked_param_type = "string")] action_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "PipelineEvent")] event: JsValue,
        #[wasm_bindgen(js_name = "eventId", unchecked_optional_param_type = "string | number | null")]
        event_id: Option<JsValue>,
    ) -> Promise {
        let shared = match self.live() {
            Ok(shared) => shared,
            Err(e) => return Promise::reject(&e),
        };
        let given_id = event_id.unwrap_or(JsValue::UNDEFINED);
        // A configured action is found by its JS string; any other id is copied in for the
        // engine to refuse, with its text.
        let action = shared.action(&action_id);
        let action_id = match action {
            Some(a) => std::borrow::Cow::Borrowed(a.id.as_str()),
            None => match text_arg(&action_id, "actionId", "UNKNOWN_ACTION") {
                Ok(id) => std::borrow::Cow::Owned(id),
                Err(e) => return Promise::reject(&e),
            },
        };
        let (event_id, given_as_text) = match event_id_arg(&given_id) {
            Ok(e) => e,
            Err(e) => return Promise::reject(&e),
        };
        let now = shared.host.now();
        // Only what the action reads crosses into the engine, read from the object before the
        // borrow (getters and toJSON are host code). An unknown action reads nothing: the
        // engine refuses it.
        let event_id = event_id.as_deref();
        let handle = |value: Result<&serde_json::Value, String>| {
            let mut st = shared.state.try_borrow_mut().ok()?;
            Some(match value {
                Ok(event) => {
                    st.engine.handle_input(now, Input::Event { action_id: &action_id, event, event_id })
                }
                Err(why) => st
                    .engine
                    .handle_input(now, Input::UnreadableEvent { action_id: &action_id, why: &why, event_id }),
            })
        };
        let accepted = match action {
            Some(a) => a.reader.read_with(&event, handle),
            None => handle(Ok(&serde_json::Value::Null)),
        };
        let Some(accepted) = accepted else {
            return Promise::reject(&coded("connector is busy (re-entered from a host callback)", "BUSY"));
        };
        match accepted {
            Ok(Accepted::Event(key)) => {
                // Nothing else due (most batched events): `queued`, without a waiter or a step,
                // made of what this call holds (the id it was given, the action's JS id). Not
                // once a getter, `toJSON` or `host.now()` freed the connector during this call:
                // `wait` rejects it `DESTROYED` (no snapshot will hold the event).
                let alone = self.live().is_ok()
                    && shared.state.try_borrow().is_ok_and(|st| st.reporter.settles_alone(&st.engine, key));
                // (Only a configured action's event is accepted: `action` is there.)
                if let (true, Some(a)) = (alone, action) {
                    if given_as_text {
                        return queued_to_js(&given_id, &a.id_js);
                    }
                    // A number's text, or the id the engine generated.
                    let st = shared.state.try_borrow().ok();
                    if let Some(o) = st.and_then(|st| st.engine.queued_outcome(key)) {
                        return queued_to_js(&JsValue::from_str(&o.event_id), &a.id_js);
                    }
                }
                self.wait(false, Some(now), |r, w| r.wait_event(key, w))
            }
            Ok(_) => Promise::reject(&coded("the engine did not accept the event", "INTERNAL")),
            Err(e) => Promise::reject(&coded(&e.to_string(), e.code())),
        }
    }

    /// Does what is due now (retries, held calls, timeouts) and asks for the next wake-up
    /// again. Resolves at once with the outcomes that have finished and no other promise
    /// returned, without waiting for calls in flight.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome[]>")]
    pub fn wake(&self) -> Promise {
        if let Err(rejected) = self.input(Input::Timeout) {
            return rejected;
        }
        self.wait(true, None, |r, w| r.wait_wake(w))
    }

    /// Sends every queue now and resolves once each event pending now is final or waits on
    /// time (a retry, the rate window, the daily quota, a bulk job's next poll, or a batch
    /// ahead of it that waits for one), with the outcomes that finished.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome[]>")]
    pub fn flush(&self) -> Promise {
        if let Err(rejected) = self.input(Input::Flush) {
            return rejected;
        }
        self.wait(false, None, |r, w| r.wait_flush_now(w))
    }

    /// Hands the engine an input at the host's `now`; the rejected promise to return when the
    /// connector is destroyed or busy. The borrow ends here, before any host callback. (Only
    /// inputs without a usage error come through here: a timeout, a flush, a listing, a check.)
    fn input(&self, input: Input<'_>) -> Result<Accepted, Promise> {
        let shared = self.live().map_err(|e| Promise::reject(&e))?;
        let now = shared.host.now();
        let mut st = shared.state.try_borrow_mut().map_err(|_| busy())?;
        st.engine.handle_input(now, input).map_err(|e| Promise::reject(&coded(&e.to_string(), e.code())))
    }

    /// The requests this event would cause if sent alone (lookups shown as the lookup call),
    /// without the token. Throws for an unknown action or an event that cannot be delivered.
    #[wasm_bindgen(unchecked_return_type = "PreviewRequest[]")]
    pub fn preview(
        &self,
        #[wasm_bindgen(js_name = "actionId", unchecked_param_type = "string")] action_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "PipelineEvent")] event: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = self.live()?;
        let action_id = text_arg(&action_id, "actionId", "UNKNOWN_ACTION")?;
        let value = shared
            .read_event(&action_id, &event)
            .map_err(|why| coded(&crate::core::EventError::NotJson(why).to_string(), "INVALID_EVENT"))?;
        let st = shared.state.try_borrow().map_err(|_| coded("connector is busy", "BUSY"))?;
        match st.engine.preview(&action_id, &value) {
            Ok(reqs) => Ok(to_js(&reqs)),
            Err(Ok(usage)) => Err(coded(&usage.to_string(), usage.code())),
            Err(Err(ev)) => Err(coded(&ev.to_string(), ev.code())),
        }
    }

    /// Every static list, all pages, for a list picker. Rejects with `LISTING_FAILED` when
    /// Marketo refuses (e.g. missing permission), since there is no event to carry an outcome.
    #[wasm_bindgen(js_name = "staticLists", unchecked_return_type = "Promise<ListItem[]>")]
    pub fn static_lists(&self) -> Promise {
        self.listing(Listing::StaticLists)
    }

    /// Every campaign that can be requested through the API (active, with a "Campaign is
    /// Requested: Web Service API" trigger), all pages, for `sendTransactionalEmail`.
    #[wasm_bindgen(js_name = "triggerableCampaigns", unchecked_return_type = "Promise<ListItem[]>")]
    pub fn triggerable_campaigns(&self) -> Promise {
        self.listing(Listing::TriggerableCampaigns)
    }

    /// The configuration checked against the instance (SPEC §7): reads the lead schema when
    /// not known yet, then the configured static lists, campaigns, program tokens and
    /// partitions, and resolves with `{ok, problems}`. Marketo refusing a check is a problem in
    /// the result, never a rejection.
    #[wasm_bindgen(unchecked_return_type = "Promise<CheckResult>")]
    pub fn check(&self) -> Promise {
        match self.input(Input::Check) {
            Ok(Accepted::Check(key)) => self.wait(false, None, |r, w| r.wait_check(key, w)),
            Ok(_) => Promise::reject(&coded("the engine did not start the check", "INTERNAL")),
            Err(rejected) => rejected,
        }
    }

    fn listing(&self, kind: Listing) -> Promise {
        match self.input(Input::Listing(kind)) {
            Ok(Accepted::Listing(key)) => self.wait(false, None, |r, w| r.wait_listing(key, w)),
            Ok(_) => Promise::reject(&coded("the engine did not start the listing", "INTERNAL")),
            Err(rejected) => rejected,
        }
    }

    /// A promise registered with the reporter by `register`, then one drive step.
    /// `now`: the host's time when the caller has just read it (`process()` reads it once for
    /// both the event and the step).
    fn wait(&self, rearm: bool, now: Option<u64>, register: impl FnOnce(&mut WaitOn, Waiter)) -> Promise {
        let shared = match self.live() {
            Ok(shared) => shared,
            Err(e) => return Promise::reject(&e),
        };
        let waiter = Waiter::open();
        if let Ok(mut st) = shared.state.try_borrow_mut() {
            let State { engine, reporter, .. } = &mut *st;
            register(&mut WaitOn { engine, reporter }, waiter.clone());
        }
        let now = now.unwrap_or_else(|| shared.host.now());
        drive_at(&shared, rearm, now);
        waiter.promise()
    }
}

/// The reporter and engine, for registering a waiter.
struct WaitOn<'a> {
    engine: &'a Engine,
    reporter: &'a mut Reporter<Waiter>,
}

impl WaitOn<'_> {
    fn wait_event(&mut self, key: crate::core::EventKey, w: Waiter) {
        self.reporter.wait_event(key, w);
    }
    fn wait_wake(&mut self, w: Waiter) {
        self.reporter.wait_wake(w);
    }
    fn wait_flush_now(&mut self, w: Waiter) {
        self.reporter.wait_flush(self.engine, w);
    }
    fn wait_listing(&mut self, key: crate::core::ListingKey, w: Waiter) {
        self.reporter.wait_listing(key, w);
    }
    fn wait_check(&mut self, key: crate::core::CheckKey, w: Waiter) {
        self.reporter.wait_check(key, w);
    }
}
