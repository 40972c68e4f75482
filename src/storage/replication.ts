// SWR Enterprise replication rows: registries, policies, executions, tasks, sub-tasks.
// One function per operation.
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import { pageWithTotal, type Db } from './database.js';
import type {
  ReplicationExecutionTable,
  ReplicationPolicyTable,
  ReplicationRegistryTable,
  ReplicationSubtaskTable,
  ReplicationTaskTable,
} from './schema.js';

export type RegistryRow = Selectable<ReplicationRegistryTable>;
export type PolicyRow = Selectable<ReplicationPolicyTable>;
export type ExecutionRow = Selectable<ReplicationExecutionTable>;
export type TaskRow = Selectable<ReplicationTaskTable>;
export type SubtaskRow = Selectable<ReplicationSubtaskTable>;

/** A page request: offset, limit, and an order over an allowed column. */
export interface Page {
  offset: number;
  limit: number;
}

/** Inserts a registry; undefined when the instance has one by that name. */
export async function insertRegistry(
  db: Db,
  row: Insertable<ReplicationRegistryTable>,
): Promise<RegistryRow | undefined> {
  return db
    .insertInto('replication_registries')
    .values(row)
    .onConflict((oc) => oc.columns(['instance_id', 'name']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** A registry of an instance. */
export async function findRegistry(
  db: Db,
  instanceId: string,
  id: string,
): Promise<RegistryRow | undefined> {
  return db
    .selectFrom('replication_registries')
    .selectAll()
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A page of an instance's registries, filtered and ordered, and the total. */
export async function listRegistries(
  db: Db,
  instanceId: string,
  q: Page & {
    name?: string;
    type?: string;
    orderColumn: 'created_at' | 'updated_at' | 'name';
    orderType: 'asc' | 'desc';
  },
): Promise<{ rows: RegistryRow[]; total: number }> {
  let base = db.selectFrom('replication_registries').where('instance_id', '=', instanceId);
  if (q.name) base = base.where('name', 'like', `%${escapeLike(q.name)}%`);
  if (q.type) base = base.where('type', '=', q.type);
  return pageWithTotal(base, q, (b) =>
    b.selectAll().orderBy(q.orderColumn, q.orderType).orderBy('id', q.orderType),
  );
}

/** Every registry (for the health check). */
export async function allRegistries(db: Db): Promise<RegistryRow[]> {
  return db.selectFrom('replication_registries').selectAll().orderBy('id').execute();
}

/** Updates a registry; false when it does not exist (or the new name is taken: throws). */
export async function updateRegistry(
  db: Db,
  instanceId: string,
  id: string,
  patch: Updateable<ReplicationRegistryTable>,
): Promise<boolean> {
  const r = await db
    .updateTable('replication_registries')
    .set({ ...patch, updated_at: new Date() })
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Records a health check. */
export async function setRegistryStatus(
  db: Db,
  id: string,
  status: 'healthy' | 'unhealthy',
  reason: string | null,
): Promise<void> {
  await db
    .updateTable('replication_registries')
    .set({ status, status_reason: reason, checked_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Policies that use a registry. */
export async function policiesUsingRegistry(db: Db, id: string): Promise<PolicyRow[]> {
  return db
    .selectFrom('replication_policies')
    .selectAll()
    .where((eb) => eb.or([eb('src_registry_id', '=', id), eb('dest_registry_id', '=', id)]))
    .execute();
}

/** Deletes a registry; false when it did not exist. */
export async function deleteRegistry(db: Db, instanceId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom('replication_registries')
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Inserts a policy; undefined when the instance has one by that name. */
export async function insertPolicy(
  db: Db,
  row: Insertable<ReplicationPolicyTable>,
): Promise<PolicyRow | undefined> {
  return db
    .insertInto('replication_policies')
    .values(row)
    .onConflict((oc) => oc.columns(['instance_id', 'name']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** A policy of an instance. */
export async function findPolicy(
  db: Db,
  instanceId: string,
  id: string,
): Promise<PolicyRow | undefined> {
  return db
    .selectFrom('replication_policies')
    .selectAll()
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A policy by id alone (jobs). */
export async function findPolicyById(db: Db, id: string): Promise<PolicyRow | undefined> {
  return db.selectFrom('replication_policies').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A page of an instance's policies, and the total. */
export async function listPolicies(
  db: Db,
  instanceId: string,
  q: Page & {
    name?: string;
    registryId?: string;
    orderColumn: 'created_at' | 'updated_at' | 'name';
    orderType: 'asc' | 'desc';
  },
): Promise<{ rows: PolicyRow[]; total: number }> {
  let base = db.selectFrom('replication_policies').where('instance_id', '=', instanceId);
  if (q.name) base = base.where('name', 'like', `%${escapeLike(q.name)}%`);
  if (q.registryId) {
    const id = q.registryId;
    base = base.where((eb) =>
      eb.or([eb('src_registry_id', '=', id), eb('dest_registry_id', '=', id)]),
    );
  }
  return pageWithTotal(base, q, (b) =>
    b.selectAll().orderBy(q.orderColumn, q.orderType).orderBy('id', q.orderType),
  );
}

/** Enabled policies with a given trigger type (scheduler, events). */
export async function enabledPolicies(
  db: Db,
  triggerType: string,
  instanceId?: string,
): Promise<PolicyRow[]> {
  let q = db
    .selectFrom('replication_policies')
    .selectAll()
    .where('enabled', '=', true)
    .where('trigger_type', '=', triggerType);
  if (instanceId !== undefined) q = q.where('instance_id', '=', instanceId);
  return q.orderBy('id').execute();
}

/** Updates a policy; false when it does not exist. */
export async function updatePolicy(
  db: Db,
  instanceId: string,
  id: string,
  patch: Updateable<ReplicationPolicyTable>,
): Promise<boolean> {
  const r = await db
    .updateTable('replication_policies')
    .set({ ...patch, updated_at: new Date() })
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Deletes a policy and its executions; false when it did not exist. */
export async function deletePolicy(db: Db, instanceId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom('replication_policies')
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Inserts an execution. */
export async function insertExecution(
  db: Db,
  row: Insertable<ReplicationExecutionTable>,
): Promise<ExecutionRow> {
  return db
    .insertInto('replication_executions')
    .values(row)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** An execution of an instance. */
export async function findExecution(
  db: Db,
  id: string,
  instanceId?: string,
): Promise<ExecutionRow | undefined> {
  let q = db.selectFrom('replication_executions').selectAll().where('id', '=', id);
  if (instanceId !== undefined) q = q.where('instance_id', '=', instanceId);
  return q.executeTakeFirst();
}

/** A page of an instance's executions (optionally of one policy), newest first, and the total. */
export async function listExecutions(
  db: Db,
  instanceId: string,
  q: Page & { policyId?: string },
): Promise<{ rows: ExecutionRow[]; total: number }> {
  let base = db.selectFrom('replication_executions').where('instance_id', '=', instanceId);
  if (q.policyId) base = base.where('policy_id', '=', q.policyId);
  return pageWithTotal(base, q, (b) => b.selectAll().orderBy('id', 'desc'));
}

/** Updates an execution. */
export async function updateExecution(
  db: Db,
  id: string,
  patch: Updateable<ReplicationExecutionTable>,
): Promise<void> {
  await db
    .updateTable('replication_executions')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Asks a running execution to stop; false when it is unknown. */
export async function requestStop(db: Db, instanceId: string, id: string): Promise<boolean> {
  const r = await db
    .updateTable('replication_executions')
    .set({ stop_requested: true, updated_at: new Date() })
    .where('instance_id', '=', instanceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Whether a stop was asked for. */
export async function stopRequested(db: Db, id: string): Promise<boolean> {
  const r = await db
    .selectFrom('replication_executions')
    .select('stop_requested')
    .where('id', '=', id)
    .executeTakeFirst();
  return r?.stop_requested ?? true;
}

/** Counts of an execution's tasks by status. */
export async function taskCounts(db: Db, executionId: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('replication_tasks')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('execution_id', '=', executionId)
    .groupBy('status')
    .execute();
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

/** Counts of many executions' tasks by status, for lists. */
export async function taskCountsOf(
  db: Db,
  executionIds: string[],
): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  if (executionIds.length === 0) return out;
  const rows = await db
    .selectFrom('replication_tasks')
    .select(['execution_id', 'status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('execution_id', 'in', executionIds)
    .groupBy(['execution_id', 'status'])
    .execute();
  for (const r of rows) {
    let m = out.get(r.execution_id);
    if (!m) out.set(r.execution_id, (m = new Map()));
    m.set(r.status, Number(r.n));
  }
  return out;
}

/** Inserts tasks and their sub-tasks in one go; returns the tasks with their sub-tasks. */
export async function insertTasks(
  db: Db,
  executionId: string,
  tasks: {
    task: Omit<Insertable<ReplicationTaskTable>, 'execution_id'>;
    subtasks: Omit<Insertable<ReplicationSubtaskTable>, 'task_id'>[];
  }[],
): Promise<{ task: TaskRow; subtasks: SubtaskRow[] }[]> {
  const out: { task: TaskRow; subtasks: SubtaskRow[] }[] = [];
  for (const t of tasks) {
    const task = await db
      .insertInto('replication_tasks')
      .values({ ...t.task, execution_id: executionId })
      .returningAll()
      .executeTakeFirstOrThrow();
    const subtasks =
      t.subtasks.length === 0
        ? []
        : await db
            .insertInto('replication_subtasks')
            .values(t.subtasks.map((s) => ({ ...s, task_id: task.id })))
            .returningAll()
            .execute();
    out.push({ task, subtasks });
  }
  return out;
}

/** An execution's tasks with their sub-tasks (a resumed run picks up from here). */
export async function tasksWithSubtasks(
  db: Db,
  executionId: string,
): Promise<{ task: TaskRow; subtasks: SubtaskRow[] }[]> {
  const tasks = await db
    .selectFrom('replication_tasks')
    .selectAll()
    .where('execution_id', '=', executionId)
    .orderBy('id')
    .execute();
  if (tasks.length === 0) return [];
  const subs = await db
    .selectFrom('replication_subtasks')
    .selectAll()
    .where(
      'task_id',
      'in',
      tasks.map((t) => t.id),
    )
    .orderBy('id')
    .execute();
  return tasks.map((task) => ({ task, subtasks: subs.filter((s) => s.task_id === task.id) }));
}

/** A page of an execution's tasks, and the total. */
export async function listTasks(
  db: Db,
  executionId: string,
  page: Page,
): Promise<{ rows: TaskRow[]; total: number }> {
  const base = db.selectFrom('replication_tasks').where('execution_id', '=', executionId);
  return pageWithTotal(base, page, (b) => b.selectAll().orderBy('id'));
}

/** A task of an execution. */
export async function findTask(
  db: Db,
  executionId: string,
  taskId: string,
): Promise<TaskRow | undefined> {
  return db
    .selectFrom('replication_tasks')
    .selectAll()
    .where('execution_id', '=', executionId)
    .where('id', '=', taskId)
    .executeTakeFirst();
}

/** A page of a task's sub-tasks (optionally of one status), and the total. */
export async function listSubtasks(
  db: Db,
  taskId: string,
  q: Page & { status?: string },
): Promise<{ rows: SubtaskRow[]; total: number }> {
  let base = db.selectFrom('replication_subtasks').where('task_id', '=', taskId);
  if (q.status) base = base.where('status', '=', q.status);
  return pageWithTotal(base, q, (b) => b.selectAll().orderBy('id'));
}

/** Updates a task; every status change bumps StatusRevision. */
export async function updateTask(
  db: Db,
  id: string,
  patch: Updateable<ReplicationTaskTable>,
): Promise<void> {
  await db
    .updateTable('replication_tasks')
    .set(
      patch.status !== undefined ? { ...patch, status_revision: sql`status_revision + 1` } : patch,
    )
    .where('id', '=', id)
    .execute();
}

/** Appends a line to a task's log. */
export async function appendTaskLog(db: Db, id: string, line: string): Promise<void> {
  await db
    .updateTable('replication_tasks')
    .set({ log: sql`log || ${`${new Date().toISOString()} ${line}\n`}` })
    .where('id', '=', id)
    .execute();
}

/** Updates a sub-task. */
export async function updateSubtask(
  db: Db,
  id: string,
  patch: Updateable<ReplicationSubtaskTable>,
): Promise<void> {
  await db.updateTable('replication_subtasks').set(patch).where('id', '=', id).execute();
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
