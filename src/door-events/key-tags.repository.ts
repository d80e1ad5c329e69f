/**
 * The only key-tag module that touches Kysely: holders (encrypted personal fields), tags and
 * who held a tag when. Functions take an executor so the service runs them in its transaction.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { HolderKind } from './door-events.schemas.js';
import type { TagStatus } from './key-tags.rules.js';

export type Executor = Kysely<Database>;

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export interface Page {
  limit: number;
  offset: number;
}

export interface HolderRecord {
  id: string;
  kind: HolderKind;
  reference: string;
  nameEnc: string;
  addressEnc: string | null;
  contactEnc: string | null;
  createdAt: number;
  updatedAt: number;
}

const toHolder = (row: Database['tag_holders']): HolderRecord => ({
  id: row.id,
  kind: row.kind as HolderKind,
  reference: row.reference,
  nameEnc: row.name_enc,
  addressEnc: row.address_enc,
  contactEnc: row.contact_enc,
  createdAt: num(row.created_at),
  updatedAt: num(row.updated_at),
});

export async function insertHolder(db: Executor, r: HolderRecord): Promise<void> {
  await db
    .insertInto('tag_holders')
    .values({
      id: r.id,
      kind: r.kind,
      reference: r.reference,
      name_enc: r.nameEnc,
      address_enc: r.addressEnc,
      contact_enc: r.contactEnc,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function findHolder(db: Executor, id: string): Promise<HolderRecord | null> {
  const row = await db.selectFrom('tag_holders').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toHolder(row) : null;
}

export async function listHolders(db: Executor, page: Page): Promise<HolderRecord[]> {
  const rows = await db
    .selectFrom('tag_holders')
    .selectAll()
    .orderBy('reference')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  return rows.map(toHolder);
}

export interface TagRecord {
  id: string;
  tagCode: string;
  status: TagStatus;
  holderId: string | null;
  holderReference: string | null;
  issuedAt: number;
  noticeGivenAt: number;
  blockedAt: number | null;
  returnedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

function tagQuery(db: Executor) {
  return db
    .selectFrom('key_tags')
    .leftJoin('tag_holders', 'tag_holders.id', 'key_tags.holder_id')
    .selectAll('key_tags')
    .select('tag_holders.reference as holder_reference');
}

type TagRow = Database['key_tags'] & { holder_reference: string | null };

const toTag = (row: TagRow): TagRecord => ({
  id: row.id,
  tagCode: row.tag_code,
  status: row.status as TagStatus,
  holderId: row.holder_id,
  holderReference: row.holder_reference,
  issuedAt: num(row.issued_at),
  noticeGivenAt: num(row.notice_given_at),
  blockedAt: numOrNull(row.blocked_at),
  returnedAt: numOrNull(row.returned_at),
  createdAt: num(row.created_at),
  updatedAt: num(row.updated_at),
});

export async function findTag(db: Executor, id: string): Promise<TagRecord | null> {
  const row = await tagQuery(db).where('key_tags.id', '=', id).executeTakeFirst();
  return row ? toTag(row) : null;
}

export async function findTagByCode(db: Executor, tagCode: string): Promise<TagRecord | null> {
  const row = await tagQuery(db).where('key_tags.tag_code', '=', tagCode).executeTakeFirst();
  return row ? toTag(row) : null;
}

export async function listTags(db: Executor, page: Page): Promise<TagRecord[]> {
  const rows = await tagQuery(db).orderBy('key_tags.tag_code').limit(page.limit).offset(page.offset).execute();
  return rows.map(toTag);
}

export async function insertTag(db: Executor, r: TagRecord): Promise<void> {
  await db
    .insertInto('key_tags')
    .values({
      id: r.id,
      tag_code: r.tagCode,
      status: r.status,
      holder_id: r.holderId,
      issued_at: r.issuedAt,
      notice_given_at: r.noticeGivenAt,
      blocked_at: r.blockedAt,
      returned_at: r.returnedAt,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute();
}

export async function updateTag(db: Executor, r: TagRecord): Promise<void> {
  await db
    .updateTable('key_tags')
    .set({
      status: r.status,
      holder_id: r.holderId,
      issued_at: r.issuedAt,
      notice_given_at: r.noticeGivenAt,
      blocked_at: r.blockedAt,
      returned_at: r.returnedAt,
      updated_at: r.updatedAt,
    })
    .where('id', '=', r.id)
    .execute();
}

export async function startAssignment(
  db: Executor,
  a: { id: string; tagId: string; holderId: string; issuedAt: number; noticeGivenAt: number },
): Promise<void> {
  await db
    .insertInto('key_tag_assignments')
    .values({
      id: a.id,
      tag_id: a.tagId,
      holder_id: a.holderId,
      issued_at: a.issuedAt,
      notice_given_at: a.noticeGivenAt,
      ended_at: null,
    })
    .execute();
}

/** Ends the tag's open assignment, if any. */
export async function endAssignment(db: Executor, tagId: string, now: number): Promise<void> {
  await db
    .updateTable('key_tag_assignments')
    .set({ ended_at: now })
    .where('tag_id', '=', tagId)
    .where('ended_at', 'is', null)
    .execute();
}

export interface AssignmentRecord {
  holderId: string;
  issuedAt: number;
  noticeGivenAt: number;
  endedAt: number | null;
}

export async function listAssignments(db: Executor, tagId: string): Promise<AssignmentRecord[]> {
  const rows = await db
    .selectFrom('key_tag_assignments')
    .selectAll()
    .where('tag_id', '=', tagId)
    .orderBy('issued_at')
    .execute();
  return rows.map((r) => ({
    holderId: r.holder_id,
    issuedAt: num(r.issued_at),
    noticeGivenAt: num(r.notice_given_at),
    endedAt: numOrNull(r.ended_at),
  }));
}
