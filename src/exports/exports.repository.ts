/** The `exports` table: one row per export; `directory` is relative to `<dataDir>/exports`. */
import type { Insertable, Kysely, Updateable } from 'kysely';
import type { Database, ExportRow, ExportsTable } from '../db/schema.js';

export type Executor = Kysely<Database>;

export async function insertExport(db: Executor, row: Insertable<ExportsTable>): Promise<void> {
  await db.insertInto('exports').values(row).execute();
}

export async function findExport(db: Executor, id: string): Promise<ExportRow | undefined> {
  return db.selectFrom('exports').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Updates a row only while it has `status`; returns whether it did (a finished export never changes). */
export async function updateExport(
  db: Executor,
  id: string,
  status: string,
  changes: Updateable<ExportsTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('exports')
    .set(changes)
    .where('id', '=', id)
    .where('status', '=', status)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function listExportsOf(db: Executor, userId: string, limit: number): Promise<ExportRow[]> {
  return db
    .selectFrom('exports')
    .selectAll()
    .where('created_by', '=', userId)
    .where('erasing_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
}

export async function runningExports(db: Executor): Promise<ExportRow[]> {
  return db.selectFrom('exports').selectAll().where('status', '=', 'running').execute();
}

export async function userLabel(db: Executor, userId: string): Promise<string> {
  const row = await db.selectFrom('users').select('username').where('id', '=', userId).executeTakeFirst();
  return row?.username ?? userId;
}

/** The window of the grant an export was made under (the cut never starts before it). */
export async function grantWindow(db: Executor, grantId: string): Promise<{ from: number; to: number } | undefined> {
  const row = await db
    .selectFrom('grants')
    .select(['window_from', 'window_to'])
    .where('id', '=', grantId)
    .executeTakeFirst();
  return row ? { from: Number(row.window_from), to: Number(row.window_to) } : undefined;
}
