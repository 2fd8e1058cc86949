//! The one driver: an [`Engine`] in virtual time, in the manner of quinn-proto's `Pair` and
//! str0m's `progress`. It feeds the engine inputs, drains what the engine emits, lets the fake
//! Marketo (or a fault schedule) answer, wakes the engine at its timeout, snapshots and
//! restores it, and checks invariants after every step.
//!
//! Every call into the engine's input and output API is in four functions: [`Driver::start`]
//! (construction and restore), [`Driver::feed`] (inputs), [`Driver::drain`] (outputs) and
//! [`Driver::timeout`] (when to wake). A change of that API is an edit there; everything else,
//! tests included, speaks in behaviour terms (`event`, `answer_next`, `advance_to`, `restore`…).
//!
//! Outcomes reach the test in one of two ways ([`Delivery`]): `Direct`, every outcome as the
//! engine emits it (the core's own contract), or `Calls`, only in what a settled host call
//! returns (`core::report`), as through the JavaScript API: each `process` waits for its
//! event, each `wake` and `flush` returns what finished, a restore drops the pending calls.
//!
//! Nothing here reads a clock or a random source: time starts where the test says and only
//! moves when the test (or [`Driver::run_until_idle`]) moves it.
//!
//! Checked after every step: never two identity calls in flight (that the engine has not given
//! up on); the client secret in no REST
//! request, outcome or snapshot, no token in a URL or snapshot; at most one final outcome per
//! event, none for an event never accepted, `queued` only for a `process` call's own event.
//! Opt-in ([`Driver::checks_on`]): REST calls in flight (counting calls a dead instance left in
//! flight until Marketo's own timeout) ≤ a concurrency limit; a non-idempotent call that may
//! have reached Marketo is never sent again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use marketo_connector::core::check::CheckResult;
use marketo_connector::core::engine::CALL_TIMEOUT_MS;
pub use marketo_connector::core::ids::RequestId;
use marketo_connector::core::limits::WINDOW_MS;
use marketo_connector::core::report::{Reporter, Settled};
use marketo_connector::core::snapshot::Snapshot;
use marketo_connector::core::time::quota_day;
use marketo_connector::core::{
    self, Accepted, Body, CheckKey, Engine, EventKey, HttpRequest, Listing, ListingKey, Method, Millis,
    Named, Outcome, Output, Reason, Settings, Status, UsageError,
};
use serde_json::{json, Value};

use crate::fake::{FakeMarketo, Reply};
use crate::fixtures::{CLIENT_SECRET, REST, SEED, T0};
use crate::http::{is_describe, is_identity};

/// Bounds every driving loop, so a bug in the engine cannot hang a test.
pub const MAX_STEPS: usize = 5_000;

/// One input to the engine (mirrors the engine's inputs, one variant each).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// An event for an action, with the caller's id or none (the engine generates one).
    Event { action: &'a str, event: &'a Value, id: Option<&'a str> },
    /// An event the host could not read as JSON, and why.
    Unreadable { action: &'a str, why: &'a str, id: Option<&'a str> },
    /// An HTTP answer to request `id`.
    Response { id: RequestId, status: u16, body: &'a str },
    /// The host's `fetch` failed for request `id`.
    TransportError { id: RequestId, message: &'a str },
    /// A wake-up (the host's timer fired).
    Timeout,
    /// Send every queue now.
    Flush,
    /// A picker listing.
    Listing(Listing),
    /// `check()`.
    Check,
}

/// What the engine handed back for an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Done,
    Event(EventKey),
    Listing(ListingKey),
    Check(CheckKey),
}

/// A picker listing's entries, or why Marketo refused it.
pub type ListingResult = Result<Vec<Named>, Reason>;

/// How outcomes reach the test (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Direct,
    Calls,
}

/// What happens to one request (a fault schedule is a list of these, in request order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The fake Marketo's own answer.
    Normal,
    /// HTTP 200, `success:false` with this code.
    Marketo(&'static str),
    /// This HTTP status, empty body.
    Http(u16),
    /// An HTML error page with this status.
    Html(u16),
    /// HTTP 200 with this body.
    Garbage(&'static str),
    /// `fetch` failed.
    Transport,
    /// Never answered: the call timeout must fire.
    NoAnswer,
}

/// A pending host call (a promise, in the binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The test's name for it.
    pub name: String,
    /// The event a `process` call waits for.
    pub event: Option<EventKey>,
}

/// Opt-in invariants (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// REST calls in flight, dead instances' included, at most.
    pub concurrency: Option<usize>,
    /// A non-idempotent call that may have reached Marketo is never sent again.
    pub no_resend: bool,
    /// Events may hold any text, the client secret or `access_token` included (fuzzing): the
    /// checks of request, outcome and snapshot contents are off.
    pub events_may_hold_secrets: bool,
}

/// When a request in flight was sent, and what its answer will be.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub at: Millis,
    pub fault: Fault,
}

/// How a non-idempotent call may have reached Marketo.
#[derive(Debug, Clone)]
struct Taint {
    why: String,
}

