import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AuditTrail } from './audit/audit.js';
import type { Config } from './config/config.js';
import { migrateToLatest, openDatabase, type Db } from './db/database.js';
import { buildApp } from './http/app.js';
import { webApp } from './http/web.js';
import { MINUTE, type Clock } from './lib/clock.js';
import type { Logger } from './lib/logger.js';
import { loadOrCreateSecrets, type Secrets } from './lib/secrets.js';
import { loadPolicy, type LoadedPolicy } from './policy/index.js';
import { auditRoutes } from './system/audit.routes.js';
import { recordPolicyInForce } from './system/policy-in-force.js';
import { policyRoutes } from './system/policy.routes.js';
import { RegistryService, registryRoutes } from './registry/index.js';
import {
  accessRoutes,
  CHAIN_SIGN_INTERVAL_MS,
  createAccessServices,
  type GateService,
  type LogbookService,
} from './access/index.js';
import {
  doorEventQueryRoutes,
  DoorEventQueryService,
  doorEventRoutes,
  DoorEventService,
  keyTagRoutes,
  KeyTagService,
  MqttDoorEventIngest,
} from './door-events/index.js';
import { createAuthenticator, UsersService, usersRoutes } from './users/index.js';
import { permissionsRoutes } from './users/permissions.routes.js';
import { ExportService, exportRoutes, FfmpegExportCutter } from './exports/index.js';
import { MediaTools, resolveMediaBinaries } from './media/ffmpeg.js';
import { FfmpegFrameExtractor, PlaybackService, playbackRoutes } from './playback/index.js';
import { MaintenanceService, RecorderManager, recordingRoutes, recordingsDirectory } from './recording/index.js';
import { VERSION } from './version.js';
import { IncidentService, incidentRoutes } from './incidents/index.js';
import { HoldService, holdRoutes } from './holds/index.js';
import {
  ComplianceService,
  RetentionService,
  RetentionSweeper,
  retentionRoutes,
  storageDirs,
} from './retention/index.js';

/** Everything a running Protocam holds, wired by hand in one place. */
export interface Runtime {
  config: Config;
  clock: Clock;
  logger: Logger;
  secrets: Secrets;
  loaded: LoadedPolicy;
  db: Db;
  audit: AuditTrail;
  registry: RegistryService;
  gate: GateService;
  logbook: LogbookService;
  users: UsersService;
  doorEvents: DoorEventService;
  keyTags: KeyTagService;
  doorEventQueries: DoorEventQueryService;
  /** Camera health, the maintenance log and defects (W 6.6). */
  maintenance: MaintenanceService;
  /** One supervised ffmpeg per recording camera; started by startServer (issue 4). */
  recorder: RecorderManager;
  // incidents, holds and the retention sweeper (issue 6)
  incidents: IncidentService;
  holds: HoldService;
  sweeper: RetentionSweeper;
  retention: RetentionService;
  compliance: ComplianceService;
  playback: PlaybackService;
  exports: ExportService;
}

/**
 * config -> secrets -> policy -> database -> services. Used by `serve` and by every CLI
 * command, so all of them read the same configuration and the same policy.
 */
