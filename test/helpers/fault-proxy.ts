// A fault-injecting reverse proxy for tests: it sits between Ferry and a real registry on
// 127.0.0.1, streams bodies both ways without buffering them, logs every request, and on
// request answers with an error status, cuts or resets a response mid-body, hangs, corrupts
// bytes, or swaps a manifest's body while keeping its Docker-Content-Digest.
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** What a rule does to a matching request. */
export type Fault =
  /** Answer this status without forwarding (default body: a distribution-style JSON error). */
  | { type: 'status'; status: number; body?: string | Buffer; headers?: Record<string, string> }
  /** Forward; after `afterBytes` (default 0) of the response body, reset the connection (RST). */
  | { type: 'reset'; afterBytes?: number }
  /** Forward; after `afterBytes` (default 0) of the body, end the socket cleanly (early EOF). */
  | { type: 'close'; afterBytes?: number }
  /** Forward; after `afterBytes` (default 0) of the body, send nothing more but keep the socket open. */
  | { type: 'stall'; afterBytes?: number }
  /** Never answer; the socket stays open until `stop()`. */
  | { type: 'hang' }
  /** Wait `ms`, then forward normally. */
  | { type: 'delay'; ms: number }
  /** Forward, flipping (XOR 0xff) `length` bytes (default 1) at body `offset` (default the middle). */
  | { type: 'corrupt'; offset?: number; length?: number }
  /**
   * GET only: forward, but replace a 200 body with `mutate(body)` (default: add an annotation),
   * fixing Content-Length and keeping the upstream Docker-Content-Digest.
   */
  | { type: 'mutateManifest'; mutate?: (body: Buffer) => Buffer };

/** When a fault applies: method(s), a regex on the path (without the query), the first `times` matches. */
export interface FaultRule {
  /** One method or several (default any). */
  method?: string | string[];
  /** Tested against the URL path, e.g. `/\/blobs\/sha256:/`. */
  path: RegExp;
  /** Optional regex on the query string (without `?`). */
  query?: RegExp;
  /** Apply to the first N matching requests only (default every one). */
  times?: number;
  fault: Fault;
}

/** A rule once added: `hits` counts the requests it faulted. */
export interface ActiveRule extends FaultRule {
  hits: number;
  /** Takes the rule out. */
  remove(): void;
}

/** Which registry API a request hit, from its path. */
export type RequestKind =
  'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'upload' | 'referrers' | 'other';

/** How the proxy finished a response. */
export type Outcome =
  'pending' | 'ok' | 'injected' | 'reset' | 'closed' | 'stalled' | 'hung' | 'aborted' | 'error';

/** One request through the proxy; filled in as it progresses. */
export interface RequestLog {
  /** 1, 2, … in arrival order. */
  id: number;
  method: string;
  /** URL path, e.g. `/v2/ns/app/blobs/sha256:…`. */
  path: string;
  /** Query string without `?` ('' when none). */
  query: string;
  kind: RequestKind;
  /** Repository named in the path ('' for `/v2/` and the catalog). */
  repository: string;
  /** Tag, digest or upload id in the path ('' when none). */
  ref: string;
  /** The request's Range header (a resumed download). */
  range: string | undefined;
  /** Status sent to the client; 0 until sent. */
  status: number;
  /** Response body bytes sent to the client. */
  bytesSent: number;
  /** Request body bytes received from the client. */
  bytesReceived: number;
  /** The fault applied, if any. */
  fault: Fault['type'] | undefined;
  outcome: Outcome;
  startedAt: number;
  /** Set when the exchange is over. */
  durationMs: number | undefined;
}

/** Which log entries `count` and `find` select; every given field must match. */
export interface RequestFilter {
  method?: string;
  kind?: RequestKind;
  repository?: string;
  path?: RegExp;
  status?: number;
  fault?: Fault['type'];
  outcome?: Outcome;
  /** True: only requests with a Range header; false: only without. */
  ranged?: boolean;
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  /** The registry behind it. */
  target: string;
  /** Every request so far, in arrival order (live). */
  requests: RequestLog[];
  /** Adds a rule after the existing ones; the first matching rule with hits left applies. */
  addRule(rule: FaultRule): ActiveRule;
  /** Removes every rule. */
  clearRules(): void;
  /** Empties `requests`. */
  clearLog(): void;
  /** Log entries matching a filter. */
  find(filter?: RequestFilter): RequestLog[];
  /** How many log entries match a filter. */
  count(filter?: RequestFilter): number;
  /** Closes the server and every socket, hung ones included. */
  stop(): Promise<void>;
}

// RFC 9110 section 7.6.1: connection-specific headers are not forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];

