/**
 * MQTT ingest of door events: subscribes to one topic on a configured broker (mqtt:// or
 * mqtts:// with credentials) and stores each message's records for one `mqtt` source
 * through the same `DoorEventService.ingest` path as HTTP batches.
 *
 * Delivery guarantee: a QoS 1 message is acknowledged (PUBACK) only after the transaction
 * holding its records has committed, or after it was definitively rejected as invalid (bad
 * JSON, bad records: counted as rejected on the source and acknowledged, so a malformed
 * message is not redelivered forever). The session is persistent (`clean: false`, a stable
 * client id), so the broker redelivers what was not acknowledged after a reconnect; storing
 * is idempotent by (source, source event id), so a redelivered message is not stored twice.
 *
 * Batching: mqtt.js handles incoming packets one at a time and sends the PUBACK itself once
 * `handleMessage` calls back. Holding that callback until a commit would allow one message
 * per transaction. Instead `handleMessage` calls back at once and the PUBACK that mqtt.js then
 * sends is held back (intercepting the client's `_sendPacket`) until the batch has committed.
 * PUBACKs for messages received on an earlier connection are dropped (their packet ids mean
 * nothing on the new connection; the broker redelivers them). At most `maxPending` messages
 * wait for a commit; beyond that the callback is held, which stops reading from the socket.
 */
import { redactUrl } from '../media/redact.js';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from '../lib/logger.js';
import { recordTexts } from './door-events.rules.js';
import type { BatchResult, DoorEventService } from './door-events.service.js';

export interface MqttIngestOptions {
  events: DoorEventService;
  logger: Logger;
  /** The door-event source (kind `mqtt`) the messages belong to. */
  sourceId: string;
  /** `mqtt://host:port` or `mqtts://host:port`; credentials in the URL are never logged. */
  url: string;
  topic: string;
  /** Stable per installation and source: the broker keeps the session under this id. */
  clientId: string;
  username?: string;
  password?: string;
  /** PEM CA certificate(s) for mqtts:// brokers with a private CA. */
  ca?: string | Buffer;
  /** Default true; false only for test brokers with self-signed certificates. */
  rejectUnauthorized?: boolean;
  qos?: 1;
  /** MQTT 3.1.1 (4, default) or 5. */
  protocolVersion?: 4 | 5;
  /** Records per `ingest` call (capped at the service's maxBatch); default 500. */
  batchSize?: number;
  /** How long the first message of a batch waits for others; default 5 ms. */
  batchDelayMs?: number;
  /** Messages awaiting commit before reading from the broker pauses; default 2000. */
  maxPending?: number;
  /** First reconnect delay; mqtt.js retries at this period. Default 1000 ms. */
  reconnectPeriodMs?: number;
}

export interface MqttIngestStats {
  /** Messages received (including redeliveries). */
  messages: number;
  /** Messages whose PUBACK was sent after their batch committed. */
  acknowledged: number;
  /** Messages that could not be parsed as JSON (stored as one `record-invalid` rejection each). */
  malformed: number;
  /** Totals of the committed `ingest` calls. */
  received: number;
  accepted: number;
  duplicates: number;
  late: number;
  rejected: number;
  /** Commit attempts that failed and were retried. */
  failedCommits: number;
  /** Batches committed (messages / batches is the average batch). */
  batches: number;
}

interface Pending {
  /** Connection the message arrived on; its PUBACK is sent only on that same connection. */
  generation: number;
  messageId: number | undefined;
  records: unknown[];
  /** Each record's JSON as sent (its raw payload), where the message splits cleanly. */
  texts: (string | null)[] | null;
  committed: boolean;
  /** The held-back PUBACK, once mqtt.js has tried to send it. */
  sendAck: (() => void) | null;
}

type SendPacket = (packet: Packet, cb?: (error?: Error) => void, ...rest: unknown[]) => void;

