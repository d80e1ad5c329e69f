/**
 * Hourly door-event partitions: the pure rules, and ingest and queries over several hours on both
 * databases (a query's answer must not depend on how its window falls across partitions).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { seedRegistry, type Seed } from '../../test/access-fixtures.js';
import { addSource } from '../../test/retention-fixtures.js';
import type { Db } from '../db/database.js';
import { HOUR, MINUTE } from '../lib/clock.js';
import { deniedAtDoor, eventsOfTag, witnesses } from './door-events.queries.repository.js';
import { insertEvents, type NewEvent } from './door-events.repository.js';
import {
  droppable,
  groupByPartition,
  partitionEnd,
  partitionOf,
  partitionStart,
  partitionTable,
} from './partitions.js';
import { allDoorEvents, livePartitions } from './partitions.repository.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');

describe('partition rules', () => {
  it('an hour is [start, end) and every time falls in exactly one', () => {
    const hour = partitionOf(T0);
    expect(partitionStart(hour)).toBe(T0);
    expect(partitionEnd(hour)).toBe(T0 + HOUR);
    expect(partitionOf(T0 + HOUR - 1)).toBe(hour);
    expect(partitionOf(T0 + HOUR)).toBe(hour + 1);
  });

  it('groups items by hour, hours ascending', () => {
    const groups = groupByPartition([{ occurredAt: T0 + HOUR }, { occurredAt: T0 }, { occurredAt: T0 + HOUR + 1 }]);
    expect([...groups.keys()]).toEqual([partitionOf(T0), partitionOf(T0) + 1]);
    expect(groups.get(partitionOf(T0) + 1)).toHaveLength(2);
  });

  it('names tables only from non-negative integers', () => {
    expect(partitionTable(7)).toBe('door_events_h7');
    expect(() => partitionTable(1.5)).toThrow(RangeError);
    expect(() => partitionTable(-1)).toThrow(RangeError);
  });

  it('drops an hour only once it has ended before the cut-off and no door or tag hold reaches into it', () => {
    const hour = partitionOf(T0);
    const hold = (from: number, to: number, scope: { doorIds?: string[]; tags?: string[] }) => ({
      from,
      to,
      doorIds: scope.doorIds ?? [],
      tags: scope.tags ?? [],
    });
    expect(droppable(hour, T0 + HOUR, [])).toBe(true);
    expect(droppable(hour, T0 + HOUR - 1, [])).toBe(false);
    expect(droppable(hour, T0 + HOUR, [hold(T0 + HOUR - 1, T0 + 2 * HOUR, { tags: ['T'] })])).toBe(false);
    expect(droppable(hour, T0 + HOUR, [hold(T0 - HOUR, T0 + 1, { doorIds: ['d'] })])).toBe(false);
    // A hold that ends where the hour starts, or one on cameras only, does not keep it.
    expect(droppable(hour, T0 + HOUR, [hold(T0 - HOUR, T0, { doorIds: ['d'] })])).toBe(true);
    expect(droppable(hour, T0 + HOUR, [hold(T0, T0 + HOUR, {})])).toBe(true);
  });
});

describe.each(DIALECTS)('partitioned door events on %s', (dialect) => {
  let db: Db;
  let seed: Seed;
  let sourceId: string;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    seed = await seedRegistry(db.kysely, T0);
    sourceId = await addSource(db.kysely, T0, seed.doorIds);
  });
  afterEach(async () => {
    await db.close();
  });

  const event = (id: string, at: number, door: 0 | 1, tag: string, result: 'granted' | 'denied' = 'granted') =>
    ({
      sourceEventId: id,
      occurredAt: at,
      doorId: seed.doorIds[door],
      tagCode: tag,
      result,
      rawPayload: null,
    }) satisfies NewEvent;

  it('stores a batch in the partitions of its hours and skips a resent event of the same hour', async () => {
    const batch = [
      event('a', T0 + 10 * MINUTE, 0, 'TAG-1'),
      event('b', T0 + HOUR + 5 * MINUTE, 1, 'TAG-1'),
      event('c', T0 + 3 * HOUR, 0, 'TAG-2'),
    ];
    expect(await insertEvents(db.kysely, sourceId, T0 + 4 * HOUR, batch)).toBe(3);
    expect(await livePartitions(db.kysely)).toEqual([0, 1, 3].map((h) => partitionOf(T0) + h));
    expect(await insertEvents(db.kysely, sourceId, T0 + 4 * HOUR, [batch[1]!, event('d', T0, 1, 'TAG-3')])).toBe(1);
    expect((await allDoorEvents(db.kysely)).map((r) => r.source_event_id)).toEqual(['d', 'a', 'b', 'c']);
    // Only the partitions a window touches are asked.
    expect(await livePartitions(db.kysely, { from: T0 + HOUR, to: T0 + 2 * HOUR })).toEqual([partitionOf(T0) + 1]);
  });

  it('answers across hours as one table would: newest first up to the limit, one witness per tag', async () => {
    await insertEvents(db.kysely, sourceId, T0 + 5 * HOUR, [
      event('1', T0 + 50 * MINUTE, 0, 'TAG-1'),
      event('2', T0 + 59 * MINUTE, 1, 'TAG-1', 'denied'),
      event('3', T0 + 61 * MINUTE, 0, 'TAG-1'),
      event('4', T0 + 2 * HOUR, 1, 'TAG-1', 'denied'),
      event('5', T0 + 2 * HOUR + 1, 0, 'TAG-2'),
      event('6', T0 + 3 * HOUR, 0, 'TAG-0'),
    ]);
    const window = { from: T0, to: T0 + 4 * HOUR };
    const times = (rows: { occurredAt: number }[]) => rows.map((r) => r.occurredAt - T0);
    expect(times(await eventsOfTag(db.kysely, { tag: 'TAG-1', ...window }))).toEqual([
      2 * HOUR,
      61 * MINUTE,
      59 * MINUTE,
      50 * MINUTE,
    ]);
    expect(times(await eventsOfTag(db.kysely, { tag: 'TAG-1', ...window, limit: 3 }))).toEqual([
      2 * HOUR,
      61 * MINUTE,
      59 * MINUTE,
    ]);
    // The window's own edges still cut inside an hour.
    expect(times(await eventsOfTag(db.kysely, { tag: 'TAG-1', from: T0 + 55 * MINUTE, to: T0 + 61 * MINUTE }))).toEqual(
      [61 * MINUTE, 59 * MINUTE],
    );
    expect(times(await deniedAtDoor(db.kysely, { doorId: seed.doorIds[1], ...window, limit: 1 }))).toEqual([2 * HOUR]);
    const found = await witnesses(db.kysely, { doorIds: [seed.doorIds[0]], ...window });
    expect(found.map((w) => w.tagCode)).toEqual(['TAG-0', 'TAG-1', 'TAG-2']);
  });
});
