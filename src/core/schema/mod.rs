//! The instance's lead schema (README "Field types"): which REST fields exist, their Marketo
//! data types and lengths, which are read-only and which are searchable — read once from
//! `GET /rest/v1/leads/describe2.json` (`describeUsingGET_6`, "Describe Lead2"), falling back to
//! `GET /rest/v1/leads/describe.json` (`describeUsingGET_2`, "Describe Lead"), both in Adobe's
//! Swagger <https://github.com/AdobeDocs/marketo-apis/blob/main/static/swagger-mapi.json> — and
//! the formatting of mapped values by those types.
//!
//! Formats, from Marketo's field types page
//! (<https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/field-types>):
//! `date` → `YYYY-MM-DD`; `datetime` → ISO 8601 in UTC (`2026-11-28T09:30:00Z`); `integer`,
//! `score`, `float`, `currency`, `percent` → JSON numbers; `boolean` → `true`/`false`;
//! `string`, `email`, `phone`, `url`, `text` → text of at most the field's `length` characters.
//! Dates are read by the rules of [`crate::core::date`].

use std::borrow::Cow;

use crate::core::ids::JobId;
use serde_json::Value;

use super::date::to_iso8601;

mod float;
mod number_text;
use super::outcome::{Outcome, Status};
use super::reason::Reason;
pub use number_text::{f64_text, js_text};

/// A Marketo lead field data type (`dataType` of the describe endpoints; the `CreateLeadField`
/// enum of the Swagger plus `text`), or one this connector does not format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `string` (≤ `length` characters, 255 by default).
    String,
    /// `email` (ASCII text).
    Email,
    /// `phone`.
    Phone,
    /// `url`.
    Url,
    /// `text` (text area).
    Text,
    /// `date`: `YYYY-MM-DD`.
    Date,
    /// `datetime`: ISO 8601.
    Datetime,
    /// `integer`.
    Integer,
    /// `score` (an integer).
    Score,
    /// `float`.
    Float,
    /// `currency`.
    Currency,
    /// `percent`.
    Percent,
    /// `boolean`.
    Boolean,
    /// Anything else (`reference`, `formula`…): sent as the event holds it.
    Other,
}

impl DataType {
    /// The type Marketo calls `name`.
    pub fn parse(name: &str) -> DataType {
        match name {
            "string" => DataType::String,
            "email" => DataType::Email,
            "phone" => DataType::Phone,
            "url" => DataType::Url,
            "text" => DataType::Text,
            "date" => DataType::Date,
            "datetime" => DataType::Datetime,
            "integer" => DataType::Integer,
            "score" => DataType::Score,
            "float" => DataType::Float,
            "currency" => DataType::Currency,
            "percent" => DataType::Percent,
            "boolean" => DataType::Boolean,
            _ => DataType::Other,
        }
    }

    /// Marketo's name for it (`other` for the rest).
    pub fn name(self) -> &'static str {
        type_name(self)
    }

    /// Whether values of this type are text (and have a length).
    pub fn is_text(self) -> bool {
        matches!(self, DataType::String | DataType::Email | DataType::Phone | DataType::Url | DataType::Text)
    }
}

/// Marketo's name for `t`.
pub fn type_name(t: DataType) -> &'static str {
    match t {
        DataType::String => "string",
        DataType::Email => "email",
        DataType::Phone => "phone",
        DataType::Url => "url",
        DataType::Text => "text",
        DataType::Date => "date",
        DataType::Datetime => "datetime",
        DataType::Integer => "integer",
        DataType::Score => "score",
        DataType::Float => "float",
        DataType::Currency => "currency",
        DataType::Percent => "percent",
        DataType::Boolean => "boolean",
        DataType::Other => "other",
    }
}

/// What to do with a text value longer than its field's `length` (setting `onTooLong`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnTooLong {
    /// Cut it to the limit on a character boundary and deliver the event with a warning naming
    /// the field and the limit (the default).
    #[default]
    Truncate,
    /// Fail the event (`INVALID_VALUE`) naming the field and the limit.
    Fail,
}

