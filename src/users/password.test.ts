import { describe, expect, it } from 'vitest';
import { checkNewPassword, DEFAULT_ARGON2, PasswordHasher, passwordProblem } from './password.js';

describe('password rule', () => {
  it('needs 12 to 256 characters, counted as characters rather than UTF-16 units', () => {
    expect(passwordProblem('a'.repeat(11), 'jan')?.code).toBe('password-too-short');
    expect(passwordProblem('a'.repeat(12), 'jan')).toBeNull();
    expect(passwordProblem('a'.repeat(256), 'jan')).toBeNull();
    expect(passwordProblem('a'.repeat(257), 'jan')?.code).toBe('password-too-long');
    expect(passwordProblem('😀'.repeat(11), 'jan')?.code).toBe('password-too-short');
    expect(passwordProblem('😀'.repeat(12), 'jan')).toBeNull();
  });

  it('refuses the username as password, whatever its case', () => {
    expect(passwordProblem('jan.devries12', 'jan.devries12')?.code).toBe('password-equals-username');
    expect(passwordProblem('Jan.DeVries12', 'jan.devries12')?.code).toBe('password-equals-username');
    expect(passwordProblem('jan.devries12!', 'jan.devries12')).toBeNull();
  });

  it('throws a 400 domain error with the code', () => {
    expect(() => checkNewPassword('short', 'jan')).toThrow(
      expect.objectContaining({ kind: 'invalid', code: 'password-too-short' }),
    );
    expect(() => checkNewPassword('long enough password', 'jan')).not.toThrow();
  });
});

describe('argon2id hashing', () => {
  const hasher = new PasswordHasher();

  it('hashes with argon2id and the default parameters, with a fresh salt each time', async () => {
    const hash = await hasher.hash('correct horse battery');
    const [, type, version, params] = hash.split('$');
    expect([type, version]).toEqual(['argon2id', 'v=19']);
    expect(params!.split(',').sort()).toEqual(
      [`m=${DEFAULT_ARGON2.memoryCost}`, `p=${DEFAULT_ARGON2.parallelism}`, `t=${DEFAULT_ARGON2.timeCost}`].sort(),
    );
    expect(hash).not.toContain('correct horse');
    expect(await hasher.hash('correct horse battery')).not.toBe(hash);
    expect(hasher.needsRehash(hash)).toBe(false);
    expect(new PasswordHasher({ memoryCost: 65_536 }).needsRehash(hash)).toBe(true);
  });

  it('verifies the right password only, and never throws on a broken hash', async () => {
    const hash = await hasher.hash('correct horse battery');
    expect(await hasher.verify(hash, 'correct horse battery')).toBe(true);
    expect(await hasher.verify(hash, 'correct horse batterY')).toBe(false);
    expect(await hasher.verify('not-a-hash', 'x')).toBe(false);
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });
});
