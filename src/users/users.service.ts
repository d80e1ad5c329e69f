/**
 * Users, sign-in and sessions. Rules come from users.rules.ts, storage from
 * users.repository.ts. Each change is one short transaction with its audit record; slow
 * work (argon2) happens before the transaction opens. A refusal that must be audited is
 * decided inside the transaction, returned, and thrown only after the commit, so the
 * audit record of a failed attempt is never rolled back with it.
 *
 * Secrets kept by this service:
 * - passwords: argon2id hashes only;
 * - session tokens and one-time sign-in tokens: their SHA-256 only;
 * - TOTP: the secret and the last accepted time step, sealed together with encryptText in
 *   `totp_secret_enc` (JSON `{"v":1,"secret","lastStep"}`). Keeping the step there makes
 *   replay protection survive restarts and hold across several server processes, and it is
 *   updated under the user's row lock in the transaction that accepts the code.
 * None of these ever leaves the service, except the TOTP secret once, at enrolment, to
 * the user themself. Audit records use publicUserView.
 */
import { parseInput } from '../lib/validation.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { SYSTEM_ACTOR, type Actor, type AuditOutcome, type AuditTrail } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import { ADMIN_ROLE, type Principal } from '../http/principal.js';
import { HOUR, MINUTE, type Clock } from '../lib/clock.js';
import { conflict, forbidden, invalid, notFound, tooMany, unauthenticated } from '../lib/errors.js';
import { newId, newToken } from '../lib/ids.js';
import { decryptText, encryptText } from '../lib/secrets.js';
import type { Policy } from '../policy/index.js';
import { checkNewPassword, PasswordHasher } from './password.js';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter, SlidingWindowLimiter, type SignInLimits } from './rate-limit.js';
import { checkTotp, generateTotpSecret, otpauthUri } from './totp.js';
import * as repo from './users.repository.js';
import type { Executor, SessionRecord, UserRecord } from './users.repository.js';
import {
  afterFailure,
  assignableRoles,
  checkSelfChange,
  isLocked,
  normaliseUsername,
  ONE_TIME_TOKEN_MS,
  retryAfterSeconds,
  SESSION_IDLE_MS,
  secondFactorAtSignIn,
  sessionSecondFactorDone,
  sessionState,
  shouldTouch,
  totpRequired,
  validateRoles,
  type Language,
  type SecondFactor,
  type UserStatus,
} from './users.rules.js';
import { NewUser, UserPatch, type NewUserInput, type UserPatchInput } from './users.schemas.js';

export interface UsersDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
  encryptionKey: Buffer;
  /** Absolute session lifetime (config `sessionHours`); sessions also end after 30 idle minutes. */
  sessionHours: number;
  hasher?: PasswordHasher;
  limits?: SignInLimits;
}

/** The actor of `protocam user ...` commands. */
export const CLI_ACTOR: Actor = { id: null, label: 'cli' };

export const FIRST_ADMIN_USERNAME = 'admin';

// --- views -------------------------------------------------------------------------------------

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/**
 * What may be shown of a user, in API answers and audit records alike: never the password
 * hash, the TOTP secret or a token hash, only whether they are set.
 */
