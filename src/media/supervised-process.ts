import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Clock } from '../lib/clock.js';
import { systemClock } from '../lib/clock.js';
import { redactArgs, redactText, secretsInArgs } from './redact.js';

/**
 * Supervises one long-running process (an ffmpeg per camera): starts it, notices when it
 * exits, restarts it after a capped exponential backoff, and stops it gently: `q` on stdin
 * (ffmpeg finishes the segment it is writing), then SIGTERM, then SIGKILL.
 * Everything it logs or reports is redacted: URLs lose their user info, and the user names
 * and passwords found in the arguments are removed from stderr lines as well.
 */

export type SupervisorState = 'idle' | 'running' | 'backing-off' | 'stopping' | 'stopped';

/** Timers are injected so that backoff can be driven by a test or by another scheduler. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The part of the logger the supervisor uses (pino's Logger fits). */
export interface ProcessLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface BackoffOptions {
  /** Delay before the first restart. */
  initialMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
  /** A run that lasted at least this long resets the delay to `initialMs`. */
  resetAfterMs: number;
}

export interface StopTimeouts {
  /** How long to wait after writing `q` before SIGTERM. */
  quitMs: number;
  /** How long to wait after SIGTERM before SIGKILL. */
  termMs: number;
  /** How long to wait after SIGKILL before giving up on seeing the exit. */
  killMs: number;
}

export interface SupervisedProcessOptions {
  /** A label for logs, e.g. the camera id. Never a URL. */
  name: string;
  command: string;
  /** Arguments, or a function called before every start (e.g. for a fresh segment name prefix). */
  args: readonly string[] | (() => readonly string[]);
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  backoff?: Partial<BackoffOptions>;
  stopTimeouts?: Partial<StopTimeouts>;
  clock?: Clock;
  timers?: Timers;
  logger?: ProcessLogger;
  /** Further secrets to remove from stderr lines, besides those found in URLs in the arguments. */
  secrets?: readonly string[];
  /** How many recent stderr lines to keep for exit reports. */
  keepStderrLines?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** How long the run lasted, by the injected clock. */
  runMs: number;
  /** The last stderr lines, redacted. */
  lastStderr: string[];
  /** Set when the process could not be started at all (e.g. ENOENT), redacted. */
  spawnError?: string;
}

export interface StateChange {
  state: SupervisorState;
  /** Set for `backing-off`: the delay before the next start. */
  delayMs?: number;
  /** Set for `running`. */
  pid?: number;
  /** How many times the process was started so far. */
  starts: number;
}

export type StopResult = 'not-running' | 'quit' | 'SIGTERM' | 'SIGKILL' | 'unresponsive';

type Listeners = {
  state: (change: StateChange) => void;
  stderr: (line: string) => void;
  exit: (info: ExitInfo) => void;
};

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 60_000, factor: 2, resetAfterMs: 30_000 };
const DEFAULT_STOP: StopTimeouts = { quitMs: 5_000, termMs: 3_000, killMs: 2_000 };

/** The delay before restart number `failures` (1-based), capped. Pure, for the supervisor and its tests. */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(options.maxMs, Math.round(options.initialMs * options.factor ** exponent));
}

export class SupervisedProcess {
  private readonly options: SupervisedProcessOptions;
  private readonly backoff: BackoffOptions;
  private readonly stopTimeouts: StopTimeouts;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = {
    state: new Set(),
    stderr: new Set(),
    exit: new Set(),
  };
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private restartTimer: unknown;
  private currentState: SupervisorState = 'idle';
  private failures = 0;
  private starts = 0;
  private recentStderr: string[] = [];
  private secrets: string[] = [];

  constructor(options: SupervisedProcessOptions) {
    this.options = options;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.stopTimeouts = { ...DEFAULT_STOP, ...options.stopTimeouts };
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? realTimers;
  }

