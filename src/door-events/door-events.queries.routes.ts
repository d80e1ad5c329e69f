/**
 * HTTP routes of the door-event queries, under /api: one per purpose (M 3.5, M 3.6, M 4),
 * nothing else. Each needs a signed-in user and a grant in header `x-protocam-grant`; without
 * a valid own grant the gate answers 404 `grant-not-found` (whether data exists is never
 * revealed), and a grant for another purpose, door, tag or time is 403 `outside-grant`.
 * Times are ISO 8601 with offset on the way in, UTC ISO on the way out.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { grantToken } from '../access/index.js';
import { requirePrincipal } from '../http/principal.js';
import {
  MAX_WITNESS_DOORS,
  QUERY_TAG,
  subjectCopyToCsv,
  type DoorEventQueryService,
  type TagCheckInput,
} from './door-events.queries.js';

const Id = z.string().trim().min(1).max(64);
const IsoTime = z.iso.datetime({ offset: true });
const ms = (text: string) => new Date(text).getTime();

const TagCheckQuery = z.strictObject({
  tag: QUERY_TAG.optional(),
  doorId: Id.optional(),
  from: IsoTime.optional(),
  to: IsoTime.optional(),
});
const WitnessBody = z.strictObject({
  doorIds: z.array(Id).min(1).max(MAX_WITNESS_DOORS),
  from: IsoTime,
  to: IsoTime,
});
const SubjectCopyQuery = z.strictObject({
  tag: QUERY_TAG,
  format: z.enum(['json', 'csv']).optional(),
});

const EventView = z.object({
  occurredAt: z.string(),
  doorCode: z.string(),
  doorName: z.string(),
  tag: z.string(),
  result: z.string(),
});
const TagCheckResult = z.object({
  purpose: z.literal('tag-function-check'),
  grantId: z.string(),
  tag: z.string().nullable(),
  doorId: z.string().nullable(),
  from: z.string(),
  to: z.string(),
  events: z.array(EventView),
  truncated: z.boolean(),
});
const WitnessSearchResult = z.object({
  purpose: z.literal('calamity-witness-search'),
  grantId: z.string(),
  incidentId: z.string().nullable(),
  doorIds: z.array(z.string()),
  from: z.string(),
  to: z.string(),
  witnesses: z.array(
    z.object({
      tag: z.string(),
      holder: z
        .object({ reference: z.string(), kind: z.string(), name: z.string(), contact: z.string().nullable() })
        .nullable(),
    }),
  ),
});
const SubjectCopyResult = z.object({
  purpose: z.literal('subject-access'),
  grantId: z.string(),
  requestId: z.string().nullable(),
  tag: z.string(),
  from: z.string(),
  to: z.string(),
  events: z.array(EventView),
});

export function doorEventQueryRoutes(service: DoorEventQueryService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['door-events'];

    app.get(
      '/door-events/tag-check',
      { schema: { tags, querystring: TagCheckQuery, response: { 200: TagCheckResult } } },
      async (request) => {
        const principal = requirePrincipal(request);
        const token = grantToken(request);
        const q = request.query;
        const window = {
          ...(q.from !== undefined ? { from: ms(q.from) } : {}),
          ...(q.to !== undefined ? { to: ms(q.to) } : {}),
        };
        // Both or neither of tag/doorId reach the service, whose schema refuses them (400).
        const input = {
          ...(q.tag !== undefined ? { tag: q.tag } : {}),
          ...(q.doorId !== undefined ? { doorId: q.doorId } : {}),
          ...window,
        } as TagCheckInput;
        return service.tagFunctionCheck(principal, token, input);
      },
    );

    app.post(
      '/door-events/witness-search',
      { schema: { tags, body: WitnessBody, response: { 200: WitnessSearchResult } } },
      async (request) => {
        const principal = requirePrincipal(request);
        const token = grantToken(request);
        const b = request.body;
        return service.calamityWitnessSearch(principal, token, {
          doorIds: b.doorIds,
          from: ms(b.from),
          to: ms(b.to),
        });
      },
    );

    app.get(
      '/door-events/subject-copy',
      { schema: { tags, querystring: SubjectCopyQuery } },
      async (request, reply) => {
        const principal = requirePrincipal(request);
        const token = grantToken(request);
        const copy = await service.subjectAccessCopy(principal, token, { tag: request.query.tag });
        if (request.query.format === 'csv') {
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="door-events-${copy.grantId}.csv"`)
            .send(subjectCopyToCsv(copy));
        }
        return SubjectCopyResult.parse(copy);
      },
    );
  };
}
