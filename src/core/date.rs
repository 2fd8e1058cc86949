//! Dates for `type: "date"` values: what pipelines write, read without a date library, printed
//! as ISO 8601 in UTC (`2026-11-28T09:30:00Z`). Nothing here reads a clock.
//!
//! The rule (README "Dates"):
//! - strings in ISO 8601 / RFC 3339, extended (`2013-09-26T06:56:35+00:00`) or basic
//!   (`20130926T065635Z`): a `T`, `t` or one space between date and time; seconds optional;
//!   fractional seconds (`.` or `,`) dropped; offsets `Z`, `±hh:mm`, `±hhmm`, `±hh`, `UTC`/`GMT`,
//!   optionally after one space, and Marketo's own `Z+0000`; no offset means UTC; a date alone
//!   is midnight UTC; `24:00` is the next midnight; RFC 3339's leap second `:60` rolls over;
//! - RFC 2822 (`Thu, 26 Sep 2013 06:56:35 +0000`, two-digit years per its §4.3, the US zone
//!   names) and JavaScript's `Date.prototype.toString()` form
//!   (`Thu Sep 26 2013 06:56:35 GMT+0000 (Coordinated Universal Time)`); a day name that does
//!   not match the date is refused;
//! - an 8-digit string is `YYYYMMDD` (ISO 8601 basic date), never epoch seconds;
//! - other numbers and digit strings by magnitude: |n| ≥ 1e11 is epoch milliseconds, below it
//!   epoch seconds (1e11 s is the year 5138; 1e11 ms is March 1973);
//! - years 0000–9999; anything else fails with a message naming the form it was read as.
//!
//! Sources: ISO 8601-1:2019 §5 (basic and extended formats), RFC 3339 §5.6
//! (<https://www.rfc-editor.org/rfc/rfc3339#section-5.6>), RFC 2822 §3.3 and §4.3
//! (<https://www.rfc-editor.org/rfc/rfc2822#section-3.3>), and Marketo's field types page for
//! what Marketo accepts (<https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/field-types>).
//! A parser of our own costs a few KB of `.wasm` where the `time` crate cost about 60 KB.

use serde_json::Value;

use super::error::value_kind;

/// Numbers at or above this magnitude are epoch milliseconds, below it epoch seconds.
const SECONDS_MS_CUTOFF: f64 = 1e11;
const DAY_S: i64 = 86_400;

/// The accepted forms, for messages.
const FORMS: &str = "ISO 8601 / RFC 3339 (2026-11-28T09:30:00Z, 2026-11-28 09:30+01, 20261128T093000Z, \
                     2026-11-28), YYYYMMDD, RFC 2822 (Sat, 28 Nov 2026 09:30:00 +0000) or epoch \
                     seconds / milliseconds";

/// Formats a date value as ISO 8601 in UTC (`2026-11-28T09:30:00Z`); see the module docs for
/// what is accepted.
///
/// # Errors
/// A message naming the form the value was read as and what is wrong with it.
pub fn to_iso8601(value: &Value) -> Result<String, String> {
    let secs = match value {
        Value::Number(n) => from_epoch(n.as_f64().ok_or_else(|| "not a finite number".to_string())?)?,
        Value::String(s) => parse_date_string(s.trim())?,
        other => return Err(format!("expected a date string or epoch number, got {}", value_kind(other))),
    };
    format_utc(secs)
}

const OUT_OF_RANGE: &str = "epoch value out of range (years 0000–9999)";