/// One lead field as the describe endpoints give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// REST API name (case-sensitive, as Marketo's REST API is).
    pub name: String,
    /// Marketo's `dataType` (`string`, `date`, …).
    pub data_type: String,
    /// `data_type` read (once, as the schema is read: mapping asks for it per value).
    pub kind: DataType,
    /// `length` in characters, for text fields.
    pub length: Option<u32>,
    /// Not updateable through the API (`updateable: false`, or `rest.readOnly: true`).
    pub read_only: bool,
}

impl FieldInfo {
    /// The field's type.
    pub fn kind(&self) -> DataType {
        self.kind
    }
}

/// The name of `fields[i]` ("" past the end, which no index is).
fn name_of(fields: &[FieldInfo], i: u32) -> &str {
    usize::try_from(i).ok().and_then(|i| fields.get(i)).map_or("", |f| f.name.as_str())
}

/// The 32-bit FNV-1a hash of `name`'s bytes (<http://www.isthe.com/chongo/tech/comp/fnv/>): the
/// index's first key, so finding a field compares numbers and then one name, not a name at
/// each step of the search.
fn name_hash(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5, |h: u32, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The order of [`LeadSchema`]'s index: by the name's hash, then by the name (equal hashes
/// of different names stay apart).
fn index_order(fields: &[FieldInfo], entry: (u32, u32), hash: u32, name: &str) -> std::cmp::Ordering {
    entry.0.cmp(&hash).then_with(|| name_of(fields, entry.1).cmp(name))
}

/// The lead schema of one instance. (Vectors, fields found by name through an index kept in
/// order as it is built; no map, no sort and no serde
/// derive: each would cost the `.wasm` several KB; the snapshot carries it in describe2's own
/// shape, [`LeadSchema::to_describe2`].)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeadSchema {
    /// The fields, in the order Marketo listed them.
    fields: Vec<FieldInfo>,
    /// `(hash of its name, index into fields)` in [`index_order`] (the first of two fields
    /// with one name only), for [`LeadSchema::field`]: a real instance lists hundreds of
    /// fields, and a scan for each mapped field of each event cost a third more per batched
    /// upsert at 510 fields. Built by inserting each in place (once per schema read; no sort's
    /// code).
    by_name: Vec<(u32, u32)>,
    /// The fields describe2's `searchableFields` lists as a key on their own (compound keys
    /// are left out: a lookup names one field); `None` when the schema came from
    /// describe.json, which does not say.
    pub searchable: Option<Vec<String>>,
}

impl LeadSchema {
    /// Reads describe2's `result`: `[{name, searchableFields: [[…]], fields: [{name, dataType,
    /// length?, updateable}]}]` (`ResponseOfLeadAttribute2`). `None` when it holds no field.
    pub fn from_describe2(result: &[Value]) -> Option<LeadSchema> {
        let mut fields = Vec::new();
        let mut searchable = Vec::new();
        let says = result.iter().any(|o| o.get("searchableFields").is_some());
        for object in result {
            for f in object.get("fields").and_then(Value::as_array).into_iter().flatten() {
                let Some(name) = f.get("name").and_then(Value::as_str) else { continue };
                fields.push(field_info(name, f, f.get("updateable").and_then(Value::as_bool) == Some(false)));
            }
            let keys = object.get("searchableFields").and_then(Value::as_array).into_iter().flatten();
            for key in keys {
                let one = match key {
                    Value::Array(k) if k.len() == 1 => k.first().and_then(Value::as_str),
                    Value::String(s) => Some(s.as_str()),
                    _ => None,
                };
                if let Some(name) = one {
                    searchable.push(name.to_string());
                }
            }
        }
        LeadSchema::of(fields, says.then_some(searchable))
    }

    /// Reads describe.json's `result`: `[{dataType, length?, rest: {name, readOnly}}]`
    /// (`ResponseOfLeadAttribute`); a field without `rest` is not usable through REST and left
    /// out. `None` when it holds no field.
    pub fn from_describe(result: &[Value]) -> Option<LeadSchema> {
        let mut fields = Vec::new();
        for f in result {
            let Some(rest) = f.get("rest") else { continue };
            let Some(name) = rest.get("name").and_then(Value::as_str) else { continue };
            fields.push(field_info(name, f, rest.get("readOnly").and_then(Value::as_bool) == Some(true)));
        }
        LeadSchema::of(fields, None)
    }

    /// A schema of `fields`; `None` when empty.
    fn of(fields: Vec<FieldInfo>, searchable: Option<Vec<String>>) -> Option<LeadSchema> {
        if fields.is_empty() {
            return None;
        }
        let mut by_name: Vec<(u32, u32)> = Vec::with_capacity(fields.len());
        for (i, f) in (0u32..).zip(&fields) {
            let hash = name_hash(&f.name);
            if let Err(at) = by_name.binary_search_by(|&e| index_order(&fields, e, hash, &f.name)) {
                by_name.insert(at, (hash, i));
            }
        }
        Some(LeadSchema { fields, by_name, searchable })
    }

    /// The schema as describe2's `result[0]` (`{fields: [{name, dataType, length?,
    /// updateable}], searchableFields?: [[name]]}`), for the snapshot;
    /// [`LeadSchema::from_describe2`] reads it back (no `searchableFields`: describe.json's
    /// "does not say").
    pub fn to_describe2(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|f| {
                let mut v = serde_json::Map::new();
                v.insert("name".into(), Value::from(f.name.as_str()));
                v.insert("dataType".into(), Value::from(f.data_type.as_str()));
                if let Some(len) = f.length {
                    v.insert("length".into(), Value::from(len));
                }
                v.insert("updateable".into(), Value::Bool(!f.read_only));
                Value::Object(v)
            })
            .collect();
        let mut out = serde_json::Map::new();
        out.insert("fields".into(), Value::Array(fields));
        if let Some(keys) = &self.searchable {
            let keys = keys.iter().map(|k| Value::Array(vec![Value::from(k.as_str())])).collect();
            out.insert("searchableFields".into(), Value::Array(keys));
        }
        Value::Object(out)
    }

    /// The field named exactly `name`.
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        let hash = name_hash(name);
        let at = self.by_name.binary_search_by(|&e| index_order(&self.fields, e, hash, name)).ok()?;
        let (_, i) = self.by_name.get(at)?;
        self.fields.get(usize::try_from(*i).ok()?)
    }

    /// The fields, in the order Marketo listed them.
    pub fn fields(&self) -> &[FieldInfo] {
        &self.fields
    }

    /// The field's right spelling when `name` differs from one only in case.
    pub fn spelled(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name)).map(|f| f.name.as_str())
    }

    /// Whether `name` is searchable on its own (a one-field key of `searchableFields`);
    /// `None` when the schema does not say.
    pub fn is_searchable(&self, name: &str) -> Option<bool> {
        self.searchable.as_ref().map(|keys| keys.iter().any(|k| k == name))
    }
}

