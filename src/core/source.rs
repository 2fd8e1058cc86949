//! Where parameter values come from: an attribute path into the event, or a literal
//! (SPEC §3), and the conversions mapped values go through (ids, dates).

use std::borrow::Cow;

use serde_json::Value;

use super::date::to_iso8601;
use super::error::EventError;
use super::schema::{convert, cut_chars, iso_day, keeps_raw, DataType, Format, OnTooLong};

/// Prefix of the string that stands in for a JavaScript number JSON cannot carry (`NaN`,
/// `Infinity`, `-Infinity`) or an invalid `Date`: `JSON.stringify` would write `null`, which
/// clears a field in Marketo. The wasm layer puts `NON_FINITE_MARK + "NaN"` (…) in its place,
/// and any mapped value, token, id or bulk cell holding one fails its event (`INVALID_VALUE`).
/// The NUL byte keeps it apart from any text a pipeline sends.
pub const NON_FINITE_MARK: &str = "\u{0}marketo-connector:non-finite:";

/// The stand-in for a non-finite number: `what` is `NaN`, `Infinity`, `-Infinity` or
/// `an invalid Date`.
pub fn non_finite_marker(what: &str) -> Value {
    Value::String(format!("{NON_FINITE_MARK}{what}"))
}

/// What non-finite number `v` holds (itself, or anywhere inside a list or object), if any.
pub fn non_finite(v: &Value) -> Option<&str> {
    // A mapped value is nearly always a scalar: no stack for it.
    match v {
        Value::String(s) => return s.strip_prefix(NON_FINITE_MARK),
        Value::Array(_) | Value::Object(_) => {}
        _ => return None,
    }
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some(what) = s.strip_prefix(NON_FINITE_MARK) {
                    return Some(what);
                }
            }
            Value::Array(list) => stack.extend(list.iter()),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    None
}

/// Fails when `v` holds a non-finite number (see [`NON_FINITE_MARK`]). `parameter` names the
/// parameter, and is only called when it fails (mapping calls this for every field).
///
/// # Errors
/// [`EventError::InvalidValue`] naming the parameter.
pub fn require_finite(v: &Value, parameter: impl FnOnce() -> String) -> Result<(), EventError> {
    match non_finite(v) {
        None => Ok(()),
        Some(what) => Err(EventError::InvalidValue {
            parameter: parameter(),
            problem: format!(
                "the value is {what}, not a finite number (JSON would carry it as null, which clears the field in Marketo)"
            ),
        }),
    }
}

/// The most keys an attribute path may have: a value at the end of a longer one is nested deeper
/// than an event may be ([`crate::core::event_paths::MAX_NESTING`], serde_json's limit, which
/// is the same number), so the path could never be read and every event would fail.
pub const MAX_PATH_KEYS: usize = 127;

/// A parameter's value source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A path of keys into the event object (`"visitor.properties.5124"` or a list of keys).
    Attribute(Vec<String>),
    /// A literal value from the configuration.
    Value(Value),
}

impl Source {
    /// Parses `{"attribute": "a.b"}`, `{"attribute": ["a", "b.c"]}` or `{"value": x}`.
    ///
    /// # Errors
    /// A message saying what shape was expected.
    pub fn parse(v: &Value) -> Result<Source, String> {
        let obj =
            v.as_object().ok_or("expected {\"attribute\": \"path.in.event\"} or {\"value\": literal}")?;
        match (obj.get("attribute"), obj.get("value")) {
            (Some(_), Some(_)) => Err("give either `attribute` or `value`, not both".into()),
            (Some(Value::String(path)), None) => {
                if path.is_empty() {
                    return Err("`attribute` is empty".into());
                }
                let keys: Vec<String> = path.split('.').map(str::to_owned).collect();
                // A dot path names one key between each two dots: `a..b`, `.a`, `a.` or `.`
                // would read a key `""` no event means to have (a typo, or a path cut short).
                if keys.iter().any(String::is_empty) {
                    return Err(format!(
                        "`attribute` path `{path}` has an empty key (two dots in a row, or a dot at its start or end); \
                         write one key between each two dots, or give the keys as a list \
                         ([\"a\", \"\", \"b\"]) to read a key that is the empty string"
                    ));
                }
                readable(keys)
            }
            (Some(Value::Array(keys)), None) => {
                let keys: Option<Vec<String>> = keys.iter().map(|k| k.as_str().map(str::to_owned)).collect();
                match keys {
                    Some(keys) if !keys.is_empty() => readable(keys),
                    _ => Err("`attribute` as a list must be a non-empty list of strings".into()),
                }
            }
            (Some(_), None) => Err("`attribute` must be a dot path or a list of keys".into()),
            (None, Some(v)) => match non_finite(v) {
                // Every event would fail on it (INVALID_VALUE): say so once, at construction.
                Some(what) => Err(format!(
                    "`value` holds {what}, not a finite number (JSON would carry it as null, which clears a field)"
                )),
                None => Ok(Source::Value(v.clone())),
            },
            (None, None) => Err("expected {\"attribute\": \"path.in.event\"} or {\"value\": literal}".into()),
        }
    }

