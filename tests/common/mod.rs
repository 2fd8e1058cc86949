//! A deterministic harness for the sans-IO core, in the manner of quinn-proto's `Pair` and
//! str0m's `progress`: an [`Engine`] driven in virtual time, every request and outcome it emits
//! collected, and a small in-memory Marketo ([`FakeMarketo`]) that answers requests the way
//! Adobe documents them, under https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/:
//! `authentication`, `lead-database/leads`, `assets/static-lists`, `error-codes`.
//!
//! Nothing here reads a clock or a random source: time starts at [`T0`] and only moves when a
//! test (or [`Harness::run_until_idle`]) moves it to what [`Engine::poll_timeout`] reports.
//!
//! The harness also checks invariants after every step, so every test checks them:
//! never two identity calls in flight, at most one final outcome per event, and the client
//! secret never outside the identity call's body.

// Each test crate uses a different subset of the helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use marketo_connector::core::{Body, Engine, EventKey, HttpRequest, Millis, Outcome, Settings, Status};
use serde_json::{json, Map, Value};

/// Virtual start time: 2025-11-28T12:00:00Z (06:00 in Marketo's quota time zone, CST).
pub const T0: Millis = 1_764_331_200_000;
/// The jitter seed every test uses unless it says otherwise.
pub const SEED: u64 = 42;
/// The instance's REST base.
pub const REST: &str = "https://123-ABC-123.mktorest.com/rest";
/// The instance's bulk API base (same host, `/bulk` in place of `/rest`).
pub const BULK: &str = "https://123-ABC-123.mktorest.com/bulk";
/// The instance's identity base.
pub const IDENTITY: &str = "https://123-ABC-123.mktorest.com/identity";
/// Credentials the fake instance accepts.
pub const CLIENT_ID: &str = "5c1d7e0a-connector-client";
pub const CLIENT_SECRET: &str = "Sup3r-S3cret-value-9f7";
/// Bounds every driving loop, so a bug in the engine cannot hang a test.
const MAX_STEPS: usize = 5_000;

/// The AudienceStream visitor profile from `fixtures/` (the repository's one copy of the samples).
pub const AUDIENCESTREAM: &str = include_str!("../../fixtures/audiencestream-visitor.json");
/// The EventStream event from `fixtures/`.
pub const EVENTSTREAM: &str = include_str!("../../fixtures/eventstream-event.json");

/// The AudienceStream fixture as JSON.
pub fn audiencestream() -> Value {
    serde_json::from_str(AUDIENCESTREAM).expect("fixture is JSON")
}

/// The EventStream fixture as JSON.
pub fn eventstream() -> Value {
    serde_json::from_str(EVENTSTREAM).expect("fixture is JSON")
}

/// Connector settings for the test instance with these actions.
pub fn settings(actions: Value) -> Value {
    json!({
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "endpointUrl": REST,
        "identityUrl": IDENTITY,
        "actions": actions,
    })
}

/// Connector settings with client-side `limits`.
pub fn settings_with_limits(actions: Value, limits: Value) -> Value {
    let mut s = settings(actions);
    s["limits"] = limits;
    s
}

/// Whether a request is an identity (token) call.
pub fn is_identity(req: &HttpRequest) -> bool {
    req.url.starts_with(IDENTITY)
}

/// A header's value (names compared case-insensitively).
/// Whether `req` reads the lead schema (`leads/describe2.json` or `leads/describe.json`).
pub fn is_describe(req: &HttpRequest) -> bool {
    let path = req.url.split('?').next().unwrap_or("");
    path.ends_with("/v1/leads/describe2.json") || path.ends_with("/v1/leads/describe.json")
}

pub fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The body as text; panics when there is none or it is binary.
pub fn body_text(req: &HttpRequest) -> &str {
    match &req.body {
        Some(Body::Text(t)) => t,
        other => panic!("request {} has no text body: {other:?}", req.url),
    }
}

/// The body parsed as JSON.
pub fn body_json(req: &HttpRequest) -> Value {
    serde_json::from_str(body_text(req)).expect("request body is JSON")
}

/// An outcome as the JSON the JavaScript API hands out.
pub fn outcome_json(o: &Outcome) -> Value {
    serde_json::to_value(o).expect("outcomes serialize")
}

/// Percent-decodes a query or form component (`+` is a space, as servers read forms).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=2` the way a server does: split on `&` first, then on the first `=`, then decode.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// One answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An HTTP answer: status and body.
    Http(u16, String),
    /// The host's `fetch` failed (connection refused, reset...).
    Transport(String),
}

impl Reply {
    /// An HTTP 200 with a JSON body.
    pub fn ok(body: Value) -> Reply {
        Reply::Http(200, body.to_string())
    }

    /// Marketo's response-level error (`success:false`, HTTP 200).
    pub fn error(code: &str, message: &str) -> Reply {
        Reply::ok(json!({"requestId": "e42b#14272d07d78", "success": false,
                         "errors": [{"code": code, "message": message}]}))
    }
}

// ---- the fake Marketo instance --------------------------------------------------------------

/// A lead in the fake's database.
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub id: i64,
    pub fields: Map<String, Value>,
}

/// A token the fake's identity service handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    pub expires_at: Millis,
    pub revoked: bool,
}

