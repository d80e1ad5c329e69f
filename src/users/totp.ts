/**
 * Time-based one-time passwords (RFC 6238 on top of HOTP, RFC 4226), written with
 * node:crypto only. Protocam uses SHA-1, 6 digits and 30-second steps: what every
 * authenticator app supports. The general functions take other settings so that the RFC
 * test vectors (8 digits, SHA-256/512) can be checked too.
 *
 * Replay protection: a verification returns the time step it matched, and the caller
 * passes the last step it accepted for this user; a code of that step or an earlier one is
 * refused. The users service keeps that step in the database, sealed together with the
 * secret (see users.service.ts), so it survives restarts and holds across processes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOTP_ISSUER = 'Protocam';
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (clock drift, slow typing). */
export const TOTP_WINDOW = 1;
/** 160 bits, the HMAC-SHA-1 block the RFC recommends. */
export const TOTP_SECRET_BYTES = 20;

export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

export interface TotpSettings {
  digits: number;
  stepSeconds: number;
  algorithm: TotpAlgorithm;
}

export const PROTOCAM_TOTP: TotpSettings = { digits: TOTP_DIGITS, stepSeconds: TOTP_STEP_SECONDS, algorithm: 'sha1' };

// --- base32 (RFC 4648, upper case, no padding) --------------------------------------------------

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(data: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Accepts lower case, spaces and `=` padding, as people type them from an app's screen. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error('not base32');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(bytes);
}

/** A new random secret, base32 (32 characters for 20 bytes). */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(TOTP_SECRET_BYTES));
}

// --- HOTP / TOTP --------------------------------------------------------------------------------

/** RFC 4226 section 5.3: HMAC over the 8-byte counter, dynamic truncation, modulo 10^digits. */
export function hotp(key: Buffer, counter: number, digits = TOTP_DIGITS, algorithm: TotpAlgorithm = 'sha1'): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, '0');
}

/** The time step (counter) of an instant: floor(unix seconds / step). */
export function timeStep(timeMs: number, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(timeMs / 1000 / stepSeconds);
}

/** The code for a base32 secret at an instant. */
export function totpAt(secret: string, timeMs: number, settings: TotpSettings = PROTOCAM_TOTP): string {
  return hotp(base32Decode(secret), timeStep(timeMs, settings.stepSeconds), settings.digits, settings.algorithm);
}

export interface TotpCheck {
  /** The step the code matched, or null when it matched none in the window. */
  step: number | null;
  /** True when the code was right but its step was already used (replay). */
  replayed: boolean;
}

/**
 * Checks a code against the steps now-1, now, now+1. A step at or before `lastUsedStep`
 * is refused (replay); the caller stores the returned step as the new last used one.
 * Comparison is constant-time per candidate; all candidates are always computed.
 */
export function checkTotp(
  secret: string,
  code: string,
  nowMs: number,
  lastUsedStep: number | null,
  settings: TotpSettings = PROTOCAM_TOTP,
): TotpCheck {
  const given = code.trim();
  if (!/^\d+$/.test(given) || given.length !== settings.digits) return { step: null, replayed: false };
  let key: Buffer;
  try {
    key = base32Decode(secret);
  } catch {
    return { step: null, replayed: false };
  }
  const current = timeStep(nowMs, settings.stepSeconds);
  const givenBytes = Buffer.from(given);
  let fresh: number | null = null;
  let replayed = false;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    const expected = Buffer.from(hotp(key, step, settings.digits, settings.algorithm));
    if (!timingSafeEqual(expected, givenBytes)) continue;
    // A code can match two steps of the window by coincidence: the earliest unused one counts.
    if (lastUsedStep !== null && step <= lastUsedStep) replayed = true;
    else fresh ??= step;
  }
  return fresh === null ? { step: null, replayed } : { step: fresh, replayed: false };
}

/** `otpauth://totp/Protocam:<user>?secret=...&issuer=Protocam&...` for a QR code or manual entry. */
export function otpauthUri(username: string, secret: string, issuer = TOTP_ISSUER): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(username)}`;
  const params = new URLSearchParams({
    secret,
    issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_SECONDS),
  });
  return `otpauth://totp/${label}?${params.toString()}`;
}
