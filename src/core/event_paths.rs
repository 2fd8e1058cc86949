//! What an action reads from its events, and reading an event's JSON text for it.
//!
//! Every value an action takes from an event comes from an attribute path in its
//! configuration (`{"attribute": "data.udo.email"}`, [`crate::core::source::Source`]). The
//! paths of one action form an [`EventPaths`] tree. [`EventPaths::read`] parses an event's
//! JSON text into a `serde_json::Value` holding only the values on those paths: the rest of the
//! event is skipped by the parser without being built (no maps, no strings), so a host that has
//! the event as text hands the engine only what the action will use, and the engine keeps (and
//! snapshots) only that. Reading the full event and reading it through `EventPaths` give every
//! source of the action the same value (see the tests).
//!
//! A restored connector reads the events its snapshot carries through its own settings: an
//! attribute the new settings read that the old ones did not is absent from those events (and
//! an object the old ones read parts of holds only those parts).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::core::schema::f64_text;
use crate::core::source::Source;

/// Nesting serde_json reads in one value (its recursion limit): an event nested deeper is
/// refused, whichever part of it an action reads.
pub const MAX_NESTING: usize = 127;

// A source's path is refused at construction when its end could not be read.
const _: () = assert!(crate::core::source::MAX_PATH_KEYS == MAX_NESTING);

/// The attribute paths one action reads, as a tree of keys. The root of an action that reads
/// no attribute keeps nothing of an event but its type (an object stays an empty object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPaths {
    /// The keys read below this point (object keys, or array indices as decimal text).
    children: Vec<(String, EventPaths)>,
    /// A path ends here: the whole value at this point is read.
    whole: bool,
}

/// Why an event's text cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Nested deeper than [`MAX_NESTING`] levels.
    #[error("it is nested more than {MAX_NESTING} levels deep")]
    TooDeep,
    /// A string the action reads holds a lone UTF-16 surrogate escape (`JSON.stringify` writes
    /// one for half a character, as `slice()` leaves when it cuts an emoji).
    #[error(
        "a string it holds has half of a character (a lone UTF-16 surrogate, as a string cut with \
         slice() in the middle of an emoji leaves), which JSON cannot carry"
    )]
    HalfCharacter,
    /// Not JSON (the parser's message).
    #[error("{0}")]
    NotJson(String),
}

impl EventPaths {
    /// Paths that keep the whole event (an action whose reads are not known).
    pub fn everything() -> EventPaths {
        EventPaths { children: Vec::new(), whole: true }
    }

    /// The paths of every source in an action's configuration (`{"attribute": "a.b"}` or
    /// `{"attribute": ["a", "b"]}`, at any depth), read by [`Source::parse`]. A literal `value`
    /// that happens to hold such an object adds a path no source reads, which only keeps a
    /// little more of each event.
    pub fn of_config(action: &Value) -> EventPaths {
        let mut paths = EventPaths::default();
        paths.collect(action);
        paths
    }

