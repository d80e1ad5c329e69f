import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { principal, seedRegistry, type Seed } from '../../test/access-fixtures.js';
import {
  addEvents,
  addSegment,
  addSource,
  eventIds,
  filesOnDisk,
  retentionServices,
  segmentIds,
} from '../../test/retention-fixtures.js';
import type { Db } from '../db/database.js';
import { HOUR, MINUTE, ManualClock } from '../lib/clock.js';
import { loadPolicy, retentionMs, type Policy } from '../policy/index.js';
import { proposedPolicy } from './retention.service.js';
import type { RetentionSweeper } from './sweeper.js';
import { nodeFileStore } from './storage.js';
import type { HoldService } from '../holds/holds.service.js';
import type { IncidentService } from '../incidents/incidents.service.js';

const INTERVAL = MINUTE;
const PRESETS = [
  { id: 'wooninvest-2021', manager: 'wijkbeheerder', footage: 72 * HOUR, doorEvents: null },
  { id: 'maaswonen-2024', manager: 'manager-klant-wonen', footage: 28 * 24 * HOUR, doorEvents: 28 * 24 * HOUR },
] as const;

describe.each(DIALECTS)('retention sweeper (%s)', (dialect) => {
  describe.each(PRESETS)('preset $id', (preset) => {
    let db: Db;
    let clock: ManualClock;
    let seed: Seed;
    let policy: Policy;
    let recordingsDir: string;
    let sweeper: RetentionSweeper;
    let holds: HoldService;
    let incidents: IncidentService;
    let sourceId: string;
    const manager = principal('u-mgr', [preset.manager]);

    beforeEach(async () => {
      db = await createTestDb(dialect);
      clock = new ManualClock('2026-03-02T10:00:00Z');
      policy = loadPolicy(preset.id).policy;
      const dataDir = mkdtempSync(join(tmpdir(), 'protocam-sweep-'));
      recordingsDir = join(dataDir, 'recordings');
      seed = await seedRegistry(db.kysely, clock.now());
      sourceId = await addSource(db.kysely, clock.now(), seed.doorIds);
      ({ sweeper, holds, incidents } = retentionServices(db.kysely, clock, () => policy, {
        recordingsDir,
        exportsDir: join(dataDir, 'exports'),
        intervalMs: INTERVAL,
        threshold: { minFreeBytes: 0, minFreePercent: 0 },
        batch: { segments: { min: 2, max: 7 }, events: { min: 2, max: 7 } },
      }));
    });
    afterEach(async () => {
      await db.close();
    });

    /** Sweeps every interval until `until`; returns the first sweep time at which `gone()` held. */
    async function sweepUntil(until: number, gone: () => Promise<boolean>): Promise<number | null> {
      while (clock.now() <= until) {
        await sweeper.sweep();
        if (await gone()) return clock.now();
        clock.advance(INTERVAL);
      }
      return null;
    }

    it(`erases footage within one interval after its retention and not before (${preset.id === 'wooninvest-2021' ? 'W 6.3' : 'M 6.6'})`, async () => {
      const start = clock.now();
      const ids = [];
      for (let i = 0; i < 10; i++)
        ids.push(await addSegment(db.kysely, recordingsDir, seed.cameraIds[i % 2]!, start + i * 10_000));
      expect(retentionMs(policy, 'footage')).toBe(preset.footage);
      // Just before the retention of the first segment ends: nothing goes.
      clock.set(start + preset.footage - 2 * INTERVAL);
      const first = ids[0]!;
      const goneAt = await sweepUntil(
        start + preset.footage + 3 * INTERVAL,
        async () => !(await segmentIds(db.kysely)).has(first),
      );
      expect(goneAt).not.toBeNull();
      expect(goneAt!).toBeGreaterThanOrEqual(start + preset.footage);
      expect(goneAt! - (start + preset.footage)).toBeLessThanOrEqual(INTERVAL);
      // The file went with its row; rows and files still agree.
      const left = await db.kysely.selectFrom('segments').select('file').execute();
      expect(filesOnDisk(recordingsDir)).toEqual(new Set(left.map((r) => r.file)));
      // All ten are due one interval after the last one's retention.
      clock.set(start + 9 * 10_000 + preset.footage + INTERVAL);
      await sweeper.sweep();
      expect((await segmentIds(db.kysely)).size).toBe(0);
      expect(filesOnDisk(recordingsDir).size).toBe(0);
      // Erasure records: one per run and camera, counts and bytes add up, no content.
      const records = await db.kysely
        .selectFrom('erasure_records')
        .selectAll()
        .where('category', '=', 'footage')
        .execute();
      expect(records.reduce((n, r) => n + Number(r.count), 0)).toBe(10);
      expect(records.reduce((n, r) => n + Number(r.bytes), 0)).toBe(10 * 188);
      const keys = records.map((r) => `${r.run_id}/${r.target_id}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(records.every((r) => r.target_type === 'camera' && r.reason === 'retention')).toBe(true);
    });

    it('erases door events within one interval after their retention (M 6.7), raw payload included', async () => {
      if (preset.doorEvents === null) {
        // W registers no key tags: the category is skipped, and nothing is stored to erase.
        const result = await sweeper.sweep();
        expect(result.categories.find((c) => c.category === 'door-events')?.skipped).toMatch(/defines no door-events/);
        return;
      }
      const start = clock.now();
      const [first] = await addEvents(db.kysely, sourceId, [
        { doorId: seed.doorIds[0], tag: 'TAG-1', at: start },
        { doorId: seed.doorIds[1], tag: 'TAG-2', at: start + 1000 },
        { doorId: seed.doorIds[0], tag: 'TAG-3', at: start + 2000 },
      ]);
      clock.set(start + preset.doorEvents - 2 * INTERVAL);
      const goneAt = await sweepUntil(
        start + preset.doorEvents + 3 * INTERVAL,
        async () => !(await eventIds(db.kysely)).has(first!),
      );
      expect(goneAt).not.toBeNull();
      expect(goneAt!).toBeGreaterThanOrEqual(start + preset.doorEvents);
      expect(goneAt! - (start + preset.doorEvents)).toBeLessThanOrEqual(INTERVAL);
      clock.advance(INTERVAL);
      await sweeper.sweep();
      expect((await eventIds(db.kysely)).size).toBe(0);
      const records = await db.kysely
        .selectFrom('erasure_records')
        .selectAll()
        .where('category', '=', 'door-events')
        .execute();
      expect(records.reduce((n, r) => n + Number(r.count), 0)).toBe(3);
      expect(new Set(records.map((r) => r.target_id))).toEqual(new Set(seed.doorIds));
    });

    it('keeps held footage through any number of sweeps and erases it within one interval after release (W 2.4, M 6.6)', async () => {
      const start = clock.now();
      const held = await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], start);
      const otherCamera = await addSegment(db.kysely, recordingsDir, seed.cameraIds[1], start);
      const incident = await incidents.register(manager, {
        kind: 'vandalism',
        title: 'Broken glass',
        description: 'Front door glass broken',
        occurredAt: start,
        cameraIds: [seed.cameraIds[0]],
        reporterKind: 'tenant',
      });
      const hold = await holds.secureForIncident(manager, incident.id, { reason: 'Tenant asked to secure (W 2.4)' });
      expect(hold.cameraIds).toEqual([seed.cameraIds[0]]);
      for (let i = 0; i < 8; i++) {
        clock.set(start + preset.footage + i * 24 * HOUR);
        await sweeper.sweep();
        expect((await segmentIds(db.kysely)).has(held)).toBe(true);
        expect((await segmentIds(db.kysely)).has(otherCamera)).toBe(false);
      }
      const heldFile = (
        await db.kysely.selectFrom('segments').select('file').where('id', '=', held).executeTakeFirstOrThrow()
      ).file;
      expect(existsSync(join(recordingsDir, heldFile))).toBe(true);
      // Closing the incident releases its holds; the next sweep erases the footage.
      await incidents.handle(manager, incident.id, { outcome: 'resolved' });
      await incidents.close(manager, incident.id);
      expect((await holds.get(manager, hold.id)).releasedAt).toBe(clock.now());
      clock.advance(INTERVAL);
      await sweeper.sweep();
      expect((await segmentIds(db.kysely)).has(held)).toBe(false);
      expect(existsSync(join(recordingsDir, heldFile))).toBe(false);
    });

    it('keeps held door events (by door and by tag) until released with a reason (M 6.7)', async () => {
      if (preset.doorEvents === null) return;
      const start = clock.now();
      const [byDoor, byTag, free] = await addEvents(db.kysely, sourceId, [
        { doorId: seed.doorIds[0], tag: 'TAG-1', at: start },
        { doorId: seed.doorIds[1], tag: 'TAG-9', at: start },
        { doorId: seed.doorIds[1], tag: 'TAG-2', at: start },
      ]);
      const incident = await incidents.register(manager, {
        kind: 'calamity',
        title: 'Fire',
        description: 'Fire in the storage',
        occurredAt: start,
        doorIds: [seed.doorIds[0]],
        reporterKind: 'emergency-services',
      });
      const doorHold = await holds.secureForIncident(manager, incident.id, { reason: 'Fire brigade asked' });
      const tagHold = await holds.create(manager, {
        tags: ['TAG-9'],
        from: start - HOUR,
        to: start + HOUR,
        reason: 'Police preservation order',
        linkType: 'police-order',
        linkRef: 'Sv 126ni, order 2026-17',
      });
      for (let i = 0; i < 5; i++) {
        clock.set(start + preset.doorEvents + i * 7 * 24 * HOUR);
        await sweeper.sweep();
      }
      const left = await eventIds(db.kysely);
      expect(left.has(byDoor!) && left.has(byTag!)).toBe(true);
      expect(left.has(free!)).toBe(false);
      await holds.release(manager, tagHold.id, 'Order lifted by the prosecutor');
      clock.advance(INTERVAL);
      await sweeper.sweep();
      expect(await eventIds(db.kysely)).toEqual(new Set([byDoor]));
      await holds.release(manager, doorHold.id, 'No longer needed');
      clock.advance(INTERVAL);
      await sweeper.sweep();
      expect((await eventIds(db.kysely)).size).toBe(0);
    });

    it('a policy change takes effect at the next sweep, and its impact shows before', async () => {
      const start = clock.now();
      await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], start);
      clock.advance(30 * HOUR);
      const shorter = proposedPolicy(policy, { footage: '24h' });
      const impact = await sweeper.plan(shorter);
      expect(impact.erase.filter((l) => l.category === 'footage').reduce((n, l) => n + l.count, 0)).toBe(1);
      expect((await sweeper.plan()).erase.filter((l) => l.category === 'footage')).toEqual([]);
      await sweeper.sweep();
      expect((await segmentIds(db.kysely)).size).toBe(1);
      policy = shorter;
      await sweeper.sweep();
      expect((await segmentIds(db.kysely)).size).toBe(0);
    });

    it('raises a retention-overdue alarm for unheld data older than retention + 2 intervals', async () => {
      const start = clock.now();
      await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], start);
      // The sweeper "was down": the first sweep comes long after the retention ended.
      clock.set(start + preset.footage + 3 * INTERVAL);
      const result = await sweeper.sweep();
      expect(result.alarmsRaised).toContain('retention-overdue:footage');
      const alarms = await db.kysely.selectFrom('alarms').selectAll().execute();
      expect(alarms).toHaveLength(1);
      expect(alarms[0]!.target_id).toBe(seed.cameraIds[0]);
      // Once erased, the condition clears; the alarm stays listed until acknowledged.
      await sweeper.sweep();
      const after = await db.kysely.selectFrom('alarms').selectAll().executeTakeFirstOrThrow();
      expect(after.cleared_at).not.toBeNull();
      expect(after.acknowledged_at).toBeNull();
    });

    it('reconciles an interrupted erasure: marked rows lose file and row', async () => {
      const start = clock.now();
      const marked = await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], start);
      const kept = await addSegment(db.kysely, recordingsDir, seed.cameraIds[1], start);
      await db.kysely.updateTable('segments').set({ erasing_at: start }).where('id', '=', marked).execute();
      expect(await sweeper.reconcile()).toEqual({ segments: 1, exports: 0 });
      expect(await segmentIds(db.kysely)).toEqual(new Set([kept]));
      expect(filesOnDisk(recordingsDir).size).toBe(1);
    });

    it('a file that will not go fails the sweep; the next sweep finishes what was marked (M 6.6)', async () => {
      const start = clock.now();
      for (let i = 0; i < 20; i++)
        await addSegment(db.kysely, recordingsDir, seed.cameraIds[i % 2]!, start + i * 10_000);
      let refusals = 1;
      const flaky = retentionServices(db.kysely, clock, () => policy, {
        recordingsDir,
        exportsDir: join(recordingsDir, '..', 'exports'),
        intervalMs: INTERVAL,
        threshold: { minFreeBytes: 0, minFreePercent: 0 },
        // Batches of 2-7 segments: the refused file's batch is one of several.
        batch: { segments: { min: 2, max: 7 }, events: { min: 2, max: 7 } },
        files: {
          async removeFile(root, file) {
            if (file.includes(`/${start + 50_000}-`) && refusals-- > 0)
              throw Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });
            await nodeFileStore.removeFile(root, file);
          },
          removeDirectory: (root, directory) => nodeFileStore.removeDirectory(root, directory),
        },
      }).sweeper;
      clock.set(start + preset.footage + 300_000);
      await expect(flaky.sweep()).rejects.toThrow(/EBUSY/);
      // The refused file's batch stays marked; every row not marked still has its file.
      const rows = await db.kysely.selectFrom('segments').select(['file', 'erasing_at']).execute();
      expect(rows.some((r) => r.erasing_at !== null)).toBe(true);
      const files = filesOnDisk(recordingsDir);
      for (const r of rows.filter((r) => r.erasing_at === null)) expect(files.has(r.file)).toBe(true);

      await flaky.sweep();
      expect(await segmentIds(db.kysely)).toEqual(new Set());
      expect(filesOnDisk(recordingsDir).size).toBe(0);
    });

    it('dry run names what would go and why, and what holds keep; erases nothing', async () => {
      const start = clock.now();
      await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], start);
      await addSegment(db.kysely, recordingsDir, seed.cameraIds[1], start);
      await holds.create(manager, {
        cameraIds: [seed.cameraIds[1]],
        from: start,
        to: start + MINUTE,
        reason: 'Insurer claim',
        linkType: 'police-order',
        linkRef: 'PV 2026-1',
      });
      clock.advance(preset.footage);
      const plan = await sweeper.plan();
      expect(plan.erase).toEqual([expect.objectContaining({ targetId: seed.cameraIds[0], count: 1 })]);
      expect(plan.erase[0]!.reason).toMatch(/older than (72h|4w)/);
      expect(plan.held).toEqual([expect.objectContaining({ targetId: seed.cameraIds[1], count: 1 })]);
      expect((await segmentIds(db.kysely)).size).toBe(2);
    });
  });
});
