/**
 * Door events live in one table per hour of occurrence (`door_events_h<hour>`, 0012). Retention
 * (M 6.7: at most four weeks) then erases a whole expired hour by dropping its table, which costs
 * a fraction of a microsecond per row, instead of deleting rows one by one from three indexes in
 * random order (door, tag, source event id), which cost a random page write per row and capped
 * erasure near 20,000 events per second. Pure rules here; SQL in partitions.repository.ts.
 */

/** One partition covers one hour of occurrence: [hour * PARTITION_MS, (hour + 1) * PARTITION_MS). */
export const PARTITION_MS = 3_600_000;

export const partitionOf = (occurredAt: number): number => Math.floor(occurredAt / PARTITION_MS);

export const partitionStart = (hour: number): number => hour * PARTITION_MS;

export const partitionEnd = (hour: number): number => (hour + 1) * PARTITION_MS;

/**
 * The table of one hour. Hours are integers computed here, never caller text, so the name is safe
 * to place in SQL as an identifier.
 */
export function partitionTable(hour: number): string {
  if (!Number.isSafeInteger(hour) || hour < 0) throw new RangeError(`not a partition hour: ${hour}`);
  return `door_events_h${hour}`;
}

/** Groups items by the hour they occurred in, hours ascending. */
export function groupByPartition<T extends { occurredAt: number }>(items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const hour = partitionOf(item.occurredAt);
    const group = groups.get(hour);
    if (group) group.push(item);
    else groups.set(hour, [item]);
  }
  return new Map([...groups].sort(([a], [b]) => a - b));
}

/**
 * Whether retention may drop an hour whole: it ended before `before` and no hold that covers door
 * events reaches into it. A hold's scope is doors or tags and a window; any overlap keeps the
 * table, and its unheld rows go one by one instead.
 */
export function droppable(
  hour: number,
  before: number,
  holds: readonly { from: number; to: number; doorIds: readonly string[]; tags: readonly string[] }[],
): boolean {
  if (partitionEnd(hour) > before) return false;
  return !holds.some(
    (h) => (h.doorIds.length > 0 || h.tags.length > 0) && h.from < partitionEnd(hour) && h.to > partitionStart(hour),
  );
}
