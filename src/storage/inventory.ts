// HSS inventory rows: third-party registries, sync tasks and their registries, and images.
// One function per operation; image writes are batched (a registry can hold 100,000 tags).
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import { countRows, pageWithTotal, type Db } from './database.js';
import type {
  InventoryImageTable,
  InventoryRegistryTable,
  InventoryTaskRegistryTable,
  InventoryTaskTable,
} from './schema.js';

export type InvRegistryRow = Selectable<InventoryRegistryTable>;
export type InvTaskRow = Selectable<InventoryTaskTable>;
export type InvTaskRegistryRow = Selectable<InventoryTaskRegistryTable>;
export type InvImageRow = Selectable<InventoryImageTable>;

// ---- registries ----

/** Inserts a registry; undefined when the project has one by that name. */
export async function insertInvRegistry(
  db: Db,
  row: Insertable<InventoryRegistryTable>,
): Promise<InvRegistryRow | undefined> {
  return db
    .insertInto('inventory_registries')
    .values(row)
    .onConflict((oc) => oc.columns(['project_id', 'registry_name']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** A registry of a project. */
export async function findInvRegistry(
  db: Db,
  projectId: string,
  id: string,
): Promise<InvRegistryRow | undefined> {
  return db
    .selectFrom('inventory_registries')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A project's registries, filtered, with the total. */
export async function listInvRegistries(
  db: Db,
  projectId: string,
  q: {
    offset: number;
    limit: number;
    name?: string;
    id?: string;
    types?: string[];
    addr?: string;
    status?: string;
  },
): Promise<{ rows: InvRegistryRow[]; total: number }> {
  let base = db.selectFrom('inventory_registries').where('project_id', '=', projectId);
  if (q.name) base = base.where('registry_name', 'like', `%${escapeLike(q.name)}%`);
  if (q.id) base = base.where('id', '=', q.id);
  if (q.types?.length) base = base.where('registry_type', 'in', q.types);
  if (q.addr) base = base.where('registry_addr', 'like', `%${escapeLike(q.addr)}%`);
  if (q.status) base = base.where('status', '=', q.status);
  return pageWithTotal(base, q, (b) => b.selectAll().orderBy('created_at', 'desc').orderBy('id'));
}

/** Every registry of a project (sync_all_registries). */
export async function allInvRegistries(db: Db, projectId: string): Promise<InvRegistryRow[]> {
  return db
    .selectFrom('inventory_registries')
    .selectAll()
    .where('project_id', '=', projectId)
    .execute();
}

/** Updates a registry; false when unknown. */
export async function updateInvRegistry(
  db: Db,
  projectId: string,
  id: string,
  patch: Updateable<InventoryRegistryTable>,
): Promise<boolean> {
  const r = await db
    .updateTable('inventory_registries')
    .set(patch)
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Deletes registries and their images; how many registries were deleted. */
export async function deleteInvRegistries(
  db: Db,
  projectId: string,
  ids: string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  return db.transaction().execute(async (tx) => {
    await tx
      .deleteFrom('inventory_images')
      .where('project_id', '=', projectId)
      .where('registry_type', 'in', ['Harbor', 'Jfrog', 'Other'])
      .where('registry_id', 'in', ids)
      .execute();
    const r = await tx
      .deleteFrom('inventory_registries')
      .where('project_id', '=', projectId)
      .where('id', 'in', ids)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  });
}

/** Registries by status, for statistics. */
export async function invRegistryStatusCounts(
  db: Db,
  projectId: string,
  type?: string,
): Promise<Map<string, number>> {
  let q = db
    .selectFrom('inventory_registries')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('project_id', '=', projectId);
  if (type) q = q.where('registry_type', '=', type);
  const rows = await q.groupBy('status').execute();
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

// ---- tasks ----

/** Inserts a task unless one for the same scope is running; the new row, or undefined. */
export async function insertInvTask(
  db: Db,
  row: Insertable<InventoryTaskTable>,
  registries: Omit<Insertable<InventoryTaskRegistryTable>, 'task_id'>[],
): Promise<InvTaskRow | undefined> {
  const task = await db
    .insertInto('inventory_tasks')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['project_id', 'scope_key'])
        .where('task_status', '>=', 0)
        .where('task_status', '<', 100)
        .doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
  if (task && registries.length > 0) {
    await db
      .insertInto('inventory_task_registries')
      .values(registries.map((r) => ({ ...r, task_id: task.id })))
      .execute();
  }
  return task;
}

/** A task by id. */
export async function findInvTask(db: Db, id: string): Promise<InvTaskRow | undefined> {
  return db.selectFrom('inventory_tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A task's registries. */
export async function invTaskRegistries(db: Db, taskId: string): Promise<InvTaskRegistryRow[]> {
  return db
    .selectFrom('inventory_task_registries')
    .selectAll()
    .where('task_id', '=', taskId)
    .orderBy('registry_type')
    .orderBy('registry_id')
    .execute();
}

/** Updates a task. */
export async function updateInvTask(
  db: Db,
  id: string,
  patch: Updateable<InventoryTaskTable>,
): Promise<void> {
  await db.updateTable('inventory_tasks').set(patch).where('id', '=', id).execute();
}

/** Updates one registry of a task. */
export async function updateInvTaskRegistry(
  db: Db,
  taskId: string,
  type: string,
  registryId: string,
  patch: Updateable<InventoryTaskRegistryTable>,
): Promise<void> {
  await db
    .updateTable('inventory_task_registries')
    .set(patch)
    .where('task_id', '=', taskId)
    .where('registry_type', '=', type)
    .where('registry_id', '=', registryId)
    .execute();
}

/** A project's tasks, newest first, filtered, with the total. */
export async function listInvTasks(
  db: Db,
  projectId: string,
  q: {
    offset: number;
    limit: number;
    taskType?: string;
    taskName?: string;
    taskId?: string;
    running?: boolean;
    createdFrom?: Date;
    createdTo?: Date;
  },
): Promise<{ rows: InvTaskRow[]; total: number }> {
  let base = db.selectFrom('inventory_tasks').where('project_id', '=', projectId);
  if (q.taskType) base = base.where('task_type', '=', q.taskType);
  if (q.taskName) base = base.where('task_name', 'like', `%${escapeLike(q.taskName)}%`);
  if (q.taskId) base = base.where('id', '=', q.taskId);
  if (q.running === true) base = base.where('task_status', '>=', 0).where('task_status', '<', 100);
  if (q.running === false)
    base = base.where((eb) => eb.or([eb('task_status', '=', 100), eb('task_status', '<', 0)]));
  if (q.createdFrom) base = base.where('begin_time', '>=', q.createdFrom);
  if (q.createdTo) base = base.where('begin_time', '<=', q.createdTo);
  return pageWithTotal(base, q, (b) => b.selectAll().orderBy('begin_time', 'desc').orderBy('id'));
}

// ---- images ----

/** Identifies one inventoried registry of a project. */
export interface Source {
  projectId: string;
  registryType: string;
  registryId: string;
}

/** The digest of every tag already inventoried for a source, by `namespace/image:tag`. */
export async function imageDigests(
  db: Db,
  s: Source,
): Promise<Map<string, { id: string; digest: string }>> {
  const rows = await db
    .selectFrom('inventory_images')
    .select(['id', 'namespace', 'image_name', 'image_version', 'image_digest'])
    .where('project_id', '=', s.projectId)
    .where('registry_type', '=', s.registryType)
    .where('registry_id', '=', s.registryId)
    .execute();
  return new Map(
    rows.map((r) => [
      `${r.namespace}/${r.image_name}:${r.image_version}`,
      { id: r.id, digest: r.image_digest },
    ]),
  );
}

/** Inserts or replaces images (one statement per 500). */
export async function upsertImages(db: Db, rows: Insertable<InventoryImageTable>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('inventory_images')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) =>
        oc
          .columns([
            'project_id',
            'registry_type',
            'registry_id',
            'namespace',
            'image_name',
            'image_version',
          ])
          .doUpdateSet((eb) => ({
            image_digest: eb.ref('excluded.image_digest'),
            image_id: eb.ref('excluded.image_id'),
            image_size: eb.ref('excluded.image_size'),
            is_multiple_arch: eb.ref('excluded.is_multiple_arch'),
            registry_name: eb.ref('excluded.registry_name'),
            image_type: eb.ref('excluded.image_type'),
            domain_name: eb.ref('excluded.domain_name'),
            shared_status: eb.ref('excluded.shared_status'),
            instance_id: eb.ref('excluded.instance_id'),
            instance_name: eb.ref('excluded.instance_name'),
            instance_url: eb.ref('excluded.instance_url'),
            latest_update_time: eb.ref('excluded.latest_update_time'),
            latest_sync_time: eb.ref('excluded.latest_sync_time'),
          })),
      )
      .execute();
  }
}

/** Marks images as seen by a sync (unchanged tags). */
export async function touchImages(db: Db, ids: string[], at: Date): Promise<void> {
  for (let i = 0; i < ids.length; i += 5000) {
    await db
      .updateTable('inventory_images')
      .set({ latest_sync_time: at })
      .where('id', 'in', ids.slice(i, i + 5000))
      .execute();
  }
}

/** Removes images (tags gone from their registry). */
export async function deleteImages(db: Db, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 5000) {
    await db
      .deleteFrom('inventory_images')
      .where('id', 'in', ids.slice(i, i + 5000))
      .execute();
  }
}

/** Sets `latest_version` on the most recently pushed tag of each repository of a source. */
export async function markLatestVersions(db: Db, s: Source): Promise<void> {
  // MATERIALIZED: computed once, then joined (a planner without statistics on a freshly
  // filled table otherwise re-ran it per row). Only rows whose flag changes are written.
  await sql`
    WITH l AS MATERIALIZED (
      SELECT DISTINCT ON (namespace, image_name) id, namespace, image_name
      FROM inventory_images
      WHERE project_id = ${s.projectId} AND registry_type = ${s.registryType} AND registry_id = ${s.registryId}
      ORDER BY namespace, image_name, latest_update_time DESC NULLS LAST, image_version DESC
    )
    UPDATE inventory_images i SET latest_version = (i.id = l.id)
    FROM l
    WHERE i.project_id = ${s.projectId} AND i.registry_type = ${s.registryType}
      AND i.registry_id = ${s.registryId} AND i.namespace = l.namespace AND i.image_name = l.image_name
      AND i.latest_version IS DISTINCT FROM (i.id = l.id)
  `.execute(db);
}

/** Counts images per third-party registry (images_num). */
export async function imageCount(db: Db, s: Source): Promise<number> {
  return countRows(
    db
      .selectFrom('inventory_images')
      .where('project_id', '=', s.projectId)
      .where('registry_type', '=', s.registryType)
      .where('registry_id', '=', s.registryId),
  );
}

/** Filters of the image lists. */
export interface ImageFilter {
  imageTypes?: string[];
  registryTypes?: string[];
  namespace?: string;
  imageName?: string;
  imageVersion?: string;
  registryName?: string;
  instanceId?: string;
  instanceName?: string;
  latestVersion?: boolean;
  isMultiArch?: boolean;
  imageSize?: number;
  updateFrom?: Date;
  updateTo?: Date;
  syncFrom?: Date;
  syncTo?: Date;
}

/** A project's images that match the filters (no page yet). */
function filtered(db: Db, projectId: string, f: ImageFilter) {
  let base = db.selectFrom('inventory_images').where('project_id', '=', projectId);
  if (f.imageTypes?.length) base = base.where('image_type', 'in', f.imageTypes);
  if (f.registryTypes?.length) base = base.where('registry_type', 'in', f.registryTypes);
  if (f.namespace) base = base.where('namespace', 'like', `%${escapeLike(f.namespace)}%`);
  if (f.imageName) base = base.where('image_name', 'like', `%${escapeLike(f.imageName)}%`);
  if (f.imageVersion) base = base.where('image_version', 'like', `%${escapeLike(f.imageVersion)}%`);
  if (f.registryName) base = base.where('registry_name', 'like', `%${escapeLike(f.registryName)}%`);
  if (f.instanceId) base = base.where('instance_id', '=', f.instanceId);
  if (f.instanceName) base = base.where('instance_name', 'like', `%${escapeLike(f.instanceName)}%`);
  if (f.latestVersion !== undefined) base = base.where('latest_version', '=', f.latestVersion);
  if (f.isMultiArch !== undefined) base = base.where('is_multiple_arch', '=', f.isMultiArch);
  if (f.imageSize !== undefined)
    base = base.where('image_size', '>=', String(f.imageSize) as never);
  if (f.updateFrom) base = base.where('latest_update_time', '>=', f.updateFrom);
  if (f.updateTo) base = base.where('latest_update_time', '<=', f.updateTo);
  if (f.syncFrom) base = base.where('latest_sync_time', '>=', f.syncFrom);
  if (f.syncTo) base = base.where('latest_sync_time', '<=', f.syncTo);
  return base;
}

/** The project's inventory generation (migration 0006), read in the statement that uses it. */
function generationOf(db: Db, projectId: string) {
  return db
    .selectFrom('inventory_generations')
    .select((eb) => eb.fn.coalesce(eb.fn.max('generation'), sql<string>`0`).as('g'))
    .where('project_id', '=', projectId);
}

/** The project's inventory generation now ('0' before its first write). */
export async function inventoryGeneration(db: Db, projectId: string): Promise<string> {
  const r = await db.selectNoFrom(generationOf(db, projectId).as('g')).executeTakeFirstOrThrow();
  return r.g ?? '0';
}

const DEFERRED_JOIN_OFFSET = 200;

/**
 * A page of a project's images, filtered and sorted, and the inventory generation the page was
 * read at (undefined for an empty page).
 */
export async function listImagePage(
  db: Db,
  projectId: string,
  f: ImageFilter,
  page: {
    offset: number;
    limit: number;
    sortKey: 'latest_update_time' | 'latest_sync_time' | 'id';
    sortDir: 'asc' | 'desc';
  },
): Promise<{ rows: InvImageRow[]; generation: string | undefined }> {
  const matching = filtered(db, projectId, f)
    .orderBy(page.sortKey, page.sortDir)
    .orderBy('id', page.sortDir)
    .offset(page.offset)
    .limit(page.limit);
  // Deep pages: the offset is walked in the sort index alone (ids only, an index-only scan),
  // and only the page's rows are read from the table. At offset 5000 of 100,000 images this
  // halves the query (bench/inventory-bench.ts); near the start it would add a join for nothing.
  const query =
    page.offset < DEFERRED_JOIN_OFFSET
      ? matching.selectAll()
      : db
          .selectFrom('inventory_images')
          .selectAll()
          .where('id', 'in', matching.select('id'))
          .orderBy(page.sortKey, page.sortDir)
          .orderBy('id', page.sortDir);
  const found = await query
    .select(generationOf(db, projectId).as('inventory_generation'))
    .execute();
  const rows = found.map(({ inventory_generation: _, ...row }) => row);
  return { rows, generation: found[0]?.inventory_generation ?? undefined };
}

/** How many of a project's images match the filters, and the generation they were counted at. */
export async function countImages(
  db: Db,
  projectId: string,
  f: ImageFilter,
): Promise<{ total: number; generation: string }> {
  const r = await filtered(db, projectId, f)
    .select((eb) => [
      eb.fn.countAll<string>().as('n'),
      generationOf(db, projectId).as('inventory_generation'),
    ])
    .executeTakeFirstOrThrow();
  return { total: Number(r.n), generation: r.inventory_generation ?? '0' };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