export interface PublicUserView {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  roles: string[];
  language: Language;
  status: UserStatus;
  passwordSet: boolean;
  totpEnabled: boolean;
  /** A one-time sign-in token was issued and not used yet (it may have expired). */
  firstSignInPending: boolean;
  firstSignInExpiresAt: string | null;
  lockedUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export function publicUserView(r: UserRecord): PublicUserView {
  return {
    id: r.id,
    username: r.username,
    displayName: r.displayName,
    email: r.email,
    roles: [...r.roles],
    language: r.language,
    status: r.status,
    passwordSet: r.passwordHash !== null,
    totpEnabled: r.totpEnabled,
    firstSignInPending: r.oneTimeTokenHash !== null,
    firstSignInExpiresAt: isoOrNull(r.oneTimeTokenExpiresAt),
    lockedUntil: isoOrNull(r.lockedUntil),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

/** The API view: the public view plus whether the policy requires TOTP for these roles. */
export interface UserView extends PublicUserView {
  totpRequired: boolean;
}

export interface IssuedSignInToken {
  user: UserView;
  /** The one-time sign-in token; shown once, only its SHA-256 is stored. */
  token: string;
  expiresAt: string;
  /** Path of the web page that uses it, to put after the public URL. */
  signInPath: string;
}

export interface SignedIn {
  user: UserView;
  /** Goes into the session cookie; only its SHA-256 is stored. */
  sessionToken: string;
  csrfToken: string;
  secondFactor: SecondFactor;
  expiresAt: string;
}

export interface SessionInfo {
  user: UserView;
  csrfToken: string;
  secondFactor: SecondFactor;
  expiresAt: string;
}

export interface ResolvedSession {
  principal: Principal;
  csrfToken: string;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
}

/** The session a request runs in (a Principal fits). */
export interface SessionRef {
  userId: string;
  sessionId: string;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export const firstSignInPath = (token: string): string => `/#/first-sign-in?token=${encodeURIComponent(token)}`;

/** Constant-time string equality (for CSRF tokens). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

interface TotpState {
  secret: string;
  lastStep: number | null;
}

const signInFailed = () => unauthenticated('sign-in-failed', 'Unknown username or wrong password');
const tokenInvalid = () =>
  unauthenticated('token-invalid', 'This sign-in link is not valid (anymore); ask an administrator for a new one');
const totpInvalid = () => unauthenticated('totp-invalid', 'The code is not correct');
const accountLocked = (until: number, now: number) =>
  tooMany('account-locked', 'Too many failed sign-ins: the account is locked for a while', {
    retryAfterSeconds: retryAfterSeconds(until, now),
    lockedUntil: iso(until),
  });

type Attempt<T> = { ok: true; value: T } | { ok: false; error: Error };

export interface SignInInput {
  username: string;
  password: string;
  /** The client address, for the per-IP limit and the audit record. */
  ip: string;
}

export class UsersService {
  private readonly hasher: PasswordHasher;
  private readonly limiter: SignInLimiter;
  /** Own-password changes: 5 per user per 15 minutes. */
  private readonly passwordChanges: SlidingWindowLimiter;

  constructor(private readonly deps: UsersDeps) {
    this.hasher = deps.hasher ?? new PasswordHasher();
    this.limiter = new SignInLimiter(deps.clock, deps.limits ?? DEFAULT_SIGN_IN_LIMITS);
    this.passwordChanges = new SlidingWindowLimiter(deps.clock, 5, 15 * MINUTE);
  }

  private tx<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.deps.db.transaction().execute(fn);
  }

  private now(): number {
    return this.deps.clock.now();
  }

  private view(r: UserRecord): UserView {
    return { ...publicUserView(r), totpRequired: totpRequired(this.deps.policy(), r.roles) };
  }

  private needsTotp(r: UserRecord): boolean {
    return totpRequired(this.deps.policy(), r.roles);
  }

  private sealTotp(state: TotpState): string {
    return encryptText(
      this.deps.encryptionKey,
      JSON.stringify({ v: 1, secret: state.secret, lastStep: state.lastStep }),
    );
  }

  private openTotp(sealed: string | null): TotpState | null {
    if (sealed === null) return null;
    try {
      const value = JSON.parse(decryptText(this.deps.encryptionKey, sealed)) as Partial<TotpState>;
      if (typeof value.secret !== 'string') return null;
      return { secret: value.secret, lastStep: typeof value.lastStep === 'number' ? value.lastStep : null };
    } catch {
      return null; // unreadable (e.g. another key): treated as not enrolled
    }
  }

  private issueToken(now: number): { token: string; hash: string; expiresAt: number } {
    const token = newToken();
    return { token, hash: sha256(token), expiresAt: now + ONE_TIME_TOKEN_MS };
  }

  private async startSession(
    trx: Executor,
    user: UserRecord,
    now: number,
  ): Promise<{ session: SessionRecord; sessionToken: string; secondFactor: SecondFactor }> {
    const secondFactor = secondFactorAtSignIn(this.needsTotp(user), user.totpEnabled);
    const sessionToken = newToken();
    const session: SessionRecord = {
      id: newId(),
      tokenHash: sha256(sessionToken),
      userId: user.id,
      csrfToken: newToken(),
      secondFactorDone: secondFactor === 'none',
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.deps.sessionHours * HOUR,
    };
    await repo.insertSession(trx, session);
    return { session, sessionToken, secondFactor };
  }

  private signedIn(user: UserRecord, started: Awaited<ReturnType<UsersService['startSession']>>): SignedIn {
    return {
      user: this.view(user),
      sessionToken: started.sessionToken,
      csrfToken: started.session.csrfToken,
      secondFactor: started.secondFactor,
      expiresAt: iso(started.session.expiresAt),
    };
  }

  /** One `auth.sign-in` record. Context never holds a password, token or code. */
  private recordSignIn(
    trx: Executor,
    user: UserRecord | null,
    label: string,
    outcome: AuditOutcome,
    context: Record<string, unknown>,
  ): Promise<number> {
    return this.deps.audit.record(trx, {
      actor: { id: user?.id ?? null, label: user?.username ?? label },
      action: 'auth.sign-in',
      targetType: 'user',
      targetId: user?.id ?? null,
      outcome,
      context,
    });
  }

  private unwrap<T>(attempt: Attempt<T>): T {
    if (!attempt.ok) throw attempt.error;
    return attempt.value;
  }

  // --- first administrator, users ------------------------------------------------------------

  /**
   * When there is no user at all, creates `admin` (role admin, no password) with a one-time
   * sign-in token valid for 24 hours, and returns the token so start-up can print the
   * link. When any user exists it does nothing and returns null.
   */
  async bootstrapFirstAdmin(): Promise<IssuedSignInToken | null> {
    const now = this.now();
    const issued = this.issueToken(now);
    try {
      return await this.tx(async (trx) => {
        if ((await repo.countUsers(trx)) > 0) return null;
        const fields = {
          username: FIRST_ADMIN_USERNAME,
          displayName: 'Administrator',
          email: null,
          roles: [ADMIN_ROLE],
          language: 'nl' as const,
        };
        return this.insertNewUser(trx, SYSTEM_ACTOR, fields, issued, now, { reason: 'first-administrator' });
      });
    } catch (error) {
      // Another process created the first administrator at the same moment.
      if (repo.isUniqueViolation(error)) return null;
      throw error;
    }
  }

  /** Creates a user without a password; they choose one through the returned one-time token. */
  /** What the admin or CLI gets back once: the user and their one-time sign-in token and link. */
  private issuedFor(user: UserRecord, issued: { token: string; expiresAt: number }): IssuedSignInToken {
    return {
      user: this.view(user),
      token: issued.token,
      expiresAt: iso(issued.expiresAt),
      signInPath: firstSignInPath(issued.token),
    };
  }

  /** A new active user without a password, who signs in first with the one-time token; audited. */
  private async insertNewUser(
    trx: Executor,
    actor: Actor,
    fields: Pick<UserRecord, 'username' | 'displayName' | 'email' | 'roles' | 'language'>,
    issued: { token: string; hash: string; expiresAt: number },
    now: number,
    context?: Record<string, unknown>,
  ): Promise<IssuedSignInToken> {
    const user: UserRecord = {
      id: newId(),
      username: fields.username,
      displayName: fields.displayName,
      email: fields.email,
      roles: fields.roles,
      language: fields.language,
      status: 'active',
      passwordHash: null,
      totpSecretEnc: null,
      totpEnabled: false,
      failedSignIns: 0,
      lockedUntil: null,
      oneTimeTokenHash: issued.hash,
      oneTimeTokenExpiresAt: issued.expiresAt,
      createdAt: now,
      updatedAt: now,
    };
    await repo.insertUser(trx, user);
    await this.deps.audit.record(trx, {
      actor,
      action: 'user.created',
      targetType: 'user',
      targetId: user.id,
      after: publicUserView(user),
      ...(context ? { context } : {}),
    });
    return this.issuedFor(user, issued);
  }

  async addUser(actor: Actor, input: NewUserInput): Promise<IssuedSignInToken> {
    const data = parseInput(NewUser, input);
    const roles = validateRoles(this.deps.policy(), data.roles);
    const now = this.now();
    const issued = this.issueToken(now);
    try {
      return await this.tx(async (trx) => {
        if (await repo.findUserByUsername(trx, data.username))
          throw conflict('username-taken', 'Another user has this username');
        const fields = { ...data, email: data.email ?? null, roles };
        return this.insertNewUser(trx, actor, fields, issued, now);
      });
    } catch (error) {
      if (repo.isUniqueViolation(error)) throw conflict('username-taken', 'Another user has this username');
      throw error;
    }
  }

  async listUsers(): Promise<UserView[]> {
    return (await repo.listUsers(this.deps.db)).map((user) => this.view(user));
  }

  async getUser(id: string): Promise<UserView> {
    const user = await repo.findUserById(this.deps.db, id);
    if (!user) throw notFound('user-not-found', 'No such user');
    return this.view(user);
  }

  async getUserByUsername(username: string): Promise<UserView> {
    const user = await repo.findUserByUsername(this.deps.db, normaliseUsername(username));
    if (!user) throw notFound('user-not-found', 'No such user');
    return this.view(user);
  }

  /** The roles that may be given, with whether each needs TOTP. */
  assignableRoles(): { id: string; totpRequired: boolean }[] {
    const policy = this.deps.policy();
    return assignableRoles(policy).map((id) => ({ id, totpRequired: totpRequired(policy, [id]) }));
  }

  /**
   * Changes roles, name, e-mail, language or status. Changing roles or disabling the
   * account ends the user's sessions, so new roles (and a TOTP they may now need) apply
   * from the next sign-in.
   */
  async updateUser(actor: Actor, id: string, input: UserPatchInput): Promise<UserView> {
    const data = parseInput(UserPatch, input);
    return this.tx(async (trx) => {
      const current = await repo.lockUser(trx, id);
      if (!current) throw notFound('user-not-found', 'No such user');
      checkSelfChange(actor.id, current, { roles: data.roles, status: data.status });
      const roles = data.roles === undefined ? undefined : validateRoles(this.deps.policy(), data.roles);
      const next: UserRecord = {
        ...current,
        roles: roles ?? current.roles,
        displayName: data.displayName ?? current.displayName,
        email: data.email === undefined ? current.email : data.email,
        language: data.language ?? current.language,
        status: data.status ?? current.status,
        updatedAt: this.now(),
      };
      const rolesChanged = roles !== undefined && JSON.stringify(roles) !== JSON.stringify(current.roles);
      const disabled = next.status === 'disabled' && current.status !== 'disabled';
      await repo.updateUser(trx, next);
      const endedSessions = rolesChanged || disabled ? await repo.deleteSessionsOfUser(trx, id) : 0;
      await this.deps.audit.record(trx, {
        actor,
        action: 'user.updated',
        targetType: 'user',
        targetId: id,
        before: publicUserView(current),
        after: publicUserView(next),
        context: { endedSessions },
      });
      return this.view(next);
    });
  }

  /** `protocam user reset-password <username>`: see resetPasswordOf. */
  async resetPassword(username: string, actor: Actor = CLI_ACTOR): Promise<IssuedSignInToken> {
    const user = await repo.findUserByUsername(this.deps.db, normaliseUsername(username));
    if (!user) throw notFound('user-not-found', 'No such user');
    return this.resetPasswordOf(actor, user.id);
  }

  /**
   * Clears the password, issues a new one-time sign-in token (24 h), lifts a lockout and
   * ends the user's sessions. TOTP stays as it is (reset it separately).
   */
  async resetPasswordOf(actor: Actor, id: string): Promise<IssuedSignInToken> {
    const now = this.now();
    const issued = this.issueToken(now);
    return this.tx(async (trx) => {
      const current = await repo.lockUser(trx, id);
      if (!current) throw notFound('user-not-found', 'No such user');
      const next: UserRecord = {
        ...current,
        passwordHash: null,
        oneTimeTokenHash: issued.hash,
        oneTimeTokenExpiresAt: issued.expiresAt,
        failedSignIns: 0,
        lockedUntil: null,
        updatedAt: now,
      };
      await repo.updateUser(trx, next);
      const endedSessions = await repo.deleteSessionsOfUser(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'user.password-reset',
        targetType: 'user',
        targetId: id,
        before: publicUserView(current),
        after: publicUserView(next),
        context: { endedSessions },
      });
      return this.issuedFor(next, issued);
    });
  }

  /** Removes the user's TOTP (lost phone) and ends their sessions; they enrol again at the next sign-in. */
  async resetTotp(actor: Actor, id: string): Promise<UserView> {
    return this.tx(async (trx) => {
      const current = await repo.lockUser(trx, id);
      if (!current) throw notFound('user-not-found', 'No such user');
      const next: UserRecord = { ...current, totpSecretEnc: null, totpEnabled: false, updatedAt: this.now() };
      await repo.updateUser(trx, next);
      const endedSessions = await repo.deleteSessionsOfUser(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'user.totp-reset',
        targetType: 'user',
        targetId: id,
        before: publicUserView(current),
        after: publicUserView(next),
        context: { endedSessions },
      });
      return this.view(next);
    });
  }

