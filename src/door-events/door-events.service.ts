/**
 * Door-event sources, their API keys, and ingest: one path for HTTP batches, CSV imports
 * (and MQTT later). Each batch is validated record by record (bad records are rejected with
 * a reason code, the good ones kept), stored in one transaction with multi-row inserts that
 * skip events already stored for (source, source event id), and counted on the source.
 *
 * No route returns events: they are personal data (M 6.6) and are read only through the
 * access gate in a later slice. Sources, keys and rejection counts hold no personal data.
 */
import { parseInput } from '../lib/validation.js';
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { SYSTEM_ACTOR, type Actor, type AuditTrail } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { conflict, invalid, notFound, refused, unauthenticated } from '../lib/errors.js';
import { newId, newToken } from '../lib/ids.js';
import { retentionMs, type Policy } from '../policy/index.js';
import * as repo from './door-events.repository.js';
import type { ApiKeyRecord, Executor, NewEvent, SourceCounters, SourceRecord } from './door-events.repository.js';
import {
  classifyTiming,
  CsvHeaderError,
  mapCsv,
  parseCsv,
  parseJsonRecord,
  resolveDoor,
  type CsvMappingValue,
  type ParseOutcome,
  type RejectionReason,
  type SourceKind,
} from './door-events.rules.js';
import { SourceCreate, SourcePatch, type SourceCreateInput, type SourcePatchInput } from './door-events.schemas.js';

export const DEFAULT_MAX_BATCH = 5000;
const API_KEY_PREFIX = 'pcde_';
const MAX_API_KEY_LENGTH = 200;

export interface DoorEventDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
  /** Largest batch accepted by `ingest` (and the chunk size of CSV imports). */
  maxBatch?: number;
}

