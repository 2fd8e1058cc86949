//! `mergeLead` (Swagger `mergeLeadsUsingPOST`,
//! https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads):
//! how `losingLeadIds` is read. Every item of a list or of a comma-separated text must be a lead
//! id: a merge drops the losing leads for good, so an event whose list has a gap fails, naming
//! the item, rather than merging fewer leads than it lists.

use marketo_connector_testkit::*;
use serde_json::json;

fn merge_settings() -> serde_json::Value {
    settings(json!([
        {"id": "merge", "type": "mergeLead", "winningLeadId": {"attribute": "winner"},
         "losingLeadIds": {"attribute": "losers"}}
    ]))
}

#[test]
fn losing_lead_ids_with_an_item_that_is_not_an_id_fail_the_event_naming_the_item() {
    let ids = "Marketo ids are positive integers";
    for (losers, problem) in [
        (json!([318600, null]), format!("item 2 of 2 is null; {ids}")),
        (json!([318600, true]), format!("item 2 of 2 is a boolean; {ids}")),
        (json!(["318600", ""]), format!("item 2 of 2 is empty (or only white space); {ids}")),
        (json!(["318600", " "]), format!("item 2 of 2 is empty (or only white space); {ids}")),
        (
            json!(["318600", "x1"]),
            format!("item 2 of 2 is a string that is not a whole number written in decimal digits; {ids}"),
        ),
        (json!([0, 318601]), format!("item 1 of 2 is not positive; {ids}")),
        (
            json!("318600,,318601"),
            format!("item 2 of 3 is empty (the comma-separated text has nothing there); {ids}"),
        ),
        (
            json!("318600,"),
            format!("item 2 of 2 is empty (the comma-separated text has nothing there); {ids}"),
        ),
        (
            json!("318600, x1"),
            format!("item 2 of 2 is a string that is not a whole number written in decimal digits; {ids}"),
        ),
        (json!([]), "lists no lead id".to_string()),
    ] {
        let mut h = Driver::new(merge_settings());
        h.event_with_id("merge", &json!({"winner": 318594, "losers": losers}), "m");
        h.run_until_idle();
        assert_eq!(
            h.outcome_json("m"),
            json!({"eventId": "m", "actionId": "merge", "status": "failed", "code": "INVALID_VALUE",
                   "message": format!("parameter `losingLeadIds`: {problem}")}),
            "{losers}"
        );
        assert!(h.sent.is_empty(), "{losers}: {:#?}", h.sent);
    }
}

#[test]
fn losing_lead_ids_as_a_list_or_comma_separated_text_are_merged_in_one_call() {
    for losers in [json!([318600, "318601"]), json!(" 318600 , 318601 "), json!("318600,318601,318600")] {
        let mut h = Driver::new(merge_settings());
        for id in [318594, 318600, 318601] {
            h.fake.add_lead(json!({"id": id, "email": format!("{id}@example.com")}));
        }
        h.event_with_id("merge", &json!({"winner": 318594, "losers": losers}), "m");
        h.run_until_idle();
        let urls: Vec<&str> = h.rest_sent().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            vec!["https://123-ABC-123.mktorest.com/rest/v1/leads/318594/merge.json?leadIds=318600,318601&mergeInCRM=false"],
            "{losers}"
        );
        assert_eq!(h.outcome_json("m")["status"], json!("delivered"), "{losers}");
        h.assert_all_final();
    }
}