  // --- sign-in -----------------------------------------------------------------------------

  /**
   * Password sign-in. Unknown username, wrong password, no password yet and a disabled
   * account all answer 401 `sign-in-failed` after one argon2 verification. Refusals:
   * 429 `too-many-attempts` (IP or username limit), 429 `account-locked`. Every attempt is
   * audited as `auth.sign-in`.
   */
  async signIn(input: SignInInput): Promise<SignedIn> {
    const username = normaliseUsername(input.username);
    const context = { method: 'password', username, ip: input.ip };
    const wait = this.limiter.attempt(`ip:${input.ip}`, username);
    if (wait > 0) {
      await this.tx((trx) => this.recordSignIn(trx, null, username, 'refused', { ...context, reason: 'rate-limited' }));
      throw tooMany('too-many-attempts', 'Too many sign-in attempts; wait a little and try again', {
        retryAfterSeconds: Math.ceil(wait / 1000),
      });
    }

    const now = this.now();
    const found = await repo.findUserByUsername(this.deps.db, username);
    const checkable =
      found !== null && found.status === 'active' && !isLocked(found.lockedUntil, now) && found.passwordHash !== null;
    const passwordOk = checkable
      ? await this.hasher.verify(found.passwordHash!, input.password)
      : await this.hasher.verifyDummy(input.password);

    const attempt = await this.tx(async (trx): Promise<Attempt<SignedIn>> => {
      const user = found ? await repo.lockUser(trx, found.id) : null;
      if (!user) {
        await this.recordSignIn(trx, null, username, 'failure', { ...context, reason: 'unknown-user' });
        return { ok: false, error: signInFailed() };
      }
      if (user.status !== 'active') {
        await this.recordSignIn(trx, user, username, 'failure', { ...context, reason: 'disabled' });
        return { ok: false, error: signInFailed() };
      }
      if (isLocked(user.lockedUntil, now)) {
        await this.recordSignIn(trx, user, username, 'refused', {
          ...context,
          reason: 'locked',
          lockedUntil: iso(user.lockedUntil!),
        });
        return { ok: false, error: accountLocked(user.lockedUntil!, now) };
      }
      // The hash is compared too: a password changed meanwhile makes this check stale.
      if (!passwordOk || user.passwordHash === null || user.passwordHash !== found!.passwordHash) {
        const failure = afterFailure(user.failedSignIns, now);
        await repo.updateUser(trx, {
          ...user,
          failedSignIns: failure.failedSignIns,
          lockedUntil: failure.lockedUntil ?? user.lockedUntil,
        });
        await this.recordSignIn(trx, user, username, 'failure', {
          ...context,
          reason: user.passwordHash === null ? 'no-password' : 'password-wrong',
          ...(failure.lockedNow ? { lockedUntil: iso(failure.lockedUntil!) } : {}),
        });
        return { ok: false, error: signInFailed() };
      }
      const started = await this.startSession(trx, user, now);
      // With a second factor still to come, the failure count is kept until it is passed:
      // otherwise knowing the password would give unlimited rounds of code guesses.
      const signedInUser: UserRecord = {
        ...user,
        failedSignIns: started.secondFactor === 'none' ? 0 : user.failedSignIns,
        lockedUntil: null, // a lock in force returned above; this one has run out
      };
      if (signedInUser.failedSignIns !== user.failedSignIns || user.lockedUntil !== null) {
        await repo.updateUser(trx, signedInUser);
      }
      await this.recordSignIn(trx, user, username, 'success', {
        ...context,
        sessionId: started.session.id,
        secondFactor: started.secondFactor,
      });
      return { ok: true, value: this.signedIn(signedInUser, started) };
    });
    return this.unwrap(attempt);
  }