    /// The value this source yields for `event`, or `None` when the attribute is absent.
    pub fn resolve<'a>(&'a self, event: &'a Value) -> Option<&'a Value> {
        match self {
            Source::Value(v) => Some(v),
            Source::Attribute(path) => {
                path.iter().try_fold(event, |node, key| match node {
                    Value::Object(map) => map.get(key),
                    // Numeric segments index into lists (`items.0.sku`).
                    Value::Array(list) => key.parse::<usize>().ok().and_then(|i| list.get(i)),
                    _ => None,
                })
            }
        }
    }

    /// Human-readable description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Attribute(path) => format!("`{}`", path.join(".")),
            Source::Value(_) => "(literal value)".into(),
        }
    }

    /// Resolves a required parameter.
    ///
    /// # Errors
    /// [`EventError::MissingAttribute`] when the attribute is absent,
    /// [`EventError::NullAttribute`] when it is `null`.
    pub fn require<'a>(&'a self, event: &'a Value, parameter: &str) -> Result<&'a Value, EventError> {
        match self.resolve(event) {
            value @ (Some(Value::Null) | None) => {
                Err(EventError::no_value(parameter.into(), self.describe(), value))
            }
            Some(v) => require_finite(v, || parameter.into()).map(|()| v),
        }
    }
}

/// `keys` as an attribute source, if an event can hold a value that deep ([`MAX_PATH_KEYS`]).
fn readable(keys: Vec<String>) -> Result<Source, String> {
    if keys.len() > MAX_PATH_KEYS {
        return Err(format!(
            "`attribute` path has {} keys; an event can be nested at most {MAX_PATH_KEYS} levels deep, \
             so a value at the end of this path could never be read",
            keys.len()
        ));
    }
    Ok(Source::Attribute(keys))
}

/// Converts a lead, list or campaign id to the integer Marketo's Swagger declares.
/// Integers and digit strings are accepted; anything else is an error.
///
/// # Errors
/// [`EventError::InvalidValue`] naming the parameter and what the value is ([`id_of`]).
pub fn to_id(value: &Value, parameter: &str) -> Result<i64, EventError> {
    id_of(value).map_err(|why| EventError::InvalidValue {
        parameter: parameter.into(),
        problem: format!("{why}; Marketo ids are positive integers"),
    })
}

/// The positive integer id `value` holds (a JSON integer or a string of decimal digits,
/// trimmed), or what it is instead: `"null"`, `"a boolean"`, `"not positive"`… (words that
/// follow "is" in a message).
///
/// # Errors
/// The text saying what the value is.
pub fn id_of(value: &Value) -> Result<i64, &'static str> {
    let id = match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i,
            None if n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() >= 9.0e18) => {
                return Err("too large")
            }
            None => return Err("not an integer"),
        },
        Value::String(s) => return id_of_text(s),
        Value::Null => return Err("null"),
        Value::Bool(_) => return Err("a boolean"),
        Value::Array(_) | Value::Object(_) => return Err("a list or object"),
    };
    positive(id)
}

/// [`id_of`] for an id written as text (trimmed).
///
/// # Errors
/// As [`id_of`].
pub fn id_of_text(s: &str) -> Result<i64, &'static str> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty (or only white space)");
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    // `"-5"` is a number, refused below as not positive (as `-5` is).
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a string that is not a whole number written in decimal digits");
    }
    positive(t.parse::<i64>().map_err(|_| "too large")?)
}

/// `id` when it is a Marketo id (positive).
fn positive(id: i64) -> Result<i64, &'static str> {
    if id <= 0 {
        return Err("not positive");
    }
    Ok(id)
}

