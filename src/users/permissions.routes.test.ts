import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.js';
import { ManualClock } from '../lib/clock.js';
import { loadPolicy } from '../policy/index.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import {
  buildUsersTestApp,
  codeAt,
  createUsersService,
  createUserWithPassword,
  TestClient,
} from '../../test/users-app.js';
import { permissionsOf, permissionsRoutes } from './permissions.routes.js';
import { CLI_ACTOR } from './users.service.js';

const maaswonen = loadPolicy('maaswonen-2024').policy;

describe('permissionsOf: what the web interface may offer a user (pure, from the policy)', () => {
  it('a caretaker may check tags (M 3.5) but not search witnesses (M 3.6), read or sign the logbook', () => {
    const p = permissionsOf(maaswonen, ['huismeester']);
    expect(p.admin).toBe(false);
    expect(p.purposes.map((x) => x.id)).toEqual(['incident-assessment', 'tag-function-check']);
    expect(p.purposes.find((x) => x.id === 'tag-function-check')).toMatchObject({
      categories: ['door-events', 'tag-holders'],
      requires: 'none',
      fourEyes: false,
      articles: ['M 3.5'],
    });
    expect(p.capabilities).not.toContain('read-logbook');
    expect(p.capabilities).not.toContain('sign-logbook');
    expect(p.seesPersonalData).toBe(true);
    expect(p.roles).toEqual([{ id: 'huismeester', name: { nl: 'Huismeester', en: 'Caretaker' } }]);
  });

  it('a manager (M 2.6) signs the logbook and searches witnesses with four eyes; the administrator sees no personal data', () => {
    const manager = permissionsOf(maaswonen, ['manager-klant-wonen']);
    expect(manager.capabilities).toEqual(expect.arrayContaining(['sign-logbook', 'read-logbook', 'approve-access']));
    expect(manager.purposes.find((x) => x.id === 'calamity-witness-search')?.fourEyes).toBe(true);
    const admin = permissionsOf(maaswonen, ['admin']);
    expect(admin).toMatchObject({ admin: true, capabilities: [], purposes: [], seesPersonalData: false });
    expect(admin.roles[0]?.name.nl).toBe('Beheerder');
  });
});

describe.each(DIALECTS)('GET /api/auth/permissions on %s', (dialect) => {
  let db: Db;
  let app: FastifyInstance;
  let clock: ManualClock;
  let context: ReturnType<typeof createUsersService>;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    context = createUsersService(db.kysely, clock);
    app = await buildUsersTestApp(context, { extraRoutes: [permissionsRoutes(() => maaswonen)] });
  });
  afterEach(async () => {
    await app.close();
    await db.close();
  });

  it('refuses without a session and before the second factor; answers the own permissions after it', async () => {
    const client = new TestClient(app);
    expect((await client.get('/auth/permissions')).statusCode).toBe(401);
    await createUserWithPassword(
      context.users,
      CLI_ACTOR,
      { username: 'henk', displayName: 'Henk', roles: ['huismeester'] },
      'een lang wachtwoord 2026',
    );
    expect((await client.signIn('henk', 'een lang wachtwoord 2026')).statusCode).toBe(200);
    const pending = await client.get('/auth/permissions');
    expect(pending.statusCode).toBe(401);
    expect(pending.json().error.code).toBe('second-factor-required');
    const { secret } = (await client.post('/auth/totp/enroll')).json();
    expect((await client.post('/auth/totp/confirm', { code: codeAt(secret, clock) })).statusCode).toBe(200);
    const answer = await client.get('/auth/permissions');
    expect(answer.statusCode).toBe(200);
    expect(answer.json().purposes.map((p: { id: string }) => p.id)).toEqual([
      'incident-assessment',
      'tag-function-check',
    ]);
  });
});
