//! Reading the instance's lead schema: `GET /rest/v1/leads/describe2.json`
//! (`describeUsingGET_6`), falling back to `GET /rest/v1/leads/describe.json`
//! (`describeUsingGET_2`), Adobe's Swagger
//! <https://github.com/AdobeDocs/marketo-apis/blob/main/static/swagger-mapi.json>. The schema
//! itself and the formatting by field type are in [`crate::core::schema`].

use crate::core::ids::Step;
use crate::core::job::{Api, CallSpec, Delivery, Failure, Progress};
use crate::core::reason::Reason;
use crate::core::schema::LeadSchema;
use crate::core::wire::Envelope;

/// Reads the schema: describe2 first; describe.json when describe2 fails for any reason but a
/// missing permission (`603`: the same permission guards both, Swagger `describeUsingGET_2`,
/// `describeUsingGET_6`) or answers without fields.
#[derive(Default)]
pub(crate) struct SchemaJob {
    first_error: Option<Reason>,
}

// By hand, not derived: every job is a `dyn Delivery`, whose vtable keeps its `Debug` (and that
// of each field type) in the .wasm though nothing prints a job outside tests.
impl std::fmt::Debug for SchemaJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaJob").finish_non_exhaustive()
    }
}

const STEP_DESCRIBE2: Step = Step(1);
const STEP_DESCRIBE: Step = Step(2);

impl SchemaJob {
    fn describe(p: &mut Progress) {
        p.calls.push(CallSpec::get(STEP_DESCRIBE, Api::Rest, "/v1/leads/describe.json".into(), Vec::new()));
    }
}

impl Delivery for SchemaJob {
    fn start(&mut self, p: &mut Progress) {
        p.calls.push(CallSpec::get(STEP_DESCRIBE2, Api::Rest, "/v1/leads/describe2.json".into(), Vec::new()));
    }

    fn on_success(&mut self, step: Step, env: &Envelope, p: &mut Progress) {
        let parsed = if step == STEP_DESCRIBE2 {
            LeadSchema::from_describe2(&env.result)
        } else {
            LeadSchema::from_describe(&env.result)
        };
        match (parsed, step) {
            (Some(schema), _) => p.schema = Some(Ok(schema)),
            (None, STEP_DESCRIBE2) => {
                self.first_error = Some(Reason::local("BAD_RESPONSE", "describe2.json listed no lead field"));
                SchemaJob::describe(p);
            }
            (None, _) => {
                p.schema = Some(Err(self
                    .first_error
                    .take()
                    .unwrap_or(Reason::local("BAD_RESPONSE", "describe.json listed no lead field"))))
            }
        }
    }

    fn on_failure(&mut self, step: Step, failure: &Failure, p: &mut Progress) {
        // describe.json is asked when describe2 itself is refused (an endpoint this instance
        // does not serve, an unreadable answer), not for a missing permission, refused
        // credentials or a network that retries could not get through.
        let endpoint = match &failure.reason {
            Reason::Marketo { code, .. } => code.is_numbered() && code.as_str() != "603",
            Reason::Http { status, .. } => (400..500).contains(status),
            Reason::Local { code, .. } => *code == "BAD_RESPONSE",
        };
        if step == STEP_DESCRIBE2 && endpoint {
            self.first_error = Some(failure.reason.clone());
            SchemaJob::describe(p);
        } else {
            p.schema = Some(Err(self.first_error.take().unwrap_or_else(|| failure.reason.clone())));
        }
    }
}
