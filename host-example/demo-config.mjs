// Action configuration and simulator seed data shared by the demo and the Node tests.

/** The demo's actions (SPEC §3), for AudienceStream- and EventStream-shaped events. */
export function demoActions({ newsletterList, visitorsList, campaign = 3712 }) {
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
    {
      id: "list-batched", type: "addLeadToListBatched", targetStaticList: visitorsList,
      leadIdLookup: { filterType: "email", source: { attribute: "data.udo.customer_email" } },
    },
    {
      id: "unlist", type: "removeLeadFromList", targetStaticList: newsletterList,
      leadIdLookup: { filterType: "email", source: { attribute: "data.udo.customer_email" } },
    },
    {
      id: "unlist-batched", type: "removeLeadFromListBatched", targetStaticList: visitorsList,
      targetLeadId: { attribute: "visitor.metrics.Marketo lead id" },
    },
    {
      id: "upsert-batched", type: "createOrUpdateLeadBatched", updateStrategy: "createOrUpdate",
      leadData: [
        { field: "email", source: { attribute: "data.udo.customer_email" } },
        { field: "lastName", source: { attribute: "data.udo.customer_last_name" } },
        { field: "company", source: { attribute: "data.udo.company" } },
      ],
    },
    {
      id: "welcome-email", type: "sendTransactionalEmail", targetEmailCampaign: campaign,
      targetLeadId: { attribute: "visitor.metrics.Marketo lead id" },
      tokens: [
        { name: "{{my.first name}}", source: { attribute: "visitor.properties.Customer first name" } },
        { name: "{{my.plan}}", source: { attribute: ["visitor", "properties", "plan.tier"] } },
        { name: "{{my.last purchase}}", source: { attribute: "visitor.dates.Last purchase" }, type: "date" },
      ],
    },
    {
      id: "merge-duplicates", type: "mergeLead", winningLeadId: { attribute: "winner" },
      losingLeadIds: { attribute: "losers" }, mergeInCrm: false,
    },
    {
      id: "bulk-import", type: "bulkImportLeads", leadLookupField: "email", targetStaticList: newsletterList,
      leadData: [
        { field: "email", source: { attribute: "data.udo.customer_email" } },
        { field: "firstName", source: { attribute: "data.udo.customer_first_name" } },
        { field: "lastName", source: { attribute: "data.udo.customer_last_name" } },
        { field: "company", source: { attribute: "data.udo.company" } },
        { field: "notes", source: { attribute: "data.udo.notes" } },
        { field: "signupDate", source: { attribute: "data.udo.signup_date" }, type: "date" },
      ],
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
        // Two duplicates of Jane for the merge action.
        { id: 318600, email: "jane.d@example.com", firstName: "Jane", title: "Engineer" },
        { id: 318601, email: "j.doe@example.com", lastName: "Doe", phone: "+1 555 0100" },
      ],
      lists: [{ id: 1001, name: "Newsletter subscribers" }, { id: 1002, name: "Web visitors" }],
      campaigns: [{ id: 3712, name: "Welcome email", type: "trigger", isRequestable: true }],
    },
    ...extra,
  };
}
