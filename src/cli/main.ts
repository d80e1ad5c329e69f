import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
// Only what every command needs is imported here; a command loads the rest when it runs, so that
// `protocam --version`, `policy check` or `export verify` do not load the server (about 0.4 s).
import { VERIFY_STRATEGIES, type VerifyStrategy } from '../access/logbook.rules.js';
import { exportVerifyCommand, loadVerifyKey } from '../exports/exports.verify.js';
import { loadConfig, type Config } from '../config/config.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { isDomainError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import type { Runtime } from '../server.js';
import { VERSION } from '../version.js';
import { consoleOutput, type CliOutput } from './output.js';
import { policyCheck, policyShow } from './policy.commands.js';
import { sweepCommand } from '../retention/sweep.command.js';

/** The actor of changes made from the command line (loaded with the services it is passed to). */
const cliActor = async () => (await import('../users/users.service.js')).CLI_ACTOR;

export interface CliContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  clock: Clock;
  io: CliOutput;
}

/** Runs one command; resolves to the exit code. Commands read the same configuration as the server. */
export async function runCli(argv: string[], context: CliContext): Promise<number> {
  const { io } = context;
  let exitCode = 0;
  const config = (): Config => loadConfig(context.env, context.cwd);
  const withRuntime = async (fn: (runtime: Runtime) => Promise<number>): Promise<number> => {
    const { openRuntime } = await import('../server.js');
    const runtime = await openRuntime(config(), context.clock, createLogger('warn'));
    try {
      return await fn(runtime);
    } finally {
      await runtime.db.close();
    }
  };

  const program = new Command('protocam')
    .description('Protocam: camera and key-tag recording that keeps the protocol')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('serve')
    .description('start the server (migrates the database first)')
    .action(async () => {
      const cfg = config();
      const { openRuntime, startServer } = await import('../server.js');
      const runtime = await openRuntime(cfg, context.clock, createLogger(cfg.logLevel));
      const started = await startServer(runtime);
      io.out(`Protocam ${VERSION} is running at ${started.url} (policy ${runtime.loaded.policy.id})`);
      for (const warning of runtime.loaded.warnings)
        io.out(`  policy warning: ${warning.message} [${warning.articles.join(', ')}]`);
      if (started.firstSignInUrl) {
        io.out('');
        io.out('First administrator: sign in once with this link within 24 hours and choose a password:');
        io.out(`  ${started.firstSignInUrl}`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await started.close();
    });

  program
    .command('demo')
    .description('start the server with a demo complex of four cameras fed from a generated clip (data in ./demo-data)')
    .action(async () => {
      // Its own data directory unless one is configured, so a demo never mixes with real data.
      const cfg = loadConfig({ PROTOCAM_DATA_DIR: 'demo-data', ...context.env }, context.cwd);
      const [{ openRuntime, startServer }, { DEMO_COMPLEX, setUpDemo }, { resolveMediaBinaries }] = await Promise.all([
        import('../server.js'),
        import('../demo/demo.js'),
        import('../media/ffmpeg.js'),
      ]);
      const runtime = await openRuntime(cfg, context.clock, createLogger(cfg.logLevel));
      const started = await startServer(runtime);
      const demo = await setUpDemo({
        registry: runtime.registry,
        users: runtime.users,
        policy: () => runtime.loaded.policy,
        ffmpegPath: resolveMediaBinaries().ffmpegPath,
        dataDir: cfg.dataDir,
      });
      await runtime.recorder.sync();
      const base = started.url.replace(/\/$/, '');
      io.out(`Protocam demo ${VERSION} is running at ${started.url} (data in ${cfg.dataDir})`);
      io.out(`${demo.cameraIds.length} demo cameras are recording in "${DEMO_COMPLEX}".`);
      if (started.firstSignInUrl) io.out(`Administrator (registry, users; sees no footage): ${started.firstSignInUrl}`);
      for (const user of demo.users) {
        io.out(
          user.signInPath
            ? `${user.username} (${user.role}): ${base}${user.signInPath}`
            : `${user.username} (${user.role}): made by an earlier demo run`,
        );
      }
      io.out('Each link works once: choose a password and set up TOTP, then view footage under Camerabeelden.');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await started.close();
    });

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      const { migrateToLatest, openDatabase } = await import('../db/database.js');
      const db = openDatabase(config().databaseUrl);
      try {
        const result = await migrateToLatest(db);
        const applied = result.results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? [];
        io.out(applied.length ? `Applied: ${applied.join(', ')}` : 'The database is up to date.');
      } finally {
        await db.close();
      }
    });

  const policy = program.command('policy').description('check and show policies');
  policy
    .command('check')
    .argument('<preset-or-file>', 'a preset name (wooninvest-2021, maaswonen-2024) or a .yaml/.json file')
    .description('validate a policy: errors name the field; legal warnings cite the article')
    .action((ref: string) => {
      exitCode = policyCheck(ref, io);
    });
  policy
    .command('show')
    .option('--json', 'print the policy document as JSON')
    .description('show the policy in force (PROTOCAM_POLICY)')
    .action((options: { json?: boolean }) => {
      exitCode = policyShow(config().policy, options.json ?? false, io);
    });

  const audit = program.command('audit').description('the system audit trail');
  audit
    .command('verify')
    .description('walk the hash chain; exit 1 naming the first altered record')
    .action(async () => {
      exitCode = await withRuntime(async (runtime) => {
        const { verifyAuditChain } = await import('../audit/audit.js');
        const result = await verifyAuditChain(runtime.db.kysely);
        if (result.ok) {
          io.out(`Audit trail intact: ${result.checked} records verified.`);
          return 0;
        }
        io.err(`Audit trail broken at record ${result.problem?.seq}: ${result.problem?.message}`);
        return 1;
      });
    });

  program
    .command('sweep')
    .option('--dry-run', 'print what would be erased and why, and what holds keep; erase nothing')
    .description('run the retention sweeper once (W 6.3, M 6.6, M 6.7)')
    .action(async (options: { dryRun?: boolean }) => {
      exitCode = await withRuntime((runtime) => sweepCommand(runtime.sweeper, options.dryRun ?? false, io));
    });

  const baseUrl = (cfg: Config) => (cfg.publicUrl ?? `http://${cfg.host}:${cfg.port}`).replace(/\/$/, '');
  const user = program.command('user').description('manage users');
  user
    .command('add')
    .argument('<username>', 'sign-in name (lower case)')
    .requiredOption('--roles <roles>', 'comma-separated role ids from the policy, or admin')
    .option('--name <display-name>', 'name shown to others (default: the username)')
    .option('--email <email>', 'e-mail address')
    .option('--language <nl|en>', 'interface language', 'nl')
    .description('add a user and print a one-time sign-in link')
    .action(async (username: string, options: { roles: string; name?: string; email?: string; language: string }) => {
      exitCode = await withRuntime(async (runtime) => {
        const issued = await runtime.users.addUser(await cliActor(), {
          username,
          displayName: options.name ?? username,
          roles: options.roles
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean),
          language: options.language as 'nl' | 'en',
          ...(options.email ? { email: options.email } : {}),
        });
        io.out(`User ${issued.user.username} added with role(s) ${issued.user.roles.join(', ')}.`);
        io.out(`One-time sign-in (valid until ${issued.expiresAt}):`);
        io.out(`  ${baseUrl(runtime.config)}${issued.signInPath}`);
        return 0;
      });
    });
  user
    .command('reset-password')
    .argument('<username>')
    .description("clear a user's password, end their sessions, and print a new one-time sign-in link")
    .action(async (username: string) => {
      exitCode = await withRuntime(async (runtime) => {
        const issued = await runtime.users.resetPassword(username, await cliActor());
        io.out(`Password of ${issued.user.username} cleared; their sessions are ended.`);
        io.out(`One-time sign-in (valid until ${issued.expiresAt}):`);
        io.out(`  ${baseUrl(runtime.config)}${issued.signInPath}`);
        return 0;
      });
    });

  const doorEvents = program.command('door-events').description('key-tag door events (M 6.6)');
  doorEvents
    .command('import')
    .argument('<file>', 'a CSV export of a door controller')
    .requiredOption('--source <id>', 'the door-event source whose column mapping and doors apply')
    .description('import door events from a CSV file; bad rows are reported by line, good rows are kept')
    .action(async (file: string, options: { source: string }) => {
      exitCode = await withRuntime(async (runtime) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (error) {
          io.err(`protocam: cannot read ${file}: ${(error as Error).message}`);
          return 1;
        }
        const result = await runtime.doorEvents.importCsv(options.source, text, await cliActor());
        io.out(
          `${result.received} rows: ${result.accepted} stored, ${result.duplicates} duplicate, ` +
            `${result.late} older than the retention period (not stored), ${result.rejected.length} rejected.`,
        );
        for (const rejection of result.rejected) io.out(`  line ${rejection.line}: ${rejection.reason}`);
        return 0;
      });
    });

  const logbook = program.command('logbook').description('the consultation logbook (M 6.4)');
  logbook
    .command('verify')
    .description('walk the hash chain and the signed heads; exit 1 naming the first bad record')
    .addOption(
      new Option(
        '--strategy <strategy>',
        'auto: long chains in ranges at once; ranges: always; walk: every record hashed here, in order (trusts no database function)',
      )
        .choices(VERIFY_STRATEGIES)
        .default('auto'),
    )
    .action(async (options: { strategy: VerifyStrategy }) => {
      exitCode = await withRuntime(async (runtime) => {
        const { verifyLogbook } = await import('../access/logbook.service.js');
        const result = await verifyLogbook(runtime.db.kysely, runtime.secrets.verifyKey, {
          strategy: options.strategy,
        });
        if (result.ok) {
          io.out(`Logbook intact: ${result.checked} records verified, ${result.signedHeads} signed head(s).`);
          return 0;
        }
        io.err(`Logbook broken at record ${result.problem?.seq}: ${result.problem?.message}`);
        return 1;
      });
    });
  logbook
    .command('export')
    .description('print the logbook as CSV (for signing on paper or archiving)')
    .action(async () => {
      exitCode = await withRuntime(async (runtime) => {
        const { exportLogbookCsv } = await import('../access/index.js');
        const csv = await exportLogbookCsv(runtime.db.kysely, {}, runtime.loaded.policy, context.clock.now());
        // Reading the logbook is audited, also from the command line (whoever has shell access).
        const actor = await cliActor();
        await runtime.db.kysely.transaction().execute((trx) =>
          runtime.audit.record(trx, {
            actor,
            action: 'logbook.export-csv',
            targetType: 'logbook',
            context: { via: 'cli' },
          }),
        );
        io.out(csv);
        return 0;
      });
    });

  const exportCommand = program.command('export').description('signed exports of footage (M 4, M 5)');
  exportCommand
    .command('verify')
    .argument('<path>', 'an export directory (manifest.json, manifest.sig and the files)')
    .option('--public-key <file>', "PEM public key (default: this installation's key)")
    .description('check the signature, every file hash and the set of files; exit 1 on any difference')
    .action(async (path: string, options: { publicKey?: string }) => {
      exitCode = await exportVerifyCommand(path, loadVerifyKey(options.publicKey, config().dataDir), io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (isDomainError(error)) {
      io.err(`protocam: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

const isEntryPoint = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();

/** Runs the command in this process's arguments and sets the exit code (bin/protocam.cjs calls it). */
export function runAsProcess(): void {
  runCli(process.argv.slice(2), { env: process.env, cwd: process.cwd(), clock: systemClock, io: consoleOutput }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

if (isEntryPoint) runAsProcess();