  /**
   * First sign-in (or after a reset) with a one-time token: sets the password, consumes the
   * token and signs in. An unknown, used or expired token answers 401 `token-invalid`.
   */
  async oneTimeSignIn(input: { token: string; newPassword: string; ip: string }): Promise<SignedIn> {
    const context = { method: 'one-time', ip: input.ip };
    const wait = this.limiter.attempt(`ip:${input.ip}`, null);
    if (wait > 0) {
      await this.tx((trx) =>
        this.recordSignIn(trx, null, 'anonymous', 'refused', { ...context, reason: 'rate-limited' }),
      );
      throw tooMany('too-many-attempts', 'Too many sign-in attempts; wait a little and try again', {
        retryAfterSeconds: Math.ceil(wait / 1000),
      });
    }
    const tokenHash = sha256(input.token);
    const now = this.now();
    const found = await repo.findUserByOneTimeTokenHash(this.deps.db, tokenHash);
    const usable = found !== null && found.status === 'active' && (found.oneTimeTokenExpiresAt ?? 0) > now;
    if (!usable) {
      await this.tx((trx) =>
        this.recordSignIn(trx, found, 'anonymous', 'failure', {
          ...context,
          ...(found ? { username: found.username } : {}),
          reason: found === null ? 'token-unknown' : found.status !== 'active' ? 'disabled' : 'token-expired',
        }),
      );
      throw tokenInvalid();
    }
    checkNewPassword(input.newPassword, found.username);
    const passwordHash = await this.hasher.hash(input.newPassword);

    const attempt = await this.tx(async (trx): Promise<Attempt<SignedIn>> => {
      const user = await repo.lockUser(trx, found.id);
      // Consumed meanwhile (a second use racing the first) or reset again.
      if (!user || user.oneTimeTokenHash !== tokenHash || user.status !== 'active') {
        await this.recordSignIn(trx, user, 'anonymous', 'failure', { ...context, reason: 'token-unknown' });
        return { ok: false, error: tokenInvalid() };
      }
      const next: UserRecord = {
        ...user,
        passwordHash,
        oneTimeTokenHash: null,
        oneTimeTokenExpiresAt: null,
        failedSignIns: 0,
        lockedUntil: null,
        updatedAt: now,
      };
      await repo.updateUser(trx, next);
      await this.deps.audit.record(trx, {
        actor: { id: user.id, label: user.username },
        action: 'user.password-set',
        targetType: 'user',
        targetId: user.id,
        before: publicUserView(user),
        after: publicUserView(next),
        context: { method: 'one-time' },
      });
      const started = await this.startSession(trx, next, now);
      await this.recordSignIn(trx, next, next.username, 'success', {
        ...context,
        username: next.username,
        sessionId: started.session.id,
        secondFactor: started.secondFactor,
      });
      return { ok: true, value: this.signedIn(next, started) };
    });
    return this.unwrap(attempt);
  }

