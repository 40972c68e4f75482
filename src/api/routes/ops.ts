// Operations endpoints: liveness, readiness (the database answers), Prometheus metrics and
// the OpenAPI document. None needs authentication.
import type { FastifyPluginAsync } from 'fastify';
import { sql } from 'kysely';
import type { AppDeps } from '../deps.js';

/** /healthz, /readyz, /metrics, /openapi.json. */
export function opsRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    const pub = { public: true };
    app.get('/healthz', { config: pub, schema: { hide: true } }, async () => ({ status: 'ok' }));
    app.get('/readyz', { config: pub, schema: { hide: true } }, async (_req, reply) => {
      try {
        await sql`SELECT 1`.execute(deps.db);
        return { status: 'ready' };
      } catch (err) {
        return reply.status(503).send({ status: 'not ready', reason: (err as Error).message });
      }
    });
    app.get('/metrics', { config: pub, schema: { hide: true } }, async (_req, reply) => {
      reply.type(deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    });
    app.get('/openapi.json', { config: pub, schema: { hide: true } }, async () => app.swagger());
  };
}
