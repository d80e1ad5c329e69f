import { createHash } from 'node:crypto';
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
import { chainTextHash } from '../audit/chain.js';

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
  // Non-ASCII (2-, 3- and 4-byte UTF-8) and escaped characters: every verify path hashes the UTF-8 bytes.
  reason: `Bulk record ${i} — "quoted" \\ and ünïcode 中文 😀,\ttab and \u0001 control`,
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

  it("M 6.4: each user lists their own entries still waiting for a finding, without read-logbook, and nobody else's", async () => {
    const policy = loadPolicy('maaswonen-2024').policy;
    const { gate, logbook, clock } = services(k, policy);
    const now = clock.now();
    const seed = await seedRegistry(k, now);
    const incidentId = await addIncident(k, now);
    const viewer = principal('u-mine', ['huismeester']);
    const colleague = principal('u-colleague', ['huismeester']);
    const ask = {
      purpose: 'incident-assessment',
      category: 'footage',
      scope: { cameraIds: [seed.cameraIds[0]] },
      from: now - 2 * HOUR,
      to: now - HOUR,
      reason: 'Broken window',
      incidentId,
    };
    const first = await gate.requestAccess(viewer, ask);
    const second = await gate.requestAccess(viewer, ask);
    const theirs = await gate.requestAccess(colleague, ask);
    if (first.status !== 'granted' || second.status !== 'granted' || theirs.status !== 'granted')
      throw new Error('expected grants');
    // A huismeester may not read the logbook, yet can find their own open entries.
    expect((await caught(logbook.list(viewer, {}))).code).toBe('logbook-read-not-allowed');
    expect((await logbook.awaitingMyFinding(viewer)).map((e) => e.entryId).sort()).toEqual(
      [first.entryId, second.entryId].sort(),
    );
    await logbook.recordFinding(viewer, first.entryId, 'Nothing to see');
    expect((await logbook.awaitingMyFinding(viewer)).map((e) => e.entryId)).toEqual([second.entryId]);
    expect((await logbook.awaitingMyFinding(colleague)).map((e) => e.entryId)).toEqual([theirs.entryId]);
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

  describe('tampering by direct SQL is detected and the record named (both strategies agree)', () => {
    /**
     * Each case: a fresh chain of 20 records with a signed head, a committed change by direct
     * SQL (as someone with database access would make it), then verify four times: in 3 ranges
     * at once (on SQLite this thread and worker threads, on PostgreSQL server-side SHA-256), in
     * 7 small ranges handed out as threads come free, the same with worker threads only (this
     * thread would otherwise check short chains itself before a worker is up), and walked record
     * by record in Node. All must name the same record.
     */
    async function tampered(change: (t: Kysely<Database>) => Promise<unknown>) {
      const tdb = await createTestDb(dialect);
      try {
        const s = services(tdb.kysely, loadPolicy('maaswonen-2024').policy);
        await fill(tdb.kysely, 20, s.clock.now());
        await s.logbook.signChainHead();
        await change(tdb.kysely);
        const ranges = await verifyLogbook(tdb.kysely, s.deps.verifyKey, { strategy: 'ranges', ranges: 3 });
        const pooled = await verifyLogbook(tdb.kysely, s.deps.verifyKey, {
          strategy: 'ranges',
          ranges: 2,
          rangeSize: 3,
        });
        const workers = await verifyLogbook(tdb.kysely, s.deps.verifyKey, {
          strategy: 'ranges',
          ranges: 2,
          rangeSize: 3,
          callingThread: false,
        });
        const walked = await verifyLogbook(tdb.kysely, s.deps.verifyKey, { strategy: 'walk' });
        expect(ranges).toEqual(walked);
        expect(pooled).toEqual(walked);
        expect(workers).toEqual(walked);
        return walked;
      } finally {
        await tdb.close();
      }
    }

    /** Inserts a copy of record `from` as record `seq`, with its own id and another reason. */
    async function forge(t: Kysely<Database>, from: number, seq: number) {
      const row = await t.selectFrom('logbook_records').selectAll().where('seq', '=', from).executeTakeFirstOrThrow();
      const body = row.body.replace(row.id, 'forged-id').replace(/Bulk record \d+ /, 'Forged ');
      const values = { seq, prev_hash: row.prev_hash, body, hash: row.hash };
      // PostgreSQL keeps the query columns as plain columns: the forger fills them in too.
      const all = { ...row, ...values, id: 'forged-id', reason: (JSON.parse(body) as { reason: string }).reason };
      await t
        .insertInto('logbook_records')
        .values(dialect === 'sqlite' ? values : all)
        .execute();
    }

    it('untouched: ok', async () => {
      expect(await tampered(() => Promise.resolve())).toEqual({ ok: true, checked: 20, signedHeads: 1 });
    });
    it('edit the hashed text of a record', async () => {
      const r = await tampered((t) =>
        sql`update logbook_records set body = replace(body, 'Bulk record 6 ', 'Innocent ') where seq = 7`.execute(t),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 7 } });
      expect(r.problem?.message).toContain('altered');
    });
    it('edit a query column: SQLite refuses (generated from the body), PostgreSQL verify names it', async () => {
      const r = await tampered(async (t) => {
        const edit = sql`update logbook_records set reason = 'innocent' where seq = 7`.execute(t);
        if (dialect === 'sqlite') await expect(edit).rejects.toThrow(/generated column/);
        else await edit;
      });
      if (dialect === 'sqlite') expect(r.ok).toBe(true);
      else expect(r).toMatchObject({ ok: false, problem: { seq: 7, message: expect.stringContaining('altered') } });
    });
    // SQLite only: on PostgreSQL the query columns are plain and checked against the body.
    if (dialect === 'sqlite')
      it('replace a generated column by a plain one and edit it (DDL)', async () => {
        const r = await tampered(async (t) => {
          await sql`alter table logbook_records drop column reason`.execute(t);
          await sql`alter table logbook_records add column reason text`.execute(t);
          await sql`update logbook_records set reason = json_extract(body, '$.reason')`.execute(t);
          await sql`update logbook_records set reason = 'innocent' where seq = 7`.execute(t);
        });
        expect(r).toMatchObject({ ok: false, problem: { seq: 7 } });
        expect(r.problem?.message).toContain('reason is no longer generated');
      });
    it("edit a record's prev_hash only", async () => {
      const r = await tampered((t) =>
        sql`update logbook_records set prev_hash = ${'a'.repeat(64)} where seq = 8`.execute(t),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('does not link') } });
    });
    it("edit a record's stored hash only", async () => {
      const r = await tampered((t) =>
        sql`update logbook_records set hash = ${'b'.repeat(64)} where seq = 8`.execute(t),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('altered') } });
    });
    it('a prev_hash that starts with the right hash but is longer', async () => {
      const r = await tampered((t) =>
        sql`update logbook_records set prev_hash = prev_hash || 'x' where seq = 8`.execute(t),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('does not link') } });
    });
    it('a prev_hash one character off and every record after it re-hashed (links are compared to the last byte)', async () => {
      const r = await tampered(async (t) => {
        const rows = await t.selectFrom('logbook_records').select(['seq', 'body', 'hash']).orderBy('seq').execute();
        // Record 8 no longer links to record 7 by its last character only; from there on the
        // chain is consistent again, up to a new head.
        const link = rows[6]!.hash;
        let prev = link.slice(0, 63) + (link.endsWith('0') ? '1' : '0');
        for (const row of rows.slice(7)) {
          const hash = chainTextHash(prev, row.body);
          await t.updateTable('logbook_records').set({ prev_hash: prev, hash }).where('seq', '=', row.seq).execute();
          prev = hash;
        }
        await t.updateTable('chain_heads').set({ hash: prev }).where('chain', '=', 'logbook').execute();
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('does not link') } });
    });
    it('a prev_hash one character short and a hash one longer, keeping their joined text (range blobs are cut by length)', async () => {
      // Joined, the two columns still read "previous hash, this hash": a reader that cut the
      // records out of one blob at fixed places would find every link and hash right.
      const r = await tampered((t) =>
        sql`update logbook_records set prev_hash = substr(prev_hash, 2), hash = hash || substr(prev_hash, 1, 1)
            where seq = 8`.execute(t),
      );
      expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('does not link') } });
    });
    // SQLite only: a column's value can be a blob there (PostgreSQL text columns hold text).
    if (dialect === 'sqlite') {
      it('the stored hash turned into a blob of the same bytes', async () => {
        const r = await tampered((t) =>
          sql`update logbook_records set hash = cast(hash as blob) where seq = 8`.execute(t),
        );
        expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('altered') } });
      });
      it('a prev_hash turned into a blob of the same bytes', async () => {
        const r = await tampered((t) =>
          sql`update logbook_records set prev_hash = cast(prev_hash as blob) where seq = 8`.execute(t),
        );
        expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('does not link') } });
      });
      it('a body edited to bytes that are not UTF-8 and re-hashed over those bytes: every path hashes the stored bytes', async () => {
        const r = await tampered(async (t) => {
          await sql`update logbook_records set body = cast(replace(body, 'Bulk record 6 ', 'Bulk record 6 ' || cast(x'ff' as text)) as text)
                    where seq = 7`.execute(t);
          const { rows } = await sql<{
            hashed: Uint8Array;
          }>`select cast(prev_hash || char(10) || body as blob) as hashed
                    from logbook_records where seq = 7`.execute(t);
          await sql`update logbook_records set hash = ${createHash('sha256').update(rows[0]!.hashed).digest('hex')}
                    where seq = 7`.execute(t);
        });
        // Record 7 is consistent in itself; record 8 still links to its old hash.
        expect(r).toMatchObject({ ok: false, problem: { seq: 8, message: expect.stringContaining('does not link') } });
      });
    }
    // PostgreSQL only: on SQLite the body must stay valid JSON (its generated columns are indexed).
    if (dialect === 'postgres')
      it('move text across the prev_hash / body boundary (the hashed text is read as one string)', async () => {
        const r = await tampered((t) =>
          sql`update logbook_records set prev_hash = prev_hash || ${'\n'} || substr(body, 1, 5), body = substr(body, 6)
              where seq = 8`.execute(t),
        );
        expect(r).toMatchObject({ ok: false, problem: { seq: 8 } });
      });
    it('delete a record', async () => {
      const r = await tampered((t) => sql`delete from logbook_records where seq = 5`.execute(t));
      expect(r).toMatchObject({ ok: false, problem: { seq: 6 } });
      expect(r.problem?.message).toContain('record 5 is missing');
    });
    it('swap two records', async () => {
      const r = await tampered(async (t) => {
        await sql`update logbook_records set seq = -1 where seq = 3`.execute(t);
        await sql`update logbook_records set seq = 3 where seq = 4`.execute(t);
        await sql`update logbook_records set seq = 4 where seq = -1`.execute(t);
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 3 } });
    });
    it('insert a record', async () => {
      const r = await tampered(async (t) => {
        await sql`update logbook_records set seq = seq + 1000 where seq >= 10`.execute(t);
        await sql`update logbook_records set seq = seq - 999 where seq >= 1010`.execute(t);
        await forge(t, 9, 10);
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 10 } });
    });
    it('insert a record outside the chain (seq 0)', async () => {
      const r = await tampered((t) => forge(t, 1, 0));
      expect(r).toMatchObject({ ok: false, problem: { seq: 0 } });
    });
    it('remove the tail and move the head back', async () => {
      const r = await tampered(async (t) => {
        await sql`delete from logbook_records where seq > 18`.execute(t);
        await sql`update chain_heads set seq = 18, hash = (select hash from logbook_records where seq = 18)
                  where chain = 'logbook'`.execute(t);
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 19 } });
    });
    it('rewrite a record and re-hash everything after it: the signed head catches it', async () => {
      const r = await tampered(async (t) => {
        const rows = await t.selectFrom('logbook_records').select(['seq', 'body', 'hash']).orderBy('seq').execute();
        let prev = rows[11]!.hash;
        for (const row of rows.slice(12)) {
          const body = Number(row.seq) === 13 ? row.body.replace('Bulk record 12 ', 'Rewritten ') : row.body;
          const hash = chainTextHash(prev, body);
          await t
            .updateTable('logbook_records')
            .set({ body, prev_hash: prev, hash })
            .where('seq', '=', row.seq)
            .execute();
          // On PostgreSQL the query column is plain: a thorough forger rewrites it as well.
          if (dialect === 'postgres')
            await sql`update logbook_records set reason = ${(JSON.parse(body) as { reason: string }).reason}
                      where seq = ${row.seq}`.execute(t);
          prev = hash;
        }
        await t.updateTable('chain_heads').set({ hash: prev }).where('chain', '=', 'logbook').execute();
      });
      expect(r).toMatchObject({ ok: false, problem: { seq: 20 } });
      expect(r.problem?.message).toContain('signed');
    });
    it('a forged head signature', async () => {
      const r = await tampered((t) => sql`update chain_signatures set hash = ${'f'.repeat(64)}`.execute(t));
      expect(r).toMatchObject({ ok: false, problem: { seq: 20 } });
      expect(r.problem?.message).toContain('not valid');
    });
  });

  it('verify inside a transaction sees that transaction (ranges fall back to walking on SQLite)', async () => {
    const tdb = await createTestDb(dialect);
    try {
      const s = services(tdb.kysely, loadPolicy('maaswonen-2024').policy);
      await fill(tdb.kysely, 20, s.clock.now());
      let inside: Awaited<ReturnType<typeof verifyLogbook>> | undefined;
      await tdb.kysely
        .transaction()
        .execute(async (trx) => {
          await sql`delete from logbook_records where seq = 12`.execute(trx);
          inside = await verifyLogbook(trx, s.deps.verifyKey, { strategy: 'ranges' });
          throw new Error('rollback');
        })
        .catch((e: Error) => {
          if (e.message !== 'rollback') throw e;
        });
      expect(inside).toMatchObject({ ok: false, problem: { seq: 13 } });
      expect(await verifyLogbook(tdb.kysely, s.deps.verifyKey, { strategy: 'ranges' })).toMatchObject({ ok: true });
    } finally {
      await tdb.close();
    }
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
  }, 180_000);
});
