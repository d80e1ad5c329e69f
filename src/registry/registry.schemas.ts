/**
 * Input shapes of the registry, shared by the HTTP routes (which validate requests with
 * them) and the service (which parses again, so that a caller that bypasses HTTP, such as
 * the CLI, gets the same checks). Every object is strict: unknown fields are rejected.
 * Strings are trimmed and bounded; secrets (stream URL, password) are not trimmed.
 */
import { z } from 'zod';
import { SURVEILLANCE_GOALS, WORKPLACE_EXCEPTIONS } from '../policy/index.js';

/** Who owns a complex. Only `corporation` complexes are the corporation's responsibility (W intro). */
export const OWNERSHIPS = ['corporation', 'vve', 'commercial', 'social'] as const;
export type Ownership = (typeof OWNERSHIPS)[number];

export const AREA_TYPES = [
  'hall',
  'stairwell',
  'corridor',
  'lift',
  'storage',
  'bicycle-storage',
  'parking',
  'outdoor',
  'reception',
  'office',
  'other',
] as const;
export type AreaType = (typeof AREA_TYPES)[number];

/** `dummy`: a non-working camera (W 3.3); `hidden`: covert recording (W 3.4, M 3.3). */
export const CAMERA_KINDS = ['real', 'dummy', 'hidden'] as const;
export type CameraKind = (typeof CAMERA_KINDS)[number];

export const CAMERA_STATUSES = ['inactive', 'active'] as const;
export type CameraStatus = (typeof CAMERA_STATUSES)[number];

export type WorkplaceException = (typeof WORKPLACE_EXCEPTIONS)[number];

/** Schemes a recorder can pull a stream from. */
export const STREAM_PROTOCOLS = ['rtsp:', 'rtsps:', 'http:', 'https:'] as const;

export const MAX = {
  id: 64,
  code: 64,
  name: 200,
  address: 300,
  location: 500,
  reason: 1000,
  suspicion: 2000,
  dpiaReference: 200,
  streamUrl: 2048,
  username: 200,
  password: 200,
  deactivationReason: 1000,
} as const;

const text = (max: number) => z.string().trim().min(1).max(max);
/** Optional text: absent = leave unchanged (patch) or empty (create); `null` = clear. */
const optionalText = (max: number) => text(max).nullable().optional();
const flag = z.boolean();

export const Id = z.string().trim().min(1).max(MAX.id);
export const IdParams = z.strictObject({ id: Id });

/**
 * A local clip the recorder loops in real time (`file:///abs/clip.ts`), for demonstrations
 * without camera hardware (issue 4). No host: it never leaves the server.
 */
export function isLocalFileUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'file:' && url.hostname === '' && url.pathname.length > 1 && !url.search && !url.hash;
  } catch {
    return false;
  }
}

export function parseStreamUrl(value: string): URL | null {
  try {
    const url = new URL(value);
    if (isLocalFileUrl(value)) return url;
    if (!(STREAM_PROTOCOLS as readonly string[]).includes(url.protocol) || url.hostname === '') return null;
    return url;
  } catch {
    return null;
  }
}

/** Not trimmed (it is a secret) and never echoed back in error messages. */
export const StreamUrl = z
  .string()
  .min(1)
  .max(MAX.streamUrl)
  .refine((value) => parseStreamUrl(value) !== null, {
    message: `expected a URL with a host, scheme one of ${STREAM_PROTOCOLS.join(' ')}, or file:///<absolute path>`,
  });

export const Credentials = z.strictObject({
  username: text(MAX.username),
  password: z.string().min(1).max(MAX.password),
});
export type CredentialsInput = z.output<typeof Credentials>;

export const Paging = {
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};
export const PageQuery = z.strictObject(Paging);
export type Page = z.output<typeof PageQuery>;

const nonEmpty = <T extends Record<string, unknown>>(value: T) => Object.values(value).some((v) => v !== undefined);
const NOTHING = { message: 'nothing to change' };

// --- complexes ---------------------------------------------------------------------------

export const ComplexCreate = z.strictObject({
  code: optionalText(MAX.code),
  name: text(MAX.name),
  address: optionalText(MAX.address),
  ownership: z.enum(OWNERSHIPS),
});
export const ComplexPatch = z
  .strictObject({
    code: optionalText(MAX.code),
    name: text(MAX.name).optional(),
    address: optionalText(MAX.address),
    ownership: z.enum(OWNERSHIPS).optional(),
  })
  .refine(nonEmpty, NOTHING);

// --- buildings ---------------------------------------------------------------------------

export const BuildingCreate = z.strictObject({
  complexId: Id,
  name: text(MAX.name),
  address: optionalText(MAX.address),
});
export const BuildingPatch = z
  .strictObject({ name: text(MAX.name).optional(), address: optionalText(MAX.address) })
  .refine(nonEmpty, NOTHING);
export const BuildingQuery = z.strictObject({ ...Paging, complexId: Id.optional() });

// --- entrances (W 3.2, M 3.2) ------------------------------------------------------------------

export const EntranceCreate = z.strictObject({
  buildingId: Id,
  name: text(MAX.name),
  /** A general entrance door of the building: a sign must be at or visible from it (W 3.2). */
  isGeneralEntrance: flag.default(true),
  signPresent: flag.default(false),
});
export const EntrancePatch = z
  .strictObject({ name: text(MAX.name).optional(), isGeneralEntrance: flag.optional(), signPresent: flag.optional() })
  .refine(nonEmpty, NOTHING);
