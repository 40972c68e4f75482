// Runs replication executions as jobs: plan the tasks (one per repository) and sub-tasks
// (one per image) from the policy's filters, copy with the copy engine (bandwidth-limited per
// policy, stoppable within a second), and derive task and execution statuses. Also the
// registry health checks, event-based and scheduled triggers.
import { describeError, FerryError, toFerryError } from '../errors/catalog.js';
import type { JobContext, JobHandlers } from '../engine/kinds.js';
import { enqueue } from '../engine/queue.js';
import type { Scheduler } from '../engine/scheduler.js';
import { CopyEngine, imageName, type CopyEvent } from '../registry/copy/engine.js';
import { RateLimiter } from '../registry/copy/throttle.js';
import { parsePlatform } from '../registry/copy/filter.js';
import { HttpRegistry } from '../registry/http/registry.js';
import { Semaphore } from '../registry/semaphore.js';
import type { RegistryBackend } from '../registry/types.js';
import type { Db } from '../storage/database.js';
import type { RegistryEventRow } from '../storage/events.js';
import * as store from '../storage/replication.js';
import { compileGlob } from './glob.js';
import type { Instance } from './instances.js';
import type { ReplicationService, RunStatus } from './service.js';

/** What the runner needs. */
export interface RunnerDeps {
  db: Db;
  service: ReplicationService;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const FINAL: readonly string[] = ['Succeed', 'Failed', 'Stopped'];
const TASKS_AT_ONCE = 2;
const IMAGES_AT_ONCE = 4;

/** Where a source repository lands: `dest_namespace` replaces `count` leading path parts. */
export function targetRepository(repo: string, destNamespace: string, count: number): string {
  if (!destNamespace) return repo;
  const parts = repo.split('/');
  // -1 flattens every level (only the last part stays), as Harbor's replace count does.
  const kept = count < 0 ? parts.slice(-1) : parts.slice(Math.min(count, parts.length - 1));
  return [destNamespace.replace(/\/+$/, ''), ...kept].join('/');
}

/** Whether a value passes every filter of a type (no filter of that type passes all). */
function passes(filters: { type: string; value: string }[], type: string, value: string): boolean {
  return filters.filter((f) => f.type === type).every((f) => compileGlob(f.value).test(value));
}

/** Opens a replication registry entry as a registry client. */
function openRemote(service: ReplicationService, row: store.RegistryRow): RegistryBackend {
  const configured = row.remote_instance_id
    ? service.instances.find(row.remote_instance_id)
    : undefined;
  if (row.type === 'swr-pro-internal' && configured) return configured.registry;
  const url = new URL(row.url);
  return new HttpRegistry({
    host: url.host,
    insecure: url.protocol === 'http:',
    // Huawei's and Harbor's `insecure`: do not verify the registry's certificate.
    tlsVerify: !row.insecure,
    username: row.access_key || undefined,
    password: service.secretOf(row),
  });
}

/** The job handlers and trigger helpers of replication. */
export function replicationRunner(deps: RunnerDeps) {
  const log = deps.log ?? (() => undefined);
  const { db, service } = deps;
  // One bandwidth budget per policy in this process, shared by all of its executions.
  const limiters = new Map<string, RateLimiter>();

  function limiterFor(policy: store.PolicyRow): RateLimiter | undefined {
    if (!policy.speed_kbps) return undefined;
    const rate = policy.speed_kbps * 1024;
    let l = limiters.get(policy.id);
    if (!l || l.bytesPerSecond !== rate) limiters.set(policy.id, (l = new RateLimiter(rate)));
    return l;
  }

  async function plan(
    exec: store.ExecutionRow,
    policy: store.PolicyRow,
    src: RegistryBackend,
    dst: RegistryBackend,
    signal: AbortSignal,
  ): Promise<void> {
    const filters = policy.filters as { type: string; value: string }[];
    let repos: string[];
    if (exec.event_repository) repos = [exec.event_repository];
    else repos = (await src.catalogList(signal)).filter((r) => passes(filters, 'name', r));
    const planned: Parameters<typeof store.insertTasks>[2] = [];
    for (const repo of repos) {
      const tags = exec.event_tag
        ? [exec.event_tag]
        : (await src.tagList(repo, signal)).filter((t) => passes(filters, 'tag', t)).sort();
      if (tags.length === 0) continue;
      const dstRepo = targetRepository(
        repo,
        policy.dest_namespace,
        policy.dest_namespace_replace_count,
      );
      const slash = repo.indexOf('/');
      planned.push({
        task: {
          src_resource: `${src.name}/${repo}`,
          dst_resource: `${dst.name}/${dstRepo}`,
          operation: exec.event_action === 'delete' ? 'deletion' : 'copy',
          status: 'Pending',
          job_id: exec.id,
        },
        subtasks: tags.map((tag) => ({
          namespace: slash > 0 ? repo.slice(0, slash) : '',
          repository: slash > 0 ? repo.slice(slash + 1) : repo,
          tag,
          status: 'Pending',
        })),
      });
    }
    await db
      .transaction()
      .execute((tx) => store.insertTasks(tx, exec.id, planned).then(() => undefined));
  }

  async function finishExecution(execId: string, stopped: boolean, note?: string): Promise<void> {
    const counts = await store.taskCounts(db, execId);
    const n = (s: string) => counts.get(s) ?? 0;
    const status: RunStatus =
      stopped && n('Succeed') < [...counts.values()].reduce((a, b) => a + b, 0)
        ? 'Stopped'
        : n('Failed') > 0
          ? 'Failed'
          : 'Succeed';
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    await store.updateExecution(db, execId, {
      status,
      status_text:
        note ??
        `${n('Succeed')} of ${total} tasks succeeded${n('Failed') ? `, ${n('Failed')} failed` : ''}${n('Stopped') ? `, ${n('Stopped')} stopped` : ''}`,
      end_time: new Date(),
    });
    log('replication execution finished', { execution: execId, status });
  }

  async function execute({ executionId }: { executionId: string }, ctx: JobContext): Promise<void> {
    const exec = await store.findExecution(db, executionId);
    if (!exec || FINAL.includes(exec.status)) return;
    const policy = await store.findPolicyById(db, exec.policy_id);
    const inst = service.instances.find(exec.instance_id);
    if (!policy || !inst) {
      await store.updateExecution(db, executionId, {
        status: 'Failed',
        status_text: 'the policy or instance no longer exists',
        end_time: new Date(),
      });
      return;
    }
    const registryId = policy.src_registry_id ?? policy.dest_registry_id!;
    const remoteRow = await store.findRegistry(db, inst.config.id, registryId);
    if (!remoteRow) {
      await store.updateExecution(db, executionId, {
        status: 'Failed',
        status_text: `registry ${registryId} no longer exists`,
        end_time: new Date(),
      });
      return;
    }
    const remote = openRemote(service, remoteRow);
    const [src, dst] = policy.src_registry_id ? [remote, inst.registry] : [inst.registry, remote];

    // Stop: the API sets a flag; this run checks it twice a second and aborts the copies.
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, ctx.signal]);
    const watcher = setInterval(() => {
      void store.stopRequested(db, executionId).then(
        (yes) => {
          if (yes) stop.abort(new FerryError('CANCELLED', 'execution stopped'));
        },
        () => undefined,
      );
    }, 500);
    try {
      if (await store.stopRequested(db, executionId))
        stop.abort(new FerryError('CANCELLED', 'execution stopped'));
      let tasks = await store.tasksWithSubtasks(db, executionId);
      if (tasks.length === 0 && !stop.signal.aborted) {
        try {
          await plan(exec, policy, src, dst, signal);
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          await finishExecution(executionId, false, `planning failed: ${describeError(err)}`);
          await store.updateExecution(db, executionId, { status: 'Failed' });
          return;
        }
        tasks = await store.tasksWithSubtasks(db, executionId);
      }
      const listeners = new Map<string, (e: CopyEvent) => void>();
      const engine = new CopyEngine(src, dst, {
        onEvent: (e) => listeners.get(e.image)?.(e),
        override: policy.override,
        referrers: policy.referrers,
        platforms: policy.platforms
          ? (policy.platforms as string[]).map((p) => parsePlatform(p))
          : undefined,
        rateLimiter: limiterFor(policy),
        signal,
        imageConcurrency: IMAGES_AT_ONCE,
      });
      const taskLimit = new Semaphore(TASKS_AT_ONCE);
      await Promise.all(
        tasks.map(({ task, subtasks }) =>
          taskLimit.run(() =>
            runTask(engine, src, dst, listeners, policy, task, subtasks, stop.signal, signal),
          ),
        ),
      );
      if (ctx.signal.aborted && !stop.signal.aborted) {
        // Shutting down, not stopped: leave it InProgress; the job runs again elsewhere.
        throw new FerryError('CANCELLED', 'worker shutting down; the execution resumes elsewhere');
      }
      await finishExecution(executionId, stop.signal.aborted);
    } finally {
      clearInterval(watcher);
      if (
        remote !== inst.registry &&
        !(
          remoteRow.type === 'swr-pro-internal' &&
          service.instances.find(remoteRow.remote_instance_id ?? '')
        )
      ) {
        await remote.close();
      }
    }
  }

  async function runTask(
    engine: CopyEngine,
    src: RegistryBackend,
    dst: RegistryBackend,
    listeners: Map<string, (e: CopyEvent) => void>,
    policy: store.PolicyRow,
    task: store.TaskRow,
    subtasks: store.SubtaskRow[],
    stopped: AbortSignal,
    signal: AbortSignal,
  ): Promise<void> {
    if (FINAL.includes(task.status)) return;
    await store.updateTask(db, task.id, {
      status: 'InProgress',
      start_time: task.start_time ?? new Date(),
    });
    const srcRepo = task.src_resource.slice(task.src_resource.indexOf('/') + 1);
    const dstRepo = task.dst_resource.slice(task.dst_resource.indexOf('/') + 1);
    let bytesDone = Number(task.bytes_done);
    let bytesTotal = Number(task.bytes_total);
    let lastWrite = 0;
    const progress = (force = false) => {
      if (!force && Date.now() - lastWrite < 1000) return Promise.resolve();
      lastWrite = Date.now();
      return store
        .updateTask(db, task.id, { bytes_done: bytesDone, bytes_total: bytesTotal })
        .catch(() => undefined);
    };
    const images = new Semaphore(IMAGES_AT_ONCE);
    await Promise.all(
      subtasks.map((sub) =>
        images.run(async () => {
          if (FINAL.includes(sub.status)) return;
          if (signal.aborted) {
            if (stopped.aborted)
              await store.updateSubtask(db, sub.id, {
                status: 'Stopped',
                status_text: 'execution stopped',
                end_time: new Date(),
              });
            return;
          }
          await store.updateSubtask(db, sub.id, { status: 'InProgress', start_time: new Date() });
          let outcome: { status: RunStatus; text: string; digest?: string };
          if (task.operation === 'deletion') {
            outcome = await deleteAtTarget(dst, dstRepo, sub.tag, signal);
          } else {
            const image = imageName(src, srcRepo, sub.tag);
            let moved = 0;
            let planned = 0;
            listeners.set(image, (e) => {
              if (e.type === 'image-bytes-total') {
                planned = e.total;
                bytesTotal += e.total;
                return;
              }
              if (e.type !== 'blob-progress') return;
              moved += e.delta;
              bytesDone += e.delta;
              void progress();
            });
            const r = await engine.copyImage({
              srcRepo,
              srcRef: sub.tag,
              dstRepo,
              dstTag: sub.tag,
            });
            listeners.delete(image);
            bytesDone += r.bytes - moved;
            // The total known in advance, corrected to what the copy really streamed.
            bytesTotal += r.bytes - planned;
            if (r.status === 'copied' || r.status === 'skipped') {
              outcome = {
                status: 'Succeed',
                text: r.status === 'skipped' ? 'already at the target' : `copied ${r.bytes} bytes`,
                digest: r.digest,
              };
            } else if (r.status === 'conflict') {
              outcome = {
                status: 'Succeed',
                text: 'skipped: the target tag holds another image and override is off',
                digest: r.srcDigest,
              };
            } else if (stopped.aborted) {
              outcome = {
                status: 'Stopped',
                text: 'execution stopped; the tag was not written',
                digest: r.srcDigest,
              };
            } else if (signal.aborted) {
              // Worker shutdown: the sub-task runs again when the job resumes.
              await store.updateSubtask(db, sub.id, { status: 'Pending' });
              return;
            } else {
              outcome = { status: 'Failed', text: describeError(r.error), digest: r.srcDigest };
            }
          }
          await store.updateSubtask(db, sub.id, {
            status: outcome.status,
            status_text: outcome.text,
            digest: outcome.digest ?? '',
            end_time: new Date(),
          });
          await store.appendTaskLog(db, task.id, `${sub.tag}: ${outcome.status}: ${outcome.text}`);
          await progress();
        }),
      ),
    );
    await progress(true);
    if (signal.aborted && !stopped.aborted) return;
    const after = await store.listSubtasks(db, task.id, { offset: 0, limit: 100000 });
    const statuses = after.rows.map((s) => s.status);
    const status: RunStatus =
      statuses.includes('Stopped') || (stopped.aborted && !statuses.every((s) => s === 'Succeed'))
        ? 'Stopped'
        : statuses.includes('Failed')
          ? 'Failed'
          : 'Succeed';
    if (stopped.aborted) {
      for (const s of after.rows) {
        if (!FINAL.includes(s.status)) {
          await store.updateSubtask(db, s.id, {
            status: 'Stopped',
            status_text: 'execution stopped',
            end_time: new Date(),
          });
        }
      }
    }
    await store.updateTask(db, task.id, { status, end_time: new Date() });
    void policy;
  }

  async function deleteAtTarget(
    dst: RegistryBackend,
    repo: string,
    tag: string,
    signal: AbortSignal,
  ): Promise<{ status: RunStatus; text: string; digest?: string }> {
    try {
      const head = await dst.manifestHead(repo, tag, signal);
      if (!head) return { status: 'Succeed', text: 'not at the target' };
      await dst.manifestDelete(repo, head.digest, signal);
      return { status: 'Succeed', text: 'deleted at the target', digest: head.digest };
    } catch (err) {
      return { status: 'Failed', text: describeError(err) };
    }
  }

  async function checkRegistries({ registryId }: { registryId?: string }): Promise<void> {
    const rows = (await store.allRegistries(db)).filter(
      (r) => registryId === undefined || r.id === registryId,
    );
    await Promise.all(
      rows.map(async (row) => {
        const reg = openRemote(service, row);
        try {
          await reg.ping(AbortSignal.timeout(10_000));
          await store.setRegistryStatus(db, row.id, 'healthy', null);
        } catch (err) {
          await store.setRegistryStatus(db, row.id, 'unhealthy', describeError(toFerryError(err)));
        } finally {
          if (!(
            row.type === 'swr-pro-internal' && service.instances.find(row.remote_instance_id ?? '')
          ))
            await reg.close();
        }
      }),
    );
  }

  /** Starts event-based executions for a push (or deletion) at an instance. */
  async function onInstanceEvent(event: RegistryEventRow): Promise<void> {
    const inst = service.instances.find(event.source_id);
    if (!inst || !event.tag) return;
    const action =
      event.action === 'push' ? 'push' : event.action === 'delete' ? 'delete' : undefined;
    if (!action) return;
    for (const policy of await store.enabledPolicies(db, 'event_based', inst.config.id)) {
      if (action === 'delete' && !policy.replicate_deletion) continue;
      const filters = policy.filters as { type: string; value: string }[];
      if (!passes(filters, 'name', event.repository) || !passes(filters, 'tag', event.tag))
        continue;
      const id = await service.execute(inst, policy.id, 'event_based', {
        repository: event.repository,
        tag: event.tag,
        action,
      });
      log('event started a replication', { policy: policy.id, execution: id });
    }
  }

  /** Keeps one schedule per enabled scheduled policy in `scheduler`, refreshed every few seconds. */
  function schedulePolicies(scheduler: Scheduler, refreshMs = 1000): () => void {
    const active = new Set<string>();
    const refresh = async () => {
      const policies = await store.enabledPolicies(db, 'scheduled');
      const want = new Map(
        policies.filter((p) => p.trigger_cron).map((p) => [`policy:${p.id}:${p.trigger_cron}`, p]),
      );
      for (const name of active) {
        if (!want.has(name)) {
          scheduler.remove(name);
          active.delete(name);
        }
      }
      for (const [name, p] of want) {
        if (active.has(name)) continue;
        const inst: Instance | undefined = service.instances.find(p.instance_id);
        if (!inst) continue;
        active.add(name);
        scheduler.add({
          name,
          spec: { cron: p.trigger_cron! },
          fire: async () => {
            await service.execute(inst, p.id, 'scheduled').catch((err) =>
              log('scheduled replication not started', {
                policy: p.id,
                error: describeError(err),
              }),
            );
          },
        });
      }
    };
    void refresh().catch(() => undefined);
    const timer = setInterval(
      () => void refresh().catch((err) => log('policy schedules', { error: String(err) })),
      refreshMs,
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  const handlers: Pick<JobHandlers, 'replication-execute' | 'replication-check-registries'> = {
    'replication-execute': execute,
    'replication-check-registries': checkRegistries,
  };
  return {
    handlers,
    onInstanceEvent,
    schedulePolicies,
    enqueueCheckAll: () =>
      enqueue(db, 'replication-check-registries', {}, { jobKey: 'replication-check-registries' }),
  };
}
