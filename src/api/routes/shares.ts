// SWR repository sharing, `/v2/manage/namespaces/{ns}/repositories/{repo}/access-domains`
// (the SDK's CreateRepoDomains, ListRepoDomains, ShowAccessDomain, UpdateRepoDomains,
// DeleteRepoDomains): field names and status codes as Huawei documents them.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { repositoryFromPath } from '../../sync/names.js';
import { SharingService, type ShareView } from '../../sync/shares.js';
import { regionContext } from '../context.js';
import type { AppDeps } from '../deps.js';

const CreateBody = Type.Object({
  access_domain: Type.String(),
  permit: Type.String(),
  deadline: Type.String(),
  description: Type.Optional(Type.String()),
});
type CreateBody = Static<typeof CreateBody>;

const UpdateBody = Type.Object({
  permit: Type.String(),
  deadline: Type.String(),
  description: Type.Optional(Type.String()),
});
type UpdateBody = Static<typeof UpdateBody>;

const RepoParams = Type.Object({ namespace: Type.String(), repository: Type.String() });
type RepoParams = Static<typeof RepoParams>;
const ShareParams = Type.Object({
  namespace: Type.String(),
  repository: Type.String(),
  access_domain: Type.String(),
});
type ShareParams = Static<typeof ShareParams>;

/** SWR times: UTC ISO-8601 with microseconds, as in the documented examples. */
function swrTime(d: Date): string {
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('Z', '000Z');
}

function shareJson(s: ShareView) {
  return {
    namespace: s.namespace,
    repository: s.repository,
    access_domain: s.access_domain,
    permit: s.permit,
    deadline: s.deadline,
    description: s.description,
    creator_id: s.creator_id,
    creator_name: s.creator_name,
    created: swrTime(s.created_at),
    updated: swrTime(s.updated_at),
    status: s.status,
  };
}

/** The access-domains routes of a repository. */
export function shareRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    const shares = new SharingService(deps.db);
    const tags = ['SWR'];
    const base = '/v2/manage/namespaces/:namespace/repositories/:repository/access-domains';

    app.post<{ Params: RepoParams; Body: CreateBody }>(
      base,
      {
        schema: {
          tags,
          summary: 'Share a repository with another domain (permit read, until a deadline)',
          params: RepoParams,
          body: CreateBody,
        },
      },
      async (req, reply) => {
        await shares.create(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.body,
        );
        return reply.status(201).send();
      },
    );

    app.get<{ Params: RepoParams }>(
      base,
      {
        schema: {
          tags,
          summary: 'List the domains a repository is shared with',
          params: RepoParams,
        },
      },
      async (req) => {
        const rows = await shares.list(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
        );
        return rows.map(shareJson);
      },
    );

    app.get<{ Params: ShareParams }>(
      `${base}/:access_domain`,
      {
        schema: {
          tags,
          summary: 'Whether a repository is shared with a domain, and the share',
          params: ShareParams,
        },
      },
      async (req) => {
        const s = await shares.show(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.params.access_domain,
        );
        return s ? { exist: true, ...shareJson(s) } : { exist: false };
      },
    );

    app.patch<{ Params: ShareParams; Body: UpdateBody }>(
      `${base}/:access_domain`,
      {
        schema: {
          tags,
          summary: 'Change the permit, deadline or description of a share',
          params: ShareParams,
          body: UpdateBody,
        },
      },
      async (req, reply) => {
        await shares.update(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.params.access_domain,
          req.body,
        );
        return reply.status(201).send();
      },
    );

    app.delete<{ Params: ShareParams }>(
      `${base}/:access_domain`,
      {
        schema: { tags, summary: 'Stop sharing a repository with a domain', params: ShareParams },
      },
      async (req, reply) => {
        await shares.delete(
          regionContext(req),
          req.params.namespace,
          repositoryFromPath(req.params.repository),
          req.params.access_domain,
        );
        return reply.status(204).send();
      },
    );
  };
}
