import { describe, expect, it } from 'vitest';
import { DAY } from '../lib/clock.js';
import { loadPolicy, type Policy } from '../policy/index.js';
import {
  activationRefusals,
  complianceFindings,
  EMPTY_PLACEMENT,
  HIDDEN_CAMERA_ENDING_NOTICE_DAYS,
  type CameraFacts,
  type Placement,
  type RegistrySnapshot,
} from './registry.rules.js';

const W = loadPolicy('wooninvest-2021').policy;
const M = loadPolicy('maaswonen-2024').policy;
const NOW = Date.parse('2026-03-02T10:00:00Z');
const corporation = { ownership: 'corporation' };

function camera(over: Partial<CameraFacts> = {}, placement: Partial<Placement> = {}): CameraFacts {
  return {
    kind: 'real',
    status: 'inactive',
    goals: ['protect-persons'],
    placement: { ...EMPTY_PLACEMENT, ...placement },
    areaOutdoor: null,
    streamUrlSet: true,
    passwordSet: true,
    connectionSecured: true,
    hidden: { suspicion: null, dpiaReference: null, endDate: null },
    activatedAt: null,
    ...over,
  };
}

const validHidden = (over: Partial<CameraFacts['hidden']> = {}): Partial<CameraFacts> => ({
  kind: 'hidden',
  hidden: {
    suspicion: 'Repeated cash shortfalls at the district office till',
    dpiaReference: 'DPIA-2026-03',
    endDate: NOW + 20 * DAY,
    ...over,
  },
});

const codes = (c: CameraFacts, policy: Policy, complex = corporation, now = NOW) =>
  activationRefusals(c, complex, policy, now).map((r) => r.code);
const tweak = (policy: Policy, change: (p: Policy) => void): Policy => {
  const copy = structuredClone(policy);
  change(copy);
  return copy;
};

