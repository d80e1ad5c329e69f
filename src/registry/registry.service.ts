/**
 * The registry: complexes, buildings, entrances, areas, cameras and doors. Each change runs
 * in one short transaction together with its audit record; camera activation applies the
 * protocol rules of registry.rules.ts to the policy in force.
 *
 * Secrets: stream URLs and camera credentials are encrypted at rest (encryptText) and never
 * leave this service except through decryptStream, which is for the recorder only and has
 * no HTTP route. Views and audit records show "[set]" / "[changed]" instead.
 */
import { parseInput } from '../lib/validation.js';
import type { Kysely } from 'kysely';
import { SYSTEM_ACTOR, type Actor, type AuditTrail } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { conflict, invalid, notFound, refused } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { decryptText, encryptText } from '../lib/secrets.js';
import type { Policy } from '../policy/index.js';
import * as repo from './registry.repository.js';
import type {
  AreaRecord,
  BuildingRecord,
  CameraRecord,
  ComplexRecord,
  DoorRecord,
  EntranceRecord,
  Executor,
  OrganisationRecord,
  PageResult,
} from './registry.repository.js';
import {
  activationRefusals,
  complianceFindings,
  EMPTY_PLACEMENT,
  RESPONSIBLE_OWNERSHIP,
  type CameraFacts,
  type Finding,
  type Placement,
  type Refusal,
} from './registry.rules.js';
import {
  AreaCreate,
  AreaPatch,
  BuildingCreate,
  BuildingPatch,
  BuildingQuery,
  ByBuildingQuery,
  CameraCreate,
  CameraPatch,
  CameraQuery,
  ComplexCreate,
  ComplexPatch,
  DoorCreate,
  DoorPatch,
  EntranceCreate,
  EntrancePatch,
  PageQuery,
  isLocalFileUrl,
  parseStreamUrl,
  type AreaCreateInput,
  type AreaPatchInput,
  type BuildingCreateInput,
  type BuildingPatchInput,
  type CameraCreateInput,
  type CameraKind,
  type CameraPatchInput,
  type CameraStatus,
  type ComplexCreateInput,
  type ComplexPatchInput,
  type CredentialsInput,
  type DoorCreateInput,
  type DoorPatchInput,
  type EntranceCreateInput,
  type EntrancePatchInput,
  type HiddenPatch,
  type PlacementPatch,
} from './registry.schemas.js';

export interface RegistryDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
  encryptionKey: Buffer;
}

// --- views ------------------------------------------------------------------------------------

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export interface OrganisationView {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}
export interface ComplexView {
  id: string;
  organisationId: string;
  code: string | null;
  name: string;
  address: string | null;
  ownership: string;
  /** Only the corporation's own complexes are its responsibility (W intro). */
  responsible: boolean;
  createdAt: string;
  updatedAt: string;
}
export interface BuildingView {
  id: string;
  complexId: string;
  name: string;
  address: string | null;
  createdAt: string;
  updatedAt: string;
}
export interface EntranceView {
  id: string;
  buildingId: string;
  name: string;
  isGeneralEntrance: boolean;
  signPresent: boolean;
  createdAt: string;
  updatedAt: string;
}
export interface AreaView {
  id: string;
  buildingId: string;
  name: string;
  areaType: string;
  outdoor: boolean;
  createdAt: string;
  updatedAt: string;
}
export interface CameraView {
  id: string;
  buildingId: string;
  areaId: string | null;
  entranceId: string | null;
  name: string;
  location: string | null;
  kind: CameraKind;
  goals: string[];
  placement: Placement;
  streamUrlSet: boolean;
  /** Scheme, host and port only, e.g. `rtsp://cam1.local:554/…`: no user, password, path or query. */
  streamHost: string | null;
  credentialsSet: boolean;
  connectionSecured: boolean;
  hidden: { suspicion: string | null; dpiaReference: string | null; endDate: string | null } | null;
  status: CameraStatus;
  activatedAt: string | null;
  activatedBy: string | null;
  /** Once activated, a camera is never deleted, only deactivated. */
  everActivated: boolean;
  createdAt: string;
  updatedAt: string;
}
export interface DoorView {
  id: string;
  buildingId: string;
  entranceId: string | null;
  name: string;
  code: string;
  location: string | null;
  createdAt: string;
  updatedAt: string;
}
export interface ComplianceReport {
  generatedAt: string;
  policyId: string;
  findings: Finding[];
}
export interface StreamSecrets {
  streamUrl: string | null;
  credentials: CredentialsInput | null;
}

const organisationView = (r: OrganisationRecord): OrganisationView => ({
  ...r,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
});
const complexView = (r: ComplexRecord): ComplexView => ({
  ...r,
  responsible: r.ownership === RESPONSIBLE_OWNERSHIP,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
});
const buildingView = (r: BuildingRecord): BuildingView => ({
  ...r,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
});
const entranceView = (r: EntranceRecord): EntranceView => ({
  ...r,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
});
const areaView = (r: AreaRecord): AreaView => ({ ...r, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt) });
const doorView = (r: DoorRecord): DoorView => ({ ...r, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt) });

