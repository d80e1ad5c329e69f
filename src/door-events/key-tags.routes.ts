/**
 * HTTP routes of key tags and tag holders, under /api; administrators only. Holders are
 * write-only: responses carry id, kind, reference and `nameSet`, never the personal fields
 * (those will be read through the access gate). Tags are managed by tag code and holder reference.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, requireAdmin } from '../http/principal.js';
import { HOLDER_KINDS, HolderCreate, IdParams, TagIssue, TagReissue } from './door-events.schemas.js';
import { TAG_STATUSES } from './key-tags.rules.js';
import { PageQuery, type KeyTagService } from './key-tags.service.js';

const Time = z.string();
const HolderView = z.object({
  id: z.string(),
  kind: z.enum(HOLDER_KINDS),
  reference: z.string(),
  nameSet: z.literal(true),
  addressSet: z.boolean(),
  contactSet: z.boolean(),
  createdAt: Time,
});
const TagView = z.object({
  id: z.string(),
  tagCode: z.string(),
  status: z.enum(TAG_STATUSES),
  holderId: z.string().nullable(),
  holderReference: z.string().nullable(),
  issuedAt: Time,
  noticeGivenAt: Time,
  blockedAt: Time.nullable(),
  returnedAt: Time.nullable(),
  createdAt: Time,
  updatedAt: Time,
});

export function keyTagRoutes(service: KeyTagService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['key-tags'];

    app.post(
      '/tag-holders',
      { schema: { tags, body: HolderCreate, response: { 201: HolderView } } },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await service.createHolder(actor, request.body));
      },
    );
    app.get(
      '/tag-holders',
      { schema: { tags, querystring: PageQuery, response: { 200: z.array(HolderView) } } },
      async (request) => {
        requireAdmin(request);
        return service.listHolders(request.query);
      },
    );
    app.get(
      '/tag-holders/:id',
      { schema: { tags, params: IdParams, response: { 200: HolderView } } },
      async (request) => {
        requireAdmin(request);
        return service.getHolder(request.params.id);
      },
    );

    app.post('/key-tags', { schema: { tags, body: TagIssue, response: { 201: TagView } } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      return reply.status(201).send(await service.issueTag(actor, request.body));
    });
    app.get(
      '/key-tags',
      { schema: { tags, querystring: PageQuery, response: { 200: z.array(TagView) } } },
      async (request) => {
        requireAdmin(request);
        return service.listTags(request.query);
      },
    );
    app.get('/key-tags/:id', { schema: { tags, params: IdParams, response: { 200: TagView } } }, async (request) => {
      requireAdmin(request);
      return service.getTag(request.params.id);
    });
    app.post(
      '/key-tags/:id/block',
      { schema: { tags, params: IdParams, response: { 200: TagView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return service.blockTag(actor, request.params.id);
      },
    );
    app.post(
      '/key-tags/:id/return',
      { schema: { tags, params: IdParams, response: { 200: TagView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return service.returnTag(actor, request.params.id);
      },
    );
    app.post(
      '/key-tags/:id/reissue',
      { schema: { tags, params: IdParams, body: TagReissue, response: { 200: TagView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return service.reissueTag(actor, request.params.id, request.body);
      },
    );
  };
}