/// Seconds since the epoch (floored) of an epoch number read by magnitude.
fn from_epoch(n: f64) -> Result<i64, String> {
    if !n.is_finite() {
        return Err("not a finite number".into());
    }
    let secs = if n.abs() >= SECONDS_MS_CUTOFF { n / 1000.0 } else { n };
    // Years 0000–9999 are within ±3e11 s; a wider check keeps the cast below exact.
    if secs.abs() > 1e12 {
        return Err(OUT_OF_RANGE.into());
    }
    Ok(secs.floor() as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`,
/// <https://howardhinnant.github.io/date_algorithms.html>).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let (m, d) = (i64::from(m), i64::from(d));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day of the week of a day number: 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
pub(crate) fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in a month (1–12) of year `y`.
pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Checks a calendar date; `form` names the form for the message.
fn date_days(y: i64, m: u32, d: u32, form: &str) -> Result<i64, String> {
    if !(1..=12).contains(&m) {
        return Err(format!("{form} with month {m:02} (months are 01–12)"));
    }
    if d == 0 || d > days_in_month(y, m) {
        return Err(format!("{form} with day {d:02}: {y:04}-{m:02} has {} days", days_in_month(y, m)));
    }
    Ok(days_from_civil(y, m, d))
}

/// Seconds of a time of day plus an offset to subtract; `24:00:00` is allowed (next midnight).
fn time_secs(h: u32, mi: u32, s: u32, form: &str) -> Result<i64, String> {
    if h == 24 && mi == 0 && s == 0 {
        return Ok(DAY_S);
    }
    if h > 23 || mi > 59 || s > 60 {
        return Err(format!("{form} with time {h:02}:{mi:02}:{s:02} (hours 00–23, minutes 00–59)"));
    }
    Ok(i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

fn parse_date_string(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err(format!("an empty string is not a date; expected {FORMS}"));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() == 8 && digits.len() == s.len() {
            // ISO 8601 basic date, never epoch seconds (`19900517` is 1990-05-17).
            let part = |r: std::ops::Range<usize>| s.as_bytes().get(r).map_or(0, num);
            let days = date_days(i64::from(part(0..4)), part(4..6), part(6..8), "YYYYMMDD date")?;
            return Ok(days * DAY_S);
        }
        // As an integer, not `str::parse::<f64>` (core's float parser is about 15 KB of .wasm):
        // `i as f64` rounds as that parse does, and past i64 it is out of range either way.
        return match s.parse::<i64>() {
            Ok(n) => from_epoch(n as f64),
            Err(_) => Err(OUT_OF_RANGE.into()),
        };
    }
    let b = s.as_bytes();
    if b.get(..4).is_some_and(|p| p.iter().all(u8::is_ascii_digit)) {
        return parse_iso(b);
    }
    parse_rfc2822(s)
}

/// The value of a run of ASCII digits (callers check they are digits; at most 9 of them).
fn num(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, d| acc.saturating_mul(10).saturating_add(u32::from(d.wrapping_sub(b'0'))))
}

/// A byte cursor.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.b.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(num(part))
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn rest(&self) -> &[u8] {
        self.b.get(self.i..).unwrap_or(&[])
    }
}

/// An ISO 8601 / RFC 3339 date or date-time (the string starts with four digits).
fn parse_iso(b: &[u8]) -> Result<i64, String> {
    let mut c = Cur { b, i: 0 };
    let year = c.digits(4).map(i64::from).unwrap_or(0);
    let extended = c.eat(b'-');
    let form = if extended { "ISO 8601 date" } else { "ISO 8601 basic date" };
    let bad = |what: &str| format!("{form} with {what}; expected {FORMS}");
    let month = c.digits(2).ok_or_else(|| bad("no two-digit month"))?;
    if extended && !c.eat(b'-') {
        return Err(bad("no `-` before the day"));
    }
    let day = c.digits(2).ok_or_else(|| bad("no two-digit day"))?;
    let days = date_days(year, month, day, form)?;
    if c.at_end() {
        return Ok(days * DAY_S);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return Err(bad("something other than `T` or a space after the date"));
    }
    let form = if extended { "ISO 8601 date-time" } else { "ISO 8601 basic date-time" };
    let bad = |what: &str| format!("{form} with {what}; expected {FORMS}");
    let hour = c.digits(2).ok_or_else(|| bad("no two-digit hour"))?;
    let colon = c.eat(b':');
    let minute = c.digits(2).ok_or_else(|| bad("no two-digit minute"))?;
    let mut second = 0;
    if !colon || c.eat(b':') {
        if let Some(s) = c.digits(2) {
            second = s;
            if c.eat(b'.') || c.eat(b',') {
                // Fractional seconds: dropped (Marketo's datetime has whole seconds).
                let start = c.i;
                while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                    c.i += 1;
                }
                if c.i == start {
                    return Err(bad("no digits after the decimal sign"));
                }
            }
        } else if colon {
            return Err(bad("no two-digit second after `:`"));
        }
    }
    let time = time_secs(hour, minute, second, form)?;
    let offset = parse_offset(&mut c, form)?;
    if !c.at_end() {
        return Err(bad("unexpected text after the time"));
    }
    Ok(days * DAY_S + time - offset)
}

/// An offset after an ISO time, in seconds east of UTC: none (UTC), `Z`, `Z+0000`, `UTC`, `GMT`,
/// `±hh`, `±hhmm`, `±hh:mm`, optionally after one space.
fn parse_offset(c: &mut Cur<'_>, form: &str) -> Result<i64, String> {
    if c.at_end() {
        return Ok(0);
    }
    let save = c.i;
    c.eat(b' ');
    let rest = c.rest();
    let upper: Vec<u8> = rest.iter().take(3).map(u8::to_ascii_uppercase).collect();
    if upper.first() == Some(&b'Z') {
        c.i += 1;
        // Marketo's asset APIs write `2017-07-27T01:38:33Z+0000`: only a zero offset may follow.
        if matches!(c.peek(), Some(b'+' | b'-')) {
            let after = numeric_offset(c, form)?;
            if after != 0 {
                return Err(format!("{form} with `Z` followed by a non-zero offset"));
            }
        }
        return Ok(0);
    }
    if upper == b"UTC" || upper == b"GMT" {
        c.i += 3;
        return Ok(0);
    }
    if matches!(c.peek(), Some(b'+' | b'-')) {
        return numeric_offset(c, form);
    }
    c.i = save;
    Ok(0)
}

/// `±hh`, `±hhmm` or `±hh:mm` (RFC 3339 §5.6, ISO 8601 §4.2.5.1), in seconds east of UTC.
fn numeric_offset(c: &mut Cur<'_>, form: &str) -> Result<i64, String> {
    let sign = if c.eat(b'-') {
        -1
    } else {
        c.eat(b'+');
        1
    };
    let bad = || format!("{form} with an offset that is not ±hh, ±hhmm or ±hh:mm");
    let h = c.digits(2).ok_or_else(bad)?;
    let m = if c.eat(b':') { c.digits(2).ok_or_else(bad)? } else { c.digits(2).unwrap_or(0) };
    if h > 23 || m > 59 {
        return Err(format!("{form} with offset {h:02}:{m:02} (hours 00–23, minutes 00–59)"));
    }
    Ok(sign * (i64::from(h) * 3600 + i64::from(m) * 60))
}

/// RFC 2822 (`[Thu,] 26 Sep 2013 06:56:35 +0000`) or JavaScript's `Date.prototype.toString()`
/// (`Thu Sep 26 2013 06:56:35 GMT+0000 (…)`).
fn parse_rfc2822(s: &str) -> Result<i64, String> {
    let f = rfc2822_fields(s)?;
    let form = f.form;
    let bad = |what: &str| rfc2822_error(form, what);
    let d = small_number(f.day, 2).ok_or_else(|| bad("a day that is not 1 or 2 digits"))?;
    let m = name_index(f.month, &MONTHS).map_or(0, |i| i + 1);
    let y = rfc2822_year(f.year).ok_or_else(|| bad("a year that is not 2 to 4 digits"))?;
    let days = date_days(i64::from(y), m, d, form)?;
    check_day_name(f.day_name, days, form, (y, m, d))?;
    let (h, mi, sec) = clock_time(f.time).ok_or_else(|| bad("a time that is not hh:mm or hh:mm:ss"))?;
    let time = time_secs(h, mi, sec, form)?;
    let offset = match f.zone {
        None => 0,
        Some(z) => {
            zone_offset(z).ok_or_else(|| bad("a zone that is not ±hhmm, UT, GMT, Z or a US zone name"))?
        }
    };
    Ok(days * DAY_S + time - offset)
}

/// The parts of an RFC 2822 or JavaScript date string, still as text.
struct Rfc2822Fields<'a> {
    /// Which of the two forms it is, as error messages name it.
    form: &'static str,
    /// The leading day name's index in [`DAYS`], when there is one.
    day_name: Option<u32>,
    day: &'a str,
    month: &'a str,
    year: &'a str,
    time: &'a str,
    zone: Option<&'a str>,
}

/// The error for a date string of form `form` with `what` wrong.
fn rfc2822_error(form: &str, what: &str) -> String {
    format!("{form} with {what}; expected {FORMS}")
}

/// Splits `s` into its parts: drops a trailing `(…)` comment and a leading day name, then tells
/// the RFC 2822 order (day month year) from JavaScript's (month day year) by where the month
/// name is. Fails when neither order fits or text follows the zone.
fn rfc2822_fields(s: &str) -> Result<Rfc2822Fields<'_>, String> {
    // JavaScript appends the zone's name in parentheses; RFC 2822 allows a comment there too.
    let s = match s.find('(') {
        Some(i) if s.ends_with(')') => s.get(..i).unwrap_or(s).trim_end(),
        _ => s,
    };
    let mut tokens: Vec<&str> = s.split_whitespace().collect();
    let mut day_name: Option<u32> = None;
    let first = tokens.first().copied().unwrap_or("");
    let first_trimmed = first.trim_end_matches(',');
    if let Some(i) = name_index(first_trimmed, &DAYS) {
        day_name = Some(i);
        tokens.remove(0);
        if tokens.first() == Some(&",") {
            tokens.remove(0);
        }
    }
    let (form, day, month, year, time, zone) = match tokens.as_slice() {
        // RFC 2822: day month year time [zone]
        [d, mo, y, t, rest @ ..] if name_index(mo, &MONTHS).is_some() => {
            ("RFC 2822 date", *d, *mo, *y, *t, rest.first().copied())
        }
        // JavaScript: month day year time [GMT±hhmm]
        [mo, d, y, t, rest @ ..] if name_index(mo, &MONTHS).is_some() => {
            ("JavaScript date string", *d, *mo, *y, *t, rest.first().copied())
        }
        _ => return Err(format!("not a date; expected {FORMS}")),
    };
    if tokens.len() > 5 {
        return Err(rfc2822_error(form, "unexpected text after the zone"));
    }
    Ok(Rfc2822Fields { form, day_name, day, month, year, time, zone })
}

/// An RFC 2822 year of 2 to 4 digits as a full year: §4.3 reads two-digit years 00–49 as
/// 2000–2049 and 50–99 as 1950–1999, and adds 1900 to three-digit years.
fn rfc2822_year(year: &str) -> Option<u32> {
    match (small_number(year, 4), year.len()) {
        (Some(y), 2) if y < 50 => Some(2000 + y),
        (Some(y), 2) => Some(1900 + y),
        (Some(y), 3) => Some(1900 + y),
        (Some(y), 4) => Some(y),
        _ => None,
    }
}

/// Fails when the day name given (`named`, an index in [`DAYS`]) is not the weekday of `days`
/// (days since 1970-01-01, the date `ymd`).
fn check_day_name(named: Option<u32>, days: i64, form: &str, ymd: (u32, u32, u32)) -> Result<(), String> {
    let Some(named) = named else { return Ok(()) };
    let actual = weekday(days);
    if named == actual {
        return Ok(());
    }
    let (y, m, d) = ymd;
    let name = |i: u32| DAYS.get(i as usize).copied().unwrap_or("?");
    Err(format!(
        "{form} whose day name ({}) is not the date's ({}): {y:04}-{m:02}-{d:02}",
        name(named),
        name(actual)
    ))
}

/// `hh:mm` or `hh:mm:ss` (two digits each) as hours, minutes and seconds, unchecked in range.
fn clock_time(time: &str) -> Option<(u32, u32, u32)> {
    let parts: Vec<&str> = time.split(':').collect();
    let part = |i: usize| parts.get(i).and_then(|p| small_number(p, 2).filter(|_| p.len() == 2));
    match parts.len() {
        2 => Some((part(0)?, part(1)?, 0)),
        3 => Some((part(0)?, part(1)?, part(2)?)),
        _ => None,
    }
}

/// RFC 2822 §3.3 zones (`±hhmm`, `UT`, `GMT`, `Z`, the US names of §4.3) and JavaScript's
/// `GMT±hhmm`, in seconds east of UTC.
fn zone_offset(z: &str) -> Option<i64> {
    let upper = z.to_ascii_uppercase();
    let hours = match upper.as_str() {
        "UT" | "UTC" | "GMT" | "Z" => return Some(0),
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        _ => {
            let numeric = upper.strip_prefix("GMT").or_else(|| upper.strip_prefix("UTC")).unwrap_or(&upper);
            let (sign, digits) = match numeric.as_bytes().first() {
                Some(b'+') => (1, numeric.get(1..).unwrap_or("")),
                Some(b'-') => (-1, numeric.get(1..).unwrap_or("")),
                _ => return None,
            };
            let digits = digits.replace(':', "");
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let part = |r: std::ops::Range<usize>| digits.as_bytes().get(r).map_or(0, num);
            let (h, m) = (part(0..2), part(2..4));
            if h > 23 || m > 59 {
                return None;
            }
            return Some(sign * (i64::from(h) * 3600 + i64::from(m) * 60));
        }
    };
    Some(hours * 3600)
}

/// A number of 1 to `max` ASCII digits.
fn small_number(s: &str, max: usize) -> Option<u32> {
    (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())).then(|| num(s.as_bytes()))
}

/// Index of a three-letter English name (case-insensitive; longer names such as `Thursday` or
/// `September` are accepted by their first three letters only when spelled out in full).
fn name_index(word: &str, names: &[&str]) -> Option<u32> {
    let w = word.trim_end_matches([',', '.']).to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    let i = names.iter().position(|n| w.starts_with(n))?;
    const FULL: [&str; 19] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "sept",
    ];
    (w.len() == 3 || FULL.contains(&w.as_str())).then_some(i as u32)
}

/// Prints seconds since the epoch as `YYYY-MM-DDThh:mm:ssZ`.
fn format_utc(secs: i64) -> Result<String, String> {
    let days = secs.div_euclid(DAY_S);
    let rem = secs.rem_euclid(DAY_S);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err("date out of the printable range".into());
    }
    // Digit by digit: `format!` was a tenth of a batched upsert's mapping (one date field).
    let mut out = String::with_capacity(20);
    for (n, width, then) in [
        (y, 4, '-'),
        (i64::from(m), 2, '-'),
        (i64::from(d), 2, 'T'),
        (rem / 3600, 2, ':'),
        (rem % 3600 / 60, 2, ':'),
        (rem % 60, 2, 'Z'),
    ] {
        for place in (0..width).rev() {
            let digit = n / 10_i64.pow(place) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(then);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Mapping relies on it (`FieldMapping::value_for` sends a `type: "date"` value to a Marketo
    /// `date` or `datetime` field without parsing it twice).
    #[test]
    fn the_text_it_writes_reads_back_unchanged() {
        for v in [
            json!("2026-11-28T09:30:00Z"),
            json!("2013-09-26T06:56:35+02:00"),
            json!("Thu, 26 Sep 2013 06:56:35 +0000"),
            json!("20261128"),
            json!("0000-01-01"),
            json!("9999-12-31T23:59:60Z"),
            json!(1_764_322_200),
            json!(1_764_322_200_123_i64),
            json!(-86_401),
        ] {
            let Ok(once) = to_iso8601(&v) else { continue };
            assert_eq!(to_iso8601(&Value::String(once.clone())).as_deref(), Ok(once.as_str()), "{v}");
        }
    }

    fn iso(v: Value) -> String {
        to_iso8601(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[test]
    fn every_accepted_form_gives_the_right_instant() {
        for (input, expected) in [
            // The case: Marketo's own exports.
            ("2013-09-26T06:56:35+0000", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56:35Z", "2013-09-26T06:56:35Z"),
            ("2013-09-26t06:56:35z", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56:35+00:00", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56:35-00:00", "2013-09-26T06:56:35Z"),
            ("2013-09-26T08:56:35+02", "2013-09-26T06:56:35Z"),
            ("2013-09-26T01:26:35-0530", "2013-09-26T06:56:35Z"),
            ("2013-09-26T12:26:35+05:30", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56:35.123456789Z", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56:35,5+00:00", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56Z", "2013-09-26T06:56:00Z"),
            ("2013-09-26T06:56", "2013-09-26T06:56:00Z"),
            ("2013-09-26 06:56:35", "2013-09-26T06:56:35Z"),
            ("2013-09-26 06:56:35 +0000", "2013-09-26T06:56:35Z"),
            ("2013-09-26 06:56:35 UTC", "2013-09-26T06:56:35Z"),
            ("2013-09-26T06:56:35Z+0000", "2013-09-26T06:56:35Z"),
            ("2013-09-26", "2013-09-26T00:00:00Z"),
            ("2013-09-26T24:00:00Z", "2013-09-27T00:00:00Z"),
            ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),
            ("2013-09-26T00:30:00+01:00", "2013-09-25T23:30:00Z"),
            // Basic format.
            ("20130926T065635Z", "2013-09-26T06:56:35Z"),
            ("20130926T085635+0200", "2013-09-26T06:56:35Z"),
            ("20130926T0656-01", "2013-09-26T07:56:00Z"),
            ("20130926T065635.25Z", "2013-09-26T06:56:35Z"),
            ("20130926", "2013-09-26T00:00:00Z"),
            ("19900517", "1990-05-17T00:00:00Z"),
            // RFC 2822 and JavaScript's Date strings.
            ("Thu, 26 Sep 2013 06:56:35 +0000", "2013-09-26T06:56:35Z"),
            ("26 Sep 2013 01:56:35 CDT", "2013-09-26T06:56:35Z"),
            ("Thu, 26 Sep 13 06:56 GMT", "2013-09-26T06:56:00Z"),
            ("Thu, 26 Sep 2013 06:56:35 GMT", "2013-09-26T06:56:35Z"),
            ("Sat, 28 Nov 2026 09:30:00 +0000", "2026-11-28T09:30:00Z"),
            ("Thu Sep 26 2013 08:56:35 GMT+0200 (Central European Summer Time)", "2013-09-26T06:56:35Z"),
            // Surrounding spaces.
            ("  2013-09-26T06:56:35Z ", "2013-09-26T06:56:35Z"),
        ] {
            assert_eq!(iso(json!(input)), expected, "{input}");
        }
    }

    #[test]
    fn numbers_and_digit_strings_by_magnitude_eight_digits_are_a_date() {
        assert_eq!(iso(json!(1764307800000u64)), "2025-11-28T05:30:00Z");
        assert_eq!(iso(json!(1764307800)), "2025-11-28T05:30:00Z");
        assert_eq!(iso(json!(1764307800.999)), "2025-11-28T05:30:00Z");
        assert_eq!(iso(json!("1764307800000")), "2025-11-28T05:30:00Z");
        assert_eq!(iso(json!("1764307800")), "2025-11-28T05:30:00Z");
        assert_eq!(iso(json!(-86400)), "1969-12-31T00:00:00Z");
        assert_eq!(iso(json!("-86400")), "1969-12-31T00:00:00Z");
        // The boundary: 99,999,999,999 is seconds (year 5138), 100,000,000,000 milliseconds (1973).
        assert_eq!(iso(json!(99_999_999_999i64)), "5138-11-16T09:46:39Z");
        assert_eq!(iso(json!(100_000_000_000i64)), "1973-03-03T09:46:40Z");
        assert_eq!(iso(json!("100000000000")), "1973-03-03T09:46:40Z");
        // An 8-digit string is never epoch seconds; an impossible one is refused, not reread.
        assert_eq!(iso(json!("19900517")), "1990-05-17T00:00:00Z");
        let e = to_iso8601(&json!("19901317")).unwrap_err();
        assert!(e.contains("YYYYMMDD") && e.contains("month 13"), "{e}");
        assert!(to_iso8601(&json!("20230230")).unwrap_err().contains("has 28 days"));
        // 8 digits as a number follow the magnitude rule: epoch seconds.
        assert_eq!(iso(json!(19900517)), "1970-08-19T07:55:17Z");
    }

    #[test]
    fn each_refusal_names_the_form() {
        for (input, needle) in [
            ("2013-13-26T06:56:35Z", "ISO 8601 date with month 13"),
            ("2013-02-29", "2013-02 has 28 days"),
            ("2013-09-26T25:00:00Z", "ISO 8601 date-time with time 25:00:00"),
            ("2013-09-26T06:60Z", "time 06:60:00"),
            ("2013-09-26T06:56:35+2500", "offset 25:00"),
            ("2013-09-26T06:56:35Z+0100", "non-zero offset"),
            ("2013-09-26T06:56:35 nonsense", "unexpected text"),
            ("2013-09-26X06:56", "after the date"),
            ("2013-9-26", "two-digit month"),
            ("20130926T06", "two-digit minute"),
            ("Fri, 26 Sep 2013 06:56:35 +0000", "day name (fri) is not the date's (thu)"),
            ("Thu, 26 Sep 2013 6h56 +0000", "hh:mm"),
            ("Thu, 26 Sep 2013 06:56:35 +99", "zone"),
            ("31 Feb 2013 06:56:35 +0000", "RFC 2822 date with day 31"),
            ("next tuesday", "not a date; expected ISO 8601"),
            ("", "empty string"),
        ] {
            let e = to_iso8601(&json!(input)).unwrap_err();
            assert!(e.contains(needle), "{input}: {e}");
        }
        for v in [json!(true), json!(null), json!([1]), json!({})] {
            assert!(to_iso8601(&v).unwrap_err().starts_with("expected a date string or epoch number"));
        }
        assert!(to_iso8601(&json!(1e300)).unwrap_err().contains("out of range"));
        // Digit strings past i64 are out of range; leading zeros do not count.
        for s in ["123456789012345678901234", "-99999999999999999999999", "10000000000000000"] {
            assert_eq!(to_iso8601(&json!(s)), Err(OUT_OF_RANGE.to_string()), "{s}");
        }
        assert_eq!(to_iso8601(&json!("000000000000000000001764331200")), Ok("2025-11-28T12:00:00Z".into()));
        assert_eq!(to_iso8601(&json!("-0")), Ok("1970-01-01T00:00:00Z".into()));
    }

    #[test]
    fn dates_whose_utc_instant_leaves_the_range_are_errors_not_panics() {
        // fuzz/seeds/event/regress-date-year-10000.bin
        for s in ["9999-12-31T23:30:00-02:00", "Fri, 31 Dec 9999 23:00:00 -2359"] {
            assert_eq!(to_iso8601(&json!(s)), Err("date out of the printable range".to_string()), "{s}");
        }
        assert_eq!(iso(json!("9999-12-31T23:30:00+02:00")), "9999-12-31T21:30:00Z");
        assert_eq!(iso(json!("0000-01-01T00:00:00Z")), "0000-01-01T00:00:00Z");
        assert!(to_iso8601(&json!("0000-01-01T00:00:00+01:00")).is_err());
    }

    #[test]
    fn every_form_round_trips_over_three_centuries() {
        // Deterministic sweep: an instant every 3 days 7 h 13 min 17 s from 1850 to 2150, each
        // written in every form with an offset that varies with it; each must read back as the
        // same instant.
        let start = days_from_civil(1850, 1, 1) * DAY_S;
        let end = days_from_civil(2150, 1, 1) * DAY_S;
        let step = 3 * DAY_S + 7 * 3600 + 13 * 60 + 17;
        let mut t = start;
        let mut n = 0;
        while t < end {
            let expected = format_utc(t).unwrap();
            let off_min = (t / step).rem_euclid(27 * 60 * 2) - 27 * 60; // −27:00 … +27:00
            let off_min = off_min.clamp(-(23 * 60 + 59), 23 * 60 + 59);
            let local = t + off_min * 60;
            let (y, m, d) = civil_from_days(local.div_euclid(DAY_S));
            let r = local.rem_euclid(DAY_S);
            let (hh, mm, ss) = (r / 3600, r % 3600 / 60, r % 60);
            let sign = if off_min < 0 { '-' } else { '+' };
            let (oh, om) = (off_min.abs() / 60, off_min.abs() % 60);
            let wd = DAYS[weekday(local.div_euclid(DAY_S)) as usize];
            let wd = format!("{}{}", wd[..1].to_ascii_uppercase(), &wd[1..]);
            let mon = MONTHS[m as usize - 1];
            let mon = format!("{}{}", mon[..1].to_ascii_uppercase(), &mon[1..]);
            for form in [
                format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{sign}{oh:02}:{om:02}"),
                format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.987{sign}{oh:02}{om:02}"),
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} {sign}{oh:02}{om:02}"),
                format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}{sign}{oh:02}{om:02}"),
                format!("{wd}, {d} {mon} {y:04} {hh:02}:{mm:02}:{ss:02} {sign}{oh:02}{om:02}"),
                format!("{wd} {mon} {d:02} {y:04} {hh:02}:{mm:02}:{ss:02} GMT{sign}{oh:02}{om:02} (Zone)"),
            ] {
                assert_eq!(iso(json!(form)), expected, "{form}");
            }
            if om == 0 {
                let form = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{sign}{oh:02}");
                assert_eq!(iso(json!(form)), expected, "{form}");
            }
            assert_eq!(iso(json!(t)), expected, "epoch seconds {t}");
            if (t * 1000).abs() >= 100_000_000_000 {
                // Milliseconds from March 1973 on (and before October 1966): below that
                // magnitude the rule reads a number as seconds.
                assert_eq!(iso(json!(t * 1000 + 999)), expected, "epoch ms {t}");
            }
            t += step;
            n += 1;
        }
        assert!(n > 30_000, "{n} instants");
    }

    #[test]
    fn civil_day_numbers_round_trip() {
        for days in [-719_468, -1, 0, 1, 15_973, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2013, 9, 26), 15_974);
        assert_eq!(weekday(days_from_civil(2013, 9, 26)), 4, "a Thursday");
    }
}
