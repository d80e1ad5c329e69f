/**
 * The only logbook module that touches Kysely: the chained records, the chain head and the
 * Ed25519 head signatures. Appends follow src/audit/audit.repository.ts: the first statement
 * of a writing transaction updates the `logbook` chain head row, which takes the row lock on
 * PostgreSQL and the write lock on SQLite, so concurrent appends queue up and stay linear.
 *
 * Since 0006_logbook_chain a record stores `body`, the canonical JSON its hash covers. On SQLite
 * all other columns are generated from `body` by the database; on PostgreSQL they are written
 * alongside it and verify compares them with it (see the migration for why).
 */
import type SqliteDatabase from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import type { Database, LogbookRecordRow } from '../db/schema.js';
import { isPostgres, sqliteHandle } from '../db/database.js';
import { DomainError } from '../lib/errors.js';
import { encodeLogbookBody, LOGBOOK_CHAIN, logbookRecordHash, type LogbookFields } from './logbook.rules.js';

export type Executor = Kysely<Database>;

export interface ChainHead {
  seq: number;
  hash: string;
}

/** Runs `fn` in one transaction. Services keep it short and do no other I/O inside. */
export function inTransaction<T>(db: Executor, fn: (trx: Executor) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}

const headMissing = () => new DomainError('internal', 'chain-head-missing', 'Logbook chain head is missing');

interface AppendStatements {
  lock: SqliteDatabase.Statement<[string], { seq: number; hash: string }>;
  insert: SqliteDatabase.Statement<[number, string, string, string]>;
  head: SqliteDatabase.Statement<[number, string, string]>;
}
const appendStatements = new WeakMap<SqliteDatabase.Database, AppendStatements>();

/**
 * SQLite, inside a transaction: the append statements prepared once per connection. Kysely
 * prepares every statement anew, which was a quarter of an append's time (issue 3 profile).
 */
function sqliteAppend(trx: Executor): AppendStatements | null {
  const handle = trx.isTransaction ? sqliteHandle(trx) : null;
  if (!handle) return null;
  let statements = appendStatements.get(handle);
  if (!statements) {
    statements = {
      lock: handle.prepare('UPDATE chain_heads SET seq = seq WHERE chain = ? RETURNING seq, hash'),
      insert: handle.prepare('INSERT INTO logbook_records (seq, prev_hash, body, hash) VALUES (?, ?, ?, ?)'),
      head: handle.prepare('UPDATE chain_heads SET seq = ?, hash = ? WHERE chain = ?'),
    };
    appendStatements.set(handle, statements);
  }
  return statements;
}

/**
 * Must be the first statement of a transaction that may append: a no-op update of the head
 * row that takes its lock (PostgreSQL row lock, SQLite write lock) and returns the head.
 */
export async function lockLogbookHead(trx: Executor): Promise<ChainHead> {
  const prepared = sqliteAppend(trx);
  if (prepared) {
    const head = prepared.lock.get(LOGBOOK_CHAIN);
    if (!head) throw headMissing();
    return { seq: Number(head.seq), hash: head.hash };
  }
  const head = await trx
    .updateTable('chain_heads')
    .set({ seq: sql`seq` })
    .where('chain', '=', LOGBOOK_CHAIN)
    .returning(['seq', 'hash'])
    .executeTakeFirst();
  if (!head) throw headMissing();
  return { seq: Number(head.seq), hash: head.hash };
}

export type LogbookInsert = Omit<LogbookFields, 'seq'>;

/** Appends one record after `head` (locked by lockLogbookHead in this transaction); returns the new head. */
export async function appendLogbook(trx: Executor, head: ChainHead, row: LogbookInsert): Promise<ChainHead> {
  return appendLogbookBatch(trx, head, [row]);
}

/** Rows per INSERT: 4 parameters a row stays far below both databases' parameter limits. */
const BATCH_ROWS = 5000;

interface StoredRecord {
  seq: number;
  prev_hash: string;
  body: string;
  hash: string;
  fields: LogbookFields;
}

/** PostgreSQL keeps the query columns as plain columns, written with the body. */
const PG_COLUMNS = sql.raw(
  'seq, prev_hash, body, hash, id, kind, occurred_at, user_id, user_label, roles, purpose, category, reason, scope, ' +
    'window_from, window_to, incident_id, request_id, disclosure_id, access_request_id, grant_id, entry_id, refusal_code, text',
);

