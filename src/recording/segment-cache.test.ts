import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, type Db, type DialectName } from '../db/database.js';
import * as m0011 from '../db/migrations/0011_recording_speed.js';
import * as m0013 from '../db/migrations/0013_segment_buckets_per_statement.js';
import { ManualClock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { createPgDatabase, DIALECTS } from '../../test/db.js';
import { recordingWorld, waitFor } from '../../test/recording-fixtures.js';
import { deleteSegments, insertSegment, listSegments, segmentRow, type SegmentRecord } from './recording.repository.js';
import { BUCKET_MS, SegmentBucketCache, segmentCacheFor } from './segment-cache.js';

const T0 = Date.parse('2026-03-02T00:00:00Z');
const SEG = 10_000;

function segment(cameraId: string, i: number, over: Partial<SegmentRecord> = {}): SegmentRecord {
  return {
    id: newId(),
    cameraId,
    file: `${cameraId}/20260302T000000000Z-${String(i).padStart(6, '0')}.ts`,
    startAt: T0 + i * SEG,
    endAt: T0 + (i + 1) * SEG,
    bytes: 1000 + i,
    sha256: 'a'.repeat(64),
    createdAt: T0 + (i + 1) * SEG,
    erasingAt: null,
    ...over,
  };
}

describe('segment bucket cache', () => {
  it('serves an hour only at the counter it was loaded with', () => {
    const cache = new SegmentBucketCache();
    cache.set('cam', 7, 3, [segment('cam', 1)]);
    expect(cache.get('cam', 7, 3)).toHaveLength(1);
    expect(cache.get('cam', 7, 4)).toBeUndefined();
    // A mismatch drops the hour: the older counter does not come back to life either.
    expect(cache.get('cam', 7, 3)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used hours beyond its size, and freezes what it hands out', () => {
    const cache = new SegmentBucketCache(4);
    cache.set('cam', 1, 1, [segment('cam', 1), segment('cam', 2)]);
    cache.set('cam', 2, 1, [segment('cam', 3), segment('cam', 4)]);
    expect(cache.get('cam', 1, 1)).toBeDefined(); // now the most recently used
    const third = cache.set('cam', 3, 1, [segment('cam', 5)]);
    expect(cache.get('cam', 2, 1)).toBeUndefined();
    expect(cache.get('cam', 1, 1)).toHaveLength(2);
    expect(cache.size).toBe(3);
    expect(Object.isFrozen(third)).toBe(true);
    expect(Object.isFrozen(third[0])).toBe(true);
  });
});

/** A second handle on the same database: what another process (the CLI sweeper) would have. */
async function twoHandles(dialect: DialectName): Promise<[Db, Db]> {
  const url =
    dialect === 'sqlite'
      ? `sqlite:${join(mkdtempSync(join(tmpdir(), 'protocam-cache-')), 'test.db')}`
      : await createPgDatabase();
  const server = openDatabase(url);
  await migrateToLatest(server);
  return [server, openDatabase(url)];
}

describe.each(DIALECTS)('listSegments from memory on %s', (dialect) => {
  const open: Db[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
  });

  /** The rows as the database has them, read in a transaction (which never uses the cache). */
  const truth = (db: Db, cameraId: string, from: number, to: number) =>
    db.kysely.transaction().execute((trx) => listSegments(trx, cameraId, from, to));

  it('sees inserts, erasure marks and deletes made through another connection at once', async () => {
    const [server, cli] = await twoHandles(dialect);
    open.push(server, cli);
    const world = await recordingWorld(server.kysely, new ManualClock('2026-03-02T10:00:00Z'));
    const camera = await world.camera({ streamUrl: 'file:///tmp/a.ts' });
    const other = await world.camera({ streamUrl: 'file:///tmp/b.ts' });
    // Two hours and a bit of segments, and another camera in the same hours.
    const rows = Array.from({ length: 800 }, (_, i) => segment(camera, i));
    for (const row of rows) await insertSegment(cli.kysely, row);
    await insertSegment(cli.kysely, segment(other, 5));
    const from = T0 + 25_000;
    const to = T0 + 2 * BUCKET_MS + 15_000;
    const list = () => listSegments(server.kysely, camera, from, to);

    const first = await list();
    expect(first.map((s) => (s.startAt - T0) / SEG)).toEqual(Array.from({ length: 720 }, (_, i) => i + 2));
    expect(segmentCacheFor(server.kysely).size).toBe(800);
    expect(await list()).toEqual(first);
    expect(Object.isFrozen((await list())[0])).toBe(true);

    // The recorder indexes a new segment in the last hour (from the other connection).
    const added = segment(camera, 800, { startAt: T0 + 2 * BUCKET_MS + 5_000 });
    await insertSegment(cli.kysely, added);
    expect((await list()).map((s) => s.id)).toContain(added.id);
    expect(await list()).toEqual(await truth(server, camera, from, to));

    // The sweeper marks one segment of the first hour, then deletes one of the second (M 6.6).
    await cli.kysely.updateTable('segments').set({ erasing_at: T0 }).where('id', '=', rows[10]!.id).execute();
    expect((await list()).map((s) => s.id)).not.toContain(rows[10]!.id);
    await deleteSegments(cli.kysely, [rows[400]!.id]);
    const after = await list();
    expect(after.map((s) => s.id)).not.toContain(rows[400]!.id);
    expect(after).toEqual(await truth(server, camera, from, to));
    expect(after).toHaveLength(720 + 1 - 2);

    // Edges: a window inside one segment, and one that ends where a segment starts.
    expect((await listSegments(server.kysely, camera, T0 + 31_000, T0 + 32_000)).map((s) => s.startAt)).toEqual([
      T0 + 30_000,
    ]);
    expect((await listSegments(server.kysely, camera, T0 + 20_000, T0 + 30_000)).map((s) => s.startAt)).toEqual([
      T0 + 20_000,
    ]);
    expect(await listSegments(server.kysely, other, from, to)).toEqual(await truth(server, other, from, to));
  });

  it('0011 (and 0013) keep the segments indexed before it: they list, and later changes are seen', async () => {
    const [server, cli] = await twoHandles(dialect);
    open.push(server, cli);
    const world = await recordingWorld(server.kysely, new ManualClock('2026-03-02T10:00:00Z'));
    const camera = await world.camera({ streamUrl: 'file:///tmp/a.ts' });
    // The database as it was before 0011: segments, no counters, no triggers.
    await m0013.down(server.kysely as Kysely<unknown>);
    await m0011.down(server.kysely as Kysely<unknown>);
    const early = [0, 1, 2, 400].map((i) => segment(camera, i));
    for (const row of early) await insertSegment(server.kysely, row);
    await m0011.up(server.kysely as Kysely<unknown>);
    await m0013.up(server.kysely as Kysely<unknown>);

    const list = () => listSegments(server.kysely, camera, T0, T0 + 2 * BUCKET_MS);
    expect((await list()).map((s) => s.id)).toEqual(early.map((s) => s.id));
    await deleteSegments(cli.kysely, [early[1]!.id, early[3]!.id]);
    expect((await list()).map((s) => s.id)).toEqual([early[0]!.id, early[2]!.id]);
  });
});

describe('segment hour counters on postgres (0013)', () => {
  const open: Db[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
  });
  const versions = async (db: Db, cameraId: string) =>
    (
      await db.kysely
        .selectFrom('segment_buckets')
        .select(['bucket', 'version'])
        .where('camera_id', '=', cameraId)
        .orderBy('bucket')
        .execute()
    ).map((row) => [Number(row.bucket), Number(row.version)]);

  it('raise each touched hour once per statement, however many rows it changed', async () => {
    const db = openDatabase(await createPgDatabase());
    open.push(db);
    const camera = await (
      await recordingWorld(db.kysely, new ManualClock('2026-03-02T10:00:00Z'))
    ).camera({
      streamUrl: 'file:///tmp/a.ts',
    });
    const hour = T0 / BUCKET_MS;
    const rows = [0, 1, 2, 360, 361].map((i) => segment(camera, i));
    // One statement for all five rows.
    await db.kysely.insertInto('segments').values(rows.map(segmentRow)).execute();
    expect(await versions(db, camera)).toEqual([
      [hour, 1],
      [hour + 1, 1],
    ]);
    await db.kysely.updateTable('segments').set({ erasing_at: T0 }).where('camera_id', '=', camera).execute();
    expect(await versions(db, camera)).toEqual([
      [hour, 2],
      [hour + 1, 2],
    ]);
    await deleteSegments(db.kysely, [rows[0]!.id, rows[1]!.id]);
    expect(await versions(db, camera)).toEqual([
      [hour, 3],
      [hour + 1, 2],
    ]);
  });

  it('a delete across hours next to marks in those hours waits instead of deadlocking', async () => {
    // The sweeper marks one batch while the rows of the batch before are deleted. Per-row
    // counters locked hours in row order, so these two transactions deadlocked.
    const url = await createPgDatabase();
    const db = openDatabase(url);
    open.push(db);
    const camera = await (
      await recordingWorld(db.kysely, new ManualClock('2026-03-02T10:00:00Z'))
    ).camera({
      streamUrl: 'file:///tmp/a.ts',
    });
    // In this physical order: the delete below meets its later hour's row first.
    const [r1, r2, r3, r4] = [0, 360, 1, 361].map((i) => segment(camera, i));
    for (const row of [r1!, r2!, r3!, r4!]) await insertSegment(db.kysely, row);
    const marker = new pg.Client({ connectionString: url });
    const deleter = new pg.Client({ connectionString: url });
    await marker.connect();
    await deleter.connect();
    try {
      await marker.query('begin');
      await marker.query('update segments set erasing_at = 1 where id = $1', [r1!.id]); // first hour
      await deleter.query('begin');
      const { rows: own } = await deleter.query<{ pid: number }>('select pg_backend_pid() as pid');
      const deleting = deleter.query('delete from segments where id = any($1)', [[r2!.id, r3!.id]]);
      await waitFor(
        async () =>
          (
            await db.kysely
              .selectFrom(sql<{ pid: number; wait_event_type: string | null }>`pg_stat_activity`.as('a'))
              .select('wait_event_type')
              .where('pid', '=', own[0]!.pid)
              .executeTakeFirst()
          )?.wait_event_type === 'Lock',
        5_000,
        'the delete to wait for the first hour',
      );
      await marker.query('update segments set erasing_at = 1 where id = $1', [r4!.id]); // second hour
      await marker.query('commit');
      await deleting;
      await deleter.query('commit');
    } finally {
      await marker.end();
      await deleter.end();
    }
    const left = await db.kysely.selectFrom('segments').select(['id', 'erasing_at']).orderBy('start_at').execute();
    expect(left).toEqual([
      { id: r1!.id, erasing_at: 1 },
      { id: r4!.id, erasing_at: 1 },
    ]);
  });
});
