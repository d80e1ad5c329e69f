/**
 * An in-memory copy of hours of the segment index, for `listSegments` (recording.repository.ts).
 *
 * A day of one camera is 8,640 rows; reading them from the database costs 15-25 ms however the
 * query is written (most of it is SQLite stepping rows and the driver building strings), while
 * the segments of an hour change only when the recorder adds one (the current hour), or the
 * sweeper or reconciliation marks or removes some. The database keeps a counter per camera and
 * hour (`segment_buckets`, migration 0011), raised by triggers on every insert, update and
 * delete of a segment, by any process. A listing reads the counters of the hours it spans (one
 * small index read), reloads only the hours whose counter moved, and serves the rest from here.
 *
 * No SQL here: the repository reads the counters and rows, this holds them. Records are frozen,
 * because every listing hands out the same objects.
 */
import type { SegmentRecord } from './recording.repository.js';

/** One hour: the counters are per camera and `floor(start_at / BUCKET_MS)`. */
export const BUCKET_MS = 3_600_000;

export const bucketOf = (at: number): number => Math.floor(at / BUCKET_MS);

/**
 * Listings that span more hours than this go to the database directly (a week and a bit):
 * the cache is for playback and export windows, not for scans of a camera's whole history.
 */
export const MAX_BUCKETS_PER_LISTING = 24 * 8;

/** About 14 camera-days of 10-s segments; roughly 40 MB at most. */
export const DEFAULT_MAX_CACHED_SEGMENTS = 120_000;

interface CachedBucket {
  version: number;
  segments: readonly SegmentRecord[];
}

export class SegmentBucketCache {
  /** Keyed by camera and bucket; a Map keeps insertion order, which makes it an LRU list. */
  private readonly buckets = new Map<string, CachedBucket>();
  private held = 0;

  constructor(private readonly maxSegments = DEFAULT_MAX_CACHED_SEGMENTS) {}

  /** The cached segments of an hour if they were loaded at exactly this counter value. */
  get(cameraId: string, bucket: number, version: number): readonly SegmentRecord[] | undefined {
    const key = keyOf(cameraId, bucket);
    const cached = this.buckets.get(key);
    if (!cached) return undefined;
    if (cached.version !== version) {
      this.drop(key, cached);
      return undefined;
    }
    this.buckets.delete(key);
    this.buckets.set(key, cached);
    return cached.segments;
  }

  /**
   * Stores an hour read at counter `version`. The counter must have been read before the rows:
   * rows newer than the counter are then at worst reloaded once more, never served as current.
   */
  set(cameraId: string, bucket: number, version: number, segments: SegmentRecord[]): readonly SegmentRecord[] {
    const key = keyOf(cameraId, bucket);
    const old = this.buckets.get(key);
    if (old) this.drop(key, old);
    for (const segment of segments) Object.freeze(segment);
    const frozen = Object.freeze(segments);
    this.buckets.set(key, { version, segments: frozen });
    this.held += frozen.length;
    for (const [oldest, cached] of this.buckets) {
      if (this.held <= this.maxSegments) break;
      this.drop(oldest, cached);
    }
    return frozen;
  }

  /** How many segments are held (for tests and benchmarks). */
  get size(): number {
    return this.held;
  }

  private drop(key: string, cached: CachedBucket) {
    this.buckets.delete(key);
    this.held -= cached.segments.length;
  }
}

const keyOf = (cameraId: string, bucket: number) => `${cameraId}\u0000${bucket}`;

const caches = new WeakMap<object, SegmentBucketCache>();

/** The cache of one database handle (a Kysely instance); each test database has its own. */
export function segmentCacheFor(db: object): SegmentBucketCache {
  let cache = caches.get(db);
  if (!cache) {
    cache = new SegmentBucketCache();
    caches.set(db, cache);
  }
  return cache;
}
