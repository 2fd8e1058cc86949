//! The nine action types' configuration (SPEC §3), validated at construction: what each
//! action is told to do. How each is delivered is its family's, in `core::families`.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::core::error::{ConfigError, EventError};
use crate::core::event_paths::EventPaths;
use crate::core::schema::DataType;
use crate::core::source::{FieldMapping, FieldType, Source};

/// Lead id lookup filter types (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterType {
    /// Marketo lead id.
    Id,
    /// Munchkin cookie (`id:AAA-BBB-CCC&token:_mch-…`).
    Cookies,
    /// Email address (case-insensitive in Marketo).
    Email,
    /// Twitter id.
    TwitterId,
    /// Facebook id.
    FacebookId,
    /// LinkedIn id.
    LinkedInId,
    /// Salesforce account id.
    SfdcAccountId,
    /// Salesforce contact id.
    SfdcContactId,
    /// Salesforce lead id.
    SfdcLeadId,
    /// Salesforce lead owner id.
    SfdcLeadOwnerId,
    /// Salesforce opportunity id.
    SfdcOpptyId,
}

const FILTER_TYPES: [FilterType; 11] = [
    FilterType::Id,
    FilterType::Cookies,
    FilterType::Email,
    FilterType::TwitterId,
    FilterType::FacebookId,
    FilterType::LinkedInId,
    FilterType::SfdcAccountId,
    FilterType::SfdcContactId,
    FilterType::SfdcLeadId,
    FilterType::SfdcLeadOwnerId,
    FilterType::SfdcOpptyId,
];

impl FilterType {
    /// The name Marketo uses for it (`filterType` / `lookupField`).
    pub fn as_str(self) -> &'static str {
        match self {
            FilterType::Id => "id",
            FilterType::Cookies => "cookies",
            FilterType::Email => "email",
            FilterType::TwitterId => "twitterId",
            FilterType::FacebookId => "facebookId",
            FilterType::LinkedInId => "linkedInId",
            FilterType::SfdcAccountId => "sfdcAccountId",
            FilterType::SfdcContactId => "sfdcContactId",
            FilterType::SfdcLeadId => "sfdcLeadId",
            FilterType::SfdcLeadOwnerId => "sfdcLeadOwnerId",
            FilterType::SfdcOpptyId => "sfdcOpptyId",
        }
    }

    /// The filter type Marketo calls `s`, if any.
    pub fn parse(s: &str) -> Option<FilterType> {
        FILTER_TYPES.into_iter().find(|f| f.as_str() == s)
    }

    /// Whether a missing lead can be created with this field as the key (`addLead`).
    pub fn can_create(self) -> bool {
        !matches!(self, FilterType::Id | FilterType::Cookies)
    }
}

/// How an action finds the lead it acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadSelector {
    /// `targetLeadId`: the event carries the Marketo lead id.
    Id(Source),
    /// `leadIdLookup`: look the lead up by a field value.
    Lookup {
        /// The field to look up by.
        filter: FilterType,
        /// Where the value comes from.
        source: Source,
    },
}

/// Parameters of the four list actions.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// `targetStaticList`: the static list id.
    pub list_id: i64,
    /// The lead(s) to add or remove.
    pub lead: LeadSelector,
    /// `addLead`: create the lead when the lookup finds none.
    pub add_lead: bool,
}

/// A `{{my.token}}` for a transactional email.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenMapping {
    /// Token name, `{{my.name}}`.
    pub name: String,
    /// Where the value comes from.
    pub source: Source,
    /// `date` formats the value as ISO 8601.
    pub kind: FieldType,
}

/// Parameters of `sendTransactionalEmail`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailParams {
    /// `targetEmailCampaign`: the requestable campaign id.
    pub campaign_id: i64,
    /// `targetLeadId`.
    pub lead: Source,
    /// `tokens` (≤ 100).
    pub tokens: Vec<TokenMapping>,
}

/// Sync Leads `action` (SPEC §3 `updateStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStrategy {
    /// Update when the lookup field matches, else create.
    CreateOrUpdate,
    /// Create only; an existing lead is skipped (1005).
    CreateOnly,
    /// Update only; a missing lead is skipped (1004).
    UpdateOnly,
    /// Always create, even when the lookup field matches.
    CreateDuplicate,
}

