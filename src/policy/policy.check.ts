/**
 * Validates a policy document: structure (Zod), cross-references (errors) and where the law
 * asks more than the protocol (warnings). Pure: no I/O.
 *
 * Errors make a policy unusable. Warnings are legal findings a lawyer should read; they do
 * not block loading, and their codes are stable (part of the API contract).
 */
import type { z } from 'zod';
import {
  DATA_CATEGORIES,
  KEY_TAG_CATEGORIES,
  PURPOSES,
  PURPOSE_SCOPE,
  PolicySchema,
  RECORDED_CATEGORIES,
  type Capability,
  type DataCategory,
  type IncidentRequirement,
  type Policy,
  type Purpose,
} from './policy.schema.js';
import { parseDuration, WEEK } from './policy.rules.js';

export interface PolicyIssue {
  /** Where in the document, e.g. `roles[2].permissions[0].purpose`. */
  path: string;
  /** Stable machine-readable code, e.g. `fee-first-copy`. */
  code: string;
  message: string;
  /** Protocol articles and law the issue rests on, e.g. `M 6.4`, `GDPR 12(5)`. */
  articles: string[];
}

export interface PolicyCheck {
  policy?: Policy;
  errors: PolicyIssue[];
  warnings: PolicyIssue[];
}

/** Categories that must always be defined. Key-tag categories are required only with key tags. */
const ALWAYS_REQUIRED: DataCategory[] = ['footage', 'logbook', 'audit-trail', 'requests', 'exports'];
/** Categories that must be erased automatically: `retention: null` is an error for these. */
const ERASURE_REQUIRED: DataCategory[] = ['footage', 'door-events', 'tag-holders', 'exports'];
/** What each purpose may require before use; anything weaker is an error. */
const ALLOWED_REQUIREMENTS: Record<Purpose, IncidentRequirement[]> = {
  'incident-assessment': ['incident', 'calamity-incident'], // M 3.5: only after an incident
  'incident-handling': ['incident', 'calamity-incident'], // M 6.3
  'technical-check': ['none', 'incident', 'calamity-incident'],
  'tag-function-check': ['none', 'incident', 'calamity-incident'],
  'calamity-witness-search': ['calamity-incident'], // M 3.6
  'subject-access': ['request'], // M 4
  disclosure: ['disclosure'], // M 5, W 5
};
/**
 * The fewest working days any one-month period holds (GDPR 12(3)), computed over 2024-2080
 * with the Dutch holidays of the Algemene termijnenwet plus Good Friday and 5 May, e.g.
 * 23 April → 23 May 2027. Bridging days lower it further.
 */
export const MIN_WORKING_DAYS_IN_ONE_MONTH = 16;
const FOUR_WEEKS = 4 * WEEK;

type Ctx = { errors: PolicyIssue[]; warnings: PolicyIssue[] };
const issue = (path: string, code: string, message: string, articles: string[]): PolicyIssue => ({
  path,
  code,
  message,
  articles,
});

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out || '(root)';
}

const ZOD_CODES: Record<string, string> = {
  invalid_type: 'wrong-type',
  invalid_value: 'invalid-value',
  invalid_format: 'invalid-format',
  too_small: 'out-of-range',
  too_big: 'out-of-range',
};

/** The value at `path` in the raw document (Zod does not report inputs by default). */
function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = doc;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function structuralIssues(doc: unknown, error: z.ZodError): PolicyIssue[] {
  return error.issues.flatMap((zodIssue) => {
    if (zodIssue.code === 'unrecognized_keys') {
      return zodIssue.keys.map((key) =>
        issue(formatPath([...zodIssue.path, key]), 'unknown-field', `Unknown field "${key}"`, []),
      );
    }
    const missing = zodIssue.code === 'invalid_type' && valueAt(doc, zodIssue.path) === undefined;
    const code = missing ? 'missing-field' : (ZOD_CODES[zodIssue.code] ?? 'invalid-field');
    return [issue(formatPath(zodIssue.path), code, missing ? 'Required field is missing' : zodIssue.message, [])];
  });
}

