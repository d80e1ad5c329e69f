/**
 * The registry's protocol rules as pure functions: whether a camera may record, and which
 * findings the registry shows. No I/O, no clock: the caller passes `now` and the policy.
 * Every refusal and finding carries an English message, a Dutch message in plain words for
 * a caretaker, and the articles it rests on (W = WoonInvest 2021, M = MaasWonen 2024,
 * see /work/shared/protocols/README.md). Periods and rules come from the policy.
 */
import { DAY } from '../lib/clock.js';
import type { Policy, SurveillanceGoal } from '../policy/index.js';
import type { CameraKind, CameraStatus, WorkplaceException } from './registry.schemas.js';

export interface Placement {
  insideDwelling: boolean;
  insideDwellingReason: string | null;
  aimedAtFrontDoor: boolean;
  frontDoorReason: string | null;
  aimedAtWorkplace: boolean;
  workplaceException: WorkplaceException | null;
  workplaceReason: string | null;
  showsPublicRoad: boolean;
  publicRoadReason: string | null;
  outdoor: boolean;
  outdoorReason: string | null;
}

export const EMPTY_PLACEMENT: Placement = {
  insideDwelling: false,
  insideDwellingReason: null,
  aimedAtFrontDoor: false,
  frontDoorReason: null,
  aimedAtWorkplace: false,
  workplaceException: null,
  workplaceReason: null,
  showsPublicRoad: false,
  publicRoadReason: null,
  outdoor: false,
  outdoorReason: null,
};

/** What the rules need to know about a camera; secrets reduced to booleans. */
export interface CameraFacts {
  kind: CameraKind;
  status: CameraStatus;
  goals: string[];
  placement: Placement;
  /** The camera's area is outdoor (null: no area). Outdoor = this or the declared flag. */
  areaOutdoor: boolean | null;
  streamUrlSet: boolean;
  /** A password is set in the credentials or in the stream URL. */
  passwordSet: boolean;
  connectionSecured: boolean;
  hidden: { suspicion: string | null; dpiaReference: string | null; endDate: number | null };
  activatedAt: number | null;
}

export interface ComplexFacts {
  ownership: string;
}

