/**
 * The recorder (issue 4): one supervised ffmpeg per camera that may record (mayRecord), each
 * writing MPEG-TS segments by stream copy straight into `<recordings>/<cameraId>/`, a segment
 * list per run, and a pid file. A change of a run's segment list (inotify, fs.watch) indexes
 * the segment that just closed; one timer detects stalls, stops hidden cameras at their end
 * date, keeps camera health and indexes what no watch covers (a list not yet created, a
 * failed watch, an ended run); another re-reads the registry.
 *
 * Credentials: the stream URL with credentials exists only in ffmpeg's arguments. Everything
 * logged or stored about a process (arguments, stderr, errors) is redacted by the supervisor
 * and again here before it reaches camera_health.last_error.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { AuditTrail } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { mediaProcessEnv, type MediaTools } from '../media/ffmpeg.js';
import { redactText } from '../media/redact.js';
import { parseSegmentName, runStamp, segmentRecordingArgs } from '../media/segment-recorder.js';
import {
  realTimers,
  SupervisedProcess,
  type BackoffOptions,
  type ExitInfo,
  type StopTimeouts,
  type Timers,
} from '../media/supervised-process.js';
import type { StreamSecrets } from '../registry/registry.service.js';
import { reconcileRecordings, runKey, type ReconcileReport } from './reconcile.js';
import { isSourceProblem, recorderSource, sourceInputArgs, type RecorderSource } from './recorder-source.js';
import {
  findHealth,
  listHealth,
  listRecorderCameras,
  upsertHealth,
  type HealthRecord,
  type RecorderCamera,
} from './recording.repository.js';
import {
  healthChanged,
  healthWriteDue,
  isStalled,
  mayRecord,
  nextHealth,
  stallAfterMs,
  type HealthEvent,
} from './recording.rules.js';
import { RunIndexer, SegmentRowBatcher, type RecordingLogger } from './segment-indexer.js';
import { cameraDirectory, removeFile, RUN_LIST, runListPath } from './segment-files.js';

export interface RecorderDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  /** The registry's secret reader; the recorder is its only caller. */
  registry: { decryptStream(cameraId: string): Promise<StreamSecrets> };
  media: Pick<MediaTools, 'ffmpegPath' | 'probe' | 'ffmpegVersion'>;
  logger: RecordingLogger;
  /** `<dataDir>/recordings`. */
  recordingsDir: string;
  segmentSeconds: number;
  /** Called when a camera records again after an outage (closes its open defect, W 6.6). */
  onRecordingResumed?: (cameraId: string) => Promise<void>;
  /**
   * Whether the disk leaves room to record this camera (issue 6): false while only held footage
   * is left to erase, since held footage is never erased for space. Default: always.
   */
  diskAllows?: (cameraId: string) => boolean;
}

export interface RecorderOptions {
  /**
   * How often the timer pass runs: stall detection, health, hidden cameras' end dates, and
   * indexing of runs whose segment list is not watched.
   */
  pollIntervalMs?: number;
  /** Index on changes of the segment list (inotify) rather than on the timer. Default true. */
  watchLists?: boolean;
  /** How often the registry is re-read (cameras activated, deactivated, changed). */
  syncIntervalMs?: number;
  /** No new segment for this long: restart and report. Default three segment lengths. */
  stallAfterMs?: number;
  /** Reconnecting for this long counts as down. */
  downAfterMs?: number;
  /** RTSP socket timeout. */
  rtspTimeoutSeconds?: number;
  backoff?: Partial<BackoffOptions>;
  stopTimeouts?: Partial<StopTimeouts>;
  /** A monotonic ms source for stall detection (ffmpeg runs in real time, whatever the clock says). */
  monotonic?: () => number;
  timers?: Timers;
}

/** What the recorder knows about one camera right now (for tests and diagnostics). */
export interface RecorderStatus {
  cameraId: string;
  processState: string;
  pid: number | undefined;
  run: string | undefined;
  starts: number;
}

const PID_FILE = '.ffmpeg.pid';
/** A listed segment whose file is not closed yet is looked at again this often, this many times. */
const CLOSE_RETRY_MS = 50;
const CLOSE_RETRIES = 10;
const MAX_ERROR_LENGTH = 500;

