import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateService } from '../access/index.js';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { HOUR, MINUTE, type ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { addIncident, addSubjectRequest, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { createTestDb } from '../../test/db.js';
import { DoorEventQueryService } from './door-events.queries.js';
import { doorEventQueryRoutes } from './door-events.queries.routes.js';
import { DoorEventService } from './door-events.service.js';
import { KeyTagService } from './key-tags.service.js';

const USERS: Record<string, Principal> = {
  hm: principal('u-hm', ['huismeester']),
  hm2: principal('u-hm2', ['huismeester']),
  mkw: principal('u-mkw', ['manager-klant-wonen']),
  mvg: principal('u-mvg', ['manager-vastgoed']),
};
const admin = { id: 'u-admin', label: 'beheerder' };
const HOLDER = { name: 'Anna de Graaf', contact: 'anna@example.nl' };

describe('door-event query HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let gate: GateService;
  let clock: ManualClock;
  let doorIds: [string, string];
  let incidentId: string;
  let requestId: string;
  let t0: number;

  const call = (who: string | null, method: 'GET' | 'POST', url: string, token?: string, payload?: object) =>
    app.inject({
      method,
      url: `/api${url}`,
      headers: { ...(who ? { 'x-test-user': who } : {}), ...(token ? { 'x-protocam-grant': token } : {}) },
      ...(payload ? { payload } : {}),
    });

  const grant = async (who: string, ask: Parameters<GateService['requestAccess']>[1]) => {
    const out = await gate.requestAccess(USERS[who]!, ask);
    if (out.status !== 'granted') throw new Error('expected a grant');
    return out.token;
  };

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const policy = loadPolicy('maaswonen-2024').policy;
    const access = services(db.kysely, policy);
    gate = access.gate;
    clock = access.clock;
    const audit = new AuditTrail(clock);
    const encryptionKey = randomBytes(32);
    const events = new DoorEventService({ db: db.kysely, clock, audit, policy: () => policy });
    const keyTags = new KeyTagService({ db: db.kysely, clock, audit, policy: () => policy, encryptionKey });
    const queries = new DoorEventQueryService({ db: db.kysely, clock, gate, policy: () => policy, encryptionKey });
    const seed = await seedRegistry(db.kysely, clock.now());
    doorIds = seed.doorIds;
    const doors = await db.kysely.selectFrom('doors').select(['id', 'code']).execute();
    const codeOf = (id: string) => doors.find((d) => d.id === id)!.code;
    const sourceId = (await events.createSource(admin, { name: 'Nedap', kind: 'http', doorScope: doorIds })).id;
    t0 = clock.now();
    const holder = await keyTags.createHolder(admin, { kind: 'tenant', ...HOLDER });
    await keyTags.issueTag(admin, { tagCode: 'TAG-42', holderId: holder.id, noticeGiven: true });
    clock.advance(2 * HOUR);
    const at = (m: number) => new Date(t0 + m * MINUTE).toISOString();
    const result = await events.ingest(sourceId, [
      { sourceEventId: 'e1', occurredAt: at(60), door: codeOf(doorIds[0]), tag: 'TAG-42', result: 'granted' },
      { sourceEventId: 'e2', occurredAt: at(70), door: codeOf(doorIds[1]), tag: 'TAG-42', result: 'denied' },
      { sourceEventId: 'e3', occurredAt: at(80), door: codeOf(doorIds[0]), tag: 'TAG-7', result: 'granted' },
    ]);
    expect(result.accepted).toBe(3);
    incidentId = await addIncident(db.kysely, clock.now(), 'calamity');
    requestId = await addSubjectRequest(db.kysely, clock.now(), 'TAG-42');

    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (USERS[who] ?? null) : null);
      },
      routes: [doorEventQueryRoutes(queries)],
    });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('tag-check: signed in, with a grant, events without holder; otherwise refused', async () => {
    const token = await grant('hm', {
      category: 'door-events',
      purpose: 'tag-function-check',
      scope: { tag: 'TAG-42' },
      from: t0,
      to: clock.now(),
      reason: 'Tag does not open the hall door',
    });
    expect((await call(null, 'GET', '/door-events/tag-check?tag=TAG-42', token)).statusCode).toBe(401);
    const none = await call('hm', 'GET', '/door-events/tag-check?tag=TAG-42');
    expect([none.statusCode, none.json().error.code]).toEqual([404, 'grant-not-found']);
    const foreign = await call('hm2', 'GET', '/door-events/tag-check?tag=TAG-42', token);
    expect([foreign.statusCode, foreign.json().error.code]).toEqual([404, 'grant-not-found']);

    const ok = await call('hm', 'GET', '/door-events/tag-check?tag=TAG-42', token);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().events.map((e: { result: string }) => e.result)).toEqual(['denied', 'granted']);
    expect(ok.body).not.toContain(HOLDER.name);
    expect(ok.body).not.toContain(HOLDER.contact);

    const other = await call('hm', 'GET', '/door-events/tag-check?tag=TAG-7', token);
    expect([other.statusCode, other.json().error.code]).toEqual([403, 'outside-grant']);
    const door = await call('hm', 'GET', `/door-events/tag-check?doorId=${doorIds[1]}`, token);
    expect([door.statusCode, door.json().error.code]).toEqual([403, 'outside-grant']);
    const early = await call(
      'hm',
      'GET',
      `/door-events/tag-check?tag=TAG-42&from=${encodeURIComponent(new Date(t0 - HOUR).toISOString())}`,
      token,
    );
    expect([early.statusCode, early.json().error.code]).toEqual([403, 'outside-grant']);
    const both = await call('hm', 'GET', `/door-events/tag-check?tag=TAG-42&doorId=${doorIds[1]}`, token);
    expect(both.statusCode).toBe(400);
    expect((await call('hm', 'GET', '/door-events/tag-check?tag=TAG-42&holder=1', token)).statusCode).toBe(400);
    expect((await call('hm', 'GET', `/door-events/tag-check?tag=${'A'.repeat(65)}`, token)).statusCode).toBe(400);
  });

  it('witness-search: four-eyes grant, the tags and their holders’ contact', async () => {
    const from = new Date(t0 + 30 * MINUTE).toISOString();
    const to = new Date(t0 + 90 * MINUTE).toISOString();
    const pending = await gate.requestAccess(USERS.mkw!, {
      category: 'door-events',
      purpose: 'calamity-witness-search',
      scope: { doorIds: [doorIds[0]] },
      from: Date.parse(from),
      to: Date.parse(to),
      reason: 'Fire in the hall: find witnesses',
      incidentId,
    });
    if (pending.status !== 'pending') throw new Error('expected pending');
    await gate.approve(USERS.mvg!, pending.requestId);
    const { token } = await gate.claimGrant(USERS.mkw!, pending.requestId);

    const body = { doorIds: [doorIds[0]], from, to };
    const none = await call('mkw', 'POST', '/door-events/witness-search', undefined, body);
    expect([none.statusCode, none.json().error.code]).toEqual([404, 'grant-not-found']);
    const ok = await call('mkw', 'POST', '/door-events/witness-search', token, body);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().witnesses).toEqual([
      { tag: 'TAG-42', holder: { reference: expect.any(String), kind: 'tenant', ...HOLDER } },
      { tag: 'TAG-7', holder: null },
    ]);
    const wider = await call('mkw', 'POST', '/door-events/witness-search', token, {
      ...body,
      doorIds: [doorIds[0], doorIds[1]],
    });
    expect([wider.statusCode, wider.json().error.code]).toEqual([403, 'outside-grant']);
    expect((await call('mkw', 'POST', '/door-events/witness-search', token, { ...body, extra: true })).statusCode).toBe(
      400,
    );

    // A huismeester cannot even get such a grant.
    const refused = await call('hm', 'POST', '/door-events/witness-search', 'y'.repeat(43), body);
    expect([refused.statusCode, refused.json().error.code]).toEqual([404, 'grant-not-found']);
  });

  it('subject-copy: JSON and CSV of the own tag only', async () => {
    const token = await grant('mkw', {
      category: 'door-events',
      purpose: 'subject-access',
      scope: { tag: 'TAG-42' },
      from: t0,
      to: clock.now(),
      reason: 'Subject access request',
      requestId,
    });
    const json = await call('mkw', 'GET', '/door-events/subject-copy?tag=TAG-42', token);
    expect(json.statusCode).toBe(200);
    expect(json.json().events.map((e: { tag: string; result: string }) => [e.tag, e.result])).toEqual([
      ['TAG-42', 'granted'],
      ['TAG-42', 'denied'],
    ]);
    const csv = await call('mkw', 'GET', '/door-events/subject-copy?tag=TAG-42&format=csv', token);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\r\n')).toHaveLength(4);
    const other = await call('mkw', 'GET', '/door-events/subject-copy?tag=TAG-7', token);
    expect([other.statusCode, other.json().error.code]).toEqual([403, 'outside-grant']);
    const purpose = await call('mkw', 'GET', '/door-events/tag-check?tag=TAG-42', token);
    expect([purpose.statusCode, purpose.json().error.details]).toEqual([403, { outside: 'purpose' }]);
  });
});
