/**
 * HTTP routes of sign-in and user management, under /api.
 *
 * /auth/*: sign-in, one-time sign-in, TOTP, sign-out, own password. A session still
 * waiting for its second factor may use only /auth/totp/*, /auth/me and /auth/sign-out
 * (everything else uses requirePrincipal, which refuses it).
 * /users/*: administrators only (requireAdmin). Answers never hold password hashes, TOTP
 * secrets or token hashes; the TOTP secret is shown once, at enrolment, to the user themself.
 */
import type {} from '@fastify/cookie';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, requireAdmin, requirePrincipal } from '../http/principal.js';
import { requireSession, SESSION_COOKIE } from './users.auth.js';
import { LANGUAGES, USER_STATUSES } from './users.rules.js';
import {
  CodeBody,
  IdParams,
  NewUser,
  OneTimeBody,
  PasswordChangeBody,
  SignInBody,
  UserPatch,
} from './users.schemas.js';
import type { IssuedSignInToken, SessionInfo, SignedIn, UsersService } from './users.service.js';

export interface UsersRoutesOptions {
  /** Set the cookie's Secure flag (config `secureCookies`: Protocam is reached over https). */
  secureCookies: boolean;
}

const Time = z.string();
export const UserViewSchema = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  email: z.string().nullable(),
  roles: z.array(z.string()),
  language: z.enum(LANGUAGES),
  status: z.enum(USER_STATUSES),
  passwordSet: z.boolean(),
  totpEnabled: z.boolean(),
  totpRequired: z.boolean(),
  firstSignInPending: z.boolean(),
  firstSignInExpiresAt: Time.nullable(),
  lockedUntil: Time.nullable(),
  createdAt: Time,
  updatedAt: Time,
});
const SecondFactorSchema = z.enum(['none', 'required', 'enroll']);
const SessionResponse = z.object({
  user: UserViewSchema,
  csrfToken: z.string(),
  secondFactor: SecondFactorSchema,
  expiresAt: Time,
});
const IssuedResponse = z.object({
  user: UserViewSchema,
  oneTimeToken: z.string(),
  expiresAt: Time,
  signInPath: z.string(),
});
/** Bodyless POSTs: no body at all (Fastify passes null) or {}. */
const EmptyBody = z.strictObject({}).nullish();
const Done = z.object({ ok: z.literal(true) });

const session = (info: SessionInfo | SignedIn) => ({
  user: info.user,
  csrfToken: info.csrfToken,
  secondFactor: info.secondFactor,
  expiresAt: info.expiresAt,
});
const issued = (result: IssuedSignInToken) => ({
  user: result.user,
  oneTimeToken: result.token,
  expiresAt: result.expiresAt,
  signInPath: result.signInPath,
});

export function usersRoutes(users: UsersService, options: UsersRoutesOptions): FastifyPluginAsyncZod {
  const setSessionCookie = (reply: FastifyReply, token: string) =>
    // A browser-session cookie (no Max-Age): it goes when the browser closes; the server
    // ends the session anyway after sessionHours or 30 idle minutes.
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: options.secureCookies,
    });

  return async (app) => {
    // --- sign-in ---

    app.post(
      '/auth/sign-in',
      {
        config: { sessionOptional: true },
        schema: { tags: ['auth'], body: SignInBody, response: { 200: SessionResponse } },
      },
      async (request, reply) => {
        const result = await users.signIn({ ...request.body, ip: request.ip });
        if (request.principal) await users.signOut(request.principal); // replace, do not stack sessions
        setSessionCookie(reply, result.sessionToken);
        return session(result);
      },
    );

    app.post(
      '/auth/one-time',
      {
        config: { sessionOptional: true },
        schema: { tags: ['auth'], body: OneTimeBody, response: { 200: SessionResponse } },
      },
      async (request, reply) => {
        const result = await users.oneTimeSignIn({ ...request.body, ip: request.ip });
        if (request.principal) await users.signOut(request.principal);
        setSessionCookie(reply, result.sessionToken);
        return session(result);
      },
    );

    app.post(
      '/auth/sign-out',
      { schema: { tags: ['auth'], body: EmptyBody, response: { 200: Done } } },
      async (request, reply) => {
        if (request.principal) await users.signOut(request.principal);
        void reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return { ok: true as const };
      },
    );

    app.get('/auth/me', { schema: { tags: ['auth'], response: { 200: SessionResponse } } }, async (request) =>
      session(await users.me(requireSession(request))),
    );

    app.post(
      '/auth/password',
      { schema: { tags: ['auth'], body: PasswordChangeBody, response: { 200: Done } } },
      async (request) => {
        await users.changePassword(requirePrincipal(request), request.body.currentPassword, request.body.newPassword);
        return { ok: true as const };
      },
    );

    // --- TOTP ---

    app.post(
      '/auth/totp/enroll',
      {
        schema: {
          tags: ['auth'],
          body: EmptyBody,
          response: { 200: z.object({ secret: z.string(), otpauthUri: z.string() }) },
        },
      },
      async (request) => users.enrollTotp(requireSession(request)),
    );

    app.post(
      '/auth/totp/confirm',
      { schema: { tags: ['auth'], body: CodeBody, response: { 200: SessionResponse } } },
      async (request) => session(await users.confirmTotp(requireSession(request), request.body.code)),
    );

    app.post(
      '/auth/totp/verify',
      { schema: { tags: ['auth'], body: CodeBody, response: { 200: SessionResponse } } },
      async (request) => session(await users.verifyTotp(requireSession(request), request.body.code, request.ip)),
    );

    // --- user management (administrators) ---

    app.get(
      '/users',
      { schema: { tags: ['users'], response: { 200: z.object({ items: z.array(UserViewSchema) }) } } },
      async (request) => {
        requireAdmin(request);
        return { items: await users.listUsers() };
      },
    );

    app.get(
      '/users/roles',
      {
        schema: {
          tags: ['users'],
          response: { 200: z.object({ items: z.array(z.object({ id: z.string(), totpRequired: z.boolean() })) }) },
        },
      },
      async (request) => {
        requireAdmin(request);
        return { items: users.assignableRoles() };
      },
    );

    app.get(
      '/users/:id',
      { schema: { tags: ['users'], params: IdParams, response: { 200: UserViewSchema } } },
      async (request) => {
        requireAdmin(request);
        return users.getUser(request.params.id);
      },
    );

    app.post(
      '/users',
      { schema: { tags: ['users'], body: NewUser, response: { 201: IssuedResponse } } },
      async (request, reply) => {
        const admin = requireAdmin(request);
        const result = await users.addUser(actorOf(admin), request.body);
        return reply.status(201).send(issued(result));
      },
    );

    app.patch(
      '/users/:id',
      { schema: { tags: ['users'], params: IdParams, body: UserPatch, response: { 200: UserViewSchema } } },
      async (request) => {
        const admin = requireAdmin(request);
        return users.updateUser(actorOf(admin), request.params.id, request.body);
      },
    );

    app.post(
      '/users/:id/reset-totp',
      { schema: { tags: ['users'], params: IdParams, body: EmptyBody, response: { 200: UserViewSchema } } },
      async (request) => {
        const admin = requireAdmin(request);
        return users.resetTotp(actorOf(admin), request.params.id);
      },
    );

    app.post(
      '/users/:id/reset-password',
      { schema: { tags: ['users'], params: IdParams, body: EmptyBody, response: { 200: IssuedResponse } } },
      async (request) => {
        const admin = requireAdmin(request);
        return issued(await users.resetPasswordOf(actorOf(admin), request.params.id));
      },
    );
  };
}
