//! What the pickers of a configuration UI list (static lists, triggerable campaigns) and the
//! entries they return. The calls that page through them are `core::reads::pickers`.

use serde::Serialize;

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Static lists.
    StaticLists,
    /// Campaigns that can be requested (for `sendTransactionalEmail`).
    TriggerableCampaigns,
}

/// One entry of a picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    /// Marketo id.
    pub id: i64,
    /// Display name.
    pub name: String,
}
