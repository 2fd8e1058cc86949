//! Calls out: the queues of calls waiting to be sent, the limiter and auth in front of them,
//! and the requests and outcomes the host polls.

use crate::core::config::FilterType;
use crate::core::ids::{EventKey, EventKeys, JobId, RequestId};
use crate::core::job::{Api, CallSpec, Delivery, Progress};
use crate::core::limits::Blocked;
use crate::core::outcome::Outcome;
use crate::core::time::Millis;
use crate::core::wire::{cut, query_string, HttpRequest, Method, MAX_MESSAGE_CHARS};

use super::state::{Call, Engine, InFlight, JobEntry, CALL_TIMEOUT_MS};

/// How long Marketo itself may run a call before it times out, by endpoint: Merge 180 s, Sync
/// Leads 90 s, Get Leads by Filter 60 s, everything else 30 s. A call a dead instance left in
/// flight cannot hold a slot at Marketo longer than this after it was sent.
/// Source: <https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads>.
pub(super) fn marketo_timeout_ms(spec: &CallSpec) -> Millis {
    let lookup = spec.query.iter().any(|(k, v)| k == "_method" && v == "GET");
    match (spec.method, spec.path.as_str()) {
        (_, p) if p.ends_with("/merge.json") => 180_000,
        (Method::Post, "/v1/leads.json") if !lookup => 90_000,
        (_, "/v1/leads.json") => 60_000,
        _ => 30_000,
    }
}

impl Engine {
    /// Registers and starts a job; `None` when it finished at once (no call needed).
    pub(super) fn start_job(
        &mut self,
        mut job: Box<dyn Delivery>,
        mut progress: Progress,
        lookup: Option<FilterType>,
        events: EventKeys,
    ) -> Option<JobId> {
        self.next_job += 1;
        let id = JobId(self.next_job);
        job.start(&mut progress);
        for key in events.iter() {
            if let Some(p) = self.pending.get_mut(&key) {
                p.set_job(Some(id));
            }
        }
        self.jobs.insert(id, JobEntry { job, outstanding: 0, sending: 0, started: false, lookup, events });
        self.apply(id, progress);
        self.jobs.contains_key(&id).then_some(id)
    }

    /// Queues a new job's first call: after every call of a job already started.
    pub(super) fn enqueue_new(&mut self, call: Call) {
        self.count_sending(call.job);
        self.ready.push_back(call);
    }

    /// Queues a call of a job Marketo has answered already (its next step, or a due retry).
    pub(super) fn enqueue_follow(&mut self, call: Call) {
        self.count_sending(call.job);
        self.follow.push_back(call);
    }

    /// Queues a call to be sent again at once (token refresh, quota hold, `_method=GET`).
    pub(super) fn enqueue_front(&mut self, call: Call) {
        self.count_sending(call.job);
        self.follow.push_front(call);
    }

    /// One more call of `job` waits to be sent. While calls wait on time (the rate window, the
    /// quota, an identity backoff), its events stop being [`Engine::in_progress`]: the stall
    /// epoch rises, so their waiters are looked at (the time block itself may be unchanged).
    pub(super) fn count_sending(&mut self, job: JobId) {
        if let Some(entry) = self.jobs.get_mut(&job) {
            entry.sending += 1;
        }
        if self.time_blocked() {
            self.epoch += 1;
        }
    }

    /// A call left the queues for good (answered, failed in transport, or failed unsent).
    pub(super) fn left_queue(&mut self, job: JobId) {
        if let Some(entry) = self.jobs.get_mut(&job) {
            entry.sending = entry.sending.saturating_sub(1);
        }
    }

    pub(super) fn url_of(&self, spec: &CallSpec) -> String {
        let base = match spec.api {
            Api::Rest => &self.settings.rest_base,
            Api::Bulk => &self.settings.bulk_base,
        };
        if spec.query.is_empty() {
            format!("{base}{}", spec.path)
        } else {
            format!("{base}{}?{}", spec.path, query_string(&spec.query))
        }
    }

    /// The next request's id (never 0: hosts may read 0 as "none").
    pub(super) fn next_request_id(&mut self) -> RequestId {
        self.next_request = self.next_request.wrapping_add(1).max(1);
        RequestId(self.next_request)
    }

    /// Sends what may be sent: due batches become jobs, a token comes first, then calls go
    /// out within the limits.
    pub(super) fn pump(&mut self, now: Millis) {
        if self.suspect_now.is_some() {
            // A held clock reading: nothing leaves with deadlines or window times computed from
            // a time that may be wrong; the next reading decides (`poll_timeout` asks for it).
            self.needs_pump = true;
            self.epoch += 1;
            return;
        }
        self.needs_pump = false;
        self.dispatch_queues(now);
        if self.ready.is_empty() && self.follow.is_empty() {
            return;
        }
        let token = match self.auth.token(now) {
            Some(t) => t.to_string(),
            None => {
                if self.auth.should_fetch(now) {
                    let id = self.next_request_id();
                    let req = self.auth.identity_request(id, &self.settings);
                    self.identity_deadline = Some((id, now + CALL_TIMEOUT_MS));
                    self.stats.identity_calls += 1;
                    self.requests_out.push_back(req);
                }
                return;
            }
        };
        while !self.ready.is_empty() || !self.follow.is_empty() {
            match self.limiter.check(now) {
                Ok(()) => {}
                Err(Blocked::Concurrency) => break,
                Err(Blocked::Rate(at)) | Err(Blocked::Quota(at)) => {
                    if self.limiter_wake != Some(at) {
                        self.epoch += 1;
                    }
                    self.limiter_wake = Some(at);
                    break;
                }
            }
            let Some(call) = self.follow.pop_front().or_else(|| self.ready.pop_front()) else { break };
            self.send(now, call, &token);
        }
    }

    /// Sends `call` now with `token`: it counts against the limits and waits for its answer
    /// until [`CALL_TIMEOUT_MS`].
    fn send(&mut self, now: Millis, mut call: Call, token: &str) {
        self.limiter.start(now);
        self.stats.calls += 1;
        call.attempts += 1;
        let id = self.next_request_id();
        let mut headers = vec![
            ("Authorization".to_string(), format!("Bearer {token}")),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        let body = call.spec.body.as_ref().map(|(b, ct)| {
            headers.push(("Content-Type".to_string(), ct.clone()));
            b.clone()
        });
        self.requests_out.push_back(HttpRequest {
            id,
            method: call.spec.method,
            url: self.url_of(&call.spec),
            headers,
            body,
        });
        self.in_flight
            .insert(id, InFlight { call, token: token.to_string(), deadline: now + CALL_TIMEOUT_MS });
    }

    /// The next request to send.
    pub(crate) fn poll_request(&mut self) -> Option<HttpRequest> {
        self.requests_out.pop_front()
    }

    /// The next outcome: final ones exactly once per event. Its code, message and request id
    /// never carry the client secret or a token issued (see [`Engine::redact`]).
    pub(crate) fn poll_outcome(&mut self) -> Option<(EventKey, Outcome)> {
        let (key, mut o) = self.outcomes_out.pop_front()?;
        for text in [&mut o.code, &mut o.message, &mut o.request_id].into_iter().flatten() {
            *text = self.redact_message(text);
        }
        Some((key, o))
    }

    /// [`Engine::redact`], then cut to [`MAX_MESSAGE_CHARS`] (never cut before redaction).
    pub(super) fn redact_message(&self, text: &str) -> String {
        cut(&self.auth.redact(text), MAX_MESSAGE_CHARS)
    }
}
