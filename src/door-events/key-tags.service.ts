/**
 * Key tags and their holders. Holder personal fields (name, address or unit, contact) are
 * encrypted at rest and write-only here: views and audit records say "[set]". Reading them
 * goes through the access gate in a later slice. Administrators manage tags by tag code and
 * holder reference only; door events refer to the tag code, never to the holder.
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Actor, AuditTrail } from '../audit/audit.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { conflict, notFound, refused } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { encryptText } from '../lib/secrets.js';
import type { Policy } from '../policy/index.js';
import { parseInput } from '../lib/validation.js';
import { requireKeyTags } from './door-events.service.js';
import {
  HolderCreate,
  TagIssue,
  TagReissue,
  type HolderCreateInput,
  type HolderKind,
  type TagIssueInput,
  type TagReissueInput,
} from './door-events.schemas.js';
import * as repo from './key-tags.repository.js';
import type { Executor, HolderRecord, TagRecord } from './key-tags.repository.js';
import { canApply, newHolderReference, statusAfter, type TagAction, type TagStatus } from './key-tags.rules.js';

export interface KeyTagDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditTrail;
  policy: () => Policy;
  encryptionKey: Buffer;
}

export interface HolderView {
  id: string;
  kind: HolderKind;
  reference: string;
  nameSet: true;
  addressSet: boolean;
  contactSet: boolean;
  createdAt: string;
}

export interface TagView {
  id: string;
  tagCode: string;
  status: TagStatus;
  holderId: string | null;
  holderReference: string | null;
  issuedAt: string;
  noticeGivenAt: string;
  blockedAt: string | null;
  returnedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type PageInput = z.input<typeof PageQuery>;

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

const holderView = (h: HolderRecord): HolderView => ({
  id: h.id,
  kind: h.kind,
  reference: h.reference,
  nameSet: true,
  addressSet: h.addressEnc !== null,
  contactSet: h.contactEnc !== null,
  createdAt: iso(h.createdAt),
});
/** Audit view: no personal data, only whether each field is set. */
const holderAudit = (h: HolderRecord) => ({
  kind: h.kind,
  reference: h.reference,
  name: '[set]',
  address: h.addressEnc === null ? null : '[set]',
  contact: h.contactEnc === null ? null : '[set]',
});
const tagView = (t: TagRecord): TagView => ({
  id: t.id,
  tagCode: t.tagCode,
  status: t.status,
  holderId: t.holderId,
  holderReference: t.holderReference,
  issuedAt: iso(t.issuedAt),
  noticeGivenAt: iso(t.noticeGivenAt),
  blockedAt: isoOrNull(t.blockedAt),
  returnedAt: isoOrNull(t.returnedAt),
  createdAt: iso(t.createdAt),
  updatedAt: iso(t.updatedAt),
});
const tagAudit = (t: TagRecord) => ({
  tagCode: t.tagCode,
  status: t.status,
  holderReference: t.holderReference,
  noticeGivenAt: iso(t.noticeGivenAt),
});

function requireNotice(noticeGiven: boolean): void {
  if (!noticeGiven)
    throw refused(
      'tag-notice-missing',
      'A tag is issued only after the holder was told about the registration of door openings (M 3.5, M 7)',
      { articles: ['M 3.5', 'M 7'] },
    );
}

export class KeyTagService {
  constructor(private readonly deps: KeyTagDeps) {}

