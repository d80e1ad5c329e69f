/**
 * Door-event benchmarks (issue 5, "Benchmarks"):
 * 1. HTTP batch ingest (POST /api/door-events/batch, API key) through `app.inject` and through a
 *    real listening server with `fetch` from a child process (the figure), against a bare
 *    better-sqlite3 prepared insert loop of the same rows into the same table, one transaction per
 *    batch, same run. Target: at least half of the bare loop and at least 50,000 events/s (SQLite).
 * 2. MQTT ingest: Mosquitto in its own process (aedes in-process where Mosquitto is missing),
 *    MqttDoorEventIngest on SQLite, a QoS 1 publisher in a child process with a window of
 *    messages in flight; messages/s from the first publish to all stored. Target 10,000/s.
 * 3. Calamity witness search over N events (four weeks, 2,000 doors, 50,000 tags, every tag with
 *    a holder), 2 doors x 1 hour, through DoorEventQueryService with a four-eyes grant, 100 times;
 *    p50/p95 on SQLite and on an embedded PostgreSQL. Target < 100 ms over 30 million events
 *    (four weeks of a large corporation): that size is opt-in, DOOR_EVENTS_BENCH_FULL=1 (a fill
 *    of tens of minutes and some 30 GB of disk); the default is 1 million, about a minute per
 *    database. The fill time and the size of the database are part of the result; the files are
 *    removed afterwards.
 * Besides wall time, 1 and 2 record this process's CPU time per event/message (the clients and
 * the broker run in other processes), and every phase records os.loadavg() before and after:
 * on a shared machine wall time mostly measures the wait for a core.
 * Sizes can be lowered for a quick try: DOOR_EVENTS_BENCH_ROWS, DOOR_EVENTS_BENCH_HTTP_EVENTS,
 * DOOR_EVENTS_BENCH_MQTT_MESSAGES; DOOR_EVENTS_BENCH_PHASES=http,mqtt,witnessSqlite,witnessPostgres
 * picks phases.
 */
import { fork } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import SqliteDatabase from 'better-sqlite3';
import { AuditTrail } from '../src/audit/audit.js';
import { startBackgroundCheckpoints } from '../src/db/checkpointer.js';
import { migrateToLatest, openDatabase, type Db } from '../src/db/database.js';
import { withEmbeddedPostgres } from './postgres.js';
import { buildApp } from '../src/http/app.js';
import { sql } from 'kysely';
import { DAY, HOUR, ManualClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { createLogger } from '../src/lib/logger.js';
import { encryptText } from '../src/lib/secrets.js';
import { loadPolicy } from '../src/policy/index.js';
import { doorEventRoutes } from '../src/door-events/door-events.routes.js';
import { DoorEventService } from '../src/door-events/door-events.service.js';
import { MqttDoorEventIngest } from '../src/door-events/door-events.mqtt.js';
import { DoorEventQueryService } from '../src/door-events/door-events.queries.js';
import { addIncident, principal, seedRegistry, services, START } from '../test/access-fixtures.js';
import { startTestBroker } from '../test/mqtt-broker.js';
import { MOSQUITTO, startMosquitto } from '../test/mosquitto.js';
import { doorIdOf, fillPostgres, fillSqlite, tagOf, type FillTimes } from './door-events.fill.js';
import { partitionOf, partitionTable } from '../src/door-events/partitions.js';
import { countDoorEvents, ensurePartitions } from '../src/door-events/partitions.repository.js';

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};

const FULL_ROWS = 30_000_000;
const WITNESS_ROWS = envInt(
  'DOOR_EVENTS_BENCH_ROWS',
  process.env.DOOR_EVENTS_BENCH_FULL === '1' ? FULL_ROWS : 1_000_000,
);
const HTTP_EVENTS = envInt('DOOR_EVENTS_BENCH_HTTP_EVENTS', 200_000);
const HTTP_BATCH = 5000;
/** Controllers sending at the same time (each one batch at a time); 1 = strictly one after another. */
const HTTP_CONCURRENCY = envInt('DOOR_EVENTS_BENCH_HTTP_CONCURRENCY', 2);
const MQTT_MESSAGES = envInt('DOOR_EVENTS_BENCH_MQTT_MESSAGES', 50_000);
const MQTT_WINDOW = 1000;
const DOORS = 2000;
const TAGS = 50_000;
/** Searches per database: with 20, the p95 was the slowest single search (one scheduling hiccup). */
const SEARCHES = envInt('DOOR_EVENTS_BENCH_SEARCHES', 100);

