// Action configuration and simulator seed data shared by the demo and the Node tests.

/** The demo's actions (SPEC §3), for AudienceStream- and EventStream-shaped events. */
export function demoActions({ newsletterList, visitorsList }) {
  return [
    {
      id: "upsert-visitor", type: "createOrUpdateLead", updateStrategy: "createOrUpdate", leadLookupFilter: "email",
      leadData: [
        { field: "email", source: { attribute: "visitor.properties.5124" } },
        { field: "firstName", source: { attribute: "visitor.properties.Customer first name" } },
        { field: "lastName", source: { attribute: "visitor.properties.Customer last name" } },
        { field: "planTier", source: { attribute: ["visitor", "properties", "plan.tier"] } },
        { field: "lifetimeVisits", source: { attribute: "visitor.metrics.Lifetime visit count" } },
        { field: "emailOptIn", source: { attribute: "visitor.flags.Email opt-in" } },
        { field: "churnRisk", source: { attribute: "visitor.flags.Churn risk" } },
        { field: "firstVisit", source: { attribute: "visitor.dates.First visit" }, type: "date" },
      ],
    },
    {
      id: "upsert-event", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
      leadData: [
        { field: "email", source: { attribute: "data.udo.customer_email" } },
        { field: "firstName", source: { attribute: "data.udo.customer_first_name" } },
        { field: "lastName", source: { attribute: "data.udo.customer_last_name" } },
        { field: "company", source: { attribute: "data.udo.company" } },
        { field: "signupDate", source: { attribute: "data.udo.signup_date" }, type: "date" },
        { field: "orderTotal", source: { attribute: "data.udo.order_total" } },
        { field: "newsletter", source: { attribute: "data.udo.newsletter" } },
        { field: "notes", source: { attribute: "data.udo.notes" } },
      ],
    },
    {
      id: "list-by-id", type: "addLeadToList", targetStaticList: newsletterList,
      targetLeadId: { attribute: "visitor.metrics.Marketo lead id" },
    },
    {
      id: "list-by-email", type: "addLeadToList", targetStaticList: newsletterList, addLead: true,
      leadIdLookup: { filterType: "email", source: { attribute: "data.udo.customer_email" } },
    },
    {
      id: "list-by-cookie", type: "addLeadToList", targetStaticList: visitorsList,
      leadIdLookup: { filterType: "cookies", source: { attribute: "data.firstparty_tealium_cookies._mkto_trk" } },
    },
  ];
}

/** Simulator options: a known lead (with a Munchkin cookie), two lists, the custom fields used. */
export function demoSeed(extra = {}) {
  return {
    fields: ["planTier", "lifetimeVisits", "emailOptIn", "churnRisk", "firstVisit", "signupDate", "orderTotal", "newsletter", "notes"],
    seed: {
      leads: [
      {
        id: 318594, email: "jane.doe@example.com", firstName: "Jane", lastName: "Doe",
        cookies: "id:123-ABC-123&token:_mch-example.com-1718000000000-12345",
      },
    ],
      lists: [{ id: 1001, name: "Newsletter subscribers" }, { id: 1002, name: "Web visitors" }],
    },
    ...extra,
  };
}
