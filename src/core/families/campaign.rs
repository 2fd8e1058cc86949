//! `sendTransactionalEmail`: Request Campaign (`POST /rest/v1/campaigns/{id}/trigger.json`)
//! with the lead and `{{my.token}}` values. Not idempotent: a call that may have reached
//! Marketo is never sent again (the email could go out twice); its events become `uncertain`.

use crate::core::ids::{EventKeys, Step};
use litemap::LiteMap;

use serde::Serialize;
use serde_json::Value;

use crate::core::config::EmailParams;
use crate::core::error::EventError;
use crate::core::job::{chunk_by, CallSpec, Delivery, EventRef, Failure, Progress, Steps, MAX_BODY_BYTES};
use crate::core::job::{items_of, whole_event, Context, Family, NewJob, Prepared, Start};
use crate::core::json_text::{decimal_len, escaped_len};
use crate::core::outcome::Status;
use crate::core::reason::Reason;
use crate::core::schema::Format;
use crate::core::source::{to_id, FieldType};
use crate::core::wire::{Envelope, Method};

/// Marketo's limit of leads per campaign request.
pub(crate) const MAX_TRIGGER_LEADS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Token {
    name: String,
    value: String,
}

#[derive(Debug)]
struct Item {
    ev: EventRef,
    lead: i64,
    tokens: Vec<Token>,
    done: bool,
}

/// Triggers the campaign for a set of events; events with identical tokens share a call.
pub(crate) struct CampaignJob {
    campaign_id: i64,
    items: Vec<Item>,
    steps: LiteMap<Step, Vec<usize>>,
    tags: Steps,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for CampaignJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CampaignJob").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct LeadRef {
    id: i64,
}

#[derive(Serialize)]
struct TriggerInput<'a> {
    leads: Vec<LeadRef>,
    #[serde(skip_serializing_if = "<[Token]>::is_empty")]
    tokens: &'a [Token],
}

#[derive(Serialize)]
struct TriggerBody<'a> {
    input: TriggerInput<'a>,
}

/// Token values are sent as strings; an absent or `null` attribute leaves the token out, so
/// the campaign's own value applies.
fn token_value(v: &Value, kind: FieldType, name: &str) -> Result<Option<String>, EventError> {
    let invalid = |problem: String| EventError::InvalidValue { parameter: format!("tokens {name}"), problem };
    crate::core::source::require_finite(v, || format!("tokens {name}"))?;
    // The configured `type` reads the value (README "Field types"); the string form of the
    // result is sent.
    Ok(match kind.read(v).map_err(|problem| invalid(typed(problem, kind)))?.into_owned() {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(crate::core::schema::js_text(&n)),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    })
}

/// A refusal's message naming the configured type.
fn typed(problem: String, kind: FieldType) -> String {
    match kind {
        FieldType::Typed(t) => {
            format!("{problem}; the token is configured as type {}", crate::core::schema::type_name(t))
        }
        _ => problem,
    }
}

fn read(params: &EmailParams, event: &Value) -> Result<(i64, Vec<Token>), EventError> {
    if !event.is_object() {
        return Err(EventError::not_an_object(event));
    }
    let lead = to_id(params.lead.require(event, "targetLeadId")?, "targetLeadId")?;
    let mut tokens = Vec::with_capacity(params.tokens.len());
    for t in &params.tokens {
        if let Some(v) = t.source.resolve(event) {
            if let Some(value) = token_value(v, t.kind, &t.name)? {
                tokens.push(Token { name: t.name.clone(), value });
            }
        }
    }
    let bytes = tokens_len(&tokens);
    let envelope = trigger_envelope_len(lead);
    if bytes + envelope > MAX_BODY_BYTES {
        return Err(EventError::TooLarge { what: "the tokens list", bytes, envelope, limit: MAX_BODY_BYTES });
    }
    Ok((lead, tokens))
}

