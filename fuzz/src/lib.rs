//! Shared pieces of the fuzz targets: fixed valid configurations covering the nine action
//! types, a byte reader, the seed corpus, and the bounded drive of the testkit's driver
//! (`marketo-connector-testkit`: the one driver and fake Marketo the Rust tests use, here with
//! the fake's canned answers and the invariants every host relies on checked after each step).

use std::sync::OnceLock;

use marketo_connector::core::Settings;
pub use marketo_connector_testkit::{canned, Checks, Driver, Reply, SEED, T0};
use serde_json::{json, Value};
/// The action ids every configuration uses, one per action type, in this order.
pub const ACTION_IDS: [&str; 9] =
    ["add", "addB", "remove", "removeB", "email", "upsert", "upsertB", "merge", "bulk"];
/// Driving rounds at most, so a target can never hang.
pub const MAX_ROUNDS: usize = 64;

fn base(actions: Value, limits: Value) -> Value {
    json!({
        "clientId": "fuzz-client",
        "clientSecret": "fuzz-secret",
        "endpointUrl": "https://123-ABC-123.mktorest.com/rest",
        "identityUrl": "https://123-ABC-123.mktorest.com/identity/",
        "limits": limits,
        "actions": actions,
    })
}

/// Configurations as JSON text. Each has all nine action types under [`ACTION_IDS`]; they
/// differ in lookups, literals, strategies, date mappings and limits.
pub fn configs() -> Vec<String> {
    let data = json!([
        {"field": "email", "source": {"attribute": "email"}},
        {"field": "firstName", "source": {"attribute": "first"}},
        {"field": "signup", "source": {"attribute": "date"}, "type": "date"}
    ]);
    let a = base(
        json!([
            {"id": "add", "type": "addLeadToList", "targetStaticList": 1089, "addLead": true,
             "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}},
            {"id": "addB", "type": "addLeadToListBatched", "targetStaticList": "77",
             "targetLeadId": {"attribute": "leadId"}},
            {"id": "remove", "type": "removeLeadFromList", "targetStaticList": 1089,
             "leadIdLookup": {"filterType": "cookies", "source": {"attribute": "cookie"}}},
            {"id": "removeB", "type": "removeLeadFromListBatched", "targetStaticList": 5,
             "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}},
            {"id": "email", "type": "sendTransactionalEmail", "targetEmailCampaign": 7,
             "targetLeadId": {"attribute": "leadId"},
             "tokens": [{"name": "{{my.message}}", "source": {"attribute": "message"}},
                        {"name": "{{my.when}}", "source": {"attribute": "date"}, "type": "date"}]},
            {"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
             "leadData": data, "partitionName": "Default"},
            {"id": "upsertB", "type": "createOrUpdateLeadBatched", "updateStrategy": "updateOnly",
             "leadData": [{"field": "email", "source": {"attribute": "email"}},
                          {"field": "id", "source": {"attribute": "leadId"}},
                          {"field": "title", "source": {"attribute": "title"}}]},
            {"id": "merge", "type": "mergeLead", "winningLeadId": {"attribute": "winner"},
             "losingLeadIds": {"attribute": "losers"}, "mergeInCrm": true},
            {"id": "bulk", "type": "bulkImportLeads", "targetStaticList": 77, "leadLookupField": "email",
             "leadData": data}
        ]),
        Value::Null,
    );
    let b = base(
        json!([
            {"id": "add", "type": "addLeadToList", "targetStaticList": 3,
             "targetLeadId": {"attribute": ["data", "udo", "marketo_lead_id"]}},
            {"id": "addB", "type": "addLeadToListBatched", "targetStaticList": 3, "addLead": true,
             "leadIdLookup": {"filterType": "sfdcLeadId", "source": {"attribute": "data.udo.sfdc"}}},
            {"id": "remove", "type": "removeLeadFromList", "targetStaticList": 3,
             "leadIdLookup": {"filterType": "id", "source": {"attribute": "leadId"}}},
            {"id": "removeB", "type": "removeLeadFromListBatched", "targetStaticList": 3,
             "targetLeadId": {"value": 318594}},
            {"id": "email", "type": "sendTransactionalEmail", "targetEmailCampaign": "1234",
             "targetLeadId": {"attribute": "data.udo.marketo_lead_id"}},
            {"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createDuplicate",
             "leadLookupFilter": "email",
             "leadData": [{"field": "email", "source": {"attribute": "data.udo.customer_email"}},
                          {"field": "notes", "source": {"attribute": "data.udo.notes"}}]},
            {"id": "upsertB", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOnly",
             "partitionName": "Europe",
             "leadData": [{"field": "email", "source": {"attribute": "data.udo.customer_email"}},
                          {"field": "signup", "source": {"attribute": "data.udo.signup_date"}, "type": "date"}]},
            {"id": "merge", "type": "mergeLead", "winningLeadId": {"value": "318594"},
             "losingLeadIds": {"attribute": ["data", "losers"]}},
            {"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "sfdcLeadId",
             "leadData": [{"field": "sfdcLeadId", "source": {"attribute": "data.udo.sfdc"}},
                          {"field": "company", "source": {"attribute": "data.udo.company"}}]}
        ]),
        json!({"callsPer20s": 2, "concurrency": 1, "dailyQuota": 5}),
    );
    let c = base(
        json!([
            {"id": "add", "type": "addLeadToList", "targetStaticList": 9,
             "leadIdLookup": {"filterType": "twitterId", "source": {"attribute": "email"}}},
            {"id": "addB", "type": "addLeadToListBatched", "targetStaticList": 9,
             "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}, "addLead": true},
            {"id": "remove", "type": "removeLeadFromList", "targetStaticList": 9,
             "targetLeadId": {"attribute": "leadId"}},
            {"id": "removeB", "type": "removeLeadFromListBatched", "targetStaticList": 9,
             "leadIdLookup": {"filterType": "cookies", "source": {"attribute": "cookie"}}},
            {"id": "email", "type": "sendTransactionalEmail", "targetEmailCampaign": 8,
             "targetLeadId": {"attribute": "leadId"},
             "tokens": [{"name": "{{my.a}}", "source": {"attribute": "first"}},
                        {"name": "{{my.b}}", "source": {"value": "literal"}}]},
            {"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "updateOnly",
             "leadLookupFilter": "id",
             "leadData": [{"field": "id", "source": {"attribute": "leadId"}},
                          {"field": "title", "source": {"attribute": "title"}}]},
            {"id": "upsertB", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOrUpdate",
             "leadData": data},
            {"id": "merge", "type": "mergeLead", "winningLeadId": {"attribute": "winner"},
             "losingLeadIds": {"attribute": "losers"}, "mergeInCrm": false},
            {"id": "bulk", "type": "bulkImportLeads", "leadLookupField": "email",
             "leadData": [{"field": "email", "source": {"attribute": "email"}},
                          {"field": "title", "source": {"attribute": "title"}},
                          {"field": "score", "source": {"attribute": "score"}}]}
        ]),
        json!({"callsPer20s": 100, "concurrency": 10, "dailyQuota": 100000}),
    );
    vec![a.to_string(), b.to_string(), c.to_string()]
}

/// Configuration `i` (modulo the number of configurations), parsed once per process, and its
/// JSON.
pub fn config(i: usize) -> (Settings, Value) {
    static PARSED: OnceLock<Vec<(Settings, Value)>> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        configs()
            .iter()
            .map(|text| {
                let settings = Settings::from_json(text).expect("the fuzz configurations are valid");
                (settings, serde_json::from_str(text).expect("JSON"))
            })
            .collect()
    });
    all[i % all.len()].clone()
}

/// The parsed settings of configuration `i` (modulo the number of configurations).
pub fn settings(i: usize) -> Settings {
    config(i).0
}

/// A driver for configuration `config` at [`T0`]: the fake answers with canned successes, the
/// lead schema's describe calls wait their turn like any call, and the checks of what requests,
/// outcomes and snapshots contain are off (fuzzed events hold any text, the secret included).
pub fn driver(config_index: usize, seed: u64) -> Driver {
    let (parsed, json) = config(config_index);
    let mut d = Driver::from_settings(parsed, json, seed, T0);
    d.fake.canned = true;
    d.auto_describe = false;
    d.checks_on = Checks { events_may_hold_secrets: true, ..Checks::default() };
    d
}

/// Answers everything with canned successes and wakes the engine when it asks, for at most
/// `rounds` rounds (up to 256 answers each), never more: a target can never hang.
pub fn run_canned(d: &mut Driver, rounds: usize) {
    for _ in 0..rounds {
        if d.inbox.is_empty() {
            match d.timeout() {
                Some(t) => d.advance_to(t),
                None => break,
            }
        }
        for _ in 0..256 {
            let Some(&id) = d.answerable().first() else { break };
            // Refused only when the engine gave up on it (the driver checks that).
            let _ = d.try_answer(id);
        }
    }
}

/// Events that every configuration can deliver (keys used by the configurations above).
pub fn sample_events() -> Vec<Value> {
    vec![
        json!({"email": "Jane.Doe@example.com", "leadId": 318594, "cookie": "id:123-ABC-123&token:_mch-x",
               "message": "hi", "date": "2026-11-28T09:30:00+01:00", "first": "Jane", "title": "CTO",
               "winner": 1, "losers": "2,3", "score": 1.5,
               "data": {"udo": {"marketo_lead_id": "318594", "sfdc": "00Q5g00000AbC",
                                "customer_email": "jane@example.com", "notes": "a,\"b\"\nc",
                                "signup_date": 1764307800000u64, "company": "Ümlaut & Söhne"},
                        "losers": [2, 3]}}),
        json!({"email": "jane@example.com", "leadId": "7", "losers": [4, 5, 6], "winner": "9",
               "date": 1764307800, "data": {"udo": {"sfdc": 12, "customer_email": "b@x.y"}, "losers": 8}}),
        json!({"email": " ", "leadId": -1, "date": "soon", "losers": "", "winner": null}),
    ]
}

/// Turns the rest of an input into an event: JSON when it parses, otherwise the text (lossy
/// UTF-8) under every attribute the configurations read, so raw bytes still reach the mappers.
pub fn lenient_event(bytes: &[u8]) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    let s = String::from_utf8_lossy(bytes).into_owned();
    let v = Value::String(s);
    json!({"email": v, "leadId": v, "cookie": v, "message": v, "date": v, "first": v, "title": v,
           "winner": v, "losers": v, "score": v,
           "data": {"udo": {"marketo_lead_id": v, "sfdc": v, "customer_email": v, "notes": v,
                            "signup_date": v, "company": v}, "losers": v}})
}