/// A small in-memory Marketo instance.
#[derive(Debug)]
pub struct FakeMarketo {
    /// Credentials it accepts.
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of a new token (Marketo: 3,600 s).
    pub token_life_ms: Millis,
    /// Marketo answers an identity call made before the current token expires with the *same*
    /// token and its remaining life (Adobe: .../marketo-developer/marketo/rest/authentication).
    /// `false` issues a new one every time.
    pub same_token_until_expiry: bool,
    /// Every token issued, oldest first.
    pub tokens: Vec<Token>,
    pub leads: Vec<Lead>,
    /// List id → member lead ids, in insertion order.
    pub lists: BTreeMap<i64, Vec<i64>>,
    pub next_lead_id: i64,
    /// REST (non-identity) calls answered.
    pub rest_calls: u64,
    /// Scripted answers for the next REST calls, used before the fake's own logic.
    pub script: VecDeque<Reply>,
    /// Scripted answers for the next identity calls.
    pub identity_script: VecDeque<Reply>,
    /// Bulk import jobs, oldest first (see [`FakeBulkJob`]).
    pub bulk_jobs: Vec<FakeBulkJob>,
    /// Bulk job timing on virtual time: `Queued` this long, then `Importing` this long.
    pub bulk_queued_ms: Millis,
    pub bulk_importing_ms: Millis,
    /// Lead fields a bulk file may name; `None` accepts any column. An unknown column fails
    /// the whole job (`Field 'x' not found`), as the simulator does by default.
    pub bulk_fields: Option<Vec<String>>,
    /// Upload bodies this large or larger get Marketo's gateway 413 (10 MB).
    pub bulk_max_body: usize,
    /// The lead schema `describe2.json` gives: `[name, dataType, length, updateable,
    /// searchable]` rows ([`standard_fields`] by default). The connector reads it once, before
    /// its first upsert or bulk import.
    pub fields: Vec<(String, String, Option<u32>, bool, bool)>,
    /// Answers for the describe calls, before the fake's own (`603` without permission…).
    pub describe_script: VecDeque<Reply>,
    /// Describe calls answered (describe2 and describe).
    pub describe_calls: u64,
    /// Campaigns by id: `(isActive, isRequestable, parent program id)`.
    pub campaigns: BTreeMap<i64, (bool, bool, i64)>,
    /// My Tokens by program id (names without `my.`).
    pub program_tokens: BTreeMap<i64, Vec<String>>,
    /// Lead partition names (`leads/partitions.json`).
    pub partitions: Vec<String>,
    /// Path prefixes (under `/rest`) the API user may not call: Marketo answers 603.
    pub denied: Vec<String>,
}

/// Standard lead fields of the fake's schema (types and flags as Marketo's describe2 gives
/// them; lengths 255 for text).
pub fn standard_fields() -> Vec<(String, String, Option<u32>, bool, bool)> {
    let rows: [(&str, &str, bool, bool); 21] = [
        ("id", "integer", false, true),
        ("email", "email", true, true),
        ("firstName", "string", true, false),
        ("lastName", "string", true, false),
        ("company", "string", true, false),
        ("title", "string", true, false),
        ("leadSource", "string", true, false),
        ("leadScore", "integer", true, false),
        ("cookies", "string", true, true),
        ("twitterId", "string", true, true),
        ("facebookId", "string", true, true),
        ("linkedInId", "string", true, true),
        ("sfdcAccountId", "string", true, true),
        ("sfdcContactId", "string", true, true),
        ("sfdcLeadId", "string", true, true),
        ("sfdcLeadOwnerId", "string", true, true),
        ("sfdcOpptyId", "string", true, true),
        ("createdAt", "datetime", false, false),
        ("updatedAt", "datetime", false, false),
        ("unsubscribed", "boolean", true, false),
        ("annualRevenue", "currency", true, false),
    ];
    rows.iter()
        .map(|(n, t, u, s)| {
            let len = matches!(*t, "string" | "email").then_some(255);
            (n.to_string(), t.to_string(), len, *u, *s)
        })
        .collect()
}

