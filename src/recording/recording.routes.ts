/**
 * HTTP routes of the recorder's status, under /api/recording: camera health, outages per
 * complex, the maintenance log (W 6.6) and defects, and a manual check. Camera status only,
 * no personal data; a signed-in user with `maintenance-log`, or an administrator, may read
 * (the service decides). Footage itself is served by playback, through the gate.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../http/principal.js';
import type { MaintenanceService } from './maintenance.service.js';
import { CheckQuery, DefectQuery, HealthQuery, ManualCheck } from './recording.schemas.js';

const Time = z.string();
const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextOffset: z.number().nullable() });

const HealthView = z.object({
  cameraId: z.string(),
  cameraName: z.string(),
  complexId: z.string(),
  complexName: z.string(),
  shouldRecord: z.boolean(),
  state: z.enum(['recording', 'reconnecting', 'down', 'stopped']),
  since: Time.nullable(),
  lastSegmentAt: Time.nullable(),
  lastError: z.string().nullable(),
  restarts: z.number(),
  openDefect: z.object({ id: z.string(), openedAt: Time, reason: z.string() }).nullable(),
});
const OutagesView = z.object({ complexId: z.string(), complexName: z.string(), cameras: z.array(HealthView) });
const CheckView = z.object({
  id: z.string(),
  cameraId: z.string(),
  cameraName: z.string(),
  complexId: z.string(),
  complexName: z.string(),
  checkedAt: Time,
  result: z.enum(['ok', 'failed']),
  detail: z.string().nullable(),
  checkedBy: z.string().nullable(),
});
const DefectView = z.object({
  id: z.string(),
  cameraId: z.string(),
  cameraName: z.string(),
  complexId: z.string(),
  complexName: z.string(),
  openedAt: Time,
  reason: z.string(),
  closedAt: Time.nullable(),
  closedReason: z.string().nullable(),
});

export function recordingRoutes(maintenance: MaintenanceService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['recording'];

    app.get(
      '/recording/health',
      { schema: { tags, querystring: HealthQuery, response: { 200: z.object({ items: z.array(HealthView) }) } } },
      async (request) => ({ items: await maintenance.listHealth(requirePrincipal(request), request.query) }),
    );

    app.get(
      '/recording/outages',
      { schema: { tags, querystring: HealthQuery, response: { 200: z.object({ complexes: z.array(OutagesView) }) } } },
      async (request) => ({ complexes: await maintenance.listOutages(requirePrincipal(request), request.query) }),
    );

    app.get(
      '/recording/maintenance-checks',
      { schema: { tags, querystring: CheckQuery, response: { 200: page(CheckView) } } },
      async (request) => maintenance.listChecks(requirePrincipal(request), request.query),
    );

    app.post(
      '/recording/maintenance-checks',
      { schema: { tags, body: ManualCheck, response: { 201: CheckView } } },
      async (request, reply) =>
        reply.status(201).send(await maintenance.manualCheck(requirePrincipal(request), request.body)),
    );

    app.get(
      '/recording/defects',
      { schema: { tags, querystring: DefectQuery, response: { 200: page(DefectView) } } },
      async (request) => maintenance.listDefects(requirePrincipal(request), request.query),
    );
  };
}