/** `rtsp://user:pw@cam1.local:554/stream?token=x` → `rtsp://cam1.local:554/…`. */
export function redactStreamUrl(url: string): string | null {
  const parsed = parseStreamUrl(url);
  if (!parsed) return null;
  return `${parsed.protocol}//${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}/…`;
}

type SecretChange = 'unchanged' | 'changed';

/**
 * What the audit trail sees of a camera: everything except secrets, which become "[set]"
 * or "[changed]", and the suspicion behind a hidden camera, which may concern a named
 * employee and so stays out of the append-only trail ("[set]"/"[changed]").
 */
function cameraAuditView(
  r: CameraRecord,
  changes: { streamUrl?: SecretChange; credentials?: SecretChange; suspicion?: SecretChange } = {},
) {
  const secret = (value: string | null, change: SecretChange | undefined) =>
    value === null ? null : change === 'changed' ? '[changed]' : '[set]';
  return {
    name: r.name,
    location: r.location,
    buildingId: r.buildingId,
    areaId: r.areaId,
    entranceId: r.entranceId,
    kind: r.kind,
    goals: r.goals,
    placement: r.placement,
    streamUrl: secret(r.streamUrlEnc, changes.streamUrl),
    credentials: secret(r.credentialsEnc, changes.credentials),
    connectionSecured: r.connectionSecured,
    hidden:
      r.kind === 'hidden'
        ? {
            suspicion: secret(r.hiddenSuspicion, changes.suspicion),
            dpiaReference: r.hiddenDpiaReference,
            endDate: isoOrNull(r.hiddenEndDate),
          }
        : null,
    status: r.status,
  };
}

function mergePlacement(base: Placement, patch: PlacementPatch | undefined): Placement {
  const next: Placement = { ...base };
  if (!patch) return next;
  for (const [key, value] of Object.entries(patch) as [keyof Placement, unknown][]) {
    if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
  }
  return next;
}

const pick = <T>(value: T | undefined, current: T): T => (value === undefined ? current : value);
const sameRefusal = (a: Refusal, b: Refusal) => a.code === b.code && a.message === b.message;

export class RegistryService {
  constructor(private readonly deps: RegistryDeps) {}

