//! Echoed tokens and secrets (issue 9, case 6): whatever Marketo, a proxy or the host answers,
//! no outcome or listing carries a token the connector was issued or the client secret — raw,
//! URL-encoded, base64, or the part of the token before its `:` — and messages are cut only
//! after redaction, so no fragment survives. A token that is not a plain header value is never
//! placed in a header.

use marketo_connector::core::{Listing, Status};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

/// The first token the fake issues (see the testkit's `FakeMarketo`: `cdf01657-…a1:ab`).
const TOKEN: &str = "cdf01657-110d-4155-99a7-f986b2ff13a1:ab";
/// The part of a Marketo token before its `:`, recognisable on its own.
const TOKEN_HEAD: &str = "cdf01657-110d-4155-99a7-f986b2ff13a1";

fn upsert() -> Driver {
    Driver::new(settings(
        json!([{"id": "upsert", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
        "leadData": [{"field": "email", "source": {"attribute": "email"}}]}]),
    ))
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=c.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        out.push_str(&"=".repeat(3 - c.len()));
    }
    out
}

/// No recognisable piece of the token or secret in `text`: the token, its head, its first 10
/// characters (a fragment a cut could leave), their URL-encoded and base64 forms, the secret.
fn assert_no_secret(what: &str, text: &str) {
    for needle in
        [TOKEN, TOKEN_HEAD, &TOKEN[..10], "cdf01657%2D", &b64(TOKEN.as_bytes())[..12], CLIENT_SECRET, "Sup3r"]
    {
        assert!(!text.contains(needle), "{what} carries `{needle}`: {text}");
    }
}

/// The failed outcome of one upsert whose Sync Leads calls are all answered `reply`.
fn failed_with(reply: Reply) -> Value {
    let mut h = upsert();
    for _ in 0..6 {
        h.fake.script.push_back(reply.clone());
    }
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    h.assert_all_final();
    assert_eq!(h.token(1), TOKEN, "the fake's first token");
    let o = h.outcome_json(&id);
    assert_eq!(o["status"], "failed", "{o}");
    o
}

#[test]
fn a_603_quoting_the_token_in_any_form_is_masked() {
    for quoted in [
        TOKEN.to_string(),
        format!("Bearer {}", TOKEN.replace(':', "%3A")),
        format!("Bearer {}", TOKEN.replace(':', "%3a")),
        format!("Basic {}", b64(format!("x{TOKEN}").as_bytes())),
        format!("token id {TOKEN_HEAD}"),
    ] {
        let o = failed_with(Reply::error("603", &format!("Access denied for token {quoted}")));
        assert_eq!(o["code"], "603");
        let m = o["message"].as_str().unwrap_or("");
        assert!(m.starts_with("Access denied for token ") && m.contains("***"), "{m}");
        assert_no_secret("603 message", &o.to_string());
    }
}

#[test]
fn a_non_json_body_starting_with_the_token_is_masked_before_the_cut() {
    let o = failed_with(Reply::Http(200, format!("{TOKEN} rejected by upstream filter")));
    assert_eq!(o["code"], "BAD_RESPONSE");
    assert_eq!(
        o["message"],
        "response is not JSON (starts with \"*** rejected by upstream filter\") (gave up after 6 attempts)"
    );
    assert_no_secret("BAD_RESPONSE", &o.to_string());
}

#[test]
fn an_error_page_echoing_the_authorization_header_is_masked() {
    let page = format!("<html><pre>POST /rest/v1/leads.json\nauthorization: Bearer {TOKEN}\n</pre></html>");
    let o = failed_with(Reply::Http(200, page));
    assert_no_secret("echoed error page", &o.to_string());
}

#[test]
fn a_long_message_is_cut_after_redaction_so_no_fragment_survives() {
    // The token starts 10 characters before the 1,000-character cut.
    let message = format!("{}{TOKEN}", "x".repeat(990));
    let o = failed_with(Reply::error("603", &message));
    let m = o["message"].as_str().unwrap_or("");
    assert_eq!(m, format!("{}***", "x".repeat(990)));
    assert_no_secret("cut message", m);
}

#[test]
fn a_host_fetch_error_quoting_the_headers_is_masked() {
    let mut h = upsert();
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.answer_next(); // the identity call
    for _ in 0..6 {
        let req = h.inbox.front().cloned().expect("a Sync Leads call");
        let message = format!(
            "fetch failed: request {{\"headers\":{{\"Authorization\":\"Bearer {TOKEN}\"}},\"url\":\"{}?access_token={}\"}}",
            req.url,
            TOKEN.replace(':', "%3A")
        );
        assert_no_secret("redact()", &h.engine.redact(&message));
        h.transport_error(req.id, &message);
        if let Some(t) = h.timeout() {
            h.advance_to(t);
        }
    }
    h.run_until_idle();
    let o = h.outcome_json(&id);
    assert_eq!((o["status"].as_str(), o["code"].as_str()), (Some("failed"), Some("NETWORK")));
    assert_no_secret("network error", &o.to_string());
}

#[test]
fn an_identity_401_echoing_the_form_body_does_not_show_the_secret() {
    let mut h = upsert();
    let body = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={}",
        CLIENT_SECRET.replace('-', "%2D")
    );
    h.fake.identity_script.push_back(Reply::Http(
        401,
        json!({"error": "unauthorized", "error_description": format!("Bad client credentials: {body} / {CLIENT_SECRET}")})
            .to_string(),
    ));
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    let o = h.outcome_json(&id);
    assert_eq!(o["code"], "AUTH_REJECTED");
    let m = o["message"].as_str().unwrap_or("");
    assert!(m.contains("client_secret=***") && m.ends_with("/ ***"), "{m}");
    assert_no_secret("AUTH_REJECTED", m);
}

#[test]
fn a_listing_rejection_quoting_the_token_is_masked() {
    let mut h = upsert();
    h.fake.script.push_back(Reply::error("603", &format!("Access denied for {TOKEN}")));
    h.start_listing(Listing::StaticLists, "staticLists");
    h.run_until_idle();
    let (_, result) = h.take_listing().expect("listing finished");
    let err = result.expect_err("Marketo refused");
    assert_eq!((err.code().as_ref(), err.message()), ("603", "Access denied for ***"));
}

#[test]
fn a_token_that_is_not_a_plain_header_value_is_never_sent() {
    let mut h = upsert();
    for _ in 0..6 {
        h.fake.identity_script.push_back(Reply::ok(
            json!({"access_token": "abc\r\nX-Injected: 1", "token_type": "bearer", "expires_in": 3599}),
        ));
    }
    let id = h.event("upsert", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    assert!(h.rest_sent().is_empty(), "no call carried it");
    let o = h.outcome(&id);
    assert_eq!((o.status, o.code.as_deref()), (Status::Failed, Some("AUTH_UNAVAILABLE")));
    assert!(o.message.as_deref().unwrap_or("").contains("not a plain header value"), "{o:?}");
    assert_eq!(h.identity_sent().len(), 6);
}
