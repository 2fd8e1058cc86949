//! The one fake Marketo: a small in-memory instance answering requests the way Adobe documents
//! them, under <https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/>:
//! `authentication`, `lead-database/leads`, `assets/static-lists`, `bulk-import`, `error-codes`.
//!
//! Its behaviours are switched by public fields: scripted answers ([`FakeMarketo::script`],
//! [`FakeMarketo::identity_script`], [`FakeMarketo::describe_script`]), the 1 MB / 10 MB body
//! limits, refused paths (`603`), other apps sharing the 100-calls-per-20-s limit (`606`), the
//! bulk import schedule (on virtual time or by status polls) and rows it fails or warns about,
//! and a stateless `canned` mode (a plausible success for every call, what the fuzz targets use
//! to get past a step cheaply). Fault schedules (which request gets which failure) are the
//! driver's: see [`crate::Fault`].

use std::collections::{BTreeMap, VecDeque};

use marketo_connector::core::{Body, HttpRequest, Millis};
use serde_json::{json, Map, Value};

use crate::fixtures::{BULK, CLIENT_ID, CLIENT_SECRET, REST};
use crate::http::{
    body_text, header, is_describe, is_identity, parse_csv, parse_form, parse_multipart, Part,
};

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
    /// REST bodies larger than this get the gateway's 413 (Marketo: 1 MB).
    pub rest_max_body: usize,
    /// Bulk jobs polled this many times report `Importing`, then finish at the next status
    /// poll; `None` follows `bulk_queued_ms` and `bulk_importing_ms` on virtual time.
    pub bulk_status_polls: Option<u32>,
    /// Rows whose `email` cell starts with (case-insensitively) the prefix fail (`true`) or
    /// are imported with a warning (`false`), with the reason given.
    pub bulk_row_rules: Vec<(String, bool, String)>,
    /// Unfinished bulk jobs at most; one more upload gets `1016 Too many imports`.
    pub bulk_max_running: usize,
    /// Other apps' share of the instance's 100 calls per 20 s: a REST call that would make it
    /// 100 or more within 20 s is refused with `606`. `None`: no shared limit.
    pub shared_rate: Option<usize>,
    /// Start times of the REST calls admitted under `shared_rate`, within the last 20 s.
    pub admitted: VecDeque<Millis>,
    /// REST calls refused with `606` under `shared_rate`.
    pub rate_refused: usize,
    /// Answer every call with a fixed plausible success ([`canned`]) instead of the database.
    pub canned: bool,
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
            rest_max_body: 1_048_576,
            bulk_status_polls: None,
            bulk_row_rules: Vec::new(),
            bulk_max_running: 10,
            shared_rate: None,
            admitted: VecDeque::new(),
            rate_refused: 0,
            canned: false,
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

    /// `606` when other apps and this connector together reach 100 calls within 20 s.
    fn shared_rate_refusal(&mut self, now: Millis) -> Option<Reply> {
        let others = self.shared_rate?;
        while self.admitted.front().is_some_and(|t| t + 20_000 <= now) {
            self.admitted.pop_front();
        }
        if self.admitted.len() + others >= 100 {
            self.rate_refused += 1;
            return Some(Reply::error("606", "Max rate limit '100' exceeded with in '20' secs"));
        }
        self.admitted.push_back(now);
        None
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
        if self.canned {
            return canned(req);
        }
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
        if let Some(refused) = self.shared_rate_refusal(now) {
            return refused;
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
        if req.body.as_ref().map_or(0, Body::len) > self.rest_max_body {
            return Reply::Http(413, "<html><body>413 Request Entity Too Large</body></html>".into());
        }
        if let Some(refused) = self.check_token(req, now) {
            return refused;
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
            return self.get_by_filter(&parse_form(&body_text(req)));
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
            let Ok(body) = serde_json::from_str::<Value>(&body_text(req)) else {
                return self.failure("609", "Invalid JSON");
            };
            return self.sync_leads(&body);
        }
        if let Some(id) = path.strip_prefix("/v1/campaigns/").and_then(|p| p.strip_suffix("/trigger.json")) {
            if method != "POST" {
                return self.failure("605", "HTTP Method not supported");
            }
            return match id.parse::<i64>() {
                Ok(id) => self.envelope(vec![json!({"id": id})]),
                Err(_) => self.failure("610", "Requested resource not found"),
            };
        }
        if path.starts_with("/v1/leads/") && path.ends_with("/merge.json") {
            if method != "POST" {
                return self.failure("605", "HTTP Method not supported");
            }
            return self.envelope(Vec::new());
        }
        if let Some(list) = path.strip_prefix("/v1/lists/").and_then(|p| p.strip_suffix("/leads.json")) {
            let Ok(list) = list.parse::<i64>() else {
                return self.failure("610", "Requested resource not found");
            };
            let Ok(body) = serde_json::from_str::<Value>(&body_text(req)) else {
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
            // Case ignored beyond ASCII, as the Node simulator's `toLowerCase()` does.
            "email" => have.to_lowercase() == value.to_lowercase(),
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
    /// Status polls answered `Importing` (under [`FakeMarketo::bulk_status_polls`]).
    pub polls: u32,
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
        let status = self.bulk_status(idx, now, what == "status");
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
        let body = match &req.body {
            Some(b @ Body::JoinedBytes(_)) => b.bytes(),
            _ => return self.failure("613", "Invalid Multipart Request"),
        };
        if body.len() >= self.bulk_max_body {
            return Reply::Http(413, "<html><body>413 Request Entity Too Large</body></html>".into());
        }
        let parts = match parse_multipart(&body, boundary) {
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
            self.bulk_status(i, now, false);
        }
        if self.bulk_jobs.iter().filter(|j| j.result.is_none()).count() >= self.bulk_max_running {
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
            polls: 0,
            result: None,
        });
        self.envelope(vec![
            json!({"batchId": batch_id, "importId": batch_id.to_string(), "status": "Queued"}),
        ])
    }

    /// The job's status at `now`, applying its rows when it has just finished.
    fn bulk_status(&mut self, idx: usize, now: Millis, poll: bool) -> &'static str {
        let job = &mut self.bulk_jobs[idx];
        if let Some(r) = &job.result {
            return if r.failed.is_some() { "Failed" } else { "Complete" };
        }
        if let Some(polls) = self.bulk_status_polls {
            if !poll || job.polls < polls {
                job.polls += u32::from(poll);
                return "Importing";
            }
        } else if now < job.submitted_at + self.bulk_queued_ms {
            return "Queued";
        } else if now < job.submitted_at + self.bulk_queued_ms + self.bulk_importing_ms {
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
            let email = header.iter().position(|h| h == "email").and_then(|i| row.get(i));
            let rule = self.bulk_row_rules.iter().find(|(prefix, _, _)| {
                email.is_some_and(|e| e.to_lowercase().starts_with(&prefix.to_lowercase()))
            });
            if let Some((_, true, why)) = rule {
                result.failures.push((row.clone(), why.clone()));
                continue;
            }
            if let Some((_, false, why)) = rule {
                warns.push(why.clone());
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

/// A plausible successful answer to `req`, by its URL alone (no state): a token, an upload's
/// batch id, a completed import with failed and warned rows, report files, records, listings.
/// The fuzz targets answer with it to get past a step cheaply ([`FakeMarketo::canned`]).
pub fn canned(req: &HttpRequest) -> Reply {
    let url = req.url.as_str();
    let body = if is_identity(req) {
        r#"{"access_token":"fuzz-token","token_type":"bearer","expires_in":3599,"scope":"s"}"#
    } else if url.contains("/failures.json") {
        "email,firstName,Import Failure Reason\r\njane@example.com,Jane,bad value\r\nnobody@x,,\"quoted, reason\"\r\n"
    } else if url.contains("/warnings.json") {
        "email,firstName,Import Warning Reason\r\nJANE@example.com,Jane,truncated\r\n"
    } else if url.contains("/bulk/v1/leads/batch/") {
        r#"{"requestId":"b#2","success":true,"result":[{"batchId":17,"status":"Complete","numOfLeadsProcessed":2,"numOfRowsFailed":1,"numOfRowsWithWarning":"1"}]}"#
    } else if url.contains("/bulk/v1/leads.json") {
        r#"{"requestId":"b#1","success":true,"result":[{"batchId":17,"status":"Queued"}]}"#
    } else if url.contains("/v1/lists.json") || url.contains("/v1/campaigns.json") {
        r#"{"requestId":"l#1","success":true,"result":[{"id":1,"name":"One"},{"id":2,"name":"Two"}],"moreResult":false}"#
    } else if url.contains("/v1/lists/") {
        r#"{"requestId":"l#2","success":true,"result":[{"id":318594,"status":"added"},{"id":1,"status":"skipped","reasons":[{"code":"1015","message":"Lead not in list"}]}]}"#
    } else {
        r#"{"requestId":"r#1","success":true,"result":[{"id":318594,"status":"updated","email":"jane@example.com","twitterId":"jane@example.com","cookies":"id:123-ABC-123&token:_mch-x","sfdcLeadId":"00Q5g00000AbC"},{"id":1,"status":"skipped","reasons":[{"code":"1004","message":"Lead not found"}]}]}"#
    };
    Reply::Http(200, body.to_string())
}
