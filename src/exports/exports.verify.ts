/**
 * `protocam export verify <path>`: checks an export directory against its signed manifest:
 * the Ed25519 signature over the manifest's bytes, the key's fingerprint, every listed file's
 * SHA-256 and size, and that no file was added or removed. Reads files only; no database.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../lib/errors.js';
import { loadOrCreateSecrets, SECRETS_FILE } from '../lib/secrets.js';
import {
  compareFiles,
  keyFingerprint,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  SIGNATURE_FILE,
  type FoundFile,
  type Manifest,
} from './exports.rules.js';

export interface ExportVerifyResult {
  ok: boolean;
  /** One line per difference; empty when ok. */
  problems: string[];
  /** Files whose hash matched the manifest. */
  verifiedFiles: number;
  manifest?: Manifest;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseManifest(bytes: Buffer): Manifest | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as Manifest;
    if (value.format !== MANIFEST_FORMAT || !Array.isArray(value.files)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

export async function verifyExport(directory: string, publicKey: KeyObject): Promise<ExportVerifyResult> {
  const problems: string[] = [];
  let entries: string[];
  try {
    if (!(await stat(directory)).isDirectory())
      return { ok: false, problems: [`not a directory: ${directory}`], verifiedFiles: 0 };
    entries = await readdir(directory);
  } catch {
    return { ok: false, problems: [`cannot read ${directory}`], verifiedFiles: 0 };
  }
  const manifestRaw = await readOptional(join(directory, MANIFEST_FILE));
  if (!manifestRaw) return { ok: false, problems: [`missing: ${MANIFEST_FILE}`], verifiedFiles: 0 };
  const signatureText = await readOptional(join(directory, SIGNATURE_FILE));
  if (!signatureText) problems.push(`missing: ${SIGNATURE_FILE}`);
  else {
    const signature = Buffer.from(signatureText.toString('utf8').trim(), 'base64');
    if (signature.length !== 64 || !verify(null, manifestRaw, publicKey, signature)) {
      problems.push(
        'signature: does not match the manifest with this key (the manifest was changed, or signed by another key)',
      );
    }
  }
  const manifest = parseManifest(manifestRaw);
  if (!manifest)
    return { ok: false, problems: [...problems, `${MANIFEST_FILE}: not a Protocam export manifest`], verifiedFiles: 0 };
  const fingerprint = keyFingerprint(publicKey);
  if (manifest.signature?.publicKeyFingerprint !== fingerprint) {
    problems.push(
      `key: the manifest names key ${manifest.signature?.publicKeyFingerprint}, verifying with ${fingerprint}`,
    );
  }
  const found: FoundFile[] = [];
  for (const name of entries.sort()) {
    const path = join(directory, name);
    const info = await stat(path);
    if (!info.isFile()) {
      problems.push(`unexpected entry: ${name}`);
      continue;
    }
    if (name === MANIFEST_FILE || name === SIGNATURE_FILE) continue;
    found.push({ name, bytes: info.size, sha256: await sha256Of(path) });
  }
  const fileProblems = compareFiles(manifest.files, found);
  problems.push(...fileProblems);
  const bad = new Set(fileProblems.map((p) => p.split(': ')[1]?.split(' ')[0]));
  const verifiedFiles = manifest.files.filter((f) => !bad.has(f.name) && found.some((x) => x.name === f.name)).length;
  return { ok: problems.length === 0, problems, verifiedFiles, manifest };
}

/**
 * The key to verify with: `--public-key <file>` (PEM, e.g. from GET /api/exports/public-key),
 * else the installation's own key from `<dataDir>/secrets.json`. Never creates secrets: on a
 * machine without an installation, the key must be given.
 */
export function loadVerifyKey(publicKeyFile: string | undefined, dataDir: string): KeyObject {
  if (publicKeyFile !== undefined) {
    try {
      return createPublicKey(readFileSync(publicKeyFile));
    } catch (error) {
      throw invalid(
        'public-key-unreadable',
        `Cannot read a public key from ${publicKeyFile}: ${(error as Error).message}`,
      );
    }
  }
  if (!existsSync(join(dataDir, SECRETS_FILE))) {
    throw invalid('public-key-missing', `No installation key in ${dataDir}; pass --public-key <file>`);
  }
  return loadOrCreateSecrets(dataDir).verifyKey;
}

/** Prints the outcome the way `protocam export verify` shows it; returns the exit code. */
export async function exportVerifyCommand(
  directory: string,
  key: KeyObject,
  io: { out(line: string): void; err(line: string): void },
): Promise<number> {
  const result = await verifyExport(directory, key);
  if (result.ok) {
    io.out(
      `Export ${result.manifest?.exportId} intact: signature valid (${keyFingerprint(key)}), ` +
        `${result.verifiedFiles} file(s) match the manifest.`,
    );
    return 0;
  }
  io.err(`Export at ${directory} does NOT verify:`);
  for (const problem of result.problems) io.err(`  ${problem}`);
  return 1;
}
