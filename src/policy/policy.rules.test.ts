/** Queries on the presets: each role has exactly the access the protocol gives it. */
import { describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE } from '../lib/clock.js';
import {
  allowedRecipients,
  canSeePersonalData,
  describeRole,
  hasCapability,
  isAllowed,
  loadPolicy,
  maxLookbackMs,
  parseDuration,
  PURPOSES,
  requiresFourEyes,
  roleIds,
  rolesAllowing,
  type Policy,
} from './index.js';

const m = loadPolicy('maaswonen-2024').policy;
const w = loadPolicy('wooninvest-2021').policy;

/** Every (purpose, category) a role may use, as `purpose:category`, sorted. */
function grants(policy: Policy, roleId: string): string[] {
  const out: string[] = [];
  for (const purpose of PURPOSES) {
    for (const category of [
      'footage',
      'door-events',
      'tag-holders',
      'logbook',
      'audit-trail',
      'requests',
      'exports',
    ] as const) {
      if (isAllowed(policy, [roleId], purpose, category)) out.push(`${purpose}:${category}`);
    }
  }
  return out.sort();
}

describe('parseDuration', () => {
  it('parses m, h, d, w', () => {
    expect(parseDuration('15m')).toBe(15 * MINUTE);
    expect(parseDuration('72h')).toBe(72 * HOUR);
    expect(parseDuration('28d')).toBe(28 * DAY);
    expect(parseDuration('4w')).toBe(28 * DAY);
  });
  it.each(['', '0h', '4', '1y', '1.5d', ' 4w', '4W'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ code: 'duration-invalid' }));
  });
});

describe('MaasWonen roles have exactly the access the protocol gives', () => {
  const managerGrants = [
    'calamity-witness-search:door-events', // M 3.6, preset's choice of role
    'calamity-witness-search:tag-holders',
    'disclosure:door-events', // M 5.7 (police only, see below)
    'disclosure:footage', // M 2.6, M 5
    'disclosure:tag-holders',
    'incident-assessment:footage', // M 6.3
    'subject-access:door-events', // M 4
    'subject-access:footage',
    'subject-access:tag-holders',
  ];
  const viewerGrants = [
    'incident-assessment:footage',
    'tag-function-check:door-events',
    'tag-function-check:tag-holders',
  ];
  it.each([
    ['manager-klant-wonen', managerGrants],
    ['manager-vastgoed', managerGrants],
    ['woonconsulent', viewerGrants], // M 6.3, M 3.5
    ['huismeester', viewerGrants],
    ['manager', ['incident-handling:footage']], // M 6.3
    ['jurist', ['incident-handling:footage']], // M 6.3
    ['technisch-onderhoud', ['technical-check:footage']], // M 6.5
  ])('%s', (roleId, expected) => {
    expect(grants(m, roleId)).toEqual(expected);
  });

  it('has no other roles', () => {
    expect(roleIds(m).sort()).toEqual(
      [
        'huismeester',
        'jurist',
        'manager',
        'manager-klant-wonen',
        'manager-vastgoed',
        'technisch-onderhoud',
        'woonconsulent',
      ].sort(),
    );
  });

  it('only the M 2.6 managers decide requests and disclosures and sign the logbook (M 2.6, M 6.4)', () => {
    for (const capability of ['decide-requests', 'decide-disclosures', 'sign-logbook'] as const) {
      const holders = roleIds(m).filter((id) => hasCapability(m, [id], capability));
      expect(holders.sort(), capability).toEqual(['manager-klant-wonen', 'manager-vastgoed']);
    }
  });

  it('calamity witness search needs four eyes; tag checks do not', () => {
    expect(requiresFourEyes(m, 'calamity-witness-search')).toBe(true);
    expect(requiresFourEyes(m, 'tag-function-check')).toBe(false);
  });

  it('access data goes to the police only (M 5.7); footage also to insurers and courts (M 5.2, M 5.3)', () => {
    expect(allowedRecipients(m, 'door-events')).toEqual(['police']);
    expect(allowedRecipients(m, 'tag-holders')).toEqual(['police']);
    expect(allowedRecipients(m, 'footage')).toEqual(expect.arrayContaining(['police', 'insurer', 'court-proceedings']));
  });
});

