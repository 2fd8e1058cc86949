//! Redaction: nothing that leaves the connector (outcomes, listings, log entries, errors) may
//! carry the client secret or a token it was issued, whatever Marketo, a proxy or the host
//! answers — an error page echoing `Authorization: Bearer …`, a `603` quoting the token, a
//! non-JSON body starting with it, a host `fetch` error quoting the request headers, an
//! identity `401` echoing `client_secret=…`.
//!
//! Each secret is looked for in the forms it can take in such text: raw; percent-encoded (the
//! connector's own query/form encoding, `encodeURIComponent`'s and `URLSearchParams`', with
//! upper- or lower-case hex); JSON-escaped; base64 and base64url at each of the three byte
//! alignments it can have inside a longer encoded string. For a Marketo access token
//! (`cdf01657-110d-4155-99a7-f986b2ff13a0:ab`) the part before the `:` is recognisable on its
//! own and is looked for in all those forms too. (Also every byte but letters and digits
//! percent-encoded, as some encoders write `-` and `:`.) Every match becomes [`MASK`]. Text is
//! redacted before it is cut short, so no fragment of a secret survives a cut.

use super::wire::encode_query_value;

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// Forms shorter than this are not looked for: they would mangle ordinary text, and are not
/// recognisable as a secret.
const MIN_LEN: usize = 8;

/// Tokens remembered besides the client secret (Marketo issues one an hour; a token older than
/// the last few has long expired and no call still carries it).
const MAX_TOKENS: usize = 16;

/// The secrets to hide, each as the list of forms it can take.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The client secret's forms.
    secret: Vec<String>,
    /// Tokens, oldest first: the token, its forms, the forms of its part before the `:`.
    tokens: Vec<(String, Vec<String>, Vec<String>)>,
}

// By hand: a debug print must not show what it hides.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor {{ secret: ***, tokens: {} }}", self.tokens.len())
    }
}

impl Redactor {
    /// Hides the client secret from now on.
    pub fn learn_secret(&mut self, secret: &str) {
        self.secret = forms(secret);
    }

    /// Hides a token from now on (and the part of it before its `:`).
    pub fn learn_token(&mut self, token: &str) {
        if self.tokens.iter().any(|(t, _, _)| t == token) {
            return;
        }
        let head = token.split_once(':').map(|(head, _)| forms(head)).unwrap_or_default();
        self.tokens.push((token.to_string(), forms(token), head));
        if self.tokens.len() > MAX_TOKENS {
            self.tokens.remove(0);
        }
    }

    /// `text` with every form of every secret replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        self.redact_in_place(&mut out);
        out
    }

    /// Replaces every form of every secret in `text` by [`MASK`]: whole secrets first, then the
    /// parts of tokens (so a whole token becomes one mask, not a mask and its tail).
    pub fn redact_in_place(&self, text: &mut String) {
        let whole = self.secret.iter().chain(self.tokens.iter().flat_map(|(_, f, _)| f.iter()));
        let parts = self.tokens.iter().flat_map(|(_, _, h)| h.iter());
        for form in whole.chain(parts) {
            if text.contains(form.as_str()) {
                *text = text.replace(form.as_str(), MASK);
            }
        }
    }
}

/// Every form `s` can take in text that quotes it, each once.
fn forms(s: &str) -> Vec<String> {
    let mut out: Vec<String> =
        vec![s.to_string(), encode_query_value(s), uri_component(s), form_urlencoded(s), all_encoded(s)];
    let lower: Vec<String> = out.iter().map(|f| lower_hex(f)).collect();
    out.extend(lower);
    if let Ok(json) = serde_json::to_string(s) {
        out.push(json.trim_matches('"').to_string());
    }
    for alphabet in [STANDARD, URL_SAFE] {
        for skip in 0..3 {
            let bytes = s.as_bytes().get(skip..).unwrap_or(&[]);
            let whole = bytes.len() / 3 * 3;
            out.push(base64(bytes.get(..whole).unwrap_or(&[]), alphabet));
        }
    }
    let mut unique: Vec<String> = Vec::with_capacity(out.len());
    for f in out {
        if f.len() >= MIN_LEN && !unique.contains(&f) {
            unique.push(f);
        }
    }
    unique
}

/// `encodeURIComponent`: all but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` percent-encoded.
fn uri_component(s: &str) -> String {
    percent(s, |b| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b), false)
}

/// `application/x-www-form-urlencoded` as `URLSearchParams` writes it: spaces as `+`, all but
/// `A–Z a–z 0–9 * - . _` percent-encoded.
fn form_urlencoded(s: &str) -> String {
    percent(s, |b| b.is_ascii_alphanumeric() || b"*-._".contains(&b), true)
}