export const ByBuildingQuery = z.strictObject({ ...Paging, buildingId: Id.optional() });

// --- areas ------------------------------------------------------------------------------

export const AreaCreate = z.strictObject({
  buildingId: Id,
  name: text(MAX.name),
  areaType: z.enum(AREA_TYPES),
  /** Defaults to true for the `outdoor` area type. */
  outdoor: flag.optional(),
});
export const AreaPatch = z
  .strictObject({ name: text(MAX.name).optional(), areaType: z.enum(AREA_TYPES).optional(), outdoor: flag.optional() })
  .refine(nonEmpty, NOTHING);

// --- cameras ----------------------------------------------------------------------------

/** Placement declarations (W 3.5-3.6, M 3.3-3.4). A reason is what `requires-reason` rules ask for. */
export const PlacementInput = z.strictObject({
  insideDwelling: flag.optional(),
  insideDwellingReason: optionalText(MAX.reason),
  aimedAtFrontDoor: flag.optional(),
  frontDoorReason: optionalText(MAX.reason),
  aimedAtWorkplace: flag.optional(),
  workplaceException: z.enum(WORKPLACE_EXCEPTIONS).nullable().optional(),
  workplaceReason: optionalText(MAX.reason),
  showsPublicRoad: flag.optional(),
  publicRoadReason: optionalText(MAX.reason),
  /** Declared outdoor; a camera in an outdoor area is outdoor regardless. */
  outdoor: flag.optional(),
  outdoorReason: optionalText(MAX.reason),
});
export type PlacementPatch = z.output<typeof PlacementInput>;

/** Hidden cameras only (W 3.4, M 3.3). Describe the suspicion without naming people where possible. */
export const HiddenInput = z.strictObject({
  suspicion: optionalText(MAX.suspicion),
  dpiaReference: optionalText(MAX.dpiaReference),
  endDate: z.iso.datetime({ offset: true }).nullable().optional(),
});
export type HiddenPatch = z.output<typeof HiddenInput>;

const Goals = z.array(z.enum(SURVEILLANCE_GOALS)).max(SURVEILLANCE_GOALS.length);

export const CameraCreate = z.strictObject({
  buildingId: Id,
  areaId: Id.nullable().optional(),
  entranceId: Id.nullable().optional(),
  name: text(MAX.name),
  location: optionalText(MAX.location),
  kind: z.enum(CAMERA_KINDS).default('real'),
  goals: Goals.default([]),
  placement: PlacementInput.default({}),
  streamUrl: StreamUrl.nullable().optional(),
  credentials: Credentials.nullable().optional(),
  connectionSecured: flag.default(false),
  hidden: HiddenInput.nullable().optional(),
});
export const CameraPatch = z
  .strictObject({
    buildingId: Id.optional(),
    areaId: Id.nullable().optional(),
    entranceId: Id.nullable().optional(),
    name: text(MAX.name).optional(),
    location: optionalText(MAX.location),
    kind: z.enum(CAMERA_KINDS).optional(),
    goals: Goals.optional(),
    placement: PlacementInput.optional(),
    streamUrl: StreamUrl.nullable().optional(),
    credentials: Credentials.nullable().optional(),
    connectionSecured: flag.optional(),
    hidden: HiddenInput.nullable().optional(),
  })
  .refine(nonEmpty, NOTHING);
export const CameraQuery = z.strictObject({
  ...Paging,
  buildingId: Id.optional(),
  complexId: Id.optional(),
  status: z.enum(CAMERA_STATUSES).optional(),
  kind: z.enum(CAMERA_KINDS).optional(),
});
/** Optional: a POST without a body arrives as null. */
export const DeactivateBody = z.strictObject({ reason: optionalText(MAX.deactivationReason) }).nullish();

// --- doors ------------------------------------------------------------------------------

/** The door controller's code for the door or lock (M 6.6): unique across the installation. */
const DoorCode = text(MAX.code).regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only');

export const DoorCreate = z.strictObject({
  buildingId: Id,
  entranceId: Id.nullable().optional(),
  name: text(MAX.name),
  code: DoorCode,
  location: optionalText(MAX.location),
});
export const DoorPatch = z
  .strictObject({
    buildingId: Id.optional(),
    entranceId: Id.nullable().optional(),
    name: text(MAX.name).optional(),
    code: DoorCode.optional(),
    location: optionalText(MAX.location),
  })
  .refine(nonEmpty, NOTHING);

export type ComplexCreateInput = z.input<typeof ComplexCreate>;
export type ComplexPatchInput = z.input<typeof ComplexPatch>;
export type BuildingCreateInput = z.input<typeof BuildingCreate>;
export type BuildingPatchInput = z.input<typeof BuildingPatch>;
export type EntranceCreateInput = z.input<typeof EntranceCreate>;
export type EntrancePatchInput = z.input<typeof EntrancePatch>;
export type AreaCreateInput = z.input<typeof AreaCreate>;
export type AreaPatchInput = z.input<typeof AreaPatch>;
export type CameraCreateInput = z.input<typeof CameraCreate>;
export type CameraPatchInput = z.input<typeof CameraPatch>;
export type DoorCreateInput = z.input<typeof DoorCreate>;
export type DoorPatchInput = z.input<typeof DoorPatch>;