  private tx<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.deps.db.transaction().execute(fn);
  }

  private async requireHolder(db: Executor, id: string): Promise<HolderRecord> {
    const holder = await repo.findHolder(db, id);
    if (!holder) throw notFound('holder-not-found', 'No such tag holder');
    return holder;
  }

  private async requireTag(db: Executor, id: string): Promise<TagRecord> {
    const tag = await repo.findTag(db, id);
    if (!tag) throw notFound('tag-not-found', 'No such key tag');
    return tag;
  }

  // --- holders ---

  async createHolder(actor: Actor, input: HolderCreateInput): Promise<HolderView> {
    const data = parseInput(HolderCreate, input);
    requireKeyTags(this.deps.policy());
    const key = this.deps.encryptionKey;
    return this.tx(async (trx) => {
      const now = this.deps.clock.now();
      const record: HolderRecord = {
        id: newId(),
        kind: data.kind,
        reference: newHolderReference(),
        nameEnc: encryptText(key, data.name),
        addressEnc: data.address === undefined ? null : encryptText(key, data.address),
        contactEnc: data.contact === undefined ? null : encryptText(key, data.contact),
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertHolder(trx, record);
      await this.deps.audit.record(trx, {
        actor,
        action: 'tag-holder.created',
        targetType: 'tag-holder',
        targetId: record.id,
        after: holderAudit(record),
      });
      return holderView(record);
    });
  }

  async listHolders(page: PageInput = {}): Promise<HolderView[]> {
    return (await repo.listHolders(this.deps.db, parseInput(PageQuery, page))).map(holderView);
  }

  async getHolder(id: string): Promise<HolderView> {
    return holderView(await this.requireHolder(this.deps.db, id));
  }

  // --- tags ---

  /** Issues a new tag code to a holder; refused without the registration notice (M 3.5, M 7). */
  async issueTag(actor: Actor, input: TagIssueInput): Promise<TagView> {
    const data = parseInput(TagIssue, input);
    requireKeyTags(this.deps.policy());
    requireNotice(data.noticeGiven);
    return this.tx(async (trx) => {
      const existing = await repo.findTagByCode(trx, data.tagCode);
      if (existing)
        throw conflict('tag-exists', 'This tag code is known already; block, return or reissue it instead', {
          tagId: existing.id,
          status: existing.status,
        });
      const holder = await this.requireHolder(trx, data.holderId);
      const now = this.deps.clock.now();
      const record: TagRecord = {
        id: newId(),
        tagCode: data.tagCode,
        status: 'issued',
        holderId: holder.id,
        holderReference: holder.reference,
        issuedAt: now,
        noticeGivenAt: now,
        blockedAt: null,
        returnedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertTag(trx, record);
      await repo.startAssignment(trx, {
        id: newId(),
        tagId: record.id,
        holderId: holder.id,
        issuedAt: now,
        noticeGivenAt: now,
      });
      await this.deps.audit.record(trx, {
        actor,
        action: 'key-tag.issued',
        targetType: 'key-tag',
        targetId: record.id,
        after: tagAudit(record),
      });
      return tagView(record);
    });
  }

  /** Issues a blocked or returned tag again, to the same or another holder (notice required again). */
  async reissueTag(actor: Actor, id: string, input: TagReissueInput): Promise<TagView> {
    const data = parseInput(TagReissue, input);
    requireKeyTags(this.deps.policy());
    requireNotice(data.noticeGiven);
    return this.tx(async (trx) => {
      const current = await this.requireTag(trx, id);
      this.checkTransition(current, 'reissue');
      const holder = await this.requireHolder(trx, data.holderId);
      const now = this.deps.clock.now();
      const next: TagRecord = {
        ...current,
        status: 'issued',
        holderId: holder.id,
        holderReference: holder.reference,
        issuedAt: now,
        noticeGivenAt: now,
        blockedAt: null,
        returnedAt: null,
        updatedAt: now,
      };
      await repo.endAssignment(trx, id, now);
      await repo.updateTag(trx, next);
      await repo.startAssignment(trx, {
        id: newId(),
        tagId: id,
        holderId: holder.id,
        issuedAt: now,
        noticeGivenAt: now,
      });
      await this.deps.audit.record(trx, {
        actor,
        action: 'key-tag.reissued',
        targetType: 'key-tag',
        targetId: id,
        before: tagAudit(current),
        after: tagAudit(next),
      });
      return tagView(next);
    });
  }

  /** Blocks a tag (lost, stolen); the holder keeps it on record until it is returned. */
  async blockTag(actor: Actor, id: string): Promise<TagView> {
    return this.transition(actor, id, 'block');
  }

  /** The tag came back: it no longer belongs to anyone. */
  async returnTag(actor: Actor, id: string): Promise<TagView> {
    return this.transition(actor, id, 'return');
  }

  async listTags(page: PageInput = {}): Promise<TagView[]> {
    return (await repo.listTags(this.deps.db, parseInput(PageQuery, page))).map(tagView);
  }

  async getTag(id: string): Promise<TagView> {
    return tagView(await this.requireTag(this.deps.db, id));
  }

  private checkTransition(tag: TagRecord, action: TagAction): void {
    if (!canApply(tag.status, action))
      throw conflict(
        'tag-status-invalid',
        `A ${tag.status} tag cannot be ${action === 'return' ? 'returned' : `${action}ed`}`,
        {
          status: tag.status,
          action,
        },
      );
  }

  private async transition(actor: Actor, id: string, action: 'block' | 'return'): Promise<TagView> {
    return this.tx(async (trx) => {
      const current = await this.requireTag(trx, id);
      this.checkTransition(current, action);
      const now = this.deps.clock.now();
      const next: TagRecord = {
        ...current,
        status: statusAfter(action),
        updatedAt: now,
        ...(action === 'block' ? { blockedAt: now } : { returnedAt: now, holderId: null, holderReference: null }),
      };
      if (action === 'return') await repo.endAssignment(trx, id, now);
      await repo.updateTag(trx, next);
      await this.deps.audit.record(trx, {
        actor,
        action: action === 'block' ? 'key-tag.blocked' : 'key-tag.returned',
        targetType: 'key-tag',
        targetId: id,
        before: tagAudit(current),
        after: tagAudit(next),
      });
      return tagView(next);
    });
  }
}