/// An engine, a virtual clock, the fake Marketo and everything that came out.
pub struct Driver {
    /// The engine under test: read it (stats, snapshot, preview…); inputs go through
    /// [`Driver::feed`].
    pub engine: Engine,
    /// Settings as JSON.
    pub settings: Value,
    /// The same, parsed (for restores).
    pub parsed: Settings,
    /// The client secret of `settings`, which must not leak.
    pub secret: String,
    pub now: Millis,
    /// The clock reading the engine was last given (by [`Driver::feed`] or a restore).
    pub read_at: Millis,
    pub fake: FakeMarketo,
    /// Every request the engine emitted, in order (across restores).
    pub sent: Vec<HttpRequest>,
    /// When each of `sent` was emitted.
    pub sent_at: Vec<Millis>,
    /// REST call start times, one list per engine (a restore starts a new one).
    pub starts: Vec<Vec<Millis>>,
    /// Every final outcome, in order.
    pub outcomes: Vec<Outcome>,
    /// The event key of each of `outcomes` (`Direct` only; keys are per engine).
    pub outcome_keys: Vec<EventKey>,
    /// Every event accepted by this engine, by key.
    pub accepted: Vec<EventKey>,
    /// Every event accepted, by id (`Calls`: across restores).
    pub accepted_ids: BTreeSet<String>,
    /// Requests emitted and not yet answered, oldest first.
    pub inbox: VecDeque<HttpRequest>,
    /// When each request of `inbox` was sent and its fault, by request id.
    pub in_flight: BTreeMap<RequestId, InFlight>,
    /// Ids of requests given up on after the call timeout ([`Driver::expire_calls`]).
    pub late: Vec<RequestId>,
    /// Most REST (non-identity) requests seen in flight at once.
    pub max_rest_in_flight: usize,
    /// Let the fake answer the lead schema's describe calls as soon as they are sent (true by
    /// default, so tests of other calls step through those calls alone); tests of the schema
    /// read set it false and answer them like any request.
    pub auto_describe: bool,
    pub delivery: Delivery,
    /// Which host call returns which outcome (`Calls`).
    pub reporter: Reporter<Call>,
    /// Host call name → the outcomes its settled call returned (`Calls`).
    pub returned: Vec<(String, Vec<Outcome>)>,
    /// `process` calls the binding would answer without a waiter
    /// ([`Reporter::settles_alone`]; each checked against the step's answer) (`Calls`).
    pub alone: usize,
    /// Listing and check results: as emitted (`Direct`), or as their calls settled (`Calls`).
    pub listings: Vec<(Option<ListingKey>, String, ListingResult)>,
    pub checks: Vec<(Option<CheckKey>, String, CheckResult)>,
    /// Faults for the next requests, in order; `Normal` once it runs out.
    pub faults: VecDeque<Fault>,
    /// Whether `faults` applies (`false`: every request gets `Normal`).
    pub faulty: bool,
    pub checks_on: Checks,
    /// Restores so far.
    pub restores: u64,
    /// Marketo-side deadlines of calls dead instances left in flight.
    zombies: Vec<Millis>,
    tainted: BTreeMap<String, Taint>,
    /// An event accepted with a generated id and finished at once: its id comes with its outcome.
    fresh_key: Option<EventKey>,
    next_event: u32,
    seed: u64,
}

impl Driver {
    /// An engine for these settings, seeded with [`SEED`], at [`T0`].
    pub fn new(settings: Value) -> Driver {
        Driver::with_seed(settings, SEED, T0)
    }

    /// An engine for these settings with a given seed and start time.
    pub fn with_seed(settings: Value, seed: u64, now: Millis) -> Driver {
        let parsed = Settings::from_value(&settings).expect("test settings are valid");
        Driver::from_settings(parsed, settings, seed, now)
    }

    /// An engine for settings already parsed (`json` is their JSON form).
    pub fn from_settings(parsed: Settings, json: Value, seed: u64, now: Millis) -> Driver {
        let engine = Driver::start(&parsed, seed, now, None);
        let secret = json["clientSecret"].as_str().unwrap_or(CLIENT_SECRET).to_string();
        Driver {
            engine,
            settings: json,
            parsed,
            secret,
            now,
            read_at: now,
            fake: FakeMarketo::default(),
            sent: Vec::new(),
            sent_at: Vec::new(),
            starts: vec![Vec::new()],
            outcomes: Vec::new(),
            outcome_keys: Vec::new(),
            accepted: Vec::new(),
            accepted_ids: BTreeSet::new(),
            inbox: VecDeque::new(),
            in_flight: BTreeMap::new(),
            late: Vec::new(),
            max_rest_in_flight: 0,
            alone: 0,
            auto_describe: true,
            delivery: Delivery::Direct,
            reporter: Reporter::default(),
            returned: Vec::new(),
            listings: Vec::new(),
            checks: Vec::new(),
            faults: VecDeque::new(),
            faulty: true,
            checks_on: Checks::default(),
            restores: 0,
            zombies: Vec::new(),
            tainted: BTreeMap::new(),
            fresh_key: None,
            next_event: 0,
            seed,
        }
    }

    /// A driver whose outcomes reach the test through settled host calls.
    pub fn with_calls(settings: Value) -> Driver {
        Driver { delivery: Delivery::Calls, ..Driver::new(settings) }
    }

    // ---- the engine's API: every call into it is in these four functions ----------------------

    /// A new engine, or one restored from `snapshot`.
    pub fn start(settings: &Settings, seed: u64, now: Millis, snapshot: Option<&Snapshot>) -> Engine {
        let settings = settings.clone();
        match snapshot {
            None => Engine::new(settings, seed, now),
            Some(s) => Engine::restore(settings, seed, now, s.clone()),
        }
    }