class CameraRecorder {
  readonly process: SupervisedProcess;
  readonly runs = new Map<string, RunIndexer>();
  currentRun: string | undefined;
  lastProgress: number;
  stopping = false;
  /** The stop in progress, so that a second caller (sync and the end-date check) waits for it. */
  stopped: Promise<void> | undefined;
  /** Indexing passes of this camera run one after another (timer, stop and sync may overlap). */
  polling: Promise<void> = Promise.resolve();
  /** inotify watches on the segment lists of live runs, by run. */
  readonly watchers = new Map<string, FSWatcher>();
  /** A pass woken by a list change is queued and has not started reading yet. */
  changeQueued = false;
  /** Retries of a change pass whose segment was listed before its file was closed. */
  closeRetries = 0;
  /** Set when the stall detector ended the process: its exit reports the stall, not the signal. */
  stallReport: string | undefined;
  health: HealthRecord | null;
  /** What the health table holds for this camera (progress-only changes are written late). */
  healthWritten: HealthRecord | null;

  constructor(
    readonly cameraId: string,
    readonly directory: string,
    readonly source: RecorderSource,
    /** The registry's streamVersion that `source` was decrypted from. */
    public streamVersion: string,
    public hiddenEndDate: number | null,
    health: HealthRecord | null,
    create: (recorder: CameraRecorder) => SupervisedProcess,
    now: number,
  ) {
    this.health = health;
    this.healthWritten = health;
    this.lastProgress = now;
    this.process = create(this);
  }
}

export class RecorderManager {
  private readonly recorders = new Map<string, CameraRecorder>();
  private readonly options: Required<Omit<RecorderOptions, 'backoff' | 'stopTimeouts'>> &
    Pick<RecorderOptions, 'backoff' | 'stopTimeouts'>;
  private ffmpegMajor = 4;
  private pollTimer: unknown;
  private syncTimer: unknown;
  private ticking: Promise<void> | undefined;
  private syncing: Promise<void> | undefined;
  private started = false;
  /** Run start per camera, so that a new run never reuses an earlier stamp (even if the clock stands still). */
  private readonly lastRunStart = new Map<string, number>();
  private readonly healthWrites = new Map<string, Promise<void>>();
  /** Rows of segments that every camera seals at about the same moment go in one transaction. */
  private readonly segmentRows: SegmentRowBatcher;

  constructor(
    private readonly deps: RecorderDeps,
    options: RecorderOptions = {},
  ) {
    const segmentMs = deps.segmentSeconds * 1000;
    this.segmentRows = new SegmentRowBatcher(deps.db);
    this.options = {
      // A quarter segment: a closed segment is indexed soon after, and idle passes stay rare
      // (they are most of the recorder's own CPU when ffmpeg only copies).
      pollIntervalMs: options.pollIntervalMs ?? Math.min(2_500, Math.max(250, segmentMs / 4)),
      watchLists: options.watchLists ?? true,
      syncIntervalMs: options.syncIntervalMs ?? 15_000,
      stallAfterMs: options.stallAfterMs ?? stallAfterMs(deps.segmentSeconds),
      downAfterMs: options.downAfterMs ?? Math.max(60_000, 6 * segmentMs),
      rtspTimeoutSeconds: options.rtspTimeoutSeconds ?? Math.max(5, deps.segmentSeconds * 2),
      monotonic: options.monotonic ?? (() => performance.now()),
      timers: options.timers ?? realTimers,
      backoff: options.backoff,
      stopTimeouts: options.stopTimeouts,
    };
  }

