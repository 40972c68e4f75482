// HSS v5 image APIs (huawei-compat.md section 5): image sync tasks, third-party registries
// and the image inventory lists. snake_case, `{total_num, data_list}`, times in ms.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { FerryError } from '../../errors/catalog.js';
import { SYNC_TYPES, type HssCaller } from '../../inventory/service.js';
import type * as store from '../../storage/inventory.js';
import { pathProject } from '../context.js';
import type { AppDeps } from '../deps.js';

type Query = Record<string, string | undefined>;

function ms(d: Date | string | null | undefined): number {
  if (!d) return 0;
  const t = (typeof d === 'string' ? new Date(d) : d).getTime();
  return Number.isNaN(t) ? 0 : t;
}

function int(q: Query, k: string, def: number, min: number, max: number): number {
  const v = q[k];
  if (v === undefined || v === '') return def;
  if (!/^\d{1,10}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new FerryError('BAD_REQUEST', `${k}: must be a whole number from ${min} to ${max}`);
  }
  return Number(v);
}

function bool(q: Query, k: string): boolean | undefined {
  const v = q[k];
  if (v === undefined || v === '') return undefined;
  if (v !== 'true' && v !== 'false')
    throw new FerryError('BAD_REQUEST', `${k}: must be true or false`);
  return v === 'true';
}

function time(q: Query, k: string): Date | undefined {
  const v = q[k];
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new FerryError('BAD_REQUEST', `${k}: must be a time in ms`);
  return new Date(Number(v));
}

function oneOf(q: Query, k: string, values: string[], required = false): string | undefined {
  const v = q[k];
  if (v === undefined || v === '') {
    if (required) throw new FerryError('BAD_REQUEST', `${k}: is required (${values.join(', ')})`);
    return undefined;
  }
  if (!values.includes(v))
    throw new FerryError('BAD_REQUEST', `${k}: must be one of ${values.join(', ')}`);
  return v;
}

function imageJson(r: store.InvImageRow, withRegistry: boolean) {
  return {
    id: Number(r.id),
    namespace: r.namespace,
    image_name: r.image_name,
    image_id: r.image_id,
    image_digest: r.image_digest,
    image_version: r.image_version,
    image_type: r.image_type,
    latest_version: r.latest_version,
    scan_status: 'unscan',
    scan_failed_desc: '',
    image_size: Number(r.image_size),
    latest_update_time: ms(r.latest_update_time),
    latest_scan_time: 0,
    vul_num: 0,
    unsafe_setting_num: 0,
    malicious_file_num: 0,
    domain_name: r.domain_name,
    shared_status: r.shared_status,
    scannable: true,
    instance_name: r.instance_name,
    instance_id: r.instance_id,
    instance_url: r.instance_url,
    association_images: [],
    ...(withRegistry
      ? {
          registry_id: r.registry_id,
          registry_name: r.registry_name,
          registry_type: r.registry_type,
          scan_failed_code: '',
          latest_sync_time: ms(r.latest_sync_time),
          is_multiple_arch: r.is_multiple_arch,
          severity_level: '',
        }
      : { latest_sync_time: ms(r.latest_sync_time), is_multiple_arch: r.is_multiple_arch }),
  };
}

function registryJson(r: store.InvRegistryRow) {
  return {
    id: r.id,
    registry_name: r.registry_name,
    registry_type: r.registry_type,
    api_version: r.api_version,
    protocol: r.protocol,
    registry_addr: r.registry_addr,
    registry_username: r.registry_username,
    namespace: r.namespace,
    connect_cluster_id: r.connect_cluster_id,
    get_scan_image_channel: r.get_scan_image_channel,
    status: r.status,
    fail_reason: r.fail_reason,
    images_num: r.images_num,
    latest_sync_time: ms(r.latest_sync_time),
    // Extension: what failed, in words.
    fail_detail: r.fail_detail,
  };
}

