//! The client secret and the access token never appear in outcomes, errors, requests' URLs,
//! previews, snapshots, stats or debug output: every path, settings errors and failed identity
//! calls included.

use marketo_connector::core::Settings;
use marketo_connector_testkit::*;
use serde_json::json;

fn actions() -> serde_json::Value {
    json!([
        {"id": "up", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate",
         "leadData": [{"field": "email", "source": {"attribute": "email"}}]},
        {"id": "add", "type": "addLeadToListBatched", "targetStaticList": 1,
         "leadIdLookup": {"filterType": "email", "source": {"attribute": "email"}}}
    ])
}

fn assert_clean(what: &str, text: &str, token: Option<&str>) {
    assert!(!text.contains(CLIENT_SECRET), "{what} shows the client secret: {text}");
    if let Some(t) = token {
        assert!(!text.contains(t), "{what} shows the access token: {text}");
    }
}

#[test]
fn settings_errors_never_echo_the_secret() {
    for (key, value) in [
        ("endpointUrl", json!("http://example.com/rest")),
        ("identityUrl", json!(CLIENT_SECRET)),
        ("clientId", json!("")),
        ("limits", json!({"concurrency": CLIENT_SECRET})),
        ("actions", json!([{"id": "x", "type": CLIENT_SECRET}])),
        ("unknownSetting", json!(CLIENT_SECRET)),
    ] {
        let mut s = settings(actions());
        s[key] = value;
        let err = Settings::from_value(&s).expect_err(key);
        assert_clean(key, &err.to_string(), None);
        assert_clean(key, &format!("{err:?}"), None);
    }
    let mut s = settings(actions());
    s["clientSecret"] = json!(12345);
    assert_clean("secret of the wrong type", &Settings::from_value(&s).unwrap_err().to_string(), None);
}

#[test]
fn requests_outcomes_previews_snapshots_and_debug_output_are_clean() {
    let mut h = Driver::new(settings(actions()));
    h.event("up", &json!({"email": "a@example.com"}));
    h.event("add", &json!({"email": "a@example.com"}));
    h.run_until_idle();
    let token = h.token(1);
    for r in &h.sent {
        assert_clean("a request URL", &r.url, Some(&token));
        if let (false, Some(body)) = (is_identity(r), r.body.as_ref().and_then(|b| b.text())) {
            assert_clean("a REST request body", &body, None);
        }
    }
    for o in &h.outcomes {
        assert_clean("an outcome", &serde_json::to_string(o).unwrap(), Some(&token));
    }
    let preview = h.engine.preview("up", &json!({"email": "a@example.com"})).unwrap();
    assert_clean("preview", &serde_json::to_string(&preview).unwrap(), Some(&token));
    assert_clean("snapshot", &serde_json::to_string(&h.engine.snapshot()).unwrap(), Some(&token));
    assert_clean("stats", &serde_json::to_string(&h.engine.stats()).unwrap(), Some(&token));
    assert_clean("the engine's debug output", &format!("{:?}", h.engine), Some(&token));
}

#[test]
fn failed_identity_calls_report_without_the_secret() {
    for reply in [
        Reply::Http(
            401,
            json!({"error": "unauthorized", "error_description": "Bad client credentials"}).to_string(),
        ),
        Reply::Http(503, "<html>Service Unavailable</html>".into()),
        Reply::Transport("connection refused".into()),
    ] {
        let mut h = Driver::new(settings(actions()));
        for _ in 0..8 {
            h.fake.identity_script.push_back(reply.clone());
        }
        h.event_with_id("up", &json!({"email": "a@example.com"}), "e");
        h.run_until_idle();
        let o = h.outcome("e");
        assert_eq!(o.status, marketo_connector::core::Status::Failed, "{reply:?}");
        assert_clean("an identity failure outcome", &serde_json::to_string(o).unwrap(), None);
        assert_clean("the engine after an identity failure", &format!("{:?}", h.engine), None);
    }
}

#[test]
fn a_restored_engine_has_no_secret_until_it_is_given_settings() {
    let mut h = Driver::new(settings(actions()));
    h.event("add", &json!({"email": "q@example.com"}));
    let snap = h.engine.snapshot();
    let text = serde_json::to_string(&snap).unwrap();
    assert_clean("snapshot", &text, None);
    let mut restored = Driver::with_seed(settings(actions()), SEED, h.now);
    restored.restore_from(&snap, SEED);
    assert_eq!(restored.engine.pending_events(), 1);
}
