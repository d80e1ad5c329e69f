/**
 * Fast verification of a chain table that stores the hashed text: columns (seq, prev_hash,
 * body, hash) with hash = SHA-256(prev_hash + "\n" + body) (src/audit/chain.ts chainTextHash).
 * The chain is cut into seq ranges that are checked at the same time, each on its own:
 *
 * - SQLite: the calling thread and worker threads (one thread per core in all), each with its
 *   own read-only connection to the database file, reading a range's stored bytes as one blob
 *   in rowid (= seq) order and hashing each record in Node;
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
import { hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { runInThisContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
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

export interface ScanOptions {
  /** Ranges checked at once: threads on SQLite (the calling one included), connections on PostgreSQL. */
  concurrency?: number;
  /**
   * SQLite: the calling thread checks ranges too (default), from the start, while the workers
   * start up. false: only worker threads check (tests use it to make the workers do the work).
   */
  callingThread?: boolean;
}

/**
 * Checks `ranges` (in seq order) with at most `concurrency` at once: on SQLite the calling
 * thread and worker threads, on PostgreSQL pooled connections. Ranges are handed out in order
 * as threads come free, so a thread slowed down by other load simply takes fewer. After a range
 * that is not clean no later range is started: the result holds every range up to the first
 * unclean one (and any that were already under way), in seq order.
 *
 * `pgRowCheck`: on PostgreSQL, a condition every row must also meet (the logbook passes "the
 * plain columns say what the body says"); SQLite tables generate their columns from the body.
 */
