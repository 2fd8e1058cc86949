//! Reads of the instance: the lead schema (and the events waiting for it), pickers, `check()`.

use std::sync::Arc;

use crate::core::check::{schema_problems, CheckResult};
use crate::core::families::family;
use crate::core::ids::{CheckKey, EventKeys, JobId, ListingKey};
use crate::core::job::{EventRef, Progress};
use crate::core::listing::{Listing, Named};
use crate::core::outcome::Status;
use crate::core::reads::check::CheckJob;
use crate::core::reads::pickers::ListingJob;
use crate::core::reads::schema::SchemaJob;
use crate::core::reason::Reason;
use crate::core::snapshot::event_value;
use crate::core::time::Millis;

use super::state::Engine;

impl Engine {
    /// Whether formatting must wait for the schema: starts reading it when it is needed and
    /// not known (or stale after a 1006), and says whether a read is running.
    pub(super) fn schema_pending(&mut self) -> bool {
        if self.schema.wants_read() {
            // `start_job` gives the job the next id; the slot knows it before the job starts.
            self.schema.reading = Some(JobId(self.next_job + 1));
            self.start_job(Box::new(SchemaJob::default()), Progress::default(), None, EventKeys::default());
        }
        self.schema.reading.is_some()
    }

    /// The schema read finished: parked events are formatted and sent, waiting checks start.
    pub(super) fn schema_read(&mut self, result: Result<crate::core::schema::LeadSchema, Reason>) {
        // Refused credentials fail the waiting events as they would fail their own calls,
        // without another identity call.
        let auth = result.as_ref().err().filter(|e| e.is_auth_failure()).cloned();
        self.schema.finished(result);
        for key in std::mem::take(&mut self.parked) {
            let Some(p) = self.pending.get_mut(&key) else { continue };
            p.set_job(None);
            let ev = EventRef { key };
            let action_id = p.action_id.clone();
            if let Some(reason) = &auth {
                self.emit(key, ev.with_reason(Status::Failed, reason, None));
                continue;
            }
            let Some(event) = p.event.as_deref().map(event_value) else { continue };
            let accepted_at = p.accepted_at;
            let settings = Arc::clone(&self.settings);
            if let Some(action) = settings.action(&action_id) {
                self.deliver(accepted_at, &*family(&action.action), &action_id, ev, &event);
            }
        }
        for (action_id, batch) in std::mem::take(&mut self.held) {
            for (ev, _) in &batch {
                if let Some(p) = self.pending.get_mut(&ev.key) {
                    p.set_job(None);
                }
            }
            let settings = Arc::clone(&self.settings);
            let Some(action) = settings.action(&action_id) else { continue };
            let family = family(&action.action);
            let batch = self.reformat(&*family, batch);
            let job = self.start_prepared(&*family, batch);
            if let Some(q) = self.queues.get_mut(&action_id) {
                q.busy = job;
            }
        }
        for key in std::mem::take(&mut self.checks_waiting) {
            self.start_check(key);
        }
    }

    /// Starts checking the configuration against the instance (the schema is read or known
    /// to be unreadable).
    pub(super) fn start_check(&mut self, key: CheckKey) {
        let first = schema_problems(&self.settings, self.schema.schema.as_ref(), self.schema.error.as_ref());
        let job = CheckJob::new(&self.settings, first);
        self.check_jobs.push((JobId(self.next_job + 1), key));
        self.start_job(Box::new(job), Progress::default(), None, EventKeys::default());
    }

    /// Starts listing every static list or requestable campaign, all pages. The result comes
    /// out of [`Engine::poll_listing`] with the returned key.
    pub(crate) fn handle_listing(&mut self, now: Millis, kind: Listing) -> ListingKey {
        let now = self.clamp(now);
        self.next_listing += 1;
        let key = ListingKey(self.next_listing);
        match self.start_job(Box::new(ListingJob::new(kind)), Progress::default(), None, EventKeys::default())
        {
            Some(job) => {
                self.listing_jobs.insert(job, key);
            }
            None => self.listings_out.push_back((key, Ok(Vec::new()))),
        }
        self.pump(now);
        key
    }

    /// A finished listing: every entry, or Marketo's error (redacted like outcomes).
    pub(crate) fn poll_listing(&mut self) -> Option<(ListingKey, Result<Vec<Named>, Reason>)> {
        let (key, result) = self.listings_out.pop_front()?;
        Some((
            key,
            result.map_err(|mut e| {
                let message = self.redact_message(e.message());
                *e.message_mut() = message;
                if let Reason::Marketo { code, .. } = &mut e {
                    code.0 = self.redact_message(&code.0);
                }
                e
            }),
        ))
    }

    /// Starts `check()`: the configuration checked against the instance's lead schema (read
    /// first when unknown, or again when it could not be read before), lists, campaigns,
    /// program tokens and partitions ([`crate::core::reads::check`]). The result comes out of
    /// [`Engine::poll_check`] with the returned key.
    pub(crate) fn handle_check(&mut self, now: Millis) -> CheckKey {
        let now = self.clamp(now);
        self.next_check += 1;
        let key = CheckKey(self.next_check);
        if self.schema.schema.is_none() && self.schema.reading.is_none() {
            // An explicit check asks again (a permission may have been granted since).
            self.schema.error = None;
        }
        if self.schema_pending() {
            self.checks_waiting.push(key);
        } else {
            self.start_check(key);
        }
        self.pump(now);
        key
    }

    /// A finished `check()` (messages redacted like outcomes).
    pub(crate) fn poll_check(&mut self) -> Option<(CheckKey, CheckResult)> {
        let (key, mut result) = self.checks_out.pop_front()?;
        for p in &mut result.problems {
            p.message = self.redact_message(&p.message);
        }
        Some((key, result))
    }
}
