/**
 * Test support for incidents, holds and the retention sweeper: segment rows with small real
 * files, door events, a door-event source, principals. Not used by the app.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../src/db/schema.js';
import { AuditTrail } from '../src/audit/audit.js';
import type { Clock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import type { Policy } from '../src/policy/index.js';
import { HoldService } from '../src/holds/holds.service.js';
import { IncidentService } from '../src/incidents/incidents.service.js';
import { RetentionSweeper, type SweeperDeps } from '../src/retention/sweeper.js';
import { groupByPartition } from '../src/door-events/partitions.js';
import { allDoorEvents, ensurePartitions, eventTable } from '../src/door-events/partitions.repository.js';

export const SEGMENT_MS = 10_000;

export async function addSource(db: Kysely<Database>, now: number, doorIds: readonly string[]): Promise<string> {
  const id = `src-${newId().slice(0, 8)}`;
  await db
    .insertInto('door_event_sources')
    .values({
      id,
      name: id,
      kind: 'http',
      csv_mapping: null,
      door_scope: JSON.stringify(doorIds),
      received: 0,
      accepted: 0,
      rejected: 0,
      late: 0,
      duplicate: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

/** A segment row and its small real file under `<recordingsDir>/<cameraId>/`. */
export async function addSegment(
  db: Kysely<Database>,
  recordingsDir: string,
  cameraId: string,
  startAt: number,
  bytes = 188,
  lengthMs = SEGMENT_MS,
): Promise<string> {
  const id = newId();
  const file = `${cameraId}/${startAt}-${id.slice(0, 8)}.ts`;
  mkdirSync(join(recordingsDir, cameraId), { recursive: true });
  writeFileSync(join(recordingsDir, file), Buffer.alloc(bytes, 0x47));
  await db
    .insertInto('segments')
    .values({
      id,
      camera_id: cameraId,
      file,
      start_at: startAt,
      end_at: startAt + lengthMs,
      bytes,
      sha256: '0'.repeat(64),
      created_at: startAt + lengthMs,
      erasing_at: null,
    })
    .execute();
  return id;
}

export async function addSegments(
  db: Kysely<Database>,
  recordingsDir: string,
  rows: { cameraId: string; startAt: number; bytes?: number }[],
): Promise<string[]> {
  const values = rows.map((r) => {
    const id = newId();
    const file = `${r.cameraId}/${r.startAt}-${id.slice(0, 8)}.ts`;
    mkdirSync(join(recordingsDir, r.cameraId), { recursive: true });
    writeFileSync(join(recordingsDir, file), Buffer.alloc(r.bytes ?? 188, 0x47));
    return {
      id,
      camera_id: r.cameraId,
      file,
      start_at: r.startAt,
      end_at: r.startAt + SEGMENT_MS,
      bytes: r.bytes ?? 188,
      sha256: '0'.repeat(64),
      created_at: r.startAt + SEGMENT_MS,
      erasing_at: null,
    };
  });
  for (let i = 0; i < values.length; i += 500)
    await db
      .insertInto('segments')
      .values(values.slice(i, i + 500))
      .execute();
  return values.map((v) => v.id);
}

export async function addEvents(
  db: Kysely<Database>,
  sourceId: string,
  rows: { doorId: string; tag: string; at: number }[],
): Promise<string[]> {
  const values = rows.map((r) => {
    const id = newId();
    return {
      source_id: sourceId,
      source_event_id: id,
      occurred_at: r.at,
      received_at: r.at,
      door_id: r.doorId,
      tag_code: r.tag,
      result: 'granted',
      raw_payload: JSON.stringify({ door: r.doorId, tag: r.tag, at: r.at }),
    };
  });
  // Through the partitions, as ingest stores them (src/door-events/partitions.ts).
  for (const [hour, inHour] of groupByPartition(values.map((v) => ({ ...v, occurredAt: v.occurred_at })))) {
    await ensurePartitions(db, [hour], Date.now());
    for (let i = 0; i < inHour.length; i += 500)
      await db
        .insertInto(eventTable(hour))
        .values(inHour.slice(i, i + 500).map(({ occurredAt: _, ...row }) => row))
        .execute();
  }
  return values.map((v) => v.source_event_id);
}

export async function segmentIds(db: Kysely<Database>): Promise<Set<string>> {
  return new Set((await db.selectFrom('segments').select('id').execute()).map((r) => r.id));
}

/** Door events by their source event id (the row id is an integer in arrival order since 0007). */
export async function eventIds(db: Kysely<Database>): Promise<Set<string>> {
  return new Set((await allDoorEvents(db)).map((r) => r.source_event_id));
}

/** Every file under the recordings directory, relative (`<camera>/<name>.ts`). */
export function filesOnDisk(recordingsDir: string): Set<string> {
  const out = new Set<string>();
  if (!existsSync(recordingsDir)) return out;
  for (const camera of readdirSync(recordingsDir)) {
    for (const name of readdirSync(join(recordingsDir, camera))) out.add(`${camera}/${name}`);
  }
  return out;
}

export function retentionServices(
  db: Kysely<Database>,
  clock: Clock,
  policy: () => Policy,
  sweeper: Omit<SweeperDeps, 'db' | 'clock' | 'policy'>,
) {
  const audit = new AuditTrail(clock);
  return {
    audit,
    incidents: new IncidentService({ db, clock, audit, policy }),
    holds: new HoldService({ db, clock, audit, policy }),
    sweeper: new RetentionSweeper({ db, clock, policy, ...sweeper }),
  };
}