describe.each([
  ['wooninvest-2021', W],
  ['maaswonen-2024', M],
] as const)('activation rules under %s', (_name, policy) => {
  it('a complete, secured visible camera in a corporation complex may be activated', () => {
    expect(codes(camera(), policy)).toEqual([]);
  });

  it('W 3.3: a dummy camera is never activated, and only that reason is given', () => {
    const refusals = activationRefusals(
      camera({ kind: 'dummy', streamUrlSet: false, goals: [] }),
      corporation,
      policy,
      NOW,
    );
    expect(refusals.map((r) => r.code)).toEqual(['camera-is-dummy']);
    expect(refusals[0]!.articles).toEqual(policy.dummyCameras.articles);
  });

  it('W 6.4: a camera without a password is refused (camera-not-secured), citing the policy articles', () => {
    const refusals = activationRefusals(camera({ passwordSet: false }), corporation, policy, NOW);
    expect(refusals.map((r) => r.code)).toEqual(['camera-not-secured']);
    expect(refusals[0]!.articles).toEqual(policy.cameraSecurity.articles);
    expect(refusals[0]!.message).toContain('password');
    expect(refusals[0]!.messageNl).toContain('wachtwoord');
  });

  it('W 6.4: a camera without a secured connection is refused (camera-not-secured)', () => {
    expect(codes(camera({ connectionSecured: false }), policy)).toEqual(['camera-not-secured']);
  });

  it('W 6.4: a policy that does not require a password or secure connection lets such a camera through', () => {
    const relaxed = tweak(policy, (p) => {
      p.cameraSecurity.requirePassword = false;
      p.cameraSecurity.requireSecureConnection = false;
    });
    expect(codes(camera({ passwordSet: false, connectionSecured: false }), relaxed)).toEqual([]);
  });

  it('W 3.4 / M 3.3: a hidden camera with suspicion, DPIA reference and a near end date may be activated', () => {
    expect(codes(camera(validHidden()), policy)).toEqual([]);
  });

  it.each([
    ['no recorded suspicion', { suspicion: null }, 'suspicion'],
    ['no DPIA reference', { dpiaReference: null }, 'DPIA'],
    ['no end date', { endDate: null }, 'end date'],
    ['an end date in the past', { endDate: NOW - DAY }, 'has passed'],
    ['an end date beyond the policy maximum', { endDate: NOW + 31 * DAY }, 'days after the start'],
  ])('W 3.4 / M 3.3: a hidden camera with %s is refused (hidden-camera-requirements)', (_label, over, text) => {
    const refusals = activationRefusals(camera(validHidden(over)), corporation, policy, NOW);
    expect(refusals.map((r) => r.code)).toEqual(['hidden-camera-requirements']);
    expect(refusals[0]!.message).toContain(text);
    expect(refusals[0]!.articles).toEqual(policy.hiddenCameras.articles);
  });

  it('W 3.4: the maximum duration of an active hidden camera counts from its activation', () => {
    const active = camera({
      ...validHidden({ endDate: NOW + 25 * DAY }),
      status: 'active',
      activatedAt: NOW - 10 * DAY,
    });
    expect(codes(active, policy)).toEqual(['hidden-camera-requirements']);
  });

  it('W 3.4 / M 3.3: hidden cameras are refused when the policy does not allow them', () => {
    const strict = tweak(policy, (p) => {
      p.hiddenCameras.allowed = false;
    });
    const refusals = activationRefusals(camera(validHidden()), corporation, strict, NOW);
    expect(refusals.map((r) => r.code)).toEqual(['hidden-camera-requirements']);
    expect(refusals[0]!.message).toContain('does not allow');
  });

  it('W 3.5a / M 3.3: a camera inside a dwelling is refused, even with a reason', () => {
    const refusals = activationRefusals(
      camera({}, { insideDwelling: true, insideDwellingReason: 'Tenant asked' }),
      corporation,
      policy,
      NOW,
    );
    expect(refusals.map((r) => r.code)).toEqual(['placement-inside-dwelling']);
    expect(refusals[0]!.articles).toEqual(policy.placement.insideDwelling.articles);
  });

  it('W 3.6 / M 3.4: a camera showing the public road needs a recorded reason', () => {
    expect(codes(camera({}, { showsPublicRoad: true }), policy)).toEqual(['placement-public-road-without-reason']);
    expect(
      codes(camera({}, { showsPublicRoad: true, publicRoadReason: 'Entrance borders the pavement' }), policy),
    ).toEqual([]);
  });

  it('W 3.6: a policy that forbids the public road refuses it even with a reason (placement-public-road)', () => {
    const strict = tweak(policy, (p) => {
      p.placement.publicRoad.rule = 'forbidden';
    });
    expect(codes(camera({}, { showsPublicRoad: true, publicRoadReason: 'x' }), strict)).toEqual([
      'placement-public-road',
    ]);
  });

  it('M 3.4: an outdoor camera (declared or by its area) needs a recorded reason', () => {
    expect(codes(camera({}, { outdoor: true }), policy)).toEqual(['placement-outdoor-without-reason']);
    expect(codes(camera({ areaOutdoor: true }), policy)).toEqual(['placement-outdoor-without-reason']);
    expect(codes(camera({ areaOutdoor: true }, { outdoorReason: 'Repeated vandalism of bicycles' }), policy)).toEqual(
      [],
    );
    const allowed = tweak(policy, (p) => {
      p.placement.outdoor.rule = 'allowed';
    });
    expect(codes(camera({ areaOutdoor: true }), allowed)).toEqual([]);
  });

  it('W intro: a camera in a VvE, commercial or social complex is never activated (complex-not-responsible)', () => {
    for (const ownership of ['vve', 'commercial', 'social']) {
      const refusals = activationRefusals(camera(), { ownership }, policy, NOW);
      expect(refusals.map((r) => r.code)).toEqual(['complex-not-responsible']);
      expect(refusals[0]!.articles).toEqual(['W intro']);
    }
  });

  it('W 1 / W 3.1 / M 1 / M 3.1: a camera without a goal is refused (camera-without-goal)', () => {
    const refusals = activationRefusals(camera({ goals: [] }), corporation, policy, NOW);
    expect(refusals.map((r) => r.code)).toEqual(['camera-without-goal']);
    expect(refusals[0]!.articles.length).toBeGreaterThan(0);
  });

  it('W 3.1 / M 3.1: a goal the policy does not list is refused (camera-goal-not-in-policy)', () => {
    const narrow = tweak(policy, (p) => {
      delete p.goals['recover-damage'];
    });
    expect(codes(camera({ goals: ['protect-persons', 'recover-damage'] }), narrow)).toEqual([
      'camera-goal-not-in-policy',
    ]);
  });

  it('a camera without a stream address is refused (camera-without-stream)', () => {
    expect(codes(camera({ streamUrlSet: false }), policy)).toEqual(['camera-without-stream']);
  });

  it('returns every reason at once, each with English and plain Dutch text', () => {
    const refusals = activationRefusals(
      camera(
        { goals: [], streamUrlSet: false, passwordSet: false },
        { insideDwelling: true, showsPublicRoad: true, outdoor: true },
      ),
      { ownership: 'vve' },
      policy,
      NOW,
    );
    expect(refusals.map((r) => r.code)).toEqual([
      'complex-not-responsible',
      'camera-without-goal',
      'camera-without-stream',
      'camera-not-secured',
      'placement-inside-dwelling',
      'placement-public-road-without-reason',
      'placement-outdoor-without-reason',
    ]);
    for (const r of refusals) {
      expect(r.message.length).toBeGreaterThan(10);
      expect(r.messageNl.length).toBeGreaterThan(10);
      expect(r.messageNl).not.toBe(r.message);
    }
  });
});

