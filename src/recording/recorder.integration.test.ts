/**
 * The recorder against real ffmpeg/ffprobe, real files, both databases, and (where GStreamer
 * is installed) a real RTSP server. Short segments keep it quick; waits are for observable
 * effects with a deadline, time-dependent rules are driven by moving the clock.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import { sqliteHandle, type Db } from '../db/database.js';
import { DAY, HOUR } from '../lib/clock.js';
import { MediaTools } from '../media/ffmpeg.js';
import { listSegments as listSegmentFilesIn } from '../media/segment-recorder.js';
import { makeTestClip } from '../media/test-clips.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import {
  collectingLogger,
  OffsetClock,
  recordingWorld,
  SUSPICION,
  waitFor,
  type RecordingWorld,
} from '../../test/recording-fixtures.js';
import { RTSP_SKIP_REASON, rtspAvailable, startRtspServer, type RtspServer } from '../../test/rtsp/rtsp-server.js';
import { MaintenanceService } from './maintenance.service.js';
import { RecorderManager, type RecorderOptions } from './recorder.manager.js';
import { findHealth, findOpenDefect, listDefects, listSegments } from './recording.repository.js';
import { cameraDirectory, sealFile } from './segment-files.js';

const media = new MediaTools();
let clip: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-rec-clip-'));
  clip = join(dir, 'clip.ts');
  await makeTestClip(media.ffmpegPath, clip, { seconds: 4 });
});

const FAST: RecorderOptions = {
  pollIntervalMs: 150,
  syncIntervalMs: 3_600_000, // tests call sync() themselves
  backoff: { initialMs: 200, maxMs: 1_000, factor: 2, resetAfterMs: 5_000 },
  stopTimeouts: { quitMs: 3_000, termMs: 1_000, killMs: 1_000 },
  downAfterMs: 3_000,
};

interface Rig {
  db: Db;
  clock: OffsetClock;
  world: RecordingWorld;
  recordingsDir: string;
  logs: string[];
  maintenance: MaintenanceService;
  manager: RecorderManager;
}

const rigs: Rig[] = [];

async function rig(
  dialect: 'sqlite' | 'postgres',
  segmentSeconds: number,
  options: RecorderOptions = {},
): Promise<Rig> {
  const db = await createTestDb(dialect);
  const clock = new OffsetClock();
  const world = await recordingWorld(db.kysely, clock);
  const recordingsDir = join(mkdtempSync(join(tmpdir(), 'protocam-rec-')), 'recordings');
  const { logger, lines } = collectingLogger();
  const maintenance = new MaintenanceService({ db: db.kysely, clock, audit: world.audit, policy: () => world.policy });
  const manager = new RecorderManager(
    {
      db: db.kysely,
      clock,
      audit: world.audit,
      registry: world.registry,
      media,
      logger,
      recordingsDir,
      segmentSeconds,
      onRecordingResumed: async (cameraId) => {
        await maintenance.closeDefectIfRecording(cameraId);
      },
    },
    { ...FAST, ...options },
  );
  const made = { db, clock, world, recordingsDir, logs: lines, maintenance, manager };
  rigs.push(made);
  return made;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.manager.stop();
    await r.db.close();
  }
});

const fileUrl = (path: string) => pathToFileURL(path).toString();

async function rowsOf(r: Rig, cameraId: string) {
  return listSegments(r.db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER);
}

/** Every row has its file with the recorded size and hash; every segment file has a row. */
async function expectIndexConsistent(r: Rig, cameraId: string): Promise<void> {
  const rows = await rowsOf(r, cameraId);
  const files = await listSegmentFilesIn(cameraDirectory(r.recordingsDir, cameraId));
  expect(rows.map((row) => row.file).sort()).toEqual(files.map((f) => `${cameraId}/${f.name}`).sort());
  for (const row of rows) {
    const sealed = await sealFile(join(r.recordingsDir, row.file));
    expect(sealed).toEqual({ bytes: row.bytes, sha256: row.sha256 });
  }
}

