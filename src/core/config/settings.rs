//! Connector settings (SPEC §2): credentials, the two Marketo URLs, client-side limits and the
//! configured actions. Validated once, at construction.

use serde_json::Value;

use crate::core::config::{parse_actions, ActionConfig};
use crate::core::error::ConfigError;
use crate::core::schema::OnTooLong;

/// The client secret. Its `Debug` never prints the value, so it cannot leak through logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the identity call only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Client-side limits: the connector never exceeds them (SPEC §2, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls started in any 20 s window (Marketo: 100 per instance; Adobe advises 50 per integration).
    pub calls_per_20s: u32,
    /// Calls in flight at once (Marketo: 10 per instance; Adobe advises 5).
    pub concurrency: u32,
    /// Calls per Marketo day (midnight to midnight US Central time).
    pub daily_quota: u32,
    /// How long a call may keep being refused with `606`/`615` (the instance's shared rate or
    /// concurrency limit taken by other apps) before its events fail, in milliseconds
    /// (`limits.deliveryDeadlineMs`, default 24 h). A `607` quota pause and a full bulk-import
    /// queue have their own rules and do not count.
    pub delivery_deadline_ms: u64,
}

/// Default of `limits.deliveryDeadlineMs`: 24 hours.
pub const DEFAULT_DELIVERY_DEADLINE_MS: u64 = 86_400_000;
/// Largest `limits.deliveryDeadlineMs`: 30 days.
pub const MAX_DELIVERY_DEADLINE_MS: u64 = 30 * 86_400_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            calls_per_20s: 50,
            concurrency: 5,
            daily_quota: 50_000,
            delivery_deadline_ms: DEFAULT_DELIVERY_DEADLINE_MS,
        }
    }
}

/// Validated connector settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// REST API client id.
    pub client_id: String,
    pub(crate) client_secret: Secret,
    /// REST base URL without a trailing slash, ending in `/rest`.
    pub rest_base: String,
    /// Bulk base URL: the REST base with `/rest` replaced by `/bulk`.
    pub bulk_base: String,
    /// Identity base URL without a trailing slash, ending in `/identity`.
    pub identity_url: String,
    /// Client-side call limits.
    pub limits: Limits,
    /// The configured actions, in configuration order.
    pub actions: Vec<ActionConfig>,
    /// `onTooLong`: what to do with text longer than its Marketo field (`"truncate"`, the
    /// default, or `"fail"`; README "Field types").
    pub on_too_long: OnTooLong,
}

impl Settings {
    /// Parses and validates settings from JSON text.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting or action parameter and the problem.
    pub fn from_json(text: &str) -> Result<Settings, ConfigError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::setting("settings", format!("not valid JSON: {e}")))?;
        Settings::from_value(&v)
    }

    /// Parses and validates settings from a JSON value.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting or action parameter and the problem.
    pub fn from_value(v: &Value) -> Result<Settings, ConfigError> {
        // Whatever goes wrong, the message must not carry the secret, even one pasted into
        // another field by mistake.
        let secret = v.get("clientSecret").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        Settings::parse(v).map_err(|e| match secret {
            Some(secret) => e.redact(secret),
            None => e,
        })
    }

    fn parse(v: &Value) -> Result<Settings, ConfigError> {
        let obj = v.as_object().ok_or_else(|| ConfigError::setting("settings", "must be an object"))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "clientId"
                    | "clientSecret"
                    | "endpointUrl"
                    | "identityUrl"
                    | "limits"
                    | "actions"
                    | "onTooLong"
            ) {
                return Err(ConfigError::setting(
                    key.as_str(),
                    "unknown setting; expected clientId, clientSecret, endpointUrl, identityUrl, limits, actions, onTooLong",
                ));
            }
        }
        let client_id = required_string(obj.get("clientId"), "clientId")?;
        let client_secret = Secret(required_string(obj.get("clientSecret"), "clientSecret")?);
        let endpoint = required_string(obj.get("endpointUrl"), "endpointUrl")?;
        let rest_base = base_url(&endpoint, "endpointUrl", "/rest", "https://123-ABC-123.mktorest.com/rest")?;
        let identity = required_string(obj.get("identityUrl"), "identityUrl")?;
        let identity_url =
            base_url(&identity, "identityUrl", "/identity", "https://123-ABC-123.mktorest.com/identity")?;
        let bulk_base = format!("{}/bulk", rest_base.trim_end_matches("/rest"));
        let limits = parse_limits(obj.get("limits"))?;
        let actions = match obj.get("actions") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => parse_actions(list)?,
        };
        let on_too_long = match obj.get("onTooLong") {
            None | Some(Value::Null) => OnTooLong::Truncate,
            Some(Value::String(s)) if s == "truncate" => OnTooLong::Truncate,
            Some(Value::String(s)) if s == "fail" => OnTooLong::Fail,
            Some(_) => {
                return Err(ConfigError::setting(
                    "onTooLong",
                    "must be \"truncate\" (the default) or \"fail\"",
                ))
            }
        };
        Ok(Settings {
            client_id,
            client_secret,
            rest_base,
            bulk_base,
            identity_url,
            limits,
            actions,
            on_too_long,
        })
    }

    /// The configured action with this id.
    pub fn action(&self, id: &str) -> Option<&ActionConfig> {
        self.actions.iter().find(|a| a.id == id)
    }
}

