import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateService } from '../access/index.js';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { MINUTE } from '../lib/clock.js';
import type { DomainError } from '../lib/errors.js';
import { loadOrCreateSecrets } from '../lib/secrets.js';
import { MediaTools } from '../media/ffmpeg.js';
import { loadPolicy } from '../policy/index.js';
import type { IndexedSegment } from '../playback/playback.repository.js';
import { VERSION } from '../version.js';
import { addIncident, addSubjectRequest, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { recordRun, TEST_GOP_MS, testClip } from '../../test/footage.js';
import { FfmpegExportCutter } from './export-cutter.js';
import { keyFingerprint, type Manifest } from './exports.rules.js';
import { ExportService } from './exports.service.js';
import { verifyExport } from './exports.verify.js';

const media = new MediaTools();
const mkw = principal('u-mkw', ['manager-klant-wonen']);
const mvg = principal('u-mvg', ['manager-klant-wonen']);
const hm = principal('u-hm', ['huismeester']);

async function refusal(promise: Promise<unknown>): Promise<[string, string]> {
  try {
    await promise;
  } catch (error) {
    const e = error as DomainError;
    return [e.kind, e.code];
  }
  throw new Error('expected a refusal');
}

describe.each(DIALECTS)('exports on %s', (dialect) => {
  let db: Db;
  let gate: GateService;
  let exports: ExportService;
  let cameras: [string, string];
  let segments: IndexedSegment[];
  let requestId: string;
  let incidentId: string;
  let t0: number;
  let dataDir: string;
  let verifyKey: ReturnType<typeof loadOrCreateSecrets>['verifyKey'];

  const subjectGrant = async (who = mkw, ask: Partial<Parameters<GateService['requestAccess']>[1]> = {}) => {
    const out = await gate.requestAccess(who, {
      category: 'footage',
      purpose: 'subject-access',
      scope: { cameraIds: [...cameras] },
      from: t0,
      to: t0 + 60_000,
      reason: 'Tenant asks for a copy of 21:00-21:01 (M 4)',
      requestId,
      ...ask,
    });
    if (out.status !== 'granted') throw new Error('expected a grant');
    return out;
  };

  beforeAll(async () => {
    db = await createTestDb(dialect);
    const policy = loadPolicy('maaswonen-2024').policy;
    const access = services(db.kysely, policy);
    gate = access.gate;
    const clock = access.clock;
    cameras = (await seedRegistry(db.kysely, clock.now())).cameraIds;
    requestId = await addSubjectRequest(db.kysely, clock.now(), null);
    incidentId = await addIncident(db.kysely, clock.now());
    dataDir = mkdtempSync(join(tmpdir(), 'protocam-exports-'));
    const recordingsDir = join(dataDir, 'recordings');
    const clip = await testClip(media.ffmpegPath, dataDir, 60);
    t0 = clock.now() - 30 * MINUTE;
    segments = await recordRun(db.kysely, media.ffmpegPath, {
      recordingsDir,
      cameraId: cameras[0],
      startAt: t0,
      clip,
      segmentSeconds: 10,
    });
    await recordRun(db.kysely, media.ffmpegPath, {
      recordingsDir,
      cameraId: cameras[1],
      startAt: t0,
      clip,
      segmentSeconds: 10,
    });
    const secrets = loadOrCreateSecrets(dataDir);
    verifyKey = secrets.verifyKey;
    exports = new ExportService({
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
  }, 60_000);
  afterAll(async () => {
    await db.close();
  });

  it('exports one MP4 per camera within one keyframe interval of the window, signed and verifiable (M 4)', async () => {
    const { token, grantId, entryId } = await subjectGrant();
    const from = t0 + 12_500;
    const to = t0 + 47_300;
    const started = await exports.start(mkw, token, { from, to });
    expect(started.status).toBe('running');
    await exports.settled(started.id);
    const done = await exports.status(mkw, started.id);
    expect([done.status, done.progress, done.error]).toEqual(['done', 1, null]);
    expect([...done.files].sort()).toEqual(
      [`camera-${cameras[0]}.mp4`, `camera-${cameras[1]}.mp4`, 'manifest.json', 'manifest.sig'].sort(),
    );

    const dir = join(dataDir, 'exports', started.id);
    expect(readdirSync(dir).sort()).toEqual([...done.files].sort());
    const manifestRaw = readFileSync(join(dir, 'manifest.json'));
    const manifest = JSON.parse(manifestRaw.toString()) as Manifest;
    expect(done.manifestSha256).toBe(createHash('sha256').update(manifestRaw).digest('hex'));
    expect(manifest).toMatchObject({
      exportId: started.id,
      protocamVersion: VERSION,
      purpose: 'subject-access',
      grantId,
      logbookEntryId: entryId,
      requestId,
      createdBy: { userId: mkw.userId },
      requestedWindow: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
      signature: { algorithm: 'Ed25519', publicKeyFingerprint: keyFingerprint(verifyKey) },
    });
    const camera = manifest.cameras.find((c) => c.cameraId === cameras[0])!;
    expect(camera.sourceSegments.map((s) => [s.id, s.sha256])).toEqual(
      segments.slice(1, 5).map((s) => [s.id, s.sha256]),
    );
    // Cuts snap to keyframes: the actual start is the keyframe at or before the asked start.
    const actualFrom = Date.parse(camera.actualWindow!.from);
    const actualTo = Date.parse(camera.actualWindow!.to);
    expect(actualFrom).toBeLessThanOrEqual(from);
    expect(from - actualFrom).toBeLessThanOrEqual(TEST_GOP_MS);
    expect(Math.abs(actualTo - to)).toBeLessThanOrEqual(TEST_GOP_MS);
    const probed = await media.probe(join(dir, camera.file!));
    expect(Math.abs(probed.durationSeconds! * 1000 - (to - from))).toBeLessThanOrEqual(TEST_GOP_MS);
    expect(probed.formatName).toContain('mp4');

    const verified = await verifyExport(dir, verifyKey);
    expect(verified).toMatchObject({ ok: true, problems: [], verifiedFiles: 2 });

    const audit = await db.kysely
      .selectFrom('audit_events')
      .select(['action', 'target_id'])
      .where('target_id', '=', started.id)
      .execute();
    expect(audit.map((a) => a.action).sort()).toEqual(['export.done', 'export.start']);
    expect((await exports.list(mkw)).map((e) => e.id)).toContain(started.id);
    expect(await exports.list(mvg)).toEqual([]);
  }, 60_000);

  it('never starts before the grant: a window starting at the grant’s start snaps to the next keyframe', async () => {
    const from = t0 + 2_500;
    const { token } = await subjectGrant(mkw, { from, to: t0 + 9_000 });
    const started = await exports.start(mkw, token, { cameraIds: [cameras[0]] });
    await exports.settled(started.id);
    const manifest = JSON.parse(
      readFileSync(join(dataDir, 'exports', started.id, 'manifest.json'), 'utf8'),
    ) as Manifest;
    const actualFrom = Date.parse(manifest.cameras[0]!.actualWindow!.from);
    expect(actualFrom).toBeGreaterThanOrEqual(from);
    expect(actualFrom - from).toBeLessThanOrEqual(TEST_GOP_MS);
    expect(Math.abs(Date.parse(manifest.cameras[0]!.actualWindow!.to) - (t0 + 9_000))).toBeLessThanOrEqual(TEST_GOP_MS);
  }, 60_000);

  it('at start-up an export left running by a crash is marked failed and audited', async () => {
    const { token } = await subjectGrant();
    const started = await exports.start(mkw, token, { cameraIds: [cameras[0]], from: t0, to: t0 + 5_000 });
    await exports.settled(started.id);
    // As if the server had stopped mid-cut: the row still says running.
    await db.kysely
      .updateTable('exports')
      .set({ status: 'running', progress: 0.4 })
      .where('id', '=', started.id)
      .execute();
    expect(await exports.failInterrupted()).toBe(1);
    expect(await exports.status(mkw, started.id)).toMatchObject({
      status: 'failed',
      error: 'interrupted by a restart',
    });
    expect(existsSync(join(dataDir, 'exports', started.id))).toBe(false);
    const audit = await db.kysely
      .selectFrom('audit_events')
      .select(['action', 'outcome'])
      .where('target_id', '=', started.id)
      .execute();
    expect(audit).toContainEqual({ action: 'export.failed', outcome: 'failure' });
  }, 60_000);

  it('a tampered export fails verification: a changed byte, a removed or added file, an edited manifest, another key', async () => {
    const { token } = await subjectGrant();
    const started = await exports.start(mkw, token, { cameraIds: [cameras[0]], from: t0 + 5_000, to: t0 + 25_000 });
    await exports.settled(started.id);
    const original = join(dataDir, 'exports', started.id);
    const copy = () => {
      const dir = mkdtempSync(join(tmpdir(), 'protocam-tamper-'));
      cpSync(original, dir, { recursive: true });
      return dir;
    };
    const mp4 = `camera-${cameras[0]}.mp4`;

    const flipped = copy();
    const bytes = readFileSync(join(flipped, mp4));
    bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x01, bytes.length >> 1);
    writeFileSync(join(flipped, mp4), bytes);
    const r1 = await verifyExport(flipped, verifyKey);
    expect(r1.ok).toBe(false);
    expect(r1.problems).toEqual([expect.stringMatching(new RegExp(`^changed: ${mp4}`))]);

    const removed = copy();
    unlinkSync(join(removed, mp4));
    expect((await verifyExport(removed, verifyKey)).problems).toEqual([`missing: ${mp4}`]);

    const added = copy();
    writeFileSync(join(added, 'note.txt'), 'extra');
    expect((await verifyExport(added, verifyKey)).problems).toEqual(['unexpected file: note.txt']);

    const edited = copy();
    const text = readFileSync(join(edited, 'manifest.json'), 'utf8');
    writeFileSync(join(edited, 'manifest.json'), text.replace('"subject-access"', '"incident-handling"'));
    expect((await verifyExport(edited, verifyKey)).problems).toEqual([expect.stringMatching(/^signature: /)]);

    const unsigned = copy();
    rmSync(join(unsigned, 'manifest.sig'));
    expect((await verifyExport(unsigned, verifyKey)).problems).toEqual(['missing: manifest.sig']);

    const otherKey = generateKeyPairSync('ed25519').publicKey;
    const wrong = await verifyExport(original, otherKey);
    expect(wrong.problems).toEqual([expect.stringMatching(/^signature: /), expect.stringMatching(/^key: /)]);
    expect((await verifyExport(original, verifyKey)).ok).toBe(true);
  }, 60_000);

  it('refuses purposes that may not export, other users, and downloads without a live own grant', async () => {
    const assess = await gate.requestAccess(hm, {
      category: 'footage',
      purpose: 'incident-assessment',
      scope: { cameraIds: [cameras[0]] },
      from: t0,
      to: t0 + 60_000,
      reason: 'Broken window (M 3.5)',
      incidentId,
    });
    if (assess.status !== 'granted') throw new Error('expected a grant');
    // M 3.5: assessing means viewing; it never makes a copy.
    expect(await refusal(exports.start(hm, assess.token, {}))).toEqual(['forbidden', 'outside-grant']);

    const { token } = await subjectGrant();
    expect(await refusal(exports.start(mvg, token, {}))).toEqual(['not-found', 'grant-not-found']);
    expect(await refusal(exports.start(mkw, token, { from: t0 - MINUTE, to: t0 + 10_000 }))).toEqual([
      'forbidden',
      'outside-grant',
    ]);
    expect(await refusal(exports.start(mkw, token, { from: t0 + 10_000, to: t0 + 5_000 }))).toEqual([
      'invalid',
      'export-window-invalid',
    ]);

    const started = await exports.start(mkw, token, { cameraIds: [cameras[1]], from: t0, to: t0 + 10_000 });
    await exports.settled(started.id);
    expect(await refusal(exports.status(mvg, started.id))).toEqual(['not-found', 'export-not-found']);
    const file = `camera-${cameras[1]}.mp4`;
    const ok = await exports.download(mkw, token, started.id, file);
    expect(ok.bytes).toBeGreaterThan(1000);
    expect(existsSync(ok.path)).toBe(true);
    // A colleague with their own grant for the same window still cannot fetch this copy.
    const colleague = await subjectGrant(mvg);
    expect(await refusal(exports.download(mvg, colleague.token, started.id, file))).toEqual([
      'not-found',
      'export-not-found',
    ]);
    expect(await refusal(exports.download(mkw, 'y'.repeat(43), started.id, file))).toEqual([
      'not-found',
      'grant-not-found',
    ]);
    // A live grant of the owner that does not cover the export's camera does not open it.
    const narrow = await subjectGrant(mkw, { scope: { cameraIds: [cameras[0]] } });
    expect(await refusal(exports.download(mkw, narrow.token, started.id, file))).toEqual([
      'forbidden',
      'outside-grant',
    ]);
    expect(await refusal(exports.download(mkw, token, started.id, '../secrets.json'))).toEqual([
      'not-found',
      'export-file-not-found',
    ]);
  }, 60_000);

  it('an export whose footage vanished fails, keeps no partial files, and is audited as a failure', async () => {
    const { token } = await subjectGrant();
    const victim = segments[5]!;
    const path = join(dataDir, 'recordings', victim.file);
    const saved = readFileSync(path);
    unlinkSync(path);
    try {
      const started = await exports.start(mkw, token, { cameraIds: [cameras[0]], from: t0 + 50_000, to: t0 + 59_000 });
      await exports.settled(started.id);
      const failed = await exports.status(mkw, started.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toBeTruthy();
      expect(existsSync(join(dataDir, 'exports', started.id))).toBe(false);
      const audit = await db.kysely
        .selectFrom('audit_events')
        .select(['action', 'outcome'])
        .where('target_id', '=', started.id)
        .execute();
      expect(audit).toContainEqual({ action: 'export.failed', outcome: 'failure' });
    } finally {
      writeFileSync(path, saved);
    }
  }, 60_000);
});
