// `ferry worker`: runs job workers (and schedules) on the service's database, without the
// API. Any number of them, beside any number of `ferry serve`, share the work.
import { loadServiceConfig } from '../config/service-config.js';
import { startWorkerProcess } from '../main.js';
import type { CliIo } from './copy.js';

/** Runs workers until SIGINT or SIGTERM; resolves to the exit code. */
export async function runWorker(flags: { config?: string }, io: CliIo): Promise<number> {
  const config = await loadServiceConfig(flags.config);
  const quiet =
    config.logLevel === 'silent' || config.logLevel === 'error' || config.logLevel === 'fatal';
  const log = (msg: string, fields?: Record<string, unknown>) => {
    if (!quiet)
      io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
  };
  const worker = await startWorkerProcess(config, log);
  io.stdout.write(
    `Ferry worker running ${config.workers.concurrency} jobs at once on ${worker.database}; Ctrl-C stops it.\n`,
  );
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  io.stdout.write(
    `${signal}: stopping (running jobs get ${config.workers.shutdownGraceSeconds} s)\n`,
  );
  await worker.stop();
  return 0;
}
