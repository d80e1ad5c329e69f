/**
 * The only registry module that touches Kysely. Rows become records here: 0/1 flags become
 * booleans, JSON text is parsed, epoch-ms columns become numbers. Functions take an
 * executor, so the service runs them inside its own transaction.
 */
import { sql, type Kysely, type Updateable } from 'kysely';
import type {
  AreasTable,
  BuildingsTable,
  CamerasTable,
  ComplexesTable,
  Database,
  DoorsTable,
  EntrancesTable,
  Flag,
} from '../db/schema.js';
import { EMPTY_PLACEMENT, type Placement } from './registry.rules.js';
import type { CameraKind, CameraStatus, Page } from './registry.schemas.js';

export type Executor = Kysely<Database>;

const flag = (value: boolean): Flag => (value ? 1 : 0);
const bool = (value: unknown): boolean => Number(value) === 1;
const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export interface PageResult<T> {
  items: T[];
  nextOffset: number | null;
}

function paged<T>(rows: T[], page: Page): PageResult<T> {
  const more = rows.length > page.limit;
  return { items: more ? rows.slice(0, page.limit) : rows, nextOffset: more ? page.offset + page.limit : null };
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === '23505') return true; // PostgreSQL unique_violation
  return typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT') && String(e.message).includes('UNIQUE');
}

// --- organisation ----------------------------------------------------------------------------

export interface OrganisationRecord {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
}

export async function findOrganisation(db: Executor): Promise<OrganisationRecord | null> {
  const row = await db
    .selectFrom('organisations')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row ? { id: row.id, name: row.name, createdAt: num(row.created_at), updatedAt: num(row.updated_at) } : null;
}

export async function insertOrganisation(db: Executor, record: OrganisationRecord): Promise<void> {
  await db
    .insertInto('organisations')
    .values({ id: record.id, name: record.name, created_at: record.createdAt, updated_at: record.updatedAt })
    .execute();
}

// --- complexes --------------------------------------------------------------------------------

export interface ComplexRecord {
  id: string;
  organisationId: string;
  code: string | null;
  name: string;
  address: string | null;
  ownership: string;
  createdAt: number;
  updatedAt: number;
}

type ComplexRow = { [K in keyof ComplexesTable]: ComplexesTable[K] };