    /// Hands one input to the engine at `now` (nothing is drained: see [`Driver::input`]).
    pub fn feed(&mut self, input: Input) -> Result<Handled, UsageError> {
        // The event as the package's binding hands it over: its JSON text (JSON.stringify's
        // output) read through the action's paths, so only what the action reads goes in.
        let read = match &input {
            Input::Event { action, event, .. } => self.engine.settings().action(action).map(|a| {
                let text = serde_json::to_string(event).expect("a Value writes as JSON");
                a.reads.read(&text).expect("an event the binding could read")
            }),
            _ => None,
        };
        let input = match input {
            Input::Event { action, event, id } => {
                core::Input::Event { action_id: action, event: read.as_ref().unwrap_or(event), event_id: id }
            }
            Input::Unreadable { action, why, id } => {
                core::Input::UnreadableEvent { action_id: action, why, event_id: id }
            }
            Input::Response { id, status, body } => core::Input::Response { id, status, body },
            Input::TransportError { id, message } => core::Input::TransportError { id, message },
            Input::Timeout => core::Input::Timeout,
            Input::Flush => core::Input::Flush,
            Input::Listing(kind) => core::Input::Listing(kind),
            Input::Check => core::Input::Check,
        };
        self.read_at = self.now;
        Ok(match self.engine.handle_input(self.now, input)? {
            Accepted::Event(key) => Handled::Event(key),
            Accepted::Listing(key) => Handled::Listing(key),
            Accepted::Check(key) => Handled::Check(key),
            Accepted::Nothing => Handled::Done,
        })
    }

    /// When the engine wants to be woken.
    pub fn timeout(&self) -> Option<Millis> {
        self.engine.poll_timeout()
    }

    /// Collects every request, outcome, listing and check result the engine has ready,
    /// checking the invariants; answers describe calls at once under `auto_describe`.
    pub fn drain(&mut self) {
        match self.delivery {
            Delivery::Direct => loop {
                match self.engine.poll_output() {
                    Output::Request(req) => self.on_request(req),
                    Output::Outcome(key, o) => {
                        assert!(o.status != Status::Queued, "poll_output gave a non-final outcome: {o:?}");
                        assert!(!self.outcome_keys.contains(&key), "second final outcome for {key:?}: {o:?}");
                        self.outcome_keys.push(key);
                        self.record(o, false);
                    }
                    Output::Listing(key, result) => self.listings.push((Some(key), String::new(), result)),
                    Output::Check(key, result) => self.checks.push((Some(key), String::new(), result)),
                    Output::Timeout(_) => break,
                }
            },
            Delivery::Calls => loop {
                // What the host's promises settle with is the core's reporter's decision.
                let step = self.reporter.step(&mut self.engine, self.now, false);
                // The host accepts every wake-up asked for (setTimer returns), as Node's does.
                if step.set_timer.is_some() {
                    self.reporter.timer_set(step.set_timer);
                }
                let sent = !step.requests.is_empty();
                for req in step.requests {
                    self.on_request(req);
                }
                for (call, settled) in step.settled {
                    self.settled(call, settled);
                }
                if !sent {
                    break;
                }
            },
        }
        self.after_step();
    }

    // ---- inputs in behaviour terms ----------------------------------------------------------

    /// Feeds an input, then drains.
    pub fn input(&mut self, input: Input) -> Result<Handled, UsageError> {
        let r = self.feed(input);
        self.drain();
        r
    }

    /// Hands an event to the engine with a generated id (`ev-1`, `ev-2`...); returns the id.
    pub fn event(&mut self, action: &str, event: &Value) -> String {
        self.next_event += 1;
        let id = format!("ev-{}", self.next_event);
        self.event_with_id(action, event, &id);
        id
    }

    /// Hands an event to the engine with the given id.
    pub fn event_with_id(&mut self, action: &str, event: &Value, id: &str) -> EventKey {
        self.accept(Input::Event { action, event, id: Some(id) }, None).expect("known action")
    }

    /// Hands an event to the engine without an id (the engine generates one).
    pub fn event_generated(&mut self, action: &str, event: &Value) -> EventKey {
        self.accept(Input::Event { action, event, id: None }, None).expect("known action")
    }

    /// Hands an event the host could not read to the engine.
    pub fn unreadable_event(
        &mut self,
        action: &str,
        why: &str,
        id: Option<&str>,
    ) -> Result<EventKey, UsageError> {
        self.accept(Input::Unreadable { action, why, id }, None)
    }

    /// Feeds an event input; under `Calls`, a `process` call named `name` (else its id) waits.
    fn accept(&mut self, input: Input, name: Option<&str>) -> Result<EventKey, UsageError> {
        let id = match input {
            Input::Event { id, .. } | Input::Unreadable { id, .. } => id.map(str::to_string),
            _ => None,
        };
        let key = match self.feed(input)? {
            Handled::Event(key) => key,
            other => panic!("an event input gave {other:?}"),
        };
        self.accepted.push(key);
        if self.delivery == Delivery::Direct {
            self.drain();
            return Ok(key);
        }
        let name = name.map(str::to_string).or(id.clone()).unwrap_or_else(|| format!("process {key:?}"));
        // The binding answers such a call without a waiter or a step: checked below against
        // what the step settles it with.
        let alone = self.reporter.settles_alone(&self.engine, key).then(|| self.engine.queued_outcome(key));
        self.reporter.wait_event(key, Call { name, event: Some(key) });
        match id.or_else(|| self.engine.queued_outcome(key).map(|o| o.event_id)) {
            Some(id) => assert!(self.accepted_ids.insert(id.clone()), "event id {id} accepted twice"),
            None => self.fresh_key = Some(key),
        }
        if let Some(own) = alone {
            let own = own.expect("settled alone, but the event is not pending");
            self.alone += 1;
            let step = self.reporter.step(&mut self.engine, self.now, false);
            assert!(step.requests.is_empty(), "settled alone, but the step sends {:?}", step.requests);
            assert_eq!(step.set_timer, None, "settled alone, but the step asks for a wake-up");
            let mut settled = step.settled.into_iter();
            match (settled.next(), settled.next()) {
                (Some((call, Settled::Outcomes(outcomes))), None) if call.event == Some(key) => {
                    assert_eq!(outcomes, vec![own], "settled alone with another outcome than the step's");
                    self.settled(call, Settled::Outcomes(outcomes));
                }
                (first, second) => panic!("settled alone, but the step settles {first:?} and {second:?}"),
            }
        }
        self.drain();
        assert!(self.fresh_key.is_none(), "an event was accepted, but is neither pending nor finished");
        Ok(key)
    }

