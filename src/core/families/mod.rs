//! The action families: one module per family, each owning its whole life cycle behind
//! [`crate::core::job::Family`] — reading an event, batching thresholds and overhead,
//! idempotence, preview, starting its jobs and resuming them after a restore. [`family`] is the
//! one place that maps a configured action to its family; a new action type is a new module
//! here, its configuration in [`crate::core::config`], and one line in [`family`].

pub(crate) mod bulk;
pub(crate) mod campaign;
pub(crate) mod lead;
pub(crate) mod list;
pub(crate) mod merge;

use std::cell::RefCell;

use crate::core::config::Action;
use crate::core::job::Family;

use bulk::BulkFamily;
use campaign::CampaignFamily;
use lead::LeadFamily;
use list::{ListFamily, ListOp};
use merge::MergeFamily;

/// The family delivering `action`.
pub(crate) fn family(action: &Action) -> Box<dyn Family + '_> {
    match action {
        Action::AddLeadToList(params) => Box::new(ListFamily { params, op: ListOp::Add, batched: false }),
        Action::AddLeadToListBatched(params) => {
            Box::new(ListFamily { params, op: ListOp::Add, batched: true })
        }
        Action::RemoveLeadFromList(params) => {
            Box::new(ListFamily { params, op: ListOp::Remove, batched: false })
        }
        Action::RemoveLeadFromListBatched(params) => {
            Box::new(ListFamily { params, op: ListOp::Remove, batched: true })
        }
        Action::SendTransactionalEmail(params) => Box::new(CampaignFamily { params }),
        Action::CreateOrUpdateLead(params) => Box::new(LeadFamily { params, batched: false }),
        Action::CreateOrUpdateLeadBatched(params) => Box::new(LeadFamily { params, batched: true }),
        Action::MergeLead(params) => Box::new(MergeFamily { params }),
        Action::BulkImportLeads(params) => Box::new(BulkFamily { params, reader: RefCell::default() }),
    }
}
