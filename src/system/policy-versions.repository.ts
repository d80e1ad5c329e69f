import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export async function latestPolicyVersion(db: Kysely<Database>) {
  return db
    .selectFrom('policy_versions')
    .selectAll()
    .orderBy('loaded_at', 'desc')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
}

export async function insertPolicyVersion(
  db: Kysely<Database>,
  row: { id: string; ref: string; hash: string; document: string; loaded_at: number },
) {
  await db.insertInto('policy_versions').values(row).execute();
}
