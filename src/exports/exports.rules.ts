/**
 * Pure rules of exports: which purposes may take footage out of Protocam, how a window is cut
 * from segments, the manifest, and comparing an export directory with its manifest.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { Purpose } from '../policy/index.js';

/**
 * Purposes whose grant may export footage as files. A copy leaves Protocam's access control,
 * so only purposes whose point is a copy:
 * - subject-access: the data subject receives a digital copy (M 4, W 4.1, GDPR 15(3));
 * - disclosure: provision to the police, an insurer or a court (M 5, W 5.1);
 * - incident-handling: managers and lawyers handling an incident, e.g. for proceedings (M 6.3, M 5.3).
 * Not incident-assessment (M 3.5, W intro: footage is viewed to judge an incident; securing it
 * is a hold, not a copy) and not technical-check (M 6.5, W 6.6: technical reasons only).
 * The gate has already checked that the role may use the purpose on footage under the policy.
 */
export const EXPORT_PURPOSES: readonly Purpose[] = ['subject-access', 'disclosure', 'incident-handling'];

/** Most cameras in one export, and the longest window: an export is evidence, not an archive. */
export const MAX_EXPORT_CAMERAS = 16;
export const MAX_EXPORT_WINDOW_MS = 24 * 60 * 60 * 1000;

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
export const MANIFEST_FORMAT = 'protocam-export/1';

/** The MP4 of one camera inside an export directory. */
export const cameraFileName = (cameraId: string): string => `camera-${cameraId}.mp4`;
/** Names a download may ask for: what Protocam writes, nothing with a path in it. */
export const EXPORT_FILE_NAME = /^(camera-[0-9A-Za-z-]{1,64}\.mp4|manifest\.json|manifest\.sig)$/;

export interface CutSegment {
  id: string;
  startAt: number;
  endAt: number;
  sha256: string;
}

export interface CutEntry {
  segment: CutSegment;
  /** Seconds from the segment's start where the cut begins (first segment only, when inside it). */
  inSeconds?: number;
  /** Seconds from the segment's start where the cut ends (last segment only, when inside it). */
  outSeconds?: number;
}

/** The segments (already those overlapping the window, in order) with in/out points for [from, to]. */
export function planCut(segments: readonly CutSegment[], from: number, to: number): CutEntry[] {
  return segments.map((segment, i) => {
    const entry: CutEntry = { segment };
    if (i === 0 && from > segment.startAt) entry.inSeconds = (from - segment.startAt) / 1000;
    if (i === segments.length - 1 && to < segment.endAt) entry.outSeconds = (to - segment.startAt) / 1000;
    return entry;
  });
}

/**
 * The last keyframe at or before `seconds` (stream copy can only start on a keyframe); the
 * first one when none is earlier. Keyframes are in the same time base as `seconds`.
 */
export function keyframeAtOrBefore(keyframes: readonly number[], seconds: number): number | undefined {
  let best: number | undefined;
  for (const k of keyframes) if (k <= seconds + 1e-6 && (best === undefined || k > best)) best = k;
  return best ?? keyframes[0];
}

/** The first keyframe at or after `seconds`; undefined when there is none. */
export function keyframeAtOrAfter(keyframes: readonly number[], seconds: number): number | undefined {
  let best: number | undefined;
  for (const k of keyframes) if (k >= seconds - 1e-6 && (best === undefined || k < best)) best = k;
  return best;
}

/**
 * Where a stream-copy cut starts, for an asked start `wanted` (seconds in the file's time base)
 * and the earliest instant the grant covers, `earliest` (same base): the keyframe at or before,
 * so the export covers the whole request, unless that lies before what the grant covers; then
 * the keyframe after. Either way within one keyframe interval of the request.
 */
export function cutStart(keyframes: readonly number[], wanted: number, earliest: number): number {
  const before = keyframeAtOrBefore(keyframes, wanted);
  if (before !== undefined && before >= earliest - 1e-6) return before;
  return keyframeAtOrAfter(keyframes, wanted) ?? wanted;
}

