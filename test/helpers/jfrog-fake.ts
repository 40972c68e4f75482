// A fake JFrog Artifactory for the inventory adapter tests: an HTTP server on 127.0.0.1 that
// answers the REST calls the adapter makes (the repositories list, each Docker repository's
// catalog and each image's tags), built on each request from what a real registry
// (test/helpers/registry.ts) holds: repository `docker-local` holds the real registry's
// `docker-local/...` repositories. Lists paginate with `n` and `last` and, like Artifactory,
// a `Link` whose path lacks the `/artifactory/api/docker/{repoKey}` prefix. HTTP Basic auth
// is required everywhere, and `/v2/*` is proxied to the real registry ("repository path"
// access: `/v2/{repoKey}/{image}/manifests/{tag}`), streaming bodies and headers.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  basicAuthOk,
  listen,
  proxyTo,
  sendJson,
  upstreamCatalog,
  upstreamTags,
} from './harbor-fake.js';

/** One repository of the fake. */
export interface JfrogRepository {
  key: string;
  type: 'LOCAL' | 'REMOTE' | 'VIRTUAL' | 'FEDERATED';
  /** Default `Docker`. */
  packageType?: string;
}

/** Options for `startJfrogFake`. */
export interface JfrogFakeOptions {
  /** The real registry, `http://127.0.0.1:PORT`. */
  upstream: string;
  username: string;
  password: string;
  repositories: JfrogRepository[];
  /** Largest `n` honoured (default unlimited); smaller forces pagination. */
  maxPageSize?: number;
}

/** A running fake Artifactory. */
export interface JfrogFake {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  /** `METHOD url` of every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Starts a fake Artifactory in front of a real registry; see the file comment. */
export async function startJfrogFake(options: JfrogFakeOptions): Promise<JfrogFake> {
  const { upstream, username, password } = options;
  const requests: string[] = [];
  let self = '';

  const errors = (res: ServerResponse, status: number, message: string) =>
    sendJson(res, status, { errors: [{ status, message }] });

  /** A page of sorted `names` after `last`, with Artifactory's `Link` when more follow. */
  function page(
    req: IncomingMessage,
    res: ServerResponse,
    names: string[],
    field: 'repositories' | 'tags',
    linkPath: string,
    extra: Record<string, unknown> = {},
  ): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const last = url.searchParams.get('last');
    const asked = Number(url.searchParams.get('n') ?? Infinity) || Infinity;
    const n = Math.min(asked, options.maxPageSize ?? Infinity);
    const after = last === null ? names : names.filter((s) => s > last);
    const items = after.slice(0, n);
    const more = after.length > items.length && items.length > 0;
    sendJson(
      res,
      200,
      { ...extra, [field]: items },
      more
        ? {
            link: `<${linkPath}?last=${encodeURIComponent(items[items.length - 1] ?? '')}&n=${n}>; rel="next"`,
          }
        : {},
    );
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/artifactory/api/repositories') {
      const wanted = new URL(req.url ?? '/', 'http://x').searchParams.get('packageType');
      const list = options.repositories
        .map((r) => ({
          key: r.key,
          type: r.type,
          description: '',
          url: `${self}/artifactory/${r.key}`,
          packageType: r.packageType ?? 'Docker',
        }))
        .filter((r) => wanted === null || r.packageType.toLowerCase() === wanted.toLowerCase());
      return sendJson(res, 200, list);
    }
    const m = /^\/artifactory\/api\/docker\/([^/]+)\/v2\/(.+)$/.exec(path);
    const repo = options.repositories.find((r) => m && r.key === decodeURIComponent(m[1] ?? ''));
    if (!m || !repo || (repo.packageType ?? 'Docker').toLowerCase() !== 'docker') {
      return errors(res, 404, 'Not Found');
    }
    const key = repo.key;
    const rest = m[2] ?? '';
    if (rest === '_catalog') {
      const names = (await upstreamCatalog(upstream))
        .filter((r) => r.startsWith(`${key}/`))
        .map((r) => r.slice(key.length + 1))
        .sort();
      return page(req, res, names, 'repositories', '/v2/_catalog');
    }
    const tags = /^(.+)\/tags\/list$/.exec(rest);
    if (tags) {
      const image = decodeURIComponent(tags[1] ?? '');
      const names = await upstreamTags(upstream, `${key}/${image}`);
      if (names.length === 0) return errors(res, 404, `Unable to find tag list for '${image}'`);
      return page(req, res, names, 'tags', `/v2/${image}/tags/list`, { name: image });
    }
    return errors(res, 404, 'Not Found');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests.push(`${req.method} ${req.url}`);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const isV2 = path === '/v2' || path.startsWith('/v2/');
    if (!basicAuthOk(req, username, password)) {
      return sendJson(
        res,
        401,
        { errors: [{ status: 401, message: 'Bad credentials' }] },
        isV2 ? { 'www-authenticate': 'Basic realm="Artifactory Realm"' } : {},
      );
    }
    if (isV2) return proxyTo(upstream, self, req, res);
    if (req.method !== 'GET') return errors(res, 405, 'Method Not Allowed');
    return api(req, res, path);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) errors(res, 500, String(err));
      else res.destroy();
    });
  });
  const port = await listen(server);
  self = `http://127.0.0.1:${port}`;
  return {
    url: self,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
