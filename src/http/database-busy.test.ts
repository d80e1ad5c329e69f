import { createServer } from 'node:net';
import SqliteDatabase from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPgDatabase, createTestDb, DIALECTS } from '../../test/db.js';
import { openDatabase, sqliteHandle, type Db } from '../db/database.js';
import { createLogger } from '../lib/logger.js';
import { waitFor } from '../../test/recording-fixtures.js';
import { buildApp } from './app.js';

/**
 * A write that cannot get its lock in time (another process holds it: `protocam sweep` next to a
 * running server, a long PG transaction) is answered 503 with Retry-After and a stable code,
 * never 500, and writes nothing; once the lock is free the same request succeeds.
 */
describe.each(DIALECTS)('a busy database at the HTTP edge (%s)', (dialect) => {
  let db: Db;
  let app: FastifyInstance;
  let holdLock: () => Promise<void>;
  let releaseLock: () => Promise<void>;
  let closeOther: () => Promise<void>;

  beforeEach(async () => {
    let url = '';
    if (dialect === 'postgres') {
      url = await createPgDatabase();
      db = openDatabase(url);
    } else {
      db = await createTestDb('sqlite');
      // The server's 5 s wait, shortened so that the test does not sit in it.
      sqliteHandle(db.kysely)!.pragma('busy_timeout = 50');
    }
    await sql`create table busy_probe (n integer not null)`.execute(db.kysely);

    if (dialect === 'sqlite') {
      const other = new SqliteDatabase(sqliteHandle(db.kysely)!.name);
      holdLock = () => Promise.resolve(void other.exec('begin immediate'));
      releaseLock = () => Promise.resolve(void other.exec('rollback'));
      closeOther = () => Promise.resolve(void other.close());
    } else {
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      holdLock = async () => {
        await other.query('begin');
        await other.query('lock table busy_probe in access exclusive mode');
      };
      releaseLock = async () => void (await other.query('rollback'));
      closeOther = () => other.end();
    }

    app = await buildApp({
      logger: createLogger('silent'),
      version: '9.9.9',
      authenticate: () => Promise.resolve(null),
      routes: [
        async (api) => {
          api.post('/probe', async () => {
            await db.kysely.transaction().execute(async (trx) => {
              if (dialect === 'postgres') await sql`set local lock_timeout = '50ms'`.execute(trx);
              await sql`insert into busy_probe (n) values (1)`.execute(trx);
            });
            return { written: true };
          });
        },
      ],
    });
  });
  afterEach(async () => {
    await closeOther();
    await app.close();
    await db.close();
  });

  const rows = async () =>
    Number((await sql<{ n: number }>`select count(*) as n from busy_probe`.execute(db.kysely)).rows[0]!.n);

  it('answers 503 database-busy with Retry-After, writes nothing, and succeeds once the lock is free', async () => {
    await holdLock();
    const busy = await app.inject({ method: 'POST', url: '/api/probe' });
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json()).toEqual({
      error: { code: 'database-busy', message: 'The database is busy; try again in a moment' },
    });
    await releaseLock();
    expect(await rows()).toBe(0);

    const retried = await app.inject({ method: 'POST', url: '/api/probe' });
    expect(retried.statusCode).toBe(200);
    expect(await rows()).toBe(1);
  });
});

/**
 * A PostgreSQL server that is away (down, restarting, an administrator ending connections) is
 * answered 503 database-unavailable with Retry-After, never 500; the pool connects again by
 * itself, so the same request succeeds once the server is back.
 */
describe('an unavailable PostgreSQL at the HTTP edge', () => {
  const open: { app: FastifyInstance; db: Db }[] = [];
  afterEach(async () => {
    for (const { app, db } of open.splice(0)) {
      await app.close();
      await db.close();
    }
  });

  const appOn = async (db: Db, query: ReturnType<typeof sql>) => {
    const app = await buildApp({
      logger: createLogger('silent'),
      version: '9.9.9',
      authenticate: () => Promise.resolve(null),
      routes: [
        async (api) => {
          api.get('/probe', async () => ({ rows: (await query.execute(db.kysely)).rows.length }));
        },
      ],
    });
    open.push({ app, db });
    return app;
  };

  const expectUnavailable = (response: {
    statusCode: number;
    headers: Record<string, unknown>;
    json: () => unknown;
  }) => {
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toEqual({
      error: { code: 'database-unavailable', message: 'The database cannot be reached; try again shortly' },
    });
  };

  it('no server listening: 503 database-unavailable', async () => {
    const url = new URL(await createPgDatabase());
    const { port } = await new Promise<{ port: number }>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address() as { port: number };
        server.close(() => resolve(address));
      });
    });
    url.port = String(port);
    const app = await appOn(openDatabase(url.toString()), sql`select 1`);
    expectUnavailable(await app.inject({ method: 'GET', url: '/api/probe' }));
  });

  it('the connection ended mid-query: 503, and the next request succeeds on a new connection', async () => {
    const url = await createPgDatabase();
    const db = openDatabase(url, { onConnectionError: () => undefined });
    const app = await appOn(db, sql`select pg_sleep(0.5), 1`);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const pending = app.inject({ method: 'GET', url: '/api/probe' });
      // What a restart of PostgreSQL does to every connection, here to the one running the query.
      await waitFor(
        async () =>
          (
            await admin.query(
              "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query like 'select pg_sleep%'",
            )
          ).rowCount! > 0,
        5_000,
        'the query to run',
      );
      expectUnavailable(await pending);
    } finally {
      await admin.end();
    }
    const again = await app.inject({ method: 'GET', url: '/api/probe' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ rows: 1 });
  });
});
