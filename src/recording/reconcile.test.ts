import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditChain } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { ManualClock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { MediaTools } from '../media/ffmpeg.js';
import { runStamp } from '../media/segment-recorder.js';
import { makeTestClip } from '../media/test-clips.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { collectingLogger, cutRun as cutRunIn, recordingWorld } from '../../test/recording-fixtures.js';
import { reconcileRecordings } from './reconcile.js';
import { insertSegment, listSegments } from './recording.repository.js';
import { cameraDirectory, sealFile } from './segment-files.js';

const media = new MediaTools();
let clip: string;
const RUN_AT = Date.parse('2026-03-02T09:00:00.250Z');
const RUN = runStamp(RUN_AT);

beforeAll(async () => {
  clip = join(mkdtempSync(join(tmpdir(), 'protocam-reconcile-clip-')), 'clip.ts');
  await makeTestClip(media.ffmpegPath, clip, { seconds: 4 });
});

const cutRun = (directory: string) => cutRunIn(media.ffmpegPath, clip, directory, RUN);

describe.each(DIALECTS)('start-up reconciliation on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T12:00:00Z');
  });
  afterEach(async () => {
    await db.close();
  });

  it('indexes closed files of an earlier run, removes unplayable ones, deletes rows without files, finishes erasures', async () => {
    const world = await recordingWorld(db.kysely, clock);
    const cameraId = await world.camera({ streamUrl: 'file:///tmp/clip.ts' });
    const recordingsDir = join(mkdtempSync(join(tmpdir(), 'protocam-reconcile-')), 'recordings');
    const directory = cameraDirectory(recordingsDir, cameraId);
    mkdirSync(directory, { recursive: true });
    const lines = cutRun(directory);
    expect(lines.length).toBe(4);
    // The crash: the last segment was open (no list entry) and only partly written.
    const last = join(directory, `${RUN}-000003.ts`);
    const bytes = readFileSync(last);
    writeFileSync(last, bytes.subarray(0, Math.floor(bytes.length / 2 / 188) * 188));
    writeFileSync(join(directory, `${RUN}.csv`), lines.slice(0, 3).join('\n') + '\n');
    // A later run that died at once: garbage and an empty file.
    const laterRun = runStamp(RUN_AT + 60_000);
    writeFileSync(join(directory, `${laterRun}-000000.ts`), Buffer.from('not a transport stream'));
    writeFileSync(join(directory, `${laterRun}-000001.ts`), Buffer.alloc(0));
    // The first segment was indexed before the crash, with a time line slightly off the run stamp.
    const first = await sealFile(join(directory, `${RUN}-000000.ts`));
    await insertSegment(db.kysely, {
      id: newId(),
      cameraId,
      file: `${cameraId}/${RUN}-000000.ts`,
      startAt: RUN_AT + 300,
      endAt: RUN_AT + 1_300,
      ...first,
      createdAt: RUN_AT + 1_400,
      erasingAt: null,
    });
    // A row whose file is gone, and an erasure that was interrupted after the mark.
    const base = { cameraId, bytes: 10, sha256: 'b'.repeat(64), createdAt: RUN_AT, erasingAt: null };
    await insertSegment(db.kysely, {
      ...base,
      id: newId(),
      file: `${cameraId}/${runStamp(RUN_AT - 3_600_000)}-000000.ts`,
      startAt: RUN_AT - 3_600_000,
      endAt: RUN_AT - 3_599_000,
    });
    const erasing = join(directory, `${runStamp(RUN_AT - 7_200_000)}-000000.ts`);
    writeFileSync(erasing, Buffer.from('old footage'));
    await insertSegment(db.kysely, {
      ...base,
      id: newId(),
      file: `${cameraId}/${runStamp(RUN_AT - 7_200_000)}-000000.ts`,
      startAt: RUN_AT - 7_200_000,
      endAt: RUN_AT - 7_199_000,
      erasingAt: clock.now() - 1_000,
    });
    // The segment list of a run whose segments retention already erased.
    const erasedRunList = join(directory, `${runStamp(RUN_AT - 86_400_000)}.csv`);
    writeFileSync(erasedRunList, 'x-000000.ts,0.000000,1.000000\n');
    // Not a camera of this installation: left alone.
    mkdirSync(join(recordingsDir, 'stranger'));

    const { logger, lines: logs } = collectingLogger();
    const audit = new AuditTrail(clock);
    const report = await reconcileRecordings({ db: db.kysely, clock, audit, media, logger, recordingsDir });

    expect(report).toEqual({
      erasuresFinished: 1,
      rowsWithoutFilesDeleted: 1,
      filesIndexed: 3, // segments 1 and 2 from the list, 3 probed
      filesRemoved: 2,
      unknownDirectories: ['stranger'],
    });
    expect(existsSync(erasing)).toBe(false);
    expect(existsSync(join(directory, `${laterRun}-000000.ts`))).toBe(false);
    expect(existsSync(erasedRunList)).toBe(false);
    expect(existsSync(join(directory, `${RUN}.csv`))).toBe(true);
    const rows = await listSegments(db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER);
    expect(rows.map((r) => r.file.split('/')[1])).toEqual([0, 1, 2, 3].map((i) => `${RUN}-00000${i}.ts`));
    // The time line continues from the indexed row: contiguous, 1 s each, the truncated one shorter.
    expect(rows.map((r) => r.startAt - RUN_AT)).toEqual([300, 1_300, 2_300, 3_300]);
    expect(rows[1]!.endAt - rows[1]!.startAt).toBe(1_000);
    const truncated = rows[3]!;
    expect(truncated.endAt - truncated.startAt).toBeGreaterThan(0);
    expect(truncated.endAt - truncated.startAt).toBeLessThan(1_000);
    for (const row of rows) {
      expect(await sealFile(join(recordingsDir, row.file))).toEqual({ bytes: row.bytes, sha256: row.sha256 });
    }
    const actions = (await db.kysely.selectFrom('audit_events').select('action').execute()).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['segments.erasure-finished', 'segments.rows-without-files-deleted']),
    );
    expect(await verifyAuditChain(db.kysely)).toMatchObject({ ok: true });
    expect(logs.some((l) => l.includes('segment rows without files deleted'))).toBe(true);

    // Twice is the same as once.
    expect(await reconcileRecordings({ db: db.kysely, clock, audit, media, logger, recordingsDir })).toEqual({
      erasuresFinished: 0,
      rowsWithoutFilesDeleted: 0,
      filesIndexed: 0,
      filesRemoved: 0,
      unknownDirectories: ['stranger'],
    });
  });
});
