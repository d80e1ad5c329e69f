import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.js';
import { ManualClock } from '../lib/clock.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import fc from 'fast-check';
import { canonicalJson } from '../lib/canonical-json.js';
import { AuditTrail, verifyAuditChain } from './audit.js';
import { auditHashBody, encodeAuditBody } from './audit.repository.js';

const actor = { id: 'u1', label: 'alice' };

describe.each(DIALECTS)('audit trail on %s', (dialect) => {
  let db: Db;
  const clock = new ManualClock('2026-03-01T10:00:00Z');
  const trail = new AuditTrail(clock);

  beforeEach(async () => {
    db = await createTestDb(dialect);
  });
  afterEach(async () => {
    await db.close();
  });

  async function appendMany(n: number) {
    for (let i = 0; i < n; i++) {
      await db.kysely.transaction().execute((trx) =>
        trail.record(trx, {
          actor,
          action: 'camera.updated',
          targetType: 'camera',
          targetId: `c${i}`,
          before: { n: i },
          after: { n: i + 1 },
        }),
      );
    }
  }

  it('an untouched chain verifies', async () => {
    await appendMany(5);
    expect(await verifyAuditChain(db.kysely)).toEqual({ ok: true, checked: 5 });
  });

  it('a record written in a rolled-back transaction leaves no trace and the chain stays valid', async () => {
    await appendMany(2);
    await expect(
      db.kysely.transaction().execute(async (trx) => {
        await trail.record(trx, { actor, action: 'x', targetType: 'camera' });
        throw new Error('change failed');
      }),
    ).rejects.toThrow('change failed');
    await appendMany(1);
    expect(await verifyAuditChain(db.kysely)).toEqual({ ok: true, checked: 3 });
  });

  it('names the record that was edited by direct SQL', async () => {
    await appendMany(5);
    await sql`update audit_events set after = '{"n":99}' where seq = 3`.execute(db.kysely);
    const result = await verifyAuditChain(db.kysely);
    expect(result.ok).toBe(false);
    expect(result.problem?.seq).toBe(3);
    expect(result.problem?.message).toContain('altered');
  });

  it('names the gap when a record is deleted', async () => {
    await appendMany(5);
    await sql`delete from audit_events where seq = 2`.execute(db.kysely);
    const result = await verifyAuditChain(db.kysely);
    expect(result).toMatchObject({ ok: false, problem: { seq: 3 } });
  });

  it('detects removal of the last records through the head', async () => {
    await appendMany(4);
    await sql`delete from audit_events where seq = 4`.execute(db.kysely);
    const result = await verifyAuditChain(db.kysely);
    expect(result).toMatchObject({ ok: false, problem: { seq: 3 } });
    expect(result.problem?.message).toContain('removed at the end');
  });

  it('concurrent appends form one linear chain', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        db.kysely
          .transaction()
          .execute((trx) =>
            trail.record(trx, { actor, action: 'user.updated', targetType: 'user', targetId: `u${i}` }),
          ),
      ),
    );
    expect(await verifyAuditChain(db.kysely)).toEqual({ ok: true, checked: 30 });
  });
});

describe('audit hash fast path', () => {
  const str = fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: null });
  it('encodeAuditBody writes exactly the canonical JSON the chain hashes (src/audit/chain.ts)', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.integer({ min: 1, max: 2 ** 40 }),
          id: fc.uuid(),
          occurred_at: fc.integer({ min: 0, max: 2 ** 45 }),
          actor_id: str,
          actor_label: fc.string({ unit: 'binary', maxLength: 20 }),
          action: fc.string({ unit: 'binary', maxLength: 20 }),
          target_type: fc.string({ unit: 'binary', maxLength: 20 }),
          target_id: str,
          outcome: fc.constantFrom('success', 'failure', 'refused'),
          before: str,
          after: str,
          context: str,
        }),
        (row) => {
          expect(encodeAuditBody(row)).toBe(canonicalJson(auditHashBody(row)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
