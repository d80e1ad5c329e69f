import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditChain } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { DAY, ManualClock } from '../lib/clock.js';
import { DomainError } from '../lib/errors.js';
import { loadPolicy, type Policy } from '../policy/index.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { seedRegistry, START } from '../../test/access-fixtures.js';
import { DoorEventService } from './door-events.service.js';
import { KeyTagService } from './key-tags.service.js';
import { allDoorEvents } from './partitions.repository.js';

const admin = { id: 'u-admin', label: 'beheerder' };
const HOLDER_NAME = 'Fatima de Vries-Özdemir';
const HOLDER_CONTACT = 'fatima@example.nl';

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe.each(DIALECTS)('door-event ingest and key tags on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let policy: Policy;
  let events: DoorEventService;
  let keyTags: KeyTagService;
  let doorCodes: [string, string];
  let doorIds: [string, string];
  let sourceId: string;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock(START);
    policy = loadPolicy('maaswonen-2024').policy;
    const audit = new AuditTrail(clock);
    events = new DoorEventService({ db: db.kysely, clock, audit, policy: () => policy, maxBatch: 50 });
    keyTags = new KeyTagService({ db: db.kysely, clock, audit, policy: () => policy, encryptionKey: randomBytes(32) });
    const seed = await seedRegistry(db.kysely, clock.now());
    doorIds = seed.doorIds;
    const doors = await db.kysely.selectFrom('doors').select(['id', 'code']).execute();
    const codeOf = (id: string) => doors.find((d) => d.id === id)!.code;
    doorCodes = [codeOf(doorIds[0]), codeOf(doorIds[1])];
    sourceId = (await events.createSource(admin, { name: 'Nedap hal', kind: 'http', doorScope: [doorIds[0]] })).id;
  });
  afterEach(async () => {
    await db.close();
  });

  const at = (offsetMs: number) => new Date(clock.now() + offsetMs).toISOString();
  const event = (id: string, over: object = {}) => ({
    sourceEventId: id,
    occurredAt: at(-60_000),
    door: doorCodes[0],
    tag: 'TAG-1',
    result: 'granted',
    ...over,
  });
  const storedCount = async () => (await allDoorEvents(db.kysely)).length;
  const auditRows = () => db.kysely.selectFrom('audit_events').selectAll().orderBy('seq').execute();

  it('keeps the good records of a mixed batch and counts the bad ones per reason', async () => {
    const result = await events.ingest(sourceId, [
      event('e1'),
      event('e2', { door: 'NO-SUCH-DOOR' }),
      event('e3', { occurredAt: 'gisteren' }),
      event('e4', { tag: '' }),
      event('e5', { result: 'denied', tag: 'TAG-2' }),
      event('e6', { door: 'ALSO-UNKNOWN' }),
      'not a record',
    ]);
    expect(result).toEqual({
      received: 7,
      accepted: 2,
      duplicates: 0,
      late: 0,
      rejected: [
        { index: 1, reason: 'door-unknown' },
        { index: 2, reason: 'occurred-at-invalid' },
        { index: 3, reason: 'tag-missing' },
        { index: 5, reason: 'door-unknown' },
        { index: 6, reason: 'record-invalid' },
      ],
    });
    const rows = (await allDoorEvents(db.kysely)).sort((a, b) => a.source_event_id.localeCompare(b.source_event_id));
    expect(rows.map((r) => [r.source_event_id, r.door_id, r.tag_code, r.result])).toEqual([
      ['e1', doorIds[0], 'TAG-1', 'granted'],
      ['e5', doorIds[0], 'TAG-2', 'denied'],
    ]);
    expect(Number(rows[0]!.occurred_at)).toBe(clock.now() - 60_000);
    expect(Number(rows[0]!.received_at)).toBe(clock.now());
    expect(JSON.parse(rows[0]!.raw_payload!)).toMatchObject({ sourceEventId: 'e1' });

    await events.ingest(sourceId, [event('e7', { door: 'X' })]);
    expect(await events.rejectionCounts(sourceId)).toEqual([
      { reason: 'door-unknown', count: 3, lastSeenAt: new Date(clock.now()).toISOString() },
      { reason: 'occurred-at-invalid', count: 1, lastSeenAt: expect.any(String) },
      { reason: 'record-invalid', count: 1, lastSeenAt: expect.any(String) },
      { reason: 'tag-missing', count: 1, lastSeenAt: expect.any(String) },
    ]);
    expect((await events.getSource(sourceId)).counters).toEqual({
      received: 8,
      accepted: 2,
      rejected: 6,
      late: 0,
      duplicate: 0,
    });
  });

  it('stores text exactly as sent through the bulk insert: quotes, backslashes, non-ASCII, numbers', async () => {
    const odd = event('e"\\1', { tag: 'TAG "ü" \\ 😀', extra: { n: 12345678901234, s: 'a\nb' } });
    expect(await events.ingest(sourceId, [odd, event('42')])).toMatchObject({ accepted: 2 });
    const rows = await allDoorEvents(db.kysely);
    expect(rows.map((r) => [r.source_event_id, r.tag_code, Number(r.occurred_at)])).toEqual([
      ['e"\\1', 'TAG "ü" \\ 😀', clock.now() - 60_000],
      ['42', 'TAG-1', clock.now() - 60_000],
    ]);
    expect(rows[0]!.raw_payload).toBe(JSON.stringify(odd));
  });

  it('stores nothing twice when a batch is resent (and within one batch)', async () => {
    const batch = [event('e1'), event('e2'), event('e2')];
    expect(await events.ingest(sourceId, batch)).toMatchObject({ accepted: 2, duplicates: 1 });
    expect(await events.ingest(sourceId, batch)).toMatchObject({ accepted: 0, duplicates: 3 });
    expect(await storedCount()).toBe(2);
    expect((await events.getSource(sourceId)).counters.duplicate).toBe(4);
    // The same source event id from another source is another event.
    const other = await events.createSource(admin, { name: 'Tweede', kind: 'http', doorScope: [doorIds[0]] });
    expect(await events.ingest(other.id, [event('e1')])).toMatchObject({ accepted: 1 });
  });

  it('does not store events older than the retention at arrival (M 6.7) and counts them late', async () => {
    const result = await events.ingest(sourceId, [
      event('old', { occurredAt: at(-29 * DAY) }),
      event('edge', { occurredAt: at(-28 * DAY) }),
      event('recent', { occurredAt: at(-27 * DAY) }),
      event('future', { occurredAt: at(DAY) }),
    ]);
    expect(result).toMatchObject({ accepted: 1, late: 2, rejected: [{ index: 3, reason: 'occurred-at-future' }] });
    expect(await storedCount()).toBe(1);
    expect((await events.getSource(sourceId)).counters.late).toBe(2);
  });

  it('rejects a door outside the source scope', async () => {
    const result = await events.ingest(sourceId, [event('e1', { door: doorCodes[1] }), event('e2')]);
    expect(result.rejected).toEqual([{ index: 0, reason: 'door-out-of-scope' }]);
    expect(result.accepted).toBe(1);
  });

  it('refuses everything when the policy has no key tags (W)', async () => {
    policy = loadPolicy('wooninvest-2021').policy;
    const error = await rejection(events.ingest(sourceId, [event('e1')]));
    expect([error.kind, error.code]).toEqual(['refused', 'key-tags-disabled']);
    expect((await rejection(keyTags.createHolder(admin, { kind: 'tenant', name: 'X' }))).code).toBe(
      'key-tags-disabled',
    );
    expect(await storedCount()).toBe(0);
  });

  it('refuses a batch larger than the configured maximum', async () => {
    const batch = Array.from({ length: 51 }, (_, i) => event(`e${i}`));
    const error = await rejection(events.ingest(sourceId, batch));
    expect([error.kind, error.code]).toEqual(['invalid', 'batch-too-large']);
  });

  it('imports CSV with the source mapping in chunks and reports lines', async () => {
    const csv = await events.createSource(admin, {
      name: 'Export',
      kind: 'csv',
      doorScope: doorIds,
      csvMapping: {
        sourceEventId: 'id',
        occurredAt: 'time',
        door: 'door',
        tag: 'tag',
        result: 'result',
        timeFormat: 'local-ymd',
        timeZone: 'Europe/Amsterdam',
      },
    });
    const local = (ms: number) => {
      const d = new Date(ms + 3_600_000); // START is in March: CET = UTC+1
      return d.toISOString().slice(0, 19).replace('T', ' ');
    };
    const lines = ['id,time,door,tag,result'];
    for (let i = 0; i < 120; i++)
      lines.push(`r${i},${local(clock.now() - (i + 1) * 60_000)},${doorCodes[i % 2]},"T,${i}",granted`);
    lines.push(`bad,${local(clock.now())},${doorCodes[0]},,granted`);
    const result = await events.importCsv(csv.id, lines.join('\r\n'), admin);
    expect(result).toMatchObject({ received: 121, accepted: 120, duplicates: 0, late: 0 });
    expect(result.rejected).toEqual([{ index: 120, line: 122, reason: 'tag-missing' }]);
    const first = (await allDoorEvents(db.kysely)).find((r) => r.source_event_id === 'r0');
    if (!first) throw new Error('r0 not stored');
    expect([Number(first.occurred_at), first.tag_code]).toEqual([clock.now() - 60_000, 'T,0']);
    expect((await events.importCsv(csv.id, lines.join('\n'), admin)).duplicates).toBe(120);
    const imports = (await auditRows()).filter((r) => r.action === 'door-events.imported');
    expect(imports.length).toBe(6); // 3 chunks of at most 50, twice

    const header = await rejection(events.importCsv(csv.id, 'id,when\n1,2'));
    expect([header.code, header.details]).toEqual([
      'csv-header-invalid',
      { missingColumns: ['time', 'door', 'tag', 'result'] },
    ]);
    expect((await rejection(events.importCsv(sourceId, lines.join('\n')))).code).toBe('csv-mapping-missing');
  });

  it('issues API keys stored only as a hash, and revokes them', async () => {
    const { key, apiKey } = await events.issueApiKey(admin, sourceId);
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    expect(await events.sourceForApiKey(key)).toBe(sourceId);
    const stored = await db.kysely.selectFrom('door_event_api_keys').selectAll().executeTakeFirstOrThrow();
    expect(stored.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(key);
    await events.revokeApiKey(admin, sourceId, apiKey.id);
    expect((await rejection(events.sourceForApiKey(key))).code).toBe('api-key-invalid');
    expect((await rejection(events.sourceForApiKey('pcde_guess'))).code).toBe('api-key-invalid');
    const csv = await events.createSource(admin, {
      name: 'Export',
      kind: 'csv',
      doorScope: [doorIds[0]],
      csvMapping: { sourceEventId: 'a', occurredAt: 'b', door: 'c', tag: 'd', result: 'e' },
    });
    expect((await rejection(events.issueApiKey(admin, csv.id))).code).toBe('source-kind-mismatch');
    expect(JSON.stringify(await auditRows())).not.toContain(key);
  });

  it('validates sources: known doors in scope, unique name, mapping for csv', async () => {
    expect((await rejection(events.createSource(admin, { name: 'X', kind: 'http', doorScope: ['nope'] }))).code).toBe(
      'door-scope-unknown',
    );
    expect(
      (await rejection(events.createSource(admin, { name: 'Nedap hal', kind: 'http', doorScope: [doorIds[0]] }))).code,
    ).toBe('source-name-taken');
    expect(
      (await rejection(events.createSource(admin, { name: 'C', kind: 'csv', doorScope: [doorIds[0]] }))).code,
    ).toBe('validation-failed');
    const updated = await events.updateSource(admin, sourceId, { doorScope: doorIds });
    expect(updated.doorScope).toEqual(doorIds);
    expect((await events.ingest(sourceId, [event('e1', { door: doorCodes[1] })])).accepted).toBe(1);
  });

  it('stores holders encrypted and never shows their personal fields', async () => {
    const holder = await keyTags.createHolder(admin, {
      kind: 'tenant',
      name: HOLDER_NAME,
      address: 'Maasboulevard 12-3',
      contact: HOLDER_CONTACT,
    });
    expect(holder).toMatchObject({ kind: 'tenant', nameSet: true, addressSet: true, contactSet: true });
    expect(holder.reference).toMatch(/^H-/);
    expect(JSON.stringify(holder)).not.toContain('Fatima');
    const raw = await db.kysely.selectFrom('tag_holders').selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(raw)).not.toContain('Fatima');
    expect(JSON.stringify(raw)).not.toContain('Maasboulevard');
    expect(raw.name_enc.startsWith('v1.')).toBe(true);
    expect(JSON.stringify(await keyTags.listHolders())).not.toContain('Fatima');
  });

  it('refuses to issue a tag without the registration notice (M 3.5, M 7)', async () => {
    const holder = await keyTags.createHolder(admin, { kind: 'staff', name: HOLDER_NAME });
    const error = await rejection(
      keyTags.issueTag(admin, { tagCode: 'TAG-1', holderId: holder.id, noticeGiven: false }),
    );
    expect([error.kind, error.code]).toEqual(['refused', 'tag-notice-missing']);
    expect(await db.kysely.selectFrom('key_tags').selectAll().execute()).toEqual([]);
  });

  it('issues, blocks, returns and reissues tags; assignments keep who held the tag when', async () => {
    const first = await keyTags.createHolder(admin, { kind: 'tenant', name: HOLDER_NAME });
    const second = await keyTags.createHolder(admin, {
      kind: 'contractor',
      name: 'Bouwbedrijf Jansen',
      contact: HOLDER_CONTACT,
    });
    const tag = await keyTags.issueTag(admin, { tagCode: 'TAG-1', holderId: first.id, noticeGiven: true });
    expect(tag).toMatchObject({
      status: 'issued',
      holderReference: first.reference,
      noticeGivenAt: START.replace('Z', '.000Z'),
    });
    expect(
      (await rejection(keyTags.issueTag(admin, { tagCode: 'TAG-1', holderId: second.id, noticeGiven: true }))).code,
    ).toBe('tag-exists');
    expect((await rejection(keyTags.reissueTag(admin, tag.id, { holderId: second.id, noticeGiven: true }))).code).toBe(
      'tag-status-invalid',
    );
    clock.advance(DAY);
    expect((await keyTags.blockTag(admin, tag.id)).status).toBe('blocked');
    clock.advance(DAY);
    const returned = await keyTags.returnTag(admin, tag.id);
    expect(returned).toMatchObject({ status: 'returned', holderId: null });
    expect((await rejection(keyTags.blockTag(admin, tag.id))).code).toBe('tag-status-invalid');
    expect((await rejection(keyTags.reissueTag(admin, tag.id, { holderId: second.id, noticeGiven: false }))).code).toBe(
      'tag-notice-missing',
    );
    clock.advance(DAY);
    const reissued = await keyTags.reissueTag(admin, tag.id, { holderId: second.id, noticeGiven: true });
    expect(reissued).toMatchObject({ status: 'issued', holderReference: second.reference, returnedAt: null });
    const assignments = await db.kysely.selectFrom('key_tag_assignments').selectAll().orderBy('issued_at').execute();
    expect(
      assignments.map((a) => [a.holder_id, Number(a.issued_at), a.ended_at === null ? null : Number(a.ended_at)]),
    ).toEqual([
      [first.id, Date.parse(START), Date.parse(START) + 2 * DAY],
      [second.id, Date.parse(START) + 3 * DAY, null],
    ]);
  });

  it('audits sources, keys, holders and tags without holder personal data', async () => {
    const { apiKey } = await events.issueApiKey(admin, sourceId);
    await events.revokeApiKey(admin, sourceId, apiKey.id);
    const holder = await keyTags.createHolder(admin, {
      kind: 'household-member',
      name: HOLDER_NAME,
      address: 'Maasboulevard 12-3',
      contact: HOLDER_CONTACT,
    });
    const tag = await keyTags.issueTag(admin, { tagCode: 'TAG-9', holderId: holder.id, noticeGiven: true });
    await keyTags.blockTag(admin, tag.id);
    await keyTags.returnTag(admin, tag.id);
    await keyTags.reissueTag(admin, tag.id, { holderId: holder.id, noticeGiven: true });
    const rows = await auditRows();
    expect(rows.map((r) => r.action)).toEqual([
      'door-event-source.created',
      'door-event-api-key.issued',
      'door-event-api-key.revoked',
      'tag-holder.created',
      'key-tag.issued',
      'key-tag.blocked',
      'key-tag.returned',
      'key-tag.reissued',
    ]);
    const text = JSON.stringify(rows);
    for (const secret of ['Fatima', 'Özdemir', 'Maasboulevard', HOLDER_CONTACT]) expect(text).not.toContain(secret);
    expect(JSON.parse(rows[3]!.after!)).toEqual({
      kind: 'household-member',
      reference: holder.reference,
      name: '[set]',
      address: '[set]',
      contact: '[set]',
    });
    expect((await verifyAuditChain(db.kysely)).ok).toBe(true);
  });
});