export function checkPolicy(doc: unknown): PolicyCheck {
  const parsed = PolicySchema.safeParse(doc);
  if (!parsed.success) return { errors: structuralIssues(doc, parsed.error), warnings: [] };
  const policy = parsed.data;
  const ctx: Ctx = { errors: [], warnings: [] };
  checkCategories(policy, ctx);
  checkPurposes(policy, ctx);
  checkRoles(policy, ctx);
  checkCapabilities(policy, ctx);
  checkDisclosure(policy, ctx);
  checkDeadlinesAndFees(policy, ctx);
  checkCameras(policy, ctx);
  checkLiveView(policy, ctx);
  return ctx.errors.length ? { errors: ctx.errors, warnings: ctx.warnings } : { policy, ...ctx };
}

function checkCategories(policy: Policy, { errors, warnings }: Ctx): void {
  if (Object.keys(policy.goals).length === 0) {
    errors.push(
      issue('goals', 'no-goals', 'At least one surveillance goal is required', ['W 1', 'M 1', 'GDPR 5(1)(b)']),
    );
  }
  const tags = policy.keyTags.enabled;
  for (const category of [...ALWAYS_REQUIRED, ...(tags ? KEY_TAG_CATEGORIES : [])]) {
    if (!policy.dataCategories[category]) {
      errors.push(
        issue(`dataCategories.${category}`, 'category-missing', `Data category ${category} needs a retention rule`, [
          'GDPR 30(1)(f)',
        ]),
      );
    }
  }
  if (!tags) {
    for (const category of KEY_TAG_CATEGORIES) {
      if (policy.dataCategories[category]) {
        errors.push(
          issue(
            `dataCategories.${category}`,
            'key-tag-category-without-key-tags',
            `${category} is key-tag data but keyTags.enabled is false`,
            ['M 6.6'],
          ),
        );
      }
    }
  }
  for (const category of DATA_CATEGORIES) {
    const rule = policy.dataCategories[category];
    if (!rule) continue;
    const path = `dataCategories.${category}.retention`;
    if (rule.retention === null) {
      if (ERASURE_REQUIRED.includes(category)) {
        errors.push(
          issue(path, 'retention-required', `${category} must be erased automatically`, [
            'W 6.3',
            'M 6.6',
            'M 6.7',
            'GDPR 5(1)(e)',
          ]),
        );
      } else {
        warnings.push(
          issue(
            path,
            'retention-unlimited',
            `${category} is never erased automatically; the record of processing needs an erasure period`,
            ['GDPR 5(1)(e)', 'GDPR 30(1)(f)'],
          ),
        );
      }
      continue;
    }
    const ms = parseDuration(rule.retention);
    if ((category === 'footage' || category === 'door-events') && ms > FOUR_WEEKS && !rule.retentionReason) {
      warnings.push(
        issue(
          path,
          'retention-above-four-weeks',
          `${category} kept ${rule.retention}, longer than four weeks, without a retentionReason`,
          ['AP guidance on camera surveillance', 'GDPR 5(1)(e)'],
        ),
      );
    }
  }
  const footage = policy.dataCategories.footage?.retention;
  const exports = policy.dataCategories.exports?.retention;
  if (footage && (exports === null || (exports && parseDuration(exports) > parseDuration(footage)))) {
    warnings.push(
      issue(
        'dataCategories.exports.retention',
        'exports-outlive-footage',
        `Exports (copies of footage) are kept longer than footage itself (${footage})`,
        ['GDPR 5(1)(e)'],
      ),
    );
  }
}

function checkPurposes(policy: Policy, { errors, warnings }: Ctx): void {
  for (const purpose of PURPOSES) {
    const rule = policy.purposes[purpose];
    if (!rule) continue;
    const scope = PURPOSE_SCOPE[purpose];
    rule.categories.forEach((category, i) => {
      const path = `purposes.${purpose}.categories[${i}]`;
      if (!(scope.categories as readonly string[]).includes(category)) {
        errors.push(
          issue(
            path,
            'purpose-category-out-of-scope',
            `${purpose} can only cover ${scope.categories.join(', ')}, not ${category}`,
            scope.articles,
          ),
        );
      } else if (!policy.dataCategories[category]) {
        errors.push(issue(path, 'purpose-category-undefined', `${category} is not among dataCategories`, []));
      }
    });
    if (!ALLOWED_REQUIREMENTS[purpose].includes(rule.requires)) {
      errors.push(
        issue(
          `purposes.${purpose}.requires`,
          'purpose-requirement-too-weak',
          `${purpose} must require one of: ${ALLOWED_REQUIREMENTS[purpose].join(', ')}`,
          ['M 3.5', 'M 3.6', 'M 4', 'M 5'],
        ),
      );
    }
    if (purpose === 'technical-check' && !rule.maxLookback) {
      warnings.push(
        issue(
          'purposes.technical-check.maxLookback',
          'technical-check-unbounded',
          'Technical checks can see all retained footage; set maxLookback',
          ['M 6.5', 'W 2.7', 'GDPR 5(1)(c)'],
        ),
      );
    }
    if (!policy.roles.some((role) => role.permissions.some((p) => p.purpose === purpose))) {
      warnings.push(issue(`purposes.${purpose}`, 'purpose-unused', `No role holds ${purpose}`, []));
    }
  }
  const access = policy.purposes['subject-access'];
  if (!access?.categories.includes('footage')) {
    errors.push(
      issue(
        'purposes.subject-access',
        'subject-access-missing',
        'The right of access to footage must be implementable',
        ['GDPR 15', 'M 4', 'W 4.1'],
      ),
    );
  } else if (policy.keyTags.enabled && !access.categories.includes('door-events')) {
    warnings.push(
      issue(
        'purposes.subject-access.categories',
        'subject-access-misses-door-events',
        'Tag users may request the data of their own tag',
        ['M 4', 'GDPR 15'],
      ),
    );
  }
}

