//! The action families: one module per family, each owning how its actions' events become
//! Marketo calls and outcomes.

pub(crate) mod bulk;
pub(crate) mod campaign;
pub(crate) mod lead;
pub(crate) mod list;
pub(crate) mod merge;