describe.each(DIALECTS)('the recorder on %s', (dialect) => {
  it('indexes closed segments with exact bytes, SHA-256 and wall-clock times; they play; a stop indexes the last one', async () => {
    const r = await rig(dialect, 1);
    const cameraId = await r.world.camera({ streamUrl: fileUrl(clip) });
    const startedAt = r.clock.now();
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 3, 15_000, 'three indexed segments');
    expect((await findHealth(r.db.kysely, cameraId))?.state).toBe('recording');
    await r.manager.stop();
    const stoppedAt = r.clock.now();

    const rows = await rowsOf(r, cameraId);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    await expectIndexConsistent(r, cameraId);
    for (const [i, row] of rows.entries()) {
      expect(row.file).toMatch(new RegExp(`^${cameraId}/\\d{8}T\\d{9}Z-\\d{6}\\.ts$`));
      // Contiguous, within the run, never in the future.
      if (i > 0) expect(row.startAt).toBe(rows[i - 1]!.endAt);
      expect(row.startAt).toBeGreaterThanOrEqual(startedAt);
      expect(row.endAt).toBeLessThanOrEqual(stoppedAt);
      const probe = await media.probe(join(r.recordingsDir, row.file));
      expect(probe.streams[0]).toMatchObject({ codecType: 'video', codecName: 'h264', width: 320 });
      // The file holds what the row says, to a frame (15 fps).
      expect(Math.abs(probe.durationSeconds! * 1000 - (row.endAt - row.startAt))).toBeLessThan(100);
    }
    // 1-second segments of a one-keyframe-per-second clip.
    expect(rows.slice(0, -1).every((row) => Math.abs(row.endAt - row.startAt - 1_000) < 100)).toBe(true);
    const health = await findHealth(r.db.kysely, cameraId);
    expect(health).toMatchObject({ state: 'stopped', lastSegmentAt: rows.at(-1)!.endAt });
    expect(existsSync(join(cameraDirectory(r.recordingsDir, cameraId), '.ffmpeg.pid'))).toBe(false);
  }, 40_000);
});

