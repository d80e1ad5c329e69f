import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { DAY, HOUR } from '../lib/clock.js';
import { isDomainError, type DomainError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { loadPolicy } from '../policy/index.js';
import { addIncident, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { appendLogbookBatch, inTransaction, lockLogbookHead, type LogbookInsert } from './logbook.repository.js';
import { exportLogbookCsv, verifyLogbook } from './logbook.service.js';

async function caught(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (isDomainError(error)) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

const record = (i: number, now: number): LogbookInsert => ({
  id: newId(),
  kind: 'consultation',
  occurred_at: now + i,
  user_id: `u-${i % 7}`,
  user_label: `user ${i % 7}`,
  roles: '["huismeester"]',
  purpose: 'incident-assessment',
  category: 'footage',
  reason: `Bulk record ${i} — "quoted" \\ and ünïcode`,
  scope: '{"cameraIds":["c-1"]}',
  window_from: now - HOUR,
  window_to: now,
  incident_id: 'i-1',
  request_id: null,
  disclosure_id: null,
  access_request_id: null,
  grant_id: newId(),
  entry_id: null,
  refusal_code: null,
  text: null,
});

async function fill(k: Kysely<Database>, count: number, now: number) {
  await inTransaction(k, async (trx) => {
    let head = await lockLogbookHead(trx);
    for (let i = 0; i < count; i += 10_000) {
      head = await appendLogbookBatch(
        trx,
        head,
        Array.from({ length: Math.min(10_000, count - i) }, (_, j) => record(i + j, now)),
      );
    }
  });
}

describe.each(DIALECTS)('logbook on %s', (dialect) => {
  let db: Db;
  let k: Kysely<Database>;
  beforeAll(async () => {
    db = await createTestDb(dialect);
    k = db.kysely;
  });
  afterAll(async () => db.close());

  it('finding by the consulting user, then a signature by another signer; overdue lists; reads audited', async () => {
    const policy = loadPolicy('maaswonen-2024').policy;
    const { gate, logbook, clock } = services(k, policy);
    const now = clock.now();
    const seed = await seedRegistry(k, now);
    const incidentId = await addIncident(k, now);
    const viewer = principal('u-view', ['huismeester']);
    const signer = principal('u-sign', ['manager-vastgoed']);
    const other = principal('u-other', ['woonconsulent']);
    const ask = {
      purpose: 'incident-assessment',
      category: 'footage',
      scope: { cameraIds: [seed.cameraIds[0]] },
      from: now - 2 * HOUR,
      to: now - HOUR,
      reason: 'Graffiti',
      incidentId,
    };
    const a = await gate.requestAccess(viewer, ask);
    const b = await gate.requestAccess(viewer, ask);
    const c = await gate.requestAccess(signer, ask);
    if (a.status !== 'granted' || b.status !== 'granted' || c.status !== 'granted') throw new Error('expected grants');

    expect((await caught(logbook.sign(signer, a.entryId))).code).toBe('finding-missing');
    expect((await caught(logbook.recordFinding(other, a.entryId, 'x'))).code).toBe('finding-not-own');
    expect((await caught(logbook.recordFinding(viewer, 'nope', 'x'))).code).toBe('entry-not-found');
    const found = await logbook.recordFinding(viewer, a.entryId, 'Two persons spray the wall at 02:14');
    expect(found.status).toBe('awaiting-signature');
    expect((await caught(logbook.recordFinding(viewer, a.entryId, 'again'))).code).toBe('finding-exists');
    expect((await caught(logbook.sign(viewer, a.entryId))).code).toBe('sign-not-allowed');
    await logbook.recordFinding(signer, c.entryId, 'Nothing visible');
    expect((await caught(logbook.sign(signer, c.entryId))).code).toBe('self-signature');
    const signed = await logbook.sign(signer, a.entryId);
    expect(signed.status).toBe('signed');
    expect(signed.signature?.by).toBe(signer.userId);
    expect((await caught(logbook.sign(signer, a.entryId))).code).toBe('already-signed');

    // Overdue: b has no finding after logbookFindingDays; c no signature after logbookSignatureDays.
    expect(await logbook.overdue(signer)).toEqual([]);
    clock.advance(policy.deadlines.logbookFindingDays * DAY + 1);
    expect((await logbook.overdue(signer)).map((e) => [e.entryId, e.overdue])).toEqual([
      [b.entryId, ['finding-overdue']],
    ]);
    clock.advance(policy.deadlines.logbookSignatureDays * DAY);
    const overdue = new Map((await logbook.overdue(signer)).map((e) => [e.entryId, e.overdue]));
    expect(overdue.get(b.entryId)).toEqual(['finding-overdue', 'signature-overdue']);
    expect(overdue.get(c.entryId)).toEqual(['signature-overdue']);
    expect(overdue.has(a.entryId)).toBe(false);

    // Filters.
    expect((await logbook.list(signer, { status: 'signed' })).map((e) => e.entryId)).toEqual([a.entryId]);
    expect((await logbook.list(signer, { userId: viewer.userId })).map((e) => e.entryId)).toEqual([
      b.entryId,
      a.entryId,
    ]);
    expect(await logbook.list(signer, { cameraId: seed.cameraIds[1] })).toEqual([]);
    expect(
      (await logbook.list(signer, { cameraId: seed.cameraIds[0], status: 'awaiting-finding' })).map((e) => e.entryId),
    ).toEqual([b.entryId]);
    expect(await logbook.list(signer, { purpose: 'technical-check' })).toEqual([]);

    // Reading needs read-logbook, and every read is audited (refused ones too).
    const audits = async () =>
      await k
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor_id'])
        .where('target_type', '=', 'logbook')
        .execute();
    const before = (await audits()).length;
    expect((await caught(logbook.list(viewer, {}))).code).toBe('logbook-read-not-allowed');
    const csv = await logbook.exportCsv(signer, {});
    expect(csv.split('\r\n')[0]).toContain('entry_id');
    expect(csv).toContain('Two persons spray the wall at 02:14');
    const pdf = await logbook.exportPdf(signer, {});
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const after = await audits();
    expect(after.slice(before).map((r) => [r.action, r.outcome, r.actor_id])).toEqual([
      ['logbook.read', 'refused', viewer.userId],
      ['logbook.export-csv', 'success', signer.userId],
      ['logbook.export-pdf', 'success', signer.userId],
    ]);
    expect((await exportLogbookCsv(k)).split('\r\n').length).toBe(csv.split('\r\n').length);
  });

  it('CSV cells cannot inject spreadsheet formulas', async () => {
    const { gate, clock } = services(k, loadPolicy('wooninvest-2021').policy);
    const now = clock.now();
    const seed = await seedRegistry(k, now);
    const incidentId = await addIncident(k, now);
    await gate.requestAccess(principal('u-csv', ['wijkbeheerder']), {
      purpose: 'incident-assessment',
      category: 'footage',
      scope: { cameraIds: [seed.cameraIds[0]] },
      from: now - 2 * HOUR,
      to: now - HOUR,
      reason: '=HYPERLINK("http://x")',
      incidentId,
    });
    const csv = await exportLogbookCsv(k, { userId: 'u-csv' });
    expect(csv).toContain(`"'=HYPERLINK(""http://x"")"`);
  });

  describe('tampering by direct SQL is detected and the record named', () => {
    let tdb: Db;
    let tk: Kysely<Database>;
    let verifyKey: ReturnType<typeof services>['deps']['verifyKey'];
    let signHead: () => Promise<unknown>;
    beforeAll(async () => {
      tdb = await createTestDb(dialect);
      tk = tdb.kysely;
      const s = services(tk, loadPolicy('maaswonen-2024').policy);
      verifyKey = s.deps.verifyKey;
      signHead = () => s.logbook.signChainHead();
      await fill(tk, 20, s.clock.now());
      await signHead();
    });
    afterAll(async () => tdb.close());

    // Each case tampers inside a transaction that is rolled back, so cases stay independent.
    async function tampered(change: (trx: Kysely<Database>) => Promise<void>) {
      let result: Awaited<ReturnType<typeof verifyLogbook>> | undefined;
      await tk
        .transaction()
        .execute(async (trx) => {
          await change(trx);
          result = await verifyLogbook(trx, verifyKey);
          throw new Error('rollback');
        })
        .catch((e: Error) => {
          if (e.message !== 'rollback') throw e;
        });
      return result!;
    }

    it('untouched: ok', async () => {
      expect(await verifyLogbook(tk, verifyKey)).toEqual({ ok: true, checked: 20, signedHeads: 1 });
    });
    it('edit a field', async () => {
      const r = await tampered((t) =>
        t
          .updateTable('logbook_records')
          .set({ reason: 'innocent' })
          .where('seq', '=', 7)
          .execute()
          .then(() => {}),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 7 } });
      expect(r.problem?.message).toContain('altered');
    });
    it('delete a record', async () => {
      const r = await tampered((t) =>
        t
          .deleteFrom('logbook_records')
          .where('seq', '=', 5)
          .execute()
          .then(() => {}),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 6 } });
      expect(r.problem?.message).toContain('record 5 is missing');
    });
    it('swap two records', async () => {
      const r = await tampered(async (t) => {
        await t.updateTable('logbook_records').set({ seq: -1 }).where('seq', '=', 3).execute();
        await t.updateTable('logbook_records').set({ seq: 3 }).where('seq', '=', 4).execute();
        await t.updateTable('logbook_records').set({ seq: 4 }).where('seq', '=', -1).execute();
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 3 } });
    });
    it('insert a record', async () => {
      const r = await tampered(async (t) => {
        await t
          .updateTable('logbook_records')
          .set({ seq: sql`seq + 1000` })
          .where('seq', '>=', 10)
          .execute();
        await t
          .updateTable('logbook_records')
          .set({ seq: sql`seq - 999` })
          .where('seq', '>=', 1010)
          .execute();
        const nine = await t.selectFrom('logbook_records').selectAll().where('seq', '=', 9).executeTakeFirstOrThrow();
        await t
          .insertInto('logbook_records')
          .values({ ...nine, seq: 10, id: newId(), reason: 'forged' })
          .execute();
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 10 } });
    });
    it('remove the tail and move the head back', async () => {
      const r = await tampered(async (t) => {
        const eighteen = await t
          .selectFrom('logbook_records')
          .select('hash')
          .where('seq', '=', 18)
          .executeTakeFirstOrThrow();
        await t.deleteFrom('logbook_records').where('seq', '>', 18).execute();
        await t
          .updateTable('chain_heads')
          .set({ seq: 18, hash: eighteen.hash })
          .where('chain', '=', 'logbook')
          .execute();
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 19 } });
    });
    it('rewrite a record and re-hash everything after it: the signed head catches it', async () => {
      const r = await tampered(async (t) => {
        const rows = await t.selectFrom('logbook_records').selectAll().orderBy('seq').execute();
        const { chainHash } = await import('../audit/chain.js');
        const { logbookHashBody } = await import('./logbook.rules.js');
        let prev = rows[11]!.hash;
        for (const row of rows.slice(12)) {
          const changed = {
            ...row,
            seq: Number(row.seq),
            reason: row.seq === 13 ? 'rewritten' : row.reason,
            prev_hash: prev,
          };
          const hash = chainHash(prev, logbookHashBody(changed));
          await t
            .updateTable('logbook_records')
            .set({ reason: changed.reason, prev_hash: prev, hash })
            .where('seq', '=', row.seq)
            .execute();
          prev = hash;
        }
        await t.updateTable('chain_heads').set({ hash: prev }).where('chain', '=', 'logbook').execute();
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 20 } });
      expect(r.problem?.message).toContain('signed');
    });
    it('a forged head signature', async () => {
      const r = await tampered((t) =>
        t
          .updateTable('chain_signatures')
          .set({ hash: 'f'.repeat(64) })
          .execute()
          .then(() => {}),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 20 } });
      expect(r.problem?.message).toContain('not valid');
    });
  });

  it('an untouched chain of 100,000 records verifies', async () => {
    const big = await createTestDb(dialect);
    try {
      const { deps, clock, logbook } = services(big.kysely, loadPolicy('maaswonen-2024').policy);
      await fill(big.kysely, 100_000, clock.now());
      await logbook.signChainHead();
      const result = await verifyLogbook(big.kysely, deps.verifyKey);
      expect(result).toEqual({ ok: true, checked: 100_000, signedHeads: 1 });
    } finally {
      await big.close();
    }
  }, 60_000);
});
