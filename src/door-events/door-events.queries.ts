/**
 * The only reads of door events and tag holders, one per purpose of the protocol:
 * - tag-function-check (M 3.5): recent events of one tag, or denied attempts at one door;
 *   never who holds the tag.
 * - calamity-witness-search (M 3.6): the distinct tags that opened given doors in a window,
 *   with the contact details of whoever held each tag at that moment, so they can be
 *   approached as witnesses; no list of a person's movements.
 * - subject-access (M 4): every retained event of the requester's own tag, as a digital copy.
 * Disclosure (M 5.7) has no query yet: the gate already refuses it for anyone but the police.
 * There is deliberately no other query: nothing lists a person's movements for any other
 * purpose, and the policy has no purpose for accusations (M 3.6).
 *
 * Every query first asks the gate about the caller's grant (own, live, the query's purpose,
 * category door-events, the exact doors/tag and window read) and runs SQL only after that.
 * The gate wrote the consultation record when it issued the grant; queries write nothing.
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { GateService, GrantNeed } from '../access/index.js';
import type { Database } from '../db/schema.js';
import type { Principal } from '../http/principal.js';
import type { Clock } from '../lib/clock.js';
import { forbidden } from '../lib/errors.js';
import { decryptText } from '../lib/secrets.js';
import { isAllowed, purposeRule, type Policy, type Purpose } from '../policy/index.js';
import { parseInput } from '../lib/validation.js';
import * as repo from './door-events.queries.repository.js';
import type { EventRecord } from './door-events.queries.repository.js';

/** Most events one tag-function check shows: "recent", enough to see whether a tag works. */
export const TAG_CHECK_LIMIT = 500;
/** Most doors one witness search names (the same bound as a grant's scope in the access routes). */
export const MAX_WITNESS_DOORS = 64;

/** The gate's shape for tags in a scope (access.rules.ts TAG_PATTERN). */
export const QUERY_TAG = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'a tag is 1-64 letters, digits, ":", "_" or "-"');
const QueryId = z.string().trim().min(1).max(64);
const EpochMs = z.number().int().min(0).max(8_640_000_000_000_000);

const TagCheck = z.union([
  z.strictObject({ tag: QUERY_TAG, from: EpochMs.optional(), to: EpochMs.optional() }),
  z.strictObject({ doorId: QueryId, from: EpochMs.optional(), to: EpochMs.optional() }),
]);
const WitnessSearch = z.strictObject({
  doorIds: z.array(QueryId).min(1).max(MAX_WITNESS_DOORS),
  from: EpochMs,
  to: EpochMs,
});
const SubjectCopy = z.strictObject({ tag: QUERY_TAG });

/** `from`/`to` (epoch ms) narrow the grant's window; absent, the whole window of the grant is read. */
export type TagCheckInput =
  { tag: string; from?: number; to?: number } | { doorId: string; from?: number; to?: number };
export interface WitnessSearchInput {
  doorIds: string[];
  from: number;
  to: number;
}
export interface SubjectCopyInput {
  tag: string;
}

export interface DoorEventQueryDeps {
  db: Kysely<Database>;
  clock: Clock;
  gate: Pick<GateService, 'validateGrant' | 'describeGrant'>;
  policy: () => Policy;
  /** Decrypts tag-holder fields for the witness search only. */
  encryptionKey: Buffer;
}

export interface EventView {
  occurredAt: string;
  doorCode: string;
  doorName: string;
  tag: string;
  result: string;
}

export interface TagCheckResult {
  purpose: 'tag-function-check';
  grantId: string;
  tag: string | null;
  doorId: string | null;
  from: string;
  to: string;
  /** Newest first; never the holder (M 3.5). */
  events: EventView[];
  /** More than TAG_CHECK_LIMIT events matched; the oldest are left out. */
  truncated: boolean;
}

export interface WitnessView {
  tag: string;
  /** Who held the tag when it opened the door; null when it was not issued to anyone then. */
  holder: { reference: string; kind: string; name: string; contact: string | null } | null;
}

export interface WitnessSearchResult {
  purpose: 'calamity-witness-search';
  grantId: string;
  incidentId: string | null;
  doorIds: string[];
  from: string;
  to: string;
  witnesses: WitnessView[];
}

