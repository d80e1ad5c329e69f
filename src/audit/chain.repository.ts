/**
 * Fast verification of a chain table that stores the hashed text: columns (seq, prev_hash,
 * body, hash) with hash = SHA-256(prev_hash + "\n" + body) (src/audit/chain.ts chainTextHash).
 * The chain is cut into seq ranges that are checked at the same time, each on its own:
 *
 * - SQLite: one worker thread per range, each with its own read-only connection to the
 *   database file, reading raw rows in rowid (= seq) order and hashing them in Node;
 * - PostgreSQL: one query per range on its own pooled connection; the server computes
 *   pg_catalog.sha256 and compares each prev_hash with the hash before it (lag()).
 *
 * A range reports only whether it is clean (contiguous seqs, every link and hash right) and its
 * first prev_hash and last hash, so the caller can stitch the ranges together. Where a range
 * is not clean the caller walks it record by record to name the first bad record.
 *
 * Trust: on PostgreSQL the hashes are computed by the database server. That detects every edit,
 * removal, insertion or reordering made through SQL, but not a superuser who replaces built-in
 * functions; verifying with strategy 'walk' recomputes every hash in Node instead.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { isPostgres } from '../db/database.js';
import type { Database } from '../db/schema.js';

type Executor = Kysely<Database>;

/** Tables laid out as (seq, prev_hash, body, hash). */
export type ChainTable = 'logbook_records';

export interface SeqRange {
  from: number;
  to: number;
}

export interface RangeSummary extends SeqRange {
  /** True when seqs from..to are all present and every record links to the one before and hashes right. */
  clean: boolean;
  /** prev_hash of record `from`, hash of record `to` (null when absent). */
  firstPrev: string | null;
  lastHash: string | null;
}

/** Splits 1..lastSeq into `parts` ranges of (nearly) equal size. */
export function splitRanges(lastSeq: number, parts: number): SeqRange[] {
  const count = Math.max(1, Math.min(parts, lastSeq));
  const size = Math.ceil(lastSeq / count);
  const out: SeqRange[] = [];
  for (let from = 1; from <= lastSeq; from += size) out.push({ from, to: Math.min(lastSeq, from + size - 1) });
  return out;
}

/** The SQLite database file behind `db`, or null for an in-memory or temporary database. */
async function sqliteFile(db: Executor): Promise<string | null> {
  const { rows } = await sql<{ file: string }>`SELECT file FROM pragma_database_list WHERE name = 'main'`.execute(db);
  return rows[0]?.file ? rows[0].file : null;
}

/**
 * Whether `scanRanges` can check ranges apart from `db`'s connection: never inside a
 * transaction on SQLite (other connections would not see its uncommitted rows), nor for a
 * database without a file.
 */
export async function canScanRanges(db: Executor): Promise<boolean> {
  if (isPostgres(db)) return true;
  return !db.isTransaction && (await sqliteFile(db)) !== null;
}

/**
 * `pgRowCheck`: on PostgreSQL, a condition every row must also meet (the logbook passes "the
 * plain columns say what the body says"); SQLite tables generate their columns from the body.
 */
export async function scanRanges(
  db: Executor,
  table: ChainTable,
  ranges: SeqRange[],
  pgRowCheck: RawBuilder<unknown> = sql`true`,
): Promise<RangeSummary[]> {
  if (isPostgres(db)) {
    // Inside a transaction there is one connection: the ranges queue up on it.
    return Promise.all(ranges.map((range) => scanPostgresRange(db, table, range, pgRowCheck)));
  }
  const file = await sqliteFile(db);
  if (!file || db.isTransaction) throw new Error('SQLite ranges need a database file and no open transaction');
  return Promise.all(ranges.map((range) => scanSqliteRange(file, table, range)));
}

async function scanPostgresRange(
  db: Executor,
  table: ChainTable,
  range: SeqRange,
  rowCheck: RawBuilder<unknown>,
): Promise<RangeSummary> {
  const t = sql.table(table);
  const { rows } = await sql<{ n: number; bad: number | null; first_prev: string | null; last_hash: string | null }>`
    SELECT count(*)::int AS n,
           min(seq) FILTER (WHERE bad) AS bad,
           (SELECT prev_hash FROM ${t} WHERE seq = ${range.from}) AS first_prev,
           (SELECT hash FROM ${t} WHERE seq = ${range.to}) AS last_hash
    FROM (
      SELECT seq,
             pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(prev_hash || E'\\n' || body, 'UTF8')), 'hex')
               IS DISTINCT FROM hash
             OR (seq > ${range.from} AND prev_hash IS DISTINCT FROM lag(hash) OVER (ORDER BY seq))
             OR NOT coalesce(${rowCheck}, false) AS bad
      FROM ${t}
      WHERE seq BETWEEN ${range.from} AND ${range.to}
    ) AS checked`.execute(db);
  const row = rows[0]!;
  return {
    ...range,
    clean: row.n === range.to - range.from + 1 && row.bad === null,
    firstPrev: row.first_prev,
    lastHash: row.last_hash,
  };
}

const require = createRequire(import.meta.url);

/**
 * The worker's code, plain CommonJS so the same text runs from src/ (tests, tsx) and dist/.
 * seq is INTEGER PRIMARY KEY (the rowid), so `ORDER BY seq` is a table scan.
 */
const SQLITE_RANGE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { hash } = require('node:crypto');
const Database = require(workerData.driver);
const { file, table, from, to } = workerData;
const db = new Database(file, { readonly: true, fileMustExist: true });
try {
  const rows = db.prepare('SELECT seq, prev_hash, body, hash FROM ' + table + ' WHERE seq BETWEEN ? AND ? ORDER BY seq').raw();
  let expected = from, prev = null, firstPrev = null, lastHash = null, clean = true;
  for (const [seq, prevHash, body, stored] of rows.iterate(from, to)) {
    if (seq === from) firstPrev = prevHash;
    if (seq !== expected || (prev !== null && prevHash !== prev) || hash('sha256', prevHash + '\\n' + body, 'hex') !== stored) {
      clean = false;
      break;
    }
    prev = lastHash = stored;
    expected += 1;
  }
  parentPort.postMessage({ clean: clean && expected === to + 1, firstPrev, lastHash });
} finally {
  db.close();
}
`;

function scanSqliteRange(file: string, table: ChainTable, range: SeqRange): Promise<RangeSummary> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SQLITE_RANGE_WORKER, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), file, table, ...range },
    });
    worker.once('message', (result: Omit<RangeSummary, 'from' | 'to'>) => resolve({ ...range, ...result }));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`chain range worker exited with code ${code}`));
    });
  });
}
