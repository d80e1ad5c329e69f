/**
 * Test helpers of the users area (to be merged into test/app.ts): an app with the real
 * authenticator and routes, a tiny cookie-keeping client for app.inject(), and shortcuts
 * for making users with a password. Kept free of vitest and of test/db so it compiles with
 * the sources.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { AuditTrail, type Actor } from '../src/audit/audit.js';
import type { Database } from '../src/db/schema.js';
import { buildApp } from '../src/http/app.js';
import { requirePrincipal } from '../src/http/principal.js';
import type { ManualClock } from '../src/lib/clock.js';
import { createLogger } from '../src/lib/logger.js';
import { loadPolicy, type Policy } from '../src/policy/index.js';
import { PasswordHasher } from '../src/users/password.js';
import type { SignInLimits } from '../src/users/rate-limit.js';
import { totpAt } from '../src/users/totp.js';
import { createAuthenticator, CSRF_HEADER, SESSION_COOKIE } from '../src/users/users.auth.js';
import { usersRoutes } from '../src/users/users.routes.js';
import type { NewUserInput } from '../src/users/users.schemas.js';
import { UsersService, type UserView } from '../src/users/users.service.js';

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7);

export interface UsersTestContext {
  users: UsersService;
  audit: AuditTrail;
  policy: Policy;
}

export function createUsersService(
  db: Kysely<Database>,
  clock: ManualClock,
  options: { policy?: Policy; sessionHours?: number; limits?: SignInLimits; hasher?: PasswordHasher } = {},
): UsersTestContext {
  const policy = options.policy ?? loadPolicy('maaswonen-2024').policy;
  const audit = new AuditTrail(clock);
  const users = new UsersService({
    db,
    clock,
    audit,
    policy: () => policy,
    encryptionKey: TEST_ENCRYPTION_KEY,
    sessionHours: options.sessionHours ?? 12,
    hasher: options.hasher ?? new PasswordHasher(),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  return { users, audit, policy };
}

/**
 * A route that needs a fully signed-in principal, for checking that a session waiting
 * for its second factor can do nothing else: GET and POST /api/test/protected.
 */
export const protectedTestRoutes: FastifyPluginAsyncZod = async (app) => {
  const Answer = { 200: z.object({ userId: z.string() }) };
  app.get('/test/protected', { schema: { hide: true, response: Answer } }, (request) => ({
    userId: requirePrincipal(request).userId,
  }));
  app.post('/test/protected', { schema: { hide: true, response: Answer } }, (request) => ({
    userId: requirePrincipal(request).userId,
  }));
};

export async function buildUsersTestApp(
  context: UsersTestContext,
  options: { secureCookies?: boolean; extraRoutes?: FastifyPluginAsyncZod[]; web?: FastifyPluginAsyncZod } = {},
): Promise<FastifyInstance> {
  return buildApp({
    logger: createLogger('silent'),
    version: 'test',
    authenticate: createAuthenticator({ users: context.users }),
    routes: [
      usersRoutes(context.users, { secureCookies: options.secureCookies ?? false }),
      protectedTestRoutes,
      ...(options.extraRoutes ?? []),
    ],
    ...(options.web ? { web: options.web } : {}),
  });
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** A browser stand-in: keeps the session cookie and sends the CSRF token it was given. */
export class TestClient {
  cookie: string | null = null;
  csrfToken: string | null = null;

  constructor(
    private readonly app: FastifyInstance,
    readonly ip = '127.0.0.1',
  ) {}

  async request(
    method: Method,
    url: string,
    payload?: object,
    options: { csrf?: string | false; headers?: Record<string, string> } = {},
  ): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (this.cookie) headers.cookie = `${SESSION_COOKIE}=${this.cookie}`;
    const csrf = options.csrf === undefined ? this.csrfToken : options.csrf;
    if (csrf) headers[CSRF_HEADER] = csrf;
    const response = await this.app.inject({
      method,
      url: `/api${url}`,
      headers,
      remoteAddress: this.ip,
      ...(payload ? { payload } : {}),
    });
    const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE);
    if (cookie) this.cookie = cookie.value === '' ? null : cookie.value;
    const body = String(response.headers['content-type'] ?? '').includes('json')
      ? response.json<{ csrfToken?: unknown }>()
      : null;
    if (body && typeof body.csrfToken === 'string') this.csrfToken = body.csrfToken;
    return response;
  }

  get = (url: string) => this.request('GET', url);
  post = (url: string, payload?: object, options?: { csrf?: string | false }) =>
    this.request('POST', url, payload, options);
  patch = (url: string, payload?: object) => this.request('PATCH', url, payload);

  signIn(username: string, password: string) {
    return this.post('/auth/sign-in', { username, password });
  }
}

/** Creates a user and sets their password through the one-time token (which also signs in once). */
export async function createUserWithPassword(
  users: UsersService,
  actor: Actor,
  input: NewUserInput,
  password: string,
): Promise<UserView> {
  const issued = await users.addUser(actor, input);
  const signedIn = await users.oneTimeSignIn({ token: issued.token, newPassword: password, ip: '10.9.9.9' });
  return signedIn.user;
}

/** The current code of a base32 secret by the test clock. */
export const codeAt = (secret: string, clock: ManualClock, offsetMs = 0): string =>
  totpAt(secret, clock.now() + offsetMs);
