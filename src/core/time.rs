//! Time as data: epoch milliseconds passed in by the host, and Marketo's quota day. Nothing here
//! reads a clock. (Dates in mapped values are [`super::date`].)

pub use super::date::to_iso8601;

/// Milliseconds since the Unix epoch, as the host's `now()` reports them.
pub type Millis = u64;

/// Offset of US Central Standard Time from UTC, in milliseconds. Marketo documents the daily
/// quota reset as "12:00 AM CST"; the limiter counts days on that fixed offset.
pub const CST_OFFSET_MS: i64 = -6 * 3_600_000;

/// Index of the Marketo quota day (midnight-to-midnight CST) that `now` falls in.
pub fn quota_day(now: Millis) -> i64 {
    (now as i64 + CST_OFFSET_MS).div_euclid(86_400_000)
}

/// The first instant of the quota day after the one `now` falls in.
pub fn next_quota_reset(now: Millis) -> Millis {
    let next = (quota_day(now) + 1) * 86_400_000 - CST_OFFSET_MS;
    next.max(0) as Millis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_day_turns_at_cst_midnight() {
        // 2025-11-28T06:00:00Z is midnight CST.
        let midnight = 1_764_309_600_000;
        assert_eq!(quota_day(midnight - 1) + 1, quota_day(midnight));
        assert_eq!(next_quota_reset(midnight - 1), midnight);
        assert_eq!(next_quota_reset(midnight), midnight + 86_400_000);
    }
}
