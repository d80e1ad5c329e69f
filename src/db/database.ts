import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { DomainError } from '../lib/errors.js';
import { startBackgroundCheckpoints } from './checkpointer.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: DialectName;
  close(): Promise<void>;
}

// PostgreSQL returns int8 as string; our int8 columns are epoch milliseconds and
// sequence numbers, far below 2^53, so they are safe as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/**
 * Opens the database named by a URL: `sqlite:<path>` (or a bare path) or `postgres://...`.
 * A SQLite file gets its WAL checkpoints from a background thread (see checkpointer.ts).
 */
export interface OpenOptions {
  onCheckpointError?: (error: unknown) => void;
  /**
   * PostgreSQL: an idle pooled connection failed (the server restarted, an administrator ended
   * it, the network dropped). The pool discards it and the next query connects again. Without a
   * listener, Node treats the pool's 'error' event as fatal and the whole server would exit.
   */
  onConnectionError?: (error: unknown) => void;
}

export function openDatabase(url: string, options: OpenOptions = {}): Db {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    pool.on('error', (error) => options.onConnectionError?.(error));
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { kysely, dialect: 'postgres', close: () => kysely.destroy() };
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const checkpoints =
    path === ':memory:' ? null : startBackgroundCheckpoints(sqlite, path, { onError: options.onCheckpointError });
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  sqliteHandles.set(kysely.getExecutor().adapter, sqlite);
  return {
    kysely,
    dialect: 'sqlite',
    close: async () => {
      await checkpoints?.stop();
      await kysely.destroy();
    },
  };
}

// Keyed by the adapter, which a Kysely instance shares with its transactions.
const sqliteHandles = new WeakMap<object, SqliteDatabase.Database>();

/**
 * The better-sqlite3 connection behind `db`, for the few hot paths that reuse prepared
 * statements (the logbook append). Only safe inside a transaction on `db`: that holds the
 * connection, so no other query can interleave. Null on PostgreSQL.
 */
export function sqliteHandle(db: Kysely<Database>): SqliteDatabase.Database | null {
  return sqliteHandles.get(db.getExecutor().adapter) ?? null;
}

export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    throw new DomainError(
      'internal',
      'migration-failed',
      `Database migration failed: ${result.error instanceof Error ? result.error.message : JSON.stringify(result.error)}`,
    );
  }
  return result;
}

/** Whether a Kysely instance or transaction talks to PostgreSQL, for the few queries written per dialect. */
export function isPostgres(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Socket errors of a database server that is down, restarting or unreachable. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** PostgreSQL: shutting down, crashed, starting up (57P0x), too many connections. Class 08 is any connection failure. */
const POSTGRES_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300']);
/** node-postgres's own messages for a connection that died or could not be had in time (they carry no code). */
const POOL_CONNECTION_LOST = /^(Connection terminated|timeout exceeded when trying to connect)/;

/**
 * Whether a database error means the database server is away (restarting, down, unreachable)
 * rather than a fault in the request: the statement did not commit, and the same request can
 * succeed once the server is back (the pool connects again by itself).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNREACHABLE.has(code) || POSTGRES_UNAVAILABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return POOL_CONNECTION_LOST.test(error.message);
}

/** PostgreSQL: serialization failure, deadlock victim, lock not available (lock_timeout). */
const POSTGRES_BUSY = new Set(['40001', '40P01', '55P03']);

/**
 * Whether a database error means "could not get a lock in time" rather than a fault: SQLite's
 * BUSY/LOCKED (another connection, e.g. `protocam sweep` in its own process, held the write lock
 * past busy_timeout) or PostgreSQL's lock and serialization failures. The transaction was rolled
 * back, so nothing was written and the same request can succeed when it is retried.
 */
export function isDatabaseBusy(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || POSTGRES_BUSY.has(code);
}
