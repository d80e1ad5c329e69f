import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { HOUR, ManualClock, MINUTE } from '../lib/clock.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { PasswordHasher } from './password.js';
import { LOCKOUT_MS } from './users.rules.js';
import { CLI_ACTOR, sha256, type UsersService } from './users.service.js';
import { codeAt, createUserWithPassword, createUsersService } from '../../test/users-app.js';

const ADMIN = { id: 'u-admin', label: 'beheerder' };
const PASSWORD = 'Lange-zin-als-wachtwoord-42';
const IP = '192.0.2.10';

describe.each(DIALECTS)('users service on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let users: UsersService;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    users = createUsersService(db.kysely, clock).users;
  });
  afterEach(async () => {
    await db.close();
  });

  const auditRows = (action?: string) => {
    let query = db.kysely.selectFrom('audit_events').selectAll().orderBy('seq');
    if (action) query = query.where('action', '=', action);
    return query.execute();
  };
  const signInRows = async () =>
    (await auditRows('auth.sign-in')).map((row) => ({
      outcome: row.outcome,
      context: JSON.parse(row.context ?? '{}') as Record<string, unknown>,
    }));
  const expectError = (promise: Promise<unknown>, kind: string, code: string) =>
    expect(promise).rejects.toMatchObject({ name: 'DomainError', kind, code });

  async function huismeester(username = 'jan') {
    return createUserWithPassword(
      users,
      ADMIN,
      { username, displayName: 'Jan Jansen', roles: ['huismeester'] },
      PASSWORD,
    );
  }

  describe('first administrator', () => {
    it('is created once, with a one-time token stored only as its SHA-256, and bootstrap is idempotent', async () => {
      const first = await users.bootstrapFirstAdmin();
      expect(first).not.toBeNull();
      expect(first!.user).toMatchObject({
        username: 'admin',
        roles: ['admin'],
        passwordSet: false,
        firstSignInPending: true,
      });
      expect(first!.signInPath).toBe(`/#/first-sign-in?token=${first!.token}`);
      expect(Date.parse(first!.expiresAt) - clock.now()).toBe(24 * HOUR);
      expect(await users.bootstrapFirstAdmin()).toBeNull();
      await Promise.all([users.bootstrapFirstAdmin(), users.bootstrapFirstAdmin()]);

      const rows = await db.kysely.selectFrom('users').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.password_hash).toBeNull();
      expect(rows[0]!.one_time_token_hash).toBe(sha256(first!.token));
      expect(JSON.stringify(await auditRows())).not.toContain(first!.token);
      expect(await auditRows('user.created')).toHaveLength(1);
    });

    it('signs in once with the token, which sets the password; a second use answers 401 token-invalid', async () => {
      const first = (await users.bootstrapFirstAdmin())!;
      await expectError(
        users.oneTimeSignIn({ token: first.token, newPassword: 'short', ip: IP }),
        'invalid',
        'password-too-short',
      );
      await expectError(
        users.oneTimeSignIn({ token: first.token, newPassword: 'admin', ip: IP }),
        'invalid',
        'password-too-short',
      );
      const signedIn = await users.oneTimeSignIn({ token: first.token, newPassword: PASSWORD, ip: IP });
      expect(signedIn.secondFactor).toBe('none');
      expect(signedIn.user).toMatchObject({ username: 'admin', passwordSet: true, firstSignInPending: false });
      await expectError(
        users.oneTimeSignIn({ token: first.token, newPassword: PASSWORD, ip: IP }),
        'unauthenticated',
        'token-invalid',
      );
      expect((await users.signIn({ username: 'admin', password: PASSWORD, ip: IP })).secondFactor).toBe('none');
      const row = await db.kysely.selectFrom('users').selectAll().executeTakeFirstOrThrow();
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      expect(row.one_time_token_hash).toBeNull();
    });

    it('refuses an expired token', async () => {
      const first = (await users.bootstrapFirstAdmin())!;
      clock.advance(24 * HOUR);
      await expectError(
        users.oneTimeSignIn({ token: first.token, newPassword: PASSWORD, ip: IP }),
        'unauthenticated',
        'token-invalid',
      );
      const reset = await users.resetPassword('admin');
      await users.oneTimeSignIn({ token: reset.token, newPassword: PASSWORD, ip: IP });
    });
  });

  describe('users', () => {
    it('validates roles and usernames', async () => {
      await expectError(
        users.addUser(ADMIN, { username: 'piet', displayName: 'Piet', roles: ['koning'] }),
        'invalid',
        'unknown-role',
      );
      await expectError(
        users.addUser(ADMIN, { username: 'piet', displayName: 'Piet', roles: ['admin', 'huismeester'] }),
        'refused',
        'role-separation',
      );
      const created = await users.addUser(ADMIN, {
        username: ' Piet ',
        displayName: 'Piet',
        roles: ['huismeester'],
        language: 'en',
      });
      expect(created.user).toMatchObject({ username: 'piet', language: 'en', totpRequired: true, totpEnabled: false });
      await expectError(
        users.addUser(ADMIN, { username: 'PIET', displayName: 'P', roles: ['manager'] }),
        'conflict',
        'username-taken',
      );
    });

    it('reset-password (CLI) clears the password, ends sessions, lifts a lockout and is audited as cli', async () => {
      const jan = await huismeester();
      const session = await users.signIn({ username: 'jan', password: PASSWORD, ip: IP });
      const reset = await users.resetPassword('jan');
      expect(reset.user).toMatchObject({ passwordSet: false, firstSignInPending: true });
      expect(await users.resolveSession(session.sessionToken)).toBeNull();
      await expectError(
        users.signIn({ username: 'jan', password: PASSWORD, ip: IP }),
        'unauthenticated',
        'sign-in-failed',
      );
      const audit = (await auditRows('user.password-reset'))[0]!;
      expect(audit).toMatchObject({ actor_id: null, actor_label: 'cli', target_id: jan.id });
      expect(audit.after).not.toContain(reset.token);
      expect(audit.after).not.toContain('argon2');
      await expectError(users.resetPassword('nobody'), 'not-found', 'user-not-found');
      expect(CLI_ACTOR).toEqual({ id: null, label: 'cli' });
    });

    it('disabling a user ends their sessions and makes sign-in fail like a wrong password', async () => {
      const jan = await createUserWithPassword(
        users,
        ADMIN,
        { username: 'jan', displayName: 'Jan', roles: ['manager'] },
        PASSWORD,
      );
      const session = await users.signIn({ username: 'jan', password: PASSWORD, ip: IP });
      const updated = await users.updateUser(ADMIN, jan.id, { status: 'disabled' });
      expect(updated.status).toBe('disabled');
      expect(await users.resolveSession(session.sessionToken)).toBeNull();
      await expectError(
        users.signIn({ username: 'jan', password: PASSWORD, ip: IP }),
        'unauthenticated',
        'sign-in-failed',
      );
      const audit = (await auditRows('user.updated'))[0]!;
      expect(JSON.parse(audit.before!)).toMatchObject({ status: 'active' });
      expect(JSON.parse(audit.after!)).toMatchObject({ status: 'disabled' });
      expect(audit.before).not.toContain('password_hash');
      expect(audit.before).not.toContain('$argon2');
    });

    it('an administrator may not change their own roles', async () => {
      const first = (await users.bootstrapFirstAdmin())!;
      const admin = { id: first.user.id, label: 'admin' };
      await expectError(
        users.updateUser(admin, first.user.id, { roles: ['admin', 'manager'] }),
        'forbidden',
        'self-role-change',
      );
      await expectError(users.updateUser(admin, first.user.id, { status: 'disabled' }), 'forbidden', 'self-disable');
      expect((await users.updateUser(admin, first.user.id, { displayName: 'Beheer' })).displayName).toBe('Beheer');
    });
  });

  describe('sign-in', () => {
    it('answers an unknown user and a wrong password identically', async () => {
      await huismeester();
      const unknown = await users.signIn({ username: 'nobody', password: PASSWORD, ip: IP }).catch((e: unknown) => e);
      const wrong = await users
        .signIn({ username: 'jan', password: 'wrong-password-123', ip: IP })
        .catch((e: unknown) => e);
      expect(unknown).toMatchObject({ kind: 'unauthenticated', code: 'sign-in-failed' });
      expect(wrong).toMatchObject({ kind: 'unauthenticated', code: 'sign-in-failed' });
      expect((unknown as Error).message).toBe((wrong as Error).message);
    });

    it('spends one argon2 verification on every attempt, also for an unknown username', async () => {
      const calls: string[] = [];
      class CountingHasher extends PasswordHasher {
        override verify(hash: string, password: string) {
          calls.push('verify');
          return super.verify(hash, password);
        }
        override verifyDummy(password: string) {
          calls.push('dummy');
          return super.verifyDummy(password);
        }
      }
      const counted = createUsersService(db.kysely, clock, { hasher: new CountingHasher() }).users;
      await createUserWithPassword(
        counted,
        ADMIN,
        { username: 'piet', displayName: 'Piet', roles: ['admin'] },
        PASSWORD,
      );
      calls.length = 0;
      await counted.signIn({ username: 'nobody', password: PASSWORD, ip: IP }).catch(() => null);
      await counted.signIn({ username: 'piet', password: 'Wrong-password-1', ip: IP }).catch(() => null);
      await counted.signIn({ username: 'piet', password: PASSWORD, ip: IP });
      // the dummy runs the same argon2 verification against a hash made at start
      expect(calls).toEqual(['dummy', 'verify', 'verify', 'verify']);
    });

    it('locks the account after 5 failures for 15 minutes; success afterwards resets the count', async () => {
      // admin: no second factor, so the password sign-in completes and resets the count
      await createUserWithPassword(users, ADMIN, { username: 'piet', displayName: 'Piet', roles: ['admin'] }, PASSWORD);
      for (let i = 0; i < 5; i++) {
        await expectError(
          users.signIn({ username: 'piet', password: `wrong-password-${i}`, ip: IP }),
          'unauthenticated',
          'sign-in-failed',
        );
      }
      const locked = await users.signIn({ username: 'piet', password: PASSWORD, ip: IP }).catch((e: unknown) => e);
      expect(locked).toMatchObject({
        kind: 'too-many',
        code: 'account-locked',
        details: { retryAfterSeconds: 15 * 60 },
      });
      clock.advance(LOCKOUT_MS - 1000);
      await expectError(users.signIn({ username: 'piet', password: PASSWORD, ip: IP }), 'too-many', 'account-locked');
      clock.advance(1000);
      expect((await users.signIn({ username: 'piet', password: PASSWORD, ip: IP })).user.lockedUntil).toBeNull();
      const row = await db.kysely
        .selectFrom('users')
        .select(['failed_sign_ins', 'locked_until'])
        .where('username', '=', 'piet')
        .executeTakeFirstOrThrow();
      expect(Number(row.failed_sign_ins)).toBe(0);
      // four failures, a success, four more: no lock (the count is of consecutive failures)
      for (let i = 0; i < 4; i++)
        await users.signIn({ username: 'piet', password: 'wrong-password-x', ip: `10.0.0.${i}` }).catch(() => null);
      await users.signIn({ username: 'piet', password: PASSWORD, ip: IP });
      for (let i = 0; i < 4; i++)
        await users.signIn({ username: 'piet', password: 'wrong-password-x', ip: `10.0.1.${i}` }).catch(() => null);
      expect((await users.signIn({ username: 'piet', password: PASSWORD, ip: IP })).secondFactor).toBe('none');
    });

    it('limits attempts to 10 per IP per minute and 20 per username per 15 minutes', async () => {
      for (let i = 0; i < 10; i++)
        await expectError(
          users.signIn({ username: `user${i}`, password: 'x', ip: IP }),
          'unauthenticated',
          'sign-in-failed',
        );
      const limited = await users.signIn({ username: 'user99', password: 'x', ip: IP }).catch((e: unknown) => e);
      expect(limited).toMatchObject({ kind: 'too-many', code: 'too-many-attempts' });
      await expectError(
        users.signIn({ username: 'user99', password: 'x', ip: '192.0.2.11' }),
        'unauthenticated',
        'sign-in-failed',
      );
      clock.advance(MINUTE);
      await expectError(
        users.signIn({ username: 'user98', password: 'x', ip: IP }),
        'unauthenticated',
        'sign-in-failed',
      );

      for (let i = 0; i < 20; i++)
        await expectError(
          users.signIn({ username: 'target', password: 'x', ip: `198.51.100.${i}` }),
          'unauthenticated',
          'sign-in-failed',
        );
      await expectError(
        users.signIn({ username: 'TARGET', password: 'x', ip: '203.0.113.1' }),
        'too-many',
        'too-many-attempts',
      );
      clock.advance(15 * MINUTE);
      await expectError(
        users.signIn({ username: 'target', password: 'x', ip: '203.0.113.1' }),
        'unauthenticated',
        'sign-in-failed',
      );
    });

    it('audits every attempt (success, failure, locked, rate-limited, TOTP failure) without password or code', async () => {
      const jan = await huismeester();
      const before = (await signInRows()).length; // the one-time sign-in of createUserWithPassword
      const first = await users.signIn({ username: 'jan', password: PASSWORD, ip: IP });
      const { secret } = await users.enrollTotp({ userId: jan.id, sessionId: resolvedId(first) });
      const code = codeAt(secret, clock);
      await users.confirmTotp({ userId: jan.id, sessionId: resolvedId(first) }, code);
      clock.advance(30_000);
      const second = await users.signIn({ username: 'jan', password: PASSWORD, ip: IP });
      const wrongCode = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
      await expectError(
        users.verifyTotp({ userId: jan.id, sessionId: resolvedId(second) }, wrongCode, IP),
        'unauthenticated',
        'totp-invalid',
      );
      for (let i = 0; i < 4; i++)
        await expectError(
          users.signIn({ username: 'jan', password: `Wrong-password-${i}!`, ip: IP }),
          'unauthenticated',
          'sign-in-failed',
        );
      await expectError(users.signIn({ username: 'jan', password: PASSWORD, ip: IP }), 'too-many', 'account-locked');
      // attempts from IP so far: 2 sign-ins, 4 wrong, 1 locked; three more reach the limit of 10
      for (let i = 0; i < 3; i++) {
        await expectError(
          users.signIn({ username: 'ghost', password: 'Ghost-password-1', ip: IP }),
          'unauthenticated',
          'sign-in-failed',
        );
      }
      await expectError(
        users.signIn({ username: 'ghost', password: 'Ghost-password-1', ip: IP }),
        'too-many',
        'too-many-attempts',
      );

      const rows = (await signInRows()).slice(before);
      expect(rows.map((r) => [r.outcome, r.context.method, r.context.reason ?? null])).toEqual([
        ['success', 'password', null],
        ['success', 'totp-enrolment', null],
        ['success', 'password', null],
        ['failure', 'totp', 'code-wrong'],
        ['failure', 'password', 'password-wrong'],
        ['failure', 'password', 'password-wrong'],
        ['failure', 'password', 'password-wrong'],
        ['failure', 'password', 'password-wrong'],
        ['refused', 'password', 'locked'],
        ['failure', 'password', 'unknown-user'],
        ['failure', 'password', 'unknown-user'],
        ['failure', 'password', 'unknown-user'],
        ['refused', 'password', 'rate-limited'],
      ]);
      // the TOTP failure counted towards the lockout: the fourth wrong password locked the account
      expect(rows[7]!.context.lockedUntil).toBeDefined();
      // Only the free-text columns: hashes and ids are hex and may hold any digit run.
      const everything = JSON.stringify((await auditRows()).map((r) => [r.actor_label, r.before, r.after, r.context]));
      for (const secretText of [
        PASSWORD,
        'Wrong-password-',
        'Ghost-password-1',
        secret,
        code,
        wrongCode,
        first.sessionToken,
        first.csrfToken,
      ]) {
        expect(everything).not.toContain(secretText);
      }
      expect(await verifyAuditChain(db.kysely)).toMatchObject({ ok: true });

      function resolvedId(signedIn: { sessionToken: string }) {
        return sessionIds.get(signedIn.sessionToken)!;
      }
    });
  });

  // Session ids by token, filled by a lookup (the service hands out tokens, not ids).
  const sessionIds = new Map<string, string>();
  beforeEach(() => {
    const original = users.signIn.bind(users);
    users.signIn = async (input) => {
      const result = await original(input);
      const resolved = await users.resolveSession(result.sessionToken);
      sessionIds.set(result.sessionToken, resolved!.principal.sessionId);
      return result;
    };
  });

  describe('TOTP', () => {
    async function signInSession(username = 'jan') {
      const signedIn = await users.signIn({ username, password: PASSWORD, ip: IP });
      const resolved = (await users.resolveSession(signedIn.sessionToken))!;
      return { signedIn, ref: resolved.principal, principal: resolved.principal };
    }

    it('is required for a role that sees personal data: enrol, confirm, then a code at every sign-in', async () => {
      await huismeester();
      const { signedIn, ref, principal } = await signInSession();
      expect(signedIn.secondFactor).toBe('enroll');
      expect(principal.secondFactorDone).toBe(false);
      const { secret, otpauthUri } = await users.enrollTotp(ref);
      expect(otpauthUri).toContain(`secret=${secret}`);
      const stored = await db.kysely
        .selectFrom('users')
        .select(['totp_secret_enc', 'totp_enabled'])
        .where('username', '=', 'jan')
        .executeTakeFirstOrThrow();
      expect(stored.totp_secret_enc).not.toContain(secret);
      expect(Number(stored.totp_enabled)).toBe(0);
      await expectError(users.confirmTotp(ref, '12345x'), 'invalid', 'totp-invalid');
      const confirmed = await users.confirmTotp(ref, codeAt(secret, clock));
      expect(confirmed.secondFactor).toBe('none');
      expect((await users.resolveSession(signedIn.sessionToken))!.principal.secondFactorDone).toBe(true);
      await expectError(users.enrollTotp(ref), 'conflict', 'totp-already-enabled');

      clock.advance(30_000);
      const next = await signInSession();
      expect(next.signedIn.secondFactor).toBe('required');
      expect(next.principal.secondFactorDone).toBe(false);
      await expectError(users.enrollTotp(next.ref), 'conflict', 'totp-already-enabled');
      const verified = await users.verifyTotp(next.ref, codeAt(secret, clock), IP);
      expect(verified.secondFactor).toBe('none');
      expect((await users.resolveSession(next.signedIn.sessionToken))!.principal.secondFactorDone).toBe(true);
    });

    it('refuses a code that was already accepted (replay), also across sessions', async () => {
      await huismeester();
      const first = await signInSession();
      const { secret } = await users.enrollTotp(first.ref);
      await users.confirmTotp(first.ref, codeAt(secret, clock));
      clock.advance(30_000);
      const code = codeAt(secret, clock);
      const second = await signInSession();
      await users.verifyTotp(second.ref, code, IP);
      const third = await signInSession();
      await expectError(users.verifyTotp(third.ref, code, IP), 'unauthenticated', 'totp-invalid');
      expect((await signInRows()).at(-1)!.context.reason).toBe('code-replayed');
      clock.advance(10_000); // same step still: the code stays used
      await expectError(users.verifyTotp(third.ref, code, IP), 'unauthenticated', 'totp-invalid');
      clock.advance(30_000);
      await users.verifyTotp(third.ref, codeAt(secret, clock), IP);
    });

    it('five wrong codes lock the account and end the half-open session', async () => {
      await huismeester();
      const first = await signInSession();
      const { secret } = await users.enrollTotp(first.ref);
      await users.confirmTotp(first.ref, codeAt(secret, clock));
      const next = await signInSession();
      const right = codeAt(secret, clock, 30_000);
      const wrong = right === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i++)
        await expectError(users.verifyTotp(next.ref, wrong, IP), 'unauthenticated', 'totp-invalid');
      expect(await users.resolveSession(next.signedIn.sessionToken)).toBeNull();
      await expectError(users.signIn({ username: 'jan', password: PASSWORD, ip: IP }), 'too-many', 'account-locked');
    });

    it('reset-totp removes it and ends sessions; the user enrols again', async () => {
      const jan = await huismeester();
      const first = await signInSession();
      const { secret } = await users.enrollTotp(first.ref);
      await users.confirmTotp(first.ref, codeAt(secret, clock));
      const reset = await users.resetTotp(ADMIN, jan.id);
      expect(reset.totpEnabled).toBe(false);
      expect(await users.resolveSession(first.signedIn.sessionToken)).toBeNull();
      expect((await signInSession()).signedIn.secondFactor).toBe('enroll');
    });
  });

  describe('sessions', () => {
    it('end after 30 idle minutes, answering session-expired once', async () => {
      await createUserWithPassword(
        users,
        ADMIN,
        { username: 'piet', displayName: 'Piet', roles: ['manager'] },
        PASSWORD,
      );
      const { sessionToken } = await users.signIn({ username: 'piet', password: PASSWORD, ip: IP });
      clock.advance(29 * MINUTE);
      expect(await users.resolveSession(sessionToken)).not.toBeNull();
      clock.advance(29 * MINUTE); // active 29 minutes ago: still valid
      expect(await users.resolveSession(sessionToken)).not.toBeNull();
      clock.advance(30 * MINUTE);
      await expectError(users.resolveSession(sessionToken), 'unauthenticated', 'session-expired');
      expect(await users.resolveSession(sessionToken)).toBeNull();
    });

    it('end after sessionHours however active they are, and last_seen_at is written at most once a minute', async () => {
      const short = createUsersService(db.kysely, clock, { sessionHours: 1 }).users;
      await createUserWithPassword(
        short,
        ADMIN,
        { username: 'piet', displayName: 'Piet', roles: ['manager'] },
        PASSWORD,
      );
      const { sessionToken } = await short.signIn({ username: 'piet', password: PASSWORD, ip: IP });
      const lastSeen = () =>
        db.kysely
          .selectFrom('sessions')
          .select('last_seen_at')
          .where('token_hash', '=', sha256(sessionToken))
          .executeTakeFirstOrThrow();
      const start = clock.now();
      clock.advance(30_000);
      await short.resolveSession(sessionToken);
      expect(Number((await lastSeen()).last_seen_at)).toBe(start);
      clock.advance(30_000);
      await short.resolveSession(sessionToken);
      expect(Number((await lastSeen()).last_seen_at)).toBe(start + MINUTE);
      for (let t = 0; t < 5; t++) {
        clock.advance(10 * MINUTE);
        expect(await short.resolveSession(sessionToken)).not.toBeNull();
      }
      clock.advance(9 * MINUTE);
      await expectError(short.resolveSession(sessionToken), 'unauthenticated', 'session-expired');
    });

    it('stores only the SHA-256 of the session token', async () => {
      await createUserWithPassword(
        users,
        ADMIN,
        { username: 'piet', displayName: 'Piet', roles: ['manager'] },
        PASSWORD,
      );
      const { sessionToken } = await users.signIn({ username: 'piet', password: PASSWORD, ip: IP });
      const sessions = await db.kysely.selectFrom('sessions').selectAll().execute();
      expect(JSON.stringify(sessions)).not.toContain(sessionToken);
      expect(sessions.map((s) => s.token_hash)).toContain(sha256(sessionToken));
    });
  });
});