impl Default for FakeMarketo {
    fn default() -> Self {
        FakeMarketo {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            token_life_ms: 3_600_000,
            same_token_until_expiry: true,
            tokens: Vec::new(),
            leads: Vec::new(),
            lists: BTreeMap::new(),
            next_lead_id: 1000,
            rest_calls: 0,
            script: VecDeque::new(),
            identity_script: VecDeque::new(),
            bulk_jobs: Vec::new(),
            bulk_queued_ms: 2_000,
            bulk_importing_ms: 3_000,
            bulk_fields: None,
            bulk_max_body: 10_485_760,
            fields: standard_fields(),
            describe_script: VecDeque::new(),
            describe_calls: 0,
            campaigns: BTreeMap::new(),
            program_tokens: BTreeMap::new(),
            partitions: vec!["Default".into()],
            denied: Vec::new(),
        }
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `_mch-…` part of a Munchkin cookie (what Marketo stores and returns as `cookies`).
fn cookie_token(v: &str) -> Option<&str> {
    v.split('&').find_map(|p| p.strip_prefix("token:"))
}

impl FakeMarketo {
    /// Adds a lead; `fields` may carry an `id`, otherwise one is assigned. Returns the id.
    pub fn add_lead(&mut self, fields: Value) -> i64 {
        let mut fields = match fields {
            Value::Object(m) => m,
            other => panic!("a lead is an object, not {other}"),
        };
        let id = match fields.remove("id").and_then(|v| v.as_i64()) {
            Some(id) => id,
            None => {
                self.next_lead_id += 1;
                self.next_lead_id - 1
            }
        };
        self.leads.push(Lead { id, fields });
        id
    }

    /// The lead with this id.
    pub fn lead(&self, id: i64) -> Option<&Lead> {
        self.leads.iter().find(|l| l.id == id)
    }

    /// Members of a static list.
    pub fn members(&self, list: i64) -> Vec<i64> {
        self.lists.get(&list).cloned().unwrap_or_default()
    }

    /// Marks every token issued so far invalid (the next REST call with one gets 601).
    pub fn revoke_tokens(&mut self) {
        self.tokens.iter_mut().for_each(|t| t.revoked = true);
    }

    /// The `requestId` of the n-th REST call answered (1-based).
    pub fn request_id(n: u64) -> String {
        format!("{:x}#{:011x}", 0xa000 + n, 0x18c_0000_0000u64 + n)
    }

    fn envelope(&self, result: Vec<Value>) -> Reply {
        Reply::ok(
            json!({"requestId": FakeMarketo::request_id(self.rest_calls), "result": result, "success": true}),
        )
    }

    fn failure(&self, code: &str, message: &str) -> Reply {
        Reply::ok(json!({"requestId": FakeMarketo::request_id(self.rest_calls), "success": false,
                         "errors": [{"code": code, "message": message}]}))
    }

    /// Answers one request at virtual time `now`.
    pub fn handle(&mut self, req: &HttpRequest, now: Millis) -> Reply {
        if is_identity(req) {
            if let Some(r) = self.identity_script.pop_front() {
                return r;
            }
            return self.identity(req, now);
        }
        if is_describe(req) {
            // Answered apart from `script`, so scripted answers meet the calls they were
            // written for, and counted apart from `rest_calls`.
            self.describe_calls += 1;
            if let Some(r) = self.describe_script.pop_front() {
                return r;
            }
            if let Some(refused) = self.check_token(req, now) {
                return refused;
            }
            if self.denied.iter().any(|d| req.url.contains(&format!("/rest{d}"))) {
                return self.failure("603", "Access denied");
            }
            return self.describe(req);
        }
        // Describe calls are not counted here, so request ids stay those of the other calls.
        self.rest_calls += 1;
        if let Some(r) = self.script.pop_front() {
            return r;
        }
        if req.url.contains("access_token") {
            return self.failure("603", "Access denied: the token must be sent in the Authorization header");
        }
        if let Some(bulk) = req.url.strip_prefix(BULK) {
            if let Some(refused) = self.check_token(req, now) {
                return refused;
            }
            return self.bulk(req, bulk, now);
        }
        let Some(rest) = req.url.strip_prefix(REST) else {
            return Reply::Http(404, "<html><body>Not Found</body></html>".into());
        };
        // Token check, as every Marketo REST call does (§2.5, §8.3).
        let Some(token) = header(req, "Authorization").and_then(|a| a.strip_prefix("Bearer ")) else {
            return self.failure("600", "Access token not specified");
        };
        match self.tokens.iter().find(|t| t.value == token) {
            None => return self.failure("601", "Access token invalid"),
            Some(t) if t.revoked => return self.failure("601", "Access token invalid"),
            Some(t) if now >= t.expires_at => return self.failure("602", "Access token expired"),
            Some(_) => {}
        }
        if req.url.len() > 8_192 {
            return Reply::Http(414, "<html><body>414 Request-URI Too Large</body></html>".into());
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let query = parse_form(query);
        let method = req.method.as_str();
        // Marketo's documented workaround for long lookups: POST ?_method=GET with a form body.
        if path == "/v1/leads.json"
            && method == "POST"
            && query.iter().any(|(k, v)| k == "_method" && v == "GET")
        {
            if header(req, "Content-Type") != Some("application/x-www-form-urlencoded") {
                return self.failure("612", "Invalid Content Type");
            }
            return self.get_by_filter(&parse_form(body_text(req)));
        }
        if (method == "POST" || method == "DELETE")
            && req.body.is_some()
            && header(req, "Content-Type") != Some("application/json")
        {
            return self.failure("612", "Invalid Content Type");
        }
        if path == "/v1/leads.json" && method == "GET" {
            return self.get_by_filter(&query);
        }
        if path == "/v1/leads.json" && method == "POST" {
            let Ok(body) = serde_json::from_str::<Value>(body_text(req)) else {
                return self.failure("609", "Invalid JSON");
            };
            return self.sync_leads(&body);
        }
        if let Some(list) = path.strip_prefix("/v1/lists/").and_then(|p| p.strip_suffix("/leads.json")) {
            let Ok(list) = list.parse::<i64>() else {
                return self.failure("610", "Requested resource not found");
            };
            let Ok(body) = serde_json::from_str::<Value>(body_text(req)) else {
                return self.failure("609", "Invalid JSON");
            };
            return self.list_membership(method, list, &body);
        }
        if method == "GET" {
            if let Some(reply) = self.lookup_object(path) {
                return reply;
            }
        }
        self.failure("610", "Requested resource not found")
    }

    /// The objects `check()` reads: lists, campaigns, program tokens, partitions (by id, as the
    /// lead-database and Asset APIs give them); `None` for other paths.
    fn lookup_object(&self, path: &str) -> Option<Reply> {
        if self.denied.iter().any(|d| path.starts_with(d.as_str())) {
            return Some(self.failure("603", "Access denied"));
        }
        let id_of = |prefix: &str, suffix: &str| -> Option<i64> {
            path.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()
        };
        let no_assets = || {
            Reply::ok(json!({"success": true, "errors": [], "requestId": "a#1",
                             "warnings": ["No assets found for the given search criteria."]}))
        };
        if let Some(id) = id_of("/v1/lists/", ".json") {
            return Some(if self.lists.contains_key(&id) {
                self.envelope(vec![json!({"id": id, "name": format!("List {id}")})])
            } else {
                self.failure("1013", "Object not found")
            });
        }
        if let Some(id) = id_of("/asset/v1/staticList/", ".json") {
            return Some(if self.lists.contains_key(&id) {
                self.envelope(vec![json!({"id": id, "name": format!("List {id}")})])
            } else {
                no_assets()
            });
        }
        if let Some(id) = id_of("/asset/v1/smartCampaign/", ".json") {
            return Some(match self.campaigns.get(&id) {
                Some((active, requestable, program)) => self.envelope(vec![json!({"id": id,
                    "isActive": active, "isRequestable": requestable, "parentProgramId": program,
                    "type": if *requestable { "trigger" } else { "batch" }})]),
                None => no_assets(),
            });
        }
        if let Some(id) = id_of("/v1/campaigns/", ".json") {
            return Some(match self.campaigns.get(&id) {
                Some((active, requestable, program)) => self.envelope(vec![json!({"id": id,
                    "active": active, "programId": program,
                    "type": if *requestable { "trigger" } else { "batch" }})]),
                None => self.failure("1013", "Object not found"),
            });
        }
        if let Some(id) = id_of("/asset/v1/folder/", "/tokens.json") {
            let tokens: Vec<Value> = self
                .program_tokens
                .get(&id)
                .into_iter()
                .flatten()
                .map(|n| json!({"name": n, "type": "text", "value": "x"}))
                .collect();
            return Some(
                self.envelope(vec![json!({"folder": {"id": id, "type": "Program"}, "tokens": tokens})]),
            );
        }
        if path == "/v1/leads/partitions.json" {
            let rows =
                self.partitions.iter().enumerate().map(|(i, n)| json!({"id": i + 1, "name": n})).collect();
            return Some(self.envelope(rows));
        }
        None
    }

    /// `describe2.json` (`describeUsingGET_6`) or `describe.json` (`describeUsingGET_2`).
    fn describe(&self, req: &HttpRequest) -> Reply {
        if req.url.contains("/describe2.json") {
            let fields: Vec<Value> = self
                .fields
                .iter()
                .map(|(n, t, len, u, _)| {
                    let mut f = json!({"name": n, "displayName": n, "dataType": t, "updateable": u, "crmManaged": false});
                    if let Some(len) = len {
                        f["length"] = json!(len);
                    }
                    f
                })
                .collect();
            let searchable: Vec<Value> = self.fields.iter().filter(|f| f.4).map(|f| json!([f.0])).collect();
            return self.envelope(vec![
                json!({"name": "API Lead", "searchableFields": searchable, "fields": fields}),
            ]);
        }
        let fields: Vec<Value> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, (n, t, len, u, _))| {
                let mut f = json!({"id": i + 1, "displayName": n, "dataType": t, "rest": {"name": n, "readOnly": !u}});
                if let Some(len) = len {
                    f["length"] = json!(len);
                }
                f
            })
            .collect();
        self.envelope(fields)
    }

    fn identity(&mut self, req: &HttpRequest, now: Millis) -> Reply {
        let (_, query) = req.url.split_once('?').unwrap_or((&req.url, ""));
        let mut params = parse_form(query);
        if let Some(Body::Text(b)) = &req.body {
            params.extend(parse_form(b));
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if !req.url.ends_with("/identity/oauth/token") && !req.url.contains("/identity/oauth/token?") {
            return Reply::Http(404, "<html><body>Not Found</body></html>".into());
        }
        if get("grant_type") != Some("client_credentials")
            || get("client_id") != Some(self.client_id.as_str())
            || get("client_secret") != Some(self.client_secret.as_str())
        {
            return Reply::Http(
                401,
                json!({"error": "unauthorized", "error_description": "Bad client credentials"}).to_string(),
            );
        }
        let current = self.tokens.last().filter(|t| !t.revoked && now < t.expires_at).cloned();
        let token = match current {
            Some(t) if self.same_token_until_expiry => t,
            _ => {
                let t = Token {
                    value: format!("cdf01657-110d-4155-99a7-f986b2ff13a{}:ab", self.tokens.len() + 1),
                    expires_at: now + self.token_life_ms,
                    revoked: false,
                };
                self.tokens.push(t.clone());
                t
            }
        };
        Reply::ok(json!({
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": (token.expires_at - now) / 1000,
            "scope": "apis@example.com",
        }))
    }

    fn matches(lead: &Lead, field: &str, value: &str) -> bool {
        if field == "id" {
            return value.parse::<i64>().is_ok_and(|id| id == lead.id);
        }
        let Some(have) = lead.fields.get(field).and_then(text_of) else { return false };
        match field {
            "email" => have.eq_ignore_ascii_case(value),
            "cookies" => cookie_token(value).is_some_and(|t| t == have),
            _ => have == value,
        }
    }

    fn get_by_filter(&mut self, query: &[(String, String)]) -> Reply {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(filter), Some(values)) = (get("filterType"), get("filterValues")) else {
            return self.failure("1003", "filterType and filterValues are required");
        };
        let fields: Vec<&str> =
            get("fields").unwrap_or("id,email,updatedAt,createdAt,firstName,lastName").split(',').collect();
        let values: Vec<&str> = values.split(',').collect();
        if values.len() > 300 {
            return self.failure("1003", "Too many filter values");
        }
        let rows: Vec<Value> = self
            .leads
            .iter()
            .filter(|l| values.iter().any(|v| FakeMarketo::matches(l, filter, v)))
            .map(|l| {
                let mut row = Map::new();
                for f in &fields {
                    let v = if *f == "id" {
                        json!(l.id)
                    } else {
                        l.fields.get(*f).cloned().unwrap_or(Value::Null)
                    };
                    row.insert((*f).to_string(), v);
                }
                Value::Object(row)
            })
            .collect();
        self.envelope(rows)
    }

    fn skipped(code: &str, message: &str) -> Value {
        json!({"status": "skipped", "reasons": [{"code": code, "message": message}]})
    }

    fn sync_leads(&mut self, body: &Value) -> Reply {
        let action = body.get("action").and_then(Value::as_str).unwrap_or("createOrUpdate").to_string();
        let lookup = body.get("lookupField").and_then(Value::as_str).unwrap_or("email").to_string();
        let Some(input) = body.get("input").and_then(Value::as_array) else {
            return self.failure("1003", "input is required");
        };
        if input.len() > 300 {
            return self.failure("1003", "Too many records");
        }
        let mut result = Vec::new();
        for rec in input {
            let Some(rec) = rec.as_object() else {
                result.push(FakeMarketo::skipped("1003", "Invalid data"));
                continue;
            };
            let key = rec.get(&lookup).and_then(text_of);
            let found: Vec<usize> = match &key {
                Some(k) => (0..self.leads.len())
                    .filter(|i| FakeMarketo::matches(&self.leads[*i], &lookup, k))
                    .collect(),
                None => Vec::new(),
            };
            let entry = match (action.as_str(), key.is_some(), found.len()) {
                ("createOrUpdate" | "updateOnly", false, _) => {
                    FakeMarketo::skipped("1003", &format!("Value for lookup field '{lookup}' not found"))
                }
                ("createOnly", true, n) if n > 0 => FakeMarketo::skipped("1005", "Lead already exists"),
                ("updateOnly", true, 0) => FakeMarketo::skipped("1004", "Lead not found"),
                ("createOrUpdate" | "updateOnly", true, n) if n > 1 => {
                    FakeMarketo::skipped("1007", "Multiple lead match lookup criteria")
                }
                ("createOrUpdate" | "updateOnly", true, 1) => {
                    let lead = &mut self.leads[found[0]];
                    for (k, v) in rec {
                        if v.is_null() {
                            lead.fields.remove(k);
                        } else {
                            lead.fields.insert(k.clone(), v.clone());
                        }
                    }
                    json!({"id": lead.id, "status": "updated"})
                }
                ("createOrUpdate" | "createOnly" | "createDuplicate", _, _) => {
                    let fields: Map<String, Value> = rec
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let id = self.add_lead(Value::Object(fields));
                    json!({"id": id, "status": "created"})
                }
                _ => return self.failure("1003", &format!("Invalid action '{action}'")),
            };
            result.push(entry);
        }
        self.envelope(result)
    }

    fn list_membership(&mut self, method: &str, list: i64, body: &Value) -> Reply {
        let Some(input) = body.get("input").and_then(Value::as_array) else {
            return self.failure("1003", "input is required");
        };
        if input.len() > 300 {
            return self.failure("1003", "Too many records");
        }
        let mut result = Vec::new();
        for rec in input {
            let Some(id) = rec.get("id").and_then(Value::as_i64) else {
                result.push(FakeMarketo::skipped("1003", "Invalid data"));
                continue;
            };
            let exists = self.lead(id).is_some();
            let members = self.lists.entry(list).or_default();
            let mut entry = match (method, exists, members.contains(&id)) {
                (_, false, _) => FakeMarketo::skipped("1004", "Lead not found"),
                ("POST", true, present) => {
                    if !present {
                        members.push(id);
                    }
                    json!({"status": "added"})
                }
                ("DELETE", true, false) => FakeMarketo::skipped("1015", "Lead not in list"),
                ("DELETE", true, true) => {
                    members.retain(|m| *m != id);
                    json!({"status": "removed"})
                }
                _ => return self.failure("605", "HTTP Method not supported"),
            };
            entry["id"] = json!(id);
            result.push(entry);
        }
        self.envelope(result)
    }
}

// ---- the harness ----------------------------------------------------------------------------

/// An engine, a virtual clock, a fake Marketo and everything that came out.
pub struct Harness {
    pub engine: Engine,
    pub now: Millis,
    /// Every request the engine emitted, in order.
    pub sent: Vec<HttpRequest>,
    /// When each of `sent` was emitted.
    pub sent_at: Vec<Millis>,
    /// Every final outcome, in order.
    pub outcomes: Vec<Outcome>,
    /// The event key of each of `outcomes`.
    pub outcome_keys: Vec<EventKey>,
    /// Every event accepted.
    pub accepted: Vec<EventKey>,
    /// Requests emitted and not yet answered, oldest first.
    pub inbox: VecDeque<HttpRequest>,
    pub fake: FakeMarketo,
    /// Most REST (non-identity) requests seen in flight at once.
    pub max_rest_in_flight: usize,
    /// Let the fake answer the lead schema's describe calls as soon as they are sent (true by
    /// default, so tests of other calls step through those calls alone); tests of the schema
    /// read set it false and answer them like any request.
    pub auto_describe: bool,
    next_event: u32,
}

impl Harness {
    /// An engine for these settings, seeded with [`SEED`], at [`T0`].
    pub fn new(settings: Value) -> Harness {
        Harness::with_seed(settings, SEED, T0)
    }

