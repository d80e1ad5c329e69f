/**
 * HTTP routes of the access gate and the logbook, under /api. Each route: schema, the
 * signed-in principal, one service call. Times are ISO 8601 with offset on the way in (so a
 * Europe/Amsterdam window like 21:00+02:00 means what the user meant) and UTC ISO on the way out.
 *
 * `purpose` and `category` are bounded free strings, not enums: asking for a purpose that
 * does not exist (e.g. to support an accusation, M 3.6) must reach the gate to be refused
 * AND logged, not bounce off the schema unlogged.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../http/principal.js';
import { ENTRY_STATUSES } from './logbook.rules.js';
import { grantToken } from './grant.guard.js';
import type { AccessRequestView, GateService, GrantView } from './gate.service.js';
import { VERIFY_STRATEGIES, type EntryView, type LogbookFilter, type LogbookService } from './logbook.service.js';

export interface AccessRoutesDeps {
  gate: GateService;
  logbook: LogbookService;
}

const Id = z.string().trim().min(1).max(64);
const IsoTime = z.iso.datetime({ offset: true });
const ms = (text: string) => new Date(text).getTime();
const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());

const ScopeBody = z.strictObject({
  cameraIds: z.array(Id).max(64).optional(),
  doorIds: z.array(Id).max(64).optional(),
  tag: z.string().trim().min(1).max(64).optional(),
});

const AccessBody = z.strictObject({
  category: z.string().trim().min(1).max(40),
  purpose: z.string().trim().min(1).max(64),
  scope: ScopeBody,
  window: z.strictObject({ from: IsoTime, to: IsoTime }),
  reason: z.string().trim().min(1).max(2000),
  incidentId: Id.optional(),
  requestId: Id.optional(),
  disclosureId: Id.optional(),
});

const IdParams = z.strictObject({ id: Id });
const EntryParams = z.strictObject({ entryId: Id });
const FindingBody = z.strictObject({ text: z.string().trim().min(1).max(4000) });
const RejectBody = z.strictObject({ note: z.string().trim().min(1).max(2000) });
const RequestQuery = z.strictObject({
  status: z.enum(['pending', 'approved', 'rejected', 'refused', 'claimed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});
const LogbookQuery = z.strictObject({
  from: IsoTime.optional(),
  to: IsoTime.optional(),
  userId: Id.optional(),
  cameraId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
  purpose: z.string().trim().min(1).max(64).optional(),
  status: z.enum(ENTRY_STATUSES).optional(),
  beforeSeq: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

function toFilter(q: z.infer<typeof LogbookQuery>): LogbookFilter {
  return {
    from: q.from ? ms(q.from) : undefined,
    to: q.to ? ms(q.to) : undefined,
    userId: q.userId,
    cameraId: q.cameraId,
    purpose: q.purpose,
    status: q.status,
    beforeSeq: q.beforeSeq,
    limit: q.limit,
  };
}

const requestOut = (r: AccessRequestView) => ({
  ...r,
  from: iso(r.from),
  to: iso(r.to),
  decidedAt: iso(r.decidedAt),
  createdAt: iso(r.createdAt),
});
const grantOut = (g: GrantView) => ({
  ...g,
  from: iso(g.from),
  to: iso(g.to),
  issuedAt: iso(g.issuedAt),
  expiresAt: iso(g.expiresAt),
});
const entryOut = (e: EntryView) => ({
  ...e,
  occurredAt: iso(e.occurredAt),
  from: iso(e.from),
  to: iso(e.to),
  finding: e.finding ? { ...e.finding, at: iso(e.finding.at) } : null,
  signature: e.signature ? { ...e.signature, at: iso(e.signature.at) } : null,
  findingDue: iso(e.findingDue),
  signatureDue: iso(e.signatureDue),
});

export function accessRoutes({ gate, logbook }: AccessRoutesDeps): FastifyPluginAsyncZod {
  return async (app) => {
    const accessTags = ['access'];
    const logbookTags = ['logbook'];

    app.post('/access/requests', { schema: { tags: accessTags, body: AccessBody } }, async (request, reply) => {
      const principal = requirePrincipal(request);
      const b = request.body;
      const outcome = await gate.requestAccess(principal, {
        category: b.category,
        purpose: b.purpose,
        scope: b.scope,
        from: ms(b.window.from),
        to: ms(b.window.to),
        reason: b.reason,
        incidentId: b.incidentId,
        requestId: b.requestId,
        disclosureId: b.disclosureId,
      });
      if (outcome.status === 'pending') return reply.status(202).send(outcome);
      return reply.status(201).send({ ...outcome, expiresAt: iso(outcome.expiresAt) });
    });

    app.get('/access/requests', { schema: { tags: accessTags, querystring: RequestQuery } }, async (request) => {
      const principal = requirePrincipal(request);
      const items = await gate.listRequests(principal, {
        status: request.query.status,
        limit: request.query.limit ?? 100,
      });
      return { items: items.map(requestOut) };
    });

    app.post('/access/requests/:id/approve', { schema: { tags: accessTags, params: IdParams } }, async (request) => {
      return requestOut(await gate.approve(requirePrincipal(request), request.params.id));
    });

    app.post(
      '/access/requests/:id/reject',
      { schema: { tags: accessTags, params: IdParams, body: RejectBody } },
      async (request) => {
        return requestOut(await gate.reject(requirePrincipal(request), request.params.id, request.body.note));
      },
    );

    /** The requester collects the grant of an approved four-eyes request (once). */
    app.post(
      '/access/requests/:id/grant',
      { schema: { tags: accessTags, params: IdParams } },
      async (request, reply) => {
        const issued = await gate.claimGrant(requirePrincipal(request), request.params.id);
        return reply.status(201).send({ ...issued, expiresAt: iso(issued.expiresAt) });
      },
    );

    /** Describes the caller's own live grant (token in header x-protocam-grant, never in the URL). */
    app.get('/access/grant', { schema: { tags: accessTags } }, async (request) => {
      return grantOut(await gate.describeGrant(requirePrincipal(request), grantToken(request)));
    });

    app.post(
      '/logbook/:entryId/finding',
      { schema: { tags: logbookTags, params: EntryParams, body: FindingBody } },
      async (request, reply) => {
        const entry = await logbook.recordFinding(requirePrincipal(request), request.params.entryId, request.body.text);
        return reply.status(201).send(entryOut(entry));
      },
    );

    app.post(
      '/logbook/:entryId/signature',
      { schema: { tags: logbookTags, params: EntryParams } },
      async (request, reply) => {
        const entry = await logbook.sign(requirePrincipal(request), request.params.entryId);
        return reply.status(201).send(entryOut(entry));
      },
    );

    app.get('/logbook', { schema: { tags: logbookTags, querystring: LogbookQuery } }, async (request) => {
      const items = await logbook.list(requirePrincipal(request), toFilter(request.query));
      const last = items[items.length - 1];
      const limit = request.query.limit ?? 100;
      return { items: items.map(entryOut), nextBeforeSeq: items.length === limit && last ? last.seq : null };
    });

    app.get('/logbook/mine', { schema: { tags: logbookTags } }, async (request) => {
      return { items: (await logbook.awaitingMyFinding(requirePrincipal(request))).map(entryOut) };
    });

    app.get('/logbook/overdue', { schema: { tags: logbookTags } }, async (request) => {
      return { items: (await logbook.overdue(requirePrincipal(request))).map(entryOut) };
    });

    app.get(
      '/logbook/export.csv',
      { schema: { tags: logbookTags, querystring: LogbookQuery } },
      async (request, reply) => {
        const csv = await logbook.exportCsv(requirePrincipal(request), {
          ...toFilter(request.query),
          limit: undefined,
        });
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="logbook.csv"')
          .send(csv);
      },
    );

    app.get(
      '/logbook/export.pdf',
      { schema: { tags: logbookTags, querystring: LogbookQuery } },
      async (request, reply) => {
        const pdf = await logbook.exportPdf(requirePrincipal(request), {
          ...toFilter(request.query),
          limit: undefined,
        });
        return reply
          .type('application/pdf')
          .header('content-disposition', 'attachment; filename="logbook.pdf"')
          .send(pdf);
      },
    );

    app.get(
      '/logbook/verify',
      {
        schema: { tags: logbookTags, querystring: z.strictObject({ strategy: z.enum(VERIFY_STRATEGIES).optional() }) },
      },
      async (request) => logbook.verify(requirePrincipal(request), request.query.strategy),
    );
  };
}