const tuples = (rows: StoredRecord[], postgres: boolean) =>
  sql.join(
    rows.map((r) => {
      if (!postgres) return sql`(${r.seq}, ${r.prev_hash}, ${r.body}, ${r.hash})`;
      const f = r.fields;
      return sql`(${r.seq}, ${r.prev_hash}, ${r.body}, ${r.hash}, ${f.id}, ${f.kind}, ${f.occurred_at}, ${f.user_id},
        ${f.user_label}, ${f.roles}, ${f.purpose}, ${f.category}, ${f.reason}, ${f.scope}, ${f.window_from},
        ${f.window_to}, ${f.incident_id}, ${f.request_id}, ${f.disclosure_id}, ${f.access_request_id}, ${f.grant_id},
        ${f.entry_id}, ${f.refusal_code}, ${f.text})`;
    }),
  );

/**
 * Appends records after `head`: each is encoded once, hashed, and inserted with the text the
 * hash covers. On PostgreSQL the insert and the head update are one statement (one round
 * trip); on SQLite, statements prepared once on the in-process connection.
 */
export async function appendLogbookBatch(trx: Executor, head: ChainHead, rows: LogbookInsert[]): Promise<ChainHead> {
  if (rows.length === 0) return head;
  const postgres = isPostgres(trx);
  const batch = postgres ? BATCH_ROWS / 5 : BATCH_ROWS;
  const columns = postgres ? PG_COLUMNS : sql.raw('seq, prev_hash, body, hash');
  let { seq, hash } = head;
  const records: StoredRecord[] = rows.map((row) => {
    seq += 1;
    const fields = { ...row, seq };
    const body = encodeLogbookBody(fields);
    const prev = hash;
    hash = logbookRecordHash(prev, body);
    return { seq, prev_hash: prev, body, hash, fields };
  });
  const prepared = postgres ? null : sqliteAppend(trx);
  if (prepared) {
    for (const r of records) prepared.insert.run(r.seq, r.prev_hash, r.body, r.hash);
    prepared.head.run(seq, hash, LOGBOOK_CHAIN);
    return { seq, hash };
  }
  let i = 0;
  for (; i < records.length - batch; i += batch) {
    await sql`INSERT INTO logbook_records (${columns}) VALUES ${tuples(records.slice(i, i + batch), postgres)}`.execute(
      trx,
    );
  }
  const rest = tuples(records.slice(i), postgres);
  if (postgres) {
    // A data-modifying WITH runs to completion even though the UPDATE does not read it.
    await sql`WITH appended AS (INSERT INTO logbook_records (${columns}) VALUES ${rest})
      UPDATE chain_heads SET seq = ${seq}, hash = ${hash} WHERE chain = ${LOGBOOK_CHAIN}`.execute(trx);
  } else {
    await sql`INSERT INTO logbook_records (${columns}) VALUES ${rest}`.execute(trx);
    await sql`UPDATE chain_heads SET seq = ${seq}, hash = ${hash} WHERE chain = ${LOGBOOK_CHAIN}`.execute(trx);
  }
  return { seq, hash };
}

export async function readLogbookHead(db: Executor): Promise<ChainHead> {
  const head = await db
    .selectFrom('chain_heads')
    .select(['seq', 'hash'])
    .where('chain', '=', LOGBOOK_CHAIN)
    .executeTakeFirst();
  if (!head) throw headMissing();
  return { seq: Number(head.seq), hash: head.hash };
}

/** The head and the lowest and highest stored seq, read in one statement (one snapshot). */
export async function readLogbookExtent(
  db: Executor,
): Promise<{ head: ChainHead; firstSeq: number | null; lastSeq: number }> {
  const { rows } = await sql<{ seq: number; hash: string; first_seq: number | null; last_seq: number | null }>`
    SELECT seq, hash, (SELECT min(seq) FROM logbook_records) AS first_seq, (SELECT max(seq) FROM logbook_records) AS last_seq
    FROM chain_heads WHERE chain = ${LOGBOOK_CHAIN}`.execute(db);
  const row = rows[0];
  if (!row) throw headMissing();
  return {
    head: { seq: Number(row.seq), hash: row.hash },
    firstSeq: row.first_seq === null ? null : Number(row.first_seq),
    lastSeq: Number(row.last_seq ?? 0),
  };
}

/** One page of whole records (every column) in chain order, for the record-by-record walk. */
export async function readLogbookPage(db: Executor, fromSeq: number, limit: number): Promise<LogbookRecordRow[]> {
  return db.selectFrom('logbook_records').selectAll().where('seq', '>=', fromSeq).orderBy('seq').limit(limit).execute();
}

/**
 * SQLite: one page of the chain columns in chain order, with the hashed bytes exactly as stored
 * (prev_hash, "\n", body): the walk hashes the same bytes as the range check
 * (src/audit/chain.repository.ts), also for a body edited to bytes that are not UTF-8, which a
 * JS string would not carry. The other columns derive from body.
 */
