/**
 * File-system adapters of the sweeper: deleting segment files and export directories, and the
 * free space of the recordings directory. Tests may inject a reading instead of a real statfs.
 */
import { rm, statfs, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { FreeSpaceReading } from './retention.rules.js';

export interface FileStore {
  /** Removes a file under `root`; a missing file counts as removed (an earlier run got to it). */
  removeFile(root: string, file: string): Promise<void>;
  /** Removes a directory tree under `root`. */
  removeDirectory(root: string, directory: string): Promise<void>;
}

/** Resolves `name` under `root`, refusing anything that would leave it (`..`, absolute paths). */
export function inside(root: string, name: string): string {
  const full = resolve(root, name);
  const rel = relative(resolve(root), full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
    throw new Error(`Refusing to erase outside ${root}: ${name}`);
  return full;
}

export const nodeFileStore: FileStore = {
  async removeFile(root, file) {
    try {
      await unlink(inside(root, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  },
  async removeDirectory(root, directory) {
    await rm(inside(root, directory), { recursive: true, force: true });
  },
};

export interface FreeSpace {
  read(path: string): Promise<FreeSpaceReading>;
}

/**
 * statfs of the file system holding `path` (bytes available to unprivileged users). Before the
 * recorder has created the directory, its nearest existing parent is on the same file system.
 */
export const statfsFreeSpace: FreeSpace = {
  async read(path) {
    let at = resolve(path);
    for (;;) {
      try {
        const s = await statfs(at);
        return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
      } catch (error) {
        const parent = dirname(at);
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw error;
        at = parent;
      }
    }
  },
};
