import { describe, expect, it } from 'vitest';
import type { HealthRecord } from './recording.repository.js';
import {
  DEFAULT_REANCHOR_TOLERANCE_MS,
  evaluateRecordingCheck,
  healthChanged,
  HEALTH_PROGRESS_WRITE_MS,
  healthWriteDue,
  isStalled,
  mayRecord,
  nextHealth,
  parseSegmentList,
  periodicCheckDue,
  placeSegment,
  placeTruncatedSegment,
  stallAfterMs,
} from './recording.rules.js';

const NOW = Date.parse('2026-03-02T10:00:00Z');

describe('mayRecord', () => {
  it('records active real cameras; never a dummy (W 3.3) or an inactive one', () => {
    expect(mayRecord({ kind: 'real', status: 'active', hiddenEndDate: null }, NOW)).toBe(true);
    expect(mayRecord({ kind: 'real', status: 'inactive', hiddenEndDate: null }, NOW)).toBe(false);
    expect(mayRecord({ kind: 'dummy', status: 'active', hiddenEndDate: null }, NOW)).toBe(false);
  });

  it('W 3.4, M 3.3: a hidden camera records only until its end date', () => {
    expect(mayRecord({ kind: 'hidden', status: 'active', hiddenEndDate: NOW + 1 }, NOW)).toBe(true);
    expect(mayRecord({ kind: 'hidden', status: 'active', hiddenEndDate: NOW }, NOW)).toBe(false);
    expect(mayRecord({ kind: 'hidden', status: 'inactive', hiddenEndDate: NOW + 1 }, NOW)).toBe(false);
  });
});

describe('parseSegmentList', () => {
  it('reads complete csv lines only and reports how much it consumed', () => {
    const text = 'a-000000.ts,0.000000,2.000000\na-000001.ts,2.000000,4.033333\na-0000';
    const { entries, consumed } = parseSegmentList(text);
    expect(entries).toEqual([
      { name: 'a-000000.ts', start: 0, end: 2 },
      { name: 'a-000001.ts', start: 2, end: 4.033333 },
    ]);
    expect(text.slice(consumed)).toBe('a-0000');
    expect(parseSegmentList('no newline yet')).toEqual({ entries: [], consumed: 0 });
    expect(parseSegmentList('bad,line\nx.ts,3,1\n').entries).toEqual([]);
  });
});

describe('placeSegment', () => {
  const anchor = NOW;

  it('adds the stream offsets to the anchor when the close was seen in time', () => {
    const placed = placeSegment({ anchor, lastEnd: null }, { start: 0, end: 2 }, anchor + 2_300);
    expect(placed).toMatchObject({
      startAt: anchor,
      endAt: anchor + 2_000,
      timeline: { anchor, lastEnd: anchor + 2_000 },
    });
    const next = placeSegment(placed.timeline, { start: 2, end: 4 }, anchor + 4_200);
    expect([next.startAt, next.endAt]).toEqual([anchor + 2_000, anchor + 4_000]);
  });

  it('never ends a segment after it was seen closed (the anchor moves back)', () => {
    const placed = placeSegment({ anchor, lastEnd: null }, { start: 0, end: 2 }, anchor + 1_500);
    expect(placed.endAt).toBe(anchor + 1_500);
    expect(placed.timeline.anchor).toBe(anchor - 500);
  });

  it('re-anchors when the close is seen much later than computed (slow camera clock, clock step)', () => {
    const placed = placeSegment({ anchor, lastEnd: anchor + 100_000 }, { start: 100, end: 102 }, anchor + 110_000);
    expect([placed.startAt, placed.endAt]).toEqual([anchor + 108_000, anchor + 110_000]);
  });

  it('a close seen late by polling moves nothing when the tolerance covers the poll interval (issue 4 gaps)', () => {
    // The recorder polls every 2.5 s; a segment ending at +20 s is seen at +22.4 s. With the
    // bare 2 s tolerance this moved the anchor forward and left a 2.4 s false gap in the index.
    const timeline = { anchor, lastEnd: anchor + 10_000 };
    const entry = { start: 10, end: 20 };
    const bare = placeSegment(timeline, entry, anchor + 22_400);
    expect(bare.startAt - timeline.lastEnd).toBe(2_400);
    const polled = placeSegment(timeline, entry, anchor + 22_400, DEFAULT_REANCHOR_TOLERANCE_MS + 2_500);
    expect([polled.startAt, polled.endAt]).toEqual([anchor + 10_000, anchor + 20_000]);
    expect(polled.timeline.anchor).toBe(anchor);
  });

  it('without a seen time (read later, reconciliation) keeps the anchor; never overlaps the previous segment', () => {
    const placed = placeSegment({ anchor, lastEnd: anchor + 2_500 }, { start: 2, end: 4 }, null);
    expect([placed.startAt, placed.endAt]).toEqual([anchor + 2_500, anchor + 4_000]);
  });

  it('places a truncated segment after the last listed one, for its probed duration', () => {
    expect(placeTruncatedSegment({ anchor, lastEnd: anchor + 4_000 }, 0.8)).toMatchObject({
      startAt: anchor + 4_000,
      endAt: anchor + 4_800,
    });
    expect(placeTruncatedSegment({ anchor, lastEnd: null }, 1.25).endAt).toBe(anchor + 1_250);
  });
});