  private tx<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.deps.db.transaction().execute(fn);
  }

  private encrypt(text: string): string {
    return encryptText(this.deps.encryptionKey, text);
  }

  private tryDecrypt(sealed: string | null): string | null {
    if (sealed === null) return null;
    try {
      return decryptText(this.deps.encryptionKey, sealed);
    } catch {
      return null; // unreadable (e.g. another key): treated as not set
    }
  }

  private credentialsOf(r: CameraRecord): CredentialsInput | null {
    const text = this.tryDecrypt(r.credentialsEnc);
    if (text === null) return null;
    try {
      return JSON.parse(text) as CredentialsInput;
    } catch {
      return null;
    }
  }

  private cameraView(r: CameraRecord): CameraView {
    const url = this.tryDecrypt(r.streamUrlEnc);
    return {
      id: r.id,
      buildingId: r.buildingId,
      areaId: r.areaId,
      entranceId: r.entranceId,
      name: r.name,
      location: r.location,
      kind: r.kind,
      goals: r.goals,
      placement: r.placement,
      streamUrlSet: r.streamUrlEnc !== null,
      streamHost: url === null ? null : redactStreamUrl(url),
      credentialsSet: r.credentialsEnc !== null,
      connectionSecured: r.connectionSecured,
      hidden:
        r.kind === 'hidden'
          ? { suspicion: r.hiddenSuspicion, dpiaReference: r.hiddenDpiaReference, endDate: isoOrNull(r.hiddenEndDate) }
          : null,
      status: r.status,
      activatedAt: isoOrNull(r.activatedAt),
      activatedBy: r.activatedBy,
      everActivated: r.activatedAt !== null,
      createdAt: iso(r.createdAt),
      updatedAt: iso(r.updatedAt),
    };
  }

  private cameraFacts(r: CameraRecord, areaOutdoor: boolean | null): CameraFacts {
    const url = this.tryDecrypt(r.streamUrlEnc);
    const credentials = this.credentialsOf(r);
    const urlPassword = url !== null && (parseStreamUrl(url)?.password ?? '') !== '';
    // A local clip (the demo's `file` source) crosses no network: the password and secured
    // connection rules for network cameras are met by construction.
    const localFile = url !== null && isLocalFileUrl(url);
    return {
      kind: r.kind,
      status: r.status,
      goals: r.goals,
      placement: r.placement,
      areaOutdoor,
      streamUrlSet: url !== null,
      passwordSet: Boolean(credentials?.password) || urlPassword || localFile,
      connectionSecured: r.connectionSecured || localFile,
      hidden: { suspicion: r.hiddenSuspicion, dpiaReference: r.hiddenDpiaReference, endDate: r.hiddenEndDate },
      activatedAt: r.activatedAt,
    };
  }

  private async loadCameraFacts(db: Executor, r: CameraRecord): Promise<CameraFacts> {
    const area = r.areaId ? await repo.findArea(db, r.areaId) : null;
    return this.cameraFacts(r, area ? area.outdoor : null);
  }

  // --- lookups that throw ---

  private async requireComplex(db: Executor, id: string): Promise<ComplexRecord> {
    const complex = await repo.findComplex(db, id);
    if (!complex) throw notFound('complex-not-found', 'No such complex');
    return complex;
  }

  private async requireBuilding(db: Executor, id: string): Promise<BuildingRecord> {
    const building = await repo.findBuilding(db, id);
    if (!building) throw notFound('building-not-found', 'No such building');
    return building;
  }

  private async requireEntrance(db: Executor, id: string): Promise<EntranceRecord> {
    const entrance = await repo.findEntrance(db, id);
    if (!entrance) throw notFound('entrance-not-found', 'No such entrance');
    return entrance;
  }

  private async requireArea(db: Executor, id: string): Promise<AreaRecord> {
    const area = await repo.findArea(db, id);
    if (!area) throw notFound('area-not-found', 'No such area');
    return area;
  }

  private async requireCamera(db: Executor, id: string, includeHidden = true): Promise<CameraRecord> {
    const camera = await repo.findCamera(db, id);
    // Hidden cameras do not exist for those who may not see them (W 3.4).
    if (!camera || (camera.kind === 'hidden' && !includeHidden)) throw notFound('camera-not-found', 'No such camera');
    return camera;
  }

  private async requireDoor(db: Executor, id: string): Promise<DoorRecord> {
    const door = await repo.findDoor(db, id);
    if (!door) throw notFound('door-not-found', 'No such door');
    return door;
  }

  /** An area or entrance referred to by a camera or door must exist and be in the same building. */
  private async checkPlaceInBuilding(
    db: Executor,
    buildingId: string,
    areaId: string | null,
    entranceId: string | null,
  ) {
    if (areaId !== null) {
      const area = await this.requireArea(db, areaId);
      if (area.buildingId !== buildingId)
        throw invalid('area-not-in-building', 'The area is not in the given building');
    }
    if (entranceId !== null) {
      const entrance = await this.requireEntrance(db, entranceId);
      if (entrance.buildingId !== buildingId)
        throw invalid('entrance-not-in-building', 'The entrance is not in the given building');
    }
  }

  // --- organisation ---

  /** The one organisation of this installation; created (and audited) if missing. */
  async ensureOrganisation(name: string, actor: Actor = SYSTEM_ACTOR): Promise<OrganisationView> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 200)
      throw invalid('organisation-name-invalid', 'The organisation name must be 1 to 200 characters');
    return this.tx(async (trx) => {
      const existing = await repo.findOrganisation(trx);
      if (existing) return organisationView(existing);
      const now = this.deps.clock.now();
      const record: OrganisationRecord = { id: newId(), name: trimmed, createdAt: now, updatedAt: now };
      await repo.insertOrganisation(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'organisation.created',
        targetType: 'organisation',
        targetId: record.id,
        after: { name: record.name },
      });
      return organisationView(record);
    });
  }

  async getOrganisation(): Promise<OrganisationView> {
    const organisation = await repo.findOrganisation(this.deps.db);
    if (!organisation) throw notFound('organisation-not-found', 'The organisation has not been set up yet');
    return organisationView(organisation);
  }

  // --- complexes ---

  async listComplexes(page: unknown = {}): Promise<PageResult<ComplexView>> {
    const result = await repo.listComplexes(this.deps.db, parseInput(PageQuery, page));
    return { items: result.items.map(complexView), nextOffset: result.nextOffset };
  }

  async getComplex(id: string): Promise<ComplexView> {
    return complexView(await this.requireComplex(this.deps.db, id));
  }

  async createComplex(actor: Actor, input: ComplexCreateInput): Promise<ComplexView> {
    const data = parseInput(ComplexCreate, input);
    return this.tx(async (trx) => {
      const organisation = await repo.findOrganisation(trx);
      if (!organisation) throw conflict('organisation-missing', 'The organisation has not been set up yet');
      if (data.code && (await repo.findComplexByCode(trx, data.code)))
        throw conflict('complex-code-taken', 'Another complex has this code');
      const now = this.deps.clock.now();
      const record: ComplexRecord = {
        id: newId(),
        organisationId: organisation.id,
        code: data.code ?? null,
        name: data.name,
        address: data.address ?? null,
        ownership: data.ownership,
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertComplex(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'complex.created',
        targetType: 'complex',
        targetId: record.id,
        after: complexView(record),
      });
      return complexView(record);
    });
  }

  /** A complex with active cameras cannot become someone else's (W intro): deactivate them first. */
  async updateComplex(actor: Actor, id: string, input: ComplexPatchInput): Promise<ComplexView> {
    const data = parseInput(ComplexPatch, input);
    return this.tx(async (trx) => {
      const current = await repo.lockComplex(trx, id);
      if (!current) throw notFound('complex-not-found', 'No such complex');
      const next: ComplexRecord = {
        ...current,
        code: pick(data.code, current.code),
        name: pick(data.name, current.name),
        address: pick(data.address, current.address),
        ownership: pick(data.ownership, current.ownership),
        updatedAt: this.deps.clock.now(),
      };
      if (next.code && next.code !== current.code) {
        const other = await repo.findComplexByCode(trx, next.code);
        if (other && other.id !== id) throw conflict('complex-code-taken', 'Another complex has this code');
      }
      if (next.ownership !== RESPONSIBLE_OWNERSHIP && current.ownership === RESPONSIBLE_OWNERSHIP) {
        const active = await repo.countActiveCamerasInComplex(trx, id);
        if (active > 0) {
          throw refused(
            'complex-has-active-cameras',
            `The complex has ${active} active camera(s); deactivate them before it stops being the corporation's responsibility (W intro)`,
            { activeCameras: active, articles: ['W intro'] },
          );
        }
      }
      await repo.updateComplex(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'complex.updated',
        targetType: 'complex',
        targetId: id,
        before: complexView(current),
        after: complexView(next),
      });
      return complexView(next);
    });
  }

  async deleteComplex(actor: Actor, id: string): Promise<void> {
    await this.tx(async (trx) => {
      const current = await repo.lockComplex(trx, id);
      if (!current) throw notFound('complex-not-found', 'No such complex');
      if ((await repo.countBuildingsInComplex(trx, id)) > 0)
        throw conflict('complex-not-empty', 'Delete or move the buildings of this complex first');
      await repo.deleteComplex(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'complex.deleted',
        targetType: 'complex',
        targetId: id,
        before: complexView(current),
      });
    });
  }

  // --- buildings ---

  async listBuildings(query: unknown = {}): Promise<PageResult<BuildingView>> {
    const { complexId, ...page } = parseInput(BuildingQuery, query);
    const result = await repo.listBuildings(this.deps.db, page, { complexId });
    return { items: result.items.map(buildingView), nextOffset: result.nextOffset };
  }

  async getBuilding(id: string): Promise<BuildingView> {
    return buildingView(await this.requireBuilding(this.deps.db, id));
  }

  async createBuilding(actor: Actor, input: BuildingCreateInput): Promise<BuildingView> {
    const data = parseInput(BuildingCreate, input);
    return this.tx(async (trx) => {
      await this.requireComplex(trx, data.complexId);
      const now = this.deps.clock.now();
      const record: BuildingRecord = {
        id: newId(),
        complexId: data.complexId,
        name: data.name,
        address: data.address ?? null,
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertBuilding(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'building.created',
        targetType: 'building',
        targetId: record.id,
        after: buildingView(record),
      });
      return buildingView(record);
    });
  }

  async updateBuilding(actor: Actor, id: string, input: BuildingPatchInput): Promise<BuildingView> {
    const data = parseInput(BuildingPatch, input);
    return this.tx(async (trx) => {
      const current = await this.requireBuilding(trx, id);
      const next: BuildingRecord = {
        ...current,
        name: pick(data.name, current.name),
        address: pick(data.address, current.address),
        updatedAt: this.deps.clock.now(),
      };
      await repo.updateBuilding(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'building.updated',
        targetType: 'building',
        targetId: id,
        before: buildingView(current),
        after: buildingView(next),
      });
      return buildingView(next);
    });
  }

  async deleteBuilding(actor: Actor, id: string): Promise<void> {
    await this.tx(async (trx) => {
      const current = await this.requireBuilding(trx, id);
      const contents = await repo.countBuildingContents(trx, id);
      if (Object.values(contents).some((n) => n > 0)) {
        throw conflict('building-not-empty', 'Delete the entrances, areas, cameras and doors of this building first', {
          contents,
        });
      }
      await repo.deleteBuilding(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'building.deleted',
        targetType: 'building',
        targetId: id,
        before: buildingView(current),
      });
    });
  }

  // --- entrances ---

  async listEntrances(query: unknown = {}): Promise<PageResult<EntranceView>> {
    const { buildingId, ...page } = parseInput(ByBuildingQuery, query);
    const result = await repo.listEntrances(this.deps.db, page, { buildingId });
    return { items: result.items.map(entranceView), nextOffset: result.nextOffset };
  }

  async getEntrance(id: string): Promise<EntranceView> {
    return entranceView(await this.requireEntrance(this.deps.db, id));
  }

  async createEntrance(actor: Actor, input: EntranceCreateInput): Promise<EntranceView> {
    const data = parseInput(EntranceCreate, input);
    return this.tx(async (trx) => {
      await this.requireBuilding(trx, data.buildingId);
      const now = this.deps.clock.now();
      const record: EntranceRecord = {
        id: newId(),
        buildingId: data.buildingId,
        name: data.name,
        isGeneralEntrance: data.isGeneralEntrance,
        signPresent: data.signPresent,
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertEntrance(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'entrance.created',
        targetType: 'entrance',
        targetId: record.id,
        after: entranceView(record),
      });
      return entranceView(record);
    });
  }

  async updateEntrance(actor: Actor, id: string, input: EntrancePatchInput): Promise<EntranceView> {
    const data = parseInput(EntrancePatch, input);
    return this.tx(async (trx) => {
      const current = await this.requireEntrance(trx, id);
      const next: EntranceRecord = {
        ...current,
        name: pick(data.name, current.name),
        isGeneralEntrance: pick(data.isGeneralEntrance, current.isGeneralEntrance),
        signPresent: pick(data.signPresent, current.signPresent),
        updatedAt: this.deps.clock.now(),
      };
      await repo.updateEntrance(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'entrance.updated',
        targetType: 'entrance',
        targetId: id,
        before: entranceView(current),
        after: entranceView(next),
      });
      return entranceView(next);
    });
  }

  async deleteEntrance(actor: Actor, id: string): Promise<void> {
    await this.tx(async (trx) => {
      const current = await this.requireEntrance(trx, id);
      const uses = await repo.countEntranceUses(trx, id);
      if (uses.cameras > 0 || uses.doors > 0)
        throw conflict('entrance-in-use', 'Cameras or doors still refer to this entrance', { uses });
      await repo.deleteEntrance(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'entrance.deleted',
        targetType: 'entrance',
        targetId: id,
        before: entranceView(current),
      });
    });
  }

  // --- areas ---

  async listAreas(query: unknown = {}): Promise<PageResult<AreaView>> {
    const { buildingId, ...page } = parseInput(ByBuildingQuery, query);
    const result = await repo.listAreas(this.deps.db, page, { buildingId });
    return { items: result.items.map(areaView), nextOffset: result.nextOffset };
  }

  async getArea(id: string): Promise<AreaView> {
    return areaView(await this.requireArea(this.deps.db, id));
  }

  async createArea(actor: Actor, input: AreaCreateInput): Promise<AreaView> {
    const data = parseInput(AreaCreate, input);
    return this.tx(async (trx) => {
      await this.requireBuilding(trx, data.buildingId);
      const now = this.deps.clock.now();
      const record: AreaRecord = {
        id: newId(),
        buildingId: data.buildingId,
        name: data.name,
        areaType: data.areaType,
        outdoor: data.outdoor ?? data.areaType === 'outdoor',
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertArea(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'area.created',
        targetType: 'area',
        targetId: record.id,
        after: areaView(record),
      });
      return areaView(record);
    });
  }

  /** Making an area outdoor is refused if an active camera in it would then break a rule (M 3.4). */
  async updateArea(actor: Actor, id: string, input: AreaPatchInput): Promise<AreaView> {
    const data = parseInput(AreaPatch, input);
    const policy = this.deps.policy();
    const outcome = await this.tx(async (trx) => {
      const current = await this.requireArea(trx, id);
      const building = await this.requireBuilding(trx, current.buildingId);
      const complex = await repo.lockComplex(trx, building.complexId);
      if (!complex) throw notFound('complex-not-found', 'No such complex');
      const now = this.deps.clock.now();
      const next: AreaRecord = {
        ...current,
        name: pick(data.name, current.name),
        areaType: pick(data.areaType, current.areaType),
        outdoor: pick(data.outdoor, current.outdoor),
        updatedAt: now,
      };
      if (next.outdoor !== current.outdoor) {
        const broken: { cameraId: string; name: string; refusals: Refusal[] }[] = [];
        for (const camera of await repo.listActiveCamerasInArea(trx, id)) {
          const before = activationRefusals(this.cameraFacts(camera, current.outdoor), complex, policy, now);
          const after = activationRefusals(this.cameraFacts(camera, next.outdoor), complex, policy, now);
          const added = after.filter((r) => !before.some((b) => sameRefusal(r, b)));
          if (added.length) broken.push({ cameraId: camera.id, name: camera.name, refusals: added });
        }
        if (broken.length) return { broken };
      }
      await repo.updateArea(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'area.updated',
        targetType: 'area',
        targetId: id,
        before: areaView(current),
        after: areaView(next),
      });
      return { area: next };
    });
    if (outcome.broken) {
      throw refused('area-update-refused', 'Active cameras in this area would break the protocol after this change', {
        cameras: outcome.broken,
      });
    }
    return areaView(outcome.area);
  }

  async deleteArea(actor: Actor, id: string): Promise<void> {
    await this.tx(async (trx) => {
      const current = await this.requireArea(trx, id);
      if ((await repo.countCamerasInArea(trx, id)) > 0)
        throw conflict('area-in-use', 'Cameras still refer to this area');
      await repo.deleteArea(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'area.deleted',
        targetType: 'area',
        targetId: id,
        before: areaView(current),
      });
    });
  }

  // --- cameras ---

  async listCameras(
    query: unknown = {},
    options: { includeHidden: boolean } = { includeHidden: true },
  ): Promise<PageResult<CameraView>> {
    const { buildingId, complexId, status, kind, ...page } = parseInput(CameraQuery, query);
    const result = await repo.listCameras(this.deps.db, page, {
      buildingId,
      complexId,
      status,
      kind,
      includeHidden: options.includeHidden,
    });
    return { items: result.items.map((r) => this.cameraView(r)), nextOffset: result.nextOffset };
  }

  async getCamera(id: string, options: { includeHidden: boolean } = { includeHidden: true }): Promise<CameraView> {
    return this.cameraView(await this.requireCamera(this.deps.db, id, options.includeHidden));
  }

  /** Every reason the camera may not record now; empty = it may be activated. */
  async checkCamera(id: string, options: { includeHidden: boolean } = { includeHidden: true }): Promise<Refusal[]> {
    const db = this.deps.db;
    const camera = await this.requireCamera(db, id, options.includeHidden);
    const building = await this.requireBuilding(db, camera.buildingId);
    const complex = await this.requireComplex(db, building.complexId);
    return activationRefusals(
      await this.loadCameraFacts(db, camera),
      complex,
      this.deps.policy(),
      this.deps.clock.now(),
    );
  }

  /** Registers a camera, always inactive. Cameras of VvE, commercial or social complexes may be registered for the record. */
  async createCamera(actor: Actor, input: CameraCreateInput): Promise<CameraView> {
    const data = parseInput(CameraCreate, input);
    if (data.hidden && data.kind !== 'hidden') {
      throw invalid(
        'hidden-fields-only-for-hidden-cameras',
        'Suspicion, DPIA reference and end date belong to hidden cameras only',
      );
    }
    return this.tx(async (trx) => {
      await this.requireBuilding(trx, data.buildingId);
      await this.checkPlaceInBuilding(trx, data.buildingId, data.areaId ?? null, data.entranceId ?? null);
      const now = this.deps.clock.now();
      const hidden = data.hidden ?? {};
      const record: CameraRecord = {
        id: newId(),
        buildingId: data.buildingId,
        areaId: data.areaId ?? null,
        entranceId: data.entranceId ?? null,
        name: data.name,
        location: data.location ?? null,
        kind: data.kind,
        goals: [...new Set(data.goals)],
        placement: mergePlacement(EMPTY_PLACEMENT, data.placement),
        streamUrlEnc: data.streamUrl ? this.encrypt(data.streamUrl) : null,
        credentialsEnc: data.credentials ? this.encrypt(JSON.stringify(data.credentials)) : null,
        connectionSecured: data.connectionSecured,
        hiddenSuspicion: hidden.suspicion ?? null,
        hiddenDpiaReference: hidden.dpiaReference ?? null,
        hiddenEndDate: hidden.endDate ? Date.parse(hidden.endDate) : null,
        status: 'inactive',
        activatedAt: null,
        activatedBy: null,
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertCamera(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'camera.created',
        targetType: 'camera',
        targetId: record.id,
        after: cameraAuditView(record),
      });
      return this.cameraView(record);
    });
  }

  /**
   * Edits a camera. For an active camera the rules run again on the result: an edit that
   * would add a reason why the camera may not record is refused (`camera-update-refused`,
   * audited as refused). Edits that leave existing problems as they are (e.g. fixing
   * another one) pass, so a camera that breaks a rule after a policy change can be fixed.
   */
  async updateCamera(actor: Actor, id: string, input: CameraPatchInput): Promise<CameraView> {
    const data = parseInput(CameraPatch, input);
    const policy = this.deps.policy();
    const outcome = await this.tx(async (trx) => {
      const found = await this.requireCamera(trx, id);
      const oldBuilding = await this.requireBuilding(trx, found.buildingId);
      const newBuilding =
        data.buildingId && data.buildingId !== found.buildingId
          ? await this.requireBuilding(trx, data.buildingId)
          : oldBuilding;
      // Lock order everywhere: complex(es), then camera.
      for (const complexId of [...new Set([oldBuilding.complexId, newBuilding.complexId])].sort())
        await repo.lockComplex(trx, complexId);
      const current = await repo.lockCamera(trx, id);
      if (!current) throw notFound('camera-not-found', 'No such camera');
      const now = this.deps.clock.now();
      const kind = data.kind ?? current.kind;
      if (data.hidden && kind !== 'hidden') {
        throw invalid(
          'hidden-fields-only-for-hidden-cameras',
          'Suspicion, DPIA reference and end date belong to hidden cameras only',
        );
      }
      const hidden: HiddenPatch =
        data.hidden === null ? { suspicion: null, dpiaReference: null, endDate: null } : (data.hidden ?? {});
      const next: CameraRecord = {
        ...current,
        buildingId: newBuilding.id,
        areaId: pick(data.areaId, current.areaId),
        entranceId: pick(data.entranceId, current.entranceId),
        name: pick(data.name, current.name),
        location: pick(data.location, current.location),
        kind,
        goals: data.goals ? [...new Set(data.goals)] : current.goals,
        placement: mergePlacement(current.placement, data.placement),
        streamUrlEnc:
          data.streamUrl === undefined
            ? current.streamUrlEnc
            : data.streamUrl === null
              ? null
              : this.encrypt(data.streamUrl),
        credentialsEnc:
          data.credentials === undefined
            ? current.credentialsEnc
            : data.credentials === null
              ? null
              : this.encrypt(JSON.stringify(data.credentials)),
        connectionSecured: pick(data.connectionSecured, current.connectionSecured),
        hiddenSuspicion: kind === 'hidden' ? pick(hidden.suspicion, current.hiddenSuspicion) : null,
        hiddenDpiaReference: kind === 'hidden' ? pick(hidden.dpiaReference, current.hiddenDpiaReference) : null,
        hiddenEndDate:
          kind !== 'hidden'
            ? null
            : hidden.endDate === undefined
              ? current.hiddenEndDate
              : hidden.endDate === null
                ? null
                : Date.parse(hidden.endDate),
        updatedAt: now,
      };
      await this.checkPlaceInBuilding(trx, next.buildingId, next.areaId, next.entranceId);
      const changes = {
        streamUrl: typeof data.streamUrl === 'string' ? ('changed' as const) : ('unchanged' as const),
        credentials: data.credentials ? ('changed' as const) : ('unchanged' as const),
        suspicion: next.hiddenSuspicion !== current.hiddenSuspicion ? ('changed' as const) : ('unchanged' as const),
      };
      if (current.status === 'active') {
        const oldComplex = await this.requireComplex(trx, oldBuilding.complexId);
        const newComplex = await this.requireComplex(trx, newBuilding.complexId);
        const before = activationRefusals(await this.loadCameraFacts(trx, current), oldComplex, policy, now);
        const after = activationRefusals(await this.loadCameraFacts(trx, next), newComplex, policy, now);
        const added = after.filter((r) => !before.some((b) => sameRefusal(r, b)));
        if (added.length) {
          await this.deps.audit.record(trx, {
            actor,
            action: 'camera.updated',
            outcome: 'refused',
            targetType: 'camera',
            targetId: id,
            before: cameraAuditView(current),
            after: cameraAuditView(next, changes),
            context: { refusals: added.map((r) => r.code) },
          });
          return { refusals: added };
        }
      }
      await repo.updateCamera(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'camera.updated',
        targetType: 'camera',
        targetId: id,
        before: cameraAuditView(current),
        after: cameraAuditView(next, changes),
      });
      return { camera: next };
    });
    if (outcome.refusals) {
      throw refused(
        'camera-update-refused',
        `The camera is active and this change breaks the protocol: ${outcome.refusals.map((r) => r.message).join(' ')}`,
        {
          refusals: outcome.refusals,
        },
      );
    }
    return this.cameraView(outcome.camera);
  }

  /**
   * Switches recording on, only if no rule refuses it. A refused attempt is audited with
   * outcome `refused` and answered with `activation-refused` listing every reason.
   */
  async activateCamera(actor: Actor, id: string): Promise<CameraView> {
    const policy = this.deps.policy();
    const outcome = await this.tx(async (trx) => {
      const found = await this.requireCamera(trx, id);
      const building = await this.requireBuilding(trx, found.buildingId);
      const complex = await repo.lockComplex(trx, building.complexId);
      if (!complex) throw notFound('complex-not-found', 'No such complex');
      const current = await repo.lockCamera(trx, id);
      if (!current) throw notFound('camera-not-found', 'No such camera');
      if (current.status === 'active') throw conflict('camera-already-active', 'The camera is already active');
      const now = this.deps.clock.now();
      const refusals = activationRefusals(await this.loadCameraFacts(trx, current), complex, policy, now);
      if (refusals.length) {
        await this.deps.audit.record(trx, {
          actor,
          action: 'camera.activated',
          outcome: 'refused',
          targetType: 'camera',
          targetId: id,
          before: cameraAuditView(current),
          context: { refusals: refusals.map((r) => r.code), policy: policy.id },
        });
        return { refusals };
      }
      const next: CameraRecord = {
        ...current,
        status: 'active',
        activatedAt: now,
        activatedBy: actor.id ?? actor.label,
        updatedAt: now,
      };
      await repo.updateCamera(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'camera.activated',
        targetType: 'camera',
        targetId: id,
        before: cameraAuditView(current),
        after: cameraAuditView(next),
        context: { policy: policy.id },
      });
      return { camera: next };
    });
    if (outcome.refusals) {
      throw refused(
        'activation-refused',
        `The camera cannot be activated: ${outcome.refusals.map((r) => r.message).join(' ')}`,
        {
          refusals: outcome.refusals,
        },
      );
    }
    return this.cameraView(outcome.camera);
  }

  async deactivateCamera(actor: Actor, id: string, reason?: string | null): Promise<CameraView> {
    return this.tx(async (trx) => {
      await this.requireCamera(trx, id);
      const current = await repo.lockCamera(trx, id);
      if (!current) throw notFound('camera-not-found', 'No such camera');
      if (current.status !== 'active') throw conflict('camera-not-active', 'The camera is not active');
      const next: CameraRecord = { ...current, status: 'inactive', updatedAt: this.deps.clock.now() };
      await repo.updateCamera(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'camera.deactivated',
        targetType: 'camera',
        targetId: id,
        before: cameraAuditView(current),
        after: cameraAuditView(next),
        context: reason ? { reason } : undefined,
      });
      return this.cameraView(next);
    });
  }

  /** Only cameras that never recorded can be deleted; others are deactivated and stay on record. */
  async deleteCamera(actor: Actor, id: string): Promise<void> {
    await this.tx(async (trx) => {
      await this.requireCamera(trx, id);
      const current = await repo.lockCamera(trx, id);
      if (!current) throw notFound('camera-not-found', 'No such camera');
      if (current.activatedAt !== null) {
        throw conflict(
          'camera-was-active',
          'A camera that was ever active is kept on record; deactivate it instead of deleting it',
        );
      }
      await repo.deleteCamera(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'camera.deleted',
        targetType: 'camera',
        targetId: id,
        before: cameraAuditView(current),
      });
    });
  }

  /** Active hidden cameras at or past their end date (W 3.4, M 3.3): for a scheduled job to deactivate. */
  async findExpiredHiddenCameras(now: number): Promise<CameraView[]> {
    return (await repo.listExpiredHiddenCameras(this.deps.db, now)).map((r) => this.cameraView(r));
  }

  /**
   * The decrypted stream address and credentials, for the recorder only (no HTTP route).
   * Refused for a camera that is not active or a hidden camera past its end date.
   */
  async decryptStream(cameraId: string): Promise<StreamSecrets> {
    const camera = await this.requireCamera(this.deps.db, cameraId);
    if (camera.status !== 'active') throw conflict('camera-not-active', 'The camera is not active');
    if (camera.kind === 'hidden' && camera.hiddenEndDate !== null && camera.hiddenEndDate <= this.deps.clock.now()) {
      throw refused('hidden-camera-expired', 'The hidden camera is past its end date');
    }
    return { streamUrl: this.tryDecrypt(camera.streamUrlEnc), credentials: this.credentialsOf(camera) };
  }

  // --- doors ---

  async listDoors(query: unknown = {}): Promise<PageResult<DoorView>> {
    const { buildingId, ...page } = parseInput(ByBuildingQuery, query);
    const result = await repo.listDoors(this.deps.db, page, { buildingId });
    return { items: result.items.map(doorView), nextOffset: result.nextOffset };
  }

  async getDoor(id: string): Promise<DoorView> {
    return doorView(await this.requireDoor(this.deps.db, id));
  }

  private async withUniqueCode<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (repo.isUniqueViolation(error)) throw conflict('door-code-taken', 'Another door has this code');
      throw error;
    }
  }

  async createDoor(actor: Actor, input: DoorCreateInput): Promise<DoorView> {
    const data = parseInput(DoorCreate, input);
    return this.withUniqueCode(() =>
      this.tx(async (trx) => {
        await this.requireBuilding(trx, data.buildingId);
        await this.checkPlaceInBuilding(trx, data.buildingId, null, data.entranceId ?? null);
        if (await repo.findDoorByCode(trx, data.code)) throw conflict('door-code-taken', 'Another door has this code');
        const now = this.deps.clock.now();
        const record: DoorRecord = {
          id: newId(),
          buildingId: data.buildingId,
          entranceId: data.entranceId ?? null,
          name: data.name,
          code: data.code,
          location: data.location ?? null,
          createdAt: now,
          updatedAt: now,
        };
        await repo.insertDoor(trx, record);
        await this.deps.audit.record(trx, {
          actor,
          action: 'door.created',
          targetType: 'door',
          targetId: record.id,
          after: doorView(record),
        });
        return doorView(record);
      }),
    );
  }

  async updateDoor(actor: Actor, id: string, input: DoorPatchInput): Promise<DoorView> {
    const data = parseInput(DoorPatch, input);
    return this.withUniqueCode(() =>
      this.tx(async (trx) => {
        const current = await this.requireDoor(trx, id);
        const next: DoorRecord = {
          ...current,
          buildingId: pick(data.buildingId, current.buildingId),
          entranceId: pick(data.entranceId, current.entranceId),
          name: pick(data.name, current.name),
          code: pick(data.code, current.code),
          location: pick(data.location, current.location),
          updatedAt: this.deps.clock.now(),
        };
        if (next.buildingId !== current.buildingId) await this.requireBuilding(trx, next.buildingId);
        await this.checkPlaceInBuilding(trx, next.buildingId, null, next.entranceId);
        if (next.code !== current.code && (await repo.findDoorByCode(trx, next.code)))
          throw conflict('door-code-taken', 'Another door has this code');
        await repo.updateDoor(trx, next);
        await this.deps.audit.record(trx, {
          actor,
          action: 'door.updated',
          targetType: 'door',
          targetId: id,
          before: doorView(current),
          after: doorView(next),
        });
        return doorView(next);
      }),
    );
  }

  async deleteDoor(actor: Actor, id: string): Promise<void> {
    await this.tx(async (trx) => {
      const current = await this.requireDoor(trx, id);
      await repo.deleteDoor(trx, id);
      await this.deps.audit.record(trx, {
        actor,
        action: 'door.deleted',
        targetType: 'door',
        targetId: id,
        before: doorView(current),
      });
    });
  }

  // --- compliance ---

  /** Findings per complex (see complianceFindings). Without includeHidden, hidden cameras are left out. */
  async compliance(options: { includeHidden: boolean } = { includeHidden: true }): Promise<ComplianceReport> {
    const db = this.deps.db;
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const [complexes, buildings, entrances, areas, cameras] = [
      await repo.listAllComplexes(db),
      await repo.listAllBuildings(db),
      await repo.listAllEntrances(db),
      await repo.listAllAreas(db),
      await repo.listAllCameras(db),
    ];
    const areaOutdoor = new Map(areas.map((a) => [a.id, a.outdoor]));
    const visible = options.includeHidden ? cameras : cameras.filter((c) => c.kind !== 'hidden');
    const findings = complianceFindings(
      {
        complexes,
        buildings,
        entrances,
        cameras: visible.map((c) => ({
          ...this.cameraFacts(c, c.areaId ? (areaOutdoor.get(c.areaId) ?? null) : null),
          id: c.id,
          buildingId: c.buildingId,
          name: c.name,
        })),
      },
      policy,
      now,
    );
    return { generatedAt: iso(now), policyId: policy.id, findings };
  }
}
