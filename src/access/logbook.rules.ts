/**
 * Pure logbook rules: what a record's hash covers, entry status and overdue deadlines (M 6.4).
 *
 * The logbook uses the same chain as the audit trail (src/audit/chain.ts): a record's hash is
 * `chainHash(prevHash, logbookHashBody(record))` = SHA-256 over prevHash, "\n" and the
 * canonical JSON of the body. Since 0006_logbook_chain that canonical JSON is stored as the
 * record's `body` and every query column is generated from it, so appends encode once with
 * `encodeLogbookBody` (the canonical JSON written out in fixed, sorted key order) and
 * verification hashes the stored text without re-encoding. A property test pins
 * `encodeLogbookBody(r) === canonicalJson(logbookHashBody(r))`.
 */
import { hash as sha256Once } from 'node:crypto';
import { DAY } from '../lib/clock.js';
import type { Policy } from '../policy/index.js';

export const LOGBOOK_CHAIN = 'logbook';

export const LOGBOOK_KINDS = ['consultation', 'refusal', 'approval', 'finding', 'signature'] as const;
export type LogbookKind = (typeof LOGBOOK_KINDS)[number];

/** A logbook record's fields (times epoch ms, roles and scope as JSON text), without its chain hashes. */
export interface LogbookFields {
  seq: number;
  id: string;
  kind: string;
  occurred_at: number;
  user_id: string;
  user_label: string;
  roles: string;
  purpose: string | null;
  category: string | null;
  reason: string | null;
  scope: string | null;
  window_from: number | null;
  window_to: number | null;
  incident_id: string | null;
  request_id: string | null;
  disclosure_id: string | null;
  access_request_id: string | null;
  grant_id: string | null;
  entry_id: string | null;
  refusal_code: string | null;
  text: string | null;
}

/** A record with every optional field empty: callers fill in what their kind of record carries. */
export function blankLogbookRecord(
  id: string,
  kind: LogbookKind,
  occurredAt: number,
  who: { userId: string; username: string; roles: readonly string[] } | null,
): Omit<LogbookFields, 'seq'> {
  return {
    id,
    kind,
    occurred_at: occurredAt,
    user_id: who?.userId ?? '',
    user_label: who?.username ?? '',
    roles: JSON.stringify(who?.roles ?? []),
    purpose: null,
    category: null,
    reason: null,
    scope: null,
    window_from: null,
    window_to: null,
    incident_id: null,
    request_id: null,
    disclosure_id: null,
    access_request_id: null,
    grant_id: null,
    entry_id: null,
    refusal_code: null,
    text: null,
  };
}

/** The fields covered by the hash (everything but prev_hash and hash). Never rename one. */
export function logbookHashBody(r: LogbookFields) {
  return {
    seq: r.seq,
    id: r.id,
    kind: r.kind,
    occurredAt: r.occurred_at,
    userId: r.user_id,
    userLabel: r.user_label,
    roles: r.roles,
    purpose: r.purpose,
    category: r.category,
    reason: r.reason,
    scope: r.scope,
    windowFrom: r.window_from,
    windowTo: r.window_to,
    incidentId: r.incident_id,
    requestId: r.request_id,
    disclosureId: r.disclosure_id,
    accessRequestId: r.access_request_id,
    grantId: r.grant_id,
    entryId: r.entry_id,
    refusalCode: r.refusal_code,
    text: r.text,
  };
}

const s = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));
// Numbers are epoch ms and sequence numbers (safe integers): JSON.stringify(n) === String(n).
const n = (v: number | null): string => (v === null || v === undefined ? 'null' : String(Number(v)));

