import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainHash } from '../audit/chain.js';
import { canonicalJson } from '../lib/canonical-json.js';
import { loadPolicy } from '../policy/index.js';
import { decideAccess, grantNeedProblem } from './access.rules.js';
import { encodeLogbookBody, fastLogbookHash, logbookHashBody, type LogbookFields } from './logbook.rules.js';

const str = fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: null });
const int = fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: null });
const recordArb: fc.Arbitrary<LogbookFields> = fc.record({
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  id: fc.uuid(),
  kind: fc.constantFrom('consultation', 'refusal', 'approval', 'finding', 'signature'),
  occurred_at: fc.integer({ min: 0, max: 2 ** 45 }),
  user_id: fc.string({ unit: 'binary', maxLength: 20 }),
  user_label: fc.string({ unit: 'binary', maxLength: 20 }),
  roles: fc.string({ unit: 'binary', maxLength: 20 }),
  purpose: str,
  category: str,
  reason: str,
  scope: str,
  window_from: int,
  window_to: int,
  incident_id: str,
  request_id: str,
  disclosure_id: str,
  access_request_id: str,
  grant_id: str,
  entry_id: str,
  refusal_code: str,
  text: str,
});

describe('logbook hash fast path', () => {
  it('encodes exactly the canonical JSON and hashes exactly like chainHash (src/audit/chain.ts)', () => {
    fc.assert(
      fc.property(recordArb, fc.stringMatching(/^[0-9a-f]{64}$/), (r, prev) => {
        expect(encodeLogbookBody(r)).toBe(canonicalJson(logbookHashBody(r)));
        expect(fastLogbookHash(prev, r)).toBe(chainHash(prev, logbookHashBody(r)));
      }),
      { numRuns: 500 },
    );
  });
});

const tagGrant = () => ({
  category: 'door-events',
  purpose: 'tag-function-check',
  scope: { tag: 'T1' },
  from: 0,
  to: 10,
});

describe('grant scope', () => {
  const grant = {
    category: 'footage',
    purpose: 'incident-assessment',
    scope: { cameraIds: ['c1', 'c2'] },
    from: 100,
    to: 200,
  };
  it('serves only named cameras inside the window', () => {
    expect(grantNeedProblem(grant, { category: 'footage', cameraId: 'c2', from: 100, to: 200 })).toBeNull();
    expect(grantNeedProblem(grant, { category: 'footage', cameraId: 'c1', at: 150 })).toBeNull();
    expect(grantNeedProblem(grant, { category: 'footage', from: 100, to: 200 })).toBe('camera');
    expect(grantNeedProblem(grant, { category: 'footage', cameraId: 'c3', at: 150 })).toBe('camera');
    expect(grantNeedProblem(grant, { category: 'footage', cameraId: 'c1', from: 99, to: 150 })).toBe('time');
    expect(grantNeedProblem(grant, { category: 'footage', cameraId: 'c1' })).toBe('time');
    expect(grantNeedProblem(grant, { category: 'door-events', doorId: 'd1', at: 150 })).toBe('category');
  });
  it('a tag grant serves that tag only', () => {
    const tagGrant = { category: 'door-events', purpose: 'tag-function-check', scope: { tag: 'T1' }, from: 0, to: 10 };
    expect(grantNeedProblem(tagGrant, { category: 'door-events', tag: 'T1', at: 5 })).toBeNull();
    expect(grantNeedProblem(tagGrant, { category: 'door-events', tag: 'T2', at: 5 })).toBe('tag');
    expect(grantNeedProblem(tagGrant, { category: 'door-events', doorId: 'd', tag: 'T1', at: 5 })).toBe('door');
  });
  it('a data route that names its purposes is not opened by a grant for another purpose', () => {
    const need = { category: 'door-events' as const, tag: 'T1', at: 5 };
    expect(grantNeedProblem(tagGrant(), { ...need, purposes: ['tag-function-check'] })).toBeNull();
    expect(grantNeedProblem(tagGrant(), { ...need, purposes: ['subject-access'] })).toBe('purpose');
  });
});

describe('decideAccess', () => {
  const m = loadPolicy('maaswonen-2024').policy;
  const w = loadPolicy('wooninvest-2021').policy;
  const facts = { now: 1_000_000_000, missingCameraIds: [], missingDoorIds: [] };
  const base = { scope: { tag: 'T1' }, from: 999_000_000, to: 999_500_000, reason: 'r' };
  it('has no purpose for accusations (M 3.6)', () => {
    expect(
      decideAccess(m, ['manager-klant-wonen'], { ...base, purpose: 'accusation', category: 'door-events' }, facts),
    ).toMatchObject({ allowed: false, reason: 'purpose-unknown' });
  });
  it('W stores no key-tag data', () => {
    expect(
      decideAccess(w, ['wijkbeheerder'], { ...base, purpose: 'disclosure', category: 'door-events' }, facts),
    ).toMatchObject({ allowed: false, reason: 'category-not-in-policy' });
  });
  it('four-eyes comes from the policy', () => {
    const calamity = { ...facts, incident: { kind: 'calamity', status: 'open' } };
    expect(
      decideAccess(
        m,
        ['manager-vastgoed'],
        { ...base, purpose: 'calamity-witness-search', category: 'tag-holders', incidentId: 'i' },
        calamity,
      ),
    ).toMatchObject({ allowed: true, fourEyes: true });
  });
});
