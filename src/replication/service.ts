// SWR Enterprise replication (huawei-compat.md section 4): replication registries, policies,
// executions with tasks and sub-tasks, and the instance lookups. Routes call this; the copies
// run in the `replication-execute` job (runner.ts).
import { FerryError } from '../errors/catalog.js';
import type { SecretBox } from '../iam/crypto.js';
import { enqueue } from '../engine/queue.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/replication.js';
import type { Instance, Instances } from './instances.js';
import { policyInput, registryInput } from './validate.js';

/** Shown instead of a stored secret; sent back unchanged on update, it keeps the secret. */
export const SECRET_MASK = '******';

/** Execution and task statuses (Harbor's). */
export type RunStatus = 'Pending' | 'InProgress' | 'Succeed' | 'Failed' | 'Stopped';

/** Who calls, for which domain and region. */
export interface EeCaller {
  domainName: string;
  regionId: string;
}

/** The replication service. */
export class ReplicationService {
  constructor(
    private readonly db: Db,
    readonly instances: Instances,
    private readonly box: SecretBox,
  ) {}

  // ---- instances ----

  /** The instances of a domain's project (its region). */
  instancesOf(caller: EeCaller): Instance[] {
    return this.instances
      .all()
      .filter((i) => i.config.domain === caller.domainName && i.config.region === caller.regionId);
  }

  /** One of the caller's instances, or NOT_FOUND (also for another domain's). */
  instance(caller: EeCaller, id: string): Instance {
    const inst = this.instances.find(id);
    if (
      !inst ||
      inst.config.domain !== caller.domainName ||
      inst.config.region !== caller.regionId
    ) {
      throw new FerryError('NOT_FOUND', `instance ${id} not found in this project`);
    }
    return inst;
  }

  // ---- registries ----

  /** Creates a registry; its id. */
  async createRegistry(inst: Instance, body: unknown): Promise<number> {
    const input = registryInput(body);
    if (!input.credential?.access_secret && input.credential) {
      throw new FerryError('BAD_REQUEST', 'credential.access_secret: is required');
    }
    const row = await store.insertRegistry(this.db, {
      instance_id: inst.config.id,
      name: input.name,
      description: input.description,
      type: input.type,
      url: input.url,
      credential_type: input.credential?.type ?? 'basic',
      access_key: input.credential?.access_key ?? '',
      access_secret_encrypted: input.credential?.access_secret
        ? this.box.seal(input.credential.access_secret)
        : '',
      insecure: input.insecure,
      project_id: input.project_id,
      region_id: input.region_id,
      remote_instance_id: input.instance_id,
      dns_conf: input.dns_conf === null ? null : JSON.stringify(input.dns_conf),
    });
    if (!row)
      throw new FerryError('ALREADY_EXISTS', `a registry named ${input.name} already exists`);
    // Its first health check runs now, not at the next periodic round.
    await enqueue(this.db, 'replication-check-registries', { registryId: row.id });
    return Number(row.id);
  }

  /** A registry of the instance, or NOT_FOUND. */
  async registry(inst: Instance, id: string): Promise<store.RegistryRow> {
    const row = /^\d{1,18}$/.test(id)
      ? await store.findRegistry(this.db, inst.config.id, id)
      : undefined;
    if (!row) throw new FerryError('NOT_FOUND', `registry ${id} not found`);
    return row;
  }

  /** A page of registries. */
  async listRegistries(
    inst: Instance,
    q: Parameters<typeof store.listRegistries>[2],
  ): Promise<{ rows: store.RegistryRow[]; total: number }> {
    return store.listRegistries(this.db, inst.config.id, q);
  }

