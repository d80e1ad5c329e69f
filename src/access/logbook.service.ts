/**
 * The logbook (M 6.4): every consultation with who, role, when, purpose, reason, scope and
 * links; then the finding (constatering) by the consulting user and the signature of a user
 * with `sign-logbook`, who may not sign their own entry. Append-only: findings and
 * signatures are new chained records that refer to the entry.
 *
 * Reading the logbook (list, overdue, exports, verify) is allowed to roles with
 * `read-logbook` and is recorded in the system audit trail, not in the logbook: the logbook
 * records consultations of footage and access data (M 6.4), and a read of the logbook is a
 * system action like any other. Refused reads are audited too (outcome `refused`).
 */
import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { AuditTrail } from '../audit/audit.js';
import { describeProblem, GENESIS_HASH, type ChainProblem } from '../audit/chain.js';
import { canScanRanges, chunkRanges, defaultConcurrency, scanRanges } from '../audit/chain.repository.js';
import { isPostgres } from '../db/database.js';
import type { LogbookRecordRow } from '../db/schema.js';
import { actorOf, type Principal } from '../http/principal.js';
import { conflict, forbidden, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { hasCapability, type Policy } from '../policy/index.js';
import type { Scope } from './access.rules.js';
import type { AccessDeps } from './gate.service.js';
import {
  appendLogbook,
  findFollowUps,
  findRecordById,
  inTransaction,
  insertChainSignature,
  latestChainSignature,
  listChainSignatures,
  listEntries,
  lockLogbookHead,
  logbookColumnsMatchBody,
  logbookTableProblem,
  readLogbookExtent,
  readLogbookHashes,
  readLogbookChainPage,
  readLogbookPage,
  type EntryFilter,
  type Executor,
} from './logbook.repository.js';
import {
  blankLogbookRecord,
  chainHeadMessage,
  entryDeadlines,
  entryStatus,
  encodeLogbookBody,
  logbookRecordHash,
  logbookStoredBytesHash,
  LOGBOOK_CHAIN,
  overdueCutoff,
  overdueReasons,
  type EntryStatus,
  type OverdueReason,
  type VerifyStrategy,
} from './logbook.rules.js';

/** How often the scheduler should call `signChainHead` (it is a no-op when nothing changed). */
export const CHAIN_SIGN_INTERVAL_MS = 60 * 60 * 1000;

/** Largest page of entries in one list call; exports page through everything. */
export const MAX_PAGE = 500;
const EXPORT_PAGE = 1000;

export interface EntryView {
  entryId: string;
  seq: number;
  occurredAt: number;
  userId: string;
  userLabel: string;
  roles: string[];
  purpose: string | null;
  category: string | null;
  scope: Scope;
  from: number | null;
  to: number | null;
  reason: string | null;
  incidentId: string | null;
  requestId: string | null;
  disclosureId: string | null;
  accessRequestId: string | null;
  grantId: string | null;
  finding: { text: string; at: number; by: string; byLabel: string } | null;
  signature: { at: number; by: string; byLabel: string } | null;
  status: EntryStatus;
  findingDue: number;
  signatureDue: number;
  overdue: OverdueReason[];
}

export type LogbookFilter = Omit<EntryFilter, 'limit' | 'unsignedBefore'> & { limit?: number | undefined };

export interface LogbookVerifyResult {
  ok: boolean;
  checked: number;
  signedHeads: number;
  problem?: { seq: number; message: string };
}

/** Entries with their finding and signature, from consultation rows. */
async function toViews(
  db: Executor,
  policy: Policy | null,
  rows: LogbookRecordRow[],
  now: number,
): Promise<EntryView[]> {
  const followUps = await findFollowUps(
    db,
    rows.map((r) => r.id),
  );
  const finding = new Map<string, LogbookRecordRow>();
  const signature = new Map<string, LogbookRecordRow>();
  for (const f of followUps) {
    const map = f.kind === 'finding' ? finding : signature;
    if (f.entry_id && !map.has(f.entry_id)) map.set(f.entry_id, f);
  }
  return rows.map((r) => {
    const f = finding.get(r.id);
    const s = signature.get(r.id);
    const occurredAt = Number(r.occurred_at);
    const due = policy ? entryDeadlines(policy, occurredAt) : { findingDue: 0, signatureDue: 0 };
    const view: EntryView = {
      entryId: r.id,
      seq: Number(r.seq),
      occurredAt,
      userId: r.user_id,
      userLabel: r.user_label,
      roles: JSON.parse(r.roles) as string[],
      purpose: r.purpose,
      category: r.category,
      scope: r.scope ? (JSON.parse(r.scope) as Scope) : {},
      from: r.window_from === null ? null : Number(r.window_from),
      to: r.window_to === null ? null : Number(r.window_to),
      reason: r.reason,
      incidentId: r.incident_id,
      requestId: r.request_id,
      disclosureId: r.disclosure_id,
      accessRequestId: r.access_request_id,
      grantId: r.grant_id,
      finding: f ? { text: f.text ?? '', at: Number(f.occurred_at), by: f.user_id, byLabel: f.user_label } : null,
      signature: s ? { at: Number(s.occurred_at), by: s.user_id, byLabel: s.user_label } : null,
      status: entryStatus(Boolean(f), Boolean(s)),
      findingDue: due.findingDue,
      signatureDue: due.signatureDue,
      overdue: [],
    };
    if (policy) {
      view.overdue = overdueReasons(
        policy,
        { occurredAt, findingAt: view.finding?.at ?? null, signedAt: view.signature?.at ?? null },
        now,
      );
    }
    return view;
  });
}

async function allEntries(
  db: Executor,
  policy: Policy | null,
  filter: LogbookFilter,
  now: number,
): Promise<EntryView[]> {
  const out: EntryView[] = [];
  let beforeSeq = filter.beforeSeq;
  for (;;) {
    const rows = await listEntries(db, { ...filter, beforeSeq, limit: EXPORT_PAGE });
    out.push(...(await toViews(db, policy, rows, now)));
    if (rows.length < EXPORT_PAGE) return out;
    beforeSeq = Number(rows[rows.length - 1]!.seq);
  }
}

const iso = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '' : new Date(ms).toISOString();

/** Cells starting with = + - @ (or tab/CR) are prefixed with ' so spreadsheets never run them. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const CSV_COLUMNS = [
  'seq',
  'entry_id',
  'consulted_at_utc',
  'user',
  'user_id',
  'roles',
  'purpose',
  'category',
  'cameras',
  'doors',
  'tag',
  'window_from_utc',
  'window_to_utc',
  'reason',
  'incident_id',
  'request_id',
  'disclosure_id',
  'access_request_id',
  'grant_id',
  'finding',
  'finding_at_utc',
  'finding_by',
  'signed_by',
  'signed_at_utc',
  'status',
  'overdue',
] as const;

export function entriesToCsv(entries: EntryView[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of entries) {
    const cells = [
      String(e.seq),
      e.entryId,
      iso(e.occurredAt),
      e.userLabel,
      e.userId,
      e.roles.join(' '),
      e.purpose ?? '',
      e.category ?? '',
      (e.scope.cameraIds ?? []).join(' '),
      (e.scope.doorIds ?? []).join(' '),
      e.scope.tag ?? '',
      iso(e.from),
      iso(e.to),
      e.reason ?? '',
      e.incidentId ?? '',
      e.requestId ?? '',
      e.disclosureId ?? '',
      e.accessRequestId ?? '',
      e.grantId ?? '',
      e.finding?.text ?? '',
      iso(e.finding?.at),
      e.finding?.byLabel ?? '',
      e.signature?.byLabel ?? '',
      iso(e.signature?.at),
      e.status,
      e.overdue.join(' '),
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

/** For `protocam logbook export`: every consultation entry matching the filter, as CSV. */
export async function exportLogbookCsv(
  db: Executor,
  filter: LogbookFilter = {},
  policy: Policy | null = null,
  now = Date.now(),
): Promise<string> {
  return entriesToCsv(await allEntries(db, policy, filter, now));
}

/** Rows per page when walking: large pages keep the per-query cost small. */
const VERIFY_PAGE = 10_000;

/** From this many records on, `auto` checks ranges at the same time instead of walking. */
const RANGES_FROM = 20_000;

/**
 * Records per range, small enough that a thread slowed down by other load leaves little for the
 * end, large enough that hand-overs cost nothing. SQLite: a range is one blob of some 750 KB and
 * about 1.5 ms of one thread's time, which is also how long this thread keeps the event loop
 * waiting per range. CPU per record (1M records, one thread, fresh connection, interleaved
 * runs): 4,096-record ranges took 4 to 6% more than 1,024 and caused three to four times the
 * minor page faults (fresh memory for each 3 MB blob); 512 measured like 1,024, 8,192 slower
 * still (issue 3). PostgreSQL: one query per range, as before.
 */
const SQLITE_RANGE_SIZE = 1024;
const POSTGRES_RANGE_SIZE = 25_000;

export { VERIFY_STRATEGIES, type VerifyStrategy } from './logbook.rules.js';

export interface VerifyOptions {
  /**
   * `auto` (default): chains of RANGES_FROM records or more are checked in ranges at the same
   * time (src/audit/chain.repository.ts: this thread and worker threads on SQLite, server-side
   * SHA-256 on PostgreSQL), shorter ones walked. `ranges`: always ranges where possible. `walk`: every
   * record read and hashed here, in order (slower; trusts nothing but Node).
   */
  strategy?: VerifyStrategy;
  /**
   * Ranges checked at once (default: one per core, src/audit/chain.repository.ts
   * defaultConcurrency). On SQLite that many threads, this one included: 1 checks every range
   * on this thread, without starting a worker.
   */
  ranges?: number;
  /** SQLite: false leaves every range to worker threads (default: this thread checks ranges too). */
  callingThread?: boolean;
  /** Records per range (default SQLITE_/POSTGRES_RANGE_SIZE, fewer for short chains so every thread gets some). */
  rangeSize?: number;
}

/**
 * For `protocam logbook verify` and GET /api/logbook/verify. Checks every Ed25519-signed head
 * (its signature, and that the record at its seq still has the signed hash), that the query
 * columns are still generated from the hashed bodies, the chain itself (same checks and
 * messages as the audit chain's ChainVerifier, src/audit/chain.ts), and the stored head.
 * Names the first bad record. Long chains are checked in ranges at the same time; a range that
 * is not clean is then walked record by record to name the first bad one. Memory stays flat.
 */
export async function verifyLogbook(
  db: Executor,
  verifyKey: KeyObject,
  options: VerifyOptions = {},
): Promise<LogbookVerifyResult> {
  const signatures = await listChainSignatures(db);
  const bySeq = new Map<number, typeof signatures>();
  for (const s of signatures) bySeq.set(s.seq, [...(bySeq.get(s.seq) ?? []), s]);
  let checked = 0;
  const fail = (problem: { seq: number; message: string }): LogbookVerifyResult => ({
    ok: false,
    checked,
    signedHeads: signatures.length,
    problem,
  });
  const failChain = (p: ChainProblem) => fail({ seq: p.seq, message: describeProblem(p) });
  const failSigned = (seq: number) =>
    fail({
      seq,
      message: `record ${seq} no longer matches the chain head signed at that record (records up to ${seq} were rewritten)`,
    });

  // SQLite: the query columns are trustworthy only while generated from the hashed body.
  const table = await logbookTableProblem(db);
  const { head, firstSeq, lastSeq } = await readLogbookExtent(db);
  const strategy = options.strategy ?? 'auto';
  const concurrency = options.ranges ?? defaultConcurrency();
  const useRanges =
    !table &&
    lastSeq > 0 &&
    (strategy === 'ranges' || (strategy === 'auto' && lastSeq >= RANGES_FROM)) &&
    (await canScanRanges(db));
  // The signatures are checked here while worker threads start up (or the database checks
  // ranges); on SQLite this thread then checks ranges too.
  const scanning = useRanges
    ? scanRanges(
        db,
        'logbook_records',
        chunkRanges(
          lastSeq,
          options.rangeSize ??
            Math.min(isPostgres(db) ? POSTGRES_RANGE_SIZE : SQLITE_RANGE_SIZE, Math.ceil(lastSeq / concurrency)),
        ),
        logbookColumnsMatchBody(),
        { concurrency, callingThread: options.callingThread },
      )
    : null;
  // Settled below in every case; this only keeps an early return from leaving it unhandled.
  scanning?.catch(() => undefined);
  // Lets the range check start its workers before this thread spends time on the signatures.
  if (scanning) await new Promise((started) => setImmediate(started));

  // A signed head whose signature does not verify was forged or altered.
  const forged = signatures.find(
    (s) =>
      !edVerify(
        null,
        chainHeadMessage(LOGBOOK_CHAIN, s.seq, s.hash, s.signedAt),
        verifyKey,
        Buffer.from(s.signature, 'base64'),
      ),
  );
  if (forged) {
    await scanning?.catch(() => undefined);
    return fail({
      seq: forged.seq,
      message: `the signature on the chain head at record ${forged.seq} is not valid (altered or forged)`,
    });
  }
  if (table) {
    // The table definition was altered: walk every record, comparing its columns with its body.
    const walked = await walkLogbook(db, { seq: 1, hash: GENESIS_HASH }, lastSeq, bySeq, true);
    const altered = `the table definition was altered: ${table.column} is no longer generated from the hashed record`;
    checked = walked.checked;
    return walked.problem
      ? fail({ seq: walked.problem.seq, message: `${walked.problem.message} (${altered})` })
      : fail({ seq: 0, message: altered });
  }

  if (firstSeq !== null && firstSeq < 1) {
    await scanning?.catch(() => undefined);
    return failChain({ kind: 'gap', seq: firstSeq, expectedSeq: 1 });
  }
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  if (scanning) {
    // Clean ranges that link to each other are verified; walking resumes at the first that is not.
    for (const range of await scanning) {
      if (!range.clean || range.firstPrev !== prevHash || range.lastHash === null) break;
      prevHash = range.lastHash;
      expectedSeq = range.to + 1;
    }
    checked = expectedSeq - 1;
    const signedBefore = [...bySeq.keys()].filter((seq) => seq < expectedSeq).sort((a, b) => a - b);
    const stored = await readLogbookHashes(db, signedBefore);
    const rewritten = signedBefore.find((seq) => bySeq.get(seq)!.some((s) => s.hash !== stored.get(seq)));
    if (rewritten !== undefined) {
      checked = rewritten - 1;
      return failSigned(rewritten);
    }
  }
  // PostgreSQL keeps plain query columns: a walk compares each with the body too.
  const walked = await walkLogbook(db, { seq: expectedSeq, hash: prevHash }, lastSeq, bySeq, isPostgres(db));
  checked += walked.checked;
  if (walked.problem) return fail(walked.problem);
  expectedSeq = walked.next.seq;
  prevHash = walked.next.hash;
  const last = expectedSeq - 1;
  const beyond = signatures.find((s) => s.seq > last);
  if (beyond) {
    return fail({
      seq: last + 1,
      message: `record ${last + 1} is missing: a head was signed at record ${beyond.seq} (records removed at the end)`,
    });
  }
  if (head.seq !== last || head.hash !== prevHash)
    return failChain({ kind: 'head-mismatch', seq: last, headSeq: head.seq });
  return { ok: true, checked, signedHeads: signatures.length };
}

/**
 * Walks records `from.seq`..`lastSeq` in order, hashing each in Node, and names the first bad
 * one. `compareColumns`: also require every query column to say what the body says (PostgreSQL,
 * or a SQLite table whose columns are no longer generated); otherwise only the chain columns
 * are read, with the hashed bytes as stored (SQLite, as the range check hashes them).
 */
async function walkLogbook(
  db: Executor,
  from: { seq: number; hash: string },
  lastSeq: number,
  signedAt: Map<number, { hash: string }[]>,
  compareColumns: boolean,
): Promise<{ checked: number; next: { seq: number; hash: string }; problem?: { seq: number; message: string } }> {
  let expectedSeq = from.seq;
  let prevHash = from.hash;
  let checked = 0;
  const stop = (seq: number, message: string) => ({
    checked,
    next: { seq: expectedSeq, hash: prevHash },
    problem: { seq, message },
  });
  while (expectedSeq <= lastSeq) {
    const limit = Math.min(VERIFY_PAGE, lastSeq - expectedSeq + 1);
    const rows = compareColumns
      ? await readLogbookPage(db, expectedSeq, limit)
      : await readLogbookChainPage(db, expectedSeq, limit);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) return stop(seq, describeProblem({ kind: 'gap', seq, expectedSeq }));
      if (row.prev_hash !== prevHash) return stop(seq, describeProblem({ kind: 'prev-hash-mismatch', seq }));
      // The hash covers the body; every column must say what the body says.
      const intact =
        'hashed' in row
          ? logbookStoredBytesHash(row.hashed) === row.hash
          : logbookRecordHash(row.prev_hash, row.body) === row.hash && encodeLogbookBody({ ...row, seq }) === row.body;
      if (!intact) return stop(seq, describeProblem({ kind: 'hash-mismatch', seq }));
      const signed = signedAt.get(seq);
      if (signed && signed.some((s) => s.hash !== row.hash))
        return stop(
          seq,
          `record ${seq} no longer matches the chain head signed at that record (records up to ${seq} were rewritten)`,
        );
      prevHash = row.hash;
      expectedSeq += 1;
      checked += 1;
    }
  }
  return { checked, next: { seq: expectedSeq, hash: prevHash } };
}

