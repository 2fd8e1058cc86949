//! The jobs that read the instance rather than deliver events: the lead schema
//! ([`schema`]), the pickers' listings ([`pickers`]) and `check()`'s lookups ([`check`]).

pub(crate) mod check;
pub(crate) mod pickers;
pub(crate) mod schema;
