/**
 * Test support for src/recording: a registry with one complex and building whose cameras are
 * created and activated through the real RegistryService, a clock that follows real time
 * but can be moved forward (ffmpeg runs in real time; deadlines are tested by moving the
 * clock), and a collecting logger. Not used by the app.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { AuditTrail } from '../src/audit/audit.js';
import type { Database } from '../src/db/schema.js';
import type { Clock } from '../src/lib/clock.js';
import { createLogger, type Logger } from '../src/lib/logger.js';
import { mediaProcessEnv } from '../src/media/ffmpeg.js';
import { loadPolicy, type Policy } from '../src/policy/index.js';
import type { CameraCreateInput } from '../src/registry/registry.schemas.js';
import { RegistryService } from '../src/registry/registry.service.js';

export const ADMIN = { id: 'u-admin', label: 'beheerder' };
export const SUSPICION = 'Cash missing from the till on three Fridays';

/** Real time plus an offset that tests move forward (never backward). */
export class OffsetClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

export interface RecordingWorld {
  registry: RegistryService;
  audit: AuditTrail;
  policy: Policy;
  complexId: string;
  buildingId: string;
  /** Creates and (unless `inactive`) activates a camera; returns its id. */
  camera(over?: Partial<CameraCreateInput> & { inactive?: boolean }): Promise<string>;
}

export async function recordingWorld(
  db: Kysely<Database>,
  clock: Clock,
  policy: Policy = loadPolicy('wooninvest-2021').policy,
): Promise<RecordingWorld> {
  const audit = new AuditTrail(clock);
  const registry = new RegistryService({
    db,
    clock,
    audit,
    policy: () => policy,
    encryptionKey: randomBytes(32),
  });
  await registry.ensureOrganisation('WoonInvest');
  const complexId = (await registry.createComplex(ADMIN, { name: 'De Linde', ownership: 'corporation' })).id;
  const buildingId = (await registry.createBuilding(ADMIN, { complexId, name: 'Blok A' })).id;
  let n = 0;
  return {
    registry,
    audit,
    policy,
    complexId,
    buildingId,
    async camera(over = {}) {
      const { inactive, ...input } = over;
      n += 1;
      const created = await registry.createCamera(ADMIN, {
        buildingId,
        name: `Camera ${n}`,
        goals: ['protect-persons'],
        connectionSecured: true,
        ...input,
      });
      if (!inactive && input.kind !== 'dummy') await registry.activateCamera(ADMIN, created.id);
      return created.id;
    },
  };
}

/** A logger that keeps every line (JSON) so tests can search it for secrets. */
export function collectingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

/** Waits for a condition, polling; real-time effects only (ffmpeg, sockets). */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Cuts `clip` into 1-second segments of run `run` in `directory`, with its segment list, as a
 * recorder run leaves them; returns the list's lines.
 */
export function cutRun(ffmpegPath: string, clip: string, directory: string, run: string): string[] {
  execFileSync(
    ffmpegPath,
    [
      ...['-hide_banner', '-loglevel', 'error', '-i', clip, '-map', '0:v:0', '-c', 'copy', '-f', 'segment'],
      ...['-segment_format', 'mpegts', '-segment_time', '1', '-reset_timestamps', '1'],
      ...['-segment_list', join(directory, `${run}.csv`), '-segment_list_type', 'csv'],
      join(directory, `${run}-%06d.ts`),
    ],
    { env: mediaProcessEnv() },
  );
  return readFileSync(join(directory, `${run}.csv`), 'utf8')
    .trim()
    .split('\n');
}
