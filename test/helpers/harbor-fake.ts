// A fake Harbor 2.x for the inventory adapter tests: an HTTP server on 127.0.0.1 that answers
// the v2.0 API calls the adapter makes (projects, repositories, artifacts with their tags),
// built on each request from what a real registry (test/helpers/registry.ts) holds: projects
// are the first path segments of its catalog, artifacts its manifests grouped by digest. It
// paginates like Harbor (page, page_size, X-Total-Count, Link), requires HTTP Basic auth,
// routes a repository name only when its '/' is encoded twice (`a%252Fb`), and proxies
// `/v2/*` to the real registry, streaming bodies and headers, so manifests are the real ones.
// Like images.ts, it shares no code with Ferry's registry client.
import { createHash } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

/** Every manifest media type, for HEAD requests to the real registry. */
const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The `push_time` the fake gives a tag: fixed per repository and tag, at whole milliseconds. */
export function harborPushTime(repository: string, tag: string): string {
  const h = createHash('sha256').update(`${repository}:${tag}`).digest();
  const seconds = h.readUInt32BE(0) % (365 * 24 * 3600);
  return new Date(Date.UTC(2024, 0, 1) + seconds * 1000 + (h[4] ?? 0)).toISOString();
}

/** Sends a JSON body. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
    ...headers,
  });
  res.end(bytes);
}

/** True when the request carries `Authorization: Basic` with these credentials. */
export function basicAuthOk(req: IncomingMessage, username: string, password: string): boolean {
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  return req.headers.authorization === expected;
}

/** Forwards a request to the real registry, streaming both bodies, rewriting `Location`. */
export async function proxyTo(
  upstream: string,
  self: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const target = new URL(req.url ?? '/', upstream);
  const headers = { ...req.headers, host: target.host };
  delete headers.authorization;
  await new Promise<void>((resolve, reject) => {
    const up = httpRequest(target, { method: req.method, headers }, (upRes) => {
      const out: OutgoingHttpHeaders = { ...upRes.headers };
      const location = upRes.headers.location;
      if (typeof location === 'string' && location.startsWith(upstream)) {
        out.location = self + location.slice(upstream.length);
      }
      res.writeHead(upRes.statusCode ?? 502, out);
      pipeline(upRes, res).then(resolve, reject);
    });
    up.on('error', reject);
    pipeline(req, up).catch(reject);
  });
}

/** Every item of a list of the real registry, following `Link` pages; undefined for a 404. */
async function upstreamList(
  upstream: string,
  path: string,
  field: 'repositories' | 'tags',
): Promise<string[] | undefined> {
  const out: string[] = [];
  // distribution refuses an `n` above 1000.
  for (let url: URL | undefined = new URL(`${path}?n=1000`, upstream); url;) {
    const res: Response = await fetch(url);
    if (res.status === 404) {
      await res.arrayBuffer();
      return undefined;
    }
    if (res.status !== 200) throw new Error(`upstream GET ${url.pathname}: HTTP ${res.status}`);
    const body = (await res.json()) as Record<string, string[] | null | undefined>;
    out.push(...(body[field] ?? []));
    const next: string | undefined = /<([^>]+)>;\s*rel="next"/.exec(
      res.headers.get('link') ?? '',
    )?.[1];
    url = next !== undefined ? new URL(next, upstream) : undefined;
  }
  return out;
}

/** Every repository of the real registry. */
export async function upstreamCatalog(upstream: string): Promise<string[]> {
  return ((await upstreamList(upstream, '/v2/_catalog', 'repositories')) ?? []).sort();
}

/** Every tag of a repository of the real registry ([] when unknown). */
export async function upstreamTags(upstream: string, repo: string): Promise<string[]> {
  return ((await upstreamList(upstream, `/v2/${repo}/tags/list`, 'tags')) ?? []).sort();
}

/** HEAD a manifest in the real registry: digest, media type, size. */
async function upstreamHead(
  upstream: string,
  repo: string,
  ref: string,
): Promise<{ digest: string; mediaType: string; size: number }> {
  const res = await fetch(new URL(`/v2/${repo}/manifests/${ref}`, upstream), {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
  });
  if (res.status !== 200) throw new Error(`upstream HEAD ${repo}:${ref}: HTTP ${res.status}`);
  return {
    digest: res.headers.get('docker-content-digest') ?? '',
    mediaType: res.headers.get('content-type') ?? '',
    size: Number(res.headers.get('content-length') ?? 0),
  };
}

