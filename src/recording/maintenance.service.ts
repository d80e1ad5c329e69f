/**
 * Camera health, the maintenance log and defects (W 2.3, W 6.6, M 2.2): the system checks
 * regularly that every camera that should record did record in the last interval (from the
 * policy), writes the result to the maintenance log, and opens a defect for a camera that
 * failed; the defect stays open until the camera records again. People with the
 * `maintenance-log` capability can run the check for a camera themselves.
 *
 * Who sees what: health, log and defects show camera status only, no personal data. They are
 * for users with `maintenance-log` and for administrators (who manage the cameras and see no
 * personal data). Hidden cameras exist only for administrators (W 3.4, M 3.3), as in the registry.
 */
import type { Kysely } from 'kysely';
import { SYSTEM_ACTOR, type Actor, type AuditTrail } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import { ADMIN_ROLE, type Principal } from '../http/principal.js';
import type { Clock } from '../lib/clock.js';
import { conflict, forbidden, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { parseInput } from '../lib/validation.js';
import { hasCapability, parseDuration, type Policy } from '../policy/index.js';
import {
  closeDefect,
  findOpenDefect,
  insertDefect,
  insertMaintenanceCheck,
  isUniqueViolation,
  lastSystemCheckAt,
  latestSegment,
  listDefects,
  listHealth,
  listMaintenanceChecks,
  listOpenDefects,
  listRecorderCameras,
  type DefectListItem,
  type DefectRecord,
  type Executor,
  type HealthState,
  type MaintenanceCheckListItem,
  type MaintenanceCheckRecord,
  type RecorderCamera,
} from './recording.repository.js';
import { evaluateRecordingCheck, mayRecord, periodicCheckDue } from './recording.rules.js';
import {
  CheckQuery,
  DefectQuery,
  HealthQuery,
  ManualCheck,
  type CheckQueryInput,
  type DefectQueryInput,
  type HealthQueryInput,
  type ManualCheckInput,
} from './recording.schemas.js';

export interface MaintenanceDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export interface DefectView {
  id: string;
  cameraId: string;
  cameraName: string;
  complexId: string;
  complexName: string;
  openedAt: string;
  reason: string;
  closedAt: string | null;
  closedReason: string | null;
}

export interface CameraHealthView {
  cameraId: string;
  cameraName: string;
  complexId: string;
  complexName: string;
  /** Active and allowed to record now (a dummy never; a hidden one until its end date). */
  shouldRecord: boolean;
  state: HealthState;
  /** Since when the state holds; for reconnecting/down: since when nothing was recorded. */
  since: string | null;
  lastSegmentAt: string | null;
  lastError: string | null;
  restarts: number;
  openDefect: { id: string; openedAt: string; reason: string } | null;
}

export interface ComplexOutagesView {
  complexId: string;
  complexName: string;
  cameras: CameraHealthView[];
}

export interface MaintenanceCheckView {
  id: string;
  cameraId: string;
  cameraName: string;
  complexId: string;
  complexName: string;
  checkedAt: string;
  result: 'ok' | 'failed';
  detail: string | null;
  /** A user id, or null when the periodic system check made it. */
  checkedBy: string | null;
}

export interface CheckRunSummary {
  checkedAt: string;
  checked: number;
  failed: number;
  defectsOpened: number;
  defectsClosed: number;
}

const defectView = (d: DefectListItem): DefectView => ({
  id: d.id,
  cameraId: d.cameraId,
  cameraName: d.cameraName,
  complexId: d.complexId,
  complexName: d.complexName,
  openedAt: iso(d.openedAt),
  reason: d.reason,
  closedAt: isoOrNull(d.closedAt),
  closedReason: d.closedReason,
});

const checkView = (c: MaintenanceCheckListItem): MaintenanceCheckView => ({
  id: c.id,
  cameraId: c.cameraId,
  cameraName: c.cameraName,
  complexId: c.complexId,
  complexName: c.complexName,
  checkedAt: iso(c.checkedAt),
  result: c.result,
  detail: c.detail,
  checkedBy: c.checkedBy,
});

const RECORDING_AGAIN = 'The camera records again.';
const NO_LONGER_RECORDS = 'The camera no longer records by decision (deactivated, or its period ended).';

interface CameraCheck {
  result: 'ok' | 'failed';
  defectOpened: boolean;
  defectClosed: boolean;
  record: MaintenanceCheckRecord;
}

export class MaintenanceService {
  constructor(private readonly deps: MaintenanceDeps) {}

  /** The check interval of the policy in force (W 6.6 "regularly"; the presets say weekly). */
  intervalMs(): number {
    return parseDuration(this.deps.policy().deadlines.maintenanceCheckInterval);
  }

  // --- access ---

  private canView(principal: Principal): boolean {
    return (
      principal.roles.includes(ADMIN_ROLE) || hasCapability(this.deps.policy(), principal.roles, 'maintenance-log')
    );
  }

  private requireViewer(principal: Principal): { includeHidden: boolean } {
    if (!this.canView(principal))
      throw forbidden('maintenance-log-forbidden', 'Camera health and the maintenance log are for maintenance staff');
    return { includeHidden: principal.roles.includes(ADMIN_ROLE) };
  }

  // --- checks ---

  /**
   * The periodic check, when it is due (never ran, or last ran an interval ago). The job
   * runs often and asks; so a restarted server neither skips a check nor repeats one.
   */
  async runDueCheck(): Promise<CheckRunSummary | null> {
    const now = this.deps.clock.now();
    if (!periodicCheckDue(await lastSystemCheckAt(this.deps.db), now, this.intervalMs())) return null;
    return this.runCheck();
  }

  /** Checks every camera that should record, by the system; closes defects of cameras that no longer should. */
  async runCheck(): Promise<CheckRunSummary> {
    const now = this.deps.clock.now();
    const intervalMs = this.intervalMs();
    const cameras = await listRecorderCameras(this.deps.db);
    const summary: CheckRunSummary = { checkedAt: iso(now), checked: 0, failed: 0, defectsOpened: 0, defectsClosed: 0 };
    const openDefects = new Map((await listOpenDefects(this.deps.db)).map((d) => [d.cameraId, d]));
    for (const camera of cameras) {
      if (mayRecord(camera, now)) {
        const check = await this.checkCamera(camera, SYSTEM_ACTOR, null, now, intervalMs);
        summary.checked += 1;
        if (check.result === 'failed') summary.failed += 1;
        if (check.defectOpened) summary.defectsOpened += 1;
        if (check.defectClosed) summary.defectsClosed += 1;
      } else {
        const open = openDefects.get(camera.id);
        if (open && (await this.closeDefectWith(open, now, NO_LONGER_RECORDS))) summary.defectsClosed += 1;
      }
    }
    await this.deps.db.transaction().execute((trx) =>
      this.deps.audit.record(trx, {
        actor: SYSTEM_ACTOR,
        action: 'maintenance.periodic-check',
        targetType: 'maintenance-log',
        context: { ...summary },
      }),
    );
    return summary;
  }

  /** A manual check by a person with `maintenance-log` (W 6.6), with an optional note. */
  async manualCheck(principal: Principal, input: ManualCheckInput): Promise<MaintenanceCheckView> {
    if (!hasCapability(this.deps.policy(), principal.roles, 'maintenance-log'))
      throw forbidden('maintenance-check-forbidden', 'Only maintenance staff may record a maintenance check');
    const data = parseInput(ManualCheck, input);
    const includeHidden = principal.roles.includes(ADMIN_ROLE);
    const [camera] = await listRecorderCameras(this.deps.db, { cameraId: data.cameraId, includeHidden });
    if (!camera) throw notFound('camera-not-found', 'No such camera');
    const now = this.deps.clock.now();
    if (!mayRecord(camera, now)) {
      throw conflict(
        'camera-not-recording',
        camera.kind === 'dummy'
          ? 'A dummy camera records nothing (W 3.3); there is nothing to check'
          : 'The camera is not meant to record now (inactive, or a hidden camera past its end date)',
      );
    }
    const actor: Actor = { id: principal.userId, label: principal.username };
    const check = await this.checkCamera(camera, actor, data.note ?? null, now, this.intervalMs());
    return checkView({
      ...check.record,
      cameraName: camera.name,
      complexId: camera.complexId,
      complexName: camera.complexName,
    });
  }

  /**
   * Called by the recorder when a camera records again: its open defect closes now rather
   * than at the next periodic check (W 6.6: open until the camera records again).
   */
  async closeDefectIfRecording(cameraId: string): Promise<boolean> {
    const now = this.deps.clock.now();
    const open = await findOpenDefect(this.deps.db, cameraId);
    if (!open) return false;
    const latest = await latestSegment(this.deps.db, cameraId);
    if (!latest || evaluateRecordingCheck(latest.endAt, now, this.intervalMs()).result !== 'ok') return false;
    return this.closeDefectWith(open, now, RECORDING_AGAIN);
  }

  /** One camera, one transaction: the log row, the defect opened or closed, the audit records. */
  private async checkCamera(
    camera: RecorderCamera,
    actor: Actor,
    note: string | null,
    now: number,
    intervalMs: number,
  ): Promise<CameraCheck> {
    const attempt = () =>
      this.deps.db.transaction().execute(async (trx) => {
        const latest = await latestSegment(trx, camera.id);
        const outcome = evaluateRecordingCheck(latest?.endAt ?? null, now, intervalMs);
        const record: MaintenanceCheckRecord = {
          id: newId(),
          cameraId: camera.id,
          checkedAt: now,
          result: outcome.result,
          detail: note ? `${outcome.detail} Note: ${note}` : outcome.detail,
          checkedBy: actor.id,
        };
        await insertMaintenanceCheck(trx, record);
        if (actor.id !== null) {
          await this.deps.audit.record(trx, {
            actor,
            action: 'maintenance.checked',
            targetType: 'camera',
            targetId: camera.id,
            after: { result: record.result, detail: record.detail },
          });
        }
        const open = await findOpenDefect(trx, camera.id);
        let defectOpened = false;
        let defectClosed = false;
        if (outcome.result === 'failed' && !open) {
          const defect: DefectRecord = {
            id: newId(),
            cameraId: camera.id,
            openedAt: now,
            reason: outcome.detail,
            closedAt: null,
            closedReason: null,
          };
          await insertDefect(trx, defect);
          await this.auditDefect(trx, 'camera.defect-opened', defect, actor);
          defectOpened = true;
        } else if (outcome.result === 'ok' && open) {
          defectClosed = await this.closeDefectIn(trx, open, now, RECORDING_AGAIN, actor);
        }
        return { result: outcome.result, defectOpened, defectClosed, record };
      });
    try {
      return await attempt();
    } catch (error) {
      // A concurrent check opened the defect first (camera_defects_one_open): once more, it sees it.
      if (isUniqueViolation(error)) return attempt();
      throw error;
    }
  }

  private closeDefectWith(open: DefectRecord, now: number, reason: string): Promise<boolean> {
    return this.deps.db.transaction().execute((trx) => this.closeDefectIn(trx, open, now, reason, SYSTEM_ACTOR));
  }

  private async closeDefectIn(
    trx: Executor,
    open: DefectRecord,
    now: number,
    reason: string,
    actor: Actor,
  ): Promise<boolean> {
    if (!(await closeDefect(trx, open.id, now, reason))) return false;
    await this.auditDefect(trx, 'camera.defect-closed', { ...open, closedAt: now, closedReason: reason }, actor);
    return true;
  }

  private auditDefect(trx: Executor, action: string, defect: DefectRecord, actor: Actor): Promise<number> {
    return this.deps.audit.record(trx, {
      actor,
      action,
      targetType: 'camera',
      targetId: defect.cameraId,
      after: {
        defectId: defect.id,
        openedAt: iso(defect.openedAt),
        reason: defect.reason,
        closedAt: isoOrNull(defect.closedAt),
        closedReason: defect.closedReason,
      },
    });
  }

  // --- reading ---

  async listHealth(principal: Principal, query: HealthQueryInput = {}): Promise<CameraHealthView[]> {
    const { includeHidden } = this.requireViewer(principal);
    const { complexId } = parseInput(HealthQuery, query);
    return this.healthViews({ complexId, includeHidden });
  }

  /** Per complex: cameras not recording although they should, and cameras with an open defect. */
  async listOutages(principal: Principal, query: HealthQueryInput = {}): Promise<ComplexOutagesView[]> {
    const { includeHidden } = this.requireViewer(principal);
    const { complexId } = parseInput(HealthQuery, query);
    const views = await this.healthViews({ complexId, includeHidden });
    const byComplex = new Map<string, ComplexOutagesView>();
    for (const view of views) {
      const outage = (view.shouldRecord && view.state !== 'recording') || view.openDefect !== null;
      if (!outage) continue;
      const group = byComplex.get(view.complexId) ?? {
        complexId: view.complexId,
        complexName: view.complexName,
        cameras: [],
      };
      group.cameras.push(view);
      byComplex.set(view.complexId, group);
    }
    return [...byComplex.values()];
  }

  async listChecks(
    principal: Principal,
    query: CheckQueryInput = {},
  ): Promise<{ items: MaintenanceCheckView[]; nextOffset: number | null }> {
    const { includeHidden } = this.requireViewer(principal);
    const q = parseInput(CheckQuery, query);
    const rows = await listMaintenanceChecks(this.deps.db, { ...q, limit: q.limit + 1, includeHidden });
    const more = rows.length > q.limit;
    return { items: rows.slice(0, q.limit).map(checkView), nextOffset: more ? q.offset + q.limit : null };
  }

  async listDefects(
    principal: Principal,
    query: DefectQueryInput = {},
  ): Promise<{ items: DefectView[]; nextOffset: number | null }> {
    const { includeHidden } = this.requireViewer(principal);
    const q = parseInput(DefectQuery, query);
    const rows = await listDefects(this.deps.db, { ...q, limit: q.limit + 1, includeHidden });
    const more = rows.length > q.limit;
    return { items: rows.slice(0, q.limit).map(defectView), nextOffset: more ? q.offset + q.limit : null };
  }

  private async healthViews(filter: { complexId?: string | undefined; includeHidden: boolean }) {
    const now = this.deps.clock.now();
    const cameras = await listRecorderCameras(this.deps.db, {
      ...(filter.complexId ? { complexId: filter.complexId } : {}),
      includeHidden: filter.includeHidden,
    });
    const health = new Map(
      (
        await listHealth(
          this.deps.db,
          cameras.map((c) => c.id),
        )
      ).map((h) => [h.cameraId, h]),
    );
    const defects = new Map((await listOpenDefects(this.deps.db)).map((d) => [d.cameraId, d]));
    const views: CameraHealthView[] = [];
    for (const camera of cameras) {
      const shouldRecord = mayRecord(camera, now);
      const h = health.get(camera.id);
      const defect = defects.get(camera.id);
      // Cameras that never record (dummies, never-activated ones) have no health to show.
      if (!shouldRecord && !h && !defect) continue;
      views.push({
        cameraId: camera.id,
        cameraName: camera.name,
        complexId: camera.complexId,
        complexName: camera.complexName,
        shouldRecord,
        state: h?.state ?? 'stopped',
        since: h ? iso(h.since) : null,
        lastSegmentAt: h ? isoOrNull(h.lastSegmentAt) : null,
        lastError: h?.lastError ?? null,
        restarts: h?.restarts ?? 0,
        openDefect: defect ? { id: defect.id, openedAt: iso(defect.openedAt), reason: defect.reason } : null,
      });
    }
    return views;
  }
}
