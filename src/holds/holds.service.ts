/**
 * Holds (veiligstellen): securing footage and door events so the sweeper keeps them.
 * Securing for an incident is one action that creates the hold at once, before anyone views
 * anything (W 2.4 "direct", M 2.4), and is recorded in the audit trail in the same transaction.
 * A hold is released when what it is linked to closes (see IncidentService.close) or by an
 * authorised user with a reason; holds past their review date are listed as overdue.
 */
import { z } from 'zod';
import { actorOf, type Principal } from '../http/principal.js';
import type { AuditTrail } from '../audit/audit.js';
import type { HoldRow } from '../db/schema.js';
import { HOUR, type Clock } from '../lib/clock.js';
import { conflict, forbidden, invalid, notFound, refused } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { parseInput } from '../lib/validation.js';
import { hasCapability, type Policy } from '../policy/index.js';
import { HOLD_LINK_TYPES, isOverdue, reviewDate, scopeProblem } from './holds.rules.js';
import * as repo from './holds.repository.js';

export interface HoldDeps {
  db: repo.Executor;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
}

const Id = z.string().trim().min(1).max(64);
const Ids = z.array(Id).max(256).default([]);
const Reason = z.string().trim().min(1).max(2000);

export const SecureInput = z.strictObject({
  cameraIds: z.array(Id).max(256).optional(),
  doorIds: z.array(Id).max(256).optional(),
  tags: z.array(z.string().trim().min(1).max(64)).max(256).optional(),
  from: z.number().int().optional(),
  to: z.number().int().optional(),
  reason: Reason,
});
export type SecureInput = z.input<typeof SecureInput>;

export const HoldInput = z.strictObject({
  cameraIds: Ids,
  doorIds: Ids,
  tags: z.array(z.string().trim().min(1).max(64)).max(256).default([]),
  from: z.number().int(),
  to: z.number().int(),
  reason: Reason,
  linkType: z.enum(HOLD_LINK_TYPES),
  linkId: Id.optional(),
  /** For a police preservation order: its reference and legal basis (e.g. Sv art. 126ni). */
  linkRef: z.string().trim().min(1).max(500).optional(),
});
export type HoldInput = z.input<typeof HoldInput>;

/** Without a window, securing for an incident takes its time of occurrence plus and minus this. */
export const DEFAULT_SECURE_MARGIN_MS = 2 * HOUR;

export interface HoldView {
  id: string;
  cameraIds: string[];
  doorIds: string[];
  tags: string[];
  from: number;
  to: number;
  complexId: string | null;
  ownerId: string | null;
  ownerLabel: string;
  reason: string;
  linkType: string;
  linkId: string | null;
  linkRef: string | null;
  reviewAt: number;
  createdAt: number;
  releasedAt: number | null;
  releasedBy: string | null;
  releaseReason: string | null;
  active: boolean;
  overdue: boolean;
}

export function holdView(row: HoldRow, now: number): HoldView {
  const scope = repo.toScope(row);
  const releasedAt = row.released_at === null ? null : Number(row.released_at);
  const reviewAt = Number(row.review_at);
  return {
    id: row.id,
    cameraIds: [...scope.cameraIds],
    doorIds: [...scope.doorIds],
    tags: [...scope.tags],
    from: scope.from,
    to: scope.to,
    complexId: row.complex_id,
    ownerId: row.owner_id,
    ownerLabel: row.owner_label,
    reason: row.reason,
    linkType: row.link_type,
    linkId: row.link_id,
    linkRef: row.link_ref,
    reviewAt,
    createdAt: Number(row.created_at),
    releasedAt,
    releasedBy: row.released_by,
    releaseReason: row.release_reason,
    active: releasedAt === null,
    overdue: isOverdue({ reviewAt, releasedAt }, now),
  };
}

export class HoldService {
  constructor(private readonly deps: HoldDeps) {}

  private require(principal: Principal, capability: 'secure-footage'): Policy {
    const policy = this.deps.policy();
    if (!hasCapability(policy, principal.roles, capability))
      throw forbidden('secure-not-allowed', 'Your roles may not secure or release footage (W 2.4, M 2.4)');
    return policy;
  }

  private requireReader(principal: Principal): void {
    const policy = this.deps.policy();
    if (
      !hasCapability(policy, principal.roles, 'secure-footage') &&
      !hasCapability(policy, principal.roles, 'manage-incidents')
    )
      throw forbidden('holds-not-allowed', 'Your roles may not see holds');
  }

  /**
   * Secures footage (and door events, where key tags are registered) for an incident: one call,
   * one transaction, the hold exists when it returns (W 2.4 "direct", M 2.4). Scope defaults to
   * the incident's cameras and doors, the window to its time of occurrence +/- two hours.
   */
  async secureForIncident(principal: Principal, incidentId: string, raw: SecureInput): Promise<HoldView> {
    this.require(principal, 'secure-footage');
    const input = parseInput(SecureInput, raw);
    const incident = await repo.incidentForHold(this.deps.db, incidentId);
    if (!incident) throw notFound('incident-not-found', 'Incident not found');
    const cameraIds = input.cameraIds ?? (JSON.parse(incident.cameraIds) as string[]);
    const doorIds = input.doorIds ?? (JSON.parse(incident.doorIds) as string[]);
    return this.create(principal, {
      cameraIds,
      doorIds,
      tags: input.tags ?? [],
      from: input.from ?? incident.occurredAt - DEFAULT_SECURE_MARGIN_MS,
      to: input.to ?? incident.occurredAt + DEFAULT_SECURE_MARGIN_MS,
      reason: input.reason,
      linkType: 'incident',
      linkId: incidentId,
    });
  }