/** Children digests of an index (for the artifact's `references`). */
async function upstreamChildren(upstream: string, repo: string, digest: string): Promise<string[]> {
  const res = await fetch(new URL(`/v2/${repo}/manifests/${digest}`, upstream), {
    headers: { accept: MANIFEST_ACCEPT },
  });
  const body = (await res.json()) as { manifests?: Array<{ digest: string }> };
  return (body.manifests ?? []).map((m) => m.digest);
}

/** Listens on 127.0.0.1, a free port. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Options for `startHarborFake`. */
export interface HarborFakeOptions {
  /** The real registry, `http://127.0.0.1:PORT`. */
  upstream: string;
  username: string;
  password: string;
  /** Only these first path segments of the real registry are projects (default all). */
  projects?: string[];
  /** Largest page_size honoured (Harbor's is 100); smaller forces pagination. */
  maxPageSize?: number;
  /** Manifests (by digest) of a repository that have no tag: listed as untagged artifacts. */
  untagged?: Record<string, string[]>;
}

/** A running fake Harbor. */
export interface HarborFake {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  /** `METHOD url` of every request, in order. */
  requests: string[];
  /** The next `count` API requests (not /v2) answer `status`. */
  failNext(status: number, count: number): void;
  close(): Promise<void>;
}

/** Harbor's pagination: the page asked (page, page_size capped), X-Total-Count and Link. */
function paginate<T>(
  items: T[],
  req: IncomingMessage,
  maxPageSize: number,
): { page: T[]; headers: OutgoingHttpHeaders } {
  const url = new URL(req.url ?? '/', 'http://x');
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const asked = Number(url.searchParams.get('page_size') ?? 10) || 10;
  const size = Math.min(Math.max(1, asked), maxPageSize);
  const links: string[] = [];
  const linkTo = (p: number) => {
    const u = new URL(url);
    u.searchParams.set('page', String(p));
    u.searchParams.set('page_size', String(size));
    return `<${u.pathname}${u.search}>`;
  };
  if (page > 1) links.push(`${linkTo(page - 1)}; rel="prev"`);
  if (page * size < items.length) links.push(`${linkTo(page + 1)}; rel="next"`);
  return {
    page: items.slice((page - 1) * size, page * size),
    headers: {
      'x-total-count': String(items.length),
      ...(links.length > 0 ? { link: links.join(', ') } : {}),
    },
  };
}