/// Reads an input front to back; every read past the end yields zeros / empty slices.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | (u16::from(self.u8()) << 8)
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// A u16-length-prefixed byte string.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }
}

/// Builds `responses` inputs: a configuration byte, then operations (see
/// `fuzz_targets/responses.rs` for their encoding).
#[derive(Debug, Clone, Default)]
pub struct Script(pub Vec<u8>);

impl Script {
    /// A script under configuration `config`.
    pub fn new(config: u8) -> Script {
        Script(vec![config])
    }

    fn chunk(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(usize::from(u16::MAX));
        self.0.extend_from_slice(&(n as u16).to_le_bytes());
        self.0.extend_from_slice(&bytes[..n]);
    }

    /// Answers pending request `index` with `status` (a table index below 0x80) and `body`.
    pub fn http(mut self, index: u8, status_byte: u8, body: &str) -> Script {
        self.0.extend_from_slice(&[0, index, status_byte]);
        self.chunk(body.as_bytes());
        self
    }

    /// Answers pending request `index` with a raw HTTP status.
    pub fn http_raw(mut self, index: u8, status: u16, body: &str) -> Script {
        self.0.extend_from_slice(&[1, index, 0x80]);
        self.0.extend_from_slice(&status.to_le_bytes());
        self.chunk(body.as_bytes());
        self
    }

