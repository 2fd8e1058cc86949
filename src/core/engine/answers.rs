//! Answers in: Marketo's answers, transport errors and timeouts, classified into success,
//! retry, wait, split or failure of the call; a job's progress applied.

use crate::core::auth::AuthEvent;
use crate::core::check::CheckResult;
use crate::core::classify::{classify_code, classify_http, Class};
use crate::core::error::UsageError;
use crate::core::ids::{JobId, RequestId};
use crate::core::job::{CallSpec, Delivery, EventRef, Failure, Progress};
use crate::core::outcome::Status;
use crate::core::reason::{Code, Reason};
use crate::core::retry::{backoff, MAX_ATTEMPTS, MAX_BACKOFF_MS};
use crate::core::time::Millis;
use crate::core::wire::{Envelope, Method};

use super::state::{Call, Engine, InFlight, CALL_TIMEOUT_MS, MAX_QUEUE_ATTEMPTS};

/// Whether a file answer is really a web page (a proxy's or Marketo's error page served with
/// 200): it is retried like any unreadable answer, never read as the file.
pub(super) fn looks_like_html(body: &str) -> bool {
    body.trim_start().starts_with('<')
}

impl Engine {
    /// Handles the HTTP answer to request `id`.
    ///
    /// # Errors
    /// [`UsageError::UnknownRequest`] when `id` is not waiting for an answer (answered already,
    /// or given up after [`CALL_TIMEOUT_MS`]); the answer is ignored.
    pub(crate) fn handle_response(
        &mut self,
        now: Millis,
        id: RequestId,
        status: u16,
        body: &str,
    ) -> Result<(), UsageError> {
        let now = self.clamp(now);
        if self.auth.owns(id) {
            self.identity_deadline = None;
            let ev = self.auth.handle_response(now, status, body, &mut self.jitter);
            self.after_auth(ev);
        } else {
            let flight = self.in_flight.remove(&id).ok_or(UsageError::UnknownRequest(id))?;
            self.answered(now, flight, status, body);
        }
        self.pump(now);
        Ok(())
    }

