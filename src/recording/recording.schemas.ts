/**
 * Input shapes of the recording routes (health, maintenance log, defects), parsed again by the
 * service so that callers without HTTP get the same checks. Strict objects, bounded strings.
 */
import { z } from 'zod';

const Id = z.string().trim().min(1).max(64);

const Paging = {
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

export const HealthQuery = z.strictObject({ complexId: Id.optional() });
export type HealthQueryInput = z.input<typeof HealthQuery>;

export const CheckQuery = z.strictObject({
  ...Paging,
  complexId: Id.optional(),
  cameraId: Id.optional(),
  result: z.enum(['ok', 'failed']).optional(),
});
export type CheckQueryInput = z.input<typeof CheckQuery>;

export const DefectQuery = z.strictObject({
  ...Paging,
  complexId: Id.optional(),
  cameraId: Id.optional(),
  status: z.enum(['open', 'closed', 'all']).default('all'),
});
export type DefectQueryInput = z.input<typeof DefectQuery>;

/** A manual check (W 6.6): the same check as the periodic one, made by a person, with a note. */
export const ManualCheck = z.strictObject({
  cameraId: Id,
  note: z.string().trim().min(1).max(1000).optional(),
});
export type ManualCheckInput = z.input<typeof ManualCheck>;