export const REFUSAL_CODES = [
  'camera-is-dummy',
  'camera-not-secured',
  'hidden-camera-requirements',
  'placement-inside-dwelling',
  'placement-front-door',
  'placement-workplace',
  'placement-public-road',
  'placement-public-road-without-reason',
  'placement-outdoor',
  'placement-outdoor-without-reason',
  'complex-not-responsible',
  'camera-without-goal',
  'camera-goal-not-in-policy',
  'camera-without-stream',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export interface Refusal {
  code: RefusalCode;
  message: string;
  messageNl: string;
  articles: string[];
}

/** Display names of the goal vocabulary (W 1, M 1), for messages. */
export const GOAL_LABELS: Record<SurveillanceGoal, { nl: string; en: string }> = {
  'protect-persons': { nl: 'bescherming van personen', en: 'protection of persons' },
  'protect-property': { nl: 'bescherming van eigendommen', en: 'protection of property' },
  'protect-buildings': { nl: 'bescherming van de gebouwen', en: 'protection of the buildings' },
  'record-incidents': { nl: 'vastleggen van incidenten', en: 'recording incidents' },
  'feeling-of-safety': { nl: 'gevoel van veiligheid', en: 'feeling of safety' },
  'recover-damage': { nl: 'verhalen van schade', en: 'recovering damage' },
};

const WORKPLACE_LABELS: Record<WorkplaceException, { nl: string; en: string }> = {
  reception: { nl: 'de receptie', en: 'the reception' },
  'first-floor-emergency-exit': { nl: 'de nooduitgang op de eerste verdieping', en: 'the first-floor emergency exit' },
  'district-office': { nl: 'een wijkkantoor', en: 'a district office' },
};

/** Only complexes of the corporation itself are its responsibility (W intro). */
export const RESPONSIBLE_OWNERSHIP = 'corporation';
const OWNERSHIP_ARTICLES = ['W intro'];

const unique = (values: string[]): string[] => [...new Set(values)];
const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function isOutdoor(camera: Pick<CameraFacts, 'areaOutdoor' | 'placement'>): boolean {
  return camera.areaOutdoor === true || camera.placement.outdoor;
}

type PlacementRule = Policy['placement']['insideDwelling'];

interface PlacementCheck {
  rule: PlacementRule;
  declared: boolean;
  reason: string | null;
  /** Allowed without a reason by an exception the policy lists (fixed workplaces, W 3.5b). */
  excepted?: boolean;
  forbiddenCode: RefusalCode;
  withoutReasonCode: RefusalCode;
  forbidden: { en: string; nl: string };
  withoutReason: { en: string; nl: string };
}

function checkPlacement(check: PlacementCheck): Refusal | null {
  const { rule } = check;
  if (!check.declared || rule.rule === 'allowed' || check.excepted) return null;
  if (rule.rule === 'requires-reason' && check.reason) return null;
  const text = rule.rule === 'forbidden' ? check.forbidden : check.withoutReason;
  return {
    code: rule.rule === 'forbidden' ? check.forbiddenCode : check.withoutReasonCode,
    message: text.en,
    messageNl: text.nl,
    articles: [...rule.articles],
  };
}

/** Placement refusals (W 3.5, W 3.6, M 3.3, M 3.4), each only where the policy has the rule. */
export function placementRefusals(camera: Pick<CameraFacts, 'placement' | 'areaOutdoor'>, policy: Policy): Refusal[] {
  const p = camera.placement;
  const rules = policy.placement;
  const exceptions = rules.aimedAtFixedWorkplace.exceptions ?? [];
  const exceptionsEn = exceptions.map((e) => WORKPLACE_LABELS[e].en).join(', ');
  const exceptionsNl = exceptions.map((e) => WORKPLACE_LABELS[e].nl).join(', ');
  const checks: PlacementCheck[] = [
    {
      rule: rules.insideDwelling,
      declared: p.insideDwelling,
      reason: p.insideDwellingReason,
      forbiddenCode: 'placement-inside-dwelling',
      withoutReasonCode: 'placement-inside-dwelling',
      forbidden: {
        en: 'The camera is inside a dwelling; cameras are never placed inside dwellings.',
        nl: 'De camera hangt in een woning. Een camera in een woning mag nooit.',
      },
      withoutReason: {
        en: 'The camera is inside a dwelling; record why this is necessary.',
        nl: 'De camera hangt in een woning. Dat mag alleen als u opschrijft waarom het nodig is.',
      },
    },
    {
      rule: rules.aimedAtDwellingFrontDoor,
      declared: p.aimedAtFrontDoor,
      reason: p.frontDoorReason,
      forbiddenCode: 'placement-front-door',
      withoutReasonCode: 'placement-front-door',
      forbidden: {
        en: "The camera is aimed at a dwelling's front door, which is not allowed.",
        nl: 'De camera kijkt naar de voordeur van een woning. Dat mag niet.',
      },
      withoutReason: {
        en: "The camera is aimed at a dwelling's front door; record why this cannot be avoided.",
        nl: 'De camera kijkt naar de voordeur van een woning. Dat mag alleen als u opschrijft waarom het niet anders kan.',
      },
    },
    {
      rule: rules.aimedAtFixedWorkplace,
      declared: p.aimedAtWorkplace,
      reason: p.workplaceReason,
      excepted: p.workplaceException !== null && exceptions.includes(p.workplaceException),
      forbiddenCode: 'placement-workplace',
      withoutReasonCode: 'placement-workplace',
      forbidden: exceptions.length
        ? {
            en: `The camera is aimed at a fixed workplace; that is allowed only at ${exceptionsEn}.`,
            nl: `De camera kijkt naar een vaste werkplek van een medewerker. Dat mag alleen bij ${exceptionsNl}.`,
          }
        : {
            en: 'The camera is aimed at a fixed workplace, which is not allowed.',
            nl: 'De camera kijkt naar een vaste werkplek van een medewerker. Dat mag niet.',
          },
      withoutReason: {
        en: `The camera is aimed at a fixed workplace; record why this is necessary${exceptions.length ? ` (no reason is needed at ${exceptionsEn})` : ''}.`,
        nl: 'De camera kijkt naar een vaste werkplek van een medewerker. Dat mag alleen als u opschrijft waarom het nodig is.',
      },
    },
    {
      rule: rules.publicRoad,
      declared: p.showsPublicRoad,
      reason: p.publicRoadReason,
      forbiddenCode: 'placement-public-road',
      withoutReasonCode: 'placement-public-road-without-reason',
      forbidden: {
        en: 'The camera shows the public road, which this protocol does not allow.',
        nl: 'De camera filmt de openbare weg (straat of stoep). Dat mag niet.',
      },
      withoutReason: {
        en: 'The camera shows the public road; record why this cannot be avoided.',
        nl: 'De camera filmt ook de openbare weg (straat of stoep). Schrijf op waarom dat niet te vermijden is.',
      },
    },
    {
      rule: rules.outdoor,
      declared: isOutdoor(camera),
      reason: p.outdoorReason,
      forbiddenCode: 'placement-outdoor',
      withoutReasonCode: 'placement-outdoor-without-reason',
      forbidden: {
        en: 'The camera is outdoors, which this protocol does not allow.',
        nl: 'De camera hangt buiten. Dat mag niet.',
      },
      withoutReason: {
        en: 'The camera is outdoors; record why outdoor surveillance is necessary here.',
        nl: 'De camera hangt buiten. Schrijf op waarom een camera hier buiten nodig is.',
      },
    },
  ];
  return checks.map(checkPlacement).filter((r): r is Refusal => r !== null);
}

/** Network cameras: at least a password and a secured connection (W 6.4), per policy.cameraSecurity. */
export function securityRefusal(
  camera: Pick<CameraFacts, 'passwordSet' | 'connectionSecured'>,
  policy: Policy,
): Refusal | null {
  const rules = policy.cameraSecurity;
  const en: string[] = [];
  const nl: string[] = [];
  if (rules.requirePassword && !camera.passwordSet) {
    en.push('no password is set');
    nl.push('er is geen wachtwoord ingesteld');
  }
  if (rules.requireSecureConnection && !camera.connectionSecured) {
    en.push('the connection is not secured (use e.g. rtsps or a VPN)');
    nl.push('de verbinding is niet beveiligd (bijvoorbeeld met rtsps of een VPN)');
  }
  if (!en.length) return null;
  return {
    code: 'camera-not-secured',
    message: `A network camera needs at least a password and a secured connection: ${en.join('; ')}.`,
    messageNl: `De camera is niet goed beveiligd: ${nl.join('; ')}.`,
    articles: [...rules.articles],
  };
}

/**
 * Hidden cameras (W 3.4, M 3.3): only where the policy allows them, with a recorded concrete
 * suspicion and motivation, a DPIA reference and an end date that lies in the future and
 * within the policy's maximum duration. For an active camera the maximum counts from its
 * activation, so an end date cannot be pushed out later.
 */
export function hiddenCameraRefusal(
  camera: Pick<CameraFacts, 'hidden' | 'status' | 'activatedAt'>,
  policy: Policy,
  now: number,
): Refusal | null {
  const rules = policy.hiddenCameras;
  const { suspicion, dpiaReference, endDate } = camera.hidden;
  const en: string[] = [];
  const nl: string[] = [];
  if (!rules.allowed) {
    en.push('this protocol does not allow hidden cameras');
    nl.push("verborgen camera's zijn volgens het protocol niet toegestaan");
  }
  if ((rules.requiresConcreteSuspicion || rules.requiresMotivation) && !suspicion) {
    en.push('no concrete suspicion and motivation are recorded');
    nl.push('de concrete verdenking en de reden zijn niet opgeschreven');
  }
  if (rules.requiresDpiaReference && !dpiaReference) {
    en.push('no DPIA reference is recorded');
    nl.push('er is geen verwijzing naar de DPIA (de privacytoets)');
  }
  if (endDate === null) {
    if (rules.requiresEndDate || rules.maxDurationDays !== null) {
      en.push('no end date is set');
      nl.push('er is geen einddatum');
    }
  } else if (endDate <= now) {
    en.push(`the end date ${isoDate(endDate)} has passed`);
    nl.push(`de einddatum (${isoDate(endDate)}) is al voorbij`);
  } else if (rules.maxDurationDays !== null) {
    const start = camera.status === 'active' && camera.activatedAt !== null ? camera.activatedAt : now;
    if (endDate - start > rules.maxDurationDays * DAY) {
      en.push(`the end date is more than ${rules.maxDurationDays} days after the start`);
      nl.push(`de einddatum ligt meer dan ${rules.maxDurationDays} dagen na de start`);
    }
  }
  if (!en.length) return null;
  return {
    code: 'hidden-camera-requirements',
    message: `A hidden camera may only record when every requirement is met: ${en.join('; ')}.`,
    messageNl: `Een verborgen camera mag pas aan als alles geregeld is. Wat niet klopt: ${nl.join('; ')}.`,
    articles: [...rules.articles],
  };
}

/**
 * Every reason why this camera may not record, in a stable order; empty = it may be activated.
 * A dummy camera records nothing, so for a dummy the only reason given is that it is a dummy
 * (W 3.3): the other rules would only add noise.
 */
export function activationRefusals(camera: CameraFacts, complex: ComplexFacts, policy: Policy, now: number): Refusal[] {
  if (camera.kind === 'dummy') {
    return [
      {
        code: 'camera-is-dummy',
        message: 'A dummy camera records nothing and cannot be activated.',
        messageNl: 'Dit is een nepcamera (dummy). Die neemt niets op en kan dus niet aangezet worden.',
        articles: [...policy.dummyCameras.articles],
      },
    ];
  }
  const refusals: Refusal[] = [];
  if (complex.ownership !== RESPONSIBLE_OWNERSHIP) {
    refusals.push({
      code: 'complex-not-responsible',
      message:
        "This complex is not the corporation's (it belongs to an owners' association (VvE), commercial or social real estate); the corporation is not responsible for its cameras and cannot activate them.",
      messageNl:
        'Dit complex is niet van de corporatie (maar bijvoorbeeld van een VvE). De corporatie is niet verantwoordelijk voor deze camera en mag hem niet aanzetten.',
      articles: [...OWNERSHIP_ARTICLES],
    });
  }
  const goalArticles = unique(Object.values(policy.goals).flatMap((g) => g?.articles ?? []));
  if (camera.goals.length === 0) {
    refusals.push({
      code: 'camera-without-goal',
      message: 'Record at least one surveillance goal for the camera.',
      messageNl: 'Kies eerst waarvoor de camera is bedoeld, bijvoorbeeld de bescherming van bewoners.',
      articles: goalArticles,
    });
  }
  const unknownGoals = camera.goals.filter((goal) => !(goal in policy.goals));
  if (unknownGoals.length) {
    const label = (goal: string, lang: 'en' | 'nl') => GOAL_LABELS[goal as SurveillanceGoal]?.[lang] ?? goal;
    refusals.push({
      code: 'camera-goal-not-in-policy',
      message: `These goals are not goals of this protocol: ${unknownGoals.map((g) => label(g, 'en')).join(', ')}.`,
      messageNl: `Deze doelen staan niet in het protocol: ${unknownGoals.map((g) => label(g, 'nl')).join(', ')}.`,
      articles: goalArticles,
    });
  }
  if (!camera.streamUrlSet) {
    refusals.push({
      code: 'camera-without-stream',
      message: "Enter the camera's stream address first.",
      messageNl: 'Vul eerst het adres van het camerabeeld in (de stream-URL).',
      articles: [],
    });
  }
  const security = securityRefusal(camera, policy);
  if (security) refusals.push(security);
  if (camera.kind === 'hidden') {
    const hidden = hiddenCameraRefusal(camera, policy, now);
    if (hidden) refusals.push(hidden);
  }
  refusals.push(...placementRefusals(camera, policy));
  return refusals;
}

// --- compliance findings ---------------------------------------------------------------------

/** How long before a hidden camera's end date the registry starts reminding (a reminder, not a rule). */
export const HIDDEN_CAMERA_ENDING_NOTICE_DAYS = 14;

export const FINDING_CODES = [
  'entrance-without-sign',
  'complex-without-general-entrance',
  'hidden-camera-ending',
  'hidden-camera-expired',
  'active-camera-breaks-rules',
  'dummy-camera-not-allowed',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  code: FindingCode;
  severity: 'error' | 'warning';
  message: string;
  messageNl: string;
  articles: string[];
  complexId: string;
  complexName: string;
  targetType: 'complex' | 'entrance' | 'camera';
  targetId: string;
  /** For `active-camera-breaks-rules`: what the camera breaks. */
  refusals?: Refusal[];
}

export interface RegistrySnapshot {
  complexes: { id: string; name: string; ownership: string }[];
  buildings: { id: string; complexId: string; name: string }[];
  entrances: { id: string; buildingId: string; name: string; isGeneralEntrance: boolean; signPresent: boolean }[];
  cameras: (CameraFacts & { id: string; buildingId: string; name: string })[];
}

/**
 * What the administrator should act on, per complex. Signs (W 3.2, M 3.2) are required in
 * complexes with at least one active visible camera: an active hidden camera alone does not
 * call for signs (they would defeat it, W 3.4), and dummies are not announced (W 3.3).
 */
export function complianceFindings(snapshot: RegistrySnapshot, policy: Policy, now: number): Finding[] {
  const findings: Finding[] = [];
  const buildingById = new Map(snapshot.buildings.map((b) => [b.id, b]));
  const complexById = new Map(snapshot.complexes.map((c) => [c.id, c]));
  const signArticles = [...policy.placement.signs.articles];

  for (const complex of snapshot.complexes) {
    const buildings = snapshot.buildings.filter((b) => b.complexId === complex.id);
    const buildingIds = new Set(buildings.map((b) => b.id));
    const visibleActive = snapshot.cameras.some(
      (c) => buildingIds.has(c.buildingId) && c.status === 'active' && c.kind === 'real',
    );
    if (!visibleActive || !policy.placement.signs.requiredAtEveryGeneralEntrance) continue;
    const general = snapshot.entrances.filter((e) => buildingIds.has(e.buildingId) && e.isGeneralEntrance);
    if (general.length === 0) {
      findings.push({
        code: 'complex-without-general-entrance',
        severity: 'warning',
        message: `Complex "${complex.name}" has active cameras but no general entrance is registered, so signs cannot be checked.`,
        messageNl: `Complex "${complex.name}" heeft camera's die aan staan, maar er is geen hoofdingang ingevoerd. Zo is niet te controleren of er borden hangen.`,
        articles: signArticles,
        complexId: complex.id,
        complexName: complex.name,
        targetType: 'complex',
        targetId: complex.id,
      });
    }
    for (const entrance of general) {
      if (entrance.signPresent) continue;
      const building = buildingById.get(entrance.buildingId);
      findings.push({
        code: 'entrance-without-sign',
        severity: 'error',
        message: `General entrance "${entrance.name}" of building "${building?.name ?? ''}" has no sign announcing camera surveillance.`,
        messageNl: `Bij de ingang "${entrance.name}" van "${building?.name ?? ''}" hangt geen bord dat er camera's zijn. Hang daar een bord op.`,
        articles: signArticles,
        complexId: complex.id,
        complexName: complex.name,
        targetType: 'entrance',
        targetId: entrance.id,
      });
    }
  }

  for (const camera of snapshot.cameras) {
    const building = buildingById.get(camera.buildingId);
    const complex = building ? complexById.get(building.complexId) : undefined;
    if (!complex) continue;
    const base = {
      complexId: complex.id,
      complexName: complex.name,
      targetType: 'camera' as const,
      targetId: camera.id,
    };
    if (camera.kind === 'dummy' && !policy.dummyCameras.allowed) {
      findings.push({
        ...base,
        code: 'dummy-camera-not-allowed',
        severity: 'warning',
        message: `Dummy camera "${camera.name}" is registered, but this protocol does not provide for dummy cameras.`,
        messageNl: `Nepcamera "${camera.name}" staat in het register, maar volgens het protocol horen er geen nepcamera's te hangen.`,
        articles: [...policy.dummyCameras.articles],
      });
    }
    if (camera.status !== 'active') continue;
    const end = camera.hidden.endDate;
    if (camera.kind === 'hidden' && end !== null && end <= now) {
      findings.push({
        ...base,
        code: 'hidden-camera-expired',
        severity: 'error',
        message: `Hidden camera "${camera.name}" is past its end date (${isoDate(end)}) and must be deactivated.`,
        messageNl: `De einddatum van verborgen camera "${camera.name}" is voorbij (${isoDate(end)}). Zet de camera uit.`,
        articles: [...policy.hiddenCameras.articles],
      });
      continue;
    }
    if (camera.kind === 'hidden' && end !== null && end - now <= HIDDEN_CAMERA_ENDING_NOTICE_DAYS * DAY) {
      findings.push({
        ...base,
        code: 'hidden-camera-ending',
        severity: 'warning',
        message: `Hidden camera "${camera.name}" must stop on ${isoDate(end)}: deactivate it by then, or record a new decision.`,
        messageNl: `Verborgen camera "${camera.name}" moet op ${isoDate(end)} uit. Zet hem dan uit, of leg een nieuw besluit vast.`,
        articles: [...policy.hiddenCameras.articles],
      });
    }
    const refusals = activationRefusals(camera, complex, policy, now);
    if (refusals.length) {
      findings.push({
        ...base,
        code: 'active-camera-breaks-rules',
        severity: 'error',
        message: `Active camera "${camera.name}" does not meet the protocol: ${refusals.map((r) => r.message).join(' ')}`,
        messageNl: `Camera "${camera.name}" staat aan, maar voldoet niet (meer) aan het protocol: ${refusals.map((r) => r.messageNl).join(' ')}`,
        articles: unique(refusals.flatMap((r) => r.articles)),
        refusals,
      });
    }
  }
  return findings;
}
