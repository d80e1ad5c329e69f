/**
 * Pure rules of the recorder: which cameras record, how a segment gets its wall-clock times,
 * how health changes, and what a maintenance check concludes. No I/O; unit-tested alone.
 */
import type { CheckResult, HealthRecord, HealthState } from './recording.repository.js';

// --- who records -----------------------------------------------------------------------------

export interface RecordableFacts {
  kind: string;
  status: string;
  hiddenEndDate: number | null;
}

/**
 * A camera records when it is active and real, or hidden while its end date lies ahead
 * (W 3.4, M 3.3: covert recording only for the approved period). A dummy never records (W 3.3).
 * A hidden camera without an end date passed the activation rules of its policy, as in the
 * registry's decryptStream.
 */
export function mayRecord(camera: RecordableFacts, now: number): boolean {
  if (camera.status !== 'active') return false;
  if (camera.kind === 'real') return true;
  if (camera.kind === 'hidden') return camera.hiddenEndDate === null || camera.hiddenEndDate > now;
  return false;
}

// --- the segment list ffmpeg writes ----------------------------------------------------------

export interface SegmentListEntry {
  /** The segment's file name, e.g. `20260105T090000123Z-000003.ts`. */
  name: string;
  /** Seconds from the start of the run's stream. */
  start: number;
  end: number;
}

/**
 * Parses ffmpeg's `-segment_list_type csv` text (`name,start,end` per closed segment). Only
 * complete lines count: a line without its newline may still be being written.
 */
export function parseSegmentList(text: string): { entries: SegmentListEntry[]; consumed: number } {
  const entries: SegmentListEntry[] = [];
  const lastNewline = text.lastIndexOf('\n');
  if (lastNewline === -1) return { entries, consumed: 0 };
  for (const line of text.slice(0, lastNewline).split('\n')) {
    const parts = line.trim().split(',');
    if (parts.length !== 3) continue;
    const [name, start, end] = parts as [string, string, string];
    const startSeconds = Number(start);
    const endSeconds = Number(end);
    if (!name || !Number.isFinite(startSeconds) || !Number.isFinite(endSeconds) || endSeconds < startSeconds) continue;
    entries.push({ name, start: startSeconds, end: endSeconds });
  }
  return { entries, consumed: lastNewline + 1 };
}

// --- wall-clock times of a segment -----------------------------------------------------------

/**
 * Why the times come from the segment list plus an anchor: the list gives each segment's
 * start and end on the stream's own time line exactly (to the frame), and it is written when
 * the segment closes, which also tells that the file is complete. Probing every file would
 * cost a process per segment and gives the same numbers. The stream time line starts at 0
 * when the run starts, so `anchor + offset` is wall-clock time; the anchor is the run's start
 * by the injected clock. It is corrected when it is evidently off: a segment cannot end after
 * the moment we saw it closed (camera clock running fast, or a clock step back), and a segment
 * seen much later than its computed end means the anchor lags (slow camera clock, a
 * connection that took long, a clock step forward). Segments of a run never overlap.
 */
export interface RunTimeline {
  /** Wall-clock ms of stream time 0. */
  anchor: number;
  /** End of the last placed segment of this run; the next one never starts before it. */
  lastEnd: number | null;
}

export interface PlacedSegment {
  startAt: number;
  endAt: number;
  timeline: RunTimeline;
}

/** How far a computed end may lag the moment we saw the segment closed before re-anchoring. */
export const DEFAULT_REANCHOR_TOLERANCE_MS = 2_000;

export function placeSegment(
  timeline: RunTimeline,
  entry: Pick<SegmentListEntry, 'start' | 'end'>,
  /** When the entry was first seen in the list; null when read later (no correction then). */
  seenAt: number | null,
  toleranceMs = DEFAULT_REANCHOR_TOLERANCE_MS,
): PlacedSegment {
  const startMs = Math.round(entry.start * 1000);
  const endMs = Math.round(entry.end * 1000);
  let anchor = timeline.anchor;
  const computedEnd = anchor + endMs;
  if (seenAt !== null && (computedEnd > seenAt || seenAt - computedEnd > toleranceMs)) anchor = seenAt - endMs;
  let startAt = anchor + startMs;
  let endAt = anchor + endMs;
  // Never overlap the previous segment of the run: this one starts where that one ended. Its
  // end stays, so it is never later than seen (the overlap is a few ms of anchor correction).
  if (timeline.lastEnd !== null && startAt < timeline.lastEnd) startAt = timeline.lastEnd;
  if (endAt <= startAt) endAt = startAt + 1;
  return { startAt, endAt, timeline: { anchor, lastEnd: endAt } };
}

/**
 * A closed segment without a list entry: the last one of a run that ended abruptly (kill -9,
 * crash). It starts where the run's last listed segment ended (or at the anchor) and lasts
 * what ffprobe says it holds.
 */
export function placeTruncatedSegment(timeline: RunTimeline, durationSeconds: number): PlacedSegment {
  const startAt = timeline.lastEnd ?? timeline.anchor;
  const endAt = startAt + Math.max(1, Math.round(durationSeconds * 1000));
  return { startAt, endAt, timeline: { anchor: timeline.anchor, lastEnd: endAt } };
}

// --- health ----------------------------------------------------------------------------------

export type HealthEvent =
  | { type: 'segment'; segmentEnd: number }
  | { type: 'started' }
  | { type: 'failed'; error: string | null; restart: boolean }
  | { type: 'tick' }
  | { type: 'stopped' };