describe('healthWriteDue', () => {
  const written: HealthRecord = {
    cameraId: 'c1',
    state: 'recording',
    since: NOW - 3_600_000,
    lastSegmentAt: NOW - 10_000,
    lastError: null,
    restarts: 0,
    updatedAt: NOW - 10_000,
  };

  it('writes a first row and every change of state, since, error or restarts at once', () => {
    expect(healthWriteDue(null, written)).toBe(true);
    expect(healthWriteDue(written, { ...written, updatedAt: NOW })).toBe(false);
    expect(healthWriteDue(written, { ...written, state: 'reconnecting', since: NOW, updatedAt: NOW })).toBe(true);
    expect(healthWriteDue(written, { ...written, lastError: 'Stalled', updatedAt: NOW })).toBe(true);
    expect(healthWriteDue(written, { ...written, restarts: 1, updatedAt: NOW })).toBe(true);
  });

  it('writes a newer last segment only once the written row is a progress interval old', () => {
    const progress = { ...written, lastSegmentAt: NOW, updatedAt: NOW };
    expect(healthWriteDue(written, progress)).toBe(false);
    const later = { ...written, lastSegmentAt: NOW + 50_000, updatedAt: written.updatedAt + HEALTH_PROGRESS_WRITE_MS };
    expect(healthWriteDue(written, later)).toBe(true);
  });
});

describe('nextHealth', () => {
  const options = { downAfterMs: 60_000 };
  const recording: HealthRecord = {
    cameraId: 'c1',
    state: 'recording',
    since: NOW - 3_600_000,
    lastSegmentAt: NOW - 2_000,
    lastError: null,
    restarts: 0,
    updatedAt: NOW - 2_000,
  };

  it('W 2.3: recording -> reconnecting (since the last segment) -> down -> recording', () => {
    const failed = nextHealth(
      recording,
      'c1',
      { type: 'failed', error: 'Connection refused', restart: true },
      NOW,
      options,
    );
    expect(failed).toMatchObject({
      state: 'reconnecting',
      since: NOW - 2_000,
      restarts: 1,
      lastError: 'Connection refused',
    });
    const again = nextHealth(
      failed,
      'c1',
      { type: 'failed', error: 'Connection refused', restart: true },
      NOW + 5_000,
      options,
    );
    expect(again).toMatchObject({ state: 'reconnecting', since: NOW - 2_000, restarts: 2 });
    expect(nextHealth(again, 'c1', { type: 'tick' }, NOW + 30_000, options)).toBe(again);
    const down = nextHealth(again, 'c1', { type: 'tick' }, NOW + 58_000, options);
    expect(down).toMatchObject({ state: 'down', since: NOW - 2_000 });
    const back = nextHealth(down, 'c1', { type: 'segment', segmentEnd: NOW + 70_000 }, NOW + 70_500, options);
    expect(back).toMatchObject({
      state: 'recording',
      since: NOW + 70_500,
      lastSegmentAt: NOW + 70_000,
      lastError: null,
    });
    const more = nextHealth(back, 'c1', { type: 'segment', segmentEnd: NOW + 80_000 }, NOW + 80_500, options);
    expect(more.since).toBe(NOW + 70_500);
  });

  it('a start after a stop is reconnecting until the first segment; a stale recording row dates the outage', () => {
    const started = nextHealth(null, 'c1', { type: 'started' }, NOW, options);
    expect(started).toMatchObject({ cameraId: 'c1', state: 'reconnecting', since: NOW });
    expect(nextHealth(recording, 'c1', { type: 'started' }, NOW, options)).toMatchObject({
      state: 'reconnecting',
      since: NOW - 2_000,
    });
    const stopped = nextHealth(recording, 'c1', { type: 'stopped' }, NOW, options);
    expect(stopped).toMatchObject({ state: 'stopped', since: NOW });
    expect(healthChanged(recording, stopped)).toBe(true);
    expect(healthChanged(stopped, nextHealth(stopped, 'c1', { type: 'stopped' }, NOW + 1, options))).toBe(false);
  });
});

describe('maintenance check and stalls', () => {
  const week = 7 * 24 * 3_600_000;

  it('W 6.6: ok when a segment ended within the interval, failed otherwise', () => {
    expect(evaluateRecordingCheck(NOW - 1_000, NOW, week).result).toBe('ok');
    expect(evaluateRecordingCheck(NOW - week, NOW, week).result).toBe('ok');
    expect(evaluateRecordingCheck(NOW - week - 1, NOW, week)).toMatchObject({ result: 'failed' });
    expect(evaluateRecordingCheck(null, NOW, week)).toMatchObject({
      result: 'failed',
      detail: 'No recording of this camera exists.',
    });
  });

  it('the periodic check is due once per interval', () => {
    expect(periodicCheckDue(null, NOW, week)).toBe(true);
    expect(periodicCheckDue(NOW - week + 1, NOW, week)).toBe(false);
    expect(periodicCheckDue(NOW - week, NOW, week)).toBe(true);
  });

  it('a stream stalls after three segment lengths without a new segment', () => {
    expect(stallAfterMs(10)).toBe(30_000);
    expect(isStalled(0, 29_999, stallAfterMs(10))).toBe(false);
    expect(isStalled(0, 30_000, stallAfterMs(10))).toBe(true);
  });
});
