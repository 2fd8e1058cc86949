//! Events in: accepted, prepared by their family, queued or started; outcomes recorded once.

use std::sync::Arc;

use serde_json::Value;

use crate::core::batch::Queue;
use crate::core::error::{EventError, UsageError};
use crate::core::families::family;
use crate::core::ids::{EventKey, JobId};
use crate::core::job::{Context, EventRef, Family, Prepared, Start};
use crate::core::outcome::{Outcome, Status};
use crate::core::reason::Reason;
use crate::core::schema::Format;
use crate::core::snapshot::{event_text, event_value};
use crate::core::time::Millis;
use serde_json::value::RawValue;

use super::state::{Engine, PendingEvent, BATCHED, REPLAYED, UNFORMATTED};

impl Engine {
    /// Accepts an event for the action `action_id`. The event's outcome(s) come out of
    /// [`Engine::poll_outcome`]: at once when it cannot be delivered (bad input), otherwise
    /// when Marketo has answered.
    ///
    /// # Errors
    /// [`UsageError::UnknownAction`] when no action has that id (nothing is recorded).
    pub(crate) fn handle_event(
        &mut self,
        now: Millis,
        action_id: &str,
        event: &Value,
        event_id: Option<String>,
    ) -> Result<EventKey, UsageError> {
        let now = self.clamp(now);
        let settings = Arc::clone(&self.settings);
        let action =
            settings.action(action_id).ok_or_else(|| UsageError::UnknownAction(action_id.to_string()))?;
        let key = self.accept(now, &*family(&action.action), action_id, (event, None), event_id, false);
        self.pump(now);
        Ok(key)
    }

    /// Accepts an event the host could not turn into JSON (cyclic, holding a BigInt, a getter
    /// that throws, nested too deep: `why` says which) and fails it at once with
    /// [`EventError::NotJson`] (`INVALID_EVENT`), so it still gets exactly one outcome.
    ///
    /// # Errors
    /// [`UsageError::UnknownAction`] when no action has that id (nothing is recorded).
    pub(crate) fn handle_unreadable_event(
        &mut self,
        now: Millis,
        action_id: &str,
        why: &str,
        event_id: Option<String>,
    ) -> Result<EventKey, UsageError> {
        let now = self.clamp(now);
        if self.settings.action(action_id).is_none() {
            return Err(UsageError::UnknownAction(action_id.to_string()));
        }
        self.next_event += 1;
        let key = EventKey(self.next_event);
        let event_id = event_id.unwrap_or_else(|| format!("{}-{}", self.event_prefix, self.next_event));
        let event = Some(serde_json::value::RawValue::NULL.to_owned());
        let pending = PendingEvent::new(event_id.into(), self.shared_action_id(action_id), event, now, 0);
        self.admit(key, pending);
        let ev = EventRef { key };
        let e = EventError::NotJson(why.to_string());
        let reason = Reason::local(e.code(), e.to_string());
        self.emit(key, ev.with_reason(Status::Failed, &reason, None));
        Ok(key)
    }

