/**
 * SQL of the door-event queries (M 3.5, M 3.6, M 4). Only `DoorEventQueryService` calls these,
 * and only after the access gate validated the caller's grant for exactly the doors, tag and
 * window passed here. Rows become records here (epoch-ms columns as numbers).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

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

function eventQuery(db: Executor) {
  return db
    .selectFrom('door_events')
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

/** Events of one tag in [from, to], newest first, at most `limit` (uses door_events_tag_time). */
export async function eventsOfTag(
  db: Executor,
  q: { tag: string; from: number; to: number; limit?: number },
): Promise<EventRecord[]> {
  let query = eventQuery(db)
    .where('door_events.tag_code', '=', q.tag)
    .where('door_events.occurred_at', '>=', q.from)
    .where('door_events.occurred_at', '<=', q.to)
    .orderBy('door_events.occurred_at', 'desc')
    .orderBy('door_events.id', 'desc');
  if (q.limit !== undefined) query = query.limit(q.limit);
  return (await query.execute()).map(toEvent);
}

/** Denied attempts at one door in [from, to], newest first (uses door_events_door_time_tag). */
export async function deniedAtDoor(
  db: Executor,
  q: { doorId: string; from: number; to: number; limit: number },
): Promise<EventRecord[]> {
  const rows = await eventQuery(db)
    .where('door_events.door_id', '=', q.doorId)
    .where('door_events.occurred_at', '>=', q.from)
    .where('door_events.occurred_at', '<=', q.to)
    .where('door_events.result', '=', 'denied')
    .orderBy('door_events.occurred_at', 'desc')
    .orderBy('door_events.id', 'desc')
    .limit(q.limit)
    .execute();
  return rows.map(toEvent);
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
  const rows = await db
    .selectFrom('door_events as e')
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
    .orderBy('e.tag_code')
    .orderBy('h.reference')
    .execute();
  return rows.map((r) => ({
    tagCode: r.tag_code,
    holderId: r.holder_id,
    kind: r.kind,
    reference: r.reference,
    nameEnc: r.name_enc,
    contactEnc: r.contact_enc,
  }));
}