  get state(): SupervisorState {
    return this.currentState;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many times the process was started. */
  get startCount(): number {
    return this.starts;
  }

  on<K extends keyof Listeners>(event: K, listener: Listeners[K]): () => void {
    const set = this.listeners[event] as Set<Listeners[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Starts the process; a no-op unless idle or stopped. */
  start(): void {
    if (this.currentState !== 'idle' && this.currentState !== 'stopped') return;
    this.failures = 0;
    this.spawnChild();
  }

  /**
   * Stops gently and stops restarting: `q` on stdin, then SIGTERM, then SIGKILL, each after
   * its wait. Resolves with how the process ended.
   */
  async stop(): Promise<StopResult> {
    if (this.restartTimer !== undefined) {
      this.timers.clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) {
      this.setState({ state: 'stopped', starts: this.starts });
      return 'not-running';
    }
    this.setState({ state: 'stopping', starts: this.starts });
    let result: StopResult = 'unresponsive';
    if (child.stdin?.writable) {
      child.stdin.write('q');
      child.stdin.end();
    }
    if (await this.settlesWithin(exited, this.stopTimeouts.quitMs)) {
      result = 'quit';
    } else {
      child.kill('SIGTERM');
      if (await this.settlesWithin(exited, this.stopTimeouts.termMs)) {
        result = 'SIGTERM';
      } else {
        child.kill('SIGKILL');
        if (await this.settlesWithin(exited, this.stopTimeouts.killMs)) result = 'SIGKILL';
      }
    }
    this.options.logger?.info({ process: this.options.name, pid: child.pid, result }, 'process stopped');
    this.setState({ state: 'stopped', starts: this.starts });
    return result;
  }

  private spawnChild(): void {
    const args = typeof this.options.args === 'function' ? this.options.args() : this.options.args;
    this.secrets = [...secretsInArgs(args), ...(this.options.secrets ?? [])].sort((a, b) => b.length - a.length);
    this.recentStderr = [];
    const startedAt = this.clock.now();
    this.starts += 1;
    const child = spawn(this.options.command, args, {
      cwd: this.options.cwd,
      env: this.options.env ?? process.env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.child = child;
    // stdin errors (EPIPE when the process is gone or never reads stdin) must not crash us.
    child.stdin?.on('error', () => {});
    if (child.stderr) {
      const lines = createInterface({ input: child.stderr, crlfDelay: Infinity });
      lines.on('line', (line) => this.onStderr(line));
    }
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string) => {
        if (done) return;
        done = true;
        resolve();
        this.onExit(child, {
          code,
          signal,
          runMs: this.clock.now() - startedAt,
          lastStderr: [...this.recentStderr],
          spawnError,
        });
      };
      child.once('exit', (code, signal) => finish(code, signal));
      child.once('error', (error) => finish(null, null, this.redact(error.message)));
    });
    if (child.pid !== undefined) {
      this.options.logger?.info(
        { process: this.options.name, pid: child.pid, command: this.options.command, args: redactArgs(args) },
        'process started',
      );
      this.setState({ state: 'running', pid: child.pid, starts: this.starts });
    }
  }

  private onStderr(raw: string): void {
    const line = this.redact(raw);
    this.recentStderr.push(line);
    const keep = this.options.keepStderrLines ?? 20;
    if (this.recentStderr.length > keep) this.recentStderr.splice(0, this.recentStderr.length - keep);
    for (const listener of this.listeners.stderr) listener(line);
  }

  private onExit(child: ChildProcess, info: ExitInfo): void {
    if (this.child === child) {
      this.child = undefined;
      this.exited = undefined;
    }
    for (const listener of this.listeners.exit) listener(info);
    if (this.currentState === 'stopping' || this.currentState === 'stopped') return;
    this.failures = info.runMs >= this.backoff.resetAfterMs ? 1 : this.failures + 1;
    const delayMs = backoffDelay(this.failures, this.backoff);
    this.options.logger?.warn(
      {
        process: this.options.name,
        pid: child.pid,
        code: info.code,
        signal: info.signal,
        runMs: info.runMs,
        spawnError: info.spawnError,
        lastStderr: info.lastStderr.slice(-5),
        restartInMs: delayMs,
      },
      'process exited; restarting after backoff',
    );
    this.setState({ state: 'backing-off', delayMs, starts: this.starts });
    this.restartTimer = this.timers.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.currentState === 'backing-off') this.spawnChild();
    }, delayMs);
  }

  private setState(change: StateChange): void {
    this.currentState = change.state;
    for (const listener of this.listeners.state) listener(change);
  }

  private settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => resolve(false), ms);
      void promise.then(() => {
        this.timers.clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private redact(text: string): string {
    return redactText(text, this.secrets);
  }
}
