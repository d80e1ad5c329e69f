/**
 * Pure rules of the users area: roles, the second factor, lockout and session lifetime.
 * No I/O and no clock of their own: callers pass `now`.
 */
import { ADMIN_ROLE } from '../http/principal.js';
import { forbidden, invalid, refused } from '../lib/errors.js';
import { DAY, MINUTE } from '../lib/clock.js';
import { canSeePersonalData, roleIds, type Policy } from '../policy/index.js';

// --- usernames ---------------------------------------------------------------------------------

export const USERNAME_MAX_LENGTH = 64;
/** Lower case letters, digits and `. _ - @`, starting with a letter or digit (so e-mail addresses fit). */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{1,63}$/;

/** Usernames are compared trimmed and in lower case, the same on SQLite and PostgreSQL. */
export const normaliseUsername = (username: string): string => username.trim().toLowerCase();

export function checkUsername(username: string): string {
  const normalised = normaliseUsername(username);
  if (!USERNAME_PATTERN.test(normalised)) {
    throw invalid(
      'username-invalid',
      'A username has 2 to 64 characters: letters, digits and . _ - @, starting with a letter or digit',
    );
  }
  return normalised;
}

// --- roles -------------------------------------------------------------------------------------

/** The roles a user may have: the built-in `admin` and every role of the policy in force. */
export function assignableRoles(policy: Policy): string[] {
  return [ADMIN_ROLE, ...roleIds(policy).filter((id) => id !== ADMIN_ROLE)];
}

/** True when the roles can see recorded personal data; `admin` never can. */
export function rolesSeePersonalData(policy: Policy, roles: readonly string[]): boolean {
  return canSeePersonalData(
    policy,
    roles.filter((role) => role !== ADMIN_ROLE),
  );
}

/**
 * Validates and de-duplicates a role list (order kept).
 * - `unknown-role` (400): a role the policy does not define;
 * - `roles-empty` (400): a user needs at least one role;
 * - `role-separation` (422): `admin` manages users and sees no personal data, so it may not be
 *   combined with a role that can see personal data: otherwise one person could grant
 *   themself access and use it, which is what the separation of duties prevents.
 */
export function validateRoles(policy: Policy, roles: readonly string[]): string[] {
  const unique = [...new Set(roles)];
  if (unique.length === 0) throw invalid('roles-empty', 'A user needs at least one role');
  const known = new Set(assignableRoles(policy));
  const unknown = unique.filter((role) => !known.has(role));
  if (unknown.length > 0) {
    throw invalid('unknown-role', `Unknown role(s) ${unknown.join(', ')} for policy ${policy.id}`, {
      unknown,
      allowed: [...known],
    });
  }
  if (unique.includes(ADMIN_ROLE) && rolesSeePersonalData(policy, unique)) {
    throw refused(
      'role-separation',
      'The administrator role may not be combined with a role that can see personal data (separation of duties)',
      { roles: unique.filter((role) => role !== ADMIN_ROLE && rolesSeePersonalData(policy, [role])) },
    );
  }
  return unique;
}

export const sameRoles = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

export interface UserChange {
  roles?: readonly string[] | undefined;
  status?: UserStatus | undefined;
}

/**
 * An administrator may not change their own roles (`self-role-change`) nor disable
 * themself (`self-disable`): both need a second administrator, and the last one cannot
 * lock everyone out.
 */
export function checkSelfChange(
  actorId: string | null,
  target: { id: string; roles: readonly string[]; status: UserStatus },
  change: UserChange,
): void {
  if (actorId === null || actorId !== target.id) return;
  if (change.roles !== undefined && !sameRoles(change.roles, target.roles)) {
    throw forbidden('self-role-change', 'An administrator may not change their own roles; ask another administrator');
  }
  if (change.status === 'disabled' && target.status !== 'disabled') {
    throw forbidden('self-disable', 'An administrator may not disable their own account');
  }
}

export const USER_STATUSES = ['active', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];
export const LANGUAGES = ['nl', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

// --- second factor -----------------------------------------------------------------------------

/**
 * TOTP is required for every role that can see personal data (footage, door events, tag
 * holders). For `admin` it is recommended, not forced: the administrator sees no personal
 * data, and forcing it would make a lost phone lock the only administrator out, with only
 * the CLI to recover. An administrator who enrols is asked for a code at every sign-in.
 */
export function totpRequired(policy: Policy, roles: readonly string[]): boolean {
  return rolesSeePersonalData(policy, roles);
}

export type SecondFactor = 'none' | 'required' | 'enroll';

/**
 * What a fresh password sign-in still needs: a code (`required`) when TOTP is enabled,
 * enrolment (`enroll`) when it is required but not set up yet, otherwise nothing.
 */
export function secondFactorAtSignIn(required: boolean, totpEnabled: boolean): SecondFactor {
  if (totpEnabled) return 'required';
  return required ? 'enroll' : 'none';
}

/**
 * Whether a session counts as fully signed in: it passed the second factor, and the user
 * does not need one they have not enrolled (e.g. the policy or their roles changed).
 */
export function sessionSecondFactorDone(done: boolean, required: boolean, totpEnabled: boolean): boolean {
  return done && (!required || totpEnabled);
}

// --- lockout -----------------------------------------------------------------------------------

export const LOCKOUT_THRESHOLD = 5;
export const LOCKOUT_MS = 15 * MINUTE;

export const isLocked = (lockedUntil: number | null, now: number): boolean => lockedUntil !== null && lockedUntil > now;

export interface FailureOutcome {
  failedSignIns: number;
  lockedUntil: number | null;
  lockedNow: boolean;
}

/**
 * After a failed attempt (wrong password or wrong code): the count goes up; the fifth
 * consecutive failure locks the account for 15 minutes and starts a new count, so after
 * the lock the user has five attempts again.
 */
export function afterFailure(failedSignIns: number, now: number): FailureOutcome {
  const count = failedSignIns + 1;
  if (count >= LOCKOUT_THRESHOLD) return { failedSignIns: 0, lockedUntil: now + LOCKOUT_MS, lockedNow: true };
  return { failedSignIns: count, lockedUntil: null, lockedNow: false };
}

export const retryAfterSeconds = (until: number, now: number): number => Math.max(1, Math.ceil((until - now) / 1000));

// --- sessions and tokens -----------------------------------------------------------------------

export const SESSION_IDLE_MS = 30 * MINUTE;
/** last_seen_at is written at most this often, so reads do not turn into writes. */
export const SESSION_TOUCH_MS = MINUTE;
export const ONE_TIME_TOKEN_MS = DAY;

export type SessionState = 'valid' | 'expired';

export function sessionState(session: { expiresAt: number; lastSeenAt: number }, now: number): SessionState {
  if (now >= session.expiresAt) return 'expired';
  if (now - session.lastSeenAt >= SESSION_IDLE_MS) return 'expired';
  return 'valid';
}

export const shouldTouch = (lastSeenAt: number, now: number): boolean => now - lastSeenAt >= SESSION_TOUCH_MS;