/// How a mapped value is read before it is sent (the configuration's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Sent with its JSON type unchanged (no `type`, `"auto"` or `"string"`), unless the
    /// schema gives the field's type.
    Plain,
    /// Read as a date and formatted as ISO 8601 (`type: "date"`, SPEC §3); a Marketo `date`
    /// field then gets `YYYY-MM-DD`.
    Date,
    /// Read as this Marketo type (`type: "integer"`, `"boolean"`, `"datetime"`…): see
    /// [`crate::core::schema::convert`].
    Typed(DataType),
}

impl FieldType {
    /// The configuration's `type` value: `None`/`auto`/`string` → plain, `date`, or one of
    /// Marketo's data types.
    ///
    /// # Errors
    /// A message listing what is accepted.
    pub fn parse(v: Option<&Value>) -> Result<FieldType, String> {
        match v {
            None | Some(Value::Null) => Ok(FieldType::Plain),
            Some(Value::String(t)) if t == "auto" || t == "string" => Ok(FieldType::Plain),
            Some(Value::String(t)) if t == "date" => Ok(FieldType::Date),
            Some(Value::String(t)) if DataType::parse(t) != DataType::Other => Ok(FieldType::Typed(DataType::parse(t))),
            _ => Err("must be absent or one of date, datetime, integer, float, currency, percent, score, boolean, string, email, phone, url, text".into()),
        }
    }

    /// `v` read as this type (a `null` stays `null`); `v` itself (borrowed) when unchanged.
    ///
    /// # Errors
    /// What is wrong with the value.
    pub fn read(self, v: &Value) -> Result<Cow<'_, Value>, String> {
        match self {
            _ if v.is_null() => Ok(Cow::Borrowed(v)),
            FieldType::Plain => Ok(Cow::Borrowed(v)),
            FieldType::Date => to_iso8601(v).map(|s| Cow::Owned(Value::String(s))),
            FieldType::Typed(t) => convert(v, t),
        }
    }
}

/// One `leadData` entry: a Marketo REST field name and where its value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    /// Marketo REST API field name, e.g. `email`, `firstName`.
    pub field: String,
    /// Where the value comes from.
    pub source: Source,
    /// Conversion applied to the value.
    pub kind: FieldType,
}