  async create(principal: Principal, raw: HoldInput): Promise<HoldView> {
    const policy = this.require(principal, 'secure-footage');
    const input = parseInput(HoldInput, raw);
    const problem = scopeProblem(input);
    if (problem) throw invalid('hold-scope-invalid', problem);
    if ((input.doorIds.length > 0 || input.tags.length > 0) && !policy.keyTags.enabled)
      throw refused('key-tags-disabled', 'This policy registers no key-tag data to secure');
    if (input.linkType !== 'police-order' && !input.linkId)
      throw invalid('hold-link-missing', `A hold linked to a ${input.linkType} needs its id`);
    if (input.linkType === 'police-order' && !input.linkRef)
      throw invalid('hold-link-missing', 'A police preservation order needs its reference and legal basis');
    const now = this.deps.clock.now();
    const id = newId();
    return this.deps.db.transaction().execute(async (trx) => {
      // First: the lock shared with the sweeper's erasure batches (see lockHolds).
      await repo.lockHolds(trx);
      const cameras = await repo.existingIds(trx, 'cameras', input.cameraIds);
      const doors = await repo.existingIds(trx, 'doors', input.doorIds);
      const unknown = [
        ...input.cameraIds.filter((c) => !cameras.includes(c)),
        ...input.doorIds.filter((d) => !doors.includes(d)),
      ];
      if (unknown.length > 0) throw notFound('hold-target-not-found', `Unknown camera or door: ${unknown.join(', ')}`);
      let complexId: string | null = null;
      if (input.linkType === 'incident') {
        const incident = await repo.incidentForHold(trx, input.linkId!);
        if (!incident) throw notFound('incident-not-found', 'Incident not found');
        if (incident.status === 'closed') throw conflict('incident-closed', 'The incident is closed; reopen it first');
        complexId = incident.complexId;
      } else if (input.linkType === 'request' || input.linkType === 'disclosure') {
        const table = input.linkType === 'request' ? 'subject_requests' : 'disclosures';
        if ((await repo.existingIds(trx, table, [input.linkId!])).length === 0)
          throw notFound(`${input.linkType}-not-found`, `The linked ${input.linkType} does not exist`);
      }
      complexId ??= await repo.complexOf(trx, input.cameraIds, input.doorIds);
      const row: HoldRow = {
        id,
        camera_ids: JSON.stringify(input.cameraIds),
        door_ids: JSON.stringify(input.doorIds),
        tags: JSON.stringify(input.tags),
        window_from: input.from,
        window_to: input.to,
        complex_id: complexId,
        owner_id: principal.userId,
        owner_label: principal.username,
        reason: input.reason,
        link_type: input.linkType,
        link_id: input.linkId ?? null,
        link_ref: input.linkRef ?? null,
        review_at: reviewDate(now, policy.deadlines.holdReviewDays),
        created_at: now,
        released_at: null,
        released_by: null,
        release_reason: null,
      };
      await repo.insertHold(trx, row);
      const view = holdView(row, now);
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'hold.create',
        targetType: 'hold',
        targetId: id,
        after: view,
        context: { articles: ['W 2.4', 'M 2.4'] },
      });
      return view;
    });
  }

  /** Release by an authorised user, with a reason. */
  async release(principal: Principal, id: string, reason: string): Promise<HoldView> {
    this.require(principal, 'secure-footage');
    const why = parseInput(Reason, reason);
    const now = this.deps.clock.now();
    return this.deps.db.transaction().execute(async (trx) => {
      const before = await repo.findHold(trx, id);
      if (!before) throw notFound('hold-not-found', 'Hold not found');
      if (!(await repo.releaseHold(trx, id, { at: now, by: principal.userId, reason: why })))
        throw conflict('hold-released', 'The hold is already released');
      const after = holdView((await repo.findHold(trx, id))!, now);
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'hold.release',
        targetType: 'hold',
        targetId: id,
        before: holdView(before, now),
        after,
      });
      return after;
    });
  }

  /** The owner confirms the hold is still needed: the next review is a full period later. */
  async review(principal: Principal, id: string, note: string): Promise<HoldView> {
    const policy = this.require(principal, 'secure-footage');
    const why = parseInput(Reason, note);
    const now = this.deps.clock.now();
    return this.deps.db.transaction().execute(async (trx) => {
      const before = await repo.findHold(trx, id);
      if (!before) throw notFound('hold-not-found', 'Hold not found');
      if (before.released_at !== null) throw conflict('hold-released', 'The hold is already released');
      await repo.setReviewDate(trx, id, reviewDate(now, policy.deadlines.holdReviewDays));
      const after = holdView((await repo.findHold(trx, id))!, now);
      await this.deps.audit.record(trx, {
        actor: actorOf(principal),
        action: 'hold.review',
        targetType: 'hold',
        targetId: id,
        before: { reviewAt: Number(before.review_at) },
        after: { reviewAt: after.reviewAt },
        context: { note: why },
      });
      return after;
    });
  }

  async get(principal: Principal, id: string): Promise<HoldView> {
    this.requireReader(principal);
    const row = await repo.findHold(this.deps.db, id);
    if (!row) throw notFound('hold-not-found', 'Hold not found');
    return holdView(row, this.deps.clock.now());
  }

  async list(principal: Principal, filter: repo.HoldFilter): Promise<HoldView[]> {
    this.requireReader(principal);
    const now = this.deps.clock.now();
    return (await repo.listHolds(this.deps.db, filter)).map((row) => holdView(row, now));
  }

  /** Active holds past their review date. */
  async overdue(principal: Principal): Promise<HoldView[]> {
    this.requireReader(principal);
    const now = this.deps.clock.now();
    return (await repo.listHolds(this.deps.db, { overdueAt: now })).map((row) => holdView(row, now));
  }
}