impl UpdateStrategy {
    /// Marketo's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStrategy::CreateOrUpdate => "createOrUpdate",
            UpdateStrategy::CreateOnly => "createOnly",
            UpdateStrategy::UpdateOnly => "updateOnly",
            UpdateStrategy::CreateDuplicate => "createDuplicate",
        }
    }
}

/// Parameters of the two `createOrUpdateLead` actions.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertParams {
    /// `updateStrategy`.
    pub strategy: UpdateStrategy,
    /// `leadLookupFilter` (default `email`).
    pub lookup_field: String,
    /// `leadData`.
    pub lead_data: Vec<FieldMapping>,
    /// `partitionName`.
    pub partition: Option<String>,
    /// Whether `lead_data` is [`crate::core::source::undoable`]: a prepared event is then kept
    /// only as its record.
    pub undoable: bool,
    /// `lead_data`'s attribute paths, to write an event back from its record.
    pub paths: crate::core::source::PathTree,
    /// `lead_data`'s indexes in the order a record holds its fields
    /// ([`crate::core::source::record_order`]).
    pub record_order: Vec<usize>,
}

/// Parameters of `mergeLead`.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeParams {
    /// `winningLeadId`.
    pub winner: Source,
    /// `losingLeadIds`: a number, a list or a comma string.
    pub losers: Source,
    /// `mergeInCrm`.
    pub merge_in_crm: bool,
}

/// Parameters of `bulkImportLeads`.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkParams {
    /// `targetStaticList` (optional).
    pub list_id: Option<i64>,
    /// `leadLookupField`.
    pub lookup_field: String,
    /// `leadData` (must map the lookup field).
    pub lead_data: Vec<FieldMapping>,
    /// Whether `lead_data` is [`crate::core::source::undoable`]: a prepared event is then kept
    /// only as its CSV row.
    pub undoable: bool,
    /// `lead_data`'s attribute paths, to write an event back from its row.
    pub paths: crate::core::source::PathTree,
}

/// One configured action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `addLeadToList`.
    AddLeadToList(ListParams),
    /// `addLeadToListBatched`.
    AddLeadToListBatched(ListParams),
    /// `removeLeadFromList`.
    RemoveLeadFromList(ListParams),
    /// `removeLeadFromListBatched`.
    RemoveLeadFromListBatched(ListParams),
    /// `sendTransactionalEmail`.
    SendTransactionalEmail(EmailParams),
    /// `createOrUpdateLead`.
    CreateOrUpdateLead(UpsertParams),
    /// `createOrUpdateLeadBatched`.
    CreateOrUpdateLeadBatched(UpsertParams),
    /// `mergeLead`.
    MergeLead(MergeParams),
    /// `bulkImportLeads`.
    BulkImportLeads(BulkParams),
}

impl Action {
    /// The action's `type` as configured.
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::AddLeadToList(_) => "addLeadToList",
            Action::AddLeadToListBatched(_) => "addLeadToListBatched",
            Action::RemoveLeadFromList(_) => "removeLeadFromList",
            Action::RemoveLeadFromListBatched(_) => "removeLeadFromListBatched",
            Action::SendTransactionalEmail(_) => "sendTransactionalEmail",
            Action::CreateOrUpdateLead(_) => "createOrUpdateLead",
            Action::CreateOrUpdateLeadBatched(_) => "createOrUpdateLeadBatched",
            Action::MergeLead(_) => "mergeLead",
            Action::BulkImportLeads(_) => "bulkImportLeads",
        }
    }
}

/// A configured action: the user's id and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionConfig {
    /// The user's id, unique among the actions.
    pub id: String,
    /// The action and its validated parameters.
    pub action: Action,
    /// The attribute paths its sources read: what of an event it keeps
    /// ([`EventPaths::read`]).
    pub reads: Arc<EventPaths>,
}

