/**
 * Turns the session cookie into a Principal for every request (buildApp's `authenticate`),
 * and guards state-changing requests with the session's CSRF token.
 */
import type {} from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../http/principal.js';
import { forbidden, isDomainError, unauthenticated } from '../lib/errors.js';
import { safeEqual, type UsersService } from './users.service.js';

export const SESSION_COOKIE = 'protocam_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const API_PREFIX = '/api/';
/** newToken() gives 43 characters; anything much longer is not ours and is not hashed. */
const MAX_COOKIE_LENGTH = 200;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Set on routes that start a session (sign-in, one-time sign-in): there a stale,
     * expired or foreign cookie, or a missing CSRF header, makes the request anonymous
     * instead of refusing it, so a person with an old cookie can always sign in again.
     */
    sessionOptional?: boolean;
  }
}

export interface AuthenticatorDeps {
  users: UsersService;
}

/**
 * - routes outside /api (the web page) and unknown routes: anonymous (null), cookie unread;
 * - no cookie, or a cookie of no session: anonymous (null);
 * - session past its end or idle 30 minutes: 401 `session-expired`; disabled user: 401 `account-disabled`;
 * - any method but GET/HEAD/OPTIONS without header `x-csrf-token` equal to the session's
 *   CSRF token: 403 `csrf-failed`.
 * A principal whose second factor is pending gets `secondFactorDone: false`; requirePrincipal
 * refuses it everywhere except the routes of this area that accept it.
 */
export function createAuthenticator(deps: AuthenticatorDeps): (request: FastifyRequest) => Promise<Principal | null> {
  return async (request) => {
    // Web pages and unknown routes need no principal: a stale cookie must not break the page.
    if (!request.routeOptions.url?.startsWith(API_PREFIX)) return null;
    const token = request.cookies[SESSION_COOKIE];
    if (!token || token.length > MAX_COOKIE_LENGTH) return null;
    const optional = request.routeOptions.config.sessionOptional === true;
    let resolved;
    try {
      resolved = await deps.users.resolveSession(token);
    } catch (error) {
      if (optional && isDomainError(error) && error.kind === 'unauthenticated') return null;
      throw error;
    }
    if (!resolved) return null;
    if (!SAFE_METHODS.has(request.method)) {
      const header = request.headers[CSRF_HEADER];
      if (typeof header !== 'string' || !safeEqual(header, resolved.csrfToken)) {
        if (optional) return null;
        throw forbidden('csrf-failed', 'The request lacks the CSRF token of this session (header x-csrf-token)');
      }
    }
    return resolved.principal;
  };
}

/** A signed-in session, whether or not its second factor is done (for the auth routes). */
export function requireSession(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthenticated('not-signed-in', 'Sign in first');
  return request.principal;
}