  // --- sessions ------------------------------------------------------------------------------

  /**
   * The session behind a cookie token, as a principal. Unknown token: null. Past its end
   * or idle for 30 minutes: the session is removed and 401 `session-expired` is thrown
   * (once; afterwards the cookie is simply unknown). Disabled user: 401 `account-disabled`.
   * last_seen_at is written at most once a minute.
   */
  async resolveSession(sessionToken: string): Promise<ResolvedSession | null> {
    const now = this.now();
    const session = await repo.findSessionByTokenHash(this.deps.db, sha256(sessionToken));
    if (!session) return null;
    if (sessionState(session, now) === 'expired') {
      await repo.deleteSession(this.deps.db, session.id);
      throw unauthenticated('session-expired', 'The session has ended; sign in again');
    }
    const user = await repo.findUserById(this.deps.db, session.userId);
    if (!user) return null;
    if (user.status !== 'active') {
      await repo.deleteSessionsOfUser(this.deps.db, user.id);
      throw unauthenticated('account-disabled', 'This account is disabled');
    }
    if (shouldTouch(session.lastSeenAt, now)) await repo.touchSession(this.deps.db, session.id, now);
    return {
      csrfToken: session.csrfToken,
      principal: {
        userId: user.id,
        username: user.username,
        displayName: user.displayName,
        roles: [...user.roles],
        sessionId: session.id,
        secondFactorDone: sessionSecondFactorDone(session.secondFactorDone, this.needsTotp(user), user.totpEnabled),
      },
    };
  }