/** One message: a JSON record or an array of records. Unparsable text is one invalid record. */
export function recordsOf(payload: Buffer): {
  records: unknown[];
  texts: (string | null)[] | null;
  malformed: boolean;
} {
  const text = payload.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { records: [null], texts: null, malformed: true };
  }
  const records = Array.isArray(value) ? value : [value];
  return { records, texts: recordTexts(text, records.length), malformed: false };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class MqttDoorEventIngest {
  private client: MqttClient | null = null;
  private generation = 0;
  private batch: Pending[] = [];
  private batchRecords = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Messages of the connection in use that wait for a commit, by packet id. */
  private readonly inflight = new Map<number, Pending>();
  private pendingCount = 0;
  private readonly heldCallbacks: (() => void)[] = [];
  private stopping = false;
  private readonly batchSize: number;
  private readonly batchDelayMs: number;
  private readonly maxPending: number;
  private readonly log: Logger;
  readonly stats: MqttIngestStats = {
    messages: 0,
    acknowledged: 0,
    malformed: 0,
    received: 0,
    accepted: 0,
    duplicates: 0,
    late: 0,
    rejected: 0,
    failedCommits: 0,
    batches: 0,
  };

  constructor(private readonly options: MqttIngestOptions) {
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 500, options.events.maxBatch));
    this.batchDelayMs = options.batchDelayMs ?? 5;
    this.maxPending = Math.max(1, options.maxPending ?? 2000);
    this.log = options.logger.child({
      component: 'mqtt-ingest',
      sourceId: options.sourceId,
      broker: redactUrl(options.url),
      topic: options.topic,
    });
  }

  private subscribedGeneration = -1;

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connected and subscribed on the current connection. */
  get subscribed(): boolean {
    return this.connected && this.subscribedGeneration === this.generation;
  }

  /** Checks the source and connects; resolves once the client exists (the connection may follow). */
  async start(): Promise<void> {
    if (this.client) return;
    const source = await this.options.events.getSource(this.options.sourceId);
    if (source.kind !== 'mqtt') throw new Error(`door-event source ${source.id} is of kind ${source.kind}, not mqtt`);
    this.stopping = false;
    const o = this.options;
    const clientOptions: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: o.protocolVersion ?? 4,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      connectTimeout: 10_000,
      // Subscriptions are (re)made on every connect below.
      resubscribe: false,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0xffffffff } } : {}),
    };
    const client = mqtt.connect(o.url, clientOptions);
    this.client = client;
    this.interceptPubacks(client);
    client.handleMessage = (packet, callback) => this.onMessage(packet, callback);
    client.on('connect', (connack) => {
      this.generation++;
      const generation = this.generation;
      this.log.info({ sessionPresent: connack.sessionPresent }, 'connected to the MQTT broker');
      client.subscribe(o.topic, { qos: 1 }, (error, granted) => {
        if (error) this.log.error({ err: error.message }, 'subscribing failed');
        else if (granted?.some((g) => g.qos > 2)) this.log.error('the broker refused the subscription');
        else this.subscribedGeneration = generation;
      });
    });
    client.on('close', () => {
      this.generation++;
      this.inflight.clear();
      if (!this.stopping) this.log.warn('connection to the MQTT broker lost; reconnecting');
    });
    client.on('error', (error) => this.log.warn({ err: error.message }, 'MQTT client error'));
  }

  /** Commits what was received, acknowledges it, and disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushing = this.flushing.then(() => this.flush());
    await this.flushing;
    await client.endAsync();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.client = null;
    this.log.info('disconnected from the MQTT broker');
  }

  /** Holds back the PUBACK mqtt.js sends for a message until its batch has committed. */
  private interceptPubacks(client: MqttClient): void {
    const target = client as unknown as { _sendPacket?: SendPacket };
    const original = target._sendPacket;
    if (typeof original !== 'function')
      throw new Error('this mqtt.js version has no _sendPacket; acknowledging after commit is not possible');
    target._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const pending = this.inflight.get(packet.messageId);
        if (pending && !pending.committed) {
          pending.sendAck = () => original.call(client, packet, undefined, ...rest);
          cb?.();
          return;
        }
        if (pending) this.inflight.delete(packet.messageId);
        if (!pending || pending.generation !== this.generation || !client.connected) {
          // Not from this connection: the broker redelivers it; sending it now could ack another message.
          cb?.();
          return;
        }
        this.stats.acknowledged++;
      }
      original.call(client, packet, cb, ...rest);
    };
  }

  private onMessage(packet: IPublishPacket, callback: (error?: Error) => void): void {
    this.stats.messages++;
    const { records, texts, malformed } = recordsOf(
      Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    );
    if (malformed) this.stats.malformed++;
    const pending: Pending = {
      generation: this.generation,
      messageId: packet.qos > 0 ? packet.messageId : undefined,
      records,
      texts,
      committed: false,
      sendAck: null,
    };
    if (packet.qos === 1 && packet.messageId !== undefined) this.inflight.set(packet.messageId, pending);
    this.batch.push(pending);
    this.batchRecords += records.length;
    this.pendingCount++;
    if (this.batchRecords >= this.batchSize) this.flushSoon(0);
    else this.flushSoon(this.batchDelayMs);
    if (this.pendingCount < this.maxPending) callback();
    else this.heldCallbacks.push(() => callback());
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing = this.flushing.then(() => this.flush());
    }, delayMs);
  }

  private releaseHeld(): void {
    while (this.heldCallbacks.length > 0 && this.pendingCount < this.maxPending) this.heldCallbacks.shift()?.();
  }

  /** Commits the current batch (retrying with backoff while running), then sends its PUBACKs. */
  private async flush(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.batchRecords = 0;
    const records = batch.flatMap((p) => p.records);
    const texts = batch.flatMap((p) => p.texts ?? p.records.map(() => null));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.commit(records, texts);
        break;
      } catch (error) {
        this.stats.failedCommits++;
        if (this.stopping || !this.client) {
          // Not acknowledged: the broker redelivers these messages in the next session.
          this.log.warn(
            { err: (error as Error).message, messages: batch.length },
            'commit failed; left unacknowledged',
          );
          this.pendingCount -= batch.length;
          return;
        }
        const delay = Math.min(30_000, 200 * 2 ** Math.min(attempt, 8));
        this.log.warn({ err: (error as Error).message, messages: batch.length, retryInMs: delay }, 'commit failed');
        await sleep(delay);
      }
    }
    for (const p of batch) {
      p.committed = true;
      const send = p.sendAck;
      p.sendAck = null;
      if (!send) continue; // mqtt.js has not asked to send this PUBACK yet (callback held): it passes through later.
      if (p.messageId !== undefined && this.inflight.get(p.messageId) === p) this.inflight.delete(p.messageId);
      // A PUBACK of an earlier connection is dropped: the broker redelivers that message.
      if (p.generation === this.generation && this.client?.connected) {
        this.stats.acknowledged++;
        send();
      }
    }
    this.pendingCount -= batch.length;
    this.releaseHeld();
  }

  private async commit(records: unknown[], texts: (string | null)[]): Promise<void> {
    const { events, sourceId } = this.options;
    const total: Omit<BatchResult, 'rejected'> & { rejected: number } = {
      received: 0,
      accepted: 0,
      duplicates: 0,
      late: 0,
      rejected: 0,
    };
    const reasons = new Map<string, number>();
    for (let start = 0; start < records.length; start += events.maxBatch) {
      const end = start + events.maxBatch;
      const result = await events.ingest(sourceId, records.slice(start, end), texts.slice(start, end));
      total.received += result.received;
      total.accepted += result.accepted;
      total.duplicates += result.duplicates;
      total.late += result.late;
      total.rejected += result.rejected.length;
      for (const r of result.rejected) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    }
    this.stats.batches++;
    this.stats.received += total.received;
    this.stats.accepted += total.accepted;
    this.stats.duplicates += total.duplicates;
    this.stats.late += total.late;
    this.stats.rejected += total.rejected;
    if (total.rejected > 0) this.log.warn({ rejected: Object.fromEntries(reasons) }, 'door-event records rejected');
    this.log.debug(total, 'door-event batch committed');
  }
}
