/** Presets and loading: both protocols as encoded load cleanly and say what the articles say. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DAY, HOUR } from '../lib/clock.js';
import { DomainError } from '../lib/errors.js';
import { checkPolicy, listPresets, loadPolicy, PRESETS, retentionMs } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'protocam-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('presets', () => {
  it('lists both presets', () => {
    expect(listPresets().sort()).toEqual(['maaswonen-2024', 'wooninvest-2021']);
  });

  it.each(listPresets())('%s loads with zero errors', (name) => {
    const result = checkPolicy(PRESETS[name]);
    expect(result.errors).toEqual([]);
    expect(result.policy?.id).toBe(name);
  });

  it('W keeps footage exactly 72 hours (W 6.3) and has no key tags', () => {
    const { policy } = loadPolicy('wooninvest-2021');
    expect(retentionMs(policy, 'footage')).toBe(72 * HOUR);
    expect(policy.keyTags.enabled).toBe(false);
    expect(() => retentionMs(policy, 'door-events')).toThrow(/does not define/);
  });

  it('M keeps footage (M 6.6) and door events (M 6.7) exactly 28 days', () => {
    const { policy } = loadPolicy('maaswonen-2024');
    expect(retentionMs(policy, 'footage')).toBe(28 * DAY);
    expect(retentionMs(policy, 'door-events')).toBe(28 * DAY);
    expect(policy.keyTags.enabled).toBe(true);
    expect(policy.deadlines.requestDecisionWorkingDays).toBe(3); // M 4
  });

  it('M warns fee-first-copy (M 4 "kostprijs" vs GDPR 12(5)); W does not', () => {
    const m = loadPolicy('maaswonen-2024').warnings.find((w) => w.code === 'fee-first-copy');
    expect(m?.articles).toEqual(expect.arrayContaining(['GDPR 12(5)', 'GDPR 15(3)', 'M 4']));
    expect(loadPolicy('wooninvest-2021').warnings.map((w) => w.code)).not.toContain('fee-first-copy');
  });

  it('both presets warn that no DPIA reference is recorded (GDPR 35) and nothing else unexpected', () => {
    expect(loadPolicy('wooninvest-2021').warnings.map((w) => w.code)).toEqual(['no-dpia-reference']);
    expect(
      loadPolicy('maaswonen-2024')
        .warnings.map((w) => w.code)
        .sort(),
    ).toEqual(['fee-first-copy', 'no-dpia-reference']);
  });

  it('every role, category and purpose of each preset cites at least one article', () => {
    for (const name of listPresets()) {
      const { policy } = loadPolicy(name);
      for (const role of policy.roles) expect(role.articles.length, role.id).toBeGreaterThan(0);
      for (const [key, rule] of Object.entries(policy.dataCategories))
        expect(rule.articles.length, key).toBeGreaterThan(0);
      for (const [key, rule] of Object.entries(policy.purposes)) expect(rule.articles.length, key).toBeGreaterThan(0);
    }
  });
});

describe('loadPolicy', () => {
  it('returns source, ref and a stable SHA-256 hash', () => {
    const a = loadPolicy('maaswonen-2024');
    expect(a.source).toBe('preset');
    expect(a.ref).toBe('maaswonen-2024');
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(loadPolicy('maaswonen-2024').hash).toBe(a.hash);
    expect(loadPolicy('wooninvest-2021').hash).not.toBe(a.hash);
  });

  it('loads YAML and JSON files, with the same hash as the preset they copy', () => {
    const yamlPath = join(dir, 'm.yaml');
    const ymlPath = join(dir, 'w.yml');
    const jsonPath = join(dir, 'm.json');
    writeFileSync(yamlPath, stringify(PRESETS['maaswonen-2024']));
    writeFileSync(ymlPath, stringify(PRESETS['wooninvest-2021']));
    writeFileSync(jsonPath, JSON.stringify(PRESETS['maaswonen-2024'], null, 2));
    const yaml = loadPolicy(yamlPath);
    expect(yaml.source).toBe('file');
    expect(yaml.hash).toBe(loadPolicy('maaswonen-2024').hash);
    expect(loadPolicy(jsonPath).hash).toBe(yaml.hash);
    expect(loadPolicy(ymlPath).policy.id).toBe('wooninvest-2021');
  });

  it('hash does not depend on key order', () => {
    const reversed = Object.fromEntries(Object.entries(PRESETS['wooninvest-2021']!).reverse());
    const path = join(dir, 'reversed.json');
    writeFileSync(path, JSON.stringify(reversed));
    expect(loadPolicy(path).hash).toBe(loadPolicy('wooninvest-2021').hash);
  });

  it('throws policy-invalid listing every error as path: message', () => {
    const doc = structuredClone(PRESETS['maaswonen-2024']) as Record<string, any>;
    doc.roles[0].permissions[0].purpose = 'accusation'; // M 3.6: no such purpose
    doc.fees.firstCopy.amountCent = 500; // typo
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, stringify(doc));
    let caught: unknown;
    try {
      loadPolicy(path);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DomainError);
    const error = caught as DomainError;
    expect(error.kind).toBe('invalid');
    expect(error.code).toBe('policy-invalid');
    expect(error.message).toContain('roles[0].permissions[0].purpose:');
    expect(error.message).toContain('fees.firstCopy.amountCent:');
    expect((error.details?.issues as unknown[]).length).toBe(2);
  });

  it('rejects unknown refs and unparsable files with a DomainError', () => {
    expect(() => loadPolicy('rotterdam-2030')).toThrow(expect.objectContaining({ code: 'policy-unknown' }));
    expect(() => loadPolicy(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: 'policy-unreadable' }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "id": ');
    expect(() => loadPolicy(broken)).toThrow(expect.objectContaining({ code: 'policy-unreadable' }));
  });
});
