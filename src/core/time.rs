//! Time as data: epoch milliseconds passed in by the host, and Marketo's quota day in US
//! Central time. Nothing here reads a clock. (Dates in mapped values are [`super::date`].)

pub use super::date::to_iso8601;
use super::date::{civil_from_days, days_from_civil, weekday};

/// Milliseconds since the Unix epoch, as the host's `now()` reports them.
pub type Millis = u64;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Offset of US Central Standard Time from UTC, in milliseconds (UTC−6).
pub const CST_OFFSET_MS: i64 = -6 * HOUR_MS;
/// Offset of US Central Daylight Time from UTC, in milliseconds (UTC−5).
pub const CDT_OFFSET_MS: i64 = -5 * HOUR_MS;

/// Day number of the n-th (1-based) Sunday of a month.
fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    first + i64::from((7 - weekday(first)) % 7) + 7 * (n - 1)
}

/// The local dates (day numbers) on which US daylight time starts and ends in `year`: the
/// second Sunday of March and the first Sunday of November, each at 02:00 local time (the
/// rule of the Energy Policy Act of 2005, in force since 2007, 15 U.S.C. §260a;
/// <https://www.law.cornell.edu/uscode/text/15/260a>). No time-zone database is needed.
fn dst_dates(year: i64) -> (i64, i64) {
    (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
}

/// Offset of US Central local time from UTC at the instant `now`: CDT (UTC−5) from the second
/// Sunday of March 02:00 CST (08:00 UTC) to the first Sunday of November 02:00 CDT (07:00 UTC),
/// CST (UTC−6) otherwise.
pub fn central_offset_ms(now: Millis) -> i64 {
    let t = now as i64;
    let (year, _, _) = civil_from_days((t + CST_OFFSET_MS).div_euclid(DAY_MS));
    let (start, end) = dst_dates(year);
    let starts = start * DAY_MS + 2 * HOUR_MS - CST_OFFSET_MS;
    let ends = end * DAY_MS + 2 * HOUR_MS - CDT_OFFSET_MS;
    if (starts..ends).contains(&t) {
        CDT_OFFSET_MS
    } else {
        CST_OFFSET_MS
    }
}

/// The UTC instant of local midnight starting Central day `day` (days since 1970-01-01 in
/// Central local time). Midnight is never inside a change (changes happen at 02:00): it is in
/// daylight time when the date is after the March change day and up to the November one.
fn central_midnight(day: i64) -> i64 {
    let (year, _, _) = civil_from_days(day);
    let (start, end) = dst_dates(year);
    let offset = if day > start && day <= end { CDT_OFFSET_MS } else { CST_OFFSET_MS };
    day * DAY_MS - offset
}

/// Index of the Marketo quota day that `now` falls in: the date in US Central local time
/// (days since 1970-01-01). Marketo documents the reset as "12:00 AM CST" without saying
/// whether daylight time applies
/// (<https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/rest-api>): the
/// client-side count follows the local day, and [`quota_resume_at`] tries both readings.
pub fn quota_day(now: Millis) -> i64 {
    let t = now as i64;
    (t + central_offset_ms(now)).div_euclid(DAY_MS)
}

/// The first instant of the Central local day after the one `now` falls in.
pub fn next_quota_reset(now: Millis) -> Millis {
    central_midnight(quota_day(now) + 1).max(0) as Millis
}

/// The next midnight at the fixed offset UTC−6 (CST all year) after `now`.
fn next_cst_midnight(now: Millis) -> Millis {
    let t = now as i64;
    (((t + CST_OFFSET_MS).div_euclid(DAY_MS) + 1) * DAY_MS - CST_OFFSET_MS).max(0) as Millis
}

/// When to try again after Marketo answered `607` (daily quota reached) at `now`: the earliest
/// of the two candidate resets, Central local midnight (00:00 CDT = 05:00 UTC in summer) and
/// midnight CST (06:00 UTC all year). In winter they are the same instant. In summer a `607`
/// before 05:00 UTC resumes at 05:00 UTC; if Marketo still answers `607` then, it resets at
/// CST midnight, and the next try is at 06:00 UTC: at most one call is refused either way.
pub fn quota_resume_at(now: Millis) -> Millis {
    next_quota_reset(now).min(next_cst_midnight(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    /// Epoch ms of a UTC date and hour.
    fn utc(y: i64, m: u32, d: u32, h: u64) -> Millis {
        days_from_civil(y, m, d) as u64 * 86_400_000 + h * H
    }

    #[test]
    fn quota_day_turns_at_cst_midnight_in_winter() {
        // 2025-11-28T06:00:00Z is midnight CST.
        let midnight = 1_764_309_600_000;
        assert_eq!(utc(2025, 11, 28, 6), midnight);
        assert_eq!(quota_day(midnight - 1) + 1, quota_day(midnight));
        assert_eq!(next_quota_reset(midnight - 1), midnight);
        assert_eq!(next_quota_reset(midnight), midnight + 86_400_000);
        assert_eq!(quota_resume_at(midnight - 1), midnight);
    }

    #[test]
    fn quota_day_turns_at_cdt_midnight_in_summer() {
        // 2026-07-15: CDT, local midnight is 05:00 UTC.
        let local_midnight = utc(2026, 7, 15, 5);
        assert_eq!(central_offset_ms(local_midnight), CDT_OFFSET_MS);
        assert_eq!(quota_day(local_midnight - 1) + 1, quota_day(local_midnight));
        assert_eq!(next_quota_reset(utc(2026, 7, 14, 20)), local_midnight);
        // A 607 in the evening: resume at CDT midnight; a 607 just after it: at CST midnight.
        assert_eq!(quota_resume_at(utc(2026, 7, 14, 20)), local_midnight);
        assert_eq!(quota_resume_at(local_midnight + 1), utc(2026, 7, 15, 6));
        // After CST midnight too, the next try is the next CDT midnight.
        assert_eq!(quota_resume_at(utc(2026, 7, 15, 6) + 1), utc(2026, 7, 16, 5));
    }

    #[test]
    fn daylight_time_starts_and_ends_on_the_right_sundays() {
        // 2026: DST from Sunday 8 March 02:00 CST (08:00 UTC) to Sunday 1 November 02:00 CDT
        // (07:00 UTC).
        assert_eq!(central_offset_ms(utc(2026, 3, 8, 8) - 1), CST_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2026, 3, 8, 8)), CDT_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2026, 11, 1, 7) - 1), CDT_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2026, 11, 1, 7)), CST_OFFSET_MS);
        // 2025: 9 March and 2 November; 2024: 10 March and 3 November.
        assert_eq!(central_offset_ms(utc(2025, 3, 9, 8)), CDT_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2025, 3, 9, 8) - 1), CST_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2025, 11, 2, 7) - 1), CDT_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2024, 3, 10, 8)), CDT_OFFSET_MS);
        assert_eq!(central_offset_ms(utc(2024, 11, 3, 7)), CST_OFFSET_MS);
        // The change days themselves: midnight of 8 March 2026 is still CST (06:00 UTC), the
        // day is 23 hours long; midnight of 1 November is CDT (05:00 UTC), the day 25 hours.
        assert_eq!(next_quota_reset(utc(2026, 3, 7, 12)), utc(2026, 3, 8, 6));
        assert_eq!(next_quota_reset(utc(2026, 3, 8, 6)), utc(2026, 3, 9, 5));
        assert_eq!(next_quota_reset(utc(2026, 10, 31, 12)), utc(2026, 11, 1, 5));
        assert_eq!(next_quota_reset(utc(2026, 11, 1, 5)), utc(2026, 11, 2, 6));
    }
}
