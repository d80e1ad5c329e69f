/**
 * Signed exports of footage (M 4, M 5, W 4.1, W 5.1): for a grant on cameras and a window, one
 * MP4 per camera cut from the segments by stream copy, a manifest, and a detached Ed25519
 * signature over the manifest with the installation key.
 *
 * Starting an export asks the gate (own live grant, an export purpose, every camera and the
 * whole window), then writes the row and its audit record in one short transaction; the cut
 * runs afterwards, in the background, one export at a time, with ffmpeg outside any
 * transaction. Progress is written as it goes (not audited: it changes nothing of substance);
 * the end (done or failed) is audited.
 *
 * Downloads: only the export's owner, and only with a live grant of their own for the export's
 * purpose that covers every camera and the whole window. The owner check keeps one person's
 * copy for a data subject or the police from being fetched by a colleague who happens to hold
 * a grant; the fresh grant means every download is a consultation the gate logged (M 6.4),
 * and a stolen session alone cannot fetch old copies. Each download is audited.
 *
 * Exports are personal data with their own retention (policy category `exports`): the
 * retention sweeper erases `<exportsDir>/<directory>` and the row.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { GateService } from '../access/index.js';
import { SYSTEM_ACTOR, type AuditTrail } from '../audit/audit.js';
import type { Database, ExportRow } from '../db/schema.js';
import { actorOf, type Principal } from '../http/principal.js';
import type { Clock } from '../lib/clock.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { parseInput } from '../lib/validation.js';
import { cameraNames, segmentsOverlapping, type IndexedSegment } from '../playback/playback.repository.js';
import { VERSION } from '../version.js';
import type { CutPart, ExportCutter } from './export-cutter.js';
import * as repo from './exports.repository.js';
import {
  cameraFileName,
  EXPORT_FILE_NAME,
  EXPORT_PURPOSES,
  gapsBetween,
  iso,
  keyFingerprint,
  cutStart,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  manifestBytes,
  MAX_EXPORT_CAMERAS,
  MAX_EXPORT_WINDOW_MS,
  planCut,
  SIGNATURE_FILE,
  type Manifest,
  type ManifestCamera,
  type ManifestFile,
} from './exports.rules.js';

export interface ExportDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  gate: Pick<GateService, 'validateGrant' | 'describeGrant'>;
  /** `<dataDir>/exports`: export rows name a directory relative to it. */
  exportsDir: string;
  /** `<dataDir>/recordings`: segment files are relative to it. */
  recordingsDir: string;
  cutter: ExportCutter;
  signingKey: KeyObject;
  verifyKey: KeyObject;
  logger?: { error(object: object, message: string): void };
  /** Called as each step of a background run ends (the export benchmark's timeline). */
  trace?: (step: string) => void;
}

export interface ExportView {
  id: string;
  status: string;
  progress: number;
  purpose: string;
  cameraIds: string[];
  from: number;
  to: number;
  grantId: string;
  entryId: string;
  incidentId: string | null;
  requestId: string | null;
  disclosureId: string | null;
  bytes: number;
  manifestSha256: string | null;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
  /** The files a download may ask for, once done. */
  files: string[];
}

const Id = z.string().trim().min(1).max(64);
const EpochMs = z.number().int().min(0).max(8_640_000_000_000_000);
const StartInput = z.strictObject({
  cameraIds: z.array(Id).min(1).max(MAX_EXPORT_CAMERAS).optional(),
  from: EpochMs.optional(),
  to: EpochMs.optional(),
});
export type StartExportInput = z.input<typeof StartInput>;

/** Progress is written at most this often while ffmpeg runs. */
const PROGRESS_INTERVAL_MS = 1000;

const exportNotFound = () => notFound('export-not-found', 'No such export');

