/**
 * The policy document: a corporation's camera and key-tag protocol as data.
 *
 * The vocabularies below are fixed because code implements their meaning (what a purpose
 * lets you see, which capability gates which action). A policy chooses from them; it cannot
 * invent new ones. Every object is strict: an unknown (e.g. misspelt) field is an error.
 *
 * Article references: `W 6.3` = WoonInvest 2021 art. 6.3, `M 4` = MaasWonen 2024 art. 4
 * (see /work/shared/protocols/README.md).
 */
import { z } from 'zod';

/** Kinds of data Protocam stores. Retention is set per category (GDPR 30(1)(f)). */
export const DATA_CATEGORIES = [
  'footage', // camera recordings (W 6.1, M 6.1)
  'door-events', // key-tag openings: tag, door, time (M 6.6)
  'tag-holders', // which person holds which tag: the indirect link (M 6.6)
  'logbook', // consultations with reason, finding, date, signature (M 6.4)
  'audit-trail', // the system's own record of every action
  'requests', // data-subject requests and their handling (M 4, GDPR 15)
  'exports', // copies made for data subjects or third parties (M 4, M 5)
] as const;
export type DataCategory = (typeof DATA_CATEGORIES)[number];

/** Categories holding recorded personal data of residents and visitors: what purposes apply to. */
export const RECORDED_CATEGORIES = ['footage', 'door-events', 'tag-holders'] as const satisfies readonly DataCategory[];
export type RecordedCategory = (typeof RECORDED_CATEGORIES)[number];

/** Categories that only exist when key-tag registration is enabled (M only). */
export const KEY_TAG_CATEGORIES = ['door-events', 'tag-holders'] as const satisfies readonly DataCategory[];

/**
 * Reasons for which recorded data may be consulted. There is deliberately no purpose for
 * supporting or proving accusations: M 3.6 forbids using access data for that.
 */
export const PURPOSES = [
  'incident-assessment', // view footage after an incident (M 3.5, M 6.3)
  'incident-handling', // managers and lawyers, when needed to handle an incident (M 6.3)
  'technical-check', // technical reasons only, recent footage (M 6.5, W 2.7, W 6.6)
  'tag-function-check', // does an issued tag work properly (M 3.5)
  'calamity-witness-search', // approach tag users as witnesses in a calamity (M 3.6)
  'subject-access', // a data subject's own data (M 4, GDPR 15)
  'disclosure', // provision to a third party (M 5, W 5)
] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Display names, Dutch and English. Fixed with the vocabulary so a policy cannot relabel them. */
export const PURPOSE_LABELS: Record<Purpose, { nl: string; en: string }> = {
  'incident-assessment': { nl: 'Beoordelen van een incident', en: 'Incident assessment' },
  'incident-handling': { nl: 'Afhandelen van een incident', en: 'Incident handling' },
  'technical-check': { nl: 'Technische controle', en: 'Technical check' },
  'tag-function-check': { nl: 'Controle werking sleuteltag', en: 'Key-tag function check' },
  'calamity-witness-search': { nl: 'Getuigen zoeken bij calamiteit', en: 'Calamity witness search' },
  'subject-access': { nl: 'Inzage door betrokkene', en: 'Subject access' },
  disclosure: { nl: 'Verstrekking aan derden', en: 'Disclosure to third parties' },
};

/**
 * Which categories a purpose can ever cover. Access data (door-events, tag-holders) is
 * consulted only to check a tag (M 3.5), to find witnesses in a calamity (M 3.6), for the
 * data subject's own tag (M 4) and for the police (M 5.7); never to assess incidents.
 */
export const PURPOSE_SCOPE: Record<Purpose, { categories: readonly RecordedCategory[]; articles: string[] }> = {
  'incident-assessment': { categories: ['footage'], articles: ['M 3.5', 'M 6.3'] },
  'incident-handling': { categories: ['footage'], articles: ['M 6.3'] },
  'technical-check': { categories: ['footage'], articles: ['M 6.5', 'W 6.6'] },
  'tag-function-check': { categories: ['door-events', 'tag-holders'], articles: ['M 3.5'] },
  'calamity-witness-search': { categories: ['door-events', 'tag-holders'], articles: ['M 3.6'] },
  'subject-access': { categories: ['footage', 'door-events', 'tag-holders'], articles: ['M 4'] },
  disclosure: { categories: ['footage', 'door-events', 'tag-holders'], articles: ['M 5', 'M 5.7', 'W 5.1'] },
};

