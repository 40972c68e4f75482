// The HTTP transport every registry operation goes through: one keep-alive connection pool
// per origin (client.ts), a per-registry semaphore held until a response body is done, timeouts,
// authentication, redirects, retries with backoff, and the mapping of HTTP statuses and
// socket errors to catalog codes. Whether an error is worth retrying is decided here and
// nowhere else (FerryError.temporary).
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, type ErrorCode } from '../../errors/catalog.js';
import type { RegistryOptions } from '../options.js';
import { Authenticator } from './auth.js';
import { OriginPool, dump, type ResponseHeaders } from './client.js';
import { registryTlsContext } from './trust.js';
import { Semaphore } from '../semaphore.js';

/** Defaults for `RegistryOptions`, each with the reason for its value. */
export const DEFAULTS = {
  // Enough parallel layers to fill a fast link; below the per-client connection limits
  // registries and their load balancers enforce (Docker Hub, Harbor's nginx, Quay).
  maxConcurrency: 16,
  // A TCP and TLS handshake takes well under a second on a working network; 10 s covers
  // slow VPNs and still fails fast against a host that silently drops packets.
  connectTimeoutMs: 10_000,
  // Registries can take several seconds to answer a PUT of a large blob (they hash and move
  // it); 30 s without a byte means the server or a middlebox has hung.
  idleTimeoutMs: 30_000,
  // Five attempts: with the delays below, up to 3 s of backoff (1.5 s on average with
  // jitter) before giving up, which rides out a dropped keep-alive connection, a registry
  // restart or a load balancer shuffle, and still reports a dead host quickly.
  attempts: 5,
  // Short enough that a dropped keep-alive connection is retried almost at once.
  baseDelayMs: 200,
  // Caps one wait (including a Retry-After we honour) so a copy never sleeps for minutes;
  // the copy engine retries the whole item later if the registry is still refusing.
  maxDelayMs: 10_000,
  // Idle keep-alive connections are kept this long: across a copy's bursts, and below the
  // 60 s idle timeout common in load balancers, so we rarely reuse a socket being closed.
  keepAliveMs: 20_000,
} as const;

/** Most redirects a blob GET follows (registry to CDN to storage, with headroom). */
const MAX_REDIRECTS = 5;
/** Bytes of an error body worth reading for its message. */
const ERROR_BODY_LIMIT = 64 * 1024;

/** Counters for tests and metrics. */
export interface TransportStats {
  /** HTTP requests sent (each redirect hop and token request counts). */
  requests: number;
  /** Requests sent again after a temporary failure. */
  retries: number;
  /** Blob downloads resumed with `Range` after the connection was cut. */
  resumes: number;
  /** Bytes that resumed downloads did not fetch again (the sum of each resume's offset gain). */
  resumedBytes: number;
  /** Requests to a token endpoint. */
  tokenFetches: number;
}

/** One request as an operation describes it; the transport adds auth, retries, redirects. */
export interface TransportRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path on the registry (`/v2/...`) or an absolute URL (upload location, next page). */
  url: string | URL;
  headers?: Record<string, string>;
  /** A Buffer can be sent again; a stream is sent once (the copy engine retries the blob). */
  body?: Buffer | Readable;
  /** Token scopes the request needs; empty for `/v2/`. */
  scopes: readonly string[];
  /** The operation for messages: `GET manifest ns/app:v1`. */
  what: string;
  /** Statuses besides 2xx handed back instead of thrown (e.g. 404 for a HEAD). */
  pass?: readonly number[];
  /** Code for a 404 whose body names none (a HEAD has no body). Default NAME_UNKNOWN. */
  notFound?: ErrorCode;
  /** Attempts for this request; default the registry's retry policy. A stream body gets 1. */
  attempts?: number;
  /** False: send no registry credentials (token endpoint requests carry their own). */
  auth?: boolean;
  /** False: do not renew credentials on a 401 (best-effort cleanup requests). */
  reauth?: boolean;
  /** False: do not take a concurrency slot (token requests, which go elsewhere). */
  limit?: boolean;
  signal?: AbortSignal;
}

