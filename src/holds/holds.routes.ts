/** Hold routes, under /api: create, list, overdue, release (with reason), review. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../http/principal.js';
import { HOLD_LINK_TYPES } from './holds.rules.js';
import type { HoldService, HoldView } from './holds.service.js';

const Id = z.string().trim().min(1).max(64);
const IsoTime = z.iso.datetime({ offset: true });
const ms = (text: string) => new Date(text).getTime();
const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());

const CreateBody = z.strictObject({
  cameraIds: z.array(Id).max(256).optional(),
  doorIds: z.array(Id).max(256).optional(),
  tags: z.array(z.string().trim().min(1).max(64)).max(256).optional(),
  window: z.strictObject({ from: IsoTime, to: IsoTime }),
  reason: z.string().trim().min(1).max(2000),
  linkType: z.enum(HOLD_LINK_TYPES),
  linkId: Id.optional(),
  linkRef: z.string().trim().min(1).max(500).optional(),
});
const ReasonBody = z.strictObject({ reason: z.string().trim().min(1).max(2000) });
const IdParams = z.strictObject({ id: Id });
const ListQuery = z.strictObject({
  active: z.enum(['true', 'false']).optional(),
  linkType: z.enum(HOLD_LINK_TYPES).optional(),
  linkId: Id.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const holdOut = (h: HoldView) => ({
  ...h,
  from: iso(h.from),
  to: iso(h.to),
  reviewAt: iso(h.reviewAt),
  createdAt: iso(h.createdAt),
  releasedAt: iso(h.releasedAt),
});

export function holdRoutes(holds: HoldService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['holds'];
    app.post('/holds', { schema: { tags, body: CreateBody } }, async (request, reply) => {
      const b = request.body;
      const hold = await holds.create(requirePrincipal(request), {
        cameraIds: b.cameraIds ?? [],
        doorIds: b.doorIds ?? [],
        tags: b.tags ?? [],
        from: ms(b.window.from),
        to: ms(b.window.to),
        reason: b.reason,
        linkType: b.linkType,
        ...(b.linkId ? { linkId: b.linkId } : {}),
        ...(b.linkRef ? { linkRef: b.linkRef } : {}),
      });
      return reply.status(201).send(holdOut(hold));
    });
    app.get('/holds', { schema: { tags, querystring: ListQuery } }, async (request) => {
      const q = request.query;
      const items = await holds.list(requirePrincipal(request), {
        active: q.active === undefined ? undefined : q.active === 'true',
        linkType: q.linkType,
        linkId: q.linkId,
        limit: q.limit,
      });
      return { items: items.map(holdOut) };
    });
    app.get('/holds/overdue', { schema: { tags } }, async (request) => {
      return { items: (await holds.overdue(requirePrincipal(request))).map(holdOut) };
    });
    app.get('/holds/:id', { schema: { tags, params: IdParams } }, async (request) => {
      return holdOut(await holds.get(requirePrincipal(request), request.params.id));
    });
    app.post('/holds/:id/release', { schema: { tags, params: IdParams, body: ReasonBody } }, async (request) => {
      return holdOut(await holds.release(requirePrincipal(request), request.params.id, request.body.reason));
    });
    app.post('/holds/:id/review', { schema: { tags, params: IdParams, body: ReasonBody } }, async (request) => {
      return holdOut(await holds.review(requirePrincipal(request), request.params.id, request.body.reason));
    });
  };
}
