import { describe, expect, it } from 'vitest';
import { ManualClock, MINUTE } from '../lib/clock.js';
import { loadPolicy, roleIds } from '../policy/index.js';
import { SignInLimiter, SlidingWindowLimiter } from './rate-limit.js';
import {
  afterFailure,
  assignableRoles,
  checkSelfChange,
  checkUsername,
  isLocked,
  LOCKOUT_MS,
  secondFactorAtSignIn,
  sessionSecondFactorDone,
  sessionState,
  shouldTouch,
  totpRequired,
  validateRoles,
} from './users.rules.js';

const maaswonen = loadPolicy('maaswonen-2024').policy;
const wooninvest = loadPolicy('wooninvest-2021').policy;

describe('roles', () => {
  it('are the policy roles plus the built-in admin', () => {
    expect(assignableRoles(maaswonen)).toEqual(['admin', ...roleIds(maaswonen)]);
    expect(assignableRoles(maaswonen)).toContain('huismeester');
  });

  it('refuses an unknown role with 400 unknown-role and removes duplicates', () => {
    expect(() => validateRoles(maaswonen, ['huismeester', 'koning'])).toThrow(
      expect.objectContaining({ kind: 'invalid', code: 'unknown-role' }),
    );
    expect(() => validateRoles(maaswonen, [])).toThrow(expect.objectContaining({ code: 'roles-empty' }));
    expect(validateRoles(maaswonen, ['huismeester', 'huismeester', 'woonconsulent'])).toEqual([
      'huismeester',
      'woonconsulent',
    ]);
  });

  it('keeps admin apart from roles that see personal data (separation of duties)', () => {
    expect(validateRoles(maaswonen, ['admin'])).toEqual(['admin']);
    expect(() => validateRoles(maaswonen, ['admin', 'huismeester'])).toThrow(
      expect.objectContaining({ kind: 'refused', code: 'role-separation' }),
    );
  });

  it('requires TOTP for every role that can see personal data, and not for admin', () => {
    expect(totpRequired(maaswonen, ['huismeester'])).toBe(true);
    expect(totpRequired(maaswonen, ['admin'])).toBe(false);
    for (const id of roleIds(wooninvest)) expect(typeof totpRequired(wooninvest, [id])).toBe('boolean');
  });

  it('lets no administrator change their own roles or disable themself', () => {
    const me = { id: 'u1', roles: ['admin'], status: 'active' as const };
    expect(() => checkSelfChange('u1', me, { roles: ['admin', 'manager'] })).toThrow(
      expect.objectContaining({ kind: 'forbidden', code: 'self-role-change' }),
    );
    expect(() => checkSelfChange('u1', me, { status: 'disabled' })).toThrow(
      expect.objectContaining({ code: 'self-disable' }),
    );
    expect(() => checkSelfChange('u1', me, { roles: ['admin'], status: 'active' })).not.toThrow();
    expect(() => checkSelfChange('u2', me, { roles: ['manager'], status: 'disabled' })).not.toThrow();
    expect(() => checkSelfChange(null, me, { roles: ['manager'] })).not.toThrow();
  });

  it('accepts usernames in lower case with . _ - @ and refuses others', () => {
    expect(checkUsername('  Jan.de-Vries@Corp.nl ')).toBe('jan.de-vries@corp.nl');
    for (const bad of ['j', '-jan', 'jan de vries', 'x'.repeat(65), 'jan/1']) {
      expect(() => checkUsername(bad)).toThrow(expect.objectContaining({ code: 'username-invalid' }));
    }
  });
});

describe('second factor', () => {
  it('asks for a code when enabled, enrolment when required but missing, else nothing', () => {
    expect(secondFactorAtSignIn(true, true)).toBe('required');
    expect(secondFactorAtSignIn(false, true)).toBe('required');
    expect(secondFactorAtSignIn(true, false)).toBe('enroll');
    expect(secondFactorAtSignIn(false, false)).toBe('none');
  });

  it('does not count a session as done when TOTP became required and is not enrolled', () => {
    expect(sessionSecondFactorDone(true, false, false)).toBe(true);
    expect(sessionSecondFactorDone(true, true, false)).toBe(false);
    expect(sessionSecondFactorDone(true, true, true)).toBe(true);
    expect(sessionSecondFactorDone(false, false, false)).toBe(false);
  });
});

describe('lockout and sessions', () => {
  it('locks for 15 minutes at the fifth consecutive failure and starts counting again', () => {
    const now = 1_000_000;
    let count = 0;
    for (let i = 1; i <= 4; i++) {
      const outcome = afterFailure(count, now);
      expect(outcome).toEqual({ failedSignIns: i, lockedUntil: null, lockedNow: false });
      count = outcome.failedSignIns;
    }
    expect(afterFailure(count, now)).toEqual({ failedSignIns: 0, lockedUntil: now + LOCKOUT_MS, lockedNow: true });
    expect(isLocked(now + LOCKOUT_MS, now + LOCKOUT_MS - 1)).toBe(true);
    expect(isLocked(now + LOCKOUT_MS, now + LOCKOUT_MS)).toBe(false);
    expect(isLocked(null, now)).toBe(false);
  });

  it('ends sessions at their end and after 30 idle minutes; touches at most once a minute', () => {
    const session = { expiresAt: 10 * 60 * MINUTE, lastSeenAt: 0 };
    expect(sessionState(session, 29 * MINUTE)).toBe('valid');
    expect(sessionState(session, 30 * MINUTE)).toBe('expired');
    expect(sessionState({ ...session, lastSeenAt: 10 * 60 * MINUTE - MINUTE }, 10 * 60 * MINUTE)).toBe('expired');
    expect(shouldTouch(0, MINUTE - 1)).toBe(false);
    expect(shouldTouch(0, MINUTE)).toBe(true);
  });
});

describe('sliding-window limiter', () => {
  it('allows the limit within the window and frees attempts as they leave it', () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowLimiter(clock, 3, MINUTE);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs('a')).toBe(0);
      limiter.record('a');
      clock.advance(10_000);
    }
    expect(limiter.retryAfterMs('a')).toBe(30_000);
    expect(limiter.retryAfterMs('b')).toBe(0);
    clock.advance(30_000);
    expect(limiter.retryAfterMs('a')).toBe(0);
  });

  it('keeps memory bounded', () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowLimiter(clock, 3, MINUTE, 100);
    for (let i = 0; i < 1000; i++) limiter.record(`ip-${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
    clock.advance(MINUTE);
    limiter.record('fresh');
    expect(limiter.retryAfterMs('ip-999')).toBe(0);
  });

  it('counts an attempt against IP and username only when both allow it', () => {
    const clock = new ManualClock(0);
    const limiter = new SignInLimiter(clock, {
      perIp: { limit: 2, windowMs: MINUTE },
      perUsername: { limit: 3, windowMs: 15 * MINUTE },
    });
    expect(limiter.attempt('ip1', 'jan')).toBe(0);
    expect(limiter.attempt('ip1', 'jan')).toBe(0);
    expect(limiter.attempt('ip1', 'jan')).toBeGreaterThan(0); // IP limit
    expect(limiter.attempt('ip2', 'jan')).toBe(0);
    expect(limiter.attempt('ip3', 'jan')).toBeGreaterThan(0); // username limit
    expect(limiter.attempt('ip3', 'piet')).toBe(0);
  });
});
