import type { FastifyInstance } from 'fastify';
import { AuditTrail } from './audit/audit.js';
import type { Config } from './config/config.js';
import { migrateToLatest, openDatabase, type Db } from './db/database.js';
import { buildApp } from './http/app.js';
import { minimalWeb } from './http/web.js';
import type { Clock } from './lib/clock.js';
import type { Logger } from './lib/logger.js';
import { loadOrCreateSecrets, type Secrets } from './lib/secrets.js';
import { loadPolicy, type LoadedPolicy } from './policy/index.js';
import { auditRoutes } from './system/audit.routes.js';
import { recordPolicyInForce } from './system/policy-in-force.js';
import { policyRoutes } from './system/policy.routes.js';
import { VERSION } from './version.js';

/** Everything a running Protocam holds, wired by hand in one place. */
export interface Runtime {
  config: Config;
  clock: Clock;
  logger: Logger;
  secrets: Secrets;
  loaded: LoadedPolicy;
  db: Db;
  audit: AuditTrail;
}

/**
 * config -> secrets -> policy -> database -> services. Used by `serve` and by every CLI
 * command, so all of them read the same configuration and the same policy.
 */
export async function openRuntime(config: Config, clock: Clock, logger: Logger): Promise<Runtime> {
  const secrets = loadOrCreateSecrets(config.dataDir, () => clock.now());
  const loaded = loadPolicy(config.policy);
  const db = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return { config, clock, logger, secrets, loaded, db, audit: new AuditTrail(clock) };
}

export interface Started {
  app: FastifyInstance;
  url: string;
  firstSignInUrl: string | null;
  close(): Promise<void>;
}

export async function startServer(runtime: Runtime): Promise<Started> {
  const { config, db, audit, loaded } = runtime;
  await recordPolicyInForce({ db: db.kysely, clock: runtime.clock, audit }, loaded);

  const app = await buildApp({
    logger: runtime.logger,
    version: VERSION,
    authenticate: () => Promise.resolve(null),
    routes: [auditRoutes({ db: db.kysely, audit }), policyRoutes({ loaded })],
    web: minimalWeb(),
  });
  const address = await app.listen({ host: config.host, port: config.port });
  const url = config.publicUrl ?? address;
  return {
    app,
    url,
    firstSignInUrl: null,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}