/** A response whose body is still to be read; its slot is released when the body ends. */
export interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  body: Readable;
  /** The URL that answered, after redirects (for relative Location and Link values). */
  url: URL;
}

/** A response read whole. */
export interface BufferedResponse {
  status: number;
  headers: ResponseHeaders;
  bytes: Buffer;
  url: URL;
}

/** `host[:port]` that serves `host`: Docker Hub's API is not at `docker.io`. */
export function registryHost(host: string): string {
  const h = host.toLowerCase();
  return h === 'docker.io' || h === 'index.docker.io' ? 'registry-1.docker.io' : h;
}

/** True for `localhost`, 127.0.0.0/8 and ::1, which are spoken to in plain HTTP by default. */
export function isLoopback(host: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
}

/**
 * The scheme for a registry: `insecure: true` means HTTP and `insecure: false` HTTPS;
 * left unset, loopback hosts get HTTP unless a CA is given (which only makes sense for TLS).
 */
export function registryScheme(options: RegistryOptions): 'http' | 'https' {
  if (options.insecure !== undefined) return options.insecure ? 'http' : 'https';
  return isLoopback(options.host) && options.ca === undefined ? 'http' : 'https';
}

/** The first value of a response header. */
export function header(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The `rel="next"` target of a `Link` header, resolved against the page's URL. */
export function nextLink(headers: ResponseHeaders, base: URL): URL | undefined {
  const raw = headers.link;
  for (const value of Array.isArray(raw) ? raw : raw ? [raw] : []) {
    for (const m of value.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]*)*)/g)) {
      if (/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2] ?? '')) {
        try {
          return new URL(m[1] ?? '', base);
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}

/** Seconds from a `Retry-After` value (delta seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const when = Date.parse(v);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, Math.ceil((when - now) / 1000));
}

/** Reads and drops what is left of a body, so its connection and slot come back. */
export async function discard(res: TransportResponse): Promise<void> {
  try {
    await dump(res.body, ERROR_BODY_LIMIT);
  } catch {
    // dump() destroys the body when it is large or broken; either way the slot is freed.
  }
}

/** Reads a stream whole, failing once it passes `limit` bytes. */
export async function readBody(
  body: Readable,
  limit: number,
  tooLarge: () => FerryError,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

// Socket-level failures that a new connection may not have: retried. The UND_ERR codes are
// Node's fetch (undici), which the inventory's management API client uses.
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set(['FERRY_CONNECT_TIMEOUT', 'FERRY_IDLE_TIMEOUT', 'ETIMEDOUT']);

/** True for a socket error code that another connection may not meet (see TRANSIENT_CODES). */
export function isTransientCode(code: string | undefined): boolean {
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/**
 * The first `code` along an error's causes: fetch wraps the socket error, sometimes twice, and
 * a failed connect to several addresses is an AggregateError whose first error says why.
 */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (e as { errors?: unknown }).errors;
    e = (e as { cause?: unknown }).cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}

function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** The registry's JSON error body: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes */
function parseErrorBody(text: string): { codes: string[]; detail: string } {
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      const codes = parsed.errors.map((e) => (typeof e.code === 'string' ? e.code : ''));
      const detail = parsed.errors
        .map((e) =>
          typeof e.message === 'string' && e.message !== ''
            ? e.message
            : typeof e.code === 'string'
              ? e.code.toLowerCase().replace(/_/g, ' ')
              : '',
        )
        .filter((s) => s !== '')
        .join('; ');
      return { codes, detail };
    }
  } catch {
    // Not JSON: a proxy's HTML page or plain text.
  }
  return { codes: [], detail: text.startsWith('<') ? '' : text };
}

const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  'MANIFEST_UNKNOWN',
  'BLOB_UNKNOWN',
  'NAME_UNKNOWN',
]);

/**
 * Child AbortSignals that follow a caller's signal through one listener per signal. A copy
 * passes one signal to hundreds of concurrent requests; a listener each (the HTTP request, the
 * semaphore, backoff timers) would pile up on it and trip Node's MaxListeners warning.
 */
