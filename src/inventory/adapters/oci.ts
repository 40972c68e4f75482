// The inventory adapter for any OCI registry (the `Other` kind: every repository through
// GET /v2/_catalog, every tag through tags/list), and what the Harbor and Artifactory adapters
// share with it: their options, the registry client they hand out, and a small JSON client
// for management APIs (Node's fetch, Basic auth, a timeout per request, a few retries, and
// FerryErrors whose messages name the registry and the request, never the password).
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, type ErrorCode } from '../../errors/catalog.js';
import { HttpRegistry } from '../../registry/http/registry.js';
import { errorCode, isTransientCode, parseRetryAfter } from '../../registry/http/transport.js';
import type { RegistryOptions } from '../../registry/options.js';
import type { InventoryAdapter, TagRef } from './types.js';

/** How to reach a registry to inventory. */
export interface AdapterOptions {
  protocol: 'http' | 'https';
  /** `host:port` (or `host`) of the registry, for its management API and its OCI API alike. */
  addr: string;
  username?: string;
  password?: string;
  /** Only this namespace: a Harbor project, an Artifactory repository key, a first path segment. */
  namespace?: string;
}

/** Knobs beyond AdapterOptions (tests use small pages and a single attempt). */
export interface AdapterTuning {
  /** Items asked per management API page (Harbor default 100, its maximum; Artifactory 1000). */
  pageSize?: number;
  /** Time for one management API request, body included. Default 30 s. */
  timeoutMs?: number;
  /** Attempts per management API request for temporary failures. Default 3. */
  attempts?: number;
  /** Extra options for the OCI registry client (retry, ca, maxConcurrency...). */
  registry?: Partial<Omit<RegistryOptions, 'host' | 'username' | 'password'>>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_ATTEMPTS = 3;
const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 10_000;
/** Repositories (or projects) listed at once; the registry client limits its own requests too. */
export const CONCURRENCY = 8;

/** Checks the options every adapter takes (before anything is sent). */
export function checkOptions(kind: string, options: AdapterOptions): void {
  if (options.protocol !== 'http' && options.protocol !== 'https') {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${kind} ${options.addr}: protocol must be http or https, not "${String(options.protocol)}"`,
    );
  }
  if (typeof options.addr !== 'string' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(options.addr)) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${kind}: "${String(options.addr)}" is not a host:port address`,
    );
  }
}

/** The OCI client for a registry reached as the options say (plain HTTP for `http`). */
export function registryFor(options: AdapterOptions, tuning: AdapterTuning = {}): HttpRegistry {
  return new HttpRegistry({
    ...tuning.registry,
    host: options.addr,
    insecure: options.protocol === 'http',
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
}

/** `library/nginx` → namespace `library`, image `nginx`; `nginx` → namespace ''. */
export function splitRepository(repository: string): { namespace: string; imageName: string } {
  const i = repository.indexOf('/');
  return i > 0
    ? { namespace: repository.slice(0, i), imageName: repository.slice(i + 1) }
    : { namespace: '', imageName: repository };
}

/** Runs `fn` over `items`, `limit` at a time, keeping the input order in the result. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

/** Tags sorted by repository then tag, so listings compare and diff well. */
export function sortTags(refs: TagRef[]): TagRef[] {
  return refs.sort((a, b) =>
    a.repository === b.repository
      ? a.tag < b.tag
        ? -1
        : a.tag > b.tag
          ? 1
          : 0
      : a.repository < b.repository
        ? -1
        : 1,
  );
}

/** The deepest message along an error's causes (`connect ECONNREFUSED ...`, not `fetch failed`). */
function rootMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error && e.message !== '') message = e.message;
    const errors = (e as { errors?: unknown }).errors;
    e = (e as { cause?: unknown }).cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return message;
}

function oneLine(s: string, max = 200): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** What an error body says: `{"errors":[{"code","message"}]}` (Harbor, Artifactory) or text. */
function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(parsed.errors)) {
      return oneLine(
        parsed.errors
          .map((e) => (typeof e.message === 'string' && e.message !== '' ? e.message : e.code))
          .filter((s): s is string => typeof s === 'string' && s !== '')
          .join('; '),
      );
    }
  } catch {
    // Not JSON: a proxy's page or plain text.
  }
  return text.trimStart().startsWith('<') ? '' : oneLine(text);
}

/** A JSON answer of a management API. */
export interface ApiResponse {
  body: unknown;
  headers: Headers;
}

/** GETs JSON from a registry's management API (Harbor, Artifactory); see the file comment. */
export class RestClient {
  /** `http(s)://host:port` */
  readonly origin: string;
  /** `Harbor 10.0.0.5:443`: how messages name the registry. */
  readonly label: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly hasUser: boolean;

