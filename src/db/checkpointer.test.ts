import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/recording-fixtures.js';
import { startBackgroundCheckpoints } from './checkpointer.js';
import { openDatabase } from './database.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDb() {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-ckpt-'));
  dirs.push(dir);
  return join(dir, 'db.sqlite');
}

/** Frames in the log that the database file does not have yet (a PASSIVE checkpoint of 0 frames reports them). */
const pendingFrames = (db: SqliteDatabase.Database) => {
  const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
  return row!.log - row!.checkpointed;
};

describe('background WAL checkpoints', () => {
  it('commits never checkpoint; the worker copies the log into the database file', async () => {
    const path = tempDb();
    const db = new SqliteDatabase(path);
    db.pragma('journal_mode = WAL');
    const checkpoints = startBackgroundCheckpoints(db, path, { intervalMs: 50 });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    db.exec('create table t (x text)');
    const insert = db.prepare('insert into t values (?)');
    const sizeBefore = statSync(path).size;
    // Far more than the 1000 pages at which a commit would checkpoint by itself.
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) insert.run('x'.repeat(300));
    })();
    // The database file grows only when the worker has checkpointed the log.
    await waitFor(() => statSync(path).size > sizeBefore + 5_000_000, 10_000, 'the worker checkpointed');
    await checkpoints.stop();
    const other = new SqliteDatabase(path, { readonly: true });
    expect(other.prepare('select count(*) n from t').get()).toEqual({ n: 20_000 });
    other.close();
    db.close();
  });

  it('falls back to checkpoints on commit when the worker fails', async () => {
    const path = tempDb();
    const db = new SqliteDatabase(path);
    db.pragma('journal_mode = WAL');
    const errors: unknown[] = [];
    // A path the worker cannot open as a database: it fails at start.
    const checkpoints = startBackgroundCheckpoints(db, join(path, 'not-a-dir', 'x'), {
      onError: (error) => errors.push(error),
    });
    await waitFor(() => errors.length === 1, 10_000, 'the worker failed');
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await checkpoints.stop();
    db.close();
  });

  it('is started by openDatabase for a SQLite file and stopped by close, with nothing left in the log', async () => {
    const path = tempDb();
    const db = openDatabase(`sqlite:${path}`);
    await db.kysely.schema.createTable('t').addColumn('x', 'text').execute();
    for (let i = 0; i < 50; i++)
      await db.kysely
        .insertInto('t' as never)
        .values({ x: 'y' })
        .execute();
    await db.close();
    const check = new SqliteDatabase(path);
    expect(pendingFrames(check)).toBe(0);
    expect(check.prepare('select count(*) n from t').get()).toEqual({ n: 50 });
    check.close();
  });
});
