/**
 * Passwords: argon2id hashes and the password rule. Hashing is slow on purpose, so the
 * service hashes before it opens a transaction, never inside one.
 */
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { invalid } from '../lib/errors.js';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/**
 * argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about
 * 20-40 ms on a small server, so sign-in stays quick and a stolen database stays expensive
 * to crack. Stronger settings can be passed in; hashes made with other settings keep
 * verifying (argon2 stores its parameters in the hash).
 */
export const DEFAULT_ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasherOptions {
  memoryCost?: number;
  timeCost?: number;
  parallelism?: number;
}

export class PasswordHasher {
  private readonly options: Required<PasswordHasherOptions>;
  private dummy: Promise<string> | null = null;

  constructor(options: PasswordHasherOptions = {}) {
    this.options = { ...DEFAULT_ARGON2, ...options };
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.options });
  }

  /** False for a wrong password and for a hash that cannot be parsed. */
  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the time of one verification and returns false. Used when there is no hash to
   * check (unknown user, no password yet, locked or disabled account), so that such answers
   * take as long as a wrong password and do not reveal which usernames exist.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString('base64url'));
    await this.verify(await this.dummy, password);
    return false;
  }

  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, this.options);
    } catch {
      return true;
    }
  }
}

/** Length in characters as a person counts them (code points), not UTF-16 units. */
const lengthOf = (text: string): number => [...text].length;

/** The problem with a new password, or null when it may be used. */
export function passwordProblem(
  password: string,
  username: string,
): { code: 'password-too-short' | 'password-too-long' | 'password-equals-username'; message: string } | null {
  const length = lengthOf(password);
  if (length < PASSWORD_MIN_LENGTH)
    return { code: 'password-too-short', message: `A password needs at least ${PASSWORD_MIN_LENGTH} characters` };
  if (length > PASSWORD_MAX_LENGTH)
    return { code: 'password-too-long', message: `A password may have at most ${PASSWORD_MAX_LENGTH} characters` };
  if (password.trim().toLowerCase() === username.trim().toLowerCase())
    return { code: 'password-equals-username', message: 'The password may not be the username' };
  return null;
}

/** Throws 400 with the rule's code when the password may not be used. */
export function checkNewPassword(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw invalid(problem.code, problem.message);
}