/** What a camera is for (W 1, M 1). Recordings are used only for these (W 3.1, M 3.1). */
export const SURVEILLANCE_GOALS = [
  'protect-persons',
  'protect-property',
  'protect-buildings',
  'record-incidents',
  'feeling-of-safety',
  'recover-damage',
] as const;
export type SurveillanceGoal = (typeof SURVEILLANCE_GOALS)[number];

/** Actions a role may take that are not viewing data for a purpose. */
export const CAPABILITIES = [
  'sign-logbook', // M 6.4
  'read-logbook',
  'decide-requests', // M 2.6, W 2.6
  'decide-disclosures', // M 2.6, W 2.6
  'secure-footage', // create holds (W 2.4, M 2.4)
  'manage-incidents',
  'approve-access', // second pair of eyes for purposes with fourEyes
  'maintenance-log', // W 6.6
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const RECIPIENT_KINDS = ['police', 'insurer', 'court-proceedings', 'legitimate-interest-third-party'] as const;
export type RecipientKind = (typeof RECIPIENT_KINDS)[number];

/** What must exist before a purpose may be used. */
export const INCIDENT_REQUIREMENTS = ['none', 'incident', 'calamity-incident', 'request', 'disclosure'] as const;
export type IncidentRequirement = (typeof INCIDENT_REQUIREMENTS)[number];

/** Fixed workplaces a camera may be aimed at for staff safety (W 3.5b). */
export const WORKPLACE_EXCEPTIONS = ['reception', 'first-floor-emergency-exit', 'district-office'] as const;

export const PLACEMENT_RULES = ['forbidden', 'requires-reason', 'allowed'] as const;

/** `72h`, `28d`, `4w`; units m(inutes), h(ours), d(ays), w(eeks). Months are ambiguous, so absent. */
export const DURATION_PATTERN = /^([1-9][0-9]*)(m|h|d|w)$/;
const Duration = z.string().regex(DURATION_PATTERN, 'expected a duration like 72h, 28d or 4w (units m, h, d, w)');
const Articles = z.array(z.string().min(1));
const RoleId = z.string().regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'expected a kebab-case id like huismeester');
const Label = z.strictObject({ nl: z.string().min(1), en: z.string().min(1) });

const CategoryRule = z.strictObject({
  /** `null` = no automatic erasure; allowed only for logbook, audit-trail and requests (checked). */
  retention: Duration.nullable(),
  retentionReason: z.string().min(1).optional(),
  articles: Articles,
  note: z.string().optional(),
});

const PurposeRule = z.strictObject({
  categories: z.array(z.enum(DATA_CATEGORIES)).min(1),
  requires: z.enum(INCIDENT_REQUIREMENTS),
  /** How far back from now the purpose may look (e.g. technical checks see recent footage only). */
  maxLookback: Duration.optional(),
  /** A second person with `approve-access` must approve before access. */
  fourEyes: z.boolean(),
  articles: Articles,
  note: z.string().optional(),
});

const Permission = z.strictObject({
  purpose: z.enum(PURPOSES),
  categories: z.array(z.enum(DATA_CATEGORIES)).min(1),
});

const Role = z.strictObject({
  id: RoleId,
  name: Label,
  articles: Articles,
  permissions: z.array(Permission),
  capabilities: z.array(z.enum(CAPABILITIES)),
  note: z.string().optional(),
});

const Fee = z.strictObject({
  /** 0 = free; a number = fixed amount; null = "cost price", amount not fixed in advance. */
  amountCents: z.number().int().nonnegative().nullable(),
  justification: z.string().min(1).optional(),
});

const PlacementRule = z.strictObject({
  rule: z.enum(PLACEMENT_RULES),
  exceptions: z.array(z.enum(WORKPLACE_EXCEPTIONS)).optional(),
  articles: Articles,
  note: z.string().optional(),
});

