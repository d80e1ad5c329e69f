import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { seedRegistry, START } from '../../test/access-fixtures.js';
import { startTestBroker, type TestBroker } from '../../test/mqtt-broker.js';
import { redactUrl } from '../media/redact.js';
import { MqttDoorEventIngest, recordsOf } from './door-events.mqtt.js';
import { DoorEventService } from './door-events.service.js';
import { allDoorEvents } from './partitions.repository.js';

const admin = { id: 'u-admin', label: 'beheerder' };
const TOPIC = 'protocam/doors/events';

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A DoorEventService whose ingest can be made to fail, as with a database that is down. */
class FlakyDoorEventService extends DoorEventService {
  failing = false;
  override async ingest(sourceId: string, records: readonly unknown[]) {
    if (this.failing) throw new Error('database unavailable');
    return super.ingest(sourceId, records);
  }
}

describe('mqtt ingest helpers', () => {
  it('redacts credentials from the broker URL', () => {
    expect(redactUrl('mqtts://user:s3cret@broker.example:8883/x')).toBe('mqtts://***@broker.example:8883/x');
  });
  it('reads one record, an array of records, or marks the message malformed', () => {
    expect(recordsOf(Buffer.from('{"a":1}'))).toEqual({ records: [{ a: 1 }], texts: ['{"a":1}'], malformed: false });
    expect(recordsOf(Buffer.from('[{"a":1},{"a":2}]'))).toMatchObject({ texts: ['{"a":1}', '{"a":2}'] });
    expect(recordsOf(Buffer.from('{nope'))).toEqual({ records: [null], texts: null, malformed: true });
  });
});