    /// Answers pending request `index` with its canned success, `n` times.
    pub fn canned(mut self, index: u8, n: usize) -> Script {
        for _ in 0..n {
            self.0.extend_from_slice(&[4, index]);
        }
        self
    }

    /// Fails pending request `index` in transport.
    pub fn transport(mut self, index: u8, message: &str) -> Script {
        self.0.extend_from_slice(&[6, index]);
        self.chunk(message.as_bytes());
        self
    }

    /// Advances time by `ms`.
    pub fn advance(mut self, ms: u32) -> Script {
        self.0.extend_from_slice(&[7, 1]);
        self.0.extend_from_slice(&ms.to_le_bytes());
        self
    }

    /// Wakes the engine when it asked.
    pub fn wake(mut self) -> Script {
        self.0.extend_from_slice(&[8, 0]);
        self
    }

    /// A new event for action `index % 9` from the input's JSON text.
    pub fn event(mut self, action: u8, json: &str) -> Script {
        self.0.extend_from_slice(&[9, (action % 9) | 0x10]);
        self.chunk(json.as_bytes());
        self
    }

    /// Answers pending request `index` with HTTP 200 and body template `shape` around `text`.
    pub fn shaped(mut self, index: u8, shape: u8, n: u16, text: &str) -> Script {
        self.0.extend_from_slice(&[12, index, shape]);
        self.0.extend_from_slice(&n.to_le_bytes());
        self.chunk(text.as_bytes());
        self
    }

