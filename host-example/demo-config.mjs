// Action configuration and simulator seed data shared by the demo and the Node tests.
import { EXAMPLE_CUSTOM_FIELDS } from "./simulator/store.mjs";

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
      // Custom fields formatted by their Marketo type (no `type` needed): a date, an integer from
      // a string, a boolean from "true", a 20-character text field given a longer value.
      id: "upsert-profile", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
      leadData: [
        { field: "email", source: { attribute: "email" } },
        { field: "birthday", source: { attribute: "born" } },
        { field: "loyaltyPoints", source: { attribute: "points" } },
        { field: "vip", source: { attribute: "vip" } },
        { field: "membershipLevel", source: { attribute: "level" } },
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

/**
 * A configuration with the mistakes `check()` finds: a field spelled with the wrong case, a
 * read-only field, a list and a campaign that do not exist, a token the program does not define.
 */
export function wrongActions() {
  return [
    {
      id: "upsert-typo", type: "createOrUpdateLead", updateStrategy: "createOrUpdate",
      leadData: [
        { field: "email", source: { attribute: "email" } },
        { field: "FirstName", source: { attribute: "first_name" } },
        { field: "crmSegment", source: { attribute: "segment" } },
      ],
    },
    { id: "list-missing", type: "addLeadToList", targetStaticList: 4040, targetLeadId: { attribute: "id" } },
    {
      id: "email-wrong-token", type: "sendTransactionalEmail", targetEmailCampaign: 3712, targetLeadId: { attribute: "id" },
      tokens: [{ name: "{{my.firstname}}", source: { attribute: "first_name" } }],
    },
  ];
}

/** Simulator options: a known lead (with a Munchkin cookie), two lists, the custom fields used. */
export function demoSeed(extra = {}) {
  return {
    // The demo's custom fields with their Marketo types, and one of every other type.
    fields: [
      { name: "planTier", dataType: "string" },
      { name: "lifetimeVisits", dataType: "integer" },
      { name: "emailOptIn", dataType: "boolean" },
      { name: "churnRisk", dataType: "boolean" },
      { name: "firstVisit", dataType: "datetime" },
      { name: "signupDate", dataType: "datetime" },
      { name: "orderTotal", dataType: "currency" },
      { name: "newsletter", dataType: "boolean" },
      { name: "notes", dataType: "text" },
      ...EXAMPLE_CUSTOM_FIELDS,
    ],
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
      campaigns: [{ id: 3712, name: "Welcome email", type: "trigger", isRequestable: true, programId: 1001 }],
      // The campaign's program and its My Tokens (the welcome email's tokens).
      programs: [{ id: 1001, name: "Onboarding", tokens: ["first name", "plan", "last purchase"] }],
    },
    ...extra,
  };
}
