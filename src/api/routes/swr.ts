// SWR basic edition v2 `manage` API (huawei-compat.md section 3), field names and casing
// exactly as documented: camelCase sync APIs (`domainID`, `regionID`), snake_case
// namespace/repository/tag APIs, the capital `Tag` of the tag list.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { FerryError } from '../../errors/catalog.js';
import type { SyncJobRow, SyncRuleRow } from '../../storage/sync.js';
import { contentRange, intParam, parseFilter } from '../../sync/filter.js';
import { repositoryFromPath } from '../../sync/names.js';
import { repositoryId, type RepositoryView, type TagView } from '../../sync/service.js';
import { regionContext } from '../context.js';
import type { AppDeps } from '../deps.js';

const RemoteTarget = Type.Object({
  remoteRegionId: Type.String({ minLength: 1 }),
  remoteNamespace: Type.String({ minLength: 1 }),
});
type RemoteTarget = Static<typeof RemoteTarget>;

const RuleBody = Type.Object({
  remoteRegionId: Type.String({ minLength: 1 }),
  remoteNamespace: Type.String({ minLength: 1 }),
  syncAuto: Type.Optional(Type.Boolean()),
  override: Type.Optional(Type.Boolean()),
});
type RuleBody = Static<typeof RuleBody>;

const ManualSyncBody = Type.Object({
  imageTag: Type.Array(Type.String(), { minItems: 1, maxItems: 1000 }),
  remoteRegionId: Type.String({ minLength: 1 }),
  remoteNamespace: Type.String({ minLength: 1 }),
  override: Type.Optional(Type.Boolean()),
});
type ManualSyncBody = Static<typeof ManualSyncBody>;

const NsParams = Type.Object({ namespace: Type.String() });
const RepoParams = Type.Object({ namespace: Type.String(), repository: Type.String() });
const TagParams = Type.Object({
  namespace: Type.String(),
  repository: Type.String(),
  tag: Type.String(),
});
type RepoParams = Static<typeof RepoParams>;
type TagParams = Static<typeof TagParams>;

const ListQuery = Type.Record(Type.String(), Type.String());
type ListQuery = Record<string, string | undefined>;

/** SWR times: UTC ISO-8601 with microseconds, as in the documented examples. */
function swrTime(d: Date | string): string {
  const date = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace('Z', '000Z');
}

/**
 * The list parameters of a v2 list API: `filter=k::v|...` when given (it wins), else the plain
 * query parameters of the same names.
 */
function listParams(query: ListQuery, keys: readonly string[]): Map<string, string> {
  if (query.filter !== undefined) return parseFilter(query.filter, keys);
  const out = new Map<string, string>();
  for (const k of keys) if (query[k] !== undefined) out.set(k, query[k]!);
  return out;
}

function page(p: Map<string, string>, defLimit: number, maxLimit: number) {
  return {
    limit: p.has('limit') ? intParam('limit', p.get('limit')!, 1, maxLimit) : defLimit,
    offset: p.has('offset') ? intParam('offset', p.get('offset')!, 0, 1e9) : 0,
  };
}

function orderType(v: string | undefined, field: string): 'asc' | 'desc' {
  if (v === undefined || v === '') return 'desc';
  if (v !== 'asc' && v !== 'desc') {
    throw new FerryError('BAD_REQUEST', `${field}: must be asc or desc`);
  }
  return v;
}

function ruleJson(r: SyncRuleRow, domainName: string) {
  return {
    createdAt: swrTime(r.created_at),
    domainID: r.domain_id,
    domainName,
    id: Number(r.id),
    namespace: r.namespace,
    override: r.override,
    remoteNamespace: r.remote_namespace,
    remoteRegionId: r.remote_region_id,
    repoName: r.repo_name,
    syncAuto: r.sync_auto,
    updatedAt: swrTime(r.updated_at),
  };
}