    /// Records an event and queues or starts its delivery; `accepted_at` is when it first
    /// arrived (earlier than now for restored events, so batch ages carry over); `replayed`
    /// when a restored event's call was in flight (it may have been applied). `text` is the
    /// event's JSON text when it is at hand (a restored event's); otherwise it is written when
    /// the event is kept as text.
    pub(super) fn accept(
        &mut self,
        accepted_at: Millis,
        family: &dyn Family,
        action_id: &str,
        (event, text): (&Value, Option<Box<RawValue>>),
        event_id: Option<String>,
        replayed: bool,
    ) -> EventKey {
        self.next_event += 1;
        let key = EventKey(self.next_event);
        let event_id = event_id.unwrap_or_else(|| format!("{}-{}", self.event_prefix, self.next_event));
        // Kept as text unless its family keeps it as its item once prepared (see `deliver`).
        let text = text.or_else(|| (!family.keeps_item_only()).then(|| event_text(event)));
        let flags =
            if family.thresholds().is_some() { BATCHED } else { 0 } | if replayed { REPLAYED } else { 0 };
        let pending =
            PendingEvent::new(event_id.into(), self.shared_action_id(action_id), text, accepted_at, flags);
        self.admit(key, pending);
        let ev = EventRef { key };
        if family.needs_schema()
            && family.thresholds().is_none()
            && (self.schema.wants_read() || self.schema.reading.is_some())
        {
            // Formatting needs the field types: the event waits for the schema (one read),
            // unless it fails without them. Queued events wait only when their batch goes out.
            let fmt = Format { schema: None, on_too_long: self.settings.on_too_long };
            if let Err(e) = family.prepare(event, &fmt, &mut Vec::new()) {
                let reason = Reason::local(e.code(), e.to_string());
                self.emit(key, ev.with_reason(Status::Failed, &reason, None));
                return key;
            }
            if self.schema_pending() {
                self.keep_text(key, event);
                self.parked.push(key);
                if let (Some(job), Some(p)) = (self.schema.reading, self.pending.get_mut(&key)) {
                    p.set_job(Some(job));
                }
                return key;
            }
        }
        self.deliver(accepted_at, family, action_id, ev, event);
        key
    }

