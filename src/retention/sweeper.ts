/**
 * The retention sweeper: per category and per the policy in force, erases what is older than
 * its retention and not held (W 6.3, M 6.6, M 6.7), in bounded batches of short write
 * transactions, crash-safe at every step:
 *   footage/exports: mark (erasing_at, with the erasure record, in one transaction) -> delete the
 *   file -> delete the row. A crash leaves marked rows; `reconcile()` finishes them at start-up.
 *   door events: one transaction deletes a time range (the raw payload goes with the row) and
 *   adds the erasure record.
 * Marking and hold creation both lock the `holds` lock row first, so a batch never erases what a
 * hold created before it covers. Disk pressure erases the oldest unheld footage first and never
 * held footage: when only held footage is left, recording stops (see DiskGuard).
 */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { activeHoldScopes, lockHolds } from '../holds/holds.repository.js';
import { exportHeld } from '../holds/holds.rules.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import { retentionMs, type Policy } from '../policy/index.js';
import * as partitions from '../door-events/partitions.repository.js';
import { droppable, partitionEnd, partitionStart } from '../door-events/partitions.js';
import * as repo from './retention.repository.js';
import {
  bytesToFree,
  dueBefore,
  dueReason,
  nextBatchSize,
  overdueBefore,
  SWEPT_CATEGORIES,
  tally,
  underPressure,
  type FreeSpaceThreshold,
  type SweptCategory,
} from './retention.rules.js';
import { nodeFileStore, statfsFreeSpace, type FileStore, type FreeSpace } from './storage.js';

export interface SweeperDeps {
  db: Kysely<Database>;
  clock: Clock;
  policy: () => Policy;
  logger?: Logger | undefined;
  /** `<dataDir>/recordings` and `<dataDir>/exports`. */
  recordingsDir: string;
  exportsDir: string;
  intervalMs: number;
  threshold: FreeSpaceThreshold;
  files?: FileStore;
  freeSpace?: FreeSpace;
  /** Limits of the adaptive batch sizes (tests use small ones to exercise many batches). */
  batch?: { segments?: { min: number; max: number }; events?: { min: number; max: number } };
}

export interface CategoryResult {
  category: SweptCategory;
  retention: string | null;
  erased: number;
  bytes: number;
  /** Wall time spent on this category, ms. */
  ms: number;
  /** Longest write transaction of this category, ms (0 when it wrote nothing). */
  longestTransactionMs: number;
  skipped?: string;
}

export interface SweepResult {
  runId: string;
  startedAt: number;
  categories: CategoryResult[];
  disk: DiskStatus;
  /** Longest write transaction of this run, ms. */
  longestTransactionMs: number;
  transactions: number;
  alarmsRaised: string[];
}

export interface DiskStatus {
  checked: boolean;
  underPressure: boolean;
  freeBytes: number | null;
  totalBytes: number | null;
  erasedForSpace: number;
  /** Cameras that must not record: the disk is full of held footage only. */
  stoppedCameras: string[];
}

export interface PlanLine {
  category: SweptCategory;
  targetType: 'camera' | 'door' | 'export';
  targetId: string;
  count: number;
  bytes: number;
  from: number;
  to: number;
  reason: string;
}

export interface SweepPlan {
  at: number;
  policyId: string;
  erase: PlanLine[];
  /** Due by age, but kept because an active hold covers it. */
  held: (PlanLine & { holdIds: string[] })[];
  skipped: { category: SweptCategory; reason: string }[];
}

/** What every erasure record of one category in one run shares. */
type ErasureContext = {
  runId: string;
  category: string;
  reason: string;
  policyId: string;
  retentionMs: number | null;
};

const DEFAULT_SEGMENT_BATCH = { min: 50, max: 5000 };
const DEFAULT_EVENT_BATCH = { min: 200, max: 50_000 };
const UNLINK_CONCURRENCY = 32;
const RECONCILE_BATCH = 2000;

