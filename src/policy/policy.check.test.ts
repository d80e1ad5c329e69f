/** checkPolicy: structural errors name the path; cross-references and legal gaps are reported. */
import { describe, expect, it } from 'vitest';
import { checkPolicy, MIN_WORKING_DAYS_IN_ONE_MONTH, PRESETS, type PolicyIssue } from './index.js';

type Doc = Record<string, any>;
const preset = (name: 'maaswonen-2024' | 'wooninvest-2021'): Doc => structuredClone(PRESETS[name]) as Doc;
const codes = (issues: PolicyIssue[]) => issues.map((i) => i.code);
const find = (issues: PolicyIssue[], code: string) => issues.find((i) => i.code === code);

describe('structural errors name the field path', () => {
  it('a typo in a field name', () => {
    const doc = preset('maaswonen-2024');
    doc.roles[2].permisions = doc.roles[2].permissions;
    delete doc.roles[2].permissions;
    const { policy, errors } = checkPolicy(doc);
    expect(policy).toBeUndefined();
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'roles[2].permisions', code: 'unknown-field' }),
        expect.objectContaining({ path: 'roles[2].permissions', code: 'missing-field' }),
      ]),
    );
  });

  it('an unknown purpose, e.g. one for accusations (M 3.6)', () => {
    const doc = preset('maaswonen-2024');
    doc.roles[2].permissions[0].purpose = 'support-accusation';
    const { errors } = checkPolicy(doc);
    expect(errors).toEqual([
      expect.objectContaining({ path: 'roles[2].permissions[0].purpose', code: 'invalid-value' }),
    ]);
  });

  it('an unknown purpose key in purposes', () => {
    const doc = preset('maaswonen-2024');
    doc.purposes['prove-accusation'] = doc.purposes['tag-function-check'];
    expect(checkPolicy(doc).errors).toEqual([
      expect.objectContaining({ path: 'purposes.prove-accusation', code: 'unknown-field' }),
    ]);
  });

  it('a wrong type', () => {
    const doc = preset('wooninvest-2021');
    doc.deadlines.holdReviewDays = '90';
    expect(checkPolicy(doc).errors).toEqual([
      expect.objectContaining({ path: 'deadlines.holdReviewDays', code: 'wrong-type' }),
    ]);
  });

  it('a malformed duration or role id', () => {
    const doc = preset('wooninvest-2021');
    doc.dataCategories.footage.retention = '3 days';
    doc.roles[0].id = 'Wijk Beheerder';
    expect(
      checkPolicy(doc)
        .errors.map((e) => e.path)
        .sort(),
    ).toEqual(['dataCategories.footage.retention', 'roles[0].id']);
  });
});

describe('cross-reference errors', () => {
  it('duplicate role ids', () => {
    const doc = preset('wooninvest-2021');
    doc.roles.push({ ...doc.roles[0] });
    expect(checkPolicy(doc).errors).toEqual([
      expect.objectContaining({ path: 'roles[3].id', code: 'duplicate-role-id' }),
    ]);
  });

  it('a permission on a category its purpose does not cover', () => {
    const doc = preset('maaswonen-2024');
    doc.roles[6].permissions[0].categories = ['footage', 'tag-holders']; // technisch-onderhoud
    expect(checkPolicy(doc).errors).toEqual([
      expect.objectContaining({
        path: 'roles[6].permissions[0].categories[1]',
        code: 'permission-category-not-in-purpose',
      }),
    ]);
  });

  it('a permission for a purpose missing from purposes', () => {
    const doc = preset('wooninvest-2021');
    doc.roles[1].permissions = [{ purpose: 'incident-handling', categories: ['footage'] }];
    expect(codes(checkPolicy(doc).errors)).toEqual(['permission-purpose-undefined']);
  });

  it('a purpose stretched to door-events beyond M 3.5', () => {
    const doc = preset('maaswonen-2024');
    doc.purposes['incident-assessment'].categories.push('door-events');
    const error = find(checkPolicy(doc).errors, 'purpose-category-out-of-scope');
    expect(error?.path).toBe('purposes.incident-assessment.categories[1]');
    expect(error?.articles).toContain('M 3.5');
  });

  it('calamity witness search without a calamity (M 3.6)', () => {
    const doc = preset('maaswonen-2024');
    doc.purposes['calamity-witness-search'].requires = 'incident';
    expect(codes(checkPolicy(doc).errors)).toEqual(['purpose-requirement-too-weak']);
  });

  it('no role that signs the logbook (M 6.4)', () => {
    const doc = preset('maaswonen-2024');
    for (const role of doc.roles) role.capabilities = role.capabilities.filter((c: string) => c !== 'sign-logbook');
    const error = find(checkPolicy(doc).errors, 'no-logbook-signer');
    expect(error?.articles).toContain('M 6.4');
  });

  it('four-eyes without anyone to approve', () => {
    const doc = preset('maaswonen-2024');
    for (const role of doc.roles) role.capabilities = role.capabilities.filter((c: string) => c !== 'approve-access');
    expect(codes(checkPolicy(doc).errors)).toEqual(['four-eyes-without-approver']);
  });

  it('door events disclosed to anyone but the police (M 5.7)', () => {
    const doc = preset('maaswonen-2024');
    doc.disclosure.categories['door-events'].recipients.push('insurer');
    const { errors } = checkPolicy(doc);
    expect(errors).toEqual([
      expect.objectContaining({
        path: 'disclosure.categories.door-events.recipients[1]',
        code: 'access-data-disclosure-beyond-police',
        articles: ['M 5.7'],
      }),
    ]);
  });

  it('key-tag data without key tags, and key tags without their categories', () => {
    const w = preset('wooninvest-2021');
    w.dataCategories['door-events'] = { retention: '4w', articles: ['M 6.7'] };
    expect(codes(checkPolicy(w).errors)).toEqual(['key-tag-category-without-key-tags']);
    const m = preset('maaswonen-2024');
    delete m.dataCategories['door-events'];
    expect(codes(checkPolicy(m).errors)).toContain('category-missing');
  });

  it('footage without automatic erasure (W 6.3, M 6.6)', () => {
    const doc = preset('wooninvest-2021');
    doc.dataCategories.footage.retention = null;
    expect(codes(checkPolicy(doc).errors)).toEqual(['retention-required']);
  });

  it('no subject-access purpose (GDPR 15)', () => {
    const doc = preset('wooninvest-2021');
    delete doc.purposes['subject-access'];
    doc.roles[0].permissions = doc.roles[0].permissions.filter((p: Doc) => p.purpose !== 'subject-access');
    expect(codes(checkPolicy(doc).errors)).toEqual(['subject-access-missing']);
  });
});