export async function readLogbookChainPage(
  db: Executor,
  fromSeq: number,
  limit: number,
): Promise<{ seq: number; prev_hash: string; hashed: Uint8Array; hash: string }[]> {
  return db
    .selectFrom('logbook_records')
    .select(['seq', 'prev_hash', 'hash', sql<Uint8Array>`CAST(prev_hash || char(10) || body AS BLOB)`.as('hashed')])
    .where('seq', '>=', fromSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
}

/** The stored hashes at the given seqs (signed heads). */
export async function readLogbookHashes(db: Executor, seqs: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let i = 0; i < seqs.length; i += 500) {
    const rows = await db
      .selectFrom('logbook_records')
      .select(['seq', 'hash'])
      .where('seq', 'in', seqs.slice(i, i + 500))
      .execute();
    for (const r of rows) out.set(Number(r.seq), r.hash);
  }
  return out;
}

// --- the table definition verify relies on ------------------------------------------------

/** Generated columns: column, key in body, integer or text (as created by 0006_logbook_chain). */
const GENERATED: readonly (readonly [string, string, boolean, boolean])[] = [
  ['id', 'id', false, true],
  ['kind', 'kind', false, true],
  ['occurred_at', 'occurredAt', true, true],
  ['user_id', 'userId', false, true],
  ['user_label', 'userLabel', false, true],
  ['roles', 'roles', false, true],
  ['purpose', 'purpose', false, false],
  ['category', 'category', false, false],
  ['reason', 'reason', false, false],
  ['scope', 'scope', false, false],
  ['window_from', 'windowFrom', true, false],
  ['window_to', 'windowTo', true, false],
  ['incident_id', 'incidentId', false, false],
  ['request_id', 'requestId', false, false],
  ['disclosure_id', 'disclosureId', false, false],
  ['access_request_id', 'accessRequestId', false, false],
  ['grant_id', 'grantId', false, false],
  ['entry_id', 'entryId', false, false],
  ['refusal_code', 'refusalCode', false, false],
  ['text', 'text', false, false],
];

/** SQLite keeps the CREATE TABLE text as written: 0006_logbook_chain wrote exactly this. */
const SQLITE_TABLE =
  'CREATE TABLE logbook_records (\n  seq INTEGER PRIMARY KEY,\n  prev_hash TEXT NOT NULL,\n  body TEXT NOT NULL,\n  hash TEXT NOT NULL,\n' +
  GENERATED.map(
    ([column, key, integer, notNull]) =>
      `  ${column} ${integer ? 'BIGINT' : 'TEXT'}${notNull ? ' NOT NULL' : ''} GENERATED ALWAYS AS (json_extract(body, '$.${key}')) VIRTUAL`,
  ).join(',\n') +
  '\n)';

/**
 * The query columns are trustworthy only while the database generates them from the hashed
 * body. Returns the first column whose definition differs (dropped and re-added as a plain
 * column, or generated from something else), or null.
 */
export async function logbookTableProblem(db: Executor): Promise<{ column: string } | null> {
  // PostgreSQL: plain columns, each compared with the body on every verify.
  if (isPostgres(db)) return null;
  const { rows } = await sql<{
    sql: string;
  }>`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'logbook_records'`.execute(db);
  if (rows[0]?.sql === SQLITE_TABLE) return null;
  const actual = rows[0]?.sql ?? '';
  const differing = GENERATED.find(
    ([column, key, integer, notNull]) =>
      !actual.includes(
        `  ${column} ${integer ? 'BIGINT' : 'TEXT'}${notNull ? ' NOT NULL' : ''} GENERATED ALWAYS AS (json_extract(body, '$.${key}')) VIRTUAL`,
      ),
  );
  return { column: differing?.[0] ?? 'logbook_records' };
}

/**
 * PostgreSQL: true when a row's plain columns say exactly what its body says, i.e. the body
 * rebuilt from the columns (to_json escapes strings like JSON.stringify) is the stored body.
 */
export function logbookColumnsMatchBody() {
  const str = (column: string) => sql`coalesce(to_json(${sql.ref(column)})::text, 'null')`;
  const num = (column: string) => sql`coalesce(${sql.ref(column)}::text, 'null')`;
  const parts = [
    sql`'{"accessRequestId":'`,
    str('access_request_id'),
    sql`',"category":'`,
    str('category'),
    sql`',"disclosureId":'`,
    str('disclosure_id'),
    sql`',"entryId":'`,
    str('entry_id'),
    sql`',"grantId":'`,
    str('grant_id'),
    sql`',"id":'`,
    str('id'),
    sql`',"incidentId":'`,
    str('incident_id'),
    sql`',"kind":'`,
    str('kind'),
    sql`',"occurredAt":'`,
    num('occurred_at'),
    sql`',"purpose":'`,
    str('purpose'),
    sql`',"reason":'`,
    str('reason'),
    sql`',"refusalCode":'`,
    str('refusal_code'),
    sql`',"requestId":'`,
    str('request_id'),
    sql`',"roles":'`,
    str('roles'),
    sql`',"scope":'`,
    str('scope'),
    sql`',"seq":'`,
    num('seq'),
    sql`',"text":'`,
    str('text'),
    sql`',"userId":'`,
    str('user_id'),
    sql`',"userLabel":'`,
    str('user_label'),
    sql`',"windowFrom":'`,
    num('window_from'),
    sql`',"windowTo":'`,
    num('window_to'),
    sql`'}'`,
  ];
  return sql`body = concat(${sql.join(parts)})`;
}

