import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { isDomainError, type DomainError } from '../lib/errors.js';
import { HOUR, MINUTE } from '../lib/clock.js';
import {
  loadPolicy,
  PURPOSES,
  RECORDED_CATEGORIES,
  rolesAllowing,
  requiresFourEyes,
  type Policy,
} from '../policy/index.js';
import { GRANT_TTL_MS } from './access.rules.js';
import {
  addDisclosure,
  addIncident,
  addSubjectRequest,
  countRecords,
  principal,
  seedRegistry,
  services,
  type Seed,
} from '../../test/access-fixtures.js';
import type { AccessInput } from './gate.service.js';
import { verifyLogbook } from './logbook.service.js';

const PRESETS = ['maaswonen-2024', 'wooninvest-2021'] as const;
/** Purposes nobody may use: accusations are never a purpose (M 3.6). */
const FORBIDDEN_PURPOSES = ['accusation', 'support-accusation'];

async function caught(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (isDomainError(error)) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

interface Links {
  incident: string;
  calamity: string;
  request: string;
  disclosure: string;
}

function askFor(purpose: string, category: string, seed: Seed, links: Links, now: number): AccessInput {
  const scope = category === 'footage' ? { cameraIds: [seed.cameraIds[0]] } : { tag: 'TAG-42' };
  const recent = purpose === 'technical-check';
  return {
    purpose,
    category,
    scope,
    from: recent ? now - HOUR : now - 3 * HOUR,
    to: recent ? now : now - 2 * HOUR,
    reason: 'Matrix test',
    incidentId:
      purpose === 'calamity-witness-search'
        ? links.calamity
        : purpose === 'incident-assessment' || purpose === 'incident-handling'
          ? links.incident
          : undefined,
    requestId: purpose === 'subject-access' ? links.request : undefined,
    disclosureId: purpose === 'disclosure' ? links.disclosure : undefined,
  };
}

describe.each(DIALECTS)('access gate on %s', (dialect) => {
  let db: Db;
  let k: Kysely<Database>;
  beforeAll(async () => {
    db = await createTestDb(dialect);
    k = db.kysely;
  });
  afterAll(async () => db.close());

  describe.each(PRESETS)('role x purpose x category matrix of %s', (presetId) => {
    const policy: Policy = loadPolicy(presetId).policy;
    it('grants exactly the policy’s combinations, logging one record each; refuses and logs the rest', async () => {
      const { gate, clock, deps } = services(k, policy);
      const now = clock.now();
      const seed = await seedRegistry(k, now);
      const links: Links = {
        incident: await addIncident(k, now),
        calamity: await addIncident(k, now, 'calamity'),
        request: await addSubjectRequest(k, now),
        disclosure: await addDisclosure(k, now, 'police'),
      };
      let cases = 0;
      for (const role of policy.roles.map((r) => r.id)) {
        const who = principal(`u-${role}`, [role]);
        for (const purpose of [...PURPOSES, ...FORBIDDEN_PURPOSES]) {
          for (const category of RECORDED_CATEGORIES) {
            cases += 1;
            const allowed = (PURPOSES as readonly string[]).includes(purpose)
              ? rolesAllowing(policy, purpose as (typeof PURPOSES)[number], category).includes(role)
              : false;
            const before = await countRecords(k);
            const ask = askFor(purpose, category, seed, links, now);
            const label = `${role} ${purpose} ${category}`;
            if (!allowed) {
              const error = await caught(gate.requestAccess(who, ask));
              expect(error.code, label).toBe('access-refused');
              expect(error.kind, label).toBe('forbidden');
              expect(await countRecords(k), label).toBe(before + 1);
              const record = await k
                .selectFrom('logbook_records')
                .selectAll()
                .orderBy('seq', 'desc')
                .limit(1)
                .executeTakeFirstOrThrow();
              expect(record.kind, label).toBe('refusal');
              expect(record.refusal_code, label).toBe(error.details?.reason);
              expect(record.user_id).toBe(who.userId);
              continue;
            }
            const outcome = await gate.requestAccess(who, ask);
            if (requiresFourEyes(policy, purpose as (typeof PURPOSES)[number])) {
              expect(outcome.status, label).toBe('pending');
              expect(await countRecords(k), label).toBe(before);
              continue;
            }
            expect(outcome.status, label).toBe('granted');
            if (outcome.status !== 'granted') continue;
            expect(await countRecords(k), label).toBe(before + 1);
            const record = await k
              .selectFrom('logbook_records')
              .selectAll()
              .where('id', '=', outcome.entryId)
              .executeTakeFirstOrThrow();
            expect(record.kind).toBe('consultation');
            expect(record.grant_id).toBe(outcome.grantId);
            expect(outcome.expiresAt).toBe(now + GRANT_TTL_MS);
            expect(outcome.token.length).toBeGreaterThanOrEqual(43);
            const need =
              category === 'footage'
                ? { category, cameraId: seed.cameraIds[0], from: ask.from, to: ask.to }
                : { category, tag: 'TAG-42', at: ask.from };
            await expect(gate.validateGrant(who, outcome.token, need)).resolves.toMatchObject({ id: outcome.grantId });
          }
        }
      }
      expect(cases).toBe(policy.roles.length * (PURPOSES.length + FORBIDDEN_PURPOSES.length) * 3);
      expect(await verifyLogbook(k, deps.verifyKey)).toMatchObject({ ok: true });
    });
  });

  it('spot checks that do not come from the policy functions (M 3.5, M 3.6, M 6.5, M 5.7)', async () => {
    const policy = loadPolicy('maaswonen-2024').policy;
    const { gate, clock } = services(k, policy);
    const now = clock.now();
    const seed = await seedRegistry(k, now);
    const huismeester = principal('u-hm', ['huismeester']);
    const tech = principal('u-tech', ['technisch-onderhoud']);
    const manager = principal('u-mkw', ['manager-klant-wonen']);
    const incident = await addIncident(k, now);
    const base = { reason: 'check', from: now - 2 * HOUR, to: now - HOUR };
    // Door events are never used to assess incidents (M 3.5).
    const e1 = await caught(
      gate.requestAccess(huismeester, {
        ...base,
        purpose: 'incident-assessment',
        category: 'door-events',
        scope: { doorIds: [seed.doorIds[0]] },
        incidentId: incident,
      }),
    );
    expect(e1.details?.reason).toBe('purpose-category-mismatch');
    // Technical staff: recent footage of named cameras only (M 6.5).
    const e2 = await caught(
      gate.requestAccess(tech, {
        ...base,
        from: now - 30 * HOUR,
        purpose: 'technical-check',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[0]] },
      }),
    );
    expect(e2.details?.reason).toBe('lookback-exceeded');
    const e3 = await caught(
      gate.requestAccess(tech, { ...base, purpose: 'technical-check', category: 'footage', scope: {} }),
    );
    expect(e3.details?.reason).toBe('scope-invalid');
    const e4 = await caught(
      gate.requestAccess(tech, {
        ...base,
        purpose: 'technical-check',
        category: 'footage',
        scope: { cameraIds: ['no-such-camera'] },
      }),
    );
    expect(e4.details?.reason).toBe('camera-unknown');
    // Calamity witness search needs a calamity incident (M 3.6).
    const e5 = await caught(
      gate.requestAccess(manager, {
        ...base,
        purpose: 'calamity-witness-search',
        category: 'door-events',
        scope: { tag: 'T1' },
        incidentId: incident,
      }),
    );
    expect(e5.details?.reason).toBe('calamity-incident-required');
    // Key-tag data goes to the police only (M 5.7); footage may go to an insurer (M 5.2).
    const insurer = await addDisclosure(k, now, 'insurer');
    const e6 = await caught(
      gate.requestAccess(manager, {
        ...base,
        purpose: 'disclosure',
        category: 'door-events',
        scope: { doorIds: [seed.doorIds[0]] },
        disclosureId: insurer,
      }),
    );
    expect(e6.details?.reason).toBe('disclosure-recipient-not-allowed');
    await expect(
      gate.requestAccess(manager, {
        ...base,
        purpose: 'disclosure',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[1]] },
        disclosureId: insurer,
      }),
    ).resolves.toMatchObject({ status: 'granted' });
    // Incident purposes need an open or handled incident.
    const closed = await addIncident(k, now, 'vandalism', 'closed');
    const e7 = await caught(
      gate.requestAccess(huismeester, {
        ...base,
        purpose: 'incident-assessment',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[0]] },
        incidentId: closed,
      }),
    );
    expect(e7.details?.reason).toBe('incident-closed');
    const e8 = await caught(
      gate.requestAccess(huismeester, {
        ...base,
        purpose: 'incident-assessment',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[0]] },
      }),
    );
    expect(e8.details?.reason).toBe('incident-required');
    // Subject access to key-tag data: only the subject's own tag (M 4).
    const request = await addSubjectRequest(k, now, 'TAG-42');
    const e9 = await caught(
      gate.requestAccess(manager, {
        ...base,
        purpose: 'subject-access',
        category: 'door-events',
        scope: { tag: 'TAG-43' },
        requestId: request,
      }),
    );
    expect(e9.details?.reason).toBe('request-tag-mismatch');
    // Unbounded or reversed windows.
    const e10 = await caught(
      gate.requestAccess(huismeester, {
        ...base,
        from: now - HOUR,
        to: now - 2 * HOUR,
        purpose: 'incident-assessment',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[0]] },
        incidentId: incident,
      }),
    );
    expect(e10.details?.reason).toBe('window-invalid');
    // Door events by door under a tag-function check.
    await expect(
      gate.requestAccess(huismeester, {
        ...base,
        purpose: 'tag-function-check',
        category: 'door-events',
        scope: { doorIds: [seed.doorIds[1]] },
      }),
    ).resolves.toMatchObject({ status: 'granted' });
  });

  it('validateGrant refuses expired, other users’, other cameras’ and out-of-window use', async () => {
    const policy = loadPolicy('wooninvest-2021').policy;
    const { gate, clock } = services(k, policy);
    const now = clock.now();
    const seed = await seedRegistry(k, now);
    const owner = principal('u-wb', ['wijkbeheerder']);
    const other = principal('u-wb2', ['wijkbeheerder']);
    const incidentId = await addIncident(k, now);
    const from = now - 3 * HOUR;
    const to = now - 2 * HOUR;
    const grant = await gate.requestAccess(owner, {
      purpose: 'incident-assessment',
      category: 'footage',
      scope: { cameraIds: [seed.cameraIds[0]] },
      from,
      to,
      reason: 'Broken window',
      incidentId,
    });
    if (grant.status !== 'granted') throw new Error('expected a grant');
    const inside = { category: 'footage' as const, cameraId: seed.cameraIds[0], from, to };
    await expect(gate.validateGrant(owner, grant.token, inside)).resolves.toMatchObject({ entryId: grant.entryId });
    expect((await caught(gate.validateGrant(other, grant.token, inside))).code).toBe('grant-not-found');
    expect((await caught(gate.validateGrant(owner, 'x'.repeat(43), inside))).code).toBe('grant-not-found');
    const camera = await caught(gate.validateGrant(owner, grant.token, { ...inside, cameraId: seed.cameraIds[1] }));
    expect([camera.code, camera.details?.outside]).toEqual(['outside-grant', 'camera']);
    const late = await caught(gate.validateGrant(owner, grant.token, { ...inside, to: to + MINUTE }));
    expect([late.code, late.details?.outside]).toEqual(['outside-grant', 'time']);
    const at = await caught(
      gate.validateGrant(owner, grant.token, { category: 'footage', cameraId: seed.cameraIds[0], at: from - 1 }),
    );
    expect(at.details?.outside).toBe('time');
    const cat = await caught(
      gate.validateGrant(owner, grant.token, { category: 'door-events', doorId: seed.doorIds[0], at: from }),
    );
    expect(cat.details?.outside).toBe('category');
    clock.advance(GRANT_TTL_MS);
    expect((await caught(gate.validateGrant(owner, grant.token, inside))).code).toBe('grant-not-found');
  });

  it('four-eyes: pending request, self-approval refused, approval logged, grant collected once', async () => {
    const policy = loadPolicy('maaswonen-2024').policy;
    const { gate, clock, deps } = services(k, policy);
    const now = clock.now();
    await seedRegistry(k, now);
    const calamity = await addIncident(k, now, 'calamity');
    const requester = principal('u-mkw-4e', ['manager-klant-wonen']);
    const approver = principal('u-mvg-4e', ['manager-vastgoed']);
    const huismeester = principal('u-hm-4e', ['huismeester']);
    const records = await countRecords(k);
    const pending = await gate.requestAccess(requester, {
      purpose: 'calamity-witness-search',
      category: 'tag-holders',
      scope: { tag: 'TAG-9' },
      from: now - 5 * HOUR,
      to: now - 4 * HOUR,
      reason: 'Fire on floor 3: find witnesses',
      incidentId: calamity,
    });
    if (pending.status !== 'pending') throw new Error('expected pending');
    expect(await countRecords(k)).toBe(records);
    expect((await gate.listRequests(approver, { status: 'pending' })).map((r) => r.id)).toContain(pending.requestId);
    expect(await gate.listRequests(huismeester, { status: 'pending' })).toEqual([]);
    expect((await caught(gate.approve(requester, pending.requestId))).code).toBe('self-approval');
    expect((await caught(gate.approve(huismeester, pending.requestId))).code).toBe('approve-not-allowed');
    expect((await caught(gate.claimGrant(requester, pending.requestId))).code).toBe('access-request-not-approved');
    const approved = await gate.approve(approver, pending.requestId);
    expect(approved.status).toBe('approved');
    const approval = await k
      .selectFrom('logbook_records')
      .selectAll()
      .where('id', '=', approved.decisionEntryId!)
      .executeTakeFirstOrThrow();
    expect([approval.kind, approval.user_id, approval.access_request_id]).toEqual([
      'approval',
      approver.userId,
      pending.requestId,
    ]);
    expect((await caught(gate.approve(approver, pending.requestId))).code).toBe('access-request-not-pending');
    expect((await caught(gate.claimGrant(approver, pending.requestId))).code).toBe('access-request-not-found');
    clock.advance(10 * MINUTE);
    const issued = await gate.claimGrant(requester, pending.requestId);
    await expect(
      gate.validateGrant(requester, issued.token, { category: 'tag-holders', tag: 'TAG-9', at: now - 5 * HOUR }),
    ).resolves.toMatchObject({ entryId: issued.entryId });
    expect((await caught(gate.claimGrant(requester, pending.requestId))).code).toBe('grant-already-issued');
    expect(await countRecords(k)).toBe(records + 2);
    // A rejection is a refusal record carrying the approver's note.
    const second = await gate.requestAccess(requester, {
      purpose: 'calamity-witness-search',
      category: 'door-events',
      scope: { tag: 'TAG-9' },
      from: now - 5 * HOUR,
      to: now - 4 * HOUR,
      reason: 'Again',
      incidentId: calamity,
    });
    if (second.status !== 'pending') throw new Error('expected pending');
    const rejected = await gate.reject(approver, second.requestId, 'Not proportionate');
    expect(rejected.status).toBe('rejected');
    const refusal = await k
      .selectFrom('logbook_records')
      .selectAll()
      .where('id', '=', rejected.decisionEntryId!)
      .executeTakeFirstOrThrow();
    expect([refusal.kind, refusal.refusal_code, refusal.text]).toEqual([
      'refusal',
      'rejected-by-approver',
      'Not proportionate',
    ]);
    expect(await verifyLogbook(k, deps.verifyKey)).toMatchObject({ ok: true });
  });

  it('50 concurrent access requests make 50 entries in one valid chain', async () => {
    const fresh = await createTestDb(dialect);
    try {
      const policy = loadPolicy('maaswonen-2024').policy;
      const { gate, clock, deps } = services(fresh.kysely, policy);
      const now = clock.now();
      const seed = await seedRegistry(fresh.kysely, now);
      const incidentId = await addIncident(fresh.kysely, now);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          gate.requestAccess(principal(`u-${i}`, ['woonconsulent']), {
            purpose: 'incident-assessment',
            category: 'footage',
            scope: { cameraIds: [seed.cameraIds[i % 2]!] },
            from: now - 2 * HOUR,
            to: now - HOUR,
            reason: `Concurrent ${i}`,
            incidentId,
          }),
        ),
      );
      expect(results.every((r) => r.status === 'granted')).toBe(true);
      const seqs = (await fresh.kysely.selectFrom('logbook_records').select('seq').orderBy('seq').execute()).map((r) =>
        Number(r.seq),
      );
      expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await verifyLogbook(fresh.kysely, deps.verifyKey)).toEqual({ ok: true, checked: 50, signedHeads: 0 });
    } finally {
      await fresh.close();
    }
  });
});
