// Every job kind, declared once with its payload type. Workers refuse to start when a kind
// has no handler (or a handler names no kind), so a job can never sit unhandled.

/** Payload of each job kind. */
export interface JobPayloads {
  /** Copy one tag for one sync job row (SWR manual sync and auto-sync). */
  'sync-image': { syncJobId: string };
  /** Turn one stored registry push event into auto-sync jobs. */
  'registry-event': { eventId: string };
  /** Compare tag digests of every auto-sync rule and enqueue what events missed. */
  'reconcile-auto-sync': { tickAt: string };
  /** Plan and run one replication execution (SWR Enterprise). */
  'replication-execute': { executionId: string };
  /** Check replication registries' health (one, or all when no id). */
  'replication-check-registries': { registryId?: string };
  /** Sync the registries of one HSS image sync task into the inventory. */
  'inventory-sync': { taskId: string };
}

/** A job kind. */
export type JobKind = keyof JobPayloads;

// Every kind once; `satisfies` makes the compiler refuse a kind missing from this list.
const KINDS = {
  'sync-image': true,
  'registry-event': true,
  'reconcile-auto-sync': true,
  'replication-execute': true,
  'replication-check-registries': true,
  'inventory-sync': true,
} as const satisfies Record<JobKind, true>;

/** The kinds, for startup checks and docs. */
export const JOB_KINDS = Object.keys(KINDS) as readonly JobKind[];

/** What a handler gets besides its payload. */
export interface JobContext {
  /** graphile-worker's job id. */
  jobId: string;
  /** Times graphile-worker has started this job (1 on the first run). */
  attempts: number;
  /** Aborted when the process shuts down: stop, leave things resumable, return. */
  signal: AbortSignal;
}

/** One handler per kind. */
export type JobHandlers = {
  [K in JobKind]: (payload: JobPayloads[K], ctx: JobContext) => Promise<void>;
};

/** Throws when handlers and kinds do not match one to one. */
export function checkHandlers(handlers: Record<string, unknown>): void {
  const missing = JOB_KINDS.filter((k) => typeof handlers[k] !== 'function');
  const unknown = Object.keys(handlers).filter((k) => !JOB_KINDS.includes(k as JobKind));
  if (missing.length || unknown.length) {
    throw new Error(
      `job handlers do not match the job kinds: ${[
        missing.length ? `no handler for ${missing.join(', ')}` : '',
        unknown.length ? `unknown kinds ${unknown.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  }
}