/** The recorder asks this before (re)starting a camera; it changes after each sweep's disk check. */
export class DiskGuard {
  private stopped = new Set<string>();
  private listeners: ((stopped: readonly string[]) => void)[] = [];

  /** False while the disk is full of held footage only: recording would have to erase held data. */
  shouldRecord(cameraId: string): boolean {
    return !this.stopped.has(cameraId);
  }

  stoppedCameras(): string[] {
    return [...this.stopped];
  }

  /** Called with the cameras that must stop (empty: all may record again) whenever that changes. */
  onChange(listener: (stopped: readonly string[]) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  set(cameraIds: readonly string[]): void {
    const next = new Set(cameraIds);
    const same = next.size === this.stopped.size && [...next].every((id) => this.stopped.has(id));
    this.stopped = next;
    if (!same) for (const listener of this.listeners) listener([...next]);
  }
}

export class RetentionSweeper {
  readonly disk = new DiskGuard();
  private readonly files: FileStore;
  private readonly freeSpace: FreeSpace;
  private running: Promise<SweepResult> | null = null;
  private reconciled = false;
  private segmentBatch: number;
  private eventBatch: number;
  private longest = 0;
  private categoryLongest = 0;
  private transactions = 0;

  constructor(private readonly deps: SweeperDeps) {
    this.files = deps.files ?? nodeFileStore;
    this.freeSpace = deps.freeSpace ?? statfsFreeSpace;
    // Start small: the first transaction must already stay under the 50 ms target; sizes then adapt.
    this.segmentBatch = Math.min(500, this.segmentLimits.max);
    this.eventBatch = Math.min(1000, this.eventLimits.max);
  }

  private get segmentLimits() {
    return this.deps.batch?.segments ?? DEFAULT_SEGMENT_BATCH;
  }
  private get eventLimits() {
    return this.deps.batch?.events ?? DEFAULT_EVENT_BATCH;
  }

  /** One sweep at a time per process; a second call joins the running one. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.runOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * A write transaction, timed from its BEGIN to its end: the sweeper's promise is that none
   * holds the lock > 50 ms. Waiting for the connection (ingest's queries queued first) is not
   * holding it, so that wait is not counted.
   */
  private async timed<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<{ value: T; ms: number }> {
    let began = 0;
    const value = await this.deps.db.transaction().execute((trx) => {
      began = performance.now();
      return fn(trx);
    });
    const ms = performance.now() - began;
    this.longest = Math.max(this.longest, ms);
    this.categoryLongest = Math.max(this.categoryLongest, ms);
    this.transactions += 1;
    return { value, ms };
  }

  /**
   * Finishes erasures a crash interrupted: rows marked `erasing_at` lose their file, then their
   * row (segments and exports). Their erasure records were written when they were marked.
   * Runs before the first sweep of a process; the recorder's start-up does the same for segments.
   */
  async reconcile(): Promise<{ segments: number; exports: number }> {
    let segments = 0;
    for (;;) {
      const marked = await repo.markedSegments(this.deps.db, RECONCILE_BATCH);
      if (marked.length === 0) break;
      await this.removeFiles(marked.map((m) => m.file));
      await this.timed((trx) =>
        repo.deleteMarkedSegments(
          trx,
          marked.map((m) => m.id),
        ),
      );
      segments += marked.length;
      if (marked.length < RECONCILE_BATCH) break;
    }
    let exports = 0;
    for (const exp of await repo.markedExports(this.deps.db)) {
      await this.files.removeDirectory(this.deps.exportsDir, exp.directory);
      await this.timed((trx) => repo.deleteMarkedExport(trx, exp.id));
      exports += 1;
    }
    this.reconciled = true;
    return { segments, exports };
  }

