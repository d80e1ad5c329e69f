import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sqliteHandle, type Db } from '../db/database.js';
import { ManualClock } from '../lib/clock.js';
import { MediaTools } from '../media/ffmpeg.js';
import { runStamp } from '../media/segment-recorder.js';
import { makeTestClip } from '../media/test-clips.js';
import { createTestDb } from '../../test/db.js';
import { collectingLogger, cutRun, recordingWorld } from '../../test/recording-fixtures.js';
import { listSegments } from './recording.repository.js';
import { cameraDirectory } from './segment-files.js';
import { RunIndexer } from './segment-indexer.js';

const media = new MediaTools();
let clip: string;
const RUN_AT = Date.parse('2026-03-02T09:00:00.000Z');
const RUN = runStamp(RUN_AT);

beforeAll(async () => {
  clip = join(mkdtempSync(join(tmpdir(), 'protocam-indexer-clip-')), 'clip.ts');
  await makeTestClip(media.ffmpegPath, clip, { seconds: 3 });
});

describe('segment indexer when a segment cannot be indexed', () => {
  const open: Db[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
  });

  /**
   * A SQLite database with one camera, and three closed one-second segments of run RUN with their
   * list, as an ffmpeg run leaves them; `indexer()` indexes that run as an ended one.
   */
  async function endedRun() {
    const db = await createTestDb('sqlite');
    open.push(db);
    const clock = new ManualClock('2026-03-02T12:00:00Z');
    const cameraId = await (await recordingWorld(db.kysely, clock)).camera({ streamUrl: 'file:///tmp/clip.ts' });
    const recordingsDir = join(mkdtempSync(join(tmpdir(), 'protocam-indexer-')), 'recordings');
    const directory = cameraDirectory(recordingsDir, cameraId);
    mkdirSync(directory, { recursive: true });
    const list = cutRun(media.ffmpegPath, clip, directory, RUN);
    expect(list).toHaveLength(3);
    const indexer = () => {
      const made = new RunIndexer(
        { db: db.kysely, clock, media, logger: collectingLogger().logger, recordingsDir },
        cameraId,
        RUN,
        { live: false },
      );
      made.markEnded();
      return made;
    };
    return { db, cameraId, directory, list, indexer };
  }

  it('keeps every closed segment for the next pass: nothing waits for a restart to be indexed', async () => {
    const { db, cameraId, directory, list, indexer: makeIndexer } = await endedRun();
    sqliteHandle(db.kysely)!.pragma('busy_timeout = 50');
    // The list ends after the second segment, so the third is probed (the one open at the end).
    writeFileSync(join(directory, `${RUN}.csv`), list.slice(0, 2).join('\n') + '\n');
    const indexer = makeIndexer();
    // Another process holds the write lock (e.g. `protocam sweep`); PostgreSQL away is the same.
    const other = new SqliteDatabase(sqliteHandle(db.kysely)!.name);
    other.exec('begin immediate');
    await expect(indexer.poll()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(indexer.isFinished).toBe(false);
    other.exec('rollback');
    other.close();

    const result = await indexer.poll();
    expect(result.indexed.map((s) => s.file)).toEqual([0, 1, 2].map((i) => `${cameraId}/${RUN}-00000${i}.ts`));
    expect(indexer.isFinished).toBe(true);
    const rows = await listSegments(db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER);
    expect(rows).toHaveLength(3);
    // One time line: contiguous, in order.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startAt).toBe(rows[i - 1]!.endAt);
  });

  it('a file that cannot be read skips only itself: the later segments of its run are indexed', async () => {
    const { db, cameraId, directory, indexer: makeIndexer } = await endedRun();
    // The middle segment cannot be read (here: a directory in its place, EISDIR).
    const middle = join(directory, `${RUN}-000001.ts`);
    rmSync(middle);
    mkdirSync(middle);
    const indexer = makeIndexer();
    await expect(indexer.poll()).rejects.toMatchObject({ code: 'EISDIR' });
    const result = await indexer.poll();
    expect(result.indexed.map((s) => s.file)).toEqual([`${cameraId}/${RUN}-000002.ts`]);
    expect(indexer.isFinished).toBe(true);
    expect((await listSegments(db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER)).map((s) => s.file)).toEqual([
      `${cameraId}/${RUN}-000000.ts`,
      `${cameraId}/${RUN}-000002.ts`,
    ]);
  });
});