function jobJson(j: SyncJobRow, domainName: string) {
  return {
    createdAt: swrTime(j.created_at),
    domainID: j.domain_id,
    domainName,
    id: Number(j.id),
    namespace: j.namespace,
    override: j.override,
    remoteNamespace: j.remote_namespace,
    remoteRegionId: j.remote_region_id,
    repoName: j.repo_name,
    status: j.status,
    syncOperatorId: j.operator_id,
    syncOperatorName: j.operator_name,
    tag: j.tag,
    updatedAt: swrTime(j.updated_at),
    // Extensions beside the documented fields (docs/api.md).
    attempts: j.attempts,
    bytesCopied: Number(j.bytes_copied),
    digest: j.digest,
    errorReason: j.error_reason,
    startedAt: j.started_at ? swrTime(j.started_at) : null,
    finishedAt: j.finished_at ? swrTime(j.finished_at) : null,
  };
}

function repoTimes(r: RepositoryView): { created: string; updated: string } {
  const dates = (r.images ?? [])
    .map((i) => i.created)
    .filter(Boolean)
    .sort();
  return { created: swrTime(dates[0] ?? ''), updated: swrTime(dates[dates.length - 1] ?? '') };
}

function repoSize(r: RepositoryView): number {
  return (r.images ?? []).reduce((n, i) => n + i.size, 0);
}

function repoListJson(r: RepositoryView, total: number) {
  const { created, updated } = repoTimes(r);
  const path = `${r.host}/${r.namespace}/${r.name}`;
  return {
    name: r.name,
    category: 'other',
    description: '',
    size: repoSize(r),
    is_public: false,
    num_images: r.tags.length,
    num_download: 0,
    created_at: created,
    updated_at: updated,
    logo: '',
    url: '',
    path,
    internal_path: path,
    domain_name: r.domainName,
    namespace: r.namespace,
    tags: r.tags,
    status: false,
    total_range: total,
  };
}

function tagJson(t: TagView, capital: boolean) {
  const created = swrTime(t.image.created);
  return {
    id: repositoryId(t.regionId, `${t.repo}:${t.tag}`),
    repo_id: t.repoId,
    [capital ? 'Tag' : 'tag']: t.tag,
    image_id: t.image.imageId,
    manifest: t.image.manifest,
    digest: t.image.digest,
    schema: 2,
    path: t.path,
    internal_path: t.path,
    size: t.image.size,
    is_trusted: false,
    created,
    updated: created,
    ...(capital ? { deleted: null, scanned: false } : {}),
    domain_id: t.domainId,
    tag_type: t.image.tagType,
  };
}

