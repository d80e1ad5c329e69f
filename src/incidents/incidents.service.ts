/**
 * Incidents: register, handle (with the way it ended), close, reopen. Each step is one
 * transaction with its audit record and a history row. Closing an incident releases the holds
 * linked to it in the same transaction (M 6.6, M 6.7: kept as long as the incident needs it).
 */
import { z } from 'zod';
import type { AuditTrail } from '../audit/audit.js';
import type { IncidentRow } from '../db/schema.js';
import { actorOf, type Principal } from '../http/principal.js';
import { DAY, type Clock } from '../lib/clock.js';
import { conflict, forbidden, invalid, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { parseInput } from '../lib/validation.js';
import { hasCapability, type Policy } from '../policy/index.js';
import {
  activeHoldsLinkedTo,
  holdsReleasedTogether,
  insertHold,
  lockHolds,
  releaseHold,
} from '../holds/holds.repository.js';
import { reviewDate } from '../holds/holds.rules.js';
import {
  INCIDENT_KINDS,
  INCIDENT_STATUSES,
  OUTCOMES,
  REPORTER_KINDS,
  openTooLong,
  outcomeProblem,
  transition,
} from './incidents.rules.js';
import * as repo from './incidents.repository.js';

export interface IncidentDeps {
  db: repo.Executor;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
}

const Id = z.string().trim().min(1).max(64);
const Text = (max: number) => z.string().trim().min(1).max(max);

export const RegisterInput = z.strictObject({
  kind: z.enum(INCIDENT_KINDS),
  title: Text(200),
  description: Text(4000),
  occurredAt: z.number().int(),
  complexId: Id.optional(),
  cameraIds: z.array(Id).max(256).default([]),
  doorIds: z.array(Id).max(256).default([]),
  reporterKind: z.enum(REPORTER_KINDS),
  /** Free text, e.g. "tenant of no. 12": keep it short and factual. */
  reporterNote: Text(500).optional(),
  /** The user who judged it an incident (M 3.5); defaults to the registering user. */
  assessedBy: Id.optional(),
});
export type RegisterInput = z.input<typeof RegisterInput>;

export const HandleInput = z.strictObject({
  outcome: z.enum(OUTCOMES),
  judgmentDate: z.number().int().optional(),
  note: Text(2000).optional(),
});
export type HandleInput = z.input<typeof HandleInput>;

export interface IncidentView {
  id: string;
  kind: string;
  title: string;
  description: string;
  occurredAt: number;
  complexId: string | null;
  cameraIds: string[];
  doorIds: string[];
  status: string;
  reporterKind: string | null;
  reporterNote: string | null;
  assessedBy: string | null;
  outcome: string | null;
  outcomeDate: number | null;
  outcomeNote: string | null;
  handledAt: number | null;
  closedAt: number | null;
  reopenCount: number;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  openTooLong: boolean;
}

export interface IncidentDetail extends IncidentView {
  history: {
    step: string;
    at: number;
    byId: string | null;
    byLabel: string;
    reason: string | null;
    outcome: string | null;
  }[];
}

const num = (v: number | null) => (v === null ? null : Number(v));

export function incidentView(row: IncidentRow, now: number, policy: Policy): IncidentView {
  const createdAt = Number(row.created_at);
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    description: row.description,
    occurredAt: Number(row.occurred_at),
    complexId: row.complex_id,
    cameraIds: JSON.parse(row.camera_ids) as string[],
    doorIds: JSON.parse(row.door_ids) as string[],
    status: row.status,
    reporterKind: row.reporter_kind,
    reporterNote: row.reporter_note,
    assessedBy: row.assessed_by,
    outcome: row.outcome,
    outcomeDate: num(row.outcome_date),
    outcomeNote: row.outcome_note,
    handledAt: num(row.handled_at),
    closedAt: num(row.closed_at),
    reopenCount: Number(row.reopen_count),
    createdBy: row.created_by,
    createdAt,
    updatedAt: Number(row.updated_at),
    openTooLong: openTooLong({ status: row.status, createdAt }, now, policy.deadlines.incidentOpenWarningDays * DAY),
  };
}

export class IncidentService {
  constructor(private readonly deps: IncidentDeps) {}

  private requireManager(principal: Principal): Policy {
    const policy = this.deps.policy();
    if (!hasCapability(policy, principal.roles, 'manage-incidents'))
      throw forbidden('incidents-not-allowed', 'Your roles may not manage incidents');
    return policy;
  }

