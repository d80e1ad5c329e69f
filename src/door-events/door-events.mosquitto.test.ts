/**
 * MQTT ingest against a real Mosquitto (issue 5: "Ingest over real MQTT ... and, where installed,
 * Mosquitto"; "TLS and credentials supported"): TLS with a private CA and a password, refusal of
 * an untrusted certificate and of a wrong password, a Mosquitto restart mid-stream with nothing
 * lost and nothing doubled, and the server's own PROTOCAM_MQTT_* wiring over TLS.
 */
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail } from '../audit/audit.js';
import { loadConfig } from '../config/config.js';
import { openDatabase, type Db } from '../db/database.js';
import { ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { openRuntime, startServer, type Started } from '../server.js';
import { createTestDb, DIALECTS, testDataDir } from '../../test/db.js';
import { seedRegistry, START } from '../../test/access-fixtures.js';
import { MOSQUITTO, startMosquitto, type MosquittoBroker } from '../../test/mosquitto.js';
import { MqttDoorEventIngest, type MqttIngestOptions } from './door-events.mqtt.js';
import { DoorEventService } from './door-events.service.js';
import { allDoorEvents } from './partitions.repository.js';

const admin = { id: 'u-admin', label: 'beheerder' };
const TOPIC = 'protocam/doors/events';

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A logger whose warnings and errors the test can read. */
function recordingLogger() {
  const lines: string[] = [];
  const logger = createLogger(
    'warn',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  return { logger, lines };
}

if (!MOSQUITTO.available) console.warn(`Mosquitto tests skipped: ${MOSQUITTO.skipReason}`);

describe.skipIf(!MOSQUITTO.available)('Mosquitto (real broker process)', () => {
  let broker: MosquittoBroker;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  describe.each(DIALECTS)('MQTT door-event ingest via Mosquitto on %s', (dialect) => {
    let db: Db;
    let clock: ManualClock;
    let events: DoorEventService;
    let doorCode: string;
    let sourceId: string;
    let clientId: string;
    let publisher: MqttClient | null;
    const ingests: MqttDoorEventIngest[] = [];

    beforeEach(async () => {
      // A restart test may have left it stopped if it failed half-way.
      await broker.start();
      db = await createTestDb(dialect);
      clock = new ManualClock(START);
      const policy = loadPolicy('maaswonen-2024').policy;
      events = new DoorEventService({ db: db.kysely, clock, audit: new AuditTrail(clock), policy: () => policy });
      const seed = await seedRegistry(db.kysely, clock.now());
      doorCode = (
        await db.kysely.selectFrom('doors').select('code').where('id', '=', seed.doorIds[0]).executeTakeFirstOrThrow()
      ).code;
      sourceId = (await events.createSource(admin, { name: 'Mosquitto', kind: 'mqtt', doorScope: [seed.doorIds[0]] }))
        .id;
      clientId = `protocam-mosq-${dialect}-${Date.now()}`;
      publisher = null;
    });
    afterEach(async () => {
      for (const ingest of ingests.splice(0)) await ingest.stop();
      await publisher?.endAsync(true);
      await db.close();
    });

    const event = (id: string) => ({
      sourceEventId: id,
      occurredAt: new Date(clock.now() - 60_000).toISOString(),
      door: doorCode,
      tag: 'TAG-1',
      result: 'granted',
    });
    const storedIds = async () => (await allDoorEvents(db.kysely)).map((r) => r.source_event_id);
    const newIngest = (over: Partial<MqttIngestOptions> = {}) => {
      const ingest = new MqttDoorEventIngest({
        events,
        logger: createLogger('silent'),
        sourceId,
        url: broker.tlsUrl,
        topic: TOPIC,
        clientId,
        ca: broker.ca,
        ...broker.credentials,
        reconnectPeriodMs: 100,
        batchDelayMs: 2,
        ...over,
      });
      ingests.push(ingest);
      return ingest;
    };
    const connectPublisher = async () => {
      publisher = await mqtt.connectAsync(broker.tlsUrl, {
        clientId: `publisher-${clientId}`,
        ca: broker.ca,
        ...broker.credentials,
        reconnectPeriod: 100,
        connectTimeout: 5000,
      });
      return publisher;
    };

    it('ingests over TLS (private CA) with username and password, acknowledging after commit', async () => {
      const ingest = newIngest();
      await ingest.start();
      await waitFor(() => ingest.subscribed);
      const pub = await connectPublisher();
      for (let i = 0; i < 30; i++) await pub.publishAsync(TOPIC, JSON.stringify(event(`t${i}`)), { qos: 1 });
      await pub.publishAsync(TOPIC, JSON.stringify([event('t30'), event('t31'), event('t0')]), { qos: 1 });
      await waitFor(async () => (await storedIds()).length === 32);
      await waitFor(() => ingest.stats.acknowledged === 31);
      expect(ingest.stats).toMatchObject({ messages: 31, accepted: 32, duplicates: 1, rejected: 0 });
      expect((await events.getSource(sourceId)).counters).toMatchObject({ received: 33, accepted: 32, duplicate: 1 });
    });

    it('does not connect with a wrong password or without the CA, and says why', async () => {
      const wrongPassword = recordingLogger();
      const refused = newIngest({ logger: wrongPassword.logger, password: 'not-the-password' });
      await refused.start();
      const untrusted = recordingLogger();
      const noCa = newIngest({ logger: untrusted.logger, clientId: `${clientId}-noca`, ca: undefined });
      await noCa.start();
      await waitFor(() => wrongPassword.lines.some((l) => /Not authorized/i.test(l)));
      await waitFor(() => untrusted.lines.some((l) => /certificate/i.test(l)));
      expect(refused.connected).toBe(false);
      expect(noCa.connected).toBe(false);
      expect(await storedIds()).toEqual([]);
    });

    it('Mosquitto restarts mid-stream: everything acknowledged to the publisher is stored once', async () => {
      const ingest = newIngest();
      await ingest.start();
      await waitFor(() => ingest.subscribed);
      const pub = await connectPublisher();
      const total = 300;
      const acked: string[] = [];
      const publishing: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const id = `m${i}`;
        // A publish that the broker never acknowledged (cut by the restart) promises nothing.
        const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 8000));
        const sent = pub.publishAsync(TOPIC, JSON.stringify(event(id)), { qos: 1 }).then(
          () => true,
          () => false,
        );
        publishing.push(
          Promise.race([sent, timeout]).then((ok) => {
            if (ok) acked.push(id);
          }),
        );
        // Mosquitto keeps the ingest's session and its queued and in-flight messages in its
        // persistence file across the restart (SIGTERM, as a service manager stops it).
        if (i === 100) await broker.restart();
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await Promise.all(publishing);
      expect(acked.length).toBeGreaterThan(200);
      await waitFor(async () => {
        const stored = new Set(await storedIds());
        return acked.every((id) => stored.has(id));
      }, 15_000);
      const stored = await storedIds();
      expect(stored.length).toBe(new Set(stored).size);
      expect(stored.every((id) => /^m\d+$/.test(id))).toBe(true);
      expect((await events.getSource(sourceId)).counters.accepted).toBe(stored.length);
      // Subscribed again on the new connection.
      await waitFor(() => ingest.connected);
      await pub.publishAsync(TOPIC, JSON.stringify(event('after')), { qos: 1 });
      await waitFor(async () => (await storedIds()).includes('after'));
    }, 30_000);
  });

  describe('the server configured by PROTOCAM_MQTT_* (URL, username, password, CA file)', () => {
    const clock = new ManualClock(Date.now());
    const dataDir = testDataDir();
    const baseEnv = { PROTOCAM_DATA_DIR: dataDir, PROTOCAM_PORT: '0', PROTOCAM_POLICY: 'maaswonen-2024' };
    let started: Started | undefined;
    afterAll(async () => {
      await started?.close();
    });

    it('subscribes over TLS with credentials and stores what is published', async () => {
      const setup = await openRuntime(loadConfig(baseEnv), clock, createLogger('silent'));
      let sourceId: string;
      let doorCode: string;
      try {
        const seed = await seedRegistry(setup.db.kysely, clock.now());
        doorCode = (
          await setup.db.kysely
            .selectFrom('doors')
            .select('code')
            .where('id', '=', seed.doorIds[0])
            .executeTakeFirstOrThrow()
        ).code;
        sourceId = (
          await setup.doorEvents.createSource(
            { id: null, label: 'test' },
            { name: 'Mosquitto TLS', kind: 'mqtt', doorScope: [seed.doorIds[0]] },
          )
        ).id;
      } finally {
        await setup.db.close();
      }
      const env = {
        ...baseEnv,
        PROTOCAM_MQTT_URL: broker.tlsUrl,
        PROTOCAM_MQTT_TOPIC: 'doors/tls',
        PROTOCAM_MQTT_SOURCE: sourceId,
        PROTOCAM_MQTT_USERNAME: broker.credentials.username,
        PROTOCAM_MQTT_PASSWORD: broker.credentials.password,
        PROTOCAM_MQTT_CA_FILE: broker.caFile,
      };
      started = await startServer(await openRuntime(loadConfig(env), clock, createLogger('silent')));
      const pub = await mqtt.connectAsync(broker.tlsUrl, { ca: broker.ca, ...broker.credentials });
      const db = openDatabase(`sqlite:${dataDir}/protocam.db`);
      try {
        // Until the server has subscribed, a publish reaches no one: publish until one is stored.
        let n = 0;
        await waitFor(async () => {
          await pub.publishAsync(
            'doors/tls',
            JSON.stringify({
              sourceEventId: `s-${n++}`,
              occurredAt: new Date(Date.now() - 60_000).toISOString(),
              door: doorCode,
              tag: 'TAG-TLS',
              result: 'granted',
            }),
            { qos: 1 },
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
          return (await allDoorEvents(db.kysely)).length > 0;
        });
        const rows = await allDoorEvents(db.kysely);
        expect(rows.every((r) => r.tag_code === 'TAG-TLS')).toBe(true);
      } finally {
        await db.close();
        await pub.endAsync();
      }
    });
  });
});