  constructor(kind: string, options: AdapterOptions, tuning: AdapterTuning = {}) {
    this.origin = `${options.protocol}://${options.addr}`;
    this.label = `${kind} ${options.addr}`;
    this.hasUser = options.username !== undefined && options.username !== '';
    this.authorization = this.hasUser
      ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`
      : undefined;
    this.timeoutMs = tuning.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.attempts = Math.max(1, tuning.attempts ?? DEFAULT_ATTEMPTS);
  }

  /** A FerryError naming the registry and the request. */
  fail(code: ErrorCode, what: string, reason: string, cause?: unknown): FerryError {
    return new FerryError(
      code,
      `${this.label}: ${what}: ${reason}`,
      cause === undefined ? {} : { cause },
    );
  }

  /**
   * GETs `path` (with its query) and parses the JSON answer, retrying temporary failures.
   * With `allowNotFound`, a 404 gives undefined instead of an error.
   */
  async get(
    path: string,
    signal: AbortSignal | undefined,
    extraHeaders: Record<string, string> = {},
    allowNotFound = false,
  ): Promise<ApiResponse | undefined> {
    const what = `GET ${path}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(path, what, signal, extraHeaders, allowNotFound);
      } catch (err) {
        const e =
          err instanceof FerryError
            ? err
            : this.fail('INTERNAL', what, oneLine(rootMessage(err)), err);
        if (!e.temporary || e.code === 'TIMEOUT' || attempt >= this.attempts) throw e;
        const ms =
          e.retryAfter !== undefined
            ? Math.min(e.retryAfter * 1000, MAX_DELAY_MS)
            : Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
        try {
          await sleep(ms, undefined, signal ? { signal } : {});
        } catch (abort) {
          throw this.fail('CANCELLED', what, 'cancelled', abort);
        }
      }
    }
  }

  private async once(
    path: string,
    what: string,
    signal: AbortSignal | undefined,
    extraHeaders: Record<string, string>,
    allowNotFound: boolean,
  ): Promise<ApiResponse | undefined> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    try {
      const res = await fetch(new URL(path, this.origin), { headers, signal: both });
      if (res.status === 404 && allowNotFound) {
        await res.body?.cancel();
        return undefined;
      }
      const text = await res.text();
      if (res.status !== 200) throw this.statusError(res, text, what);
      try {
        return { body: JSON.parse(text) as unknown, headers: res.headers };
      } catch (err) {
        throw this.fail(
          'REGISTRY_REJECTED',
          what,
          `the answer is not JSON (${res.headers.get('content-type') ?? 'no content type'})`,
          err,
        );
      }
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (signal?.aborted) throw this.fail('CANCELLED', what, 'cancelled', err);
      if (timeout.aborted) {
        throw this.fail('TIMEOUT', what, `no answer within ${this.timeoutMs / 1000} s`, err);
      }
      const code = errorCode(err);
      const reason = `${oneLine(rootMessage(err))}${code !== undefined ? ` (${code})` : ''}`;
      // TLS verification and other socket errors: another attempt meets the same certificate.
      throw new FerryError('CONNECTION_FAILED', `${this.label}: ${what}: ${reason}`, {
        cause: err,
        temporary: isTransientCode(code),
      });
    }
  }

  private statusError(res: Response, text: string, what: string): FerryError {
    const detail = errorDetail(text);
    const status = `${res.status}${detail !== '' ? ` (${detail})` : ''}`;
    if (res.status === 401) {
      return this.fail(
        'UNAUTHORIZED',
        what,
        this.hasUser ? `${status}: wrong username or password` : `${status}: credentials required`,
      );
    }
    if (res.status === 403) return this.fail('DENIED', what, `${status}: permission denied`);
    if (res.status === 404) return this.fail('REGISTRY_REJECTED', what, `${status}: not found`);
    if (res.status === 429) {
      const after = parseRetryAfter(res.headers.get('retry-after') ?? undefined);
      return new FerryError('TOO_MANY_REQUESTS', `${this.label}: ${what}: ${status}`, {
        ...(after !== undefined ? { retryAfter: after } : {}),
      });
    }
    if (res.status >= 500 || res.status === 408) {
      return this.fail('REGISTRY_UNAVAILABLE', what, status);
    }
    return this.fail('REGISTRY_REJECTED', what, status);
  }
}

/** Any OCI registry: every repository of its catalog (or of one first path segment). */
export class OciAdapter implements InventoryAdapter {
  readonly registry: HttpRegistry;

  constructor(
    private readonly options: AdapterOptions,
    tuning: AdapterTuning = {},
  ) {
    checkOptions('registry', options);
    this.registry = registryFor(options, tuning);
  }

  async listTags(signal?: AbortSignal): Promise<TagRef[]> {
    const namespace = this.options.namespace;
    let repositories = await this.registry.catalogList(signal);
    if (namespace !== undefined && namespace !== '') {
      repositories = repositories.filter((r) => splitRepository(r).namespace === namespace);
    }
    const perRepository = await mapLimit(repositories, CONCURRENCY, async (repository) =>
      (await this.registry.tagList(repository, signal)).map((tag): TagRef => ({
        repository,
        ...splitRepository(repository),
        tag,
      })),
    );
    return sortTags(perRepository.flat());
  }

  close(): Promise<void> {
    return this.registry.close();
  }
}