/// Every byte but ASCII letters and digits percent-encoded (encoders that escape `-`, `.`, `:`).
fn all_encoded(s: &str) -> String {
    percent(s, |b| b.is_ascii_alphanumeric(), false)
}

fn percent(s: &str, keep: impl Fn(u8) -> bool, plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else if plus && b == b' ' {
            out.push('+');
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            for nibble in [b >> 4, b & 15] {
                out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
            }
        }
    }
    out
}

/// Lower-cases the hex digits of `%XX` escapes.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_percent = 0;
    for c in s.chars() {
        if after_percent > 0 {
            out.push(c.to_ascii_lowercase());
            after_percent -= 1;
        } else {
            if c == '%' {
                after_percent = 2;
            }
            out.push(c);
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of whole 3-byte groups (no padding needed).
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len() / 3 * 4);
    for group in bytes.chunks_exact(3) {
        let [a, b, c] = [0, 1, 2].map(|i| group.get(i).copied().map_or(0, u32::from));
        let n = (a << 16) | (b << 8) | c;
        for shift in [18, 12, 6, 0] {
            out.push(char::from(alphabet.get(((n >> shift) & 63) as usize).copied().unwrap_or(b'=')));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "cdf01657-110d-4155-99a7-f986b2ff13a0:ab";
    const SECRET: &str = "Sup3r S3cret/value+9f7";

    fn std_base64(s: &[u8]) -> String {
        // Reference encoder with padding, for the test only.
        let mut padded = base64(&s[..s.len() / 3 * 3], STANDARD);
        let rest = &s[s.len() / 3 * 3..];
        if !rest.is_empty() {
            let mut last = rest.to_vec();
            last.resize(3, 0);
            let enc = base64(&last, STANDARD);
            padded.push_str(&enc[..rest.len() + 1]);
            padded.push_str(&"=".repeat(3 - rest.len()));
        }
        padded
    }

    fn redactor() -> Redactor {
        let mut r = Redactor::default();
        r.learn_secret(SECRET);
        r.learn_token(TOKEN);
        r
    }

    #[test]
    fn every_form_of_a_token_or_secret_is_masked() {
        let r = redactor();
        let texts = [
            format!("Authorization: Bearer {TOKEN}"),
            format!("Access denied for token {TOKEN}"),
            format!("token={}", encode_query_value(TOKEN)),
            format!("token={}", uri_component(TOKEN)),
            format!("token={}", lower_hex(&uri_component(TOKEN))),
            "id cdf01657-110d-4155-99a7-f986b2ff13a0 unknown".to_string(),
            format!("client_secret={}", encode_query_value(SECRET)),
            format!("client_secret={}", form_urlencoded(SECRET)),
            format!("client_secret={}", lower_hex(&form_urlencoded(SECRET))),
            format!("{{\"secret\":{}}}", serde_json::to_string(SECRET).unwrap()),
            format!("raw {SECRET} end"),
        ];
        for t in texts {
            let out = r.redact(&t);
            assert!(!out.contains("cdf01657") && !out.contains("S3cret"), "{t} → {out}");
            assert!(out.contains(MASK), "{out}");
        }
    }

    #[test]
    fn base64_at_any_alignment_is_masked() {
        let r = redactor();
        for prefix in ["", "a", "ab", "abc"] {
            for secret in [TOKEN, SECRET] {
                let encoded = std_base64(format!("{prefix}{secret}").as_bytes());
                let out = r.redact(&format!("Basic {encoded}"));
                assert!(out.contains(MASK), "{prefix}{secret}: {out}");
                // What survives is at most the few characters around the cut groups.
                assert!(out.len() <= 6 + 4 + MASK.len() + 4, "{out}");
            }
        }
    }

    #[test]
    fn ordinary_text_and_short_fragments_are_left_alone() {
        let r = redactor();
        let text = "Lead not found (1004): cdf01657 is not a lead id";
        assert_eq!(r.redact(text), text);
        assert!(!format!("{r:?}").contains("cdf01657"));
    }

    #[test]
    fn only_the_last_tokens_are_remembered() {
        let mut r = redactor();
        for i in 0..(MAX_TOKENS + 1) {
            r.learn_token(&format!("{i:08}-0000-0000-0000-000000000000:ab"));
        }
        assert_eq!(r.tokens.len(), MAX_TOKENS);
        assert!(r.redact(TOKEN).contains("cdf01657"), "the oldest token is forgotten");
        assert_eq!(r.redact(SECRET), MASK, "the secret is never forgotten");
    }
}
