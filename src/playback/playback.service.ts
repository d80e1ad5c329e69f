/**
 * Playback, live view and still frames over the segment index, only through the access gate.
 *
 * Every call first asks the gate about the caller's grant (own, live, footage, a purpose this
 * route serves, the camera and the time read) and touches the index or a file only after that.
 * The gate wrote the consultation record when it issued the grant (M 6.4); reads write nothing.
 * Segments are addressed by their random id, never by a path; a segment of another camera, or
 * wholly outside the grant's window, is answered exactly like one that does not exist.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type { GateService, GrantNeed, GrantView } from '../access/index.js';
import type { Database } from '../db/schema.js';
import type { Principal } from '../http/principal.js';
import { MINUTE, type Clock } from '../lib/clock.js';
import { isDomainError, notFound } from '../lib/errors.js';
import type { Policy } from '../policy/index.js';
import type { FrameExtractor } from './frame-extractor.js';
import { findSegment, listLatestSegments } from '../recording/recording.repository.js';
import * as repo from './playback.repository.js';
import {
  isDiscontinuity,
  LIVE_WINDOW_SEGMENTS,
  liveViewPurposes,
  livePlaylist,
  overlaps,
  PLAYBACK_PURPOSES,
  timelineShiftTicks,
  vodPlaylist,
  type PlaylistSegment,
} from './playback.rules.js';
import { firstTimestamp, shiftTimestamps, TICKS_PER_MS, trimToWindow } from './ts-timestamps.js';

export interface PlaybackDeps {
  db: Kysely<Database>;
  clock: Clock;
  gate: Pick<GateService, 'validateGrant' | 'describeGrant'>;
  policy: () => Policy;
  /** `<dataDir>/recordings`: segment `file` columns are relative to it. */
  recordingsDir: string;
  frames: FrameExtractor;
}

/** Live view lists segments from this long before the grant was issued: a stable anchor per grant. */
export const LIVE_ANCHOR_MS = 2 * MINUTE;

/** The URI of a segment inside a playlist, relative to the playlist's URL: an id, never a path. */
export const segmentUri = (s: { id: string }): string => `segment/${s.id}.ts`;

const segmentNotFound = () => notFound('segment-not-found', 'No such segment');

/** Segments as the grant lets them be served: cut at the edges of its window (for EXTINF). */
const clipTo = <S extends PlaylistSegment>(segments: readonly S[], grant: { from: number; to: number }): S[] =>
  segments.map((s) => ({ ...s, startAt: Math.max(s.startAt, grant.from), endAt: Math.min(s.endAt, grant.to) }));

export class PlaybackService {
  constructor(private readonly deps: PlaybackDeps) {}

  /**
   * A VOD playlist over the segments of one camera in [from, to] (default: the grant's window).
   * Segments that straddle an edge are listed whole; see `segment` for what is served of them.
   */
  async vodPlaylist(
    principal: Principal,
    token: string,
    cameraId: string,
    window: { from?: number | undefined; to?: number | undefined } = {},
  ): Promise<string> {
    const own = await this.deps.gate.describeGrant(principal, token);
    const from = window.from ?? own.from;
    const to = window.to ?? own.to;
    await this.need(principal, token, { cameraId, from, to });
    const segments = await repo.segmentsOverlapping(this.deps.db, cameraId, from, to);
    if (segments.length === 0) throw notFound('footage-not-found', 'There are no recordings in this window');
    return vodPlaylist(clipTo(segments, own), segmentUri);
  }

