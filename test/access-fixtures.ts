/**
 * Test support for src/access tests: a seeded registry (two cameras, two doors), linked
 * incidents, requests and disclosures, and principals per role. Not used by the app.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../src/db/schema.js';
import type { Principal } from '../src/http/principal.js';
import { ManualClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import type { Policy } from '../src/policy/index.js';
import { insertDisclosure, insertIncident, insertSubjectRequest } from '../src/access/access.repository.js';
import { GateService, type AccessDeps } from '../src/access/gate.service.js';
import { LogbookService } from '../src/access/logbook.service.js';

export const START = '2026-03-02T10:00:00Z';

export interface Seed {
  cameraIds: [string, string];
  doorIds: [string, string];
  complexId: string;
}

export async function seedRegistry(db: Kysely<Database>, now: number): Promise<Seed> {
  const orgId = newId();
  const complexId = newId();
  const buildingId = newId();
  await db.insertInto('organisations').values({ id: orgId, name: 'Corp', created_at: now, updated_at: now }).execute();
  await db
    .insertInto('complexes')
    .values({
      id: complexId,
      organisation_id: orgId,
      code: null,
      name: 'De Linde',
      address: null,
      ownership: 'corporation',
      created_at: now,
      updated_at: now,
    })
    .execute();
  await db
    .insertInto('buildings')
    .values({ id: buildingId, complex_id: complexId, name: 'Blok A', address: null, created_at: now, updated_at: now })
    .execute();
  const cameraIds = [newId(), newId()] as [string, string];
  for (const [i, id] of cameraIds.entries()) {
    await db
      .insertInto('cameras')
      .values({
        id,
        building_id: buildingId,
        area_id: null,
        entrance_id: null,
        name: `Camera ${i + 1}`,
        location: null,
        kind: 'fixed',
        goals: '[]',
        placement: '{}',
        stream_url_enc: null,
        credentials_enc: null,
        connection_secured: 1,
        hidden_suspicion: null,
        hidden_dpia_reference: null,
        hidden_end_date: null,
        status: 'active',
        activated_at: now,
        activated_by: 'u-admin',
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
  const doorIds = [newId(), newId()] as [string, string];
  for (const [i, id] of doorIds.entries()) {
    await db
      .insertInto('doors')
      .values({
        id,
        building_id: buildingId,
        entrance_id: null,
        name: `Deur ${i + 1}`,
        code: `D-${id.slice(0, 8)}`,
        location: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
  return { cameraIds, doorIds, complexId };
}

export async function addIncident(
  db: Kysely<Database>,
  now: number,
  kind = 'vandalism',
  status = 'open',
): Promise<string> {
  const id = newId();
  await insertIncident(db, {
    id,
    kind,
    title: 'Incident',
    description: 'Test',
    occurredAt: now - 3_600_000,
    complexId: null,
    status,
    createdBy: 'u-x',
    now,
  });
  return id;
}

export async function addSubjectRequest(
  db: Kysely<Database>,
  now: number,
  subjectTag: string | null = 'TAG-42',
  status = 'open',
): Promise<string> {
  const id = newId();
  await insertSubjectRequest(db, { id, status, subjectTag, now });
  return id;
}

export async function addDisclosure(
  db: Kysely<Database>,
  now: number,
  recipientKind = 'police',
  status = 'open',
): Promise<string> {
  const id = newId();
  await insertDisclosure(db, { id, status, recipientKind, incidentId: null, now });
  return id;
}

export function principal(userId: string, roles: string[]): Principal {
  return { userId, username: userId, displayName: userId, roles, sessionId: `s-${userId}`, secondFactorDone: true };
}

export function services(db: Kysely<Database>, policy: Policy, clock = new ManualClock(START)) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const deps: AccessDeps = { db, clock, policy: () => policy, signingKey: privateKey, verifyKey: publicKey };
  return { clock, deps, gate: new GateService(deps), logbook: new LogbookService(deps) };
}

export async function countRecords(db: Kysely<Database>, kind?: string): Promise<number> {
  let q = db.selectFrom('logbook_records').select((eb) => eb.fn.countAll<number>().as('n'));
  if (kind) q = q.where('kind', '=', kind);
  return Number((await q.executeTakeFirstOrThrow()).n);
}