impl FieldMapping {
    /// Parses a `leadData` list: `[{field, source, type?}]`.
    ///
    /// # Errors
    /// A `(parameter, problem)` pair naming the failing entry.
    pub fn parse_list(v: &Value, parameter: &str) -> Result<Vec<FieldMapping>, (String, String)> {
        let list = v
            .as_array()
            .ok_or_else(|| (parameter.to_string(), "must be a list of {field, source}".to_string()))?;
        if list.is_empty() {
            return Err((parameter.into(), "must map at least one field".into()));
        }
        let mut out: Vec<FieldMapping> = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let at = format!("{parameter}[{i}]");
            let obj = entry
                .as_object()
                .ok_or_else(|| (at.clone(), "must be an object {field, source, type?}".to_string()))?;
            for key in obj.keys() {
                if !matches!(key.as_str(), "field" | "source" | "type") {
                    return Err((format!("{at}.{key}"), "unknown key; expected field, source, type".into()));
                }
            }
            let field = match obj.get("field") {
                Some(Value::String(f)) if !f.trim().is_empty() => f.trim().to_string(),
                _ => return Err((format!("{at}.field"), "must be a non-empty Marketo field name".into())),
            };
            if out.iter().any(|m| m.field == field) {
                return Err((format!("{at}.field"), format!("field `{field}` is mapped twice")));
            }
            let source = obj
                .get("source")
                .ok_or_else(|| (format!("{at}.source"), "is required".to_string()))
                .and_then(|s| Source::parse(s).map_err(|e| (format!("{at}.source"), e)))?;
            let kind = FieldType::parse(obj.get("type")).map_err(|e| (format!("{at}.type"), e))?;
            out.push(FieldMapping { field, source, kind });
        }
        Ok(out)
    }

    /// The value to send for this field, `None` when the attribute is absent (the field is
    /// then left out, not cleared; an explicit `null` clears it). The configured `type` says
    /// how the value is read; when `fmt` has the schema and it knows the field, what is sent
    /// follows the field's Marketo type ([`convert`]), and text longer than the field's
    /// `length` is cut (with a warning pushed to `warnings`) or refused, per `onTooLong`.
    /// `key` marks the lookup field, which is never cut (it would name another lead); an
    /// `email` lookup value is trimmed first, as it is sent.
    ///
    /// # Errors
    /// [`EventError::InvalidValue`] naming the field (and its Marketo type) when the value
    /// cannot be read or converted, is too long and may not be cut, or holds a number that is
    /// not finite (`NaN`, `±Infinity`); for the lookup field (`key`), when it is a boolean, a
    /// list or an object ([`EventError::lookup_type`]).
    pub fn value_for<'a>(
        &'a self,
        event: &'a Value,
        fmt: &Format<'_>,
        key: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Cow<'a, Value>>, EventError> {
        match self.read_value_as(event, key)? {
            // An email lookup value is sent trimmed (upsert records, bulk rows): its length is
            // the trimmed value's.
            Some(read) if key && self.field == "email" => {
                self.formatted(trimmed(read), fmt, key, warnings).map(Some)
            }
            Some(read) => self.formatted(read, fmt, key, warnings).map(Some),
            None => Ok(None),
        }
    }

    /// The event's value for this field as the configured `type` reads it, before the schema
    /// formats it ([`FieldMapping::formatted`]); `None` when the attribute is absent.
    ///
    /// # Errors
    /// [`EventError::InvalidValue`] naming the field when the configured `type` cannot read
    /// the value, or it holds a number that is not finite.
    pub fn read_value<'a>(&'a self, event: &'a Value) -> Result<Option<Cow<'a, Value>>, EventError> {
        self.read_value_as(event, false)
    }

    /// [`FieldMapping::read_value`]; for the lookup field (`key`), a value that is not a
    /// string or a number in the event is refused before the configured `type` reads it (which
    /// could write a boolean as `"true"`, as the field's Marketo type would): what list lookups
    /// take too. `null` is the caller's to judge (some strategies send it); a number that is
    /// not finite is named first, as for any field. (Reading the lookup field as a boolean is
    /// refused at construction, so what the `type` reads is a lookup value too.)
    fn read_value_as<'a>(
        &'a self,
        event: &'a Value,
        key: bool,
    ) -> Result<Option<Cow<'a, Value>>, EventError> {
        let Some(v) = self.source.resolve(event) else { return Ok(None) };
        let parameter = || format!("leadData field {}", self.field);
        require_finite(v, parameter)?;
        if key && matches!(v, Value::Bool(_) | Value::Array(_) | Value::Object(_)) {
            return Err(EventError::lookup_type(
                format!("leadData field {} (the lookup field)", self.field),
                v,
            ));
        }
        let invalid = |problem: String| EventError::InvalidValue { parameter: parameter(), problem };
        // A value is copied only where a conversion changes it (most are sent as they are).
        self.kind.read(v).map(Some).map_err(|problem| match self.kind {
            FieldType::Typed(t) => {
                invalid(format!("{problem}; the field is configured as type {}", t.name()))
            }
            _ => invalid(problem),
        })
    }

    /// Whether [`FieldMapping::formatted`] under `fmt` sends the value whose compact JSON text is
    /// `raw` (a lead record's value, written before the schema was read) as it is, with no
    /// warning: the schema does not know the field, or [`keeps_raw`] says the Marketo type keeps
    /// it and a string is within the field's `length`. `false` where that cannot be read off the
    /// text cheaply (a configured `type: "date"`, a date field, a string written with escapes
    /// under a length limit): the caller formats the parsed value.
    pub fn formats_unchanged(&self, raw: &str, fmt: &Format<'_>) -> bool {
        let Some(info) = fmt.schema.and_then(|s| s.field(&self.field)) else { return true };
        let kind = info.kind();
        if self.kind == FieldType::Date || !keeps_raw(raw, kind) {
            return false;
        }
        let body = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"'));
        match (kind.is_text(), info.length, body) {
            (true, Some(limit), Some(body)) => {
                !body.contains('\\') && usize::try_from(limit).is_ok_and(|l| body.chars().count() <= l)
            }
            _ => true,
        }
    }

    /// The value to send for this field from `read`, the event's value as the configured
    /// `type` read it (what [`FieldMapping::value_for`] gives without the schema): converted to
    /// the field's Marketo type and cut to its length when `fmt` has the schema and it knows the
    /// field; `read` itself otherwise. A lead record prepared before the schema was read holds
    /// such values, and is formatted again from them once it is.
    ///
    /// # Errors
    /// As [`FieldMapping::value_for`], for the Marketo type and length.
    pub fn formatted<'a>(
        &self,
        read: Cow<'a, Value>,
        fmt: &Format<'_>,
        key: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Cow<'a, Value>, EventError> {
        let parameter = || format!("leadData field {}", self.field);
        let invalid = |problem: String| EventError::InvalidValue { parameter: parameter(), problem };
        let Some(info) = fmt.schema.and_then(|s| s.field(&self.field)) else {
            return Ok(read);
        };
        let field_type = |problem: String| {
            invalid(format!("{problem}; the Marketo field {} is of type {}", self.field, info.data_type))
        };
        let kind = info.kind();
        let sent = match (self.kind, kind, read) {
            // `type: "date"` wrote it as ISO 8601 in UTC already (`to_iso8601`, which reads
            // its own text back unchanged): no second parse. A `date` field takes the day.
            (FieldType::Date, DataType::Datetime, read @ Cow::Owned(Value::String(_))) => read,
            (FieldType::Date, DataType::Date, Cow::Owned(Value::String(iso))) => {
                Cow::Owned(Value::String(iso_day(iso)))
            }
            (_, _, Cow::Borrowed(v)) => convert(v, kind).map_err(field_type)?,
            (_, _, Cow::Owned(read)) => {
                let changed = match convert(&read, kind).map_err(field_type)? {
                    Cow::Owned(v) => Some(v),
                    Cow::Borrowed(_) => None, // `read` itself
                };
                Cow::Owned(changed.unwrap_or(read))
            }
        };
        match (sent.as_ref(), info.length) {
            (Value::String(text), Some(limit)) if kind.is_text() => match cut_chars(text, limit) {
                None => Ok(sent),
                Some(cut) if fmt.on_too_long == OnTooLong::Truncate && !key => {
                    warnings.push(format!(
                        "leadData field {} was cut to its limit of {limit} characters (it had {})",
                        self.field,
                        text.chars().count()
                    ));
                    Ok(Cow::Owned(Value::String(cut)))
                }
                Some(_) => Err(invalid(format!(
                    "{} characters, longer than the Marketo field {}'s limit of {limit}{}",
                    text.chars().count(),
                    self.field,
                    if key { " (a lookup value is never cut)" } else { " (onTooLong: \"fail\")" }
                ))),
            },
            _ => Ok(sent),
        }
    }
}

