// Adding jobs: through graphile-worker's own `add_job` SQL function, so a job can be added in
// the same transaction as the rows it works on (a sync job row and its job appear together,
// or neither does).
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../storage/schema.js';
import type { JobKind, JobPayloads } from './kinds.js';

/** graphile-worker's schema. */
export const WORKER_SCHEMA = 'graphile_worker';

/** Options of one job. */
export interface EnqueueOptions {
  /** Deduplication key: adding a job with a key that is waiting replaces it. */
  jobKey?: string;
  runAt?: Date;
  /** graphile-worker's own attempts, for crashes and unexpected errors (default 25). */
  maxAttempts?: number;
}

/** Adds a job, in `db`'s transaction when it is one. */
export async function enqueue<K extends JobKind>(
  db: Kysely<Database> | Transaction<Database>,
  kind: K,
  payload: JobPayloads[K],
  options: EnqueueOptions = {},
): Promise<void> {
  await sql`SELECT ${sql.raw(WORKER_SCHEMA)}.add_job(
    identifier => ${kind},
    payload => ${JSON.stringify(payload)}::json,
    run_at => ${options.runAt ?? null}::timestamptz,
    max_attempts => ${options.maxAttempts ?? 25}::int,
    job_key => ${options.jobKey ?? null}::text
  )`.execute(db);
}
