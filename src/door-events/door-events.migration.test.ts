/**
 * 0007_door_events_keys on a database that already holds door events with 0003's text keys:
 * every row survives with its columns, gets an integer key in time order, idempotency by
 * (source, source event id) still holds, and new events continue the key sequence. Then
 * 0012_door_event_partitions moves them into hourly partitions, and back down again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AuditTrail } from '../audit/audit.js';
import { migrateToLatest, openDatabase, type Db, type DialectName } from '../db/database.js';
import { migrations } from '../db/migrations/index.js';
import { ManualClock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { loadPolicy } from '../policy/index.js';
import { DIALECTS } from '../../test/db.js';
import { seedRegistry, START } from '../../test/access-fixtures.js';
import { DoorEventService } from './door-events.service.js';
import { partitionOf, partitionTable } from './partitions.js';
import { allDoorEvents, livePartitions, partitionIndexNames } from './partitions.repository.js';

const NAMES = Object.keys(migrations);
const T0 = Date.parse(START);
/** The migration just before 0007, whichever it is. */
const BEFORE = NAMES[NAMES.indexOf('0007_door_events_keys') - 1]!;

/** An empty database (no migrations applied), unlike createTestDb's migrated one. */
async function emptyDb(dialect: DialectName): Promise<Db> {
  if (dialect === 'sqlite') return openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'protocam-m7-')), 'x.db')}`);
  const adminUrl = inject('pgAdminUrl');
  const name = `m7_${process.pid}_${Date.now()}`;
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

async function migrateTo(db: Kysely<unknown>, name: string): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
  const result = await migrator.migrateTo(name);
  if (result.error) throw result.error instanceof Error ? result.error : new Error(JSON.stringify(result.error));
}

describe.each(DIALECTS)('migrations 0007_door_events_keys and 0012_door_event_partitions on %s', (dialect) => {
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
  });

  it('keeps every event, numbers them in time order, and keeps idempotency', async () => {
    db = await emptyDb(dialect);
    const k = db.kysely as unknown as Kysely<unknown>;
    await migrateTo(k, BEFORE);

    const seed = await seedRegistry(db.kysely, T0);
    const sourceId = newId();
    await sql`insert into door_event_sources
        (id, name, kind, csv_mapping, door_scope, received, accepted, rejected, late, duplicate, created_at, updated_at)
      values (${sourceId}, 'Old', 'http', null, ${JSON.stringify(seed.doorIds)}, 3, 3, 0, 0, 0, ${T0}, ${T0})`.execute(
      k,
    );
    // Inserted out of time order, with 0003's random text keys.
    const old = [
      { sid: 'e-late', at: T0 - 1_000, tag: 'TAG-3', payload: '{"x":3}' },
      { sid: 'e-first', at: T0 - 3_000, tag: 'TAG-1', payload: null },
      { sid: 'e-middle', at: T0 - 2_000, tag: 'TAG-2', payload: '{"x":2}' },
    ];
    for (const e of old) {
      await sql`insert into door_events
          (id, source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
        values (${newId()}, ${sourceId}, ${e.sid}, ${e.at}, ${T0}, ${seed.doorIds[0]}, ${e.tag}, 'granted',
                ${e.payload})`.execute(k);
    }

    await migrateToLatest(db);

    // 0012 moved them into their hour's partition, ids and all.
    const hour = partitionOf(T0 - 1_000);
    expect(partitionOf(T0 - 3_000)).toBe(hour);
    expect(await livePartitions(db.kysely)).toEqual([hour]);
    const rows = await allDoorEvents(db.kysely);
    expect(
      rows.map((r) => [Number(r.id), r.source_event_id, Number(r.occurred_at), r.tag_code, r.raw_payload]),
    ).toEqual([
      [1, 'e-first', T0 - 3_000, 'TAG-1', null],
      [2, 'e-middle', T0 - 2_000, 'TAG-2', '{"x":2}'],
      [3, 'e-late', T0 - 1_000, 'TAG-3', '{"x":3}'],
    ]);

    // The service on the migrated table: a resent event is skipped, a new one takes the next key.
    const clock = new ManualClock(T0);
    const policy = loadPolicy('maaswonen-2024').policy;
    const events = new DoorEventService({ db: db.kysely, clock, audit: new AuditTrail(clock), policy: () => policy });
    const door = await db.kysely
      .selectFrom('doors')
      .select('code')
      .where('id', '=', seed.doorIds[0])
      .executeTakeFirstOrThrow();
    const record = (sid: string) => ({
      sourceEventId: sid,
      occurredAt: new Date(T0 - 500).toISOString(),
      door: door.code,
      tag: 'TAG-9',
      result: 'denied',
    });
    expect(await events.ingest(sourceId, [record('e-late'), record('e-new')])).toMatchObject({
      accepted: 1,
      duplicates: 1,
    });
    const added = (await allDoorEvents(db.kysely)).find((r) => r.source_event_id === 'e-new');
    if (!added) throw new Error('e-new not stored');
    expect([added.tag_code, added.result]).toEqual(['TAG-9', 'denied']);
    // After the migrated rows; PostgreSQL may skip a number (the skipped duplicate drew one).
    expect(Number(added.id)).toBeGreaterThan(3);

    // The indexes the queries and the retention sweep rely on are there under their names.
    const indexesOf = async (table: string) =>
      dialect === 'sqlite'
        ? (
            await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'index' and tbl_name = ${table}`.execute(k)
          ).rows.map((r) => r.name)
        : (
            await sql<{
              name: string;
            }>`select indexname as name from pg_indexes where tablename = ${table}`.execute(k)
          ).rows.map((r) => r.name);
    expect(await indexesOf(partitionTable(hour))).toEqual(expect.arrayContaining(partitionIndexNames(hour)));

    // Down from 0012: one table again, every row and its indexes back.
    await migrateTo(k, NAMES[NAMES.indexOf('0012_door_event_partitions') - 1]!);
    const back = await sql<{ source_event_id: string; occurred_at: number | string }>`
      select source_event_id, occurred_at from door_events order by id`.execute(k);
    expect(back.rows.map((r) => [r.source_event_id, Number(r.occurred_at)])).toEqual([
      ['e-first', T0 - 3_000],
      ['e-middle', T0 - 2_000],
      ['e-late', T0 - 1_000],
      ['e-new', T0 - 500],
    ]);
    expect(await indexesOf('door_events')).toEqual(
      expect.arrayContaining([
        'door_events_source_event',
        'door_events_door_time_tag',
        'door_events_tag_time',
        'door_events_time',
      ]),
    );
  });
});