describe('placement rules that differ between the presets', () => {
  it('W 3.5a: wooninvest-2021 forbids a camera aimed at a front door, even with a reason', () => {
    expect(codes(camera({}, { aimedAtFrontDoor: true, frontDoorReason: 'Repeated break-ins' }), W)).toEqual([
      'placement-front-door',
    ]);
  });

  it('M 3.3: maaswonen-2024 allows a camera aimed at a front door only with a recorded reason', () => {
    expect(codes(camera({}, { aimedAtFrontDoor: true }), M)).toEqual(['placement-front-door']);
    expect(codes(camera({}, { aimedAtFrontDoor: true, frontDoorReason: 'Repeated break-ins' }), M)).toEqual([]);
  });

  it('W 3.5b: wooninvest-2021 refuses a camera aimed at a fixed workplace unless it is an allowed exception', () => {
    const refusals = activationRefusals(
      camera({}, { aimedAtWorkplace: true, workplaceReason: 'Staff safety' }),
      corporation,
      W,
      NOW,
    );
    expect(refusals.map((r) => r.code)).toEqual(['placement-workplace']);
    expect(refusals[0]!.articles).toEqual(['W 3.5']);
    expect(refusals[0]!.messageNl).toContain('receptie');
    for (const exception of ['reception', 'first-floor-emergency-exit', 'district-office'] as const) {
      expect(codes(camera({}, { aimedAtWorkplace: true, workplaceException: exception }), W)).toEqual([]);
    }
  });

  it('M 3.3: maaswonen-2024 allows a camera on a fixed workplace only with a reason (it lists no exceptions)', () => {
    expect(codes(camera({}, { aimedAtWorkplace: true, workplaceException: 'reception' }), M)).toEqual([
      'placement-workplace',
    ]);
    expect(codes(camera({}, { aimedAtWorkplace: true, workplaceReason: 'Counter staff were threatened' }), M)).toEqual(
      [],
    );
  });
});

