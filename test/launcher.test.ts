import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `node <args>` in `cwd` without an inherited UV_THREADPOOL_SIZE; resolves exit code and output. */
function node(cwd: string, args: string[], env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'UV_THREADPOOL_SIZE'));
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, { cwd, env: { ...inherited, ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * bin/protocam.cjs in a copy of the package layout, with a stand-in for the compiled CLI that
 * reports, after a first asynchronous file read, its arguments and how many threads the process
 * has (libuv's pool starts with that read, if the module loader has not started it before).
 */
function packageWithStandIn(): string {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-bin-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist', 'cli'), { recursive: true });
  copyFileSync(join(root, 'bin', 'protocam.cjs'), join(dir, 'bin', 'protocam.cjs'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    join(dir, 'dist', 'cli', 'main.js'),
    `import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
export function runAsProcess() {
  void readFile(new URL(import.meta.url)).then(() =>
    console.log(JSON.stringify({ args: process.argv.slice(2), pool: process.env.UV_THREADPOOL_SIZE ?? null, threads: readdirSync('/proc/self/task').length })),
  );
}`,
  );
  // The same module run as an ES module entry, as \`node dist/cli/main.js\` would.
  writeFileSync(join(dir, 'dist', 'cli', 'direct.js'), `import { runAsProcess } from './main.js';\nrunAsProcess();\n`);
  return dir;
}

describe('the protocam command (bin/protocam.cjs)', () => {
  it('runs the CLI with its arguments and a thread pool of 16, which an ES module entry cannot set (issue 6)', async () => {
    const dir = packageWithStandIn();
    const launched = await node(dir, ['bin/protocam.cjs', 'sweep', '--dry-run']);
    expect(launched.code).toBe(0);
    const viaLauncher = JSON.parse(launched.stdout) as { args: string[]; pool: string | null; threads: number };
    expect(viaLauncher.args).toEqual(['sweep', '--dry-run']);
    expect(viaLauncher.pool).toBe('16');

    // An ES module entry gets libuv's default pool of 4, even when it sets the variable itself.
    const direct = JSON.parse((await node(dir, ['dist/cli/direct.js'])).stdout) as { threads: number };
    expect(viaLauncher.threads - direct.threads).toBe(16 - 4);

    // An operator's own setting wins.
    const own = JSON.parse((await node(dir, ['bin/protocam.cjs'], { UV_THREADPOOL_SIZE: '8' })).stdout) as {
      pool: string;
      threads: number;
    };
    expect(own.pool).toBe('8');
    expect(own.threads - direct.threads).toBe(8 - 4);
  });

  it('says how to build when the compiled CLI is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-bin-'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(root, 'bin', 'protocam.cjs'), join(dir, 'bin', 'protocam.cjs'));
    const result = await node(dir, ['bin/protocam.cjs', '--version']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not built yet; run `npm run build`');
  });
});