/** The /v2/manage routes. */
export function swrRoutes(deps: AppDeps): FastifyPluginAsync {
  const { sync } = deps;
  return async (app) => {
    const tags = ['SWR'];
    const base = '/v2/manage/namespaces/:namespace/repos/:repository';

    // ---- namespaces (3.7) ----
    app.post<{ Body: { namespace: string } }>(
      '/v2/manage/namespaces',
      {
        schema: {
          tags,
          summary: 'Create a namespace (organization) in the caller\u2019s region',
          body: Type.Object({ namespace: Type.String() }),
        },
      },
      async (req, reply) => {
        await sync.createNamespace(regionContext(req), req.body.namespace);
        return reply.status(201).send();
      },
    );

    app.get<{ Querystring: ListQuery }>(
      '/v2/manage/namespaces',
      { schema: { tags, summary: 'List namespaces', querystring: ListQuery } },
      async (req) => {
        const p = listParams(req.query, ['namespace', 'mode']);
        const mode = p.get('mode');
        if (mode !== undefined && mode !== '' && mode !== 'visible') {
          throw new FerryError('BAD_REQUEST', 'filter: mode must be empty or visible');
        }
        const rows = await sync.listNamespaces(regionContext(req), p.get('namespace') || undefined);
        return {
          namespaces: rows.map((n) => ({
            id: Number(n.id),
            name: n.name,
            creator_name: n.creator_name,
            auth: 7,
          })),
        };
      },
    );

    app.get<{ Params: { namespace: string } }>(
      '/v2/manage/namespaces/:namespace',
      { schema: { tags, summary: 'Show a namespace', params: NsParams } },
      async (req) => {
        const n = await sync.namespace(regionContext(req), req.params.namespace);
        return { id: Number(n.id), name: n.name, creator_name: n.creator_name, auth: 7 };
      },
    );

    app.delete<{ Params: { namespace: string } }>(
      '/v2/manage/namespaces/:namespace',
      { schema: { tags, summary: 'Delete an empty namespace', params: NsParams } },
      async (req, reply) => {
        await sync.deleteNamespace(regionContext(req), req.params.namespace);
        return reply.status(204).send();
      },
    );

    // ---- repositories (3.8) ----
    app.get<{ Querystring: ListQuery }>(
      '/v2/manage/repos',
      { schema: { tags, summary: 'List repositories', querystring: ListQuery } },
      async (req, reply) => {
        const keys = [
          'namespace',
          'name',
          'category',
          'limit',
          'offset',
          'order_column',
          'order_type',
        ];
        const p = listParams(req.query, keys);
        const { limit, offset } = page(p, 100, 1000);
        const column = p.get('order_column') || 'updated_time';
        const columns = ['name', 'updated_time', 'updated_at', 'tag_count'];
        if (!columns.includes(column)) {
          throw new FerryError('BAD_REQUEST', `order_column: must be one of ${columns.join(', ')}`);
        }
        const order = orderType(p.get('order_type'), 'order_type');
        const c = regionContext(req);
        let repos = await sync.listRepositories(c, {
          namespace: p.get('namespace') || undefined,
          name: p.get('name') || undefined,
        });
        // Ferry does not store categories: every repository is `other`.
        const category = p.get('category');
        if (category && category !== 'other') repos = [];
        const byTime = column === 'updated_time' || column === 'updated_at';
        if (byTime) await sync.describeRepositories(c, repos);
        const key = (r: RepositoryView): string | number =>
          column === 'name'
            ? `${r.namespace}/${r.name}`
            : column === 'tag_count'
              ? r.tags.length
              : repoTimes(r).updated;
        repos.sort((a, b) => {
          const x = key(a);
          const y = key(b);
          const d = x < y ? -1 : x > y ? 1 : 0;
          return order === 'asc' ? d : -d;
        });
        const pageRepos = repos.slice(offset, offset + limit);
        if (!byTime) await sync.describeRepositories(c, pageRepos);
        reply.header('content-range', contentRange(offset, pageRepos.length, repos.length));
        return pageRepos.map((r) => repoListJson(r, repos.length));
      },
    );

    app.get<{ Params: RepoParams }>(
      base,
      { schema: { tags, summary: 'Show a repository', params: RepoParams } },
      async (req) => {
        const r = await sync.repository(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
        );
        const { created, updated } = repoTimes(r);
        const path = `${r.host}/${r.namespace}/${r.name}`;
        return {
          id: repositoryId(req.auth!.region!.id, `${r.namespace}/${r.name}`),
          ns_id: r.nsId,
          name: r.name,
          category: 'other',
          description: '',
          creator_id: '',
          creator_name: r.creatorName,
          size: repoSize(r),
          is_public: false,
          num_images: r.tags.length,
          num_download: 0,
          url: '',
          path,
          internal_path: path,
          created,
          updated,
          domain_id: r.domainId,
          priority: 0,
        };
      },
    );

    app.delete<{ Params: RepoParams }>(
      base,
      {
        schema: {
          tags,
          summary: 'Delete a repository: its tags, auto-sync rules and shares',
          params: RepoParams,
        },
      },
      async (req, reply) => {
        await sync.deleteRepository(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
        );
        return reply.status(204).send();
      },
    );

    // ---- tags (3.9) ----
    app.get<{ Params: RepoParams; Querystring: ListQuery }>(
      `${base}/tags`,
      {
        schema: {
          tags,
          summary: 'List tags with digest and size',
          params: RepoParams,
          querystring: ListQuery,
        },
      },
      async (req, reply) => {
        const p = listParams(req.query, ['offset', 'limit', 'order_column', 'order_type', 'tag']);
        const { limit, offset } = page(p, 100, 1000);
        const column = p.get('order_column') || 'updated_at';
        if (column !== 'updated_at' && column !== 'tag') {
          throw new FerryError('BAD_REQUEST', 'order_column: must be updated_at or tag');
        }
        const order = orderType(p.get('order_type'), 'order_type');
        const list = await sync.listTags(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          p.get('tag') || undefined,
        );
        const key = (t: TagView) => (column === 'tag' ? t.tag : `${t.image.created}|${t.tag}`);
        list.sort((a, b) => {
          const d = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
          return order === 'asc' ? d : -d;
        });
        const slice = list.slice(offset, offset + limit);
        reply.header('content-range', contentRange(offset, slice.length, list.length));
        return slice.map((t) => tagJson(t, true));
      },
    );

    app.get<{ Params: TagParams }>(
      `${base}/tags/:tag`,
      { schema: { tags, summary: 'Show a tag', params: TagParams } },
      async (req) => {
        const t = await sync.tag(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.params.tag,
        );
        return tagJson(t, false);
      },
    );

    app.delete<{ Params: TagParams }>(
      `${base}/tags/:tag`,
      { schema: { tags, summary: 'Delete a tag (its manifest)', params: TagParams } },
      async (req, reply) => {
        await sync.deleteTag(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.params.tag,
        );
        return reply.status(204).send();
      },
    );

    // ---- auto-sync rules (3.1-3.3) ----
    app.post<{ Params: RepoParams; Body: RuleBody }>(
      `${base}/sync_repo`,
      { schema: { tags, summary: 'Create an auto-sync rule', params: RepoParams, body: RuleBody } },
      async (req, reply) => {
        await sync.createRule(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.body,
        );
        return reply.status(200).send();
      },
    );

    app.get<{ Params: RepoParams }>(
      `${base}/sync_repo`,
      { schema: { tags, summary: 'List auto-sync rules', params: RepoParams } },
      async (req) => {
        const c = regionContext(req);
        const rows = await sync.listRules(
          c,
          req.params.namespace,
          repositoryFromPath(req.params.repository),
        );
        return rows.map((r) => ruleJson(r, c.principal.domainName));
      },
    );

    app.delete<{ Params: RepoParams; Body: RemoteTarget }>(
      `${base}/sync_repo`,
      {
        schema: {
          tags,
          summary: 'Delete an auto-sync rule',
          params: RepoParams,
          body: RemoteTarget,
        },
      },
      async (req, reply) => {
        await sync.deleteRule(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.body,
        );
        return reply.status(200).send();
      },
    );

    // ---- manual sync and jobs (3.4, 3.5) ----
    app.post<{ Params: RepoParams; Body: ManualSyncBody }>(
      `${base}/sync_images`,
      {
        schema: {
          tags,
          summary:
            'Sync tags to another region now; answers the tags that failed ([] = all synced)',
          params: RepoParams,
          body: ManualSyncBody,
        },
      },
      async (req) =>
        sync.manualSync(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.body,
        ),
    );

    app.get<{ Params: RepoParams; Querystring: ListQuery }>(
      `${base}/sync_job`,
      { schema: { tags, summary: 'List sync jobs', params: RepoParams, querystring: ListQuery } },
      async (req, reply) => {
        if (req.query.filter === undefined) {
          throw new FerryError(
            'BAD_REQUEST',
            'filter: required, e.g. limit::10|offset::0|order::desc',
          );
        }
        const p = parseFilter(req.query.filter, ['limit', 'offset', 'order']);
        if (!p.has('limit') || !p.has('offset')) {
          throw new FerryError('BAD_REQUEST', 'filter: limit and offset are required together');
        }
        const { limit, offset } = page(p, 10, 1000);
        const c = regionContext(req);
        const { rows, total } = await sync.listJobs(
          c,
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          {
            limit,
            offset,
            order: orderType(p.get('order'), 'order'),
          },
        );
        reply.header('content-range', contentRange(offset, rows.length, total));
        return rows.map((j) => jobJson(j, c.principal.domainName));
      },
    );

    // ---- regions (3.6) ----
    app.get(
      '/v2/manage/regions',
      { schema: { tags, summary: 'Regions this region can sync to' } },
      async (req) => {
        const here = req.auth!.region?.id;
        return deps.regions
          .all()
          .filter((r) => r.id !== here)
          .map((r) => ({ regionID: r.id }));
      },
    );
  };
}
