/**
 * The server's own wiring of MQTT ingest: configured by PROTOCAM_MQTT_*, it subscribes at start
 * and stores the door events published to a real broker (M 6.6), then stops with the server.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';
import { isDomainError } from '../src/lib/errors.js';
import { ManualClock } from '../src/lib/clock.js';
import { createLogger } from '../src/lib/logger.js';
import { openRuntime, startServer, type Started } from '../src/server.js';
import { seedRegistry } from './access-fixtures.js';
import { testDataDir } from './db.js';
import { startTestBroker, type TestBroker } from './mqtt-broker.js';
import { allDoorEvents } from '../src/door-events/partitions.repository.js';

describe('MQTT ingest configured on the server', () => {
  // Real time: the broker, the client and the ingest all run on real timers.
  const clock = new ManualClock(Date.now());
  let broker: TestBroker;
  let started: Started;
  let doorCode: string;
  const dataDir = testDataDir();
  const baseEnv = { PROTOCAM_DATA_DIR: dataDir, PROTOCAM_PORT: '0', PROTOCAM_POLICY: 'maaswonen-2024' };

  beforeAll(async () => {
    broker = await startTestBroker();
    const setup = await openRuntime(loadConfig(baseEnv), clock, createLogger('silent'));
    let sourceId: string;
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
          { name: 'Broker hal', kind: 'mqtt', doorScope: [seed.doorIds[0]] },
        )
      ).id;
    } finally {
      await setup.db.close();
    }
    const env = {
      ...baseEnv,
      PROTOCAM_MQTT_URL: broker.url,
      PROTOCAM_MQTT_TOPIC: 'doors/events',
      PROTOCAM_MQTT_SOURCE: sourceId,
    };
    started = await startServer(await openRuntime(loadConfig(env), clock, createLogger('silent')));
  });
  afterAll(async () => {
    await started?.close();
    await broker?.stop();
  });

  it('stores what is published to the configured topic', async () => {
    const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await publisher.publishAsync(
      'doors/events',
      JSON.stringify({
        sourceEventId: 'm-1',
        occurredAt: new Date(Date.now() - 60_000).toISOString(),
        door: doorCode,
        tag: 'TAG-7',
        result: 'granted',
      }),
      { qos: 1 },
    );
    await publisher.endAsync();
    const db = openDatabase(`sqlite:${dataDir}/protocam.db`);
    try {
      let stored: { tag_code: string }[] = [];
      for (let i = 0; i < 50 && stored.length === 0; i++) {
        stored = (await allDoorEvents(db.kysely)).map((r) => ({ tag_code: r.tag_code }));
        if (stored.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(stored).toEqual([{ tag_code: 'TAG-7' }]);
    } finally {
      await db.close();
    }
  });

  it('a URL without topic or source stops start-up naming the missing variables', () => {
    try {
      loadConfig({ ...baseEnv, PROTOCAM_MQTT_URL: 'mqtt://127.0.0.1:1883' });
      expect.unreachable();
    } catch (error) {
      expect(isDomainError(error) && error.message).toMatch(/PROTOCAM_MQTT_TOPIC, PROTOCAM_MQTT_SOURCE/);
    }
  });
});