describe('legal warnings', () => {
  const warningsOf = (doc: Doc) => {
    const { errors, warnings } = checkPolicy(doc);
    expect(errors).toEqual([]);
    return warnings;
  };

  it('footage kept 6w warns without a reason, not with one (GDPR 5(1)(e))', () => {
    const doc = preset('maaswonen-2024');
    doc.dataCategories.footage.retention = '6w';
    doc.dataCategories.exports.retention = '6w';
    const warning = find(warningsOf(doc), 'retention-above-four-weeks');
    expect(warning?.path).toBe('dataCategories.footage.retention');
    expect(warning?.articles).toContain('GDPR 5(1)(e)');
    doc.dataCategories.footage.retentionReason = 'Complex with frequent late-reported incidents (DPIA 2025-03).';
    expect(codes(warningsOf(doc))).not.toContain('retention-above-four-weeks');
  });

  it('exactly four weeks does not warn; 29 days does', () => {
    const doc = preset('maaswonen-2024');
    doc.dataCategories['door-events'].retention = '28d';
    expect(codes(warningsOf(doc))).not.toContain('retention-above-four-weeks');
    doc.dataCategories['door-events'].retention = '29d';
    expect(find(warningsOf(doc), 'retention-above-four-weeks')?.path).toBe('dataCategories.door-events.retention');
  });

  it('a first copy free of charge does not warn; any charge does (GDPR 12(5), 15(3))', () => {
    const doc = preset('maaswonen-2024');
    doc.fees.firstCopy.amountCents = 0;
    expect(codes(warningsOf(doc))).not.toContain('fee-first-copy');
    const w = preset('wooninvest-2021');
    w.fees.firstCopy.amountCents = 250;
    expect(find(warningsOf(w), 'fee-first-copy')?.message).toContain('250 cents');
  });

  it(`a working-day deadline above ${MIN_WORKING_DAYS_IN_ONE_MONTH} can exceed one month (GDPR 12(3))`, () => {
    const doc = preset('maaswonen-2024');
    doc.deadlines.requestDecisionWorkingDays = MIN_WORKING_DAYS_IN_ONE_MONTH;
    expect(codes(warningsOf(doc))).not.toContain('request-deadline-above-legal');
    doc.deadlines.requestDecisionWorkingDays = MIN_WORKING_DAYS_IN_ONE_MONTH + 1;
    expect(find(warningsOf(doc), 'request-deadline-above-legal')?.articles).toEqual(['GDPR 12(3)']);
  });

  it('hidden cameras without a DPIA (W 3.4, GDPR 35)', () => {
    const doc = preset('wooninvest-2021');
    doc.hiddenCameras.requiresDpiaReference = false;
    expect(find(warningsOf(doc), 'hidden-cameras-without-dpia')?.articles).toEqual(['W 3.4', 'GDPR 35']);
    doc.hiddenCameras.allowed = false;
    expect(codes(warningsOf(doc))).not.toContain('hidden-cameras-without-dpia');
  });

  it('no-dpia-reference disappears once a DPIA is referenced (GDPR 35)', () => {
    const doc = preset('wooninvest-2021');
    expect(codes(warningsOf(doc))).toContain('no-dpia-reference');
    doc.dpiaReference = 'DPIA cameratoezicht 2025-01';
    expect(warningsOf(doc)).toEqual([]);
  });

  it('other checkable gaps: breach deadline, hold review, police safeguards, signs, security, unbounded technical check', () => {
    const doc = preset('maaswonen-2024');
    doc.deadlines.breachReportHours = 96;
    doc.deadlines.holdReviewDays = 180;
    doc.disclosure.police.requireLegalBasis = false;
    doc.disclosure.police.requireOfficerIdentification = false;
    doc.placement.signs.requiredAtEveryGeneralEntrance = false;
    doc.placement.publicRoad.rule = 'allowed';
    doc.cameraSecurity.requireSecureConnection = false;
    delete doc.purposes['technical-check'].maxLookback;
    doc.dataCategories.exports.retention = '8w';
    expect(codes(warningsOf(doc)).sort()).toEqual(
      [
        'breach-deadline-above-legal',
        'camera-security-weak',
        'exports-outlive-footage',
        'fee-first-copy',
        'hold-review-above-90-days',
        'no-dpia-reference',
        'police-without-identification',
        'police-without-legal-basis',
        'public-road-unrestricted',
        'signs-not-required',
        'technical-check-unbounded',
      ].sort(),
    );
  });
});