    /// `process(event)` under the name `name` (also its event id), as the JavaScript API.
    pub fn process(&mut self, name: &str, action: &str, event: Value) -> EventKey {
        self.event_with_id(action, &event, name)
    }

    /// `process(event)` as a call named `name`, for an event with id `id` (generated when
    /// `None`); the engine's refusal (an unknown action) is returned.
    pub fn process_as(
        &mut self,
        name: &str,
        action: &str,
        event: &Value,
        id: Option<&str>,
    ) -> Result<EventKey, UsageError> {
        self.accept(Input::Event { action, event, id }, Some(name))
    }

    /// Wakes the engine at `now` (the host's timer fired); under `Calls`, a `wake()` call.
    pub fn wake(&mut self) {
        self.wake_named("wake");
    }

    /// [`Driver::wake`] as a named `wake()` call.
    pub fn wake_named(&mut self, name: &str) {
        self.feed(Input::Timeout).expect("a wake-up is always taken");
        if self.delivery == Delivery::Calls {
            self.reporter.wait_wake(Call { name: name.into(), event: None });
        }
        self.drain();
    }

    /// Wakes the engine without a host call (a clock reading only).
    pub fn wake_silently(&mut self) {
        self.input(Input::Timeout).expect("a wake-up is always taken");
    }

    /// Wakes the engine with a clock reading of `t` that virtual time does not follow (a wild
    /// or wrong host clock).
    pub fn clock_reading(&mut self, t: Millis) {
        let now = std::mem::replace(&mut self.now, t);
        let r = self.feed(Input::Timeout);
        self.now = now;
        r.expect("a wake-up is always taken");
        self.drain();
    }

    /// Tells the engine to send every queue now (`flush()`), then collects what it emits.
    pub fn flush(&mut self) {
        self.flush_named("flush");
    }

    /// [`Driver::flush`] as a named `flush()` call.
    pub fn flush_named(&mut self, name: &str) {
        self.feed(Input::Flush).expect("a flush is always taken");
        if self.delivery == Delivery::Calls {
            self.reporter.wait_flush(&self.engine, Call { name: name.into(), event: None });
        }
        self.drain();
    }

    /// Starts a picker listing.
    pub fn start_listing(&mut self, kind: Listing, name: &str) -> ListingKey {
        let Ok(Handled::Listing(key)) = self.feed(Input::Listing(kind)) else { panic!("a listing starts") };
        if self.delivery == Delivery::Calls {
            self.reporter.wait_listing(key, Call { name: name.into(), event: None });
        }
        self.drain();
        key
    }

    /// Starts `check()`.
    pub fn start_check(&mut self, name: &str) -> CheckKey {
        let Ok(Handled::Check(key)) = self.feed(Input::Check) else { panic!("a check starts") };
        if self.delivery == Delivery::Calls {
            self.reporter.wait_check(key, Call { name: name.into(), event: None });
        }
        self.drain();
        key
    }

    /// The oldest listing result not taken yet.
    pub fn take_listing(&mut self) -> Option<(Option<ListingKey>, ListingResult)> {
        (!self.listings.is_empty()).then(|| self.listings.remove(0)).map(|(k, _, r)| (k, r))
    }

    /// The oldest check result not taken yet.
    pub fn take_check(&mut self) -> Option<(Option<CheckKey>, CheckResult)> {
        (!self.checks.is_empty()).then(|| self.checks.remove(0)).map(|(k, _, r)| (k, r))
    }

    // ---- answers ----------------------------------------------------------------------------

    /// Answers request `id` with an HTTP status and body (a scripted Marketo).
    pub fn respond(&mut self, id: RequestId, status: u16, body: &str) {
        self.reply(id, Reply::Http(status, body.to_string()));
    }

    /// Reports a transport failure for request `id`.
    pub fn transport_error(&mut self, id: RequestId, message: &str) {
        self.reply(id, Reply::Transport(message.to_string()));
    }

    /// Delivers a reply for request `id`, which must be waiting for one.
    pub fn reply(&mut self, id: RequestId, reply: Reply) {
        let r = self.try_reply(id, reply);
        r.expect("the engine was waiting for this answer");
    }

    /// Delivers a reply for request `id`; the engine's refusal, if any, is returned.
    pub fn try_reply(&mut self, id: RequestId, reply: Reply) -> Result<(), UsageError> {
        let before = self.inbox.len();
        let req = self.inbox.iter().find(|r| r.id == id).cloned();
        self.inbox.retain(|r| r.id != id);
        assert_eq!(before, self.inbox.len() + 1, "request {id} is not waiting for an answer");
        let sent = self.in_flight.remove(&id).map_or(self.now, |f| f.at);
        if let Some(req) = req {
            self.taint_by_reply(&req, &reply);
        }
        let r = match &reply {
            Reply::Http(status, body) => self.feed(Input::Response { id, status: *status, body }),
            Reply::Transport(message) => self.feed(Input::TransportError { id, message }),
        };
        // An answer may be refused only for a request the engine gave up on after its timeout.
        if let Err(e) = &r {
            assert!(
                self.now >= sent.saturating_add(CALL_TIMEOUT_MS),
                "an answer {} ms after its request was refused: {e}",
                self.now - sent
            );
        }
        self.drain();
        r.map(|_| ())
    }