  /**
   * Stops ffmpeg processes a crashed server left behind, reconciles the index with the
   * files, starts every camera that may record, and starts the timers.
   */
  async start(): Promise<ReconcileReport> {
    if (this.started) throw new Error('recorder already started');
    this.started = true;
    await mkdir(this.deps.recordingsDir, { recursive: true });
    this.ffmpegMajor = (await this.deps.media.ffmpegVersion()).major;
    await this.stopLeftoverProcesses();
    const report = await reconcileRecordings(this.deps);
    await this.sync();
    const { timers } = this.options;
    const schedulePoll = () => {
      this.pollTimer = timers.setTimeout(() => {
        this.ticking = this.tick().finally(() => {
          this.ticking = undefined;
          if (this.started) schedulePoll();
        });
      }, this.options.pollIntervalMs);
      (this.pollTimer as NodeJS.Timeout | undefined)?.unref?.();
    };
    const scheduleSync = () => {
      this.syncTimer = timers.setTimeout(() => {
        void this.sync().finally(() => {
          if (this.started) scheduleSync();
        });
      }, this.options.syncIntervalMs);
      (this.syncTimer as NodeJS.Timeout | undefined)?.unref?.();
    };
    schedulePoll();
    scheduleSync();
    return report;
  }

  /** Stops every camera gently (their last segments are indexed) and the timers. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.options.timers.clearTimeout(this.pollTimer);
    this.options.timers.clearTimeout(this.syncTimer);
    await this.ticking;
    await this.syncing;
    await Promise.all([...this.recorders.keys()].map((id) => this.stopCamera(id, 'recorder stopped')));
  }

  /**
   * Re-reads the registry: starts cameras that may record now, stops those that may not
   * (deactivated, dummy, hidden past its end date), restarts those whose stream changed.
   */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  /** One indexing and supervision pass, as the timer runs it (tests call it to avoid waiting). */
  async pollNow(): Promise<void> {
    await this.ticking;
    await this.tick();
  }

  /** Reconciles while recording: runs being written or indexed are left to the live indexers. */
  reconcile(): Promise<ReconcileReport> {
    const skipRuns = new Set<string>();
    for (const recorder of this.recorders.values())
      for (const run of recorder.runs.keys()) skipRuns.add(runKey(recorder.cameraId, run));
    return reconcileRecordings(this.deps, { skipRuns });
  }

  status(): RecorderStatus[] {
    return [...this.recorders.values()].map((r) => ({
      cameraId: r.cameraId,
      processState: r.process.state,
      pid: r.process.pid,
      run: r.currentRun,
      starts: r.process.startCount,
    }));
  }

  // --- registry sync ---

  private async syncOnce(): Promise<void> {
    try {
      const now = this.deps.clock.now();
      const cameras = await listRecorderCameras(this.deps.db, { activeOnly: true });
      const wanted = new Map<string, RecorderCamera>();
      const diskAllows = this.deps.diskAllows ?? (() => true);
      for (const camera of cameras) if (mayRecord(camera, now) && diskAllows(camera.id)) wanted.set(camera.id, camera);
      for (const id of [...this.recorders.keys()]) {
        if (!wanted.has(id)) {
          const reason = diskAllows(id)
            ? 'camera no longer records (registry)'
            : 'no disk space left that may be freed';
          await this.stopCamera(id, reason);
        }
      }
      for (const camera of wanted.values()) {
        if (!this.started) return;
        await this.syncCamera(camera);
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, 'recorder sync failed');
    }
  }

  private async syncCamera(camera: RecorderCamera): Promise<void> {
    const running = this.recorders.get(camera.id);
    if (running && !running.stopping && running.streamVersion === camera.streamVersion) {
      // Nothing about the stream was written since it started: no need to decrypt it again.
      running.hiddenEndDate = camera.kind === 'hidden' ? camera.hiddenEndDate : null;
      return;
    }
    let stream: StreamSecrets;
    try {
      stream = await this.deps.registry.decryptStream(camera.id);
    } catch (error) {
      // Refused (e.g. deactivated or expired in between): the next sync sees the new state.
      this.deps.logger.warn({ cameraId: camera.id, code: (error as { code?: string }).code }, 'stream not available');
      return;
    }
    const source = recorderSource(stream);
    const existing = this.recorders.get(camera.id);
    if (isSourceProblem(source)) {
      if (existing) await this.stopCamera(camera.id, 'stream address unusable');
      await this.updateHealth(camera.id, { type: 'failed', error: source.message, restart: false });
      await this.updateHealth(camera.id, { type: 'tick' });
      return;
    }
    if (existing) {
      existing.hiddenEndDate = camera.kind === 'hidden' ? camera.hiddenEndDate : null;
      existing.streamVersion = camera.streamVersion;
      if (existing.source.fingerprint === source.fingerprint) return;
      await this.stopCamera(camera.id, 'stream address changed');
    }
    await this.startCamera(camera, source);
  }

