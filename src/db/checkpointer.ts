/**
 * WAL checkpoints off the request path. By default SQLite checkpoints inside the COMMIT that
 * makes the write-ahead log pass 1000 pages: that commit then copies the pages into the database
 * file and fsyncs it, on the event loop and while the connection (the only one in the process) is
 * held. A bulk erasure or an ingest burst then sees commits of hundreds of milliseconds. Here the
 * connection's auto-checkpoint is off and a worker thread with its own connection runs PASSIVE
 * checkpoints, which never block writers or readers, every `intervalMs`. If the worker fails, the
 * connection's own auto-checkpoint is switched back on, so the log never grows without bound.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

export interface BackgroundCheckpoints {
  /** Runs a last checkpoint and ends the worker. */
  stop(): Promise<void>;
}

const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/** After a checkpoint resets the log, its file is cut back to this size. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

// CommonJS, evaluated in the worker: it needs nothing but the driver.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)');
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { checkpoint(); } finally { db.close(); parentPort.close(); }
});
`;

export function startBackgroundCheckpoints(
  sqlite: SqliteDatabase.Database,
  path: string,
  options: { intervalMs?: number; onError?: (error: unknown) => void } = {},
): BackgroundCheckpoints {
  sqlite.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  sqlite.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      path,
      intervalMs: options.intervalMs ?? 500,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  });
  // A checkpointer must never keep the process alive on its own.
  worker.unref();
  let stopped = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.once('error', (error) => {
    if (stopped) return;
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    options.onError?.(error);
  });
  return {
    async stop() {
      if (stopped) return exited;
      stopped = true;
      // Keep the process alive until the last checkpoint is done and the worker has exited.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
