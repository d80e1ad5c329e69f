import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError } from './errors.js';

/**
 * The installation's secrets, generated on first start into `<dataDir>/secrets.json`
 * with mode 0600: a 256-bit key that encrypts credentials and tag-holder data at rest,
 * and the Ed25519 key that signs logbook heads and exports.
 */
export interface Secrets {
  readonly encryptionKey: Buffer;
  readonly signingKey: KeyObject;
  readonly verifyKey: KeyObject;
}

interface SecretsFile {
  version: 1;
  createdAt: string;
  encryptionKey: string;
  signingKeyPem: string;
}

export const SECRETS_FILE = 'secrets.json';

export function loadOrCreateSecrets(dataDir: string, now: () => number = Date.now): Secrets {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SECRETS_FILE);
  let file: SecretsFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as SecretsFile;
    // Tighten permissions if someone loosened them; secrets must never be group/world readable.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DomainError('internal', 'secrets-unreadable', `Cannot read ${path}: ${(error as Error).message}`);
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    file = {
      version: 1,
      createdAt: new Date(now()).toISOString(),
      encryptionKey: randomBytes(32).toString('base64'),
      signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    // 'wx' fails if another process created it meanwhile: never overwrite existing keys.
    writeFileSync(path, JSON.stringify(file, null, 2), { mode: 0o600, flag: 'wx' });
  }
  const signingKey = createPrivateKey(file.signingKeyPem);
  return {
    encryptionKey: Buffer.from(file.encryptionKey, 'base64'),
    signingKey,
    verifyKey: createPublicKey(signingKey),
  };
}

/** AES-256-GCM; the output is `v1.<iv>.<tag>.<ciphertext>` in base64url, safe to store as text. */
export function encryptText(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join(
    '.',
  );
}

export function decryptText(key: Buffer, sealed: string): string {
  const [version, iv, tag, data] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || data === undefined) {
    throw new DomainError('internal', 'ciphertext-invalid', 'Encrypted value has an unknown format');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}