    /// Answers a request no one waits for any more (given up on, or from a dead instance).
    pub fn late_answer(&mut self, id: RequestId, reply: Reply) -> Result<(), UsageError> {
        let r = match &reply {
            Reply::Http(status, body) => self.feed(Input::Response { id, status: *status, body }),
            Reply::Transport(message) => self.feed(Input::TransportError { id, message }),
        };
        self.drain();
        r.map(|_| ())
    }

    /// The answer request `req` gets: its fault, else the fake's.
    pub fn answer_for(&mut self, req: &HttpRequest) -> Reply {
        let fault = self.in_flight.get(&req.id).map_or(Fault::Normal, |f| f.fault.clone());
        match fault {
            Fault::Normal | Fault::NoAnswer => self.fake.handle(req, self.now),
            Fault::Marketo(code) => Reply::error(code, "scripted Marketo error"),
            Fault::Http(status) => Reply::Http(status, String::new()),
            Fault::Html(status) => Reply::Http(
                status,
                format!("<html><head><title>{status}</title></head><body>oops</body></html>"),
            ),
            Fault::Garbage(body) => Reply::Http(200, body.to_string()),
            Fault::Transport => Reply::Transport("connection reset by peer".into()),
        }
    }

    /// The id of the request in flight at `index` (modulo their number), if any.
    pub fn nth_in_flight(&self, index: usize) -> Option<RequestId> {
        (!self.inbox.is_empty()).then(|| self.inbox[index % self.inbox.len()].id)
    }

    /// Answers request `id` as its fault (or the fake) says.
    pub fn answer(&mut self, id: RequestId) {
        self.try_answer(id).expect("the engine was waiting for this answer");
    }

    /// [`Driver::answer`], the engine's refusal returned (allowed only for a request past its
    /// call timeout: [`Driver::try_reply`]).
    pub fn try_answer(&mut self, id: RequestId) -> Result<(), UsageError> {
        let req = self.inbox.iter().find(|r| r.id == id).cloned().expect("such a request is in flight");
        let reply = self.answer_for(&req);
        self.try_reply(id, reply)
    }

    /// Answers the first request in flight `pick` selects.
    pub fn answer_where(&mut self, pick: impl Fn(&HttpRequest) -> bool) {
        let id = self.inbox.iter().find(|r| pick(r)).map(|r| r.id).expect("such a request is in flight");
        self.answer(id);
    }

    /// Requests in flight that will get an answer (their fault is not `NoAnswer`), oldest first.
    pub fn answerable(&self) -> Vec<RequestId> {
        self.inbox
            .iter()
            .filter(|r| self.in_flight.get(&r.id).is_none_or(|f| f.fault != Fault::NoAnswer))
            .map(|r| r.id)
            .collect()
    }

    /// Lets the fake answer the oldest unanswered request; returns it.
    pub fn answer_next(&mut self) -> Option<HttpRequest> {
        let id = *self.answerable().first()?;
        let req = self.inbox.iter().find(|r| r.id == id).cloned();
        self.answer(id);
        req
    }

    /// Lets the fake answer everything in flight (and what that causes) without moving time.
    pub fn answer_all(&mut self) {
        for _ in 0..MAX_STEPS {
            if self.answer_next().is_none() {
                return;
            }
        }
        panic!("requests kept coming after {MAX_STEPS} answers without time moving");
    }

    // ---- time -------------------------------------------------------------------------------

    /// Moves virtual time to `t` (never backwards) and wakes the engine.
    pub fn advance_to(&mut self, t: Millis) {
        self.now = self.now.max(t);
        self.wake();
    }

    /// Drops the requests the engine gives up on at `now` (its call timeout) from the inbox,
    /// into `late`: a host's `fetch` still running, whose answer is refused.
    pub fn expire_calls(&mut self) {
        let now = self.now;
        let expired: Vec<HttpRequest> = self
            .inbox
            .iter()
            .filter(|r| self.in_flight.get(&r.id).is_some_and(|f| f.at + CALL_TIMEOUT_MS <= now))
            .cloned()
            .collect();
        for req in expired {
            self.inbox.retain(|r| r.id != req.id);
            self.in_flight.remove(&req.id);
            self.taint(&req, "no answer within the call timeout");
            self.late.push(req.id);
        }
    }

    /// When to wake next: the engine's timeout, or now when outcomes finished that no call will
    /// return (`Calls`).
    pub fn wake_at(&self) -> Option<Millis> {
        let wants = self.delivery == Delivery::Calls && self.reporter.wants_wake();
        self.timeout().or(wants.then_some(self.now))
    }

    /// Answers every request (oldest first, one at a time) and, when nothing is in flight,
    /// jumps virtual time to the engine's timeout, until the engine has nothing left to do.
    pub fn run_until_idle(&mut self) {
        self.run_until_idle_with(MAX_STEPS, |_| {});
    }