    /// An engine for these settings with a given seed and start time.
    pub fn with_seed(settings: Value, seed: u64, now: Millis) -> Harness {
        let settings = Settings::from_value(&settings).expect("test settings are valid");
        Harness {
            engine: Engine::new(settings, seed, now),
            now,
            sent: Vec::new(),
            sent_at: Vec::new(),
            outcomes: Vec::new(),
            outcome_keys: Vec::new(),
            accepted: Vec::new(),
            inbox: VecDeque::new(),
            fake: FakeMarketo::default(),
            max_rest_in_flight: 0,
            auto_describe: true,
            next_event: 0,
        }
    }

    /// Hands an event to the engine with a generated id (`ev-1`, `ev-2`...); returns the id.
    pub fn event(&mut self, action: &str, event: &Value) -> String {
        self.next_event += 1;
        let id = format!("ev-{}", self.next_event);
        self.event_with_id(action, event, &id);
        id
    }

    /// Hands an event to the engine with the given id.
    pub fn event_with_id(&mut self, action: &str, event: &Value, id: &str) -> EventKey {
        let key =
            self.engine.handle_event(self.now, action, event, Some(id.to_string())).expect("known action");
        self.accepted.push(key);
        self.drain();
        key
    }

    /// Collects every request and outcome the engine has ready, checking the invariants.
    pub fn drain(&mut self) {
        while let Some(req) = self.engine.poll_request() {
            if !is_identity(&req) {
                let text = format!("{req:?}");
                assert!(!text.contains(CLIENT_SECRET), "secret in a REST request: {text}");
                assert!(!req.url.contains("access_token"), "token in a URL: {}", req.url);
            } else {
                assert!(!req.url.contains(CLIENT_SECRET), "secret in the identity URL: {}", req.url);
            }
            self.sent.push(req.clone());
            self.sent_at.push(self.now);
            self.inbox.push_back(req);
        }
        while let Some((key, o)) = self.engine.poll_outcome() {
            assert!(o.status != Status::Queued, "poll_outcome gave a non-final outcome: {o:?}");
            assert!(!self.outcome_keys.contains(&key), "second final outcome for {key:?}: {o:?}");
            let text = serde_json::to_string(&o).expect("outcomes serialize");
            assert!(!text.contains(CLIENT_SECRET), "secret in an outcome: {text}");
            self.outcome_keys.push(key);
            self.outcomes.push(o);
        }
        let identity = self.inbox.iter().filter(|r| is_identity(r)).count();
        assert!(identity <= 1, "{identity} identity calls in flight at once");
        if self.auto_describe {
            if let Some(req) = self.inbox.iter().find(|r| is_describe(r)).cloned() {
                let reply = self.fake.handle(&req, self.now);
                self.reply(req.id, reply);
                return;
            }
        }
        let rest = self.inbox.len() - identity;
        self.max_rest_in_flight = self.max_rest_in_flight.max(rest);
    }

