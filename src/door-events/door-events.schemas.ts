/** Input schemas of the door-event area, shared by the services (parseInput) and the routes. */
import { z } from 'zod';
import { CsvMapping, SOURCE_KINDS } from './door-events.rules.js';

export const MAX = {
  id: 64,
  name: 200,
  scope: 1000,
  tagCode: 64,
  holderName: 200,
  holderAddress: 300,
  holderContact: 300,
} as const;

const text = (max: number) => z.string().trim().min(1).max(max);

export const Id = text(MAX.id);
export const IdParams = z.strictObject({ id: Id });
export const KeyParams = z.strictObject({ id: Id, keyId: Id });

export const SourceCreate = z
  .strictObject({
    name: text(MAX.name),
    kind: z.enum(SOURCE_KINDS),
    doorScope: z.array(Id).min(1).max(MAX.scope),
    csvMapping: CsvMapping.optional(),
  })
  .refine((v) => v.kind !== 'csv' || v.csvMapping !== undefined, {
    message: 'a csv source needs a csvMapping',
    path: ['csvMapping'],
  });
export type SourceCreateInput = z.input<typeof SourceCreate>;

export const SourcePatch = z
  .strictObject({
    name: text(MAX.name).optional(),
    doorScope: z.array(Id).min(1).max(MAX.scope).optional(),
    csvMapping: CsvMapping.nullable().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), { message: 'nothing to change' });
export type SourcePatchInput = z.input<typeof SourcePatch>;

export const HOLDER_KINDS = ['tenant', 'household-member', 'staff', 'contractor'] as const;
export type HolderKind = (typeof HOLDER_KINDS)[number];

export const HolderCreate = z.strictObject({
  kind: z.enum(HOLDER_KINDS),
  name: text(MAX.holderName),
  /** Address or unit. */
  address: text(MAX.holderAddress).optional(),
  contact: text(MAX.holderContact).optional(),
});
export type HolderCreateInput = z.input<typeof HolderCreate>;

const TagCode = text(MAX.tagCode).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const TagIssue = z.strictObject({
  tagCode: TagCode,
  holderId: Id,
  /** The holder was told about the registration when receiving the tag (M 3.5, M 7). */
  noticeGiven: z.boolean(),
});
export type TagIssueInput = z.input<typeof TagIssue>;

export const TagReissue = z.strictObject({ holderId: Id, noticeGiven: z.boolean() });
export type TagReissueInput = z.input<typeof TagReissue>;
