// SWR Enterprise Edition API (huawei-compat.md section 4): instances and their contents,
// replication registries, policies, executions, tasks and sub-tasks, snake_case throughout,
// `StatusRevision` included. Extensions beside the documented fields are marked below.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { FerryError } from '../../errors/catalog.js';
import type { Instance } from '../../replication/instances.js';
import { SECRET_MASK, type EeCaller } from '../../replication/service.js';
import { eePage } from '../../replication/validate.js';
import type * as store from '../../storage/replication.js';
import { ImageInfoCache } from '../../sync/images.js';
import { pathProject } from '../context.js';
import type { AppDeps } from '../deps.js';

type Query = Record<string, string | undefined>;

function time(d: Date | string | null | undefined): string {
  if (!d) return '';
  const date = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

function stableId(s: string): number {
  return createHash('sha256').update(s).digest().readUIntBE(0, 6);
}

function registryJson(r: store.RegistryRow, inst: Instance) {
  return {
    id: Number(r.id),
    name: r.name,
    description: r.description,
    type: r.type,
    url: r.url,
    credential: {
      type: r.credential_type,
      access_key: r.access_key,
      // Never returned in clear: a mask when one is stored.
      access_secret: r.access_secret_encrypted ? SECRET_MASK : '',
    },
    insecure: r.insecure,
    region_id: r.region_id ?? inst.config.region,
    instance_id: r.remote_instance_id ?? '',
    project_id: r.project_id ?? '',
    dns_conf: r.dns_conf ?? null,
    status: r.status === 'unknown' ? 'unhealthy' : r.status,
    created_at: time(r.created_at),
    updated_at: time(r.updated_at),
    // Extensions: why a registry is unhealthy, and when it was last checked.
    status_reason: r.status === 'unknown' ? 'not checked yet' : (r.status_reason ?? ''),
    checked_at: time(r.checked_at),
  };
}

function policyJson(p: store.PolicyRow) {
  return {
    id: Number(p.id),
    name: p.name,
    description: p.description,
    src_registry: p.src_registry_id ? { id: Number(p.src_registry_id) } : null,
    dest_registry: p.dest_registry_id ? { id: Number(p.dest_registry_id) } : null,
    dest_namespace: p.dest_namespace,
    filters: p.filters,
    repo_scope_mode: p.repo_scope_mode,
    trigger: {
      type: p.trigger_type,
      trigger_settings: { cron: p.trigger_cron ?? '' },
    },
    override: p.override,
    enabled: p.enabled,
    created_at: time(p.created_at),
    updated_at: time(p.updated_at),
    // Extensions (docs/replication.md).
    dest_namespace_replace_count: p.dest_namespace_replace_count,
    speed: p.speed_kbps ?? 0,
    platforms: p.platforms ?? [],
    referrers: p.referrers,
    replicate_deletion: p.replicate_deletion,
  };
}

function executionJson(e: store.ExecutionRow, counts: Map<string, number> | undefined) {
  const n = (s: string) => counts?.get(s) ?? 0;
  const total = [...(counts?.values() ?? [])].reduce((a, b) => a + b, 0);
  return {
    id: Number(e.id),
    policy_id: Number(e.policy_id),
    status: e.status,
    status_text: e.status_text,
    total,
    failed: n('Failed'),
    succeed: n('Succeed'),
    in_progress: n('InProgress') + n('Pending'),
    stopped: n('Stopped'),
    trigger: e.trigger,
    created_at: time(e.created_at),
    updated_at: time(e.updated_at),
    // Extensions.
    start_time: time(e.start_time),
    end_time: time(e.end_time),
  };
}

function taskJson(t: store.TaskRow) {
  return {
    id: Number(t.id),
    execution_id: Number(t.execution_id),
    resource_type: t.resource_type,
    src_resource: t.src_resource,
    dst_resource: t.dst_resource,
    operation: t.operation,
    job_id: t.job_id,
    status: t.status,
    StatusRevision: t.status_revision,
    start_time: time(t.start_time),
    end_time: time(t.end_time),
    // Extensions: bytes copied so far and in all (known once each image is planned).
    bytes_done: Number(t.bytes_done),
    bytes_total: Number(t.bytes_total),
  };
}

function subtaskJson(s: store.SubtaskRow, jobId: string) {
  return {
    id: Number(s.id),
    job_id: Number(jobId),
    namespace: s.namespace,
    repository: s.repository,
    tag: s.tag,
    digest: s.digest,
    status: s.status,
    status_text: s.status_text,
    start_time: time(s.start_time),
    end_time: time(s.end_time),
  };
}

function order(q: Query, columns: string[], def: string) {
  const column = q.order_column || def;
  if (!columns.includes(column)) {
    throw new FerryError('BAD_REQUEST', `order_column: must be one of ${columns.join(', ')}`);
  }
  const type = q.order_type || 'desc';
  if (type !== 'asc' && type !== 'desc')
    throw new FerryError('BAD_REQUEST', 'order_type: must be asc or desc');
  return {
    orderColumn: column as 'created_at' | 'updated_at' | 'name',
    orderType: type as 'asc' | 'desc',
  };
}

/** The /v2/{project_id}/instances routes. */
export function replicationRoutes(deps: AppDeps): FastifyPluginAsync {
  const svc = deps.replication;
  const images = new ImageInfoCache();

  /** The caller's domain and the path project's region; another project answers 403. */
  async function caller(
    req: FastifyRequest<{ Params: { project_id: string } }>,
  ): Promise<EeCaller> {
    const project = await pathProject(req, deps.iam);
    const { principal } = req.auth!;
    return { domainName: principal.domainName, regionId: project.name };
  }

  async function instanceOf(
    req: FastifyRequest<{ Params: { project_id: string; instance_id: string } }>,
  ): Promise<Instance> {
    return svc.instance(await caller(req), req.params.instance_id);
  }

  type P = { project_id: string; instance_id: string };

  return async (app) => {
    const tags = ['SWR Enterprise'];
    const base = '/v2/:project_id/instances/:instance_id';

    app.get<{ Params: { project_id: string }; Querystring: Query }>(
      '/v2/:project_id/instances',
      { schema: { tags, summary: 'List the project\u2019s instances' } },
      async (req) => {
        const c = await caller(req);
        const { offset, limit } = eePage(req.query, 100);
        const all = svc.instancesOf(c);
        return {
          instances: all.slice(offset, offset + limit).map((i) => ({
            id: i.config.id,
            name: i.config.name,
            description: i.config.description ?? '',
            vpc_id: '',
            subnet_id: '',
            spec: 'swr.ee.professional',
            version: 'ferry',
            charge_mode: 'postPaid',
            access_address: i.config.url,
            created_at: '',
            updated_at: '',
            expires_at: '',
            status: 'Running',
            obs_bucket_name: '',
            project_id: req.params.project_id,
            enterprise_project_id: '0',
            user_def_obs: false,
            product_id: '',
            order_id: '',
            vpc_name: '',
            vpc_cidr: '',
            subnet_name: '',
            subnet_cidr: '',
            vpcep_service_id: '',
          })),
          total: all.length,
        };
      },
    );

    // ---- instance contents, read from its registry ----
    app.get<{ Params: P; Querystring: Query }>(
      `${base}/namespaces`,
      { schema: { tags, summary: 'Namespaces of the instance' } },
      async (req) => {
        const inst = await instanceOf(req);
        const { offset, limit } = eePage(req.query, 10);
        const repos = await inst.registry.catalogList();
        const byNs = new Map<string, number>();
        for (const r of repos) {
          const ns = r.includes('/') ? r.slice(0, r.indexOf('/')) : '';
          if (ns) byNs.set(ns, (byNs.get(ns) ?? 0) + 1);
        }
        let names = [...byNs.keys()].sort();
        if (req.query.name) names = names.filter((n) => n.includes(req.query.name!));
        return {
          namespaces: names.slice(offset, offset + limit).map((name) => ({
            name,
            metadata: { public: 'false' },
            namespace_id: stableId(`${inst.config.id}/${name}`),
            created_at: '',
            updated_at: '',
            repo_count: byNs.get(name),
            cve_allowlist: {},
          })),
          total: names.length,
        };
      },
    );

    app.get<{ Params: P; Querystring: Query }>(
      `${base}/repositories`,
      { schema: { tags, summary: 'Repositories of the instance' } },
      async (req) => {
        const inst = await instanceOf(req);
        const { offset, limit } = eePage(req.query, 10);
        let repos = (await inst.registry.catalogList()).filter((r) => r.includes('/')).sort();
        if (req.query.namespace_id) {
          repos = repos.filter(
            (r) =>
              String(stableId(`${inst.config.id}/${r.slice(0, r.indexOf('/'))}`)) ===
              req.query.namespace_id,
          );
        }
        const page = repos.slice(offset, offset + limit);
        const withTags = await Promise.all(
          page.map(async (r) => ({ r, tags: await inst.registry.tagList(r) })),
        );
        return {
          total: repos.length,
          repositories: withTags.map(({ r, tags: t }) => {
            const ns = r.slice(0, r.indexOf('/'));
            return {
              id: stableId(`${inst.config.id}/${r}`),
              name: r.slice(ns.length + 1),
              namespace_name: ns,
              namespace_id: stableId(`${inst.config.id}/${ns}`),
              tag_count: t.length,
              pull_count: 0,
              artifact_count: t.length,
              description: '',
              created_at: '',
              updated_at: '',
            };
          }),
        };
      },
    );

    app.get<{
      Params: P & { namespace_name: string; repository_name: string };
      Querystring: Query;
    }>(
      `${base}/namespaces/:namespace_name/repositories/:repository_name/artifacts`,
      { schema: { tags, summary: 'Artifacts (digests with their tags) of a repository' } },
      async (req) => {
        const inst = await instanceOf(req);
        const { offset, limit } = eePage(req.query, 10);
        const repo = `${req.params.namespace_name}/${req.params.repository_name.replaceAll('$', '/')}`;
        let tagList = await inst.registry.tagList(repo);
        if (req.query.tags) tagList = tagList.filter((t) => t.includes(req.query.tags!));
        if (tagList.length === 0 && !req.query.tags)
          throw new FerryError('REPOSITORY_NOT_FOUND', `repository ${repo} not found`);
        const described = await Promise.all(
          tagList.map(async (t) => ({ t, info: await images.describe(inst.registry, repo, t) })),
        );
        const byDigest = new Map<
          string,
          { info: NonNullable<(typeof described)[number]['info']>; tags: string[] }
        >();
        for (const { t, info } of described) {
          if (!info) continue;
          const e = byDigest.get(info.digest) ?? { info, tags: [] };
          e.tags.push(t);
          byDigest.set(info.digest, e);
        }
        const repoId = stableId(`${inst.config.id}/${repo}`);
        const all = [...byDigest.values()];
        return {
          artifacts: all.slice(offset, offset + limit).map(({ info, tags: ts }) => {
            const artifactId = stableId(`${inst.config.id}/${repo}@${info.digest}`);
            return {
              digest: info.digest,
              id: artifactId,
              repository_id: repoId,
              repository_name: repo,
              type: 'IMAGE',
              namespace_id: stableId(`${inst.config.id}/${req.params.namespace_name}`),
              media_type: info.mediaType,
              manifest_media_type: info.mediaType,
              pull_time: '',
              push_time: info.created,
              size: info.size,
              tags: ts.sort().map((name) => ({
                id: stableId(`${inst.config.id}/${repo}:${name}`),
                repository_id: repoId,
                artifact_id: artifactId,
                name,
                push_time: info.created,
                pull_time: '',
              })),
            };
          }),
          total: all.length,
        };
      },
    );

    // ---- registries (4.1) ----
    app.post<{ Params: P }>(
      `${base}/registries`,
      { schema: { tags, summary: 'Create a replication registry' } },
      async (req, reply) => {
        const id = await svc.createRegistry(await instanceOf(req), req.body);
        return reply.status(201).send({ id });
      },
    );
    app.get<{ Params: P; Querystring: Query }>(
      `${base}/registries`,
      { schema: { tags, summary: 'List replication registries' } },
      async (req) => {
        const inst = await instanceOf(req);
        const { offset, limit } = eePage(req.query, 10);
        const page = await svc.listRegistries(inst, {
          offset,
          limit,
          name: req.query.name,
          type: req.query.type,
          ...order(req.query, ['created_at', 'updated_at', 'name'], 'created_at'),
        });
        return { registries: page.rows.map((r) => registryJson(r, inst)), total: page.total };
      },
    );
    app.get<{ Params: P & { registry_id: string } }>(
      `${base}/registries/:registry_id`,
      { schema: { tags, summary: 'Show a replication registry' } },
      async (req) => {
        const inst = await instanceOf(req);
        return registryJson(await svc.registry(inst, req.params.registry_id), inst);
      },
    );
    app.put<{ Params: P & { registry_id: string } }>(
      `${base}/registries/:registry_id`,
      { schema: { tags, summary: 'Update a replication registry' } },
      async (req, reply) => {
        await svc.updateRegistry(await instanceOf(req), req.params.registry_id, req.body);
        return reply.status(200).send();
      },
    );
    app.delete<{ Params: P & { registry_id: string } }>(
      `${base}/registries/:registry_id`,
      { schema: { tags, summary: 'Delete a replication registry no policy uses' } },
      async (req, reply) => {
        await svc.deleteRegistry(await instanceOf(req), req.params.registry_id);
        return reply.status(200).send();
      },
    );

    // ---- policies (4.2) ----
    app.post<{ Params: P }>(
      `${base}/replication/policies`,
      { schema: { tags, summary: 'Create a replication policy' } },
      async (req, reply) => {
        const id = await svc.createPolicy(await instanceOf(req), req.body);
        return reply.status(201).send({ id });
      },
    );
    app.get<{ Params: P; Querystring: Query }>(
      `${base}/replication/policies`,
      { schema: { tags, summary: 'List replication policies' } },
      async (req) => {
        const inst = await instanceOf(req);
        const { offset, limit } = eePage(req.query, 10);
        if (req.query.registry_id !== undefined && !/^\d{1,18}$/.test(req.query.registry_id)) {
          throw new FerryError('BAD_REQUEST', 'registry_id: must be a registry id');
        }
        const page = await svc.listPolicies(inst, {
          offset,
          limit,
          name: req.query.name,
          registryId: req.query.registry_id,
          ...order(req.query, ['created_at', 'updated_at', 'name'], 'created_at'),
        });
        return { policies: page.rows.map(policyJson), total: page.total };
      },
    );
    app.get<{ Params: P & { policy_id: string } }>(
      `${base}/replication/policies/:policy_id`,
      { schema: { tags, summary: 'Show a replication policy' } },
      async (req) => policyJson(await svc.policy(await instanceOf(req), req.params.policy_id)),
    );
    app.put<{ Params: P & { policy_id: string } }>(
      `${base}/replication/policies/:policy_id`,
      { schema: { tags, summary: 'Update a replication policy' } },
      async (req, reply) => {
        await svc.updatePolicy(await instanceOf(req), req.params.policy_id, req.body);
        return reply.status(200).send();
      },
    );
    app.delete<{ Params: P & { policy_id: string } }>(
      `${base}/replication/policies/:policy_id`,
      { schema: { tags, summary: 'Delete a replication policy' } },
      async (req, reply) => {
        await svc.deletePolicy(await instanceOf(req), req.params.policy_id);
        return reply.status(200).send();
      },
    );

    // ---- executions and tasks (4.3) ----
    app.post<{ Params: P }>(
      `${base}/replication/executions`,
      { schema: { tags, summary: 'Run a policy now: 202 with the execution id' } },
      async (req, reply) => {
        const inst = await instanceOf(req);
        const body = req.body as { policy_id?: unknown } | undefined;
        if (!body || !Number.isSafeInteger(body.policy_id) || (body.policy_id as number) < 1) {
          throw new FerryError('BAD_REQUEST', 'policy_id: is required, a policy id');
        }
        const id = await svc.execute(inst, String(body.policy_id));
        return reply.status(202).send({ id });
      },
    );
    app.get<{ Params: P; Querystring: Query }>(
      `${base}/replication/executions`,
      { schema: { tags, summary: 'List executions, newest first' } },
      async (req) => {
        const inst = await instanceOf(req);
        const page = await svc.listExecutions(inst, {
          policyId: req.query.policy_id,
          ...eePage(req.query, 10),
        });
        return {
          executions: page.rows.map((e) => executionJson(e, page.counts.get(e.id))),
          total: page.total,
        };
      },
    );
    app.get<{ Params: P & { execution_id: string } }>(
      `${base}/replication/executions/:execution_id`,
      { schema: { tags, summary: 'Show one execution (extension)' } },
      async (req) => {
        const e = await svc.execution(await instanceOf(req), req.params.execution_id);
        return executionJson(e, await svc.counts(e.id));
      },
    );
    app.put<{ Params: P & { execution_id: string } }>(
      `${base}/replication/executions/:execution_id`,
      { schema: { tags, summary: 'Stop an execution' } },
      async (req, reply) => {
        await svc.stop(await instanceOf(req), req.params.execution_id);
        return reply.status(200).send();
      },
    );
    app.get<{ Params: P & { execution_id: string }; Querystring: Query }>(
      `${base}/replication/executions/:execution_id/tasks`,
      { schema: { tags, summary: 'Tasks of an execution (one per repository)' } },
      async (req) => {
        const page = await svc.listTasks(
          await instanceOf(req),
          req.params.execution_id,
          eePage(req.query, 10),
        );
        return { tasks: page.rows.map(taskJson), total: page.total };
      },
    );
    app.get<{ Params: P & { execution_id: string; task_id: string }; Querystring: Query }>(
      `${base}/replication/executions/:execution_id/tasks/:task_id/subtasks`,
      { schema: { tags, summary: 'Sub-tasks of a task (one per image)' } },
      async (req) => {
        const page = await svc.listSubtasks(
          await instanceOf(req),
          req.params.execution_id,
          req.params.task_id,
          {
            ...eePage(req.query, 10),
            status: req.query.status,
          },
        );
        return {
          subtasks: page.rows.map((s) => subtaskJson(s, req.params.task_id)),
          total: page.total,
        };
      },
    );
    app.get<{ Params: P & { execution_id: string; task_id: string } }>(
      `${base}/replication/executions/:execution_id/tasks/:task_id/log`,
      { schema: { tags, summary: 'A task\u2019s log as text (extension)' } },
      async (req, reply) => {
        const task = await svc.task(
          await instanceOf(req),
          req.params.execution_id,
          req.params.task_id,
        );
        return reply.type('text/plain; charset=utf-8').send(task.log);
      },
    );
  };
}
