//! `check()` (SPEC §7): the configuration checked against the instance before the first event.
//!
//! From the lead schema ([`crate::core::schema`]), with no call of its own: `leadData` and
//! lookup fields that do not exist (with the right spelling when only the case differs),
//! read-only fields, lookup fields that are not searchable, and a bulk `leadLookupField` that
//! Bulk Lead Import cannot dedupe by. From one call per distinct id, only these documented
//! endpoints: static lists (`GET /rest/v1/lists/{id}.json`, `getListByIdUsingGET`; without the
//! Read-Only Lead permission, the Asset API's `GET /rest/asset/v1/staticList/{id}.json`,
//! `getStaticListByIdUsingGET`), campaigns (`GET /rest/asset/v1/smartCampaign/{id}.json`,
//! `getSmartCampaignByIdUsingGET`: exists, `isActive`, `isRequestable`, `parentProgramId`;
//! without the Assets permission, `GET /rest/v1/campaigns/{id}.json`, `getCampaignByIdUsingGET`:
//! exists, `active`, `type`), the program's tokens
//! (`GET /rest/asset/v1/folder/{programId}/tokens.json?folderType=Program`,
//! `getTokensByFolderIdUsingGET`) and partitions (`GET /rest/v1/leads/partitions.json`,
//! `getLeadPartitionsUsingGET`). Permissions are those the Swagger names for each operation
//! (<https://github.com/AdobeDocs/marketo-apis/tree/main/static>).

use serde::Serialize;

use super::reason::Reason;
use super::schema::{DataType, FieldInfo, LeadSchema};
use crate::core::config::Settings;
use crate::core::config::{Action, FilterType, LeadSelector};
use crate::core::source::FieldMapping;

/// One problem `check()` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The action it concerns.
    pub action_id: String,
    /// The parameter at fault (`leadData[2].field`, `targetStaticList`, `tokens[0].name`…).
    pub parameter: String,
    /// A stable code: `UNKNOWN_FIELD`, `READ_ONLY_FIELD`, `NOT_SEARCHABLE`, `CANNOT_DEDUPE`,
    /// `UNKNOWN_LIST`, `UNKNOWN_CAMPAIGN`, `CAMPAIGN_INACTIVE`, `CAMPAIGN_NOT_TRIGGERABLE`,
    /// `UNKNOWN_TOKEN`, `UNKNOWN_PARTITION`, `PERMISSION_DENIED`, `SCHEMA_UNKNOWN`,
    /// `CHECK_FAILED`.
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
    /// The likely fix (the right spelling of a field), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// What `check()` resolves with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// No problem found.
    pub ok: bool,
    /// Every problem found, in configuration order of the actions.
    pub problems: Vec<Problem>,
}

impl CheckResult {
    /// The result for `problems`.
    pub fn new(problems: Vec<Problem>) -> CheckResult {
        CheckResult { ok: problems.is_empty(), problems }
    }
}

pub(crate) fn problem(
    action: &str,
    parameter: impl Into<String>,
    code: &str,
    message: impl Into<String>,
) -> Problem {
    Problem {
        action_id: action.to_string(),
        parameter: parameter.into(),
        code: code.into(),
        message: message.into(),
        suggestion: None,
    }
}

/// The permission each endpoint needs (Swagger: "Required Permissions").
pub(crate) fn permission_of(path: &str) -> &'static str {
    if path.starts_with("/asset/") {
        "Read-Only Assets (or Read-Write Assets)"
    } else if path.starts_with("/v1/campaigns") {
        "Read-Only Campaigns (or Read-Write Campaigns)"
    } else {
        "Read-Only Lead (or Read-Write Lead)"
    }
}

/// The problem for a 603 on `path`.
pub(crate) fn denied(action: &str, parameter: &str, path: &str, what: &str) -> Problem {
    problem(
        action,
        parameter,
        "PERMISSION_DENIED",
        format!(
            "Marketo answered 603 (access denied) to GET {path}: the API user's role lacks the {} permission, so {what} could not be checked",
            permission_of(path)
        ),
    )
}

/// Bulk Lead Import's dedupe fields besides custom string/email/integer fields
/// (<https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/bulk-import/bulk-lead-import>).
const BULK_DEDUPE: [&str; 11] = [
    "id",
    "cookies",
    "email",
    "twitterId",
    "facebookId",
    "linkedInId",
    "sfdcAccountId",
    "sfdcContactId",
    "sfdcLeadId",
    "sfdcLeadOwnerId",
    "sfdcOpptyId",
];

/// The problems the schema shows (no call). `schema` is `None` when it could not be read;
/// `error` says why, and every action that maps lead fields gets a problem saying so.
pub fn schema_problems(
    settings: &Settings,
    schema: Option<&LeadSchema>,
    error: Option<&Reason>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for a in &settings.actions {
        let Some(uses) = lead_field_use(&a.action) else { continue };
        let id = a.id.as_str();
        match schema {
            None => out.push(schema_unknown(id, &uses, error)),
            Some(schema) => {
                mapping_problems(id, schema, &uses, &mut out);
                lookup_problems(id, schema, &uses, &mut out);
            }
        }
    }
    out
}

/// The lead fields one action relies on: those it maps and the one it looks leads up by.
struct LeadFieldUse<'a> {
    /// `leadData`, for the actions that write lead fields.
    mapping: Option<&'a [FieldMapping]>,
    /// The field leads are looked up by, when the action looks them up by a lead field.
    lookup: Option<&'a str>,
    /// The parameter naming `lookup`.
    lookup_param: &'static str,
    /// Bulk Lead Import, whose lookup field must be one it can dedupe by.
    bulk: bool,
}

