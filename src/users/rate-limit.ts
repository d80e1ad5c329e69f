/**
 * In-memory sliding-window limits on sign-in attempts. They slow down guessing across
 * accounts (per IP) and against one account from many addresses (per username); the
 * lockout on the user row is the durable limit. Memory is bounded: keys whose attempts
 * have all left the window are dropped, and beyond `maxKeys` the oldest keys go first.
 */
import type { Clock } from '../lib/clock.js';
import { MINUTE } from '../lib/clock.js';

export class SlidingWindowLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    readonly limit: number,
    readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  private recent(key: string, now: number): number[] {
    const list = this.attempts.get(key);
    if (!list) return [];
    const from = now - this.windowMs;
    const kept = list.filter((time) => time > from);
    if (kept.length === 0) this.attempts.delete(key);
    else if (kept.length !== list.length) this.attempts.set(key, kept);
    return kept;
  }

  /** Milliseconds until `key` may try again; 0 when it may try now. */
  retryAfterMs(key: string): number {
    const now = this.clock.now();
    const recent = this.recent(key, now);
    if (recent.length < this.limit) return 0;
    return recent[recent.length - this.limit]! + this.windowMs - now;
  }

  record(key: string): void {
    const now = this.clock.now();
    const recent = this.recent(key, now);
    this.attempts.delete(key); // re-insert: Map order becomes "least recently used first"
    this.attempts.set(key, [...recent, now]);
    if (this.attempts.size > this.maxKeys) this.prune(now);
  }

  private prune(now: number): void {
    for (const key of [...this.attempts.keys()]) this.recent(key, now);
    for (const key of this.attempts.keys()) {
      if (this.attempts.size <= this.maxKeys) break;
      this.attempts.delete(key);
    }
  }

  get size(): number {
    return this.attempts.size;
  }
}

export interface SignInLimits {
  perIp: { limit: number; windowMs: number };
  perUsername: { limit: number; windowMs: number };
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perIp: { limit: 10, windowMs: MINUTE },
  perUsername: { limit: 20, windowMs: 15 * MINUTE },
};

/** Both limits at once: an attempt counts against both only when both allow it. */
export class SignInLimiter {
  private readonly byIp: SlidingWindowLimiter;
  private readonly byUsername: SlidingWindowLimiter;

  constructor(clock: Clock, limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {
    this.byIp = new SlidingWindowLimiter(clock, limits.perIp.limit, limits.perIp.windowMs);
    this.byUsername = new SlidingWindowLimiter(clock, limits.perUsername.limit, limits.perUsername.windowMs);
  }

  /** Records the attempt and returns 0, or returns the wait in ms and records nothing. */
  attempt(ip: string, username: string | null): number {
    const wait = Math.max(this.byIp.retryAfterMs(ip), username === null ? 0 : this.byUsername.retryAfterMs(username));
    if (wait > 0) return wait;
    this.byIp.record(ip);
    if (username !== null) this.byUsername.record(username);
    return 0;
  }
}
