import { sql } from 'kysely';
import pg from 'pg';
import { inject, describe, expect, it } from 'vitest';
import { createPgDatabase } from '../../test/db.js';
import { waitFor } from '../../test/recording-fixtures.js';
import { openDatabase } from './database.js';

describe('PostgreSQL connection pool', () => {
  it('survives the server ending an idle connection: reported, and the next query connects again', async () => {
    const url = await createPgDatabase();
    const errors: unknown[] = [];
    const db = openDatabase(url, { onConnectionError: (error) => errors.push(error) });
    try {
      await sql`select 1`.execute(db.kysely);
      // What a PostgreSQL restart or an administrator does to every open connection.
      const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ ended: boolean }>(
          'select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [new URL(url).pathname.slice(1)],
        );
        expect(rows.some((row) => row.ended)).toBe(true);
      } finally {
        await admin.end();
      }
      // Unhandled, this error event would end the process (and fail this run).
      await waitFor(() => errors.length > 0, 5_000, 'the pool to report the ended connection');
      expect(String(errors[0])).toMatch(/terminat/i);
      const { rows } = await sql<{ answer: number }>`select 42 as answer`.execute(db.kysely);
      expect(rows[0]!.answer).toBe(42);
    } finally {
      await db.close();
    }
  });
});