function checkRoles(policy: Policy, { errors }: Ctx): void {
  const seen = new Set<string>();
  policy.roles.forEach((role, r) => {
    if (seen.has(role.id))
      errors.push(issue(`roles[${r}].id`, 'duplicate-role-id', `Role id ${role.id} is used twice`, []));
    seen.add(role.id);
    const purposesSeen = new Set<Purpose>();
    role.permissions.forEach((permission, p) => {
      const path = `roles[${r}].permissions[${p}]`;
      if (purposesSeen.has(permission.purpose)) {
        errors.push(
          issue(
            `${path}.purpose`,
            'duplicate-permission',
            `${role.id} lists ${permission.purpose} twice; merge the categories`,
            [],
          ),
        );
      }
      purposesSeen.add(permission.purpose);
      const rule = policy.purposes[permission.purpose];
      if (!rule) {
        errors.push(
          issue(
            `${path}.purpose`,
            'permission-purpose-undefined',
            `Purpose ${permission.purpose} is not defined in purposes`,
            [],
          ),
        );
        return;
      }
      permission.categories.forEach((category, c) => {
        if (!rule.categories.includes(category)) {
          errors.push(
            issue(
              `${path}.categories[${c}]`,
              'permission-category-not-in-purpose',
              `${permission.purpose} does not apply to ${category}`,
              rule.articles,
            ),
          );
        }
      });
    });
  });
}

/** Capabilities some role must hold, with the articles that make them necessary. */
const REQUIRED_CAPABILITIES: [Capability, string, string, string[]][] = [
  ['sign-logbook', 'no-logbook-signer', 'Every consultation must be signed by someone', ['M 6.4', 'GDPR 5(2)']],
  [
    'decide-requests',
    'no-request-decider',
    'Someone must decide on data-subject requests',
    ['M 2.6', 'W 2.6', 'GDPR 12(3)'],
  ],
  ['decide-disclosures', 'no-disclosure-decider', 'Someone must decide on disclosures', ['M 2.6', 'W 2.6']],
  ['secure-footage', 'no-footage-securer', 'Someone must be able to secure recordings immediately', ['W 2.4', 'M 2.4']],
];

function checkCapabilities(policy: Policy, { errors, warnings }: Ctx): void {
  const held = new Set(policy.roles.flatMap((role) => role.capabilities));
  for (const [capability, code, message, articles] of REQUIRED_CAPABILITIES) {
    if (!held.has(capability)) errors.push(issue('roles', code, `${message}: no role has ${capability}`, articles));
  }
  const rules = Object.entries(policy.purposes);
  if (
    rules.some(([, rule]) => rule.requires === 'incident' || rule.requires === 'calamity-incident') &&
    !held.has('manage-incidents')
  ) {
    errors.push(
      issue('roles', 'no-incident-manager', 'Purposes require an incident but no role has manage-incidents', ['M 3.5']),
    );
  }
  for (const [purpose, rule] of rules) {
    if (rule.fourEyes && !held.has('approve-access')) {
      errors.push(
        issue(
          `purposes.${purpose}.fourEyes`,
          'four-eyes-without-approver',
          `${purpose} needs approval but no role has approve-access`,
          rule.articles,
        ),
      );
    }
  }
  if (!held.has('maintenance-log')) {
    warnings.push(
      issue('roles', 'no-maintenance-logger', 'Nobody can log the periodic camera checks', ['W 6.6', 'W 2.3', 'M 2.2']),
    );
  }
}

