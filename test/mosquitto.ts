/**
 * Test support: a real Mosquitto broker in its own process, on free localhost ports, with a
 * generated configuration: a plain listener and a TLS listener (a private CA and a server
 * certificate for 127.0.0.1/localhost made with `openssl` at test time), username and password
 * required on both (password file made by `mosquitto_passwd` when present, otherwise written in
 * Mosquitto's own salted SHA-512 format), and persistence on, so that sessions of `clean: false`
 * clients and their queued QoS 1 messages survive a restart as in production.
 *
 * Tests that need it use `describe.skipIf(!MOSQUITTO.available)`; the reason names the apt
 * command. CI installs the package (.ci/run), so there it never skips.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

function findExecutable(name: string, extraDirs: string[]): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/opt/homebrew/sbin'];
const mosquittoPath = findExecutable('mosquitto', SBIN);
const passwdPath = findExecutable('mosquitto_passwd', ['/usr/bin', ...SBIN]);
const opensslPath = findExecutable('openssl', ['/usr/bin']);

export const MOSQUITTO = {
  available: mosquittoPath !== null && opensslPath !== null,
  /** Why the Mosquitto tests skip on this machine (empty when they run). */
  skipReason:
    mosquittoPath === null
      ? 'mosquitto is not installed: apt-get install -y mosquitto'
      : opensslPath === null
        ? 'openssl is not installed: apt-get install -y openssl'
        : '',
};

export interface MosquittoCredentials {
  username: string;
  password: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.error}`);
}

/** A private CA and a server certificate for 127.0.0.1 and localhost, valid for two days. */
function makeCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const openssl = opensslPath!;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    openssl,
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2'].concat([
      '-subj',
      '/CN=Protocam test CA',
    ]),
    dir,
  );
  run(openssl, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    openssl,
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ]),
    dir,
  );
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/** Mosquitto's password file: by its own tool, or in its `$6$` format (SHA-512 of password + salt). */
function writePasswordFile(path: string, credentials: MosquittoCredentials, dir: string): void {
  if (passwdPath) {
    run(passwdPath, ['-b', '-c', path, credentials.username, credentials.password], dir);
    return;
  }
  const salt = randomBytes(12);
  const hash = createHash('sha512').update(credentials.password, 'utf8').update(salt).digest();
  writeFileSync(path, `${credentials.username}:$6$${salt.toString('base64')}$${hash.toString('base64')}\n`, {
    mode: 0o600,
  });
}

export class MosquittoBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'protocam-mosquitto-'));
  readonly credentials: MosquittoCredentials = { username: 'protocam', password: randomBytes(12).toString('hex') };
  private process: ChildProcess | null = null;
  private output = '';
  private ports: { plain: number; tls: number } | null = null;
  private tls: { caFile: string; certFile: string; keyFile: string } | null = null;

  /** `mqtt://127.0.0.1:<port>`, credentials required. */
  get url(): string {
    return `mqtt://127.0.0.1:${this.requirePorts().plain}`;
  }

  /** `mqtts://127.0.0.1:<port>`: the certificate is signed by `caFile`. */
  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.requirePorts().tls}`;
  }

  get caFile(): string {
    if (!this.tls) throw new Error('Mosquitto has not been started');
    return this.tls.caFile;
  }

  get ca(): Buffer {
    return readFileSync(this.caFile);
  }

  /** What Mosquitto wrote to stdout and stderr, for failure messages. */
  get log(): string {
    return this.output;
  }

  private requirePorts() {
    if (!this.ports) throw new Error('Mosquitto has not been started');
    return this.ports;
  }

  /** Starts Mosquitto; the first start writes certificates and configuration, later starts reuse them. */
  async start(): Promise<void> {
    if (this.process) return;
    if (!MOSQUITTO.available) throw new Error(MOSQUITTO.skipReason);
    if (!this.ports) {
      this.tls = makeCertificates(this.dir);
      writePasswordFile(join(this.dir, 'passwd'), this.credentials, this.dir);
      this.ports = { plain: await freePort(), tls: await freePort() };
      writeFileSync(
        join(this.dir, 'mosquitto.conf'),
        [
          // As root, Mosquitto would switch to the `mosquitto` user, who cannot read this directory.
          ...(process.getuid?.() === 0 ? ['user root'] : []),
          'persistence true',
          `persistence_location ${this.dir}/`,
          'allow_anonymous false',
          `password_file ${join(this.dir, 'passwd')}`,
          // Unlimited in-flight and queued QoS 1 messages per client: the defaults (20 and 1000)
          // throttle and drop, which is a deployment choice, not what these tests are about.
          'max_inflight_messages 0',
          'max_queued_messages 0',
          'log_dest stderr',
          'log_type error',
          'log_type warning',
          `listener ${this.ports.plain} 127.0.0.1`,
          `listener ${this.ports.tls} 127.0.0.1`,
          `cafile ${this.tls.caFile}`,
          `certfile ${this.tls.certFile}`,
          `keyfile ${this.tls.keyFile}`,
          '',
        ].join('\n'),
      );
    }
    const child = spawn(mosquittoPath!, ['-c', join(this.dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + 10_000;
    const { plain, tls } = this.ports;
    while (!((await accepts(plain)) && (await accepts(tls)))) {
      if (gone || Date.now() > deadline) {
        this.process = null;
        child.kill('SIGKILL');
        throw new Error(`Mosquitto did not start:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Stops Mosquitto the way a service manager does (SIGTERM): it saves its persistence file first. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops Mosquitto and removes its directory (certificates, configuration, persistence). */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startMosquitto(): Promise<MosquittoBroker> {
  const broker = new MosquittoBroker();
  await broker.start();
  return broker;
}
