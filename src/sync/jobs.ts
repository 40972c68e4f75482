// The job handlers of SWR sync: copying one tag for a sync job row (with retries and backoff
// of its own, so the policy is Ferry's and configurable), turning a stored push event into
// auto-sync jobs, and the reconciler that enqueues what events missed.
import { describeError, FerryError, isFerryError, toFerryError } from '../errors/catalog.js';
import type { JobContext, JobHandlers } from '../engine/kinds.js';
import { enqueue } from '../engine/queue.js';
import type { RegistrySlots } from '../engine/slots.js';
import { CopyEngine } from '../registry/copy/engine.js';
import type { Db } from '../storage/database.js';
import * as events from '../storage/events.js';
import type { SyncJobStatus } from '../storage/schema.js';
import * as store from '../storage/sync.js';
import type { Regions } from './regions.js';

/** Retry policy of sync jobs. */
export interface RetryPolicy {
  /** Attempts in all, including the first. */
  maxAttempts: number;
  /** First delay; doubles each attempt, with jitter. */
  baseDelayMs: number;
  /** Cap on one delay. */
  maxDelayMs: number;
}

/** What the handlers need. */
export interface SyncJobDeps {
  db: Db;
  regions: Regions;
  slots: RegistrySlots;
  retry: RetryPolicy;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  jobFinished?: (status: SyncJobStatus, bytes: number) => void;
  /** Events from SWR Enterprise instances go to replication. */
  onInstanceEvent?: (event: events.RegistryEventRow) => Promise<void>;
}

const FINAL: readonly SyncJobStatus[] = ['success', 'failed', 'existed', 'timeout', 'cancel'];

/** The delay before attempt `attempt + 1`. */
export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter on the upper half: retries of many jobs spread out, none retries at once.
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** Enqueues the copy of a sync job (deduplicated per job). */
export async function enqueueSyncJob(db: Db, id: string, runAt?: Date): Promise<void> {
  await enqueue(db, 'sync-image', { syncJobId: id }, { jobKey: `sync-image:${id}`, runAt });
}

