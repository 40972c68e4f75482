// Runs job handlers on graphile-worker in this process: registers the process for crash
// recovery, records its worker ids, and shuts down gracefully (stop taking jobs, let running
// ones finish until a deadline, then abort them so they leave resumable state and requeue).
import { EventEmitter } from 'node:events';
import { Logger, run, type Runner, type Task, type TaskList } from 'graphile-worker';
import pg from 'pg';
import type { Db } from '../storage/database.js';
import { checkHandlers, JOB_KINDS, type JobHandlers } from './kinds.js';
import { ProcessRegistration, type ProcessTimings, DEFAULT_TIMINGS } from './processes.js';

/** Options of the workers of one process. */
export interface WorkerOptions {
  databaseUrl: string;
  db: Db;
  handlers: JobHandlers;
  /** Jobs run at once in this process. */
  concurrency: number;
  /** `serve` or `worker`, for the process table. */
  kind: string;
  /** How long running jobs may take to finish at shutdown before they are aborted. */
  shutdownGraceMs: number;
  timings?: ProcessTimings;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Running workers. */
export interface Workers {
  registration: ProcessRegistration;
  /** Stops taking jobs; running ones finish or are aborted after the grace period. */
  stop(): Promise<void>;
}

/** Starts the workers; throws when handlers and job kinds do not match. */
export async function startWorkers(options: WorkerOptions): Promise<Workers> {
  checkHandlers(options.handlers as unknown as Record<string, unknown>);
  const log = options.log ?? (() => undefined);
  const registration = new ProcessRegistration(
    options.db,
    options.kind,
    options.timings ?? DEFAULT_TIMINGS,
    log,
  );
  await registration.start();

  const shutdown = new AbortController();
  const taskList: TaskList = {};
  for (const kind of JOB_KINDS) {
    const handler = options.handlers[kind] as (p: unknown, c: unknown) => Promise<void>;
    const task: Task = async (payload, helpers) => {
      const signals = [shutdown.signal, helpers.abortSignal].filter(
        (s): s is AbortSignal => s !== undefined,
      );
      await handler(payload, {
        jobId: helpers.job.id,
        attempts: helpers.job.attempts,
        signal: AbortSignal.any(signals),
      });
    };
    taskList[kind] = task;
  }

  const events = new EventEmitter();
  events.on('worker:create', ({ worker }: { worker: { workerId: string } }) =>
    registration.addWorker(worker.workerId),
  );
  const pgPool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.concurrency + 3,
  });
  pgPool.on('error', () => undefined);
  const logger = new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') log(`queue: ${message}`, { level });
  });
  let runner: Runner;
  try {
    runner = await run({
      pgPool,
      concurrency: options.concurrency,
      taskList,
      noHandleSignals: true,
      // New jobs arrive by LISTEN/NOTIFY at once; polling only finds retries that came due.
      pollInterval: 500,
      events: events as never,
      logger,
      gracefulShutdownAbortTimeout: options.shutdownGraceMs,
    });
  } catch (err) {
    await registration.stop(false);
    await pgPool.end();
    throw err;
  }

  return {
    registration,
    async stop() {
      const deadline = setTimeout(() => shutdown.abort(), options.shutdownGraceMs);
      try {
        await runner.stop();
      } finally {
        clearTimeout(deadline);
        // Anything still locked by this process's workers goes back to the queue now.
        await registration.stop(true).catch(() => undefined);
        await pgPool.end().catch(() => undefined);
      }
    },
  };
}
