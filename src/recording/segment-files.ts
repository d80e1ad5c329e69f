/**
 * Where segment files live and how one is sealed before it is indexed. Files are written by
 * ffmpeg directly in their final place, `<dataDir>/recordings/<cameraId>/<runStamp>-<index>.ts`;
 * `segments.file` holds the path relative to `<dataDir>/recordings` with `/` separators.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, unlink, type FileHandle } from 'node:fs/promises';
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

/**
 * Read buffers for sealing: a few, grown to the largest segment seen and reused. Every camera
 * closes a segment at about the same time, and a fresh multi-megabyte buffer per file costs
 * page faults and, worse, full garbage collections (V8 counts external memory). Hashing runs
 * on the main thread anyway, so two buffers keep one file hashing while the next is read;
 * further seals wait for a buffer (a few ms each), their fdatasync does not.
 */
const SEAL_BUFFERS = 2;
const SEAL_BUFFER_MIN_BYTES = 1024 * 1024;
const idleSealBuffers: Buffer[] = [];
let sealBuffersOut = 0;
const sealBufferWaiters: (() => void)[] = [];
/** The largest file sealed so far: buffers are sized for it, so a seal is one read. */
let largestSealed = 0;

async function takeSealBuffer(): Promise<Buffer> {
  while (idleSealBuffers.length === 0 && sealBuffersOut >= SEAL_BUFFERS) {
    await new Promise<void>((resolve) => sealBufferWaiters.push(resolve));
  }
  sealBuffersOut += 1;
  const buffer = idleSealBuffers.pop();
  // One byte more than the largest file, so a file of that size ends with a short read.
  if (buffer && buffer.length > largestSealed) return buffer;
  // Room to grow: segments of one camera vary in size with the scene.
  return Buffer.allocUnsafeSlow(Math.max(SEAL_BUFFER_MIN_BYTES, Math.ceil(largestSealed * 1.25) + 1));
}

function returnSealBuffer(buffer: Buffer): void {
  sealBuffersOut -= 1;
  idleSealBuffers.push(buffer);
  sealBufferWaiters.shift()?.();
}

/**
 * Reads a closed file once to hash it and syncs it, so the row written afterwards never
 * points at bytes that a power cut could still take back. The file was just written, so the
 * read comes from the page cache. The file is closed (it no longer grows), so it is read to
 * its end without asking its size first: one read into a buffer larger than any segment so
 * far (a short read is the end), hashed in one update. fdatasync on the open descriptor
 * flushes the data and the size, not the times, which nobody needs back after a crash.
 * SHA-256 itself is most of the cost (see bench/recording-cpu).
 */
export async function sealFile(path: string): Promise<SealedFile> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    const buffer = await takeSealBuffer();
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        bytes += bytesRead;
        if (bytesRead < buffer.length) break;
      }
    } finally {
      returnSealBuffer(buffer);
    }
    largestSealed = Math.max(largestSealed, bytes);
    await handle.datasync();
    return { bytes, sha256: hash.digest('hex') };
  } finally {
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

/** A directory opened for fsyncDirectoryHandle (the recorder keeps each camera's open). */
export function openDirectory(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY);
}

/** fsyncDirectory on a directory kept open. */
export async function fsyncDirectoryHandle(handle: FileHandle): Promise<void> {
  try {
    await handle.sync();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
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
