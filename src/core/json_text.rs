//! Compact JSON text, byte for byte what `serde_json::to_string` writes, without serde's writer:
//! strings are escaped here (the characters serde_json escapes, in its forms), and a number is
//! written by serde_json.

use serde_json::{Map, Value};

/// Writes `v` as compact JSON to `out` (object keys in `Map`'s order).
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => write_str(out, s),
        Value::Object(map) => write_object(out, map),
        Value::Array(items) => {
            out.push('[');
            for (n, v) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(out, "{n}");
        }
    }
}

/// Writes `map` as a compact JSON object to `out` (keys in `Map`'s order).
pub fn write_object(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (n, (k, v)) in map.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

/// How serde_json writes byte `b` of a string: `Some(c)` as `\c` (`'u'`: as `\u00xx`, in
/// lower-case hex), `None` as it is. Escaped are `"`, `\` and the control characters, `\b \t
/// \n \f \r` by their short forms. (Always inlined: [`write_str`] asks it of every byte of
/// every value written, and at `opt-level = "s"` a call per byte measured slower: a batched
/// upsert's `process()` 7.3–7.5 → 7.8–8.3 µs in two alternating runs.)
#[inline(always)]
fn escape_of(b: u8) -> Option<char> {
    match b {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'\n' => Some('n'),
        b'\t' => Some('t'),
        b'\r' => Some('r'),
        0x08 => Some('b'),
        0x0c => Some('f'),
        0x00..=0x1f => Some('u'),
        _ => None,
    }
}

/// Writes `s` as a JSON string to `out`, as serde_json writes it ([`escape_of`]). Escaped in
/// place, a run of plain bytes at a time (before, a string with an escape went through
/// `serde_json::to_string` and a copy), and eight bytes are looked at at once while none of
/// them needs an escape ([`plain_word`]): about a tenth of a batched upsert's `process()` went
/// to this loop a byte at a time.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = (i + 8).min(bytes.len());
        if end - i == 8 && plain_word(bytes.get(i..end).unwrap_or_default()) {
            i = end;
            continue;
        }
        for (at, &b) in bytes.get(i..end).unwrap_or_default().iter().enumerate() {
            let Some(short) = escape_of(b) else { continue };
            let at = i + at;
            // `at` is at an ASCII byte, so both cuts fall between characters.
            out.push_str(s.get(plain..at).unwrap_or_default());
            plain = at + 1;
            out.push('\\');
            out.push(short);
            if short == 'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("00");
                out.push(char::from(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
                out.push(char::from(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0')));
            }
        }
        i = end;
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// Whether none of the eight bytes of `word` needs an escape ([`escape_of`]): no control
/// character (below 0x20), `"` or `\`. Each test is the classic word-at-a-time one (a byte of
/// `x` below `n`, for `n` ≤ 128: `(x - n·0x01…01) & !x & 0x80…80` is nonzero exactly when some
/// byte is; a byte equal to `c`: the same with `n = 1` on `x ^ c·0x01…01`). Not eight bytes:
/// `false`.
#[inline(always)]
fn plain_word(word: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let Ok(word) = <[u8; 8]>::try_from(word) else { return false };
    let w = u64::from_le_bytes(word);
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS != 0;
    !below(w, 0x20) && !below(w ^ (ONES * u64::from(b'"')), 1) && !below(w ^ (ONES * u64::from(b'\\')), 1)
}

/// Characters `n` takes in decimal (with its sign): the bytes of its JSON number.
pub(crate) fn decimal_len(n: i64) -> usize {
    let digits = n.unsigned_abs().checked_ilog10().map_or(1, |d| d as usize + 1);
    digits + usize::from(n < 0)
}

/// Bytes `text` takes inside a JSON string as [`write_str`] writes it, without its quotes: an
/// escaped byte takes two (`\n`) or six (`\u001f`).
pub fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match escape_of(b) {
                Some('u') => 5,
                Some(_) => 1,
                None => 0,
            })
            .sum::<usize>()
}

/// Bytes `v`'s text takes when none of its strings needs an escape (24 for a number: the
/// longest serde_json writes, `-1.7976931348623157e+308`): enough to write it without growing
/// in the common case.
pub fn capacity(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        Value::Object(map) => object_capacity(map),
        Value::Array(items) => items.iter().map(|v| capacity(v) + 1).sum::<usize>() + 2,
        _ => 24,
    }
}

/// [`capacity`] of an object.
pub fn object_capacity(map: &Map<String, Value>) -> usize {
    map.iter().map(|(k, v)| k.len() + 4 + capacity(v)).sum::<usize>() + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_serde_json_writes() {
        let values = [
            json!({"data": {"udo": {"email": "a@b.c", "n": 1.5, "big": 18446744073709551615u64, "neg": -3}},
                   "s": "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} é 😀 \u{2028}",
                   "list": [null, true, false, [], {}, [1, "x"]], "": 0.1, "e": 1e300}),
            json!([]),
            json!("plain"),
            json!(null),
            json!(-0.0),
        ];
        for v in values {
            let mut out = String::new();
            write_value(&mut out, &v);
            assert_eq!(out, serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn escapes_each_character_as_serde_json_does() {
        // Every ASCII character alone, between others, and runs of them, around multi-byte text.
        for b in 0u8..0x80 {
            let c = char::from(b);
            for s in [c.to_string(), format!("a{c}b"), format!("é{c}{c}😀"), format!("{c}x{c}")] {
                let mut out = String::new();
                write_str(&mut out, &s);
                assert_eq!(out, serde_json::to_string(&s).unwrap(), "{b:#04x}");
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Any text, with the characters that need an escape at every place relative to the
        /// eight-byte words, is written as serde_json writes it.
        #[test]
        fn writes_any_string_as_serde_json_does(
            s in "([a-z]{0,11}[\"\\\\\\x00-\\x1f\\x7fé😀 ]){0,6}[a-z]{0,11}"
        ) {
            let mut out = String::new();
            write_str(&mut out, &s);
            proptest::prop_assert_eq!(&out, &serde_json::to_string(&s).unwrap_or_default());
            proptest::prop_assert_eq!(escaped_len(&s) + 2, out.len());
        }
    }

    #[test]
    fn escaped_len_is_the_length_written() {
        for s in ["", "plain", "quote \" backslash \\ nl \n nul \u{0} us \u{1f} é 😀", "\u{7f}\u{2028}"] {
            let mut out = String::new();
            write_str(&mut out, s);
            assert_eq!(escaped_len(s) + 2, out.len(), "{s:?}");
        }
    }

    #[test]
    fn the_capacity_is_enough_without_escapes() {
        let v =
            json!({"data": {"udo": {"email": "a@b.c", "n": -1.7976931348623157e308}}, "l": ["x", 1, null]});
        let mut out = String::new();
        write_value(&mut out, &v);
        assert!(out.len() <= capacity(&v), "{} > {}", out.len(), capacity(&v));
    }
}