    /// Answers request `id` with an HTTP status and body (a scripted Marketo).
    pub fn respond(&mut self, id: u32, status: u16, body: &str) {
        self.reply(id, Reply::Http(status, body.to_string()));
    }

    /// Reports a transport failure for request `id`.
    pub fn transport_error(&mut self, id: u32, message: &str) {
        self.reply(id, Reply::Transport(message.to_string()));
    }

    /// Delivers a reply for request `id`.
    pub fn reply(&mut self, id: u32, reply: Reply) {
        let before = self.inbox.len();
        self.inbox.retain(|r| r.id != id);
        assert_eq!(before, self.inbox.len() + 1, "request {id} is not waiting for an answer");
        match reply {
            Reply::Http(status, body) => self.engine.handle_response(self.now, id, status, &body),
            Reply::Transport(message) => self.engine.handle_transport_error(self.now, id, &message),
        }
        .expect("the engine was waiting for this answer");
        self.drain();
    }

    /// Lets the fake answer the oldest unanswered request; returns it.
    pub fn answer_next(&mut self) -> Option<HttpRequest> {
        let req = self.inbox.front().cloned()?;
        let reply = self.fake.handle(&req, self.now);
        self.reply(req.id, reply);
        Some(req)
    }

    /// Lets the fake answer everything in flight (and what that causes) without moving time.
    pub fn answer_all(&mut self) {
        for _ in 0..MAX_STEPS {
            if self.answer_next().is_none() {
                return;
            }
        }
        panic!("requests kept coming after {MAX_STEPS} answers without time moving");
    }

