// The `ferry` command line: parses arguments and hands each command to its module.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readCliEnvironment } from '../config/env.js';
import { describeError } from '../errors/catalog.js';
import type { CliIo, CopyFlags } from './copy.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function addCopyOptions(cmd: Command): Command {
  return cmd
    .option('--all-platforms', 'copy every platform of multi-arch images (default)')
    .option(
      '--platform <os/arch[/variant]>',
      'keep only this platform (repeatable, or comma separated)',
      collect,
    )
    .option('--override', 'replace target tags that hold a different image')
    .option('--referrers', 'copy referrers (signatures, SBOMs) of every copied manifest')
    .option(
      '--tag <regex>',
      'copy only tags matching this anchored regular expression (repeatable)',
      collect,
    )
    .option(
      '--exclude-tag <regex>',
      'skip tags matching this anchored regular expression (repeatable)',
      collect,
    )
    .option(
      '--repository <name>',
      'with a registry as SRC: copy only this repository (repeatable)',
      collect,
    )
    .option('--dry-run', 'list what would be copied and how many bytes, write nothing')
    .option('--json', 'print the results as one JSON document on stdout')
    .option('--image-concurrency <n>', 'images copied at once (default 8)', positiveInt)
    .option('--blob-concurrency <n>', 'blobs streamed at once (default 8)', positiveInt)
    .option(
      '--registry-concurrency <n>',
      'requests in flight per registry (default 16)',
      positiveInt,
    )
    .option(
      '--retries <n>',
      'attempts for a request or blob that fails temporarily (default 5)',
      positiveInt,
    )
    .option(
      '--timeout <seconds>',
      'give up on a registry silent for this long (default 30)',
      positiveInt,
    )
    .addOption(
      new Option(
        '--upload-mode <mode>',
        'blob upload: monolithic (default), chunked or stream',
      ).choices(['monolithic', 'chunked', 'stream']),
    )
    .option('--src-creds <user:password>', 'source credentials (or FERRY_SRC_CREDS)')
    .option('--dst-creds <user:password>', 'target credentials (or FERRY_DST_CREDS)')
    .option('--src-insecure', 'use plain HTTP for the source')
    .option('--dst-insecure', 'use plain HTTP for the target')
    .option('--src-ca <file>', 'PEM CA certificate to trust for the source')
    .option('--dst-ca <file>', 'PEM CA certificate to trust for the target');
}

const ENDPOINT_HELP = `
Each side is a registry (host:port: every repository), a repository (host/ns/app: every tag),
an image (host/ns/app:tag or @sha256:...), or an OCI layout folder (oci:PATH or oci:PATH:tag).
Exit code 0 when everything copied or was already there, 1 when anything failed or conflicted.`;

/** Runs the CLI with `argv` (process.argv shape); resolves to the exit code. */
export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const env = readCliEnvironment();
  let exitCode = 0;
  const program = new Command()
    .name('ferry')
    .description('Exact, fast container image copies between OCI registries')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  addCopyOptions(
    program
      .command('copy')
      .description('copy images from SRC to DST')
      .argument('<src>', 'source')
      .argument('<dst>', 'target')
      .addHelpText('after', ENDPOINT_HELP),
  ).action(async (src: string, dst: string, flags: CopyFlags) => {
    // Commands load their modules when they run: `ferry --help` and a no-op sync start fast.
    const { runCopy } = await import('./copy.js');
    exitCode = await runCopy(src, dst, flags, env, io);
  });

  addCopyOptions(
    program
      .command('sync')
      .description('bring DST up to date with SRC, or run every entry of a sync file (--config)')
      .argument('[src]', 'source')
      .argument('[dst]', 'target')
      .option('--config <file>', 'a versioned YAML sync file (see docs/sync-file.md)')
      .addHelpText('after', ENDPOINT_HELP),
  ).action(async (src: string | undefined, dst: string | undefined, flags: CopyFlags) => {
    const { runCopy } = await import('./copy.js');
    exitCode = await runCopy(src, dst, flags, env, io);
  });

  program
    .command('demo')
    .description(
      'walk through a sync between two local regions on a running `ferry serve` (npm start)',
    )
    .option('--url <url>', 'the running service', 'http://127.0.0.1:8080')
    .option('--data-dir <dir>', 'its data folder (for the admin password)', './ferry-data')
    .option('--cli', 'instead: start two registries and run `ferry sync` between them')
    .option('--keep', 'with --cli: keep the registries running until Ctrl-C')
    .action(async (flags: { url: string; dataDir: string; cli?: boolean; keep?: boolean }) => {
      if (flags.cli) {
        const { runDemo } = await import('./demo.js');
        exitCode = await runDemo(io, Boolean(flags.keep));
        return;
      }
      const { runServiceDemo } = await import('./demo-service.js');
      exitCode = await runServiceDemo(flags, io);
    });

  program
    .command('serve')
    .description(
      'run the API service; with no --config, on embedded defaults (local database and regions)',
    )
    .option('--config <file>', 'versioned YAML service config (see docs/configuration.md)')
    .action(async (flags: { config?: string }) => {
      const { runServe } = await import('./serve.js');
      exitCode = await runServe({ config: flags.config ?? env.serviceConfigPath }, io);
    });

  program
    .command('worker')
    .description('run job workers only, on the service database (scale out beside ferry serve)')
    .option('--config <file>', 'the service config (see docs/configuration.md)')
    .action(async (flags: { config?: string }) => {
      const { runWorker } = await import('./worker.js');
      exitCode = await runWorker({ config: flags.config ?? env.serviceConfigPath }, io);
    });

  program
    .command('region')
    .description('region helpers')
    .command('notification-config')
    .description("print the notifications: block for a region's registry config (auto-sync)")
    .argument('<region>', 'the region id')
    .option('--config <file>', 'the service config (see docs/configuration.md)')
    .option('--url <url>', 'how the registry reaches Ferry (default: the listen address)')
    .action(async (region: string, flags: { config?: string; url?: string }) => {
      const { runNotificationConfig } = await import('./region.js');
      exitCode = await runNotificationConfig(
        region,
        { ...flags, config: flags.config ?? env.serviceConfigPath },
        io,
      );
    });

  const admin = program.command('admin').description('administer the service database');
  admin
    .command('access-key')
    .description('manage access keys')
    .command('create')
    .description('create an AK/SK pair for a user and print it')
    .requiredOption('--user <name>', 'the user')
    .option('--domain <name>', "the user's domain, when several have a user by that name")
    .option('--config <file>', 'the service config (see docs/configuration.md)')
    .action(async (flags: { user: string; domain?: string; config?: string }) => {
      const { runAccessKeyCreate } = await import('./admin.js');
      exitCode = await runAccessKeyCreate(
        { ...flags, config: flags.config ?? env.serviceConfigPath },
        io,
      );
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    const { code, exitCode: commanderExit } = err as { code?: string; exitCode?: number };
    // Commander printed its own message: help and version exit 0, usage errors 2.
    if (code?.startsWith('commander.')) return commanderExit === 0 ? 0 : 2;
    io.stderr.write(`ferry: ${describeError(err)}\n`);
    return 1;
  }
}
