/**
 * 0006_logbook_chain on a logbook written in 0002's layout: every record keeps its seq, prev_hash
 * and hash (so signed heads stay valid), gains the hashed text as `body`, reads back with the
 * same column values, verifies, and new appends continue the same chain. 0009_logbook_speed
 * makes the entry index partial and leaves the records as they are.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../audit/chain.js';
import { migrateToLatest, openDatabase, type Db, type DialectName } from '../db/database.js';
import { migrations } from '../db/migrations/index.js';
import { loadPolicy } from '../policy/index.js';
import { DIALECTS } from '../../test/db.js';
import { addIncident, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { logbookHashBody, type LogbookFields } from './logbook.rules.js';
import { verifyLogbook } from './logbook.service.js';
import { appendLogbookBatch, findFollowUps, inTransaction, lockLogbookHead } from './logbook.repository.js';
import { HOUR } from '../lib/clock.js';

const NAMES = Object.keys(migrations);
const BEFORE = NAMES[NAMES.indexOf('0006_logbook_chain') - 1]!;

async function emptyDb(dialect: DialectName): Promise<Db> {
  if (dialect === 'sqlite') return openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'protocam-m6-')), 'x.db')}`);
  const adminUrl = inject('pgAdminUrl');
  const name = `m6_${process.pid}_${Date.now()}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return openDatabase(url.toString());
}

describe.each(DIALECTS)('migration 0006_logbook_chain on %s', (dialect) => {
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
  });

  it('keeps every record and its hash, verifies, and the chain continues', async () => {
    db = await emptyDb(dialect);
    const k = db.kysely as unknown as Kysely<unknown>;
    const migrator = new Migrator({ db: k, provider: { getMigrations: () => Promise.resolve(migrations) } });
    const before = await migrator.migrateTo(BEFORE);
    if (before.error) throw new Error(`migrating to ${BEFORE} failed`, { cause: before.error });

    // Three records in 0002's layout, hashed as 0002 did (chainHash over logbookHashBody).
    const t0 = Date.parse('2026-03-02T10:00:00Z');
    let prev = GENESIS_HASH;
    const written: (LogbookFields & { hash: string })[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const fields: LogbookFields = {
        seq,
        id: `rec-${seq}`,
        kind: seq === 3 ? 'finding' : 'consultation',
        occurred_at: t0 + seq,
        user_id: 'u-1',
        user_label: 'Jan "de" Vries',
        roles: '["huismeester"]',
        purpose: seq === 3 ? null : 'incident-assessment',
        category: seq === 3 ? null : 'footage',
        reason: seq === 3 ? null : `Reden ${seq}: ünïcode \\ "quotes"\ttab`,
        scope: seq === 3 ? null : '{"cameraIds":["c-1"]}',
        window_from: seq === 3 ? null : t0 - HOUR,
        window_to: seq === 3 ? null : t0,
        incident_id: null,
        request_id: null,
        disclosure_id: null,
        access_request_id: null,
        grant_id: seq === 3 ? null : `g-${seq}`,
        entry_id: seq === 3 ? 'rec-1' : null,
        refusal_code: null,
        text: seq === 3 ? 'Niets te zien' : null,
      };
      const hash = chainHash(prev, logbookHashBody(fields));
      await k
        .insertInto('logbook_records' as never)
        .values({ ...fields, prev_hash: prev, hash })
        .execute();
      written.push({ ...fields, hash });
      prev = hash;
    }
    await sql`update chain_heads set seq = 3, hash = ${prev} where chain = 'logbook'`.execute(k);

    await migrateToLatest(db);
    const rows = await db.kysely.selectFrom('logbook_records').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => ({ ...r, seq: Number(r.seq) }))).toEqual(
      written.map((w, i): unknown =>
        expect.objectContaining({ ...w, prev_hash: i === 0 ? GENESIS_HASH : written[i - 1]!.hash }),
      ),
    );

    const { gate, deps, clock } = services(db.kysely, loadPolicy('maaswonen-2024').policy);
    expect(await verifyLogbook(db.kysely, deps.verifyKey)).toEqual({ ok: true, checked: 3, signedHeads: 0 });
    const seed = await seedRegistry(db.kysely, clock.now());
    const incidentId = await addIncident(db.kysely, clock.now());
    await gate.requestAccess(principal('u-2', ['huismeester']), {
      purpose: 'incident-assessment',
      category: 'footage',
      scope: { cameraIds: [seed.cameraIds[0]] },
      from: clock.now() - 2 * HOUR,
      to: clock.now() - HOUR,
      reason: 'Na de migratie',
      incidentId,
    });
    for (const strategy of ['ranges', 'walk'] as const)
      expect(await verifyLogbook(db.kysely, deps.verifyKey, { strategy })).toEqual({
        ok: true,
        checked: 4,
        signedHeads: 0,
      });
  });
});

describe.each(DIALECTS)('migration 0009_logbook_speed on %s', (dialect) => {
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
  });

  it('keeps every record, indexes only records that refer to an entry, and follow-ups are still found', async () => {
    db = await emptyDb(dialect);
    const k = db.kysely as unknown as Kysely<unknown>;
    const migrator = new Migrator({ db: k, provider: { getMigrations: () => Promise.resolve(migrations) } });
    const before = await migrator.migrateTo(NAMES[NAMES.indexOf('0009_logbook_speed') - 1]!);
    if (before.error) throw new Error('migrating to the migration before 0009 failed', { cause: before.error });

    const t0 = Date.parse('2026-03-02T10:00:00Z');
    const blank = (id: string, kind: LogbookFields['kind'], entryId: string | null) => ({
      id,
      kind,
      occurred_at: t0,
      user_id: 'u-1',
      user_label: 'Jan',
      roles: '["huismeester"]',
      purpose: kind === 'consultation' ? 'incident-assessment' : null,
      category: kind === 'consultation' ? 'footage' : null,
      reason: kind === 'consultation' ? 'Vóór de migratie' : null,
      scope: kind === 'consultation' ? '{"cameraIds":["c-1"]}' : null,
      window_from: null,
      window_to: null,
      incident_id: null,
      request_id: null,
      disclosure_id: null,
      access_request_id: null,
      grant_id: null,
      entry_id: entryId,
      refusal_code: null,
      text: kind === 'finding' ? 'Niets te zien' : null,
    });
    await inTransaction(db.kysely, async (trx) =>
      appendLogbookBatch(trx, await lockLogbookHead(trx), [
        blank('e-1', 'consultation', null),
        blank('f-1', 'finding', 'e-1'),
        blank('e-2', 'consultation', null),
      ]),
    );
    const rowsBefore = await db.kysely.selectFrom('logbook_records').selectAll().orderBy('seq').execute();

    await migrateToLatest(db);
    const { rows: index } =
      dialect === 'sqlite'
        ? await sql<{ def: string }>`SELECT sql AS def FROM sqlite_schema WHERE name = 'logbook_records_entry'`.execute(
            k,
          )
        : await sql<{
            def: string;
          }>`SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'logbook_records_entry'`.execute(k);
    expect(index).toHaveLength(1);
    expect(index[0]!.def).toMatch(/WHERE \(?entry_id IS NOT NULL\)?/i);
    expect(await db.kysely.selectFrom('logbook_records').selectAll().orderBy('seq').execute()).toEqual(rowsBefore);
    expect((await findFollowUps(db.kysely, ['e-1', 'e-2'])).map((r) => r.id)).toEqual(['f-1']);
    if (dialect === 'sqlite') {
      // The planner proves `entry_id IN (...)` implies the index's `entry_id IS NOT NULL`.
      const { rows: plan } = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
        SELECT * FROM logbook_records WHERE entry_id IN ('e-1', 'e-2') AND kind IN ('finding', 'signature')`.execute(k);
      expect(plan.map((p) => p.detail).join('\n')).toContain('logbook_records_entry');
    }
    const { deps } = services(db.kysely, loadPolicy('maaswonen-2024').policy);
    for (const strategy of ['ranges', 'walk'] as const)
      expect(await verifyLogbook(db.kysely, deps.verifyKey, { strategy })).toEqual({
        ok: true,
        checked: 3,
        signedHeads: 0,
      });
  });
});