function classify(path: string): { kind: RequestKind; repository: string; ref: string } {
  if (path === '/v2/' || path === '/v2') return { kind: 'base', repository: '', ref: '' };
  if (path === '/v2/_catalog') return { kind: 'catalog', repository: '', ref: '' };
  const upload = /^\/v2\/(.+)\/blobs\/uploads\/?(.*)$/.exec(path);
  if (upload) return { kind: 'upload', repository: upload[1] ?? '', ref: upload[2] ?? '' };
  const m = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/([^/]*)$/.exec(path);
  if (!m) return { kind: 'other', repository: '', ref: '' };
  const kinds: Record<string, RequestKind> = {
    manifests: 'manifest',
    blobs: 'blob',
    tags: 'tags',
    referrers: 'referrers',
  };
  const kind = kinds[m[2] ?? ''] ?? 'other';
  return { kind, repository: m[1] ?? '', ref: kind === 'tags' ? '' : (m[3] ?? '') };
}

function matches(entry: RequestLog, f: RequestFilter): boolean {
  return (
    (f.method === undefined || entry.method === f.method.toUpperCase()) &&
    (f.kind === undefined || entry.kind === f.kind) &&
    (f.repository === undefined || entry.repository === f.repository) &&
    (f.path === undefined || f.path.test(entry.path)) &&
    (f.status === undefined || entry.status === f.status) &&
    (f.fault === undefined || entry.fault === f.fault) &&
    (f.outcome === undefined || entry.outcome === f.outcome) &&
    (f.ranged === undefined || (entry.range !== undefined) === f.ranged)
  );
}

function defaultMutate(body: Buffer): Buffer {
  try {
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const annotations = (json.annotations as Record<string, string> | undefined) ?? {};
    json.annotations = { ...annotations, 'org.example.fault-proxy': 'mutated in flight' };
    return Buffer.from(JSON.stringify(json, null, 2));
  } catch {
    return Buffer.concat([body, Buffer.from('\n')]);
  }
}

