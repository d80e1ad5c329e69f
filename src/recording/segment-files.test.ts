import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sealFile } from './segment-files.js';

const directory = mkdtempSync(join(tmpdir(), 'protocam-seal-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, bytes);
  return path;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('sealFile', () => {
  it('hashes and counts every byte, whatever the order of sizes (the read buffer is reused and grown)', async () => {
    // Larger than the initial buffer, then smaller, then larger again: a reused buffer must
    // never leak bytes of an earlier file into a hash.
    const contents = [randomBytes(3_000_001), randomBytes(1_000), randomBytes(5_500_000), Buffer.alloc(0)];
    const paths = contents.map((bytes, i) => file(`segment-${i}.ts`, bytes));
    for (const [i, path] of paths.entries()) {
      await expect(sealFile(path)).resolves.toEqual({ bytes: contents[i]!.length, sha256: sha256(contents[i]!) });
    }
  });

  it('seals files concurrently without mixing their bytes', async () => {
    const contents = Array.from({ length: 6 }, (_, i) => randomBytes(700_000 + i * 400_000));
    const paths = contents.map((bytes, i) => file(`concurrent-${i}.ts`, bytes));
    const sealed = await Promise.all(paths.map((path) => sealFile(path)));
    expect(sealed).toEqual(contents.map((bytes) => ({ bytes: bytes.length, sha256: sha256(bytes) })));
  });

  it('reports a missing file as ENOENT (the indexer treats it as gone)', async () => {
    await expect(sealFile(join(directory, 'gone.ts'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