/// `read` with a string's leading and trailing white space taken off (copied only when it has
/// some).
fn trimmed(read: Cow<'_, Value>) -> Cow<'_, Value> {
    match &*read {
        Value::String(s) if s.trim().len() != s.len() => Cow::Owned(Value::String(s.trim().to_string())),
        _ => read,
    }
}

/// The indexes of `mapping`'s fields in the order a lead record's JSON holds them: the order
/// serde_json's `Map` gives its keys, taken from such a `Map` (by construction the order of a
/// record built as a `Map`, and no sort of our own in the `.wasm`), so a record written field
/// by field is byte for byte that `Map` written out.
pub fn record_order(mapping: &[FieldMapping]) -> Vec<usize> {
    let mut by_name = serde_json::Map::new();
    for (i, m) in mapping.iter().enumerate() {
        by_name.insert(m.field.clone(), Value::from(i));
    }
    by_name.values().filter_map(Value::as_u64).filter_map(|i| usize::try_from(i).ok()).collect()
}

/// Whether the values a `leadData` mapping produced can be written back at their attribute
/// paths ([`put_at`]) so that mapping them again gives the same values: no attribute path is
/// read by two fields or lies inside another's (writing one back would change the other).
/// Actions whose mapping is undoable keep a prepared event only as its record or CSV row
/// (`Family::keeps_item_only`).
pub fn undoable(mapping: &[FieldMapping]) -> bool {
    let paths: Vec<&[String]> = mapping
        .iter()
        .filter_map(|m| match &m.source {
            Source::Attribute(path) => Some(path.as_slice()),
            Source::Value(_) => None,
        })
        .collect();
    paths
        .iter()
        .enumerate()
        .all(|(i, a)| paths.iter().skip(i + 1).all(|b| !a.starts_with(b) && !b.starts_with(a)))
}

/// Writes `value` at attribute `path` into `event`, making the objects on the way (a key that
/// reads a list index, `items.0`, becomes an object key, which [`Source::resolve`] reads the
/// same). Nothing is written where the way holds a value that is not an object.
pub fn put_at(event: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = event;
    for key in parents {
        node = match node {
            Value::Object(map) => {
                map.entry(key.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()))
            }
            _ => return,
        };
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

/// The event a prepared record or row was made from under `mapping`, as far as it holds it:
/// each field's value (`value_of(index, field)`, `None` when the field was left out) written
/// back at its attribute path; literal sources write nothing. For an [`undoable`] mapping,
/// mapping the result again gives the same values. (The tests' reference for [`PathTree`], which
/// writes the same event as text.)
#[cfg(test)]
pub fn unmap(
    mapping: &[FieldMapping],
    mut value_of: impl FnMut(usize, &FieldMapping) -> Option<Value>,
) -> Value {
    let mut event = Value::Object(serde_json::Map::new());
    for (i, m) in mapping.iter().enumerate() {
        if let Source::Attribute(path) = &m.source {
            if let Some(v) = value_of(i, m) {
                put_at(&mut event, path, v);
            }
        }
    }
    event
}

/// A mapping's attribute paths as a tree, each object's keys in the order serde_json's `Map`
/// keeps them (byte order): writes the event [`unmap`] builds straight as its JSON text
/// ([`PathTree::write`]), without building it. A snapshot writes each queued event kept only as
/// its record or CSV row this way: building the event's objects, writing them out and dropping
/// them was most of a snapshot's cost.
///
/// For an [`undoable`] mapping (the only ones whose events are kept as their item) the text is
/// [`crate::core::snapshot::event_text`] of what [`unmap`] gives. Paths that share a place
/// (not undoable): the first mapped keeps it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathTree {
    /// Each key of this object (sorted), with the field mapped there or the object below it.
    children: Vec<(String, PathNode)>,
}

#[derive(Debug, Clone, PartialEq)]
enum PathNode {
    /// The index of the field (in the mapping) whose value goes here.
    Field(usize),
    /// An object holding more paths.
    Object(PathTree),
}

impl PathTree {
    /// The tree of `mapping`'s attribute paths (a literal source has none).
    pub fn new(mapping: &[FieldMapping]) -> PathTree {
        let mut tree = PathTree::default();
        for (i, m) in mapping.iter().enumerate() {
            if let Source::Attribute(path) = &m.source {
                tree.insert(path, i);
            }
        }
        tree
    }

    fn insert(&mut self, path: &[String], field: usize) {
        let Some((key, rest)) = path.split_first() else { return };
        let at = match self.children.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(at) => at,
            Err(at) => {
                let node = if rest.is_empty() {
                    PathNode::Field(field)
                } else {
                    PathNode::Object(PathTree::default())
                };
                self.children.insert(at, (key.clone(), node));
                at
            }
        };
        if let (false, Some((_, PathNode::Object(below)))) = (rest.is_empty(), self.children.get_mut(at)) {
            below.insert(rest, field);
        }
    }

    /// Writes the event as compact JSON text: each field's value at its path, where
    /// `value_of(index, out)` writes field `index`'s value and returns true, or writes nothing
    /// and returns false to leave the field out. An object is written only where a value is
    /// (as [`put_at`] makes one); the top one always. Returns how many keys the top object got.
    pub fn write(&self, out: &mut String, value_of: &mut dyn FnMut(usize, &mut String) -> bool) -> usize {
        out.push('{');
        let mut members = 0;
        for (key, node) in &self.children {
            let mark = out.len();
            if members > 0 {
                out.push(',');
            }
            super::json_text::write_str(out, key);
            out.push(':');
            let wrote = match node {
                PathNode::Field(i) => value_of(*i, out),
                PathNode::Object(below) => below.write(out, value_of) > 0,
            };
            if wrote {
                members += 1;
            } else {
                out.truncate(mark);
            }
        }
        out.push('}');
        members
    }
}