/// A field of a describe answer: `dataType` and `length` of `f`.
fn field_info(name: &str, f: &Value, read_only: bool) -> FieldInfo {
    let data_type = f.get("dataType").and_then(Value::as_str).unwrap_or("");
    FieldInfo {
        name: name.to_string(),
        kind: DataType::parse(data_type),
        data_type: data_type.to_string(),
        length: f.get("length").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()),
        read_only,
    }
}

/// What formatting a mapped value needs: the schema when known, and the `onTooLong` rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Format<'a> {
    /// The instance's lead schema, when it has been read.
    pub schema: Option<&'a LeadSchema>,
    /// What to do with text longer than its field.
    pub on_too_long: OnTooLong,
}

/// Converts `v` to what a field of type `to` takes: `v` itself (borrowed, no copy) when it is
/// sent as it is, as most values are. `Null` stays `Null` (it clears a field).
///
/// Rules: `date` → `YYYY-MM-DD` and `datetime` → ISO 8601 UTC of any date
/// [`crate::core::date`] reads; `integer`/`score` → integers and integer strings (`"42"`,
/// `" -7 "`), nothing fractional; `float`/`currency`/`percent` → numbers and decimal strings
/// of at most 15 significant digits (which a double holds exactly, so what is sent is the
/// number written); `boolean` → `true`, `false`, `"true"`, `"false"` (any case), `1`, `0`;
/// text types → strings, numbers and booleans as their text (a number as JavaScript's
/// `String(n)` writes it, [`js_text`]), never a list or object.
///
/// # Errors
/// What is wrong with the value, in words.
pub fn convert(v: &Value, to: DataType) -> Result<Cow<'_, Value>, String> {
    if v.is_null() {
        return Ok(Cow::Borrowed(v));
    }
    let shown = || {
        let text = v.to_string();
        if text.chars().count() > 40 {
            format!("{}…", text.chars().take(40).collect::<String>())
        } else {
            text
        }
    };
    let unchanged = Ok(Cow::Borrowed(v));
    match to {
        DataType::Date => to_iso8601(v).map(|s| Cow::Owned(Value::String(iso_day(s)))),
        DataType::Datetime => to_iso8601(v).map(|s| Cow::Owned(Value::String(s))),
        DataType::Integer | DataType::Score => {
            let n = match v {
                Value::Number(n) if n.is_i64() => return unchanged,
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
                }),
                Value::String(s) => s.trim().strip_prefix('+').unwrap_or(s.trim()).parse::<i64>().ok(),
                _ => None,
            };
            n.map(|n| Cow::Owned(Value::from(n))).ok_or_else(|| format!("{} is not an integer", shown()))
        }
        DataType::Float | DataType::Currency | DataType::Percent => match v {
            Value::Number(_) => unchanged,
            Value::String(s) => decimal(s.trim()).map(Cow::Owned).ok_or_else(|| {
                format!("{} is not a number (or has more than 15 significant digits, which cannot be sent exactly)", shown())
            }),
            _ => Err(format!("{} is not a number", shown())),
        },
        DataType::Boolean => match v {
            Value::Bool(_) => unchanged,
            Value::Number(n) if n.as_u64() == Some(1) => Ok(Cow::Owned(Value::Bool(true))),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(Cow::Owned(Value::Bool(false))),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Cow::Owned(Value::Bool(true))),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Cow::Owned(Value::Bool(false))),
            _ => Err(format!("{} is not a boolean (true, false, \"true\", \"false\", 1 or 0)", shown())),
        },
        t if t.is_text() => match v {
            Value::String(_) => unchanged,
            // As JavaScript's String(n) writes it: `100000000000000000000`, not `1e20`.
            Value::Number(n) => Ok(Cow::Owned(Value::String(js_text(n)))),
            Value::Bool(b) => Ok(Cow::Owned(Value::String(b.to_string()))),
            _ => Err(format!("{} is a list or object, not text", shown())),
        },
        _ => unchanged,
    }
}

