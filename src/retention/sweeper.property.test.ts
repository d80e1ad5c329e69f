import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { principal, seedRegistry } from '../../test/access-fixtures.js';
import {
  addEvents,
  addSegment,
  addSource,
  eventIds,
  retentionServices,
  segmentIds,
  SEGMENT_MS,
} from '../../test/retention-fixtures.js';
import { activeHoldScopes } from '../holds/holds.repository.js';
import { isEventHeld, isSegmentHeld } from '../holds/holds.rules.js';
import { ManualClock, MINUTE } from '../lib/clock.js';
import { loadPolicy, retentionMs, type Policy } from '../policy/index.js';
import { proposedPolicy } from './retention.service.js';

// Random timelines of recordings, door events, incidents, holds, releases, reopenings and
// policy changes. After every sweep: no held item is gone (W 2.4, M 2.4, M 6.6-6.7) and no
// unheld item whose retention has ended remains (W 6.3, M 6.6, M 6.7).

const BASE = loadPolicy('maaswonen-2024').policy;
const FOOTAGE = ['1h', '2h', '3h'] as const;
const DOOR_EVENTS = ['1h', '2h'] as const;
const TAGS = ['TAG-0', 'TAG-1', 'TAG-2'];

const pick = <T>(arr: readonly T[]) => fc.constantFrom(...arr);
const Step = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('segment' as const), cam: fc.nat(1), ageMin: fc.nat(180) }) },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('event' as const), door: fc.nat(1), tag: fc.nat(2), ageMin: fc.nat(180) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('secure' as const),
      cams: fc.subarray([0, 1]),
      doors: fc.subarray([0, 1]),
      tags: fc.subarray([0, 1, 2]),
      fromAgoMin: fc.nat(200),
      lengthMin: fc.integer({ min: 1, max: 120 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), which: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), which: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), which: fc.nat(20) }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('policy' as const), footage: pick(FOOTAGE), events: pick(DOOR_EVENTS) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('sweep' as const), advanceMin: fc.integer({ min: 0, max: 90 }) }),
  },
);

const RUNS = { sqlite: 25, postgres: 8 } as const;

