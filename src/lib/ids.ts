import { randomBytes, randomUUID } from 'node:crypto';

/** Row identifiers: random UUIDs, so ids reveal neither order nor count. */
export const newId = (): string => randomUUID();

/** An unguessable token for sessions, one-time sign-ins, grants and API keys (256 bits). */
export const newToken = (): string => randomBytes(32).toString('base64url');