export interface SourceView {
  id: string;
  name: string;
  kind: SourceKind;
  doorScope: string[];
  csvMapping: CsvMappingValue | null;
  counters: SourceCounters;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKeyView {
  id: string;
  sourceId: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface Rejection {
  /** Position in the batch (0-based); for CSV the data row (0 = the row after the header). */
  index: number;
  reason: RejectionReason;
}

export interface BatchResult {
  received: number;
  accepted: number;
  duplicates: number;
  late: number;
  rejected: Rejection[];
}

export interface CsvImportResult extends Omit<BatchResult, 'rejected'> {
  /** `line` is the line of the file on which the record starts (the header is line 1). */
  rejected: (Rejection & { line: number })[];
}

export interface RejectionCountView {
  reason: string;
  count: number;
  lastSeenAt: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

const sourceView = (s: SourceRecord): SourceView => ({
  id: s.id,
  name: s.name,
  kind: s.kind,
  doorScope: s.doorScope,
  csvMapping: s.csvMapping,
  counters: s.counters,
  createdAt: iso(s.createdAt),
  updatedAt: iso(s.updatedAt),
});
const sourceAudit = (s: SourceRecord) => ({
  name: s.name,
  kind: s.kind,
  doorScope: s.doorScope,
  csvMapping: s.csvMapping,
});
const keyView = (k: ApiKeyRecord): ApiKeyView => ({
  id: k.id,
  sourceId: k.sourceId,
  prefix: k.prefix,
  createdAt: iso(k.createdAt),
  revokedAt: isoOrNull(k.revokedAt),
});

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** Key tags must be enabled by the policy in force; W has none (`key-tags-disabled`). */
export function requireKeyTags(policy: Policy): void {
  if (!policy.keyTags.enabled)
    throw refused('key-tags-disabled', `The policy in force (${policy.id}) does not provide for key tags`);
}

interface Item {
  index: number;
  outcome: ParseOutcome;
}

export class DoorEventService {
  readonly maxBatch: number;

  constructor(private readonly deps: DoorEventDeps) {
    this.maxBatch = deps.maxBatch ?? DEFAULT_MAX_BATCH;
  }

  private tx<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.deps.db.transaction().execute(fn);
  }

  private async requireSource(db: Executor, id: string): Promise<SourceRecord> {
    const source = await repo.findSource(db, id);
    if (!source) throw notFound('source-not-found', 'No such door-event source');
    return source;
  }

  private async checkScope(db: Executor, doorScope: string[]): Promise<string[]> {
    const unique = [...new Set(doorScope)];
    const existing = await repo.existingDoorIds(db, unique);
    const missing = unique.filter((id) => !existing.has(id));
    if (missing.length > 0)
      throw invalid('door-scope-unknown', 'The door scope names doors that do not exist', { doorIds: missing });
    return unique;
  }

  // --- sources ---

  async createSource(actor: Actor, input: SourceCreateInput): Promise<SourceView> {
    const data = parseInput(SourceCreate, input);
    return this.tx(async (trx) => {
      if (await repo.findSourceByName(trx, data.name))
        throw conflict('source-name-taken', 'Another source has this name');
      const now = this.deps.clock.now();
      const record: SourceRecord = {
        id: newId(),
        name: data.name,
        kind: data.kind,
        csvMapping: data.csvMapping ?? null,
        doorScope: await this.checkScope(trx, data.doorScope),
        counters: { received: 0, accepted: 0, rejected: 0, late: 0, duplicate: 0 },
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertSource(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'door-event-source.created',
        targetType: 'door-event-source',
        targetId: record.id,
        after: sourceAudit(record),
      });
      return sourceView(record);
    });
  }

  async updateSource(actor: Actor, id: string, input: SourcePatchInput): Promise<SourceView> {
    const data = parseInput(SourcePatch, input);
    return this.tx(async (trx) => {
      const current = await this.requireSource(trx, id);
      if (data.name !== undefined && data.name !== current.name && (await repo.findSourceByName(trx, data.name)))
        throw conflict('source-name-taken', 'Another source has this name');
      const next: SourceRecord = {
        ...current,
        name: data.name ?? current.name,
        doorScope: data.doorScope ? await this.checkScope(trx, data.doorScope) : current.doorScope,
        csvMapping: data.csvMapping === undefined ? current.csvMapping : data.csvMapping,
        updatedAt: this.deps.clock.now(),
      };
      if (next.kind === 'csv' && next.csvMapping === null)
        throw invalid('csv-mapping-missing', 'A csv source needs a column mapping');
      await repo.updateSource(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: 'door-event-source.updated',
        targetType: 'door-event-source',
        targetId: id,
        before: sourceAudit(current),
        after: sourceAudit(next),
      });
      return sourceView(next);
    });
  }

  async listSources(): Promise<SourceView[]> {
    return (await repo.listSources(this.deps.db)).map(sourceView);
  }

  async getSource(id: string): Promise<SourceView> {
    return sourceView(await this.requireSource(this.deps.db, id));
  }

  async rejectionCounts(sourceId: string): Promise<RejectionCountView[]> {
    await this.requireSource(this.deps.db, sourceId);
    const rows = await repo.listRejections(this.deps.db, sourceId);
    return rows.map((r) => ({ reason: r.reason, count: r.count, lastSeenAt: iso(r.lastSeenAt) }));
  }

  // --- API keys ---

  /** A new key for an HTTP source; the key itself is returned only here, only its hash is stored. */
  async issueApiKey(actor: Actor, sourceId: string): Promise<{ key: string; apiKey: ApiKeyView }> {
    return this.tx(async (trx) => {
      const source = await this.requireSource(trx, sourceId);
      if (source.kind !== 'http')
        throw conflict('source-kind-mismatch', `API keys are for http sources; this source is ${source.kind}`);
      const key = `${API_KEY_PREFIX}${newToken()}`;
      const record: ApiKeyRecord = {
        id: newId(),
        sourceId,
        prefix: key.slice(0, API_KEY_PREFIX.length + 6),
        createdAt: this.deps.clock.now(),
        revokedAt: null,
      };
      await repo.insertApiKey(trx, record, hashApiKey(key));
      await this.deps.audit.record(trx, {
        actor,
        action: 'door-event-api-key.issued',
        targetType: 'door-event-api-key',
        targetId: record.id,
        after: { sourceId, prefix: record.prefix, key: '[set]' },
      });
      return { key, apiKey: keyView(record) };
    });
  }

  async listApiKeys(sourceId: string): Promise<ApiKeyView[]> {
    await this.requireSource(this.deps.db, sourceId);
    return (await repo.listApiKeys(this.deps.db, sourceId)).map(keyView);
  }

  async revokeApiKey(actor: Actor, sourceId: string, keyId: string): Promise<ApiKeyView> {
    return this.tx(async (trx) => {
      const current = await repo.findApiKey(trx, sourceId, keyId);
      if (!current) throw notFound('api-key-not-found', 'No such API key for this source');
      if (current.revokedAt !== null) return keyView(current);
      const next = { ...current, revokedAt: this.deps.clock.now() };
      await repo.revokeApiKey(trx, keyId, next.revokedAt);
      await this.deps.audit.record(trx, {
        actor,
        action: 'door-event-api-key.revoked',
        targetType: 'door-event-api-key',
        targetId: keyId,
        before: { sourceId, prefix: current.prefix, revokedAt: null },
        after: { sourceId, prefix: current.prefix, revokedAt: iso(next.revokedAt) },
      });
      return keyView(next);
    });
  }

  /** The source a presented API key belongs to; unknown or revoked keys: 401 `api-key-invalid`. */
  async sourceForApiKey(key: string): Promise<string> {
    const fail = () => unauthenticated('api-key-invalid', 'The API key is unknown or revoked');
    if (key.length === 0 || key.length > MAX_API_KEY_LENGTH) throw fail();
    const record = await repo.findApiKeyByHash(this.deps.db, hashApiKey(key));
    if (!record || record.revokedAt !== null) throw fail();
    return record.sourceId;
  }

  // --- ingest ---

  /**
   * An HTTP (or MQTT) batch of JSON records for one source. `texts`, when known, holds each
   * record's JSON as sent (rules recordTexts), kept as its raw payload instead of serialising it again.
   */
  async ingest(
    sourceId: string,
    records: readonly unknown[],
    texts?: readonly (string | null)[] | null,
  ): Promise<BatchResult> {
    if (records.length > this.maxBatch)
      throw invalid('batch-too-large', `A batch holds at most ${this.maxBatch} records`, {
        max: this.maxBatch,
        received: records.length,
      });
    requireKeyTags(this.deps.policy());
    const items = records.map((record, index) => ({ index, outcome: parseJsonRecord(record, texts?.[index]) }));
    return this.store(sourceId, items);
  }

  /**
   * A CSV export, parsed with the source's column mapping and stored in chunks of `maxBatch`
   * records, one transaction (and one audit record) per chunk. Callable from the CLI.
   */
  async importCsv(sourceId: string, text: string, actor: Actor = SYSTEM_ACTOR): Promise<CsvImportResult> {
    requireKeyTags(this.deps.policy());
    const source = await this.requireSource(this.deps.db, sourceId);
    if (!source.csvMapping) throw conflict('csv-mapping-missing', 'This source has no CSV column mapping');
    let mapped;
    try {
      mapped = mapCsv(parseCsv(text, source.csvMapping.delimiter), source.csvMapping);
    } catch (error) {
      if (error instanceof CsvHeaderError)
        throw invalid('csv-header-invalid', error.message, { missingColumns: error.missing });
      throw error;
    }
    const total: CsvImportResult = { received: 0, accepted: 0, duplicates: 0, late: 0, rejected: [] };
    for (let start = 0; start < mapped.length; start += this.maxBatch) {
      const chunk = mapped.slice(start, start + this.maxBatch);
      const items = chunk.map((row, i) => ({ index: start + i, outcome: row.outcome }));
      const result = await this.store(sourceId, items, async (trx, counts) => {
        await this.deps.audit.record(trx, {
          actor,
          action: 'door-events.imported',
          targetType: 'door-event-source',
          targetId: sourceId,
          context: { firstLine: chunk[0]?.line, lastLine: chunk.at(-1)?.line, ...counts },
        });
      });
      total.received += result.received;
      total.accepted += result.accepted;
      total.duplicates += result.duplicates;
      total.late += result.late;
      for (const r of result.rejected) total.rejected.push({ ...r, line: mapped[r.index]?.line ?? 0 });
    }
    return total;
  }

  private async store(
    sourceId: string,
    items: Item[],
    inTransaction?: (trx: Executor, counts: SourceCounters) => Promise<void>,
  ): Promise<BatchResult> {
    const policy = this.deps.policy();
    requireKeyTags(policy);
    const retention = retentionMs(policy, 'door-events');
    return this.tx(async (trx) => {
      const source = await this.requireSource(trx, sourceId);
      const scope = new Set(source.doorScope);
      const codes = [...new Set(items.flatMap((i) => (i.outcome.ok ? [i.outcome.record.doorCode] : [])))];
      const doors = await repo.doorIdsByCode(trx, codes);
      const receivedAt = this.deps.clock.now();

      const rejected: Rejection[] = [];
      const events: NewEvent[] = [];
      const seen = new Set<string>();
      let late = 0;
      let duplicatesInBatch = 0;
      for (const { index, outcome } of items) {
        if (!outcome.ok) {
          rejected.push({ index, reason: outcome.reason });
          continue;
        }
        const record = outcome.record;
        const door = resolveDoor(record.doorCode, doors, scope);
        if (!door.ok) {
          rejected.push({ index, reason: door.reason });
          continue;
        }
        const timing = classifyTiming(record.occurredAt, receivedAt, retention);
        if (timing === 'future') {
          rejected.push({ index, reason: 'occurred-at-future' });
          continue;
        }
        if (timing === 'late') {
          late++;
          continue;
        }
        if (seen.has(record.sourceEventId)) {
          duplicatesInBatch++;
          continue;
        }
        seen.add(record.sourceEventId);
        events.push({
          sourceEventId: record.sourceEventId,
          occurredAt: record.occurredAt,
          doorId: door.doorId,
          tagCode: record.tagCode,
          result: record.result,
          rawPayload: record.rawPayload,
        });
      }
      const accepted = await repo.insertEvents(trx, sourceId, receivedAt, events);
      const duplicates = duplicatesInBatch + events.length - accepted;
      const counts: SourceCounters = {
        received: items.length,
        accepted,
        rejected: rejected.length,
        late,
        duplicate: duplicates,
      };
      await repo.addToCounters(trx, sourceId, counts, receivedAt);
      const byReason = new Map<string, number>();
      for (const r of rejected) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      await repo.addRejections(trx, sourceId, byReason, receivedAt);
      if (inTransaction) await inTransaction(trx, counts);
      return { received: items.length, accepted, duplicates, late, rejected };
    });
  }
}