export interface HealthOptions {
  /** How long a camera may be reconnecting before it counts as down. */
  downAfterMs: number;
}

/**
 * The next health of a camera (W 2.3, M 2.2: the recording must work, and outages are
 * visible). recording: segments arrive. reconnecting: recording stopped and the recorder is
 * retrying, `since` = when it stopped. down: reconnecting for longer than `downAfterMs`, same
 * `since`. stopped: the recorder stopped it on purpose (deactivated, hidden camera past its
 * end date, server shut down). Returns the same object when nothing changes.
 */
export function nextHealth(
  current: HealthRecord | null,
  cameraId: string,
  event: HealthEvent,
  now: number,
  options: HealthOptions,
): HealthRecord {
  const base: HealthRecord = current ?? {
    cameraId,
    state: 'stopped',
    since: now,
    lastSegmentAt: null,
    lastError: null,
    restarts: 0,
    updatedAt: now,
  };
  const outage = (state: HealthState, since: number) => ({ state, since });
  switch (event.type) {
    case 'segment': {
      const since = base.state === 'recording' ? base.since : now;
      return { ...base, state: 'recording', since, lastSegmentAt: event.segmentEnd, lastError: null, updatedAt: now };
    }
    case 'started': {
      // A (re)start is not yet recording: an outage keeps its start; a stop begins one now;
      // a `recording` row here is stale (the server itself stopped): the outage began when
      // the last segment ended.
      if (base.state === 'reconnecting' || base.state === 'down') return base;
      const since = base.state === 'recording' ? (base.lastSegmentAt ?? now) : now;
      return { ...base, ...outage('reconnecting', since), updatedAt: now };
    }
    case 'failed': {
      const restarts = base.restarts + (event.restart ? 1 : 0);
      const lastError = event.error ?? base.lastError;
      if (base.state === 'reconnecting' || base.state === 'down')
        return { ...base, restarts, lastError, updatedAt: now };
      const since = base.state === 'recording' ? Math.min(now, base.lastSegmentAt ?? now) : now;
      return { ...base, ...outage('reconnecting', since), restarts, lastError, updatedAt: now };
    }
    case 'tick': {
      if (base.state === 'reconnecting' && now - base.since >= options.downAfterMs)
        return { ...base, state: 'down', updatedAt: now };
      return base;
    }
    case 'stopped':
      if (base.state === 'stopped') return base;
      return { ...base, state: 'stopped', since: now, updatedAt: now };
  }
}

/** True when `a` and `b` differ in what the health table shows (so a write is due). */
export function healthChanged(a: HealthRecord | null, b: HealthRecord): boolean {
  if (!a) return true;
  return (
    a.state !== b.state ||
    a.since !== b.since ||
    a.lastSegmentAt !== b.lastSegmentAt ||
    a.lastError !== b.lastError ||
    a.restarts !== b.restarts
  );
}

/**
 * How often a recording camera's row is rewritten just to move `lastSegmentAt` on. Every
 * other change (state, since, error, restarts) is written at once; the maintenance check
 * reads the segment index itself, so only the health view's "last segment" lags, by at most
 * this much (issue 4: a write per segment was a good part of the recorder's own CPU).
 */
export const HEALTH_PROGRESS_WRITE_MS = 60_000;

/** True when `next` must be written, given what the table holds (`written`, null if nothing). */
export function healthWriteDue(
  written: HealthRecord | null,
  next: HealthRecord,
  progressWriteMs = HEALTH_PROGRESS_WRITE_MS,
): boolean {
  if (!written) return true;
  if (!healthChanged(written, next)) return false;
  const progressOnly =
    written.state === next.state &&
    written.since === next.since &&
    written.lastError === next.lastError &&
    written.restarts === next.restarts;
  return !progressOnly || next.updatedAt - written.updatedAt >= progressWriteMs;
}

// --- maintenance check (W 6.6, M 2.2, W 2.3) -------------------------------------------------

export interface CheckOutcome {
  result: CheckResult;
  detail: string;
}

/**
 * A camera that should record passes when a segment of it ended within the last interval;
 * otherwise the check fails and a defect is opened (W 6.6).
 */
export function evaluateRecordingCheck(latestEnd: number | null, now: number, intervalMs: number): CheckOutcome {
  if (latestEnd === null) return { result: 'failed', detail: 'No recording of this camera exists.' };
  const age = now - latestEnd;
  if (age <= intervalMs) {
    return { result: 'ok', detail: `Recorded; the latest segment ended at ${new Date(latestEnd).toISOString()}.` };
  }
  return {
    result: 'failed',
    detail: `No recording within the check interval; the latest segment ended at ${new Date(latestEnd).toISOString()}.`,
  };
}

/** The periodic check is due when it never ran or last ran an interval ago. */
export function periodicCheckDue(lastRunAt: number | null, now: number, intervalMs: number): boolean {
  return lastRunAt === null || now - lastRunAt >= intervalMs;
}

// --- stall detection -------------------------------------------------------------------------

/** Three segment lengths without a new segment: the stream stalled (issue 4). */
export function stallAfterMs(segmentSeconds: number): number {
  return 3 * segmentSeconds * 1000;
}

export function isStalled(lastProgressMs: number, nowMs: number, stallMs: number): boolean {
  return nowMs - lastProgressMs >= stallMs;
}
