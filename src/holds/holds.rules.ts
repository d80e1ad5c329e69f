/**
 * Holds (veiligstellen, W 2.4, M 2.4): pure rules. A hold is a set of time windows over
 * cameras, doors or tags; it keeps what it covers from the sweeper and copies nothing.
 * Data covered by any active hold is held (M 6.6, M 6.7: kept while the incident needs it).
 */
import { DAY } from '../lib/clock.js';

/** What justifies a hold; incidents now, requests, disclosures and police orders as they arrive. */
export const HOLD_LINK_TYPES = ['incident', 'request', 'disclosure', 'police-order'] as const;
export type HoldLinkType = (typeof HOLD_LINK_TYPES)[number];

export interface HoldScope {
  id: string;
  cameraIds: readonly string[];
  doorIds: readonly string[];
  tags: readonly string[];
  /** Window, epoch ms, [from, to). */
  from: number;
  to: number;
}

export interface SegmentSpan {
  cameraId: string;
  startAt: number;
  endAt: number;
}

export interface EventPoint {
  doorId: string;
  tagCode: string;
  occurredAt: number;
}

/**
 * A segment is held when it overlaps the window of a hold on its camera. The end is compared
 * inclusively (`endAt >= from`): a segment touching the window's start is kept too, which
 * errs on the side of keeping (never erase what a hold may need).
 */
export function segmentHeldBy(segment: SegmentSpan, hold: HoldScope): boolean {
  return hold.cameraIds.includes(segment.cameraId) && segment.startAt < hold.to && segment.endAt >= hold.from;
}

export const isSegmentHeld = (segment: SegmentSpan, holds: readonly HoldScope[]): boolean =>
  holds.some((hold) => segmentHeldBy(segment, hold));

/** A door event is held when it lies in the window of a hold on its door or on its tag. */
export function eventHeldBy(event: EventPoint, hold: HoldScope): boolean {
  if (event.occurredAt < hold.from || event.occurredAt >= hold.to) return false;
  return hold.doorIds.includes(event.doorId) || hold.tags.includes(event.tagCode);
}

export const isEventHeld = (event: EventPoint, holds: readonly HoldScope[]): boolean =>
  holds.some((hold) => eventHeldBy(event, hold));

/** An export is held when a hold covers one of its cameras in its window, or shares its link. */
export function exportHeld(
  exp: { cameraIds: readonly string[]; from: number; to: number; incidentId: string | null },
  holds: readonly (HoldScope & { linkType: string; linkId: string | null })[],
): boolean {
  return holds.some(
    (hold) =>
      (exp.incidentId !== null && hold.linkType === 'incident' && hold.linkId === exp.incidentId) ||
      (exp.cameraIds.some((c) => hold.cameraIds.includes(c)) && exp.from < hold.to && exp.to >= hold.from),
  );
}

/** The review date of a new hold: the policy's `deadlines.holdReviewDays` from now. */
export const reviewDate = (now: number, holdReviewDays: number): number => now + holdReviewDays * DAY;

export const isOverdue = (hold: { reviewAt: number; releasedAt: number | null }, now: number): boolean =>
  hold.releasedAt === null && hold.reviewAt <= now;

/** Problems with a requested scope, or null. */
export function scopeProblem(scope: {
  cameraIds: readonly string[];
  doorIds: readonly string[];
  tags: readonly string[];
  from: number;
  to: number;
}): string | null {
  if (scope.cameraIds.length + scope.doorIds.length + scope.tags.length === 0)
    return 'A hold needs at least one camera, door or tag';
  if (!(scope.from < scope.to)) return 'The window must end after it starts';
  return null;
}