  /** Replaces a registry's settings (a masked or absent secret keeps the stored one). */
  async updateRegistry(inst: Instance, id: string, body: unknown): Promise<void> {
    const existing = await this.registry(inst, id);
    const input = registryInput(body);
    const secret = input.credential?.access_secret;
    const sealed =
      secret === undefined || secret === SECRET_MASK
        ? existing.access_secret_encrypted
        : this.box.seal(secret);
    try {
      await store.updateRegistry(this.db, inst.config.id, id, {
        name: input.name,
        description: input.description,
        type: input.type,
        url: input.url,
        credential_type: input.credential?.type ?? existing.credential_type,
        access_key: input.credential?.access_key ?? existing.access_key,
        access_secret_encrypted: sealed,
        insecure: input.insecure,
        project_id: input.project_id,
        region_id: input.region_id,
        remote_instance_id: input.instance_id,
        dns_conf: input.dns_conf === null ? null : JSON.stringify(input.dns_conf),
        status: 'unknown',
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        throw new FerryError('ALREADY_EXISTS', `a registry named ${input.name} already exists`);
      }
      throw err;
    }
    await enqueue(this.db, 'replication-check-registries', { registryId: id });
  }

  /** Deletes a registry no policy uses. */
  async deleteRegistry(inst: Instance, id: string): Promise<void> {
    await this.registry(inst, id);
    const users = await store.policiesUsingRegistry(this.db, id);
    if (users.length > 0) {
      throw new FerryError(
        'RESOURCE_IN_USE',
        `registry ${id} is used by policies ${users.map((p) => `${p.id} (${p.name})`).join(', ')}`,
      );
    }
    await store.deleteRegistry(this.db, inst.config.id, id);
  }

  /** The stored secret of a registry, in clear (for the runner only). */
  secretOf(row: store.RegistryRow): string | undefined {
    return row.access_secret_encrypted ? this.box.open(row.access_secret_encrypted) : undefined;
  }

  // ---- policies ----

  private async checkPolicyRegistries(
    inst: Instance,
    input: ReturnType<typeof policyInput>,
  ): Promise<void> {
    const id = input.src_registry_id ?? input.dest_registry_id!;
    const field = input.src_registry_id ? 'src_registry.id' : 'dest_registry.id';
    const row = await store.findRegistry(this.db, inst.config.id, id);
    if (!row) throw new FerryError('BAD_REQUEST', `${field}: no registry ${id} in this instance`);
  }

  /** Creates a policy; its id. */
  async createPolicy(inst: Instance, body: unknown): Promise<number> {
    const input = policyInput(body);
    await this.checkPolicyRegistries(inst, input);
    const row = await store.insertPolicy(this.db, {
      ...input,
      instance_id: inst.config.id,
      filters: JSON.stringify(input.filters),
      platforms: input.platforms ? JSON.stringify(input.platforms) : null,
    });
    if (!row) throw new FerryError('ALREADY_EXISTS', `a policy named ${input.name} already exists`);
    return Number(row.id);
  }

  /** A policy of the instance, or NOT_FOUND. */
  async policy(inst: Instance, id: string): Promise<store.PolicyRow> {
    const row = /^\d{1,18}$/.test(id)
      ? await store.findPolicy(this.db, inst.config.id, id)
      : undefined;
    if (!row) throw new FerryError('NOT_FOUND', `policy ${id} not found`);
    return row;
  }

  /** A page of policies. */
  async listPolicies(
    inst: Instance,
    q: Parameters<typeof store.listPolicies>[2],
  ): Promise<{ rows: store.PolicyRow[]; total: number }> {
    return store.listPolicies(this.db, inst.config.id, q);
  }

  /** Replaces a policy's settings. */
  async updatePolicy(inst: Instance, id: string, body: unknown): Promise<void> {
    await this.policy(inst, id);
    const input = policyInput(body);
    await this.checkPolicyRegistries(inst, input);
    try {
      await store.updatePolicy(this.db, inst.config.id, id, {
        ...input,
        filters: JSON.stringify(input.filters),
        platforms: input.platforms ? JSON.stringify(input.platforms) : null,
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        throw new FerryError('ALREADY_EXISTS', `a policy named ${input.name} already exists`);
      }
      throw err;
    }
  }

  /** Deletes a policy (its executions go with it); running executions are stopped first. */
  async deletePolicy(inst: Instance, id: string): Promise<void> {
    await this.policy(inst, id);
    const running = await store.listExecutions(this.db, inst.config.id, {
      policyId: id,
      offset: 0,
      limit: 1000,
    });
    for (const e of running.rows) {
      if (e.status === 'InProgress') {
        throw new FerryError(
          'RESOURCE_IN_USE',
          `policy ${id} has a running execution (${e.id}): stop it first`,
        );
      }
    }
    await store.deletePolicy(this.db, inst.config.id, id);
  }

  // ---- executions ----

  /**
   * Stores an execution and queues its job (one transaction): the id is answered once the
   * execution is durable. An event-based run names one repository and tag.
   */
  async execute(
    inst: Instance,
    policyId: string,
    trigger: 'manual' | 'scheduled' | 'event_based' = 'manual',
    event?: { repository: string; tag: string; action: 'push' | 'delete' },
  ): Promise<number> {
    const policy = await this.policy(inst, policyId);
    if (!policy.enabled) {
      throw new FerryError(
        'PRECONDITION_FAILED',
        `policy ${policyId} is disabled: enable it to run it`,
      );
    }
    return this.db.transaction().execute(async (tx) => {
      const row = await store.insertExecution(tx, {
        policy_id: policy.id,
        instance_id: inst.config.id,
        status: 'InProgress',
        trigger,
        event_repository: event?.repository ?? null,
        event_tag: event?.tag ?? null,
        event_action: event?.action ?? null,
        start_time: new Date(),
      });
      await enqueue(
        tx,
        'replication-execute',
        { executionId: row.id },
        { jobKey: `replication-execute:${row.id}` },
      );
      return Number(row.id);
    });
  }

  /** An execution of the instance, or NOT_FOUND. */
  async execution(inst: Instance, id: string): Promise<store.ExecutionRow> {
    const row = /^\d{1,18}$/.test(id)
      ? await store.findExecution(this.db, id, inst.config.id)
      : undefined;
    if (!row) throw new FerryError('NOT_FOUND', `execution ${id} not found`);
    return row;
  }

  /** A page of executions, with task counters. */
  async listExecutions(
    inst: Instance,
    q: { policyId?: string; offset: number; limit: number },
  ): Promise<{
    rows: store.ExecutionRow[];
    total: number;
    counts: Map<string, Map<string, number>>;
  }> {
    if (q.policyId !== undefined && !/^\d{1,18}$/.test(q.policyId)) {
      throw new FerryError('BAD_REQUEST', 'policy_id: must be a policy id');
    }
    const page = await store.listExecutions(this.db, inst.config.id, q);
    const counts = await store.taskCountsOf(
      this.db,
      page.rows.map((r) => r.id),
    );
    return { ...page, counts };
  }

  /** Task counters of one execution. */
  async counts(executionId: string): Promise<Map<string, number>> {
    return store.taskCounts(this.db, executionId);
  }

  /** Asks an execution to stop; the runner stops within a second or two. */
  async stop(inst: Instance, id: string): Promise<void> {
    const e = await this.execution(inst, id);
    if (e.status !== 'InProgress') return;
    await store.requestStop(this.db, inst.config.id, id);
  }

  /** A page of an execution's tasks. */
  async listTasks(inst: Instance, executionId: string, page: store.Page) {
    await this.execution(inst, executionId);
    return store.listTasks(this.db, executionId, page);
  }

  /** A task of an execution, or NOT_FOUND. */
  async task(inst: Instance, executionId: string, taskId: string): Promise<store.TaskRow> {
    await this.execution(inst, executionId);
    const row = /^\d{1,18}$/.test(taskId)
      ? await store.findTask(this.db, executionId, taskId)
      : undefined;
    if (!row)
      throw new FerryError('NOT_FOUND', `task ${taskId} not found in execution ${executionId}`);
    return row;
  }

  /** A page of a task's sub-tasks. */
  async listSubtasks(
    inst: Instance,
    executionId: string,
    taskId: string,
    q: store.Page & { status?: string },
  ) {
    await this.task(inst, executionId, taskId);
    const statuses = ['Initialized', 'Pending', 'InProgress', 'Succeed', 'Failed', 'Stopped'];
    if (q.status !== undefined && q.status !== '' && !statuses.includes(q.status)) {
      throw new FerryError('BAD_REQUEST', `status: must be one of ${statuses.join(', ')}`);
    }
    return store.listSubtasks(this.db, taskId, { ...q, status: q.status || undefined });
  }
}
