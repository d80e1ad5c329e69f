/**
 * The access gate: the one place that decides whether a person, in a role, for a purpose, may
 * see recorded personal data (footage, door events, tag holders), and that writes the
 * logbook entry for it in the same transaction as the grant (M 3.5, M 6.3-6.5, W 2.6).
 *
 * Every read of personal data goes through `validateGrant` (or the Fastify helper
 * `requireGrant` in grant.guard.ts): a data route without a valid grant in scope serves
 * nothing. Unknown, expired and other users' tokens are all 404 `grant-not-found`, so a
 * token reveals nothing about what exists; a valid own grant asked for something outside
 * its scope is 403 `outside-grant`.
 *
 * Each writing call is one short transaction whose first statement locks the logbook chain
 * head; the decision is taken inside it on facts read under that lock.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AccessRequestRow, Database, GrantRow } from '../db/schema.js';
import type { Principal } from '../http/principal.js';
import type { Clock } from '../lib/clock.js';
import { conflict, forbidden, notFound } from '../lib/errors.js';
import { newId, newToken } from '../lib/ids.js';
import { hasCapability, type Policy } from '../policy/index.js';
import * as repo from './access.repository.js';
import {
  APPROVAL_CLAIM_WINDOW_MS,
  decideAccess,
  GRANT_TTL_MS,
  grantNeedProblem,
  normaliseScope,
  type AccessAsk,
  type AccessDecision,
  type AccessFacts,
  type GrantNeed,
  type Scope,
} from './access.rules.js';
import { appendLogbook, inTransaction, lockLogbookHead, type ChainHead, type Executor } from './logbook.repository.js';
import { blankLogbookRecord } from './logbook.rules.js';

/** What the gate needs: no more. `policy` is read per call, so a policy change applies at once. */
export interface AccessDeps {
  db: Kysely<Database>;
  clock: Clock;
  policy: () => Policy;
  signingKey: KeyObject;
  verifyKey: KeyObject;
}

export interface AccessInput {
  category: string;
  purpose: string;
  scope: Scope;
  /** The time window of data to see, epoch ms UTC. */
  from: number;
  to: number;
  reason: string;
  incidentId?: string | null | undefined;
  requestId?: string | null | undefined;
  disclosureId?: string | null | undefined;
}

/** Shown once: the raw token is never stored (only its SHA-256) and cannot be fetched again. */
export interface IssuedGrant {
  status: 'granted';
  token: string;
  grantId: string;
  entryId: string;
  expiresAt: number;
}

export interface PendingAccess {
  status: 'pending';
  requestId: string;
}

export type AccessOutcome = IssuedGrant | PendingAccess;

export interface AccessRequestView {
  id: string;
  requesterId: string;
  requesterLabel: string;
  purpose: string;
  category: string;
  scope: Scope;
  from: number;
  to: number;
  reason: string;
  incidentId: string | null;
  requestId: string | null;
  disclosureId: string | null;
  status: string;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionEntryId: string | null;
  grantId: string | null;
  createdAt: number;
}

export interface GrantView {
  id: string;
  userId: string;
  purpose: string;
  category: string;
  scope: Scope;
  from: number;
  to: number;
  incidentId: string | null;
  requestId: string | null;
  disclosureId: string | null;
  entryId: string;
  issuedAt: number;
  expiresAt: number;
}

export const GRANT_HEADER = 'x-protocam-grant';

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

const grantNotFound = () => notFound('grant-not-found', 'No valid grant for this request');

function requestView(row: AccessRequestRow): AccessRequestView {
  return {
    id: row.id,
    requesterId: row.requester_id,
    requesterLabel: row.requester_label,
    purpose: row.purpose,
    category: row.category,
    scope: JSON.parse(row.scope) as Scope,
    from: Number(row.window_from),
    to: Number(row.window_to),
    reason: row.reason,
    incidentId: row.incident_id,
    requestId: row.request_id,
    disclosureId: row.disclosure_id,
    status: row.status,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
    decisionEntryId: row.decision_entry_id,
    grantId: row.grant_id,
    createdAt: Number(row.created_at),
  };
}

function grantView(row: GrantRow): GrantView {
  return {
    id: row.id,
    userId: row.user_id,
    purpose: row.purpose,
    category: row.category,
    scope: JSON.parse(row.scope) as Scope,
    from: Number(row.window_from),
    to: Number(row.window_to),
    incidentId: row.incident_id,
    requestId: row.request_id,
    disclosureId: row.disclosure_id,
    entryId: row.entry_id,
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
  };
}

