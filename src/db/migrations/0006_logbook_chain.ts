import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { canonicalJson } from '../../lib/canonical-json.js';

// The logbook stores the exact text its hash covers (issue 3 performance targets).
//
// Before: 21 plain columns; `verify` had to read them all and re-encode each record as canonical
// JSON before hashing. After: `body` holds that canonical JSON, the hash is SHA-256 over
// prev_hash, "\n" and body (the same bytes as before, so existing hashes and signed heads stay
// valid).
// - SQLite: the table is rebuilt; every other column is GENERATED (VIRTUAL) from `body`, so a
//   query column cannot be edited apart from the hashed text (the database refuses), and
//   replacing a generated column by DDL is caught by verify's check of the table definition.
//   `seq` becomes the rowid (INTEGER PRIMARY KEY), so a walk in seq order is a table scan.
// - PostgreSQL: `body` is added to the existing table and the columns stay plain: a STORED
//   generated column parses the JSON once per column per row, which measured ~30x slower
//   inserts. Verify compares each column with the body on the server instead.
//
// This migration is frozen history: it carries its own copy of the table definition and of
// the record encoding (the encoding must never change; see src/access/logbook.rules.ts).

/** column, key in body, SQL type, NOT NULL. Order = column order of the new table. */
const FIELDS: readonly (readonly [string, string, 'text' | 'bigint', boolean])[] = [
  ['id', 'id', 'text', true],
  ['kind', 'kind', 'text', true],
  ['occurred_at', 'occurredAt', 'bigint', true],
  ['user_id', 'userId', 'text', true],
  ['user_label', 'userLabel', 'text', true],
  ['roles', 'roles', 'text', true],
  ['purpose', 'purpose', 'text', false],
  ['category', 'category', 'text', false],
  ['reason', 'reason', 'text', false],
  ['scope', 'scope', 'text', false],
  ['window_from', 'windowFrom', 'bigint', false],
  ['window_to', 'windowTo', 'bigint', false],
  ['incident_id', 'incidentId', 'text', false],
  ['request_id', 'requestId', 'text', false],
  ['disclosure_id', 'disclosureId', 'text', false],
  ['access_request_id', 'accessRequestId', 'text', false],
  ['grant_id', 'grantId', 'text', false],
  ['entry_id', 'entryId', 'text', false],
  ['refusal_code', 'refusalCode', 'text', false],
  ['text', 'text', 'text', false],
];

const SQLITE_TABLE =
  'CREATE TABLE logbook_records (\n' +
  '  seq INTEGER PRIMARY KEY,\n' +
  '  prev_hash TEXT NOT NULL,\n' +
  '  body TEXT NOT NULL,\n' +
  '  hash TEXT NOT NULL,\n' +
  FIELDS.map(
    ([column, key, type, notNull]) =>
      `  ${column} ${type.toUpperCase()}${notNull ? ' NOT NULL' : ''} GENERATED ALWAYS AS (json_extract(body, '$.${key}')) VIRTUAL`,
  ).join(',\n') +
  '\n)';

/** The 0002 hash body of a row, key for key (src/access/logbook.rules.ts logbookHashBody at 0002). */
function body0002(r: Record<string, unknown>): string {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return canonicalJson({
    seq: n(r.seq),
    id: r.id,
    kind: r.kind,
    occurredAt: n(r.occurred_at),
    userId: r.user_id,
    userLabel: r.user_label,
    roles: r.roles,
    purpose: r.purpose,
    category: r.category,
    reason: r.reason,
    scope: r.scope,
    windowFrom: n(r.window_from),
    windowTo: n(r.window_to),
    incidentId: r.incident_id,
    requestId: r.request_id,
    disclosureId: r.disclosure_id,
    accessRequestId: r.access_request_id,
    grantId: r.grant_id,
    entryId: r.entry_id,
    refusalCode: r.refusal_code,
    text: r.text,
  });
}

const COPY_PAGE = 2000;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`ALTER TABLE logbook_records ADD COLUMN body text`.execute(db);
    await copyBodies(db, 'logbook_records', (rows) => {
      const values = rows.map((r) => sql`(${Number(r.seq)}::bigint, ${body0002(r)})`);
      return sql`UPDATE logbook_records AS r SET body = v.body FROM (VALUES ${sql.join(values)}) AS v(seq, body)
                 WHERE r.seq = v.seq`;
    });
    await sql`ALTER TABLE logbook_records ALTER COLUMN body SET NOT NULL`.execute(db);
    return;
  }
  await sql`ALTER TABLE logbook_records RENAME TO logbook_records_0002`.execute(db);
  await sql.raw(SQLITE_TABLE).execute(db);
  // Existing rows keep their seq, prev_hash and hash; only the hashed text is now stored.
  await copyBodies(db, 'logbook_records_0002', (rows) => {
    const values = rows.map(
      (r) => sql`(${Number(r.seq)}, ${r.prev_hash as string}, ${body0002(r)}, ${r.hash as string})`,
    );
    return sql`INSERT INTO logbook_records (seq, prev_hash, body, hash) VALUES ${sql.join(values)}`;
  });
  await sql`DROP TABLE logbook_records_0002`.execute(db);
  await db.schema.createIndex('logbook_records_id').unique().on('logbook_records').column('id').execute();
  await db.schema
    .createIndex('logbook_records_kind_time')
    .on('logbook_records')
    .columns(['kind', 'occurred_at'])
    .execute();
  await db.schema.createIndex('logbook_records_entry').on('logbook_records').columns(['entry_id', 'kind']).execute();
  await db.schema.createIndex('logbook_records_user').on('logbook_records').column('user_id').execute();
}

/** Reads `from` in seq order, page by page, and runs the statement `write` makes for each page. */
async function copyBodies(
  db: Kysely<unknown>,
  from: string,
  write: (rows: Record<string, unknown>[]) => ReturnType<typeof sql>,
): Promise<void> {
  let after = -Infinity;
  for (;;) {
    const { rows } = await sql<Record<string, unknown>>`
      SELECT * FROM ${sql.table(from)} WHERE seq > ${Number.isFinite(after) ? after : -1e15} ORDER BY seq LIMIT ${COPY_PAGE}`.execute(
      db,
    );
    if (rows.length === 0) return;
    await write(rows).execute(db);
    after = Number(rows[rows.length - 1]!.seq);
  }
}

export async function down(): Promise<void> {
  // The 0002 layout can be rebuilt from `body`, but nothing needs to go back: refuse loudly.
  throw new Error('0006_logbook_chain cannot be reverted');
}
