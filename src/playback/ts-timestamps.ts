/**
 * Moves every timestamp (PES PTS/DTS and PCR) of an MPEG-TS segment by a fixed amount, without
 * decoding: the recorder starts each segment at zero (`-reset_timestamps 1`, so each file plays
 * on its own), while HLS clients expect one timeline across the segments of a playlist. Each
 * segment is served on the timeline of its wall-clock start, so hls.js and ffmpeg see
 * continuous time within a run and a forward jump (plus EXT-X-DISCONTINUITY) at a gap.
 * Pure, operates on a copy; packets it does not understand are passed through unchanged.
 */

export const TS_PACKET = 188;
/** PTS, DTS and PCR base wrap at 2^33 ticks of 90 kHz (about 26.5 hours). */
const WRAP = 2 ** 33;
export const TICKS_PER_MS = 90;

const readTimestamp = (b: Buffer, i: number): number =>
  ((b[i]! >> 1) & 0x07) * 2 ** 30 +
  ((b[i + 1]! << 7) | (b[i + 2]! >> 1)) * 2 ** 15 +
  ((b[i + 3]! << 7) | (b[i + 4]! >> 1));

function writeTimestamp(b: Buffer, i: number, value: number): void {
  const high = Math.floor(value / 2 ** 30) & 0x07;
  const mid = Math.floor(value / 2 ** 15) & 0x7fff;
  const low = value % 2 ** 15;
  b[i] = (b[i]! & 0xf0) | (high << 1) | 0x01;
  b[i + 1] = mid >> 7;
  b[i + 2] = ((mid & 0x7f) << 1) | 0x01;
  b[i + 3] = low >> 7;
  b[i + 4] = ((low & 0x7f) << 1) | 0x01;
}

const wrap = (value: number): number => ((value % WRAP) + WRAP) % WRAP;

/** Stream ids whose PES packets have no optional header (ISO 13818-1 table 2-21). */
const NO_PES_HEADER = new Set([0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xf2, 0xf8, 0xff]);

interface PesTimestamps {
  streamId: number;
  /** The adaptation field's random_access_indicator: ffmpeg sets it on every video keyframe. */
  randomAccess: boolean;
  pts?: number;
  dts?: number;
  /** Offsets of the 5-byte fields in the packet buffer. */
  ptsAt?: number;
  dtsAt?: number;
}

/** Where the payload starts and, at a PES start, where its timestamps are. */
function inspect(b: Buffer, p: number): { pcrAt?: number; pes?: PesTimestamps } {
  const out: { pcrAt?: number; pes?: PesTimestamps } = {};
  const pusi = (b[p + 1]! & 0x40) !== 0;
  const afc = (b[p + 3]! >> 4) & 0x03;
  let payload = p + 4;
  if (afc & 0x02) {
    const afLength = b[p + 4]!;
    if (afLength > 0 && b[p + 5]! & 0x10 && afLength >= 7) out.pcrAt = p + 6;
    payload = p + 5 + afLength;
  }
  if (!(afc & 0x01) || !pusi || payload + 14 > p + TS_PACKET) return out;
  if (b[payload] !== 0 || b[payload + 1] !== 0 || b[payload + 2] !== 1) return out;
  if (NO_PES_HEADER.has(b[payload + 3]!)) return { ...out, pes: { streamId: b[payload + 3]!, randomAccess: false } };
  const flags = b[payload + 7]! >> 6;
  const randomAccess = (afc & 0x02) !== 0 && b[p + 4]! > 0 && (b[p + 5]! & 0x40) !== 0;
  const pes: PesTimestamps = { streamId: b[payload + 3]!, randomAccess };
  if (flags & 0x02) {
    pes.ptsAt = payload + 9;
    pes.pts = readTimestamp(b, pes.ptsAt);
  }
  if (flags === 0x03 && payload + 19 <= p + TS_PACKET) {
    pes.dtsAt = payload + 14;
    pes.dts = readTimestamp(b, pes.dtsAt);
  }
  out.pes = pes;
  return out;
}

/** The decoding time of the first PES with a timestamp, in 90 kHz ticks; undefined if none. */
export function firstTimestamp(ts: Buffer): number | undefined {
  for (let p = 0; p + TS_PACKET <= ts.length; p += TS_PACKET) {
    if (ts[p] !== 0x47) continue;
    const { pes } = inspect(ts, p);
    const t = pes?.dts ?? pes?.pts;
    if (t !== undefined) return t;
  }
  return undefined;
}

