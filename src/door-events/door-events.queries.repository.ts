/**
 * SQL of the door-event queries (M 3.5, M 3.6, M 4). Only `DoorEventQueryService` calls these,
 * and only after the access gate validated the caller's grant for exactly the doors, tag and
 * window passed here. Rows become records here (epoch-ms columns as numbers).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { partitionTable } from './partitions.js';
import { livePartitions } from './partitions.repository.js';

export type Executor = Kysely<Database>;

const num = (value: unknown): number => Number(value);

/** One door opening (or attempt) as shown to a caller: never the holder. */
export interface EventRecord {
  occurredAt: number;
  doorId: string;
  doorCode: string;
  doorName: string;
  tagCode: string;
  result: string;
}

/** One hour's partition, under the alias `door_events` that the column references use. */
const partitionAsDoorEvents = (hour: number) => `${partitionTable(hour)} as door_events` as 'door_events';

function eventQuery(db: Executor, hour: number) {
  return db
    .selectFrom(partitionAsDoorEvents(hour))
    .innerJoin('doors', 'doors.id', 'door_events.door_id')
    .select([
      'door_events.occurred_at as occurred_at',
      'door_events.door_id as door_id',
      'doors.code as door_code',
      'doors.name as door_name',
      'door_events.tag_code as tag_code',
      'door_events.result as result',
    ]);
}

interface EventRow {
  occurred_at: number;
  door_id: string;
  door_code: string;
  door_name: string;
  tag_code: string;
  result: string;
}

const toEvent = (row: EventRow): EventRecord => ({
  occurredAt: num(row.occurred_at),
  doorId: row.door_id,
  doorCode: row.door_code,
  doorName: row.door_name,
  tagCode: row.tag_code,
  result: row.result,
});

/**
 * Newest first over the hours of [from, to]: each hour's partition is asked in turn, newest hour
 * first, until `limit` rows are found. Hours never overlap, so the concatenation is in order.
 */
async function newestFirst(
  db: Executor,
  window: { from: number; to: number },
  limit: number | undefined,
  inHour: (hour: number, limit: number | undefined) => Promise<EventRow[]>,
): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  for (const hour of (await livePartitions(db, window)).reverse()) {
    const left = limit === undefined ? undefined : limit - out.length;
    if (left !== undefined && left <= 0) break;
    out.push(...(await inHour(hour, left)).map(toEvent));
  }
  return out;
}

/** Events of one tag in [from, to], newest first, at most `limit` (uses each hour's tag_time index). */
export function eventsOfTag(
  db: Executor,
  q: { tag: string; from: number; to: number; limit?: number },
): Promise<EventRecord[]> {
  return newestFirst(db, q, q.limit, (hour, limit) => {
    let query = eventQuery(db, hour)
      .where('door_events.tag_code', '=', q.tag)
      .where('door_events.occurred_at', '>=', q.from)
      .where('door_events.occurred_at', '<=', q.to)
      .orderBy('door_events.occurred_at', 'desc')
      .orderBy('door_events.id', 'desc');
    if (limit !== undefined) query = query.limit(limit);
    return query.execute();
  });
}

/** Denied attempts at one door in [from, to], newest first (uses each hour's door_time_tag index). */
export function deniedAtDoor(
  db: Executor,
  q: { doorId: string; from: number; to: number; limit: number },
): Promise<EventRecord[]> {
  return newestFirst(db, q, q.limit, (hour, limit) =>
    eventQuery(db, hour)
      .where('door_events.door_id', '=', q.doorId)
      .where('door_events.occurred_at', '>=', q.from)
      .where('door_events.occurred_at', '<=', q.to)
      .where('door_events.result', '=', 'denied')
      .orderBy('door_events.occurred_at', 'desc')
      .orderBy('door_events.id', 'desc')
      .limit(limit ?? q.limit)
      .execute(),
  );
}

/** A tag that opened one of the doors, with who held it at the time (null: no holder then). */
export interface WitnessRecord {
  tagCode: string;
  holderId: string | null;
  kind: string | null;
  reference: string | null;
  nameEnc: string | null;
  contactEnc: string | null;
}

/**
 * Distinct (tag, holder at the time of the opening) over granted openings at the doors in
 * [from, to]. The holder comes from key_tag_assignments, whose interval [issued_at, ended_at)
 * contains the event time, so a tag reissued since still names the holder of that moment.
 */
export async function witnesses(
  db: Executor,
  q: { doorIds: string[]; from: number; to: number },
): Promise<WitnessRecord[]> {
  if (q.doorIds.length === 0) return [];
  // Per hour, then merged: a (tag, holder) pair seen in several hours is one witness.
  const found = new Map<string, WitnessRecord>();
  for (const hour of await livePartitions(db, q)) {
    for (const r of await witnessesInHour(db, hour, q)) {
      const record = {
        tagCode: r.tag_code,
        holderId: r.holder_id,
        kind: r.kind,
        reference: r.reference,
        nameEnc: r.name_enc,
        contactEnc: r.contact_enc,
      };
      found.set(`${record.tagCode}\u0000${record.holderId ?? ''}`, record);
    }
  }
  // Ordered by tag, then by holder reference, a tag without holder first (the same on both databases).
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...found.values()].sort((a, b) => text(a.tagCode, b.tagCode) || text(a.reference ?? '', b.reference ?? ''));
}

function witnessesInHour(db: Executor, hour: number, q: { doorIds: string[]; from: number; to: number }) {
  return db
    .selectFrom(`${partitionTable(hour)} as e` as 'door_events as e')
    .leftJoin('key_tags as t', 't.tag_code', 'e.tag_code')
    .leftJoin('key_tag_assignments as a', (join) =>
      join
        .onRef('a.tag_id', '=', 't.id')
        .onRef('a.issued_at', '<=', 'e.occurred_at')
        .on((eb) => eb.or([eb('a.ended_at', 'is', null), eb('a.ended_at', '>', eb.ref('e.occurred_at'))])),
    )
    .leftJoin('tag_holders as h', 'h.id', 'a.holder_id')
    .select([
      'e.tag_code as tag_code',
      'h.id as holder_id',
      'h.kind as kind',
      'h.reference as reference',
      'h.name_enc as name_enc',
      'h.contact_enc as contact_enc',
    ])
    .where('e.door_id', 'in', q.doorIds)
    .where('e.occurred_at', '>=', q.from)
    .where('e.occurred_at', '<=', q.to)
    .where('e.result', '=', 'granted')
    .groupBy(['e.tag_code', 'h.id', 'h.kind', 'h.reference', 'h.name_enc', 'h.contact_enc'])
    .execute();
}
