//! Driving the engine with the host: one shared state (engine and reporter) borrowed only
//! between awaits, each drive step's effects performed after the borrow ends, requests sent
//! through `host.fetch` and their answers handed back as inputs.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::core::report::{Reporter, Settled};
use crate::core::{Engine, HttpRequest, Input};

use super::convert::{coded, outcomes_to_js, to_js};
use super::event::EventReader;
use super::host::{fetch, Host};

/// A host call waiting to settle: its promise, made only if the call returns before it settles.
///
/// Most `process()` calls settle inside the call that registered them (a batched event answers
/// `queued` at once): such a call returns `Promise.resolve(outcomes)` rather than building a
/// promise from a closure first, which cost about a twentieth of `process()`.
#[derive(Clone)]
pub(super) struct Waiter(Rc<RefCell<Settlement>>);

enum Settlement {
    /// Registered; its call has not returned yet.
    Open,
    /// Settled before its call returned: resolved (`Ok`) or rejected with this value.
    Early(Result<JsValue, JsValue>),
    /// Its call returned this promise's settlers.
    Promised { resolve: Function, reject: Function },
    /// Done.
    Done,
}

impl Waiter {
    /// A waiter for a call still running.
    pub(super) fn open() -> Waiter {
        Waiter(Rc::new(RefCell::new(Settlement::Open)))
    }

    /// Settles: resolves with `value` when `ok`, rejects with it otherwise.
    pub(super) fn settle(&self, ok: bool, value: JsValue) {
        let Ok(mut state) = self.0.try_borrow_mut() else { return };
        match std::mem::replace(&mut *state, Settlement::Done) {
            Settlement::Open => *state = Settlement::Early(if ok { Ok(value) } else { Err(value) }),
            Settlement::Promised { resolve, reject } => {
                drop(state);
                let _ = if ok { resolve } else { reject }.call1(&JsValue::NULL, &value);
            }
            early @ Settlement::Early(_) => *state = early,
            Settlement::Done => {}
        }
    }

    /// The promise its call returns: already settled if the waiter was, otherwise one the
    /// waiter settles later.
    pub(super) fn promise(&self) -> Promise {
        let Ok(mut state) = self.0.try_borrow_mut() else { return Promise::new(&mut |_, _| {}) };
        match std::mem::replace(&mut *state, Settlement::Done) {
            Settlement::Early(Ok(value)) => Promise::resolve(&value),
            Settlement::Early(Err(value)) => Promise::reject(&value),
            _ => {
                let mut slot: Option<(Function, Function)> = None;
                let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
                if let Some((resolve, reject)) = slot {
                    *state = Settlement::Promised { resolve, reject };
                }
                promise
            }
        }
    }
}

pub(super) struct State {
    pub(super) engine: Engine,
    /// Which promise returns which outcome (natively tested in `core::report`).
    pub(super) reporter: Reporter<Waiter>,
}

pub(super) struct Shared {
    pub(super) state: RefCell<State>,
    pub(super) host: Host,
    /// Inside `host.setTimer`: a host may call `wake()` from it synchronously, whose own
    /// request for a timer is then kept here and made once setTimer returned (no recursion).
    pub(super) arming: std::cell::Cell<bool>,
    pub(super) asked_while_arming: std::cell::Cell<Option<u64>>,
    /// Calls handed to `host.fetch` and not yet answered.
    pub(super) sending: std::cell::Cell<usize>,
    /// `free()` ran: the answers of calls in flight are still taken (their events' promises
    /// settle), but nothing new is sent and no timer asked for; once the last of them has
    /// answered, the promises still pending reject with `DESTROYED` ([`release_waiters`]).
    pub(super) freed: std::cell::Cell<bool>,
    /// Each action's id and attribute paths, for reading its events from the JS object (a
    /// list: a connector has a few actions, and a map's sorting code would grow the `.wasm`).
    pub(super) actions: Vec<ActionReader>,
}

/// One configured action, as the binding reads its events and writes its outcomes.
pub(super) struct ActionReader {
    /// The action's id.
    pub(super) id: String,
    /// The same id as a JS string, made once: `process()` finds its action by comparing the
    /// string it was given with these (one `===` each) instead of copying it into wasm, and
    /// outcomes carry it without copying it out.
    pub(super) id_js: JsValue,
    /// Its attribute paths.
    pub(super) reader: EventReader,
}

impl Shared {
    /// The configured action whose id is the JS string `action_id`, if any.
    pub(super) fn action(&self, action_id: &JsValue) -> Option<&ActionReader> {
        self.actions.iter().find(|a| a.id_js == *action_id)
    }

    /// `event` as the action `action_id` reads it ([`EventReader::read`]); `null` for an
    /// unknown action, which reads nothing (the engine refuses it).
    pub(super) fn read_event(&self, action_id: &str, event: &JsValue) -> Result<serde_json::Value, String> {
        match self.actions.iter().find(|a| a.id == action_id) {
            Some(a) => a.reader.read(event),
            None => Ok(serde_json::Value::Null),
        }
    }

    /// The action id `id` as a JS string: the one made at construction for a configured action.
    pub(super) fn action_js(&self, id: &str) -> JsValue {
        self.actions.iter().find(|a| a.id == id).map_or_else(|| JsValue::from_str(id), |a| a.id_js.clone())
    }
}