function complexRecord(row: ComplexRow): ComplexRecord {
  return {
    id: row.id,
    organisationId: row.organisation_id,
    code: row.code,
    name: row.name,
    address: row.address,
    ownership: row.ownership,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export async function insertComplex(db: Executor, r: ComplexRecord): Promise<void> {
  await db
    .insertInto('complexes')
    .values({
      id: r.id,
      organisation_id: r.organisationId,
      code: r.code,
      name: r.name,
      address: r.address,
      ownership: r.ownership,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function updateComplex(db: Executor, r: ComplexRecord): Promise<void> {
  const values: Updateable<ComplexesTable> = {
    code: r.code,
    name: r.name,
    address: r.address,
    ownership: r.ownership,
    updated_at: r.updatedAt,
  };
  await db.updateTable('complexes').set(values).where('id', '=', r.id).execute();
}

export async function findComplex(db: Executor, id: string): Promise<ComplexRecord | null> {
  const row = await db.selectFrom('complexes').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? complexRecord(row) : null;
}

/**
 * Reads the complex and takes its row lock (a no-op update: a row lock on PostgreSQL, the
 * write lock on SQLite). Activations, camera edits and ownership changes of one complex
 * take this lock first, so they cannot interleave.
 */
export async function lockComplex(db: Executor, id: string): Promise<ComplexRecord | null> {
  const row = await db
    .updateTable('complexes')
    .set({ updated_at: sql<number>`updated_at` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? complexRecord(row) : null;
}

export async function findComplexByCode(db: Executor, code: string): Promise<ComplexRecord | null> {
  const row = await db.selectFrom('complexes').selectAll().where('code', '=', code).executeTakeFirst();
  return row ? complexRecord(row) : null;
}

export async function listComplexes(db: Executor, page: Page): Promise<PageResult<ComplexRecord>> {
  const rows = await db
    .selectFrom('complexes')
    .selectAll()
    .orderBy('name')
    .orderBy('id')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return paged(rows.map(complexRecord), page);
}

export async function listAllComplexes(db: Executor): Promise<ComplexRecord[]> {
  return (await db.selectFrom('complexes').selectAll().orderBy('name').orderBy('id').execute()).map(complexRecord);
}

export async function deleteComplex(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('complexes').where('id', '=', id).execute();
}

export async function countBuildingsInComplex(db: Executor, complexId: string): Promise<number> {
  const row = await db
    .selectFrom('buildings')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('complex_id', '=', complexId)
    .executeTakeFirst();
  return num(row?.n ?? 0);
}

export async function countActiveCamerasInComplex(db: Executor, complexId: string): Promise<number> {
  const row = await db
    .selectFrom('cameras')
    .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('buildings.complex_id', '=', complexId)
    .where('cameras.status', '=', 'active')
    .executeTakeFirst();
  return num(row?.n ?? 0);
}

// --- buildings --------------------------------------------------------------------------------

export interface BuildingRecord {
  id: string;
  complexId: string;
  name: string;
  address: string | null;
  createdAt: number;
  updatedAt: number;
}

function buildingRecord(row: { [K in keyof BuildingsTable]: BuildingsTable[K] }): BuildingRecord {
  return {
    id: row.id,
    complexId: row.complex_id,
    name: row.name,
    address: row.address,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export async function insertBuilding(db: Executor, r: BuildingRecord): Promise<void> {
  await db
    .insertInto('buildings')
    .values({
      id: r.id,
      complex_id: r.complexId,
      name: r.name,
      address: r.address,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function updateBuilding(db: Executor, r: BuildingRecord): Promise<void> {
  await db
    .updateTable('buildings')
    .set({ name: r.name, address: r.address, updated_at: r.updatedAt })
    .where('id', '=', r.id)
    .execute();
}

export async function findBuilding(db: Executor, id: string): Promise<BuildingRecord | null> {
  const row = await db.selectFrom('buildings').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? buildingRecord(row) : null;
}

export async function listBuildings(
  db: Executor,
  page: Page,
  filter: { complexId?: string | undefined },
): Promise<PageResult<BuildingRecord>> {
  let query = db.selectFrom('buildings').selectAll();
  if (filter.complexId) query = query.where('complex_id', '=', filter.complexId);
  const rows = await query
    .orderBy('name')
    .orderBy('id')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return paged(rows.map(buildingRecord), page);
}

export async function listAllBuildings(db: Executor): Promise<BuildingRecord[]> {
  return (await db.selectFrom('buildings').selectAll().orderBy('name').orderBy('id').execute()).map(buildingRecord);
}

export async function deleteBuilding(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('buildings').where('id', '=', id).execute();
}

/** What still hangs off a building; it can be deleted only when all are zero. */
export async function countBuildingContents(db: Executor, buildingId: string) {
  const count = async (table: 'entrances' | 'areas' | 'cameras' | 'doors') => {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .where('building_id', '=', buildingId)
      .executeTakeFirst();
    return num(row?.n ?? 0);
  };
  return {
    entrances: await count('entrances'),
    areas: await count('areas'),
    cameras: await count('cameras'),
    doors: await count('doors'),
  };
}

// --- entrances --------------------------------------------------------------------------------

export interface EntranceRecord {
  id: string;
  buildingId: string;
  name: string;
  isGeneralEntrance: boolean;
  signPresent: boolean;
  createdAt: number;
  updatedAt: number;
}

function entranceRecord(row: { [K in keyof EntrancesTable]: EntrancesTable[K] }): EntranceRecord {
  return {
    id: row.id,
    buildingId: row.building_id,
    name: row.name,
    isGeneralEntrance: bool(row.is_general_entrance),
    signPresent: bool(row.sign_present),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export async function insertEntrance(db: Executor, r: EntranceRecord): Promise<void> {
  await db
    .insertInto('entrances')
    .values({
      id: r.id,
      building_id: r.buildingId,
      name: r.name,
      is_general_entrance: flag(r.isGeneralEntrance),
      sign_present: flag(r.signPresent),
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function updateEntrance(db: Executor, r: EntranceRecord): Promise<void> {
  await db
    .updateTable('entrances')
    .set({
      name: r.name,
      is_general_entrance: flag(r.isGeneralEntrance),
      sign_present: flag(r.signPresent),
      updated_at: r.updatedAt,
    })
    .where('id', '=', r.id)
    .execute();
}

export async function findEntrance(db: Executor, id: string): Promise<EntranceRecord | null> {
  const row = await db.selectFrom('entrances').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? entranceRecord(row) : null;
}

export async function listEntrances(
  db: Executor,
  page: Page,
  filter: { buildingId?: string | undefined },
): Promise<PageResult<EntranceRecord>> {
  let query = db.selectFrom('entrances').selectAll();
  if (filter.buildingId) query = query.where('building_id', '=', filter.buildingId);
  const rows = await query
    .orderBy('name')
    .orderBy('id')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return paged(rows.map(entranceRecord), page);
}

export async function listAllEntrances(db: Executor): Promise<EntranceRecord[]> {
  return (await db.selectFrom('entrances').selectAll().orderBy('name').orderBy('id').execute()).map(entranceRecord);
}

export async function deleteEntrance(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('entrances').where('id', '=', id).execute();
}

export async function countEntranceUses(db: Executor, entranceId: string) {
  const cameras = await db
    .selectFrom('cameras')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('entrance_id', '=', entranceId)
    .executeTakeFirst();
  const doors = await db
    .selectFrom('doors')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('entrance_id', '=', entranceId)
    .executeTakeFirst();
  return { cameras: num(cameras?.n ?? 0), doors: num(doors?.n ?? 0) };
}

// --- areas -----------------------------------------------------------------------------------

export interface AreaRecord {
  id: string;
  buildingId: string;
  name: string;
  areaType: string;
  outdoor: boolean;
  createdAt: number;
  updatedAt: number;
}

function areaRecord(row: { [K in keyof AreasTable]: AreasTable[K] }): AreaRecord {
  return {
    id: row.id,
    buildingId: row.building_id,
    name: row.name,
    areaType: row.area_type,
    outdoor: bool(row.outdoor),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export async function insertArea(db: Executor, r: AreaRecord): Promise<void> {
  await db
    .insertInto('areas')
    .values({
      id: r.id,
      building_id: r.buildingId,
      name: r.name,
      area_type: r.areaType,
      outdoor: flag(r.outdoor),
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function updateArea(db: Executor, r: AreaRecord): Promise<void> {
  await db
    .updateTable('areas')
    .set({ name: r.name, area_type: r.areaType, outdoor: flag(r.outdoor), updated_at: r.updatedAt })
    .where('id', '=', r.id)
    .execute();
}

export async function findArea(db: Executor, id: string): Promise<AreaRecord | null> {
  const row = await db.selectFrom('areas').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? areaRecord(row) : null;
}

export async function listAreas(
  db: Executor,
  page: Page,
  filter: { buildingId?: string | undefined },
): Promise<PageResult<AreaRecord>> {
  let query = db.selectFrom('areas').selectAll();
  if (filter.buildingId) query = query.where('building_id', '=', filter.buildingId);
  const rows = await query
    .orderBy('name')
    .orderBy('id')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return paged(rows.map(areaRecord), page);
}

export async function listAllAreas(db: Executor): Promise<AreaRecord[]> {
  return (await db.selectFrom('areas').selectAll().execute()).map(areaRecord);
}

export async function deleteArea(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('areas').where('id', '=', id).execute();
}

export async function countCamerasInArea(db: Executor, areaId: string): Promise<number> {
  const row = await db
    .selectFrom('cameras')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('area_id', '=', areaId)
    .executeTakeFirst();
  return num(row?.n ?? 0);
}

// --- cameras -----------------------------------------------------------------------------------

export interface CameraRecord {
  id: string;
  buildingId: string;
  areaId: string | null;
  entranceId: string | null;
  name: string;
  location: string | null;
  kind: CameraKind;
  goals: string[];
  placement: Placement;
  /** Ciphertext (encryptText); never leaves the service. */
  streamUrlEnc: string | null;
  /** Ciphertext of `{"username","password"}`; never leaves the service. */
  credentialsEnc: string | null;
  connectionSecured: boolean;
  hiddenSuspicion: string | null;
  hiddenDpiaReference: string | null;
  hiddenEndDate: number | null;
  status: CameraStatus;
  /** The last activation; kept after deactivation, so non-null = "was ever active". */
  activatedAt: number | null;
  activatedBy: string | null;
  createdAt: number;
  updatedAt: number;
}

type CameraRowShape = { [K in keyof CamerasTable]: CamerasTable[K] };

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function cameraRecord(row: CameraRowShape): CameraRecord {
  return {
    id: row.id,
    buildingId: row.building_id,
    areaId: row.area_id,
    entranceId: row.entrance_id,
    name: row.name,
    location: row.location,
    kind: row.kind as CameraKind,
    goals: parseJson<string[]>(row.goals, []),
    placement: { ...EMPTY_PLACEMENT, ...parseJson<Partial<Placement>>(row.placement, {}) },
    streamUrlEnc: row.stream_url_enc,
    credentialsEnc: row.credentials_enc,
    connectionSecured: bool(row.connection_secured),
    hiddenSuspicion: row.hidden_suspicion,
    hiddenDpiaReference: row.hidden_dpia_reference,
    hiddenEndDate: numOrNull(row.hidden_end_date),
    status: row.status as CameraStatus,
    activatedAt: numOrNull(row.activated_at),
    activatedBy: row.activated_by,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

function cameraRow(r: CameraRecord): CameraRowShape {
  return {
    id: r.id,
    building_id: r.buildingId,
    area_id: r.areaId,
    entrance_id: r.entranceId,
    name: r.name,
    location: r.location,
    kind: r.kind,
    goals: JSON.stringify(r.goals),
    placement: JSON.stringify(r.placement),
    stream_url_enc: r.streamUrlEnc,
    credentials_enc: r.credentialsEnc,
    connection_secured: flag(r.connectionSecured),
    hidden_suspicion: r.hiddenSuspicion,
    hidden_dpia_reference: r.hiddenDpiaReference,
    hidden_end_date: r.hiddenEndDate,
    status: r.status,
    activated_at: r.activatedAt,
    activated_by: r.activatedBy,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

export async function insertCamera(db: Executor, r: CameraRecord): Promise<void> {
  await db.insertInto('cameras').values(cameraRow(r)).execute();
}

export async function updateCamera(db: Executor, r: CameraRecord): Promise<void> {
  const { id: _id, created_at: _created, ...values } = cameraRow(r);
  await db.updateTable('cameras').set(values).where('id', '=', r.id).execute();
}

export async function findCamera(db: Executor, id: string): Promise<CameraRecord | null> {
  const row = await db.selectFrom('cameras').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? cameraRecord(row) : null;
}

/** Reads the camera and takes its row lock (see lockComplex; take the complex lock first). */
export async function lockCamera(db: Executor, id: string): Promise<CameraRecord | null> {
  const row = await db
    .updateTable('cameras')
    .set({ updated_at: sql<number>`updated_at` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? cameraRecord(row) : null;
}

export interface CameraFilter {
  buildingId?: string | undefined;
  complexId?: string | undefined;
  status?: CameraStatus | undefined;
  kind?: CameraKind | undefined;
  includeHidden: boolean;
}

export async function listCameras(db: Executor, page: Page, filter: CameraFilter): Promise<PageResult<CameraRecord>> {
  let query = db.selectFrom('cameras').selectAll('cameras');
  if (filter.buildingId) query = query.where('cameras.building_id', '=', filter.buildingId);
  if (filter.complexId) {
    const complexId = filter.complexId;
    query = query.where('cameras.building_id', 'in', (eb) =>
      eb.selectFrom('buildings').select('buildings.id').where('buildings.complex_id', '=', complexId),
    );
  }
  if (filter.status) query = query.where('cameras.status', '=', filter.status);
  if (filter.kind) query = query.where('cameras.kind', '=', filter.kind);
  if (!filter.includeHidden) query = query.where('cameras.kind', '!=', 'hidden');
  const rows = await query
    .orderBy('cameras.name')
    .orderBy('cameras.id')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return paged(rows.map(cameraRecord), page);
}

export async function listAllCameras(db: Executor): Promise<CameraRecord[]> {
  return (await db.selectFrom('cameras').selectAll().orderBy('name').orderBy('id').execute()).map(cameraRecord);
}

export async function listActiveCamerasInArea(db: Executor, areaId: string): Promise<CameraRecord[]> {
  const rows = await db
    .selectFrom('cameras')
    .selectAll()
    .where('area_id', '=', areaId)
    .where('status', '=', 'active')
    .orderBy('id')
    .execute();
  return rows.map(cameraRecord);
}

/** Active hidden cameras whose end date is at or before `now` (W 3.4, M 3.3). */
export async function listExpiredHiddenCameras(db: Executor, now: number): Promise<CameraRecord[]> {
  const rows = await db
    .selectFrom('cameras')
    .selectAll()
    .where('kind', '=', 'hidden')
    .where('status', '=', 'active')
    .where('hidden_end_date', 'is not', null)
    .where('hidden_end_date', '<=', now)
    .orderBy('hidden_end_date')
    .orderBy('id')
    .execute();
  return rows.map(cameraRecord);
}

export async function deleteCamera(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('cameras').where('id', '=', id).execute();
}

// --- doors ------------------------------------------------------------------------------------

export interface DoorRecord {
  id: string;
  buildingId: string;
  entranceId: string | null;
  name: string;
  code: string;
  location: string | null;
  createdAt: number;
  updatedAt: number;
}

function doorRecord(row: { [K in keyof DoorsTable]: DoorsTable[K] }): DoorRecord {
  return {
    id: row.id,
    buildingId: row.building_id,
    entranceId: row.entrance_id,
    name: row.name,
    code: row.code,
    location: row.location,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export async function insertDoor(db: Executor, r: DoorRecord): Promise<void> {
  await db
    .insertInto('doors')
    .values({
      id: r.id,
      building_id: r.buildingId,
      entrance_id: r.entranceId,
      name: r.name,
      code: r.code,
      location: r.location,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function updateDoor(db: Executor, r: DoorRecord): Promise<void> {
  await db
    .updateTable('doors')
    .set({
      building_id: r.buildingId,
      entrance_id: r.entranceId,
      name: r.name,
      code: r.code,
      location: r.location,
      updated_at: r.updatedAt,
    })
    .where('id', '=', r.id)
    .execute();
}

export async function findDoor(db: Executor, id: string): Promise<DoorRecord | null> {
  const row = await db.selectFrom('doors').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? doorRecord(row) : null;
}

export async function findDoorByCode(db: Executor, code: string): Promise<DoorRecord | null> {
  const row = await db.selectFrom('doors').selectAll().where('code', '=', code).executeTakeFirst();
  return row ? doorRecord(row) : null;
}

export async function listDoors(
  db: Executor,
  page: Page,
  filter: { buildingId?: string | undefined },
): Promise<PageResult<DoorRecord>> {
  let query = db.selectFrom('doors').selectAll();
  if (filter.buildingId) query = query.where('building_id', '=', filter.buildingId);
  const rows = await query
    .orderBy('name')
    .orderBy('id')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return paged(rows.map(doorRecord), page);
}

export async function deleteDoor(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('doors').where('id', '=', id).execute();
}
