// SWR basic rows: namespaces, auto-sync rules, sync jobs. One function per operation.
import type { Insertable, Selectable } from 'kysely';
import { pageWithTotal, type Db } from './database.js';
import type { NamespaceTable, SyncJobStatus, SyncJobTable, SyncRuleTable } from './schema.js';

export type NamespaceRow = Selectable<NamespaceTable>;
export type SyncRuleRow = Selectable<SyncRuleTable>;
export type SyncJobRow = Selectable<SyncJobTable>;

/** Inserts a namespace; false when the region already has one by that name. */
export async function insertNamespace(
  db: Db,
  row: { region_id: string; name: string; domain_id: string; creator_name: string },
): Promise<boolean> {
  const r = await db
    .insertInto('namespaces')
    .values(row)
    .onConflict((oc) => oc.columns(['region_id', 'name']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** A namespace of a region by name, whoever owns it. */
export async function findNamespace(
  db: Db,
  regionId: string,
  name: string,
): Promise<NamespaceRow | undefined> {
  return db
    .selectFrom('namespaces')
    .selectAll()
    .where('region_id', '=', regionId)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** A domain's namespaces in a region, by name. */
export async function listNamespaces(
  db: Db,
  regionId: string,
  domainId: string,
): Promise<NamespaceRow[]> {
  return db
    .selectFrom('namespaces')
    .selectAll()
    .where('region_id', '=', regionId)
    .where('domain_id', '=', domainId)
    .orderBy('name')
    .execute();
}

/**
 * Deletes the shares and auto-sync rules of a namespace's repositories, or of one of them:
 * a namespace or repository created again under that name starts unshared and without rules.
 */
async function deleteSharesAndRules(
  tx: Db,
  regionId: string,
  namespace: string,
  repo?: string,
): Promise<void> {
  let shares = tx
    .deleteFrom('repository_shares')
    .where('region_id', '=', regionId)
    .where('namespace', '=', namespace);
  let rules = tx
    .deleteFrom('sync_rules')
    .where('region_id', '=', regionId)
    .where('namespace', '=', namespace);
  if (repo !== undefined) {
    shares = shares.where('repository', '=', repo);
    rules = rules.where('repo_name', '=', repo);
  }
  await shares.execute();
  await rules.execute();
}

/** Deletes a namespace, its auto-sync rules and its repositories' shares. */
export async function deleteNamespace(db: Db, regionId: string, name: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await deleteSharesAndRules(tx, regionId, name);
    await tx
      .deleteFrom('namespaces')
      .where('region_id', '=', regionId)
      .where('name', '=', name)
      .execute();
  });
}

/** Deletes what Ferry keeps about one repository: its shares and its auto-sync rules. */
export async function deleteRepositoryRecords(
  db: Db,
  regionId: string,
  namespace: string,
  repo: string,
): Promise<void> {
  await db.transaction().execute((tx) => deleteSharesAndRules(tx, regionId, namespace, repo));
}

/** Inserts an auto-sync rule; false when the same rule exists. */
export async function insertSyncRule(
  db: Db,
  row: Omit<SyncRuleTable, 'id' | 'created_at' | 'updated_at'>,
): Promise<boolean> {
  const r = await db
    .insertInto('sync_rules')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['region_id', 'namespace', 'repo_name', 'remote_region_id', 'remote_namespace'])
        .doNothing(),
    )
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The auto-sync rules of one repository. */
export async function listSyncRules(
  db: Db,
  regionId: string,
  namespace: string,
  repo: string,
): Promise<SyncRuleRow[]> {
  return db
    .selectFrom('sync_rules')
    .selectAll()
    .where('region_id', '=', regionId)
    .where('namespace', '=', namespace)
    .where('repo_name', '=', repo)
    .orderBy('id')
    .execute();
}

/** Deletes one auto-sync rule; false when there was none. */
export async function deleteSyncRule(
  db: Db,
  key: {
    region_id: string;
    namespace: string;
    repo_name: string;
    remote_region_id: string;
    remote_namespace: string;
  },
): Promise<boolean> {
  const r = await db
    .deleteFrom('sync_rules')
    .where('region_id', '=', key.region_id)
    .where('namespace', '=', key.namespace)
    .where('repo_name', '=', key.repo_name)
    .where('remote_region_id', '=', key.remote_region_id)
    .where('remote_namespace', '=', key.remote_namespace)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Inserts sync jobs in one statement; returns them in the order given. */
export async function insertSyncJobs(
  db: Db,
  rows: Insertable<SyncJobTable>[],
): Promise<SyncJobRow[]> {
  if (rows.length === 0) return [];
  return db.insertInto('sync_jobs').values(rows).returningAll().execute();
}

/** Updates a job's status and extension fields. */
export async function updateSyncJob(
  db: Db,
  id: string,
  patch: {
    status: SyncJobStatus;
    attempts?: number;
    bytes_copied?: number;
    digest?: string | null;
    error_reason?: string | null;
    started_at?: Date | null;
    finished_at?: Date | null;
    next_attempt_at?: Date | null;
  },
): Promise<void> {
  await db
    .updateTable('sync_jobs')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** A page of one repository's sync jobs, and how many there are. */
export async function listSyncJobs(
  db: Db,
  key: { domain_id: string; region_id: string; namespace: string; repo_name: string },
  page: { offset: number; limit: number; order: 'asc' | 'desc' },
): Promise<{ rows: SyncJobRow[]; total: number }> {
  const base = db
    .selectFrom('sync_jobs')
    .where('domain_id', '=', key.domain_id)
    .where('region_id', '=', key.region_id)
    .where('namespace', '=', key.namespace)
    .where('repo_name', '=', key.repo_name);
  return pageWithTotal(base, page, (b) => b.selectAll().orderBy('id', page.order));
}

/** Marks jobs left waiting or running (by a process that stopped) as failed with `reason`. */
export async function failUnfinishedSyncJobs(db: Db, reason: string): Promise<number> {
  const r = await db
    .updateTable('sync_jobs')
    .set({
      status: 'failed',
      error_reason: reason,
      finished_at: new Date(),
      updated_at: new Date(),
    })
    .where('status', 'in', ['waiting', 'running'])
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** A sync job by id. */
export async function findSyncJob(db: Db, id: string): Promise<SyncJobRow | undefined> {
  return db.selectFrom('sync_jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The statuses of some sync jobs, by id. */
export async function syncJobStatuses(db: Db, ids: string[]): Promise<Map<string, SyncJobStatus>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('sync_jobs')
    .select(['id', 'status'])
    .where('id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** Inserts an auto-sync job unless one exists for its rule, tag and source digest. */
export async function insertAutoSyncJob(
  db: Db,
  row: Insertable<SyncJobTable> & { rule_id: string; src_digest: string },
): Promise<SyncJobRow | undefined> {
  return db
    .insertInto('sync_jobs')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['rule_id', 'tag', 'src_digest'])
        .where('rule_id', 'is not', null)
        .where('src_digest', 'is not', null)
        .doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
}

/** Every auto-sync rule with syncAuto on, optionally only one region's and repository's. */
export async function listAutoRules(
  db: Db,
  filter: { region_id?: string; namespace?: string; repo_name?: string } = {},
): Promise<SyncRuleRow[]> {
  let q = db.selectFrom('sync_rules').selectAll().where('sync_auto', '=', true);
  if (filter.region_id !== undefined) q = q.where('region_id', '=', filter.region_id);
  if (filter.namespace !== undefined) q = q.where('namespace', '=', filter.namespace);
  if (filter.repo_name !== undefined) q = q.where('repo_name', '=', filter.repo_name);
  return q.orderBy('id').execute();
}

/** Sets a failed auto-sync job of (rule, tag, digest) back to waiting; its id, if there was one. */
export async function retryFailedAutoSyncJob(
  db: Db,
  ruleId: string,
  tag: string,
  digest: string,
): Promise<string | undefined> {
  const r = await db
    .updateTable('sync_jobs')
    .set({
      status: 'waiting',
      attempts: 0,
      error_reason: null,
      finished_at: null,
      next_attempt_at: null,
      updated_at: new Date(),
    })
    .where('rule_id', '=', ruleId)
    .where('tag', '=', tag)
    .where('src_digest', '=', digest)
    .where('status', '=', 'failed')
    .returning('id')
    .executeTakeFirst();
  return r?.id;
}