  /**
   * A sliding playlist over the newest segments, for the purposes of the policy's `liveView`
   * only (M 6.5, W 6.6: technical checks in both presets). The grant must cover now.
   */
  async livePlaylist(principal: Principal, token: string, cameraId: string): Promise<string> {
    const now = this.deps.clock.now();
    const grant = await this.deps.gate.validateGrant(principal, token, {
      category: 'footage',
      purposes: liveViewPurposes(this.deps.policy()),
      cameraId,
      at: now,
    });
    const anchor = Math.max(grant.from, grant.issuedAt - LIVE_ANCHOR_MS);
    const until = Math.min(now, grant.to);
    const since = await listLatestSegments(this.deps.db, cameraId, 10_000, { from: anchor, to: until });
    const listed = since.slice(-LIVE_WINDOW_SEGMENTS);
    const skipped = since.slice(0, since.length - listed.length);
    let discontinuities = 0;
    for (let i = 1; i <= skipped.length && i < since.length; i++) {
      if (isDiscontinuity(since[i - 1]!, since[i]!)) discontinuities++;
    }
    return livePlaylist(clipTo(listed, grant), segmentUri, skipped.length, discontinuities);
  }

  /**
   * The bytes of one segment, on the grant's timeline (see ts-timestamps.ts). Refused like a
   * missing segment when it belongs to another camera or lies wholly outside the grant's window;
   * a segment that straddles an edge of the window is cut to it (from the keyframe before).
   */
  async segment(principal: Principal, token: string, cameraId: string, segmentId: string): Promise<Buffer> {
    const grant = await this.deps.gate.describeGrant(principal, token);
    const segment = await findSegment(this.deps.db, segmentId);
    if (!segment || segment.cameraId !== cameraId || !overlaps(segment, grant.from, grant.to)) throw segmentNotFound();
    try {
      await this.need(principal, token, {
        cameraId,
        from: Math.max(segment.startAt, grant.from),
        to: Math.min(segment.endAt, grant.to),
      });
    } catch (error) {
      if (isDomainError(error) && error.code === 'outside-grant') throw segmentNotFound();
      throw error;
    }
    const bytes = await this.readSegmentFile(segment);
    const first = firstTimestamp(bytes);
    if (first === undefined) return bytes;
    const inside =
      grant.from <= segment.startAt && grant.to >= segment.endAt
        ? bytes
        : trimToWindow(
            bytes,
            first + (Math.max(grant.from, segment.startAt) - segment.startAt) * TICKS_PER_MS,
            first + (Math.min(grant.to, segment.endAt) - segment.startAt) * TICKS_PER_MS,
          );
    return shiftTimestamps(inside, timelineShiftTicks(segment.startAt, grant.from, first));
  }

  /** One decoded frame (JPEG) of a camera at instant `at`, optionally scaled to `width` pixels. */
  async frame(principal: Principal, token: string, cameraId: string, at: number, width?: number): Promise<Buffer> {
    await this.need(principal, token, { cameraId, at });
    const segment = await repo.segmentAt(this.deps.db, cameraId, at);
    if (!segment) throw notFound('footage-not-found', 'There is no recording at this time');
    return this.deps.frames.jpegAt(this.pathOf(segment.file), (at - segment.startAt) / 1000, width);
  }

  /** The caller's grant (for a viewer: which cameras and window it may ask for). */
  describe(principal: Principal, token: string): Promise<GrantView> {
    return this.deps.gate.describeGrant(principal, token);
  }

  private need(principal: Principal, token: string, need: Omit<GrantNeed, 'category' | 'purposes'>) {
    return this.deps.gate.validateGrant(principal, token, {
      category: 'footage',
      purposes: PLAYBACK_PURPOSES,
      ...need,
    });
  }

  private async readSegmentFile(segment: PlaylistSegment): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(segment.file));
    } catch (error) {
      // Indexed but gone (erased meanwhile, or a disk problem): the same answer as no segment.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw segmentNotFound();
      throw error;
    }
  }

  /** The absolute path of an indexed file; an index row pointing outside the recordings directory is refused. */
  private pathOf(file: string): string {
    const root = resolve(this.deps.recordingsDir);
    const path = resolve(root, file);
    const rel = relative(root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw segmentNotFound();
    return path;
  }
}
