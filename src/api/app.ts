// The API app factory: Fastify with Ferry's body handling, authentication, error formats,
// metrics and OpenAPI. `buildApp` does not listen, so tests can use `inject()`.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { FerryError, toFerryError } from '../errors/catalog.js';
import { authenticate, type RequestAuth } from './auth.js';
import type { AppDeps } from './deps.js';
import { eeError, hssError, iamError, swrError } from './errors.js';
import { iamRoutes } from './routes/iam.js';
import { eventRoutes } from './routes/events.js';
import { opsRoutes } from './routes/ops.js';
import { swrRoutes } from './routes/swr.js';
import { replicationRoutes } from './routes/replication.js';
import { hssRoutes } from './routes/hss.js';
import { shareRoutes } from './routes/shares.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes as received (signatures cover them). */
    rawBody?: Buffer;
    /** Set for every authenticated route. */
    auth?: RequestAuth;
  }
  interface FastifyContextConfig {
    /** Route needs no IAM authentication (it may check its own, like event tokens). */
    public?: boolean;
    /** The handler gets the raw body and parses it after its own credential check. */
    rawBody?: boolean;
  }
}

// Fastify never reads the body of a GET or HEAD, but the Huawei SDK sends `{}` with some GETs
// (GET /v3/projects when resolving a project id) and signs its hash (huawei-compat.md 1.4).
async function unparsedBody(req: FastifyRequest): Promise<Buffer | undefined> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!(length > 0) && req.headers['transfer-encoding'] === undefined) return undefined;
  if (req.raw.readableEnded) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw) {
    size += (chunk as Buffer).length;
    if (size > 1 << 20) throw new FerryError('BAD_REQUEST', 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// Every API parameter is a single value; PostgreSQL text cannot hold NUL characters.
function checkQuery(query: unknown): void {
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(v)) throw new FerryError('BAD_REQUEST', `${k}: given more than once`);
    if (typeof v === 'string' && v.includes('\u0000')) {
      throw new FerryError('BAD_REQUEST', `${k}: must not contain NUL characters`);
    }
  }
}

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v && typeof v === 'object') {
    return Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x));
  }
  return false;
}

function isIam(req: FastifyRequest): boolean {
  return req.url.startsWith('/v3/');
}

function isEnterprise(req: FastifyRequest): boolean {
  return /^\/v2\/[^/]+\/instances(\/|\?|$)/.test(req.url);
}

function errorBody(req: FastifyRequest, e: FerryError) {
  if (req.url.startsWith('/v5/')) return hssError(e);
  return isIam(req) ? iamError(e) : isEnterprise(req) ? eeError(e) : swrError(e);
}

/** Builds the app; call `listen` on it to serve. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    routerOptions: { ignoreTrailingSlash: true },
    // Huawei SDKs read x-request-id on errors; give every response one.
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID().replaceAll('-', ''),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  // Keep the body raw: AK/SK signatures are over the bytes, and JSON is parsed only after
  // the caller is authenticated (so a malformed body from a stranger is a 401, not a 400).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_req, body, done) =>
    done(null, body),
  );

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  app.addHook('preValidation', async (req) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : await unparsedBody(req);
    req.rawBody = raw;
    // The docs page's own routes (swagger-ui) are public too.
    if (!req.routeOptions.config.public && !req.routeOptions.url?.startsWith('/docs')) {
      req.auth = await authenticate(req, deps.iam, deps.regions, raw);
    }
    checkQuery(req.query);
    if (req.routeOptions.config.rawBody) {
      // The route checks its own credentials first, then parses (parseJsonBody).
      req.body = raw;
    } else if (raw && raw.length > 0) {
      try {
        req.body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new FerryError('BAD_REQUEST', 'The request body is not valid JSON.');
      }
      if (hasNul(req.body)) {
        throw new FerryError('BAD_REQUEST', 'The request body contains a NUL character.');
      }
    } else {
      req.body = undefined;
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: req.method, route, status: reply.statusCode });
    deps.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err, req, reply) => {
    let e: FerryError;
    const fe = err as { validation?: unknown; statusCode?: number; code?: string; message: string };
    if (fe.validation) {
      e = new FerryError('BAD_REQUEST', fe.message);
    } else if (err instanceof FerryError) {
      e = err;
    } else if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Fastify's own 4xx (body too large, unsupported media type...).
      e = new FerryError(fe.statusCode === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', fe.message);
    } else {
      req.log.error({ err }, 'unexpected error');
      e = toFerryError(err);
    }
    if (e.code === 'INTERNAL') {
      // The detail (a database message, a stack) is for the log, not for the caller.
      req.log.error({ err: e }, 'internal error');
      e = new FerryError(
        'INTERNAL',
        `internal error; the server log has the details (request ${req.id})`,
      );
    }
    if (e.status >= 500) req.log.warn({ code: e.code, msg: e.message }, 'request failed');
    const { status, body } = errorBody(req, e);
    await reply.status(status).send(body);
  });

  app.setNotFoundHandler(async (req, reply) => {
    const e = new FerryError('NOT_FOUND', `no API ${req.method} ${req.url.split('?')[0]}`);
    const { status, body } = errorBody(req, e);
    await reply.status(status).send(body);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Ferry API',
        description:
          'Huawei Cloud SWR-compatible image sync API (IAM v3, SWR v2 manage). See docs/api.md.',
        version: '1',
      },
      components: {
        securitySchemes: {
          token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
          eventToken: { type: 'http', scheme: 'bearer', description: 'a region eventToken' },
          aksk: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description: 'SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=...',
          },
        },
      },
      security: [{ token: [] }, { aksk: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(opsRoutes(deps));
  await app.register(iamRoutes(deps));
  await app.register(swrRoutes(deps));
  await app.register(shareRoutes(deps));
  await app.register(eventRoutes(deps));
  await app.register(replicationRoutes(deps));
  await app.register(hssRoutes(deps));
  return app;
}
