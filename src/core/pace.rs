//! The pace: how many calls the connector lets start per 20 s and how many it keeps in flight
//! right now, never above `limits.callsPer20s` and `limits.concurrency`.
//!
//! Marketo's 100 calls per 20 s and 10 concurrent calls are per instance, shared with every
//! other integration using it (<https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/rest-api#limits>).
//! When other apps use part of them, Marketo refuses calls the client-side limiter let through
//! with `606` (rate) or `615` (concurrency); those calls were not executed. The pace adapts by
//! AIMD, as TCP's congestion window does (RFC 5681 §3.1,
//! <https://www.rfc-editor.org/rfc/rfc5681#section-3.1>):
//!
//! - **multiplicative decrease**: a `606` halves the calls per 20 s, a `615` halves the
//!   concurrency (never below 1). Answers to calls sent before the last decrease were sent at
//!   the old pace and lower nothing more, so one burst of refusals halves the pace once;
//! - **additive increase**: every answer that is not a `606`/`615` is a call that went through;
//!   after as many of them as the current calls-per-20 s (one window's worth) the rate rises by
//!   one, and after ten times the current concurrency the concurrency rises by one, up to the
//!   configured limits.

use serde::Serialize;

use super::time::Millis;
use crate::core::config::Limits;

/// Calls that must go through, per unit of concurrency, before the concurrency rises by one.
const CONCURRENCY_STEP_CALLS: u32 = 10;

/// The current pace, as `stats().pace` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaceStats {
    /// Calls the connector lets start in any 20 s window now (≤ `limits.callsPer20s`).
    #[serde(rename = "callsPer20s")]
    pub calls_per_20s: u32,
    /// Calls the connector keeps in flight at most now (≤ `limits.concurrency`).
    pub concurrency: u32,
}

/// AIMD state for the rate and the concurrency.
#[derive(Debug, Clone)]
pub struct Pace {
    max_rate: u32,
    max_concurrency: u32,
    rate: u32,
    concurrency: u32,
    /// Calls through since the rate last changed.
    rate_credit: u32,
    /// Calls through since the concurrency last changed.
    concurrency_credit: u32,
    /// When the rate was last lowered.
    rate_lowered_at: Option<Millis>,
    /// When the concurrency was last lowered.
    concurrency_lowered_at: Option<Millis>,
}

impl Pace {
    /// Starts at the configured limits.
    pub fn new(limits: &Limits) -> Pace {
        let max_rate = limits.calls_per_20s.max(1);
        let max_concurrency = limits.concurrency.max(1);
        Pace {
            max_rate,
            max_concurrency,
            rate: max_rate,
            concurrency: max_concurrency,
            rate_credit: 0,
            concurrency_credit: 0,
            rate_lowered_at: None,
            concurrency_lowered_at: None,
        }
    }

    /// Calls allowed to start in any 20 s window now.
    pub fn calls_per_20s(&self) -> u32 {
        self.rate
    }

    /// Calls allowed in flight now.
    pub fn concurrency(&self) -> u32 {
        self.concurrency
    }

    /// The pace for `stats()`.
    pub fn stats(&self) -> PaceStats {
        PaceStats { calls_per_20s: self.rate, concurrency: self.concurrency }
    }

    /// Marketo answered a call sent at `sent` with `code` (`Some` for a `success:false` answer's
    /// first error code, `None` otherwise) at `now`.
    pub fn observe(&mut self, code: Option<&str>, sent: Millis, now: Millis) {
        match code {
            Some("606") => {
                if self.rate_lowered_at.is_some_and(|t| sent < t) {
                    return;
                }
                self.rate = (self.rate / 2).max(1);
                self.rate_credit = 0;
                self.rate_lowered_at = Some(now);
            }
            Some("615") => {
                if self.concurrency_lowered_at.is_some_and(|t| sent < t) {
                    return;
                }
                self.concurrency = (self.concurrency / 2).max(1);
                self.concurrency_credit = 0;
                self.concurrency_lowered_at = Some(now);
            }
            _ => {
                if self.rate < self.max_rate {
                    self.rate_credit += 1;
                    if self.rate_credit >= self.rate {
                        self.rate += 1;
                        self.rate_credit = 0;
                    }
                }
                if self.concurrency < self.max_concurrency {
                    self.concurrency_credit += 1;
                    if self.concurrency_credit >= self.concurrency.saturating_mul(CONCURRENCY_STEP_CALLS) {
                        self.concurrency += 1;
                        self.concurrency_credit = 0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { calls_per_20s: 50, concurrency: 5, ..Limits::default() }
    }

    #[test]
    fn a_606_halves_the_rate_once_per_burst_and_calls_through_raise_it_one_by_one() {
        let mut p = Pace::new(&limits());
        assert_eq!(p.stats(), PaceStats { calls_per_20s: 50, concurrency: 5 });
        // Three refusals of calls sent before the first was answered: one halving.
        p.observe(Some("606"), 100, 1_000);
        p.observe(Some("606"), 200, 1_010);
        p.observe(Some("606"), 999, 1_020);
        assert_eq!(p.calls_per_20s(), 25);
        // A call sent after the decrease and refused again halves it again.
        p.observe(Some("606"), 1_000, 2_000);
        assert_eq!(p.calls_per_20s(), 12);
        for _ in 0..11 {
            p.observe(None, 3_000, 3_000);
        }
        assert_eq!(p.calls_per_20s(), 12, "one window's worth of calls is needed");
        p.observe(None, 3_000, 3_000);
        assert_eq!(p.calls_per_20s(), 13);
        for _ in 0..10_000 {
            p.observe(None, 4_000, 4_000);
        }
        assert_eq!(p.calls_per_20s(), 50, "never above limits.callsPer20s");
        assert_eq!(p.concurrency(), 5);
    }

    #[test]
    fn a_615_halves_the_concurrency_never_below_one() {
        let mut p = Pace::new(&limits());
        for t in 1..10 {
            p.observe(Some("615"), t * 1_000, t * 1_000);
        }
        assert_eq!((p.concurrency(), p.calls_per_20s()), (1, 50));
        for _ in 0..10 {
            p.observe(None, 20_000, 20_000);
        }
        assert_eq!(p.concurrency(), 2);
        for _ in 0..10_000 {
            p.observe(None, 20_000, 20_000);
        }
        assert_eq!(p.concurrency(), 5, "never above limits.concurrency");
    }
}