/** Gaps between consecutive segments (recorder restarts, camera away), which the MP4 closes up. */
export function gapsBetween(segments: readonly CutSegment[], toleranceMs = 500): { from: number; to: number }[] {
  const gaps: { from: number; to: number }[] = [];
  for (let i = 1; i < segments.length; i++) {
    const a = segments[i - 1]!;
    const b = segments[i]!;
    if (b.startAt - a.endAt > toleranceMs) gaps.push({ from: a.endAt, to: b.startAt });
  }
  return gaps;
}

/** One line of an ffconcat file naming a file, quoted the way the concat demuxer reads it. */
export const concatQuote = (path: string): string => `'${path.replaceAll("'", "'\\''")}'`;

export function concatScript(entries: readonly { path: string; inpoint?: number; outpoint?: number }[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const e of entries) {
    lines.push(`file ${concatQuote(e.path)}`);
    if (e.inpoint !== undefined) lines.push(`inpoint ${e.inpoint.toFixed(6)}`);
    if (e.outpoint !== undefined) lines.push(`outpoint ${e.outpoint.toFixed(6)}`);
  }
  return `${lines.join('\n')}\n`;
}

// --- manifest -------------------------------------------------------------------------------

export interface ManifestWindow {
  from: string;
  to: string;
}

export interface ManifestFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface ManifestCamera {
  cameraId: string;
  name: string | null;
  /** Null when the camera recorded nothing in the window. */
  file: string | null;
  requestedWindow: ManifestWindow;
  /** Where the cut really starts and ends (keyframes), measured with ffprobe; null without a file. */
  actualWindow: ManifestWindow | null;
  durationSeconds: number | null;
  /** Periods inside the window without recordings; the MP4 plays across them without a pause. */
  gaps: ManifestWindow[];
  sourceSegments: { id: string; start: string; end: string; sha256: string }[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  exportId: string;
  protocamVersion: string;
  createdAt: string;
  finishedAt: string;
  createdBy: { userId: string; label: string };
  purpose: string;
  grantId: string;
  logbookEntryId: string;
  incidentId: string | null;
  requestId: string | null;
  disclosureId: string | null;
  requestedWindow: ManifestWindow;
  actualWindow: ManifestWindow | null;
  cameras: ManifestCamera[];
  files: ManifestFile[];
  signature: { algorithm: 'Ed25519'; file: typeof SIGNATURE_FILE; publicKeyFingerprint: string };
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** SHA-256 over the DER (SPKI) encoding of a public key, hex: what manifests and `verify` print. */
export function keyFingerprint(publicKey: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

/** The manifest's bytes: stable key order, indented for people, ending with a newline. */
export function manifestBytes(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

// --- verification ---------------------------------------------------------------------------

export interface FoundFile {
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * What differs between a manifest's file list and the files found next to it: changed,
 * missing and unexpected files, one message each. Empty when they match exactly.
 */
export function compareFiles(listed: readonly ManifestFile[], found: readonly FoundFile[]): string[] {
  const problems: string[] = [];
  const byName = new Map(found.map((f) => [f.name, f]));
  const listedNames = new Set<string>();
  for (const file of listed) {
    listedNames.add(file.name);
    const actual = byName.get(file.name);
    if (!actual) problems.push(`missing: ${file.name}`);
    else if (actual.sha256 !== file.sha256 || actual.bytes !== file.bytes) {
      problems.push(
        `changed: ${file.name} (sha256 ${actual.sha256}, ${actual.bytes} bytes; manifest says ${file.sha256}, ${file.bytes} bytes)`,
      );
    }
  }
  for (const file of found) {
    if (!listedNames.has(file.name) && file.name !== MANIFEST_FILE && file.name !== SIGNATURE_FILE) {
      problems.push(`unexpected file: ${file.name}`);
    }
  }
  return problems;
}
