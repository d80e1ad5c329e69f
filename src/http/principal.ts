import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/audit.js';
import { forbidden, unauthenticated } from '../lib/errors.js';

/** The signed-in user behind a request, resolved from the session cookie by the auth plugin. */
export interface Principal {
  userId: string;
  username: string;
  displayName: string;
  roles: string[];
  sessionId: string;
  /** True once the session passed TOTP (or the user needs none). */
  secondFactorDone: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The built-in role that manages users and the registry but sees no personal data. */
export const ADMIN_ROLE = 'admin';

export function requirePrincipal(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (!principal) throw unauthenticated('not-signed-in', 'Sign in first');
  if (!principal.secondFactorDone)
    throw unauthenticated('second-factor-required', 'Complete the second sign-in step (TOTP) first');
  return principal;
}

export function requireAdmin(request: FastifyRequest): Principal {
  const principal = requirePrincipal(request);
  if (!principal.roles.includes(ADMIN_ROLE)) throw forbidden('admin-only', 'Only an administrator may do this');
  return principal;
}

export function actorOf(principal: Principal): Actor {
  return { id: principal.userId, label: principal.username };
}
