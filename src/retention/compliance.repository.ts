/** Reads for the compliance view: where cameras and doors belong, which cameras are down. */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export type Executor = Kysely<Database>;

export function complexes(db: Executor) {
  return db.selectFrom('complexes').select(['id', 'name']).orderBy('name').execute();
}

/** Complex of every camera and door, for placing items that name only a camera or door. */
export async function placement(db: Executor): Promise<Map<string, string>> {
  const cameras = await db
    .selectFrom('cameras')
    .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
    .select(['cameras.id as id', 'buildings.complex_id as complexId'])
    .execute();
  const doors = await db
    .selectFrom('doors')
    .innerJoin('buildings', 'buildings.id', 'doors.building_id')
    .select(['doors.id as id', 'buildings.complex_id as complexId'])
    .execute();
  return new Map([...cameras, ...doors].map((r) => [r.id, r.complexId]));
}

/** Active cameras whose recorder reports them down (W 2.3, M 2.2). */
export function camerasDown(db: Executor) {
  return db
    .selectFrom('camera_health')
    .innerJoin('cameras', 'cameras.id', 'camera_health.camera_id')
    .select([
      'cameras.id as cameraId',
      'cameras.name as name',
      'cameras.kind as kind',
      'camera_health.since as since',
      'camera_health.state as state',
    ])
    .where('camera_health.state', '=', 'down')
    .where('cameras.status', '=', 'active')
    .execute();
}

/** Defects still open (W 6.6, M 2.2: repaired immediately). */
export function openDefects(db: Executor) {
  return db
    .selectFrom('camera_defects')
    .innerJoin('cameras', 'cameras.id', 'camera_defects.camera_id')
    .select([
      'camera_defects.id as id',
      'cameras.id as cameraId',
      'cameras.name as name',
      'cameras.kind as kind',
      'camera_defects.opened_at as openedAt',
      'camera_defects.reason as reason',
    ])
    .where('camera_defects.closed_at', 'is', null)
    .execute();
}
