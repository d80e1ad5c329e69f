import { ManualClock } from '../src/lib/clock.js';
import { runCli } from '../src/cli/main.js';

/** Runs a CLI command in-process and returns its exit code and what it printed. */
export async function cli(args: string[], env: NodeJS.ProcessEnv, clock = new ManualClock('2026-03-02T09:00:00Z')) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    env,
    cwd: process.cwd(),
    clock,
    io: { out: (line) => out.push(line), err: (line) => err.push(line) },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
