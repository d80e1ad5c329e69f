/** Public API of the users area: users, roles, passwords, TOTP, sessions, CSRF, first administrator. */
export {
  createAuthenticator,
  requireSession,
  SESSION_COOKIE,
  CSRF_HEADER,
  type AuthenticatorDeps,
} from './users.auth.js';
export { usersRoutes, type UsersRoutesOptions } from './users.routes.js';
export {
  CLI_ACTOR,
  FIRST_ADMIN_USERNAME,
  firstSignInPath,
  publicUserView,
  UsersService,
  type IssuedSignInToken,
  type PublicUserView,
  type SessionInfo,
  type SignedIn,
  type UserView,
  type UsersDeps,
} from './users.service.js';
export { PasswordHasher, passwordProblem, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password.js';
export { DEFAULT_SIGN_IN_LIMITS, type SignInLimits } from './rate-limit.js';
export { assignableRoles, totpRequired, LOCKOUT_MS, LOCKOUT_THRESHOLD, SESSION_IDLE_MS } from './users.rules.js';
export type { NewUserInput, UserPatchInput } from './users.schemas.js';
