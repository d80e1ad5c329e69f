/**
 * Retention as a legal maximum (W 6.3: at the latest after 72 hours; M 6.6: four weeks;
 * M 6.7: door events at most four weeks): pure rules of the sweeper.
 *
 * An item's age counts from its oldest moment: a footage segment from its start, a door event
 * from its time, an export from its creation. A segment is due when its first frame reaches the
 * retention period, so no frame is ever kept longer than retention + one sweep interval.
 */
import type { DataCategory } from '../policy/index.js';

/** The categories the sweeper erases, in the order it erases them. */
export const SWEPT_CATEGORIES = ['footage', 'door-events', 'exports'] as const satisfies readonly DataCategory[];
export type SweptCategory = (typeof SWEPT_CATEGORIES)[number];

/**
 * Exclusive bound: everything that started before it is due, i.e. start + retention <= now
 * (the retention has ended at `now`).
 */
export const dueBefore = (now: number, retentionMs: number): number => now - retentionMs + 1;

/**
 * Unheld data older than retention plus two sweep intervals means the sweeper fell behind
 * (or was not running): a compliance alarm, since the legal maximum is already exceeded.
 */
export const overdueBefore = (now: number, retentionMs: number, intervalMs: number): number =>
  now - retentionMs - 2 * intervalMs;

/** Batch sizes adapt so each write transaction stays well below the 50 ms target. */
export const TARGET_TRANSACTION_MS = 20;

export function nextBatchSize(current: number, elapsedMs: number, limits: { min: number; max: number }): number {
  if (elapsedMs > TARGET_TRANSACTION_MS * 1.5) return Math.max(limits.min, Math.floor(current * 0.5));
  if (elapsedMs < TARGET_TRANSACTION_MS * 0.5) return Math.min(limits.max, Math.ceil(current * 1.5));
  return current;
}

export interface FreeSpaceReading {
  freeBytes: number;
  totalBytes: number;
}

export interface FreeSpaceThreshold {
  minFreeBytes: number;
  minFreePercent: number;
}

/** True when the recordings directory has less free space than either threshold allows. */
export function underPressure(reading: FreeSpaceReading, threshold: FreeSpaceThreshold): boolean {
  if (reading.freeBytes < threshold.minFreeBytes) return true;
  return reading.totalBytes > 0 && (reading.freeBytes / reading.totalBytes) * 100 < threshold.minFreePercent;
}

/** Bytes to free to get back above both thresholds. */
export function bytesToFree(reading: FreeSpaceReading, threshold: FreeSpaceThreshold): number {
  const byPercent = Math.ceil((threshold.minFreePercent / 100) * reading.totalBytes);
  return Math.max(0, Math.max(threshold.minFreeBytes, byPercent) - reading.freeBytes);
}

/** Accumulates what a batch erased per target, for one erasure record per run and target. */
export interface ErasureTally {
  targetType: 'camera' | 'door' | 'export';
  targetId: string;
  from: number;
  to: number;
  count: number;
  bytes: number;
}

export function tally(
  items: readonly { targetId: string; from: number; to: number; bytes: number }[],
  targetType: ErasureTally['targetType'],
): ErasureTally[] {
  const byTarget = new Map<string, ErasureTally>();
  for (const item of items) {
    const t = byTarget.get(item.targetId);
    if (!t) {
      byTarget.set(item.targetId, {
        targetType,
        targetId: item.targetId,
        from: item.from,
        to: item.to,
        count: 1,
        bytes: item.bytes,
      });
    } else {
      t.from = Math.min(t.from, item.from);
      t.to = Math.max(t.to, item.to);
      t.count += 1;
      t.bytes += item.bytes;
    }
  }
  return [...byTarget.values()];
}

/** A human explanation for dry runs and impact previews: why an item would go. */
export function dueReason(category: SweptCategory, retention: string, articles: readonly string[]): string {
  const cite = articles.length ? ` (${articles.join(', ')})` : '';
  return `${category} older than ${retention}${cite} and not held`;
}