/// Whether [`convert`] to `to` leaves unchanged the value whose compact JSON text is `raw` (a
/// lead record's value as [`crate::core::json_text`] wrote it), read off the text without
/// parsing it: `null`; a number for `float`, `currency` and `percent`; an integer that fits an
/// `i64` for `integer` and `score`; `true` or `false` for `boolean`; a string for the text
/// types; anything for the types sent as they are. `false` for `date` and `datetime` and
/// wherever it cannot tell so cheaply: the caller then converts the parsed value.
pub fn keeps_raw(raw: &str, to: DataType) -> bool {
    if raw == "null" {
        return true;
    }
    match to {
        DataType::Date | DataType::Datetime => false,
        DataType::Integer | DataType::Score => {
            // `-0` and a leading zero are left to the parse (serde_json reads `-0` as a float).
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            (raw == "0" || digits.starts_with(|c: char| ('1'..='9').contains(&c)))
                && digits.bytes().all(|b| b.is_ascii_digit())
                && raw.parse::<i64>().is_ok()
        }
        DataType::Float | DataType::Currency | DataType::Percent => {
            raw.bytes().next().is_some_and(|b| b == b'-' || b.is_ascii_digit())
        }
        DataType::Boolean => raw == "true" || raw == "false",
        t if t.is_text() => raw.starts_with('"'),
        _ => true,
    }
}