    /// [`Driver::run_until_idle`] within `steps`, calling `each` before every step.
    pub fn run_until_idle_with(&mut self, steps: usize, mut each: impl FnMut(&mut Driver)) {
        for _ in 0..steps {
            self.drain();
            each(self);
            if self.answer_next().is_some() {
                continue;
            }
            match self.wake_at() {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.expire_calls();
                    self.wake();
                }
                None => return,
            }
        }
        let last: Vec<String> =
            self.sent.iter().rev().take(5).map(|r| format!("{} {}", r.method.as_str(), r.url)).collect();
        panic!(
            "the engine did not become idle within {steps} steps: {} requests sent, the last ones {last:#?}",
            self.sent.len()
        );
    }

    // ---- snapshot and restore ---------------------------------------------------------------

    /// The snapshot a host stores now (with the outcomes finished but not returned, `Calls`),
    /// as text, checked for secrets and tokens.
    pub fn snapshot_text(&self) -> String {
        let snap = match self.delivery {
            Delivery::Direct => self.engine.snapshot(),
            Delivery::Calls => self.reporter.snapshot(&self.engine),
        };
        let text = snap.to_json().expect("snapshots serialize");
        if !self.checks_on.events_may_hold_secrets {
            assert!(!text.contains(&self.secret), "secret in a snapshot");
            for t in &self.fake.tokens {
                assert!(!text.contains(&t.value), "token in a snapshot");
            }
        }
        text
    }

    /// Checks that a snapshot survives its own text form and holds every pending event.
    pub fn check_snapshot(&self) {
        let snap = self.engine.snapshot();
        let text = snap.to_json().expect("snapshots serialize");
        let back =
            Snapshot::parse(&text).unwrap_or_else(|e| panic!("a snapshot does not parse back: {e}\n{text}"));
        assert_eq!(back.events.len(), snap.events.len());
        assert_eq!(back.events.len(), self.engine.pending_events());
    }

    /// Moves the pending state to a new engine seeded with `seed`, as a host restoring from
    /// storage does: the old instance, its calls in flight and (`Calls`) its pending calls are
    /// gone; answers to its requests never arrive. Event keys are per engine, so the key-based
    /// bookkeeping starts again (outcomes are kept). Returns the snapshot.
    pub fn restore(&mut self, seed: u64) -> Snapshot<'static> {
        let text = self.snapshot_text();
        let snap = Snapshot::parse(&text).expect("own snapshot parses");
        self.restore_from(&snap, seed);
        snap
    }

    /// [`Driver::restore`] from a given snapshot (another instance's, or an older one).
    pub fn restore_from(&mut self, snap: &Snapshot, seed: u64) {
        if self.delivery == Delivery::Calls {
            let finals: BTreeSet<&String> = self.outcomes.iter().map(|o| &o.event_id).collect();
            let pending: BTreeSet<String> =
                self.accepted_ids.iter().filter(|id| !finals.contains(id)).cloned().collect();
            let ids: Vec<String> = snap
                .events
                .iter()
                .map(|e| e.event_id.to_string())
                .chain(snap.finished.iter().map(|o| o.event_id.clone()))
                .collect();
            let in_snapshot: BTreeSet<String> = ids.iter().cloned().collect();
            assert_eq!(in_snapshot.len(), ids.len(), "an event twice in one snapshot: {ids:?}");
            assert_eq!(
                in_snapshot, pending,
                "a snapshot must hold exactly the accepted events whose final outcome no settled call returned"
            );
        }
        let (id, generation) = (snap.id.clone(), snap.generation);
        // Requests in flight are lost with the old engine; they may have reached Marketo, and
        // may still be running there until its own timeout.
        for req in std::mem::take(&mut self.inbox) {
            let at = self.in_flight.get(&req.id).map_or(self.now, |f| f.at);
            self.taint(&req, "it was in flight when the connector restarted");
            if !is_identity(&req) {
                self.zombies.push(at + marketo_timeout_ms(&req));
            }
        }
        self.in_flight.clear();
        self.late.clear();
        self.starts.push(Vec::new());
        self.restores += 1;
        self.seed = seed;
        self.engine = Driver::start(&self.parsed, seed, self.now, Some(snap));
        self.read_at = self.now;
        self.reporter = Reporter::restore(snap);
        self.outcome_keys.clear();
        self.accepted.clear();
        let (new_id, new_generation) = self.engine.identity();
        assert!(id.is_empty() || new_id == id, "identity kept: {new_id} after {id}");
        assert_eq!(new_generation, generation.saturating_add(1), "generation up");
        let before = self.sent.len();
        self.drain();
        assert_eq!(self.sent.len(), before, "a restored engine sent before the host's next call");
    }

    /// The seed of the current engine.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    // ---- reading what happened --------------------------------------------------------------

    /// Requests sent to the REST API, in order: identity calls and the lead schema's describe
    /// calls excluded (tests of the schema read look at [`Driver::describe_sent`]).
    pub fn rest_sent(&self) -> Vec<&HttpRequest> {
        self.sent.iter().filter(|r| !is_identity(r) && !is_describe(r)).collect()
    }

    /// The describe calls sent (the lead schema read), in order.
    pub fn describe_sent(&self) -> Vec<&HttpRequest> {
        self.sent.iter().filter(|r| is_describe(r)).collect()
    }

    /// When each REST request was sent.
    pub fn rest_sent_at(&self) -> Vec<Millis> {
        self.sent
            .iter()
            .zip(&self.sent_at)
            .filter(|(r, _)| !is_identity(r) && !is_describe(r))
            .map(|(_, t)| *t)
            .collect()
    }

    /// Identity calls sent, in order.
    pub fn identity_sent(&self) -> Vec<&HttpRequest> {
        self.sent.iter().filter(|r| is_identity(r)).collect()
    }

    /// The final outcome of the event with this id; panics when there is none.
    pub fn outcome(&self, event_id: &str) -> &Outcome {
        let found: Vec<&Outcome> = self.outcomes.iter().filter(|o| o.event_id == event_id).collect();
        assert_eq!(found.len(), 1, "event {event_id}: expected one outcome, got {found:?}");
        found[0]
    }

    /// [`Driver::outcome`] as JSON.
    pub fn outcome_json(&self, event_id: &str) -> Value {
        crate::http::outcome_json(self.outcome(event_id))
    }

    /// Every final outcome returned for this event id (`Calls`).
    pub fn finals(&self, event_id: &str) -> Vec<&Outcome> {
        self.returned
            .iter()
            .flat_map(|(_, o)| o)
            .filter(|o| o.event_id == event_id && o.status != Status::Queued)
            .collect()
    }

    /// What the call named `name` returned (`Calls`).
    pub fn returned_by(&self, name: &str) -> Vec<&Outcome> {
        self.returned.iter().filter(|(n, _)| n == name).flat_map(|(_, o)| o).collect()
    }

    /// Asserts every accepted event has exactly one final outcome and none is pending.
    pub fn assert_all_final(&self) {
        assert_eq!(self.engine.pending_events(), 0, "events still pending");
        for key in &self.accepted {
            let n = self.outcome_keys.iter().filter(|k| *k == key).count();
            assert_eq!(n, 1, "{key:?} has {n} final outcomes");
            assert!(self.engine.is_final(*key));
        }
        assert_eq!(self.outcomes.len(), self.accepted.len(), "outcomes for events never accepted");
    }

    /// Asserts every event accepted (across restores) has its one final outcome, nothing is
    /// pending, in flight or waiting on time.
    pub fn assert_idle_and_all_final(&self) {
        let missing: Vec<&String> =
            self.accepted_ids.iter().filter(|id| !self.outcomes.iter().any(|o| &o.event_id == *id)).collect();
        assert!(
            missing.is_empty(),
            "accepted events without a final outcome: {missing:?} ({} pending in the engine, timeout {:?})",
            self.engine.pending_events(),
            self.timeout()
        );
        assert_eq!(self.engine.pending_events(), 0, "events still pending");
        assert_eq!(self.timeout(), None, "idle, yet waiting on time");
        assert_eq!(self.engine.in_flight(), 0, "idle, yet calls in flight");
        assert_eq!(self.outcomes.len(), self.accepted_ids.len());
    }

    /// Asserts no 20 s window holds more than `limit` REST call starts (across restores).
    pub fn assert_rate_window(&self, limit: usize) {
        let mut starts: Vec<Millis> = self.starts.iter().flatten().copied().collect();
        starts.sort_unstable();
        let mut lo = 0;
        for hi in 0..starts.len() {
            while starts[lo] + WINDOW_MS <= starts[hi] {
                lo += 1;
            }
            assert!(
                hi - lo < limit,
                "{} REST calls started within 20 s (from +{} ms, {} restores), callsPer20s is {limit}",
                hi - lo + 1,
                starts[lo] - T0,
                self.restores
            );
        }
    }

    /// Asserts no Marketo day holds more than `quota` REST call starts (across restores).
    pub fn assert_daily_quota(&self, quota: u32) {
        let mut per_day: BTreeMap<i64, u32> = BTreeMap::new();
        for t in self.starts.iter().flatten() {
            *per_day.entry(quota_day(*t)).or_default() += 1;
        }
        for (day, n) in per_day {
            assert!(n <= quota, "{n} REST calls on Marketo day {day}, dailyQuota is {quota}");
        }
    }

    /// The token the fake issued n-th (1-based).
    pub fn token(&self, n: usize) -> String {
        self.fake.tokens[n - 1].value.clone()
    }

    // ---- bookkeeping and invariants ---------------------------------------------------------

    fn on_request(&mut self, req: HttpRequest) {
        let check = !self.checks_on.events_may_hold_secrets;
        assert!(!check || !req.url.contains(&self.secret), "secret in a URL: {}", short(&req));
        if !is_identity(&req) {
            if check {
                let text = format!("{req:?}");
                assert!(!contains_secret(&req, &self.secret), "secret in a REST request: {text}");
                assert!(!req.url.contains("access_token"), "token in a URL: {}", req.url);
            }
            if let Some(list) = self.starts.last_mut() {
                list.push(self.now);
            }
            if self.checks_on.no_resend {
                for unit in non_idempotent_units(&req) {
                    if let Some(taint) = self.tainted.get(&unit) {
                        panic!(
                            "non-idempotent call sent again: {} ({unit}) after {}",
                            short(&req),
                            taint.why
                        );
                    }
                }
            }
        }
        let fault = match self.faults.pop_front() {
            Some(f) if self.faulty => f,
            _ => Fault::Normal,
        };
        self.in_flight.insert(req.id, InFlight { at: self.now, fault });
        self.sent.push(req.clone());
        self.sent_at.push(self.now);
        self.inbox.push_back(req);
    }

    /// A final outcome: checked and recorded. `returned`: it came from a settled call.
    fn record(&mut self, o: Outcome, returned: bool) {
        let text = serde_json::to_string(&o).expect("outcomes serialize");
        let check = !self.checks_on.events_may_hold_secrets;
        assert!(!check || !text.contains(&self.secret), "secret in an outcome: {text}");
        if returned {
            assert!(self.accepted_ids.contains(&o.event_id), "outcome for an event never accepted: {o:?}");
            if let Some(first) = self.outcomes.iter().find(|x| x.event_id == o.event_id) {
                panic!("second final outcome for {}: first {first:?}, then {o:?}", o.event_id);
            }
        }
        self.outcomes.push(o);
    }

    fn settled(&mut self, call: Call, settled: Settled) {
        match settled {
            Settled::Outcomes(outcomes) => {
                for (i, o) in outcomes.iter().enumerate() {
                    let own = call.event.is_some() && i == 0;
                    if own && self.fresh_key.is_some() && self.fresh_key == call.event {
                        self.fresh_key = None;
                        assert!(
                            self.accepted_ids.insert(o.event_id.clone()),
                            "generated event id {} collides",
                            o.event_id
                        );
                    }
                    if !o.status.is_final() {
                        assert!(own, "a call returned another event's non-final outcome: {o:?}");
                        continue;
                    }
                    self.record(o.clone(), true);
                }
                self.returned.push((call.name, outcomes));
            }
            Settled::Listing(result) => self.listings.push((None, call.name, result)),
            Settled::Check(result) => self.checks.push((None, call.name, result)),
        }
    }

    fn after_step(&mut self) {
        let identity = self.inbox.iter().filter(|r| is_identity(r)).count();
        // Calls the engine gave up on (past the call timeout, still in the inbox when a test
        // never answers them) are not in flight for it.
        let now = self.now;
        let live = self
            .inbox
            .iter()
            .filter(|r| is_identity(r))
            .filter(|r| self.in_flight.get(&r.id).is_none_or(|f| f.at.saturating_add(CALL_TIMEOUT_MS) > now))
            .count();
        assert!(live <= 1, "{live} identity calls in flight at once");
        if self.auto_describe {
            if let Some(req) = self.inbox.iter().find(|r| is_describe(r)).cloned() {
                let reply = self.fake.handle(&req, self.now);
                self.reply(req.id, reply);
                return;
            }
        }
        let rest = self.inbox.len() - identity;
        self.max_rest_in_flight = self.max_rest_in_flight.max(rest);
        if let Some(limit) = self.checks_on.concurrency {
            let now = self.now;
            self.zombies.retain(|deadline| *deadline > now);
            assert!(
                rest + self.zombies.len() <= limit,
                "{rest} REST calls in flight and {} left by a dead instance, limits.concurrency is {limit}",
                self.zombies.len()
            );
        }
    }

    fn taint(&mut self, req: &HttpRequest, why: &str) {
        if !self.checks_on.no_resend {
            return;
        }
        for unit in non_idempotent_units(req) {
            self.tainted
                .entry(unit)
                .or_insert_with(|| Taint { why: format!("{why} (request {})", short(req)) });
        }
    }

    fn taint_by_reply(&mut self, req: &HttpRequest, reply: &Reply) {
        if !may_have_applied(reply) {
            return;
        }
        let why = match reply {
            Reply::Transport(_) => "a transport error".to_string(),
            Reply::Http(s, body) if (200..300).contains(s) => {
                let ok = serde_json::from_str::<Value>(body).is_ok_and(|v| v["success"] == json!(true));
                format!("HTTP {s} with {}", if ok { "a success answer" } else { "an unreadable answer" })
            }
            Reply::Http(s, _) => format!("an HTTP {s} answer"),
        };
        self.taint(req, &why);
    }
}