describe('registry compliance findings', () => {
  const base = (): RegistrySnapshot => ({
    complexes: [{ id: 'c1', name: 'De Linde', ownership: 'corporation' }],
    buildings: [{ id: 'b1', complexId: 'c1', name: 'Blok A' }],
    entrances: [
      { id: 'e1', buildingId: 'b1', name: 'Hoofdingang', isGeneralEntrance: true, signPresent: false },
      { id: 'e2', buildingId: 'b1', name: 'Achterdeur', isGeneralEntrance: true, signPresent: true },
      { id: 'e3', buildingId: 'b1', name: 'Technische ruimte', isGeneralEntrance: false, signPresent: false },
    ],
    cameras: [{ ...camera(), id: 'cam1', buildingId: 'b1', name: 'Hal' }],
  });
  const active = (s: RegistrySnapshot) => {
    for (const c of s.cameras) {
      c.status = 'active';
      c.activatedAt = NOW - DAY;
    }
    return s;
  };

  it('W 3.2 / M 3.2: no sign finding while the complex has no active camera', () => {
    expect(complianceFindings(base(), W, NOW)).toEqual([]);
  });

  it.each([
    ['wooninvest-2021', W],
    ['maaswonen-2024', M],
  ] as const)(
    'W 3.2 / M 3.2 (%s): a general entrance without a sign is a finding once a camera is active',
    (_name, policy) => {
      const findings = complianceFindings(active(base()), policy, NOW);
      expect(findings.map((f) => [f.code, f.targetId])).toEqual([['entrance-without-sign', 'e1']]);
      expect(findings[0]!.articles).toEqual(policy.placement.signs.articles);
      expect(findings[0]!.messageNl).toContain('bord');
    },
  );

  it('W 3.2: a complex with active cameras but no general entrance registered is flagged', () => {
    const s = active(base());
    s.entrances = [];
    expect(complianceFindings(s, W, NOW).map((f) => f.code)).toEqual(['complex-without-general-entrance']);
  });

  it('W 3.4: an active hidden camera alone does not call for signs', () => {
    const s = base();
    s.cameras = [
      {
        ...camera({ ...validHidden(), status: 'active', activatedAt: NOW - DAY }),
        id: 'h1',
        buildingId: 'b1',
        name: 'Kassa',
      },
    ];
    expect(complianceFindings(s, W, NOW)).toEqual([]);
  });

  it(`W 3.4: an active hidden camera within ${HIDDEN_CAMERA_ENDING_NOTICE_DAYS} days of its end date is a finding; expired is an error`, () => {
    const s = base();
    s.entrances = [];
    const hidden = (endDate: number) => [
      {
        ...camera({ ...validHidden({ endDate }), status: 'active', activatedAt: NOW - DAY }),
        id: 'h1',
        buildingId: 'b1',
        name: 'Kassa',
      },
    ];
    s.cameras = hidden(NOW + 15 * DAY);
    expect(complianceFindings(s, W, NOW)).toEqual([]);
    s.cameras = hidden(NOW + 14 * DAY);
    expect(complianceFindings(s, W, NOW).map((f) => f.code)).toEqual(['hidden-camera-ending']);
    s.cameras = hidden(NOW - 1);
    const expired = complianceFindings(s, W, NOW);
    expect(expired.map((f) => [f.code, f.severity])).toEqual([['hidden-camera-expired', 'error']]);
  });

  it('an active camera that no longer meets the policy (e.g. after a policy change) is a finding with its refusals', () => {
    const s = active(base());
    s.entrances = s.entrances.map((e) => ({ ...e, signPresent: true }));
    s.cameras[0]!.placement = { ...EMPTY_PLACEMENT, aimedAtFrontDoor: true, frontDoorReason: 'Break-ins' };
    expect(complianceFindings(s, M, NOW)).toEqual([]);
    const findings = complianceFindings(s, W, NOW);
    expect(findings.map((f) => f.code)).toEqual(['active-camera-breaks-rules']);
    expect(findings[0]!.refusals?.map((r) => r.code)).toEqual(['placement-front-door']);
  });

  it('M: a registered dummy camera is a finding when the policy does not provide for dummies (W 3.3 allows them)', () => {
    const s = base();
    s.cameras = [{ ...camera({ kind: 'dummy' }), id: 'd1', buildingId: 'b1', name: 'Nep' }];
    expect(complianceFindings(s, M, NOW).map((f) => f.code)).toEqual(['dummy-camera-not-allowed']);
    expect(complianceFindings(s, W, NOW)).toEqual([]);
  });
});