interface Who {
  userId: string;
  label: string;
  roles: string[];
}

const whoOf = (p: Principal): Who => ({ userId: p.userId, label: p.username, roles: [...p.roles] });

/** Logbook fields describing an ask: purpose, category, scope, window and links. */
function askFields(ask: AccessAsk, who: Who) {
  return {
    user_id: who.userId,
    user_label: who.label,
    roles: JSON.stringify(who.roles),
    purpose: ask.purpose,
    category: ask.category,
    reason: ask.reason,
    scope: JSON.stringify(normaliseScope(ask.scope)),
    window_from: Number.isFinite(ask.from) ? ask.from : null,
    window_to: Number.isFinite(ask.to) ? ask.to : null,
    incident_id: ask.incidentId ?? null,
    request_id: ask.requestId ?? null,
    disclosure_id: ask.disclosureId ?? null,
  };
}

type Refused = Extract<AccessDecision, { allowed: false }>;

function accessRefused(decision: Refused, entryId: string) {
  return forbidden('access-refused', decision.message, {
    reason: decision.reason,
    articles: decision.articles,
    entryId,
  });
}

export class GateService {
  constructor(private readonly deps: AccessDeps) {}

  /**
   * Asks for access. Allowed: a consultation record and a grant, in one transaction; the raw
   * token is returned once. Four-eyes purposes: a pending request. Refused: a refusal record
   * is written and 403 `access-refused` thrown with `details.reason`.
   */
  async requestAccess(principal: Principal, input: AccessInput): Promise<AccessOutcome> {
    const ask = this.toAsk(input);
    const who = whoOf(principal);
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const result = await inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      const decision = decideAccess(policy, who.roles, ask, await this.facts(trx, ask, now));
      if (!decision.allowed)
        return { refused: decision, entryId: await this.logRefusal(trx, head, ask, who, decision, null, now) };
      if (decision.fourEyes) {
        const id = newId();
        await repo.insertAccessRequest(trx, {
          id,
          requester_id: who.userId,
          requester_label: who.label,
          requester_roles: JSON.stringify(who.roles),
          purpose: ask.purpose,
          category: ask.category,
          scope: JSON.stringify(decision.scope),
          window_from: ask.from,
          window_to: ask.to,
          reason: ask.reason,
          incident_id: ask.incidentId ?? null,
          request_id: ask.requestId ?? null,
          disclosure_id: ask.disclosureId ?? null,
          status: 'pending',
          decided_by: null,
          decided_at: null,
          decision_entry_id: null,
          grant_id: null,
          created_at: now,
          updated_at: now,
        });
        return { outcome: { status: 'pending', requestId: id } as PendingAccess };
      }
      return { outcome: await this.issue(trx, head, ask, decision.scope, who, null, now) };
    });
    if ('refused' in result && result.refused) throw accessRefused(result.refused, result.entryId ?? '');
    return result.outcome;
  }

  /** Second pair of eyes: another user with `approve-access`. The approval is its own logbook record. */
  async approve(approver: Principal, requestId: string): Promise<AccessRequestView> {
    const policy = this.deps.policy();
    if (!hasCapability(policy, approver.roles, 'approve-access')) {
      throw forbidden('approve-not-allowed', 'Your roles may not approve access requests');
    }
    const now = this.deps.clock.now();
    const result = await inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      const row = await this.pendingRequest(trx, requestId);
      if (row.requester_id === approver.userId) {
        throw forbidden('self-approval', 'You cannot approve your own access request');
      }
      const ask = this.askOf(row);
      const requester: Who = {
        userId: row.requester_id,
        label: row.requester_label,
        roles: JSON.parse(row.requester_roles) as string[],
      };
      // The rules are applied again: the incident may have closed or the policy changed meanwhile.
      const decision = decideAccess(policy, requester.roles, ask, await this.facts(trx, ask, now));
      if (!decision.allowed) {
        const entryId = await this.logRefusal(trx, head, ask, requester, decision, row.id, now);
        await repo.updateAccessRequest(trx, row.id, 'pending', {
          status: 'refused',
          decided_by: approver.userId,
          decided_at: now,
          decision_entry_id: entryId,
          updated_at: now,
        });
        return { refused: decision, entryId };
      }
      const entryId = newId();
      await appendLogbook(trx, head, {
        ...blankLogbookRecord(entryId, 'approval', now, null),
        ...askFields(ask, whoOf(approver)),
        access_request_id: row.id,
        text: `Approved the access request of ${requester.label}`,
      });
      await repo.updateAccessRequest(trx, row.id, 'pending', {
        status: 'approved',
        decided_by: approver.userId,
        decided_at: now,
        decision_entry_id: entryId,
        updated_at: now,
      });
      return { view: requestView((await repo.findAccessRequest(trx, row.id))!) };
    });
    if ('refused' in result && result.refused) throw accessRefused(result.refused, result.entryId ?? '');
    return result.view;
  }

  /** The second person says no: a refusal record (`rejected-by-approver`) with their note. */
  async reject(approver: Principal, requestId: string, note: string): Promise<AccessRequestView> {
    const policy = this.deps.policy();
    if (!hasCapability(policy, approver.roles, 'approve-access')) {
      throw forbidden('approve-not-allowed', 'Your roles may not decide on access requests');
    }
    const now = this.deps.clock.now();
    return inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      const row = await this.pendingRequest(trx, requestId);
      if (row.requester_id === approver.userId)
        throw forbidden('self-approval', 'You cannot decide on your own access request');
      const entryId = newId();
      await appendLogbook(trx, head, {
        ...blankLogbookRecord(entryId, 'refusal', now, null),
        ...askFields(this.askOf(row), whoOf(approver)),
        access_request_id: row.id,
        refusal_code: 'rejected-by-approver',
        text: note,
      });
      await repo.updateAccessRequest(trx, row.id, 'pending', {
        status: 'rejected',
        decided_by: approver.userId,
        decided_at: now,
        decision_entry_id: entryId,
        updated_at: now,
      });
      return requestView((await repo.findAccessRequest(trx, row.id))!);
    });
  }

  /**
   * The requester collects the grant of an approved request, once, within
   * APPROVAL_CLAIM_WINDOW_MS. Writes the consultation record; rules are applied again.
   */
  async claimGrant(principal: Principal, requestId: string): Promise<IssuedGrant> {
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const who = whoOf(principal);
    const result = await inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      const row = await repo.findAccessRequest(trx, requestId);
      // Someone else's request does not exist for you.
      if (!row || row.requester_id !== principal.userId)
        throw notFound('access-request-not-found', 'No such access request');
      if (row.status === 'claimed')
        throw conflict('grant-already-issued', 'The grant of this request was already issued');
      if (row.status !== 'approved') throw conflict('access-request-not-approved', `The request is ${row.status}`);
      if (now - Number(row.decided_at) > APPROVAL_CLAIM_WINDOW_MS) {
        throw conflict('approval-expired', 'The approval has expired; ask for access again');
      }
      const ask = this.askOf(row);
      const decision = decideAccess(policy, who.roles, ask, await this.facts(trx, ask, now));
      if (!decision.allowed) {
        const entryId = await this.logRefusal(trx, head, ask, who, decision, row.id, now);
        await repo.updateAccessRequest(trx, row.id, 'approved', {
          status: 'refused',
          decision_entry_id: entryId,
          updated_at: now,
        });
        return { refused: decision, entryId };
      }
      const issued = await this.issue(trx, head, ask, decision.scope, who, row.id, now);
      await repo.updateAccessRequest(trx, row.id, 'approved', {
        status: 'claimed',
        grant_id: issued.grantId,
        updated_at: now,
      });
      return { issued };
    });
    if ('refused' in result && result.refused) throw accessRefused(result.refused, result.entryId ?? '');
    return result.issued;
  }

  /** Approvers see every request (by status); everyone else only their own. */
  async listRequests(
    principal: Principal,
    filter: { status?: string | undefined; limit?: number },
  ): Promise<AccessRequestView[]> {
    const approver = hasCapability(this.deps.policy(), principal.roles, 'approve-access');
    const rows = await repo.listAccessRequests(this.deps.db, {
      status: filter.status,
      requesterId: approver ? undefined : principal.userId,
      limit: filter.limit ?? 100,
    });
    return rows.map(requestView);
  }

  /**
   * The only way a data route gets access. Unknown, expired or another user's token: 404
   * `grant-not-found` (nothing is revealed). Own valid grant, need outside its scope: 403
   * `outside-grant` with `details.outside` (category, purpose, camera, door, tag or time).
   */
  async validateGrant(principal: Principal, token: string, need: GrantNeed): Promise<GrantView> {
    const grant = await this.ownLiveGrant(principal, token);
    const problem = grantNeedProblem(
      { category: grant.category, purpose: grant.purpose, scope: grant.scope, from: grant.from, to: grant.to },
      need,
    );
    if (problem) throw forbidden('outside-grant', 'This is outside what your grant covers', { outside: problem });
    return grant;
  }

  /** The caller's own live grant, e.g. for a viewer to know which cameras and window it may ask for. */
  async describeGrant(principal: Principal, token: string): Promise<GrantView> {
    return this.ownLiveGrant(principal, token);
  }

  // --- internals ----------------------------------------------------------------------------

  private async ownLiveGrant(principal: Principal, token: string): Promise<GrantView> {
    if (typeof token !== 'string' || token.length < 20 || token.length > 200) throw grantNotFound();
    const row = await repo.findGrantByTokenHash(this.deps.db, hashToken(token));
    if (!row || row.user_id !== principal.userId || this.deps.clock.now() >= Number(row.expires_at))
      throw grantNotFound();
    return grantView(row);
  }

  private toAsk(input: AccessInput): AccessAsk {
    return {
      category: input.category,
      purpose: input.purpose,
      scope: input.scope,
      from: input.from,
      to: input.to,
      reason: input.reason.trim(),
      incidentId: input.incidentId ?? null,
      requestId: input.requestId ?? null,
      disclosureId: input.disclosureId ?? null,
    };
  }

  private askOf(row: AccessRequestRow): AccessAsk {
    return {
      category: row.category,
      purpose: row.purpose,
      scope: JSON.parse(row.scope) as Scope,
      from: Number(row.window_from),
      to: Number(row.window_to),
      reason: row.reason,
      incidentId: row.incident_id,
      requestId: row.request_id,
      disclosureId: row.disclosure_id,
    };
  }

  private async pendingRequest(trx: Executor, id: string): Promise<AccessRequestRow> {
    const row = await repo.findAccessRequest(trx, id);
    if (!row) throw notFound('access-request-not-found', 'No such access request');
    if (row.status !== 'pending') throw conflict('access-request-not-pending', `The request is already ${row.status}`);
    return row;
  }

  private async facts(trx: Executor, ask: AccessAsk, now: number): Promise<AccessFacts> {
    const facts: AccessFacts = {
      now,
      missingCameraIds: await repo.missingCameraIds(trx, [...new Set(ask.scope.cameraIds ?? [])]),
      missingDoorIds: await repo.missingDoorIds(trx, [...new Set(ask.scope.doorIds ?? [])]),
    };
    if (ask.incidentId) facts.incident = await repo.incidentFacts(trx, ask.incidentId);
    if (ask.requestId) facts.request = await repo.requestFacts(trx, ask.requestId);
    if (ask.disclosureId) facts.disclosure = await repo.disclosureFacts(trx, ask.disclosureId);
    return facts;
  }

  private async logRefusal(
    trx: Executor,
    head: ChainHead,
    ask: AccessAsk,
    who: Who,
    decision: Refused,
    accessRequestId: string | null,
    now: number,
  ): Promise<string> {
    const id = newId();
    await appendLogbook(trx, head, {
      ...blankLogbookRecord(id, 'refusal', now, null),
      ...askFields(ask, who),
      access_request_id: accessRequestId,
      refusal_code: decision.reason,
      text: decision.message,
    });
    return id;
  }

  private async issue(
    trx: Executor,
    head: ChainHead,
    ask: AccessAsk,
    scope: Scope,
    who: Who,
    accessRequestId: string | null,
    now: number,
  ): Promise<IssuedGrant> {
    const token = newToken();
    const grantId = newId();
    const entryId = newId();
    const expiresAt = now + GRANT_TTL_MS;
    await appendLogbook(trx, head, {
      ...blankLogbookRecord(entryId, 'consultation', now, null),
      ...askFields(ask, who),
      access_request_id: accessRequestId,
      grant_id: grantId,
    });
    await repo.insertGrant(trx, {
      id: grantId,
      token_hash: hashToken(token),
      user_id: who.userId,
      purpose: ask.purpose,
      category: ask.category,
      scope: JSON.stringify(scope),
      window_from: ask.from,
      window_to: ask.to,
      incident_id: ask.incidentId ?? null,
      request_id: ask.requestId ?? null,
      disclosure_id: ask.disclosureId ?? null,
      access_request_id: accessRequestId,
      entry_id: entryId,
      issued_at: now,
      expires_at: expiresAt,
    });
    return { status: 'granted', token, grantId, entryId, expiresAt };
  }
}
