/**
 * HTTP routes of the registry, under /api. Every route needs a signed-in user; changes need
 * the administrator (who manages the registry). Registry data is not personal data, so any
 * signed-in user may read it, except hidden cameras (W 3.4, M 3.3): those exist only for
 * administrators, since the people they watch may have accounts themselves.
 * Secrets are write-only: responses say `streamUrlSet`, `credentialsSet` and a redacted host.
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ADMIN_ROLE, actorOf, requireAdmin, requirePrincipal } from '../http/principal.js';
import { FINDING_CODES, REFUSAL_CODES } from './registry.rules.js';
import {
  AreaCreate,
  AreaPatch,
  BuildingCreate,
  BuildingPatch,
  BuildingQuery,
  ByBuildingQuery,
  CAMERA_KINDS,
  CAMERA_STATUSES,
  CameraCreate,
  CameraPatch,
  CameraQuery,
  ComplexCreate,
  ComplexPatch,
  DeactivateBody,
  DoorCreate,
  DoorPatch,
  EntranceCreate,
  EntrancePatch,
  IdParams,
  PageQuery,
} from './registry.schemas.js';
import type { RegistryService } from './registry.service.js';

const Time = z.string();
const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextOffset: z.number().nullable() });

const OrganisationView = z.object({ id: z.string(), name: z.string(), createdAt: Time, updatedAt: Time });
const ComplexView = z.object({
  id: z.string(),
  organisationId: z.string(),
  code: z.string().nullable(),
  name: z.string(),
  address: z.string().nullable(),
  ownership: z.string(),
  responsible: z.boolean(),
  createdAt: Time,
  updatedAt: Time,
});
const BuildingView = z.object({
  id: z.string(),
  complexId: z.string(),
  name: z.string(),
  address: z.string().nullable(),
  createdAt: Time,
  updatedAt: Time,
});
const EntranceView = z.object({
  id: z.string(),
  buildingId: z.string(),
  name: z.string(),
  isGeneralEntrance: z.boolean(),
  signPresent: z.boolean(),
  createdAt: Time,
  updatedAt: Time,
});
const AreaView = z.object({
  id: z.string(),
  buildingId: z.string(),
  name: z.string(),
  areaType: z.string(),
  outdoor: z.boolean(),
  createdAt: Time,
  updatedAt: Time,
});
const PlacementView = z.object({
  insideDwelling: z.boolean(),
  insideDwellingReason: z.string().nullable(),
  aimedAtFrontDoor: z.boolean(),
  frontDoorReason: z.string().nullable(),
  aimedAtWorkplace: z.boolean(),
  workplaceException: z.string().nullable(),
  workplaceReason: z.string().nullable(),
  showsPublicRoad: z.boolean(),
  publicRoadReason: z.string().nullable(),
  outdoor: z.boolean(),
  outdoorReason: z.string().nullable(),
});
const CameraView = z.object({
  id: z.string(),
  buildingId: z.string(),
  areaId: z.string().nullable(),
  entranceId: z.string().nullable(),
  name: z.string(),
  location: z.string().nullable(),
  kind: z.enum(CAMERA_KINDS),
  goals: z.array(z.string()),
  placement: PlacementView,
  streamUrlSet: z.boolean(),
  streamHost: z.string().nullable(),
  credentialsSet: z.boolean(),
  connectionSecured: z.boolean(),
  hidden: z
    .object({ suspicion: z.string().nullable(), dpiaReference: z.string().nullable(), endDate: Time.nullable() })
    .nullable(),
  status: z.enum(CAMERA_STATUSES),
  activatedAt: Time.nullable(),
  activatedBy: z.string().nullable(),
  everActivated: z.boolean(),
  createdAt: Time,
  updatedAt: Time,
});
const DoorView = z.object({
  id: z.string(),
  buildingId: z.string(),
  entranceId: z.string().nullable(),
  name: z.string(),
  code: z.string(),
  location: z.string().nullable(),
  createdAt: Time,
  updatedAt: Time,
});
const RefusalView = z.object({
  code: z.enum(REFUSAL_CODES),
  message: z.string(),
  messageNl: z.string(),
  articles: z.array(z.string()),
});
const FindingView = z.object({
  code: z.enum(FINDING_CODES),
  severity: z.enum(['error', 'warning']),
  message: z.string(),
  messageNl: z.string(),
  articles: z.array(z.string()),
  complexId: z.string(),
  complexName: z.string(),
  targetType: z.enum(['complex', 'entrance', 'camera']),
  targetId: z.string(),
  refusals: z.array(RefusalView).optional(),
});

const seesHidden = (request: FastifyRequest) => requirePrincipal(request).roles.includes(ADMIN_ROLE);

export function registryRoutes(registry: RegistryService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['registry'];

    app.get('/organisation', { schema: { tags, response: { 200: OrganisationView } } }, async (request) => {
      requirePrincipal(request);
      return registry.getOrganisation();
    });

    // --- complexes ---
    app.get(
      '/complexes',
      { schema: { tags, querystring: PageQuery, response: { 200: page(ComplexView) } } },
      async (request) => {
        requirePrincipal(request);
        return registry.listComplexes(request.query);
      },
    );
    app.get(
      '/complexes/:id',
      { schema: { tags, params: IdParams, response: { 200: ComplexView } } },
      async (request) => {
        requirePrincipal(request);
        return registry.getComplex(request.params.id);
      },
    );
    app.post(
      '/complexes',
      { schema: { tags, body: ComplexCreate, response: { 201: ComplexView } } },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await registry.createComplex(actor, request.body));
      },
    );
    app.patch(
      '/complexes/:id',
      { schema: { tags, params: IdParams, body: ComplexPatch, response: { 200: ComplexView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.updateComplex(actor, request.params.id, request.body);
      },
    );
    app.delete('/complexes/:id', { schema: { tags, params: IdParams } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      await registry.deleteComplex(actor, request.params.id);
      return reply.status(204).send();
    });

    // --- buildings ---
    app.get(
      '/buildings',
      { schema: { tags, querystring: BuildingQuery, response: { 200: page(BuildingView) } } },
      async (request) => {
        requirePrincipal(request);
        return registry.listBuildings(request.query);
      },
    );
    app.get(
      '/buildings/:id',
      { schema: { tags, params: IdParams, response: { 200: BuildingView } } },
      async (request) => {
        requirePrincipal(request);
        return registry.getBuilding(request.params.id);
      },
    );
    app.post(
      '/buildings',
      { schema: { tags, body: BuildingCreate, response: { 201: BuildingView } } },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await registry.createBuilding(actor, request.body));
      },
    );
    app.patch(
      '/buildings/:id',
      { schema: { tags, params: IdParams, body: BuildingPatch, response: { 200: BuildingView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.updateBuilding(actor, request.params.id, request.body);
      },
    );
    app.delete('/buildings/:id', { schema: { tags, params: IdParams } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      await registry.deleteBuilding(actor, request.params.id);
      return reply.status(204).send();
    });

    // --- entrances ---
    app.get(
      '/entrances',
      { schema: { tags, querystring: ByBuildingQuery, response: { 200: page(EntranceView) } } },
      async (request) => {
        requirePrincipal(request);
        return registry.listEntrances(request.query);
      },
    );
    app.get(
      '/entrances/:id',
      { schema: { tags, params: IdParams, response: { 200: EntranceView } } },
      async (request) => {
        requirePrincipal(request);
        return registry.getEntrance(request.params.id);
      },
    );
    app.post(
      '/entrances',
      { schema: { tags, body: EntranceCreate, response: { 201: EntranceView } } },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await registry.createEntrance(actor, request.body));
      },
    );
    app.patch(
      '/entrances/:id',
      { schema: { tags, params: IdParams, body: EntrancePatch, response: { 200: EntranceView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.updateEntrance(actor, request.params.id, request.body);
      },
    );
    app.delete('/entrances/:id', { schema: { tags, params: IdParams } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      await registry.deleteEntrance(actor, request.params.id);
      return reply.status(204).send();
    });

    // --- areas ---
    app.get(
      '/areas',
      { schema: { tags, querystring: ByBuildingQuery, response: { 200: page(AreaView) } } },
      async (request) => {
        requirePrincipal(request);
        return registry.listAreas(request.query);
      },
    );
    app.get('/areas/:id', { schema: { tags, params: IdParams, response: { 200: AreaView } } }, async (request) => {
      requirePrincipal(request);
      return registry.getArea(request.params.id);
    });
    app.post('/areas', { schema: { tags, body: AreaCreate, response: { 201: AreaView } } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      return reply.status(201).send(await registry.createArea(actor, request.body));
    });
    app.patch(
      '/areas/:id',
      { schema: { tags, params: IdParams, body: AreaPatch, response: { 200: AreaView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.updateArea(actor, request.params.id, request.body);
      },
    );
    app.delete('/areas/:id', { schema: { tags, params: IdParams } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      await registry.deleteArea(actor, request.params.id);
      return reply.status(204).send();
    });

    // --- cameras ---
    app.get(
      '/cameras',
      { schema: { tags, querystring: CameraQuery, response: { 200: page(CameraView) } } },
      async (request) => {
        return registry.listCameras(request.query, { includeHidden: seesHidden(request) });
      },
    );
    app.get('/cameras/:id', { schema: { tags, params: IdParams, response: { 200: CameraView } } }, async (request) => {
      return registry.getCamera(request.params.id, { includeHidden: seesHidden(request) });
    });
    app.get(
      '/cameras/:id/refusals',
      {
        schema: {
          tags,
          params: IdParams,
          response: { 200: z.object({ activatable: z.boolean(), refusals: z.array(RefusalView) }) },
        },
      },
      async (request) => {
        const refusals = await registry.checkCamera(request.params.id, { includeHidden: seesHidden(request) });
        return { activatable: refusals.length === 0, refusals };
      },
    );
    app.post(
      '/cameras',
      { schema: { tags, body: CameraCreate, response: { 201: CameraView } } },
      async (request, reply) => {
        const actor = actorOf(requireAdmin(request));
        return reply.status(201).send(await registry.createCamera(actor, request.body));
      },
    );
    app.patch(
      '/cameras/:id',
      { schema: { tags, params: IdParams, body: CameraPatch, response: { 200: CameraView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.updateCamera(actor, request.params.id, request.body);
      },
    );
    app.post(
      '/cameras/:id/activate',
      { schema: { tags, params: IdParams, response: { 200: CameraView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.activateCamera(actor, request.params.id);
      },
    );
    app.post(
      '/cameras/:id/deactivate',
      { schema: { tags, params: IdParams, body: DeactivateBody, response: { 200: CameraView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.deactivateCamera(actor, request.params.id, request.body?.reason);
      },
    );
    app.delete('/cameras/:id', { schema: { tags, params: IdParams } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      await registry.deleteCamera(actor, request.params.id);
      return reply.status(204).send();
    });

    // --- doors ---
    app.get(
      '/doors',
      { schema: { tags, querystring: ByBuildingQuery, response: { 200: page(DoorView) } } },
      async (request) => {
        requirePrincipal(request);
        return registry.listDoors(request.query);
      },
    );
    app.get('/doors/:id', { schema: { tags, params: IdParams, response: { 200: DoorView } } }, async (request) => {
      requirePrincipal(request);
      return registry.getDoor(request.params.id);
    });
    app.post('/doors', { schema: { tags, body: DoorCreate, response: { 201: DoorView } } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      return reply.status(201).send(await registry.createDoor(actor, request.body));
    });
    app.patch(
      '/doors/:id',
      { schema: { tags, params: IdParams, body: DoorPatch, response: { 200: DoorView } } },
      async (request) => {
        const actor = actorOf(requireAdmin(request));
        return registry.updateDoor(actor, request.params.id, request.body);
      },
    );
    app.delete('/doors/:id', { schema: { tags, params: IdParams } }, async (request, reply) => {
      const actor = actorOf(requireAdmin(request));
      await registry.deleteDoor(actor, request.params.id);
      return reply.status(204).send();
    });

    // --- compliance ---
    app.get(
      '/compliance/registry',
      {
        schema: {
          tags,
          response: { 200: z.object({ generatedAt: Time, policyId: z.string(), findings: z.array(FindingView) }) },
        },
      },
      async (request) => registry.compliance({ includeHidden: seesHidden(request) }),
    );
  };
}
