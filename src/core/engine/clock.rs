//! The clock guard: every input reads the host's `now` through [`Engine::clamp`].

use crate::core::time::Millis;

use super::state::{Engine, CLOCK_JUMP_MS, CLOCK_STEP_TOLERANCE_MS, MAX_NOW};

impl Engine {
    /// The guard every host reading goes through (see the module docs): never past
    /// [`MAX_NOW`], so deadlines computed from it cannot overflow; small steps back read as the
    /// last time; a large step back moves the engine's waits back with it; a jump of more than
    /// [`CLOCK_JUMP_MS`] ahead counts only once a second reading confirms it.
    pub(super) fn clamp(&mut self, now: Millis) -> Millis {
        let now = now.min(MAX_NOW);
        if now > self.now.saturating_add(CLOCK_JUMP_MS) {
            let confirmed = self.suspect_now.is_some_and(|s| now >= s && now - s <= CLOCK_JUMP_MS);
            if !confirmed {
                self.suspect_now = Some(now);
                return self.now;
            }
        }
        self.suspect_now = None;
        if now.saturating_add(CLOCK_STEP_TOLERANCE_MS) < self.now {
            self.step_back(now);
        }
        self.now = self.now.max(now);
        self.now
    }

    /// The host clock was set back to `now`: every wait computed from the later time keeps its
    /// remaining length from `now` (retries, call timeouts), and recorded times later than
    /// `now` (batch arrivals, the rate window, a quota day) are brought back to it.
    pub(super) fn step_back(&mut self, now: Millis) {
        let old = self.now;
        let rebase = |t: Millis| now.saturating_add(t.saturating_sub(old));
        for (at, _) in &mut self.delayed {
            *at = rebase(*at);
        }
        for (_, f) in self.in_flight.iter_mut() {
            f.deadline = rebase(f.deadline);
        }
        if let Some((_, d)) = &mut self.identity_deadline {
            *d = rebase(*d);
        }
        self.auth.step_back(old, now);
        self.limiter.forget_after(now);
        self.limiter_wake = None;
        self.pending.update_all(|p| p.accepted_at = p.accepted_at.min(now));
        for (_, q) in self.queues.iter_mut() {
            q.arrived_by(now);
        }
        self.now = now;
    }
}
