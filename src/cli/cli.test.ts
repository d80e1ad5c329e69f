import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../db/database.js';
import { loadConfig } from '../config/config.js';
import { HOUR, ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { openRuntime } from '../server.js';
import { addIncident, principal, seedRegistry, START } from '../../test/access-fixtures.js';
import { cli } from '../../test/cli.js';
import { testDataDir } from '../../test/db.js';

describe('protocam policy', () => {
  it('check passes on both presets; the MaasWonen first-copy fee is a warning citing GDPR 12(5) (M 4)', async () => {
    const m = await cli(['policy', 'check', 'maaswonen-2024'], {});
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/warning fees\.firstCopy.*GDPR 12\(5\).*fee-first-copy/);
    const w = await cli(['policy', 'check', 'wooninvest-2021'], {});
    expect(w.code).toBe(0);
    expect(w.out).not.toContain('fee-first-copy');
  });

  it('check of an invalid file exits 1 naming the field', async () => {
    const dir = testDataDir();
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'id: broken\nname: 12\n');
    const result = await cli(['policy', 'check', file], {});
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/error\s+name: /);
  });

  it('show prints the policy in force from PROTOCAM_POLICY with its retention (W 6.3: 72 hours)', async () => {
    const result = await cli(['policy', 'show'], { PROTOCAM_POLICY: 'wooninvest-2021' });
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/footage\s+72 hours\s+\[W 6\.3/);
  });

  it('an unknown policy in the configuration is a message naming it, not a crash', async () => {
    const result = await cli(['policy', 'show'], { PROTOCAM_POLICY: 'nopolicy-2020' });
    expect(result.code).toBe(1);
    expect(result.err).toContain('nopolicy-2020');
  });
});