/// Reads one action object, remembering which keys were used so unknown ones are reported.
struct Params<'a> {
    id: &'a str,
    obj: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Params<'a> {
    fn err(&self, parameter: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::action(self.id, parameter, problem)
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn require(&mut self, key: &'static str) -> Result<&'a Value, ConfigError> {
        self.get(key).ok_or_else(|| self.err(key, "is required"))
    }

    fn source(&mut self, key: &'static str) -> Result<Source, ConfigError> {
        let v = self.require(key)?;
        Source::parse(v).map_err(|e| self.err(key, e))
    }

    fn bool(&mut self, key: &'static str) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.err(key, "must be true or false")),
        }
    }

    fn id_value(&mut self, key: &'static str) -> Result<Option<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => crate::core::source::to_id(v, key).map(Some).map_err(|e| match e {
                // The error names the parameter already (`self.err` does): its problem alone.
                EventError::InvalidValue { problem, .. } => self.err(key, problem),
                other => self.err(key, other.to_string()),
            }),
        }
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(self.err(key, "must be a non-empty string")),
        }
    }

    fn mapping(&mut self, key: &'static str) -> Result<Vec<FieldMapping>, ConfigError> {
        let v = self.require(key)?;
        FieldMapping::parse_list(v, key).map_err(|(p, e)| self.err(&p, e))
    }

    fn finish(self) -> Result<(), ConfigError> {
        for key in self.obj.keys() {
            if key != "id" && key != "type" && !self.used.contains(&key.as_str()) {
                return Err(self.err(key, "unknown parameter for this action type"));
            }
        }
        Ok(())
    }
}

/// Parses and validates the `actions` list.
///
/// # Errors
/// [`ConfigError::Action`] naming the action and parameter.
pub fn parse_actions(v: &Value) -> Result<Vec<ActionConfig>, ConfigError> {
    let list =
        v.as_array().ok_or_else(|| ConfigError::setting("actions", "must be a list of action objects"))?;
    let mut out: Vec<ActionConfig> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let obj = entry.as_object().ok_or_else(|| {
            ConfigError::action(format!("#{i}"), "(action)", "must be an object {id, type, ...}")
        })?;
        // Kept as given: `process()` names the action by this exact string (an id trimmed here
        // was refused there when given as configured, `" upsert"`).
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                return Err(ConfigError::action(
                    format!("#{i}"),
                    "id",
                    "must be a string with more than spaces",
                ))
            }
        };
        if out.iter().any(|a| a.id == id) {
            return Err(ConfigError::action(&id, "id", "is used by another action; ids must be unique"));
        }
        let type_name = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let mut p = Params { id: &id, obj, used: Vec::new() };
        let action = match type_name {
            "addLeadToList" => Action::AddLeadToList(list_params(&mut p)?),
            "addLeadToListBatched" => Action::AddLeadToListBatched(list_params(&mut p)?),
            "removeLeadFromList" => Action::RemoveLeadFromList(list_params(&mut p)?),
            "removeLeadFromListBatched" => Action::RemoveLeadFromListBatched(list_params(&mut p)?),
            "sendTransactionalEmail" => Action::SendTransactionalEmail(email_params(&mut p)?),
            "createOrUpdateLead" => Action::CreateOrUpdateLead(upsert_params(&mut p)?),
            "createOrUpdateLeadBatched" => Action::CreateOrUpdateLeadBatched(upsert_params(&mut p)?),
            "mergeLead" => Action::MergeLead(merge_params(&mut p)?),
            "bulkImportLeads" => Action::BulkImportLeads(bulk_params(&mut p)?),
            other => {
                return Err(ConfigError::action(
                    &id,
                    "type",
                    format!(
                        "`{other}` is not an action type; expected one of addLeadToList, addLeadToListBatched, \
                         removeLeadFromList, removeLeadFromListBatched, sendTransactionalEmail, createOrUpdateLead, \
                         createOrUpdateLeadBatched, mergeLead, bulkImportLeads"
                    ),
                ))
            }
        };
        p.finish()?;
        out.push(ActionConfig { id, action, reads: Arc::new(EventPaths::of_config(entry)) });
    }
    Ok(out)
}

