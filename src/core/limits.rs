//! The client-side limiter: every call the connector makes (lookups included, identity calls
//! excluded, as Marketo does not count them) is admitted only within `limits`, so the
//! connector itself never provokes 606 (rate), 615 (concurrency) or 607 (daily quota).

use std::collections::VecDeque;

use super::pace::Pace;
use super::settings::Limits;
use super::time::{next_quota_reset, quota_day, quota_resume_at, Millis};

/// Marketo's rate window.
pub const WINDOW_MS: Millis = 20_000;

/// Counts calls against the configured limits.
#[derive(Debug, Clone)]
pub struct Limiter {
    limits: Limits,
    /// Start times of calls in the current 20 s window, oldest first.
    window: VecDeque<Millis>,
    in_flight: u32,
    day: i64,
    used_today: u32,
    /// The pace within `limits` (lowered on 606/615, raised as calls go through).
    pace: Pace,
    /// After a `607`: no call before this instant (see [`quota_resume_at`]).
    quota_pause: Option<Millis>,
    /// The last check was refused for the daily quota (a `607` pause or the count).
    held_by_quota: bool,
    /// When calls last went on after being held for the daily quota.
    quota_hold_ended: Option<Millis>,
}

/// Why a call may not start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// All concurrency slots are taken: wait for an answer.
    Concurrency,
    /// The 20 s window is full until the given time.
    Rate(Millis),
    /// The daily quota is spent until the given time (the next CST midnight).
    Quota(Millis),
}

impl Limiter {
    /// A limiter with nothing counted yet.
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            pace: Pace::new(&limits),
            limits,
            window: VecDeque::new(),
            in_flight: 0,
            day: i64::MIN,
            used_today: 0,
            quota_pause: None,
            held_by_quota: false,
            quota_hold_ended: None,
        }
    }

    fn roll(&mut self, now: Millis) {
        while self.window.front().is_some_and(|t| t + WINDOW_MS <= now) {
            self.window.pop_front();
        }
        let day = quota_day(now);
        if day != self.day {
            self.day = day;
            self.used_today = 0;
        }
    }

    /// Whether a call may start at `now`.
    pub fn check(&mut self, now: Millis) -> Result<(), Blocked> {
        self.roll(now);
        if let Some(until) = self.quota_pause {
            if now < until {
                self.held_by_quota = true;
                return Err(Blocked::Quota(until));
            }
            // A candidate reset has passed: Marketo's count starts again.
            self.quota_pause = None;
            self.used_today = 0;
        }
        if self.used_today >= self.limits.daily_quota {
            self.held_by_quota = true;
            return Err(Blocked::Quota(next_quota_reset(now)));
        }
        if self.held_by_quota {
            self.held_by_quota = false;
            self.quota_hold_ended = Some(now);
        }
        if self.in_flight >= self.pace.concurrency() {
            return Err(Blocked::Concurrency);
        }
        let rate = self.pace.calls_per_20s() as usize;
        if self.window.len() >= rate {
            // The window drops below the pace when its (len − rate + 1) oldest calls age out.
            let at = self.window.get(self.window.len() - rate).copied().unwrap_or(now);
            return Err(Blocked::Rate(at + WINDOW_MS));
        }
        Ok(())
    }

    /// When calls last went on after a daily-quota hold: time held for the quota does not count
    /// toward `limits.deliveryDeadlineMs`.
    pub fn quota_hold_ended(&self) -> Option<Millis> {
        self.quota_hold_ended
    }

    /// The pace within `limits`.
    pub fn pace(&self) -> &Pace {
        &self.pace
    }

    /// Lets the pace learn from an answer (see [`Pace::observe`]).
    pub fn observe(&mut self, code: Option<&str>, sent: Millis, now: Millis) {
        self.pace.observe(code, sent, now);
    }

    /// Records a call starting at `now` (after a successful [`Limiter::check`]).
    pub fn start(&mut self, now: Millis) {
        self.roll(now);
        self.window.push_back(now);
        self.in_flight += 1;
        self.used_today = self.used_today.saturating_add(1);
    }

    /// Records a call's end (answered, failed or timed out).
    pub fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Marks the daily quota as spent (Marketo answered 607) until the earliest candidate reset
    /// after `now` ([`quota_resume_at`]): Central local midnight, or CST midnight when Marketo
    /// still answered 607 after the former.
    pub fn quota_exhausted(&mut self, now: Millis) {
        self.roll(now);
        self.used_today = self.limits.daily_quota;
        self.quota_pause = Some(quota_resume_at(now));
    }

    /// The quota day and the calls counted in it (for snapshots).
    pub fn quota_state(&self) -> (i64, u32) {
        (self.day, self.used_today)
    }

    /// Carries over a snapshot's quota count; a count for another day is ignored on the next
    /// call, as the day has turned.
    pub fn restore_quota(&mut self, day: i64, used: u32) {
        self.day = day;
        self.used_today = used;
    }

    /// Start times of the calls in the current 20 s window (for snapshots).
    pub fn recent_calls(&self) -> Vec<Millis> {
        self.window.iter().copied().collect()
    }

    /// Carries over a snapshot's recent calls, so a restart cannot exceed the window.
    pub fn restore_recent_calls(&mut self, calls: &[Millis]) {
        self.window = calls.iter().copied().collect();
    }

    /// Calls counted today.
    pub fn used_today(&self) -> u32 {
        self.used_today
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_concurrency_and_quota() {
        let mut l =
            Limiter::new(Limits { calls_per_20s: 2, concurrency: 1, daily_quota: 3, ..Limits::default() });
        l.check(0).unwrap();
        l.start(0);
        assert_eq!(l.check(1), Err(Blocked::Concurrency));
        l.finish();
        l.start(5);
        l.finish();
        assert_eq!(l.check(6), Err(Blocked::Rate(20_000)));
        assert_eq!(l.check(19_999), Err(Blocked::Rate(20_000)));
        l.check(20_000).unwrap();
        l.start(20_000);
        l.finish();
        match l.check(40_000) {
            Err(Blocked::Quota(at)) => assert_eq!(at, next_quota_reset(40_000)),
            other => panic!("{other:?}"),
        }
        l.check(next_quota_reset(40_000)).unwrap();
    }

    #[test]
    fn a_lowered_pace_waits_until_the_window_is_below_it() {
        let mut l = Limiter::new(Limits { calls_per_20s: 4, concurrency: 4, ..Limits::default() });
        for t in 0..4 {
            l.check(t).unwrap();
            l.start(t);
            l.finish();
        }
        l.observe(Some("606"), 3, 10);
        assert_eq!(l.pace().calls_per_20s(), 2);
        // Two of the four calls must age out: the one at t=1 leaves at 20_001, the one at t=2
        // at 20_002, then one slot is free.
        assert_eq!(l.check(10), Err(Blocked::Rate(20_002)));
        l.check(20_002).unwrap();
    }
}
