import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  base32Encode,
  checkTotp,
  generateTotpSecret,
  hotp,
  otpauthUri,
  timeStep,
  totpAt,
  type TotpAlgorithm,
} from './totp.js';

const SEEDS: Record<TotpAlgorithm, string> = {
  sha1: '12345678901234567890',
  sha256: '12345678901234567890123456789012',
  sha512: '1234567890123456789012345678901234567890123456789012345678901234',
};

// RFC 6238 Appendix B: time (s), then the 8-digit codes for SHA-1, SHA-256, SHA-512.
const RFC6238: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

// RFC 4226 Appendix D: HOTP, 6 digits, counters 0..9.
const RFC4226 = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];

const secretOf = (algorithm: TotpAlgorithm) => base32Encode(Buffer.from(SEEDS[algorithm], 'ascii'));

describe('TOTP (RFC 6238)', () => {
  it.each(RFC6238)('matches the RFC 6238 vectors at T=%i', (seconds, sha1, sha256, sha512) => {
    const at = seconds * 1000;
    expect(totpAt(secretOf('sha1'), at, { digits: 8, stepSeconds: 30, algorithm: 'sha1' })).toBe(sha1);
    expect(totpAt(secretOf('sha256'), at, { digits: 8, stepSeconds: 30, algorithm: 'sha256' })).toBe(sha256);
    expect(totpAt(secretOf('sha512'), at, { digits: 8, stepSeconds: 30, algorithm: 'sha512' })).toBe(sha512);
  });

  it('matches the RFC 4226 HOTP vectors with 6 digits', () => {
    const key = Buffer.from(SEEDS.sha1, 'ascii');
    expect(RFC4226.map((_, counter) => hotp(key, counter))).toEqual(RFC4226);
  });

  it('uses SHA-1, 6 digits and 30 s steps by default (the last 6 digits of the 8-digit vector)', () => {
    expect(totpAt(secretOf('sha1'), 59_000)).toBe('287082');
    expect(totpAt(secretOf('sha1'), 1111111109_000)).toBe('081804');
    expect(timeStep(59_000)).toBe(1);
    expect(timeStep(60_000)).toBe(2);
  });

  it('encodes and decodes base32 (RFC 4648), tolerating case, spaces and padding', () => {
    expect(base32Encode(Buffer.from(SEEDS.sha1))).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('mzxw 6ytb oi======').toString()).toBe('foobar');
    expect(() => base32Decode('not-base32!')).toThrow();
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
  });

  describe('verification', () => {
    const secret = secretOf('sha1');
    const now = 1_767_600_000_000; // some instant
    const step = timeStep(now);

    it('accepts the current code and the ones of one step either side, returning the step', () => {
      expect(checkTotp(secret, totpAt(secret, now), now, null)).toEqual({ step, replayed: false });
      expect(checkTotp(secret, totpAt(secret, now - 30_000), now, null)).toEqual({ step: step - 1, replayed: false });
      expect(checkTotp(secret, totpAt(secret, now + 30_000), now, null)).toEqual({ step: step + 1, replayed: false });
    });

    it('refuses codes two steps away, wrong codes and malformed input', () => {
      expect(checkTotp(secret, totpAt(secret, now - 60_000), now, null).step).toBeNull();
      expect(checkTotp(secret, totpAt(secret, now + 60_000), now, null).step).toBeNull();
      const wrong = String((Number(totpAt(secret, now)) + 1) % 1_000_000).padStart(6, '0');
      expect(checkTotp(secret, wrong, now, null).step).toBeNull();
      for (const bad of ['', '12345', '1234567', 'abcdef', '12 34 56'])
        expect(checkTotp(secret, bad, now, null).step).toBeNull();
    });

    it('refuses a code of an already used step (replay), but accepts the next step', () => {
      const code = totpAt(secret, now);
      expect(checkTotp(secret, code, now, step)).toEqual({ step: null, replayed: true });
      expect(checkTotp(secret, code, now + 20_000, step)).toEqual({ step: null, replayed: true });
      expect(checkTotp(secret, totpAt(secret, now - 30_000), now, step)).toEqual({ step: null, replayed: true });
      expect(checkTotp(secret, totpAt(secret, now + 30_000), now, step)).toEqual({ step: step + 1, replayed: false });
    });
  });

  it('builds an otpauth:// URI with issuer Protocam', () => {
    const uri = new URL(otpauthUri('jan.de-vries@corp.nl', 'JBSWY3DPEHPK3PXP'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Protocam:jan.de-vries@corp.nl');
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      secret: 'JBSWY3DPEHPK3PXP',
      issuer: 'Protocam',
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
  });
});
