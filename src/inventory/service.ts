// HSS image inventory (huawei-compat.md section 5): sync tasks over the domain's registries
// (SWR private and shared, Enterprise instances, Harbor, JFrog, any OCI registry), the
// third-party registries, and the image lists. Routes call this; `inventory-sync` jobs sync.
import { randomBytes } from 'node:crypto';
import { FerryError } from '../errors/catalog.js';
import type { SecretBox } from '../iam/crypto.js';
import { enqueue } from '../engine/queue.js';
import type { Instances } from '../replication/instances.js';
import { BoundedCache } from '../storage/cache.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/inventory.js';
import { sharedWith } from '../storage/shares.js';
import { listNamespaces } from '../storage/sync.js';
import type { Regions } from '../sync/regions.js';
import { HarborAdapter } from './adapters/harbor.js';
import { JfrogAdapter } from './adapters/jfrog.js';
import { OciAdapter } from './adapters/oci.js';
import { NamespacesAdapter, RepositoriesAdapter, WholeRegistryAdapter } from './adapters/swr.js';
import type { SyncSource } from './sync.js';

/** Who calls: the domain and the project (a region) of the path. */
export interface HssCaller {
  domainId: string;
  domainName: string;
  projectId: string;
  regionId: string;
}

/** Registry types of sync tasks. */
export const SYNC_TYPES = ['SwrPrivate', 'SwrShared', 'SwrEnterprise', 'Harbor', 'Jfrog', 'Other'];
/** Types a third-party registry can be added with: the documented two, and Other (extension). */
export const ADDABLE_TYPES = ['Harbor', 'Jfrog', 'Other'];

const IMAGE_TYPE_OF: Record<string, string> = {
  SwrPrivate: 'private_image',
  SwrShared: 'shared_image',
  SwrEnterprise: 'instance_image',
  Harbor: 'harbor',
  Jfrog: 'jfrog',
  Other: 'other',
};

