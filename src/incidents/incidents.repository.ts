/** The only incidents module that touches Kysely. */
import type { Insertable, Kysely, Updateable } from 'kysely';
import type { Database, IncidentRow, IncidentsTable } from '../db/schema.js';

export type Executor = Kysely<Database>;

export async function insertIncident(db: Executor, row: Insertable<IncidentsTable>): Promise<void> {
  await db.insertInto('incidents').values(row).execute();
}

export function findIncident(db: Executor, id: string): Promise<IncidentRow | undefined> {
  return db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Updates only when the status is still `fromStatus`, so concurrent steps cannot both succeed. */
export async function updateIncident(
  db: Executor,
  id: string,
  fromStatus: string,
  patch: Updateable<IncidentsTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('incidents')
    .set(patch)
    .where('id', '=', id)
    .where('status', '=', fromStatus)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface IncidentFilter {
  status?: string | undefined;
  complexId?: string | undefined;
  openedBefore?: number | undefined;
  limit?: number | undefined;
}

export function listIncidents(db: Executor, filter: IncidentFilter): Promise<IncidentRow[]> {
  let q = db.selectFrom('incidents').selectAll();
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.complexId) q = q.where('complex_id', '=', filter.complexId);
  if (filter.openedBefore !== undefined) q = q.where('created_at', '<', filter.openedBefore);
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(filter.limit ?? 200)
    .execute();
}

/** Appends a step; `seq` follows the last one (the incident row update before it serialises steps). */
export async function addHistory(db: Executor, row: Omit<Database['incident_history'], 'seq'>): Promise<void> {
  const last = await db
    .selectFrom('incident_history')
    .select((eb) => eb.fn.max<number>('seq').as('seq'))
    .where('incident_id', '=', row.incident_id)
    .executeTakeFirst();
  await db
    .insertInto('incident_history')
    .values({ ...row, seq: Number(last?.seq ?? 0) + 1 })
    .execute();
}

export function history(db: Executor, incidentId: string) {
  return db.selectFrom('incident_history').selectAll().where('incident_id', '=', incidentId).orderBy('seq').execute();
}

export async function complexExists(db: Executor, id: string): Promise<boolean> {
  return (await db.selectFrom('complexes').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** Complex of each camera/door, to check that an incident's cameras and doors belong to its complex. */
export async function complexesOf(
  db: Executor,
  cameraIds: readonly string[],
  doorIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (cameraIds.length > 0) {
    const rows = await db
      .selectFrom('cameras')
      .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
      .select(['cameras.id as id', 'buildings.complex_id as complexId'])
      .where('cameras.id', 'in', [...cameraIds])
      .execute();
    for (const r of rows) found.set(r.id, r.complexId);
  }
  if (doorIds.length > 0) {
    const rows = await db
      .selectFrom('doors')
      .innerJoin('buildings', 'buildings.id', 'doors.building_id')
      .select(['doors.id as id', 'buildings.complex_id as complexId'])
      .where('doors.id', 'in', [...doorIds])
      .execute();
    for (const r of rows) found.set(r.id, r.complexId);
  }
  return found;
}
