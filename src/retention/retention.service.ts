/**
 * Reading what the sweeper did and will do: erasure records, runs, alarms (with acknowledgement),
 * the dry-run plan, and the impact of a proposed retention change before it is saved.
 * None of it reveals content: counts, time ranges, bytes, camera and door ids.
 */
import type { AuditTrail } from '../audit/audit.js';
import { actorOf, ADMIN_ROLE, type Principal } from '../http/principal.js';
import type { Clock } from '../lib/clock.js';
import { conflict, forbidden, invalid, notFound } from '../lib/errors.js';
import { hasCapability, PolicySchema, type Policy } from '../policy/index.js';
import * as repo from './retention.repository.js';
import type { SweepPlan } from './sweeper.js';
import { SWEPT_CATEGORIES, type SweptCategory } from './retention.rules.js';

export interface RetentionDeps {
  db: repo.Executor;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
  sweeper: { plan(policy?: Policy): Promise<SweepPlan> };
}

/** Retention overrides of a proposed policy, per swept category (`null`: no automatic erasure). */
export type RetentionChange = Partial<Record<SweptCategory, string | null>>;

/** The policy in force with `change` applied, validated like any policy document. */
export function proposedPolicy(current: Policy, change: RetentionChange): Policy {
  const categories = { ...current.dataCategories };
  for (const [category, retention] of Object.entries(change)) {
    if (!(SWEPT_CATEGORIES as readonly string[]).includes(category))
      throw invalid('category-invalid', `Unknown category ${category}`);
    const rule = categories[category as SweptCategory];
    if (!rule) throw invalid('policy-category-missing', `Policy ${current.id} does not define ${category}`);
    categories[category as SweptCategory] = { ...rule, retention };
  }
  const parsed = PolicySchema.safeParse({ ...current, dataCategories: categories });
  if (!parsed.success)
    throw invalid('policy-invalid', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

export class RetentionService {
  constructor(private readonly deps: RetentionDeps) {}

  private requireViewer(principal: Principal): Policy {
    const policy = this.deps.policy();
    const ok =
      principal.roles.includes(ADMIN_ROLE) ||
      (['manage-incidents', 'secure-footage', 'read-logbook'] as const).some((c) =>
        hasCapability(policy, principal.roles, c),
      );
    if (!ok) throw forbidden('retention-not-allowed', 'Your roles may not see retention and alarms');
    return policy;
  }

  async erasures(principal: Principal, filter: repo.ErasureFilter) {
    this.requireViewer(principal);
    return repo.listErasures(this.deps.db, filter);
  }

  async runs(principal: Principal, limit: number) {
    this.requireViewer(principal);
    return repo.lastRuns(this.deps.db, limit);
  }

  async alarms(principal: Principal, filter: { unacknowledged?: boolean; kind?: string }) {
    this.requireViewer(principal);
    return repo.listAlarms(this.deps.db, filter);
  }

  async acknowledge(principal: Principal, id: string) {
    this.requireViewer(principal);
    const now = this.deps.clock.now();
    return this.deps.db.transaction().execute(async (trx) => {
      if (!(await repo.findAlarm(trx, id))) throw notFound('alarm-not-found', 'Alarm not found');
      if (!(await repo.acknowledgeAlarm(trx, id, principal.userId, now)))
        throw conflict('alarm-acknowledged', 'The alarm is already acknowledged');
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'alarm.acknowledge',
        targetType: 'alarm',
        targetId: id,
      });
      return (await repo.findAlarm(trx, id))!;
    });
  }

  /** What the next sweep would erase under the policy in force, and what holds keep. */
  async plan(principal: Principal): Promise<SweepPlan> {
    this.requireViewer(principal);
    return this.deps.sweeper.plan();
  }

  /** The impact of a proposed retention change, before anyone saves it: the next sweep's plan. */
  async impact(principal: Principal, change: RetentionChange): Promise<{ current: SweepPlan; proposed: SweepPlan }> {
    const policy = this.requireViewer(principal);
    const proposed = proposedPolicy(policy, change);
    return { current: await this.deps.sweeper.plan(policy), proposed: await this.deps.sweeper.plan(proposed) };
  }
}