    /// Moves virtual time to `t` (never backwards) and wakes the engine.
    pub fn advance_to(&mut self, t: Millis) {
        self.now = self.now.max(t);
        self.engine.handle_timeout(self.now);
        self.drain();
    }

    /// Answers every request (oldest first, one at a time) and, when nothing is in flight,
    /// jumps virtual time to [`Engine::poll_timeout`], until the engine has nothing left to do.
    pub fn run_until_idle(&mut self) {
        for _ in 0..MAX_STEPS {
            self.drain();
            if self.answer_next().is_some() {
                continue;
            }
            match self.engine.poll_timeout() {
                Some(t) => self.advance_to(t),
                None => return,
            }
        }
        let last: Vec<String> =
            self.sent.iter().rev().take(5).map(|r| format!("{} {}", r.method.as_str(), r.url)).collect();
        panic!(
            "the engine did not become idle within {MAX_STEPS} steps: {} requests sent, the last ones {last:#?}",
            self.sent.len()
        );
    }

    /// Requests sent to the REST API, in order: identity calls and the lead schema's describe
    /// calls excluded (tests of the schema read look at [`Harness::describe_sent`]).
    pub fn rest_sent(&self) -> Vec<&HttpRequest> {
        self.sent.iter().filter(|r| !is_identity(r) && !is_describe(r)).collect()
    }

    /// The describe calls sent (the lead schema read), in order.
    pub fn describe_sent(&self) -> Vec<&HttpRequest> {
        self.sent.iter().filter(|r| is_describe(r)).collect()
    }

    /// When each REST request was sent.
    pub fn rest_sent_at(&self) -> Vec<Millis> {
        self.sent
            .iter()
            .zip(&self.sent_at)
            .filter(|(r, _)| !is_identity(r) && !is_describe(r))
            .map(|(_, t)| *t)
            .collect()
    }

    /// Identity calls sent, in order.
    pub fn identity_sent(&self) -> Vec<&HttpRequest> {
        self.sent.iter().filter(|r| is_identity(r)).collect()
    }

    /// The final outcome of the event with this id; panics when there is none.
    pub fn outcome(&self, event_id: &str) -> &Outcome {
        let found: Vec<&Outcome> = self.outcomes.iter().filter(|o| o.event_id == event_id).collect();
        assert_eq!(found.len(), 1, "event {event_id}: expected one outcome, got {found:?}");
        found[0]
    }

    /// [`Harness::outcome`] as JSON.
    pub fn outcome_json(&self, event_id: &str) -> Value {
        outcome_json(self.outcome(event_id))
    }

    /// Asserts every accepted event has exactly one final outcome and none is pending.
    pub fn assert_all_final(&self) {
        assert_eq!(self.engine.pending_events(), 0, "events still pending");
        for key in &self.accepted {
            let n = self.outcome_keys.iter().filter(|k| *k == key).count();
            assert_eq!(n, 1, "{key:?} has {n} final outcomes");
            assert!(self.engine.is_final(*key));
        }
        assert_eq!(self.outcomes.len(), self.accepted.len(), "outcomes for events never accepted");
    }

    /// The token the fake issued n-th (1-based).
    pub fn token(&self, n: usize) -> String {
        self.fake.tokens[n - 1].value.clone()
    }
}

// ---- bulk import (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/bulk-import/bulk-lead-import) ---------------------------------------------------------

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// `name` and `filename` of its `Content-Disposition`.
    pub name: Option<String>,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Parses a multipart/form-data body (RFC 7578) the way a strict server does: every line break
/// of the framing must be CRLF; the body must start with the first delimiter.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}").into_bytes();
    if !body.starts_with(&delim) {
        return Err("the body does not start with the boundary".into());
    }
    let next = [b"\r\n".as_slice(), &delim].concat();
    let mut pos = delim.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts); // closing delimiter; the epilogue is ignored
        }
        if !rest.starts_with(b"\r\n") {
            return Err("a boundary line is not terminated by CRLF".into());
        }
        pos += 2;
        let head_end =
            find(&body[pos..], b"\r\n\r\n").ok_or("part headers not terminated by CRLF CRLF")? + pos;
        let text = std::str::from_utf8(&body[pos..head_end]).map_err(|_| "part headers are not UTF-8")?;
        let mut headers = Vec::new();
        for line in text.split("\r\n") {
            let (k, v) = line.split_once(':').ok_or_else(|| format!("malformed part header {line:?}"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let data_start = head_end + 4;
        let end = find(&body[data_start..], &next).ok_or("part not terminated by a delimiter")? + data_start;
        let disposition = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Disposition"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        parts.push(Part {
            name: disposition_param(&disposition, "name"),
            filename: disposition_param(&disposition, "filename"),
            headers,
            data: body[data_start..end].to_vec(),
        });
        pos = end + next.len();
    }
}