  // --- one camera ---

  private async startCamera(camera: RecorderCamera, source: RecorderSource): Promise<void> {
    const directory = cameraDirectory(this.deps.recordingsDir, camera.id);
    await mkdir(directory, { recursive: true });
    await this.learnLastRun(camera.id, directory);
    const health = await findHealth(this.deps.db, camera.id);
    const recorder = new CameraRecorder(
      camera.id,
      directory,
      source,
      camera.streamVersion,
      camera.kind === 'hidden' ? camera.hiddenEndDate : null,
      health,
      (r) => this.createProcess(r),
      this.options.monotonic(),
    );
    this.recorders.set(camera.id, recorder);
    recorder.process.start();
    this.deps.logger.info({ cameraId: camera.id, source: source.kind }, 'camera recording started');
  }

  private createProcess(recorder: CameraRecorder): SupervisedProcess {
    const { deps } = this;
    const supervised = new SupervisedProcess({
      name: `camera ${recorder.cameraId}`,
      command: deps.media.ffmpegPath,
      args: () => this.runArguments(recorder),
      env: mediaProcessEnv(),
      clock: deps.clock,
      timers: this.options.timers,
      logger: deps.logger,
      secrets: recorder.source.secrets,
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      ...(this.options.stopTimeouts ? { stopTimeouts: this.options.stopTimeouts } : {}),
    });
    supervised.on('state', (change) => {
      if (change.state === 'running' && change.pid !== undefined) {
        void this.writePidFile(recorder, change.pid);
        void this.updateHealth(recorder.cameraId, { type: 'started' });
      }
    });
    supervised.on('exit', (info) => this.onExit(recorder, info));
    return supervised;
  }

  /** Arguments of a new run: a fresh, unique run stamp, its segment list, its indexer. */
  private runArguments(recorder: CameraRecorder): string[] {
    const previous = this.lastRunStart.get(recorder.cameraId) ?? 0;
    const runStartedAt = Math.max(this.deps.clock.now(), previous + 1);
    this.lastRunStart.set(recorder.cameraId, runStartedAt);
    const run = runStamp(runStartedAt);
    // The tolerance for a late close is the default plus how late each pass may read the list
    // (readLatenessMs): a change wakes a pass at once, a timer's pass comes up to an interval late.
    recorder.runs.set(
      run,
      new RunIndexer({ ...this.deps, segmentRows: this.segmentRows }, recorder.cameraId, run, {
        live: true,
        anchor: runStartedAt,
        // A closed segment is the camera's progress, indexed or not: a database that is away
        // for a while must not make healthy cameras look stalled and restart (losing footage).
        onListed: () => (recorder.lastProgress = this.options.monotonic()),
      }),
    );
    recorder.currentRun = run;
    recorder.lastProgress = this.options.monotonic();
    const inputArgs = sourceInputArgs(recorder.source, this.ffmpegMajor, this.options.rtspTimeoutSeconds);
    const args = segmentRecordingArgs({
      inputArgs,
      directory: recorder.directory,
      segmentSeconds: this.deps.segmentSeconds,
      runStartedAt,
    });
    // The segment list: written as each segment closes, it gives exact times and says "closed".
    args.splice(
      args.lastIndexOf('-n'),
      0,
      '-segment_list',
      runListPath(recorder.directory, run),
      '-segment_list_type',
      'csv',
    );
    return args;
  }

  private onExit(recorder: CameraRecorder, info: ExitInfo): void {
    if (recorder.currentRun) {
      recorder.runs.get(recorder.currentRun)?.markEnded();
      // The list of an ended run changes no more: the timer's pass indexes its last files.
      unwatch(recorder, recorder.currentRun);
    }
    if (recorder.stopping) return;
    const stall = recorder.stallReport;
    recorder.stallReport = undefined;
    const reason =
      stall ??
      info.spawnError ??
      info.lastStderr.at(-1) ??
      (info.signal ? `ffmpeg ended by ${info.signal}` : `ffmpeg exited with code ${String(info.code)}`);
    void this.updateHealth(recorder.cameraId, {
      type: 'failed',
      error: this.scrub(recorder, reason),
      restart: true,
    });
  }

