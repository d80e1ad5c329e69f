/**
 * Where segment files live and how one is sealed before it is indexed. Files are written by
 * ffmpeg directly in their final place, `<dataDir>/recordings/<cameraId>/<runStamp>-<index>.ts`;
 * `segments.file` holds the path relative to `<dataDir>/recordings` with `/` separators.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

export const RECORDINGS_DIRECTORY = 'recordings';

/** `<dataDir>/recordings`. */
export function recordingsDirectory(dataDir: string): string {
  return join(dataDir, RECORDINGS_DIRECTORY);
}

/** Camera ids are UUIDs; anything that could climb out of the recordings directory is refused. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isSafeCameraId(cameraId: string): boolean {
  return SAFE_ID.test(cameraId);
}

export function cameraDirectory(recordingsDir: string, cameraId: string): string {
  if (!isSafeCameraId(cameraId)) throw new RangeError('unsafe camera id for a directory name');
  return join(recordingsDir, cameraId);
}

/** The `segments.file` value of a segment file name. */
export function segmentFileOf(cameraId: string, name: string): string {
  return `${cameraId}/${name}`;
}

/**
 * The absolute path of a `segments.file` value. Refuses values that leave the recordings
 * directory, so a damaged row can never make playback or export read another file.
 */
export function resolveSegmentPath(recordingsDir: string, file: string): string {
  if (isAbsolute(file) || file.includes('\0')) throw new RangeError('segment file must be relative');
  const root = resolve(recordingsDir);
  const full = resolve(root, ...file.split('/'));
  if (!full.startsWith(root + sep)) throw new RangeError('segment file outside the recordings directory');
  return full;
}

/** The segment list ffmpeg writes for one run: `<cameraDir>/<runStamp>.csv`. */
export function runListPath(cameraDir: string, run: string): string {
  return join(cameraDir, `${run}.csv`);
}

export const RUN_LIST = /^(\d{8}T\d{9}Z)\.csv$/;

export interface SealedFile {
  bytes: number;
  sha256: string;
}

/** Read buffers for sealing, reused: a fresh large buffer per file costs page faults and zeroing in the kernel. */
const SEAL_BUFFER_BYTES = 1024 * 1024;
const sealBuffers: Buffer[] = [];
/** Cameras seal concurrently; more than this many idle buffers are left to the garbage collector. */
const MAX_IDLE_SEAL_BUFFERS = 4;

/**
 * Reads a closed file once to hash it and fsyncs it, so the row written afterwards never
 * points at bytes that a power cut could still take back. The file was just written, so the
 * read comes from the page cache; SHA-256 itself is most of the cost (see bench/recording-cpu).
 */
export async function sealFile(path: string): Promise<SealedFile> {
  const handle = await open(path, constants.O_RDONLY);
  const buffer = sealBuffers.pop() ?? Buffer.allocUnsafeSlow(SEAL_BUFFER_BYTES);
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    await handle.sync();
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    if (sealBuffers.length < MAX_IDLE_SEAL_BUFFERS) sealBuffers.push(buffer);
    await handle.close();
  }
}

/** Makes the directory entries (new and removed files) durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems refuse fsync on a directory (EINVAL); the file itself is synced.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** Unlinks a file; a file that is already gone is fine. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