/** The inventory service. */
export class InventoryService {
  private readonly totals = new BoundedCache<string, { total: number; generation: string }>(1000);

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly regions: Regions,
    private readonly instances: Instances,
  ) {}

  /** The registries of a sync of everything the project can see. */
  private async allRegistries(c: HssCaller): Promise<{ id: string; name: string; type: string }[]> {
    const out = [
      { id: c.regionId, name: `SWR ${c.regionId}`, type: 'SwrPrivate' },
      { id: c.regionId, name: `SWR ${c.regionId} (shared)`, type: 'SwrShared' },
    ];
    for (const i of this.instancesOf(c))
      out.push({ id: i.config.id, name: i.config.name, type: 'SwrEnterprise' });
    for (const r of await store.allInvRegistries(this.db, c.projectId)) {
      out.push({ id: r.id, name: r.registry_name, type: r.registry_type });
    }
    return out;
  }

  private instancesOf(c: HssCaller) {
    return this.instances
      .all()
      .filter((i) => i.config.domain === c.domainName && i.config.region === c.regionId);
  }

  /** Stores a sync task and queues it; false when one for the same scope is running. */
  private async startTask(
    c: HssCaller,
    taskType: 'manualSync' | 'autoSync',
    name: string,
    registries: { id: string; name: string; type: string }[],
  ): Promise<string | undefined> {
    const scope = registries
      .map((r) => `${r.type}:${r.id}`)
      .sort()
      .join(',');
    const id = randomBytes(16).toString('hex');
    return this.db.transaction().execute(async (tx) => {
      const task = await store.insertInvTask(
        tx,
        {
          id,
          domain_id: c.domainId,
          project_id: c.projectId,
          task_name: name,
          task_type: taskType,
          scope_key: scope,
        },
        registries.map((r) => ({
          registry_id: r.id,
          registry_name: r.name,
          registry_type: r.type,
        })),
      );
      if (!task) return undefined;
      await enqueue(tx, 'inventory-sync', { taskId: id }, { jobKey: `inventory-sync:${id}` });
      return id;
    });
  }

  /** POST image/synchronize: the domain's SWR private or shared images of this region. */
  async synchronize(c: HssCaller, imageType: unknown): Promise<void> {
    if (imageType !== 'private_image' && imageType !== 'shared_image') {
      throw new FerryError('BAD_REQUEST', 'image_type: must be private_image or shared_image');
    }
    const type = imageType === 'private_image' ? 'SwrPrivate' : 'SwrShared';
    // A sync already running for this scope is the answer: it is not started twice.
    await this.startTask(c, 'manualSync', `sync ${imageType}`, [
      { id: c.regionId, name: `SWR ${c.regionId}${type === 'SwrShared' ? ' (shared)' : ''}`, type },
    ]);
  }

  /** POST image-sync/tasks. */
  async createSyncTask(c: HssCaller, body: unknown): Promise<void> {
    const b = (body ?? {}) as { sync_all_registries?: unknown; registry_info?: unknown };
    if (typeof b.sync_all_registries !== 'boolean') {
      throw new FerryError('BAD_REQUEST', 'sync_all_registries: is required, true or false');
    }
    const all = await this.allRegistries(c);
    let chosen = all;
    if (!b.sync_all_registries) {
      if (!Array.isArray(b.registry_info) || b.registry_info.length === 0) {
        throw new FerryError(
          'BAD_REQUEST',
          'registry_info: give at least one registry when sync_all_registries is false',
        );
      }
      chosen = b.registry_info.map((r: unknown, i) => {
        const o = (r ?? {}) as { registry_id?: unknown; registry_type?: unknown };
        if (typeof o.registry_type !== 'string' || !SYNC_TYPES.includes(o.registry_type)) {
          throw new FerryError(
            'BAD_REQUEST',
            `registry_info[${i}].registry_type: must be one of ${SYNC_TYPES.join(', ')}`,
          );
        }
        if (typeof o.registry_id !== 'string' || o.registry_id === '') {
          throw new FerryError('BAD_REQUEST', `registry_info[${i}].registry_id: is required`);
        }
        const found = all.find((x) => x.type === o.registry_type && x.id === o.registry_id);
        if (!found) {
          throw new FerryError(
            'BAD_REQUEST',
            `registry_info[${i}]: no ${o.registry_type} registry ${o.registry_id} in this project`,
          );
        }
        return found;
      });
    }
    await this.startTask(
      c,
      'manualSync',
      b.sync_all_registries ? 'sync all registries' : 'sync registries',
      chosen,
    );
  }

  /** Opens a task's registry for the sync job. */
  async openSource(task: store.InvTaskRow, reg: store.InvTaskRegistryRow): Promise<SyncSource> {
    const base = {
      registryType: reg.registry_type,
      registryId: reg.registry_id,
      registryName: reg.registry_name,
      imageType: IMAGE_TYPE_OF[reg.registry_type]!,
    };
    const domainName =
      (
        await this.db
          .selectFrom('domains')
          .select('name')
          .where('id', '=', task.domain_id)
          .executeTakeFirst()
      )?.name ?? '';
    switch (reg.registry_type) {
      case 'SwrPrivate': {
        const region = this.regions.get(reg.registry_id);
        return {
          ...base,
          adapter: new NamespacesAdapter(region.registry, async () =>
            (await listNamespaces(this.db, region.id, task.domain_id)).map((n) => n.name),
          ),
          extra: { domain_name: domainName },
        };
      }
      case 'SwrShared': {
        const region = this.regions.get(reg.registry_id);
        return {
          ...base,
          adapter: new RepositoriesAdapter(region.registry, async () =>
            (await sharedWith(this.db, domainName, region.id)).map(
              (s) => `${s.namespace}/${s.repository}`,
            ),
          ),
          extra: { domain_name: domainName, shared_status: 'effective' },
        };
      }
      case 'SwrEnterprise': {
        const inst = this.instances.find(reg.registry_id);
        if (!inst)
          throw new FerryError('NOT_FOUND', `instance ${reg.registry_id} is no longer configured`);
        return {
          ...base,
          adapter: new WholeRegistryAdapter(inst.registry),
          extra: {
            domain_name: domainName,
            instance_id: inst.config.id,
            instance_name: inst.config.name,
            instance_url: inst.config.url,
          },
        };
      }
      default: {
        const row = await store.findInvRegistry(this.db, task.project_id, reg.registry_id);
        if (!row) throw new FerryError('NOT_FOUND', `registry ${reg.registry_id} was deleted`);
        const options = {
          protocol: row.protocol as 'http' | 'https',
          addr: row.registry_addr,
          username: row.registry_username || undefined,
          password: row.password_encrypted ? this.box.open(row.password_encrypted) : undefined,
          namespace: row.namespace || undefined,
        };
        const adapter =
          row.registry_type === 'Harbor'
            ? new HarborAdapter(options)
            : row.registry_type === 'Jfrog'
              ? new JfrogAdapter(options)
              : new OciAdapter(options);
        return { ...base, adapter, extra: { domain_name: domainName } };
      }
    }
  }

  // ---- third-party registries ----

  /** POST image/registries. */
  async addRegistry(c: HssCaller, body: unknown): Promise<void> {
    const b = registryBody(body, true);
    const row = await store.insertInvRegistry(this.db, {
      id: randomBytes(16).toString('hex'),
      domain_id: c.domainId,
      project_id: c.projectId,
      registry_name: b.registry_name!,
      registry_type: b.registry_type!,
      api_version: b.api_version!,
      protocol: b.protocol!,
      registry_addr: b.registry_addr!,
      registry_username: b.registry_username ?? '',
      password_encrypted: b.registry_password ? this.box.seal(b.registry_password) : '',
      namespace: b.namespace ?? '',
      connect_cluster_id: b.connect_cluster_id ?? '',
      get_scan_image_channel: b.get_scan_image_channel ?? 'Swr',
    });
    if (!row)
      throw new FerryError('ALREADY_EXISTS', `a registry named ${b.registry_name} already exists`);
  }

  /** PUT image/registries/{id}: only the given fields change. */
  async updateRegistry(c: HssCaller, id: string, body: unknown): Promise<void> {
    const b = registryBody(body, false);
    const patch = {
      ...(b.api_version !== undefined ? { api_version: b.api_version } : {}),
      ...(b.protocol !== undefined ? { protocol: b.protocol } : {}),
      ...(b.registry_addr !== undefined ? { registry_addr: b.registry_addr } : {}),
      ...(b.registry_username !== undefined ? { registry_username: b.registry_username } : {}),
      ...(b.registry_password !== undefined
        ? { password_encrypted: this.box.seal(b.registry_password) }
        : {}),
      ...(b.namespace !== undefined ? { namespace: b.namespace } : {}),
      ...(b.connect_cluster_id !== undefined ? { connect_cluster_id: b.connect_cluster_id } : {}),
      ...(b.get_scan_image_channel !== undefined
        ? { get_scan_image_channel: b.get_scan_image_channel }
        : {}),
    };
    const found = await store.findInvRegistry(this.db, c.projectId, id);
    if (!found) throw new FerryError('NOT_FOUND', `registry ${id} not found`);
    if (Object.keys(patch).length > 0)
      await store.updateInvRegistry(this.db, c.projectId, id, patch);
  }

  /** DELETE image/registries/{id}, and batch delete. */
  async deleteRegistries(c: HssCaller, ids: unknown, single: boolean): Promise<void> {
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.some((x) => typeof x !== 'string' || x === '')
    ) {
      throw new FerryError('BAD_REQUEST', 'ids: give a list of registry ids');
    }
    const n = await store.deleteInvRegistries(this.db, c.projectId, ids as string[]);
    if (single && n === 0)
      throw new FerryError('NOT_FOUND', `registry ${String(ids[0])} not found`);
  }

  /** GET image/registries. */
  listRegistries(c: HssCaller, q: Parameters<typeof store.listInvRegistries>[2]) {
    return store.listInvRegistries(this.db, c.projectId, q);
  }

  /** GET image/registries/statistics. */
  async registryStatistics(
    c: HssCaller,
    type?: string,
  ): Promise<{ fail_num: number; success_num: number }> {
    const counts = await store.invRegistryStatusCounts(this.db, c.projectId, type);
    return { fail_num: counts.get('fail') ?? 0, success_num: counts.get('success') ?? 0 };
  }

  // ---- tasks and images ----

  /** GET image/tasks. */
  listTasks(c: HssCaller, q: Parameters<typeof store.listInvTasks>[2]) {
    return store.listInvTasks(this.db, c.projectId, q);
  }

  /** GET image-sync/tasks/{task_id}/registries. */
  async taskRegistries(c: HssCaller, taskId: string) {
    const task = await store.findInvTask(this.db, taskId);
    if (!task || task.project_id !== c.projectId)
      throw new FerryError('NOT_FOUND', `task ${taskId} not found`);
    return store.invTaskRegistries(this.db, taskId);
  }

  /** A page of an image list and its `total_num`. */
  async listImages(
    c: HssCaller,
    f: store.ImageFilter,
    page: Parameters<typeof store.listImagePage>[3],
  ): Promise<{ rows: store.InvImageRow[]; total: number }> {
    const { rows, generation } = await store.listImagePage(this.db, c.projectId, f, page);
    return { rows, total: await this.total(c.projectId, f, generation) };
  }

  /**
   * Image count of the project (asset statistics): one single-row read of the inventory
   * generation, and a count only when the inventory changed since the last one.
   */
  async imageTotal(c: HssCaller): Promise<number> {
    const generation = await store.inventoryGeneration(this.db, c.projectId);
    return this.total(c.projectId, {}, generation);
  }

  /**
   * How many images match, counted once per filter and inventory generation: a count of the
   * same filters at the same generation is the same number, and paging through a list asks
   * for it on every page. The page's own generation decides whether the kept count still holds.
   */
  private async total(
    projectId: string,
    f: store.ImageFilter,
    generation: string | undefined,
  ): Promise<number> {
    const key = `${projectId}\n${JSON.stringify(f)}`;
    const kept = this.totals.get(key, 0);
    if (kept && generation !== undefined && kept.generation === generation) return kept.total;
    const counted = await store.countImages(this.db, projectId, f);
    this.totals.set(key, counted);
    return counted.total;
  }
}

