// Blobs: HEAD, GET (resuming a cut download with Range), uploads in three modes, and
// cross-repository mounts.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-blobs
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
import { Readable } from 'node:stream';
import { FerryError, type ErrorCode } from '../../errors/catalog.js';
import type { BlobGetOptions, BlobPutOptions, Descriptor } from '../types.js';
import { pullScope, pushScope } from './auth.js';
import {
  discard,
  header,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from './transport.js';

/**
 * Default chunk for `chunked` uploads. Each chunk is held in memory once (it must be sent
 * with its exact length), so it stays small; registries raise it with OCI-Chunk-Min-Length.
 */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

function optSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** HEADs a blob: its size, or undefined when the repository does not have it. */
export async function blobHead(
  t: Transport,
  repo: string,
  digest: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const req = {
    method: 'HEAD' as const,
    url: `/v2/${repo}/blobs/${digest}`,
    scopes: [pullScope(repo)],
    what: `HEAD blob ${repo}@${digest}`,
    notFound: 'BLOB_UNKNOWN' as const,
    pass: [404],
    ...optSignal(signal),
  };
  const res = await t.send(req);
  await discard(res);
  if (res.status === 404) return undefined;
  const size = Number(header(res.headers, 'content-length'));
  if (!Number.isInteger(size) || size < 0) {
    throw t.fail('REGISTRY_REJECTED', req, `${res.status} without a Content-Length`);
  }
  return size;
}

/**
 * GETs a blob from `options.offset` as a stream of `desc.size - offset` bytes. The first
 * response (or its error) arrives before this resolves; later cuts are resumed inside the
 * stream. The bytes are not verified here: the copy engine hashes them on the way.
 */
export async function blobGet(
  t: Transport,
  repo: string,
  desc: Descriptor,
  options: BlobGetOptions = {},
): Promise<Readable> {
  const offset = options.offset ?? 0;
  const what = `GET blob ${repo}@${desc.digest}`;
  if (!Number.isInteger(offset) || offset < 0 || offset > desc.size) {
    throw t.fail(
      'INVALID_ARGUMENT',
      { what },
      `offset ${offset} is outside the blob's ${desc.size} bytes`,
    );
  }
  if (offset === desc.size) return Readable.from([]);
  const open = (from: number): Promise<TransportResponse> =>
    t.send({
      method: 'GET',
      url: `/v2/${repo}/blobs/${desc.digest}`,
      // A Range from 0 would only make some CDNs answer 206 for nothing.
      headers: from > 0 ? { range: `bytes=${from}-` } : {},
      scopes: [pullScope(repo)],
      what,
      notFound: 'BLOB_UNKNOWN',
      ...optSignal(options.signal),
    });
  const first = await open(offset);
  return new ResumingStream(t, what, open, first, offset, desc.size, options.signal);
}

/**
 * A blob download that, when the connection is reset or closes before the last byte,
 * asks again with `Range: bytes=N-` from the byte it reached (up to the retry attempts).
 * A server that ignores Range (200 instead of 206) is read from the start and the bytes
 * already delivered are skipped.
 */
class ResumingStream extends Readable {
  private body: Readable | undefined;
  private position: number;
  private skip = 0;
  private resumesLeft: number;

  private readonly req: { what: string; signal?: AbortSignal };

  constructor(
    private readonly t: Transport,
    what: string,
    private readonly open: (from: number) => Promise<TransportResponse>,
    first: TransportResponse,
    private readonly start: number,
    private readonly size: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    super();
    this.req = { what, ...optSignal(signal) };
    this.position = start;
    this.resumesLeft = t.attempts - 1;
    this.attach(first);
  }

  override _read(): void {
    this.body?.resume();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    const body = this.body;
    this.body = undefined;
    body?.destroy();
    done(err);
  }

  private attach(res: TransportResponse): void {
    let skip: number;
    try {
      skip = this.skipFor(res);
    } catch (err) {
      res.body.destroy();
      this.destroy(err as Error);
      return;
    }
    this.skip = skip;
    const body = res.body;
    this.body = body;
    body.on('data', (chunk: Buffer) => {
      if (this.body !== body) return;
      let data = chunk;
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        if (data.length === 0) return;
      }
      this.position += data.length;
      if (!this.push(data)) body.pause();
    });
    body.once('end', () => {
      if (this.body !== body) return;
      this.body = undefined;
      if (this.position < this.size) {
        // A body that ends cleanly but short (no Content-Length, connection closed): resume.
        this.cut(
          this.t.fail(
            'CONNECTION_FAILED',
            this.req,
            `the body ended at byte ${this.position} of ${this.size}`,
          ),
        );
      } else {
        this.push(null);
      }
    });
    body.once('error', (err) => {
      if (this.body !== body) return;
      this.body = undefined;
      this.cut(this.t.toError(err, this.req));
    });
  }

  /** Bytes to drop from the start of a response to reach `position`. */
  private skipFor(res: TransportResponse): number {
    if (res.status === 200) return this.position;
    if (res.status !== 206) {
      throw this.t.fail('REGISTRY_REJECTED', this.req, `unexpected status ${res.status}`);
    }
    const m = /^bytes\s+(\d+)-/i.exec(header(res.headers, 'content-range') ?? '');
    // No Content-Range on a 206: trust it starts where we asked.
    const from = m ? Number(m[1]) : this.position;
    if (from > this.position) {
      throw this.t.fail(
        'REGISTRY_REJECTED',
        this.req,
        `asked for bytes from ${this.position}, got from ${from}`,
      );
    }
    return this.position - from;
  }

  private cut(err: FerryError): void {
    if (this.destroyed) return;
    if (!err.temporary || this.resumesLeft <= 0 || this.signal?.aborted) {
      // Resumed as often as allowed: starting the blob over would only add attempts.
      if (err.temporary && this.resumesLeft <= 0 && this.t.attempts > 1) err.retriedToLimit = true;
      this.destroy(err);
      return;
    }
    const attempt = this.t.attempts - this.resumesLeft;
    this.resumesLeft--;
    void this.reopen(attempt);
  }

  private async reopen(attempt: number): Promise<void> {
    const from = this.position;
    try {
      await this.t.backoff(attempt, undefined, this.req);
      const res = await this.open(from);
      if (this.destroyed) {
        res.body.destroy();
        return;
      }
      this.t.stats.resumes++;
      this.t.stats.resumedBytes += from - this.start;
      this.attach(res);
    } catch (err) {
      this.destroy(this.t.toError(err, this.req));
    }
  }
}

