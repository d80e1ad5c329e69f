import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { seedRegistry, START } from '../../test/access-fixtures.js';
import { createTestDb } from '../../test/db.js';
import { doorEventRoutes } from './door-events.routes.js';
import { DoorEventService } from './door-events.service.js';
import { keyTagRoutes } from './key-tags.routes.js';
import { KeyTagService } from './key-tags.service.js';
import { allDoorEvents } from './partitions.repository.js';

const PRINCIPALS: Record<string, Principal> = {
  admin: {
    userId: 'u-admin',
    username: 'beheerder',
    displayName: 'Beheerder',
    roles: ['admin'],
    sessionId: 's1',
    secondFactorDone: true,
  },
  huismeester: {
    userId: 'u-hm',
    username: 'jan',
    displayName: 'Jan',
    roles: ['huismeester'],
    sessionId: 's2',
    secondFactorDone: true,
  },
};
type Who = keyof typeof PRINCIPALS | null;

describe('door-event HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let doorCode: string;
  let doorId: string;
  let sourceId: string;
  let apiKey: string;
  const clock = new ManualClock(START);

  const call = (who: Who, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object | string, headers = {}) =>
    app.inject({
      method,
      url: `/api${url}`,
      headers: { ...(who ? { 'x-test-user': who } : {}), ...headers },
      ...(payload !== undefined ? { payload } : {}),
    });
  const batch = (key: string | null, payload: unknown[]) =>
    app.inject({
      method: 'POST',
      url: '/api/door-events/batch',
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
      payload,
    });
  const event = (id: string, over: object = {}) => ({
    sourceEventId: id,
    occurredAt: new Date(clock.now() - 60_000).toISOString(),
    door: doorCode,
    tag: 'TAG-1',
    result: 'granted',
    ...over,
  });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const policy = loadPolicy('maaswonen-2024').policy;
    const audit = new AuditTrail(clock);
    const events = new DoorEventService({ db: db.kysely, clock, audit, policy: () => policy, maxBatch: 20 });
    const keyTags = new KeyTagService({
      db: db.kysely,
      clock,
      audit,
      policy: () => policy,
      encryptionKey: randomBytes(32),
    });
    const seed = await seedRegistry(db.kysely, clock.now());
    doorId = seed.doorIds[0];
    doorCode = (await db.kysely.selectFrom('doors').select('code').where('id', '=', doorId).executeTakeFirstOrThrow())
      .code;
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (PRINCIPALS[who] ?? null) : null);
      },
      routes: [doorEventRoutes(events, { batchBodyLimit: 64 * 1024 }), keyTagRoutes(keyTags)],
    });
    const created = await call('admin', 'POST', '/door-event-sources', {
      name: 'Hal',
      kind: 'http',
      doorScope: [doorId],
    });
    expect(created.statusCode).toBe(201);
    sourceId = created.json().id;
    const issued = await call('admin', 'POST', `/door-event-sources/${sourceId}/api-keys`);
    expect(issued.statusCode).toBe(201);
    apiKey = issued.json().key;
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('accepts a batch with a valid API key and reports per-record rejections', async () => {
    const response = await batch(apiKey, [event('e1'), event('e2', { door: 'NOPE' }), event('e1')]);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      received: 3,
      accepted: 1,
      duplicates: 1,
      late: 0,
      rejected: [{ index: 1, reason: 'door-unknown' }],
    });
  });

  it('judges a record with an unpaired surrogate itself: the rest of the batch is not refused for it', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/door-events/batch',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      payload: JSON.stringify([event('s1'), event('s2', { tag: 'TAG-\ud800' })]),
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ received: 2, rejected: [] });
  });

  it('refuses a missing, malformed, unknown or revoked key with 401', async () => {
    const missing = await batch(null, [event('x1')]);
    expect([missing.statusCode, missing.json().error.code]).toEqual([401, 'api-key-missing']);
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/door-events/batch',
      headers: { authorization: `Basic ${apiKey}` },
      payload: [event('x1')],
    });
    expect([malformed.statusCode, malformed.json().error.code]).toEqual([401, 'api-key-invalid']);
    const unknown = await batch('pcde_not-a-key', [event('x1')]);
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([401, 'api-key-invalid']);

    const second = (await call('admin', 'POST', `/door-event-sources/${sourceId}/api-keys`)).json();
    expect((await batch(second.key, [event('x2')])).statusCode).toBe(200);
    const revoke = await call('admin', 'POST', `/door-event-sources/${sourceId}/api-keys/${second.apiKey.id}/revoke`);
    expect(revoke.json().revokedAt).not.toBeNull();
    const revoked = await batch(second.key, [event('x3')]);
    expect([revoked.statusCode, revoked.json().error.code]).toEqual([401, 'api-key-invalid']);
    // A user session is not an API key.
    const session = await call('admin', 'POST', '/door-events/batch', [event('x4')]);
    expect(session.statusCode).toBe(401);
  });

  it('limits the batch size and the body size', async () => {
    const tooMany = await batch(
      apiKey,
      Array.from({ length: 21 }, (_, i) => event(`b${i}`)),
    );
    expect([tooMany.statusCode, tooMany.json().error.code]).toEqual([400, 'batch-too-large']);
    const tooBig = await batch(apiKey, [event('big', { pad: 'x'.repeat(70 * 1024) })]);
    expect([tooBig.statusCode, tooBig.json().error.code]).toEqual([413, 'body-too-large']);
    const notArray = await app.inject({
      method: 'POST',
      url: '/api/door-events/batch',
      headers: { authorization: `Bearer ${apiKey}` },
      payload: { records: [] },
    });
    expect([notArray.statusCode, notArray.json().error.code]).toEqual([400, 'validation-failed']);
  });

  it('keeps each record as sent as its raw payload, and parses the body as Fastify does', async () => {
    const send = (payload: string) =>
      app.inject({
        method: 'POST',
        url: '/api/door-events/batch',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        payload,
      });
    const asSent = JSON.stringify(event('raw-1')).replace('TAG-1', 'TAG-\\u0031');
    const pretty = JSON.stringify(event('raw-2'), null, 2);
    const response = await send(`[\n  ${asSent},\n  ${pretty}\n]\n`);
    expect(response.json()).toMatchObject({ received: 2, accepted: 2, rejected: [] });
    const rows = (await allDoorEvents(db.kysely))
      .filter((r) => ['raw-1', 'raw-2'].includes(r.source_event_id))
      .map((r) => ({ source_event_id: r.source_event_id, tag_code: r.tag_code, raw_payload: r.raw_payload }))
      .sort((a, b) => a.source_event_id.localeCompare(b.source_event_id));
    expect(rows).toEqual([
      // The text as sent (here with an escape in it); a pretty-printed record is kept compact.
      { source_event_id: 'raw-1', tag_code: 'TAG-1', raw_payload: asSent },
      { source_event_id: 'raw-2', tag_code: 'TAG-1', raw_payload: JSON.stringify(event('raw-2')) },
    ]);
    // Fastify's JSON errors, prototype poisoning included, are unchanged on this route.
    const broken = await send('[{"sourceEventId": "x"');
    expect([broken.statusCode, broken.json().error.code]).toEqual([400, 'malformed-json']);
    const poisoned = await send('[{"__proto__": {"admin": true}}]');
    expect([poisoned.statusCode, poisoned.json().error.code]).toEqual([400, 'malformed-json']);
    const empty = await send('');
    expect([empty.statusCode, empty.json().error.code]).toEqual([400, 'empty-body']);
  });

  it('admin routes refuse a non-admin and an anonymous caller', async () => {
    const holder = await call('admin', 'POST', '/tag-holders', { kind: 'tenant', name: 'Piet Pietersen' });
    for (const [method, url, payload] of [
      ['GET', '/door-event-sources', undefined],
      ['POST', '/door-event-sources', { name: 'X', kind: 'http', doorScope: [doorId] }],
      ['GET', `/door-event-sources/${sourceId}/rejections`, undefined],
      ['POST', `/door-event-sources/${sourceId}/api-keys`, undefined],
      ['GET', '/tag-holders', undefined],
      ['POST', '/tag-holders', { kind: 'tenant', name: 'X' }],
      ['POST', '/key-tags', { tagCode: 'T', holderId: holder.json().id, noticeGiven: true }],
    ] as const) {
      const response = await call('huismeester', method, url, payload);
      expect([url, response.statusCode, response.json().error.code]).toEqual([url, 403, 'admin-only']);
      expect((await call(null, method, url, payload)).statusCode).toBe(401);
    }
    const csv = await call('huismeester', 'POST', `/door-event-sources/${sourceId}/import`, 'a,b\n1,2', {
      'content-type': 'text/csv',
    });
    expect([csv.statusCode, csv.json().error.code]).toEqual([403, 'admin-only']);
  });

  it('shows rejection counts to administrators', async () => {
    const response = await call('admin', 'GET', `/door-event-sources/${sourceId}/rejections`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual([{ reason: 'door-unknown', count: 1, lastSeenAt: expect.any(String) }]);
  });

  it('imports CSV with the source mapping', async () => {
    const created = await call('admin', 'POST', '/door-event-sources', {
      name: 'Export',
      kind: 'csv',
      doorScope: [doorId],
      csvMapping: {
        sourceEventId: 'Nr',
        occurredAt: 'Tijd',
        door: 'Deur',
        tag: 'Tag',
        result: 'Status',
        delimiter: ';',
        resultMap: { ok: 'granted' },
      },
    });
    expect(created.statusCode).toBe(201);
    const text = `Nr;Tijd;Deur;Tag;Status\n1;${event('1').occurredAt};${doorCode};"A;1";OK\n2;nooit;${doorCode};B;OK\n`;
    const response = await call('admin', 'POST', `/door-event-sources/${created.json().id}/import`, text, {
      'content-type': 'text/csv',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      received: 2,
      accepted: 1,
      duplicates: 0,
      late: 0,
      rejected: [{ index: 1, line: 3, reason: 'occurred-at-invalid' }],
    });
    const json = await call('admin', 'POST', `/door-event-sources/${created.json().id}/import`, { a: 1 });
    expect(json.statusCode).toBe(400);
  });

  it('manages holders and tags without returning holder personal data', async () => {
    const holder = await call('admin', 'POST', '/tag-holders', {
      kind: 'contractor',
      name: 'Klaas Vaak',
      contact: 'klaas@example.nl',
    });
    expect(holder.statusCode).toBe(201);
    expect(Object.keys(holder.json()).sort()).toEqual([
      'addressSet',
      'contactSet',
      'createdAt',
      'id',
      'kind',
      'nameSet',
      'reference',
    ]);
    const noNotice = await call('admin', 'POST', '/key-tags', {
      tagCode: 'TAG-7',
      holderId: holder.json().id,
      noticeGiven: false,
    });
    expect([noNotice.statusCode, noNotice.json().error.code]).toEqual([422, 'tag-notice-missing']);
    const tag = await call('admin', 'POST', '/key-tags', {
      tagCode: 'TAG-7',
      holderId: holder.json().id,
      noticeGiven: true,
    });
    expect(tag.statusCode).toBe(201);
    expect((await call('admin', 'POST', `/key-tags/${tag.json().id}/block`)).json().status).toBe('blocked');
    const reissue = await call('admin', 'POST', `/key-tags/${tag.json().id}/reissue`, {
      holderId: holder.json().id,
      noticeGiven: true,
    });
    expect(reissue.json().status).toBe('issued');
    const all = JSON.stringify([
      (await call('admin', 'GET', '/tag-holders')).json(),
      (await call('admin', 'GET', '/key-tags')).json(),
    ]);
    expect(all).not.toContain('Klaas');
    expect(all).not.toContain('klaas@example.nl');
  });
});