describe('the recorder (SQLite)', () => {
  it('a database that cannot be written for longer than the stall time: no restart, every segment indexed after', async () => {
    const r = await rig('sqlite', 1, { stallAfterMs: 1_500 });
    // Fail fast instead of blocking the event loop in SQLite's busy handler.
    sqliteHandle(r.db.kysely)!.pragma('busy_timeout = 20');
    const cameraId = await r.world.camera({ streamUrl: fileUrl(clip) });
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 1, 15_000, 'a first indexed segment');
    // Another process holds the write lock for three stall times (`protocam sweep`, a backup).
    const other = new SqliteDatabase(sqliteHandle(r.db.kysely)!.name);
    other.exec('begin immediate');
    const before = (await rowsOf(r, cameraId)).length;
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    other.exec('rollback');
    other.close();
    // The segments closed meanwhile are indexed by the next passes, not at the next start-up.
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= before + 5, 10_000, 'the held-up segments');
    expect(r.manager.status()[0]!.starts).toBe(1);
    expect(r.logs.some((line) => line.includes('"msg":"stalled"'))).toBe(false);
    await r.manager.stop();
    const rows = await rowsOf(r, cameraId);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startAt).toBe(rows[i - 1]!.endAt);
    await expectIndexConsistent(r, cameraId);
  }, 40_000);

  it('W 3.3: a dummy camera never records, even if its row says active', async () => {
    const r = await rig('sqlite', 1);
    const dummy = await r.world.camera({ kind: 'dummy', streamUrl: fileUrl(clip) });
    const real = await r.world.camera({ streamUrl: fileUrl(clip) });
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, real)).length >= 1, 15_000, 'the real camera records');
    expect(r.manager.status().map((s) => s.cameraId)).toEqual([real]);
    expect(existsSync(cameraDirectory(r.recordingsDir, dummy))).toBe(false);

    // Bypassing the registry's rules: an active row of kind dummy is still not recorded.
    await r.db.kysely.updateTable('cameras').set({ status: 'active' }).where('id', '=', dummy).execute();
    await r.db.kysely.updateTable('cameras').set({ kind: 'dummy' }).where('id', '=', real).execute();
    await r.manager.sync();
    expect(r.manager.status()).toEqual([]);
    expect(await rowsOf(r, dummy)).toEqual([]);
    expect(await findHealth(r.db.kysely, dummy)).toBeNull();
    expect((await findHealth(r.db.kysely, real))?.state).toBe('stopped');
  }, 30_000);

  it('indexes a segment as soon as its list entry is written (inotify), not at the next timer pass; without a watch the timer indexes', async () => {
    // A long timer interval: a watched run's segments are indexed well before the next pass.
    const watched = await rig('sqlite', 1, { pollIntervalMs: 4_000 });
    const timed = await rig('sqlite', 1, { pollIntervalMs: 4_000, watchLists: false });
    const cameras = await Promise.all([watched, timed].map((r) => r.world.camera({ streamUrl: fileUrl(clip) })));
    await Promise.all([watched.manager.start(), timed.manager.start()]);
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const [watchedRows, timedRows] = await Promise.all([rowsOf(watched, cameras[0]!), rowsOf(timed, cameras[1]!)]);
    // The watch is in place from the first timer pass (4 s) on. A row's delay (written minus
    // ended) is the anchor's offset plus the wait for indexing: constant when each segment is
    // indexed as it closes, spread over the interval when the timer indexes several at once.
    const late = (rows: typeof watchedRows) => rows.filter((row) => row.startAt >= rows[0]!.startAt + 5_000);
    const spread = (rows: typeof watchedRows) => {
      const delays = late(rows).map((row) => row.createdAt - row.endAt);
      return Math.max(...delays) - Math.min(...delays);
    };
    expect(late(watchedRows).length).toBeGreaterThanOrEqual(3);
    expect(spread(watchedRows)).toBeLessThan(1_000);
    expect(late(timedRows).length).toBeGreaterThanOrEqual(3);
    expect(spread(timedRows)).toBeGreaterThan(1_500);
    for (const r of [watched, timed]) await r.manager.stop();
    await expectIndexConsistent(watched, cameras[0]!);
    await expectIndexConsistent(timed, cameras[1]!);
  }, 40_000);

  it('activating and deactivating in the registry starts and stops recording at the next sync', async () => {
    const r = await rig('sqlite', 1);
    const cameraId = await r.world.camera({ streamUrl: fileUrl(clip), inactive: true });
    await r.manager.start();
    expect(r.manager.status()).toEqual([]);
    await r.world.registry.activateCamera({ id: 'u-admin', label: 'beheerder' }, cameraId);
    await r.manager.sync();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 1, 15_000, 'recording after activation');
    await r.world.registry.deactivateCamera({ id: 'u-admin', label: 'beheerder' }, cameraId);
    await r.manager.sync();
    expect(r.manager.status()).toEqual([]);
    const count = (await rowsOf(r, cameraId)).length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await rowsOf(r, cameraId)).length).toBe(count);
    await expectIndexConsistent(r, cameraId);
  }, 30_000);

  it('a changed stream address restarts the camera at the next sync; an unchanged one is not decrypted again', async () => {
    const r = await rig('sqlite', 1);
    const cameraId = await r.world.camera({ streamUrl: fileUrl(clip) });
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 1, 15_000, 'recording');
    const first = r.manager.status()[0]!;
    // Calls through to the real registry; only counts.
    const decrypts = vi.spyOn(r.world.registry, 'decryptStream');
    await r.manager.sync();
    expect(decrypts).not.toHaveBeenCalled();
    expect(r.manager.status()).toEqual([first]);
    const other = join(mkdtempSync(join(tmpdir(), 'protocam-rec-other-')), 'other.ts');
    copyFileSync(clip, other);
    await r.world.registry.updateCamera({ id: 'u-admin', label: 'beheerder' }, cameraId, { streamUrl: fileUrl(other) });
    await r.manager.sync();
    expect(decrypts).toHaveBeenCalledTimes(1);
    const second = r.manager.status()[0]!;
    expect(second.run).not.toBe(first.run);
    await waitFor(
      async () => (await rowsOf(r, cameraId)).some((row) => row.file.includes(second.run!)),
      15_000,
      'recording from the new address',
    );
    await r.manager.stop();
    await expectIndexConsistent(r, cameraId);
  }, 30_000);

  it('kill -9 of ffmpeg mid-segment loses at most the open segment; the index stays consistent', async () => {
    const r = await rig('sqlite', 1);
    const cameraId = await r.world.camera({ streamUrl: fileUrl(clip) });
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 2, 15_000, 'two segments');
    await new Promise((resolve) => setTimeout(resolve, 400)); // mid-segment
    const [before] = r.manager.status();
    process.kill(before!.pid!, 'SIGKILL');
    await waitFor(
      async () => (await rowsOf(r, cameraId)).some((row) => !row.file.includes(before!.run!)),
      15_000,
      'a segment of the restarted run',
    );
    const after = r.manager.status()[0]!;
    expect(after.run).not.toBe(before!.run);
    expect(after.starts).toBe(2);
    await r.manager.stop();

    const rows = await rowsOf(r, cameraId);
    await expectIndexConsistent(r, cameraId);
    // Every segment the killed run closed is indexed: its list entries all have rows.
    const directory = cameraDirectory(r.recordingsDir, cameraId);
    const listed = readFileSync(join(directory, `${before!.run}.csv`), 'utf8')
      .trim()
      .split('\n');
    const killedRows = rows.filter((row) => row.file.includes(before!.run!));
    expect(killedRows.length).toBeGreaterThanOrEqual(listed.length);
    expect(killedRows.length).toBeLessThanOrEqual(listed.length + 1); // plus the truncated one, if it played
    // The restarted run follows the killed one in time.
    const firstNew = rows.find((row) => !row.file.includes(before!.run!))!;
    expect(firstNew.startAt).toBeGreaterThanOrEqual(killedRows.at(-1)!.endAt);
    const health = await findHealth(r.db.kysely, cameraId);
    expect(health?.restarts).toBeGreaterThanOrEqual(1);
    expect(r.logs.some((line) => line.includes('"signal":"SIGKILL"') && line.includes('restarting'))).toBe(true);
  }, 40_000);

  it('a stream that stalls (no segment in three segment lengths) is restarted and reported', async () => {
    const fifoDir = mkdtempSync(join(tmpdir(), 'protocam-fifo-'));
    const fifo = join(fifoDir, 'never.ts');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = await rig('sqlite', 1, { stallAfterMs: 1_500 });
    const cameraId = await r.world.camera({ streamUrl: fileUrl(fifo) });
    await r.manager.start();
    await waitFor(
      async () => (await findHealth(r.db.kysely, cameraId))?.lastError?.startsWith('Stalled') === true,
      10_000,
      'a stall report',
    );
    await waitFor(() => (r.manager.status()[0]?.starts ?? 0) >= 2, 10_000, 'a restart after the stall');
    expect((await findHealth(r.db.kysely, cameraId))?.state).toMatch(/reconnecting|down/);
    expect(r.logs.some((line) => line.includes('"msg":"stalled"'))).toBe(true);
    expect(await rowsOf(r, cameraId)).toEqual([]);
  }, 30_000);

  it('W 3.4: a hidden camera records until its end date and stops when it passes', async () => {
    const r = await rig('sqlite', 1);
    const endDate = new Date(r.clock.now() + 2 * DAY).toISOString();
    const cameraId = await r.world.camera({
      kind: 'hidden',
      streamUrl: fileUrl(clip),
      hidden: { suspicion: SUSPICION, dpiaReference: 'DPIA-2026-07', endDate },
    });
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 1, 15_000, 'the hidden camera records');
    r.clock.advance(2 * DAY + HOUR);
    await waitFor(() => r.manager.status().length === 0, 10_000, 'the recorder stops at the end date');
    expect((await findHealth(r.db.kysely, cameraId))?.state).toBe('stopped');
    await r.manager.sync(); // the registry still says active: the end date keeps it off
    expect(r.manager.status()).toEqual([]);
    const count = (await rowsOf(r, cameraId)).length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await rowsOf(r, cameraId)).length).toBe(count);
    await expectIndexConsistent(r, cameraId);
  }, 30_000);
});

