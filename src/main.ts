// The composition root of the service: config -> storage -> registry clients -> services ->
// API. `startFerry` is what `ferry serve` runs and what end-to-end tests start.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Logger, runMigrations as runQueueMigrations } from 'graphile-worker';
import pg from 'pg';
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
import { syncJobHandlers } from './sync/jobs.js';
import { Instances } from './replication/instances.js';
import { replicationRunner } from './replication/runner.js';
import { ReplicationService } from './replication/service.js';
import { InventoryService } from './inventory/service.js';
import { inventorySyncHandler } from './inventory/sync.js';
import { enqueue } from './engine/queue.js';
import { Scheduler } from './engine/scheduler.js';
import { RegistrySlots } from './engine/slots.js';
import { startWorkers, type Workers } from './engine/workers.js';

/** A running Ferry service. */
export interface RunningFerry {
  app: FastifyInstance;
  /** `http://host:port` it listens on. */
  url: string;
  db: Db;
  iam: IamService;
  /** Where the database is: the embedded folder or the redacted URL. */
  database: string;
  /** The database URL (with its password: never log it). */
  databaseUrl: string;
  /** Stops accepting requests, ends running copies, closes the database. */
  stop(): Promise<void>;
}

/** Services on an open database, without the HTTP server (the admin CLI uses this). */
export interface FerryCore {
  db: Db;
  iam: IamService;
  regions: Regions;
  instances: Instances;
  replication: ReplicationService;
  inventory: InventoryService;
  database: string;
  databaseUrl: string;
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

/** Opens the database (embedded when no URL), migrates it (Ferry's and the queue's), bootstraps IAM. */
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
    await migrateQueue(url);
    const regions = new Regions(config.regions);
    const instances = new Instances(config.instances);
    const box = new SecretBox(await secretKey(config));
    const iam = new IamService(
      db,
      box,
      config.regions.map((r) => r.id),
      config.tokenTtlSeconds,
    );
    await iam.bootstrap(config.bootstrap);
    const opened = db;
    return {
      db,
      iam,
      regions,
      instances,
      replication: new ReplicationService(db, instances, box),
      inventory: new InventoryService(db, box, regions, instances),
      database,
      databaseUrl: url,
      close: async () => {
        await regions.close();
        await instances.close();
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

/** The job side of a process: workers (when enabled) and the schedules. */
interface Engine {
  stop(): Promise<void>;
}

async function startEngine(
  core: FerryCore,
  config: Readonly<ServiceConfig>,
  kind: 'serve' | 'worker',
  metrics: Metrics | undefined,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): Promise<Engine> {
  const w = config.workers;
  const slotPool = new pg.Pool({ connectionString: core.databaseUrl, max: w.concurrency + 2 });
  slotPool.on('error', () => undefined);
  const replication = replicationRunner({ db: core.db, service: core.replication, log });
  const syncHandlers = syncJobHandlers({
    db: core.db,
    regions: core.regions,
    slots: new RegistrySlots(slotPool, w.registryConcurrency),
    retry: {
      maxAttempts: w.maxAttempts,
      baseDelayMs: w.retryBaseSeconds * 1000,
      maxDelayMs: w.retryMaxSeconds * 1000,
    },
    log,
    jobFinished: (status, bytes) => {
      metrics?.syncJobs.inc({ status });
      metrics?.syncBytes.inc(bytes);
    },
    onInstanceEvent: replication.onInstanceEvent,
  });
  const handlers = {
    ...syncHandlers,
    ...replication.handlers,
    'inventory-sync': inventorySyncHandler(core.db, (task, reg) =>
      core.inventory.openSource(task, reg),
    ),
  };
  let workers: Workers | undefined;
  try {
    workers = await startWorkers({
      databaseUrl: core.databaseUrl,
      db: core.db,
      handlers,
      concurrency: w.concurrency,
      kind,
      shutdownGraceMs: w.shutdownGraceSeconds * 1000,
      log,
    });
  } catch (err) {
    await slotPool.end();
    throw err;
  }
  const scheduler = new Scheduler(core.db, workers.registration.id, log);
  if (config.autoSync.reconcileSeconds > 0) {
    scheduler.add({
      name: 'reconcile-auto-sync',
      spec: { everySeconds: config.autoSync.reconcileSeconds },
      fire: (tick) =>
        enqueue(
          core.db,
          'reconcile-auto-sync',
          { tickAt: tick.toISOString() },
          {
            jobKey: 'reconcile-auto-sync',
          },
        ),
    });
  }
  // Replication registries' health, every minute, once across processes.
  scheduler.add({
    name: 'replication-check-registries',
    spec: { everySeconds: 60 },
    fire: () => replication.enqueueCheckAll(),
  });
  const stopPolicySchedules = replication.schedulePolicies(scheduler);
  const started = workers;
  return {
    stop: async () => {
      stopPolicySchedules();
      scheduler.stop();
      await started.stop();
      await slotPool.end().catch(() => undefined);
    },
  };
}

/** Starts the service: database, migrations, bootstrap, workers, API on `config.listen`. */
export async function startFerry(
  config: Readonly<ServiceConfig>,
  options: { logger?: boolean | Record<string, unknown>; log?: (line: string) => void } = {},
): Promise<RunningFerry> {
  const core = await openCore(config, { log: options.log, adoptEmbedded: true });
  const metrics = new Metrics();
  const sync = new SyncService(core.db, core.regions, config.sync);
  let app: FastifyInstance | undefined;
  let engine: Engine | undefined;
  try {
    app = await buildApp({
      db: core.db,
      iam: core.iam,
      sync,
      regions: core.regions,
      replication: core.replication,
      inventory: core.inventory,
      metrics,
      config,
      logger: options.logger,
    });
    const logJob = (msg: string, fields?: Record<string, unknown>) =>
      app!.log.info(fields ?? {}, msg);
    if (config.workers.enabled) engine = await startEngine(core, config, 'serve', metrics, logJob);
    const address = await app.listen({ host: config.listen.host, port: config.listen.port });
    // Expired tokens are dead weight; clear them hourly (and once now).
    await core.iam.purgeExpiredTokens();
    const purge = setInterval(
      () => void core.iam.purgeExpiredTokens().catch(() => undefined),
      3600_000,
    );
    purge.unref();
    const started = app;
    const startedEngine = engine;
    return {
      app,
      url: address.replace('0.0.0.0', '127.0.0.1'),
      db: core.db,
      iam: core.iam,
      database: core.database,
      databaseUrl: core.databaseUrl,
      stop: async () => {
        clearInterval(purge);
        // Waiting sync_images requests answer now; their jobs go on (here or elsewhere).
        sync.stop();
        await started.close();
        await startedEngine?.stop();
        await core.close();
      },
    };
  } catch (err) {
    await app?.close();
    await engine?.stop();
    await core.close();
    throw err;
  }
}

/** A `ferry worker` process: workers and schedules, no API. */
export interface RunningWorker {
  database: string;
  stop(): Promise<void>;
}

/** Starts workers only, on the configured database. */
export async function startWorkerProcess(
  config: Readonly<ServiceConfig>,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): Promise<RunningWorker> {
  const core = await openCore(config, { adoptEmbedded: false });
  try {
    const engine = await startEngine(core, config, 'worker', undefined, log);
    return {
      database: core.database,
      stop: async () => {
        await engine.stop();
        await core.close();
      },
    };
  } catch (err) {
    await core.close();
    throw err;
  }
}

/**
 * graphile-worker's own migrations, under an advisory lock: it creates its schema without
 * one, so processes starting together on a new database would collide. Its own short-lived
 * pool, ended here, since graphile-worker leaves a pool it creates open.
 */
async function migrateQueue(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const lockHolder = await pool.connect();
  try {
    await lockHolder.query('SELECT pg_advisory_lock($1)', [QUEUE_MIGRATION_LOCK]);
    await runQueueMigrations({ pgPool: pool, logger: quietLogger });
  } finally {
    await lockHolder
      .query('SELECT pg_advisory_unlock($1)', [QUEUE_MIGRATION_LOCK])
      .catch(() => undefined);
    lockHolder.release();
    await pool.end();
  }
}

// An arbitrary constant naming the queue-migration lock (storage/migrate.ts uses another).
const QUEUE_MIGRATION_LOCK = 0x46657273;

// graphile-worker's migration chatter is not for Ferry's users.
const quietLogger = new Logger(() => () => undefined);
