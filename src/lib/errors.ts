/**
 * Domain errors carry a stable, machine-readable code. They are turned into HTTP
 * responses only at the edge (src/http/errors.ts) and into CLI messages in src/cli.
 * Codes are part of the API contract: never rename one, add a new one instead.
 */
export type ErrorKind =
  | 'invalid' // 400: the input is malformed or breaks a rule about its shape
  | 'unauthenticated' // 401
  | 'forbidden' // 403: authenticated, but role or purpose does not allow it
  | 'not-found' // 404: also used for what the caller may not know exists
  | 'conflict' // 409: the request clashes with current state
  | 'refused' // 422: well-formed, but a protocol rule refuses it
  | 'too-many' // 429
  | 'internal'; // 500: never carries internal details to a client

export class DomainError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('invalid', code, message, details);
export const forbidden = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('forbidden', code, message, details);
export const notFound = (code: string, message: string) => new DomainError('not-found', code, message);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('conflict', code, message, details);
export const refused = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('refused', code, message, details);
export const unauthenticated = (code: string, message: string) => new DomainError('unauthenticated', code, message);
export const tooMany = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('too-many', code, message, details);

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
