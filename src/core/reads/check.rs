//! `check()`'s calls: the static lists, campaigns, partitions and tokens the configuration
//! names, looked up on the instance. The problems found from the lead schema alone are
//! [`crate::core::check::schema_problems`].

use crate::core::ids::Step;
use serde_json::Value;

use crate::core::check::{denied, problem, Problem};
use crate::core::config::{Action, Settings};
use crate::core::job::{Api, CallSpec, Delivery, Failure, Progress, Steps};
use crate::core::wire::Envelope;

/// A call the check is waiting for.
#[derive(Debug, Clone)]
enum Pending {
    List { id: i64, asset: bool },
    Campaign { id: i64, asset: bool },
    Tokens { campaign: i64, program: i64 },
    Partitions,
}

/// The calls of one `check()` and the problems they find.
pub(crate) struct CheckJob {
    /// `(list id, action)` for each action using a list.
    lists: Vec<(i64, String)>,
    /// `(campaign id, action, its token names)` (`name` of `{{my.name}}`).
    campaigns: Vec<(i64, String, Vec<String>)>,
    /// `(action, partitionName)`.
    partitions: Vec<(String, String)>,
    /// The calls waiting for an answer, by step. (Vectors, not maps: a few entries, and each
    /// map type costs the `.wasm` several KB.)
    steps: Vec<(Step, Pending)>,
    tags: Steps,
    problems: Vec<Problem>,
    /// Problems found before any call (the schema's); they come first.
    first: Vec<Problem>,
    /// The action ids in configuration order (problems are reported in it).
    order: Vec<String>,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for CheckJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckJob").finish_non_exhaustive()
    }
}

impl CheckJob {
    /// A check of `settings`, starting from the schema's problems `first`.
    pub fn new(settings: &Settings, first: Vec<Problem>) -> CheckJob {
        let mut job = CheckJob {
            lists: Vec::new(),
            campaigns: Vec::new(),
            partitions: Vec::new(),
            steps: Vec::new(),
            tags: Steps::default(),
            problems: Vec::new(),
            first,
            order: settings.actions.iter().map(|a| a.id.clone()).collect(),
        };
        for a in &settings.actions {
            match &a.action {
                Action::AddLeadToList(p)
                | Action::AddLeadToListBatched(p)
                | Action::RemoveLeadFromList(p)
                | Action::RemoveLeadFromListBatched(p) => job.lists.push((p.list_id, a.id.clone())),
                Action::BulkImportLeads(p) => {
                    if let Some(list) = p.list_id {
                        job.lists.push((list, a.id.clone()));
                    }
                }
                Action::SendTransactionalEmail(p) => {
                    let names = p
                        .tokens
                        .iter()
                        .map(|t| t.name.trim_start_matches("{{my.").trim_end_matches("}}").to_string())
                        .collect();
                    job.campaigns.push((p.campaign_id, a.id.clone(), names));
                }
                Action::CreateOrUpdateLead(p) | Action::CreateOrUpdateLeadBatched(p) => {
                    if let Some(name) = &p.partition {
                        job.partitions.push((a.id.clone(), name.clone()));
                    }
                }
                Action::MergeLead(_) => {}
            }
        }
        job
    }

    fn call(&mut self, pending: Pending, p: &mut Progress) {
        let path = CheckJob::path_of(&pending);
        let query = match pending {
            Pending::Tokens { .. } => vec![("folderType".to_string(), "Program".to_string())],
            _ => Vec::new(),
        };
        let step = self.tags.next();
        self.steps.push((step, pending));
        p.calls.push(CallSpec::get(step, Api::Rest, path, query));
    }

    fn path_of(pending: &Pending) -> String {
        match pending {
            Pending::List { id, asset: false } => format!("/v1/lists/{id}.json"),
            Pending::List { id, asset: true } => format!("/asset/v1/staticList/{id}.json"),
            Pending::Campaign { id, asset: true } => format!("/asset/v1/smartCampaign/{id}.json"),
            Pending::Campaign { id, asset: false } => format!("/v1/campaigns/{id}.json"),
            Pending::Tokens { program, .. } => format!("/asset/v1/folder/{program}/tokens.json"),
            Pending::Partitions => "/v1/leads/partitions.json".into(),
        }
    }

    /// The actions using list `id`.
    fn list_users(&self, id: i64) -> Vec<String> {
        self.lists.iter().filter(|(l, _)| *l == id).map(|(_, a)| a.clone()).collect()
    }

    /// The actions using campaign `id`, with their token names.
    fn campaign_users(&self, id: i64) -> Vec<(String, Vec<String>)> {
        self.campaigns.iter().filter(|(c, ..)| *c == id).map(|(_, a, t)| (a.clone(), t.clone())).collect()
    }

