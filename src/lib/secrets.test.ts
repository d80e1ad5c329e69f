import { sign, verify } from 'node:crypto';
import { statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDataDir } from '../../test/db.js';
import { decryptText, encryptText, loadOrCreateSecrets, SECRETS_FILE } from './secrets.js';

describe('installation secrets', () => {
  it('are generated on first start with 0600 permissions and reused afterwards', () => {
    const dir = testDataDir();
    const first = loadOrCreateSecrets(dir);
    const path = join(dir, SECRETS_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const second = loadOrCreateSecrets(dir);
    expect(second.encryptionKey.equals(first.encryptionKey)).toBe(true);
    const message = Buffer.from('chain head');
    expect(verify(null, message, second.verifyKey, sign(null, message, first.signingKey))).toBe(true);
  });

  it('tightens loosened permissions on the secrets file', () => {
    const dir = testDataDir();
    loadOrCreateSecrets(dir);
    const path = join(dir, SECRETS_FILE);
    chmodSync(path, 0o644);
    loadOrCreateSecrets(dir);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('encrypts credentials so the stored text reveals nothing and tampering is detected', () => {
    const { encryptionKey } = loadOrCreateSecrets(testDataDir());
    const sealed = encryptText(encryptionKey, 'rtsp://admin:geheim@10.0.0.5/stream');
    expect(sealed).not.toContain('geheim');
    expect(decryptText(encryptionKey, sealed)).toBe('rtsp://admin:geheim@10.0.0.5/stream');
    const parts = sealed.split('.');
    const data = Buffer.from(parts[3]!, 'base64url');
    data[0] = data[0]! ^ 1;
    parts[3] = data.toString('base64url');
    expect(() => decryptText(encryptionKey, parts.join('.'))).toThrow();
  });
});