  private async requireSession(db: Executor, ref: SessionRef): Promise<{ session: SessionRecord; user: UserRecord }> {
    const session = await repo.findSession(db, ref.sessionId);
    const user = session && session.userId === ref.userId ? await repo.lockUser(db, ref.userId) : null;
    if (!session || !user) throw unauthenticated('not-signed-in', 'Sign in first');
    return { session, user };
  }

  /** What the signed-in user sees of themself, including the CSRF token for this session. */
  async me(ref: SessionRef): Promise<SessionInfo> {
    const session = await repo.findSession(this.deps.db, ref.sessionId);
    const user = await repo.findUserById(this.deps.db, ref.userId);
    if (!session || !user || session.userId !== user.id) throw unauthenticated('not-signed-in', 'Sign in first');
    const done = sessionSecondFactorDone(session.secondFactorDone, this.needsTotp(user), user.totpEnabled);
    return {
      user: this.view(user),
      csrfToken: session.csrfToken,
      secondFactor: done ? 'none' : user.totpEnabled ? 'required' : 'enroll',
      expiresAt: iso(session.expiresAt),
    };
  }

  async signOut(ref: SessionRef): Promise<void> {
    await this.tx(async (trx) => {
      const removed = await repo.deleteSession(trx, ref.sessionId);
      if (removed === 0) return;
      const user = await repo.findUserById(trx, ref.userId);
      await this.deps.audit.record(trx, {
        actor: { id: ref.userId, label: user?.username ?? ref.userId },
        action: 'auth.sign-out',
        targetType: 'user',
        targetId: ref.userId,
        context: { sessionId: ref.sessionId },
      });
    });
  }

