/**
 * The only gate module that touches Kysely (besides logbook.repository.ts): the facts the gate
 * decides on (registry, incidents, requests, disclosures), four-eyes requests and grants.
 * Functions take an executor so the service runs them inside its one transaction.
 */
import type { Kysely } from 'kysely';
import type { AccessRequestRow, Database, GrantRow } from '../db/schema.js';

export type Executor = Kysely<Database>;

// --- facts ----------------------------------------------------------------------------------

export async function missingCameraIds(db: Executor, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await db.selectFrom('cameras').select('id').where('id', 'in', ids).execute();
  const have = new Set(found.map((r) => r.id));
  return ids.filter((id) => !have.has(id));
}

export async function missingDoorIds(db: Executor, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await db.selectFrom('doors').select('id').where('id', 'in', ids).execute();
  const have = new Set(found.map((r) => r.id));
  return ids.filter((id) => !have.has(id));
}

export async function incidentFacts(db: Executor, id: string): Promise<{ kind: string; status: string } | null> {
  const row = await db.selectFrom('incidents').select(['kind', 'status']).where('id', '=', id).executeTakeFirst();
  return row ?? null;
}

export async function requestFacts(
  db: Executor,
  id: string,
): Promise<{ status: string; subjectTag: string | null } | null> {
  const row = await db
    .selectFrom('subject_requests')
    .select(['status', 'subject_tag'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? { status: row.status, subjectTag: row.subject_tag } : null;
}

export async function disclosureFacts(
  db: Executor,
  id: string,
): Promise<{ status: string; recipientKind: string } | null> {
  const row = await db
    .selectFrom('disclosures')
    .select(['status', 'recipient_kind'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? { status: row.status, recipientKind: row.recipient_kind } : null;
}

// Minimal writers for the linked objects. Their own services (incidents, requests,
// disclosures) come with later issues; until then tests and seeding use these.

export interface IncidentInsert {
  id: string;
  kind: string;
  title: string;
  description: string;
  occurredAt: number;
  complexId: string | null;
  status: string;
  createdBy: string;
  now: number;
}

export async function insertIncident(db: Executor, i: IncidentInsert): Promise<void> {
  await db
    .insertInto('incidents')
    .values({
      id: i.id,
      kind: i.kind,
      title: i.title,
      description: i.description,
      occurred_at: i.occurredAt,
      complex_id: i.complexId,
      status: i.status,
      created_by: i.createdBy,
      created_at: i.now,
      updated_at: i.now,
    })
    .execute();
}

export async function insertSubjectRequest(
  db: Executor,
  r: { id: string; status: string; subjectTag: string | null; now: number },
): Promise<void> {
  await db
    .insertInto('subject_requests')
    .values({ id: r.id, status: r.status, subject_tag: r.subjectTag, created_at: r.now, updated_at: r.now })
    .execute();
}

export async function insertDisclosure(
  db: Executor,
  d: { id: string; status: string; recipientKind: string; incidentId: string | null; now: number },
): Promise<void> {
  await db
    .insertInto('disclosures')
    .values({
      id: d.id,
      status: d.status,
      recipient_kind: d.recipientKind,
      incident_id: d.incidentId,
      created_at: d.now,
      updated_at: d.now,
    })
    .execute();
}

// --- four-eyes requests ---------------------------------------------------------------------

export async function insertAccessRequest(db: Executor, row: AccessRequestRow): Promise<void> {
  await db.insertInto('access_requests').values(row).execute();
}

export async function findAccessRequest(db: Executor, id: string): Promise<AccessRequestRow | undefined> {
  return db.selectFrom('access_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateAccessRequest(
  db: Executor,
  id: string,
  fromStatus: string,
  patch: Partial<Pick<AccessRequestRow, 'status' | 'decided_by' | 'decided_at' | 'decision_entry_id' | 'grant_id'>> & {
    updated_at: number;
  },
): Promise<boolean> {
  const result = await db
    .updateTable('access_requests')
    .set(patch)
    .where('id', '=', id)
    .where('status', '=', fromStatus)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function listAccessRequests(
  db: Executor,
  filter: { status?: string | undefined; requesterId?: string | undefined; limit: number },
): Promise<AccessRequestRow[]> {
  let query = db.selectFrom('access_requests').selectAll();
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.requesterId) query = query.where('requester_id', '=', filter.requesterId);
  return query.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).execute();
}

// --- grants ---------------------------------------------------------------------------------

export async function insertGrant(db: Executor, row: GrantRow): Promise<void> {
  await db.insertInto('grants').values(row).execute();
}

export async function findGrantByTokenHash(db: Executor, tokenHash: string): Promise<GrantRow | undefined> {
  return db.selectFrom('grants').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}