    /// A call got its answer: its job gets the result (a success or a file), or the refusal is
    /// classified ([`Engine::refused`]). The pace learns from every answer.
    fn answered(&mut self, now: Millis, flight: InFlight, status: u16, body: &str) {
        self.limiter.finish();
        let InFlight { call, token, deadline } = flight;
        self.left_queue(call.job);
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.started = true;
        }
        let parsed = Envelope::parse(body);
        // 606/615 lower the pace, anything else raises it.
        let answer_code = match &parsed {
            Ok(env) if !env.success => env.errors.first().map(|e| e.code.as_str()),
            _ => None,
        };
        self.limiter.observe(answer_code, deadline.saturating_sub(CALL_TIMEOUT_MS), now);
        self.stats.pace = self.limiter.pace().stats();
        let ok = (200..=299).contains(&status);
        let page = call.spec.raw && ok && looks_like_html(body);
        match (status, parsed) {
            // A file answer (CSV); a JSON error envelope still goes through the checks below.
            (_, parsed) if call.spec.raw && ok && !page && !matches!(&parsed, Ok(env) if !env.success) => {
                let step = call.spec.step;
                self.with_job(&call, |job, p| job.on_raw(step, body, p));
            }
            (200..=299, Ok(env)) if env.success => self.call_succeeded(call, &env),
            (200..=299, Ok(env)) => {
                let mut err = env.first_error();
                err.message = self.redact_message(&err.message);
                let reason = Reason::from(err);
                let class = reason.marketo_code().map_or(Class::Fail, classify_code);
                self.refused(now, call, &token, class, Failure::new(Status::Failed, reason, env.request_id));
            }
            (200..=299, Err(e)) => {
                let message = if page {
                    "Marketo answered with a web page instead of the file".into()
                } else {
                    e.message(|t| self.auth.redact(t))
                };
                let failure = Failure::new(Status::Failed, Reason::local("BAD_RESPONSE", message), None);
                self.refused(now, call, &token, Class::Retry { base_ms: 2_000 }, failure);
            }
            (status, _) => {
                let failure = Failure::new(Status::Failed, Reason::http(status), None);
                self.refused(now, call, &token, classify_http(status), failure);
            }
        }
    }

    /// A call Marketo did not carry out, by the class of its answer (the failure-handling
    /// table, [`crate::core::classify`]): sent again with a fresh token, held for the quota
    /// reset, retried, paced, split, resent as a POST, or failed for good.
    fn refused(&mut self, now: Millis, mut call: Call, token: &str, class: Class, failure: Failure) {
        match class {
            Class::Success => {}
            Class::RefreshToken if call.refreshes < 2 => {
                self.auth.invalidate(token);
                call.refreshes += 1;
                self.enqueue_front(call);
            }
            Class::WaitForQuota => {
                // Hold this call and all others until the reset; nothing is lost.
                self.limiter.quota_exhausted(now);
                call.rate_limited = None;
                self.enqueue_front(call);
            }
            Class::Retry { base_ms }
                if matches!(failure.reason.marketo_code().map(Code::as_str), Some("606" | "615")) =>
            {
                self.stats.rate_limited += 1;
                self.wait_for_pace(now, call, base_ms, failure);
            }
            // 6xx codes mean "not executed"; an HTTP error or garbled answer may hide an
            // applied call.
            Class::Retry { base_ms } => self.retry_transient(now, call, base_ms, failure),
            Class::WaitForBulkQueue => self.wait_for_bulk_queue(now, call, failure),
            Class::Split => self.split(call, failure),
            Class::MethodGet if call.spec.method == Method::Get => {
                call.spec = call.spec.into_post_form();
                self.enqueue_front(call);
            }
            Class::RefreshToken | Class::MethodGet | Class::Fail => self.call_failed(call, failure),
        }
    }

    /// Marketo's import queue is full (1016/1019): it drains at its own pace, so the call waits
    /// longer than for an error, and fails after [`MAX_QUEUE_ATTEMPTS`] such waits.
    fn wait_for_bulk_queue(&mut self, now: Millis, mut call: Call, failure: Failure) {
        call.rate_limited = None;
        if call.attempts >= MAX_ATTEMPTS {
            call.attempts = MAX_ATTEMPTS - 1;
            call.queue_waits += 1;
        }
        if call.queue_waits > MAX_QUEUE_ATTEMPTS {
            self.call_failed(call, failure);
        } else {
            self.retry(now, call, 30_000, failure);
        }
    }

    /// Marketo refused the call as too large (413): its job replaces it by smaller calls, or it
    /// fails when it cannot be split.
    fn split(&mut self, call: Call, failure: Failure) {
        let step = call.spec.step;
        let mut progress = Progress::default();
        let split = match self.jobs.get_mut(&call.job) {
            Some(entry) => entry.job.split(step, &mut progress),
            None => false,
        };
        if split {
            // The halves replace this call in the job's count of outstanding calls.
            if let Some(entry) = self.jobs.get_mut(&call.job) {
                entry.outstanding = entry.outstanding.saturating_sub(1);
            }
            self.apply(call.job, progress);
        } else {
            self.call_failed(call, failure);
        }
    }

    /// Handles a transport failure of request `id` (network error, connection dropped, host
    /// `fetch` threw). `message` must not contain secrets; it ends up in outcomes.
    ///
    /// # Errors
    /// [`UsageError::UnknownRequest`] when `id` is not waiting for an answer.
    pub(crate) fn handle_transport_error(
        &mut self,
        now: Millis,
        id: RequestId,
        message: &str,
    ) -> Result<(), UsageError> {
        let now = self.clamp(now);
        if self.auth.owns(id) {
            self.identity_deadline = None;
            let ev = self.auth.handle_transport_error(now, message, &mut self.jitter);
            self.after_auth(ev);
            self.pump(now);
            return Ok(());
        }
        let flight = self.in_flight.remove(&id).ok_or(UsageError::UnknownRequest(id))?;
        self.limiter.finish();
        self.left_queue(flight.call.job);
        let reason = Reason::local("NETWORK", format!("network error: {message}"));
        let failure = Failure::new(Status::Failed, reason, None);
        // A request lost in transport may have reached Marketo.
        self.retry_transient(now, flight.call, 2_000, failure);
        self.pump(now);
        Ok(())
    }

    /// Wakes the engine: due retries and held calls are sent, calls without an answer for
    /// [`CALL_TIMEOUT_MS`] are given up as transport failures.
    pub(crate) fn handle_timeout(&mut self, now: Millis) {
        let now = self.clamp(now);
        let expired: Vec<RequestId> =
            self.in_flight.iter().filter(|(_, f)| f.deadline <= now).map(|(id, _)| *id).collect();
        for id in expired {
            let _ = self.handle_transport_error(now, id, "no answer within the call timeout");
        }
        if let Some((id, deadline)) = self.identity_deadline {
            if deadline <= now {
                let _ = self.handle_transport_error(now, id, "no answer within the call timeout");
            }
        }
        // `delayed` is in time order (see `delay`): the calls due are its start.
        let due = self.delayed.partition_point(|(at, _)| *at <= now);
        let due: Vec<(Millis, Call)> = self.delayed.drain(..due).collect();
        for (_, call) in due {
            self.enqueue_follow(call);
        }
        if self.limiter_wake.is_some_and(|t| t <= now) {
            self.limiter_wake = None;
        }
        self.pump(now);
    }

    pub(super) fn apply(&mut self, job: JobId, mut progress: Progress) {
        let schema = progress.schema.take();
        if let Some(problems) = progress.check.take() {
            if let Some(i) = self.check_jobs.iter().position(|(j, _)| *j == job) {
                let (_, key) = self.check_jobs.swap_remove(i);
                self.checks_out.push_back((key, CheckResult::new(problems)));
            }
        }
        for (key, o) in progress.outcomes {
            self.emit(key, o);
        }
        if let Some(result) = progress.listing {
            if let Some(key) = self.listing_jobs.remove(&job) {
                self.listings_out.push_back((key, result));
            }
        }
        if let Some(filter) = self.jobs.get(&job).and_then(|j| j.lookup) {
            for (value, ids) in progress.learned {
                self.cache.insert(filter, &value, ids, self.now);
            }
        }
        for id in progress.forget {
            self.cache.forget(id);
        }
        self.issue(job, progress.calls);
        if let Some(result) = schema {
            self.schema_read(result);
        }
    }

    /// Job `job`'s new calls go to their queues (or wait for their delay); a job with no call
    /// left outstanding ends ([`Engine::end_job`]).
    fn issue(&mut self, job: JobId, calls: Vec<CallSpec>) {
        let n = calls.len();
        let started = self.jobs.get(&job).is_some_and(|j| j.started);
        for spec in calls {
            let delay = spec.delay_ms;
            let call = Call { job, spec, attempts: 0, refreshes: 0, queue_waits: 0, rate_limited: None };
            if delay > 0 {
                self.delay(self.now.saturating_add(delay), call);
                self.epoch += 1;
            } else if started {
                self.enqueue_follow(call);
            } else {
                self.enqueue_new(call);
            }
        }
        let done = match self.jobs.get_mut(&job) {
            Some(entry) => {
                entry.outstanding += n;
                entry.outstanding == 0
            }
            None => false,
        };
        if done {
            self.end_job(job);
        }
    }

    /// Job `job` has no call left: it is forgotten, its queue may send its next batch, and an
    /// event it left without an outcome fails (`INTERNAL`: a bug, never silence).
    fn end_job(&mut self, job: JobId) {
        if let Some(entry) = self.jobs.remove(&job) {
            for key in entry.events.iter() {
                if let Some(p) = self.pending.get_mut(&key) {
                    p.set_job(None);
                }
            }
            // Safety net for the invariant: a job that ends owes every event an outcome.
            for key in entry.events.iter() {
                if self.pending.contains_key(&key) {
                    let ev = EventRef { key };
                    let reason = Reason::local(
                        "INTERNAL",
                        "the connector finished this event without a result; please report this",
                    );
                    self.emit(key, ev.with_reason(Status::Failed, &reason, None));
                }
            }
        }
        for (_, q) in self.queues.iter_mut() {
            if q.busy == Some(job) {
                q.busy = None;
            }
        }
    }

    pub(super) fn with_job(&mut self, call: &Call, f: impl FnOnce(&mut dyn Delivery, &mut Progress)) {
        let mut progress = Progress::default();
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.outstanding = entry.outstanding.saturating_sub(1);
            f(entry.job.as_mut(), &mut progress);
        }
        self.apply(call.job, progress);
    }

    pub(super) fn call_succeeded(&mut self, call: Call, env: &Envelope) {
        let step = call.spec.step;
        self.with_job(&call, |job, p| job.on_success(step, env, p));
    }

    pub(super) fn call_failed(&mut self, call: Call, failure: Failure) {
        let step = call.spec.step;
        self.with_job(&call, |job, p| job.on_failure(step, &failure, p));
    }

    /// Retries a call after a transient failure. When the failure is `ambiguous` (the call may
    /// have been applied), a non-idempotent call is not repeated: its events are `uncertain`.
    pub(super) fn retry_transient(&mut self, now: Millis, call: Call, base: Millis, mut failure: Failure) {
        if failure.may_have_applied && !call.spec.idempotent {
            failure.status = Status::Uncertain;
            self.call_failed(call, failure);
        } else {
            self.retry(now, call, base, failure);
        }
    }

    /// Holds `call` until `at`: after every call held until then or earlier, so `delayed`
    /// stays in time order and calls due at one time go in the order they were held.
    pub(super) fn delay(&mut self, at: Millis, call: Call) {
        let i = self.delayed.partition_point(|(t, _)| *t <= at);
        self.delayed.insert(i, (at, call));
    }

    pub(super) fn retry(&mut self, now: Millis, call: Call, base: Millis, mut failure: Failure) {
        if call.attempts >= MAX_ATTEMPTS {
            failure.reason.message_mut().push_str(&format!(" (gave up after {} attempts)", call.attempts));
            self.call_failed(call, failure);
            return;
        }
        self.stats.retries += 1;
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.job.on_retry(call.spec.step);
        }
        let at = now + backoff(call.attempts, base, MAX_BACKOFF_MS, &mut self.jitter);
        self.delay(at, call);
        self.epoch += 1;
    }

    /// Sends a call Marketo refused with 606/615 again later: "not executed", so it costs no
    /// attempt; the pace (lowered by the refusal) and a backoff from `base` space it out, and
    /// its events fail only once refusals have lasted `limits.deliveryDeadlineMs`.
    pub(super) fn wait_for_pace(&mut self, now: Millis, mut call: Call, base: Millis, mut failure: Failure) {
        let (since, times) = call.rate_limited.unwrap_or((now, 0));
        // Time held by a daily-quota pause meanwhile is not refusal time.
        let since = since.max(self.limiter.quota_hold_ended().unwrap_or(0)).min(now);
        let deadline = self.settings.limits.delivery_deadline_ms;
        if now.saturating_sub(since) >= deadline {
            failure.reason.message_mut().push_str(&format!(
                " (Marketo refused this call {} times over {} s: the instance's shared limits are taken by other apps; gave up after limits.deliveryDeadlineMs = {deadline} ms)",
                times + 1,
                now.saturating_sub(since) / 1000
            ));
            self.call_failed(call, failure);
            return;
        }
        call.attempts = call.attempts.saturating_sub(1);
        call.rate_limited = Some((since, times.saturating_add(1)));
        self.stats.retries += 1;
        if let Some(entry) = self.jobs.get_mut(&call.job) {
            entry.job.on_retry(call.spec.step);
        }
        let wait = backoff(times.saturating_add(1).min(4), base, MAX_BACKOFF_MS, &mut self.jitter);
        let at = now.saturating_add(wait).min(since.saturating_add(deadline));
        self.delay(at, call);
        self.epoch += 1;
    }

    pub(super) fn after_auth(&mut self, ev: AuthEvent) {
        // Retrying: calls now wait for an identity backoff; Rejected: their events fail.
        self.epoch += 1;
        if let AuthEvent::Rejected { code, message } = ev {
            let reason = Reason::local(code, message);
            let waiting: Vec<Call> = self.follow.drain(..).chain(self.ready.drain(..)).collect();
            for call in waiting {
                self.left_queue(call.job);
                self.call_failed(call, Failure::new(Status::Failed, reason.clone(), None));
            }
        }
    }
}
