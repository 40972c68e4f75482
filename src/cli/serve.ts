// `ferry serve`: the API service. With no config file it runs on embedded defaults: an
// embedded PostgreSQL in ./ferry-data, a `demo` domain with an `admin` user whose generated
// password is kept in a file, and, when Debian's docker-registry is installed, two local
// registries as regions cn-north-4 and cn-east-3, so a newcomer can sync at once.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadServiceConfig, type ServiceConfig } from '../config/service-config.js';
import { describeError } from '../errors/catalog.js';
import { startFerry } from '../main.js';
import type { CliIo } from './copy.js';
import { startLocalRegistry, type LocalRegistry } from './local-registry.js';
import { notificationBlock } from './region.js';

/** Flags of `ferry serve`. */
export interface ServeFlags {
  config?: string;
}

/** The quickstart regions and the ports they prefer. */
const QUICKSTART_REGIONS = [
  { id: 'cn-north-4', port: 5000 },
  { id: 'cn-east-3', port: 5001 },
];

/** A generated quickstart secret, kept in dataDir (mode 0600) so restarts reuse it. */
async function quickstartSecret(dataDir: string, name: string): Promise<string> {
  const file = join(dataDir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(dataDir, { recursive: true });
    const secret = randomBytes(12).toString('base64url');
    await writeFile(file, secret + '\n', { mode: 0o600 });
    return secret;
  }
}

/** Embedded defaults: a bootstrap user and, when possible, two local regions. */
async function quickstart(
  config: Readonly<ServiceConfig>,
  io: CliIo,
): Promise<{ config: ServiceConfig; registries: LocalRegistry[]; notes: string[] }> {
  const notes: string[] = [];
  const registries: LocalRegistry[] = [];
  const out: ServiceConfig = { ...config, regions: [...config.regions] };
  if (!config.bootstrap) {
    const file = join(config.dataDir, 'admin-password');
    const password = await quickstartSecret(config.dataDir, 'admin-password');
    out.bootstrap = { domain: 'demo', user: 'admin', password, accessKeys: [] };
    notes.push(`sign in: domain "demo", user "admin", password in ${file}`);
  }
  if (config.regions.length === 0) {
    try {
      // Pushes reach Ferry at once when its port is known in advance (auto-sync rules).
      const token =
        config.listen.port !== 0
          ? await quickstartSecret(config.dataDir, 'event-token')
          : undefined;
      for (const r of QUICKSTART_REGIONS) {
        const extra = token
          ? (parse(
              notificationBlock(
                `http://127.0.0.1:${config.listen.port}/v2/events/registries/${r.id}`,
                token,
              ),
            ) as Record<string, unknown>)
          : undefined;
        const reg = await startLocalRegistry({
          dir: join(config.dataDir, 'registries', r.id),
          port: r.port,
          keepData: true,
          extra,
        });
        registries.push(reg);
        out.regions.push({ id: r.id, url: reg.url, ...(token ? { eventToken: token } : {}) });
      }
      notes.push(
        `regions: ${registries.map((r, i) => `${QUICKSTART_REGIONS[i]!.id} = ${r.url}`).join(', ')} (local docker-registry, images in ${join(config.dataDir, 'registries')})`,
      );
    } catch (err) {
      await Promise.all(registries.map((r) => r.stop()));
      registries.length = 0;
      out.regions = [];
      io.stderr.write(`ferry: no local regions: ${describeError(err)}\n`);
      notes.push(
        'no regions yet: add them to a config file (docs/configuration.md) and run `ferry serve --config FILE`',
      );
    }
  }
  return { config: out, registries, notes };
}

/** Runs the service until SIGINT or SIGTERM; resolves to the exit code. */
export async function runServe(flags: ServeFlags, io: CliIo): Promise<number> {
  let config: ServiceConfig = await loadServiceConfig(flags.config);
  let registries: LocalRegistry[] = [];
  let notes: string[] = [];
  if (!flags.config) ({ config, registries, notes } = await quickstart(config, io));
  try {
    const ferry = await startFerry(config, {
      logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    });
    io.stdout.write(
      [
        `Ferry is listening on ${ferry.url}`,
        `  database: ${ferry.database}`,
        `  regions: ${config.regions.map((r) => r.id).join(', ') || 'none'}`,
        ...notes.map((n) => `  ${n}`),
        `  API docs: ${ferry.url}/docs   health: ${ferry.url}/healthz   metrics: ${ferry.url}/metrics`,
        ...(config.regions.length === 0
          ? [
              '  To add regions, write a config file with a `regions:` list (docs/configuration.md),',
              '  e.g. regions: [{ id: cn-north-4, url: "http://127.0.0.1:5000" }], then `ferry serve --config FILE`.',
            ]
          : []),
        '  Ctrl-C stops it.',
        '',
      ].join('\n'),
    );
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    io.stdout.write(`\n${signal}: stopping\n`);
    await ferry.stop();
    return 0;
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
  }
}