/** The /v5/{project_id}/image routes. */
export function hssRoutes(deps: AppDeps): FastifyPluginAsync {
  const svc = deps.inventory;

  async function caller(
    req: FastifyRequest<{ Params: { project_id: string } }>,
  ): Promise<HssCaller> {
    const project = await pathProject(req, deps.iam);
    const { principal } = req.auth!;
    if (!deps.regions.has(project.name)) {
      throw new FerryError(
        'BAD_REQUEST',
        `project ${project.id} names region ${project.name}, which is not configured`,
      );
    }
    return {
      domainId: principal.domainId,
      domainName: principal.domainName,
      projectId: project.id,
      regionId: project.name,
    };
  }

  type P = { project_id: string };
  const ok = { error_code: 0, error_description: 'success' };

  return async (app) => {
    const tags = ['HSS'];
    const base = '/v5/:project_id/image';

    app.post<{ Params: P }>(
      `${base}/synchronize`,
      { schema: { tags, summary: 'Sync the SWR image list (private or shared)' } },
      async (req) => {
        const body = (req.body ?? {}) as { image_type?: unknown };
        await svc.synchronize(await caller(req), body.image_type);
        return ok;
      },
    );

    app.post<{ Params: P }>(
      `${base}/image-sync/tasks`,
      { schema: { tags, summary: 'Create an image sync task' } },
      async (req, reply) => {
        await svc.createSyncTask(await caller(req), req.body);
        return reply.status(200).send();
      },
    );

    app.get<{ Params: P; Querystring: Query }>(
      `${base}/tasks`,
      { schema: { tags, summary: 'Sync tasks with progress' } },
      async (req) => {
        const c = await caller(req);
        const type = oneOf(req.query, 'type', ['image_sync', 'image_scan'], true);
        const offset = int(req.query, 'offset', 0, 0, 2_000_000);
        const limit = int(req.query, 'limit', 10, 10, 200);
        const taskType = oneOf(req.query, 'task_type', [
          'cycle',
          'manual',
          'autoSync',
          'manualSync',
        ]);
        const status = oneOf(req.query, 'task_status', ['scanning', 'finished']);
        // Ferry does not scan images: a scan task list is empty.
        if (type === 'image_scan') return { total_num: 0, data_list: [] };
        const page = await svc.listTasks(c, {
          offset,
          limit,
          taskType,
          taskName: req.query.task_name,
          taskId: req.query.task_id,
          running: status === undefined ? undefined : status === 'scanning',
          createdFrom: time(req.query, 'create_time'),
          createdTo: time(req.query, 'end_time'),
        });
        return {
          total_num: page.total,
          data_list: page.rows.map((t) => ({
            task_id: t.id,
            policy_id: '',
            task_name: t.task_name,
            begin_time: ms(t.begin_time),
            end_time: ms(t.end_time),
            remain_min: 0,
            task_type: t.task_type,
            image_type: 'registry',
            task_status: t.task_status,
            scan_scope: 0,
            rate_limit: 0,
            is_all: t.scope_key.includes(','),
            failed_num: t.failed_num,
            success_num: t.success_num,
            total_num: t.total_num,
            risky_num: 0,
            sync_task_type: t.task_type,
            failed_reason: t.failed_reason,
            failed_images: t.failed_images,
          })),
        };
      },
    );

    app.get<{ Params: P & { task_id: string }; Querystring: Query }>(
      `${base}/image-sync/tasks/:task_id/registries`,
      { schema: { tags, summary: 'Registries of a sync task' } },
      async (req) => {
        const c = await caller(req);
        const offset = int(req.query, 'offset', 0, 0, 2_000_000);
        const limit = int(req.query, 'limit', 10, 10, 200);
        const status = oneOf(req.query, 'sync_status', ['finished', 'running', 'failed']);
        const types = req.query.registry_type ? req.query.registry_type.split(',') : undefined;
        if (types?.some((t) => !SYNC_TYPES.includes(t))) {
          throw new FerryError(
            'BAD_REQUEST',
            `registry_type: each must be one of ${SYNC_TYPES.join(', ')}`,
          );
        }
        let rows = await svc.taskRegistries(c, req.params.task_id);
        if (status) rows = rows.filter((r) => r.sync_status === status);
        if (types) rows = rows.filter((r) => types.includes(r.registry_type));
        if (req.query.registry_name)
          rows = rows.filter((r) => r.registry_name.includes(req.query.registry_name!));
        return {
          total_num: rows.length,
          data_list: rows.slice(offset, offset + limit).map((r) => ({
            registry_id: r.registry_id,
            registry_name: r.registry_name,
            registry_type: r.registry_type,
            sync_status: r.sync_status,
            failed_reason: r.failed_reason,
          })),
        };
      },
    );

    // ---- third-party registries ----
    app.post<{ Params: P }>(
      `${base}/registries`,
      { schema: { tags, summary: 'Add a registry (Harbor, Jfrog; Other as an extension)' } },
      async (req, reply) => {
        await svc.addRegistry(await caller(req), req.body);
        return reply.status(200).send();
      },
    );
    app.get<{ Params: P; Querystring: Query }>(
      `${base}/registries`,
      { schema: { tags, summary: 'List registries' } },
      async (req) => {
        const c = await caller(req);
        const types = req.query.registry_type ? req.query.registry_type.split(',') : undefined;
        if (types?.some((t) => !SYNC_TYPES.includes(t))) {
          throw new FerryError(
            'BAD_REQUEST',
            `registry_type: each must be one of ${SYNC_TYPES.join(', ')}`,
          );
        }
        const page = await svc.listRegistries(c, {
          offset: int(req.query, 'offset', 0, 0, 2_000_000),
          limit: int(req.query, 'limit', 10, 10, 200),
          name: req.query.registry_name,
          id: req.query.registry_id,
          types,
          addr: req.query.registry_addr,
          status: oneOf(req.query, 'status', ['success', 'fail', 'accessing']),
        });
        return { total_num: page.total, data_list: page.rows.map(registryJson) };
      },
    );
    app.get<{ Params: P; Querystring: Query }>(
      `${base}/registries/statistics`,
      { schema: { tags, summary: 'Registries that synced and failed' } },
      async (req) => {
        const c = await caller(req);
        return svc.registryStatistics(c, oneOf(req.query, 'registry_type', SYNC_TYPES));
      },
    );
    app.put<{ Params: P & { id: string } }>(
      `${base}/registries/:id`,
      { schema: { tags, summary: 'Update a registry' } },
      async (req, reply) => {
        await svc.updateRegistry(await caller(req), req.params.id, req.body);
        return reply.status(200).send();
      },
    );
    app.delete<{ Params: P & { id: string } }>(
      `${base}/registries/:id`,
      { schema: { tags, summary: 'Delete a registry and its images' } },
      async (req, reply) => {
        await svc.deleteRegistries(await caller(req), [req.params.id], true);
        return reply.status(200).send();
      },
    );
    app.post<{ Params: P }>(
      `${base}/registries/batch-delete`,
      { schema: { tags, summary: 'Delete registries' } },
      async (req, reply) => {
        await svc.deleteRegistries(
          await caller(req),
          (req.body as { ids?: unknown } | undefined)?.ids,
          false,
        );
        return reply.status(200).send();
      },
    );

    // ---- image lists ----
    const filters = (q: Query): store.ImageFilter => ({
      namespace: q.namespace,
      imageName: q.image_name,
      imageVersion: q.image_version,
      registryName: q.registry_name,
      instanceId: q.instance_id,
      instanceName: q.instance_name,
      latestVersion: bool(q, 'latest_version'),
      isMultiArch: bool(q, 'is_multarch'),
      imageSize:
        q.image_size !== undefined && q.image_size !== ''
          ? int(q, 'image_size', 0, 0, 2 ** 31 - 1)
          : undefined,
      updateFrom: time(q, 'start_latest_update_time'),
      updateTo: time(q, 'end_latest_update_time'),
      syncFrom: time(q, 'start_latest_sync_time'),
      syncTo: time(q, 'end_latest_sync_time'),
    });

    app.get<{ Params: P; Querystring: Query }>(
      `${base}/swr-repository`,
      { schema: { tags, summary: 'SWR images (private, shared, Enterprise)' } },
      async (req) => {
        const c = await caller(req);
        const type = oneOf(
          req.query,
          'image_type',
          ['private_image', 'shared_image', 'local_image', 'instance_image'],
          true,
        )!;
        const offset = int(req.query, 'offset', 0, 0, 2_000_000);
        const limit = int(req.query, 'limit', 10, 1, 200);
        oneOf(req.query, 'scan_status', [
          'unscan',
          'success',
          'scanning',
          'failed',
          'waiting_for_scan',
          'download_failed',
          'image_oversized',
        ]);
        // Local images are on hosts, which Ferry does not inventory.
        if (type === 'local_image') return { total_num: 0, data_list: [] };
        const page = await svc.listImages(
          c,
          { ...filters(req.query), imageTypes: [type] },
          { offset, limit, sortKey: 'latest_update_time', sortDir: 'desc' },
        );
        return { total_num: page.total, data_list: page.rows.map((r) => imageJson(r, false)) };
      },
    );

    app.get<{ Params: P; Querystring: Query }>(
      `${base}/registries/images`,
      { schema: { tags, summary: 'Images of every registry' } },
      async (req) => {
        const c = await caller(req);
        const type = oneOf(req.query, 'image_type', [
          'private_image',
          'shared_image',
          'instance_image',
          'harbor',
          'jfrog',
          'other',
        ]);
        const offset = int(req.query, 'offset', 0, 0, 2_000_000);
        const limit = int(req.query, 'limit', 10, 1, 200);
        const sortKey = oneOf(req.query, 'sort_key', [
          'latest_scan_time',
          'latest_update_time',
          'latest_sync_time',
        ]);
        const sortDir = (oneOf(req.query, 'sort_dir', ['asc', 'desc']) ?? 'desc') as 'asc' | 'desc';
        const page = await svc.listImages(
          c,
          { ...filters(req.query), imageTypes: type ? [type] : undefined },
          {
            offset,
            limit,
            // Ferry does not scan: scan time order is sync time order.
            sortKey: sortKey === 'latest_update_time' ? 'latest_update_time' : 'latest_sync_time',
            sortDir,
          },
        );
        return { total_num: page.total, data_list: page.rows.map((r) => imageJson(r, true)) };
      },
    );

    app.get<{ Params: P }>(
      `${base}/asset/statistics`,
      { schema: { tags, summary: 'Image asset counts' } },
      async (req) => {
        const c = await caller(req);
        return { local_num: 0, cicd_num: 0, registry_num: await svc.imageTotal(c) };
      },
    );
  };
}
