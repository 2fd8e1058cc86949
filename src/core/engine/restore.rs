//! Snapshots out, restores in: pending events, resume data, lookups, the rate window and quota.

use std::borrow::Cow;
use std::sync::Arc;

use litemap::LiteMap;
use serde_json::Value;

use crate::core::config::FilterType;
use crate::core::config::Settings;
use crate::core::families::family;
use crate::core::ids::{EventKey, JobId};
use crate::core::job::{EventRef, Family};
use crate::core::outcome::Status;
use crate::core::reason::Reason;
use crate::core::retry::MAX_BACKOFF_MS;
use crate::core::snapshot::{
    event_text, event_value, CachedLookup, PendingEntry, QuotaState, ResumeData, Snapshot,
    VERSION as SNAPSHOT_VERSION,
};
use crate::core::time::Millis;

use super::send::marketo_timeout_ms;
use super::state::{Engine, PendingEvent, BATCHED, CALL_TIMEOUT_MS, REPLAYED};

impl Engine {
    /// The pending state, for a restart: every event without a final outcome, the lookups
    /// made, the calls in flight and the rate and quota counts. No secret, no token. Final
    /// outcomes already polled are not in it: a host adds those it has not yet handed out
    /// ([`crate::core::report::Reporter::snapshot`] does).
    pub fn snapshot(&self) -> Snapshot<'_> {
        let (day, used) = self.limiter.quota_state();
        Snapshot {
            version: SNAPSHOT_VERSION,
            taken_at: self.now,
            events: self.pending_entries(),
            quota: QuotaState { day, used },
            recent_calls: self.limiter.recent_calls(),
            id_prefix: self.event_prefix.clone(),
            next_event: self.next_event,
            id: self.id.clone(),
            generation: self.generation,
            finished: Vec::new(),
            in_flight_until: self
                .in_flight
                .values()
                .map(|f| {
                    let sent = f.deadline.saturating_sub(CALL_TIMEOUT_MS);
                    sent.saturating_add(marketo_timeout_ms(&f.call.spec)).min(f.deadline)
                })
                .chain(self.limiter.inherited().iter().copied())
                .collect(),
            lookups: self
                .cache
                .entries(self.now)
                .into_iter()
                .map(|(filter, value, ids, at)| CachedLookup {
                    filter_type: filter.as_str().to_string(),
                    value,
                    ids,
                    at,
                })
                .collect(),
            schema: self.schema.schema.as_ref().map(crate::core::schema::LeadSchema::to_describe2),
        }
    }

    /// Every pending event as the snapshot keeps it: whether a call that may have reached
    /// Marketo was in flight for it, and what of its delivery its job already did.
    fn pending_entries(&self) -> Vec<PendingEntry<'_>> {
        // In key order, looked up by binary search.
        let mut in_flight: Vec<EventKey> = Vec::new();
        for (_, f) in self.in_flight.iter() {
            if let Some(job) = self.jobs.get(&f.call.job) {
                in_flight.extend(job.events.iter());
            }
        }
        in_flight.sort_unstable();
        // Jobs with a call waiting on time, and the latest time each waits for, in job order
        // (kept so as each is added: the calls waiting are few).
        let mut waits: Vec<(JobId, Millis)> = Vec::new();
        for (at, call) in &self.delayed {
            match waits.binary_search_by_key(&call.job, |(job, _)| *job) {
                Ok(i) => {
                    if let Some((_, t)) = waits.get_mut(i) {
                        *t = (*t).max(*at);
                    }
                }
                Err(i) => waits.insert(i, (call.job, *at)),
            }
        }
        // A batched event not yet in a job waits while its action's queue is held.
        let now = self.now;
        let retry_at = |p: &PendingEvent| match p.job() {
            Some(job) => {
                let i = waits.binary_search_by_key(&job, |(j, _)| *j).ok()?;
                waits.get(i).map(|(_, at)| *at)
            }
            None if p.is(BATCHED) => self.queues.get(&*p.action_id)?.held_until.filter(|t| *t > now),
            None => None,
        };
        // Batched events in a closed batch: one in a job, or in a queue's sealed batches.
        let mut sealed: Vec<EventKey> = Vec::new();
        for (_, q) in self.queues.iter() {
            sealed.extend(q.sealed_items().map(|(ev, _)| ev.key));
        }
        sealed.sort_unstable();
        let is_sealed = |key: &EventKey, p: &PendingEvent| {
            p.is(BATCHED) && (p.job().is_some() || sealed.binary_search(key).is_ok())
        };
        let mut entries: Vec<PendingEntry<'_>> = self
            .pending
            .iter()
            .map(|(key, p)| PendingEntry {
                key: Some(key.0),
                event_id: Cow::Borrowed(&p.event_id),
                action_id: Cow::Borrowed(&*p.action_id),
                // An event kept only as its item is written from it below. Never missing (each
                // such event is in a queue, a held batch or a job); were one, it would restore
                // as an event with no attribute.
                event: match &p.event {
                    Some(text) => Cow::Borrowed(&**text),
                    None => Cow::Owned(event_text(&Value::Object(Default::default()))),
                },
                accepted_at: p.accepted_at,
                // A replayed call not yet answered may still have been applied.
                in_flight: in_flight.binary_search(&key).is_ok() || p.is(REPLAYED),
                // From its job, below.
                progress: None,
                retry_at: retry_at(p),
                sealed: is_sealed(&key, p),
            })
            .collect();
        self.write_progress(&mut entries);
        self.write_from_items(&mut entries);
        entries
    }

    /// Gives each entry what its job says of its delivery
    /// ([`crate::core::job::Delivery::progress`]): each job is asked once, and an entry found by
    /// binary search (`entries` are in key order). Only an event's own job speaks for it.
    fn write_progress(&self, entries: &mut [PendingEntry<'_>]) {
        let mut done = Vec::new();
        for (job_id, job) in self.jobs.iter() {
            job.job.progress(&mut done);
            for (key, data) in done.drain(..) {
                if self.pending.get(&key).and_then(PendingEvent::job) != Some(*job_id) {
                    continue;
                }
                let at = entries.binary_search_by_key(&Some(key.0), |e| e.key).ok();
                if let Some(entry) = at.and_then(|i| entries.get_mut(i)) {
                    entry.progress = Some(data);
                }
            }
        }
    }

    /// Writes each entry of an event kept only as its prepared item ([`PendingEvent::event`]
    /// `None`) from that item, found in the queues, the batches held for the schema and the
    /// jobs. `entries` are in key order, as `pending` is (found by binary search: no map of
    /// its own, which would add a `BTreeMap` instantiation to the `.wasm`).
    fn write_from_items(&self, entries: &mut [PendingEntry<'_>]) {
        let item_only = |key: &EventKey| self.pending.get(key).is_some_and(|p| p.event.is_none());
        // The event's text straight from the item's ([`Family::write_event_of_item`]).
        let mut write = |key: EventKey, family: &dyn Family, item: &str| {
            let at = entries.binary_search_by_key(&Some(key.0), |e| e.key).ok();
            let Some(entry) = at.and_then(|i| entries.get_mut(i)) else { return };
            let mut text = String::with_capacity(2 * item.len() + 16);
            if family.write_event_of_item(item, &mut text) {
                if let Ok(event) = serde_json::value::RawValue::from_string(text) {
                    entry.event = Cow::Owned(event);
                }
            }
        };
        let queued = self.queues.iter().map(|(id, q)| (id.as_str(), q.items().collect::<Vec<_>>()));
        let held = self.held.iter().map(|(id, batch)| (id.as_str(), batch.iter().collect::<Vec<_>>()));
        for (action_id, items) in queued.chain(held) {
            let Some(action) = self.settings.action(action_id) else { continue };
            let family = family(&action.action);
            for (ev, prepared) in items {
                if let (true, Some(item)) = (item_only(&ev.key), family.item_text(prepared)) {
                    write(ev.key, &*family, item);
                }
            }
        }
        for job in self.jobs.values() {
            let texts = job.job.item_texts();
            let Some(action) = texts
                .first()
                .and_then(|(key, _)| self.pending.get(key))
                .and_then(|p| self.settings.action(&p.action_id))
            else {
                continue;
            };
            let family = family(&action.action);
            for (key, text) in texts {
                if item_only(&key) {
                    write(key, &*family, text);
                }
            }
        }
    }

    /// An engine carrying on from `snapshot`: its events are queued or sent again (an event
    /// whose non-idempotent call was in flight is reported `uncertain` instead), and the quota
    /// count carries over. Events for actions no longer configured fail with `UNKNOWN_ACTION`.
    ///
    /// The snapshot's identity is kept and its generation rises by one. State later than the
    /// host's `now` (a snapshot from a clock ahead of this one) is dropped: rate-window calls,
    /// a quota day, arrival and lookup times are brought back to `now`, so nothing waits on
    /// time that has not come. Generated event ids take a prefix drawn from `seed` and `now`,
    /// so two restores of one snapshot with distinct seeds or clocks never generate the same id.
    /// The snapshot's `finished` outcomes are not the engine's: see
    /// [`crate::core::report::Reporter::restore`].
    pub fn restore(settings: Settings, seed: u64, now: Millis, snapshot: Snapshot<'_>) -> Engine {
        let mut engine = Engine::new(settings, seed, now);
        let now = engine.now;
        if !snapshot.id.is_empty() {
            engine.id = snapshot.id.clone();
        }
        engine.generation = snapshot.generation.saturating_add(1);
        if snapshot.quota.day <= crate::core::time::quota_day(now) {
            engine.limiter.restore_quota(snapshot.quota.day, snapshot.quota.used);
        }
        let recent: Vec<Millis> = snapshot.recent_calls.iter().copied().filter(|t| *t <= now).collect();
        engine.limiter.restore_recent_calls(&recent);
        engine.limiter.inherit_in_flight(&snapshot.in_flight_until, now, now.saturating_add(CALL_TIMEOUT_MS));
        for l in &snapshot.lookups {
            if let Some(filter) = FilterType::parse(&l.filter_type) {
                engine.cache.insert(filter, &l.value, l.ids.clone(), l.at.min(now));
            }
        }
        engine.schema.schema = snapshot
            .schema
            .as_ref()
            .and_then(|s| crate::core::schema::LeadSchema::from_describe2(std::slice::from_ref(s)));
        // Restored events take keys after the snapshot's counter.
        engine.next_event = snapshot.next_event;
        engine.restore_events(snapshot.events);
        // A batch that was in flight may still be running in Marketo: its action's queue (its
        // events again, and what comes next) waits until the previous instance's calls have
        // timed out, so a later update of a lead never lands before it.
        let until = snapshot.in_flight_until.iter().copied().filter(|t| *t > now).max();
        if let Some(until) = until.map(|t| t.min(now.saturating_add(CALL_TIMEOUT_MS))) {
            let held: Vec<Arc<str>> = engine
                .pending
                .values()
                .filter(|p| p.is(REPLAYED) && p.is(BATCHED))
                .map(|p| Arc::clone(&p.action_id))
                .collect();
            for action_id in held {
                if let Some(q) = engine.queues.get_mut(&*action_id) {
                    q.held_until = Some(until);
                }
            }
        }
        // Nothing is sent until the host's next input (SPEC §7: it may store this engine's
        // snapshot, with the new generation, first); `poll_timeout` asks for it now.
        engine.needs_pump = true;
        engine
    }

    /// Takes a snapshot's events back: each is queued or sent again from the start, resumed
    /// from where its family's resume data says it was (bulk imports sharing a batch resume
    /// together, after the others), or given its final outcome when it cannot go on.
    pub(super) fn restore_events(&mut self, entries: Vec<PendingEntry<'_>>) {
        let settings = Arc::clone(&self.settings);
        let mut grouped: LiteMap<(String, i64), (Vec<PendingEntry<'_>>, ResumeData)> = LiteMap::new();
        // Restored events whose call waited on time, and until when (in key order: keys are
        // given in increasing order as events are taken back).
        let mut holds: Vec<(EventKey, Millis)> = Vec::new();
        // Batched actions whose restored events so far were in a closed batch: the batch is
        // closed again before the first event that was not (or once all are restored).
        let mut closing: Vec<String> = Vec::new();
        for mut entry in entries {
            if let Some(i) = closing.iter().position(|a| *a == *entry.action_id) {
                if !entry.sealed {
                    self.seal_queue(&entry.action_id);
                    closing.swap_remove(i);
                }
            } else if entry.sealed {
                closing.push(entry.action_id.to_string());
            }
            let Some(action) = settings.action(&entry.action_id) else {
                let reason = format!("action `{}` is no longer configured", entry.action_id);
                self.restore_failed(entry, Status::Failed, "UNKNOWN_ACTION", reason);
                continue;
            };
            let family = family(&action.action);
            if entry.in_flight && !family.idempotent() {
                let reason = "the connector restarted while this event's call was in flight; Marketo may or may not have applied it";
                self.restore_failed(entry, Status::Uncertain, "RESTARTED_IN_FLIGHT", reason.into());
                continue;
            }
            match entry.progress.take().filter(|r| family.resumes(r)) {
                Some(resume) => match resume.group() {
                    Some(group) => {
                        let key = (entry.action_id.to_string(), group);
                        grouped.entry(key).or_insert_with(|| (Vec::new(), resume)).0.push(entry)
                    }
                    None => self.resume(&*family, vec![entry], &resume, &mut holds),
                },
                None => {
                    let accepted_at = entry.accepted_at.min(self.now);
                    let event = event_value(&entry.event);
                    let PendingEntry { event_id, action_id, event: text, in_flight, retry_at, .. } = entry;
                    let (text, event_id) = (text.into_owned(), event_id.into_owned());
                    let key = self.accept(
                        accepted_at,
                        &*family,
                        &action_id,
                        (&event, Some(text)),
                        Some(event_id),
                        in_flight,
                    );
                    if let Some(at) = retry_at {
                        holds.push((key, at));
                    }
                }
            }
        }
        for ((action_id, _), (entries, resume)) in grouped.into_tuple_vec() {
            if let Some(action) = settings.action(&action_id) {
                self.resume(&*family(&action.action), entries, &resume, &mut holds);
            }
        }
        for action_id in closing {
            self.seal_queue(&action_id);
        }
        self.hold_restored(&holds);
    }

    /// Closes the open batch of `action_id`'s queue, if any.
    fn seal_queue(&mut self, action_id: &str) {
        if let Some(q) = self.queues.get_mut(action_id) {
            q.seal();
        }
    }

    /// Restored events whose call waited on time in the previous instance (`holds`, in key
    /// order, with the time) wait until then again, as a retry's backoff would have: a batched
    /// event's action queue is held until the latest of its events' times
    /// ([`crate::core::batch::Queue::held_until`]), and a started job's calls wait until the
    /// latest of its events'. A time that has passed holds nothing; one further ahead than the
    /// longest backoff ([`MAX_BACKOFF_MS`]: the snapshot's clock ran ahead) holds that long.
    fn hold_restored(&mut self, holds: &[(EventKey, Millis)]) {
        let now = self.now;
        let held = |key: &EventKey| {
            let i = holds.binary_search_by_key(key, |(k, _)| *k).ok()?;
            holds.get(i).map(|(_, at)| (*at).min(now.saturating_add(MAX_BACKOFF_MS))).filter(|at| *at > now)
        };
        for (key, _) in holds {
            let (Some(at), Some(p)) = (held(key), self.pending.get(key)) else { continue };
            if p.is(BATCHED) && p.job().is_none() {
                if let Some(q) = self.queues.get_mut(&*p.action_id) {
                    q.held_until = Some(q.held_until.map_or(at, |t| t.max(at)));
                }
            }
        }
        for follow in [false, true] {
            let calls = std::mem::take(if follow { &mut self.follow } else { &mut self.ready });
            for call in calls {
                let at =
                    self.jobs.get(&call.job).and_then(|j| j.events.iter().filter_map(|k| held(&k)).max());
                match at {
                    Some(at) => {
                        self.left_queue(call.job);
                        self.delay(at, call);
                    }
                    None if follow => self.follow.push_back(call),
                    None => self.ready.push_back(call),
                }
            }
        }
    }

    /// A restored event that cannot go on gets its final outcome now.
    pub(super) fn restore_failed(
        &mut self,
        entry: PendingEntry<'_>,
        status: Status,
        code: &'static str,
        message: String,
    ) {
        let ev = self.readmit(entry);
        let reason = Reason::local(code, message);
        self.emit(ev.key, ev.with_reason(status, &reason, None));
    }

    /// Restored `entries` resume from `resume` (their family [`Family::resumes`] it).
    pub(super) fn resume(
        &mut self,
        family: &dyn Family,
        entries: Vec<PendingEntry<'_>>,
        resume: &ResumeData,
        holds: &mut Vec<(EventKey, Millis)>,
    ) {
        let values: Vec<Value> = entries.iter().map(|e| event_value(&e.event)).collect();
        let mut events: Vec<(EventRef, &Value)> = Vec::with_capacity(entries.len());
        for (e, v) in entries.into_iter().zip(&values) {
            let retry_at = e.retry_at;
            let ev = self.readmit(e);
            if let Some(at) = retry_at {
                holds.push((ev.key, at));
            }
            events.push((ev, v));
        }
        let mut cx = self.context(&[]);
        let start = family.resume(events, resume, &mut cx);
        self.started(start);
    }

    /// Registers a snapshot's event as pending again, under a new key.
    pub(super) fn readmit(&mut self, entry: PendingEntry<'_>) -> EventRef {
        self.next_event += 1;
        let key = EventKey(self.next_event);
        let batched =
            self.settings.action(&entry.action_id).is_some_and(|a| family(&a.action).thresholds().is_some());
        let (event_id, action_id) = (entry.event_id.into_owned(), self.shared_action_id(&entry.action_id));
        let ev = EventRef { key };
        self.admit(
            key,
            PendingEvent::new(
                event_id.into(),
                action_id,
                Some(entry.event.into_owned()),
                entry.accepted_at.min(self.now),
                if batched { BATCHED } else { 0 } | if entry.in_flight { REPLAYED } else { 0 },
            ),
        );
        ev
    }
}
