import type { Kysely } from 'kysely';
import type { AuditTrail } from '../audit/audit.js';
import { SYSTEM_ACTOR } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { insertPolicyVersion, latestPolicyVersion } from './policy-versions.repository.js';

export interface PolicyInForce {
  ref: string;
  hash: string;
  policy: unknown;
}

/**
 * Records the policy that this start-up put in force. A change of policy is a change of the
 * protocol the corporation keeps, so it goes to the audit trail with the old and new version
 * (by hash and reference; the full documents are in policy_versions).
 */
export async function recordPolicyInForce(
  deps: { db: Kysely<Database>; clock: Clock; audit: AuditTrail },
  loaded: PolicyInForce,
): Promise<{ changed: boolean; previousHash: string | null }> {
  return deps.db.transaction().execute(async (trx) => {
    const previous = await latestPolicyVersion(trx);
    if (previous?.hash === loaded.hash) return { changed: false, previousHash: previous.hash };
    const id = newId();
    await insertPolicyVersion(trx, {
      id,
      ref: loaded.ref,
      hash: loaded.hash,
      document: JSON.stringify(loaded.policy),
      loaded_at: deps.clock.now(),
    });
    await deps.audit.record(trx, {
      actor: SYSTEM_ACTOR,
      action: previous ? 'policy.changed' : 'policy.installed',
      targetType: 'policy',
      targetId: id,
      before: previous ? { ref: previous.ref, hash: previous.hash } : undefined,
      after: { ref: loaded.ref, hash: loaded.hash },
    });
    return { changed: true, previousHash: previous?.hash ?? null };
  });
}
