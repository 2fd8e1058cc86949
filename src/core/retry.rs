//! Retry timing: exponential backoff with jitter drawn from a seeded generator, so a test that
//! fixes the seed sees the same schedule every run.

use super::time::Millis;

/// SplitMix64: tiny, well-distributed, and seeded by the host (the core reads no entropy).
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator seeded by the host.
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The longest wait before a retry (ms): every backoff is capped here.
pub const MAX_BACKOFF_MS: Millis = 120_000;

/// Attempts per call before its events fail (the first try included).
pub const MAX_ATTEMPTS: u32 = 6;

/// How long to wait before attempt `attempt + 1`, having made `attempt` attempts (≥ 1):
/// `base · 2^(attempt-1)` capped at `cap`, then "equal jitter" (half fixed, half random) so
/// clients that failed together do not retry together.
pub fn backoff(attempt: u32, base: Millis, cap: Millis, jitter: &mut Jitter) -> Millis {
    let exp = base.saturating_mul(1u64 << attempt.saturating_sub(1).min(20)).min(cap);
    let half = exp / 2;
    half + if half == 0 { 0 } else { jitter.next_u64() % (half + 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_is_deterministic_per_seed() {
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        for attempt in 1..10 {
            let d = backoff(attempt, 1_000, 60_000, &mut a);
            assert_eq!(d, backoff(attempt, 1_000, 60_000, &mut b));
            let exp = (1_000u64 << (attempt - 1)).min(60_000);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d}");
        }
    }
}