fn list_params(p: &mut Params<'_>) -> Result<ListParams, ConfigError> {
    let list_id = p
        .id_value("targetStaticList")?
        .ok_or_else(|| p.err("targetStaticList", "is required (the static list id)"))?;
    let target = p.get("targetLeadId");
    let lookup = p.get("leadIdLookup");
    let lead = match (target, lookup) {
        (Some(_), Some(_)) => {
            return Err(p.err("targetLeadId", "give either targetLeadId or leadIdLookup, not both"))
        }
        (None, None) => return Err(p.err("targetLeadId", "give either targetLeadId or leadIdLookup")),
        (Some(t), None) => LeadSelector::Id(Source::parse(t).map_err(|e| p.err("targetLeadId", e))?),
        (None, Some(l)) => {
            let obj = l
                .as_object()
                .ok_or_else(|| p.err("leadIdLookup", "must be an object {filterType, source}"))?;
            if let Some(k) = obj.keys().find(|k| *k != "filterType" && *k != "source") {
                return Err(p.err(&format!("leadIdLookup.{k}"), "unknown key; expected filterType, source"));
            }
            let name = obj.get("filterType").and_then(Value::as_str).unwrap_or("");
            let filter = FilterType::parse(name).ok_or_else(|| {
                p.err(
                    "leadIdLookup.filterType",
                    format!(
                        "`{name}` is not a lookup type; expected one of {}",
                        FILTER_TYPES.map(FilterType::as_str).join(", ")
                    ),
                )
            })?;
            let source = obj
                .get("source")
                .ok_or_else(|| p.err("leadIdLookup.source", "is required"))
                .and_then(|s| Source::parse(s).map_err(|e| p.err("leadIdLookup.source", e)))?;
            LeadSelector::Lookup { filter, source }
        }
    };
    let add_lead = p.bool("addLead")?;
    match &lead {
        LeadSelector::Lookup { filter, .. } if add_lead && !filter.can_create() => {
            return Err(p.err(
                "addLead",
                format!(
                    "Marketo cannot create a lead by `{}`; use another lookup type or addLead: false",
                    filter.as_str()
                ),
            ))
        }
        LeadSelector::Id(_) if add_lead => {
            return Err(p.err("addLead", "needs leadIdLookup: a lead cannot be created from a lead id"))
        }
        _ => {}
    }
    Ok(ListParams { list_id, lead, add_lead })
}

fn email_params(p: &mut Params<'_>) -> Result<EmailParams, ConfigError> {
    let campaign_id = p
        .id_value("targetEmailCampaign")?
        .ok_or_else(|| p.err("targetEmailCampaign", "is required (the campaign id)"))?;
    let lead = p.source("targetLeadId")?;
    let mut tokens: Vec<TokenMapping> = Vec::new();
    if let Some(list) = p.get("tokens") {
        let list = list.as_array().ok_or_else(|| p.err("tokens", "must be a list of {name, source}"))?;
        if list.len() > 100 {
            return Err(p.err("tokens", "Marketo accepts at most 100 tokens per campaign request"));
        }
        for (i, t) in list.iter().enumerate() {
            let at = format!("tokens[{i}]");
            let obj = t.as_object().ok_or_else(|| p.err(&at, "must be an object {name, source, type?}"))?;
            let name = obj.get("name").and_then(Value::as_str).unwrap_or("").trim().to_string();
            let inner = name.strip_prefix("{{my.").and_then(|n| n.strip_suffix("}}")).unwrap_or("");
            if inner.is_empty() || inner.contains(['{', '}']) {
                return Err(
                    p.err(&format!("{at}.name"), format!("`{name}` must have the form {{{{my.name}}}}"))
                );
            }
            if tokens.iter().any(|t| t.name == name) {
                return Err(p.err(&format!("{at}.name"), format!("token `{name}` is given twice")));
            }
            let source = obj
                .get("source")
                .ok_or_else(|| p.err(&format!("{at}.source"), "is required"))
                .and_then(|s| Source::parse(s).map_err(|e| p.err(&format!("{at}.source"), e)))?;
            let kind = FieldType::parse(obj.get("type")).map_err(|e| p.err(&format!("{at}.type"), e))?;
            tokens.push(TokenMapping { name, source, kind });
        }
    }
    Ok(EmailParams { campaign_id, lead, tokens })
}