describe('WoonInvest roles (W 2.1-2.7)', () => {
  it.each([
    ['wijkbeheerder', ['disclosure:footage', 'incident-assessment:footage', 'subject-access:footage']],
    ['teamleider-leefbaarheid', []],
    ['onderhoudsbedrijf', ['technical-check:footage']],
  ])('%s', (roleId, expected) => {
    expect(grants(w, roleId)).toEqual(expected);
  });

  it('the teamleider signs the logbook, the wijkbeheerder secures footage and decides (W 2.4, W 2.6)', () => {
    expect(hasCapability(w, ['teamleider-leefbaarheid'], 'sign-logbook')).toBe(true);
    expect(hasCapability(w, ['wijkbeheerder'], 'sign-logbook')).toBe(false);
    expect(hasCapability(w, ['wijkbeheerder'], 'secure-footage')).toBe(true);
    expect(hasCapability(w, ['wijkbeheerder'], 'decide-disclosures')).toBe(true);
    expect(hasCapability(w, ['onderhoudsbedrijf'], 'maintenance-log')).toBe(true); // W 6.6
  });

  it('technical checks see only the last 24 hours (W 2.7, W 6.6)', () => {
    expect(maxLookbackMs(w, 'technical-check')).toBe(24 * HOUR);
    expect(maxLookbackMs(w, 'incident-assessment')).toBeNull();
  });
});

describe('door events are never used for anything but M 3.5, M 3.6, M 4 and M 5.7', () => {
  const allowedOnDoorEvents = ['tag-function-check', 'calamity-witness-search', 'subject-access', 'disclosure'];
  it.each([m, w].map((policy) => [policy.id, policy] as const))('%s', (_id, policy) => {
    for (const purpose of PURPOSES) {
      const holders = rolesAllowing(policy, purpose, 'door-events');
      if (!allowedOnDoorEvents.includes(purpose)) expect(holders, purpose).toEqual([]);
    }
  });
  it('W has no door events at all', () => {
    expect(PURPOSES.flatMap((p) => rolesAllowing(w, p, 'door-events'))).toEqual([]);
  });
});

describe('rolesAllowing, isAllowed, canSeePersonalData', () => {
  it('rolesAllowing lists the roles holding a purpose on a category', () => {
    expect(rolesAllowing(m, 'incident-handling', 'footage').sort()).toEqual(['jurist', 'manager']);
    expect(rolesAllowing(m, 'technical-check', 'door-events')).toEqual([]);
  });

  it('isAllowed is true if any of several roles allows it, false for unknown roles', () => {
    expect(isAllowed(m, ['jurist', 'technisch-onderhoud'], 'technical-check', 'footage')).toBe(true);
    expect(isAllowed(m, ['jurist'], 'technical-check', 'footage')).toBe(false);
    expect(isAllowed(m, ['nobody'], 'incident-assessment', 'footage')).toBe(false);
    expect(isAllowed(m, [], 'incident-assessment', 'footage')).toBe(false);
  });

  it('canSeePersonalData: huismeester yes, a logbook-only role no', () => {
    expect(canSeePersonalData(m, ['huismeester'])).toBe(true);
    expect(canSeePersonalData(w, ['teamleider-leefbaarheid'])).toBe(false);
    expect(canSeePersonalData(w, ['teamleider-leefbaarheid', 'onderhoudsbedrijf'])).toBe(true);
    expect(canSeePersonalData(m, [])).toBe(false);
  });

  it('describeRole gives Dutch and English names and a summary', () => {
    const role = describeRole(m, 'huismeester');
    expect(role?.name).toEqual({ nl: 'Huismeester', en: 'Caretaker' });
    expect(role?.summary).toContain('tag-function-check(door-events, tag-holders)');
    expect(role?.permissions[0]?.label.nl).toBe('Beoordelen van een incident');
    expect(describeRole(m, 'nobody')).toBeUndefined();
  });
});