/** Appends `digest=` to an upload location, keeping the query the registry put there. */
function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

/** Where an upload session continues: its Location, relative or absolute. */
function locationOf(
  t: Transport,
  res: TransportResponse,
  req: Pick<TransportRequest, 'what'>,
): URL {
  const location = header(res.headers, 'location');
  if (location === undefined)
    throw t.fail('REGISTRY_REJECTED', req, `${res.status} without a Location`);
  return new URL(location, res.url);
}

/** Starts an upload session: POST /v2/<name>/blobs/uploads/. */
async function uploadStart(
  t: Transport,
  repo: string,
  what: string,
  signal: AbortSignal | undefined,
): Promise<{ location: URL; minChunk: number }> {
  const req = {
    method: 'POST' as const,
    url: `/v2/${repo}/blobs/uploads/`,
    headers: { 'content-length': '0' },
    scopes: [pushScope(repo)],
    what,
    notFound: 'NAME_UNKNOWN' as const,
    ...optSignal(signal),
  };
  const res = await t.send(req);
  await discard(res);
  const location = locationOf(t, res, req);
  const minChunk = Number(header(res.headers, 'oci-chunk-min-length'));
  return { location, minChunk: Number.isInteger(minChunk) && minChunk > 0 ? minChunk : 0 };
}

/** Cancels an upload session, best effort: the registry purges stale ones anyway. */
async function uploadCancel(t: Transport, repo: string, location: URL): Promise<void> {
  try {
    const res = await t.send({
      method: 'DELETE',
      url: location,
      scopes: [pushScope(repo)],
      what: `DELETE upload ${repo}`,
      attempts: 1,
      reauth: false,
    });
    await discard(res);
  } catch {
    // Ignored: the session expires on its own.
  }
}

/**
 * Uploads a blob from a stream of exactly `desc.size` bytes. The body is streamed with
 * backpressure and never held whole. If the stream fails (e.g. the caller's digest check),
 * the request is aborted, the session cancelled, and the stream's own error rethrown.
 */
