/**
 * Pure rules of key tags: the tag life cycle and holder references. A tag is issued to a
 * holder only after the holder was told about the registration (M 3.5, M 7).
 */
import { randomBytes } from 'node:crypto';

export const TAG_STATUSES = ['issued', 'blocked', 'returned'] as const;
export type TagStatus = (typeof TAG_STATUSES)[number];

export type TagAction = 'block' | 'return' | 'reissue';

/** Which actions each status allows: block an issued tag; return an issued or blocked one; reissue a blocked or returned one. */
const ALLOWED: Record<TagStatus, readonly TagAction[]> = {
  issued: ['block', 'return'],
  blocked: ['return', 'reissue'],
  returned: ['reissue'],
};

export function canApply(status: TagStatus, action: TagAction): boolean {
  return ALLOWED[status].includes(action);
}

export function statusAfter(action: TagAction): TagStatus {
  switch (action) {
    case 'block':
      return 'blocked';
    case 'return':
      return 'returned';
    case 'reissue':
      return 'issued';
  }
}

// Crockford base32 without I, L, O, U: easy to read aloud and to type.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A random, non-personal reference for a holder, e.g. `H-7K3QX9M2` (40 bits). */
export function newHolderReference(bytes: Buffer = randomBytes(5)): string {
  let bits = 0n;
  for (const byte of bytes.subarray(0, 5)) bits = (bits << 8n) | BigInt(byte);
  let out = '';
  for (let i = 0; i < 8; i++) {
    out = (ALPHABET[Number(bits & 31n)] ?? '0') + out;
    bits >>= 5n;
  }
  return `H-${out}`;
}