describe.each(DIALECTS)('MQTT door-event ingest on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let events: FlakyDoorEventService;
  let doorCode: string;
  let sourceId: string;
  let broker: TestBroker | null;
  let publisher: MqttClient | null;
  const ingests: MqttDoorEventIngest[] = [];
  const logger = createLogger('silent');
  let clientId: string;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock(START);
    const policy = loadPolicy('maaswonen-2024').policy;
    events = new FlakyDoorEventService({ db: db.kysely, clock, audit: new AuditTrail(clock), policy: () => policy });
    const seed = await seedRegistry(db.kysely, clock.now());
    const door = await db.kysely
      .selectFrom('doors')
      .select('code')
      .where('id', '=', seed.doorIds[0])
      .executeTakeFirstOrThrow();
    doorCode = door.code;
    sourceId = (await events.createSource(admin, { name: 'Nedap MQTT', kind: 'mqtt', doorScope: [seed.doorIds[0]] }))
      .id;
    clientId = `protocam-test-${dialect}-${Date.now()}`;
    broker = null;
    publisher = null;
  });
  afterEach(async () => {
    for (const ingest of ingests.splice(0)) await ingest.stop();
    await publisher?.endAsync(true);
    await broker?.stop();
    await db.close();
  });

  const event = (id: string, over: object = {}) => ({
    sourceEventId: id,
    occurredAt: new Date(clock.now() - 60_000).toISOString(),
    door: doorCode,
    tag: 'TAG-1',
    result: 'granted',
    ...over,
  });
  const storedIds = async () => (await allDoorEvents(db.kysely)).map((r) => r.source_event_id);
  const startIngest = async (over: { batchDelayMs?: number } = {}) => {
    const ingest = new MqttDoorEventIngest({
      events,
      logger,
      sourceId,
      url: broker!.url,
      topic: TOPIC,
      clientId,
      qos: 1,
      reconnectPeriodMs: 100,
      ...over,
    });
    ingests.push(ingest);
    await ingest.start();
    await waitFor(() => ingest.subscribed);
    return ingest;
  };
  const stopIngest = async (ingest: MqttDoorEventIngest) => {
    await ingest.stop();
    ingests.splice(ingests.indexOf(ingest), 1);
  };
  const connectPublisher = async () => {
    publisher = await mqtt.connectAsync(broker!.url, {
      clientId: `publisher-${clientId}`,
      reconnectPeriod: 100,
      connectTimeout: 2000,
    });
    return publisher;
  };

  it('stores QoS 1 messages (single records and arrays) and acknowledges them', async () => {
    broker = await startTestBroker();
    const ingest = await startIngest();
    const pub = await connectPublisher();
    for (let i = 0; i < 40; i++) await pub.publishAsync(TOPIC, JSON.stringify(event(`e${i}`)), { qos: 1 });
    await pub.publishAsync(TOPIC, JSON.stringify([event('a1'), event('a2'), event('e0')]), { qos: 1 });
    await waitFor(async () => (await storedIds()).length === 42);
    await waitFor(() => ingest.stats.acknowledged === 41);
    expect(ingest.stats).toMatchObject({ messages: 41, accepted: 42, duplicates: 1, rejected: 0, malformed: 0 });
    const counters = (await events.getSource(sourceId)).counters;
    expect(counters).toMatchObject({ received: 43, accepted: 42, duplicate: 1, rejected: 0 });
  });

  it('counts a malformed message as rejected, acknowledges it, and does not get it again', async () => {
    broker = await startTestBroker({ persistent: true });
    const first = await startIngest();
    const pub = await connectPublisher();
    await pub.publishAsync(TOPIC, '{ this is not json', { qos: 1 });
    await pub.publishAsync(TOPIC, JSON.stringify(event('bad', { door: 'NO-SUCH-DOOR' })), { qos: 1 });
    await pub.publishAsync(TOPIC, JSON.stringify(event('good')), { qos: 1 });
    await waitFor(() => first.stats.acknowledged === 3);
    expect(first.stats).toMatchObject({ malformed: 1, rejected: 2, accepted: 1 });
    const reasons = await events.rejectionCounts(sourceId);
    expect(Object.fromEntries(reasons.map((r) => [r.reason, r.count]))).toEqual({
      'record-invalid': 1,
      'door-unknown': 1,
    });
    await stopIngest(first);

    // The same session again: the broker has nothing left to redeliver.
    const second = await startIngest();
    await pub.publishAsync(TOPIC, JSON.stringify(event('marker')), { qos: 1 });
    await waitFor(async () => (await storedIds()).includes('marker'));
    expect(second.stats.messages).toBe(1);
    expect((await events.getSource(sourceId)).counters).toMatchObject({ received: 4, rejected: 2, accepted: 2 });
  });

  it('does not acknowledge before the commit: what failed to commit is redelivered', async () => {
    broker = await startTestBroker({ persistent: true });
    const first = await startIngest();
    const pub = await connectPublisher();
    events.failing = true;
    for (let i = 0; i < 5; i++) await pub.publishAsync(TOPIC, JSON.stringify(event(`f${i}`)), { qos: 1 });
    await waitFor(() => first.stats.messages === 5 && first.stats.failedCommits > 0);
    await stopIngest(first);
    expect(first.stats.acknowledged).toBe(0);
    expect(await storedIds()).toEqual([]);

    events.failing = false;
    const second = await startIngest();
    await waitFor(async () => (await storedIds()).length === 5);
    await waitFor(() => second.stats.acknowledged === 5);
    expect((await storedIds()).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
  });

  describe.each([
    { persistent: true, label: 'a broker that keeps its sessions' },
    { persistent: false, label: 'a fresh broker' },
  ])('broker restart mid-stream: $label', ({ persistent }) => {
    it('reconnects by itself, loses nothing acknowledged and doubles nothing', async () => {
      broker = await startTestBroker({ persistent });
      const ingest = await startIngest({ batchDelayMs: 2 });
      const pub = await connectPublisher();
      const total = 300;
      const acked: string[] = [];
      const ackedAfterRestart: string[] = [];
      let restarted = false;
      const publishing: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const id = `m${i}`;
        const startedAfterResubscribe = restarted;
        const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 6000));
        const sent = pub.publishAsync(TOPIC, JSON.stringify(event(id)), { qos: 1 }).then(
          () => true,
          () => false,
        );
        publishing.push(
          Promise.race([sent, timeout]).then((ok) => {
            if (!ok) return;
            acked.push(id);
            if (startedAfterResubscribe) ackedAfterRestart.push(id);
          }),
        );
        if (i === 100) {
          await broker.restart();
          // A fresh broker drops what is published before the ingest has subscribed again. The
          // `subscribed` flag may still describe the old connection for a moment, so only a probe
          // message that arrives proves the new subscription (probe ids continue the m-series).
          let probe = 0;
          await waitFor(async () => {
            const id = `m${1000 + probe++}`;
            await Promise.race([
              pub.publishAsync(TOPIC, JSON.stringify(event(id)), { qos: 1 }).catch(() => undefined),
              new Promise((resolve) => setTimeout(resolve, 1000)),
            ]);
            await new Promise((resolve) => setTimeout(resolve, 100));
            return (await storedIds()).includes(id);
          }, 10_000);
          restarted = true;
        }
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await Promise.all(publishing);
      expect(ackedAfterRestart.length).toBeGreaterThan(0);

      await waitFor(() => ingest.subscribed);
      const mustHave = persistent ? acked : ackedAfterRestart;
      await waitFor(async () => {
        const stored = new Set(await storedIds());
        return mustHave.every((id) => stored.has(id));
      }, 10_000);
      const stored = await storedIds();
      expect(stored.length).toBe(new Set(stored).size);
      expect(stored.every((id) => /^m\d+$/.test(id))).toBe(true);
      const counters = (await events.getSource(sourceId)).counters;
      expect(counters.accepted).toBe(stored.length);
      // Under load the client may be between reconnect attempts at this instant; it must get back.
      await waitFor(() => ingest.connected);
      // Still subscribed after the restart.
      await pub.publishAsync(TOPIC, JSON.stringify(event('after')), { qos: 1 });
      await waitFor(async () => (await storedIds()).includes('after'));
    }, 20_000);
  });
});