export async function blobPut(
  t: Transport,
  repo: string,
  desc: Descriptor,
  body: Readable,
  options: BlobPutOptions = {},
): Promise<void> {
  const mode = options.mode ?? 'monolithic';
  const what = `PUT blob ${repo}@${desc.digest}`;
  const signal = options.signal;
  // Keep the stream's own error: the HTTP client may report the abort in its own words.
  let bodyError: unknown;
  const onError = (err: unknown): void => {
    bodyError ??= err;
  };
  body.on('error', onError);
  let location: URL | undefined;
  try {
    const started = await uploadStart(t, repo, what, signal);
    location = started.location;
    if (mode === 'monolithic') {
      // https://github.com/opencontainers/distribution-spec/blob/main/spec.md#post-then-put
      const res = await t.send({
        method: 'PUT',
        url: withDigest(location, desc.digest),
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(desc.size),
        },
        body,
        scopes: [pushScope(repo)],
        what,
        notFound: 'BLOB_UNKNOWN',
        ...optSignal(signal),
      });
      await discard(res);
    } else {
      location =
        mode === 'chunked'
          ? await patchChunks(
              t,
              repo,
              desc,
              body,
              location,
              Math.max(options.chunkSize ?? DEFAULT_CHUNK_SIZE, started.minChunk),
              what,
              signal,
            )
          : await patchStream(t, repo, desc, body, location, what, signal);
      // The closing PUT carries no bytes, only the digest that commits the upload.
      const res = await t.send({
        method: 'PUT',
        url: withDigest(location, desc.digest),
        headers: { 'content-length': '0' },
        scopes: [pushScope(repo)],
        what,
        notFound: 'BLOB_UNKNOWN',
        ...optSignal(signal),
      });
      await discard(res);
    }
  } catch (err) {
    if (!body.destroyed) body.destroy();
    if (location !== undefined) await uploadCancel(t, repo, location);
    // The HTTP client fails the body with its own errors too (a length mismatch): those are
    // mapped like any transport error; anything else came from the caller's stream.
    if (
      bodyError !== undefined &&
      (bodyError as { code?: unknown }).code !== 'ERR_HTTP_CONTENT_LENGTH_MISMATCH'
    ) {
      throw bodyError instanceof FerryError
        ? bodyError
        : t.fail(
            'IO_ERROR',
            { what },
            `the source stream failed: ${(bodyError as Error).message ?? String(bodyError)}`,
            bodyError,
          );
    }
    throw t.toError(err, { what, ...optSignal(signal) });
  } finally {
    body.off('error', onError);
  }
}

/**
 * `stream` mode: one PATCH with the whole body and no Content-Range.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-a-blob-in-chunks
 */
async function patchStream(
  t: Transport,
  repo: string,
  desc: Descriptor,
  body: Readable,
  location: URL,
  what: string,
  signal: AbortSignal | undefined,
): Promise<URL> {
  const req = {
    method: 'PATCH' as const,
    url: location,
    // The length is known, so say it: proxies in front of registries often refuse chunked bodies.
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
    body,
    scopes: [pushScope(repo)],
    what,
    notFound: 'BLOB_UNKNOWN' as ErrorCode,
    ...optSignal(signal),
  };
  const res = await t.send(req);
  await discard(res);
  return locationOf(t, res, req);
}

/**
 * `chunked` mode: PATCHes of `chunkSize` bytes with Content-Range, each sent to the
 * Location the previous one returned.
 */
async function patchChunks(
  t: Transport,
  repo: string,
  desc: Descriptor,
  body: Readable,
  start: URL,
  chunkSize: number,
  what: string,
  signal: AbortSignal | undefined,
): Promise<URL> {
  let location = start;
  let offset = 0;
  for await (const chunk of chunksOf(body, chunkSize)) {
    const end = offset + chunk.length - 1;
    const req = {
      method: 'PATCH' as const,
      url: location,
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${end}`,
        'content-length': String(chunk.length),
      },
      body: chunk,
      scopes: [pushScope(repo)],
      what: `${what} (bytes ${offset}-${end})`,
      notFound: 'BLOB_UNKNOWN' as ErrorCode,
      // A chunk the registry may have partly written cannot simply be sent again.
      attempts: 1,
      ...optSignal(signal),
    };
    const res = await t.send(req);
    await discard(res);
    location = locationOf(t, res, req);
    offset += chunk.length;
  }
  if (offset !== desc.size) {
    throw t.fail(
      'SIZE_MISMATCH',
      { what },
      `the stream held ${offset} bytes, the descriptor says ${desc.size}`,
    );
  }
  return location;
}

/** Regroups a stream into Buffers of exactly `size` bytes (the last one shorter). */
async function* chunksOf(body: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const data of body) {
    let b = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
    while (held + b.length >= size) {
      const take = size - held;
      parts.push(b.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      held = 0;
      b = b.subarray(take);
    }
    if (b.length > 0) {
      parts.push(b);
      held += b.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/**
 * Mounts a blob from another repository of the same registry. True when mounted (201);
 * false when the registry opened an upload instead (202), which is cancelled.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#mounting-a-blob-from-another-repository
 */
export async function blobMount(
  t: Transport,
  repo: string,
  digest: string,
  fromRepo: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from: fromRepo });
  const req = {
    method: 'POST' as const,
    url: `/v2/${repo}/blobs/uploads/?${query.toString()}`,
    headers: { 'content-length': '0' },
    // Mounting reads the source repository, so the token needs pull on it too.
    scopes: [pushScope(repo), pullScope(fromRepo)],
    what: `MOUNT blob ${repo}@${digest} from ${fromRepo}`,
    notFound: 'NAME_UNKNOWN' as const,
    ...optSignal(signal),
  };
  const res = await t.send(req);
  await discard(res);
  if (res.status === 201) return true;
  if (res.status === 202) {
    await uploadCancel(t, repo, locationOf(t, res, req));
    return false;
  }
  throw t.fail('REGISTRY_REJECTED', req, `unexpected status ${res.status}`);
}
