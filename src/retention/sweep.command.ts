/** `protocam sweep [--dry-run]`: one retention sweep now, or what it would erase and why. */
import type { CliOutput } from '../cli/output.js';
import type { RetentionSweeper } from './sweeper.js';

const iso = (ms: number) => new Date(ms).toISOString();

export async function sweepCommand(sweeper: RetentionSweeper, dryRun: boolean, io: CliOutput): Promise<number> {
  if (dryRun) {
    const plan = await sweeper.plan();
    io.out(`Dry run at ${iso(plan.at)} under policy ${plan.policyId}: nothing is erased.`);
    if (plan.erase.length === 0) io.out('Would erase: nothing.');
    for (const line of plan.erase) {
      io.out(
        `would erase ${line.category} ${line.targetType} ${line.targetId}: ${line.count} item(s), ${line.bytes} bytes, ${iso(line.from)} .. ${iso(line.to)}: ${line.reason}`,
      );
    }
    for (const line of plan.held) {
      io.out(
        `keeps ${line.category} ${line.targetType} ${line.targetId}: ${line.count} item(s), ${iso(line.from)} .. ${iso(line.to)}: ${line.reason} (holds ${line.holdIds.join(', ')})`,
      );
    }
    for (const skip of plan.skipped) io.out(`skips ${skip.category}: ${skip.reason}`);
    return 0;
  }
  const result = await sweeper.sweep();
  for (const c of result.categories) {
    io.out(
      c.skipped
        ? `${c.category}: skipped (${c.skipped})`
        : `${c.category}: erased ${c.erased} item(s), ${c.bytes} bytes (retention ${c.retention})`,
    );
  }
  if (result.disk.underPressure || result.disk.erasedForSpace > 0)
    io.out(
      `disk pressure: erased ${result.disk.erasedForSpace} segment(s) for space; recording stopped for ${result.disk.stoppedCameras.length} camera(s)`,
    );
  for (const alarm of result.alarmsRaised) io.out(`alarm: ${alarm}`);
  io.out(
    `Sweep ${result.runId} done: ${result.transactions} write transactions, longest ${result.longestTransactionMs.toFixed(1)} ms.`,
  );
  return 0;
}