  private requireReader(principal: Principal): Policy {
    const policy = this.deps.policy();
    if (
      !hasCapability(policy, principal.roles, 'manage-incidents') &&
      !hasCapability(policy, principal.roles, 'secure-footage')
    )
      throw forbidden('incidents-not-allowed', 'Your roles may not see incidents');
    return policy;
  }

  async register(principal: Principal, raw: RegisterInput): Promise<IncidentView> {
    const policy = this.requireManager(principal);
    const input = parseInput(RegisterInput, raw);
    const now = this.deps.clock.now();
    if (input.occurredAt > now) throw invalid('incident-in-future', 'An incident cannot occur in the future');
    if (input.doorIds.length > 0 && !policy.keyTags.enabled)
      throw invalid('key-tags-disabled', 'This policy registers no doors with key tags');
    const id = newId();
    return this.deps.db.transaction().execute(async (trx) => {
      const complexes = await repo.complexesOf(trx, input.cameraIds, input.doorIds);
      const unknown = [...input.cameraIds, ...input.doorIds].filter((x) => !complexes.has(x));
      if (unknown.length > 0)
        throw notFound('incident-target-not-found', `Unknown camera or door: ${unknown.join(', ')}`);
      const complexId = input.complexId ?? [...complexes.values()][0] ?? null;
      if (complexId !== null && !(await repo.complexExists(trx, complexId)))
        throw notFound('complex-not-found', 'Complex not found');
      if ([...complexes.values()].some((c) => c !== complexId))
        throw invalid('incident-targets-elsewhere', 'Cameras and doors must belong to the incident’s complex');
      const row: IncidentRow = {
        id,
        kind: input.kind,
        title: input.title,
        description: input.description,
        occurred_at: input.occurredAt,
        complex_id: complexId,
        status: 'open',
        created_by: principal.userId,
        created_at: now,
        updated_at: now,
        reporter_kind: input.reporterKind,
        reporter_note: input.reporterNote ?? null,
        assessed_by: input.assessedBy ?? principal.userId,
        camera_ids: JSON.stringify(input.cameraIds),
        door_ids: JSON.stringify(input.doorIds),
        outcome: null,
        outcome_date: null,
        outcome_note: null,
        handled_at: null,
        handled_by: null,
        closed_at: null,
        closed_by: null,
        reopen_count: 0,
      };
      await repo.insertIncident(trx, row);
      await this.history(trx, principal, id, 'registered', now, null, null);
      const view = incidentView(row, now, policy);
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'incident.register',
        targetType: 'incident',
        targetId: id,
        after: view,
      });
      return view;
    });
  }

  /** open -> handled, with the way it ended (M 6.6: an irrevocable judgment at the latest). */
  async handle(principal: Principal, id: string, raw: HandleInput): Promise<IncidentView> {
    const policy = this.requireManager(principal);
    const input = parseInput(HandleInput, raw);
    const now = this.deps.clock.now();
    const problem = outcomeProblem(input.outcome, input.judgmentDate ?? null, now);
    if (problem) throw invalid('outcome-invalid', problem);
    return this.step(principal, id, 'handle', now, policy, input.note ?? null, input.outcome, {
      outcome: input.outcome,
      outcome_date: input.judgmentDate ?? null,
      outcome_note: input.note ?? null,
      handled_at: now,
      handled_by: principal.userId,
    });
  }

  /** handled -> closed; releases the holds linked to this incident in the same transaction. */
  async close(principal: Principal, id: string, note?: string): Promise<IncidentView> {
    const policy = this.requireManager(principal);
    const text = note === undefined ? null : parseInput(Text(2000), note);
    const now = this.deps.clock.now();
    return this.step(principal, id, 'close', now, policy, text, null, { closed_at: now, closed_by: principal.userId });
  }

  /**
   * closed -> open, with a reason. The holds its close released are secured again (as new holds,
   * so the history stays): the incident is no longer handled, so what was secured for it must be
   * kept again (W 2.5, M 6.6). What retention erased in between stays erased.
   */
  async reopen(principal: Principal, id: string, reason: string): Promise<IncidentView> {
    const policy = this.requireManager(principal);
    const why = parseInput(Text(2000), reason);
    const now = this.deps.clock.now();
    return this.step(principal, id, 'reopen', now, policy, why, null, {
      closed_at: null,
      closed_by: null,
      outcome: null,
      outcome_date: null,
      outcome_note: null,
      handled_at: null,
      handled_by: null,
    });
  }

  private async step(
    principal: Principal,
    id: string,
    step: 'handle' | 'close' | 'reopen',
    now: number,
    policy: Policy,
    reason: string | null,
    outcome: string | null,
    patch: Partial<IncidentRow>,
  ): Promise<IncidentView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const before = await repo.findIncident(trx, id);
      if (!before) throw notFound('incident-not-found', 'Incident not found');
      const next = transition(before.status, step);
      if (!next.ok) throw conflict(next.code, `Cannot ${step} an incident that is ${before.status}`);
      const changes = {
        ...patch,
        status: next.next,
        updated_at: now,
        ...(step === 'reopen' ? { reopen_count: Number(before.reopen_count) + 1 } : {}),
      };
      if (!(await repo.updateIncident(trx, id, before.status, changes)))
        throw conflict('incident-changed', 'The incident changed meanwhile; try again');
      await this.history(
        trx,
        principal,
        id,
        step === 'handle' ? 'handled' : step === 'close' ? 'closed' : 'reopened',
        now,
        reason,
        outcome,
      );
      const after = (await repo.findIncident(trx, id))!;
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: `incident.${step}`,
        targetType: 'incident',
        targetId: id,
        before: { status: before.status },
        after: { status: after.status, outcome: after.outcome },
        ...(reason === null ? {} : { context: { reason } }),
      });
      if (step === 'reopen' && before.closed_at !== null)
        await this.secureAgain(trx, principal, id, Number(before.closed_at), now, policy, reason ?? '');
      if (step === 'close') {
        // Everything these holds are linked to is now closed: they end with it (M 6.6, M 6.7).
        for (const hold of await activeHoldsLinkedTo(trx, 'incident', id)) {
          await releaseHold(trx, hold.id, { at: now, by: principal.userId, reason: 'incident closed' });
          await this.deps.audit.record(trx, {
            actor: actorOf(principal),
            action: 'hold.release',
            targetType: 'hold',
            targetId: hold.id,
            context: { reason: 'incident closed', incidentId: id, articles: ['M 6.6', 'M 6.7'] },
          });
        }
      }
      return incidentView(after, now, policy);
    });
  }

  /** New holds with the scope of those the incident's close released; audited one by one. */
  private async secureAgain(
    trx: repo.Executor,
    principal: Principal,
    incidentId: string,
    closedAt: number,
    now: number,
    policy: Policy,
    reason: string,
  ): Promise<void> {
    const released = await holdsReleasedTogether(
      trx,
      { type: 'incident', id: incidentId },
      { reason: 'incident closed', at: closedAt },
    );
    if (released.length === 0) return;
    // The lock shared with the sweeper's erasure batches, as for every new hold (see lockHolds).
    await lockHolds(trx);
    for (const old of released) {
      const hold = {
        ...old,
        id: newId(),
        owner_id: principal.userId,
        owner_label: principal.username,
        reason: `${old.reason} (secured again: incident reopened: ${reason})`.slice(0, 2000),
        review_at: reviewDate(now, policy.deadlines.holdReviewDays),
        created_at: now,
        released_at: null,
        released_by: null,
        release_reason: null,
      };
      await insertHold(trx, hold);
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'hold.create',
        targetType: 'hold',
        targetId: hold.id,
        context: { incidentId, securedAgainFrom: old.id, articles: ['W 2.4', 'M 2.4'] },
      });
    }
  }

  private async history(
    trx: repo.Executor,
    principal: Principal,
    incidentId: string,
    step: string,
    at: number,
    reason: string | null,
    outcome: string | null,
  ): Promise<void> {
    await repo.addHistory(trx, {
      id: newId(),
      incident_id: incidentId,
      step,
      at,
      by_id: principal.userId,
      by_label: principal.username,
      reason,
      outcome,
    });
  }

  async get(principal: Principal, id: string): Promise<IncidentDetail> {
    const policy = this.requireReader(principal);
    const row = await repo.findIncident(this.deps.db, id);
    if (!row) throw notFound('incident-not-found', 'Incident not found');
    const history = await repo.history(this.deps.db, id);
    return {
      ...incidentView(row, this.deps.clock.now(), policy),
      history: history.map((h) => ({
        step: h.step,
        at: Number(h.at),
        byId: h.by_id,
        byLabel: h.by_label,
        reason: h.reason,
        outcome: h.outcome,
      })),
    };
  }

  async list(principal: Principal, filter: repo.IncidentFilter): Promise<IncidentView[]> {
    const policy = this.requireReader(principal);
    if (filter.status && !(INCIDENT_STATUSES as readonly string[]).includes(filter.status))
      throw invalid('status-invalid', 'Unknown incident status');
    const now = this.deps.clock.now();
    return (await repo.listIncidents(this.deps.db, filter)).map((row) => incidentView(row, now, policy));
  }
}