/** Which purposes may watch the most recent footage as it is recorded (live view). */
const LiveView = z.strictObject({
  purposes: z.array(z.enum(PURPOSES)),
  articles: Articles,
  note: z.string().optional(),
});

const DisclosureCategory = z.strictObject({
  recipients: z.array(z.enum(RECIPIENT_KINDS)),
  articles: Articles,
});

export const PolicySchema = z.strictObject({
  id: RoleId,
  name: z.string().min(1),
  corporation: z.string().min(1),
  version: z.string().min(1),
  source: z.strictObject({ title: z.string().min(1), date: z.iso.date() }),
  goals: z.partialRecord(z.enum(SURVEILLANCE_GOALS), z.strictObject({ articles: Articles })),
  dataCategories: z.partialRecord(z.enum(DATA_CATEGORIES), CategoryRule),
  purposes: z.partialRecord(z.enum(PURPOSES), PurposeRule),
  roles: z.array(Role).min(1),
  deadlines: z.strictObject({
    /** Internal decision deadline on a data-subject request; null = only the legal month. */
    requestDecisionWorkingDays: z.number().int().positive().nullable(),
    requestLegalMonths: z.number().int().positive().default(1), // GDPR 12(3)
    requestLegalExtensionMonths: z.number().int().nonnegative().default(2), // GDPR 12(3)
    logbookFindingDays: z.number().int().positive(),
    logbookSignatureDays: z.number().int().positive(),
    holdReviewDays: z.number().int().positive().default(90),
    incidentOpenWarningDays: z.number().int().positive(),
    maintenanceCheckInterval: Duration,
    breachReportHours: z.number().int().positive().default(72), // GDPR 33(1)
    articles: Articles,
    note: z.string().optional(),
  }),
  fees: z.strictObject({ firstCopy: Fee, furtherCopy: Fee, articles: Articles, note: z.string().optional() }),
  disclosure: z.strictObject({
    categories: z.partialRecord(z.enum(RECORDED_CATEGORIES), DisclosureCategory),
    police: z.strictObject({
      requireLegalBasis: z.boolean(),
      requireOfficerIdentification: z.boolean(),
      articles: Articles,
      note: z.string().optional(),
    }),
    /** Privacy of those on the footage is weighed against the recipient's interest (M 5.2, M 5.6). */
    requireWeighing: z.boolean(),
    articles: Articles,
  }),
  placement: z.strictObject({
    insideDwelling: PlacementRule,
    aimedAtDwellingFrontDoor: PlacementRule,
    aimedAtFixedWorkplace: PlacementRule,
    publicRoad: PlacementRule,
    outdoor: PlacementRule,
    signs: z.strictObject({ requiredAtEveryGeneralEntrance: z.boolean(), articles: Articles }),
  }),
  cameraSecurity: z.strictObject({
    requirePassword: z.boolean(),
    requireSecureConnection: z.boolean(),
    articles: Articles,
    note: z.string().optional(),
  }),
  hiddenCameras: z.strictObject({
    allowed: z.boolean(),
    requiresConcreteSuspicion: z.boolean(),
    requiresMotivation: z.boolean(),
    requiresDpiaReference: z.boolean(),
    requiresEndDate: z.boolean(),
    maxDurationDays: z.number().int().positive().nullable(),
    allowedGrounds: z.string(),
    articles: Articles,
    note: z.string().optional(),
  }),
  dummyCameras: z.strictObject({ allowed: z.boolean(), articles: Articles, note: z.string().optional() }),
  /** Reference to the DPIA covering this processing (GDPR 35). */
  dpiaReference: z.string().min(1).optional(),
  keyTags: z.strictObject({ enabled: z.boolean(), articles: Articles, note: z.string().optional() }),
  /** Live view (issue 4); absent = no live view for anyone. */
  liveView: LiveView.optional(),
});

/** A validated policy (defaults applied). */
export type Policy = z.output<typeof PolicySchema>;
/** What a preset or file author writes (defaults may be omitted). */
export type PolicyInput = z.input<typeof PolicySchema>;
export type Role = Policy['roles'][number];
export type Permission = Role['permissions'][number];
export type PurposeRule = z.output<typeof PurposeRule>;
export type CategoryRule = z.output<typeof CategoryRule>;