export async function openRuntime(config: Config, clock: Clock, logger: Logger): Promise<Runtime> {
  const secrets = loadOrCreateSecrets(config.dataDir, () => clock.now());
  const loaded = loadPolicy(config.policy);
  const db = openDatabase(config.databaseUrl, {
    onCheckpointError: (error) =>
      logger.error({ err: error }, 'background WAL checkpoints failed; SQLite checkpoints on commit again'),
    onConnectionError: (error) =>
      logger.warn({ err: error }, 'an idle PostgreSQL connection failed; the next query connects again'),
  });
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  const audit = new AuditTrail(clock);
  const policy = () => loaded.policy;
  const registry = new RegistryService({ db: db.kysely, clock, audit, policy, encryptionKey: secrets.encryptionKey });
  const { gate, logbook } = createAccessServices({
    db: db.kysely,
    clock,
    policy,
    signingKey: secrets.signingKey,
    verifyKey: secrets.verifyKey,
  });
  const users = new UsersService({
    db: db.kysely,
    clock,
    audit,
    policy,
    encryptionKey: secrets.encryptionKey,
    sessionHours: config.sessionHours,
  });
  const doorEvents = new DoorEventService({ db: db.kysely, clock, audit, policy });
  const keyTags = new KeyTagService({ db: db.kysely, clock, audit, policy, encryptionKey: secrets.encryptionKey });
  // Door events and holders are read only through grants of the gate (M 3.5, M 3.6, M 4).
  const doorEventQueries = new DoorEventQueryService({
    db: db.kysely,
    clock,
    gate,
    policy,
    encryptionKey: secrets.encryptionKey,
  });
  // Footage is read and copied only through grants of the gate (issue 4).
  const media = resolveMediaBinaries();
  const recordingsDir = join(config.dataDir, 'recordings');
  const playback = new PlaybackService({
    db: db.kysely,
    clock,
    gate,
    policy,
    recordingsDir,
    frames: new FfmpegFrameExtractor(media.ffmpegPath),
  });
  const exports = new ExportService({
    db: db.kysely,
    clock,
    audit,
    gate,
    exportsDir: join(config.dataDir, 'exports'),
    recordingsDir,
    cutter: new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath),
    signingKey: secrets.signingKey,
    verifyKey: secrets.verifyKey,
    logger,
  });
  // Incidents, holds (W 2.4, M 2.4) and the sweeper that erases on time and never what is held (issue 6).
  const incidents = new IncidentService({ db: db.kysely, clock, audit, policy });
  const holds = new HoldService({ db: db.kysely, clock, audit, policy });
  const sweeper = new RetentionSweeper({
    db: db.kysely,
    clock,
    policy,
    logger,
    ...storageDirs(config.dataDir),
    intervalMs: config.sweepInterval,
    threshold: { minFreeBytes: config.minFreeBytes, minFreePercent: config.minFreePercent },
  });
  const retention = new RetentionService({ db: db.kysely, clock, audit, policy, sweeper });
  const compliance = new ComplianceService({ db: db.kysely, clock, policy, registry, logbook });
  const maintenance = new MaintenanceService({ db: db.kysely, clock, audit, policy });
  const recorder = new RecorderManager({
    db: db.kysely,
    clock,
    audit,
    registry,
    media: new MediaTools(),
    logger,
    recordingsDir: recordingsDirectory(config.dataDir),
    segmentSeconds: config.segmentSeconds,
    onRecordingResumed: async (cameraId) => {
      await maintenance.closeDefectIfRecording(cameraId);
    },
    // Held footage is never erased for space: when nothing else is left, recording stops (issue 6).
    diskAllows: (cameraId) => sweeper.disk.shouldRecord(cameraId),
  });
  sweeper.disk.onChange(() => void recorder.sync());
  return {
    config,
    clock,
    logger,
    secrets,
    loaded,
    db,
    audit,
    registry,
    gate,
    logbook,
    users,
    doorEvents,
    keyTags,
    doorEventQueries,
    maintenance,
    recorder,
    incidents,
    holds,
    sweeper,
    retention,
    compliance,
    playback,
    exports,
  };
}

export interface Started {
  app: FastifyInstance;
  url: string;
  firstSignInUrl: string | null;
  close(): Promise<void>;
}

/**
 * First-start duties that every start repeats harmlessly: record the policy in force,
 * make sure the organisation exists, and create the first administrator if there is none.
 * Returns the first administrator's one-time sign-in path, once.
 */
export async function prepareInstallation(runtime: Runtime): Promise<string | null> {
  const { config, db, audit, loaded } = runtime;
  await recordPolicyInForce({ db: db.kysely, clock: runtime.clock, audit }, loaded);
  await runtime.registry.ensureOrganisation(config.organisationName);
  const firstAdmin = await runtime.users.bootstrapFirstAdmin();
  // An export still `running` was cut short by a stop or crash (issue 4).
  await runtime.exports.failInterrupted();
  return firstAdmin?.signInPath ?? null;
}