/** `canonicalJson(logbookHashBody(r))`, written out in sorted key order. */
export function encodeLogbookBody(r: LogbookFields): string {
  return (
    `{"accessRequestId":${s(r.access_request_id)},"category":${s(r.category)},"disclosureId":${s(r.disclosure_id)}` +
    `,"entryId":${s(r.entry_id)},"grantId":${s(r.grant_id)},"id":${s(r.id)},"incidentId":${s(r.incident_id)}` +
    `,"kind":${s(r.kind)},"occurredAt":${n(r.occurred_at)},"purpose":${s(r.purpose)},"reason":${s(r.reason)}` +
    `,"refusalCode":${s(r.refusal_code)},"requestId":${s(r.request_id)},"roles":${s(r.roles)},"scope":${s(r.scope)}` +
    `,"seq":${n(r.seq)},"text":${s(r.text)},"userId":${s(r.user_id)},"userLabel":${s(r.user_label)}` +
    `,"windowFrom":${n(r.window_from)},"windowTo":${n(r.window_to)}}`
  );
}

/** The hash of a stored record: SHA-256 over prevHash, "\n" and its body, in one call. */
export function logbookRecordHash(prevHash: string, body: string): string {
  return sha256Once('sha256', `${prevHash}\n${body}`, 'hex');
}

/** `logbookRecordHash` of the bytes prevHash, "\n", body as stored (UTF-8), read as one blob. */
export function logbookStoredBytesHash(hashed: Uint8Array): string {
  return sha256Once('sha256', hashed, 'hex');
}

/** Same value as `chainHash(prevHash, logbookHashBody(r))`, several times faster. */
export function fastLogbookHash(prevHash: string, r: LogbookFields): string {
  return logbookRecordHash(prevHash, encodeLogbookBody(r));
}

/** The text an Ed25519 chain-head signature covers. */
export function chainHeadMessage(chain: string, seq: number, hash: string, signedAt: number): Buffer {
  return Buffer.from(`protocam-chain-head\n${chain}\n${seq}\n${hash}\n${signedAt}`, 'utf8');
}

// --- entry status and deadlines (M 6.4) -----------------------------------------------------

export const ENTRY_STATUSES = ['awaiting-finding', 'awaiting-signature', 'signed'] as const;
export type EntryStatus = (typeof ENTRY_STATUSES)[number];

export function entryStatus(hasFinding: boolean, hasSignature: boolean): EntryStatus {
  if (hasSignature) return 'signed';
  return hasFinding ? 'awaiting-signature' : 'awaiting-finding';
}

export interface Deadlines {
  findingDue: number;
  signatureDue: number;
}

/** Both deadlines count from the consultation, in the policy's days (M 6.4 sets none: the preset chooses). */
export function entryDeadlines(policy: Policy, consultedAt: number): Deadlines {
  return {
    findingDue: consultedAt + policy.deadlines.logbookFindingDays * DAY,
    signatureDue: consultedAt + policy.deadlines.logbookSignatureDays * DAY,
  };
}

export type OverdueReason = 'finding-overdue' | 'signature-overdue';

export function overdueReasons(
  policy: Policy,
  entry: { occurredAt: number; findingAt: number | null; signedAt: number | null },
  now: number,
): OverdueReason[] {
  const due = entryDeadlines(policy, entry.occurredAt);
  const reasons: OverdueReason[] = [];
  if (entry.findingAt === null && now > due.findingDue) reasons.push('finding-overdue');
  if (entry.signedAt === null && now > due.signatureDue) reasons.push('signature-overdue');
  return reasons;
}

/** The earliest consultation time that can be overdue now (for the query's bound). */
export function overdueCutoff(policy: Policy, now: number): number {
  return now - Math.min(policy.deadlines.logbookFindingDays, policy.deadlines.logbookSignatureDays) * DAY;
}

/**
 * How `verify` walks the chain: `ranges` hashes in ranges at once, `walk` hashes every record here
 * in order, `auto` picks ranges for long chains. Here, apart from the service, so that the CLI can
 * offer the choices without loading the service.
 */
export const VERIFY_STRATEGIES = ['auto', 'ranges', 'walk'] as const;
export type VerifyStrategy = (typeof VERIFY_STRATEGIES)[number];