function checkDisclosure(policy: Policy, { errors, warnings }: Ctx): void {
  const { disclosure } = policy;
  let anyRecipient = false;
  let police = false;
  for (const category of RECORDED_CATEGORIES) {
    const rule = disclosure.categories[category];
    if (!rule) continue;
    const path = `disclosure.categories.${category}`;
    if (!policy.dataCategories[category]) {
      errors.push(issue(path, 'disclosure-category-undefined', `${category} is not among dataCategories`, []));
    }
    anyRecipient ||= rule.recipients.length > 0;
    police ||= rule.recipients.includes('police');
    // Access data reveals residents' movements; M 5.7 allows only the police. Applies whenever
    // the category exists (it can only exist with key tags enabled, see checkCategories).
    if (category !== 'footage') {
      rule.recipients.forEach((recipient, i) => {
        if (recipient !== 'police') {
          errors.push(
            issue(
              `${path}.recipients[${i}]`,
              'access-data-disclosure-beyond-police',
              `${category} may be disclosed to the police only`,
              ['M 5.7'],
            ),
          );
        }
      });
    }
  }
  if (anyRecipient && !policy.purposes.disclosure) {
    errors.push(
      issue(
        'purposes.disclosure',
        'disclosure-purpose-missing',
        'Recipients are configured but the disclosure purpose is not defined',
        ['M 5', 'W 5.1'],
      ),
    );
  }
  if (police && !disclosure.police.requireLegalBasis) {
    warnings.push(
      issue(
        'disclosure.police.requireLegalBasis',
        'police-without-legal-basis',
        'Police requests should record their legal basis (code plus text)',
        ['M 5.4', 'Sv 126nda'],
      ),
    );
  }
  if (police && !disclosure.police.requireOfficerIdentification) {
    warnings.push(
      issue(
        'disclosure.police.requireOfficerIdentification',
        'police-without-identification',
        'The officer should identify before footage is handed over',
        ['M 5.5'],
      ),
    );
  }
  if (anyRecipient && !disclosure.requireWeighing) {
    warnings.push(
      issue(
        'disclosure.requireWeighing',
        'disclosure-without-weighing',
        'Disclosures should record the weighing of interests',
        ['M 5.2', 'M 5.6', 'GDPR 6(1)(f)'],
      ),
    );
  }
}

function checkDeadlinesAndFees(policy: Policy, { warnings }: Ctx): void {
  const { deadlines, fees } = policy;
  const days = deadlines.requestDecisionWorkingDays;
  if (days !== null && days > MIN_WORKING_DAYS_IN_ONE_MONTH) {
    warnings.push(
      issue(
        'deadlines.requestDecisionWorkingDays',
        'request-deadline-above-legal',
        `${days} working days can exceed the legal one month (as few as ${MIN_WORKING_DAYS_IN_ONE_MONTH} working days)`,
        ['GDPR 12(3)'],
      ),
    );
  }
  if (deadlines.requestLegalMonths > 1 || deadlines.requestLegalExtensionMonths > 2) {
    warnings.push(
      issue(
        'deadlines.requestLegalMonths',
        'request-legal-deadline-not-gdpr',
        'The legal deadline is one month, extendable by at most two',
        ['GDPR 12(3)'],
      ),
    );
  }
  if (deadlines.breachReportHours > 72) {
    warnings.push(
      issue(
        'deadlines.breachReportHours',
        'breach-deadline-above-legal',
        'A personal data breach is reported to the AP within 72 hours',
        ['GDPR 33(1)'],
      ),
    );
  }
  if (deadlines.holdReviewDays > 90) {
    warnings.push(
      issue(
        'deadlines.holdReviewDays',
        'hold-review-above-90-days',
        'Holds should be reviewed at least every 90 days (a preservation order lasts at most 90 days)',
        ['Sv 126ni', 'GDPR 5(1)(e)'],
      ),
    );
  }
  if (fees.firstCopy.amountCents !== 0) {
    const amount =
      fees.firstCopy.amountCents === null ? 'cost price (amount not fixed)' : `${fees.firstCopy.amountCents} cents`;
    warnings.push(
      issue(
        'fees.firstCopy.amountCents',
        'fee-first-copy',
        `The first copy is charged (${amount}); under the GDPR it is free, a fee is allowed only for further copies or manifestly unfounded or excessive requests, with a recorded justification`,
        ['GDPR 12(5)', 'GDPR 15(3)', ...fees.articles],
      ),
    );
  }
}