  private stopCamera(cameraId: string, reason: string): Promise<void> {
    const recorder = this.recorders.get(cameraId);
    if (!recorder) return Promise.resolve();
    recorder.stopped ??= this.stopRecorder(recorder, reason);
    return recorder.stopped;
  }

  private async stopRecorder(recorder: CameraRecorder, reason: string): Promise<void> {
    const { cameraId } = recorder;
    recorder.stopping = true;
    const result = await recorder.process.stop();
    for (const [run, indexer] of recorder.runs) {
      indexer.markEnded();
      unwatch(recorder, run);
    }
    // Whatever is left unindexed here (e.g. the database is away) start-up reconciliation indexes.
    await this.pollRecorder(recorder, 'timer').catch((error: unknown) => {
      this.deps.logger.error({ err: error, cameraId }, 'indexing the last segments failed');
    });
    for (const indexer of recorder.runs.values()) await indexer.close().catch(() => undefined);
    await removeFile(join(recorder.directory, PID_FILE));
    await this.updateHealth(cameraId, { type: 'stopped' });
    this.recorders.delete(cameraId);
    this.deps.logger.info({ cameraId, reason, stop: result }, 'camera recording stopped');
  }

  // --- the periodic pass ---

  private async tick(): Promise<void> {
    const now = this.deps.clock.now();
    await Promise.all(
      [...this.recorders.values()].map(async (recorder) => {
        try {
          if (recorder.stopping) return;
          if (recorder.hiddenEndDate !== null && recorder.hiddenEndDate <= now) {
            // W 3.4, M 3.3: covert recording ends with its approved period, to the poll.
            await this.stopCamera(recorder.cameraId, 'hidden camera reached its end date');
            return;
          }
          // Watched runs are indexed on change; the timer only finishes a segment whose list
          // entry came before its file was closed. A run watched from this pass on is read
          // once more, for what it listed before.
          const due = [...recorder.runs].some(([run, indexer]) => !recorder.watchers.has(run) || indexer.hasPending);
          this.watchLists(recorder);
          // A failed pass (the database is away) must not skip the stall check: the camera's
          // progress is what ffmpeg listed (onListed), indexed or not.
          if (due)
            await this.pollRecorder(recorder, 'timer').catch((error: unknown) => {
              this.deps.logger.error({ err: error, cameraId: recorder.cameraId }, 'indexing pass failed');
            });
          this.checkStall(recorder);
          await this.updateHealth(recorder.cameraId, { type: 'tick' });
        } catch (error) {
          this.deps.logger.error({ err: error, cameraId: recorder.cameraId }, 'recorder pass failed');
        }
      }),
    );
  }

  private pollRecorder(recorder: CameraRecorder, wokenBy: 'timer' | 'change'): Promise<void> {
    const pass = recorder.polling.then(() => this.pollRecorderOnce(recorder, wokenBy));
    recorder.polling = pass.catch(() => undefined);
    return pass;
  }

  // --- segment lists watched (inotify) ---

  /**
   * Watches the segment list of each live run that has none yet. ffmpeg creates the list once
   * its input is open (a clip at once, a camera after connecting), so the timer's pass tries
   * until it exists; until then, and wherever watching fails, that pass indexes the run.
   */
  private watchLists(recorder: CameraRecorder): void {
    if (!this.options.watchLists || recorder.stopping) return;
    for (const [run, indexer] of recorder.runs) {
      if (indexer.isEnded || recorder.watchers.has(run)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(runListPath(recorder.directory, run), { persistent: false });
      } catch {
        continue; // Not created yet, or no inotify watch left: the timer indexes this run.
      }
      watcher.on('change', () => this.listChanged(recorder));
      watcher.on('error', (error) => {
        this.deps.logger.warn({ err: error, cameraId: recorder.cameraId }, 'segment list watch failed');
        unwatch(recorder, run);
      });
      recorder.watchers.set(run, watcher);
    }
  }