    fn each_list(&mut self, id: i64, code: &str, message: &str) {
        for action in self.list_users(id) {
            self.problems.push(problem(&action, "targetStaticList", code, message));
        }
    }

    fn each_campaign(&mut self, id: i64, code: &str, message: &str) {
        for (action, _) in self.campaign_users(id) {
            self.problems.push(problem(&action, "targetEmailCampaign", code, message));
        }
    }

    /// A campaign was found: its state, then its program's tokens when any are configured.
    fn campaign_found(
        &mut self,
        id: i64,
        active: bool,
        requestable: bool,
        program: Option<i64>,
        p: &mut Progress,
    ) {
        if !active {
            self.each_campaign(
                id,
                "CAMPAIGN_INACTIVE",
                &format!(
                    "campaign {id} is not active: Marketo refuses requests for it (activate it in Marketo)"
                ),
            );
        } else if !requestable {
            self.each_campaign(
                id,
                "CAMPAIGN_NOT_TRIGGERABLE",
                &format!("campaign {id} cannot be requested: it needs a \"Campaign is Requested\" trigger with source \"Web Service API\""),
            );
        }
        let wants_tokens = self.campaigns.iter().any(|(c, _, t)| *c == id && !t.is_empty());
        if let (Some(program), true) = (program, wants_tokens) {
            self.call(Pending::Tokens { campaign: id, program }, p);
        }
    }

    fn finish_if_done(&mut self, p: &mut Progress) {
        if self.steps.is_empty() {
            let mut all = std::mem::take(&mut self.first);
            all.append(&mut self.problems);
            // Configuration order of the actions, whatever order Marketo answered in; within an
            // action, the schema's problems first.
            let mut sorted = Vec::with_capacity(all.len());
            for action in &self.order {
                sorted.extend(all.iter().filter(|pr| pr.action_id == *action).cloned());
            }
            p.check = Some(sorted);
        }
    }
}

fn is_not_found(code: &str) -> bool {
    matches!(code, "1013" | "702" | "709" | "610")
}

fn first(env: &Envelope) -> Option<&Value> {
    env.result.first()
}

impl Delivery for CheckJob {
    fn start(&mut self, p: &mut Progress) {
        // One call per distinct id, in configuration order.
        let mut lists: Vec<i64> = Vec::new();
        for (id, _) in &self.lists {
            if !lists.contains(id) {
                lists.push(*id);
            }
        }
        for id in lists {
            self.call(Pending::List { id, asset: false }, p);
        }
        let mut campaigns: Vec<i64> = Vec::new();
        for (id, ..) in &self.campaigns {
            if !campaigns.contains(id) {
                campaigns.push(*id);
            }
        }
        for id in campaigns {
            self.call(Pending::Campaign { id, asset: true }, p);
        }
        if !self.partitions.is_empty() {
            self.call(Pending::Partitions, p);
        }
        self.finish_if_done(p);
    }

    fn on_success(&mut self, step: Step, env: &Envelope, p: &mut Progress) {
        let Some(at) = self.steps.iter().position(|(s, _)| *s == step) else { return };
        let (_, pending) = self.steps.swap_remove(at);
        match pending {
            Pending::List { id, .. } => self.list_answered(id, env),
            Pending::Campaign { id, asset } => self.campaign_answered(id, asset, env, p),
            Pending::Tokens { campaign, program } => self.tokens_answered(campaign, program, env),
            Pending::Partitions => self.partitions_answered(env),
        }
        self.finish_if_done(p);
    }

    fn on_failure(&mut self, step: Step, failure: &Failure, p: &mut Progress) {
        let Some(at) = self.steps.iter().position(|(s, _)| *s == step) else { return };
        let (_, pending) = self.steps.swap_remove(at);
        let code = failure.reason.code();
        let code = code.as_ref();
        match pending {
            Pending::List { id, asset: false } if code == "603" => {
                self.call(Pending::List { id, asset: true }, p)
            }
            Pending::Campaign { id, asset: true } if code == "603" => {
                self.call(Pending::Campaign { id, asset: false }, p)
            }
            Pending::List { id, .. } if is_not_found(code) => {
                self.each_list(id, "UNKNOWN_LIST", &format!("the instance has no static list {id}"))
            }
            Pending::Campaign { id, .. } if is_not_found(code) => {
                self.each_campaign(id, "UNKNOWN_CAMPAIGN", &format!("the instance has no campaign {id}"))
            }
            other => self.check_failed(&other, failure),
        }
        self.finish_if_done(p);
    }
}

impl CheckJob {
    /// A static list's answer: no result means the instance has no such list.
    fn list_answered(&mut self, id: i64, env: &Envelope) {
        if first(env).is_none() {
            self.each_list(id, "UNKNOWN_LIST", &format!("the instance has no static list {id}"));
        }
    }