fn required_string(v: Option<&Value>, key: &str) -> Result<String, ConfigError> {
    match v {
        None | Some(Value::Null) => Err(ConfigError::setting(key, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(ConfigError::setting(key, "must not be empty")),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(ConfigError::setting(key, "must be a string")),
    }
}

/// Validates a Marketo base URL and returns it without a trailing slash.
fn base_url(url: &str, key: &str, suffix: &str, example: &str) -> Result<String, ConfigError> {
    let bad = |problem: String| ConfigError::setting(key, format!("{problem} (e.g. {example})"));
    let (scheme, rest) =
        url.split_once("://").ok_or_else(|| bad(format!("`{url}` is not an absolute URL")))?;
    let scheme = scheme.to_ascii_lowercase();
    if rest.contains(['?', '#']) || rest.chars().any(char::is_whitespace) {
        return Err(bad("must not contain a query, fragment or spaces".into()));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("must name a host (and no user info)".into()));
    }
    match scheme.as_str() {
        "https" => {}
        "http" if is_loopback(authority) => {}
        "http" => {
            return Err(bad(
                "must use https (plain http is accepted on loopback hosts only, for local testing)".into(),
            ))
        }
        _ => return Err(bad(format!("unsupported scheme `{scheme}`; use https"))),
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if !trimmed.ends_with(suffix) || trimmed.contains("//") {
        return Err(bad(format!("must end in `{suffix}`")));
    }
    Ok(format!("{scheme}://{authority}{trimmed}"))
}

fn is_loopback(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost") || host == "::1" || host.starts_with("127.")
}

fn parse_limits(v: Option<&Value>) -> Result<Limits, ConfigError> {
    let mut limits = Limits::default();
    let Some(v) = v else { return Ok(limits) };
    if v.is_null() {
        return Ok(limits);
    }
    let obj = v.as_object().ok_or_else(|| ConfigError::setting("limits", "must be an object"))?;
    for (key, val) in obj {
        if key == "deliveryDeadlineMs" {
            limits.delivery_deadline_ms =
                val.as_u64().filter(|n| (1..=MAX_DELIVERY_DEADLINE_MS).contains(n)).ok_or_else(|| {
                    ConfigError::setting(
                        "limits.deliveryDeadlineMs",
                        format!("must be an integer number of milliseconds from 1 to {MAX_DELIVERY_DEADLINE_MS} (30 days)"),
                    )
                })?;
            continue;
        }
        // Marketo's own instance-wide limits cap what the connector may be allowed.
        let (slot, max) = match key.as_str() {
            "callsPer20s" => (&mut limits.calls_per_20s, 100),
            "concurrency" => (&mut limits.concurrency, 10),
            "dailyQuota" => (&mut limits.daily_quota, u32::MAX),
            _ => {
                return Err(ConfigError::setting(
                    format!("limits.{key}"),
                    "unknown limit; expected callsPer20s, concurrency, dailyQuota, deliveryDeadlineMs",
                ))
            }
        };
        let n = val.as_u64().filter(|n| *n >= 1 && *n <= u64::from(max)).ok_or_else(|| {
            ConfigError::setting(format!("limits.{key}"), format!("must be an integer from 1 to {max}"))
        })?;
        *slot = n as u32;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"clientId": "id", "clientSecret": "s3cret",
               "endpointUrl": "https://123-ABC-123.mktorest.com/rest/",
               "identityUrl": "https://123-ABC-123.mktorest.com/identity"})
    }

    fn err_of(v: Value) -> String {
        Settings::from_value(&v).unwrap_err().to_string()
    }

    #[test]
    fn valid_settings_derive_the_three_bases() {
        let s = Settings::from_value(&base()).unwrap();
        assert_eq!(s.rest_base, "https://123-ABC-123.mktorest.com/rest");
        assert_eq!(s.bulk_base, "https://123-ABC-123.mktorest.com/bulk");
        assert_eq!(s.identity_url, "https://123-ABC-123.mktorest.com/identity");
        assert_eq!(s.limits, Limits::default());
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn each_setting_error_names_the_setting() {
        for (key, value, needle) in [
            ("clientId", json!(""), "clientId"),
            ("clientSecret", json!(null), "clientSecret"),
            ("endpointUrl", json!("https://x.mktorest.com/api"), "must end in `/rest`"),
            ("endpointUrl", json!("http://x.mktorest.com/rest"), "must use https"),
            ("endpointUrl", json!("x.mktorest.com/rest"), "not an absolute URL"),
            ("endpointUrl", json!("https://x.mktorest.com/rest//"), "must end in `/rest`"),
            ("identityUrl", json!("https://x.mktorest.com/rest"), "must end in `/identity`"),
            ("limits", json!({"concurrency": 11}), "limits.concurrency"),
            ("limits", json!({"callsPer20s": 0}), "limits.callsPer20s"),
            ("limits", json!({"burst": 3}), "limits.burst"),
            ("limits", json!({"deliveryDeadlineMs": 0}), "limits.deliveryDeadlineMs"),
            ("limits", json!({"deliveryDeadlineMs": "1h"}), "limits.deliveryDeadlineMs"),
        ] {
            let mut v = base();
            v[key] = value;
            let e = err_of(v);
            assert!(e.contains(needle), "{key}: {e}");
            assert!(!e.contains("s3cret"));
        }
        let mut v = base();
        v.as_object_mut().unwrap().remove("identityUrl");
        assert!(err_of(v).contains("identityUrl"));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for host in ["127.0.0.1:8080", "localhost:3000", "[::1]:9"] {
            let mut v = base();
            v["endpointUrl"] = json!(format!("http://{host}/rest"));
            v["identityUrl"] = json!(format!("http://{host}/identity"));
            Settings::from_value(&v).unwrap();
        }
    }
}
