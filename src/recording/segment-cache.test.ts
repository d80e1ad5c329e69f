import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, type Db, type DialectName } from '../db/database.js';
import * as m0011 from '../db/migrations/0011_recording_speed.js';
import { ManualClock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { createPgDatabase, DIALECTS } from '../../test/db.js';
import { recordingWorld } from '../../test/recording-fixtures.js';
import { deleteSegments, insertSegment, listSegments, type SegmentRecord } from './recording.repository.js';
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

  it('0011 keeps the segments indexed before it: they list, and later changes are seen', async () => {
    const [server, cli] = await twoHandles(dialect);
    open.push(server, cli);
    const world = await recordingWorld(server.kysely, new ManualClock('2026-03-02T10:00:00Z'));
    const camera = await world.camera({ streamUrl: 'file:///tmp/a.ts' });
    // The database as it was before 0011: segments, no counters, no triggers.
    await m0011.down(server.kysely as Kysely<unknown>);
    const early = [0, 1, 2, 400].map((i) => segment(camera, i));
    for (const row of early) await insertSegment(server.kysely, row);
    await m0011.up(server.kysely as Kysely<unknown>);

    const list = () => listSegments(server.kysely, camera, T0, T0 + 2 * BUCKET_MS);
    expect((await list()).map((s) => s.id)).toEqual(early.map((s) => s.id));
    await deleteSegments(cli.kysely, [early[1]!.id, early[3]!.id]);
    expect((await list()).map((s) => s.id)).toEqual([early[0]!.id, early[2]!.id]);
  });
});