describe.skipIf(!rtspAvailable())(`the recorder against a real RTSP server (${RTSP_SKIP_REASON})`, () => {
  const USER = 'rec-operator';
  const PASSWORD = 'Xv9-super-secret';
  let server: RtspServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('W 6.6, W 2.3: a camera that goes away is reconnecting then down, a defect opens, and closes when it records again', async () => {
    server = await startRtspServer({ clip, mounts: [{ path: '/cam', user: USER, password: PASSWORD }] });
    const r = await rig('sqlite', 1);
    // Credentials are kept apart from the URL, as the registry stores them.
    const cameraId = await r.world.camera({
      streamUrl: `rtsp://127.0.0.1:${server.port}/cam`,
      credentials: { username: USER, password: PASSWORD },
    });
    await r.manager.start();
    await waitFor(async () => (await rowsOf(r, cameraId)).length >= 2, 20_000, 'recording over RTSP');
    expect((await findHealth(r.db.kysely, cameraId))?.state).toBe('recording');

    await server.stop();
    await waitFor(
      async () => (await findHealth(r.db.kysely, cameraId))?.state === 'reconnecting',
      15_000,
      'reconnecting',
    );
    await waitFor(async () => (await findHealth(r.db.kysely, cameraId))?.state === 'down', 15_000, 'down');
    const down = (await findHealth(r.db.kysely, cameraId))!;
    const lastRow = (await rowsOf(r, cameraId)).at(-1)!;
    expect(down.since).toBe(lastRow.endAt); // down since the recording stopped
    expect(down.lastError).toBeTruthy();

    // The periodic check, a whole interval later: failed, logged, defect opened.
    r.clock.advance(r.maintenance.intervalMs() + HOUR);
    const summary = await r.maintenance.runDueCheck();
    expect(summary).toMatchObject({ checked: 1, failed: 1, defectsOpened: 1 });
    expect(await r.maintenance.runDueCheck()).toBeNull(); // not due again yet
    expect((await findOpenDefect(r.db.kysely, cameraId))?.reason).toMatch(/No recording within the check interval/);

    await server.start();
    await waitFor(
      async () => (await findHealth(r.db.kysely, cameraId))?.state === 'recording',
      20_000,
      'recording again',
    );
    await waitFor(async () => (await findOpenDefect(r.db.kysely, cameraId)) === null, 5_000, 'the defect closed');
    const [closed] = await listDefects(r.db.kysely, { includeHidden: true, limit: 5, offset: 0, status: 'closed' });
    expect(closed).toMatchObject({ cameraId, closedReason: 'The camera records again.' });
    // Segments after the return carry the moved clock's time.
    expect((await rowsOf(r, cameraId)).at(-1)!.endAt).toBeGreaterThan(lastRow.endAt + r.maintenance.intervalMs());
    r.clock.advance(r.maintenance.intervalMs());
    await waitFor(
      async () => ((await rowsOf(r, cameraId)).at(-1)?.endAt ?? 0) > r.clock.now() - 5_000,
      10_000,
      'fresh',
    );
    expect(await r.maintenance.runDueCheck()).toMatchObject({ checked: 1, failed: 0, defectsOpened: 0 });
    await r.manager.stop();
    await expectIndexConsistent(r, cameraId);

    // Credentials never reach a log line, the health row or the audit trail.
    const stored = JSON.stringify([
      await findHealth(r.db.kysely, cameraId),
      await r.db.kysely.selectFrom('audit_events').selectAll().execute(),
      await r.db.kysely.selectFrom('maintenance_checks').selectAll().execute(),
    ]);
    for (const text of [r.logs.join('\n'), stored]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(USER);
    }
    expect(r.logs.join('\n')).toContain('rtsp://***@127.0.0.1');
  }, 90_000);

  it('records with credentials in the URL itself and hides them in errors when the password is wrong', async () => {
    server = await startRtspServer({ clip, mounts: [{ path: '/cam', user: USER, password: PASSWORD }] });
    const r = await rig('sqlite', 1);
    const wrong = 'Wrong-pass-123';
    const cameraId = await r.world.camera({
      streamUrl: `rtsp://${USER}:${wrong}@127.0.0.1:${server.port}/cam`,
    });
    await r.manager.start();
    await waitFor(
      async () => ((await findHealth(r.db.kysely, cameraId))?.restarts ?? 0) >= 1,
      15_000,
      'a failed attempt',
    );
    const health = (await findHealth(r.db.kysely, cameraId))!;
    expect(health.state).toMatch(/reconnecting|down/);
    expect(await rowsOf(r, cameraId)).toEqual([]);
    const text = [r.logs.join('\n'), JSON.stringify(health)].join('\n');
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(USER);
  }, 30_000);
});