describe.each(DIALECTS)('sweeper property (%s)', (dialect) => {
  it('never erases held data and leaves nothing unheld past its retention', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(Step, { minLength: 5, maxLength: 35 }), async (steps) => {
        const db = await createTestDb(dialect);
        try {
          const clock = new ManualClock('2026-03-02T10:00:00Z');
          let policy: Policy = proposedPolicy(BASE, { footage: '2h', 'door-events': '1h' });
          const dataDir = mkdtempSync(join(tmpdir(), 'protocam-prop-'));
          const seed = await seedRegistry(db.kysely, clock.now());
          const sourceId = await addSource(db.kysely, clock.now(), seed.doorIds);
          const { sweeper, holds, incidents } = retentionServices(db.kysely, clock, () => policy, {
            recordingsDir: join(dataDir, 'recordings'),
            exportsDir: join(dataDir, 'exports'),
            intervalMs: MINUTE,
            threshold: { minFreeBytes: 0, minFreePercent: 0 },
            batch: { segments: { min: 1, max: 4 }, events: { min: 1, max: 4 } },
          });
          const manager = principal('u-mkw', ['manager-klant-wonen']);
          const segments = new Map<string, { cameraId: string; startAt: number; endAt: number }>();
          const events = new Map<string, { doorId: string; tagCode: string; occurredAt: number }>();
          const holdIds: string[] = [];
          const incidentIds: string[] = [];
          let inserted = 0;

          for (const step of steps) {
            const now = clock.now();
            switch (step.t) {
              case 'segment': {
                const startAt = now - step.ageMin * MINUTE;
                const cameraId = seed.cameraIds[step.cam]!;
                const id = await addSegment(db.kysely, join(dataDir, 'recordings'), cameraId, startAt);
                segments.set(id, { cameraId, startAt, endAt: startAt + SEGMENT_MS });
                inserted += 1;
                break;
              }
              case 'event': {
                const occurredAt = now - step.ageMin * MINUTE;
                const doorId = seed.doorIds[step.door]!;
                const [id] = await addEvents(db.kysely, sourceId, [{ doorId, tag: TAGS[step.tag]!, at: occurredAt }]);
                events.set(id!, { doorId, tagCode: TAGS[step.tag]!, occurredAt });
                inserted += 1;
                break;
              }
              case 'secure': {
                if (step.cams.length + step.doors.length + step.tags.length === 0) break;
                const incident = await incidents.register(manager, {
                  kind: 'nuisance',
                  title: 'Noise',
                  description: 'Noise in the hall',
                  occurredAt: now,
                  reporterKind: 'tenant',
                });
                incidentIds.push(incident.id);
                const from = now - step.fromAgoMin * MINUTE;
                const hold = await holds.secureForIncident(manager, incident.id, {
                  cameraIds: step.cams.map((i) => seed.cameraIds[i]!),
                  doorIds: step.doors.map((i) => seed.doorIds[i]!),
                  tags: step.tags.map((i) => TAGS[i]!),
                  from,
                  to: from + step.lengthMin * MINUTE,
                  reason: 'Secured on request (M 2.4)',
                });
                holdIds.push(hold.id);
                break;
              }
              case 'release': {
                const id = holdIds[step.which % Math.max(1, holdIds.length)];
                if (id && (await holds.get(manager, id)).active) await holds.release(manager, id, 'No longer needed');
                break;
              }
              case 'close': {
                const id = incidentIds[step.which % Math.max(1, incidentIds.length)];
                if (!id) break;
                const status = (await incidents.get(manager, id)).status;
                if (status === 'open') await incidents.handle(manager, id, { outcome: 'settled' });
                if (status !== 'closed') await incidents.close(manager, id);
                break;
              }
              case 'reopen': {
                const id = incidentIds[step.which % Math.max(1, incidentIds.length)];
                if (id && (await incidents.get(manager, id)).status === 'closed')
                  await incidents.reopen(manager, id, 'New information from the tenant');
                break;
              }
              case 'policy':
                policy = proposedPolicy(BASE, { footage: step.footage, 'door-events': step.events });
                break;
              case 'sweep': {
                clock.advance(step.advanceMin * MINUTE);
                const active = await activeHoldScopes(db.kysely);
                const existingSegments = await segmentIds(db.kysely);
                const existingEvents = await eventIds(db.kysely);
                const heldSegments = [...segments].filter(
                  ([id, s]) => existingSegments.has(id) && isSegmentHeld(s, active),
                );
                const heldEvents = [...events].filter(([id, e]) => existingEvents.has(id) && isEventHeld(e, active));
                await sweeper.sweep();
                const at = clock.now();
                const leftSegments = await segmentIds(db.kysely);
                const leftEvents = await eventIds(db.kysely);
                for (const [id] of heldSegments) expect(leftSegments.has(id)).toBe(true);
                for (const [id] of heldEvents) expect(leftEvents.has(id)).toBe(true);
                const footageMs = retentionMs(policy, 'footage')!;
                const eventMs = retentionMs(policy, 'door-events')!;
                for (const id of leftSegments) {
                  const s = segments.get(id)!;
                  if (!isSegmentHeld(s, active)) expect(s.startAt + footageMs).toBeGreaterThan(at);
                }
                for (const id of leftEvents) {
                  const e = events.get(id)!;
                  if (!isEventHeld(e, active)) expect(e.occurredAt + eventMs).toBeGreaterThan(at);
                }
                // Erasure records account for exactly what is gone.
                const records = await db.kysely.selectFrom('erasure_records').select('count').execute();
                expect(records.reduce((n, r) => n + Number(r.count), 0)).toBe(
                  inserted - leftSegments.size - leftEvents.size,
                );
                break;
              }
            }
          }
        } finally {
          await db.close();
        }
      }),
      { numRuns: RUNS[dialect] },
    );
  }, 300_000);
});