class SignalLinks {
  private readonly children = new WeakMap<AbortSignal, Set<AbortController>>();

  /** A signal that aborts with `parent`; `unlink()` once the request is over. */
  link(parent: AbortSignal | undefined): { signal: AbortSignal | undefined; unlink(): void } {
    if (!parent) return { signal: undefined, unlink: () => undefined };
    const child = new AbortController();
    if (parent.aborted) {
      child.abort(parent.reason);
      return { signal: child.signal, unlink: () => undefined };
    }
    let set = this.children.get(parent);
    if (!set) {
      const created = new Set<AbortController>();
      set = created;
      this.children.set(parent, created);
      parent.addEventListener(
        'abort',
        () => {
          for (const c of created) c.abort(parent.reason);
          created.clear();
        },
        { once: true },
      );
    }
    const children = set;
    children.add(child);
    return { signal: child.signal, unlink: () => void children.delete(child) };
  }
}

/** Sends requests to one registry; see the file comment. */
export class Transport {
  /** The registry as named in messages (`127.0.0.1:5000`, `docker.io`). */
  readonly name: string;
  /** The host requests go to (`registry-1.docker.io` for `docker.io`). */
  readonly host: string;
  /** `http://host` or `https://host`. */
  readonly origin: string;
  /** Counters; see TransportStats. */
  readonly stats: TransportStats = {
    requests: 0,
    retries: 0,
    resumes: 0,
    resumedBytes: 0,
    tokenFetches: 0,
  };
  /** Attempts per request (and resumes per blob download, plus one). */
  readonly attempts: number;
  /** Time without a byte from the server before a request fails with TIMEOUT. */
  readonly idleTimeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly connectTimeoutMs: number;
  /** The registry's own CA (PEM), trusted besides Node's roots. */
  private readonly ca: string | undefined;
  private readonly tlsVerify: boolean;
  private readonly pools = new Map<string, OriginPool>();
  private readonly semaphore: Semaphore;
  private readonly auth: Authenticator;
  private readonly onRequest: RegistryOptions['onRequest'];
  private readonly signals = new SignalLinks();
  private closed = false;

  constructor(options: RegistryOptions) {
    this.name = options.host.toLowerCase();
    this.host = registryHost(options.host);
    this.origin = `${registryScheme(options)}://${this.host}`;
    this.attempts = positive(options.retry?.attempts, DEFAULTS.attempts, 'retry.attempts');
    this.baseDelayMs = nonNegative(
      options.retry?.baseDelayMs,
      DEFAULTS.baseDelayMs,
      'retry.baseDelayMs',
    );
    this.maxDelayMs = nonNegative(
      options.retry?.maxDelayMs,
      DEFAULTS.maxDelayMs,
      'retry.maxDelayMs',
    );
    this.connectTimeoutMs = positive(
      options.connectTimeoutMs,
      DEFAULTS.connectTimeoutMs,
      'connectTimeoutMs',
    );
    this.idleTimeoutMs = positive(options.idleTimeoutMs, DEFAULTS.idleTimeoutMs, 'idleTimeoutMs');
    this.semaphore = new Semaphore(
      positive(options.maxConcurrency, DEFAULTS.maxConcurrency, 'maxConcurrency'),
    );
    this.ca = options.ca?.toString();
    this.tlsVerify = options.tlsVerify ?? true;
    this.onRequest = options.onRequest;
    const credentials = {
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    };
    this.auth = new Authenticator(this.name, credentials, (url, authorization, what) =>
      this.fetchToken(url, authorization, what),
    );
  }

  /** Requests in flight right now (slots taken). */
  get inFlight(): number {
    return this.semaphore.inUse;
  }

  /** Sends a request (with retries) and returns the response with its body unread. */
  async send(req: TransportRequest): Promise<TransportResponse> {
    return this.perform(req, async (res) => res);
  }

