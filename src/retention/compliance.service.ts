/**
 * The compliance view: one list per complex of what needs attention: alarms, holds past their
 * review date, incidents open longer than the policy allows, cameras down or defective (W 2.3,
 * M 2.2), registry findings such as entrances without a sign (W 3.2, M 3.2), and logbook entries
 * without finding or signature (M 6.4). Each item names its target (type + id) for the web UI.
 */
import type { Principal } from '../http/principal.js';
import { ADMIN_ROLE } from '../http/principal.js';
import { DAY, type Clock } from '../lib/clock.js';
import { forbidden } from '../lib/errors.js';
import { hasCapability, type Policy } from '../policy/index.js';
import { listHolds } from '../holds/holds.repository.js';
import { listIncidents } from '../incidents/incidents.repository.js';
import type { EntryView } from '../access/index.js';
import type { Finding } from '../registry/registry.rules.js';
import * as repo from './compliance.repository.js';
import { listAlarms } from './retention.repository.js';

export interface ComplianceItem {
  kind:
    | 'alarm'
    | 'hold-review-overdue'
    | 'incident-open-too-long'
    | 'camera-down'
    | 'camera-defect'
    | 'registry-finding'
    | 'logbook-overdue';
  severity: 'error' | 'warning';
  message: string;
  messageNl: string;
  since: number | null;
  articles: string[];
  link: { type: string; id: string };
}

export interface ComplianceGroup {
  complexId: string | null;
  complexName: string | null;
  items: ComplianceItem[];
}

export interface ComplianceView {
  generatedAt: number;
  policyId: string;
  /** Per complex, then one group (complexId null) for installation-wide items. */
  groups: ComplianceGroup[];
  /** False when the caller may not read the logbook, so its overdue entries are not listed. */
  logbookIncluded: boolean;
}

export interface ComplianceDeps {
  db: repo.Executor;
  clock: Clock;
  policy: () => Policy;
  registry: { compliance(options: { includeHidden: boolean }): Promise<{ findings: Finding[] }> };
  logbook: { overdue(principal: Principal): Promise<EntryView[]> };
}

export class ComplianceService {
  constructor(private readonly deps: ComplianceDeps) {}

  async view(principal: Principal, complexId?: string): Promise<ComplianceView> {
    const policy = this.deps.policy();
    const can = (c: 'manage-incidents' | 'secure-footage' | 'read-logbook') =>
      hasCapability(policy, principal.roles, c);
    if (
      !principal.roles.includes(ADMIN_ROLE) &&
      !can('manage-incidents') &&
      !can('secure-footage') &&
      !can('read-logbook')
    )
      throw forbidden('compliance-not-allowed', 'Your roles may not see the compliance view');
    const { db } = this.deps;
    const now = this.deps.clock.now();
    // Hidden cameras (W 3.4, M 3.3) are known to administrators only, as in the registry routes.
    const seesHidden = principal.roles.includes(ADMIN_ROLE);
    const visible = (c: { kind: string }) => seesHidden || c.kind !== 'hidden';
    const where = await repo.placement(db);
    const groups = new Map<string | null, ComplianceGroup>();
    for (const c of await repo.complexes(db)) groups.set(c.id, { complexId: c.id, complexName: c.name, items: [] });
    groups.set(null, { complexId: null, complexName: null, items: [] });
    const add = (complex: string | null | undefined, item: ComplianceItem) => {
      const group = groups.get(complex ?? null) ?? groups.get(null)!;
      group.items.push(item);
    };

    for (const a of await listAlarms(db, { unacknowledged: true })) {
      const complex = a.complex_id ?? (a.target_id ? where.get(a.target_id) : undefined);
      add(complex, {
        kind: 'alarm',
        severity: a.severity === 'error' ? 'error' : 'warning',
        message: a.message,
        messageNl: a.message_nl,
        since: Number(a.raised_at),
        articles: [],
        link: { type: 'alarm', id: a.id },
      });
    }
    for (const h of await listHolds(db, { overdueAt: now })) {
      add(h.complex_id, {
        kind: 'hold-review-overdue',
        severity: 'warning',
        message: `Hold past its review date: is the footage still needed? (${h.reason})`,
        messageNl: `Veiligstelling voorbij de herzieningsdatum: zijn de beelden nog nodig? (${h.reason})`,
        since: Number(h.review_at),
        articles: ['W 2.5', 'M 6.6', 'M 6.7'],
        link: { type: 'hold', id: h.id },
      });
    }
    const warnMs = policy.deadlines.incidentOpenWarningDays * DAY;
    for (const i of await listIncidents(db, { status: 'open', openedBefore: now - warnMs, limit: 1000 })) {
      add(i.complex_id, {
        kind: 'incident-open-too-long',
        severity: 'warning',
        message: `Incident "${i.title}" has been open more than ${policy.deadlines.incidentOpenWarningDays} days`,
        messageNl: `Incident "${i.title}" staat langer dan ${policy.deadlines.incidentOpenWarningDays} dagen open`,
        since: Number(i.created_at),
        articles: ['M 6.6'],
        link: { type: 'incident', id: i.id },
      });
    }
    for (const c of (await repo.camerasDown(db)).filter(visible)) {
      add(where.get(c.cameraId), {
        kind: 'camera-down',
        severity: 'error',
        message: `Camera "${c.name}" is not recording`,
        messageNl: `Camera "${c.name}" neemt niet op`,
        since: Number(c.since),
        articles: ['W 2.3', 'M 2.2'],
        link: { type: 'camera', id: c.cameraId },
      });
    }
    for (const d of (await repo.openDefects(db)).filter(visible)) {
      add(where.get(d.cameraId), {
        kind: 'camera-defect',
        severity: 'error',
        message: `Open defect on camera "${d.name}": ${d.reason}`,
        messageNl: `Openstaand defect aan camera "${d.name}": ${d.reason}`,
        since: Number(d.openedAt),
        articles: ['W 2.3', 'W 6.6', 'M 2.2'],
        link: { type: 'camera-defect', id: d.id },
      });
    }
    for (const f of (await this.deps.registry.compliance({ includeHidden: seesHidden })).findings) {
      add(f.complexId, {
        kind: 'registry-finding',
        severity: f.severity,
        message: f.message,
        messageNl: f.messageNl,
        since: null,
        articles: f.articles,
        link: { type: f.targetType, id: f.targetId },
      });
    }
    const logbookIncluded = can('read-logbook');
    if (logbookIncluded) {
      for (const e of await this.deps.logbook.overdue(principal)) {
        const target = e.scope.cameraIds?.[0] ?? e.scope.doorIds?.[0];
        add(target ? where.get(target) : null, {
          kind: 'logbook-overdue',
          severity: 'warning',
          message: `Logbook entry without ${e.overdue.map((o) => (o === 'finding-overdue' ? 'finding' : 'signature')).join(' and ')} (${e.purpose ?? 'consultation'})`,
          messageNl: `Logboekregel zonder ${e.overdue.map((o) => (o === 'finding-overdue' ? 'constatering' : 'handtekening')).join(' en ')}`,
          since: e.occurredAt,
          articles: ['M 6.4'],
          link: { type: 'logbook-entry', id: e.entryId },
        });
      }
    }
    const list = [...groups.values()]
      .filter(
        (g) => complexId === undefined || g.complexId === complexId || (g.complexId === null && g.items.length > 0),
      )
      .map((g) => ({
        ...g,
        items: g.items.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1)),
      }));
    return { generatedAt: now, policyId: policy.id, groups: list, logbookIncluded };
  }
}
