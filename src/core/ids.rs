//! The identifiers every layer shares, as newtypes so one cannot be passed for another. They
//! sit at the bottom of the core: nothing here imports anything of the connector.

/// Identifies one accepted event inside an engine (not the user's event id: two events may
/// share that). Keys are never reused by one engine, nor across its snapshots and restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey(pub u64);

/// Identifies a picker listing started with [`Input::Listing`](crate::core::Input::Listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListingKey(pub u64);

/// Identifies a `check()` started with [`Input::Check`](crate::core::Input::Check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckKey(pub u64);

/// Identifies one job inside an engine: a set of events delivered together through a sequence
/// of Marketo calls (a batch, a bulk import, a merge), or a read (schema, picker, check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u64);

/// Identifies one HTTP request the engine asked the host to send; the host hands it back with
/// the answer. Unique within an engine and its restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A job's own tag for one of its calls (which phase it belongs to), handed back with the
/// answer. Each job defines its steps; the engine never reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step(pub u32);
