/**
 * What data routes (playback, export, door-event queries, tag-holder look-ups) call before
 * serving anything: the grant from header `x-protocam-grant`, checked by the gate against
 * the signed-in user and the exact camera/door/tag and time being read. A missing header is
 * 404 `grant-not-found`, like an unknown token: a route never reveals whether data exists.
 * Tokens travel in a header, never in a URL, so they do not end up in access logs.
 */
import type { FastifyRequest } from 'fastify';
import { requirePrincipal } from '../http/principal.js';
import { notFound } from '../lib/errors.js';
import type { GrantNeed } from './access.rules.js';
import { GRANT_HEADER, type GateService, type GrantView } from './gate.service.js';

export type GrantValidator = Pick<GateService, 'validateGrant'>;

export function grantToken(request: FastifyRequest): string {
  const value = request.headers[GRANT_HEADER];
  const token = Array.isArray(value) ? value[0] : value;
  if (!token) throw notFound('grant-not-found', 'No valid grant for this request');
  return token;
}

/** Resolves to the grant when `need` lies inside it; throws 401/403/404 otherwise. */
export async function requireGrant(gate: GrantValidator, request: FastifyRequest, need: GrantNeed): Promise<GrantView> {
  const principal = requirePrincipal(request);
  return gate.validateGrant(principal, grantToken(request), need);
}
