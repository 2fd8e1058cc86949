//! Pickers (`staticLists()`, `triggerableCampaigns()`) follow `nextPageToken` while it is present
//! and the page is not empty, whether or not the page says `moreResult` (Adobe's Swagger models
//! for these endpoints have none), and stop on a token that repeats (issue 9, case 4).

use marketo_connector::core::{Listing, Named};
use marketo_connector_testkit::*;
use serde_json::{json, Value};

fn page(first_id: i64, n: i64, token: Option<&str>, more: Option<bool>) -> Reply {
    let result: Vec<Value> =
        (first_id..first_id + n).map(|id| json!({"id": id, "name": format!("List {id}")})).collect();
    let mut body = json!({"requestId": "a1#b2", "success": true, "result": result});
    if let Some(t) = token {
        body["nextPageToken"] = json!(t);
    }
    if let Some(m) = more {
        body["moreResult"] = json!(m);
    }
    Reply::ok(body)
}

/// Runs a listing against scripted pages; returns the listing and the REST URLs asked for.
fn list(kind: Listing, pages: Vec<Reply>) -> (Vec<Named>, Vec<String>) {
    let mut h = Driver::new(settings(json!([])));
    h.fake.script = pages.into();
    let key = h.start_listing(kind, "listing");
    h.run_until_idle();
    let (got, result) = h.take_listing().expect("the listing finished");
    assert_eq!(got, Some(key));
    let urls = h.rest_sent().iter().map(|r| r.url.clone()).collect();
    (result.expect("listing succeeded"), urls)
}

#[test]
fn static_lists_follow_next_page_token_without_more_result() {
    // 460 lists: 300 + 160, then an empty page that still carries a token.
    let (items, urls) = list(
        Listing::StaticLists,
        vec![
            page(1, 300, Some("TOKEN-A"), None),
            page(301, 160, Some("TOKEN-B"), None),
            page(0, 0, Some("TOKEN-C"), None),
        ],
    );
    assert_eq!(items.len(), 460);
    assert_eq!(items.last().map(|n| n.id), Some(460));
    assert_eq!(
        urls,
        vec![
            format!("{REST}/v1/lists.json?batchSize=300"),
            format!("{REST}/v1/lists.json?batchSize=300&nextPageToken=TOKEN-A"),
            format!("{REST}/v1/lists.json?batchSize=300&nextPageToken=TOKEN-B"),
        ]
    );
}

#[test]
fn campaigns_follow_tokens_even_when_more_result_is_false() {
    // 330 campaigns; the first page says moreResult:false but carries a token (a server that
    // fills the field wrongly must not cut the list short either).
    let (items, urls) = list(
        Listing::TriggerableCampaigns,
        vec![page(1, 300, Some("P2"), Some(false)), page(301, 30, None, None)],
    );
    assert_eq!(items.len(), 330);
    assert_eq!(urls.len(), 2);
    assert!(urls[0].contains("isTriggerable=true") && urls[1].ends_with("&nextPageToken=P2"), "{urls:?}");
}

#[test]
fn a_repeated_token_ends_the_listing() {
    let (items, urls) = list(
        Listing::StaticLists,
        vec![page(1, 300, Some("SAME"), None), page(301, 300, Some("SAME"), Some(true))],
    );
    assert_eq!(urls.len(), 2, "the repeated token is not followed again: {urls:?}");
    assert_eq!(items.len(), 600);
}

#[test]
fn a_page_without_a_token_is_the_last() {
    let (items, urls) = list(Listing::StaticLists, vec![page(1, 12, None, Some(true))]);
    assert_eq!((items.len(), urls.len()), (12, 1));
}
