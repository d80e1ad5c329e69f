/**
 * A real sweeper process for the kill -9 test (src/retention/sweep.crash.test.ts). It loads its
 * modules, prints `ready`, then on one stdin line {url, dataDir, policy} opens the database and
 * runs one sweep (start-up reconciliation included) with the system clock, printing `done`.
 * Loading before `ready` lets the test time its kill inside the sweep, not inside module loading.
 */
import { createInterface } from 'node:readline';
import { openDatabase } from '../src/db/database.js';
import { MINUTE, systemClock } from '../src/lib/clock.js';
import { loadPolicy } from '../src/policy/index.js';
import { RetentionSweeper, storageDirs } from '../src/retention/sweeper.js';

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  const { url, dataDir, policy } = JSON.parse(line) as { url: string; dataDir: string; policy: string };
  const loaded = loadPolicy(policy).policy;
  const db = openDatabase(url);
  const sweeper = new RetentionSweeper({
    db: db.kysely,
    clock: systemClock,
    policy: () => loaded,
    ...storageDirs(dataDir),
    intervalMs: MINUTE,
    threshold: { minFreeBytes: 0, minFreePercent: 0 },
  });
  process.stdout.write('started\n');
  await sweeper.sweep();
  await db.close();
  process.stdout.write('done\n');
  process.exit(0);
}