/** A copy of `ts` with every PTS, DTS and PCR base moved by `deltaTicks` (modulo 2^33). */
export function shiftTimestamps(ts: Buffer, deltaTicks: number): Buffer {
  const out = Buffer.from(ts);
  for (let p = 0; p + TS_PACKET <= out.length; p += TS_PACKET) {
    if (out[p] !== 0x47) continue;
    const { pcrAt, pes } = inspect(out, p);
    if (pcrAt !== undefined) {
      // PCR: 33-bit base, 6 reserved bits, 9-bit extension; only the base moves.
      const b = out;
      const base =
        b[pcrAt]! * 2 ** 25 +
        b[pcrAt + 1]! * 2 ** 17 +
        b[pcrAt + 2]! * 2 ** 9 +
        b[pcrAt + 3]! * 2 +
        (b[pcrAt + 4]! >> 7);
      const moved = wrap(base + deltaTicks);
      b[pcrAt] = Math.floor(moved / 2 ** 25) & 0xff;
      b[pcrAt + 1] = Math.floor(moved / 2 ** 17) & 0xff;
      b[pcrAt + 2] = Math.floor(moved / 2 ** 9) & 0xff;
      b[pcrAt + 3] = Math.floor(moved / 2) & 0xff;
      b[pcrAt + 4] = (b[pcrAt + 4]! & 0x7f) | ((moved % 2) << 7);
    }
    if (pes?.ptsAt !== undefined && pes.pts !== undefined) writeTimestamp(out, pes.ptsAt, wrap(pes.pts + deltaTicks));
    if (pes?.dtsAt !== undefined && pes.dts !== undefined) writeTimestamp(out, pes.dtsAt, wrap(pes.dts + deltaTicks));
  }
  return out;
}

const isVideo = (streamId: number): boolean => streamId >= 0xe0 && streamId <= 0xef;

/**
 * A copy of `ts` with only the access units that fall in [fromTicks, toTicks) (PTS, 90 kHz),
 * cut without decoding: the start moves back to the last video keyframe at or before
 * `fromTicks` (a decoder needs it), never further; tables (PAT, PMT) are kept. Used to serve
 * only what a grant covers of a segment that straddles the edge of its window. When the file
 * marks no keyframes, nothing before `toTicks` is dropped: a cut there would not decode.
 */
export function trimToWindow(ts: Buffer, fromTicks: number, toTicks: number): Buffer {
  let keyStart: number | undefined;
  let firstVideo: number | undefined;
  for (let p = 0; p + TS_PACKET <= ts.length; p += TS_PACKET) {
    if (ts[p] !== 0x47) continue;
    const { pes } = inspect(ts, p);
    if (!pes || pes.pts === undefined || !isVideo(pes.streamId)) continue;
    firstVideo ??= pes.pts;
    if (pes.randomAccess && pes.pts <= fromTicks && (keyStart === undefined || pes.pts > keyStart)) keyStart = pes.pts;
  }
  const start = keyStart ?? firstVideo ?? 0;
  const kept: Buffer[] = [];
  const keepPid = new Map<number, boolean>();
  for (let p = 0; p + TS_PACKET <= ts.length; p += TS_PACKET) {
    const packet = ts.subarray(p, p + TS_PACKET);
    if (packet[0] !== 0x47) continue;
    const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
    const pusi = (packet[1]! & 0x40) !== 0;
    if (pusi) {
      const { pes } = inspect(ts, p);
      // A PES start decides for its packets; any other unit start is a table, always kept.
      keepPid.set(pid, pes?.pts === undefined ? !pes : pes.pts >= start && pes.pts < toTicks);
    }
    if (keepPid.get(pid) ?? true) kept.push(packet);
  }
  return Buffer.concat(kept);
}

export interface TsTiming {
  /** The earliest first PTS of any elementary stream, 90 kHz ticks: ffprobe's `start_time`. */
  startTicks: number;
  /** PTS of the video access units marked as random access (keyframes), ascending. */
  keyframeTicks: number[];
}

/**
 * Start time and keyframe times of an MPEG-TS file, without decoding or spawning ffprobe (the
 * export's in- and out-points). `start` reads only as far as every stream's first timestamp
 * when `keyframes` is false. Undefined when the bytes hold no timestamp at all.
 */
export function tsTiming(ts: Buffer, keyframes = true): TsTiming | undefined {
  const firstByStream = new Map<number, number>();
  const keyframeTicks: number[] = [];
  for (let p = 0; p + TS_PACKET <= ts.length; p += TS_PACKET) {
    if (ts[p] !== 0x47) continue;
    const { pes } = inspect(ts, p);
    if (!pes || pes.pts === undefined) continue;
    if (!firstByStream.has(pes.streamId)) firstByStream.set(pes.streamId, pes.pts);
    if (keyframes && pes.randomAccess && isVideo(pes.streamId)) keyframeTicks.push(pes.pts);
  }
  if (firstByStream.size === 0) return undefined;
  keyframeTicks.sort((a, b) => a - b);
  return { startTicks: Math.min(...firstByStream.values()), keyframeTicks };
}