export interface SubjectCopyResult {
  purpose: 'subject-access';
  grantId: string;
  requestId: string | null;
  tag: string;
  from: string;
  to: string;
  /** Oldest first: the digital copy of the data of one's own tag (M 4). */
  events: EventView[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

const eventView = (e: EventRecord): EventView => ({
  occurredAt: iso(e.occurredAt),
  doorCode: e.doorCode,
  doorName: e.doorName,
  tag: e.tagCode,
  result: e.result,
});

function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The subject-access copy as CSV (RFC 4180, CRLF; cells that a spreadsheet would run as a formula are quoted). */
export function subjectCopyToCsv(copy: SubjectCopyResult): string {
  const lines = ['occurred_at_utc,door_code,door_name,tag,result'];
  for (const e of copy.events) {
    lines.push([e.occurredAt, e.doorCode, e.doorName, e.tag, e.result].map(csvCell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

export class DoorEventQueryService {
  constructor(private readonly deps: DoorEventQueryDeps) {}

  /** M 3.5: does this tag work? Its recent events, or the denied attempts at one door; no holder. */
  async tagFunctionCheck(principal: Principal, token: string, input: TagCheckInput): Promise<TagCheckResult> {
    const data = parseInput(TagCheck, input);
    const grant = await this.deps.gate.describeGrant(principal, token);
    const from = data.from ?? grant.from;
    const to = data.to ?? grant.to;
    const tag = 'tag' in data ? data.tag : undefined;
    const doorId = 'doorId' in data ? data.doorId : undefined;
    const need: GrantNeed = { category: 'door-events', purposes: ['tag-function-check'], from, to };
    if (tag !== undefined) need.tag = tag;
    if (doorId !== undefined) need.doorId = doorId;
    await this.deps.gate.validateGrant(principal, token, need);

    const limit = TAG_CHECK_LIMIT + 1;
    const rows =
      tag !== undefined
        ? await repo.eventsOfTag(this.deps.db, { tag, from, to, limit })
        : await repo.deniedAtDoor(this.deps.db, { doorId: doorId ?? '', from, to, limit });
    return {
      purpose: 'tag-function-check',
      grantId: grant.id,
      tag: tag ?? null,
      doorId: doorId ?? null,
      from: iso(from),
      to: iso(to),
      events: rows.slice(0, TAG_CHECK_LIMIT).map(eventView),
      truncated: rows.length > TAG_CHECK_LIMIT,
    };
  }

  /**
   * M 3.6: the tags that opened the doors in the window, each with the name and contact of
   * whoever held it at the moment of the opening (key_tag_assignments), to approach them as
   * witnesses. No times or doors per person: this is not a list of movements.
   */
  async calamityWitnessSearch(
    principal: Principal,
    token: string,
    input: WitnessSearchInput,
  ): Promise<WitnessSearchResult> {
    const data = parseInput(WitnessSearch, input);
    const doorIds = [...new Set(data.doorIds)].sort();
    const grant = await this.deps.gate.describeGrant(principal, token);
    for (const doorId of doorIds) {
      await this.deps.gate.validateGrant(principal, token, {
        category: 'door-events',
        purposes: ['calamity-witness-search'],
        doorId,
        from: data.from,
        to: data.to,
      });
    }
    // The grant is for door events; naming holders is what this purpose adds (tag-holders, M 6.6).
    // The gate issues one category per grant, so the holder side is checked against the policy here.
    const policy = this.deps.policy();
    const purpose: Purpose = 'calamity-witness-search';
    if (
      !purposeRule(policy, purpose)?.categories.includes('tag-holders') ||
      !isAllowed(policy, principal.roles, purpose, 'tag-holders')
    ) {
      throw forbidden('holder-contact-not-allowed', 'None of your roles may see tag holders for this purpose', {
        articles: ['M 3.6', 'M 6.6'],
      });
    }

    const rows = await repo.witnesses(this.deps.db, { doorIds, from: data.from, to: data.to });
    const key = this.deps.encryptionKey;
    return {
      purpose: 'calamity-witness-search',
      grantId: grant.id,
      incidentId: grant.incidentId,
      doorIds,
      from: iso(data.from),
      to: iso(data.to),
      witnesses: rows.map((r) => ({
        tag: r.tagCode,
        holder:
          r.holderId === null || r.nameEnc === null
            ? null
            : {
                reference: r.reference ?? '',
                kind: r.kind ?? '',
                name: decryptText(key, r.nameEnc),
                contact: r.contactEnc === null ? null : decryptText(key, r.contactEnc),
              },
      })),
    };
  }

  /**
   * M 4: all retained events of the requester's own tag in the grant's window. The gate
   * issued the grant only for the tag of the linked subject request.
   */
  async subjectAccessCopy(principal: Principal, token: string, input: SubjectCopyInput): Promise<SubjectCopyResult> {
    const { tag } = parseInput(SubjectCopy, input);
    const grant = await this.deps.gate.describeGrant(principal, token);
    await this.deps.gate.validateGrant(principal, token, {
      category: 'door-events',
      purposes: ['subject-access'],
      tag,
      from: grant.from,
      to: grant.to,
    });
    const rows = await repo.eventsOfTag(this.deps.db, { tag, from: grant.from, to: grant.to });
    return {
      purpose: 'subject-access',
      grantId: grant.id,
      requestId: grant.requestId,
      tag,
      from: iso(grant.from),
      to: iso(grant.to),
      events: rows.reverse().map(eventView),
    };
  }
}
