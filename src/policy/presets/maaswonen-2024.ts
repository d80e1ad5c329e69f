/**
 * MaasWonen, protocol cameratoezicht en sleuteltags, 10 September 2024 ("M").
 * Camera surveillance and key-tag access registration. Where M is silent, the value is this
 * preset's choice and its `note` says so.
 */
import type { PolicyInput } from '../policy.schema.js';

const PRESET_CHOICE = "Preset's choice: M does not fix this.";
const VIEWERS = 'Named in M 6.3 as staff who may view footage, e.g. to assess an incident.';

export const maaswonen2024 = {
  id: 'maaswonen-2024',
  name: 'MaasWonen protocol cameratoezicht en sleuteltags 2024',
  corporation: 'Stichting MaasWonen',
  version: '2024-09-10',
  source: { title: 'Protocol cameratoezicht MaasWonen', date: '2024-09-10' },
  goals: {
    'protect-persons': { articles: ['M 1'] },
    'protect-property': { articles: ['M 1'] },
    'protect-buildings': { articles: ['M 1'] },
    'record-incidents': { articles: ['M 1'] },
    'feeling-of-safety': { articles: ['M 1'] },
    'recover-damage': { articles: ['M 1', 'M 5.2'] },
  },
  dataCategories: {
    footage: {
      retention: '4w',
      articles: ['M 6.6'],
      note: 'Erased automatically after four weeks unless an incident occurred; then kept until it is handled, at the latest an irrevocable judgment (M 6.6).',
    },
    'door-events': {
      retention: '4w',
      articles: ['M 6.7'],
      note: 'Tag number, door or lock, time (M 6.6); at most four weeks, longer only for an incident (M 6.7).',
    },
    'tag-holders': {
      retention: '4w',
      articles: ['M 6.6', 'GDPR 5(1)(e)'],
      note: `${PRESET_CHOICE} Kept while the tag is issued and four weeks after it is returned, so door events are linkable (indirectly, only by MaasWonen, M 6.6) exactly as long as they exist.`,
    },
    logbook: {
      retention: '104w',
      articles: ['M 6.4', 'GDPR 5(2)'],
      note: `${PRESET_CHOICE} Two years, so consultations can be checked after complaints (M 8).`,
    },
    'audit-trail': {
      retention: '104w',
      articles: ['GDPR 5(2)', 'GDPR 32'],
      note: `${PRESET_CHOICE} Two years, as long as the logbook it supports.`,
    },
    requests: {
      retention: '52w',
      articles: ['M 4', 'GDPR 12', 'GDPR 15'],
      note: `${PRESET_CHOICE} One year after the request, to answer complaints about its handling (M 8).`,
    },
    exports: {
      retention: '4w',
      articles: ['M 6.6', 'M 5'],
      note: `${PRESET_CHOICE} Copies are kept no longer than the footage they copy; a hold extends both.`,
    },
  },
  purposes: {
    'incident-assessment': {
      categories: ['footage'],
      requires: 'incident',
      fourEyes: false,
      articles: ['M 3.5', 'M 6.3'],
      note: 'Footage is in principle not viewed; only after an incident (M 3.5). Access data is never used for this (M 3.5).',
    },
    'incident-handling': {
      categories: ['footage'],
      requires: 'incident',
      fourEyes: false,
      articles: ['M 6.3'],
      note: 'Managers and lawyers, only when needed to handle an incident (M 6.3).',
    },
    'technical-check': {
      categories: ['footage'],
      requires: 'none',
      maxLookback: '24h',
      fourEyes: false,
      articles: ['M 6.5', 'M 2.2'],
      note: `Technical reasons only (M 6.5). maxLookback 24h is the ${PRESET_CHOICE.toLowerCase()}`,
    },
    'tag-function-check': {
      categories: ['door-events', 'tag-holders'],
      requires: 'none',
      fourEyes: false,
      articles: ['M 3.5'],
      note: 'The only routine use of access data: checking that an issued tag works properly (M 3.5).',
    },
    'calamity-witness-search': {
      categories: ['door-events', 'tag-holders'],
      requires: 'calamity-incident',
      fourEyes: true,
      articles: ['M 3.6', 'M 6.6'],
      note: `Only to approach tag users as witnesses; never to support or prove accusations (M 3.6). Four-eyes is the ${PRESET_CHOICE.toLowerCase()} This purpose turns tag numbers into persons (M 6.6).`,
    },
    'subject-access': {
      categories: ['footage', 'door-events', 'tag-holders'],
      requires: 'request',
      fourEyes: false,
      articles: ['M 4', 'M 2.6', 'GDPR 15'],
      note: 'Footage on which in principle only the data subject is visible; access data only of their own tag (M 4).',
    },
    disclosure: {
      categories: ['footage', 'door-events', 'tag-holders'],
      requires: 'disclosure',
      fourEyes: false,
      articles: ['M 5', 'M 2.6'],
    },
  },
  roles: [
    {
      id: 'manager-klant-wonen',
      name: { nl: 'Manager Klant & Wonen', en: 'Manager Customer & Housing' },
      articles: ['M 2.6', 'M 6.3', 'M 6.4'],
      permissions: [
        { purpose: 'incident-assessment', categories: ['footage'] },
        { purpose: 'subject-access', categories: ['footage', 'door-events', 'tag-holders'] },
        { purpose: 'disclosure', categories: ['footage', 'door-events', 'tag-holders'] },
        { purpose: 'calamity-witness-search', categories: ['door-events', 'tag-holders'] },
      ],
      capabilities: [
        'sign-logbook',
        'read-logbook',
        'decide-requests',
        'decide-disclosures',
        'secure-footage',
        'manage-incidents',
        'approve-access',
      ],
      note: 'Decides on access and disclosure (M 2.6), signs consultations (M 6.4). Calamity witness search is given to the two M 2.6 managers only (preset choice): they already judge access data under M 2.6 and sign its consultations under M 6.4.',
    },
    {
      id: 'manager-vastgoed',
      name: { nl: 'Manager Vastgoed', en: 'Manager Real Estate' },
      articles: ['M 2.6', 'M 6.3', 'M 6.4'],
      permissions: [
        { purpose: 'incident-assessment', categories: ['footage'] },
        { purpose: 'subject-access', categories: ['footage', 'door-events', 'tag-holders'] },
        { purpose: 'disclosure', categories: ['footage', 'door-events', 'tag-holders'] },
        { purpose: 'calamity-witness-search', categories: ['door-events', 'tag-holders'] },
      ],
      capabilities: [
        'sign-logbook',
        'read-logbook',
        'decide-requests',
        'decide-disclosures',
        'secure-footage',
        'manage-incidents',
        'approve-access',
      ],
      note: 'Same position as the Manager Klant & Wonen (M 2.6, M 6.3, M 6.4).',
    },
    {
      id: 'woonconsulent',
      name: { nl: 'Woonconsulent', en: 'Housing consultant' },
      articles: ['M 6.3', 'M 3.5'],
      permissions: [
        { purpose: 'incident-assessment', categories: ['footage'] },
        { purpose: 'tag-function-check', categories: ['door-events', 'tag-holders'] },
      ],
      capabilities: ['secure-footage', 'manage-incidents'],
      note: `${VIEWERS} Tag-function check (M 3.5 names no role): preset's choice, as the tenant's contact who hands out and troubleshoots tags.`,
    },
    {
      id: 'huismeester',
      name: { nl: 'Huismeester', en: 'Caretaker' },
      articles: ['M 6.3', 'M 3.5'],
      permissions: [
        { purpose: 'incident-assessment', categories: ['footage'] },
        { purpose: 'tag-function-check', categories: ['door-events', 'tag-holders'] },
      ],
      capabilities: ['secure-footage', 'manage-incidents'],
      note: `${VIEWERS} Tag-function check (M 3.5 names no role): preset's choice, as the on-site person who tests doors and tags.`,
    },
    {
      id: 'manager',
      name: { nl: 'Manager', en: 'Manager (other)' },
      articles: ['M 6.3'],
      permissions: [{ purpose: 'incident-handling', categories: ['footage'] }],
      capabilities: [],
      note: 'Only when needed to handle an incident (M 6.3).',
    },
    {
      id: 'jurist',
      name: { nl: 'Jurist', en: 'Lawyer' },
      articles: ['M 6.3', 'M 5.3'],
      permissions: [{ purpose: 'incident-handling', categories: ['footage'] }],
      capabilities: [],
      note: 'Only when needed to handle an incident (M 6.3), e.g. proceedings (M 5.3); disclosure itself is decided under M 2.6.',
    },
    {
      id: 'technisch-onderhoud',
      name: { nl: 'Technisch onderhoudsmedewerker', en: 'Technical maintenance staff' },
      articles: ['M 6.5', 'M 2.2'],
      permissions: [{ purpose: 'technical-check', categories: ['footage'] }],
      capabilities: ['maintenance-log'],
      note: 'Technical reasons only, e.g. verifying the camera system works (M 6.5); periodic checks (M 2.2). No access data: M 3.5 allows it only for tag checks.',
    },
  ],
  deadlines: {
    requestDecisionWorkingDays: 3,
    requestLegalMonths: 1,
    requestLegalExtensionMonths: 2,
    logbookFindingDays: 2,
    logbookSignatureDays: 7,
    holdReviewDays: 90,
    incidentOpenWarningDays: 60,
    maintenanceCheckInterval: '1w',
    breachReportHours: 72,
    articles: ['M 4', 'M 6.4', 'M 2.2', 'GDPR 12(3)', 'GDPR 33(1)'],
    note: `Three working days to decide (M 4); the legal month (GDPR 12(3)) is tracked as well. Finding and signature deadlines (M 6.4 sets none), hold review, incident warning and check interval (M 2.2: "periodically") are the ${PRESET_CHOICE.toLowerCase()}`,
  },
  fees: {
    firstCopy: { amountCents: null },
    furtherCopy: { amountCents: null },
    articles: ['M 4'],
    note: 'M 4 charges a cost price ("kostprijs") for a copy, amount not fixed. Encoded faithfully; this conflicts with GDPR 12(5)/15(3) (first copy free) and is reported as fee-first-copy.',
  },
  disclosure: {
    categories: {
      footage: {
        recipients: ['police', 'insurer', 'court-proceedings', 'legitimate-interest-third-party'],
        articles: ['M 5.1', 'M 5.2', 'M 5.3', 'M 5.4', 'M 5.6'],
      },
      'door-events': { recipients: ['police'], articles: ['M 5.7'] },
      'tag-holders': { recipients: ['police'], articles: ['M 5.7'] },
    },
    police: {
      requireLegalBasis: true,
      requireOfficerIdentification: true,
      articles: ['M 5.4', 'M 5.5'],
      note: 'Explicit request citing the legal basis, or needed for the public task (M 5.4); the officer identifies first (M 5.5).',
    },
    requireWeighing: true,
    articles: ['M 5.1', 'M 5.2', 'M 5.6', 'M 2.6'],
  },
  placement: {
    insideDwelling: {
      rule: 'forbidden',
      articles: ['M 3.3'],
      note: `${PRESET_CHOICE} M 3.3 aims cameras at dwellings as little as possible; inside a dwelling is never necessary.`,
    },
    aimedAtDwellingFrontDoor: { rule: 'requires-reason', articles: ['M 3.3'] },
    aimedAtFixedWorkplace: {
      rule: 'requires-reason',
      articles: ['M 3.3', 'M 1'],
      note: `${PRESET_CHOICE} Staff protection is an M 1 goal; cameras on workplaces need a recorded reason.`,
    },
    publicRoad: { rule: 'requires-reason', articles: ['M 3.4'] },
    outdoor: { rule: 'requires-reason', articles: ['M 3.4'] },
    signs: { requiredAtEveryGeneralEntrance: true, articles: ['M 3.2', 'M 7'] },
  },
  cameraSecurity: {
    requirePassword: true,
    requireSecureConnection: true,
    articles: ['M 2.5', 'M 6.2'],
    note: `M requires appropriate technical measures; password and secure connection as the minimum is the ${PRESET_CHOICE.toLowerCase()}`,
  },
  hiddenCameras: {
    allowed: true,
    requiresConcreteSuspicion: true,
    requiresMotivation: true,
    requiresDpiaReference: true,
    requiresEndDate: true,
    maxDurationDays: 30,
    allowedGrounds:
      'Only where necessary after weighing proportionality and subsidiarity, with a written motivation (M 3.3).',
    articles: ['M 3.3', 'GDPR 35'],
    note: `Concrete suspicion, DPIA, end date and the 30-day maximum are the ${PRESET_CHOICE.toLowerCase()} They make M 3.3's necessity test checkable.`,
  },
  dummyCameras: {
    allowed: false,
    articles: [],
    note: `${PRESET_CHOICE} M does not provide for dummies, and its signs announce that recordings are made (M 3.2).`,
  },
  liveView: {
    purposes: ['technical-check'],
    articles: ['M 6.5', 'M 2.2', 'M 3.5'],
    note: `${PRESET_CHOICE} M has no live-view article. Footage is in principle not viewed (M 3.5), so only technical staff see the live image, to check that a camera works (M 6.5, M 2.2).`,
  },
  keyTags: {
    enabled: true,
    articles: ['M 3.5', 'M 3.6', 'M 6.6', 'M 6.7', 'M 7'],
    note: 'Tag users are told about the registration when they receive a tag (M 3.5, M 7).',
  },
} satisfies PolicyInput;
