/**
 * Retention routes, under /api: erasure records, sweep runs, alarms, the dry-run plan, the
 * impact of a proposed retention change, and the compliance view per complex.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlarmRow, ErasureRecordRow } from '../db/schema.js';
import { requirePrincipal } from '../http/principal.js';
import { DURATION_PATTERN } from '../policy/index.js';
import type { ComplianceService } from './compliance.service.js';
import type { RetentionService } from './retention.service.js';
import type { SweepPlan } from './sweeper.js';

const Id = z.string().trim().min(1).max(64);
const IsoTime = z.iso.datetime({ offset: true });
const ms = (text: string) => new Date(text).getTime();
const iso = (value: number | null) => (value === null ? null : new Date(Number(value)).toISOString());
const Retention = z.string().regex(DURATION_PATTERN).nullable();

const ErasureQuery = z.strictObject({
  from: IsoTime.optional(),
  to: IsoTime.optional(),
  category: z.enum(['footage', 'door-events', 'exports']).optional(),
  runId: Id.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const AlarmQuery = z.strictObject({
  unacknowledged: z.enum(['true', 'false']).optional(),
  kind: z.string().trim().min(1).max(64).optional(),
});
const ImpactBody = z.strictObject({
  retention: z.strictObject({
    footage: Retention.optional(),
    'door-events': Retention.optional(),
    exports: Retention.optional(),
  }),
});
const IdParams = z.strictObject({ id: Id });
const ComplianceQuery = z.strictObject({ complexId: Id.optional() });

const erasureOut = (r: ErasureRecordRow) => ({
  id: r.id,
  runId: r.run_id,
  category: r.category,
  reason: r.reason,
  targetType: r.target_type,
  targetId: r.target_id,
  from: iso(r.from_at),
  to: iso(r.to_at),
  count: Number(r.count),
  bytes: Number(r.bytes),
  policyId: r.policy_id,
  retentionMs: r.retention_ms === null ? null : Number(r.retention_ms),
  at: iso(r.created_at),
});
const alarmOut = (a: AlarmRow) => ({
  id: a.id,
  kind: a.kind,
  severity: a.severity,
  complexId: a.complex_id,
  target: a.target_type && a.target_id ? { type: a.target_type, id: a.target_id } : null,
  message: a.message,
  messageNl: a.message_nl,
  details: a.details ? (JSON.parse(a.details) as unknown) : null,
  raisedAt: iso(a.raised_at),
  lastSeenAt: iso(a.last_seen_at),
  clearedAt: iso(a.cleared_at),
  acknowledgedAt: iso(a.acknowledged_at),
  acknowledgedBy: a.acknowledged_by,
});
const planOut = (p: SweepPlan) => ({
  ...p,
  at: iso(p.at),
  erase: p.erase.map((l) => ({ ...l, from: iso(l.from), to: iso(l.to) })),
  held: p.held.map((l) => ({ ...l, from: iso(l.from), to: iso(l.to) })),
});

export function retentionRoutes(deps: {
  retention: RetentionService;
  compliance: ComplianceService;
}): FastifyPluginAsyncZod {
  const { retention, compliance } = deps;
  return async (app) => {
    const tags = ['retention'];
    app.get('/retention/erasures', { schema: { tags, querystring: ErasureQuery } }, async (request) => {
      const q = request.query;
      const rows = await retention.erasures(requirePrincipal(request), {
        from: q.from ? ms(q.from) : undefined,
        to: q.to ? ms(q.to) : undefined,
        category: q.category,
        runId: q.runId,
        limit: q.limit,
      });
      return { items: rows.map(erasureOut) };
    });
    app.get('/retention/runs', { schema: { tags } }, async (request) => {
      const rows = await retention.runs(requirePrincipal(request), 50);
      return {
        items: rows.map((r) => ({
          id: r.id,
          startedAt: iso(r.started_at),
          finishedAt: iso(r.finished_at),
          policyId: r.policy_id,
          summary: r.summary ? (JSON.parse(r.summary) as unknown) : null,
          error: r.error,
        })),
      };
    });
    /** What the next sweep would erase and why; what holds keep (the dry run). */
    app.get('/retention/plan', { schema: { tags } }, async (request) =>
      planOut(await retention.plan(requirePrincipal(request))),
    );
    /** The impact of a proposed retention change, before it is saved. */
    app.post('/retention/impact', { schema: { tags, body: ImpactBody } }, async (request) => {
      const result = await retention.impact(requirePrincipal(request), request.body.retention);
      return { current: planOut(result.current), proposed: planOut(result.proposed) };
    });
    app.get('/alarms', { schema: { tags, querystring: AlarmQuery } }, async (request) => {
      const q = request.query;
      const rows = await retention.alarms(requirePrincipal(request), {
        ...(q.unacknowledged ? { unacknowledged: q.unacknowledged === 'true' } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
      });
      return { items: rows.map(alarmOut) };
    });
    app.post('/alarms/:id/acknowledge', { schema: { tags, params: IdParams } }, async (request) => {
      return alarmOut(await retention.acknowledge(requirePrincipal(request), request.params.id));
    });
    app.get('/compliance', { schema: { tags: ['compliance'], querystring: ComplianceQuery } }, async (request) => {
      const view = await compliance.view(requirePrincipal(request), request.query.complexId);
      return {
        ...view,
        generatedAt: iso(view.generatedAt),
        groups: view.groups.map((g) => ({ ...g, items: g.items.map((i) => ({ ...i, since: iso(i.since) })) })),
      };
    });
  };
}