/** The handlers of the SWR sync job kinds. */
export function syncJobHandlers(
  deps: SyncJobDeps,
): Pick<JobHandlers, 'sync-image' | 'registry-event' | 'reconcile-auto-sync'> {
  const log = deps.log ?? (() => undefined);

  async function syncImage({ syncJobId }: { syncJobId: string }, ctx: JobContext): Promise<void> {
    const job = await store.findSyncJob(deps.db, syncJobId);
    // Deleted, or already done by an earlier run (a retry of a job that had finished).
    if (!job || FINAL.includes(job.status)) return;
    const attempt = job.attempts + 1;
    const finish = async (
      status: SyncJobStatus,
      fields: { bytes?: number; digest?: string | null; reason?: string | null },
    ) => {
      await store.updateSyncJob(deps.db, job.id, {
        status,
        bytes_copied: fields.bytes,
        digest: fields.digest,
        error_reason: fields.reason ?? null,
        finished_at: new Date(),
      });
      deps.jobFinished?.(status, fields.bytes ?? 0);
      log('sync job finished', { job: job.id, tag: job.tag, status, attempt });
    };
    if (!deps.regions.has(job.region_id) || !deps.regions.has(job.remote_region_id)) {
      await finish('failed', {
        reason: `region ${!deps.regions.has(job.region_id) ? job.region_id : job.remote_region_id} is no longer configured`,
      });
      return;
    }
    const src = deps.regions.get(job.region_id);
    const dst = deps.regions.get(job.remote_region_id);
    await store.updateSyncJob(deps.db, job.id, {
      status: 'running',
      attempts: attempt,
      started_at: job.started_at ?? new Date(),
      next_attempt_at: null,
    });

    // Bytes of this attempt: what an interrupted attempt streamed never landed as a whole.
    let bytes = 0;
    let lastWrite = Date.now();
    let error: FerryError | undefined;
    let result: Awaited<ReturnType<CopyEngine['copyImage']>> | undefined;
    try {
      const lease = await deps.slots.acquire([src.host, dst.host], ctx.signal);
      try {
        const engine = new CopyEngine(src.registry, dst.registry, {
          override: job.override,
          signal: ctx.signal,
          onEvent: (e) => {
            if (e.type !== 'blob-progress') return;
            bytes += e.delta;
            // Progress a user can follow, without a write per chunk.
            if (Date.now() - lastWrite > 2000) {
              lastWrite = Date.now();
              void store
                .updateSyncJob(deps.db, job.id, { status: 'running', bytes_copied: bytes })
                .catch(() => undefined);
            }
          },
        });
        result = await engine.copyImage({
          srcRepo: `${job.namespace}/${job.repo_name}`,
          srcRef: job.tag,
          dstRepo: `${job.remote_namespace}/${job.repo_name}`,
          dstTag: job.tag,
        });
        error = result.error;
      } finally {
        await lease.release();
      }
    } catch (err) {
      error = toFerryError(err);
    }

    if (result && (result.status === 'copied' || result.status === 'skipped')) {
      await finish('success', { bytes, digest: result.digest ?? null });
      return;
    }
    if (result?.status === 'conflict') {
      await finish('existed', {
        bytes,
        digest: result.srcDigest ?? null,
        reason: error ? describeError(error) : null,
      });
      return;
    }
    const reason = describeError(
      error ?? new FerryError('INTERNAL', 'copy ended without a result'),
    );
    if (ctx.signal.aborted) {
      // Shutting down: what landed stays; the next run skips it. Run again at once elsewhere.
      await store.updateSyncJob(deps.db, job.id, {
        status: 'waiting',
        bytes_copied: bytes,
        error_reason: `interrupted (${reason}); resumes on another worker`,
      });
      await enqueueSyncJob(deps.db, job.id);
      return;
    }
    const temporary = error?.temporary || isFerryError(error, 'CANCELLED');
    if (temporary && attempt < deps.retry.maxAttempts) {
      const at = new Date(Date.now() + backoffMs(deps.retry, attempt));
      await store.updateSyncJob(deps.db, job.id, {
        status: 'waiting',
        bytes_copied: bytes,
        error_reason: reason,
        next_attempt_at: at,
      });
      await enqueueSyncJob(deps.db, job.id, at);
      log('sync job will retry', { job: job.id, attempt, at, reason });
      return;
    }
    await finish('failed', {
      bytes,
      digest: result?.srcDigest ?? null,
      reason: attempt > 1 ? `${reason} (after ${attempt} attempts)` : reason,
    });
  }

  /** Creates one auto-sync job per matching rule for a push, deduplicated per digest. */
  async function autoSync(
    regionId: string,
    repository: string,
    tag: string,
    digest: string,
  ): Promise<number> {
    const slash = repository.indexOf('/');
    if (slash <= 0) return 0;
    const rules = await store.listAutoRules(deps.db, {
      region_id: regionId,
      namespace: repository.slice(0, slash),
      repo_name: repository.slice(slash + 1),
    });
    let created = 0;
    for (const rule of rules) {
      await deps.db.transaction().execute(async (tx) => {
        const row = await store.insertAutoSyncJob(tx, {
          domain_id: rule.domain_id,
          region_id: rule.region_id,
          namespace: rule.namespace,
          repo_name: rule.repo_name,
          tag,
          remote_region_id: rule.remote_region_id,
          remote_namespace: rule.remote_namespace,
          override: rule.override,
          status: 'waiting',
          operator_id: '',
          operator_name: 'auto-sync',
          rule_id: rule.id,
          src_digest: digest,
        });
        if (row) {
          await enqueueSyncJob(tx, row.id);
          created++;
          return;
        }
        // This digest was tried before: a job that failed (the tag was missing, the target
        // down longer than its attempts) is tried again; one that ran is left alone.
        const retried = await store.retryFailedAutoSyncJob(tx, rule.id, tag, digest);
        if (retried) {
          await enqueueSyncJob(tx, retried);
          created++;
        }
      });
    }
    return created;
  }

  async function registryEvent({ eventId }: { eventId: string }): Promise<void> {
    const event = await events.findEvent(deps.db, eventId);
    if (!event || event.processed_at) return;
    if (
      event.source_kind === 'region' &&
      event.action === 'push' &&
      event.tag &&
      event.digest &&
      deps.regions.has(event.source_id)
    ) {
      const n = await autoSync(event.source_id, event.repository, event.tag, event.digest);
      if (n > 0) log('push event created sync jobs', { event: event.id, jobs: n });
    } else if (event.source_kind === 'instance') {
      await deps.onInstanceEvent?.(event);
    }
    await events.markEventProcessed(deps.db, event.id);
  }

  async function reconcile(_payload: { tickAt: string }, ctx: JobContext): Promise<void> {
    for (const rule of await store.listAutoRules(deps.db)) {
      if (ctx.signal.aborted) return;
      if (!deps.regions.has(rule.region_id) || !deps.regions.has(rule.remote_region_id)) continue;
      const src = deps.regions.get(rule.region_id).registry;
      const dst = deps.regions.get(rule.remote_region_id).registry;
      const repo = `${rule.namespace}/${rule.repo_name}`;
      try {
        for (const tag of await src.tagList(repo, ctx.signal)) {
          const [s, d] = await Promise.all([
            src.manifestHead(repo, tag, ctx.signal),
            dst.manifestHead(`${rule.remote_namespace}/${rule.repo_name}`, tag, ctx.signal),
          ]);
          if (s && s.digest !== d?.digest) await autoSync(rule.region_id, repo, tag, s.digest);
        }
      } catch (err) {
        // One unreachable registry must not stop the other rules.
        log('reconcile: rule skipped', { rule: rule.id, error: describeError(err) });
      }
    }
  }

  return {
    'sync-image': syncImage,
    'registry-event': registryEvent,
    'reconcile-auto-sync': reconcile,
  };
}