export async function findRecordById(db: Executor, id: string): Promise<LogbookRecordRow | undefined> {
  return db.selectFrom('logbook_records').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Findings and signatures that refer to the given entries. */
export async function findFollowUps(db: Executor, entryIds: string[]): Promise<LogbookRecordRow[]> {
  if (entryIds.length === 0) return [];
  const out: LogbookRecordRow[] = [];
  for (let i = 0; i < entryIds.length; i += 500) {
    out.push(
      ...(await db
        .selectFrom('logbook_records')
        .selectAll()
        .where('entry_id', 'in', entryIds.slice(i, i + 500))
        .where('kind', 'in', ['finding', 'signature'])
        .orderBy('seq')
        .execute()),
    );
  }
  return out;
}

export interface EntryFilter {
  from?: number | undefined;
  to?: number | undefined;
  userId?: string | undefined;
  /** Camera ids are registry UUIDs (letters, digits, dashes): safe inside LIKE. */
  cameraId?: string | undefined;
  purpose?: string | undefined;
  status?: 'awaiting-finding' | 'awaiting-signature' | 'signed' | undefined;
  /** Only consultations before this time that still lack a finding or a signature. */
  unsignedBefore?: number | undefined;
  beforeSeq?: number | undefined;
  limit: number;
}

/** Consultation entries, newest first, paged by seq. */
export async function listEntries(db: Executor, filter: EntryFilter): Promise<LogbookRecordRow[]> {
  let query = db.selectFrom('logbook_records as e').selectAll('e').where('e.kind', '=', 'consultation');
  if (filter.from !== undefined) query = query.where('e.occurred_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('e.occurred_at', '<', filter.to);
  if (filter.userId) query = query.where('e.user_id', '=', filter.userId);
  if (filter.purpose) query = query.where('e.purpose', '=', filter.purpose);
  if (filter.cameraId) {
    if (!/^[A-Za-z0-9-]+$/.test(filter.cameraId)) return [];
    query = query.where('e.scope', 'like', `%"${filter.cameraId}"%`);
  }
  if (filter.beforeSeq !== undefined) query = query.where('e.seq', '<', filter.beforeSeq);
  const has = (kind: 'finding' | 'signature') =>
    sql<boolean>`exists (select 1 from logbook_records f where f.entry_id = e.id and f.kind = ${kind})`;
  if (filter.status === 'awaiting-finding') {
    query = query.where(sql<boolean>`not ${has('finding')}`).where(sql<boolean>`not ${has('signature')}`);
  } else if (filter.status === 'awaiting-signature') {
    query = query.where(has('finding')).where(sql<boolean>`not ${has('signature')}`);
  } else if (filter.status === 'signed') {
    query = query.where(has('signature'));
  }
  if (filter.unsignedBefore !== undefined) {
    query = query.where('e.occurred_at', '<', filter.unsignedBefore).where(sql<boolean>`not ${has('signature')}`);
  }
  return query.orderBy('e.seq', 'desc').limit(filter.limit).execute();
}

// --- chain head signatures ------------------------------------------------------------------

export interface ChainSignature {
  id: string;
  seq: number;
  hash: string;
  signature: string;
  signedAt: number;
}

export async function insertChainSignature(trx: Executor, signature: ChainSignature): Promise<void> {
  await trx
    .insertInto('chain_signatures')
    .values({
      id: signature.id,
      chain: LOGBOOK_CHAIN,
      seq: signature.seq,
      hash: signature.hash,
      signature: signature.signature,
      signed_at: signature.signedAt,
    })
    .execute();
}

export async function listChainSignatures(db: Executor): Promise<ChainSignature[]> {
  const rows = await db
    .selectFrom('chain_signatures')
    .selectAll()
    .where('chain', '=', LOGBOOK_CHAIN)
    .orderBy('seq')
    .orderBy('signed_at')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    seq: Number(r.seq),
    hash: r.hash,
    signature: r.signature,
    signedAt: Number(r.signed_at),
  }));
}

export async function latestChainSignature(db: Executor): Promise<ChainSignature | null> {
  const row = await db
    .selectFrom('chain_signatures')
    .selectAll()
    .where('chain', '=', LOGBOOK_CHAIN)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row
    ? { id: row.id, seq: Number(row.seq), hash: row.hash, signature: row.signature, signedAt: Number(row.signed_at) }
    : null;
}
