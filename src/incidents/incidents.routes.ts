/**
 * Incident routes, under /api. Times are ISO 8601 with offset on the way in, UTC ISO out.
 * `POST /incidents/:id/secure` is the one-step "secure footage" action (W 2.4, M 2.4).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../http/principal.js';
import type { HoldService } from '../holds/holds.service.js';
import { holdOut } from '../holds/holds.routes.js';
import { INCIDENT_KINDS, INCIDENT_STATUSES, OUTCOMES, REPORTER_KINDS } from './incidents.rules.js';
import type { IncidentService, IncidentView } from './incidents.service.js';

const Id = z.string().trim().min(1).max(64);
const IsoTime = z.iso.datetime({ offset: true });
const IsoDate = z.union([z.iso.date(), IsoTime]);
const ms = (text: string) => new Date(text).getTime();
const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());

const RegisterBody = z.strictObject({
  kind: z.enum(INCIDENT_KINDS),
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().min(1).max(4000),
  occurredAt: IsoTime,
  complexId: Id.optional(),
  cameraIds: z.array(Id).max(256).optional(),
  doorIds: z.array(Id).max(256).optional(),
  reporterKind: z.enum(REPORTER_KINDS),
  reporterNote: z.string().trim().min(1).max(500).optional(),
  assessedBy: Id.optional(),
});
const HandleBody = z.strictObject({
  outcome: z.enum(OUTCOMES),
  judgmentDate: IsoDate.optional(),
  note: z.string().trim().min(1).max(2000).optional(),
});
const CloseBody = z.strictObject({ note: z.string().trim().min(1).max(2000).optional() });
const ReopenBody = z.strictObject({ reason: z.string().trim().min(1).max(2000) });
const SecureBody = z.strictObject({
  cameraIds: z.array(Id).max(256).optional(),
  doorIds: z.array(Id).max(256).optional(),
  tags: z.array(z.string().trim().min(1).max(64)).max(256).optional(),
  window: z.strictObject({ from: IsoTime, to: IsoTime }).optional(),
  reason: z.string().trim().min(1).max(2000),
});
const IdParams = z.strictObject({ id: Id });
const ListQuery = z.strictObject({
  status: z.enum(INCIDENT_STATUSES).optional(),
  complexId: Id.optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

export const incidentOut = (i: IncidentView) => ({
  ...i,
  occurredAt: iso(i.occurredAt),
  outcomeDate: iso(i.outcomeDate),
  handledAt: iso(i.handledAt),
  closedAt: iso(i.closedAt),
  createdAt: iso(i.createdAt),
  updatedAt: iso(i.updatedAt),
});

export function incidentRoutes({
  incidents,
  holds,
}: {
  incidents: IncidentService;
  holds: HoldService;
}): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['incidents'];
    app.post('/incidents', { schema: { tags, body: RegisterBody } }, async (request, reply) => {
      const b = request.body;
      const view = await incidents.register(requirePrincipal(request), {
        ...b,
        occurredAt: ms(b.occurredAt),
        cameraIds: b.cameraIds ?? [],
        doorIds: b.doorIds ?? [],
      });
      return reply.status(201).send(incidentOut(view));
    });
    app.get('/incidents', { schema: { tags, querystring: ListQuery } }, async (request) => {
      const items = await incidents.list(requirePrincipal(request), request.query);
      return { items: items.map(incidentOut) };
    });
    app.get('/incidents/:id', { schema: { tags, params: IdParams } }, async (request) => {
      const principal = requirePrincipal(request);
      const detail = await incidents.get(principal, request.params.id);
      const linked = await holds.list(principal, { linkType: 'incident', linkId: request.params.id });
      return {
        ...incidentOut(detail),
        history: detail.history.map((h) => ({ ...h, at: iso(h.at) })),
        holds: linked.map(holdOut),
      };
    });
    app.post('/incidents/:id/handle', { schema: { tags, params: IdParams, body: HandleBody } }, async (request) => {
      const b = request.body;
      return incidentOut(
        await incidents.handle(requirePrincipal(request), request.params.id, {
          outcome: b.outcome,
          ...(b.judgmentDate ? { judgmentDate: ms(b.judgmentDate) } : {}),
          ...(b.note ? { note: b.note } : {}),
        }),
      );
    });
    app.post('/incidents/:id/close', { schema: { tags, params: IdParams, body: CloseBody } }, async (request) => {
      return incidentOut(await incidents.close(requirePrincipal(request), request.params.id, request.body.note));
    });
    app.post('/incidents/:id/reopen', { schema: { tags, params: IdParams, body: ReopenBody } }, async (request) => {
      return incidentOut(await incidents.reopen(requirePrincipal(request), request.params.id, request.body.reason));
    });
    /** Secure footage for this incident: the hold exists when this returns (W 2.4 "direct"). */
    app.post(
      '/incidents/:id/secure',
      { schema: { tags, params: IdParams, body: SecureBody } },
      async (request, reply) => {
        const b = request.body;
        const hold = await holds.secureForIncident(requirePrincipal(request), request.params.id, {
          reason: b.reason,
          ...(b.cameraIds ? { cameraIds: b.cameraIds } : {}),
          ...(b.doorIds ? { doorIds: b.doorIds } : {}),
          ...(b.tags ? { tags: b.tags } : {}),
          ...(b.window ? { from: ms(b.window.from), to: ms(b.window.to) } : {}),
        });
        return reply.status(201).send(holdOut(hold));
      },
    );
  };
}