  private async runOnce(): Promise<SweepResult> {
    if (!this.reconciled) await this.reconcile();
    const { db, clock } = this.deps;
    const policy = this.deps.policy();
    const now = clock.now();
    const runId = newId();
    this.longest = 0;
    this.transactions = 0;
    await repo.startRun(db, { id: runId, at: now, policyId: policy.id });
    const result: SweepResult = {
      runId,
      startedAt: now,
      categories: [],
      disk: emptyDisk(),
      longestTransactionMs: 0,
      transactions: 0,
      alarmsRaised: [],
    };
    try {
      for (const category of SWEPT_CATEGORIES) {
        const started = performance.now();
        this.categoryLongest = 0;
        const done = await this.sweepCategory(runId, category, policy, now, result.alarmsRaised);
        result.categories.push({
          ...done,
          ms: Math.round(performance.now() - started),
          longestTransactionMs: Math.round(this.categoryLongest * 10) / 10,
        });
      }
      result.disk = await this.checkDisk(runId, policy, result.alarmsRaised);
      result.longestTransactionMs = this.longest;
      result.transactions = this.transactions;
      await repo.finishRun(db, runId, clock.now(), summaryOf(result), null);
      return result;
    } catch (error) {
      // What this run marked but could not finish (a file that would not go) is finished by the next run.
      this.reconciled = false;
      await repo.finishRun(db, runId, clock.now(), summaryOf(result), String(error)).catch(() => undefined);
      throw error;
    }
  }

  /** Retention of a category under `policy`, or why it is not swept. */
  private retentionOf(
    policy: Policy,
    category: SweptCategory,
  ): { ms: number | null; text: string | null } | { skip: string } {
    const rule = policy.dataCategories[category];
    if (!rule) return { skip: `the policy defines no ${category}` };
    return { ms: retentionMs(policy, category), text: rule.retention };
  }

  private async sweepCategory(
    runId: string,
    category: SweptCategory,
    policy: Policy,
    now: number,
    alarms: string[],
  ): Promise<Omit<CategoryResult, 'ms' | 'longestTransactionMs'>> {
    const retention = this.retentionOf(policy, category);
    if ('skip' in retention) {
      // Never silently "keep forever": data of a category the policy does not define is an alarm.
      if (category === 'door-events' && (await repo.anyDoorEvents(this.deps.db))) {
        await this.alarm(alarms, {
          key: `category-undefined:${category}`,
          kind: 'category-undefined',
          severity: 'error',
          complexId: null,
          targetType: null,
          targetId: null,
          message: `Door events are stored, but policy ${policy.id} defines no retention for them`,
          messageNl: `Er zijn deurgebeurtenissen opgeslagen, maar beleid ${policy.id} kent er geen bewaartermijn voor`,
          details: { category },
        });
      }
      return { category, retention: null, erased: 0, bytes: 0, skipped: retention.skip };
    }
    if (retention.ms === null)
      return { category, retention: null, erased: 0, bytes: 0, skipped: 'no automatic erasure' };
    const record = { runId, category, reason: 'retention', policyId: policy.id, retentionMs: retention.ms };
    const before = dueBefore(now, retention.ms);
    await this.checkOverdue(category, policy, now, retention.ms, alarms);
    let counted: { erased: number; bytes: number };
    if (category === 'footage') counted = await this.eraseSegments(record, before);
    else if (category === 'door-events') counted = await this.eraseEvents(record, before);
    else counted = await this.eraseExports(record, before);
    return { category, retention: retention.text, ...counted };
  }