  /**
   * Sends a request and reads its body whole, at most `limit` bytes (`tooLarge` code
   * beyond). A body cut midway is retried like any temporary failure.
   */
  async fetch(
    req: TransportRequest,
    limit: number,
    tooLarge: ErrorCode = 'REGISTRY_REJECTED',
  ): Promise<BufferedResponse> {
    return this.perform(req, async (res) => {
      const bytes = await readBody(res.body, limit, () =>
        this.fail(tooLarge, req, `the answer is larger than ${limit} bytes`),
      );
      return { status: res.status, headers: res.headers, bytes, url: res.url };
    });
  }

  /** Resolves a path or URL against the registry. */
  resolve(url: string | URL): URL {
    return new URL(url, `${this.origin}/`);
  }

  /** A FerryError whose message names the registry, the operation and the reason. */
  fail(
    code: ErrorCode,
    req: Pick<TransportRequest, 'what'>,
    reason: string,
    cause?: unknown,
  ): FerryError {
    return new FerryError(
      code,
      `${this.name}: ${req.what}: ${oneLine(reason)}`,
      cause === undefined ? {} : { cause },
    );
  }

  /** Maps anything thrown by the HTTP client or a stream to a FerryError with a catalog code. */
  toError(err: unknown, req: Pick<TransportRequest, 'what' | 'signal'>): FerryError {
    if (err instanceof FerryError) return err;
    if (req.signal?.aborted) return this.fail('CANCELLED', req, 'cancelled', err);
    const code = errorCode(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return this.fail('TIMEOUT', req, `no answer in time (${code})`, err);
    }
    if (isTransientCode(code)) {
      return this.fail('CONNECTION_FAILED', req, `${message} (${code})`, err);
    }
    if (code === 'ERR_HTTP_CONTENT_LENGTH_MISMATCH') {
      return this.fail('SIZE_MISMATCH', req, 'the body is not the declared length', err);
    }
    // TLS verification and other socket errors: a new attempt meets the same certificate.
    return new FerryError(
      'CONNECTION_FAILED',
      `${this.name}: ${req.what}: ${oneLine(message)}${code ? ` (${code})` : ''}`,
      { cause: err, temporary: false },
    );
  }

  /** Waits before attempt `attempt + 1`: the Retry-After asked, or full-jitter backoff. */
  async backoff(
    attempt: number,
    retryAfter: number | undefined,
    req: Pick<TransportRequest, 'what' | 'signal'>,
  ): Promise<void> {
    // Full jitter spreads clients that failed together:
    // https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
    const ms =
      retryAfter !== undefined
        ? Math.min(retryAfter * 1000, this.maxDelayMs)
        : Math.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const link = this.signals.link(req.signal);
    try {
      await sleep(ms, undefined, link.signal ? { signal: link.signal } : {});
    } catch (err) {
      throw this.fail('CANCELLED', req, 'cancelled', err);
    } finally {
      link.unlink();
    }
  }

  /** Closes every pool; in-flight requests get a moment to finish, then are cut. */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  /** The retry loop: auth, one exchange, error mapping, backoff. */
  private async perform<T>(
    req: TransportRequest,
    consume: (res: TransportResponse) => Promise<T>,
  ): Promise<T> {
    const replayable = !(req.body instanceof Readable);
    const attempts = replayable ? (req.attempts ?? this.attempts) : 1;
    // One 401 to learn how to authenticate (when we sent nothing) and one to renew what we
    // sent (an expired or revoked token): enough for any working setup, and no loops.
    let learned = false;
    let renewed = false;
    // This request's signal follows the caller's until the body handed out has ended.
    const link = this.signals.link(req.signal);
    try {
      for (let attempt = 1; ; attempt++) {
        let failure: FerryError;
        try {
          const authorization =
            req.auth === false ? undefined : await this.auth.authorization(req.scopes);
          const res = await this.exchange(req, authorization, link.signal);
          if (res.status === 401 && req.auth !== false) {
            const challenge = res.headers['www-authenticate'];
            const err = await this.statusError(res, req);
            const renewing = authorization !== undefined;
            if (
              !(renewing ? renewed : learned) &&
              req.reauth !== false &&
              this.auth.challenged(challenge, req.scopes, authorization)
            ) {
              if (renewing) renewed = true;
              else learned = true;
              if (replayable) {
                attempt--; // an auth round trip is not a failure
                continue;
              }
              // The stream is spent; with renewed credentials the copy engine's retry passes.
              throw new FerryError('UNAUTHORIZED', err.message, { temporary: true });
            }
            throw err;
          }
          if ((res.status >= 200 && res.status < 300) || req.pass?.includes(res.status)) {
            const value = await consume(res);
            if (res.body.readableEnded || res.body.destroyed) link.unlink();
            else res.body.once('close', link.unlink);
            return value;
          }
          failure = await this.statusError(res, req);
        } catch (err) {
          failure = this.toError(err, req);
        }
        if (!failure.temporary || req.signal?.aborted) throw failure;
        if (attempt >= attempts) {
          // Never cleared: an upload's body error may carry a download's exhausted resumes.
          if (attempts > 1) failure.retriedToLimit = true;
          throw failure;
        }
        this.stats.retries++;
        await this.backoff(attempt, failure.retryAfter, req);
      }
    } catch (err) {
      link.unlink();
      throw err;
    }
  }