/// A decimal string as a JSON number, when a double holds it exactly enough to print the same
/// number back (at most 15 significant digits).
fn decimal(s: &str) -> Option<Value> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i)?, body.get(i + 1..)?),
        None => (body, "0"),
    };
    exponent.strip_prefix(['+', '-']).unwrap_or(exponent).parse::<u16>().ok()?;
    let mut parts = mantissa.splitn(2, '.');
    let (int, frac) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    if significant > 15 {
        return None;
    }
    if frac.is_empty() && exponent == "0" {
        if let Ok(i) = s.strip_prefix('+').unwrap_or(s).parse::<i64>() {
            return Some(Value::from(i));
        }
    }
    // What `str::parse::<f64>` takes: digits after the exponent's one sign (`1e+5`, not `1e++5`).
    let exp_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if !exp_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // digits × 10^exp, with at most 15 significant digits (checked above).
    let (lead, trail) = (digits.trim_start_matches('0'), digits.trim_end_matches('0'));
    let zeros = digits.len() - trail.len();
    let value = lead.get(..lead.len().saturating_sub(zeros)).unwrap_or("").parse::<u64>().unwrap_or(0);
    let exp = i32::from(exp_digits.parse::<u16>().ok()?);
    let exp = if exponent.starts_with('-') { -exp } else { exp };
    let exp = exp - i32::try_from(frac.len()).ok()? + i32::try_from(zeros).ok()?;
    let f = float::from_decimal(s.starts_with('-'), value, exp);
    serde_json::Number::from_f64(f).map(Value::Number) // None when infinite
}

/// The day (`YYYY-MM-DD`) of an ISO 8601 date-time [`to_iso8601`] wrote, which a Marketo `date`
/// field takes.
pub(crate) fn iso_day(mut iso: String) -> String {
    if iso.is_char_boundary(10) {
        iso.truncate(10);
    }
    iso
}

/// `text` cut to at most `limit` characters (on a character boundary).
pub fn cut_chars(text: &str, limit: u32) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if text.len() <= limit {
        return None; // no more characters than bytes
    }
    text.char_indices().nth(limit).map(|(at, _)| text.get(..at).unwrap_or(text).to_string())
}

/// The field `Field 'x' not found` (Marketo's 1006 message, error-codes page) names, if any.
pub(crate) fn field_not_found(message: &str) -> Option<&str> {
    let start = message.find('\'')? + 1;
    let rest = message.get(start..)?;
    let end = rest.find('\'')?;
    rest.get(..end)
}

/// The engine's knowledge of the schema.
#[derive(Debug, Default)]
pub(crate) struct SchemaSlot {
    /// The schema, once read (kept while a refresh runs).
    pub schema: Option<LeadSchema>,
    /// Why it could not be read, when the last attempt failed.
    pub error: Option<Reason>,
    /// The job reading it, while one runs.
    pub reading: Option<JobId>,
    /// Marketo answered 1006 for a field the schema has: read it again at the next need.
    pub stale: bool,
    /// Fields a 1006 already caused a refresh for (each refreshes once).
    pub refreshed_for: Vec<String>,
}

impl SchemaSlot {
    /// Whether delivery should read (or re-read) the schema before formatting.
    pub fn wants_read(&self) -> bool {
        self.reading.is_none() && ((self.schema.is_none() && self.error.is_none()) || self.stale)
    }