  /** ffmpeg appended to a segment list: a segment closed just now. One pass at a time is queued. */
  private listChanged(recorder: CameraRecorder): void {
    if (recorder.changeQueued || recorder.stopping) return;
    recorder.changeQueued = true;
    this.pollRecorder(recorder, 'change').catch((error: unknown) => {
      this.deps.logger.error({ err: error, cameraId: recorder.cameraId }, 'indexing a closed segment failed');
    });
  }

  private async pollRecorderOnce(recorder: CameraRecorder, wokenBy: 'timer' | 'change'): Promise<void> {
    if (wokenBy === 'change') recorder.changeQueued = false;
    let waitingForClose = false;
    for (const [run, indexer] of recorder.runs) {
      // A watched list is read at most moments after ffmpeg wrote it when a change woke this
      // pass; a timer's pass reads a watched list late by an unknown amount (the change's own
      // pass came first or failed), an unwatched one by at most the interval.
      const watched = recorder.watchers.has(run);
      const readLatenessMs = watched ? (wokenBy === 'change' ? 0 : null) : this.options.pollIntervalMs;
      const result = await indexer.poll({ readLatenessMs });
      if (watched && indexer.hasPending) waitingForClose = true;
      for (const segment of result.indexed) {
        recorder.lastProgress = this.options.monotonic();
        const before = recorder.health?.state;
        await this.updateHealth(recorder.cameraId, { type: 'segment', segmentEnd: segment.endAt });
        if (before !== 'recording' && this.deps.onRecordingResumed) {
          await this.deps.onRecordingResumed(recorder.cameraId).catch((error: unknown) => {
            this.deps.logger.error({ err: error, cameraId: recorder.cameraId }, 'closing the defect failed');
          });
        }
      }
      if (indexer.isFinished) {
        recorder.runs.delete(run);
        unwatch(recorder, run);
      }
    }
    // ffmpeg lists a segment just before it closes the file and opens the next: a change can
    // arrive a moment too early. Look again shortly (the entry keeps the time it was read).
    if (wokenBy === 'change' && waitingForClose && recorder.closeRetries < CLOSE_RETRIES && !recorder.stopping) {
      recorder.closeRetries += 1;
      this.options.timers.setTimeout(() => this.listChanged(recorder), CLOSE_RETRY_MS);
    } else if (!waitingForClose) {
      recorder.closeRetries = 0;
    }
  }

  /** No new segment within the stall time: report and restart through the supervisor's backoff. */
  private checkStall(recorder: CameraRecorder): void {
    const pid = recorder.process.pid;
    if (recorder.process.state !== 'running' || pid === undefined) return;
    const nowMono = this.options.monotonic();
    if (!isStalled(recorder.lastProgress, nowMono, this.options.stallAfterMs)) return;
    recorder.lastProgress = nowMono;
    const seconds = Math.round(this.options.stallAfterMs / 1000);
    recorder.stallReport = `Stalled: no new segment within ${seconds} s; restarted.`;
    this.deps.logger.warn({ cameraId: recorder.cameraId, pid, stallAfterMs: this.options.stallAfterMs }, 'stalled');
    void this.updateHealth(recorder.cameraId, { type: 'failed', error: recorder.stallReport, restart: false });
    // SIGTERM lets ffmpeg close the open segment; SIGKILL if it hangs. The exit restarts it.
    signal(pid, 'SIGTERM');
    this.options.timers.setTimeout(() => {
      if (recorder.process.pid === pid) signal(pid, 'SIGKILL');
    }, 3_000);
  }

  // --- health ---

