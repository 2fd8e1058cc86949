//! Pickers for a configuration UI: every static list (`GET /rest/v1/lists.json`) and every
//! campaign that can be requested through the API (`GET /rest/v1/campaigns.json?isTriggerable=true`:
//! active, with a "Campaign is Requested: Web Service API" trigger). Both follow Marketo's
//! `nextPageToken` paging to the end, 300 per page (the asset API's pages hold only 200).
//!
//! Paging rule: the next page is asked for while the answer carries a `nextPageToken` and its
//! page is not empty, whether or not it says `moreResult` (Adobe's Swagger response models for
//! `getListsUsingGET` and `getCampaignsUsingGET` have no `moreResult`:
//! <https://github.com/AdobeDocs/marketo-apis/blob/main/static/swagger-mapi.json>). A token
//! that was already followed ends the listing, so a server that repeats itself cannot loop it.

use crate::core::ids::Step;
use serde_json::Value;

use crate::core::job::{Api, CallSpec, Delivery, Failure, Progress, Steps};
use crate::core::listing::{Listing, Named};
use crate::core::wire::Envelope;

/// Pages through one listing.
pub(crate) struct ListingJob {
    kind: Listing,
    items: Vec<Named>,
    tags: Steps,
    /// Every `nextPageToken` followed so far (a list: a few pages, and a set costs more `.wasm`).
    seen: Vec<String>,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for ListingJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListingJob").finish_non_exhaustive()
    }
}

impl ListingJob {
    pub fn new(kind: Listing) -> ListingJob {
        ListingJob { kind, items: Vec::new(), tags: Steps::default(), seen: Vec::new() }
    }

    fn call(&mut self, page: Option<&str>) -> CallSpec {
        let (path, mut query) = match self.kind {
            Listing::StaticLists => ("/v1/lists.json", vec![]),
            Listing::TriggerableCampaigns => {
                ("/v1/campaigns.json", vec![("isTriggerable".to_string(), "true".to_string())])
            }
        };
        query.push(("batchSize".into(), "300".into()));
        if let Some(token) = page {
            query.push(("nextPageToken".into(), token.into()));
        }
        CallSpec::get(self.tags.next(), Api::Rest, path.into(), query)
    }
}

impl Delivery for ListingJob {
    fn start(&mut self, p: &mut Progress) {
        p.calls.push(self.call(None));
    }

    fn on_success(&mut self, _step: Step, env: &Envelope, p: &mut Progress) {
        for row in &env.result {
            if let (Some(id), Some(name)) =
                (row.get("id").and_then(Value::as_i64), row.get("name").and_then(Value::as_str))
            {
                self.items.push(Named { id, name: name.to_string() });
            }
        }
        let next = env
            .next_page_token
            .as_deref()
            .filter(|t| !t.is_empty() && !env.result.is_empty() && !self.seen.iter().any(|s| s == t));
        match next {
            Some(token) => {
                self.seen.push(token.to_string());
                let call = self.call(Some(token));
                p.calls.push(call);
            }
            None => p.listing = Some(Ok(std::mem::take(&mut self.items))),
        }
    }

    fn on_failure(&mut self, _step: Step, failure: &Failure, p: &mut Progress) {
        p.listing = Some(Err(failure.reason.clone()));
    }
}
