/**
 * Incidents (M "Begrippen": an event in which the corporation, its tenants or third parties
 * suffered damage or whose rights were otherwise infringed): pure lifecycle rules.
 * open -> handled (with an outcome) -> closed; a closed incident may be reopened with a reason.
 */
export const INCIDENT_KINDS = ['damage', 'nuisance', 'vandalism', 'pollution', 'crime', 'calamity', 'other'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

/** Who asked for the footage to be secured (W 2.4); `police` from M 2.4. */
export const REPORTER_KINDS = ['tenant', 'visitor', 'third-party', 'emergency-services', 'police', 'manager'] as const;
export type ReporterKind = (typeof REPORTER_KINDS)[number];

/** How an incident ended. An irrevocable judgment marks it handled at the latest (M 6.6, M 6.7). */
export const OUTCOMES = ['resolved', 'no-further-action', 'settled', 'irrevocable-judgment'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const INCIDENT_STATUSES = ['open', 'handled', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export type IncidentStep = 'handle' | 'close' | 'reopen';

const ALLOWED: Record<IncidentStep, readonly IncidentStatus[]> = {
  handle: ['open'],
  close: ['handled'],
  reopen: ['closed'],
};

const NEXT: Record<IncidentStep, IncidentStatus> = { handle: 'handled', close: 'closed', reopen: 'open' };

/** The status after `step`, or an error code when the step is not allowed from `status`. */
export function transition(
  status: string,
  step: IncidentStep,
): { ok: true; next: IncidentStatus } | { ok: false; code: string } {
  if (!(ALLOWED[step] as readonly string[]).includes(status)) {
    return { ok: false, code: `incident-not-${ALLOWED[step].join('-or-')}` };
  }
  return { ok: true, next: NEXT[step] };
}

/** An irrevocable judgment needs its date; other outcomes must not carry one. */
export function outcomeProblem(outcome: Outcome, judgmentDate: number | null, now: number): string | null {
  if (outcome === 'irrevocable-judgment') {
    if (judgmentDate === null) return 'An irrevocable judgment needs the date it became irrevocable (M 6.6)';
    if (judgmentDate > now) return 'The judgment date lies in the future';
    return null;
  }
  return judgmentDate === null ? null : 'Only an irrevocable judgment has a judgment date';
}

/** True when an incident has been open (not handled) longer than the policy's warning period. */
export const openTooLong = (incident: { status: string; createdAt: number }, now: number, warningMs: number) =>
  incident.status === 'open' && now - incident.createdAt > warningMs;