/// Parses CSV text into rows of cells (RFC 4180, any line break).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("CSV the fake can read").iter().map(str::to_owned).collect())
        .collect()
}

/// The body as bytes; panics when there is none or it is text.
pub fn body_bytes(req: &HttpRequest) -> &[u8] {
    match &req.body {
        Some(Body::Bytes(b)) => b,
        other => panic!("request {} has no binary body: {other:?}", req.url),
    }
}

/// How a finished bulk job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBulkResult {
    /// `Some(message)` for a job that failed as a whole.
    pub failed: Option<String>,
    pub header: Vec<String>,
    pub imported: u64,
    /// Rows refused and rows imported with a warning: original cells and the reason.
    pub failures: Vec<(Vec<String>, String)>,
    pub warnings: Vec<(Vec<String>, String)>,
}

/// A bulk import job in the fake: `Queued` for `bulk_queued_ms` after the upload, `Importing`
/// for `bulk_importing_ms`, then its rows are applied the first time it is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBulkJob {
    pub batch_id: i64,
    /// The upload's query parameters, decoded.
    pub query: Vec<(String, String)>,
    pub lookup_field: String,
    pub list_id: Option<i64>,
    /// The `file` part's headers and its CSV.
    pub part: Part,
    pub csv: String,
    pub submitted_at: Millis,
    pub result: Option<FakeBulkResult>,
}

impl FakeMarketo {
    /// The token check every REST and bulk call gets (§2.5, §8.3); `Some` refuses the call.
    fn check_token(&self, req: &HttpRequest, now: Millis) -> Option<Reply> {
        let Some(token) = header(req, "Authorization").and_then(|a| a.strip_prefix("Bearer ")) else {
            return Some(self.failure("600", "Access token not specified"));
        };
        match self.tokens.iter().find(|t| t.value == token) {
            None => Some(self.failure("601", "Access token invalid")),
            Some(t) if t.revoked => Some(self.failure("601", "Access token invalid")),
            Some(t) if now >= t.expires_at => Some(self.failure("602", "Access token expired")),
            Some(_) => None,
        }
    }

    /// The bulk job with this batch id.
    pub fn bulk_job(&self, batch_id: i64) -> Option<&FakeBulkJob> {
        self.bulk_jobs.iter().find(|j| j.batch_id == batch_id)
    }

    fn bulk(&mut self, req: &HttpRequest, rest: &str, now: Millis) -> Reply {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let query = parse_form(query);
        let method = req.method.as_str();
        if path == "/v1/leads.json" {
            if method != "POST" {
                return self.failure("605", "HTTP Method not supported");
            }
            return self.bulk_upload(req, query, now);
        }
        let Some(rest) = path.strip_prefix("/v1/leads/batch/") else {
            return self.failure("610", "Requested resource not found");
        };
        let (id, what) = match rest.split_once('/') {
            Some((id, what)) => (id, what),
            None => (rest.strip_suffix(".json").unwrap_or(rest), "status"),
        };
        if method != "GET" {
            return self.failure("605", "HTTP Method not supported");
        }
        let Some(idx) =
            id.parse::<i64>().ok().and_then(|id| self.bulk_jobs.iter().position(|j| j.batch_id == id))
        else {
            return self.failure("1013", "Object not found");
        };
        let status = self.bulk_status(idx, now);
        let job = &self.bulk_jobs[idx];
        match what {
            "status" => {
                let r = job.result.as_ref();
                let failed = r.map_or(0, |r| r.failures.len());
                let warned = r.map_or(0, |r| r.warnings.len());
                let imported = r.map_or(0, |r| r.imported);
                let message = match r {
                    None => status.to_string(),
                    Some(FakeBulkResult { failed: Some(m), .. }) => m.clone(),
                    Some(_) if failed > 0 => format!(
                        "Import completed with errors, {imported} records imported ({imported} members), {failed} failed"
                    ),
                    Some(_) => format!("Import succeeded, {imported} records imported ({imported} members)"),
                };
                self.envelope(vec![json!({"batchId": job.batch_id, "importId": job.batch_id.to_string(),
                    "status": status, "numOfLeadsProcessed": imported, "numOfRowsFailed": failed,
                    "numOfRowsWithWarning": warned, "message": message})])
            }
            "failures.json" | "warnings.json" => {
                let failures = what == "failures.json";
                let (column, rows) = match (&job.result, failures) {
                    (Some(r), true) => ("Import Failure Reason", r.failures.clone()),
                    (Some(r), false) => ("Import Warning Reason", r.warnings.clone()),
                    (None, _) => ("", Vec::new()),
                };
                if !failures && rows.is_empty() {
                    // As Adobe documents for custom-object imports: no warnings, no file.
                    return Reply::Http(404, "<html><body>Not Found</body></html>".into());
                }
                let header = job.result.as_ref().map(|r| r.header.clone()).unwrap_or_default();
                let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
                if !header.is_empty() {
                    w.write_record(header.iter().map(String::as_str).chain([column])).unwrap();
                    for (cells, why) in &rows {
                        w.write_record(cells.iter().map(String::as_str).chain([why.as_str()])).unwrap();
                    }
                }
                Reply::Http(200, String::from_utf8(w.into_inner().unwrap()).unwrap())
            }
            _ => self.failure("610", "Requested resource not found"),
        }
    }