describe('protocam migrate and audit verify', () => {
  it('migrate creates the database; audit verify passes, then fails naming an edited record', async () => {
    const dataDir = testDataDir();
    const env = { PROTOCAM_DATA_DIR: dataDir };
    expect((await cli(['migrate'], env)).out).toContain('0001_foundation');
    expect((await cli(['migrate'], env)).out).toContain('up to date');
    expect(existsSync(join(dataDir, 'protocam.db'))).toBe(true);

    // Opening a runtime records the policy in force in the audit trail.
    const ok = await cli(['audit', 'verify'], env);
    expect(ok.code).toBe(0);

    const db = openDatabase(`sqlite:${join(dataDir, 'protocam.db')}`);
    await sql`insert into audit_events (seq, id, occurred_at, actor_label, action, target_type, outcome, prev_hash, hash)
              values (99, 'forged', 0, 'mallory', 'user.updated', 'user', 'success', 'x', 'y')`.execute(db.kysely);
    await db.close();
    const bad = await cli(['audit', 'verify'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('broken at record');
  });

  it('a wrong configuration value stops the command with the variable name', async () => {
    const result = await cli(['migrate'], { PROTOCAM_DATABASE_URL: 'mysql://nope' });
    expect(result.code).toBe(1);
    expect(result.err).toContain('PROTOCAM_DATABASE_URL');
  });
});

describe('protocam user', () => {
  it('add prints a one-time sign-in link; reset-password issues a new one; both are audited', async () => {
    const dataDir = testDataDir();
    const env = { PROTOCAM_DATA_DIR: dataDir, PROTOCAM_PORT: '9123' };
    const added = await cli(['user', 'add', 'Marieke', '--roles', 'huismeester', '--name', 'Marieke de Vries'], env);
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/User marieke added with role\(s\) huismeester/);
    expect(added.out).toMatch(/http:\/\/127\.0\.0\.1:9123\/#\/first-sign-in\?token=[\w-]{20,}/);

    const reset = await cli(['user', 'reset-password', 'marieke'], env);
    expect(reset.code).toBe(0);
    expect(reset.out).toContain('sessions are ended');

    const db = openDatabase(`sqlite:${join(dataDir, 'protocam.db')}`);
    const actions = await db.kysely
      .selectFrom('audit_events')
      .select(['action', 'actor_label'])
      .where('actor_label', '=', 'cli')
      .execute();
    await db.close();
    expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(['user.created', 'user.password-reset']));
  });

  it('refuses an unknown role and a bad field with a message naming it', async () => {
    const env = { PROTOCAM_DATA_DIR: testDataDir() };
    const unknownRole = await cli(['user', 'add', 'piet', '--roles', 'opzichter'], env);
    expect(unknownRole.code).toBe(1);
    expect(unknownRole.err).toContain('opzichter');
    const badLanguage = await cli(['user', 'add', 'piet', '--roles', 'huismeester', '--language', 'de'], env);
    expect(badLanguage.code).toBe(1);
    expect(badLanguage.err).toContain('language');
    const missing = await cli(['user', 'reset-password', 'nobody'], env);
    expect(missing.code).toBe(1);
  });
});

describe('protocam logbook', () => {
  it('verify passes on a real consultation, export prints it as CSV, and a tampered reason fails verify', async () => {
    const dataDir = testDataDir();
    const env = { PROTOCAM_DATA_DIR: dataDir };
    const clock = new ManualClock(START);
    const runtime = await openRuntime(loadConfig(env), clock, createLogger('silent'));
    try {
      const seed = await seedRegistry(runtime.db.kysely, clock.now());
      const incidentId = await addIncident(runtime.db.kysely, clock.now());
      const outcome = await runtime.gate.requestAccess(principal('u-huismeester', ['huismeester']), {
        purpose: 'incident-assessment',
        category: 'footage',
        scope: { cameraIds: [seed.cameraIds[0]] },
        from: clock.now() - 3 * HOUR,
        to: clock.now() - 2 * HOUR,
        reason: 'Vernieling van de lift',
        incidentId,
      });
      expect(outcome.status).toBe('granted');
    } finally {
      await runtime.db.close();
    }

    const ok = await cli(['logbook', 'verify'], env, clock);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('1 records verified');
    const walked = await cli(['logbook', 'verify', '--strategy', 'walk'], env, clock);
    expect(walked).toMatchObject({ code: 0, out: expect.stringContaining('1 records verified') });
    const unknown = await cli(['logbook', 'verify', '--strategy', 'trust-me'], env, clock);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain('auto, ranges, walk');
    const exported = await cli(['logbook', 'export'], env, clock);
    expect(exported.code).toBe(0);
    expect(exported.out).toContain('Vernieling van de lift');

    const db = openDatabase(`sqlite:${join(dataDir, 'protocam.db')}`);
    // The reason column is generated from the hashed body (0006_logbook_chain): edit the body itself.
    await sql`update logbook_records set body = replace(body, 'Vernieling van de lift', 'Routinecontrole') where seq = 1`.execute(
      db.kysely,
    );
    const exports = await db.kysely
      .selectFrom('audit_events')
      .select('action')
      .where('action', '=', 'logbook.export-csv')
      .execute();
    await db.close();
    expect(exports).toHaveLength(1);
    const bad = await cli(['logbook', 'verify'], env, clock);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('broken at record 1');
    for (const strategy of ['walk', 'ranges']) {
      const badToo = await cli(['logbook', 'verify', '--strategy', strategy], env, clock);
      expect(badToo).toMatchObject({ code: 1, err: expect.stringContaining('broken at record 1') });
    }
  });
});

describe('protocam door-events import', () => {
  it('stores the good rows of a CSV file, reports bad ones by line, and refuses an unreadable file', async () => {
    const dataDir = testDataDir();
    const env = { PROTOCAM_DATA_DIR: dataDir, PROTOCAM_POLICY: 'maaswonen-2024' };
    const clock = new ManualClock(START);
    const runtime = await openRuntime(loadConfig(env), clock, createLogger('silent'));
    let sourceId: string;
    let doorCode: string;
    try {
      const seed = await seedRegistry(runtime.db.kysely, clock.now());
      const door = await runtime.db.kysely
        .selectFrom('doors')
        .select('code')
        .where('id', '=', seed.doorIds[0])
        .executeTakeFirstOrThrow();
      doorCode = door.code;
      const source = await runtime.doorEvents.createSource(
        { id: null, label: 'test' },
        {
          name: 'Export hoofdingang',
          kind: 'csv',
          doorScope: [seed.doorIds[0]],
          csvMapping: { sourceEventId: 'id', occurredAt: 'time', door: 'door', tag: 'tag', result: 'result' },
        },
      );
      sourceId = source.id;
    } finally {
      await runtime.db.close();
    }
    const file = join(dataDir, 'export.csv');
    writeFileSync(
      file,
      [
        'id,time,door,tag,result',
        `1,2026-03-01T20:15:00+01:00,${doorCode},TAG-0042,granted`,
        `2,not a time,${doorCode},TAG-0042,granted`,
        `3,2026-03-01T20:16:00+01:00,D-unknown,TAG-0042,granted`,
      ].join('\n'),
    );

    const result = await cli(['door-events', 'import', file, '--source', sourceId], env, clock);
    expect(result.code).toBe(0);
    expect(result.out).toContain('3 rows: 1 stored');
    expect(result.out).toMatch(/line 3: occurred-at-invalid/);
    expect(result.out).toMatch(/line 4: door-unknown/);

    const again = await cli(['door-events', 'import', file, '--source', sourceId], env, clock);
    expect(again.out).toContain('0 stored, 1 duplicate');

    const missing = await cli(['door-events', 'import', join(dataDir, 'nope.csv'), '--source', sourceId], env, clock);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read');
  });
});

describe('protocam serve as a real process', () => {
  it('starts on the embedded default, creates secrets 0600, answers health, and stops on SIGTERM', async () => {
    const dataDir = testDataDir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      env: { ...process.env, PROTOCAM_DATA_DIR: dataDir, PROTOCAM_PORT: '0', PROTOCAM_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start line; output: ${output}`)), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /running at (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const health = (await (await fetch(`${url}/api/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');

    // The printed one-time sign-in works once: the first administrator chooses a password.
    const token = /first-sign-in\?token=([\w-]+)/.exec(output)?.[1];
    expect(token).toBeDefined();
    const signIn = await fetch(`${url}/api/auth/one-time`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, newPassword: 'a long and good passphrase' }),
    });
    expect(signIn.status).toBe(200);
    const again = await fetch(`${url}/api/auth/one-time`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, newPassword: 'another long passphrase' }),
    });
    expect(again.status).toBe(401);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
