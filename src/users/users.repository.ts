/**
 * The only users module that touches Kysely. Rows become records here: roles JSON is
 * parsed, 0/1 flags become booleans, epoch-ms columns become numbers. Every function takes
 * an executor, so the service runs them inside its own transaction.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, Flag, SessionRow, UserRow } from '../db/schema.js';
import type { Language, UserStatus } from './users.rules.js';

export type Executor = Kysely<Database>;

const flag = (value: boolean): Flag => (value ? 1 : 0);
const bool = (value: unknown): boolean => Number(value) === 1;
const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export interface UserRecord {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  roles: string[];
  language: Language;
  status: UserStatus;
  passwordHash: string | null;
  /** encryptText of the TOTP state (secret and last used step), see users.service.ts. */
  totpSecretEnc: string | null;
  totpEnabled: boolean;
  failedSignIns: number;
  lockedUntil: number | null;
  oneTimeTokenHash: string | null;
  oneTimeTokenExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface SessionRecord {
  id: string;
  tokenHash: string;
  userId: string;
  csrfToken: string;
  secondFactorDone: boolean;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

function parseRoles(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((role): role is string => typeof role === 'string') : [];
  } catch {
    return [];
  }
}

function userRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    roles: parseRoles(row.roles),
    language: row.language === 'en' ? 'en' : 'nl',
    status: row.status === 'active' ? 'active' : 'disabled',
    passwordHash: row.password_hash,
    totpSecretEnc: row.totp_secret_enc,
    totpEnabled: bool(row.totp_enabled),
    failedSignIns: num(row.failed_sign_ins),
    lockedUntil: numOrNull(row.locked_until),
    oneTimeTokenHash: row.one_time_token_hash,
    oneTimeTokenExpiresAt: numOrNull(row.one_time_token_expires_at),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

function userRow(record: UserRecord): UserRow {
  return {
    id: record.id,
    username: record.username,
    display_name: record.displayName,
    email: record.email,
    roles: JSON.stringify(record.roles),
    language: record.language,
    status: record.status,
    password_hash: record.passwordHash,
    totp_secret_enc: record.totpSecretEnc,
    totp_enabled: flag(record.totpEnabled),
    failed_sign_ins: record.failedSignIns,
    locked_until: record.lockedUntil,
    one_time_token_hash: record.oneTimeTokenHash,
    one_time_token_expires_at: record.oneTimeTokenExpiresAt,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

function sessionRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    userId: row.user_id,
    csrfToken: row.csrf_token,
    secondFactorDone: bool(row.second_factor_done),
    createdAt: num(row.created_at),
    lastSeenAt: num(row.last_seen_at),
    expiresAt: num(row.expires_at),
  };
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === '23505') return true; // PostgreSQL unique_violation
  return typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT') && String(e.message).includes('UNIQUE');
}

// --- users -------------------------------------------------------------------------------------

export async function countUsers(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst();
  return num(row?.n ?? 0);
}

export async function listUsers(db: Executor): Promise<UserRecord[]> {
  const rows = await db.selectFrom('users').selectAll().orderBy('username').execute();
  return rows.map(userRecord);
}

export async function findUserById(db: Executor, id: string): Promise<UserRecord | null> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? userRecord(row) : null;
}

export async function findUserByUsername(db: Executor, username: string): Promise<UserRecord | null> {
  const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  return row ? userRecord(row) : null;
}

export async function findUserByOneTimeTokenHash(db: Executor, tokenHash: string): Promise<UserRecord | null> {
  const row = await db.selectFrom('users').selectAll().where('one_time_token_hash', '=', tokenHash).executeTakeFirst();
  return row ? userRecord(row) : null;
}

/**
 * Reads the user and takes its row lock (a no-op update: a row lock on PostgreSQL, the
 * write lock on SQLite), so that concurrent sign-ins count failures and use TOTP steps
 * one after the other.
 */
export async function lockUser(db: Executor, id: string): Promise<UserRecord | null> {
  const row = await db
    .updateTable('users')
    .set({ updated_at: sql<number>`updated_at` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? userRecord(row) : null;
}

export async function insertUser(db: Executor, record: UserRecord): Promise<void> {
  await db.insertInto('users').values(userRow(record)).execute();
}

/** Writes every column but id and created_at. */
export async function updateUser(db: Executor, record: UserRecord): Promise<void> {
  const { id: _id, created_at: _created, ...values } = userRow(record);
  await db.updateTable('users').set(values).where('id', '=', record.id).execute();
}

// --- sessions ----------------------------------------------------------------------------------

export async function insertSession(db: Executor, record: SessionRecord): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id: record.id,
      token_hash: record.tokenHash,
      user_id: record.userId,
      csrf_token: record.csrfToken,
      second_factor_done: flag(record.secondFactorDone),
      created_at: record.createdAt,
      last_seen_at: record.lastSeenAt,
      expires_at: record.expiresAt,
    })
    .execute();
}

export async function findSessionByTokenHash(db: Executor, tokenHash: string): Promise<SessionRecord | null> {
  const row = await db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  return row ? sessionRecord(row) : null;
}

export async function findSession(db: Executor, id: string): Promise<SessionRecord | null> {
  const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? sessionRecord(row) : null;
}

export async function touchSession(db: Executor, id: string, lastSeenAt: number): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: lastSeenAt }).where('id', '=', id).execute();
}

export async function markSecondFactorDone(db: Executor, id: string, lastSeenAt: number): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ second_factor_done: 1, last_seen_at: lastSeenAt })
    .where('id', '=', id)
    .execute();
}

export async function deleteSession(db: Executor, id: string): Promise<number> {
  const result = await db.deleteFrom('sessions').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Ends the user's sessions, except `keepId` when given; returns how many ended. */
export async function deleteSessionsOfUser(db: Executor, userId: string, keepId?: string): Promise<number> {
  let query = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepId !== undefined) query = query.where('id', '!=', keepId);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Removes sessions past their end or idle for too long. */
export async function deleteExpiredSessions(db: Executor, now: number, idleBefore: number): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', idleBefore)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
