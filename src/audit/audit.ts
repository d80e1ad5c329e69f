import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { AuditEventRow } from '../db/schema.js';
import {
  appendAuditRow,
  encodeAuditBody,
  listAuditRows,
  readAuditHead,
  readAuditPage,
  type AuditFilter,
  type Executor,
} from './audit.repository.js';
import { ChainVerifier, describeProblem } from './chain.js';

/** Who did it: a signed-in user, the command line, or the system itself. */
export interface Actor {
  id: string | null;
  label: string;
}

export const SYSTEM_ACTOR: Actor = { id: null, label: 'system' };

export type AuditOutcome = 'success' | 'failure' | 'refused';

export interface AuditEntry {
  actor: Actor;
  action: string;
  targetType: string;
  targetId?: string | null;
  outcome?: AuditOutcome;
  /** State before and after; callers pass views without secrets (credentials become "[set]"). */
  before?: unknown;
  after?: unknown;
  context?: Record<string, unknown>;
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/**
 * The system audit trail: every change to the registry, the policy or a user, and every
 * sign-in attempt. Written through this one helper, inside the transaction of the change,
 * so a change without its record cannot exist. No API edits or deletes it.
 */
export class AuditTrail {
  constructor(private readonly clock: Clock) {}

  async record(trx: Executor, entry: AuditEntry): Promise<number> {
    return appendAuditRow(trx, {
      id: newId(),
      occurred_at: this.clock.now(),
      actor_id: entry.actor.id,
      actor_label: entry.actor.label,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId ?? null,
      outcome: entry.outcome ?? 'success',
      before: json(entry.before),
      after: json(entry.after),
      context: json(entry.context),
    });
  }

  list(db: Executor, filter: AuditFilter): Promise<AuditEventRow[]> {
    return listAuditRows(db, filter);
  }
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  problem?: { seq: number; message: string };
}

/**
 * Walks the whole audit chain in pages and names the first bad record. Each record is encoded
 * by encodeAuditBody (the canonical JSON without the generic key sorting) and hashed in one
 * call (ChainVerifier.checkText), as the logbook walk does.
 */
export async function verifyAuditChain(db: Executor, pageSize = 10_000): Promise<VerifyResult> {
  const verifier = new ChainVerifier();
  let after = 0;
  for (;;) {
    const rows = await readAuditPage(db, after, pageSize);
    for (const row of rows) {
      const seq = Number(row.seq);
      const problem = verifier.checkText(seq, row.prev_hash, row.hash, encodeAuditBody({ ...row, seq }));
      if (problem)
        return {
          ok: false,
          checked: verifier.checked,
          problem: { seq: problem.seq, message: describeProblem(problem) },
        };
      after = seq;
    }
    if (rows.length < pageSize) break;
  }
  const headProblem = verifier.finish(await readAuditHead(db));
  if (headProblem) {
    return {
      ok: false,
      checked: verifier.checked,
      problem: { seq: headProblem.seq, message: describeProblem(headProblem) },
    };
  }
  return { ok: true, checked: verifier.checked };
}