const admin = { id: 'u-admin', label: 'beheerder' };
const MKW = principal('u-mkw', ['manager-klant-wonen']);
const MVG = principal('u-mvg', ['manager-vastgoed']);
const policy = loadPolicy('maaswonen-2024').policy;
const logger = createLogger('silent');

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (n: number, digits = 0) => +n.toFixed(digits);
const since = (t: number) => (performance.now() - t) / 1000;
const gib = (bytes: number) => round(bytes / 2 ** 30, 2);

/** A migrated SQLite file with the test registry (two doors) and a door-event service. */
async function sqliteSetup(dir: string, name: string) {
  const path = join(dir, `${name}.db`);
  const db = openDatabase(`sqlite:${path}`);
  await migrateToLatest(db);
  const clock = new ManualClock(START);
  const events = new DoorEventService({ db: db.kysely, clock, audit: new AuditTrail(clock), policy: () => policy });
  const seed = await seedRegistry(db.kysely, clock.now());
  const doors = await db.kysely.selectFrom('doors').select(['id', 'code']).execute();
  return { path, db, clock, events, seed, doorCodes: doors.map((d) => d.code) };
}

/**
 * CPU time of this process (all threads) per item: unlike wall time it hardly depends on what
 * else runs on the machine. Its inverse is the rate this process could reach with a core to itself.
 */
function cpuFigures(used: NodeJS.CpuUsage, items: number, item: string) {
  const micros = (used.user + used.system) / items;
  return {
    [`cpuMicrosPer${item[0]!.toUpperCase()}${item.slice(1)}`]: round(micros, 1),
    [`${item}sPerCpuSecond`]: Math.round(1e6 / micros),
  };
}

// --- 1. HTTP ingest ------------------------------------------------------------------------------

interface HttpRecord {
  sourceEventId: string;
  occurredAt: string;
  door: string;
  tag: string;
  result: string;
}

function httpRecords(prefix: string, doorCodes: string[], now: number): HttpRecord[][] {
  const batches: HttpRecord[][] = [];
  for (let b = 0; b * HTTP_BATCH < HTTP_EVENTS; b++) {
    const batch: HttpRecord[] = [];
    for (let i = b * HTTP_BATCH; i < Math.min(HTTP_EVENTS, (b + 1) * HTTP_BATCH); i++) {
      batch.push({
        sourceEventId: `${prefix}-${i}`,
        occurredAt: new Date(now - DAY + (i * DAY) / HTTP_EVENTS).toISOString(),
        door: doorCodes[i % doorCodes.length]!,
        tag: tagOf(i % TAGS),
        result: i % 10 === 0 ? 'denied' : 'granted',
      });
    }
    batches.push(batch);
  }
  return batches;
}

async function httpApp(dir: string, name: string) {
  const s = await sqliteSetup(dir, name);
  const app = await buildApp({
    logger,
    version: 'bench',
    authenticate: () => Promise.resolve(null),
    routes: [doorEventRoutes(s.events)],
  });
  const source = await s.events.createSource(admin, { name: 'Nedap', kind: 'http', doorScope: s.seed.doorIds });
  const { key } = await s.events.issueApiKey(admin, source.id);
  return { ...s, app, key };
}

const countEvents = (db: Db): Promise<number> => countDoorEvents(db.kysely);

async function sendAll(
  bodies: string[],
  send: (body: string) => Promise<{ status: number; accepted: number }>,
): Promise<{ seconds: number; accepted: number }> {
  let accepted = 0;
  const t = performance.now();
  for (const body of bodies) {
    const r = await send(body);
    if (r.status !== 200) throw new Error(`batch answered ${r.status}`);
    accepted += r.accepted;
  }
  return { seconds: since(t), accepted };
}

