// The composition root of the service: config -> storage -> registry clients -> services ->
// API. `startFerry` is what `ferry serve` runs and what end-to-end tests start.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import { Metrics } from './api/metrics.js';
import type { ServiceConfig } from './config/service-config.js';
import { FerryError } from './errors/catalog.js';
import { SecretBox } from './iam/crypto.js';
import { IamService } from './iam/service.js';
import { openDatabase, redactUrl, type Db } from './storage/database.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './storage/embedded.js';
import { migrate } from './storage/migrate.js';
import { Regions } from './sync/regions.js';
import { SyncService } from './sync/service.js';

/** A running Ferry service. */
export interface RunningFerry {
  app: FastifyInstance;
  /** `http://host:port` it listens on. */
  url: string;
  db: Db;
  iam: IamService;
  /** Where the database is: the embedded folder or the redacted URL. */
  database: string;
  /** Stops accepting requests, ends running copies, closes the database. */
  stop(): Promise<void>;
}

/** Services on an open database, without the HTTP server (the admin CLI uses this). */
export interface FerryCore {
  db: Db;
  iam: IamService;
  regions: Regions;
  database: string;
  close(): Promise<void>;
}

/** The 32-byte key that seals stored secrets: from config, or generated into dataDir. */
export async function secretKey(config: Readonly<ServiceConfig>): Promise<Buffer> {
  if (config.secretKey) return Buffer.from(config.secretKey, 'hex');
  const file = join(config.dataDir, 'secret.key');
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new FerryError('INVALID_CONFIG', `${file}: not 64 hex characters`);
    }
    return Buffer.from(hex, 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(config.dataDir, { recursive: true });
    const key = randomBytes(32);
    // 'wx': two processes starting at once must not both write a key.
    await writeFile(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' }).catch(
      async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      },
    );
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  }
}

/** Opens the database (embedded when no URL), migrates it, bootstraps IAM. */
export async function openCore(
  config: Readonly<ServiceConfig>,
  options: { log?: (line: string) => void; adoptEmbedded?: boolean } = {},
): Promise<FerryCore> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.database.url;
  let database: string;
  if (url) {
    database = redactUrl(url);
  } else {
    embedded = await startEmbeddedPostgres(config.dataDir, {
      log: options.log,
      adopt: options.adoptEmbedded,
    });
    url = embedded.url;
    database = `embedded PostgreSQL in ${join(config.dataDir, 'postgres')}`;
  }
  let db: Db | undefined;
  try {
    db = await openDatabase(url);
    await migrate(db);
    const regions = new Regions(config.regions);
    const iam = new IamService(
      db,
      new SecretBox(await secretKey(config)),
      config.regions.map((r) => r.id),
      config.tokenTtlSeconds,
    );
    await iam.bootstrap(config.bootstrap);
    const opened = db;
    return {
      db,
      iam,
      regions,
      database,
      close: async () => {
        await regions.close();
        await opened.destroy();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await db?.destroy();
    await embedded?.stop();
    throw err;
  }
}

/** Starts the service: database, migrations, bootstrap, API on `config.listen`. */
export async function startFerry(
  config: Readonly<ServiceConfig>,
  options: { logger?: boolean | Record<string, unknown>; log?: (line: string) => void } = {},
): Promise<RunningFerry> {
  const core = await openCore(config, { log: options.log, adoptEmbedded: true });
  const metrics = new Metrics();
  const sync = new SyncService(core.db, core.regions, config.sync, {
    jobFinished: (status, bytes) => {
      metrics.syncJobs.inc({ status });
      metrics.syncBytes.inc(bytes);
    },
  });
  let app: FastifyInstance | undefined;
  try {
    await sync.recover();
    app = await buildApp({
      db: core.db,
      iam: core.iam,
      sync,
      regions: core.regions,
      metrics,
      logger: options.logger,
    });
    const address = await app.listen({ host: config.listen.host, port: config.listen.port });
    // Expired tokens are dead weight; clear them hourly (and once now).
    await core.iam.purgeExpiredTokens();
    const purge = setInterval(
      () => void core.iam.purgeExpiredTokens().catch(() => undefined),
      3600_000,
    );
    purge.unref();
    const started = app;
    return {
      app,
      url: address.replace('0.0.0.0', '127.0.0.1'),
      db: core.db,
      iam: core.iam,
      database: core.database,
      stop: async () => {
        clearInterval(purge);
        await started.close();
        await sync.stop();
        await core.close();
      },
    };
  } catch (err) {
    await app?.close();
    await core.close();
    throw err;
  }
}