    /// A campaign's answer, from the Asset API (`asset`) or the Lead Database API, whose
    /// fields differ: none means no such campaign, else its state is checked.
    fn campaign_answered(&mut self, id: i64, asset: bool, env: &Envelope, p: &mut Progress) {
        match first(env) {
            None => self.each_campaign(id, "UNKNOWN_CAMPAIGN", &format!("the instance has no campaign {id}")),
            Some(c) if asset => {
                let active = c.get("isActive").and_then(Value::as_bool).unwrap_or(false);
                let requestable = c.get("isRequestable").and_then(Value::as_bool).unwrap_or(false);
                let program = c.get("parentProgramId").and_then(Value::as_i64);
                self.campaign_found(id, active, requestable, program, p);
            }
            Some(c) => {
                let active = c.get("active").and_then(Value::as_bool).unwrap_or(false);
                let requestable = c.get("type").and_then(Value::as_str) == Some("trigger");
                let program = c.get("programId").and_then(Value::as_i64);
                self.campaign_found(id, active, requestable, program, p);
            }
        }
    }

    /// The tokens of `campaign`'s program: each configured token name the program does not
    /// define is a problem (with the right spelling when only the case differs).
    fn tokens_answered(&mut self, campaign: i64, program: i64, env: &Envelope) {
        let defined: Vec<String> = env
            .result
            .iter()
            .filter_map(|r| r.get("tokens").and_then(Value::as_array))
            .flatten()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(|n| n.trim_start_matches("{{").trim_start_matches("my.").trim_end_matches("}}").to_string())
            .collect();
        for (action, names) in self.campaign_users(campaign) {
            for (i, name) in names.iter().enumerate() {
                if !defined.iter().any(|d| d == name) {
                    let mut pr = problem(
                        &action,
                        format!("tokens[{i}].name"),
                        "UNKNOWN_TOKEN",
                        format!("program {program} (campaign {campaign}'s program) defines no token {{{{my.{name}}}}}"),
                    );
                    if let Some(right) = defined.iter().find(|d| d.eq_ignore_ascii_case(name)) {
                        pr.suggestion = Some(format!("{{{{my.{right}}}}}"));
                    }
                    self.problems.push(pr);
                }
            }
        }
    }

    /// The instance's lead partitions: each configured partition it lacks is a problem (with
    /// the right spelling when only the case differs).
    fn partitions_answered(&mut self, env: &Envelope) {
        let names: Vec<&str> =
            env.result.iter().filter_map(|r| r.get("name").and_then(Value::as_str)).collect();
        for (action, name) in &self.partitions {
            if !names.contains(&name.as_str()) {
                let mut pr = problem(
                    action,
                    "partitionName",
                    "UNKNOWN_PARTITION",
                    format!("the instance has no lead partition `{name}` (it has: {})", names.join(", ")),
                );
                pr.suggestion = names.iter().find(|n| n.eq_ignore_ascii_case(name)).map(|n| n.to_string());
                self.problems.push(pr);
            }
        }
    }

    /// A call that failed for another reason than a missing id or a 603 with a fallback
    /// endpoint left: one problem for each thing it was to check, `PERMISSION_DENIED` on a
    /// 603 and `CHECK_FAILED` otherwise.
    fn check_failed(&mut self, pending: &Pending, failure: &Failure) {
        let code = failure.reason.code();
        let code = code.as_ref();
        let path = CheckJob::path_of(pending);
        for (action, parameter, what) in self.unchecked(pending) {
            self.problems.push(if code == "603" {
                denied(&action, parameter, &path, &what)
            } else {
                let message = format!(
                    "{what} could not be checked: Marketo answered {code} {}",
                    failure.reason.message()
                );
                problem(&action, parameter, "CHECK_FAILED", message)
            });
        }
    }

    /// What `pending` was to check, as `(action, parameter, what)` for each action concerned.
    fn unchecked(&self, pending: &Pending) -> Vec<(String, &'static str, String)> {
        match *pending {
            Pending::List { id, .. } => self
                .list_users(id)
                .into_iter()
                .map(|action| (action, "targetStaticList", format!("static list {id}")))
                .collect(),
            Pending::Campaign { id, .. } => self
                .campaign_users(id)
                .into_iter()
                .map(|(action, _)| (action, "targetEmailCampaign", format!("campaign {id}")))
                .collect(),
            Pending::Tokens { campaign, program } => self
                .campaign_users(campaign)
                .into_iter()
                .filter(|(_, names)| !names.is_empty())
                .map(|(action, _)| (action, "tokens", format!("the tokens of program {program}")))
                .collect(),
            Pending::Partitions => self
                .partitions
                .iter()
                .map(|(action, name)| (action.clone(), "partitionName", format!("partition `{name}`")))
                .collect(),
        }
    }
}