fn upsert_params(p: &mut Params<'_>) -> Result<UpsertParams, ConfigError> {
    let strategy = match p.require("updateStrategy")?.as_str() {
        Some("createOrUpdate") => UpdateStrategy::CreateOrUpdate,
        Some("createOnly") => UpdateStrategy::CreateOnly,
        Some("updateOnly") => UpdateStrategy::UpdateOnly,
        Some("createDuplicate") => UpdateStrategy::CreateDuplicate,
        _ => {
            return Err(p.err(
                "updateStrategy",
                "must be one of createOrUpdate, createOnly, updateOnly, createDuplicate",
            ))
        }
    };
    let lookup_field = p.string("leadLookupFilter")?.unwrap_or_else(|| "email".into());
    let lead_data = p.mapping("leadData")?;
    let partition = p.string("partitionName")?;
    let mapped = |f: &str| lead_data.iter().any(|m| m.field == f);
    if matches!(strategy, UpdateStrategy::CreateOrUpdate | UpdateStrategy::UpdateOnly)
        && !mapped(&lookup_field)
    {
        return Err(p.err(
            "leadData",
            format!("must map the lookup field `{lookup_field}`: Marketo needs it in every record to find the lead"),
        ));
    }
    let finds = matches!(strategy, UpdateStrategy::CreateOrUpdate | UpdateStrategy::UpdateOnly);
    check_lookup_mapping(p, &lead_data, &lookup_field, finds)?;
    if strategy != UpdateStrategy::UpdateOnly && mapped("id") {
        return Err(p.err("leadData", "maps `id`, which Marketo accepts only with updateStrategy updateOnly"));
    }
    if partition.is_some() && matches!(strategy, UpdateStrategy::UpdateOnly | UpdateStrategy::CreateDuplicate)
    {
        return Err(p.err("partitionName", "works only with createOnly or createOrUpdate"));
    }
    let undoable = crate::core::source::undoable(&lead_data);
    let record_order = crate::core::source::record_order(&lead_data);
    let paths = crate::core::source::PathTree::new(&lead_data);
    Ok(UpsertParams { strategy, lookup_field, lead_data, partition, undoable, paths, record_order })
}

/// Refuses a mapping of the lookup field that could never give a lookup value (a string or a
/// number, [`crate::core::error::EventError::lookup_type`]): a literal boolean, list or object,
/// or a value read as type `boolean`; and, where Marketo finds leads by it (`finds`: the
/// `createOrUpdate` and `updateOnly` strategies, bulk import), a literal `null` or blank text.
/// Every event would fail on it.
fn check_lookup_mapping(
    p: &Params<'_>,
    lead_data: &[FieldMapping],
    lookup_field: &str,
    finds: bool,
) -> Result<(), ConfigError> {
    let Some(m) = lead_data.iter().find(|m| m.field == lookup_field) else { return Ok(()) };
    let blank = match &m.source {
        Source::Value(Value::Null) => Some("a literal null"),
        Source::Value(Value::String(s)) if s.trim().is_empty() => Some("an empty literal"),
        _ => None,
    };
    if let Some(blank) = blank.filter(|_| finds) {
        return Err(p.err(
            "leadData",
            format!("maps the lookup field `{lookup_field}` to {blank}; Marketo cannot find a lead by it"),
        ));
    }
    let never = match (&m.source, m.kind) {
        (Source::Value(v @ (Value::Bool(_) | Value::Array(_) | Value::Object(_))), _) => {
            format!("a literal that is {}", crate::core::error::value_kind(v))
        }
        (_, FieldType::Typed(DataType::Boolean)) => "a value read as type boolean".to_string(),
        _ => return Ok(()),
    };
    Err(p.err(
        "leadData",
        format!(
            "maps the lookup field `{lookup_field}` to {never}; a lookup value must be a string or a number"
        ),
    ))
}

fn merge_params(p: &mut Params<'_>) -> Result<MergeParams, ConfigError> {
    let winner = p.source("winningLeadId")?;
    let losers = p.source("losingLeadIds")?;
    let merge_in_crm = p.bool("mergeInCrm")?;
    Ok(MergeParams { winner, losers, merge_in_crm })
}