/// Bytes of `tokens` as the trigger body's `tokens` list (`[{"name":…,"value":…},…]`).
fn tokens_len(tokens: &[Token]) -> usize {
    // `{"name":"","value":""}` and a comma per token, the brackets, less the last comma.
    let each = tokens
        .iter()
        .map(|t| r#"{"name":"","value":""},"#.len() + escaped_len(&t.name) + escaped_len(&t.value));
    (2 + each.sum::<usize>()).saturating_sub(usize::from(!tokens.is_empty()))
}

/// Bytes of a one-lead trigger body around its tokens list
/// (`{"input":{"leads":[{"id":N}],"tokens":…}}`).
fn trigger_envelope_len(lead: i64) -> usize {
    r#"{"input":{"leads":[{"id":}],"tokens":}}"#.len() + decimal_len(lead)
}

impl CampaignJob {
    /// A job for `events`; events that cannot be read fail at once.
    pub fn new(params: &EmailParams, events: Vec<(EventRef, &Value)>) -> (CampaignJob, Progress) {
        let mut progress = Progress::default();
        let mut items = Vec::with_capacity(events.len());
        for (ev, event) in events {
            match read(params, event) {
                Ok((lead, tokens)) => items.push(Item { ev, lead, tokens, done: false }),
                Err(e) => {
                    let o = ev.with_reason(Status::Failed, &Reason::local(e.code(), e.to_string()), None);
                    progress.outcome(&ev, o);
                }
            }
        }
        let job = CampaignJob {
            campaign_id: params.campaign_id,
            items,
            steps: LiteMap::new(),
            tags: Steps::default(),
        };
        (job, progress)
    }

    fn call(&mut self, group: &[usize]) -> CallSpec {
        let tokens: &[Token] =
            group.first().and_then(|i| self.items.get(*i)).map(|i| i.tokens.as_slice()).unwrap_or(&[]);
        let leads = group.iter().filter_map(|i| self.items.get(*i)).map(|i| LeadRef { id: i.lead }).collect();
        let body = TriggerBody { input: TriggerInput { leads, tokens } };
        let mut call = CallSpec::json(
            self.tags.next(),
            Method::Post,
            format!("/v1/campaigns/{}/trigger.json", self.campaign_id),
            &body,
        );
        call.idempotent = false;
        call
    }

    /// The request one event would cause alone.
    pub fn preview(params: &EmailParams, event: &Value) -> Result<Vec<CallSpec>, EventError> {
        let (lead, tokens) = read(params, event)?;
        let ev = EventRef { key: crate::core::ids::EventKey(0) };
        let mut job = CampaignJob {
            campaign_id: params.campaign_id,
            items: vec![Item { ev, lead, tokens, done: false }],
            steps: LiteMap::new(),
            tags: Steps::default(),
        };
        Ok(vec![job.call(&[0])])
    }
}

impl Delivery for CampaignJob {
    fn start(&mut self, p: &mut Progress) {
        // Tokens are per call, so only events with the same tokens can share one.
        let mut by_tokens: LiteMap<Vec<Token>, Vec<usize>> = LiteMap::new();
        for (i, item) in self.items.iter().enumerate() {
            by_tokens.entry(item.tokens.clone()).or_default().push(i);
        }
        for (_, idx) in by_tokens.into_tuple_vec() {
            for group in chunk_by(idx, MAX_TRIGGER_LEADS, 0, usize::MAX, |_| 0) {
                let call = self.call(&group);
                self.steps.insert(call.step, group);
                p.calls.push(call);
            }
        }
    }

    fn on_success(&mut self, step: Step, env: &Envelope, p: &mut Progress) {
        for idx in self.steps.remove(&step).unwrap_or_default() {
            let Some(item) = self.items.get_mut(idx).filter(|i| !i.done) else { continue };
            item.done = true;
            let mut o = item.ev.outcome(Status::Delivered);
            o.lead_ids = vec![item.lead];
            o.request_id = env.request_id.clone();
            p.outcome(&item.ev, o);
        }
    }

    fn on_failure(&mut self, step: Step, failure: &Failure, p: &mut Progress) {
        for idx in self.steps.remove(&step).unwrap_or_default() {
            let Some(item) = self.items.get_mut(idx).filter(|i| !i.done) else { continue };
            item.done = true;
            let mut o = item.ev.with_reason(failure.status, &failure.reason, failure.request_id.as_deref());
            o.lead_ids = vec![item.lead];
            p.outcome(&item.ev, o);
        }
    }
}

/// The campaign family (`sendTransactionalEmail`): requests a smart campaign for each event's
/// lead, with its tokens (`POST /rest/v1/campaigns/{id}/trigger.json`, Swagger
/// `triggerCampaignUsingPOST`). Sent on arrival; a trigger is never sent twice.
pub(crate) struct CampaignFamily<'a> {
    /// The action's configuration.
    pub params: &'a EmailParams,
}

impl Family for CampaignFamily<'_> {
    /// The job reads the event itself; it waits in no queue, so it adds no bytes to count.
    fn prepare(&self, event: &Value, _: &Format<'_>, _: &mut Vec<String>) -> Result<Prepared, EventError> {
        whole_event(event)
    }

    /// A trigger sent twice sends the email twice.
    fn idempotent(&self) -> bool {
        false
    }

    fn preview(&self, event: &Value, _: &Format<'_>, _: usize) -> Result<Vec<CallSpec>, EventError> {
        CampaignJob::preview(self.params, event)
    }

    fn start(&self, items: Vec<(EventRef, Prepared)>, _: &mut Context<'_>) -> Start {
        let events: Vec<(EventRef, Value)> = items_of(items);
        let keys: EventKeys = events.iter().map(|(ev, _)| ev.key).collect();
        let (job, progress) = CampaignJob::new(self.params, events.iter().map(|(ev, v)| (*ev, v)).collect());
        Start {
            jobs: vec![NewJob { job: Box::new(job), progress, lookup: None, events: keys }],
            failed: Vec::new(),
        }
    }
}