/// `#id METHOD url` (the URL cut at 160 characters), for messages.
pub fn short(req: &HttpRequest) -> String {
    let url: String = req.url.chars().take(160).collect();
    format!("#{} {} {url}", req.id, req.method.as_str())
}

/// Whether `secret` appears anywhere in a request (URL, headers, body).
pub fn contains_secret(req: &HttpRequest, secret: &str) -> bool {
    req.url.contains(secret)
        || req.headers.iter().any(|(k, v)| k.contains(secret) || v.contains(secret))
        || match &req.body {
            Some(body) => String::from_utf8_lossy(&body.bytes()).contains(secret),
            None => false,
        }
}

/// Calls that must not be sent twice, as comparable keys: one per lead of a campaign trigger,
/// one per merge call, one per `createDuplicate` record (by its email).
pub fn non_idempotent_units(req: &HttpRequest) -> Vec<String> {
    if is_identity(req) {
        return Vec::new();
    }
    let path = req.url.split('?').next().unwrap_or("");
    let body: Option<Value> =
        req.body.as_ref().and_then(Body::text).and_then(|t| serde_json::from_str::<Value>(&t).ok());
    if path.ends_with("/trigger.json") {
        let leads = body.as_ref().and_then(|b| b["input"]["leads"].as_array().cloned()).unwrap_or_default();
        return leads.iter().map(|l| format!("trigger {path} lead {}", l["id"])).collect();
    }
    if path.ends_with("/merge.json") {
        return vec![format!("merge {}", req.url)];
    }
    if path == format!("{REST}/v1/leads.json") && req.method == Method::Post {
        if let Some(b) = body.filter(|b| b["action"] == "createDuplicate") {
            let input = b["input"].as_array().cloned().unwrap_or_default();
            return input
                .iter()
                .filter_map(|r| r["email"].as_str().map(|e| format!("createDuplicate {e}")))
                .collect();
        }
    }
    Vec::new()
}

/// Whether Marketo may have applied a call answered this way: not for `success:false` (the
/// request was not executed) or a 4xx; for anything else, success included.
pub fn may_have_applied(reply: &Reply) -> bool {
    match reply {
        Reply::Transport(_) => true,
        Reply::Http(status, _) if (400..500).contains(status) => false,
        Reply::Http(status, body) if (200..300).contains(status) => {
            serde_json::from_str::<Value>(body).map_or(true, |v| v.get("success") != Some(&json!(false)))
        }
        Reply::Http(..) => true,
    }
}

/// How long Marketo may run a call (its documented per-endpoint timeouts): a call a dead
/// instance left in flight holds a slot at Marketo until then.
pub fn marketo_timeout_ms(req: &HttpRequest) -> Millis {
    let path = req.url.split('?').next().unwrap_or("");
    if path.ends_with("/merge.json") {
        180_000
    } else if path.ends_with("/rest/v1/leads.json")
        && req.method == Method::Post
        && !req.url.contains("_method=GET")
    {
        90_000
    } else if path.ends_with("/rest/v1/leads.json") {
        60_000
    } else {
        30_000
    }
}
