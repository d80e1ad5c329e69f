import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mediaProcessEnv } from '../../src/media/ffmpeg.js';

/**
 * A real RTSP server for tests: GStreamer's gst-rtsp-server driven by rtsp-server.py, relaying
 * one pre-encoded H.264 MPEG-TS clip on several mounts.
 */

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'rtsp-server.py');

/** The Debian packages the server needs; `.ci/run` installs the same list. */
export const RTSP_PACKAGES = [
  'gir1.2-gst-rtsp-server-1.0',
  'python3-gi',
  'gstreamer1.0-plugins-base',
  'gstreamer1.0-plugins-good',
  'gstreamer1.0-plugins-bad',
];
export const RTSP_INSTALL_COMMAND = `apt-get install -y --no-install-recommends ${RTSP_PACKAGES.join(' ')}`;

/**
 * The interpreter that has Debian's `gi`: PROTOCAM_TEST_PYTHON if set, else /usr/bin/python3
 * (where python3-gi installs), else whatever `python3` is on PATH (often pyenv's, without gi).
 * The first that passes the script's `--check` (imports GstRtspServer, finds every element) wins.
 */
function findPython(): string | undefined {
  const candidates = [process.env.PROTOCAM_TEST_PYTHON, '/usr/bin/python3', 'python3'].filter(
    (c): c is string => !!c && (c.includes('/') ? existsSync(c) : true),
  );
  for (const python of candidates) {
    const result = spawnSync(python, [SCRIPT, '--check'], { stdio: 'ignore', timeout: 10_000 });
    if (result.status === 0) return python;
  }
  return undefined;
}

let python: string | undefined | null = null;

export function rtspPython(): string | undefined {
  if (python === null) python = findPython();
  return python;
}

/** True when the RTSP server can run here; tests that need it skip with RTSP_SKIP_REASON otherwise. */
export function rtspAvailable(): boolean {
  return rtspPython() !== undefined;
}

export const RTSP_SKIP_REASON = `needs GStreamer's RTSP server: ${RTSP_INSTALL_COMMAND}`;

export function freePort(): Promise<number> {
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
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RtspMount {
  path: string;
  user?: string;
  password?: string;
}

export interface RtspServerOptions {
  clip: string;
  mounts: RtspMount[];
  port?: number;
}

export interface RtspServer {
  port: number;
  /** The URL of a mount, with the mount's credentials when it has them. */
  url(path: string): string;
  /** Restarts on the same port (e.g. after stop() to simulate a camera that comes back). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRtspServer(options: RtspServerOptions): Promise<RtspServer> {
  const interpreter = rtspPython();
  if (!interpreter) throw new Error(RTSP_SKIP_REASON);
  const port = options.port ?? (await freePort());
  const args = [SCRIPT, '--port', String(port), '--clip', options.clip];
  for (const m of options.mounts) args.push('--mount', m.user ? `${m.path}:${m.user}:${m.password ?? ''}` : m.path);
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    if (child) return;
    output = '';
    const proc = spawn(interpreter, args, { stdio: ['ignore', 'pipe', 'pipe'], env: mediaProcessEnv() });
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        child = undefined;
        throw new Error(`RTSP server did not start on port ${port}: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    url(path) {
      const mount = options.mounts.find((m) => m.path === path);
      const auth = mount?.user ? `${encodeURIComponent(mount.user)}:${encodeURIComponent(mount.password ?? '')}@` : '';
      return `rtsp://${auth}127.0.0.1:${port}${path}`;
    },
    start,
    stop,
  };
}