function checkCameras(policy: Policy, { warnings }: Ctx): void {
  const { placement, hiddenCameras: hidden, cameraSecurity } = policy;
  const warn = (path: string, code: string, message: string, articles: string[]) =>
    warnings.push(issue(path, code, message, articles));
  if (placement.insideDwelling.rule !== 'forbidden') {
    warn(
      'placement.insideDwelling.rule',
      'placement-inside-dwelling-not-forbidden',
      'Cameras inside dwellings must be forbidden',
      ['W 3.5', 'GDPR 5(1)(c)'],
    );
  }
  if (placement.publicRoad.rule === 'allowed') {
    warn(
      'placement.publicRoad.rule',
      'public-road-unrestricted',
      'The public road may be filmed only where unavoidable, with a recorded reason',
      ['W 3.6', 'M 3.4'],
    );
  }
  if (placement.outdoor.rule === 'allowed') {
    warn(
      'placement.outdoor.rule',
      'outdoor-unrestricted',
      'Outdoor surveillance only where necessary, with a recorded reason',
      ['M 3.4'],
    );
  }
  if (placement.aimedAtFixedWorkplace.rule === 'allowed') {
    warn(
      'placement.aimedAtFixedWorkplace.rule',
      'workplace-unrestricted',
      'Cameras aimed at fixed workplaces monitor staff; restrict them',
      ['W 3.5', 'GDPR 5(1)(c)'],
    );
  }
  if (!placement.signs.requiredAtEveryGeneralEntrance) {
    warn(
      'placement.signs.requiredAtEveryGeneralEntrance',
      'signs-not-required',
      'People must be told about cameras at every general entrance',
      ['W 3.2', 'M 3.2', 'GDPR 13'],
    );
  }
  if (!cameraSecurity.requirePassword || !cameraSecurity.requireSecureConnection) {
    warn('cameraSecurity', 'camera-security-weak', 'Network cameras need at least a password and a secure connection', [
      'W 6.4',
      'GDPR 32',
    ]);
  }
  if (hidden.allowed) {
    if (!hidden.requiresDpiaReference)
      warn('hiddenCameras.requiresDpiaReference', 'hidden-cameras-without-dpia', 'Hidden cameras need a prior DPIA', [
        'W 3.4',
        'GDPR 35',
      ]);
    if (!hidden.requiresConcreteSuspicion)
      warn(
        'hiddenCameras.requiresConcreteSuspicion',
        'hidden-cameras-without-suspicion',
        'Hidden cameras need a concrete, reasonable suspicion',
        ['W 3.4', 'M 3.3'],
      );
    if (!hidden.requiresEndDate && hidden.maxDurationDays === null)
      warn('hiddenCameras.requiresEndDate', 'hidden-cameras-without-end-date', 'Hidden cameras must be temporary', [
        'M 3.3',
        'GDPR 5(1)(c)',
      ]);
  }
  if (!policy.dpiaReference) {
    warn('dpiaReference', 'no-dpia-reference', 'Systematic camera monitoring requires a DPIA; record its reference', [
      'GDPR 35',
      'AP list of mandatory DPIAs',
    ]);
  }
}

/**
 * Live view is watching as things happen, while footage is in principle viewed only after an
 * incident (M 3.5, W intro): anything beyond technical checks (M 6.5, W 6.6) is a warning.
 */
function checkLiveView(policy: Policy, { warnings }: Ctx): void {
  policy.liveView?.purposes.forEach((purpose, i) => {
    const path = `liveView.purposes[${i}]`;
    if (!policy.purposes[purpose]?.categories.includes('footage')) {
      warnings.push(issue(path, 'live-view-purpose-without-footage', `${purpose} does not cover footage here`, []));
    } else if (purpose !== 'technical-check') {
      warnings.push(
        issue(
          path,
          'live-view-monitoring',
          `Live view for ${purpose} means watching people as they pass; footage is viewed only after an incident`,
          ['M 3.5', 'M 6.5', 'W 6.6', 'GDPR 5(1)(c)'],
        ),
      );
    }
  });
}
