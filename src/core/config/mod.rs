//! What the user configured, validated once at construction: the connector settings (SPEC §2)
//! and the nine actions (SPEC §3). Everything above reads these types; nothing here knows how
//! an action is delivered.

pub mod actions;
pub mod settings;

pub use actions::{
    parse_actions, Action, ActionConfig, BulkParams, EmailParams, FilterType, LeadSelector, ListParams,
    MergeParams, TokenMapping, UpdateStrategy, UpsertParams,
};
pub use settings::{Limits, Secret, Settings, DEFAULT_DELIVERY_DEADLINE_MS, MAX_DELIVERY_DEADLINE_MS};
