//! `free()` and what follows it: every method of a freed connector throws, or rejects its
//! promise with, an `Error` whose `code` is `DESTROYED` (SPEC §7).
//!
//! wasm-bindgen gives every exported class a `free()` that zeroes the object's pointer before
//! Rust sees anything, so a later call fails inside the generated glue with "null pointer passed
//! to rust" (synchronous, no code). This `free` is declared after the generated one in the same
//! class body, so it is the one JavaScript calls (and `Symbol.dispose` too): it keeps the
//! pointer and drops the connector's state instead. The small object left behind is released
//! by wasm-bindgen's FinalizationRegistry when JavaScript collects the `Connector`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::connector::Connector;
use super::convert::coded;
use super::drive::{release_waiters, Shared};

impl Connector {
    /// The connector's state, or the `DESTROYED` error once `free()` ran.
    pub(super) fn live(&self) -> Result<Rc<Shared>, JsValue> {
        match self.shared.try_borrow() {
            Ok(slot) => slot.as_ref().map(Rc::clone).ok_or_else(destroyed),
            // Only `free` borrows mutably, and never across a call out.
            Err(_) => Err(destroyed()),
        }
    }
}

fn destroyed() -> JsValue {
    coded("this connector was freed: create a new one (or Connector.restore a snapshot)", "DESTROYED")
}

#[wasm_bindgen]
impl Connector {
    /// Releases the connector. Afterwards every method throws, or rejects its promise with, an
    /// `Error` whose `code` is `DESTROYED`. Calls already in flight still settle their promises;
    /// nothing new is sent (a host that restored another connector from a snapshot must not
    /// see this one send its events too), and once those calls have answered, every promise
    /// still pending rejects with `DESTROYED`. Calling it again does nothing.
    #[wasm_bindgen(js_name = "free", skip_typescript)]
    pub fn destroy(&self) {
        let shared = match self.shared.try_borrow_mut() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        if let Some(shared) = shared {
            shared.freed.set(true);
            release_waiters(&shared);
        }
    }
}