/// Builds a lead record from a `leadData` mapping, formatted by `fmt` (see
/// [`FieldMapping::value_for`]); `key` is the lookup field. Warnings (values cut) are pushed
/// to `warnings`. The tests' reference for how a record is made: the connector writes records
/// field by field (`families::lead::write_record_for`), with the same result.
///
/// # Errors
/// The first field whose value cannot be converted.
#[cfg(test)]
pub fn map_record(
    mapping: &[FieldMapping],
    event: &Value,
    fmt: &Format<'_>,
    key: &str,
    warnings: &mut Vec<String>,
) -> Result<serde_json::Map<String, Value>, EventError> {
    let mut record = serde_json::Map::new();
    for m in mapping {
        if let Some(v) = m.value_for(event, fmt, m.field == key, warnings)? {
            record.insert(m.field.clone(), v.into_owned());
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `PathTree::write` writes the text of the event `unmap` builds, for every subset of the
    /// fields left out: shared and unshared prefixes, keys out of order, keys needing escapes,
    /// a literal source, a field under an object no other field shares.
    #[test]
    fn a_path_tree_writes_what_unmap_builds() {
        let mapping = json!([
            {"field": "email", "source": {"attribute": "data.udo.customer_email"}},
            {"field": "firstName", "source": {"attribute": "data.udo.first name"}},
            {"field": "company", "source": {"value": "ACME"}},
            {"field": "city", "source": {"attribute": ["data", "a\"b\\c\u{1}é", "10"]}},
            {"field": "country", "source": {"attribute": ["data", "a\"b\\c\u{1}é", "9"]}},
            {"field": "phone", "source": {"attribute": "Data"}},
            {"field": "notes", "source": {"attribute": "data.udo.a"}},
            {"field": "score", "source": {"attribute": "z.y.x.w"}},
        ]);
        let mapping = FieldMapping::parse_list(&mapping, "leadData").unwrap();
        assert!(undoable(&mapping));
        let tree = PathTree::new(&mapping);
        let values = [
            json!("a@b.c"),
            json!("Ann \"Q\""),
            json!(0),
            json!(1.5),
            json!(null),
            json!([1, {"k": 2}]),
            json!(true),
            json!({"n": -3}),
        ];
        for present in 0..(1u32 << mapping.len()) {
            let value = |i: usize| (present & (1 << i) != 0).then(|| values[i].clone());
            let expected = crate::core::snapshot::event_text(&unmap(&mapping, |i, _| value(i)));
            let mut text = String::new();
            tree.write(&mut text, &mut |i, out| {
                value(i).map(|v| crate::core::json_text::write_value(out, &v)).is_some()
            });
            assert_eq!(text, expected.get(), "fields present: {present:#b}");
        }
    }

    #[test]
    fn a_literal_that_is_not_a_finite_number_is_refused_at_construction() {
        for what in ["NaN", "Infinity", "-Infinity"] {
            let err = Source::parse(&json!({"value": non_finite_marker(what)})).unwrap_err();
            assert!(err.contains(&format!("`value` holds {what}")), "{err}");
        }
        let inside = json!({"value": {"a": [1, non_finite_marker("NaN")]}});
        assert!(Source::parse(&inside).is_err());
        assert_eq!(Source::parse(&json!({"value": 1.5})), Ok(Source::Value(json!(1.5))));
    }

    #[test]
    fn paths_with_spaces_dots_and_indexes() {
        let ev = json!({"visitor": {"properties": {"Customer first name": "Jane", "plan.tier": "Gold"}},
                        "items": [{"sku": "A"}]});
        let s = Source::parse(&json!({"attribute": "visitor.properties.Customer first name"})).unwrap();
        assert_eq!(s.resolve(&ev), Some(&json!("Jane")));
        let s = Source::parse(&json!({"attribute": ["visitor", "properties", "plan.tier"]})).unwrap();
        assert_eq!(s.resolve(&ev), Some(&json!("Gold")));
        let s = Source::parse(&json!({"attribute": "items.0.sku"})).unwrap();
        assert_eq!(s.resolve(&ev), Some(&json!("A")));
        let s = Source::parse(&json!({"attribute": "visitor.nope"})).unwrap();
        assert_eq!(s.resolve(&ev), None);
        assert!(Source::parse(&json!({"attribute": "a", "value": 1})).is_err());
        assert!(Source::parse(&json!("a.b")).is_err());
    }

    #[test]
    fn a_mapping_is_undoable_unless_two_fields_read_one_path_or_one_inside_another() {
        let undo = |m: Value| undoable(&FieldMapping::parse_list(&m, "leadData").unwrap());
        let field = |f: &str, path: Value| json!({"field": f, "source": {"attribute": path}});
        assert!(undo(json!([
            field("email", json!("a.b")),
            field("city", json!("a.c")),
            field("x", json!(["a", "b.c"]))
        ])));
        assert!(undo(
            json!([field("email", json!("e")), {"field": "leadSource", "source": {"value": "web"}}])
        ));
        assert!(!undo(json!([field("email", json!("e")), field("email2", json!("e"))])));
        assert!(!undo(json!([field("email", json!("a")), field("city", json!("a.b"))])));
        assert!(!undo(json!([field("city", json!("a.b.c")), field("email", json!(["a", "b"]))])));
        // Written back where it was read, whatever the keys.
        let mut event = json!({});
        put_at(&mut event, &["items".into(), "1".into(), "sku".into()], json!("A"));
        assert_eq!(
            Source::parse(&json!({"attribute": "items.1.sku"})).unwrap().resolve(&event),
            Some(&json!("A"))
        );
    }

    #[test]
    fn ids_are_integers_or_digit_strings() {
        assert_eq!(to_id(&json!(318594), "id").unwrap(), 318594);
        assert_eq!(to_id(&json!("318594"), "id").unwrap(), 318594);
        for bad in [
            json!(null),
            json!(true),
            json!("abc"),
            json!(1.5),
            json!(-3),
            json!(""),
            json!("-"),
            json!("5-"),
        ] {
            let err = to_id(&bad, "targetLeadId").unwrap_err();
            assert!(err.to_string().contains("targetLeadId"), "{err}");
        }
        for large in
            [json!(9_223_372_036_854_775_808_u64), json!(1e19), json!(1e20), json!("99999999999999999999")]
        {
            let err = to_id(&large, "targetLeadId").unwrap_err().to_string();
            assert!(err.contains("too large"), "{large}: {err}");
        }
        for other in [json!("1e3"), json!("0x10"), json!("+5"), json!("5.0")] {
            let err = to_id(&other, "targetLeadId").unwrap_err().to_string();
            assert!(err.contains("not a whole number written in decimal digits"), "{other}: {err}");
        }
        // A negative number as a string is named as one, as the number is.
        for negative in [json!("-5"), json!(" -5 "), json!(-5), json!("-0"), json!("0")] {
            let err = to_id(&negative, "targetLeadId").unwrap_err().to_string();
            assert!(err.contains("not positive"), "{negative}: {err}");
        }
    }

    #[test]
    fn records_keep_json_types_and_format_dates() {
        let mapping = FieldMapping::parse_list(
            &json!([
                {"field": "email", "source": {"attribute": "e"}},
                {"field": "leadScore", "source": {"attribute": "n"}},
                {"field": "optIn", "source": {"attribute": "f"}},
                {"field": "signup", "source": {"attribute": "d"}, "type": "date"},
                {"field": "title", "source": {"attribute": "missing"}},
                {"field": "phone", "source": {"attribute": "nul"}}
            ]),
            "leadData",
        )
        .unwrap();
        let ev = json!({"e": "a@b.c", "n": 0, "f": false, "d": 1764307800000u64, "nul": null});
        let rec = map_record(&mapping, &ev, &Format::default(), "email", &mut Vec::new()).unwrap();
        assert_eq!(
            Value::Object(rec),
            json!({"email": "a@b.c", "leadScore": 0, "optIn": false,
                   "signup": "2025-11-28T05:30:00Z", "phone": null})
        );
        let err = map_record(&mapping, &json!({"d": "soon"}), &Format::default(), "email", &mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("signup"), "{err}");
        // A NaN anywhere a mapped value reaches fails the event, naming the field.
        for (ev, field) in [
            (json!({"n": non_finite_marker("NaN")}), "leadScore"),
            (json!({"e": [1, {"x": non_finite_marker("-Infinity")}]}), "email"),
            (json!({"d": non_finite_marker("Infinity")}), "signup"),
        ] {
            let err = map_record(&mapping, &ev, &Format::default(), "email", &mut Vec::new()).unwrap_err();
            assert_eq!(err.code(), "INVALID_VALUE");
            assert!(
                err.to_string().contains(field) && err.to_string().contains("not a finite number"),
                "{err}"
            );
        }
        let id = Source::parse(&json!({"attribute": "id"})).unwrap();
        let err = id.require(&json!({"id": non_finite_marker("NaN")}), "targetLeadId").unwrap_err();
        assert!(err.to_string().contains("`targetLeadId`: the value is NaN"), "{err}");
    }
}
