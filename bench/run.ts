/**
 * `npm run bench [name…]`: runs every bench/*.bench.ts (or the named ones). Each exports
 * `run(): Promise<Record<string, unknown>>`; results are written as JSON to
 * bench/results/<name>.json and printed, with the machine they ran on.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(basename(f, '.bench.ts')));

let failed = false;
for (const file of files) {
  const name = basename(file, '.bench.ts');
  const module = (await import(pathToFileURL(join(here, file)).href)) as {
    run: () => Promise<Record<string, unknown>>;
  };
  const started = new Date().toISOString();
  try {
    const results = await module.run();
    const report = {
      benchmark: name,
      started,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      results,
    };
    writeFileSync(join(here, 'results', `${name}.json`), JSON.stringify(report, null, 2) + '\n');
    console.log(JSON.stringify(report));
  } catch (error) {
    failed = true;
    console.error(`bench ${name} failed:`, error);
  }
}
if (files.length === 0) console.error('no benchmarks matched');
process.exit(failed ? 1 : 0);