  /** Raises `retention-overdue` when unheld data older than retention + 2 intervals exists. */
  private async checkOverdue(category: SweptCategory, policy: Policy, now: number, ms: number, alarms: string[]) {
    const limit = overdueBefore(now, ms, this.deps.intervalMs);
    const holds = await activeHoldScopes(this.deps.db);
    let oldest: { targetType: string; targetId: string; at: number } | undefined;
    if (category === 'footage') {
      const s = await repo.oldestUnheldSegment(this.deps.db, limit, holds);
      if (s) oldest = { targetType: 'camera', targetId: s.cameraId, at: s.startAt };
    } else if (category === 'door-events') {
      const e = await repo.oldestUnheldEvent(this.deps.db, limit, holds);
      if (e) oldest = { targetType: 'door', targetId: e.doorId, at: e.occurredAt };
    } else {
      const due = (await repo.dueExports(this.deps.db, limit, 100)).find((x) => !exportHeld(x, holds));
      if (due) oldest = { targetType: 'export', targetId: due.id, at: due.createdAt };
    }
    const key = `retention-overdue:${category}`;
    if (!oldest) {
      await repo.clearAlarm(this.deps.db, key, now);
      return;
    }
    const articles = policy.dataCategories[category]?.articles ?? [];
    await this.alarm(alarms, {
      key,
      kind: 'retention-overdue',
      severity: 'error',
      complexId: null,
      targetType: oldest.targetType,
      targetId: oldest.targetId,
      message: `Unheld ${category} older than its retention plus two sweep intervals was found (oldest from ${new Date(oldest.at).toISOString()}) [${articles.join(', ')}]`,
      messageNl: `Niet veiliggestelde ${category} ouder dan de bewaartermijn plus twee veegintervallen aangetroffen (oudste van ${new Date(oldest.at).toISOString()}) [${articles.join(', ')}]`,
      details: { category, oldestAt: oldest.at, retentionMs: ms, intervalMs: this.deps.intervalMs },
    });
  }

  private async alarm(alarms: string[], input: repo.AlarmInput): Promise<void> {
    const isNew = await repo.raiseAlarm(this.deps.db, input, this.deps.clock.now());
    alarms.push(input.key);
    if (isNew) this.deps.logger?.warn({ alarm: input.key }, input.message);
  }

