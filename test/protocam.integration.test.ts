/**
 * The whole wired server (src/server.ts) on both databases: real sessions, CSRF, TOTP,
 * registry refusals, the access gate and the audit trail, through HTTP as a browser uses it.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { ManualClock, MINUTE } from '../src/lib/clock.js';
import { createLogger } from '../src/lib/logger.js';
import { createApp, openRuntime, prepareInstallation, type Runtime } from '../src/server.js';
import { createPgDatabase, DIALECTS, testDataDir } from './db.js';
import { codeAt, TestClient } from './users-app.js';

const tokenOf = (path: string) => decodeURIComponent(/token=([^&]+)/.exec(path)![1]!);

describe.each(DIALECTS)('Protocam end to end on %s', (dialect) => {
  const clock = new ManualClock('2026-03-02T09:00:00Z');
  let runtime: Runtime;
  let app: FastifyInstance;
  let admin: TestClient;
  let caretaker: TestClient;
  let cameraId: string;

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = { PROTOCAM_DATA_DIR: testDataDir(), PROTOCAM_POLICY: 'maaswonen-2024' };
    if (dialect === 'postgres') env.PROTOCAM_DATABASE_URL = await createPgDatabase();
    runtime = await openRuntime(loadConfig(env), clock, createLogger('silent'));
    const firstSignIn = await prepareInstallation(runtime);
    app = await createApp(runtime);

    admin = new TestClient(app);
    const first = await admin.post('/auth/one-time', {
      token: tokenOf(firstSignIn!),
      newPassword: 'beheerder wachtwoord 2026',
    });
    expect(first.statusCode).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    await runtime.db.close();
  });

  it('starting again creates no second administrator and records the policy only once', async () => {
    expect(await prepareInstallation(runtime)).toBeNull();
    const users = await admin.get('/users');
    expect(users.json().items.map((u: { username: string }) => u.username)).toEqual(['admin']);
    const policyEvents = await admin.get('/audit?targetType=policy');
    expect(policyEvents.json().items).toHaveLength(1);
  });

  it('the administrator registers a complex and a camera; a dummy camera is refused with its article (W 3.3)', async () => {
    const complex = await admin.post('/complexes', { name: 'De Linde', ownership: 'corporation' });
    expect(complex.statusCode).toBe(201);
    const building = await admin.post('/buildings', { complexId: complex.json().id, name: 'Blok A' });
    const camera = await admin.post('/cameras', {
      buildingId: building.json().id,
      name: 'Hal begane grond',
      kind: 'dummy',
      goals: ['protect-persons'],
    });
    expect(camera.statusCode).toBe(201);
    cameraId = camera.json().id;
    const refused = await admin.post(`/cameras/${cameraId}/activate`);
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('activation-refused');
    expect(refused.json().error.details.refusals.map((r: { code: string }) => r.code)).toEqual(['camera-is-dummy']);
  });

  it('a state-changing request without the CSRF token is refused', async () => {
    const response = await admin.post(
      '/complexes',
      { name: 'Zonder token', ownership: 'corporation' },
      { csrf: false },
    );
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('csrf-failed');
  });

  it('a caretaker must set up TOTP before anything else, then may read the registry but not change it', async () => {
    const added = await admin.post('/users', {
      username: 'marieke',
      displayName: 'Marieke de Vries',
      roles: ['huismeester'],
      language: 'nl',
    });
    expect(added.statusCode).toBe(201);

    caretaker = new TestClient(app, '10.0.0.8');
    const first = await caretaker.post('/auth/one-time', {
      token: added.json().oneTimeToken,
      newPassword: 'huismeester wachtwoord 2026',
    });
    expect(first.json().secondFactor).toBe('enroll');
    const blocked = await caretaker.get('/complexes');
    expect(blocked.statusCode).toBe(401);
    expect(blocked.json().error.code).toBe('second-factor-required');

    const enrolment = await caretaker.post('/auth/totp/enroll');
    const secret: string = enrolment.json().secret;
    expect((await caretaker.post('/auth/totp/confirm', { code: codeAt(secret, clock) })).statusCode).toBe(200);

    expect((await caretaker.get('/complexes')).statusCode).toBe(200);
    const write = await caretaker.post('/complexes', { name: 'Niet van mij', ownership: 'corporation' });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe('admin-only');
    expect((await caretaker.get('/audit')).statusCode).toBe(403);

    // Next sign-in asks for a fresh code; the password alone is not enough.
    clock.advance(MINUTE);
    const again = new TestClient(app, '10.0.0.8');
    const signIn = await again.signIn('marieke', 'huismeester wachtwoord 2026');
    expect(signIn.json().secondFactor).toBe('required');
    expect((await again.get('/complexes')).statusCode).toBe(401);
    expect((await again.post('/auth/totp/verify', { code: codeAt(secret, clock) })).statusCode).toBe(200);
    expect((await again.get('/complexes')).statusCode).toBe(200);
  });

  it('the gate refuses and logs a request for a purpose the protocol does not have (M 3.6)', async () => {
    const response = await caretaker.post('/access/requests', {
      category: 'door-events',
      purpose: 'support-accusation',
      scope: { doorIds: [] },
      window: { from: '2026-03-01T20:00:00+01:00', to: '2026-03-01T21:00:00+01:00' },
      reason: 'Wie heeft de deur opengezet?',
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('access-refused');

    const refusals = await runtime.db.kysely
      .selectFrom('logbook_records')
      .select(['kind', 'user_label', 'purpose'])
      .where('kind', '=', 'refusal')
      .execute();
    expect(refusals).toEqual([{ kind: 'refusal', user_label: 'marieke', purpose: 'support-accusation' }]);
  });

  it('the administrator, who sees no personal data, cannot obtain a grant for footage', async () => {
    const response = await admin.post('/access/requests', {
      category: 'footage',
      purpose: 'incident-assessment',
      scope: { cameraIds: [cameraId] },
      window: { from: '2026-03-01T20:00:00+01:00', to: '2026-03-01T21:00:00+01:00' },
      reason: 'Even kijken',
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('access-refused');
  });

  it('every change and every sign-in is in the audit trail, and the chain verifies', async () => {
    const actions = new Set(
      (await admin.get('/audit?limit=500')).json().items.map((e: { action: string }) => e.action) as string[],
    );
    for (const action of [
      'policy.installed',
      'user.created',
      'user.password-set',
      'user.totp-enabled',
      'auth.sign-in',
      'complex.created',
      'camera.created',
    ]) {
      expect(actions).toContain(action);
    }
    const audit = await admin.get('/audit?limit=500');
    expect(audit.body).not.toMatch(/wachtwoord 2026/);
    expect((await admin.get('/audit/verify')).json()).toMatchObject({ ok: true });
  });
});
