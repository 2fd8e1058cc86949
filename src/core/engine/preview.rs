//! What one event would cause, without sending anything.

use std::sync::Arc;

use litemap::LiteMap;
use serde::Serialize;
use serde_json::Value;

use crate::core::error::{EventError, UsageError};
use crate::core::families::family;
use crate::core::schema::Format;
use crate::core::wire::{Body, Method};

use super::state::Engine;

/// A request `preview` shows: what would be sent, without the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewRequest {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers, without `Authorization`.
    pub headers: LiteMap<String, String>,
    /// The body, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Engine {
    /// The requests one event would cause if sent alone, without the token.
    ///
    /// # Errors
    /// `Err(Ok(UsageError))` for an unknown action, `Err(Err(EventError))` when the event
    /// cannot be delivered as it is.
    pub fn preview(
        &self,
        action_id: &str,
        event: &Value,
    ) -> Result<Vec<PreviewRequest>, Result<UsageError, EventError>> {
        let action = self
            .settings
            .action(action_id)
            .ok_or_else(|| Ok(UsageError::UnknownAction(action_id.to_string())))?;
        let fmt = Format { schema: self.schema.schema.as_ref(), on_too_long: self.settings.on_too_long };
        let calls =
            family(&action.action).preview(event, &fmt, self.settings.rest_base.len()).map_err(Err)?;
        Ok(calls
            .into_iter()
            .map(|c| {
                let mut headers: LiteMap<String, String> = LiteMap::new();
                headers.insert("Accept".into(), "application/json".into());
                let url = self.url_of(&c);
                let body = c.body.map(|(b, ct)| {
                    headers.insert("Content-Type".into(), ct);
                    match b {
                        Body::Text(t) => Arc::unwrap_or_clone(t),
                        Body::Joined(j) | Body::JoinedBytes(j) => j.text(),
                    }
                });
                PreviewRequest { method: c.method, url, headers, body }
            })
            .collect())
    }
}
