/**
 * HTTP routes of exports, under /api/exports. Starting an export and downloading its files need
 * the grant in header `x-protocam-grant`; status and the list show only the caller's own exports.
 */
import { createReadStream } from 'node:fs';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { grantToken } from '../access/index.js';
import { requirePrincipal } from '../http/principal.js';
import { MAX_EXPORT_CAMERAS } from './exports.rules.js';
import type { ExportService, ExportView } from './exports.service.js';

const Id = z.string().trim().min(1).max(64);
const IsoTime = z.iso.datetime({ offset: true });
const StartBody = z.strictObject({
  cameraIds: z.array(Id).min(1).max(MAX_EXPORT_CAMERAS).optional(),
  from: IsoTime.optional(),
  to: IsoTime.optional(),
});
const IdParams = z.strictObject({ id: Id });
const FileParams = z.strictObject({ id: Id, name: z.string().min(1).max(100) });
const ListQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).optional() });

const ms = (text: string) => new Date(text).getTime();
const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());

const out = (v: ExportView) => ({
  ...v,
  from: iso(v.from),
  to: iso(v.to),
  createdAt: iso(v.createdAt),
  finishedAt: iso(v.finishedAt),
});

export function exportRoutes(service: ExportService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['exports'];

    app.post('/exports', { schema: { tags, body: StartBody } }, async (request, reply) => {
      const b = request.body;
      const started = await service.start(requirePrincipal(request), grantToken(request), {
        ...(b.cameraIds ? { cameraIds: b.cameraIds } : {}),
        ...(b.from ? { from: ms(b.from) } : {}),
        ...(b.to ? { to: ms(b.to) } : {}),
      });
      return reply.status(202).send(out(started));
    });

    app.get('/exports', { schema: { tags, querystring: ListQuery } }, async (request) => {
      const items = await service.list(requirePrincipal(request), request.query.limit ?? 100);
      return { items: items.map(out) };
    });

    /** The installation's verify key (PEM), for recipients who check an export with `--public-key`. */
    app.get('/exports/public-key', { schema: { tags } }, async (request) => {
      requirePrincipal(request);
      return service.publicKey();
    });

    app.get('/exports/:id', { schema: { tags, params: IdParams } }, async (request) => {
      return out(await service.status(requirePrincipal(request), request.params.id));
    });

    app.get('/exports/:id/files/:name', { schema: { tags, params: FileParams } }, async (request, reply) => {
      const { id, name } = request.params;
      const file = await service.download(requirePrincipal(request), grantToken(request), id, name);
      return reply
        .type(file.contentType)
        .header('content-length', file.bytes)
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(createReadStream(file.path));
    });
  };
}
