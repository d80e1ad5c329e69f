/**
 * Door events in hourly partitions (src/door-events/partitions.ts) under the retention sweeper:
 * an expired, unheld hour is dropped whole with an erasure record per door that matches what was
 * in it; a hold that reaches into an hour keeps its table and only its unheld rows go; a drop a
 * crash interrupted is finished by the next sweep, counting rows that came in after the count.
 * M 6.7 (door events at most four weeks), M 6.6-6.7 and W 2.4-2.5 (holds).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { principal, seedRegistry, type Seed } from '../../test/access-fixtures.js';
import { addEvents, addSource, eventIds, retentionServices } from '../../test/retention-fixtures.js';
import type { Db } from '../db/database.js';
import { eventsOfTag } from '../door-events/door-events.queries.repository.js';
import { partitionOf, partitionStart, partitionTable } from '../door-events/partitions.js';
import { highestId, livePartitions, markErasing } from '../door-events/partitions.repository.js';
import type { HoldService } from '../holds/holds.service.js';
import { HOUR, MINUTE, ManualClock } from '../lib/clock.js';
import { loadPolicy, retentionMs, type Policy } from '../policy/index.js';
import type { RetentionSweeper } from './sweeper.js';

const INTERVAL = MINUTE;

describe.each(DIALECTS)('door-event partitions under the sweeper (%s)', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let seed: Seed;
  let policy: Policy;
  let sweeper: RetentionSweeper;
  let holds: HoldService;
  let sourceId: string;
  let retention: number;
  const manager = principal('u-mgr', ['manager-klant-wonen']);

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    policy = loadPolicy('maaswonen-2024').policy;
    retention = retentionMs(policy, 'door-events')!;
    const dataDir = mkdtempSync(join(tmpdir(), 'protocam-partitions-'));
    seed = await seedRegistry(db.kysely, clock.now());
    sourceId = await addSource(db.kysely, clock.now(), seed.doorIds);
    ({ sweeper, holds } = retentionServices(db.kysely, clock, () => policy, {
      recordingsDir: join(dataDir, 'recordings'),
      exportsDir: join(dataDir, 'exports'),
      intervalMs: INTERVAL,
      threshold: { minFreeBytes: 0, minFreePercent: 0 },
      batch: { segments: { min: 2, max: 7 }, events: { min: 2, max: 7 } },
    }));
  });
  afterEach(async () => {
    await db.close();
  });

  const tableExists = async (hour: number): Promise<boolean> => {
    const name = partitionTable(hour);
    const rows =
      dialect === 'sqlite'
        ? (await sql`select name from sqlite_master where type = 'table' and name = ${name}`.execute(db.kysely)).rows
        : (await sql`select tablename from pg_tables where tablename = ${name}`.execute(db.kysely)).rows;
    return rows.length > 0;
  };

  const erasedPerDoor = async () => {
    const rows = await db.kysely
      .selectFrom('erasure_records')
      .select(['target_id', 'count', 'bytes'])
      .where('category', '=', 'door-events')
      .execute();
    const out = new Map<string, { count: number; bytes: number }>();
    for (const r of rows) {
      const seen = out.get(r.target_id) ?? { count: 0, bytes: 0 };
      out.set(r.target_id, { count: seen.count + Number(r.count), bytes: seen.bytes + Number(r.bytes) });
    }
    return out;
  };

  /** Events in three consecutive hours: 4 at door 0 and 2 at door 1 in each. */
  async function threeHours() {
    const first = partitionStart(partitionOf(clock.now()));
    const rows = [];
    for (let h = 0; h < 3; h++)
      for (let i = 0; i < 6; i++)
        rows.push({ doorId: seed.doorIds[i < 4 ? 0 : 1], tag: `TAG-${i}`, at: first + h * HOUR + i * MINUTE });
    await addEvents(db.kysely, sourceId, rows);
    return { hours: [0, 1, 2].map((h) => partitionOf(first) + h), first };
  }

  it('drops an expired, unheld hour whole, recording per door what went (M 6.7)', async () => {
    const { hours, first } = await threeHours();
    expect(await livePartitions(db.kysely)).toEqual(hours);
    // The first two hours have ended their four weeks; the third's first event is one ms short.
    clock.set(first + 2 * HOUR + retention - 1);
    await sweeper.sweep();
    expect(await livePartitions(db.kysely)).toEqual([hours[2]]);
    expect(await tableExists(hours[0]!)).toBe(false);
    expect(await tableExists(hours[1]!)).toBe(false);
    const perDoor = await erasedPerDoor();
    expect(perDoor.get(seed.doorIds[0])?.count).toBe(8);
    expect(perDoor.get(seed.doorIds[1])?.count).toBe(4);
    // Bytes are the raw payloads' lengths, as the row-by-row path records them.
    expect([...perDoor.values()].every((v) => v.bytes > 0)).toBe(true);
    expect((await eventIds(db.kysely)).size).toBe(6);
  });

  it('a hold that reaches into an hour keeps its table: only unheld rows go, the rest after release', async () => {
    const { hours, first } = await threeHours();
    const hold = await holds.create(manager, {
      doorIds: [seed.doorIds[1]],
      from: first + HOUR,
      to: first + HOUR + 30 * MINUTE,
      reason: 'Police preservation order',
      linkType: 'police-order',
      linkRef: 'Sv 126ni, order 2026-18',
    });
    clock.set(first + 3 * HOUR + retention);
    await sweeper.sweep();
    // Hours 0 and 2 are dropped; hour 1 keeps its table with the two held events of door 1.
    expect(await livePartitions(db.kysely)).toEqual([hours[1]]);
    expect((await eventIds(db.kysely)).size).toBe(2);
    expect((await erasedPerDoor()).get(seed.doorIds[0])?.count).toBe(12);
    await holds.release(manager, hold.id, 'Order lifted by the prosecutor');
    clock.advance(INTERVAL);
    await sweeper.sweep();
    expect((await eventIds(db.kysely)).size).toBe(0);
    expect(await livePartitions(db.kysely)).toEqual([]);
    expect(await tableExists(hours[1]!)).toBe(false);
    expect((await erasedPerDoor()).get(seed.doorIds[1])?.count).toBe(6);
  });

  it('finishes a drop that a crash interrupted, recording the rows that came in after the count', async () => {
    const { hours, first } = await threeHours();
    const hour = hours[0]!;
    // As if a sweep had counted the hour's first 6 rows, marked it and crashed; 2 rows came later.
    const counted = await highestId(db.kysely, hour);
    await addEvents(db.kysely, sourceId, [
      { doorId: seed.doorIds[1], tag: 'TAG-LATE', at: first + 50 * MINUTE },
      { doorId: seed.doorIds[1], tag: 'TAG-LATE', at: first + 51 * MINUTE },
    ]);
    await db.kysely.transaction().execute((trx) => markErasing(trx, hour, counted));
    // A marked hour is gone for queries at once.
    expect(await eventsOfTag(db.kysely, { tag: 'TAG-LATE', from: first, to: first + HOUR })).toEqual([]);
    expect(await livePartitions(db.kysely)).toEqual([hours[1], hours[2]]);
    // The next sweep, long before the other hours expire, finishes it.
    clock.set(first + 3 * HOUR);
    await sweeper.sweep();
    expect(await tableExists(hour)).toBe(false);
    expect((await erasedPerDoor()).get(seed.doorIds[1])).toMatchObject({ count: 2 });
    expect((await eventIds(db.kysely)).size).toBe(12);
  });
});