    fn collect(&mut self, v: &Value) {
        match v {
            Value::Object(map) => {
                if map.contains_key("attribute") {
                    if let Ok(Source::Attribute(path)) = Source::parse(v) {
                        self.add(path.iter().map(String::as_str));
                    }
                }
                map.values().for_each(|v| self.collect(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect(v)),
            _ => {}
        }
    }

    /// Adds one path (its keys, outermost first).
    pub fn add<'k>(&mut self, keys: impl Iterator<Item = &'k str>) {
        let mut node = self;
        for key in keys {
            if node.whole {
                return;
            }
            let at = match node.children.iter().position(|(k, _)| k == key) {
                Some(at) => at,
                None => {
                    node.children.push((key.to_owned(), EventPaths::default()));
                    node.children.len() - 1
                }
            };
            match node.children.get_mut(at) {
                Some((_, child)) => node = child,
                None => return,
            }
        }
        node.whole = true;
        node.children.clear();
    }

    /// Whether a path ends here: the whole value at this point is read.
    pub fn is_whole(&self) -> bool {
        self.whole
    }

    /// The keys read below this point and the paths below each, in the order they were added.
    pub fn children(&self) -> impl Iterator<Item = (&str, &EventPaths)> {
        self.children.iter().map(|(key, paths)| (key.as_str(), paths))
    }

    /// Parses an event's JSON text keeping only the values on these paths (object keys off
    /// the paths are left out; a list a path goes into is kept whole).
    ///
    /// # Errors
    /// [`ReadError::TooDeep`] past [`MAX_NESTING`] levels (anywhere in the text, as a full
    /// parse would), [`ReadError::HalfCharacter`] for a lone surrogate escape in a read string
    /// (skipped parts are not decoded), [`ReadError::NotJson`] for text that is not one JSON
    /// value.
    pub fn read(&self, text: &str) -> Result<Value, ReadError> {
        self.read_nested(text, 0)
    }

    /// [`EventPaths::read`] for the JSON text of a value `above` levels inside an event (the
    /// keys of the path that leads to it): the depth rule counts them too.
    ///
    /// # Errors
    /// As [`EventPaths::read`].
    pub fn read_nested(&self, text: &str, above: usize) -> Result<Value, ReadError> {
        // serde_json skips unread values in one loop, without its recursion limit: the depth
        // is measured apart, so the rule is the same whatever the action reads.
        if above.saturating_add(nesting_depth(text)) > MAX_NESTING {
            return Err(ReadError::TooDeep);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let read = Node(self).deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        read.map_err(|e| {
            let message = e.to_string();
            // serde_json has no error kind for it: its messages name the surrogate or the escape.
            if message.contains("surrogate") || message.contains("hex escape") {
                ReadError::HalfCharacter
            } else {
                ReadError::NotJson(message)
            }
        })
    }
}

/// The value serde_json reads from the text `JSON.stringify` writes for the JavaScript number
/// `n`, without the text: an integer below 2^64 in magnitude is written as its digits (below
/// 10^21 JavaScript writes no exponent), which serde_json reads as a `u64` (or an `i64` when
/// negative and in range); any other finite number is read as the same `f64` (serde_json reads
/// with `float_roundtrip`, and JavaScript writes the shortest text that reads back as it). -0
/// is written `0`. A non-finite number (written `null`) is [`crate::core::source::non_finite_marker`].
pub fn js_number(n: f64) -> Value {
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    if !n.is_finite() {
        let what = if n.is_nan() {
            "NaN"
        } else if n > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        return crate::core::source::non_finite_marker(what);
    }
    if n.fract() == 0.0 && n.abs() < TWO_TO_64 {
        // serde_json reads the digits JavaScript writes (below 10^21 it writes no exponent) as
        // a u64, or an i64 when negative, when they fit: above 2^53 those are the fewest
        // significant digits that read back as `n`, then zeros (`18446744073709549568` is
        // written `18446744073709550000`), not `n`'s exact digits.
        let magnitude = n.abs();
        let digits = if magnitude <= 9_007_199_254_740_992.0 {
            Some(magnitude as u64)
        } else {
            f64_text(magnitude).parse::<u64>().ok()
        };
        match digits {
            Some(d) if n >= 0.0 => return Value::Number(d.into()),
            Some(d) if d <= 1 << 63 => return Value::Number((d as i64).wrapping_neg().into()),
            _ => {}
        }
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// The deepest nesting of `[`/`{` in JSON text (brackets inside strings do not count). For text
/// that is not JSON it is at least the nesting a parser reaches before it finds the error.
pub fn nesting_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max, mut at) = (0usize, 0usize, 0usize);
    while let Some(&b) = bytes.get(at) {
        at += 1;
        match b {
            // A string: to its closing quote, a run of its plain bytes at a time (most of an
            // event's text is in strings), each backslash taking the byte after it.
            b'"' => loop {
                let Some(stop) =
                    bytes.get(at..).and_then(|rest| rest.iter().position(|&c| c == b'"' || c == b'\\'))
                else {
                    return max;
                };
                at += stop + 1;
                if bytes.get(at - 1) == Some(&b'"') {
                    break;
                }
                at += 1;
            },
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Reads the value at one point of the tree.
struct Node<'p>(&'p EventPaths);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    /// A list a path goes into (`items.1.sku`) is kept whole: an element left out would have to
    /// leave a placeholder to keep the indices, which a restored connector reading another
    /// index would take for a value.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(child) = map.next_key_seed(Key(self.0))? {
            match child {
                Some((key, paths)) => {
                    let v = map.next_value_seed(Node(paths))?;
                    out.insert(key.clone(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Reads an object key: the child a path takes through it, if any (no key is copied to find
/// out).
struct Key<'p>(&'p EventPaths);

impl<'de, 'p> DeserializeSeed<'de> for Key<'p> {
    type Value = Option<&'p (String, EventPaths)>;

    /// As bytes: serde_json hands a key over unchecked that way, so a key holding a lone
    /// surrogate (no path can name one) is skipped rather than refused.
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de, 'p> Visitor<'de> for Key<'p> {
    type Value = Option<&'p (String, EventPaths)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.visit_bytes(key.as_bytes())
    }

    fn visit_bytes<E>(self, key: &[u8]) -> Result<Self::Value, E> {
        Ok(self.0.children.iter().find(|(k, _)| k.as_bytes() == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// [`nesting_depth`] as it was first written, a byte at a time: the reference for the
    /// faster one.
    #[cfg(not(target_arch = "wasm32"))]
    fn nesting_depth_bytewise(text: &str) -> usize {
        let (mut depth, mut max) = (0usize, 0usize);
        let (mut in_string, mut escaped) = (false, false);
        for b in text.bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn nesting_depth_is_the_bytewise_count(text in "[\\[\\]{}\"\\\\a:,é]{0,40}") {
            proptest::prop_assert_eq!(nesting_depth(&text), nesting_depth_bytewise(&text), "{:?}", text);
        }
    }

    fn paths(list: &[&str]) -> EventPaths {
        let mut p = EventPaths::default();
        for path in list {
            p.add(path.split('.'));
        }
        p
    }

    #[test]
    fn the_longest_path_a_source_may_have_is_one_an_event_can_hold() {
        use crate::core::source::MAX_PATH_KEYS;
        let event_at = |depth: usize| {
            let mut text = String::from("\"v\"");
            for _ in 0..depth {
                text = format!("{{\"k\":{text}}}");
            }
            text
        };
        let keys = vec!["k".to_string(); MAX_PATH_KEYS];
        let source = Source::parse(&json!({ "attribute": keys })).unwrap();
        let mut p = EventPaths::default();
        p.add(keys.iter().map(String::as_str));
        let event = p.read(&event_at(MAX_PATH_KEYS)).unwrap();
        assert_eq!(source.resolve(&event), Some(&json!("v")));
        // One key more could never be read: the event holding it is too deep for any reader.
        assert_eq!(p.read(&event_at(MAX_PATH_KEYS + 1)), Err(ReadError::TooDeep));
        let longer = vec!["k"; MAX_PATH_KEYS + 1];
        let err = Source::parse(&json!({ "attribute": longer })).unwrap_err();
        assert!(err.contains("has 128 keys"), "{err}");
        let err = Source::parse(&json!({ "attribute": longer.join(".") })).unwrap_err();
        assert!(err.contains("could never be read"), "{err}");
    }

    #[test]
    fn keeps_only_the_values_on_the_paths() {
        let text = r#"{"data":{"udo":{"email":"a@b.c","name":"A","big":{"x":[1,2,3]}},"other":"o"},"id":7,"items":[{"sku":"s0","q":1},{"sku":"s1"}]}"#;
        let p = paths(&["data.udo.email", "id", "items.1.sku", "missing.path"]);
        assert_eq!(
            p.read(text).unwrap(),
            json!({"data": {"udo": {"email": "a@b.c"}}, "id": 7, "items": [{"sku": "s0", "q": 1}, {"sku": "s1"}]})
        );
    }

    #[test]
    fn a_path_to_an_object_keeps_all_of_it() {
        let text = r#"{"a":{"b":{"c":1,"d":[true,null]},"e":2}}"#;
        assert_eq!(
            paths(&["a.b", "a.b.c"]).read(text).unwrap(),
            json!({"a": {"b": {"c": 1, "d": [true, null]}}})
        );
        assert_eq!(
            EventPaths::everything().read(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn values_that_are_not_objects_stay_as_they_are() {
        let p = paths(&["a.b"]);
        assert_eq!(p.read(r#"{"a":"text"}"#).unwrap(), json!({"a": "text"}));
        assert_eq!(p.read("42").unwrap(), json!(42));
        assert_eq!(p.read(r#""s""#).unwrap(), json!("s"));
        assert_eq!(p.read("[1,2]").unwrap(), json!([1, 2]));
        assert_eq!(EventPaths::default().read(r#"{"a":1}"#).unwrap(), json!({}));
    }

    #[test]
    fn numbers_and_escapes_read_as_serde_json_reads_them() {
        let text = r#"{"n":[-1,18446744073709551615,1.5e3,0.1],"s\u00e9":"\"q\"\n","k.dot":1}"#;
        let p = paths(&["n", "sé"]);
        let full: Value = serde_json::from_str(text).unwrap();
        let read = p.read(text).unwrap();
        assert_eq!(read["n"], full["n"]);
        assert_eq!(read["sé"], full["sé"]);
        let mut dotted = EventPaths::default();
        dotted.add(["k.dot"].into_iter());
        assert_eq!(dotted.read(text).unwrap(), json!({"k.dot": 1}));
    }

    #[test]
    fn a_javascript_number_reads_as_serde_json_reads_the_text_javascript_writes_for_it() {
        // (number, the text JSON.stringify writes for it)
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (42.0, "42"),
            (-7.0, "-7"),
            (0.1, "0.1"),
            (-1.5, "-1.5"),
            (9_007_199_254_740_993.0, "9007199254740992"),
            (1e20, "100000000000000000000"),
            (18_446_744_073_709_549_568.0, "18446744073709550000"),
            (18_446_744_073_709_551_616.0, "18446744073709552000"),
            (-9_223_372_036_854_775_808.0, "-9223372036854776000"),
            (-9_223_372_036_854_777_856.0, "-9223372036854778000"),
            (1e21, "1e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (123.456, "123.456"),
        ];
        for &(n, text) in cases {
            let read: Value = serde_json::from_str(text).unwrap();
            let made = js_number(n);
            assert_eq!(made, read, "{n} written {text}");
            // The same kind of number (u64, i64 or f64), so it is written back the same way.
            assert_eq!(made.to_string(), read.to_string(), "{n}");
        }
        assert!(crate::core::source::non_finite(&js_number(f64::NAN)) == Some("NaN"));
        assert!(crate::core::source::non_finite(&js_number(f64::NEG_INFINITY)) == Some("-Infinity"));
    }

    #[test]
    fn a_duplicate_key_reads_as_its_last_value_like_a_full_parse() {
        assert_eq!(paths(&["a"]).read(r#"{"a":1,"a":2}"#).unwrap(), json!({"a": 2}));
    }

    #[test]
    fn too_deep_anywhere_is_refused_as_a_full_parse_refuses_it() {
        let deep = |n: usize| format!(r#"{{"a":1,"skip":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        let p = paths(&["a"]);
        // The event object is one level: 126 arrays inside it are 127 levels.
        assert_eq!(p.read(&deep(126)).unwrap(), json!({"a": 1}));
        assert!(serde_json::from_str::<Value>(&deep(126)).is_ok());
        assert_eq!(p.read(&deep(127)), Err(ReadError::TooDeep));
        assert!(serde_json::from_str::<Value>(&deep(127))
            .unwrap_err()
            .to_string()
            .contains("recursion limit"));
    }

    #[test]
    fn a_lone_surrogate_is_refused_where_it_is_read_and_skipped_elsewhere() {
        let text = r#"{"a":"ok","junk":"\ud800","\udc00":1}"#;
        assert_eq!(paths(&["a"]).read(text).unwrap(), json!({"a": "ok"}));
        assert_eq!(paths(&["junk"]).read(text), Err(ReadError::HalfCharacter));
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        assert!(matches!(paths(&["a"]).read(r#"{"a":1"#), Err(ReadError::NotJson(_))));
        assert!(matches!(paths(&["a"]).read(r#"{"a":1} x"#), Err(ReadError::NotJson(_))));
    }

    #[test]
    fn the_paths_of_an_action_are_its_attribute_sources() {
        let action = json!({"id": "a", "type": "createOrUpdateLeadBatched", "leadData": [
            {"field": "email", "source": {"attribute": "data.udo.email"}},
            {"field": "x", "source": {"attribute": ["data", "udo", "plan.tier"]}},
            {"field": "y", "source": {"value": "lit"}}]});
        let mut expected = EventPaths::default();
        expected.add(["data", "udo", "email"].into_iter());
        expected.add(["data", "udo", "plan.tier"].into_iter());
        assert_eq!(EventPaths::of_config(&action), expected);
    }
}
