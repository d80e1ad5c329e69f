/**
 * WoonInvest (Voorburg), "Protocol cameratoezicht", September 2021 ("W").
 * Camera surveillance only; no key tags. Where W is silent, the value is this preset's
 * choice and its `note` says so.
 */
import type { PolicyInput } from '../policy.schema.js';

const PRESET_CHOICE = "Preset's choice: W does not fix this.";

export const wooninvest2021 = {
  id: 'wooninvest-2021',
  name: 'WoonInvest protocol cameratoezicht 2021',
  corporation: 'WoonInvest',
  version: '2021-09',
  source: { title: 'Protocol cameratoezicht WoonInvest', date: '2021-09-01' },
  goals: {
    'protect-persons': { articles: ['W 1'] },
    'protect-property': { articles: ['W 1'] },
    'protect-buildings': { articles: ['W 1'] },
    'record-incidents': { articles: ['W 1'] },
    'feeling-of-safety': { articles: ['W 1'] },
    'recover-damage': { articles: ['W 1'] },
  },
  dataCategories: {
    footage: {
      retention: '72h',
      articles: ['W 6.3'],
      note: 'Overwritten automatically at the latest after 72 hours; longer only while the purpose requires (a hold, W 2.4, W 6.3).',
    },
    logbook: {
      retention: '104w',
      articles: ['GDPR 5(2)'],
      note: `${PRESET_CHOICE} W has no logbook article; the preset keeps one for accountability and keeps it two years so consultations can be checked after complaints (W 8).`,
    },
    'audit-trail': {
      retention: '104w',
      articles: ['GDPR 5(2)', 'GDPR 32'],
      note: `${PRESET_CHOICE} Two years, as long as the logbook it supports.`,
    },
    requests: {
      retention: '52w',
      articles: ['W 4.1', 'GDPR 12', 'GDPR 15'],
      note: `${PRESET_CHOICE} One year after the request, to answer complaints about its handling (W 8).`,
    },
    exports: {
      retention: '72h',
      articles: ['W 6.3', 'W 5.1'],
      note: `${PRESET_CHOICE} Copies are kept no longer than the footage they copy; a hold extends both.`,
    },
  },
  purposes: {
    'incident-assessment': {
      categories: ['footage'],
      requires: 'incident',
      fourEyes: false,
      articles: ['W intro', 'W 2.4', 'W 3.1'],
      note: 'Cameras are read out only when evidence of nuisance or a criminal offence is needed (W intro).',
    },
    'technical-check': {
      categories: ['footage'],
      requires: 'none',
      maxLookback: '24h',
      fourEyes: false,
      articles: ['W 2.7', 'W 6.6'],
      note: `The processor checks that cameras work (W 6.6). maxLookback 24h is the ${PRESET_CHOICE.toLowerCase()}`,
    },
    'subject-access': {
      categories: ['footage'],
      requires: 'request',
      fourEyes: false,
      articles: ['W 4.1', 'W 2.6', 'GDPR 15'],
    },
    disclosure: {
      categories: ['footage'],
      requires: 'disclosure',
      fourEyes: false,
      articles: ['W 5.1', 'W 2.6'],
    },
  },
  roles: [
    {
      id: 'wijkbeheerder',
      name: { nl: 'Wijkbeheerder', en: 'Neighbourhood manager' },
      articles: ['W 2.1', 'W 2.4', 'W 2.6', 'W 6.2'],
      permissions: [
        { purpose: 'incident-assessment', categories: ['footage'] },
        { purpose: 'subject-access', categories: ['footage'] },
        { purpose: 'disclosure', categories: ['footage'] },
      ],
      capabilities: ['secure-footage', 'manage-incidents', 'decide-requests', 'decide-disclosures', 'read-logbook'],
      note: 'The contact person (W 2.1): secures footage (W 2.4) and judges what may be shown to data subjects or given to third parties (W 2.6).',
    },
    {
      id: 'teamleider-leefbaarheid',
      name: { nl: 'Teamleider Leefbaarheid', en: 'Team leader, liveability' },
      articles: ['W 2.1'],
      permissions: [],
      capabilities: ['sign-logbook', 'read-logbook'],
      note: `${PRESET_CHOICE} W has no signing article; the wijkbeheerder works under the teamleider (W 2.1), so the teamleider signs the logbook. No access to footage: W grants none.`,
    },
    {
      id: 'onderhoudsbedrijf',
      name: { nl: 'Onderhoudsbedrijf (verwerker)', en: 'Maintenance company (processor)' },
      articles: ['W 2.7', 'W 6.2', 'W 6.6'],
      permissions: [{ purpose: 'technical-check', categories: ['footage'] }],
      capabilities: ['maintenance-log'],
      note: 'Processor under GDPR 28 (W 2.7); technical reasons only, and logs each check (W 6.6).',
    },
  ],
  deadlines: {
    requestDecisionWorkingDays: null,
    requestLegalMonths: 1,
    requestLegalExtensionMonths: 2,
    logbookFindingDays: 2,
    logbookSignatureDays: 7,
    holdReviewDays: 90,
    incidentOpenWarningDays: 60,
    maintenanceCheckInterval: '1w',
    breachReportHours: 72,
    articles: ['W 4.1', 'GDPR 12(3)', 'GDPR 33(1)', 'W 6.6'],
    note: `W 4.1 refers to the privacy statement and sets no internal decision deadline: only the legal month applies. Logbook, hold-review, incident and maintenance intervals are the ${PRESET_CHOICE.toLowerCase()} A weekly check suits W 6.6 ("regularly") given 72h retention.`,
  },
  fees: {
    firstCopy: { amountCents: 0 },
    furtherCopy: { amountCents: null, justification: 'Reasonable fee based on administrative costs (GDPR 15(3)).' },
    articles: ['W 4.1', 'GDPR 12(5)', 'GDPR 15(3)'],
    note: 'W 4.1 defers to the privacy statement; the preset follows the GDPR: the first copy is free.',
  },
  disclosure: {
    categories: {
      footage: {
        recipients: ['police', 'insurer', 'court-proceedings', 'legitimate-interest-third-party'],
        articles: ['W 5.1', 'W 1'],
      },
    },
    police: {
      requireLegalBasis: true,
      requireOfficerIdentification: true,
      articles: ['W 5.1', 'Sv 126nda'],
      note: `${PRESET_CHOICE} W 5.1 only requires compatibility with the purposes (W 1); the preset applies the same safeguards as M 5.4-5.5.`,
    },
    requireWeighing: true,
    articles: ['W 5.1', 'W 2.6'],
  },
  placement: {
    insideDwelling: { rule: 'forbidden', articles: ['W 3.5'] },
    aimedAtDwellingFrontDoor: { rule: 'forbidden', articles: ['W 3.5'] },
    aimedAtFixedWorkplace: {
      rule: 'forbidden',
      exceptions: ['reception', 'first-floor-emergency-exit', 'district-office'],
      articles: ['W 3.5'],
    },
    publicRoad: { rule: 'requires-reason', articles: ['W 3.6'] },
    outdoor: {
      rule: 'requires-reason',
      articles: ['W 6.1'],
      note: `${PRESET_CHOICE} W 6.1 places cameras in common areas of buildings; outdoor cameras need a recorded reason.`,
    },
    signs: { requiredAtEveryGeneralEntrance: true, articles: ['W 3.2'] },
  },
  cameraSecurity: { requirePassword: true, requireSecureConnection: true, articles: ['W 6.4', 'W 6.5'] },
  hiddenCameras: {
    allowed: true,
    requiresConcreteSuspicion: true,
    requiresMotivation: true,
    requiresDpiaReference: true,
    requiresEndDate: true,
    maxDurationDays: 30,
    allowedGrounds: 'A concrete and reasonable suspicion of theft or fraud by an employee (W 3.4).',
    articles: ['W 3.4', 'GDPR 35'],
    note: `End date and 30-day maximum are the ${PRESET_CHOICE.toLowerCase()} Hidden surveillance must be temporary.`,
  },
  dummyCameras: { allowed: true, articles: ['W 3.3'], note: 'Dummies are used and people are not told (W 3.3).' },
  liveView: {
    purposes: ['technical-check'],
    articles: ['W 6.6', 'W 2.7'],
    note: `${PRESET_CHOICE} W has no live-view article. Cameras are read out only when evidence is needed (W intro), so only the maintenance company sees the live image, to check that cameras work (W 6.6).`,
  },
  keyTags: { enabled: false, articles: [], note: 'W does not register key tags.' },
} satisfies PolicyInput;
