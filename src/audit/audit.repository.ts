import { sql, type Kysely } from 'kysely';
import type { AuditEventRow, AuditEventsTable, Database } from '../db/schema.js';
import { DomainError } from '../lib/errors.js';
import { chainHash } from './chain.js';

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

export const AUDIT_CHAIN = 'audit';

/**
 * Appends one record. Must run inside the caller's transaction. The first statement
 * increments the chain head, which takes the row lock on PostgreSQL and the write lock
 * on SQLite, so concurrent appends queue up and the chain stays linear.
 */
export async function appendAuditRow(trx: Executor, row: AuditInsert): Promise<number> {
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
