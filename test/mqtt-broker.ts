/**
 * Test support: a real MQTT broker (aedes, in-process) on a fixed localhost port that tests
 * can stop and start again on the same port, to exercise reconnects. Not used by the app.
 *
 * `persistent: true` keeps one in-memory aedes persistence across restarts, like a broker
 * with durable storage (Mosquitto with `persistence true`): sessions of `clean: false`
 * clients and their unacknowledged QoS 1 messages survive the restart. Without it every
 * start is a fresh broker that has forgotten all sessions.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { Aedes } from 'aedes';

// Opaque here: handed to aedes only.
type Persistence = object;
// aedes' own (CommonJS) in-memory persistence; its typings do not describe the CJS export.
const memoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => Persistence;

export interface TestBrokerOptions {
  /** Keep sessions and queued QoS 1 messages across restarts (default false). */
  persistent?: boolean;
}

export class TestBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly persistence: Persistence | undefined;
  private port = 0;

  constructor(options: TestBrokerOptions = {}) {
    this.persistence = options.persistent ? memoryPersistence() : undefined;
  }

  get url(): string {
    if (this.port === 0) throw new Error('the test broker has not been started');
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** Starts the broker; the first start picks a free port, later starts reuse it. */
  async start(): Promise<void> {
    if (this.server) return;
    const broker = await Aedes.createBroker(this.persistence ? { persistence: this.persistence } : {});
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.broker = broker;
    this.server = server;
  }

  /** Stops the broker abruptly: every client connection is cut, the port is freed. */
  async stop(): Promise<void> {
    const { broker, server } = this;
    if (!broker || !server) return;
    this.broker = null;
    this.server = null;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await serverClosed;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const broker = new TestBroker(options);
  await broker.start();
  return broker;
}