function view(row: ExportRow): ExportView {
  const cameraIds = JSON.parse(row.camera_ids) as string[];
  return {
    id: row.id,
    status: row.status,
    progress: Number(row.progress),
    purpose: row.purpose,
    cameraIds,
    from: Number(row.window_from),
    to: Number(row.window_to),
    grantId: row.grant_id,
    entryId: row.entry_id,
    incidentId: row.incident_id,
    requestId: row.request_id,
    disclosureId: row.disclosure_id,
    bytes: Number(row.bytes),
    manifestSha256: row.manifest_sha256,
    error: row.error,
    createdAt: Number(row.created_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    files: row.status === 'done' ? [...cameraIds.map(cameraFileName), MANIFEST_FILE, SIGNATURE_FILE] : [],
  };
}

/** Bytes read per step while hashing a file. */
const HASH_CHUNK = 4 << 20;

/**
 * SHA-256 of a file, double-buffered: the next chunk is read (thread pool) while this one is
 * hashed (SHA-NI, over 1 GB/s here), so the hash runs at about the speed of hashing alone; it
 * is the largest step of an export after ffmpeg and cannot start before the moov is written.
 */
async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(HASH_CHUNK), Buffer.allocUnsafe(HASH_CHUNK)];
    let position = 0;
    let current = 0;
    let reading = handle.read(buffers[0]!, 0, HASH_CHUNK, 0);
    for (;;) {
      const { bytesRead, buffer } = await reading;
      if (bytesRead === 0) break;
      position += bytesRead;
      current ^= 1;
      reading = handle.read(buffers[current]!, 0, HASH_CHUNK, position);
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  await writeFile(path, data, { flag: 'wx' });
  await fsyncPath(path);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class ExportService {
  private queue: Promise<void> = Promise.resolve();
  private readonly jobs = new Map<string, Promise<void>>();

  constructor(private readonly deps: ExportDeps) {}

  /** Starts an export of the grant's cameras and window (or a part of them); returns at once. */
  async start(principal: Principal, token: string, input: StartExportInput): Promise<ExportView> {
    const parsed = parseInput(StartInput, input);
    const grant = await this.deps.gate.describeGrant(principal, token);
    const cameraIds = [...new Set(parsed.cameraIds ?? grant.scope.cameraIds ?? [])].sort();
    const from = parsed.from ?? grant.from;
    const to = parsed.to ?? grant.to;
    if (cameraIds.length === 0) throw invalid('export-cameras-missing', 'Name the cameras to export');
    if (!(from < to)) throw invalid('export-window-invalid', 'The window must start before it ends');
    if (to - from > MAX_EXPORT_WINDOW_MS) throw invalid('export-window-too-long', 'An export covers at most 24 hours');
    for (const cameraId of cameraIds) {
      await this.deps.gate.validateGrant(principal, token, {
        category: 'footage',
        purposes: EXPORT_PURPOSES,
        cameraId,
        from,
        to,
      });
    }
    let segments = 0;
    for (const cameraId of cameraIds) {
      segments += (await segmentsOverlapping(this.deps.db, cameraId, from, to)).length;
    }
    if (segments === 0) throw notFound('footage-not-found', 'There are no recordings in this window');

    const id = newId();
    const now = this.deps.clock.now();
    await this.deps.db.transaction().execute(async (trx) => {
      await repo.insertExport(trx, {
        id,
        grant_id: grant.id,
        entry_id: grant.entryId,
        created_by: principal.userId,
        purpose: grant.purpose,
        camera_ids: JSON.stringify(cameraIds),
        window_from: from,
        window_to: to,
        incident_id: grant.incidentId,
        request_id: grant.requestId,
        disclosure_id: grant.disclosureId,
        status: 'running',
        progress: 0,
        directory: id,
        bytes: 0,
        manifest_sha256: null,
        error: null,
        created_at: now,
        finished_at: null,
        erasing_at: null,
      });
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'export.start',
        targetType: 'export',
        targetId: id,
        after: { cameraIds, from, to, purpose: grant.purpose },
        context: { grantId: grant.id, entryId: grant.entryId },
      });
    });
    this.enqueue(id);
    return view((await repo.findExport(this.deps.db, id))!);
  }

  /** An export of the caller's own; anyone else's does not exist for them. */
  async status(principal: Principal, id: string): Promise<ExportView> {
    return view(await this.own(principal, id));
  }

  async list(principal: Principal, limit = 100): Promise<ExportView[]> {
    return (await repo.listExportsOf(this.deps.db, principal.userId, limit)).map(view);
  }

  /**
   * A file of a finished export of the caller's own, with a live own grant for the export's
   * purpose covering all its cameras and its window (see the file comment). Audited.
   */
  async download(
    principal: Principal,
    token: string,
    id: string,
    name: string,
  ): Promise<{ path: string; bytes: number; contentType: string }> {
    const row = await this.own(principal, id);
    for (const cameraId of JSON.parse(row.camera_ids) as string[]) {
      await this.deps.gate.validateGrant(principal, token, {
        category: 'footage',
        purposes: [row.purpose],
        cameraId,
        from: Number(row.window_from),
        to: Number(row.window_to),
      });
    }
    if (row.status !== 'done') throw conflict('export-not-ready', `The export is ${row.status}`);
    if (!EXPORT_FILE_NAME.test(name)) throw notFound('export-file-not-found', 'No such file in this export');
    const path = join(this.deps.exportsDir, row.directory, name);
    let bytes: number;
    try {
      bytes = (await stat(path)).size;
    } catch {
      throw notFound('export-file-not-found', 'No such file in this export');
    }
    await this.deps.db.transaction().execute((trx) =>
      this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'export.download',
        targetType: 'export',
        targetId: id,
        context: { file: name },
      }),
    );
    const contentType = name.endsWith('.mp4')
      ? 'video/mp4'
      : name.endsWith('.json')
        ? 'application/json'
        : 'text/plain';
    return { path, bytes, contentType };
  }

  /** The installation's verify key, for recipients who check an export elsewhere. */
  publicKey(): { pem: string; fingerprint: string } {
    return {
      pem: this.deps.verifyKey.export({ type: 'spki', format: 'pem' }).toString(),
      fingerprint: keyFingerprint(this.deps.verifyKey),
    };
  }

  /** Resolves when the export's background run has finished (or at once when none is queued). */
  settled(id: string): Promise<void> {
    return this.jobs.get(id) ?? Promise.resolve();
  }

  /** Start-up: an export still `running` was cut short by a stop or crash; its partial files go. */
  async failInterrupted(): Promise<number> {
    const rows = await repo.runningExports(this.deps.db);
    for (const row of rows) {
      if (this.jobs.has(row.id)) continue;
      await rm(join(this.deps.exportsDir, row.directory), { recursive: true, force: true });
      await this.finish(row.id, { status: 'failed', error: 'interrupted by a restart' });
    }
    return rows.length;
  }

  // --- background run -------------------------------------------------------------------------

  private enqueue(id: string): void {
    const job = this.queue.then(() => this.run(id));
    this.queue = job.catch(() => undefined);
    this.jobs.set(id, job);
    void job.finally(() => this.jobs.delete(id)).catch(() => undefined);
  }

  private async own(principal: Principal, id: string): Promise<ExportRow> {
    const row = await repo.findExport(this.deps.db, id);
    if (!row || row.created_by !== principal.userId || row.erasing_at !== null) throw exportNotFound();
    return row;
  }

  private async run(id: string): Promise<void> {
    this.deps.trace?.('queued');
    const row = await repo.findExport(this.deps.db, id);
    if (row?.status !== 'running') return;
    const dir = join(this.deps.exportsDir, row.directory);
    const work = join(this.deps.exportsDir, '.work', id);
    try {
      await mkdir(dir, { recursive: true });
      await mkdir(work, { recursive: true });
      const manifest = await this.cutAll(row, dir, work);
      const bytes = manifestBytes(manifest);
      const signature = sign(null, bytes, this.deps.signingKey);
      this.deps.trace?.('signed');
      // Two small files, flushed at the same time: each fsync waits for the disk on its own.
      await Promise.all([
        writeDurably(join(dir, MANIFEST_FILE), bytes),
        writeDurably(join(dir, SIGNATURE_FILE), Buffer.from(`${signature.toString('base64')}\n`)),
      ]);
      await fsyncPath(dir);
      this.deps.trace?.('manifest-durable');
      const total =
        manifest.files.reduce((sum, f) => sum + f.bytes, 0) +
        bytes.length +
        (await stat(join(dir, SIGNATURE_FILE))).size;
      await this.finish(id, {
        status: 'done',
        bytes: total,
        manifestSha256: createHash('sha256').update(bytes).digest('hex'),
      });
      this.deps.trace?.('finished');
    } catch (error) {
      this.deps.logger?.error({ err: error, exportId: id }, 'export failed');
      // A half-made copy of personal data serves no one: remove it, keep the row as the record.
      await rm(dir, { recursive: true, force: true });
      await this.finish(id, { status: 'failed', error: (error as Error).message.slice(0, 500) });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async cutAll(row: ExportRow, dir: string, work: string): Promise<Manifest> {
    const from = Number(row.window_from);
    const to = Number(row.window_to);
    const cameraIds = JSON.parse(row.camera_ids) as string[];
    const names = await cameraNames(this.deps.db, cameraIds);
    // The grant's start bounds the keyframe snap: the copy never holds what the gate did not allow.
    const earliest = (await repo.grantWindow(this.deps.db, row.grant_id))?.from ?? from;
    const plans: { cameraId: string; segments: IndexedSegment[] }[] = [];
    for (const cameraId of cameraIds) {
      plans.push({ cameraId, segments: await segmentsOverlapping(this.deps.db, cameraId, from, to) });
    }
    this.deps.trace?.('planned');
    const expected = plans.map(({ segments }) =>
      segments.reduce((sum, s) => sum + (Math.min(s.endAt, to) - Math.max(s.startAt, from)) / 1000, 0),
    );
    const totalSeconds = Math.max(
      1e-3,
      expected.reduce((a, b) => a + b, 0),
    );
    let doneSeconds = 0;
    let lastWrite = 0;
    const report = async (seconds: number) => {
      const now = performance.now();
      if (now - lastWrite < PROGRESS_INTERVAL_MS) return;
      lastWrite = now;
      const progress = Math.min(0.99, (doneSeconds + seconds) / totalSeconds);
      await repo.updateExport(this.deps.db, row.id, 'running', { progress });
    };

    const cameras: ManifestCamera[] = [];
    const files: ManifestFile[] = [];
    for (const [i, { cameraId, segments }] of plans.entries()) {
      const base: Omit<ManifestCamera, 'file' | 'actualWindow' | 'durationSeconds' | 'gaps' | 'sourceSegments'> = {
        cameraId,
        name: names.get(cameraId) ?? null,
        requestedWindow: { from: iso(from), to: iso(to) },
      };
      if (segments.length === 0) {
        cameras.push({ ...base, file: null, actualWindow: null, durationSeconds: null, gaps: [], sourceSegments: [] });
        continue;
      }
      const entries = planCut(segments, from, to);
      // planCut keeps the order of the segments it was given.
      const script: CutPart[] = segments.map((segment) => ({
        path: this.segmentPath(segment),
      }));
      const first = entries[0]!;
      const lastIndex = entries.length - 1;
      const last = entries[lastIndex]!;
      // Output time 0 is the in-point; without one, the first segment's first frame.
      let zeroAt = first.segment.startAt;
      const [timing, lastStart] = await Promise.all([
        first.inSeconds === undefined ? undefined : this.deps.cutter.timing(script[0]!.path),
        last.outSeconds === undefined ? undefined : this.deps.cutter.startTime(script[lastIndex]!.path),
      ]);
      this.deps.trace?.('edges-read');
      if (first.inSeconds !== undefined && timing) {
        // Stream copy starts on a keyframe: the one at or before the asked start, so the export
        // covers the whole request, unless the grant does not reach back that far (cutStart).
        const wanted = timing.startTime + first.inSeconds;
        const allowed = timing.startTime + (earliest - first.segment.startAt) / 1000;
        const inpoint = cutStart(timing.keyframes, wanted, allowed);
        script[0]!.inpoint = inpoint;
        zeroAt = first.segment.startAt + Math.round((inpoint - timing.startTime) * 1000);
      }
      if (last.outSeconds !== undefined && lastStart !== undefined) {
        script[lastIndex]!.outpoint = lastStart + last.outSeconds;
      }
      const name = cameraFileName(cameraId);
      const output = join(dir, name);
      const cameraWork = join(work, cameraId);
      await mkdir(cameraWork, { recursive: true });
      await this.deps.cutter.write(
        script,
        output,
        cameraWork,
        (seconds) => {
          void report(seconds).catch(() => undefined);
        },
        expected[i],
      );
      this.deps.trace?.('cut-written');
      doneSeconds += expected[i]!;
      // Measuring (ffprobe, another process), flushing to disk (I/O) and hashing (CPU) overlap.
      const step = <T>(name: string, promise: Promise<T>) =>
        promise.then((value) => {
          this.deps.trace?.(name);
          return value;
        });
      const [cut, , sha256] = await Promise.all([
        step('measured', this.deps.cutter.measure(output)),
        step('synced', fsyncPath(output)),
        step('hashed', sha256Of(output)),
      ]);
      const gaps = gapsBetween(segments);
      const gapMs = gaps.reduce((sum, g) => sum + (g.to - g.from), 0);
      // Measured, not assumed: where the MP4 really starts (keyframe) and how long it plays.
      const actualFrom = zeroAt + Math.round(cut.startTime * 1000);
      const actualTo = actualFrom + Math.round(cut.durationSeconds * 1000) + gapMs;
      files.push({ name, bytes: (await stat(output)).size, sha256 });
      cameras.push({
        ...base,
        file: name,
        actualWindow: { from: iso(actualFrom), to: iso(actualTo) },
        durationSeconds: cut.durationSeconds,
        gaps: gaps.map((g) => ({ from: iso(g.from), to: iso(g.to) })),
        sourceSegments: segments.map((s) => ({ id: s.id, start: iso(s.startAt), end: iso(s.endAt), sha256: s.sha256 })),
      });
    }
    const actual = cameras.flatMap((c) => (c.actualWindow ? [c.actualWindow] : []));
    return {
      format: MANIFEST_FORMAT,
      exportId: row.id,
      protocamVersion: VERSION,
      createdAt: iso(Number(row.created_at)),
      finishedAt: iso(this.deps.clock.now()),
      createdBy: { userId: row.created_by, label: await repo.userLabel(this.deps.db, row.created_by) },
      purpose: row.purpose,
      grantId: row.grant_id,
      logbookEntryId: row.entry_id,
      incidentId: row.incident_id,
      requestId: row.request_id,
      disclosureId: row.disclosure_id,
      requestedWindow: { from: iso(from), to: iso(to) },
      actualWindow: actual.length
        ? {
            from: actual.map((w) => w.from).sort()[0]!,
            to: actual
              .map((w) => w.to)
              .sort()
              .at(-1)!,
          }
        : null,
      cameras,
      files,
      signature: {
        algorithm: 'Ed25519',
        file: SIGNATURE_FILE,
        publicKeyFingerprint: keyFingerprint(this.deps.verifyKey),
      },
    };
  }

  private segmentPath(segment: IndexedSegment): string {
    return join(this.deps.recordingsDir, segment.file);
  }

  private async finish(
    id: string,
    outcome: { status: 'done'; bytes: number; manifestSha256: string } | { status: 'failed'; error: string },
  ): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.db.transaction().execute(async (trx) => {
      const changed = await repo.updateExport(trx, id, 'running', {
        status: outcome.status,
        finished_at: now,
        ...(outcome.status === 'done'
          ? { progress: 1, bytes: outcome.bytes, manifest_sha256: outcome.manifestSha256 }
          : { error: outcome.error }),
      });
      if (!changed) return;
      await this.deps.audit.record(trx, {
        actor: SYSTEM_ACTOR,
        action: outcome.status === 'done' ? 'export.done' : 'export.failed',
        targetType: 'export',
        targetId: id,
        outcome: outcome.status === 'done' ? 'success' : 'failure',
        after: outcome,
      });
    });
  }
}