fn bulk_params(p: &mut Params<'_>) -> Result<BulkParams, ConfigError> {
    let list_id = p.id_value("targetStaticList")?;
    let lookup_field = p.string("leadLookupField")?.ok_or_else(|| p.err("leadLookupField", "is required"))?;
    let lead_data = p.mapping("leadData")?;
    if !lead_data.iter().any(|m| m.field == lookup_field) {
        return Err(p.err("leadData", format!("must map the lookup field `{lookup_field}`")));
    }
    check_lookup_mapping(p, &lead_data, &lookup_field, true)?;
    let undoable = crate::core::source::undoable(&lead_data);
    let paths = crate::core::source::PathTree::new(&lead_data);
    Ok(BulkParams { list_id, lookup_field, lead_data, undoable, paths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(v: Value) -> Result<Action, String> {
        parse_actions(&json!([v])).map(|mut a| a.remove(0).action).map_err(|e| e.to_string())
    }

    #[test]
    fn all_nine_types_parse() {
        let lookup = json!({"filterType": "email", "source": {"attribute": "e"}});
        let data = json!([{"field": "email", "source": {"attribute": "e"}}]);
        for v in [
            json!({"id": "a", "type": "addLeadToList", "targetStaticList": 1, "leadIdLookup": lookup, "addLead": true}),
            json!({"id": "a", "type": "addLeadToListBatched", "targetStaticList": "2", "targetLeadId": {"attribute": "id"}}),
            json!({"id": "a", "type": "removeLeadFromList", "targetStaticList": 1, "leadIdLookup": lookup}),
            json!({"id": "a", "type": "removeLeadFromListBatched", "targetStaticList": 1, "targetLeadId": {"value": 5}}),
            json!({"id": "a", "type": "sendTransactionalEmail", "targetEmailCampaign": 7, "targetLeadId": {"attribute": "id"},
                   "tokens": [{"name": "{{my.message}}", "source": {"value": "hi"}}]}),
            json!({"id": "a", "type": "createOrUpdateLead", "updateStrategy": "createOrUpdate", "leadData": data}),
            json!({"id": "a", "type": "createOrUpdateLeadBatched", "updateStrategy": "createOnly", "leadData": data,
                   "partitionName": "Default"}),
            json!({"id": "a", "type": "mergeLead", "winningLeadId": {"attribute": "w"}, "losingLeadIds": {"attribute": "l"}, "mergeInCrm": false}),
            json!({"id": "a", "type": "bulkImportLeads", "leadLookupField": "email", "leadData": data}),
        ] {
            let t = v["type"].as_str().unwrap().to_string();
            assert_eq!(one(v).unwrap().type_name(), t);
        }
    }

    #[test]
    fn configuration_errors_name_action_and_parameter() {
        let lookup = |f: &str| json!({"filterType": f, "source": {"attribute": "e"}});
        for (v, needle) in [
            (json!({"id": "x", "type": "addLeadToList", "targetStaticList": 1}), "targetLeadId"),
            (
                json!({"id": "x", "type": "addLeadToList", "targetStaticList": 1, "targetLeadId": {"value": 1},
                    "leadIdLookup": lookup("email")}),
                "not both",
            ),
            (
                json!({"id": "x", "type": "addLeadToList", "targetStaticList": 1, "leadIdLookup": lookup("cookies"),
                    "addLead": true}),
                "cannot create a lead by `cookies`",
            ),
            (
                json!({"id": "x", "type": "addLeadToList", "targetStaticList": 1, "leadIdLookup": lookup("phone")}),
                "filterType",
            ),
            (
                json!({"id": "x", "type": "addLeadToList", "targetStaticList": "abc", "targetLeadId": {"value": 1}}),
                "targetStaticList",
            ),
            (
                json!({"id": "x", "type": "addLeadToList", "targetStaticList": 1, "targetLeadId": {"value": 1}, "listID": 3}),
                "listID",
            ),
            (
                json!({"id": "x", "type": "createOrUpdateLead", "updateStrategy": "upsert", "leadData": []}),
                "updateStrategy",
            ),
            (
                json!({"id": "x", "type": "createOrUpdateLead", "updateStrategy": "updateOnly",
                    "leadData": [{"field": "firstName", "source": {"value": "A"}}]}),
                "lookup field `email`",
            ),
            (
                json!({"id": "x", "type": "sendTransactionalEmail", "targetEmailCampaign": 1, "targetLeadId": {"value": 1},
                    "tokens": [{"name": "message", "source": {"value": 1}}]}),
                "{{my.name}}",
            ),
            (
                json!({"id": "x", "type": "bulkImportLeads", "leadLookupField": "email",
                    "leadData": [{"field": "firstName", "source": {"value": "A"}}]}),
                "lookup field",
            ),
            (json!({"id": "x", "type": "sendEmail"}), "not an action type"),
        ] {
            let e = one(v).unwrap_err();
            assert!(e.contains("`x`") && e.contains(needle), "{e}");
            assert!(e.matches("parameter `").count() <= 1, "the parameter named once: {e}");
        }
        let dup = parse_actions(&json!([
            {"id": "d", "type": "mergeLead", "winningLeadId": {"value": 1}, "losingLeadIds": {"value": 2}},
            {"id": "d", "type": "mergeLead", "winningLeadId": {"value": 1}, "losingLeadIds": {"value": 2}}
        ]))
        .unwrap_err();
        assert!(dup.to_string().contains("unique"));
    }
}
