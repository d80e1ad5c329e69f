/**
 * Logbook and gate benchmark (issue 3): grant-issue latency (p50/p95), logbook append
 * throughput, and verify speed, on SQLite (a temp file, WAL, as in production).
 * PostgreSQL is not measured here: it needs the embedded server of the test setup.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { ManualClock, HOUR } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { loadPolicy } from '../src/policy/index.js';
import { GateService } from '../src/access/gate.service.js';
import { LogbookService, verifyLogbook } from '../src/access/logbook.service.js';
import {
  appendLogbookBatch,
  inTransaction,
  lockLogbookHead,
  type LogbookInsert,
} from '../src/access/logbook.repository.js';
import { addIncident, principal, seedRegistry } from '../test/access-fixtures.js';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

function record(i: number, now: number): LogbookInsert {
  return {
    id: newId(),
    kind: 'consultation',
    occurred_at: now + i,
    user_id: `u-${i % 13}`,
    user_label: `user-${i % 13}`,
    roles: '["huismeester"]',
    purpose: 'incident-assessment',
    category: 'footage',
    reason: `Vandalism in hall, night ${i}`,
    scope: `{"cameraIds":["${newId()}"]}`,
    window_from: now - HOUR,
    window_to: now,
    incident_id: newId(),
    request_id: null,
    disclosure_id: null,
    access_request_id: null,
    grant_id: newId(),
    entry_id: null,
    refusal_code: null,
    text: null,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-bench-logbook-'));
  const db = openDatabase(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await migrateToLatest(db);
    const clock = new ManualClock('2026-03-02T10:00:00Z');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const policy = loadPolicy('maaswonen-2024').policy;
    const deps = { db: db.kysely, clock, policy: () => policy, signingKey: privateKey, verifyKey: publicKey };
    const gate = new GateService(deps);
    const logbook = new LogbookService(deps);
    const now = clock.now();
    const seed = await seedRegistry(db.kysely, now);
    const incidentId = await addIncident(db.kysely, now);
    const who = principal('u-bench', ['woonconsulent']);

    // 1. Grant issue latency: the whole requestAccess (checks + logbook record + grant, one transaction).
    const latencies: number[] = [];
    const grants = 2000;
    for (let i = 0; i < grants; i++) {
      const t = performance.now();
      await gate.requestAccess(who, {
        purpose: 'incident-assessment',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[i % 2]!] },
        from: now - 2 * HOUR,
        to: now - HOUR,
        reason: `bench ${i}`,
        incidentId,
      });
      latencies.push(performance.now() - t);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const grantsPerSecond = grants / (latencies.reduce((a, b) => a + b, 0) / 1000);

    // 2. Append throughput: single appends, one transaction each (what the app does)...
    const singles = 2000;
    let t = performance.now();
    for (let i = 0; i < singles; i++) {
      await inTransaction(db.kysely, async (trx) =>
        appendLogbookBatch(trx, await lockLogbookHead(trx), [record(i, now)]),
      );
    }
    const singleAppendPerSecond = singles / ((performance.now() - t) / 1000);
    // ...and batched (bulk import / test fill).
    const bulk = 150_000;
    t = performance.now();
    await inTransaction(db.kysely, async (trx) => {
      let head = await lockLogbookHead(trx);
      for (let i = 0; i < bulk; i += 10_000)
        head = await appendLogbookBatch(
          trx,
          head,
          Array.from({ length: 10_000 }, (_, j) => record(i + j, now)),
        );
    });
    const batchAppendPerSecond = bulk / ((performance.now() - t) / 1000);
    await logbook.signChainHead();

    // 3. Verify: the whole chain, signatures and head.
    t = performance.now();
    const verified = await verifyLogbook(db.kysely, publicKey);
    const verifySeconds = (performance.now() - t) / 1000;
    if (!verified.ok) throw new Error(`verify failed: ${verified.problem?.message}`);

    return {
      database: 'sqlite (file, WAL); PostgreSQL not measured in this benchmark',
      grantIssue: {
        count: grants,
        p50Ms: +percentile(sorted, 50).toFixed(3),
        p95Ms: +percentile(sorted, 95).toFixed(3),
        perSecond: Math.round(grantsPerSecond),
      },
      append: {
        singleTransactionPerRecord: { count: singles, recordsPerSecond: Math.round(singleAppendPerSecond) },
        batched: { count: bulk, recordsPerSecond: Math.round(batchAppendPerSecond) },
        targetRecordsPerSecond: 2000,
      },
      verify: {
        records: verified.checked,
        seconds: +verifySeconds.toFixed(3),
        recordsPerSecond: Math.round(verified.checked / verifySeconds),
        targetRecordsPerSecond: 500_000,
      },
    };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