    /// Marketo answered 1006 with `message`: when it names a field the schema has (the schema
    /// is out of date), mark it stale, once per field.
    pub fn field_not_found(&mut self, message: &str) {
        let Some(schema) = &self.schema else { return };
        let Some(name) = field_not_found(message) else { return };
        if schema.field(name).is_some() && !self.refreshed_for.iter().any(|f| f == name) {
            self.refreshed_for.push(name.to_string());
            self.stale = true;
        }
    }

    /// An event's final outcome is out: a 1006 ("Field 'x' not found", in a record's reasons
    /// or a bulk job's failure) may make the schema stale; a delivered event whose values were
    /// cut gets the warning `note` (code `TRUNCATED`, or appended to Marketo's own warning).
    pub fn noted(&mut self, outcome: &mut Outcome, note: Option<String>) {
        let message = outcome.message.as_deref().unwrap_or("");
        if outcome.code.as_deref() == Some("1006") || message.starts_with("Field '") {
            let message = message.to_string();
            self.field_not_found(&message);
        }
        if let (Some(note), Status::Delivered) = (note, outcome.status) {
            match &mut outcome.message {
                Some(m) => {
                    m.push_str("; ");
                    m.push_str(&note);
                }
                None => {
                    outcome.code = Some("TRUNCATED".into());
                    outcome.message = Some(note);
                }
            }
        }
    }

