import { createHash, hash as sha256Once } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.js';

export { canonicalJson };

/**
 * Hash chaining shared by the audit trail and (later) the logbook: each record's hash is
 * SHA-256 over the previous record's hash and a canonical encoding of the record itself,
 * so editing, removing, inserting or reordering any record breaks every hash after it.
 */
export const GENESIS_HASH = '0'.repeat(64);

export function chainHash(prevHash: string, record: unknown): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(record)).digest('hex');
}

/** `chainHash` for a record whose canonical encoding is already at hand (stored or just written). */
export function chainTextHash(prevHash: string, canonicalBody: string): string {
  return sha256Once('sha256', `${prevHash}\n${canonicalBody}`, 'hex');
}

export interface ChainedRecord {
  seq: number;
  prevHash: string;
  hash: string;
  /** The fields covered by the hash (everything but prevHash and hash). */
  body: unknown;
}

export type ChainProblem =
  | { kind: 'gap'; seq: number; expectedSeq: number }
  | { kind: 'prev-hash-mismatch'; seq: number }
  | { kind: 'hash-mismatch'; seq: number }
  | { kind: 'head-mismatch'; seq: number; headSeq: number };

/**
 * Walks records in seq order, keeping only the running hash: the caller streams pages in,
 * so memory stays flat for any chain length.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  checked = 0;

  /** Returns the first problem in this record, or null when it links correctly. */
  check(record: ChainedRecord): ChainProblem | null {
    return this.checkText(record.seq, record.prevHash, record.hash, canonicalJson(record.body));
  }

  /**
   * `check` for a record whose canonical encoding is at hand (stored, or written out by a
   * specialised encoder such as encodeAuditBody): one SHA-256 call, no generic encoding.
   */
  checkText(seq: number, prevHash: string, hash: string, canonicalBody: string): ChainProblem | null {
    if (seq !== this.expectedSeq) return { kind: 'gap', seq, expectedSeq: this.expectedSeq };
    if (prevHash !== this.prevHash) return { kind: 'prev-hash-mismatch', seq };
    if (chainTextHash(prevHash, canonicalBody) !== hash) return { kind: 'hash-mismatch', seq };
    this.prevHash = hash;
    this.expectedSeq += 1;
    this.checked += 1;
    return null;
  }

  /** The stored head must point at the last record walked: this catches a removed tail. */
  finish(head: { seq: number; hash: string }): ChainProblem | null {
    const lastSeq = this.expectedSeq - 1;
    if (head.seq !== lastSeq || head.hash !== this.prevHash) {
      return { kind: 'head-mismatch', seq: lastSeq, headSeq: head.seq };
    }
    return null;
  }
}

export function describeProblem(problem: ChainProblem): string {
  switch (problem.kind) {
    case 'gap':
      return `record ${problem.expectedSeq} is missing or out of order (found ${problem.seq})`;
    case 'prev-hash-mismatch':
      return `record ${problem.seq} does not link to the record before it (inserted, removed or reordered)`;
    case 'hash-mismatch':
      return `record ${problem.seq} was altered after it was written`;
    case 'head-mismatch':
      return `the chain ends at record ${problem.seq} but its head says ${problem.headSeq} (records removed at the end)`;
  }
}