  private async updateHealth(cameraId: string, event: HealthEvent): Promise<void> {
    const recorder = this.recorders.get(cameraId);
    const current = recorder ? recorder.health : await findHealth(this.deps.db, cameraId);
    const next = nextHealth(current, cameraId, event, this.deps.clock.now(), {
      downAfterMs: this.options.downAfterMs,
    });
    if (recorder) recorder.health = next;
    if (!healthChanged(current, next)) return;
    if (current?.state !== next.state) {
      // An outage is a warning; a camera starting up (stopped -> reconnecting) is not.
      const outage = next.state === 'down' || (next.state === 'reconnecting' && current?.state === 'recording');
      const log = outage ? 'warn' : 'info';
      this.deps.logger[log](
        { cameraId, state: next.state, since: new Date(next.since).toISOString(), error: next.lastError },
        'camera health changed',
      );
    }
    if (recorder) {
      if (!healthWriteDue(recorder.healthWritten, next)) return;
      recorder.healthWritten = next;
    }
    // Writes of one camera are chained, so that the table ends with the newest state.
    const write = (this.healthWrites.get(cameraId) ?? Promise.resolve()).then(() =>
      upsertHealth(this.deps.db, next).catch((error: unknown) => {
        this.deps.logger.error({ err: error, cameraId }, 'writing camera health failed');
      }),
    );
    this.healthWrites.set(cameraId, write);
    await write;
    if (this.healthWrites.get(cameraId) === write) this.healthWrites.delete(cameraId);
  }

  /** Health rows of the cameras this recorder runs (current, in memory). */
  async health(): Promise<HealthRecord[]> {
    const rows = await listHealth(this.deps.db, [...this.recorders.keys()]);
    // The table may lag by a progress write (healthWriteDue); memory has the newest.
    return rows.map((row) => this.recorders.get(row.cameraId)?.health ?? row);
  }

  private scrub(recorder: CameraRecorder, text: string): string {
    return redactText(text, recorder.source.secrets).slice(0, MAX_ERROR_LENGTH);
  }

  // --- files ---

  /** The newest run stamp in a camera directory, so new runs sort after it. */
  private async learnLastRun(cameraId: string, directory: string): Promise<void> {
    let latest = this.lastRunStart.get(cameraId) ?? 0;
    for (const name of await readdir(directory)) {
      const run = RUN_LIST.exec(name)?.[1];
      const started = run ? parseSegmentName(`${run}-000000.ts`)?.runStartedAt : parseSegmentName(name)?.runStartedAt;
      if (started !== undefined && started > latest) latest = started;
    }
    this.lastRunStart.set(cameraId, latest);
  }

  private async writePidFile(recorder: CameraRecorder, pid: number): Promise<void> {
    try {
      await writeFile(join(recorder.directory, PID_FILE), `${pid}\n`);
    } catch (error) {
      this.deps.logger.warn({ err: error, cameraId: recorder.cameraId }, 'cannot write the pid file');
    }
  }

  /**
   * ffmpeg outlives a server that is killed (-9): it keeps writing into the camera directory.
   * Before reconciling, such leftovers are stopped: SIGTERM (ffmpeg closes its segment), then
   * SIGKILL. Only a process whose command line names that camera directory is touched, so a
   * reused pid of another program is left alone (Linux /proc; elsewhere nothing is stopped).
   */
  private async stopLeftoverProcesses(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.deps.recordingsDir);
    } catch {
      return;
    }
    for (const name of names) {
      const directory = join(this.deps.recordingsDir, name);
      const pidFile = join(directory, PID_FILE);
      let pid: number;
      try {
        pid = Number((await readFile(pidFile, 'utf8')).trim());
      } catch {
        continue;
      }
      if (Number.isInteger(pid) && pid > 0 && (await commandLineMentions(pid, directory))) {
        this.deps.logger.warn({ cameraId: name, pid }, 'stopping an ffmpeg left behind by an earlier server');
        signal(pid, 'SIGTERM');
        if (!(await exitsWithin(pid, 5_000))) {
          signal(pid, 'SIGKILL');
          await exitsWithin(pid, 2_000);
        }
      }
      await removeFile(pidFile);
    }
  }
}

function unwatch(recorder: CameraRecorder, run: string): void {
  recorder.watchers.get(run)?.close();
  recorder.watchers.delete(run);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

async function commandLineMentions(pid: number, directory: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0').some((arg) => arg.startsWith(directory + '/'));
  } catch {
    return false;
  }
}

async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    // A zombie (exited, not yet reaped by its dead parent's reaper) still answers signal 0.
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      if (/\) Z /.test(stat)) return true;
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
