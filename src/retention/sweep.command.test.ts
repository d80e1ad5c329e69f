import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../../test/cli.js';
import { testDataDir } from '../../test/db.js';
import { seedRegistry } from '../../test/access-fixtures.js';
import { addSegment, segmentIds } from '../../test/retention-fixtures.js';
import { migrateToLatest, openDatabase } from '../db/database.js';
import { DAY, ManualClock } from '../lib/clock.js';

describe('protocam sweep', () => {
  it('--dry-run prints what would be erased and why and erases nothing; without it, erases (W 6.3)', async () => {
    const dataDir = testDataDir();
    const clock = new ManualClock('2026-03-02T09:00:00Z');
    const url = `sqlite:${join(dataDir, 'protocam.db')}`;
    const db = openDatabase(url);
    await migrateToLatest(db);
    const seed = await seedRegistry(db.kysely, clock.now());
    const recordingsDir = join(dataDir, 'recordings');
    await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], clock.now() - 4 * DAY);
    await addSegment(db.kysely, recordingsDir, seed.cameraIds[1], clock.now() - DAY);
    await db.close();
    const env = { PROTOCAM_DATA_DIR: dataDir, PROTOCAM_POLICY: 'wooninvest-2021', PROTOCAM_LOG_LEVEL: 'silent' };

    const dry = await cli(['sweep', '--dry-run'], env, clock);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('nothing is erased');
    expect(dry.out).toMatch(
      new RegExp(
        `would erase footage camera ${seed.cameraIds[0]}: 1 item\\(s\\), 188 bytes.*older than 72h \\(W 6\\.3\\)`,
      ),
    );
    expect(dry.out).not.toContain(seed.cameraIds[1]);
    expect(dry.out).toContain('skips door-events: the policy defines no door-events');

    const check = openDatabase(url);
    expect((await segmentIds(check.kysely)).size).toBe(2);
    await check.close();

    const run = await cli(['sweep'], env, clock);
    expect(run.code).toBe(0);
    expect(run.out).toContain('footage: erased 1 item(s), 188 bytes (retention 72h)');
    const after = openDatabase(url);
    expect((await segmentIds(after.kysely)).size).toBe(1);
    await after.close();
  });
});