    /// The read finished.
    pub fn finished(&mut self, result: Result<LeadSchema, Reason>) {
        self.reading = None;
        self.stale = false;
        match result {
            Ok(schema) => {
                self.schema = Some(schema);
                self.error = None;
            }
            // Refused credentials say nothing about the schema: the next need reads it again.
            Err(e) if e.is_auth_failure() => {}
            Err(e) => {
                // A refresh that fails keeps the schema read before.
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `keeps_raw` says "unchanged" only where `convert` returns the value itself, and says it
    /// for the values most records hold (so formatting a record again is skipped for them).
    #[test]
    fn keeps_raw_says_unchanged_only_where_convert_keeps_the_value() {
        let values = [
            json!(null),
            json!(0),
            json!(-0.0),
            json!(7),
            json!(-7),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(2.5),
            json!(-1e21),
            json!(1e300),
            json!(true),
            json!(false),
            json!(""),
            json!("x"),
            json!("42"),
            json!("true"),
            json!("2026-11-28"),
            json!("a\"b"),
            json!([1]),
            json!({"a": 1}),
        ];
        let types = [
            DataType::String,
            DataType::Email,
            DataType::Phone,
            DataType::Url,
            DataType::Text,
            DataType::Date,
            DataType::Datetime,
            DataType::Integer,
            DataType::Score,
            DataType::Float,
            DataType::Currency,
            DataType::Percent,
            DataType::Boolean,
            DataType::Other,
        ];
        let mut kept = 0;
        for v in &values {
            let mut raw = String::new();
            crate::core::json_text::write_value(&mut raw, v);
            for t in types {
                if keeps_raw(&raw, t) {
                    kept += 1;
                    assert!(
                        matches!(convert(v, t), Ok(Cow::Borrowed(same)) if same == v),
                        "{raw} as {t:?}: {:?}",
                        convert(v, t)
                    );
                }
            }
        }
        for (raw, t) in [
            ("null", DataType::Date),
            ("\"x\"", DataType::Email),
            ("\"\"", DataType::Text),
            ("7", DataType::Integer),
            ("-7", DataType::Score),
            ("2.5", DataType::Float),
            ("-1", DataType::Currency),
            ("true", DataType::Boolean),
            ("[1]", DataType::Other),
        ] {
            assert!(keeps_raw(raw, t), "{raw} as {t:?}");
        }
        assert!(kept > 60, "{kept}");
    }

    #[test]
    fn conversions_by_type() {
        let ok = |v: Value, t: DataType| convert(&v, t).unwrap().into_owned();
        assert_eq!(ok(json!("2026-11-28T23:30:00-05:00"), DataType::Date), json!("2026-11-29"));
        assert_eq!(ok(json!(1764307800000u64), DataType::Datetime), json!("2025-11-28T05:30:00Z"));
        assert_eq!(ok(json!("42"), DataType::Integer), json!(42));
        assert_eq!(ok(json!(" -7 "), DataType::Score), json!(-7));
        assert_eq!(ok(json!(3.0), DataType::Integer), json!(3));
        assert!(convert(&json!("4.5"), DataType::Integer).is_err());
        assert!(convert(&json!(true), DataType::Integer).is_err());
        assert_eq!(ok(json!("19.99"), DataType::Currency), json!(19.99));
        assert_eq!(ok(json!("12"), DataType::Float), json!(12));
        assert_eq!(ok(json!("1e3"), DataType::Float), json!(1000.0));
        assert!(convert(&json!("12345678901234567"), DataType::Float).is_err());
        assert!(convert(&json!("abc"), DataType::Percent).is_err());
        assert!(convert(&json!(""), DataType::Percent).is_err());
        assert_eq!(ok(json!("TRUE"), DataType::Boolean), json!(true));
        assert_eq!(ok(json!(0), DataType::Boolean), json!(false));
        assert!(convert(&json!("yes"), DataType::Boolean).is_err());
        assert!(convert(&json!(2), DataType::Boolean).is_err());
        assert_eq!(ok(json!(42), DataType::String), json!("42"));
        assert!(convert(&json!([1]), DataType::Email).is_err());
        assert_eq!(ok(json!(null), DataType::Integer), json!(null));
        assert_eq!(ok(json!({"a": 1}), DataType::Other), json!({"a": 1}));
    }

    #[test]
    fn finds_each_field_by_exact_name_among_hundreds_the_first_of_two_with_one_name() {
        // Listed in no order, with a field named twice (the first listed is the one used)
        // and names that differ only in case or by a prefix.
        let mut fields: Vec<Value> = (0..600)
            .map(|i| json!({"name": format!("custom{}__c", (i * 7919) % 600), "dataType": "string", "length": i + 1}))
            .collect();
        fields.push(json!({"name": "custom5__c", "dataType": "integer"}));
        fields.push(json!({"name": "Custom5__c", "dataType": "boolean"}));
        fields.push(json!({"name": "custom5", "dataType": "date"}));
        let s = LeadSchema::from_describe2(&[json!({"fields": fields})]).unwrap();
        for i in 0..600 {
            let want = (0..600).position(|k| (k * 7919) % 600 == i).unwrap() + 1;
            assert_eq!(s.field(&format!("custom{i}__c")).unwrap().length, Some(want as u32), "custom{i}__c");
        }
        assert_eq!(s.field("custom5__c").unwrap().data_type, "string", "the first of the two listed");
        assert_eq!(s.field("Custom5__c").unwrap().data_type, "boolean");
        assert_eq!(s.field("custom5").unwrap().data_type, "date");
        assert!(s.field("custom600__c").is_none() && s.field("").is_none() && s.field("custom5_").is_none());
        assert_eq!(s.fields().len(), 603, "every field kept, in the order listed");
    }

    #[test]
    fn tells_apart_names_whose_hashes_are_equal() {
        // Pairs with one FNV-1a hash, each listed in both orders among other fields.
        let pairs = [("costarring", "liquid"), ("declinate", "macallums"), ("altarage", "zinke")];
        for (a, b) in pairs {
            assert_eq!(name_hash(a), name_hash(b), "{a} / {b}");
            for (first, second) in [(a, b), (b, a)] {
                let fields = json!([{"name": "email", "dataType": "email"},
                    {"name": first, "dataType": "integer"}, {"name": second, "dataType": "date"},
                    {"name": first, "dataType": "boolean"}]);
                let s = LeadSchema::from_describe2(&[json!({"fields": fields})]).unwrap();
                assert_eq!(s.field(first).unwrap().data_type, "integer", "{first}");
                assert_eq!(s.field(second).unwrap().data_type, "date", "{second}");
                assert_eq!(s.field("email").unwrap().data_type, "email");
            }
        }
    }

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut_chars("héllo wörld", 7).as_deref(), Some("héllo w"));
        assert_eq!(cut_chars("日本語テキスト", 3).as_deref(), Some("日本語"));
        assert_eq!(cut_chars("short", 5), None);
    }

    #[test]
    fn reads_both_describe_shapes() {
        let d2 = json!([{"name": "API Lead", "searchableFields": [["email"], ["id"], ["firstName", "lastName"]],
            "fields": [{"name": "email", "dataType": "email", "length": 255, "updateable": true},
                       {"name": "createdAt", "dataType": "datetime", "updateable": false}]}]);
        let s = LeadSchema::from_describe2(d2.as_array().unwrap()).unwrap();
        assert_eq!(s.field("email").unwrap().length, Some(255));
        assert!(s.field("createdAt").unwrap().read_only);
        assert_eq!(s.is_searchable("email"), Some(true));
        assert_eq!(s.is_searchable("firstName"), Some(false), "part of a compound key only");
        assert_eq!(s.spelled("EMAIL"), Some("email"));
        let d1 = json!([{"id": 2, "dataType": "string", "length": 255, "rest": {"name": "company", "readOnly": false}},
                        {"id": 3, "dataType": "string", "soap": {"name": "SoapOnly"}}]);
        let s = LeadSchema::from_describe(d1.as_array().unwrap()).unwrap();
        assert_eq!(s.fields.len(), 1);
        assert_eq!(s.is_searchable("company"), None);
        assert_eq!(field_not_found("Field 'fooBar' not found"), Some("fooBar"));
    }

    /// `decimal` as it was with `str::parse::<f64>`: the same answer for every string.
    #[test]
    fn decimal_as_std_parse() {
        fn reference(s: &str) -> Option<Value> {
            let body = s.strip_prefix(['+', '-']).unwrap_or(s);
            let (mantissa, exponent) = match body.find(['e', 'E']) {
                Some(i) => (body.get(..i)?, body.get(i + 1..)?),
                None => (body, "0"),
            };
            exponent.strip_prefix(['+', '-']).unwrap_or(exponent).parse::<u16>().ok()?;
            let mut parts = mantissa.splitn(2, '.');
            let (int, frac) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if (int.is_empty() && frac.is_empty())
                || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let digits = format!("{int}{frac}");
            if digits.trim_start_matches('0').trim_end_matches('0').len() > 15 {
                return None;
            }
            if frac.is_empty() && exponent == "0" {
                if let Ok(i) = s.strip_prefix('+').unwrap_or(s).parse::<i64>() {
                    return Some(Value::from(i));
                }
            }
            let f = s.strip_prefix('+').unwrap_or(s).parse::<f64>().ok().filter(|f| f.is_finite())?;
            serde_json::Number::from_f64(f).map(Value::Number)
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let pick = |i: u64, from: &[&str]| from[i as usize % from.len()].to_string();
        for fixed in [
            "1e++5", "1e-+5", "1e", "1.", ".5", "-0.0", "0e5", "-0", "+.0e-0", "1e65535", "1e65536", "1e-400",
        ] {
            assert_eq!(decimal(fixed), reference(fixed), "{fixed}");
        }
        fn digits(next: &mut impl FnMut(u64) -> u64) -> String {
            let n = next(12);
            (0..n).map(|_| char::from(b'0' + next(10) as u8)).collect()
        }
        for _ in 0..50_000 {
            let mut s = pick(next(3), &["", "+", "-"]);
            s += &digits(&mut next);
            s += &pick(next(3), &["", ".", "."]);
            s += &digits(&mut next);
            if next(2) == 0 {
                s += &pick(next(2), &["e", "E"]);
                s += &pick(next(5), &["", "+", "-", "++", "-"]);
                s += &next(400).to_string();
            }
            assert_eq!(decimal(&s), reference(&s), "{s}");
        }
    }
}
