/**
 * The one source of time. Services receive a Clock; tests move a ManualClock instead of
 * sleeping, so retention, deadlines and lockouts are tested by moving time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, UTC. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  private current: number;

  constructor(start: number | string | Date = '2026-01-05T09:00:00Z') {
    this.current = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.current;
  }

  set(to: number | string | Date): void {
    this.current = typeof to === 'number' ? to : new Date(to).getTime();
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
