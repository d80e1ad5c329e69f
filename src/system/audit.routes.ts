import type { Kysely } from 'kysely';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { verifyAuditChain, type AuditTrail } from '../audit/audit.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { requireAdmin } from '../http/principal.js';

const AuditEventView = z.object({
  seq: z.number(),
  id: z.string(),
  occurredAt: z.string(),
  actorId: z.string().nullable(),
  actorLabel: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string().nullable(),
  outcome: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  context: z.unknown(),
});

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

function view(row: AuditEventRow): z.infer<typeof AuditEventView> {
  return {
    seq: Number(row.seq),
    id: row.id,
    occurredAt: new Date(Number(row.occurred_at)).toISOString(),
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    outcome: row.outcome,
    before: parse(row.before),
    after: parse(row.after),
    context: parse(row.context),
  };
}

/**
 * The system audit trail is readable by administrators and by nobody else; there is
 * deliberately no route that edits or deletes it. Reading it is not audited itself: it
 * holds no footage or door data, and auditing reads would grow it without bound.
 */
export function auditRoutes(deps: { db: Kysely<Database>; audit: AuditTrail }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/audit',
      {
        schema: {
          tags: ['audit'],
          querystring: z.strictObject({
            targetType: z.string().max(64).optional(),
            targetId: z.string().max(64).optional(),
            actorId: z.string().max(64).optional(),
            action: z.string().max(64).optional(),
            from: z.iso.datetime({ offset: true }).optional(),
            to: z.iso.datetime({ offset: true }).optional(),
            beforeSeq: z.coerce.number().int().positive().optional(),
            limit: z.coerce.number().int().min(1).max(500).default(100),
          }),
          response: { 200: z.object({ items: z.array(AuditEventView), nextBeforeSeq: z.number().nullable() }) },
        },
      },
      async (request) => {
        requireAdmin(request);
        const q = request.query;
        const rows = await deps.audit.list(deps.db, {
          ...q,
          from: q.from ? Date.parse(q.from) : undefined,
          to: q.to ? Date.parse(q.to) : undefined,
        });
        const last = rows.at(-1);
        return { items: rows.map(view), nextBeforeSeq: rows.length === q.limit && last ? Number(last.seq) : null };
      },
    );

    app.get(
      '/audit/verify',
      {
        schema: {
          tags: ['audit'],
          response: {
            200: z.object({
              ok: z.boolean(),
              checked: z.number(),
              problem: z.object({ seq: z.number(), message: z.string() }).optional(),
            }),
          },
        },
      },
      async (request) => {
        requireAdmin(request);
        return verifyAuditChain(deps.db);
      },
    );
  };
}