export async function scanRanges(
  db: Executor,
  table: ChainTable,
  ranges: SeqRange[],
  pgRowCheck: RawBuilder<unknown> = sql`true`,
  options: ScanOptions = {},
): Promise<RangeSummary[]> {
  const concurrency = Math.max(1, options.concurrency ?? defaultConcurrency());
  if (isPostgres(db)) {
    // Inside a transaction there is one connection: the ranges queue up on it.
    return inPool(ranges, db.isTransaction ? 1 : concurrency, (range) =>
      scanPostgresRange(db, table, range, pgRowCheck),
    );
  }
  const file = await sqliteFile(db);
  if (!file || db.isTransaction) throw new Error('SQLite ranges need a database file and no open transaction');
  return scanSqliteRanges(file, table, ranges, concurrency, options.callingThread ?? true);
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
 * The SQLite range check, as CommonJS source text: the same text runs in the worker threads
 * (from src/ under tests and tsx, and from dist/) and on the calling thread, so there is one
 * implementation. Evaluated, it is a function of (better-sqlite3's Database, crypto.hash) that
 * opens a read-only connection and returns { scan(from, to), close() }.
 *
 * One statement per range hands the whole range over as ONE blob: per record the stored hash,
 * then the hashed bytes (prev_hash, "\n", body) exactly as stored, plus the body lengths as a
 * second column. A profile of the row-by-row version (a JS string per column per row, then
 * UTF-8 encoded again for hashing) spent half its time in reading rows and building strings
 * and a quarter in SHA-256 (issue 3). Now each record costs one SHA-256 call on a view of the
 * blob, and the digest is compared with the stored hash byte by byte; no strings but the hex
 * digest.
 * - The blob is cut by lengths, never by searching: every record is 64 + 64 + 1 + its body
 *   length. A prev_hash or hash that is not 64 bytes long leaves its record out (CASE yields
 *   NULL, which group_concat skips), and then the total length cannot add up: unclean, never
 *   parsed differently from how it was hashed. So does one stored as a blob: the walk compares
 *   those columns as strings, and every strategy must name the same record.
 * - The hashed bytes are the stored bytes, as in the walk (src/access/logbook.service.ts), so a
 *   body that is not valid UTF-8 is judged the same by both.
 * - seq is INTEGER PRIMARY KEY (the rowid): `seq BETWEEN a AND b` is a range scan in seq order,
 *   and b - a + 1 rows mean every seq in between is present, once. Both aggregates see the rows
 *   in that order; a record out of place would not link to the one before it anyway.
 * - For a record written by the application those are the UTF-8 bytes Node hashed for the
 *   string when it was written (the database must be UTF-8, which is SQLite's default).
 * - The file is memory-mapped (mmap_size): pages are read without a system call each.
 */
const SQLITE_RANGE_SCANNER = `(function (Database, hash) {
  'use strict';
  return function openRangeScanner(file, table) {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('mmap_size = 4294967296');
    if (db.pragma('encoding', { simple: true }) !== 'UTF-8') {
      db.close();
      throw new Error('chain ranges need a UTF-8 database');
    }
    const statement = db
      .prepare(
        'SELECT count(*), group_concat(octet_length(body)), CAST(group_concat(CASE WHEN typeof(prev_hash) = ' +
          "'text' AND typeof(hash) = 'text' AND octet_length(prev_hash) = 64 AND octet_length(hash) = 64 " +
          "THEN hash || prev_hash || char(10) || body END, '') AS BLOB) FROM " + table + ' WHERE seq BETWEEN ? AND ?',
      )
      .raw();
    function scan(from, to) {
      const unclean = { from: from, to: to, clean: false, firstPrev: null, lastHash: null };
      const row = statement.get(from, to);
      const count = row[0], lengths = row[1], blob = row[2];
      if (count !== to - from + 1 || typeof lengths !== 'string' || !Buffer.isBuffer(blob)) return unclean;
      const bytes = blob.buffer, base = blob.byteOffset, size = blob.length, digits = lengths.length;
      // Links are compared four bytes at a time (the offsets are not aligned for a typed array).
      const words = new DataView(bytes, base, size);
      let at = 0, next = 0, before = -1, digest = '';
      for (let k = 0; k < count; k++) {
        let length = 0, start = next;
        for (; next < digits; next++) {
          const c = lengths.charCodeAt(next);
          if (c === 44) break;
          if (c < 48 || c > 57) return unclean;
          length = length * 10 + c - 48;
        }
        if (next === start) return unclean;
        next += 1;
        // Record k: its stored hash at [at, at + 64), the hashed bytes at [text, end).
        const text = at + 64, end = text + 65 + length;
        if (end > size) return unclean;
        if (before >= 0) for (let i = 0; i < 64; i += 4) if (words.getInt32(text + i) !== words.getInt32(before + i)) return unclean;
        digest = hash('sha256', new Uint8Array(bytes, base + text, end - text), 'hex');
        for (let i = 0; i < 64; i++) if (digest.charCodeAt(i) !== blob[at + i]) return unclean;
        before = at;
        at = end;
      }
      if (at !== size || next < digits) return unclean;
      return { from: from, to: to, clean: true, firstPrev: blob.toString('utf8', 64, 128), lastHash: digest };
    }
    return { scan: scan, close: () => db.close() };
  };
})`;

interface RangeScanner {
  scan(from: number, to: number): RangeSummary;
  close(): void;
}

/** The range check on this thread, compiled once from the same text the workers run. */
let openHere: ((file: string, table: ChainTable) => RangeScanner) | null = null;
function openRangeScanner(file: string, table: ChainTable): RangeScanner {
  openHere ??= (
    runInThisContext(SQLITE_RANGE_SCANNER, { filename: 'chain-range-scanner.js' }) as (
      database: unknown,
      digest: typeof hash,
    ) => (file: string, table: ChainTable) => RangeScanner
  )(SqliteDatabase, hash);
  return openHere(file, table);
}

/**
 * A worker claims the next unclaimed range from a counter shared with every other thread
 * (Atomics), checks it and posts its summary, until no range is left or some thread found an
 * unclean range; then it closes its connection and exits. Claiming without asking the calling
 * thread keeps a worker busy while that thread is busy checking a range itself.
 */
const SQLITE_RANGE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const scanner = ${SQLITE_RANGE_SCANNER}(require(workerData.driver), require('node:crypto').hash)(workerData.file, workerData.table);
const claims = new Int32Array(workerData.claims);
const ranges = workerData.ranges;
try {
  while (Atomics.load(claims, 1) === 0) {
    const i = Atomics.add(claims, 0, 1);
    if (i >= ranges.length) break;
    const summary = scanner.scan(ranges[i].from, ranges[i].to);
    if (!summary.clean) Atomics.store(claims, 1, 1);
    parentPort.postMessage(summary);
  }
} finally {
  scanner.close();
}
`;

/**
 * Checks the ranges on `threads` threads: the calling thread (when `callingThread`) and worker
 * threads. A worker takes some 25 to 50 ms to start (a fresh isolate, 20 ms of it before any
 * code of ours runs, then loading better-sqlite3), the time one thread needs for 20,000 to
 * 35,000 records, so the calling thread does not wait for them: it checks ranges from the next
 * turn of the event loop on, and workers join in as they come up. Between two of its ranges the
 * calling thread yields to the event loop (a range is about 1.5 ms at the logbook's range size).
 * When every range is done, workers still starting are stopped. Should a worker exit without a
 * summary it claimed, the result lacks that range and the caller walks from there.
 */
function scanSqliteRanges(
  file: string,
  table: ChainTable,
  ranges: SeqRange[],
  threads: number,
  callingThread: boolean,
): Promise<RangeSummary[]> {
  if (ranges.length === 0) return Promise.resolve([]);
  // [0]: the next range to claim; [1]: set once a range is unclean (claim no more).
  const claims = new Int32Array(new SharedArrayBuffer(8));
  const claimed = () => Math.min(Atomics.load(claims, 0), ranges.length);
  const out: RangeSummary[] = [];
  const workers = new Set<Worker>();
  let hereDone = !callingThread;
  return new Promise<RangeSummary[]>((resolve, reject) => {
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      for (const worker of workers) void worker.terminate();
      if (error) reject(error instanceof Error ? error : new Error('chain range worker failed', { cause: error }));
      else resolve(out.sort((a, b) => a.from - b.from));
    };
    // Done when every claimed range has its summary and nothing is left to claim (or need not be).
    const maybeDone = () => {
      const nothingLeft = Atomics.load(claims, 1) !== 0 || claimed() === ranges.length;
      if (hereDone && nothingLeft && out.length >= claimed()) settle();
      else if (hereDone && workers.size === 0) settle();
    };
    const wanted = callingThread
      ? Math.min(threads - 1, ranges.length - 1)
      : Math.max(1, Math.min(threads, ranges.length));
    for (let i = 0; i < wanted; i++) {
      const worker = new Worker(SQLITE_RANGE_WORKER, {
        eval: true,
        workerData: { driver: require.resolve('better-sqlite3'), file, table, ranges, claims: claims.buffer },
      });
      workers.add(worker);
      worker.on('message', (summary: RangeSummary) => {
        out.push(summary);
        maybeDone();
      });
      worker.once('error', settle);
      worker.once('exit', (code) => {
        workers.delete(worker);
        if (code !== 0) settle(new Error(`chain range worker exited with code ${code}`));
        else maybeDone();
      });
    }
    if (!callingThread) return;
    // From the next turn of the event loop: the caller may have other work to do first.
    const here = async () => {
      await new Promise((next) => setImmediate(next));
      const scanner = openRangeScanner(file, table);
      try {
        while (!settled && Atomics.load(claims, 1) === 0) {
          const i = Atomics.add(claims, 0, 1);
          if (i >= ranges.length) break;
          const summary = scanner.scan(ranges[i]!.from, ranges[i]!.to);
          out.push(summary);
          if (!summary.clean) Atomics.store(claims, 1, 1);
          // Let worker messages (and anything else on this thread) in between two ranges.
          await new Promise((next) => setImmediate(next));
        }
      } finally {
        scanner.close();
      }
    };
    here().then(
      () => {
        hereDone = true;
        maybeDone();
      },
      (error: unknown) => settle(error),
    );
  });
}
