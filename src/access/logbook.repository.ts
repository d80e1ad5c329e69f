/**
 * The only logbook module that touches Kysely: the chained records, the chain head and the
 * Ed25519 head signatures. Appends follow src/audit/audit.repository.ts: the first statement
 * of a writing transaction updates the `logbook` chain head row, which takes the row lock on
 * PostgreSQL and the write lock on SQLite, so concurrent appends queue up and stay linear.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, LogbookRecordRow } from '../db/schema.js';
import { chainHash } from '../audit/chain.js';
import { DomainError } from '../lib/errors.js';
import { LOGBOOK_CHAIN, logbookHashBody, type LogbookFields } from './logbook.rules.js';

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

/**
 * Must be the first statement of a transaction that may append: a no-op update of the head
 * row that takes its lock (PostgreSQL row lock, SQLite write lock) and returns the head.
 */
export async function lockLogbookHead(trx: Executor): Promise<ChainHead> {
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

/** Rows per INSERT: 23 columns x 1000 stays below both databases' parameter limits. */
const BATCH_ROWS = 1000;

/** Appends many records after `head` with multi-row inserts and one head update. */
export async function appendLogbookBatch(trx: Executor, head: ChainHead, rows: LogbookInsert[]): Promise<ChainHead> {
  let { seq, hash } = head;
  const values: LogbookRecordRow[] = rows.map((row) => {
    seq += 1;
    const full: LogbookFields = { ...row, seq };
    const prev = hash;
    hash = chainHash(prev, logbookHashBody(full));
    return { ...full, prev_hash: prev, hash };
  });
  for (let i = 0; i < values.length; i += BATCH_ROWS) {
    await trx
      .insertInto('logbook_records')
      .values(values.slice(i, i + BATCH_ROWS))
      .execute();
  }
  await trx.updateTable('chain_heads').set({ seq, hash }).where('chain', '=', LOGBOOK_CHAIN).execute();
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

/** One page of records in chain order, for verification. */
export async function readLogbookPage(db: Executor, afterSeq: number, limit: number): Promise<LogbookRecordRow[]> {
  return db.selectFrom('logbook_records').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
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
