/**
 * Pure queries on a validated policy. The rest of Protocam asks these instead of
 * hard-coding a role, a purpose or a period.
 */
import { DAY, HOUR, MINUTE } from '../lib/clock.js';
import { invalid } from '../lib/errors.js';
import {
  DURATION_PATTERN,
  PURPOSE_LABELS,
  RECORDED_CATEGORIES,
  type Capability,
  type DataCategory,
  type Permission,
  type Policy,
  type Purpose,
  type PurposeRule,
  type RecipientKind,
  type RecordedCategory,
} from './policy.schema.js';

export const WEEK = 7 * DAY;
const UNIT_MS = { m: MINUTE, h: HOUR, d: DAY, w: WEEK } as const;

/** `'72h'` → 259 200 000. Units m, h, d, w. Throws `duration-invalid` otherwise. */
export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) throw invalid('duration-invalid', `Invalid duration "${text}": expected e.g. 72h, 28d or 4w`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/**
 * Retention of a category in ms, or `null` for "no automatic erasure".
 * Throws `policy-category-missing` for a category the policy does not define (e.g.
 * door-events under a policy without key tags): never silently "keep forever".
 */
export function retentionMs(policy: Policy, category: DataCategory): number | null {
  const rule = policy.dataCategories[category];
  if (!rule) throw invalid('policy-category-missing', `Policy ${policy.id} does not define data category ${category}`);
  return rule.retention === null ? null : parseDuration(rule.retention);
}

/** The categories this policy stores (door-events and tag-holders only with key tags). */
export function categoriesOf(policy: Policy): DataCategory[] {
  return Object.keys(policy.dataCategories) as DataCategory[];
}

export function purposeRule(policy: Policy, purpose: Purpose): PurposeRule | undefined {
  return policy.purposes[purpose];
}

/** How far back a purpose may look, in ms; null when unlimited (within retention). */
export function maxLookbackMs(policy: Policy, purpose: Purpose): number | null {
  const lookback = policy.purposes[purpose]?.maxLookback;
  return lookback === undefined ? null : parseDuration(lookback);
}

export function requiresFourEyes(policy: Policy, purpose: Purpose): boolean {
  return policy.purposes[purpose]?.fourEyes ?? false;
}

export function roleIds(policy: Policy): string[] {
  return policy.roles.map((role) => role.id);
}

function rolesOf(policy: Policy, ids: readonly string[]) {
  return policy.roles.filter((role) => ids.includes(role.id));
}

function permits(permission: Permission, purpose: Purpose, category: DataCategory): boolean {
  return permission.purpose === purpose && permission.categories.includes(category);
}

/** Ids of roles that may use `purpose` on `category`; empty if the purpose does not cover it. */
export function rolesAllowing(policy: Policy, purpose: Purpose, category: DataCategory): string[] {
  if (!policy.purposes[purpose]?.categories.includes(category)) return [];
  return policy.roles
    .filter((role) => role.permissions.some((permission) => permits(permission, purpose, category)))
    .map((role) => role.id);
}

/** True if any of `roleIdList` may use `purpose` on `category` under this policy. */
export function isAllowed(
  policy: Policy,
  roleIdList: readonly string[],
  purpose: Purpose,
  category: DataCategory,
): boolean {
  const allowing = rolesAllowing(policy, purpose, category);
  return roleIdList.some((id) => allowing.includes(id));
}

/**
 * True if the roles can see recorded personal data (footage, door-events, tag-holders) for
 * any purpose. Such users must use a second factor (TOTP).
 */
export function canSeePersonalData(policy: Policy, roleIdList: readonly string[]): boolean {
  return rolesOf(policy, roleIdList).some((role) =>
    role.permissions.some((permission) =>
      permission.categories.some((category) => (RECORDED_CATEGORIES as readonly string[]).includes(category)),
    ),
  );
}

export function hasCapability(policy: Policy, roleIdList: readonly string[], capability: Capability): boolean {
  return rolesOf(policy, roleIdList).some((role) => role.capabilities.includes(capability));
}

/** Recipient kinds to which `category` may be disclosed (M 5, M 5.7, W 5.1). */
export function allowedRecipients(policy: Policy, category: RecordedCategory): RecipientKind[] {
  return [...(policy.disclosure.categories[category]?.recipients ?? [])];
}

export interface RoleDescription {
  id: string;
  name: { nl: string; en: string };
  articles: string[];
  permissions: { purpose: Purpose; label: { nl: string; en: string }; categories: DataCategory[] }[];
  capabilities: Capability[];
  note?: string;
  /** One line for CLI and admin screens, e.g. "Huismeester / Caretaker: incident-assessment(footage); ...". */
  summary: string;
}

export function describeRole(policy: Policy, roleId: string): RoleDescription | undefined {
  const role = policy.roles.find((candidate) => candidate.id === roleId);
  if (!role) return undefined;
  const permissions = role.permissions.map((permission) => ({
    purpose: permission.purpose,
    label: PURPOSE_LABELS[permission.purpose],
    categories: [...permission.categories],
  }));
  const grants = permissions.map((p) => `${p.purpose}(${p.categories.join(', ')})`);
  const parts = [grants.length ? grants.join('; ') : 'no access to recorded data'];
  if (role.capabilities.length) parts.push(`capabilities: ${role.capabilities.join(', ')}`);
  return {
    id: role.id,
    name: role.name,
    articles: role.articles,
    permissions,
    capabilities: [...role.capabilities],
    ...(role.note === undefined ? {} : { note: role.note }),
    summary: `${role.name.nl} / ${role.name.en} [${role.articles.join(', ')}]: ${parts.join(' | ')}`,
  };
}