/** Starts a fake Harbor in front of a real registry; see the file comment. */
export async function startHarborFake(options: HarborFakeOptions): Promise<HarborFake> {
  const { upstream, username, password } = options;
  const maxPageSize = options.maxPageSize ?? 100;
  const requests: string[] = [];
  let failing: { status: number; count: number } = { status: 0, count: 0 };
  let self = '';

  async function projects(): Promise<string[]> {
    const all = new Set<string>();
    for (const repo of await upstreamCatalog(upstream)) {
      const i = repo.indexOf('/');
      if (i > 0) all.add(repo.slice(0, i));
    }
    return [...all].filter((p) => !options.projects || options.projects.includes(p)).sort();
  }

  async function artifacts(project: string, name: string): Promise<unknown[]> {
    const repo = `${project}/${name}`;
    const byDigest = new Map<
      string,
      { mediaType: string; size: number; tags: Array<{ name: string; push_time: string }> }
    >();
    for (const tag of await upstreamTags(upstream, repo)) {
      const head = await upstreamHead(upstream, repo, tag);
      const entry = byDigest.get(head.digest) ?? { ...head, tags: [] };
      entry.tags.push({ name: tag, push_time: harborPushTime(repo, tag) });
      byDigest.set(head.digest, entry);
    }
    for (const digest of options.untagged?.[repo] ?? []) {
      if (!byDigest.has(digest)) {
        byDigest.set(digest, { ...(await upstreamHead(upstream, repo, digest)), tags: [] });
      }
    }
    const out: unknown[] = [];
    let id = 1;
    for (const [digest, a] of byDigest) {
      const isIndex = /index|list/.test(a.mediaType);
      const artifactId = id++;
      out.push({
        id: artifactId,
        type: 'IMAGE',
        media_type: isIndex ? a.mediaType : 'application/vnd.oci.image.config.v1+json',
        manifest_media_type: a.mediaType,
        project_id: 1,
        repository_id: 1,
        digest,
        size: a.size,
        push_time: a.tags[0]?.push_time ?? '2024-01-01T00:00:00.000Z',
        pull_time: '0001-01-01T00:00:00.000Z',
        extra_attrs: {},
        annotations: null,
        icon: '',
        labels: null,
        addition_links: {},
        references: isIndex
          ? (await upstreamChildren(upstream, repo, digest)).map((child) => ({
              parent_id: artifactId,
              child_id: 0,
              child_digest: child,
              platform: null,
              urls: null,
              annotations: null,
            }))
          : null,
        // Harbor answers `null`, not [], for an untagged artifact.
        tags:
          a.tags.length === 0
            ? null
            : a.tags.map((t, i) => ({
                id: i + 1,
                repository_id: 1,
                artifact_id: artifactId,
                name: t.name,
                push_time: t.push_time,
                pull_time: '0001-01-01T00:00:00.000Z',
                immutable: false,
                signed: false,
              })),
      });
    }
    return out;
  }

  const notFound = (res: ServerResponse, what: string) =>
    sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: what }] });

  async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const seg = path.split('/'); // ['', 'api', 'v2.0', 'projects', P, 'repositories', R, 'artifacts']
    const all = await projects();
    if (seg.length === 4 && seg[3] === 'projects') {
      const list = all.map((name, i) => ({
        project_id: i + 1,
        name,
        owner_id: 1,
        owner_name: 'admin',
        repo_count: 0,
        creation_time: '2024-01-01T00:00:00.000Z',
        update_time: '2024-01-01T00:00:00.000Z',
        deleted: false,
        metadata: { public: 'false' },
      }));
      const { page, headers } = paginate(list, req, maxPageSize);
      return sendJson(res, 200, page, headers);
    }
    if (seg[3] !== 'projects' || seg[4] === undefined)
      return notFound(res, `path ${path} not found`);
    const project = decodeURIComponent(seg[4]);
    if (!all.includes(project)) return notFound(res, `project ${project} not found`);
    if (seg.length === 6 && seg[5] === 'repositories') {
      const repos = (await upstreamCatalog(upstream)).filter((r) => r.startsWith(`${project}/`));
      const list = await Promise.all(
        repos.map(async (name, i) => ({
          id: i + 1,
          project_id: all.indexOf(project) + 1,
          name,
          description: '',
          artifact_count: (await upstreamTags(upstream, name)).length > 0 ? 1 : 0,
          pull_count: 0,
          creation_time: '2024-01-01T00:00:00.000Z',
          update_time: '2024-01-01T00:00:00.000Z',
        })),
      );
      const { page, headers } = paginate(list, req, maxPageSize);
      return sendJson(res, 200, page, headers);
    }
    if (seg.length === 8 && seg[5] === 'repositories' && seg[7] === 'artifacts') {
      // Harbor's router decodes the path once, so a single-encoded '/' splits the route.
      const once = decodeURIComponent(seg[6] ?? '');
      if (once.includes('/')) return notFound(res, `path ${path} was not found`);
      const name = decodeURIComponent(once);
      if (!(await upstreamCatalog(upstream)).includes(`${project}/${name}`)) {
        return notFound(res, `repository ${project}/${name} not found`);
      }
      const { page, headers } = paginate(await artifacts(project, name), req, maxPageSize);
      return sendJson(res, 200, page, headers);
    }
    return notFound(res, `path ${path} was not found`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests.push(`${req.method} ${req.url}`);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const isV2 = path === '/v2' || path.startsWith('/v2/');
    if (!basicAuthOk(req, username, password)) {
      return sendJson(
        res,
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized' }] },
        isV2 ? { 'www-authenticate': 'Basic realm="harbor"' } : {},
      );
    }
    if (isV2) return proxyTo(upstream, self, req, res);
    if (failing.count > 0) {
      failing.count--;
      return sendJson(res, failing.status, {
        errors: [{ code: 'UNKNOWN', message: 'injected failure' }],
      });
    }
    if (req.method !== 'GET' || !path.startsWith('/api/v2.0/')) {
      return notFound(res, `path ${path} was not found`);
    }
    return api(req, res, path);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: String(err) }] });
      else res.destroy();
    });
  });
  const port = await listen(server);
  self = `http://127.0.0.1:${port}`;
  return {
    url: self,
    host: `127.0.0.1:${port}`,
    requests,
    failNext(status, count) {
      failing = { status, count };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
