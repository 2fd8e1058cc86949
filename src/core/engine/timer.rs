//! When the engine next needs the host to wake it.

use crate::core::batch::Queue;
use crate::core::time::Millis;

use super::state::Engine;

impl Engine {
    /// When to call [`Engine::handle_timeout`] next; `None` when nothing waits on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.needs_pump {
            return Some(self.now);
        }
        let mut t: Option<Millis> = None;
        let mut take = |x: Millis| t = Some(t.map_or(x, |t: Millis| t.min(x)));
        self.delayed.iter().for_each(|(at, _)| take(*at));
        self.queues.values().filter_map(Queue::deadline).for_each(&mut take);
        self.in_flight.values().for_each(|f| take(f.deadline));
        if let Some((_, d)) = self.identity_deadline {
            take(d);
        }
        if !self.ready.is_empty() || !self.follow.is_empty() {
            if let Some(w) = self.limiter_wake {
                take(w);
            }
            if let Some(w) = self.auth.wake_at() {
                take(w);
            }
        }
        t
    }
}