/// After `free()`, once no call is in flight: every promise still pending rejects with
/// `DESTROYED` (its event will not be delivered by this connector: restore a snapshot taken
/// before `free()` to deliver it).
pub(super) fn release_waiters(shared: &Rc<Shared>) {
    if !shared.freed.get() || shared.sending.get() > 0 {
        return;
    }
    let waiters = match shared.state.try_borrow_mut() {
        Ok(mut st) => st.reporter.drain(),
        Err(_) => return,
    };
    if waiters.is_empty() {
        return;
    }
    let error = destroyed_before_delivery();
    for w in waiters {
        w.settle(false, error.clone());
    }
}

/// The error of a call whose event this freed connector will not deliver.
fn destroyed_before_delivery() -> JsValue {
    coded(
        "this connector was freed before this delivery finished: nothing more is sent; restore a snapshot taken before free() to deliver it",
        "DESTROYED",
    )
}

/// Calls `host.setTimer(at)`. A timer counts as set only once setTimer returned; one that threw
/// is asked again at the next step. A `wake()` made from inside setTimer asks for its timer
/// after this call returns, at most a few times over, instead of recursing.
pub(super) fn arm(shared: &Rc<Shared>, at: u64) {
    if shared.arming.get() {
        shared.asked_while_arming.set(Some(at));
        return;
    }
    shared.arming.set(true);
    let mut at = at;
    for _ in 0..4 {
        let armed = shared.host.set_timer.call1(&shared.host.this, &JsValue::from_f64(at as f64)).is_ok();
        if let Ok(mut st) = shared.state.try_borrow_mut() {
            st.reporter.timer_set(armed.then_some(at));
        }
        match shared.asked_while_arming.take() {
            Some(next) if next != at => at = next,
            _ => break,
        }
    }
    shared.arming.set(false);
}

/// Runs one drive step and performs its effects outside the borrow: the requests are sent, the
/// wake-up asked for, the settled promises resolved or rejected (what settles with what is the
/// core's [`Reporter`]; this only converts).
pub(super) fn drive(shared: &Rc<Shared>, rearm: bool) {
    drive_at(shared, rearm, shared.host.now());
}

/// [`drive`] at `now`, the host's time its caller has just read (`process()` reads it once for
/// both the event and the step).
pub(super) fn drive_at(shared: &Rc<Shared>, rearm: bool, now: u64) {
    let step = match shared.state.try_borrow_mut() {
        Ok(mut st) => {
            let State { engine, reporter } = &mut *st;
            reporter.step(engine, now, rearm)
        }
        Err(_) => return, // cannot happen (no borrow is held across a callback); never trap
    };
    // `freed` is read again after each call into the host: its `log` or `setTimer` may free the
    // connector, and from then on nothing more is sent and no timer asked for.
    for req in step.requests {
        if shared.freed.get() {
            break;
        }
        shared.host.log(&serde_json::json!({"type": "request", "id": req.id.0, "method": req.method.as_str(), "url": req.url}));
        shared.sending.set(shared.sending.get() + 1);
        spawn_local(send(Rc::clone(shared), req));
    }
    if let Some(at) = step.set_timer.filter(|_| !shared.freed.get()) {
        arm(shared, at);
    }
    for (w, settled) in step.settled {
        let (ok, value) = match settled {
            // A `process()` whose event is not final once the connector is freed (also from
            // inside this step, by the host's `log` or `setTimer`) rejects `DESTROYED`, as the
            // waiters [`release_waiters`] settles do: `queued` would name an event no one will
            // deliver.
            Settled::Outcomes(outcomes)
                if shared.freed.get() && outcomes.first().is_some_and(|o| !o.status.is_final()) =>
            {
                (false, destroyed_before_delivery())
            }
            Settled::Outcomes(outcomes) => (true, outcomes_to_js(&outcomes, |id| shared.action_js(id))),
            Settled::Listing(Ok(items)) => (true, to_js(&items)),
            Settled::Listing(Err(e)) => (
                false,
                coded(&format!("Marketo did not list them: {} {}", e.code(), e.message()), "LISTING_FAILED"),
            ),
            Settled::Check(result) => (true, to_js(&result)),
        };
        w.settle(ok, value);
    }
    release_waiters(shared);
}

async fn send(shared: Rc<Shared>, req: HttpRequest) {
    let id = req.id;
    let result = fetch(&shared.host, req).await;
    shared.sending.set(shared.sending.get().saturating_sub(1));
    let now = shared.host.now();
    match &result {
        Ok((status, _)) => {
            shared.host.log(&serde_json::json!({"type": "response", "id": id.0, "status": status}))
        }
        Err(m) => {
            // A host fetch error may quote the request's headers: never log the token.
            let m =
                shared.state.try_borrow().map_or_else(|_| "(withheld)".to_string(), |st| st.engine.redact(m));
            shared.host.log(&serde_json::json!({"type": "transportError", "id": id.0, "message": m}))
        }
    }
    if let Ok(mut st) = shared.state.try_borrow_mut() {
        // An unknown id means the engine gave up on this request already: ignore the answer.
        let input = match &result {
            Ok((status, body)) => Input::Response { id, status: *status, body },
            Err(message) => Input::TransportError { id, message },
        };
        let _ = st.engine.handle_input(now, input);
    }
    drive(&shared, false);
}