export class LogbookService {
  private readonly audit: AuditTrail;

  constructor(private readonly deps: AccessDeps) {
    this.audit = new AuditTrail(deps.clock);
  }

  /** The consulting user records what they saw (constatering, M 6.4). One finding per entry. */
  async recordFinding(principal: Principal, entryId: string, text: string): Promise<EntryView> {
    const now = this.deps.clock.now();
    const body = text.trim();
    return inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      const entry = await this.consultation(trx, entryId);
      if (entry.user_id !== principal.userId) {
        throw forbidden('finding-not-own', 'Only the user who consulted the data records its finding');
      }
      const existing = await findFollowUps(trx, [entry.id]);
      if (existing.some((r) => r.kind === 'finding'))
        throw conflict('finding-exists', 'This entry already has a finding');
      await appendLogbook(trx, head, {
        ...this.followUp(principal, entry, 'finding', now),
        text: body,
      });
      return (await toViews(trx, this.deps.policy(), [entry], now))[0]!;
    });
  }

  /** A user with `sign-logbook` signs another user's entry, after its finding (M 6.4). */
  async sign(principal: Principal, entryId: string): Promise<EntryView> {
    const policy = this.deps.policy();
    if (!hasCapability(policy, principal.roles, 'sign-logbook')) {
      throw forbidden('sign-not-allowed', 'Your roles may not sign the logbook');
    }
    const now = this.deps.clock.now();
    return inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      const entry = await this.consultation(trx, entryId);
      if (entry.user_id === principal.userId)
        throw forbidden('self-signature', 'You cannot sign your own logbook entry');
      const existing = await findFollowUps(trx, [entry.id]);
      if (existing.some((r) => r.kind === 'signature'))
        throw conflict('already-signed', 'This entry is already signed');
      if (!existing.some((r) => r.kind === 'finding')) {
        throw conflict('finding-missing', 'The entry has no finding yet: the consulting user records it first');
      }
      await appendLogbook(trx, head, this.followUp(principal, entry, 'signature', now));
      return (await toViews(trx, policy, [entry], now))[0]!;
    });
  }

  async list(principal: Principal, filter: LogbookFilter): Promise<EntryView[]> {
    const limit = Math.min(filter.limit ?? 100, MAX_PAGE);
    return this.audited(principal, 'logbook.read', { ...filter, limit }, async (db, policy, now) =>
      toViews(db, policy, await listEntries(db, { ...filter, limit }), now),
    );
  }

  /**
   * The signed-in user's own consultations still waiting for their finding (M 6.4, W 2.6).
   * Whoever consulted data records the finding, so every user can list their own open entries,
   * also without `read-logbook`; nobody sees another user's entries this way.
   */
  async awaitingMyFinding(principal: Principal): Promise<EntryView[]> {
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    return inTransaction(this.deps.db, async (trx) => {
      const rows = await listEntries(trx, { userId: principal.userId, status: 'awaiting-finding', limit: MAX_PAGE });
      await this.audit.record(trx, {
        actor: actorOf(principal),
        action: 'logbook.own-awaiting-finding',
        targetType: 'logbook',
        context: { count: rows.length },
      });
      return toViews(trx, policy, rows, now);
    });
  }

  /** Entries without a finding or a signature after the policy's days (M 6.4). */
  async overdue(principal: Principal): Promise<EntryView[]> {
    return this.audited(principal, 'logbook.overdue', {}, async (db, policy, now) => {
      const rows = await listEntries(db, { unsignedBefore: overdueCutoff(policy, now), limit: 1000 });
      return (await toViews(db, policy, rows, now)).filter((e) => e.overdue.length > 0);
    });
  }

  async exportCsv(principal: Principal, filter: LogbookFilter): Promise<string> {
    const entries = await this.audited(principal, 'logbook.export-csv', filter, (db, policy, now) =>
      allEntries(db, policy, filter, now),
    );
    return entriesToCsv(entries);
  }

  /** A printable PDF with a signature line per entry, for signing on paper. Rendered after the transaction. */
  async exportPdf(principal: Principal, filter: LogbookFilter): Promise<Buffer> {
    const now = this.deps.clock.now();
    const policy = this.deps.policy();
    const entries = await this.audited(principal, 'logbook.export-pdf', filter, (db, p, at) =>
      allEntries(db, p, filter, at),
    );
    const head = await latestChainSignature(this.deps.db);
    // Loaded when a PDF is asked for: pdfkit is a sixth of the CLI's start-up (`logbook verify`).
    const { renderLogbookPdf } = await import('./logbook.pdf.js');
    return renderLogbookPdf({ policyName: policy.name, generatedAt: now, entries, signedHead: head });
  }

  /** `strategy`: see VerifyOptions (`walk` hashes every record here, trusting no database function). */
  async verify(principal: Principal, strategy: VerifyStrategy = 'auto'): Promise<LogbookVerifyResult> {
    return this.audited(principal, 'logbook.verify', { strategy }, () => Promise.resolve(null)).then(() =>
      // In the server the event loop also serves ingest and the recorder's index: ranges go to
      // worker threads only (the CLI lets its own thread check ranges too).
      verifyLogbook(this.deps.db, this.deps.verifyKey, { strategy, callingThread: false }),
    );
  }

  /**
   * Signs the current chain head (seq, hash) with the installation's Ed25519 key. Called
   * periodically (CHAIN_SIGN_INTERVAL_MS) by the scheduler; nothing happens when the head is
   * empty or already signed.
   */
  async signChainHead(): Promise<{ seq: number; hash: string; signedAt: number } | null> {
    const now = this.deps.clock.now();
    return inTransaction(this.deps.db, async (trx) => {
      const head = await lockLogbookHead(trx);
      if (head.seq === 0) return null;
      const latest = await latestChainSignature(trx);
      if (latest && latest.seq === head.seq) return { seq: latest.seq, hash: latest.hash, signedAt: latest.signedAt };
      const signature = edSign(null, chainHeadMessage(LOGBOOK_CHAIN, head.seq, head.hash, now), this.deps.signingKey);
      await insertChainSignature(trx, {
        id: newId(),
        seq: head.seq,
        hash: head.hash,
        signature: signature.toString('base64'),
        signedAt: now,
      });
      return { seq: head.seq, hash: head.hash, signedAt: now };
    });
  }

  // --- internals ----------------------------------------------------------------------------

  private async consultation(trx: Executor, entryId: string): Promise<LogbookRecordRow> {
    const entry = await findRecordById(trx, entryId);
    if (!entry || entry.kind !== 'consultation') throw notFound('entry-not-found', 'No such logbook entry');
    return entry;
  }

  private followUp(principal: Principal, entry: LogbookRecordRow, kind: 'finding' | 'signature', now: number) {
    return { ...blankLogbookRecord(newId(), kind, now, principal), entry_id: entry.id };
  }

  /** Checks `read-logbook`, and records the read (or the refused attempt) in the audit trail. */
  private async audited<T>(
    principal: Principal,
    action: string,
    context: Record<string, unknown>,
    read: (db: Executor, policy: Policy, now: number) => Promise<T>,
  ): Promise<T> {
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const allowed = hasCapability(policy, principal.roles, 'read-logbook');
    const result = await inTransaction(this.deps.db, async (trx) => {
      if (!allowed) {
        await this.audit.record(trx, {
          actor: actorOf(principal),
          action,
          targetType: 'logbook',
          outcome: 'refused',
          context,
        });
        return null;
      }
      const value = await read(trx, policy, now);
      const count = Array.isArray(value) ? value.length : undefined;
      await this.audit.record(trx, {
        actor: actorOf(principal),
        action,
        targetType: 'logbook',
        context: { ...context, count },
      });
      return { value };
    });
    if (!result) throw forbidden('logbook-read-not-allowed', 'Your roles may not read the logbook');
    return result.value;
  }
}