/** The HTTP application with every area's routes, not yet listening. */
export function createApp(runtime: Runtime): Promise<FastifyInstance> {
  const { config, db, audit, loaded } = runtime;
  return buildApp({
    logger: runtime.logger,
    version: VERSION,
    trustProxy: config.trustProxy,
    authenticate: createAuthenticator({ users: runtime.users }),
    routes: [
      usersRoutes(runtime.users, { secureCookies: config.secureCookies }),
      permissionsRoutes(() => loaded.policy),
      auditRoutes({ db: db.kysely, audit }),
      policyRoutes({ loaded }),
      registryRoutes(runtime.registry),
      accessRoutes({ gate: runtime.gate, logbook: runtime.logbook }),
      doorEventRoutes(runtime.doorEvents),
      keyTagRoutes(runtime.keyTags),
      doorEventQueryRoutes(runtime.doorEventQueries),
      recordingRoutes(runtime.maintenance),
      incidentRoutes({ incidents: runtime.incidents, holds: runtime.holds }),
      holdRoutes(runtime.holds),
      retentionRoutes({ retention: runtime.retention, compliance: runtime.compliance }),
      playbackRoutes(runtime.playback),
      exportRoutes(runtime.exports),
    ],
    web: webApp({
      onMissing: (root) =>
        runtime.logger.warn({ root }, 'web interface not built (npm run build:web): serving a notice'),
    }),
  });
}

export async function startServer(runtime: Runtime): Promise<Started> {
  const firstSignInPath = await prepareInstallation(runtime);
  const app = await createApp(runtime);
  const address = await app.listen({ host: runtime.config.host, port: runtime.config.port });
  const url = runtime.config.publicUrl ?? address;
  const jobs = startJobs(runtime);
  const mqtt = await startMqttIngest(runtime);
  // Reconciles the segment index with the files, then records every camera that may record.
  // A recorder that cannot start (e.g. no usable ffmpeg) is logged; the rest of Protocam serves on.
  await runtime.recorder.start().catch((error: unknown) => {
    runtime.logger.error({ err: error }, 'the recorder did not start');
  });
  return {
    app,
    url,
    firstSignInUrl: firstSignInPath ? url.replace(/\/$/, '') + firstSignInPath : null,
    close: async () => {
      jobs.stop();
      // Gently: ffmpeg closes its segment, which is indexed before the database closes.
      await runtime.recorder.stop();
      await mqtt?.stop();
      await app.close();
      await runtime.db.close();
    },
  };
}

/**
 * Periodic jobs. Each run is independent and logs its failure; a failing job never stops
 * the server. Jobs ask the injected clock for time; only the trigger uses a timer.
 */
function startJobs(runtime: Runtime): { stop(): void } {
  const every = (ms: number, name: string, job: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      job().catch((error: unknown) => runtime.logger.error({ err: error, job: name }, 'scheduled job failed'));
    }, ms);
    timer.unref();
    return timer;
  };
  const timers = [
    // Signed heads let `logbook verify` detect a rewritten chain, also by someone with database access.
    every(CHAIN_SIGN_INTERVAL_MS, 'logbook-sign-head', () => runtime.logbook.signChainHead()),
    every(15 * MINUTE, 'purge-sessions', () => runtime.users.purgeExpiredSessions()),
    // W 6.6: the maintenance check runs when its policy interval has passed, also across restarts.
    every(15 * MINUTE, 'maintenance-check', () => runtime.maintenance.runDueCheck()),
    // Retention (W 6.3, M 6.6, M 6.7); the first run, right after start, also reconciles interrupted erasures.
    every(runtime.config.sweepInterval, 'retention-sweep', () => runtime.sweeper.sweep()),
  ];
  setImmediate(() => {
    runtime.sweeper
      .sweep()
      .catch((error: unknown) => runtime.logger.error({ err: error, job: 'retention-sweep' }, 'scheduled job failed'));
  });
  return { stop: () => timers.forEach((timer) => clearInterval(timer)) };
}

/** Door events from the configured MQTT broker, acknowledged only after they are committed (issue 5). */
async function startMqttIngest(runtime: Runtime): Promise<MqttDoorEventIngest | null> {
  const settings = runtime.config.mqtt;
  if (!settings) return null;
  const ingest = new MqttDoorEventIngest({
    events: runtime.doorEvents,
    logger: runtime.logger,
    sourceId: settings.sourceId,
    url: settings.url,
    topic: settings.topic,
    // Stable per installation and source, so the broker keeps the session across restarts.
    clientId: `protocam-${settings.sourceId}`,
    ...(settings.username ? { username: settings.username } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    ...(settings.caFile ? { ca: await readFile(settings.caFile) } : {}),
  });
  await ingest.start();
  return ingest;
}
