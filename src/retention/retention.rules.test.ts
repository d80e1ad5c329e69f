import { describe, expect, it } from 'vitest';
import { HOUR, MINUTE } from '../lib/clock.js';
import { eventHeldBy, exportHeld, isSegmentHeld, scopeProblem, type HoldScope } from '../holds/holds.rules.js';
import { openTooLong, outcomeProblem, transition } from '../incidents/incidents.rules.js';
import { bytesToFree, dueBefore, nextBatchSize, overdueBefore, tally, underPressure } from './retention.rules.js';

const hold: HoldScope = { id: 'h', cameraIds: ['c1'], doorIds: ['d1'], tags: ['T1'], from: 1000, to: 2000 };

describe('retention rules', () => {
  it('an item is due once start + retention <= now (W 6.3: at the latest after 72 hours)', () => {
    const now = 100 * HOUR;
    const before = dueBefore(now, 72 * HOUR);
    expect(28 * HOUR < before).toBe(true); // started exactly 72 h ago: due
    expect(28 * HOUR + 1 < before).toBe(false); // 1 ms younger: not yet
    expect(overdueBefore(now, 72 * HOUR, MINUTE)).toBe(28 * HOUR - 2 * MINUTE);
  });

  it('batch sizes shrink when a transaction is slow and grow when it is fast', () => {
    expect(nextBatchSize(1000, 60, { min: 50, max: 5000 })).toBe(500);
    expect(nextBatchSize(1000, 2, { min: 50, max: 5000 })).toBe(1500);
    expect(nextBatchSize(1000, 20, { min: 50, max: 5000 })).toBe(1000);
    expect(nextBatchSize(60, 100, { min: 50, max: 5000 })).toBe(50);
  });

  it('disk pressure by bytes or percent, and how much to free', () => {
    expect(underPressure({ freeBytes: 99, totalBytes: 10_000 }, { minFreeBytes: 100, minFreePercent: 0 })).toBe(true);
    expect(underPressure({ freeBytes: 400, totalBytes: 10_000 }, { minFreeBytes: 100, minFreePercent: 5 })).toBe(true);
    expect(underPressure({ freeBytes: 600, totalBytes: 10_000 }, { minFreeBytes: 100, minFreePercent: 5 })).toBe(false);
    expect(bytesToFree({ freeBytes: 400, totalBytes: 10_000 }, { minFreeBytes: 100, minFreePercent: 5 })).toBe(100);
  });

  it('tallies erased items per target: one erasure record per run and camera/door', () => {
    expect(
      tally(
        [
          { targetId: 'c1', from: 5, to: 9, bytes: 10 },
          { targetId: 'c2', from: 1, to: 2, bytes: 1 },
          { targetId: 'c1', from: 1, to: 4, bytes: 5 },
        ],
        'camera',
      ),
    ).toEqual([
      { targetType: 'camera', targetId: 'c1', from: 1, to: 9, count: 2, bytes: 15 },
      { targetType: 'camera', targetId: 'c2', from: 1, to: 2, count: 1, bytes: 1 },
    ]);
  });
});

describe('hold rules (W 2.4, M 2.4)', () => {
  it('a segment is held when it overlaps the window on a held camera; touching the start counts', () => {
    expect(isSegmentHeld({ cameraId: 'c1', startAt: 990, endAt: 1000 }, [hold])).toBe(true);
    expect(isSegmentHeld({ cameraId: 'c1', startAt: 980, endAt: 999 }, [hold])).toBe(false);
    expect(isSegmentHeld({ cameraId: 'c1', startAt: 1999, endAt: 2009 }, [hold])).toBe(true);
    expect(isSegmentHeld({ cameraId: 'c1', startAt: 2000, endAt: 2010 }, [hold])).toBe(false);
    expect(isSegmentHeld({ cameraId: 'c2', startAt: 1500, endAt: 1510 }, [hold])).toBe(false);
  });

  it('a door event is held in the window for a held door or tag', () => {
    expect(eventHeldBy({ doorId: 'd1', tagCode: 'X', occurredAt: 1000 }, hold)).toBe(true);
    expect(eventHeldBy({ doorId: 'd9', tagCode: 'T1', occurredAt: 1999 }, hold)).toBe(true);
    expect(eventHeldBy({ doorId: 'd1', tagCode: 'T1', occurredAt: 2000 }, hold)).toBe(false);
    expect(eventHeldBy({ doorId: 'd9', tagCode: 'X', occurredAt: 1500 }, hold)).toBe(false);
  });

  it('an export is held by an overlapping camera hold or a hold on the same incident', () => {
    const scoped = { ...hold, linkType: 'incident', linkId: 'i1' };
    expect(exportHeld({ cameraIds: ['c1'], from: 1500, to: 1600, incidentId: null }, [scoped])).toBe(true);
    expect(exportHeld({ cameraIds: ['c9'], from: 1500, to: 1600, incidentId: 'i1' }, [scoped])).toBe(true);
    expect(exportHeld({ cameraIds: ['c9'], from: 1500, to: 1600, incidentId: 'i2' }, [scoped])).toBe(false);
  });

  it('a scope needs a target and a window that ends after it starts', () => {
    expect(scopeProblem({ cameraIds: [], doorIds: [], tags: [], from: 0, to: 1 })).toMatch(/at least one/);
    expect(scopeProblem({ cameraIds: ['c'], doorIds: [], tags: [], from: 1, to: 1 })).toMatch(/end after/);
    expect(scopeProblem({ cameraIds: ['c'], doorIds: [], tags: [], from: 0, to: 1 })).toBeNull();
  });
});

describe('incident rules (M "Begrippen", M 6.6)', () => {
  it('open -> handled -> closed -> open, nothing else', () => {
    expect(transition('open', 'handle')).toEqual({ ok: true, next: 'handled' });
    expect(transition('handled', 'close')).toEqual({ ok: true, next: 'closed' });
    expect(transition('closed', 'reopen')).toEqual({ ok: true, next: 'open' });
    expect(transition('open', 'close')).toEqual({ ok: false, code: 'incident-not-handled' });
    expect(transition('handled', 'reopen')).toEqual({ ok: false, code: 'incident-not-closed' });
  });

  it('an irrevocable judgment needs a past date; other outcomes none', () => {
    expect(outcomeProblem('irrevocable-judgment', null, 10)).toMatch(/date/);
    expect(outcomeProblem('irrevocable-judgment', 11, 10)).toMatch(/future/);
    expect(outcomeProblem('irrevocable-judgment', 9, 10)).toBeNull();
    expect(outcomeProblem('settled', 9, 10)).toMatch(/Only/);
  });

  it('warns about incidents open longer than the policy allows', () => {
    expect(openTooLong({ status: 'open', createdAt: 0 }, 11, 10)).toBe(true);
    expect(openTooLong({ status: 'handled', createdAt: 0 }, 11, 10)).toBe(false);
  });
});
