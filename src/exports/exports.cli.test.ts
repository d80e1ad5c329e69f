import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { MINUTE } from '../lib/clock.js';
import { loadOrCreateSecrets } from '../lib/secrets.js';
import { MediaTools } from '../media/ffmpeg.js';
import { loadPolicy } from '../policy/index.js';
import { addSubjectRequest, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { cli } from '../../test/cli.js';
import { createTestDb, testDataDir } from '../../test/db.js';
import { recordRun, testClip } from '../../test/footage.js';
import { FfmpegExportCutter } from './export-cutter.js';
import { ExportService } from './exports.service.js';

const media = new MediaTools();
const mkw = principal('u-mkw', ['manager-klant-wonen']);

/** `protocam <args>` as a real process, the way an operator or a recipient runs it. */
function protocam(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('protocam export verify', () => {
  let db: Db;
  let dataDir: string;
  let exportDir: string;
  let publicKeyFile: string;

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const policy = loadPolicy('maaswonen-2024').policy;
    const { gate, clock } = services(db.kysely, policy);
    const [cameraId] = (await seedRegistry(db.kysely, clock.now())).cameraIds;
    const requestId = await addSubjectRequest(db.kysely, clock.now(), null);
    // The installation: its data directory holds the key that signs exports.
    dataDir = testDataDir();
    const secrets = loadOrCreateSecrets(dataDir);
    const recordingsDir = join(dataDir, 'recordings');
    const clip = await testClip(media.ffmpegPath, dataDir, 20);
    const t0 = clock.now() - 10 * MINUTE;
    await recordRun(db.kysely, media.ffmpegPath, { recordingsDir, cameraId, startAt: t0, clip, segmentSeconds: 10 });
    const exports = new ExportService({
      db: db.kysely,
      clock,
      audit: new AuditTrail(clock),
      gate,
      exportsDir: join(dataDir, 'exports'),
      recordingsDir,
      cutter: new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath),
      signingKey: secrets.signingKey,
      verifyKey: secrets.verifyKey,
    });
    const grant = await gate.requestAccess(mkw, {
      category: 'footage',
      purpose: 'subject-access',
      scope: { cameraIds: [cameraId] },
      from: t0 + 2_000,
      to: t0 + 17_000,
      reason: 'Copy for the tenant (M 4)',
      requestId,
    });
    if (grant.status !== 'granted') throw new Error('expected a grant');
    const started = await exports.start(mkw, grant.token, {});
    await exports.settled(started.id);
    exportDir = join(dataDir, 'exports', started.id);
    publicKeyFile = join(mkdtempSync(join(tmpdir(), 'protocam-recipient-')), 'protocam.pem');
    writeFileSync(publicKeyFile, exports.publicKey().pem);
  }, 60_000);
  afterAll(async () => {
    await db.close();
  });

  it('passes on the installation with its own key (in-process)', async () => {
    const result = await cli(['export', 'verify', exportDir], { PROTOCAM_DATA_DIR: dataDir });
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/intact: signature valid \(sha256:[0-9a-f]{64}\), 1 file\(s\) match/);
  });

  it('as a real process with --public-key elsewhere: exit 0 when intact, exit 1 naming a changed file', async () => {
    // A recipient (e.g. the police) copied the directory and holds only the public key.
    const intact = mkdtempSync(join(tmpdir(), 'protocam-received-'));
    cpSync(exportDir, intact, { recursive: true });
    const tampered = mkdtempSync(join(tmpdir(), 'protocam-received-'));
    cpSync(exportDir, tampered, { recursive: true });
    const name = readFileSync(join(tampered, 'manifest.json'), 'utf8').match(/camera-[0-9a-f-]+\.mp4/)![0];
    const bytes = readFileSync(join(tampered, name));
    bytes.writeUInt8(bytes.readUInt8(100) ^ 0xff, 100);
    writeFileSync(join(tampered, name), bytes);

    const elsewhere = { PROTOCAM_DATA_DIR: testDataDir() };
    const [good, bad] = await Promise.all([
      protocam(['export', 'verify', intact, '--public-key', publicKeyFile], elsewhere),
      protocam(['export', 'verify', tampered, '--public-key', publicKeyFile], elsewhere),
    ]);
    expect([good.code, good.err]).toEqual([0, '']);
    expect(good.out).toContain('intact');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`changed: ${name}`);
  }, 60_000);

  it('without a key on this machine it says to pass --public-key, and exits 1', async () => {
    const result = await cli(['export', 'verify', exportDir], { PROTOCAM_DATA_DIR: testDataDir() });
    expect(result.code).toBe(1);
    expect(result.err).toContain('--public-key');
    const missing = await cli(['export', 'verify', join(dataDir, 'nope')], { PROTOCAM_DATA_DIR: dataDir });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read');
  });
});
