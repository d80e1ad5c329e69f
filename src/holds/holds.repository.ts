/** The only holds module that touches Kysely. */
import { sql, type Kysely } from 'kysely';
import type { Database, HoldRow } from '../db/schema.js';
import type { HoldScope } from './holds.rules.js';

export type Executor = Kysely<Database>;

/**
 * Must be the first statement of a transaction that creates a hold or marks data for erasure:
 * a no-op update of the `holds` lock row (PostgreSQL row lock, SQLite write lock). A hold and
 * an erasure batch therefore never interleave: the batch either sees the hold or ran before it.
 */
export async function lockHolds(trx: Executor): Promise<void> {
  await trx
    .updateTable('retention_locks')
    .set({ version: sql`version + 1` })
    .where('name', '=', 'holds')
    .execute();
}

export async function insertHold(db: Executor, row: HoldRow): Promise<void> {
  await db.insertInto('holds').values(row).execute();
}

export function findHold(db: Executor, id: string): Promise<HoldRow | undefined> {
  return db.selectFrom('holds').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface HoldFilter {
  active?: boolean | undefined;
  overdueAt?: number | undefined;
  linkType?: string | undefined;
  linkId?: string | undefined;
  limit?: number | undefined;
}

export function listHolds(db: Executor, filter: HoldFilter): Promise<HoldRow[]> {
  let q = db.selectFrom('holds').selectAll();
  if (filter.active === true) q = q.where('released_at', 'is', null);
  if (filter.active === false) q = q.where('released_at', 'is not', null);
  if (filter.overdueAt !== undefined) q = q.where('released_at', 'is', null).where('review_at', '<=', filter.overdueAt);
  if (filter.linkType !== undefined) q = q.where('link_type', '=', filter.linkType);
  if (filter.linkId !== undefined) q = q.where('link_id', '=', filter.linkId);
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(filter.limit ?? 1000)
    .execute();
}

const parseList = (text: string): string[] => JSON.parse(text) as string[];

export function toScope(row: HoldRow): HoldScope & { linkType: string; linkId: string | null } {
  return {
    id: row.id,
    cameraIds: parseList(row.camera_ids),
    doorIds: parseList(row.door_ids),
    tags: parseList(row.tags),
    from: Number(row.window_from),
    to: Number(row.window_to),
    linkType: row.link_type,
    linkId: row.link_id,
  };
}

/** Every active hold as a scope. Few rows: the sweeper reads them inside each batch. */
export async function activeHoldScopes(
  db: Executor,
): Promise<(HoldScope & { linkType: string; linkId: string | null })[]> {
  const rows = await db.selectFrom('holds').selectAll().where('released_at', 'is', null).execute();
  return rows.map(toScope);
}

export async function releaseHold(
  db: Executor,
  id: string,
  release: { at: number; by: string; reason: string },
): Promise<boolean> {
  const result = await db
    .updateTable('holds')
    .set({ released_at: release.at, released_by: release.by, release_reason: release.reason })
    .where('id', '=', id)
    .where('released_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setReviewDate(db: Executor, id: string, reviewAt: number): Promise<void> {
  await db.updateTable('holds').set({ review_at: reviewAt }).where('id', '=', id).execute();
}

/** Active holds linked to one object (e.g. an incident being closed). */
export function activeHoldsLinkedTo(db: Executor, linkType: string, linkId: string): Promise<HoldRow[]> {
  return db
    .selectFrom('holds')
    .selectAll()
    .where('link_type', '=', linkType)
    .where('link_id', '=', linkId)
    .where('released_at', 'is', null)
    .execute();
}

/** Holds linked to one object that one release (same reason, same moment) ended: a close's. */
export function holdsReleasedTogether(
  db: Executor,
  link: { type: string; id: string },
  release: { reason: string; at: number },
): Promise<HoldRow[]> {
  return db
    .selectFrom('holds')
    .selectAll()
    .where('link_type', '=', link.type)
    .where('link_id', '=', link.id)
    .where('release_reason', '=', release.reason)
    .where('released_at', '=', release.at)
    .orderBy('created_at')
    .execute();
}

export async function existingIds(
  db: Executor,
  table: 'cameras' | 'doors' | 'subject_requests' | 'disclosures',
  ids: readonly string[],
): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom(table)
    .select('id')
    .where('id', 'in', [...ids])
    .execute();
  return rows.map((r) => r.id);
}

export async function incidentForHold(
  db: Executor,
  id: string,
): Promise<
  { status: string; complexId: string | null; occurredAt: number; cameraIds: string; doorIds: string } | undefined
> {
  const row = await db
    .selectFrom('incidents')
    .select(['status', 'complex_id', 'occurred_at', 'camera_ids', 'door_ids'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row
    ? {
        status: row.status,
        complexId: row.complex_id,
        occurredAt: Number(row.occurred_at),
        cameraIds: row.camera_ids,
        doorIds: row.door_ids,
      }
    : undefined;
}

/** The complex of the first camera or door found, for listing holds per complex. */
export async function complexOf(
  db: Executor,
  cameraIds: readonly string[],
  doorIds: readonly string[],
): Promise<string | null> {
  if (cameraIds.length > 0) {
    const row = await db
      .selectFrom('cameras')
      .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
      .select('buildings.complex_id')
      .where('cameras.id', 'in', [...cameraIds])
      .executeTakeFirst();
    if (row) return row.complex_id;
  }
  if (doorIds.length > 0) {
    const row = await db
      .selectFrom('doors')
      .innerJoin('buildings', 'buildings.id', 'doors.building_id')
      .select('buildings.complex_id')
      .where('doors.id', 'in', [...doorIds])
      .executeTakeFirst();
    if (row) return row.complex_id;
  }
  return null;
}
