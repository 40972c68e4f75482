// IAM v3 (huawei-compat.md section 1): password tokens, and the project, region and domain
// lookups that SDK clients built with `withRegion` make to resolve their project id.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { FerryError } from '../../errors/catalog.js';
import type { IssuedToken } from '../../iam/service.js';
import type { AppDeps } from '../deps.js';

const NameOrId = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1 })),
    name: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: true },
);

const TokenBody = Type.Object({
  auth: Type.Object({
    identity: Type.Object({
      methods: Type.Array(Type.String()),
      password: Type.Object({
        user: Type.Object({
          name: Type.String({ minLength: 1 }),
          password: Type.String(),
          domain: Type.Object({ name: Type.String({ minLength: 1 }) }),
        }),
      }),
    }),
    scope: Type.Optional(
      Type.Object({ project: Type.Optional(NameOrId), domain: Type.Optional(NameOrId) }),
    ),
  }),
});
type TokenBody = Static<typeof TokenBody>;

// IAM prints times with microseconds: 2020-01-04T09:05:22.701000Z.
function iamTime(d: Date): string {
  return d.toISOString().replace('Z', '000Z');
}

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

function tokenBody(t: IssuedToken, req: FastifyRequest, regions: string[], catalog: boolean) {
  const domain = { id: t.domain.id, name: t.domain.name };
  return {
    token: {
      ...(catalog
        ? {
            catalog: [
              {
                type: 'swr',
                id: 'swr',
                name: 'swr',
                endpoints: regions.map((r) => ({
                  id: `swr-${r}`,
                  interface: 'public',
                  region: r,
                  region_id: r,
                  url: baseUrl(req),
                })),
              },
            ],
          }
        : {}),
      expires_at: iamTime(t.expiresAt),
      issued_at: iamTime(t.issuedAt),
      methods: ['password'],
      ...(t.project ? { project: { domain, id: t.project.id, name: t.project.name } } : { domain }),
      roles: [{ id: '0', name: 'te_admin' }],
      user: { domain, id: t.user.id, name: t.user.name, password_expires_at: '' },
    },
  };
}

/** POST /v3/auth/tokens, GET /v3/projects, GET /v3/regions, GET /v3/auth/domains. */
export function iamRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    const tags = ['IAM'];
    app.post<{ Body: TokenBody; Querystring: { nocatalog?: string } }>(
      '/v3/auth/tokens',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Get a token with a password (project or domain scope)',
          body: TokenBody,
          security: [],
        },
      },
      async (req, reply) => {
        const { identity, scope } = req.body.auth;
        if (!identity.methods.includes('password')) {
          throw new FerryError(
            'BAD_REQUEST',
            'auth.identity.methods: only "password" is supported',
          );
        }
        const chosen = scope?.project
          ? { project: scope.project }
          : scope?.domain
            ? { domain: scope.domain }
            : undefined;
        if (!chosen) {
          throw new FerryError('BAD_REQUEST', 'auth.scope: give a project or a domain scope');
        }
        const target = 'project' in chosen ? chosen.project : chosen.domain;
        if (!target || (target.id === undefined && target.name === undefined)) {
          throw new FerryError('BAD_REQUEST', 'auth.scope: give the id or the name');
        }
        const issued = await deps.iam.issueToken({
          user: identity.password.user.name,
          password: identity.password.user.password,
          domain: identity.password.user.domain.name,
          scope: chosen,
        });
        const regions = deps.regions.all().map((r) => r.id);
        return reply
          .status(201)
          .header('x-subject-token', issued.token)
          .send(tokenBody(issued, req, regions, !req.query.nocatalog));
      },
    );

    app.get<{ Querystring: { name?: string } }>(
      '/v3/projects',
      {
        schema: {
          tags,
          summary: "List the caller's projects (one per region), optionally by name",
          querystring: Type.Object(
            { name: Type.Optional(Type.String()) },
            { additionalProperties: true },
          ),
        },
      },
      async (req) => {
        const { principal } = req.auth!;
        const rows = await deps.iam.projects(principal.domainId, req.query.name);
        const self = `${baseUrl(req)}/v3/projects`;
        return {
          projects: rows.map((p) => ({
            id: p.id,
            name: p.name,
            domain_id: p.domain_id,
            parent_id: p.domain_id,
            is_domain: false,
            enabled: true,
            description: '',
            links: { self: `${self}/${p.id}` },
          })),
          links: { self, previous: null, next: null },
        };
      },
    );

    // The SDK creates a project when GET /v3/projects finds none; Ferry's projects follow
    // the configured regions, so only an existing region's project can be "created".
    app.post<{ Body: { project: { name: string; domain_id?: string } } }>(
      '/v3/projects',
      {
        schema: {
          tags,
          summary: "Return the caller's project of a configured region",
          body: Type.Object({
            project: Type.Object({ name: Type.String(), domain_id: Type.Optional(Type.String()) }),
          }),
        },
      },
      async (req) => {
        const { principal } = req.auth!;
        const [p] = await deps.iam.projects(principal.domainId, req.body.project.name);
        if (!p) {
          throw new FerryError(
            'BAD_REQUEST',
            `project.name: ${JSON.stringify(req.body.project.name)} is not a configured region`,
          );
        }
        return { project: { id: p.id, name: p.name, domain_id: p.domain_id, enabled: true } };
      },
    );

    app.get('/v3/regions', { schema: { tags, summary: 'List regions' } }, async (req) => {
      const self = `${baseUrl(req)}/v3/regions`;
      return {
        regions: deps.regions.all().map((r) => ({
          id: r.id,
          type: 'public',
          description: '',
          parent_region_id: null,
          locales: { 'en-us': r.id },
          // Extension: where the region's images are pushed and pulled.
          registry: r.host,
          links: { self: `${self}/${r.id}` },
        })),
        links: { self, previous: null, next: null },
      };
    });

    app.get(
      '/v3/auth/domains',
      { schema: { tags, summary: "The caller's domain" } },
      async (req) => {
        const { principal } = req.auth!;
        const self = `${baseUrl(req)}/v3/auth/domains`;
        return {
          domains: [
            {
              id: principal.domainId,
              name: principal.domainName,
              enabled: true,
              description: '',
              links: { self },
            },
          ],
          links: { self, previous: null, next: null },
        };
      },
    );
  };
}