async function benchHttp(dir: string) {
  // Bare better-sqlite3: the same table (migrated), the same pragmas as the app, the same rows.
  const bare = await sqliteSetup(dir, 'http-bare');
  const bareSource = await bare.events.createSource(admin, {
    name: 'Bare',
    kind: 'http',
    doorScope: bare.seed.doorIds,
  });
  const batchesBare = httpRecords('f', bare.doorCodes, bare.clock.now());
  // The same partitions the app writes to, made as ingest makes them (with their indexes).
  const bareHours = [
    ...new Set(batchesBare.flatMap((batch) => batch.map((r) => partitionOf(Date.parse(r.occurredAt))))),
  ];
  await ensurePartitions(bare.db.kysely, bareHours, bare.clock.now());
  await bare.db.close();
  const codeToId = new Map<string, string>();
  {
    const raw = new SqliteDatabase(bare.path, { readonly: true });
    for (const r of raw.prepare('SELECT id, code FROM doors').all() as { id: string; code: string }[])
      codeToId.set(r.code, r.id);
    raw.close();
  }
  const now = bare.clock.now();
  const rows = batchesBare.map((batch) =>
    batch.map((r) => ({
      source_id: bareSource.id,
      source_event_id: r.sourceEventId,
      occurred_at: Date.parse(r.occurredAt),
      received_at: now,
      door_id: codeToId.get(r.door)!,
      tag_code: r.tag,
      result: r.result,
      raw_payload: JSON.stringify(r),
    })),
  );
  const sqlite = new SqliteDatabase(bare.path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // WAL checkpoints in a background thread, as openDatabase does for the app.
  const bareCheckpoints = startBackgroundCheckpoints(sqlite, bare.path);
  // One prepared insert per hour's partition; each row goes to the partition of its hour.
  const inserts = new Map(
    bareHours.map((hour) => [
      hour,
      sqlite.prepare(
        `INSERT INTO ${partitionTable(hour)} (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
         VALUES (@source_id, @source_event_id, @occurred_at, @received_at, @door_id, @tag_code, @result, @raw_payload)
         ON CONFLICT (source_id, source_event_id) DO NOTHING`,
      ),
    ]),
  );
  const insertBatch = sqlite.transaction((batch: (typeof rows)[number]) => {
    for (const row of batch) inserts.get(partitionOf(row.occurred_at))!.run(row);
  });
  const t = performance.now();
  const bareCpu = process.cpuUsage();
  for (const batch of rows) insertBatch(batch);
  const bareSeconds = since(t);
  const bareCpuUsed = process.cpuUsage(bareCpu);
  const bareCount = bareHours.reduce(
    (sum, hour) => sum + (sqlite.prepare(`SELECT count(*) AS n FROM ${partitionTable(hour)}`).get() as { n: number }).n,
    0,
  );
  await bareCheckpoints.stop();
  sqlite.close();
  if (bareCount !== HTTP_EVENTS) throw new Error(`bare loop stored ${bareCount} of ${HTTP_EVENTS}`);

  // app.inject (no sockets): its own app and database file.
  const injected = await httpApp(dir, 'http-inject');
  const injectBodies = httpRecords('i', injected.doorCodes, injected.clock.now()).map((b) => JSON.stringify(b));
  const inject = await sendAll(injectBodies, async (body) => {
    const r = await injected.app.inject({
      method: 'POST',
      url: '/api/door-events/batch',
      headers: { authorization: `Bearer ${injected.key}`, 'content-type': 'application/json' },
      payload: body,
    });
    return { status: r.statusCode, accepted: r.json<{ accepted: number }>().accepted };
  });
  if ((await countEvents(injected.db)) !== HTTP_EVENTS) throw new Error('inject: not all events stored');
  await injected.app.close();
  await injected.db.close();

  // A real listening server, and fetch from a child process (the controllers): the figure. The
  // bodies are made before the clock starts; this process's CPU time is the server's own.
  const served = await httpApp(dir, 'http-fetch');
  const address = await served.app.listen({ host: '127.0.0.1', port: 0 });
  const fetchBodies = httpRecords('h', served.doorCodes, served.clock.now()).map((b) => JSON.stringify(b));
  const clientScript = join(dir, 'http-client.cjs');
  writeFileSync(clientScript, HTTP_CLIENT);
  const client = fork(clientScript, [], { execArgv: [] });
  const fromClient = () =>
    new Promise<{ seconds: number; accepted: number }>((resolve, reject) => {
      client.once('message', (m: { seconds: number; accepted: number; error?: string }) =>
        m.error ? reject(new Error(`http client: ${m.error}`)) : resolve(m),
      );
      client.once('error', reject);
    });
  const clientReady = fromClient();
  client.send({
    url: `${address}/api/door-events/batch`,
    key: served.key,
    bodies: fetchBodies,
    concurrency: HTTP_CONCURRENCY,
  });
  await clientReady;
  const clientDone = fromClient();
  const serverCpu = process.cpuUsage();
  client.send('go');
  const fetched = await clientDone;
  const serverCpuUsed = process.cpuUsage(serverCpu);
  client.kill();
  if (fetched.accepted !== HTTP_EVENTS) throw new Error(`fetch: ${fetched.accepted} accepted of ${HTTP_EVENTS}`);
  if ((await countEvents(served.db)) !== HTTP_EVENTS) throw new Error('fetch: not all events stored');
  await served.app.close();
  await served.db.close();

  const bareRate = HTTP_EVENTS / bareSeconds;
  const fetchRate = HTTP_EVENTS / fetched.seconds;
  const injectRate = HTTP_EVENTS / inject.seconds;
  return {
    database:
      'sqlite (file, WAL, synchronous=NORMAL, checkpoints in a background thread), one source, the two doors of the test registry',
    events: HTTP_EVENTS,
    batchSize: HTTP_BATCH,
    controllersSendingAtOnce: HTTP_CONCURRENCY,
    bareBetterSqlite3: {
      seconds: round(bareSeconds, 2),
      eventsPerSecond: Math.round(bareRate),
      ...cpuFigures(bareCpuUsed, HTTP_EVENTS, 'event'),
    },
    inject: {
      seconds: round(inject.seconds, 2),
      eventsPerSecond: Math.round(injectRate),
      ratioToBare: round(injectRate / bareRate, 3),
    },
    fetch: {
      client: `fetch in a child process: ${HTTP_CONCURRENCY} controller(s), each sends its next batch after its answer`,
      seconds: round(fetched.seconds, 2),
      eventsPerSecond: Math.round(fetchRate),
      server: {
        ...cpuFigures(serverCpuUsed, HTTP_EVENTS, 'event'),
        // CPU per event of the bare loop over that of the server: what the ratio is without the
        // scheduling of a shared machine (the wall-time ratio below includes waiting for a core).
        ratioToBareByCpu: round(
          (bareCpuUsed.user + bareCpuUsed.system) / (serverCpuUsed.user + serverCpuUsed.system),
          3,
        ),
      },
      ratioToBare: round(fetchRate / bareRate, 3),
    },
    targets: {
      atLeastHalfOfBare: { target: 0.5, measured: round(fetchRate / bareRate, 3), met: fetchRate / bareRate >= 0.5 },
      atLeast50kPerSecond: { target: 50_000, measured: Math.round(fetchRate), met: fetchRate >= 50_000 },
    },
  };
}

// --- 2. MQTT ingest ------------------------------------------------------------------------------

/**
 * The publisher (the door controllers) runs in a child process: it is not part of Protocam, and
 * so this process's CPU time (process.cpuUsage) is the ingest's own. It speaks MQTT 3.1.1 over a
 * plain socket with packets made by mqtt-packet (mqtt.js's own encoder and parser), all encoded
 * before the clock starts: QoS 1, at most `window` PUBLISHes without PUBACK. A publishing mqtt.js
 * client cost more CPU per message than the ingest itself and, on two cores shared with the
 * broker and the ingest, was what the earlier figure measured (4.9k/s). Plain CommonJS, no loader.
 */
const PUBLISHER = `
const net = require('node:net');
const mqttPacket = require(process.env.BENCH_MQTT_PACKET_PATH);
process.once('message', (w) => {
  const fail = (error) => process.send({ error: error.message || String(error) });
  const url = new URL(w.url);
  const publishes = w.payloads.map((payload, i) =>
    mqttPacket.generate({ cmd: 'publish', qos: 1, dup: false, retain: false, topic: w.topic, payload,
      // Packet ids cycle through 1..65535; the window is far smaller, so an id in flight is unique.
      messageId: (i % 65535) + 1 }));
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  socket.on('error', fail);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('error', fail);
  let started = 0;
  let next = 0;
  let acked = 0;
  const pump = () => {
    const out = [];
    while (next < publishes.length && next - acked < w.window) out.push(publishes[next++]);
    if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
  };
  parser.on('packet', (packet) => {
    if (packet.cmd === 'connack') {
      if (packet.returnCode !== 0) return fail(new Error('connack ' + packet.returnCode));
      process.send({ ready: true });
    } else if (packet.cmd === 'puback') {
      acked++;
      if (acked === publishes.length) {
        process.send({ done: (performance.now() - started) / 1000 });
        socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
      } else pump();
    }
  });
  socket.on('data', (data) => parser.parse(data));
  socket.once('connect', () => {
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true,
      clientId: 'bench-pub-' + Date.now(), keepalive: 120,
      ...(w.username !== undefined ? { username: w.username, password: Buffer.from(w.password) } : {}) }));
  });
  process.once('message', () => {
    started = performance.now();
    pump();
  });
});
`;

/**
 * The HTTP clients (controllers) in a child process: `w.concurrency` controllers, each sending its
 * share of the batches one after another (a controller waits for its answer before the next).
 */
const HTTP_CLIENT = `
process.once('message', (w) => {
  process.send({ seconds: 0, accepted: 0 });
  process.once('message', async () => {
    try {
      let accepted = 0;
      let next = 0;
      const started = performance.now();
      const controller = async () => {
        while (next < w.bodies.length) {
          const body = w.bodies[next++];
          const r = await fetch(w.url, {
            method: 'POST',
            headers: { authorization: 'Bearer ' + w.key, 'content-type': 'application/json' },
            body,
          });
          if (r.status !== 200) throw new Error('batch answered ' + r.status);
          accepted += (await r.json()).accepted;
        }
      };
      await Promise.all(Array.from({ length: w.concurrency }, controller));
      process.send({ seconds: (performance.now() - started) / 1000, accepted });
    } catch (error) {
      process.send({ error: error.message });
    }
  });
});
`;

interface BenchBroker {
  kind: string;
  url: string;
  credentials: { username?: string; password?: string };
  stop(): Promise<void>;
}

/** Mosquitto in its own process where installed (as deployed); otherwise aedes in this process. */
async function benchBroker(): Promise<BenchBroker> {
  if (MOSQUITTO.available) {
    const m = await startMosquitto();
    return {
      kind: 'mosquitto (own process, plain listener, password; max_inflight_messages 0)',
      url: m.url,
      credentials: m.credentials,
      stop: () => m.dispose(),
    };
  }
  const a = await startTestBroker();
  return {
    kind: 'aedes (in this process: shares the ingest thread)',
    url: a.url,
    credentials: {},
    stop: () => a.stop(),
  };
}

async function benchMqtt(dir: string) {
  const s = await sqliteSetup(dir, 'mqtt');
  const broker = await benchBroker();
  const source = await s.events.createSource(admin, { name: 'Nedap MQTT', kind: 'mqtt', doorScope: s.seed.doorIds });
  const topic = 'protocam/doors/events';
  const ingest = new MqttDoorEventIngest({
    events: s.events,
    logger,
    sourceId: source.id,
    url: broker.url,
    ...broker.credentials,
    topic,
    clientId: `protocam-bench-${Date.now()}`,
  });
  const now = s.clock.now();
  const payloads = Array.from({ length: MQTT_MESSAGES }, (_, i) =>
    JSON.stringify({
      sourceEventId: `m-${i}`,
      occurredAt: new Date(now - DAY + (i * DAY) / MQTT_MESSAGES).toISOString(),
      door: s.doorCodes[i % s.doorCodes.length],
      tag: tagOf(i % TAGS),
      result: 'granted',
    }),
  );
  const script = join(dir, 'mqtt-publisher.cjs');
  writeFileSync(script, PUBLISHER);
  const publisher = fork(script, [], {
    env: {
      ...process.env,
      // mqtt-packet as mqtt.js resolves it (a dependency of mqtt, not of Protocam).
      BENCH_MQTT_PACKET_PATH: createRequire(createRequire(import.meta.url).resolve('mqtt')).resolve('mqtt-packet'),
    },
    execArgv: [],
  });
  type FromPublisher = { ready?: true; done?: number; error?: string };
  const fromPublisher = (key: 'ready' | 'done') =>
    new Promise<number>((resolve, reject) => {
      const onMessage = (m: FromPublisher) => {
        if (m.error) reject(new Error(`publisher: ${m.error}`));
        else if (m[key] !== undefined) {
          publisher.off('message', onMessage);
          resolve(Number(m[key]));
        }
      };
      publisher.on('message', onMessage);
      publisher.once('error', reject);
    });
  const ready = fromPublisher('ready');
  publisher.send({ url: broker.url, ...broker.credentials, topic, payloads, window: MQTT_WINDOW });
  try {
    await ingest.start();
    const deadline = Date.now() + 10_000;
    while (!ingest.subscribed) {
      if (Date.now() > deadline) throw new Error('the ingest did not subscribe');
      await new Promise((r) => setTimeout(r, 10));
    }
    await ready;
    const published = fromPublisher('done');
    const t = performance.now();
    const cpu = process.cpuUsage();
    publisher.send('go');
    while (ingest.stats.accepted < MQTT_MESSAGES) {
      if (since(t) > 600) throw new Error(`MQTT: only ${ingest.stats.accepted} stored after 600 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const seconds = since(t);
    const cpuUsed = process.cpuUsage(cpu);
    const publishedAt = await published;
    // Every message was acknowledged by the ingest only after its commit.
    const ackDeadline = Date.now() + 10_000;
    while (ingest.stats.acknowledged < MQTT_MESSAGES && Date.now() < ackDeadline)
      await new Promise((r) => setTimeout(r, 2));
    const stored = await countEvents(s.db);
    if (stored !== MQTT_MESSAGES) throw new Error(`MQTT: ${stored} stored of ${MQTT_MESSAGES}`);
    const rate = MQTT_MESSAGES / seconds;
    return {
      database: 'sqlite (file, WAL); one record per message, QoS 1, PUBACK after commit',
      broker: broker.kind,
      publisher:
        'a child process (the controllers are not part of Protocam): MQTT 3.1.1 packets pre-encoded by mqtt-packet, QoS 1, on one socket',
      messages: MQTT_MESSAGES,
      publisherWindow: MQTT_WINDOW,
      ingestOptions: 'defaults (batchSize 500, batchDelayMs 5, maxPending 2000)',
      secondsUntilAllPublishAcked: round(publishedAt, 2),
      secondsUntilAllStored: round(seconds, 2),
      acknowledgedByIngest: ingest.stats.acknowledged,
      averageBatch: round(ingest.stats.messages / Math.max(1, ingest.stats.batches), 1),
      ...cpuFigures(cpuUsed, MQTT_MESSAGES, 'message'),
      messagesPerSecond: Math.round(rate),
      target: { target: 10_000, measured: Math.round(rate), met: rate >= 10_000 },
    };
  } finally {
    publisher.kill();
    await ingest.stop();
    await broker.stop();
    await s.db.close();
  }
}

// --- 3. Witness search ---------------------------------------------------------------------------

/** 2,000 doors, 50,000 tags each issued to a holder (encrypted name and contact), from before the window. */
async function seedWitnessRegistry(db: Db, now: number, encryptionKey: Buffer) {
  const seed = await seedRegistry(db.kysely, now);
  const { building_id } = await db.kysely
    .selectFrom('doors')
    .select('building_id')
    .where('id', '=', seed.doorIds[0])
    .executeTakeFirstOrThrow();
  const chunk = 500;
  for (let start = 0; start < DOORS; start += chunk) {
    const values = [];
    for (let i = start; i < Math.min(DOORS, start + chunk); i++)
      values.push({
        id: doorIdOf(i),
        building_id,
        entrance_id: null,
        name: `Door ${i}`,
        code: `DR-${String(i).padStart(4, '0')}`,
        location: null,
        created_at: now,
        updated_at: now,
      });
    await db.kysely.insertInto('doors').values(values).execute();
  }
  const issued = now - 60 * DAY;
  for (let start = 0; start < TAGS; start += chunk) {
    const holders = [];
    const tags = [];
    const assignments = [];
    for (let i = start; i < Math.min(TAGS, start + chunk); i++) {
      const holderId = newId();
      const tagId = newId();
      holders.push({
        id: holderId,
        kind: 'tenant',
        reference: `H-${i}`,
        name_enc: encryptText(encryptionKey, `Holder ${i}`),
        address_enc: null,
        contact_enc: encryptText(encryptionKey, `holder${i}@example.nl`),
        created_at: issued,
        updated_at: issued,
      });
      tags.push({
        id: tagId,
        tag_code: tagOf(i),
        status: 'issued',
        holder_id: holderId,
        issued_at: issued,
        notice_given_at: issued,
        blocked_at: null,
        returned_at: null,
        created_at: issued,
        updated_at: issued,
      });
      assignments.push({
        id: newId(),
        tag_id: tagId,
        holder_id: holderId,
        issued_at: issued,
        notice_given_at: issued,
        ended_at: null,
      });
    }
    await db.kysely.insertInto('tag_holders').values(holders).execute();
    await db.kysely.insertInto('key_tags').values(tags).execute();
    await db.kysely.insertInto('key_tag_assignments').values(assignments).execute();
  }
}

interface WitnessContext {
  encryptionKey: Buffer;
  incidentId: string;
  seedSeconds: number;
  spec: { sourceId: string; from: number; span: number; doors: number; tags: number };
}

/** Registry, holders, a source and a calamity incident; the events come from the fill. */
async function seedWitness(db: Db): Promise<WitnessContext> {
  const clock = new ManualClock(START);
  const encryptionKey = randomBytes(32);
  const now = clock.now();
  const t = performance.now();
  await seedWitnessRegistry(db, now, encryptionKey);
  const seedSeconds = since(t);
  const events = new DoorEventService({ db: db.kysely, clock, audit: new AuditTrail(clock), policy: () => policy });
  const source = await events.createSource(admin, { name: 'Fill', kind: 'http', doorScope: [doorIdOf(0)] });
  const incidentId = await addIncident(db.kysely, now, 'calamity');
  return {
    encryptionKey,
    incidentId,
    seedSeconds,
    spec: { sourceId: source.id, from: now - 28 * DAY, span: 28 * DAY - HOUR, doors: DOORS, tags: TAGS },
  };
}

/** SEARCHES witness searches through the service, each with its own four-eyes grant; only the search is timed. */
async function witnessSearch(db: Db, ctx: WitnessContext) {
  const { clock, gate } = services(db.kysely, policy);
  const queries = new DoorEventQueryService({
    db: db.kysely,
    clock,
    gate,
    policy: () => policy,
    encryptionKey: ctx.encryptionKey,
  });
  const now = clock.now();
  const latencies: number[] = [];
  let witnesses = 0;
  let holders = 0;
  for (let i = 0; i < SEARCHES; i++) {
    // Different doors and hours each time, spread over the four weeks.
    const doorIds = [doorIdOf((i * 97) % DOORS), doorIdOf((i * 97 + 1000) % DOORS)];
    const from = now - 27 * DAY + ((i * 31) % (26 * 24)) * HOUR;
    const to = from + HOUR;
    const pending = await gate.requestAccess(MKW, {
      category: 'door-events',
      purpose: 'calamity-witness-search',
      scope: { doorIds },
      from,
      to,
      reason: 'Fire in the hall: find witnesses',
      incidentId: ctx.incidentId,
    });
    if (pending.status !== 'pending') throw new Error('expected a pending four-eyes request');
    await gate.approve(MVG, pending.requestId);
    const grant = await gate.claimGrant(MKW, pending.requestId);
    const started = performance.now();
    const result = await queries.calamityWitnessSearch(MKW, grant.token, { doorIds, from, to });
    latencies.push(performance.now() - started);
    witnesses += result.witnesses.length;
    holders += result.witnesses.filter((w) => w.holder !== null).length;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const p95 = percentile(sorted, 95);
  return {
    searches: SEARCHES,
    doorsPerSearch: 2,
    windowHours: 1,
    firstMs: round(latencies[0]!, 2),
    p50Ms: round(percentile(sorted, 50), 2),
    p95Ms: round(p95, 2),
    maxMs: round(sorted.at(-1)!, 2),
    averageWitnesses: round(witnesses / SEARCHES, 1),
    averageWithHolder: round(holders / SEARCHES, 1),
    target: { targetP95Ms: 100, measuredP95Ms: round(p95, 2), met: p95 < 100 },
  };
}

async function benchWitnessSqlite(dir: string) {
  const path = join(dir, 'witness.db');
  const db = openDatabase(`sqlite:${path}`);
  await migrateToLatest(db);
  const ctx = await seedWitness(db);
  await db.close();
  // The fill takes the file alone (journal_mode=MEMORY); the app's handle is opened again after it.
  const fill: FillTimes = fillSqlite(path, { rows: WITNESS_ROWS, ...ctx.spec });
  const fileBytes = [path, `${path}-wal`].reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
  const reopened = openDatabase(`sqlite:${path}`);
  try {
    return {
      database: 'sqlite (file, WAL)',
      rows: WITNESS_ROWS,
      seedSeconds: round(ctx.seedSeconds, 1),
      fill,
      databaseGiB: gib(fileBytes),
      ...(await witnessSearch(reopened, ctx)),
    };
  } finally {
    await reopened.close();
  }
}

async function benchWitnessPostgres(dir: string) {
  return withEmbeddedPostgres(
    dir,
    async (url) => {
      const db = openDatabase(url);
      try {
        await migrateToLatest(db);
        const ctx = await seedWitness(db);
        const fill = await fillPostgres(url, { rows: WITNESS_ROWS, ...ctx.spec });
        const size = await sql<{
          database: string;
          events: string;
        }>`select pg_database_size(current_database()) as database,
            (select sum(pg_total_relation_size(c.oid)) from pg_class c
             where c.relkind = 'r' and c.relname like 'door_events_h%') as events`.execute(db.kysely);
        return {
          database:
            'postgresql (embedded; shared_buffers=2GB, max_wal_size=8GB, fsync=off, wal_level=minimal, otherwise defaults)',
          rows: WITNESS_ROWS,
          seedSeconds: round(ctx.seedSeconds, 1),
          fill,
          databaseGiB: gib(Number(size.rows[0]!.database)),
          doorEventsWithIndexesGiB: gib(Number(size.rows[0]!.events)),
          ...(await witnessSearch(db, ctx)),
        };
      } finally {
        await db.close();
      }
    },
    {
      // A throwaway database: no fsync, and wal_level=minimal so that the fill (a table truncated in
      // its own transaction) is written once. Neither changes how a search reads.
      postgresFlags: [
        ...['-c', 'shared_buffers=2GB', '-c', 'max_wal_size=8GB', '-c', 'checkpoint_timeout=30min'],
        ...['-c', 'fsync=off', '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0'],
      ],
      database: 'protocam_bench',
    },
  );
}

const PHASES = ['http', 'mqtt', 'witnessSqlite', 'witnessPostgres'] as const;
type Phase = (typeof PHASES)[number];

/** DOOR_EVENTS_BENCH_PHASES=http,mqtt runs only those phases (for a quick try); default all. */
function wantedPhases(): Set<Phase> {
  const named = (process.env.DOOR_EVENTS_BENCH_PHASES ?? '').split(',').map((p) => p.trim());
  const known = named.filter((p): p is Phase => (PHASES as readonly string[]).includes(p));
  return new Set(known.length > 0 ? known : PHASES);
}

const loadAverage = () => loadavg().map((n) => round(n, 2));

export async function run(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'protocam-bench-door-events-'));
  // The embedded PostgreSQL runs as its own user when we are root: it must be able to write here.
  chmodSync(dir, 0o777);
  const wanted = wantedPhases();
  // Closing a SQLite database waits for its checkpoint worker (src/db/checkpointer.ts), which is
  // unref'd: with nothing else pending the process would exit in the middle of that wait.
  const keepAlive = setInterval(() => {}, 60_000);
  const phases: Record<string, { seconds: number; loadAverageBefore: number[]; loadAverageAfter: number[] }> = {};
  const timed = async <T>(name: Phase, fn: () => Promise<T>): Promise<T | undefined> => {
    if (!wanted.has(name)) return undefined;
    const t = performance.now();
    const loadAverageBefore = loadAverage();
    try {
      const result = await fn();
      // Each phase as it ends (stderr): a 30-million-row run takes long enough to want them early.
      console.error(JSON.stringify({ phase: name, seconds: round(since(t), 1), loadAverageBefore, result }));
      return result;
    } finally {
      phases[name] = { seconds: round(since(t), 1), loadAverageBefore, loadAverageAfter: loadAverage() };
    }
  };
  try {
    const http = await timed('http', () => benchHttp(dir));
    const mqttResult = await timed('mqtt', () => benchMqtt(dir));
    const sqlite = await timed('witnessSqlite', () => benchWitnessSqlite(dir));
    const postgres = await timed('witnessPostgres', () => benchWitnessPostgres(dir));
    return {
      note: 'os.loadavg() (1, 5, 15 min) before and after each phase: the machine is shared, figures are noisy',
      httpIngest: http,
      mqttIngest: mqttResult,
      witnessSearch: {
        rows: WITNESS_ROWS,
        targetRows: FULL_ROWS,
        fullSize: WITNESS_ROWS >= FULL_ROWS,
        spread: `${DOORS} doors, ${TAGS} tags (each with a holder), four weeks, 10 % denied`,
        sqlite,
        postgres,
      },
      targets: {
        httpAtLeastHalfOfBare: http?.targets.atLeastHalfOfBare,
        httpAtLeast50kPerSecond: http?.targets.atLeast50kPerSecond,
        mqttAtLeast10kPerSecond: mqttResult?.target,
        witnessSqliteUnder100ms: sqlite && { rows: WITNESS_ROWS, ...sqlite.target },
        witnessPostgresUnder100ms: postgres && { rows: WITNESS_ROWS, ...postgres.target },
      },
      phases,
      totalSeconds: round(since(started), 1),
    };
  } finally {
    clearInterval(keepAlive);
    rmSync(dir, { recursive: true, force: true });
  }
}
