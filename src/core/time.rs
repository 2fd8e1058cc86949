//! Time as data: epoch milliseconds passed in by the host, and date formatting for mapped
//! values. Nothing here reads a clock.

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Milliseconds since the Unix epoch, as the host's `now()` reports them.
pub type Millis = u64;

/// Numbers below this are read as epoch seconds, above it as epoch milliseconds
/// (1e11 seconds is the year 5138; 1e11 milliseconds is March 1973).
const SECONDS_MS_CUTOFF: f64 = 1e11;

/// Formats a date value as ISO 8601 in UTC (`2026-11-28T09:30:00Z`).
///
/// Accepts epoch milliseconds or seconds (numbers or digit strings), RFC 3339 / ISO 8601
/// date-times with or without an offset (no offset means UTC), `YYYY-MM-DD HH:MM:SS`,
/// `YYYY-MM-DD` (midnight UTC) and RFC 2822.
///
/// # Errors
/// A message saying why the value is not a date.
pub fn to_iso8601(value: &serde_json::Value) -> Result<String, String> {
    let dt = match value {
        serde_json::Value::Number(n) => {
            from_epoch(n.as_f64().ok_or_else(|| "not a finite number".to_string())?)?
        }
        serde_json::Value::String(s) => parse_date_string(s.trim())?,
        other => return Err(format!("expected a date string or epoch number, got {}", kind(other))),
    };
    format_utc(dt)
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn from_epoch(n: f64) -> Result<OffsetDateTime, String> {
    if !n.is_finite() {
        return Err("not a finite number".into());
    }
    let ms = if n.abs() < SECONDS_MS_CUTOFF { n * 1000.0 } else { n };
    // i128 nanoseconds cover every representable date; out-of-range values fail below.
    let nanos = (ms as i128).saturating_mul(1_000_000);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| "epoch value out of range".into())
}

fn parse_date_string(s: &str) -> Result<OffsetDateTime, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: f64 = s.parse().map_err(|_| "not a number".to_string())?;
        return from_epoch(n);
    }
    if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(dt);
    }
    // RFC 3339 requires an offset; accept the common offset-less forms as UTC.
    let local_forms = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ];
    for form in local_forms {
        if let Ok(dt) = PrimitiveDateTime::parse(s, form) {
            return Ok(dt.assume_utc());
        }
    }
    if let Ok(d) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc());
    }
    if let Ok(dt) = OffsetDateTime::parse(s, &Rfc2822) {
        return Ok(dt);
    }
    Err("not a date: expected ISO 8601, RFC 2822, YYYY-MM-DD or epoch seconds/milliseconds".into())
}

fn format_utc(dt: OffsetDateTime) -> Result<String, String> {
    // Not `to_offset`: it panics when the instant in UTC leaves the supported range
    // (`9999-12-31T23:30:00-02:00` is in year 10000 in UTC).
    dt.checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| "date out of the printable range".to_string())?
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .map_err(|_| "date out of the printable range".into())
}

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
    use serde_json::json;

    #[test]
    fn epoch_millis_and_seconds() {
        assert_eq!(to_iso8601(&json!(1764307800000u64)).unwrap(), "2025-11-28T05:30:00Z");
        assert_eq!(to_iso8601(&json!(1764307800)).unwrap(), "2025-11-28T05:30:00Z");
        assert_eq!(to_iso8601(&json!("1764307800000")).unwrap(), "2025-11-28T05:30:00Z");
    }

    #[test]
    fn strings_with_and_without_offsets() {
        assert_eq!(to_iso8601(&json!("2026-11-28T09:30:00+01:00")).unwrap(), "2026-11-28T08:30:00Z");
        assert_eq!(to_iso8601(&json!("2026-11-28T09:30:00Z")).unwrap(), "2026-11-28T09:30:00Z");
        assert_eq!(to_iso8601(&json!("2026-11-28T09:30:00.250Z")).unwrap(), "2026-11-28T09:30:00Z");
        assert_eq!(to_iso8601(&json!("2026-11-28 09:30:00")).unwrap(), "2026-11-28T09:30:00Z");
        assert_eq!(to_iso8601(&json!("2026-11-28")).unwrap(), "2026-11-28T00:00:00Z");
        assert_eq!(to_iso8601(&json!("Sat, 28 Nov 2026 09:30:00 +0000")).unwrap(), "2026-11-28T09:30:00Z");
    }

    #[test]
    fn non_dates_are_errors() {
        assert!(to_iso8601(&json!("next tuesday")).is_err());
        assert!(to_iso8601(&json!(true)).is_err());
        assert!(to_iso8601(&json!(null)).is_err());
        assert!(to_iso8601(&json!(1e300)).is_err());
    }

    #[test]
    fn dates_whose_utc_instant_leaves_the_range_are_errors_not_panics() {
        // A panic in `OffsetDateTime::to_offset` (fuzz/seeds/event/regress-date-year-10000.bin).
        for s in ["9999-12-31T23:30:00-02:00", "Fri, 31 Dec 9999 23:00:00 -2359"] {
            assert_eq!(to_iso8601(&json!(s)), Err("date out of the printable range".to_string()), "{s}");
        }
        assert_eq!(to_iso8601(&json!("9999-12-31T23:30:00+02:00")).unwrap(), "9999-12-31T21:30:00Z");
    }

    #[test]
    fn quota_day_turns_at_cst_midnight() {
        // 2025-11-28T06:00:00Z is midnight CST.
        let midnight = 1_764_309_600_000;
        assert_eq!(quota_day(midnight - 1) + 1, quota_day(midnight));
        assert_eq!(next_quota_reset(midnight - 1), midnight);
        assert_eq!(next_quota_reset(midnight), midnight + 86_400_000);
    }
}