    /// Flush (0), a listing (1), a snapshot check (2).
    pub fn misc(mut self, which: u8) -> Script {
        self.0.extend_from_slice(&[10, which]);
        self
    }
}

/// The seed corpus, by target: `(target, file name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    // settings: the fuzz configurations, and a few invalid ones.
    for (i, c) in configs().into_iter().enumerate() {
        out.push(("settings", format!("config-{i}.json"), c.into_bytes()));
    }
    out.push(("settings", "minimal.json".into(), br#"{"clientId":"a","clientSecret":"b","endpointUrl":"http://127.0.0.1:9/rest/","identityUrl":"http://[::1]:9/identity"}"#.to_vec()));
    out.push(("settings", "bad-limits.json".into(), br#"{"clientId":"a","clientSecret":"b","endpointUrl":"https://x/rest","identityUrl":"https://x/identity","limits":{"concurrency":11,"dailyQuota":4294967295}}"#.to_vec()));

    // event: [config, action, seed] + event.
    let fixtures = [
        include_str!("../../fixtures/audiencestream-visitor.json"),
        include_str!("../../fixtures/eventstream-event.json"),
    ];
    let events = sample_events();
    for config in 0..3u8 {
        for action in 0..9u8 {
            let mut bytes = vec![config, action, 7];
            let ev = &events[usize::from(action + config) % 2];
            bytes.extend_from_slice(ev.to_string().as_bytes());
            out.push(("event", format!("c{config}-{}.bin", ACTION_IDS[usize::from(action)]), bytes));
        }
    }
    for (i, f) in fixtures.iter().enumerate() {
        let mut bytes = vec![1, 8 - i as u8, 1];
        bytes.extend_from_slice(f.as_bytes());
        out.push(("event", format!("fixture-{i}.bin"), bytes));
    }
    out.push(("event", "raw-text.bin".into(), b"\x00\x05\x00jane@example.com, 12, 2026-11-28".to_vec()));
    // Raw text lands under every attribute, date mappings included.
    out.push(("event", "raw-date-offset.bin".into(), b"\x00\x04\x002026-11-28T09:30:00+01:00".to_vec()));
    out.push((
        "event",
        "raw-date-rfc2822.bin".into(),
        b"\x00\x05\x00Sat, 28 Nov 2026 09:30:00 +0000".to_vec(),
    ));
    out.push(("event", "bad-event.bin".into(), events[2].to_string().into_bytes()));
    // Regressions: a date whose UTC instant is in year 10000 (a panic in time.rs); an event
    // nested 125 levels deep kept pending by a batched action (its snapshot did not parse).
    out.push((
        "event",
        "regress-date-year-10000.bin".into(),
        b"\x00\x05\x009999-12-31T23:30:00-02:00".to_vec(),
    ));
    let deep = format!(r#"{{"email":"a@b.c","x":{}{}}}"#, "[".repeat(124), "]".repeat(124));
    out.push(("event", "regress-deep-event.bin".into(), [&[0u8, 6, 0][..], deep.as_bytes()].concat()));

    // responses.
    let token = r#"{"access_token":"t1","token_type":"bearer","expires_in":3599,"scope":"s"}"#;
    let env_err = |code: &str| {
        format!(r#"{{"requestId":"e#1","success":false,"errors":[{{"code":"{code}","message":"m"}}]}}"#)
    };
    let scripts = [
        ("all-canned", Script::new(0).canned(0, 40).wake().canned(0, 20).wake().canned(0, 20)),
        ("identity-then-errors", Script::new(0)
            .http(0, 0, token)
            .http(0, 0, &env_err("601"))
            .http(1, 0, &env_err("606"))
            .http(2, 0, &env_err("607"))
            .http(3, 0, &env_err("1004"))
            .http(0, 0, &env_err("615"))
            .canned(0, 10).wake().canned(0, 10)),
        ("http-statuses", Script::new(1)
            .canned(0, 1)
            .http(0, 13, "<html>502 Bad Gateway</html>")
            .http(0, 10, "")
            .http(0, 11, "")
            .http_raw(0, 0, "")
            .transport(0, "connection reset")
            .advance(250_000).canned(0, 20).wake().canned(0, 20)),
        ("identity-refused", Script::new(2)
            .http(0, 7, r#"{"error":"unauthorized","error_description":"Bad client credentials"}"#)
            .wake().http(0, 0, r#"{"access_token":"","expires_in":0}"#).wake().canned(0, 30)),
        ("bulk-reports", Script::new(0)
            .canned(0, 12)
            .http(0, 0, r#"{"requestId":"b#1","success":true,"result":[{"batchId":"18","status":"Importing"}]}"#)
            .wake()
            .http(0, 0, r#"{"requestId":"b#2","success":true,"result":[{"batchId":18,"status":"Complete","numOfRowsFailed":2,"numOfRowsWithWarning":0}]}"#)
            .http(0, 0, "\u{feff}Email,Import Failure Reason\r\n JANE@example.com ,\"bad, value\"\r\n\"unterminated\r\n")
            .http(0, 0, "email\r\n")
            .http(0, 0, r#"{"success":false,"errors":[{"code":"1019","message":"Import in progress"}]}"#)
            .wake().canned(0, 30)),
        ("records", Script::new(2)
            .canned(0, 1)
            .http(0, 0, r#"{"requestId":"r#9","success":true,"result":[{"id":5,"status":"skipped","reasons":[{"code":1005,"message":"Lead already exists"}]},{"status":"created"},{"id":"x"}],"moreResult":true,"nextPageToken":"NPT=="}"#)
            .http(1, 0, r#"{"success":true,"result":[{"id":1,"name":"A"},{"id":2}],"moreResult":true,"nextPageToken":"p2"}"#)
            .http(2, 0, r#"{"success":true,"result":[{"id":9,"status":"removed"},{"id":10,"status":"notmemberof"}]}"#)
            .event(3, r#"{"email":"new@example.com","cookie":"id:1&token:2","leadId":"42"}"#)
            .misc(0).misc(2)
            .canned(0, 30).wake().canned(0, 20)),
        ("shaped", Script::new(0)
            .canned(0, 1)
            .shaped(0, 0, 0, r#"[{"id":318594,"status":"updated"},{"id":2,"status":"skipped","reasons":[{"code":"1004"}]}]"#)
            .shaped(0, 1, 7, r#"[{"id":1,"name":"L"}]"#)
            .shaped(0, 2, 0, "\"606\"")
            .shaped(0, 3, 5, "Complete")
            .shaped(0, 4, 0, "jane@example.com,Jane,bad\r\n")
            .canned(0, 20).wake().shaped(0, 5, 3600, "tok2").canned(0, 20)),
        ("timeouts", Script::new(1).canned(0, 2).advance(199_999).advance(1).wake().advance(86_400_000).canned(0, 20)),
    ];
    for (name, s) in scripts {
        out.push(("responses", format!("{name}.bin"), s.0));
    }

    // snapshot.
    let ev = events[0].to_string();
    let ev1 = events[1].to_string();
    let snaps = [
        (
            "all-actions",
            format!(
                r#"{{"version":1,"takenAt":{T0},"events":[{}],"quota":{{"day":20420,"used":3}}}}"#,
                ACTION_IDS
                    .iter()
                    .enumerate()
                    .map(|(i, a)| format!(
                        r#"{{"eventId":"e{i}","actionId":"{a}","event":{},"acceptedAt":{},"inFlight":{}}}"#,
                        if i % 2 == 0 { &ev } else { &ev1 },
                        T0 - 1_000 * i as u64,
                        i % 3 == 0
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        (
            "unknown-action",
            r#"{"version":1,"takenAt":0,"events":[{"eventId":"x","actionId":"gone","event":{},"acceptedAt":0}],"quota":{"day":-1,"used":4294967295}}"#.to_string(),
        ),
        (
            "quota-spent",
            format!(
                r#"{{"version":1,"takenAt":{T0},"events":[{{"eventId":"q","actionId":"upsert","event":{ev},"acceptedAt":{T0}}}],"quota":{{"day":20420,"used":50000}}}}"#
            ),
        ),
        (
            "future-batch",
            format!(
                r#"{{"version":1,"takenAt":{T0},"events":[{{"eventId":"f","actionId":"upsertB","event":{ev},"acceptedAt":18446744073709551615,"inFlight":true}}],"quota":{{"day":0,"used":0}}}}"#
            ),
        ),
        ("version-2", r#"{"version":2,"takenAt":0,"events":[],"quota":{"day":0,"used":0}}"#.to_string()),
        (
            "regress-deep-event",
            format!(
                r#"{{"version":1,"takenAt":{T0},"events":[{{"eventId":"d","actionId":"upsertB","event":{{"email":"a@b.c","x":{}{}}},"acceptedAt":{T0}}}],"quota":{{"day":0,"used":0}}}}"#,
                "[".repeat(126),
                "]".repeat(126)
            ),
        ),
    ];
    for (name, s) in snaps {
        out.push(("snapshot", format!("{name}.json"), s.into_bytes()));
    }
    out
}

#[cfg(test)]
mod tests {
    /// Rewrites `fuzz/seeds/`: `cargo test --lib -- --ignored write_seeds` (in `fuzz/`).
    #[test]
    #[ignore]
    fn write_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for (target, name, bytes) in super::seeds() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    #[test]
    fn configurations_are_valid() {
        for i in 0..super::configs().len() {
            let s = super::settings(i);
            for id in super::ACTION_IDS {
                assert!(s.action(id).is_some(), "config {i} lacks {id}");
            }
        }
    }
}
