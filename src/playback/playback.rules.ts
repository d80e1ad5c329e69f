/**
 * Pure rules of playback and live view: which purposes open them, the HLS playlists, and the
 * timeline each segment is served on. No I/O.
 */
import { basename } from 'node:path';
import { parseSegmentName } from '../media/segment-recorder.js';
import { PURPOSE_SCOPE, PURPOSES, type Policy, type Purpose } from '../policy/index.js';
import { TICKS_PER_MS } from './ts-timestamps.js';

/**
 * Every purpose that can cover footage may play back what its grant covers: the gate already
 * decided role x purpose x category, the window and the linked incident, request or disclosure.
 */
export const PLAYBACK_PURPOSES: readonly Purpose[] = PURPOSES.filter((p) =>
  PURPOSE_SCOPE[p].categories.includes('footage'),
);

/** Purposes that may watch live: the policy's `liveView`; none when the policy has no such section. */
export function liveViewPurposes(policy: Policy): Purpose[] {
  return [...(policy.liveView?.purposes ?? [])];
}

/** How many of the newest segments a live playlist lists (about a minute at 10 s segments). */
export const LIVE_WINDOW_SEGMENTS = 6;

/**
 * Consecutive segments further apart than this are not one stream: the recorder restarted or
 * the camera was away. The playlist marks the jump with EXT-X-DISCONTINUITY.
 */
export const DISCONTINUITY_GAP_MS = 500;

/** Segment timelines start this far after the grant's start, as MPEG-TS muxers do (never at 0). */
export const TIMELINE_LEAD_MS = 10_000;

export interface PlaylistSegment {
  id: string;
  file: string;
  startAt: number;
  endAt: number;
}

const runOf = (file: string): string | undefined => parseSegmentName(basename(file))?.run;

/** True when `next` does not continue `previous`: another recorder run, or a gap. */
export function isDiscontinuity(previous: PlaylistSegment, next: PlaylistSegment): boolean {
  const a = runOf(previous.file);
  const b = runOf(next.file);
  if (a !== undefined && b !== undefined && a !== b) return true;
  return Math.abs(next.startAt - previous.endAt) > DISCONTINUITY_GAP_MS;
}

const seconds = (ms: number): string => (Math.max(ms, 1) / 1000).toFixed(3);

function body(segments: readonly PlaylistSegment[], uri: (s: PlaylistSegment) => string): string[] {
  const lines: string[] = [];
  segments.forEach((segment, i) => {
    const previous = segments[i - 1];
    if (previous && isDiscontinuity(previous, segment)) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${seconds(segment.endAt - segment.startAt)},`, uri(segment));
  });
  return lines;
}

const targetDuration = (segments: readonly PlaylistSegment[]): number =>
  Math.max(1, ...segments.map((s) => Math.ceil((s.endAt - s.startAt) / 1000)));

/** A complete (VOD) playlist: every segment of the window, then ENDLIST. */
export function vodPlaylist(segments: readonly PlaylistSegment[], uri: (s: PlaylistSegment) => string): string {
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${targetDuration(segments)}`,
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-MEDIA-SEQUENCE:0',
    ...body(segments, uri),
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}

/**
 * A sliding (live) playlist: the newest segments, no ENDLIST, so clients reload it.
 * `mediaSequence` numbers the first segment (segments since the grant's start), and
 * `discontinuitySequence` counts the discontinuities before it, as HLS requires.
 */
export function livePlaylist(
  segments: readonly PlaylistSegment[],
  uri: (s: PlaylistSegment) => string,
  mediaSequence: number,
  discontinuitySequence: number,
): string {
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    // A fixed target keeps reload intervals steady while the first segments arrive.
    `#EXT-X-TARGETDURATION:${Math.max(10, targetDuration(segments))}`,
    `#EXT-X-MEDIA-SEQUENCE:${mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`,
    ...body(segments, uri),
    '',
  ].join('\n');
}

/**
 * The shift that puts a segment (which starts at `firstTicks`) on the grant's timeline:
 * wall-clock start minus the grant's start, plus a lead. The same grant always gives the same
 * timeline, so a client that reloads a playlist sees consistent times.
 */
export function timelineShiftTicks(segmentStartAt: number, timelineStartAt: number, firstTicks: number): number {
  return Math.round((segmentStartAt - timelineStartAt + TIMELINE_LEAD_MS) * TICKS_PER_MS) - firstTicks;
}

/** True when the segment shares at least one instant with [from, to]. */
export const overlaps = (s: { startAt: number; endAt: number }, from: number, to: number): boolean =>
  s.startAt < to && s.endAt > from;
