import type SqliteDatabase from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { sqliteHandle } from '../db/database.js';
import type { AuditEventRow, AuditEventsTable, Database } from '../db/schema.js';
import { DomainError } from '../lib/errors.js';
import { chainHash, chainTextHash } from './chain.js';

export type Executor = Kysely<Database>;

export type AuditInsert = Omit<AuditEventsTable, 'seq' | 'prev_hash' | 'hash'>;

/** The fields the hash covers, in the shape verification recomputes. */
export function auditHashBody(row: AuditInsert & { seq: number }) {
  return {
    seq: row.seq,
    id: row.id,
    occurredAt: row.occurred_at,
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    outcome: row.outcome,
    before: row.before,
    after: row.after,
    context: row.context,
  };
}

// As canonicalJson encodes a primitive: whatever type the driver returned is encoded as that type.
const s = (v: string | number | null | undefined): string => JSON.stringify(v ?? null);

/**
 * `canonicalJson(auditHashBody(row))` written out in sorted key order, for verification: the
 * generic encoder sorts every record's keys and was most of the audit walk's time. Pinned to
 * canonicalJson by a property test (src/audit/audit.test.ts).
 */
export function encodeAuditBody(row: AuditInsert & { seq: number }): string {
  return (
    `{"action":${s(row.action)},"actorId":${s(row.actor_id)},"actorLabel":${s(row.actor_label)}` +
    `,"after":${s(row.after)},"before":${s(row.before)},"context":${s(row.context)},"id":${s(row.id)}` +
    `,"occurredAt":${s(row.occurred_at)},"outcome":${s(row.outcome)},"seq":${s(row.seq)}` +
    `,"targetId":${s(row.target_id)},"targetType":${s(row.target_type)}}`
  );
}

export const AUDIT_CHAIN = 'audit';

/**
 * Appends one record. Must run inside the caller's transaction. The first statement
 * increments the chain head, which takes the row lock on PostgreSQL and the write lock
 * on SQLite, so concurrent appends queue up and the chain stays linear.
 */
export async function appendAuditRow(trx: Executor, row: AuditInsert): Promise<number> {
  const prepared = sqliteAppend(trx);
  if (prepared) {
    const head = prepared.next.get(AUDIT_CHAIN);
    if (!head) throw new DomainError('internal', 'chain-head-missing', 'Audit chain head is missing');
    const seq = Number(head.seq);
    const hash = chainTextHash(head.hash, encodeAuditBody({ ...row, seq }));
    prepared.insert.run({ ...row, seq, prev_hash: head.hash, hash });
    prepared.head.run(hash, AUDIT_CHAIN);
    return seq;
  }
  const head = await trx
    .updateTable('chain_heads')
    .set({ seq: sql`seq + 1` })
    .where('chain', '=', AUDIT_CHAIN)
    .returning(['seq', 'hash'])
    .executeTakeFirst();
  if (!head) throw new DomainError('internal', 'chain-head-missing', 'Audit chain head is missing');
  const seq = Number(head.seq);
  const hash = chainHash(head.hash, auditHashBody({ ...row, seq }));
  await trx
    .insertInto('audit_events')
    .values({ ...row, seq, prev_hash: head.hash, hash })
    .execute();
  await trx.updateTable('chain_heads').set({ hash }).where('chain', '=', AUDIT_CHAIN).execute();
  return seq;
}

interface AppendStatements {
  next: SqliteDatabase.Statement<[string], { seq: number; hash: string }>;
  insert: SqliteDatabase.Statement<[AuditEventsTable]>;
  head: SqliteDatabase.Statement<[string, string]>;
}
const appendStatements = new WeakMap<SqliteDatabase.Database, AppendStatements>();

/**
 * SQLite, inside a transaction: the three append statements prepared once per connection
 * (Kysely prepares every statement anew; see src/access/logbook.repository.ts sqliteAppend).
 */
function sqliteAppend(trx: Executor): AppendStatements | null {
  const handle = trx.isTransaction ? sqliteHandle(trx) : null;
  if (!handle) return null;
  let statements = appendStatements.get(handle);
  if (!statements) {
    statements = {
      next: handle.prepare('UPDATE chain_heads SET seq = seq + 1 WHERE chain = ? RETURNING seq, hash'),
      insert: handle.prepare(
        'INSERT INTO audit_events (seq, id, occurred_at, actor_id, actor_label, action, target_type, target_id, ' +
          'outcome, before, after, context, prev_hash, hash) VALUES (@seq, @id, @occurred_at, @actor_id, ' +
          '@actor_label, @action, @target_type, @target_id, @outcome, @before, @after, @context, @prev_hash, @hash)',
      ),
      head: handle.prepare('UPDATE chain_heads SET hash = ? WHERE chain = ?'),
    };
    appendStatements.set(handle, statements);
  }
  return statements;
}

export async function readAuditHead(db: Executor): Promise<{ seq: number; hash: string }> {
  const head = await db
    .selectFrom('chain_heads')
    .select(['seq', 'hash'])
    .where('chain', '=', AUDIT_CHAIN)
    .executeTakeFirst();
  if (!head) throw new DomainError('internal', 'chain-head-missing', 'Audit chain head is missing');
  return { seq: Number(head.seq), hash: head.hash };
}

/** One page of records in chain order, for verification and listing. */
export async function readAuditPage(db: Executor, afterSeq: number, limit: number): Promise<AuditEventRow[]> {
  return db.selectFrom('audit_events').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
}

export interface AuditFilter {
  targetType?: string | undefined;
  targetId?: string | undefined;
  actorId?: string | undefined;
  action?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  beforeSeq?: number | undefined;
  limit: number;
}

/** Newest first, paged by seq. */
export async function listAuditRows(db: Executor, filter: AuditFilter): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll();
  if (filter.targetType) query = query.where('target_type', '=', filter.targetType);
  if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
  if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.from !== undefined) query = query.where('occurred_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('occurred_at', '<', filter.to);
  if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
  return query.orderBy('seq', 'desc').limit(filter.limit).execute();
}
