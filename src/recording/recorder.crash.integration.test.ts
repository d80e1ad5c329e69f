/**
 * kill -9 of the whole server mid-segment, as a real process (`protocam serve`) recording a
 * file-source camera with 1-second segments. First only the server dies (its ffmpeg lives on
 * and keeps writing), then the server and its ffmpeg together (the open segment is cut off).
 * After each crash the next start must leave an index where every row has its file with the
 * recorded hash and every closed file has a row.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { openDatabase, type Db } from '../db/database.js';
import { systemClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { MediaTools } from '../media/ffmpeg.js';
import { listSegments as listSegmentFilesIn } from '../media/segment-recorder.js';
import { makeTestClip } from '../media/test-clips.js';
import { openRuntime, prepareInstallation } from '../server.js';
import { testDataDir } from '../../test/db.js';
import { waitFor } from '../../test/recording-fixtures.js';
import { listSegments } from './recording.repository.js';
import { cameraDirectory, recordingsDirectory, sealFile } from './segment-files.js';

const admin = { id: null, label: 'test' };
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line; output: ${output}`)), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/running at http/.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', r));
}

function processesWriting(directory: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(directory + '/');
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('kill -9 of the server mid-segment', () => {
  it('leaves a consistent index after restart: every row has its file and hash, every closed file a row', async () => {
    const media = new MediaTools();
    const clip = join(mkdtempSync(join(tmpdir(), 'protocam-crash-clip-')), 'clip.ts');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 4 });
    const dataDir = testDataDir();
    const env = {
      ...process.env,
      PROTOCAM_DATA_DIR: dataDir,
      PROTOCAM_PORT: '0',
      PROTOCAM_LOG_LEVEL: 'warn',
      PROTOCAM_SEGMENT_SECONDS: '1',
      PROTOCAM_POLICY: 'wooninvest-2021',
    };

    // The installation and one camera with a file source, made with the server's own config and key.
    const runtime = await openRuntime(loadConfig(env), systemClock, createLogger('silent'));
    let cameraId: string;
    try {
      await prepareInstallation(runtime);
      const complex = await runtime.registry.createComplex(admin, { name: 'De Linde', ownership: 'corporation' });
      const building = await runtime.registry.createBuilding(admin, { complexId: complex.id, name: 'Blok A' });
      const camera = await runtime.registry.createCamera(admin, {
        buildingId: building.id,
        name: 'Hal',
        goals: ['protect-persons'],
        streamUrl: pathToFileURL(clip).toString(),
      });
      await runtime.registry.activateCamera(admin, camera.id);
      cameraId = camera.id;
    } finally {
      await runtime.db.close();
    }
    const directory = cameraDirectory(recordingsDirectory(dataDir), cameraId);
    const reader: Db = openDatabase(`sqlite:${join(dataDir, 'protocam.db')}`);
    const rows = () => listSegments(reader.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER);
    const runsWithRows = async () => new Set((await rows()).map((r) => r.file.split('/')[1]!.split('-')[0]!));

    try {
      // 1. Only the server dies; its ffmpeg writes on until the next start stops it.
      let server = await serve(env);
      await waitFor(async () => (await rows()).length >= 3, 20_000, 'three segments');
      await new Promise((resolve) => setTimeout(resolve, 400));
      server.kill('SIGKILL');
      await exited(server);
      const orphans = processesWriting(directory);
      expect(orphans).toHaveLength(1);

      // 2. The next start stops the orphan, indexes what it wrote, records on; then both die.
      server = await serve(env);
      const before = await runsWithRows();
      await waitFor(
        async () => [...(await runsWithRows())].some((run) => !before.has(run)),
        20_000,
        'segments of a new run',
      );
      expect(processesWriting(directory).filter((pid) => orphans.includes(pid))).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 1_400));
      const ffmpeg = Number(readFileSync(join(directory, '.ffmpeg.pid'), 'utf8'));
      server.kill('SIGKILL');
      process.kill(ffmpeg, 'SIGKILL');
      await exited(server);
      await waitFor(() => processesWriting(directory).length === 0, 5_000, 'ffmpeg gone');
      const hardKilledRun = readdirSync(directory)
        .filter((n) => n.endsWith('.csv'))
        .sort()
        .at(-1)!
        .replace('.csv', '');

      // 3. Start again, record a little, stop gently.
      server = await serve(env);
      const seen = await runsWithRows();
      await waitFor(
        async () => [...(await runsWithRows())].some((run) => !seen.has(run) && run > hardKilledRun),
        20_000,
        'segments after the second crash',
      );
      server.kill('SIGTERM');
      expect(await exited(server)).toBe(0);
      expect(processesWriting(directory)).toEqual([]);
      expect(existsSync(join(directory, '.ffmpeg.pid'))).toBe(false);

      // Every row has its file with the recorded size and hash; every segment file has a row.
      const indexed = await rows();
      const files = await listSegmentFilesIn(directory);
      expect(indexed.map((r) => r.file).sort()).toEqual(files.map((f) => `${cameraId}/${f.name}`).sort());
      for (const row of indexed) {
        expect(await sealFile(join(recordingsDirectory(dataDir), row.file))).toEqual({
          bytes: row.bytes,
          sha256: row.sha256,
        });
      }
      // At most the open segment was lost: every segment a run listed as closed is indexed.
      for (const list of readdirSync(directory).filter((n) => n.endsWith('.csv'))) {
        const run = list.replace('.csv', '');
        const listed = readFileSync(join(directory, list), 'utf8').trim().split('\n').filter(Boolean);
        const ofRun = indexed.filter((r) => r.file.includes(`/${run}-`));
        expect(ofRun.length).toBeGreaterThanOrEqual(listed.length);
        expect(ofRun.length).toBeLessThanOrEqual(listed.length + 1);
      }
      // Segments never overlap in time.
      for (let i = 1; i < indexed.length; i++)
        expect(indexed[i]!.startAt).toBeGreaterThanOrEqual(indexed[i - 1]!.endAt);
    } finally {
      await reader.close();
    }
  }, 120_000);
});
