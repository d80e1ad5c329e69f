import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.js';
import { HOUR, ManualClock, MINUTE } from '../lib/clock.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import type { UsersService } from './users.service.js';
import { buildUsersTestApp, codeAt, createUsersService, TestClient } from '../../test/users-app.js';

const PASSWORD = 'Lange-zin-als-wachtwoord-42';

describe.each(DIALECTS)('users HTTP routes on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let users: UsersService;
  let app: FastifyInstance;
  let admin: TestClient;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    const context = createUsersService(db.kysely, clock);
    users = context.users;
    app = await buildUsersTestApp(context);
    const first = (await users.bootstrapFirstAdmin())!;
    admin = new TestClient(app, '192.0.2.1');
    const signedIn = await admin.post('/auth/one-time', { token: first.token, newPassword: PASSWORD });
    expect(signedIn.statusCode).toBe(200);
  });
  afterEach(async () => {
    await app.close();
    await db.close();
  });

  /** Admin creates a user; the user's own client signs in with the one-time token. */
  async function newUser(username: string, roles: string[], ip = '192.0.2.50') {
    const created = await admin.post('/users', { username, displayName: `User ${username}`, roles });
    expect(created.statusCode).toBe(201);
    const client = new TestClient(app, ip);
    const first = await client.post('/auth/one-time', { token: created.json().oneTimeToken, newPassword: PASSWORD });
    expect(first.statusCode).toBe(200);
    return { client, id: created.json().user.id as string, first: first.json() };
  }

  async function enrolAndConfirm(client: TestClient) {
    const enrol = await client.post('/auth/totp/enroll');
    expect(enrol.statusCode).toBe(200);
    const { secret } = enrol.json();
    expect((await client.post('/auth/totp/confirm', { code: codeAt(secret, clock) })).statusCode).toBe(200);
    return secret as string;
  }

  it('first sign-in through the one-time link sets a strict, http-only session cookie; the token works once', async () => {
    const first = await users.resetPassword('admin');
    const client = new TestClient(app, '192.0.2.7');
    const response = await client.post('/auth/one-time', { token: first.token, newPassword: PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ secondFactor: 'none', user: { username: 'admin', roles: ['admin'] } });
    const cookie = response.cookies.find((c) => c.name === 'protocam_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie.secure).toBeUndefined();
    expect((await client.get('/auth/me')).json().user.username).toBe('admin');
    const again = await new TestClient(app).post('/auth/one-time', { token: first.token, newPassword: PASSWORD });
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe('token-invalid');
  });

  it('sets the Secure flag when configured', async () => {
    const context = createUsersService(db.kysely, clock);
    const secureApp = await buildUsersTestApp(context, { secureCookies: true });
    try {
      const response = await new TestClient(secureApp, '192.0.2.8').signIn('admin', PASSWORD);
      expect(response.statusCode).toBe(200);
      expect(response.cookies.find((c) => c.name === 'protocam_session')!.secure).toBe(true);
    } finally {
      await secureApp.close();
    }
  });

  it('refuses a state-changing request without or with a wrong CSRF token (403 csrf-failed)', async () => {
    const body = { username: 'piet', displayName: 'Piet', roles: ['manager'] };
    const without = await admin.post('/users', body, { csrf: false });
    expect(without.statusCode).toBe(403);
    expect(without.json().error.code).toBe('csrf-failed');
    const wrong = await admin.post('/users', body, { csrf: 'x'.repeat(43) });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe('csrf-failed');
    expect((await admin.request('PATCH', '/users/nope', { displayName: 'x' }, { csrf: false })).json().error.code).toBe(
      'csrf-failed',
    );
    expect((await admin.get('/users')).statusCode).toBe(200); // GET needs no token
    expect((await admin.post('/users', body)).statusCode).toBe(201);
  });

  it('admin manages users; answers hold no hashes, secrets or token hashes', async () => {
    const created = await admin.post('/users', {
      username: '  Piet.Bakker ',
      displayName: 'Piet',
      roles: ['huismeester'],
      email: 'piet@corp.nl',
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      user: {
        username: 'piet.bakker',
        roles: ['huismeester'],
        totpRequired: true,
        passwordSet: false,
        firstSignInPending: true,
      },
      signInPath: expect.stringMatching(/^\/#\/first-sign-in\?token=/),
    });
    const id = created.json().user.id;
    const unknown = await admin.post('/users', { username: 'x1', displayName: 'X', roles: ['koning'] });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([400, 'unknown-role']);
    const extra = await admin.post('/users', { username: 'x2', displayName: 'X', roles: ['manager'], isAdmin: true });
    expect([extra.statusCode, extra.json().error.code]).toEqual([400, 'validation-failed']);
    const tooLong = await admin.post('/users', { username: 'x3', displayName: 'X'.repeat(101), roles: ['manager'] });
    expect(tooLong.statusCode).toBe(400);

    const patched = await admin.patch(`/users/${id}`, { roles: ['woonconsulent'], displayName: 'Piet B.' });
    expect(patched.json()).toMatchObject({ roles: ['woonconsulent'], displayName: 'Piet B.' });
    expect((await admin.post(`/users/${id}/reset-totp`)).statusCode).toBe(200);
    const reset = await admin.post(`/users/${id}/reset-password`);
    expect(reset.json()).toMatchObject({ user: { passwordSet: false }, oneTimeToken: expect.any(String) });
    expect((await admin.get(`/users/${id}`)).json().username).toBe('piet.bakker');
    expect((await admin.get('/users/roles')).json().items).toContainEqual({ id: 'admin', totpRequired: false });
    expect((await admin.get('/users/nope')).statusCode).toBe(404);

    const list = await admin.get('/users');
    expect(list.json<{ items: { username: string }[] }>().items.map((u) => u.username)).toEqual([
      'admin',
      'piet.bakker',
    ]);
    const text = list.body + created.body + patched.body + reset.body;
    for (const forbidden of [
      '$argon2',
      'password_hash',
      'passwordHash',
      'totp_secret',
      'totpSecret',
      'token_hash',
      'tokenHash',
    ]) {
      expect(text).not.toContain(forbidden);
    }
    const audit = await db.kysely
      .selectFrom('audit_events')
      .select(['action', 'before', 'after'])
      .where('target_type', '=', 'user')
      .execute();
    expect(audit.map((r) => r.action)).toEqual(
      expect.arrayContaining(['user.created', 'user.updated', 'user.totp-reset', 'user.password-reset']),
    );
    expect(JSON.stringify(audit)).not.toContain('$argon2');
    expect(JSON.stringify(audit)).not.toContain(reset.json().oneTimeToken);
  });

  it('an administrator may not change their own roles (403 self-role-change)', async () => {
    const me = (await admin.get('/auth/me')).json().user;
    const response = await admin.patch(`/users/${me.id}`, { roles: ['admin', 'manager'] });
    expect([response.statusCode, response.json().error.code]).toEqual([403, 'self-role-change']);
  });

  it('refuses a second, non-admin user everything admin-only (403 admin-only)', async () => {
    const { client, id } = await newUser('jan', ['huismeester']);
    await enrolAndConfirm(client);
    const attempts = [
      await client.get('/users'),
      await client.get('/users/roles'),
      await client.get(`/users/${id}`),
      await client.post('/users', { username: 'evil', displayName: 'Evil', roles: ['admin'] }),
      await client.patch(`/users/${id}`, { roles: ['admin'] }),
      await client.post(`/users/${id}/reset-totp`),
      await client.post(`/users/${id}/reset-password`),
    ];
    for (const response of attempts) {
      expect(response.statusCode).toBe(403);
      expect(response.json().error.code).toBe('admin-only');
    }
    expect((await client.get('/test/protected')).statusCode).toBe(200);
  });

  it('a personal-data role must enrol TOTP; until then the session can do nothing else', async () => {
    const { client, first } = await newUser('jan', ['huismeester']);
    expect(first.secondFactor).toBe('enroll');
    for (const response of [
      await client.get('/test/protected'),
      await client.post('/test/protected'),
      await client.get('/users'),
      await client.post('/auth/password', { currentPassword: PASSWORD, newPassword: 'Another-long-password-1' }),
    ]) {
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('second-factor-required');
    }
    expect((await client.get('/auth/me')).json()).toMatchObject({ secondFactor: 'enroll', user: { username: 'jan' } });
    const secret = await enrolAndConfirm(client);
    expect((await client.get('/test/protected')).statusCode).toBe(200);

    // Next sign-in: a code is required, enrolment is refused, other routes refused.
    expect((await client.post('/auth/sign-out')).statusCode).toBe(200);
    clock.advance(30_000);
    const signIn = await client.signIn('jan', PASSWORD);
    expect(signIn.json().secondFactor).toBe('required');
    expect((await client.get('/test/protected')).json().error.code).toBe('second-factor-required');
    expect((await client.post('/auth/totp/enroll')).json().error.code).toBe('totp-already-enabled');
    const bad = await client.post('/auth/totp/verify', { code: 'abcdef' });
    expect([bad.statusCode, bad.json().error.code]).toEqual([401, 'totp-invalid']);
    const code = codeAt(secret, clock);
    expect((await client.post('/auth/totp/verify', { code })).json().secondFactor).toBe('none');
    expect((await client.get('/test/protected')).statusCode).toBe(200);

    // The same code cannot be used again for another sign-in (replay).
    const other = new TestClient(app, '192.0.2.51');
    await other.signIn('jan', PASSWORD);
    const replay = await other.post('/auth/totp/verify', { code });
    expect([replay.statusCode, replay.json().error.code]).toEqual([401, 'totp-invalid']);
    expect((await other.get('/test/protected')).json().error.code).toBe('second-factor-required');
  });

  it('an administrator may enrol TOTP voluntarily and is then asked for a code', async () => {
    const secret = await enrolAndConfirm(admin);
    clock.advance(30_000);
    const client = new TestClient(app, '192.0.2.9');
    expect((await client.signIn('admin', PASSWORD)).json().secondFactor).toBe('required');
    expect((await client.get('/users')).json().error.code).toBe('second-factor-required');
    await client.post('/auth/totp/verify', { code: codeAt(secret, clock) });
    expect((await client.get('/users')).statusCode).toBe(200);
  });

  it('sign-in failures are identical for unknown users; lockout and rate limits answer 429', async () => {
    await newUser('piet', ['manager']);
    const client = new TestClient(app, '198.51.100.1');
    const unknown = await client.signIn('nobody', PASSWORD);
    const wrong = await client.signIn('piet', 'Wrong-password-123');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toBe(wrong.body);
    for (let i = 0; i < 4; i++) await client.signIn('piet', 'Wrong-password-123');
    const locked = await client.signIn('piet', PASSWORD);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error).toMatchObject({ code: 'account-locked', details: { retryAfterSeconds: 900 } });
    for (let i = 0; i < 3; i++) await client.signIn('nobody', PASSWORD);
    const limited = await client.signIn('nobody', PASSWORD);
    expect([limited.statusCode, limited.json().error.code]).toEqual([429, 'too-many-attempts']);
    clock.advance(15 * MINUTE);
    const again = await new TestClient(app, '198.51.100.2').signIn('piet', PASSWORD);
    expect(again.statusCode).toBe(200);
  });

  it('expired sessions answer 401 session-expired once; the stale cookie does not block a new sign-in', async () => {
    clock.advance(31 * MINUTE);
    const expired = await admin.get('/auth/me');
    expect([expired.statusCode, expired.json().error.code]).toEqual([401, 'session-expired']);
    expect((await admin.get('/auth/me')).json().error.code).toBe('not-signed-in');

    const stale = new TestClient(app, '192.0.2.30');
    await stale.signIn('admin', PASSWORD);
    clock.advance(13 * HOUR);
    const signIn = await stale.signIn('admin', PASSWORD); // stale cookie, stale CSRF
    expect(signIn.statusCode).toBe(200);
    expect((await stale.get('/users')).statusCode).toBe(200);
  });

  it('does not read the cookie for web pages, so a stale session never breaks the page', async () => {
    const context = createUsersService(db.kysely, clock);
    const webApp = await buildUsersTestApp(context, {
      web: async (web) => {
        web.get('/', () => 'page');
      },
    });
    try {
      const client = new TestClient(webApp, '192.0.2.40');
      await client.signIn('admin', PASSWORD);
      clock.advance(31 * MINUTE);
      const page = await webApp.inject({ url: '/', headers: { cookie: `protocam_session=${client.cookie}` } });
      expect([page.statusCode, page.body]).toEqual([200, 'page']);
      expect((await client.get('/auth/me')).json().error.code).toBe('session-expired');
    } finally {
      await webApp.close();
    }
  });

  it('refuses sessions of a disabled user', async () => {
    const { client, id } = await newUser('piet', ['admin']);
    await db.kysely.updateTable('users').set({ status: 'disabled' }).where('id', '=', id).execute();
    const response = await client.get('/auth/me');
    expect([response.statusCode, response.json().error.code]).toEqual([401, 'account-disabled']);
    await db.kysely.updateTable('users').set({ status: 'active' }).where('id', '=', id).execute();
    const { client: second, id: secondId } = await newUser('klaas', ['admin']);
    expect((await admin.patch(`/users/${secondId}`, { status: 'disabled' })).statusCode).toBe(200);
    expect((await second.get('/auth/me')).json().error.code).toBe('not-signed-in');
  });

  it('signs out and changes the own password (ending the other sessions)', async () => {
    const other = new TestClient(app, '192.0.2.31');
    await other.signIn('admin', PASSWORD);
    const wrong = await admin.post('/auth/password', {
      currentPassword: 'Not-the-password-1',
      newPassword: 'Another-long-password-1',
    });
    expect([wrong.statusCode, wrong.json().error.code]).toEqual([403, 'password-wrong']);
    const same = await admin.post('/auth/password', { currentPassword: PASSWORD, newPassword: 'admin' });
    expect(same.json().error.code).toBe('password-too-short');
    expect(
      (await admin.post('/auth/password', { currentPassword: PASSWORD, newPassword: 'Another-long-password-1' }))
        .statusCode,
    ).toBe(200);
    expect((await other.get('/auth/me')).json().error.code).toBe('not-signed-in');
    expect((await admin.get('/auth/me')).statusCode).toBe(200);
    const out = await admin.post('/auth/sign-out');
    expect(out.statusCode).toBe(200);
    expect(out.cookies.find((c) => c.name === 'protocam_session')?.value).toBe('');
    expect((await admin.get('/auth/me')).json().error.code).toBe('not-signed-in');
    expect((await new TestClient(app, '192.0.2.32').signIn('admin', 'Another-long-password-1')).statusCode).toBe(200);
  });

  it('documents its routes in the OpenAPI document', async () => {
    const doc = (await app.inject('/api/openapi.json')).json();
    for (const path of [
      '/api/auth/sign-in',
      '/api/auth/one-time',
      '/api/auth/totp/verify',
      '/api/users',
      '/api/users/{id}',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});