    /// Prepares an accepted event of the action `action_id` with the schema as known now, then
    /// queues it or starts its delivery.
    pub(super) fn deliver(
        &mut self,
        accepted_at: Millis,
        family: &dyn Family,
        action_id: &str,
        ev: EventRef,
        event: &Value,
    ) {
        let key = ev.key;
        let mut warnings = Vec::new();
        let fmt = Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long };
        let prepared = match family.prepare(event, &fmt, &mut warnings) {
            Ok(p) => p,
            Err(e) => {
                let reason = Reason::local(e.code(), e.to_string());
                self.emit(key, ev.with_reason(Status::Failed, &reason, None));
                return;
            }
        };
        if !warnings.is_empty() {
            self.notes.push((key, warnings.join("; ")));
        }
        if family.needs_schema()
            && ((self.schema.schema.is_none() && self.schema.error.is_none()) || self.schema.stale)
        {
            // Formatted without the schema, or with one a 1006 made stale: again when the batch
            // goes out, after the (re-)read. The read starts now, so that the events after it
            // are formatted on arrival (and kept only as their item). Formatted from the item
            // itself where its family can and keeps events as their item (not from values a
            // stale schema converted or cut); from the event's text otherwise.
            if let Some(p) = self.pending.get_mut(&key) {
                p.set(UNFORMATTED, true);
            }
            let from_item = self.schema.schema.is_none()
                && !self.schema.stale
                && family.keeps_item_only()
                && family.reformats_items();
            if from_item {
                self.drop_text(key);
            } else {
                self.keep_text(key, event);
            }
            self.schema_pending();
        } else if family.keeps_item_only() {
            self.drop_text(key);
        }
        match family.thresholds() {
            Some(limits) => {
                let size = prepared.size;
                let queue = match self.queues.get_mut(action_id) {
                    Some(q) => q,
                    None => self
                        .queues
                        .entry(action_id.to_string())
                        .or_insert_with(|| Queue::new(limits, family.overhead())),
                };
                queue.push(accepted_at, (ev, prepared), size);
            }
            None => {
                self.start_prepared(family, vec![(ev, prepared)]);
            }
        }
    }

    /// Sends whatever is queued now, ignoring batch thresholds.
    pub(crate) fn flush(&mut self, now: Millis) {
        let now = self.clamp(now);
        for (_, q) in self.queues.iter_mut() {
            q.seal();
        }
        self.pump(now);
    }

    pub(super) fn emit(&mut self, key: EventKey, mut outcome: Outcome) {
        // Removing from `pending` is the once-only gate: a second final outcome is dropped.
        if !outcome.status.is_final() {
            return;
        }
        if let Some(p) = self.pending.remove(&key) {
            self.forget(&p);
            (outcome.event_id, outcome.action_id) = (p.event_id.into(), String::from(&*p.action_id));
            let note = self.notes.iter().position(|(k, _)| *k == key).map(|i| self.notes.swap_remove(i).1);
            self.schema.noted(&mut outcome, note);
            self.outcomes_out.push_back((key, outcome));
        }
    }

    /// Keeps pending event `key` as its JSON text, written from `event` unless it already is
    /// (it waits for the lead schema, or will be prepared again once it is read).
    pub(super) fn keep_text(&mut self, key: EventKey, event: &Value) {
        if let Some(p) = self.pending.get_mut(&key).filter(|p| p.event.is_none()) {
            p.event = Some(event_text(event));
        }
    }

    /// Drops pending event `key`'s JSON text: its family keeps it as its prepared item
    /// ([`Family::keeps_item_only`]), from which a snapshot writes it.
    pub(super) fn drop_text(&mut self, key: EventKey) {
        if let Some(p) = self.pending.get_mut(&key) {
            p.event = None;
        }
    }

    /// `action_id` as pending events hold it: the one copy the action's pending events share
    /// (the key of its count in `pending_by_action`), or a new one for its first.
    pub(super) fn shared_action_id(&self, action_id: &str) -> Arc<str> {
        match self.pending_by_action.iter().find(|(id, _)| **id == *action_id) {
            Some((shared, _)) => Arc::clone(shared),
            None => Arc::from(action_id),
        }
    }

    /// Records a pending event, with the counts `stats()` reads.
    pub(super) fn admit(&mut self, key: EventKey, pending: PendingEvent) {
        match self.pending_by_action.iter_mut().find(|(id, _)| *id == pending.action_id) {
            Some((_, n)) => *n += 1,
            None => self.pending_by_action.push((Arc::clone(&pending.action_id), 1)),
        }
        if let Some(old) = self.pending.insert(key, pending) {
            self.forget(&old); // keys are never reused; were one, its old counts go
        }
    }

    /// Takes a pending event that left `pending` out of the counts `stats()` reads.
    pub(super) fn forget(&mut self, p: &PendingEvent) {
        if let Some(at) = self.pending_by_action.iter().position(|(id, _)| *id == p.action_id) {
            if let Some((_, n)) = self.pending_by_action.get_mut(at) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.pending_by_action.swap_remove(at);
                }
            }
        }
    }

    /// Starts the jobs delivering prepared `items` of `family`; the last job's id, `None` when
    /// every event finished at once.
    pub(super) fn start_prepared(
        &mut self,
        family: &dyn Family,
        items: Vec<(EventRef, Prepared)>,
    ) -> Option<JobId> {
        let mut replayed: Vec<EventKey> = items
            .iter()
            .map(|(ev, _)| ev.key)
            .filter(|k| self.pending.get(k).is_some_and(|p| p.is(REPLAYED)))
            .collect();
        replayed.sort_unstable();
        let mut cx = self.context(&replayed);
        let start = family.start(items, &mut cx);
        self.started(start)
    }

    /// What the engine lends a family starting or resuming jobs now.
    pub(super) fn context<'a>(&'a mut self, replayed: &'a [EventKey]) -> Context<'a> {
        Context {
            now: self.now,
            rest_len: self.settings.rest_base.len(),
            format: Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long },
            cache: &self.cache,
            replayed,
            jitter: &mut self.jitter,
        }
    }

    /// Fails the events a family could not start, then registers and starts its jobs; the last
    /// job's id.
    pub(super) fn started(&mut self, start: Start) -> Option<JobId> {
        for (ev, e) in start.failed {
            let reason = Reason::local(e.code(), e.to_string());
            self.emit(ev.key, ev.with_reason(Status::Failed, &reason, None));
        }
        let mut last = None;
        for new in start.jobs {
            last = self.start_job(new.job, new.progress, new.lookup, new.events);
        }
        last
    }

    /// Seals due queues and starts the batches whose action has no batch in flight. A batch
    /// that starts no job (every event in it failed as it was formatted with the schema, e.g.
    /// `RECORD_TOO_LARGE`) leaves its queue free, so the queue's next sealed batch is taken in
    /// the same pass rather than at the next wake-up (which nothing would ask for before a
    /// call's timeout).
    pub(super) fn dispatch_queues(&mut self, now: Millis) {
        while self.dispatch_once(now) {}
    }

    /// One pass of [`Engine::dispatch_queues`]: whether a batch it took left its queue free.
    fn dispatch_once(&mut self, now: Millis) -> bool {
        let mut again = false;
        let mut ready: Vec<(String, Vec<(EventRef, Prepared)>)> = Vec::new();
        for (action_id, q) in self.queues.iter_mut() {
            q.seal_if_due(now);
            if let Some(batch) = q.take_ready(now) {
                ready.push((action_id.clone(), batch));
            }
        }
        for (action_id, batch) in ready {
            let settings = Arc::clone(&self.settings);
            let Some(action) = settings.action(&action_id) else { continue };
            let family = family(&action.action);
            let mut batch = batch;
            if family.needs_schema()
                && batch.iter().any(|(ev, _)| self.pending.get(&ev.key).is_some_and(|p| p.is(UNFORMATTED)))
            {
                if self.schema_pending() {
                    // The batch's call needs the field types: it goes out once they are read,
                    // and its action sends no other batch meanwhile.
                    let reading = self.schema.reading;
                    for (ev, _) in &batch {
                        if let (Some(job), Some(p)) = (reading, self.pending.get_mut(&ev.key)) {
                            p.set_job(Some(job));
                        }
                    }
                    if let Some(q) = self.queues.get_mut(&action_id) {
                        q.busy = reading;
                    }
                    self.held.push((action_id, batch));
                    continue;
                }
                batch = self.reformat(&*family, batch);
            }
            let job = self.start_prepared(&*family, batch);
            again |= job.is_none();
            if let Some(q) = self.queues.get_mut(&action_id) {
                q.busy = job;
            }
        }
        again
    }

    /// The batch's events prepared before the schema was known, prepared again with it (an
    /// event the field types refuse fails here). In place: a batch's first event often arrived
    /// before the schema was read, and a second list of a 25,000-row batch would grow wasm
    /// memory by its 600 KB for good.
    pub(super) fn reformat(
        &mut self,
        family: &dyn Family,
        batch: Vec<(EventRef, Prepared)>,
    ) -> Vec<(EventRef, Prepared)> {
        batch.into_iter().filter_map(|(ev, prepared)| self.reformat_one(family, ev, prepared)).collect()
    }

    /// One event of [`Engine::reformat`]: its item, or `None` once it failed.
    fn reformat_one(
        &mut self,
        family: &dyn Family,
        ev: EventRef,
        prepared: Prepared,
    ) -> Option<(EventRef, Prepared)> {
        let unformatted = self.pending.get_mut(&ev.key).is_some_and(|p| p.take(UNFORMATTED));
        if !unformatted {
            return Some((ev, prepared));
        }
        let mut warnings = Vec::new();
        let fmt = Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long };
        // From the event's text, or, kept only as its item, from that item.
        let text = self.pending.get(&ev.key).and_then(|p| p.event.as_deref());
        let again = match text {
            Some(text) => family.prepare(&event_value(text), &fmt, &mut warnings),
            // (Not kept as its item unless its family formats items again: see `deliver`.)
            None => family.reformat_item(prepared, &fmt, &mut warnings),
        };
        match again {
            Ok(p) => {
                if !warnings.is_empty() {
                    self.notes.push((ev.key, warnings.join("; ")));
                }
                if family.keeps_item_only() {
                    self.drop_text(ev.key);
                }
                Some((ev, p))
            }
            Err(e) => {
                let reason = Reason::local(e.code(), e.to_string());
                self.emit(ev.key, ev.with_reason(Status::Failed, &reason, None));
                None
            }
        }
    }
}
