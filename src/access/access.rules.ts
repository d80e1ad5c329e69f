/**
 * The gate's decisions as pure functions: no I/O, no clock, no database. The service gathers
 * the facts (linked incident, request, disclosure, which cameras and doors exist) and asks
 * `decideAccess`; data routes ask `checkGrantNeed` through the service.
 *
 * Article references: see /work/shared/protocols/README.md (M = MaasWonen 2024, W = WoonInvest 2021).
 */
import { MINUTE } from '../lib/clock.js';
import {
  allowedRecipients,
  isAllowed,
  maxLookbackMs,
  PURPOSE_SCOPE,
  PURPOSES,
  purposeRule,
  RECORDED_CATEGORIES,
  requiresFourEyes,
  type Policy,
  type Purpose,
  type RecordedCategory,
} from '../policy/index.js';

/**
 * How long a grant lives. The policy has no setting for this, so it is a named constant:
 * long enough to look at a short stretch of footage, short enough that a leaked token is
 * nearly worthless. Data routes re-check it on every call.
 */
export const GRANT_TTL_MS = 15 * MINUTE;

/** An approved four-eyes request must be collected within this time, or asked for again. */
export const APPROVAL_CLAIM_WINDOW_MS = 24 * 60 * MINUTE;

/** Reasons a request for access is refused. Stable: part of the API (`details.reason`). */
export const REFUSAL_REASONS = [
  'purpose-unknown', // not a purpose Protocam knows: e.g. supporting an accusation (M 3.6)
  'purpose-not-in-policy', // a known purpose this policy does not use
  'category-unknown', // not a category of recorded personal data
  'category-not-in-policy', // e.g. door-events without key tags (W)
  'purpose-category-mismatch', // the purpose never covers this category (M 3.5, M 3.6)
  'role-not-allowed', // none of the user's roles may use this purpose on this category
  'reason-missing', // M 6.4: every consultation has a reason
  'scope-invalid', // the scope does not fit the category (cameras for footage, doors/tag for access data)
  'window-invalid', // unbounded, reversed, or beyond what can exist yet
  'lookback-exceeded', // e.g. technical-check sees recent footage only (M 6.5)
  'camera-unknown',
  'door-unknown',
  'incident-required',
  'incident-not-found',
  'incident-closed',
  'calamity-incident-required', // M 3.6
  'request-required',
  'request-not-found',
  'request-not-usable',
  'request-tag-mismatch', // M 4: key-tag data only of one's own tag
  'disclosure-required',
  'disclosure-not-found',
  'disclosure-not-usable',
  'disclosure-recipient-not-allowed', // M 5.7: key-tag data only to the police
  'rejected-by-approver', // four-eyes: the second person said no
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Incident statuses in which footage may still be consulted for it. */
export const USABLE_INCIDENT_STATUSES = ['open', 'handled'] as const;
/** Request / disclosure statuses in which their data may be consulted (allow-list: unknown means no). */
export const USABLE_REQUEST_STATUSES = ['open', 'in-progress', 'granted'] as const;
export const USABLE_DISCLOSURE_STATUSES = ['open', 'in-progress', 'approved'] as const;

export const TAG_PATTERN = /^[A-Za-z0-9:_-]{1,64}$/;

export interface Scope {
  cameraIds?: string[];
  doorIds?: string[];
  tag?: string;
}

/** What a caller asks for; purpose and category are free strings so unknown ones can be refused and logged. */
export interface AccessAsk {
  category: string;
  purpose: string;
  scope: Scope;
  from: number;
  to: number;
  reason: string;
  incidentId?: string | null;
  requestId?: string | null;
  disclosureId?: string | null;
}

/** What the service looked up for the decision. `null` = linked id given but not found. */
export interface AccessFacts {
  now: number;
  missingCameraIds: string[];
  missingDoorIds: string[];
  incident?: { kind: string; status: string } | null;
  request?: { status: string; subjectTag: string | null } | null;
  disclosure?: { status: string; recipientKind: string } | null;
}

export type AccessDecision =
  | { allowed: true; purpose: Purpose; category: RecordedCategory; scope: Scope; fourEyes: boolean }
  | { allowed: false; reason: RefusalReason; message: string; articles: string[] };

const refuse = (reason: RefusalReason, message: string, articles: string[] = []): AccessDecision => ({
  allowed: false,
  reason,
  message,
  articles,
});

const isPurpose = (value: string): value is Purpose => (PURPOSES as readonly string[]).includes(value);
const isRecordedCategory = (value: string): value is RecordedCategory =>
  (RECORDED_CATEGORIES as readonly string[]).includes(value);
const KEY_TAG = new Set<string>(['door-events', 'tag-holders']);

/** Sorted, de-duplicated ids; absent when empty: the same scope always encodes the same way. */
export function normaliseScope(scope: Scope): Scope {
  const out: Scope = {};
  const ids = (list: string[] | undefined) => [...new Set(list ?? [])].sort();
  const cameras = ids(scope.cameraIds);
  const doors = ids(scope.doorIds);
  if (cameras.length) out.cameraIds = cameras;
  if (doors.length) out.doorIds = doors;
  if (scope.tag !== undefined && scope.tag !== '') out.tag = scope.tag;
  return out;
}

/** Shape of the scope for a category: footage names cameras; door events name doors and/or a tag; tag holders a tag. */
function scopeProblem(category: RecordedCategory, scope: Scope): string | null {
  const cams = scope.cameraIds?.length ?? 0;
  const doors = scope.doorIds?.length ?? 0;
  const tag = scope.tag !== undefined;
  if (tag && !TAG_PATTERN.test(scope.tag ?? '')) return 'the tag must be 1-64 letters, digits, ":", "_" or "-"';
  switch (category) {
    case 'footage':
      if (cams === 0) return 'footage access must name the cameras';
      if (doors > 0 || tag) return 'footage access names cameras only';
      return null;
    case 'door-events':
      if (cams > 0) return 'door-event access names doors and/or a tag, not cameras';
      if (doors === 0 && !tag) return 'door-event access must name doors or a tag';
      return null;
    case 'tag-holders':
      if (cams > 0 || doors > 0) return 'a tag-holder look-up names one tag only';
      if (!tag) return 'a tag-holder look-up must name the tag';
      return null;
  }
}

/**
 * The gate's decision: role x purpose x category from the policy, then the scope against the
 * purpose, then what the purpose requires to exist. The first failing check is the reason.
 */
export function decideAccess(
  policy: Policy,
  roles: readonly string[],
  ask: AccessAsk,
  facts: AccessFacts,
): AccessDecision {
  if (!isPurpose(ask.purpose)) {
    return refuse(
      'purpose-unknown',
      `"${ask.purpose}" is not a purpose for consulting recorded data. There is no purpose for supporting or proving accusations.`,
      ['M 3.1', 'M 3.6', 'W 3.1'],
    );
  }
  const purpose = ask.purpose;
  const rule = purposeRule(policy, purpose);
  if (!rule) return refuse('purpose-not-in-policy', `Policy ${policy.id} does not provide for the purpose ${purpose}`);
  if (!isRecordedCategory(ask.category)) {
    return refuse('category-unknown', `"${ask.category}" is not a category of recorded personal data`);
  }
  const category = ask.category;
  if (!policy.dataCategories[category]) {
    return refuse('category-not-in-policy', `Policy ${policy.id} does not store ${category}`, policy.keyTags.articles);
  }
  if (!PURPOSE_SCOPE[purpose].categories.includes(category) || !rule.categories.includes(category)) {
    return refuse('purpose-category-mismatch', `The purpose ${purpose} never covers ${category}`, [
      ...PURPOSE_SCOPE[purpose].articles,
      ...rule.articles,
    ]);
  }
  if (!isAllowed(policy, roles, purpose, category)) {
    return refuse('role-not-allowed', `None of your roles may use ${purpose} on ${category}`, rule.articles);
  }
  if (ask.reason.trim().length === 0)
    return refuse('reason-missing', 'Give the reason for this consultation', ['M 6.4']);

  const scope = normaliseScope(ask.scope);
  const shape = scopeProblem(category, scope);
  if (shape) return refuse('scope-invalid', shape);

  if (!Number.isFinite(ask.from) || !Number.isFinite(ask.to) || ask.from >= ask.to) {
    return refuse('window-invalid', 'The time window must have a start before its end');
  }
  // Live viewing may run to the end of the grant; nothing later than that can exist yet.
  if (ask.to > facts.now + GRANT_TTL_MS) return refuse('window-invalid', 'The time window lies in the future');
  const lookback = maxLookbackMs(policy, purpose);
  if (lookback !== null && ask.from < facts.now - lookback) {
    return refuse(
      'lookback-exceeded',
      `The purpose ${purpose} may look back at most ${rule.maxLookback ?? ''} from now`,
      rule.articles,
    );
  }
  if (facts.missingCameraIds.length)
    return refuse('camera-unknown', `Unknown camera(s): ${facts.missingCameraIds.join(', ')}`);
  if (facts.missingDoorIds.length) return refuse('door-unknown', `Unknown door(s): ${facts.missingDoorIds.join(', ')}`);

  // Links given are always checked, so the logbook never refers to something that does not exist.
  if (ask.incidentId && facts.incident === null)
    return refuse('incident-not-found', 'The linked incident does not exist');
  if (ask.requestId && facts.request === null) return refuse('request-not-found', 'The linked request does not exist');
  if (ask.disclosureId && facts.disclosure === null) {
    return refuse('disclosure-not-found', 'The linked disclosure does not exist');
  }

  switch (rule.requires) {
    case 'none':
      break;
    case 'incident':
    case 'calamity-incident': {
      const incident = facts.incident;
      if (!ask.incidentId || !incident) {
        return rule.requires === 'calamity-incident'
          ? refuse('calamity-incident-required', `${purpose} needs a linked calamity incident`, rule.articles)
          : refuse('incident-required', `${purpose} needs a linked incident`, rule.articles);
      }
      if (!(USABLE_INCIDENT_STATUSES as readonly string[]).includes(incident.status)) {
        return refuse('incident-closed', 'The linked incident is closed', rule.articles);
      }
      if (rule.requires === 'calamity-incident' && incident.kind !== 'calamity') {
        return refuse('calamity-incident-required', `${purpose} is only for a calamity (M 3.6)`, rule.articles);
      }
      break;
    }
    case 'request': {
      const request = facts.request;
      if (!ask.requestId || !request)
        return refuse('request-required', `${purpose} needs a linked request`, rule.articles);
      if (!(USABLE_REQUEST_STATUSES as readonly string[]).includes(request.status)) {
        return refuse('request-not-usable', `The linked request is ${request.status}`, rule.articles);
      }
      if (KEY_TAG.has(category) && (request.subjectTag === null || scope.tag !== request.subjectTag || scope.doorIds)) {
        return refuse('request-tag-mismatch', 'Key-tag data is given only for the data subject’s own tag', ['M 4']);
      }
      break;
    }
    case 'disclosure': {
      const disclosure = facts.disclosure;
      if (!ask.disclosureId || !disclosure) {
        return refuse('disclosure-required', `${purpose} needs a linked disclosure`, rule.articles);
      }
      if (!(USABLE_DISCLOSURE_STATUSES as readonly string[]).includes(disclosure.status)) {
        return refuse('disclosure-not-usable', `The linked disclosure is ${disclosure.status}`, rule.articles);
      }
      const recipients: string[] = allowedRecipients(policy, category);
      if (!recipients.includes(disclosure.recipientKind)) {
        return refuse(
          'disclosure-recipient-not-allowed',
          `${category} may not be disclosed to ${disclosure.recipientKind}`,
          policy.disclosure.categories[category]?.articles ?? policy.disclosure.articles,
        );
      }
      break;
    }
  }
  return { allowed: true, purpose, category, scope, fourEyes: requiresFourEyes(policy, purpose) };
}

// --- grants ---------------------------------------------------------------------------------

export interface GrantScope {
  category: string;
  purpose: string;
  scope: Scope;
  from: number;
  to: number;
}

/** What a data route wants to read with a grant: one camera / door / tag, at an instant or over a span. */
export interface GrantNeed {
  category: RecordedCategory;
  /** The purposes the data route serves; a grant for any other purpose does not open it. */
  purposes?: readonly string[];
  cameraId?: string;
  doorId?: string;
  tag?: string;
  at?: number;
  from?: number;
  to?: number;
}

/**
 * Null when the need lies inside the grant; otherwise what lies outside. Every dimension the
 * grant restricts must be named by the need (a grant for two cameras does not serve "all").
 */
export function grantNeedProblem(grant: GrantScope, need: GrantNeed): string | null {
  if (need.category !== grant.category) return 'category';
  if (need.purposes && !need.purposes.includes(grant.purpose)) return 'purpose';
  const { scope } = grant;
  if (scope.cameraIds && (need.cameraId === undefined || !scope.cameraIds.includes(need.cameraId))) return 'camera';
  if (!scope.cameraIds && need.cameraId !== undefined) return 'camera';
  if (scope.doorIds && (need.doorId === undefined || !scope.doorIds.includes(need.doorId))) return 'door';
  if (!scope.doorIds && need.doorId !== undefined) return 'door';
  if (scope.tag !== undefined && need.tag !== scope.tag) return 'tag';
  if (scope.tag === undefined && need.tag !== undefined) return 'tag';
  if (need.at !== undefined) {
    if (need.from !== undefined || need.to !== undefined) return 'time';
    return need.at >= grant.from && need.at <= grant.to ? null : 'time';
  }
  if (need.from === undefined || need.to === undefined || need.from > need.to) return 'time';
  return need.from >= grant.from && need.to <= grant.to ? null : 'time';
}
