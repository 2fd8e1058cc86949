//! The client-side limiter: every call the connector makes (lookups included, identity calls
//! excluded, as Marketo does not count them) is admitted only within `limits`, so the
//! connector itself never provokes 606 (rate), 615 (concurrency) or 607 (daily quota).

use std::collections::VecDeque;

use super::pace::Pace;
use super::time::{next_quota_reset, quota_day, quota_resume_at, Millis};
use crate::core::config::Limits;

/// Marketo's rate window.
pub const WINDOW_MS: Millis = 20_000;

/// Counts calls against the configured limits.
#[derive(Debug, Clone)]
pub struct Limiter {
    limits: Limits,
    /// Start times of calls in the current 20 s window, oldest first.
    window: VecDeque<Millis>,
    in_flight: u32,
    /// Deadlines of calls a previous instance left in flight (from a snapshot): Marketo may
    /// still be running them, so each holds a concurrency slot until its call timeout passes.
    inherited: Vec<Millis>,
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
            inherited: Vec::new(),
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
        self.inherited.retain(|deadline| *deadline > now);
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
        if self.in_flight.saturating_add(self.inherited.len() as u32) >= self.pace.concurrency() {
            if self.in_flight > 0 {
                return Err(Blocked::Concurrency);
            }
            // Only calls a dead instance left open hold the slots: no answer will free them,
            // their timeout will.
            let first = self.inherited.iter().copied().min().unwrap_or(now);
            return Err(Blocked::Rate(first));
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
    /// A day not yet counted is day 0 with nothing used (never `i64::MIN`, which JSON numbers
    /// cannot carry exactly: a snapshot must survive a JSON round trip).
    pub fn quota_state(&self) -> (i64, u32) {
        if self.day == i64::MIN {
            (0, 0)
        } else {
            (self.day, self.used_today)
        }
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
        let mut calls = calls.to_vec();
        calls.sort_unstable();
        self.window = calls.into_iter().collect();
    }

    /// Counts calls a previous instance left in flight against the concurrency limit until
    /// their `deadlines` (its call timeouts) pass. Deadlines later than `latest` (a snapshot
    /// from a clock ahead of this one) are cut to it.
    pub fn inherit_in_flight(&mut self, deadlines: &[Millis], now: Millis, latest: Millis) {
        self.inherited = deadlines.iter().map(|d| (*d).min(latest)).filter(|d| *d > now).collect();
    }

    /// Deadlines of the calls in flight now, real ones at `now + timeout` (for snapshots).
    pub fn inherited(&self) -> &[Millis] {
        &self.inherited
    }

    /// The host clock stepped back to `now`: calls recorded later than it are forgotten (they
    /// would hold the window for as long as the step), and a quota day later than `now`'s is
    /// dropped with its count, so the connector never waits on time that has not come.
    pub fn forget_after(&mut self, now: Millis) {
        self.window.retain(|t| *t <= now);
        if self.day > quota_day(now) {
            self.day = i64::MIN;
            self.used_today = 0;
            self.quota_pause = None;
        }
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
    fn calls_a_dead_instance_left_open_hold_slots_until_their_timeout() {
        let mut l = Limiter::new(Limits {
            calls_per_20s: 100,
            concurrency: 2,
            daily_quota: 1000,
            ..Limits::default()
        });
        // Two calls were in flight at the snapshot, deadlines 5_000 and 9_000.
        l.inherit_in_flight(&[5_000, 9_000], 1_000, u64::MAX);
        assert_eq!(l.check(1_000), Err(Blocked::Rate(5_000)), "no slot while both may still run");
        l.check(5_000).unwrap();
        l.start(5_000);
        assert_eq!(l.check(5_001), Err(Blocked::Concurrency), "one real call and one inherited");
        l.finish();
        l.check(9_000).unwrap();
        // A deadline from a clock ahead of ours is cut to the latest it can be.
        l.inherit_in_flight(&[u64::MAX - 1], 0, 200_000);
        assert_eq!(l.inherited(), &[200_000]);
    }

    #[test]
    fn a_clock_step_back_forgets_calls_and_quota_days_from_the_future() {
        let mut l =
            Limiter::new(Limits { calls_per_20s: 1, concurrency: 5, daily_quota: 1, ..Limits::default() });
        let later = 10 * 86_400_000;
        l.start(later);
        l.finish();
        assert!(l.check(later + 1).is_err());
        l.forget_after(1_000);
        assert_eq!(l.check(1_000), Ok(()), "the window and the spent day were in the future");
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