/// The lead fields `action` relies on, or `None` when it relies on none (list actions that
/// name leads by id or cookie, merges, emails).
fn lead_field_use(action: &Action) -> Option<LeadFieldUse<'_>> {
    let (mapping, lookup, lookup_param, bulk) = match action {
        Action::CreateOrUpdateLead(p) | Action::CreateOrUpdateLeadBatched(p) => {
            (Some(p.lead_data.as_slice()), Some(p.lookup_field.as_str()), "leadLookupFilter", false)
        }
        Action::BulkImportLeads(p) => {
            (Some(p.lead_data.as_slice()), Some(p.lookup_field.as_str()), "leadLookupField", true)
        }
        Action::AddLeadToList(p)
        | Action::AddLeadToListBatched(p)
        | Action::RemoveLeadFromList(p)
        | Action::RemoveLeadFromListBatched(p) => match &p.lead {
            LeadSelector::Lookup { filter, .. }
                if !matches!(filter, FilterType::Id | FilterType::Cookies) =>
            {
                (None, Some(filter.as_str()), "leadIdLookup.filterType", false)
            }
            _ => (None, None, "", false),
        },
        _ => (None, None, "", false),
    };
    if mapping.is_none() && lookup.is_none() {
        return None;
    }
    Some(LeadFieldUse { mapping, lookup, lookup_param, bulk })
}

/// The problem for an action whose lead fields could not be checked because the schema is
/// unknown: access denied, another error `error`, or not read at all.
fn schema_unknown(id: &str, uses: &LeadFieldUse<'_>, error: Option<&Reason>) -> Problem {
    let param = if uses.mapping.is_some() { "leadData" } else { uses.lookup_param };
    match error {
        Some(e) if e.marketo_code().is_some_and(|c| c.as_str() == "603") => denied(
            id,
            param,
            "/v1/leads/describe2.json",
            "the lead fields (values are sent as configured, without formatting by field type)",
        ),
        Some(e) => problem(
            id,
            param,
            "SCHEMA_UNKNOWN",
            format!(
                "the lead schema could not be read ({} {}): the lead fields were not checked and values are sent as configured, without formatting by field type",
                e.code(),
                e.message()
            ),
        ),
        None => problem(id, param, "SCHEMA_UNKNOWN", "the lead schema has not been read"),
    }
}

/// The `UNKNOWN_FIELD` problem for `field`, with the right spelling when only its case is
/// wrong.
fn unknown_field(id: &str, schema: &LeadSchema, parameter: String, field: &str) -> Problem {
    let mut p = problem(
        id,
        parameter,
        "UNKNOWN_FIELD",
        format!("the instance has no lead field `{field}` usable through the REST API"),
    );
    if let Some(right) = schema.spelled(field) {
        p.message = format!(
            "the instance has no lead field `{field}`; REST field names are case-sensitive and it has `{right}`"
        );
        p.suggestion = Some(right.to_string());
    }
    p
}

/// The problems of `leadData`: fields the instance lacks, and read-only fields (other than
/// the lookup field, which Marketo only matches on).
fn mapping_problems(id: &str, schema: &LeadSchema, uses: &LeadFieldUse<'_>, out: &mut Vec<Problem>) {
    for (i, m) in uses.mapping.into_iter().flatten().enumerate() {
        match schema.field(&m.field) {
            None => out.push(unknown_field(id, schema, format!("leadData[{i}].field"), &m.field)),
            Some(f) if f.read_only && Some(m.field.as_str()) != uses.lookup => out.push(problem(
                id,
                format!("leadData[{i}].field"),
                "READ_ONLY_FIELD",
                format!("lead field `{}` is read-only through the API: Marketo would refuse it", m.field),
            )),
            Some(_) => {}
        }
    }
}

/// The problems of the lookup field: missing (unless `leadData` maps it, which already says
/// so), one Bulk Lead Import cannot dedupe by, or not searchable.
fn lookup_problems(id: &str, schema: &LeadSchema, uses: &LeadFieldUse<'_>, out: &mut Vec<Problem>) {
    let Some(lookup) = uses.lookup else { return };
    let lookup_param = uses.lookup_param;
    let mapped = uses.mapping.is_some_and(|m| m.iter().any(|f| f.field == lookup));
    match schema.field(lookup) {
        None if !mapped || uses.bulk => out.push(unknown_field(id, schema, lookup_param.into(), lookup)),
        None => {}
        Some(f) if uses.bulk => out.extend(dedupe_problem(id, schema, lookup_param, lookup, f)),
        Some(_) if schema.is_searchable(lookup) == Some(false) => out.push(problem(
            id,
            lookup_param,
            "NOT_SEARCHABLE",
            format!("lead field `{lookup}` is not searchable, so Marketo cannot find leads by it (describe2 searchableFields)"),
        )),
        Some(_) => {}
    }
}

/// The `CANNOT_DEDUPE` problem when Bulk Lead Import cannot dedupe by `lookup` (whose schema
/// entry is `field`): neither one of [`BULK_DEDUPE`] nor a searchable custom string, email or
/// integer field.
fn dedupe_problem(
    id: &str,
    schema: &LeadSchema,
    lookup_param: &str,
    lookup: &str,
    field: &FieldInfo,
) -> Option<Problem> {
    let custom_ok = matches!(field.kind(), DataType::String | DataType::Email | DataType::Integer)
        && schema.is_searchable(lookup) != Some(false);
    if BULK_DEDUPE.contains(&lookup) || custom_ok {
        return None;
    }
    Some(problem(
        id,
        lookup_param,
        "CANNOT_DEDUPE",
        format!(
            "Bulk Lead Import cannot dedupe by `{lookup}` ({}): use one of {} or a searchable custom string, email or integer field",
            field.data_type,
            BULK_DEDUPE.join(", ")
        ),
    ))
}