  /** One HTTP exchange, following redirects for GET and HEAD; holds a slot until the body ends. */
  private async exchange(
    req: TransportRequest,
    authorization: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<TransportResponse> {
    if (this.closed) throw this.fail('INTERNAL', req, 'the registry client is closed');
    const release = req.limit === false ? () => undefined : await this.semaphore.acquire(signal);
    try {
      let url = this.resolve(req.url);
      for (let hop = 0; ; hop++) {
        const headers: Record<string, string> = { ...req.headers };
        // Credentials go to the registry only, never to a CDN or storage it redirects to.
        if (authorization !== undefined && url.origin === this.origin)
          headers.authorization = authorization;
        let res: Awaited<ReturnType<OriginPool['request']>>;
        try {
          res = await this.pool(url.origin).request({
            path: `${url.pathname}${url.search}`,
            method: req.method,
            headers,
            body: req.body ?? null,
            signal: signal ?? null,
          });
        } catch (err) {
          this.report(req.method, url, 0);
          throw err;
        }
        this.report(req.method, url, res.statusCode);
        const location = header(res.headers, 'location');
        if (
          (req.method === 'GET' || req.method === 'HEAD') &&
          [301, 302, 303, 307, 308].includes(res.statusCode) &&
          location !== undefined &&
          hop < MAX_REDIRECTS
        ) {
          await dump(res.body, ERROR_BODY_LIMIT);
          url = new URL(location, url);
          continue;
        }
        const body = res.body;
        body.once('close', release);
        body.once('end', release);
        body.once('error', release);
        // A HEAD has no body to read; let it end so the slot and connection come back.
        if (req.method === 'HEAD') body.resume();
        return { status: res.statusCode, headers: res.headers, body, url };
      }
    } catch (err) {
      release();
      throw err;
    }
  }

  private report(method: string, url: URL, status: number): void {
    this.stats.requests++;
    try {
      this.onRequest?.({ method, url: url.toString(), status });
    } catch {
      // A metrics callback must not break a transfer.
    }
  }

  private pool(origin: string): OriginPool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new OriginPool(origin, {
        connectTimeoutMs: this.connectTimeoutMs,
        idleTimeoutMs: this.idleTimeoutMs,
        keepAliveMs: DEFAULTS.keepAliveMs,
        ...(origin.startsWith('https:')
          ? { secureContext: registryTlsContext(this.ca), tlsVerify: this.tlsVerify }
          : {}),
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Reads (a bounded part of) an error response and maps its status to a catalog code. */
  private async statusError(res: TransportResponse, req: TransportRequest): Promise<FerryError> {
    let text = '';
    try {
      text = (
        await readBody(res.body, ERROR_BODY_LIMIT, () => new FerryError('INTERNAL'))
      ).toString('utf8');
    } catch {
      res.body.destroy();
    }
    const { codes, detail } = parseErrorBody(text);
    const status = res.status;
    const retryAfter = parseRetryAfter(header(res.headers, 'retry-after'));
    let code: ErrorCode;
    let reason = detail;
    if (status === 401) {
      code = 'UNAUTHORIZED';
      if (req.auth !== false && !this.auth.hasPassword && reason === '')
        reason = 'authentication required';
    } else if (status === 403) code = 'DENIED';
    else if (status === 404) {
      code =
        (codes.find((c) => NOT_FOUND_CODES.has(c)) as ErrorCode | undefined) ??
        req.notFound ??
        'NAME_UNKNOWN';
    } else if (status === 405 || status === 501) code = 'UNSUPPORTED';
    else if (status === 429) code = 'TOO_MANY_REQUESTS';
    else if (status === 408 || status >= 500) code = 'REGISTRY_UNAVAILABLE';
    else code = 'REGISTRY_REJECTED';
    if (reason === '') reason = codes.join(', ') || httpReason(status);
    const options = { ...(retryAfter !== undefined ? { retryAfter } : {}) };
    return new FerryError(code, `${this.name}: ${req.what}: ${status} ${oneLine(reason)}`, options);
  }

  private async fetchToken(
    url: URL,
    authorization: string | undefined,
    what: string,
  ): Promise<Buffer> {
    this.stats.tokenFetches++;
    const res = await this.fetch(
      {
        method: 'GET',
        url,
        headers: authorization !== undefined ? { authorization } : {},
        scopes: [],
        what,
        auth: false,
        limit: false,
        notFound: 'UNAUTHORIZED',
      },
      1024 * 1024,
      'UNAUTHORIZED',
    );
    return res.bytes;
  }
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'bad request',
    401: 'authentication required',
    403: 'access denied',
    404: 'not found',
    405: 'method not allowed',
    408: 'request timeout',
    409: 'conflict',
    413: 'payload too large',
    416: 'range not satisfiable',
    429: 'too many requests',
    500: 'internal server error',
    502: 'bad gateway',
    503: 'service unavailable',
    504: 'gateway timeout',
  };
  return reasons[status] ?? 'unexpected status';
}

function positive(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new FerryError('INVALID_ARGUMENT', `${key} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new FerryError('INVALID_ARGUMENT', `${key} must be zero or more, got ${value}`);
  }
  return value;
}

/** A paginated GET (catalog, tags, referrers). */
export interface PagedRequest {
  url: string | URL;
  scopes: readonly string[];
  what: string;
  headers?: Record<string, string>;
  notFound?: ErrorCode;
  signal?: AbortSignal | undefined;
}

// A page of a thousand names is about 50 KiB; registries that ignore `n` send everything at
// once, and a very large repository's tag list can reach tens of MiB.
const PAGE_LIMIT = 64 * 1024 * 1024;

/**
 * GETs a JSON list and every page its `Link: <...>; rel="next"` headers lead to.
 * Undefined when the first page is a 404 (unknown repository, or no such API).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags
 */
export async function fetchPages(
  t: Transport,
  req: PagedRequest,
): Promise<{ pages: unknown[]; headers: BufferedResponse['headers'][] } | undefined> {
  const pages: unknown[] = [];
  const headers: BufferedResponse['headers'][] = [];
  const seen = new Set<string>();
  let url: URL | undefined = t.resolve(req.url);
  while (url && !seen.has(url.toString())) {
    seen.add(url.toString());
    const res = await t.fetch(
      {
        method: 'GET',
        url,
        scopes: req.scopes,
        what: req.what,
        pass: [404],
        ...(req.headers ? { headers: req.headers } : {}),
        ...(req.notFound ? { notFound: req.notFound } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
      PAGE_LIMIT,
    );
    if (res.status === 404) {
      if (pages.length === 0) return undefined;
      // A later page vanished (the list changed under us): what we have is the answer.
      break;
    }
    try {
      pages.push(JSON.parse(res.bytes.toString('utf8')));
    } catch {
      throw t.fail('REGISTRY_REJECTED', req, 'the answer is not JSON');
    }
    headers.push(res.headers);
    url = nextLink(res.headers, res.url);
  }
  return { pages, headers };
}