  private async removeFiles(files: readonly string[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++]!;
        await this.files.removeFile(this.deps.recordingsDir, file);
      }
    };
    // allSettled: a failure is reported only after the other unlinks stopped, never while they still run.
    const outcomes = await Promise.allSettled(
      Array.from({ length: Math.min(UNLINK_CONCURRENCY, files.length) }, worker),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Marks one batch of segments starting in [from, to) with its erasure records, in one write
   * transaction. Deleting their files, then their rows (`deleteSegmentRows`), are separate steps.
   */
  private async markSegmentBatch(record: ErasureContext, from: number, to: number): Promise<repo.SegmentItem[]> {
    const now = this.deps.clock.now();
    const { value: marked, ms } = await this.timed(async (trx) => {
      await lockHolds(trx);
      const holds = await activeHoldScopes(trx);
      const items = await repo.markSegments(trx, { from, to, now, holds });
      await repo.addErasures(
        trx,
        { ...record, now },
        tally(
          items.map((i) => ({ targetId: i.cameraId, from: i.startAt, to: i.endAt, bytes: i.bytes })),
          'camera',
        ),
      );
      return items;
    });
    this.segmentBatch = nextBatchSize(this.segmentBatch, ms, this.segmentLimits);
    return marked;
  }

  /** Deletes the rows of marked segments whose files are gone (chunked, so no transaction grows with the batch). */
  private async deleteSegmentRows(marked: readonly repo.SegmentItem[]): Promise<void> {
    const ids = marked.map((m) => m.id);
    for (let i = 0; i < ids.length; i += 1000) {
      await this.timed((trx) => repo.deleteMarkedSegments(trx, ids.slice(i, i + 1000)));
    }
  }

  /**
   * Walks [oldest, before) in time order, in batches of about `size()` rows: each batch's upper
   * bound is read outside the write transaction, then `erase` handles [from, to).
   */
  private async walkBatches(
    boundary: (from: number, offset: number) => Promise<number | null>,
    size: () => number,
    before: number,
    erase: (from: number, to: number) => Promise<{ count: number; bytes: number }>,
  ): Promise<{ erased: number; bytes: number }> {
    let from = Number.MIN_SAFE_INTEGER;
    let erased = 0;
    let bytes = 0;
    for (;;) {
      const bound = await boundary(from, size());
      // Many items can share a time (all cameras start at once): always move forward.
      const to = bound === null ? before : Math.max(bound, from + 1);
      const done = await erase(from, to);
      erased += done.count;
      bytes += done.bytes;
      if (bound === null) return { erased, bytes };
      from = to;
    }
  }

  /**
   * Segments go in batches: mark (with the erasure record), delete the files, delete the rows.
   * A batch's files are unlinked (file system work, in libuv's pool) while the next batch is
   * marked (database work), and its rows are deleted once both are done, so the sweeper's own
   * transactions never overlap one another. Every batch still goes mark -> files -> rows; at
   * most two batches wait marked, which a crash leaves to `reconcile`.
   */
  private async eraseSegments(record: ErasureContext, before: number): Promise<{ erased: number; bytes: number }> {
    let previous: { marked: repo.SegmentItem[]; files: Promise<void> } | undefined;
    const finishPrevious = async () => {
      if (!previous) return;
      const { marked, files } = previous;
      previous = undefined;
      await files;
      await this.deleteSegmentRows(marked);
    };
    try {
      return await this.walkBatches(
        (from, offset) => repo.segmentBoundary(this.deps.db, from, before, offset),
        () => this.segmentBatch,
        before,
        async (from, to) => {
          const marked = await this.markSegmentBatch(record, from, to);
          await finishPrevious();
          const files = this.removeFiles(marked.map((m) => m.file));
          // Awaited by the next batch or below; until then a failure must not count as unhandled.
          files.catch(() => undefined);
          previous = { marked, files };
          return { count: marked.length, bytes: marked.reduce((sum, m) => sum + m.bytes, 0) };
        },
      );
    } finally {
      await finishPrevious();
    }
  }

  /**
   * Door events live in hourly partitions. An hour that ended before the cut-off and that no hold
   * reaches into is dropped whole (`dropEventHour`); in any other hour, unheld rows go in batches,
   * one transaction per batch that deletes a time range and adds the erasure record. A partition
   * a crash left half dropped is finished first.
   */
  private async eraseEvents(record: ErasureContext, before: number): Promise<{ erased: number; bytes: number }> {
    const total = { erased: 0, bytes: 0 };
    const add = (done: { erased: number; bytes: number }) => {
      total.erased += done.erased;
      total.bytes += done.bytes;
    };
    for (const left of await partitions.erasingPartitions(this.deps.db)) add(await this.finishEventHour(record, left));
    // Read once: which hours look droppable. dropEventHour checks again under the holds lock.
    const holds = await activeHoldScopes(this.deps.db);
    for (const hour of await partitions.livePartitions(this.deps.db, { to: before })) {
      if (partitionStart(hour) >= before) break;
      if (droppable(hour, before, holds)) {
        const dropped = await this.dropEventHour(record, hour);
        if (dropped) {
          add(dropped);
          continue;
        }
      }
      add(await this.eraseEventRows(record, hour, Math.min(before, partitionEnd(hour))));
      if (partitionEnd(hour) <= before) await this.timed((trx) => partitions.dropIfEmpty(trx, hour));
    }
    return total;
  }

  /** Unheld events of one hour before `before`, in batches of one transaction each. */
  private eraseEventRows(record: ErasureContext, hour: number, before: number) {
    return this.walkBatches(
      (from, offset) => repo.eventBoundary(this.deps.db, hour, from, before, offset),
      () => this.eventBatch,
      before,
      async (from, to) => {
        const now = this.deps.clock.now();
        const { value: tallies, ms } = await this.timed(async (trx) => {
          await lockHolds(trx);
          const erased = await repo.eraseEventRange(trx, hour, { from, to, holds: await activeHoldScopes(trx) });
          await repo.addErasures(trx, { ...record, now }, erased);
          return erased;
        });
        this.eventBatch = nextBatchSize(this.eventBatch, ms, this.eventLimits);
        return sumTallies(tallies);
      },
    );
  }

  /**
   * Drops an expired, unheld hour of door events: count it per door (a read, outside any write
   * transaction), then mark it and write its erasure record in one transaction that re-checks the
   * holds under the holds lock, then drop its indexes and its table, each in a transaction of its
   * own so that none holds the write lock long. Null when a hold created meanwhile reaches into
   * the hour: its rows then go one by one.
   */
  private async dropEventHour(record: ErasureContext, hour: number) {
    const countedToId = await partitions.highestId(this.deps.db, hour);
    const tallies = await repo.eventTallies(this.deps.db, hour, { above: 0, to: countedToId });
    const now = this.deps.clock.now();
    const { value: marked } = await this.timed(async (trx) => {
      await lockHolds(trx);
      if (!droppable(hour, partitionEnd(hour), await activeHoldScopes(trx))) return false;
      if (!(await partitions.markErasing(trx, hour, countedToId))) return false;
      await repo.addErasures(trx, { ...record, now }, tallies);
      return true;
    });
    if (!marked) return null;
    const counted = sumTallies(tallies);
    const late = await this.finishEventHour(record, { hour, countedToId });
    return { erased: counted.count + late.erased, bytes: counted.bytes + late.bytes };
  }

  /**
   * Drops a marked hour's indexes, then its table. Rows that came in after the count (an event
   * accepted just inside its retention on a slower clock) are counted in the table's own
   * transaction, so the erasure records match what went.
   */
  private async finishEventHour(record: ErasureContext, hour: { hour: number; countedToId: number }) {
    for (const index of partitions.partitionIndexNames(hour.hour))
      await this.timed((trx) => partitions.dropPartitionIndex(trx, index));
    const now = this.deps.clock.now();
    const { value: late } = await this.timed(async (trx) => {
      await partitions.lockPartition(trx, hour.hour);
      const tallies = await repo.eventTallies(trx, hour.hour, { above: hour.countedToId });
      await repo.addErasures(trx, { ...record, now }, tallies);
      await partitions.dropPartitionTable(trx, hour.hour);
      return sumTallies(tallies);
    });
    return { erased: late.count, bytes: late.bytes };
  }

  private async eraseExports(record: ErasureContext, before: number): Promise<{ erased: number; bytes: number }> {
    let erased = 0;
    let bytes = 0;
    const seen = new Set<string>();
    for (;;) {
      const now = this.deps.clock.now();
      const { value: marked } = await this.timed(async (trx) => {
        await lockHolds(trx);
        const holds = await activeHoldScopes(trx);
        const due = (await repo.dueExports(trx, before, 10_000)).filter((x) => !seen.has(x.id));
        due.forEach((x) => seen.add(x.id));
        const unheld = due.filter((x) => !exportHeld(x, holds));
        const ids = await repo.markExports(
          trx,
          unheld.map((x) => x.id),
          now,
        );
        const items = unheld.filter((x) => ids.includes(x.id));
        await repo.addErasures(
          trx,
          { ...record, now },
          items.map((x) => ({
            targetType: 'export' as const,
            targetId: x.id,
            from: x.from,
            to: x.to,
            count: 1,
            bytes: x.bytes,
          })),
        );
        return { items, more: due.length > 0 };
      });
      for (const exp of marked.items) {
        await this.files.removeDirectory(this.deps.exportsDir, exp.directory);
        await this.timed((trx) => repo.deleteMarkedExport(trx, exp.id));
        erased += 1;
        bytes += exp.bytes;
      }
      if (!marked.more) break;
    }
    return { erased, bytes };
  }

  /**
   * Disk pressure: below the free-space threshold, erase the oldest unheld footage first (before
   * its retention ends) until back above it, and raise an alarm. Held footage is never erased
   * for space; if only held footage is left, every active camera must stop recording.
   */
  async checkDisk(
    runId: string = newId(),
    policy: Policy = this.deps.policy(),
    alarms: string[] = [],
  ): Promise<DiskStatus> {
    const status = emptyDisk();
    let reading;
    try {
      reading = await this.freeSpace.read(this.deps.recordingsDir);
    } catch (error) {
      this.deps.logger?.warn({ err: error }, 'free space of the recordings directory unknown');
      return status;
    }
    status.checked = true;
    status.freeBytes = reading.freeBytes;
    status.totalBytes = reading.totalBytes;
    const now = this.deps.clock.now();
    if (!underPressure(reading, this.deps.threshold)) {
      await repo.clearAlarm(this.deps.db, 'disk-pressure', now);
      await repo.clearAlarm(this.deps.db, 'recording-stopped', now);
      this.disk.set([]);
      return status;
    }
    status.underPressure = true;
    const record = { runId, category: 'footage', reason: 'disk-pressure', policyId: policy.id, retentionMs: null };
    let exhausted = false;
    while (underPressure(reading, this.deps.threshold)) {
      const needed = bytesToFree(reading, this.deps.threshold);
      const done = await this.eraseOldestFor(record, needed);
      status.erasedForSpace += done.count;
      if (done.count === 0) {
        exhausted = true;
        break;
      }
      reading = await this.freeSpace.read(this.deps.recordingsDir);
    }
    status.freeBytes = reading.freeBytes;
    status.totalBytes = reading.totalBytes;
    status.underPressure = underPressure(reading, this.deps.threshold);
    await this.alarm(alarms, {
      key: 'disk-pressure',
      kind: 'disk-pressure',
      severity: 'warning',
      complexId: null,
      targetType: null,
      targetId: null,
      message: `Free space for recordings fell below the threshold; ${status.erasedForSpace} unheld segments were erased early, oldest first`,
      messageNl: `Vrije ruimte voor opnames onder de drempel; ${status.erasedForSpace} niet veiliggestelde segmenten zijn eerder gewist, oudste eerst`,
      details: { freeBytes: reading.freeBytes, totalBytes: reading.totalBytes, erased: status.erasedForSpace },
    });
    if (exhausted && status.underPressure) {
      status.stoppedCameras = await repo.activeCameraIds(this.deps.db);
      this.disk.set(status.stoppedCameras);
      await this.alarm(alarms, {
        key: 'recording-stopped',
        kind: 'recording-stopped',
        severity: 'error',
        complexId: null,
        targetType: null,
        targetId: null,
        message: `The recordings disk is full of held footage only: recording is stopped for ${status.stoppedCameras.length} camera(s). Held footage is never erased for space; release holds or add space.`,
        messageNl: `De opnameschijf is vol met alleen veiliggestelde beelden: de opname is gestopt voor ${status.stoppedCameras.length} camera('s). Veiliggestelde beelden worden nooit gewist voor ruimte; hef holds op of voeg ruimte toe.`,
        details: { cameraIds: status.stoppedCameras, freeBytes: reading.freeBytes },
      });
    } else {
      this.disk.set([]);
      await repo.clearAlarm(this.deps.db, 'recording-stopped', now);
    }
    return status;
  }

  /**
   * Erases the oldest unheld segments of all cameras, just enough to free `needed` bytes: the
   * candidates are picked oldest first, then marked by id under the holds lock (a hold created
   * meanwhile still wins), deleted from disk, then from the index.
   */
  private async eraseOldestFor(record: ErasureContext, needed: number): Promise<{ count: number; bytes: number }> {
    const holds = await activeHoldScopes(this.deps.db);
    const candidates = await repo.oldestUnheldSegments(this.deps.db, holds, 500);
    const chosen: string[] = [];
    let planned = 0;
    for (const c of candidates) {
      if (planned >= needed) break;
      chosen.push(c.id);
      planned += c.bytes;
    }
    if (chosen.length === 0) return { count: 0, bytes: 0 };
    const now = this.deps.clock.now();
    const { value: marked } = await this.timed(async (trx) => {
      await lockHolds(trx);
      const items = await repo.markSegmentIds(trx, chosen, now, await activeHoldScopes(trx));
      await repo.addErasures(
        trx,
        { ...record, now },
        tally(
          items.map((i) => ({ targetId: i.cameraId, from: i.startAt, to: i.endAt, bytes: i.bytes })),
          'camera',
        ),
      );
      return items;
    });
    await this.removeFiles(marked.map((m) => m.file));
    await this.timed((trx) =>
      repo.deleteMarkedSegments(
        trx,
        marked.map((m) => m.id),
      ),
    );
    return { count: marked.length, bytes: marked.reduce((sum, m) => sum + m.bytes, 0) };
  }

  /**
   * What a sweep would erase now under `policy` (default: the policy in force) and why, and what
   * it keeps because of holds. Read-only: `protocam sweep --dry-run` and the impact preview of a
   * proposed policy change use it.
   */
  async plan(policy: Policy = this.deps.policy()): Promise<SweepPlan> {
    const now = this.deps.clock.now();
    const holds = await activeHoldScopes(this.deps.db);
    const plan: SweepPlan = { at: now, policyId: policy.id, erase: [], held: [], skipped: [] };
    for (const category of SWEPT_CATEGORIES) {
      const retention = this.retentionOf(policy, category);
      if ('skip' in retention) {
        plan.skipped.push({ category, reason: retention.skip });
        continue;
      }
      if (retention.ms === null || retention.text === null) {
        plan.skipped.push({ category, reason: 'no automatic erasure' });
        continue;
      }
      const before = dueBefore(now, retention.ms);
      const reason = dueReason(category, retention.text, policy.dataCategories[category]?.articles ?? []);
      const heldReason = `${category} older than ${retention.text} but held`;
      if (category === 'footage' || category === 'door-events') {
        const counts = category === 'footage' ? repo.segmentCounts : repo.eventCounts;
        const targetType = category === 'footage' ? 'camera' : 'door';
        for (const c of await counts(this.deps.db, before, holds, false))
          plan.erase.push({ category, targetType, ...c, reason });
        for (const c of await counts(this.deps.db, before, holds, true)) {
          const holdIds = holds
            .filter(
              (h) =>
                (category === 'footage' ? h.cameraIds : h.doorIds).includes(c.targetId) ||
                (category === 'door-events' && h.tags.length > 0),
            )
            .map((h) => h.id);
          plan.held.push({ category, targetType, ...c, reason: heldReason, holdIds });
        }
      } else {
        for (const x of await repo.dueExports(this.deps.db, before, 10_000)) {
          const line = {
            category,
            targetType: 'export' as const,
            targetId: x.id,
            count: 1,
            bytes: x.bytes,
            from: x.from,
            to: x.to,
          };
          if (exportHeld(x, holds))
            plan.held.push({
              ...line,
              reason: heldReason,
              holdIds: holds.filter((h) => exportHeld(x, [h])).map((h) => h.id),
            });
          else plan.erase.push({ ...line, reason });
        }
      }
    }
    return plan;
  }
}

const sumTallies = (tallies: readonly { count: number; bytes: number }[]) =>
  tallies.reduce((sum, t) => ({ count: sum.count + t.count, bytes: sum.bytes + t.bytes }), { count: 0, bytes: 0 });

const emptyDisk = (): DiskStatus => ({
  checked: false,
  underPressure: false,
  freeBytes: null,
  totalBytes: null,
  erasedForSpace: 0,
  stoppedCameras: [],
});

const summaryOf = (r: SweepResult) => ({
  categories: r.categories,
  disk: { ...r.disk, stoppedCameras: r.disk.stoppedCameras.length },
  longestTransactionMs: Math.round(r.longestTransactionMs * 10) / 10,
  transactions: r.transactions,
  alarms: r.alarmsRaised,
});

/** `<dataDir>/recordings` and `<dataDir>/exports`, as the recorder and the export area use them. */
export const storageDirs = (dataDir: string) => ({
  recordingsDir: join(dataDir, 'recordings'),
  exportsDir: join(dataDir, 'exports'),
});
