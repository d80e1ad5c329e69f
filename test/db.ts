import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { migrateToLatest, openDatabase, type Db, type DialectName } from '../src/db/database.js';

/** Every repository test runs on both databases: `describe.each(DIALECTS)`. */
export const DIALECTS: DialectName[] = ['sqlite', 'postgres'];

let counter = 0;

/** A fresh, migrated database of the given kind: a temp SQLite file or a clone of the PG template. */
export async function createTestDb(dialect: DialectName): Promise<Db> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-sqlite-'));
    const db = openDatabase(`sqlite:${join(dir, 'test.db')}`);
    await migrateToLatest(db);
    return db;
  }
  return openDatabase(await createPgDatabase());
}

/** Creates an empty, migrated PostgreSQL database and returns its URL. */
export async function createPgDatabase(): Promise<string> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${process.pid}_${Date.now()}_${counter++}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export function testDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'protocam-data-'));
}
