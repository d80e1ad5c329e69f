import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDataDir } from '../../test/db.js';
import { isDomainError } from '../lib/errors.js';
import { loadConfig } from './config.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isDomainError(error)) return error.message;
    throw error;
  }
  throw new Error('expected an error');
}

describe('configuration', () => {
  it('defaults to the embedded setup: SQLite and recordings under ./data, port 8080, Amsterdam time', () => {
    const config = loadConfig({}, '/srv/protocam');
    expect(config.dataDir).toBe('/srv/protocam/data');
    expect(config.databaseUrl).toBe('sqlite:/srv/protocam/data/protocam.db');
    expect(config.port).toBe(8080);
    expect(config.timeZone).toBe('Europe/Amsterdam');
    expect(config.secureCookies).toBe(false);
  });

  it('reads every documented variable', () => {
    const config = loadConfig(
      {
        PROTOCAM_DATA_DIR: '/var/lib/protocam',
        PROTOCAM_DATABASE_URL: 'postgres://u:p@db/protocam',
        PROTOCAM_HOST: '0.0.0.0',
        PROTOCAM_PORT: '9000',
        PROTOCAM_POLICY: 'wooninvest-2021',
        PROTOCAM_TIME_ZONE: 'Europe/Brussels',
        PROTOCAM_PUBLIC_URL: 'https://camera.example.nl',
      },
      '/x',
    );
    expect(config).toMatchObject({
      dataDir: '/var/lib/protocam',
      databaseUrl: 'postgres://u:p@db/protocam',
      host: '0.0.0.0',
      port: 9000,
      policy: 'wooninvest-2021',
      timeZone: 'Europe/Brussels',
      secureCookies: true,
    });
  });

  it.each([
    ['PROTOCAM_PORT', 'eighty'],
    ['PROTOCAM_PORT', '70000'],
    ['PROTOCAM_TIME_ZONE', 'Mars/Olympus'],
    ['PROTOCAM_DATABASE_URL', 'mysql://x'],
    ['PROTOCAM_LOG_LEVEL', 'loud'],
  ])('a wrong %s stops start-up with a message naming it', (name, value) => {
    expect(errorOf(() => loadConfig({ [name]: value }))).toContain(name);
  });

  it('reads an optional config file, with environment variables taking precedence', () => {
    const dir = testDataDir();
    const file = join(dir, 'protocam.yaml');
    writeFileSync(file, 'port: 9100\npolicy: wooninvest-2021\n');
    expect(loadConfig({ PROTOCAM_CONFIG_FILE: file }, dir)).toMatchObject({ port: 9100, policy: 'wooninvest-2021' });
    expect(loadConfig({ PROTOCAM_CONFIG_FILE: file, PROTOCAM_PORT: '9200' }, dir).port).toBe(9200);
  });

  it('names the file variable when the config file is missing or has unknown keys', () => {
    expect(errorOf(() => loadConfig({ PROTOCAM_CONFIG_FILE: '/nonexistent/protocam.yaml' }))).toContain(
      'PROTOCAM_CONFIG_FILE',
    );
    const dir = testDataDir();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(errorOf(() => loadConfig({ PROTOCAM_CONFIG_FILE: file }))).toMatch(/prot/);
  });
});