    fn bulk_upload(&mut self, req: &HttpRequest, query: Vec<(String, String)>, now: Millis) -> Reply {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(boundary) =
            header(req, "Content-Type").and_then(|ct| ct.strip_prefix("multipart/form-data; boundary="))
        else {
            return self.failure("612", "Invalid Content Type");
        };
        let Some(Body::Bytes(body)) = &req.body else {
            return self.failure("613", "Invalid Multipart Request");
        };
        if body.len() >= self.bulk_max_body {
            return Reply::Http(413, "<html><body>413 Request Entity Too Large</body></html>".into());
        }
        let parts = match parse_multipart(body, boundary) {
            Ok(parts) => parts,
            Err(e) => return self.failure("613", &format!("Invalid Multipart Request: {e}")),
        };
        let Some(part) = parts.into_iter().find(|p| p.name.as_deref() == Some("file")) else {
            return self.failure("701", "file cannot be blank");
        };
        if get("format").as_deref() != Some("csv") {
            return self.failure("1003", "Invalid data: format must be csv, tsv or ssv");
        }
        let lookup_field = get("lookupField").unwrap_or_else(|| "email".into());
        let list_id = match get("listId") {
            None => None,
            Some(l) => match l.parse::<i64>() {
                Ok(id) if self.lists.contains_key(&id) => Some(id),
                _ => return self.failure("1013", "Object not found"),
            },
        };
        for i in 0..self.bulk_jobs.len() {
            self.bulk_status(i, now);
        }
        if self.bulk_jobs.iter().filter(|j| j.result.is_none()).count() >= 10 {
            return self.failure("1016", "Too many imports");
        }
        let Ok(csv) = String::from_utf8(part.data.clone()) else {
            return self.failure("613", "Invalid Multipart Request: the file is not UTF-8");
        };
        let batch_id = 3404 + self.bulk_jobs.len() as i64;
        self.bulk_jobs.push(FakeBulkJob {
            batch_id,
            query,
            lookup_field,
            list_id,
            part,
            csv,
            submitted_at: now,
            result: None,
        });
        self.envelope(vec![
            json!({"batchId": batch_id, "importId": batch_id.to_string(), "status": "Queued"}),
        ])
    }

    /// The job's status at `now`, applying its rows when it has just finished.
    fn bulk_status(&mut self, idx: usize, now: Millis) -> &'static str {
        let job = &self.bulk_jobs[idx];
        if let Some(r) = &job.result {
            return if r.failed.is_some() { "Failed" } else { "Complete" };
        }
        if now < job.submitted_at + self.bulk_queued_ms {
            return "Queued";
        }
        if now < job.submitted_at + self.bulk_queued_ms + self.bulk_importing_ms {
            return "Importing";
        }
        let result = self.run_import(idx);
        let status = if result.failed.is_some() { "Failed" } else { "Complete" };
        self.bulk_jobs[idx].result = Some(result);
        status
    }

    fn run_import(&mut self, idx: usize) -> FakeBulkResult {
        let job = self.bulk_jobs[idx].clone();
        let rows = parse_csv(&job.csv);
        let mut result = FakeBulkResult {
            failed: None,
            header: Vec::new(),
            imported: 0,
            failures: Vec::new(),
            warnings: Vec::new(),
        };
        let Some((header, rows)) = rows.split_first() else {
            result.failed = Some("Import file is empty: no header row".into());
            return result;
        };
        result.header = header.clone();
        if let Some(known) = &self.bulk_fields {
            if let Some(unknown) = header.iter().find(|h| !known.contains(h)) {
                result.failed = Some(format!("Field '{unknown}' not found"));
                return result;
            }
        }
        let Some(key_col) = header.iter().position(|h| *h == job.lookup_field) else {
            result.failed = Some(format!("Lookup field '{}' is missing from the header", job.lookup_field));
            return result;
        };
        'rows: for row in rows {
            if row.len() != header.len() {
                let why = format!("Row has {} values but the header has {} columns", row.len(), header.len());
                result.failures.push((row.clone(), why));
                continue;
            }
            let mut fields = Map::new();
            let mut warns = Vec::new();
            for (name, cell) in header.iter().zip(row) {
                if cell.is_empty() {
                    continue; // an empty cell leaves the field unchanged
                }
                if name == "email" && (!cell.is_ascii() || cell.matches('@').count() != 1) {
                    result.failures.push((row.clone(), "Invalid email address".into()));
                    continue 'rows;
                }
                let mut value = cell.clone();
                if value.chars().count() > 255 {
                    value = value.chars().take(255).collect();
                    warns.push(format!("Value truncated to 255 characters in field {name}"));
                }
                fields.insert(name.clone(), Value::String(value));
            }
            let key = &row[key_col];
            if key.is_empty() {
                result
                    .failures
                    .push((row.clone(), format!("Missing value for lookup field '{}'", job.lookup_field)));
                continue;
            }
            let found = self.leads.iter().position(|l| FakeMarketo::matches(l, &job.lookup_field, key));
            let id = match found {
                Some(i) => {
                    let lead = &mut self.leads[i];
                    fields.remove("id");
                    lead.fields.extend(fields);
                    lead.id
                }
                None if job.lookup_field == "id" => {
                    result.failures.push((row.clone(), "Lead not found".into()));
                    continue;
                }
                None => self.add_lead(Value::Object(fields)),
            };
            if let Some(list) = job.list_id {
                let members = self.lists.entry(list).or_default();
                if !members.contains(&id) {
                    members.push(id);
                }
            }
            result.imported += 1;
            if !warns.is_empty() {
                result.warnings.push((row.clone(), warns.join("; ")));
            }
        }
        result
    }
}

impl Harness {
    /// Tells the engine to send every queue now (`flush()`), then collects what it emits.
    pub fn flush(&mut self) {
        self.engine.flush(self.now);
        self.drain();
    }
}
