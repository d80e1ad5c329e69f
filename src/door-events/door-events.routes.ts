/**
 * HTTP routes of door-event ingest, under /api.
 * - `POST /door-events/batch`: for door controllers and integration scripts, authenticated by
 *   a per-source API key (`authorization: Bearer <key>`), not by a user session.
 * - `/door-event-sources/...`: administrators manage sources and keys, see rejection counts
 *   and import CSV exports.
 * No route returns door events: reading them goes through the access gate (later slice).
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, requireAdmin } from '../http/principal.js';
import { unauthenticated } from '../lib/errors.js';
import { EVENT_RESULTS, recordTexts, REJECTION_REASONS, SOURCE_KINDS, TIME_FORMATS } from './door-events.rules.js';
import { IdParams, KeyParams, SourceCreate, SourcePatch } from './door-events.schemas.js';
import type { DoorEventService } from './door-events.service.js';

export interface DoorEventRouteOptions {
  /** Body limit of `POST /door-events/batch` in bytes (default 8 MiB). */
  batchBodyLimit?: number;
  /** Body limit of CSV imports in bytes (default 32 MiB). */
  csvBodyLimit?: number;
}

const Time = z.string();
const Counters = z.object({
  received: z.number(),
  accepted: z.number(),
  rejected: z.number(),
  late: z.number(),
  duplicate: z.number(),
});
const MappingView = z.object({
  sourceEventId: z.string(),
  occurredAt: z.string(),
  door: z.string(),
  tag: z.string(),
  result: z.string(),
  timeFormat: z.enum(TIME_FORMATS),
  timeZone: z.string(),
  delimiter: z.string(),
  resultMap: z.record(z.string(), z.enum(EVENT_RESULTS)).optional(),
});
const SourceView = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(SOURCE_KINDS),
  doorScope: z.array(z.string()),
  csvMapping: MappingView.nullable(),
  counters: Counters,
  createdAt: Time,
  updatedAt: Time,
});
const ApiKeyView = z.object({
  id: z.string(),
  sourceId: z.string(),
  prefix: z.string(),
  createdAt: Time,
  revokedAt: Time.nullable(),
});
const RejectionView = z.object({ index: z.number(), reason: z.enum(REJECTION_REASONS) });
const BatchResult = z.object({
  received: z.number(),
  accepted: z.number(),
  duplicates: z.number(),
  late: z.number(),
  rejected: z.array(RejectionView),
});
const CsvResult = BatchResult.extend({
  rejected: z.array(RejectionView.extend({ line: z.number() })),
});
const RejectionCount = z.object({ reason: z.string(), count: z.number(), lastSeenAt: Time });

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function doorEventRoutes(service: DoorEventService, options: DoorEventRouteOptions = {}): FastifyPluginAsyncZod {
  const batchBodyLimit = options.batchBodyLimit ?? 8 * 1024 * 1024;
  const csvBodyLimit = options.csvBodyLimit ?? 32 * 1024 * 1024;
  return async (app) => {
    // The source of a batch request, resolved from its API key before the body is read.
    const sources = new WeakMap<FastifyRequest, string>();

    // Only this plugin's routes accept CSV bodies.
    app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: csvBodyLimit }, (_request, body, done) => {
      done(null, body);
    });

    // The batch route in its own scope: its JSON parser also keeps each record's text as sent (the
    // raw payload), so ingest need not serialise every record again. Parsing itself, and its
    // errors, are Fastify's default (prototype-poisoning checks included).
    await app.register(async (scope) => {
      const batch = scope.withTypeProvider<ZodTypeProvider>();
      const recordTextsOf = new WeakMap<FastifyRequest, (string | null)[] | null>();
      const parseJson = batch.getDefaultJsonParser('error', 'error');
      batch.removeContentTypeParser('application/json');
      batch.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
        const text = typeof body === 'string' ? body : body.toString('utf8');
        // Fastify's default JSON parser answers through `done` (it returns nothing to await).
        void parseJson(request, text, (error, value) => {
          if (!error && Array.isArray(value)) recordTextsOf.set(request, recordTexts(text, value.length));
          done(error, value);
        });
      });

      batch.post(
        '/door-events/batch',
        {
          bodyLimit: batchBodyLimit,
          config: { acceptsIllFormedText: true },
          schema: {
            tags: ['door-events'],
            security: [{ apiKey: [] }],
            body: z.array(z.unknown()),
            response: { 200: BatchResult },
          },
          onRequest: async (request) => {
            const header = request.headers.authorization;
            if (typeof header !== 'string' || header.trim() === '')
              throw unauthenticated('api-key-missing', 'Send the source API key as `authorization: Bearer <key>`');
            const match = BEARER.exec(header);
            if (!match?.[1]) throw unauthenticated('api-key-invalid', 'The API key is unknown or revoked');
            sources.set(request, await service.sourceForApiKey(match[1]));
          },
        },
        async (request) => {
          const sourceId = sources.get(request);
          if (sourceId === undefined) throw unauthenticated('api-key-invalid', 'The API key is unknown or revoked');
          return service.ingest(sourceId, request.body, recordTextsOf.get(request));
        },
      );
    });

    const tags = ['door-event-sources'];

    app.post(
      '/door-event-sources',
      { schema: { tags, body: SourceCreate, response: { 201: SourceView } } },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await service.createSource(actor, request.body));
      },
    );
    app.get('/door-event-sources', { schema: { tags, response: { 200: z.array(SourceView) } } }, async (request) => {
      requireAdmin(request);
      return service.listSources();
    });
    app.get(
      '/door-event-sources/:id',
      { schema: { tags, params: IdParams, response: { 200: SourceView } } },
      async (request) => {
        requireAdmin(request);
        return service.getSource(request.params.id);
      },
    );
    app.patch(
      '/door-event-sources/:id',
      { schema: { tags, params: IdParams, body: SourcePatch, response: { 200: SourceView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return service.updateSource(actor, request.params.id, request.body);
      },
    );
    app.get(
      '/door-event-sources/:id/rejections',
      { schema: { tags, params: IdParams, response: { 200: z.array(RejectionCount) } } },
      async (request) => {
        requireAdmin(request);
        return service.rejectionCounts(request.params.id);
      },
    );

    app.post(
      '/door-event-sources/:id/api-keys',
      {
        schema: {
          tags,
          params: IdParams,
          response: { 201: z.object({ key: z.string(), apiKey: ApiKeyView }) },
        },
      },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await service.issueApiKey(actor, request.params.id));
      },
    );
    app.get(
      '/door-event-sources/:id/api-keys',
      { schema: { tags, params: IdParams, response: { 200: z.array(ApiKeyView) } } },
      async (request) => {
        requireAdmin(request);
        return service.listApiKeys(request.params.id);
      },
    );
    app.post(
      '/door-event-sources/:id/api-keys/:keyId/revoke',
      { schema: { tags, params: KeyParams, response: { 200: ApiKeyView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return service.revokeApiKey(actor, request.params.id, request.params.keyId);
      },
    );

    app.post(
      '/door-event-sources/:id/import',
      {
        bodyLimit: csvBodyLimit,
        schema: {
          tags,
          params: IdParams,
          consumes: ['text/csv'],
          body: z.string().max(csvBodyLimit),
          response: { 200: CsvResult },
        },
        // Refuse before reading a large body.
        onRequest: async (request) => {
          requireAdmin(request);
        },
      },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return service.importCsv(request.params.id, request.body, actor);
      },
    );
  };
}
