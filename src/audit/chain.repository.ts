/**
 * Fast verification of a chain table that stores the hashed text: columns (seq, prev_hash,
 * body, hash) with hash = SHA-256(prev_hash + "\n" + body) (src/audit/chain.ts chainTextHash).
 * The chain is cut into seq ranges that are checked at the same time, each on its own:
 *
 * - SQLite: a pool of worker threads (one per core), each with its own read-only connection to
 *   the database file, reading the hashed text in rowid (= seq) order and hashing it in Node;
 * - PostgreSQL: one query per range on pooled connections (as many at once as cores); the
 *   server computes pg_catalog.sha256 and compares each prev_hash with the hash before it (lag()).
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
import { availableParallelism } from 'node:os';
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
  return chunkRanges(lastSeq, Math.ceil(lastSeq / count));
}

/** Splits 1..lastSeq into consecutive ranges of `size` records (the last may be shorter). */
export function chunkRanges(lastSeq: number, size: number): SeqRange[] {
  const step = Math.max(1, Math.floor(size));
  const out: SeqRange[] = [];
  for (let from = 1; from <= lastSeq; from += step) out.push({ from, to: Math.min(lastSeq, from + step - 1) });
  return out;
}

/** Ranges checked at once by default: one per core (the reference machine has 2), at most 8. */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
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
 * Checks `ranges` (in seq order) with at most `concurrency` at once: worker threads on SQLite,
 * pooled connections on PostgreSQL. Ranges are handed out in order as workers come free, so a
 * worker slowed down by other load simply takes fewer. After a range that is not clean no
 * later range is started: the result holds every range up to the first unclean one (and any
 * that were already under way), in seq order.
 *
 * `pgRowCheck`: on PostgreSQL, a condition every row must also meet (the logbook passes "the
 * plain columns say what the body says"); SQLite tables generate their columns from the body.
 */
export async function scanRanges(
  db: Executor,
  table: ChainTable,
  ranges: SeqRange[],
  pgRowCheck: RawBuilder<unknown> = sql`true`,
  concurrency = defaultConcurrency(),
): Promise<RangeSummary[]> {
  if (isPostgres(db)) {
    // Inside a transaction there is one connection: the ranges queue up on it.
    return inPool(ranges, db.isTransaction ? 1 : concurrency, (range) =>
      scanPostgresRange(db, table, range, pgRowCheck),
    );
  }
  const file = await sqliteFile(db);
  if (!file || db.isTransaction) throw new Error('SQLite ranges need a database file and no open transaction');
  return scanSqliteRanges(file, table, ranges, concurrency);
}

/** Runs `check` over `ranges` with at most `size` at once; stops starting new ones after an unclean range. */
async function inPool(
  ranges: SeqRange[],
  size: number,
  check: (range: SeqRange) => Promise<RangeSummary>,
): Promise<RangeSummary[]> {
  const out: RangeSummary[] = [];
  let next = 0;
  let stop = false;
  const runner = async () => {
    while (!stop && next < ranges.length) {
      const summary = await check(ranges[next++]!);
      out.push(summary);
      if (!summary.clean) stop = true;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, ranges.length)) }, runner));
  return out.sort((a, b) => a.from - b.from);
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
 * A worker opens its own read-only connection and checks each range it is sent, replying with
 * its summary; `null` closes it. Per record it reads two strings, the hashed text
 * (prev_hash, "\n", body, built by SQLite) and the stored hash, and makes one SHA-256 call:
 * a profile of the earlier version (four columns, the text joined in JavaScript, a row
 * iterator) showed per-row reading and allocation costing more than the hashing itself.
 * - seq is INTEGER PRIMARY KEY (the rowid): `seq BETWEEN a AND b` is a range scan in seq order,
 *   and b - a + 1 rows mean every seq in between is present, once.
 * - A prev_hash that is not 64 characters long yields NULL (unclean), so the text cannot be
 *   split differently from how it was hashed; each text must start with the hash before it.
 * - The file is memory-mapped (mmap_size): pages are read without a system call each.
 */
const SQLITE_RANGE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { hash } = require('node:crypto');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
db.pragma('mmap_size = 4294967296');
const page = db
  .prepare('SELECT CASE WHEN length(prev_hash) = 64 THEN prev_hash || char(10) || body END, hash FROM ' + workerData.table + ' WHERE seq BETWEEN ? AND ? ORDER BY seq')
  .raw();
const PAGE = 2000;
function scan(from, to) {
  let firstPrev = null, lastHash = null;
  for (let start = from; start <= to; start += PAGE) {
    const end = Math.min(to, start + PAGE - 1);
    const rows = page.all(start, end);
    if (rows.length !== end - start + 1) return { clean: false, firstPrev, lastHash: null };
    for (let i = 0; i < rows.length; i++) {
      const text = rows[i][0], stored = rows[i][1];
      if (typeof text !== 'string') return { clean: false, firstPrev, lastHash: null };
      if (lastHash === null) firstPrev = text.slice(0, 64);
      else if (!text.startsWith(lastHash)) return { clean: false, firstPrev, lastHash: null };
      if (hash('sha256', text, 'hex') !== stored) return { clean: false, firstPrev, lastHash: null };
      lastHash = stored;
    }
  }
  return { clean: true, firstPrev, lastHash };
}
parentPort.on('message', (range) => {
  if (range === null) {
    db.close();
    parentPort.close();
    return;
  }
  parentPort.postMessage({ from: range.from, to: range.to, ...scan(range.from, range.to) });
});
`;

/** A pool of workers, each checking the next range when it is done with the last. */
function scanSqliteRanges(
  file: string,
  table: ChainTable,
  ranges: SeqRange[],
  concurrency: number,
): Promise<RangeSummary[]> {
  return new Promise((resolve, reject) => {
    const out: RangeSummary[] = [];
    const workers: Worker[] = [];
    let next = 0;
    let busy = 0;
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      for (const worker of workers) {
        if (error) void worker.terminate();
        else worker.postMessage(null);
      }
      if (error) reject(error instanceof Error ? error : new Error('chain range worker failed', { cause: error }));
      else resolve(out.sort((a, b) => a.from - b.from));
    };
    const feed = (worker: Worker) => {
      if (next < ranges.length) {
        busy += 1;
        worker.postMessage(ranges[next++]);
      } else if (busy === 0) settle();
    };
    const count = Math.max(1, Math.min(concurrency, ranges.length));
    for (let i = 0; i < count; i++) {
      const worker = new Worker(SQLITE_RANGE_WORKER, {
        eval: true,
        workerData: { driver: require.resolve('better-sqlite3'), file, table },
      });
      workers.push(worker);
      worker.on('message', (summary: RangeSummary) => {
        busy -= 1;
        out.push(summary);
        // Nothing after an unclean range is needed: the caller walks from there.
        if (!summary.clean) next = ranges.length;
        feed(worker);
      });
      worker.once('error', settle);
      worker.once('exit', (code) => {
        if (!settled) settle(new Error(`chain range worker exited with code ${code}`));
      });
      feed(worker);
    }
    if (ranges.length === 0) settle();
  });
}