  /** Removes ended sessions (for a periodic job). */
  async purgeExpiredSessions(): Promise<number> {
    const now = this.now();
    return repo.deleteExpiredSessions(this.deps.db, now, now - SESSION_IDLE_MS);
  }

  /** Changes the own password; other sessions of the user end. Wrong current password: 403 `password-wrong`. */
  async changePassword(ref: SessionRef, currentPassword: string, newPassword: string): Promise<void> {
    // A session left open must not become a way to guess the password at full speed.
    const wait = this.passwordChanges.retryAfterMs(ref.userId);
    if (wait > 0) {
      throw tooMany('too-many-attempts', 'Too many attempts; wait a little and try again', {
        retryAfterSeconds: Math.ceil(wait / 1000),
      });
    }
    this.passwordChanges.record(ref.userId);
    const found = await repo.findUserById(this.deps.db, ref.userId);
    if (!found) throw unauthenticated('not-signed-in', 'Sign in first');
    const ok = found.passwordHash !== null && (await this.hasher.verify(found.passwordHash, currentPassword));
    if (ok) checkNewPassword(newPassword, found.username);
    const passwordHash = ok ? await this.hasher.hash(newPassword) : null;
    const attempt = await this.tx(async (trx): Promise<Attempt<void>> => {
      const { user } = await this.requireSession(trx, ref);
      if (passwordHash === null || user.passwordHash !== found.passwordHash) {
        await this.deps.audit.record(trx, {
          actor: { id: user.id, label: user.username },
          action: 'user.password-changed',
          targetType: 'user',
          targetId: user.id,
          outcome: 'failure',
          context: { reason: 'password-wrong' },
        });
        return { ok: false, error: forbidden('password-wrong', 'The current password is not correct') };
      }
      const next: UserRecord = { ...user, passwordHash, updatedAt: this.now() };
      await repo.updateUser(trx, next);
      const endedSessions = await repo.deleteSessionsOfUser(trx, user.id, ref.sessionId);
      await this.deps.audit.record(trx, {
        actor: { id: user.id, label: user.username },
        action: 'user.password-changed',
        targetType: 'user',
        targetId: user.id,
        before: publicUserView(user),
        after: publicUserView(next),
        context: { endedSessions },
      });
      return { ok: true, value: undefined };
    });
    this.unwrap(attempt);
  }

  // --- TOTP ----------------------------------------------------------------------------------

  /**
   * Starts (or restarts) enrolment: a new secret is stored, sealed, not yet enabled, and
   * returned this once. Refused with 409 `totp-already-enabled` when TOTP is on: otherwise
   * a password alone could replace the second factor.
   */
  async enrollTotp(ref: SessionRef): Promise<TotpEnrolment> {
    const secret = generateTotpSecret();
    return this.tx(async (trx) => {
      const { user } = await this.requireSession(trx, ref);
      if (user.totpEnabled)
        throw conflict('totp-already-enabled', 'TOTP is already set up; an administrator can reset it');
      const next: UserRecord = {
        ...user,
        totpSecretEnc: this.sealTotp({ secret, lastStep: null }),
        totpEnabled: false,
        updatedAt: this.now(),
      };
      await repo.updateUser(trx, next);
      await this.deps.audit.record(trx, {
        actor: { id: user.id, label: user.username },
        action: 'user.totp-enrolment-started',
        targetType: 'user',
        targetId: user.id,
        before: publicUserView(user),
        after: publicUserView(next),
      });
      return { secret, otpauthUri: otpauthUri(user.username, secret) };
    });
  }

