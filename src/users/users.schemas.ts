/**
 * Input shapes of the users area, shared by the routes (request validation) and the
 * service (which validates again, so CLI calls get the same rules). Unknown fields are
 * rejected; every string is bounded; usernames are trimmed and lower-cased.
 */
import { z } from 'zod';
import { PASSWORD_MAX_LENGTH } from './password.js';
import { LANGUAGES, USER_STATUSES, USERNAME_MAX_LENGTH, USERNAME_PATTERN } from './users.rules.js';

/**
 * New passwords are bounded generously here (4x the rule) so that the password rule, not
 * the request schema, answers with its own code (`password-too-long`).
 */
const NEW_PASSWORD_BOUND = PASSWORD_MAX_LENGTH * 4;

export const Username = z
  .string()
  .trim()
  .toLowerCase()
  .min(2)
  .max(USERNAME_MAX_LENGTH)
  .regex(USERNAME_PATTERN, 'letters, digits and . _ - @ only, starting with a letter or digit');
export const DisplayName = z.string().trim().min(1).max(100);
export const Email = z.string().trim().max(254).pipe(z.email());
export const RoleId = z.string().trim().min(1).max(64);
export const Roles = z.array(RoleId).min(1).max(20);
export const LanguageSchema = z.enum(LANGUAGES);
export const StatusSchema = z.enum(USER_STATUSES);

export const NewUser = z.strictObject({
  username: Username,
  displayName: DisplayName,
  email: Email.nullable().optional(),
  roles: Roles,
  language: LanguageSchema.default('nl'),
});
export type NewUserInput = z.input<typeof NewUser>;

export const UserPatch = z.strictObject({
  roles: Roles.optional(),
  displayName: DisplayName.optional(),
  email: Email.nullable().optional(),
  language: LanguageSchema.optional(),
  status: StatusSchema.optional(),
});
export type UserPatchInput = z.input<typeof UserPatch>;

export const SignInBody = z.strictObject({
  username: z.string().trim().toLowerCase().min(1).max(USERNAME_MAX_LENGTH),
  password: z.string().min(1).max(NEW_PASSWORD_BOUND),
});

export const OneTimeBody = z.strictObject({
  token: z.string().trim().min(1).max(128),
  newPassword: z.string().min(1).max(NEW_PASSWORD_BOUND),
});

export const PasswordChangeBody = z.strictObject({
  currentPassword: z.string().min(1).max(NEW_PASSWORD_BOUND),
  newPassword: z.string().min(1).max(NEW_PASSWORD_BOUND),
});

export const CodeBody = z.strictObject({ code: z.string().trim().min(1).max(12) });

export const IdParams = z.strictObject({ id: z.string().min(1).max(64) });
