//! A number's text as JavaScript writes it (`String(x)`, `Number.prototype.toString()`): what a
//! pipeline that built the event in JavaScript expects to see in Marketo when a number goes into
//! a text field, a campaign token, a bulk import cell or a lookup value. serde_json writes doubles
//! in its own form (`1e20`, `1e-7`), which Marketo would store as that text.
//!
//! The rule is ECMA-262 `Number::toString(x)` with radix 10
//! (<https://tc39.es/ecma262/#sec-numeric-types-number-tostring>): the shortest digits that read
//! back as the same double (Rust's `{:e}` finds them), then plain digits while the decimal exponent is
//! below 21 (`100000000000000000000` for 1e20, `0.000001` for 1e-6), and `d.ddde+N` / `d.ddde-N`
//! beyond (`1e+21`, `1e-7`); `-0` is `0`.

use serde_json::Number;

/// `n` as JavaScript's `String(n)` writes it. Integers serde_json holds as `u64`/`i64` are
/// written in full (JavaScript writes every integer below 10^21 in plain digits; the event
/// reader gives integers past 2^53 JavaScript's own digits already).
pub fn js_text(n: &Number) -> String {
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) => f64_text(f),
        // A serde_json number is always one of the three (arbitrary_precision is off).
        None => n.to_string(),
    }
}

/// A double as JavaScript's `Number::toString` writes it (see the module docs). Not finite:
/// `NaN`, `Infinity`, `-Infinity`, as JavaScript writes them.
pub fn f64_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if f == 0.0 {
        return "0".into(); // -0 too
    }
    // Rust's `{:e}` writes the shortest digits that read back as `f` (as ryu and JavaScript
    // do), with the float formatting already in the `.wasm` (ryu's tables would add ~17 KB).
    let shortest = format!("{:e}", f.abs());
    let (mut digits, n) = digits_and_point(&shortest);
    if let Some(even) = even_of_a_tie(&digits, n, f.abs()) {
        digits = even;
    }
    let k = digits.len() as i32;
    let mut out = String::with_capacity(digits.len() + 8);
    if f < 0.0 {
        out.push('-');
    }
    // ECMA-262 Number::toString steps 6-10: the value is digits × 10^(n − k).
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        // Here n < k: the point falls inside the digits.
        let (int, frac) = digits.split_at_checked(n as usize).unwrap_or((&digits, ""));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((&digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).unsigned_abs().to_string());
    }
    out
}

/// The significant digits of `{:e}`'s text of a positive double (`1.23456e2`, `1e20`,
/// `1.5e-7`: the shortest digits, no leading or trailing zero) and `n`: where the decimal point
/// goes, as ECMA-262 counts it (the value is `0.digits × 10^n`).
fn digits_and_point(text: &str) -> (String, i32) {
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let digits = mantissa.replace('.', "");
    (digits, exp.parse::<i32>().unwrap_or(0) + 1)
}

/// When `digits` (× 10^(n − k), the shortest that read back as `x`) end in an odd digit, and
/// the same digits with it one lower read back as `x` too, and `x` lies exactly halfway between
/// the two: the lower, even ones. Of two shortest digit strings equally near, `{:e}` takes the
/// upper one and ECMA-262 the even one (`16947984579613.0625` is `16947984579613.062`).
fn even_of_a_tie(digits: &str, n: i32, x: f64) -> Option<String> {
    let (head, last) = digits.split_at_checked(digits.len().checked_sub(1)?)?;
    let last = last.bytes().next()?;
    if last.checked_sub(b'0')? % 2 == 0 {
        return None;
    }
    let lower = format!("{head}{}", char::from(last - 1));
    // Read back with the crate's own decimal reader (`str::parse::<f64>` would add 13 KB).
    let k = i32::try_from(lower.len()).ok()?;
    if super::float::from_decimal(false, lower.parse::<u64>().ok()?, n - k) != x {
        return None;
    }
    // `x`'s exact decimal value (a double's has at most 767 significant digits).
    let exact = format!("{x:.800e}");
    let (exact_digits, exact_point) = digits_and_point(&exact);
    let halfway = format!("{lower}5");
    (exact_point == n && exact_digits.trim_end_matches('0') == halfway).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_two_shortest_texts_equally_near_the_even_one() {
        // (number, String(number) in Node 20)
        for (f, js) in [
            (16_947_984_579_613.0 + 0.0625, "16947984579613.062"),
            (767_323_613_771_981.0 + 0.25, "767323613771981.2"),
            (109_185_438_623_344.0 + 0.625, "109185438623344.62"),
            (0.5, "0.5"),
            (2.5, "2.5"),
            (123.456, "123.456"),
            (1.5e-7, "1.5e-7"),
        ] {
            assert_eq!(f64_text(f), js, "{f}");
            assert_eq!(f64_text(-f), format!("-{js}"), "{f}");
        }
    }

    #[test]
    fn digits_and_point_of_the_shortest_forms() {
        for (f, digits, point) in
            [(123.456, "123456", 3), (1e20, "1", 21), (0.001, "1", -2), (100.0, "1", 3), (1.5e-7, "15", -6)]
        {
            assert_eq!(digits_and_point(&format!("{f:e}")), (digits.into(), point), "{f}");
        }
    }
}
