import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { isDatabaseBusy, isDatabaseUnavailable } from '../db/database.js';
import { isDomainError, type ErrorKind } from '../lib/errors.js';

/** The one place where domain errors become HTTP: `{"error": {"code", "message", "details"?}}`. */
export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  refused: 422,
  'too-many': 429,
  internal: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (isDomainError(error)) {
    const status = STATUS_BY_KIND[error.kind];
    if (status >= 500) {
      request.log.error({ err: error }, 'internal domain error');
      return reply.status(500).send({ error: { code: 'internal-error', message: 'Internal error' } });
    }
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details) body.error.details = error.details;
    return reply.status(status).send(body);
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation.map((v) => ({
      field: `${error.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message ?? 'invalid',
    }));
    return reply.status(400).send({
      error: {
        code: 'validation-failed',
        message: issues.map((i) => `${i.field}: ${i.message}`).join('; '),
        details: { issues },
      },
    });
  }
  if (isResponseSerializationError(error)) {
    request.log.error({ err: error }, 'response did not match its schema');
    return reply.status(500).send({ error: { code: 'internal-error', message: 'Internal error' } });
  }
  const fastifyError = error as FastifyError;
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = FASTIFY_CODES[fastifyError.code] ?? 'bad-request';
    return reply.status(status).send({ error: { code, message: fastifyError.message } });
  }
  if (isDatabaseBusy(error)) {
    // Rolled back, nothing written: a client (a door controller, a browser) retries after a second.
    request.log.warn({ err: error }, 'database busy');
    return reply
      .status(503)
      .header('retry-after', '1')
      .send({ error: { code: 'database-busy', message: 'The database is busy; try again in a moment' } });
  }
  if (isDatabaseUnavailable(error)) {
    // The database server is restarting or away: nothing was committed; the pool reconnects.
    request.log.error({ err: error }, 'database unavailable');
    return reply
      .status(503)
      .header('retry-after', '5')
      .send({ error: { code: 'database-unavailable', message: 'The database cannot be reached; try again shortly' } });
  }
  // Database and programming errors never reach a client with their details.
  request.log.error({ err: error }, 'unhandled error');
  return reply.status(500).send({ error: { code: 'internal-error', message: 'Internal error' } });
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty-body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed-json',
  FST_ERR_VALIDATION: 'validation-failed',
};

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return reply
    .status(404)
    .send({ error: { code: 'route-not-found', message: `No route ${request.method} ${request.url}` } });
}