  /**
   * Confirms enrolment with a first code: TOTP is enabled and, for a session waiting for
   * its second factor, the sign-in is complete. Wrong code: 400 `totp-invalid`.
   */
  async confirmTotp(ref: SessionRef, code: string): Promise<SessionInfo> {
    const attempt = await this.tx(async (trx): Promise<Attempt<void>> => {
      const { session, user } = await this.requireSession(trx, ref);
      if (user.totpEnabled) return { ok: false, error: conflict('totp-already-enabled', 'TOTP is already set up') };
      const state = this.openTotp(user.totpSecretEnc);
      if (!state) return { ok: false, error: conflict('totp-not-enrolled', 'Start the TOTP set-up first') };
      const now = this.now();
      const check = checkTotp(state.secret, code, now, state.lastStep);
      if (check.step === null) return { ok: false, error: invalid('totp-invalid', 'The code is not correct') };
      const next: UserRecord = {
        ...user,
        totpSecretEnc: this.sealTotp({ secret: state.secret, lastStep: check.step }),
        totpEnabled: true,
        failedSignIns: 0,
        lockedUntil: null,
        updatedAt: now,
      };
      await repo.updateUser(trx, next);
      await repo.markSecondFactorDone(trx, session.id, now);
      await this.deps.audit.record(trx, {
        actor: { id: user.id, label: user.username },
        action: 'user.totp-enabled',
        targetType: 'user',
        targetId: user.id,
        before: publicUserView(user),
        after: publicUserView(next),
      });
      if (!session.secondFactorDone) {
        await this.recordSignIn(trx, next, next.username, 'success', {
          method: 'totp-enrolment',
          sessionId: session.id,
        });
      }
      return { ok: true, value: undefined };
    });
    this.unwrap(attempt);
    return this.me(ref);
  }

  /**
   * The second sign-in step. A wrong or replayed code answers 401 `totp-invalid` and counts
   * as a failed sign-in: the fifth locks the account and ends this half-open session.
   */
  async verifyTotp(ref: SessionRef, code: string, ip: string): Promise<SessionInfo> {
    const attempt = await this.tx(async (trx): Promise<Attempt<void>> => {
      const { session, user } = await this.requireSession(trx, ref);
      const now = this.now();
      const context = { method: 'totp', username: user.username, ip, sessionId: session.id };
      const done = sessionSecondFactorDone(session.secondFactorDone, this.needsTotp(user), user.totpEnabled);
      if (done) return { ok: true, value: undefined };
      const state = user.totpEnabled ? this.openTotp(user.totpSecretEnc) : null;
      if (!state) return { ok: false, error: conflict('totp-not-enrolled', 'Set up TOTP first') };
      if (isLocked(user.lockedUntil, now)) {
        await this.recordSignIn(trx, user, user.username, 'refused', { ...context, reason: 'locked' });
        return { ok: false, error: accountLocked(user.lockedUntil!, now) };
      }
      const check = checkTotp(state.secret, code, now, state.lastStep);
      if (check.step === null) {
        const failure = afterFailure(user.failedSignIns, now);
        await repo.updateUser(trx, {
          ...user,
          failedSignIns: failure.failedSignIns,
          lockedUntil: failure.lockedUntil ?? user.lockedUntil,
        });
        if (failure.lockedNow) await repo.deleteSession(trx, session.id);
        await this.recordSignIn(trx, user, user.username, 'failure', {
          ...context,
          reason: check.replayed ? 'code-replayed' : 'code-wrong',
          ...(failure.lockedNow ? { lockedUntil: iso(failure.lockedUntil!) } : {}),
        });
        return { ok: false, error: totpInvalid() };
      }
      await repo.updateUser(trx, {
        ...user,
        totpSecretEnc: this.sealTotp({ secret: state.secret, lastStep: check.step }),
        failedSignIns: 0,
        lockedUntil: null,
      });
      await repo.markSecondFactorDone(trx, session.id, now);
      await this.recordSignIn(trx, user, user.username, 'success', context);
      return { ok: true, value: undefined };
    });
    this.unwrap(attempt);
    return this.me(ref);
  }
}