interface RegistryBody {
  registry_name?: string;
  registry_type?: string;
  api_version?: string;
  protocol?: string;
  registry_addr?: string;
  registry_username?: string;
  registry_password?: string;
  namespace?: string;
  connect_cluster_id?: string;
  get_scan_image_channel?: string;
}

function registryBody(body: unknown, creating: boolean): RegistryBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FerryError('BAD_REQUEST', 'body: must be a JSON object');
  }
  const o = body as Record<string, unknown>;
  const str = (k: keyof RegistryBody, max: number, required: boolean): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) {
      if (required && creating) throw new FerryError('BAD_REQUEST', `${k}: is required`);
      return undefined;
    }
    if (typeof v !== 'string' || v.length < 1 || v.length > max) {
      throw new FerryError('BAD_REQUEST', `${k}: must be 1 to ${max} characters`);
    }
    return v;
  };
  const out: RegistryBody = {
    registry_name: str('registry_name', 128, true),
    registry_type: str('registry_type', 32, true),
    api_version: str('api_version', 8, true),
    protocol: str('protocol', 8, true),
    registry_addr: str('registry_addr', 256, true),
    registry_username: str('registry_username', 128, false),
    registry_password: str('registry_password', 128, false),
    namespace: str('namespace', 256, false),
    connect_cluster_id: str('connect_cluster_id', 128, false),
    get_scan_image_channel: str('get_scan_image_channel', 16, false),
  };
  if (!creating && out.registry_type !== undefined) {
    throw new FerryError('BAD_REQUEST', 'registry_type: cannot be changed');
  }
  if (out.registry_type !== undefined && !ADDABLE_TYPES.includes(out.registry_type)) {
    throw new FerryError(
      'BAD_REQUEST',
      `registry_type: must be one of ${ADDABLE_TYPES.join(', ')}`,
    );
  }
  if (out.api_version !== undefined && !['V1', 'V2'].includes(out.api_version)) {
    throw new FerryError('BAD_REQUEST', 'api_version: must be V1 or V2');
  }
  if (out.protocol !== undefined && !['http', 'https'].includes(out.protocol)) {
    throw new FerryError('BAD_REQUEST', 'protocol: must be http or https');
  }
  if (out.registry_addr !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(out.registry_addr)) {
    throw new FerryError('BAD_REQUEST', 'registry_addr: must be host or host:port');
  }
  if (
    out.get_scan_image_channel !== undefined &&
    !['Swr', 'Other'].includes(out.get_scan_image_channel)
  ) {
    throw new FerryError('BAD_REQUEST', 'get_scan_image_channel: must be Swr or Other');
  }
  return out;
}
