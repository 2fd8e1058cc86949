//! `digits × 10^exp` as the nearest double (ties to even), as `str::parse::<f64>` rounds it,
//! without linking core's decimal-to-float parser (its tables and code were about 15 KB of the
//! gzipped `.wasm`). Exact: small cases by one IEEE operation on exact operands (Clinger's fast
//! path), the rest by integer arithmetic on the exact value.

use std::cmp::Ordering;

/// The powers of ten a double holds exactly (10^0 … 10^22).
const POW10: [f64; 23] = {
    let mut p = [1.0; 23];
    let mut i = 1;
    while i < 23 {
        p[i] = p[i - 1] * 10.0;
        i += 1;
    }
    p
};

/// `digits × 10^exp`, rounded to the nearest double (ties to even); `±inf` past the largest
/// double, `±0` below half the smallest subnormal.
pub(super) fn from_decimal(negative: bool, digits: u64, exp: i32) -> f64 {
    let magnitude = magnitude(digits, exp);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

fn magnitude(digits: u64, exp: i32) -> f64 {
    if digits == 0 {
        return 0.0;
    }
    let exact = digits < (1 << 53);
    let small = usize::try_from(exp.unsigned_abs()).ok().and_then(|e| POW10.get(e));
    match small {
        Some(&p) if exact && exp >= 0 => return digits as f64 * p,
        Some(&p) if exact => return digits as f64 / p,
        _ => {}
    }
    // digits × 10^exp lies in [10^(n - 1 + exp), 10^(n + exp)) for n decimal digits.
    let n = i64::from(digits.ilog10()) + 1;
    if n - 1 + i64::from(exp) >= 309 {
        return f64::INFINITY; // ≥ 1e309
    }
    if n + i64::from(exp) <= -324 {
        return 0.0; // < 1e-324, under half the smallest subnormal (≈ 4.9e-324)
    }
    // The exact value num / den.
    let mut num = from_u64(digits);
    let mut den = vec![1];
    let power = if exp >= 0 { &mut num } else { &mut den };
    for _ in 0..exp.unsigned_abs() {
        mul_small(power, 10);
    }
    round(&num, &den)
}

/// num / den (both > 0) to the nearest double.
fn round(num: &[u32], den: &[u32]) -> f64 {
    // p = floor(log2(num / den)): the bit lengths give it or one more.
    let mut p = i64::from(bits(num)) - i64::from(bits(den));
    let (a, b) = scaled(num, den, p);
    if cmp(&a, &b) == Ordering::Less {
        p -= 1;
    }
    if p > 1023 {
        return f64::INFINITY;
    }
    // The last place of the result: 2^u.
    let u = (p - 52).max(-1074);
    let (mut a, b) = scaled(num, den, u);
    // q = floor(a / b) < 2^54, by long division; a keeps the remainder.
    let mut q: u64 = 0;
    for bit in (0..=54u32).rev() {
        let t = shl(&b, bit);
        if cmp(&a, &t) != Ordering::Less {
            sub(&mut a, &t);
            q |= 1 << bit;
        }
    }
    let half = cmp(&shl(&a, 1), &b);
    if half == Ordering::Greater || (half == Ordering::Equal && q & 1 == 1) {
        q += 1;
    }
    let (q, u) = if q == 1 << 53 { (1 << 52, u + 1) } else { (q, u) };
    if q < 1 << 52 {
        // Subnormal (u = -1074): the bits are the multiple of 2^-1074.
        return f64::from_bits(q);
    }
    let biased = u + 52 + 1023;
    match u64::try_from(biased) {
        Ok(e) if e < 2047 => f64::from_bits(e << 52 | (q - (1 << 52))),
        _ => f64::INFINITY,
    }
}

/// num / den / 2^s as two integers a / b.
fn scaled(num: &[u32], den: &[u32], s: i64) -> (Vec<u32>, Vec<u32>) {
    let shift = u32::try_from(s.unsigned_abs()).unwrap_or(u32::MAX);
    if s >= 0 {
        (num.to_vec(), shl(den, shift))
    } else {
        (shl(num, shift), den.to_vec())
    }
}

// Unsigned integers as little-endian 32-bit limbs without high zero limbs.

fn from_u64(v: u64) -> Vec<u32> {
    let mut a = vec![v as u32, (v >> 32) as u32];
    trim(&mut a);
    a
}

fn trim(a: &mut Vec<u32>) {
    while a.last() == Some(&0) {
        a.pop();
    }
}

fn mul_small(a: &mut Vec<u32>, m: u32) {
    let mut carry = 0u64;
    for x in a.iter_mut() {
        let t = u64::from(*x) * u64::from(m) + carry;
        *x = t as u32;
        carry = t >> 32;
    }
    if carry > 0 {
        a.push(carry as u32);
    }
}

fn bits(a: &[u32]) -> u32 {
    a.last().map_or(0, |&top| (a.len() as u32 - 1) * 32 + (32 - top.leading_zeros()))
}

fn shl(a: &[u32], n: u32) -> Vec<u32> {
    let (limbs, b) = ((n / 32) as usize, n % 32);
    let mut out = vec![0; limbs];
    if b == 0 {
        out.extend_from_slice(a);
    } else {
        let mut carry = 0;
        for &x in a {
            out.push(x << b | carry);
            carry = x >> (32 - b);
        }
        out.push(carry);
        trim(&mut out);
    }
    out
}

fn cmp(a: &[u32], b: &[u32]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

/// a -= b, for a ≥ b.
fn sub(a: &mut Vec<u32>, b: &[u32]) {
    let mut borrow = false;
    for (i, x) in a.iter_mut().enumerate() {
        let (d, o1) = x.overflowing_sub(b.get(i).copied().unwrap_or(0));
        let (d, o2) = d.overflowing_sub(u32::from(borrow));
        *x = d;
        borrow = o1 || o2;
    }
    trim(a);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(digits: u64, exp: i32) {
        let text = format!("{digits}e{exp}");
        let want: f64 = text.parse().unwrap();
        let got = from_decimal(false, digits, exp);
        assert_eq!(got.to_bits(), want.to_bits(), "{text}: {got:e} != {want:e}");
        assert_eq!(from_decimal(true, digits, exp).to_bits(), (-want).to_bits(), "-{text}");
    }

    #[test]
    fn edges() {
        for (d, e) in [
            (0, 0),
            (0, 400),
            (1, 0),
            (1, 22),
            (1, 23),
            (1, -22),
            (1, -23),
            (123_456_789_012_345, 0),
            (999_999_999_999_999, 293),
            (179_769_313_486_231, 294), // just under f64::MAX
            (179_769_313_486_232, 294), // rounds to f64::MAX
            (179_769_313_486_233, 294),
            (18, 307),
            (1, 308),
            (1, 309),
            (1, 400),
            (22_250_738_585_072, -321), // about the smallest normal
            (22_250_738_585_073, -321),
            (49_406_564_584_124, -337), // the smallest subnormal
            (24_703_282_292_062, -337), // half of it: rounds to 0 (ties to even)
            (24_703_282_292_063, -337), // above half: the smallest subnormal
            (1, -323),
            (1, -324),
            (1, -325),
            (1, -400),
            (9_007_199_254_740_993, 0), // 2^53 + 1: a tie, to even
            (9_007_199_254_740_995, 0),
            (u64::MAX, 0),
            (u64::MAX, -30),
            (5, -1),
            (25, -2),
            (125, -3),
        ] {
            check(d, e);
        }
    }

    #[test]
    fn random_against_std() {
        // A fixed-seed xorshift: digits of 1–17 figures, exponents across the whole range.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let figures = (next() % 17 + 1) as u32;
            let digits = next() % 10u64.pow(figures);
            let exp = (next() % 700) as i32 - 350;
            check(digits, exp);
        }
    }
}