/** Starts a proxy on 127.0.0.1 (port 0) that forwards to `targetUrl` (e.g. a test registry's `url`). */
export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const secure = target.protocol === 'https:';
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const rules: ActiveRule[] = [];
  const requests: RequestLog[] = [];
  let nextId = 1;
  let origin = '';

  const pickRule = (method: string, path: string, query: string): ActiveRule | undefined => {
    for (const rule of rules) {
      if (rule.times !== undefined && rule.hits >= rule.times) continue;
      const methods = rule.method === undefined ? undefined : [rule.method].flat();
      if (methods && !methods.some((m) => m.toUpperCase() === method)) continue;
      if (rule.fault.type === 'mutateManifest' && method !== 'GET') continue;
      if (!rule.path.test(path)) continue;
      if (rule.query && !rule.query.test(query)) continue;
      rule.hits++;
      return rule;
    }
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', origin);
    const method = (req.method ?? 'GET').toUpperCase();
    const query = url.search.replace(/^\?/, '');
    const range = req.headers.range;
    const entry: RequestLog = {
      id: nextId++,
      method,
      path: url.pathname,
      query,
      ...classify(url.pathname),
      range: typeof range === 'string' ? range : undefined,
      status: 0,
      bytesSent: 0,
      bytesReceived: 0,
      fault: undefined,
      outcome: 'pending',
      startedAt: Date.now(),
      durationMs: undefined,
    };
    requests.push(entry);
    req.on('data', (chunk: Buffer) => (entry.bytesReceived += chunk.length));
    res.once('close', () => {
      entry.durationMs = Date.now() - entry.startedAt;
      if (entry.outcome === 'pending') entry.outcome = 'aborted';
    });
    const fault = pickRule(method, url.pathname, query)?.fault;
    entry.fault = fault?.type;

    if (fault?.type === 'hang') {
      entry.outcome = 'hung';
      req.resume();
      return;
    }
    if (fault?.type === 'status') {
      req.resume();
      const body =
        fault.body ??
        JSON.stringify({
          errors: [{ code: 'UNKNOWN', message: `injected ${fault.status} by the fault proxy` }],
        });
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      entry.status = fault.status;
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        'content-length': String(bytes.length),
        // Lower-cased so a caller's `Content-Type` replaces the default instead of doubling it.
        ...Object.fromEntries(
          Object.entries(fault.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
        ),
      });
      entry.bytesSent = method === 'HEAD' ? 0 : bytes.length;
      entry.outcome = 'injected';
      res.end(method === 'HEAD' ? undefined : bytes);
      return;
    }
    if (fault?.type === 'delay') {
      req.pause();
      const timer = setTimeout(() => forward(req, res, entry, undefined), fault.ms);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    forward(req, res, entry, fault);
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    entry: RequestLog,
    fault: Fault | undefined,
  ): void => {
    const headers: IncomingHttpHeaders = { ...req.headers, host: target.host };
    for (const h of HOP_BY_HOP) delete headers[h];
    const send = secure ? httpsRequest : httpRequest;
    const up = send({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      ...(secure ? { rejectUnauthorized: false } : { agent }),
    });
    req.pipe(up);
    const exchange = { detached: false };
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('error', (err) => {
      // After a deliberate cut the upstream side is torn down on purpose.
      if (exchange.detached || entry.outcome !== 'pending') return;
      entry.outcome = 'error';
      if (!res.headersSent) {
        entry.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: upstream error: ${err.message}`);
      } else {
        res.destroy();
      }
    });
    up.once('response', (upRes) => respond(req, res, upRes, entry, fault, exchange));
  };

  const respond = (
    req: IncomingMessage,
    res: ServerResponse,
    upRes: IncomingMessage,
    entry: RequestLog,
    fault: Fault | undefined,
    exchange: { detached: boolean },
  ): void => {
    const status = upRes.statusCode ?? 502;
    const headers: OutgoingHttpHeaders = { ...upRes.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    // Node re-frames the body itself: chunked when there is no Content-Length.
    delete headers['transfer-encoding'];
    const location = upRes.headers.location;
    if (location?.startsWith(target.origin)) {
      headers.location = origin + location.slice(target.origin.length);
    }
    entry.status = status;

    if (fault?.type === 'mutateManifest' && status === 200) {
      const parts: Buffer[] = [];
      upRes.on('data', (c: Buffer) => parts.push(c));
      upRes.once('end', () => {
        const body = (fault.mutate ?? defaultMutate)(Buffer.concat(parts));
        headers['content-length'] = String(body.length);
        res.writeHead(status, headers);
        entry.bytesSent = body.length;
        entry.outcome = 'ok';
        res.end(body);
      });
      upRes.on('error', () => res.destroy());
      return;
    }

    res.writeHead(status, headers);
    const cut =
      fault?.type === 'reset' || fault?.type === 'close' || fault?.type === 'stall'
        ? { type: fault.type, at: fault.afterBytes ?? 0 }
        : undefined;
    const length = Number(upRes.headers['content-length'] ?? NaN);
    const corrupt =
      fault?.type === 'corrupt'
        ? {
            from: fault.offset ?? (Number.isFinite(length) ? Math.floor(length / 2) : 0),
            length: fault.length ?? 1,
          }
        : undefined;
    let finished = false;

    const cutNow = (): void => {
      const socket = res.socket;
      if (!cut || !socket) return;
      if (cut.type === 'reset') {
        entry.outcome = 'reset';
        // A short pause lets the bytes already written reach the client before the RST
        // (a reset drops whatever is still in the send buffer).
        setTimeout(() => socket.resetAndDestroy(), 20);
      } else if (cut.type === 'close') {
        entry.outcome = 'closed';
        socket.end();
      } else {
        entry.outcome = 'stalled';
      }
    };

    if (cut && cut.at === 0) {
      finished = true;
      exchange.detached = true;
      res.flushHeaders();
      upRes.destroy();
      cutNow();
      return;
    }
    upRes.on('data', (chunk: Buffer) => {
      if (finished) return;
      let out = chunk;
      if (corrupt) {
        const start = Math.max(corrupt.from - entry.bytesSent, 0);
        const end = Math.min(corrupt.from + corrupt.length - entry.bytesSent, chunk.length);
        if (start < end) {
          out = Buffer.from(chunk);
          for (let i = start; i < end; i++) out[i] = (out[i] ?? 0) ^ 0xff;
        }
      }
      if (cut && entry.bytesSent + out.length >= cut.at) {
        out = out.subarray(0, cut.at - entry.bytesSent);
        entry.bytesSent += out.length;
        finished = true;
        exchange.detached = true;
        upRes.destroy();
        res.write(out, () => cutNow());
        return;
      }
      entry.bytesSent += out.length;
      if (!res.write(out)) {
        upRes.pause();
        res.once('drain', () => upRes.resume());
      }
    });
    upRes.once('end', () => {
      if (finished) return;
      finished = true;
      entry.outcome = 'ok';
      res.end();
    });
    const upstreamFailed = (): void => {
      if (finished) return;
      finished = true;
      entry.outcome = 'error';
      res.destroy();
    };
    upRes.on('error', upstreamFailed);
    upRes.once('close', () => {
      if (!upRes.complete) upstreamFailed();
    });
    req.once('error', () => res.destroy());
  };

  const server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  const find = (filter: RequestFilter = {}): RequestLog[] =>
    requests.filter((e) => matches(e, filter));
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    port,
    target: target.origin,
    requests,
    addRule(rule) {
      const active: ActiveRule = {
        ...rule,
        hits: 0,
        remove: () => {
          const i = rules.indexOf(active);
          if (i >= 0) rules.splice(i, 1);
        },
      };
      rules.push(active);
      return active;
    },
    clearRules() {
      rules.length = 0;
    },
    clearLog() {
      requests.length = 0;
    },
    find,
    count: (filter) => find(filter).length,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}
