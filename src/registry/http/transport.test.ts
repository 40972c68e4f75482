// Transport behaviour against tiny local HTTP servers: retries and backoff, Retry-After,
// status and socket error mapping, timeouts, the concurrency slot, redirects, pagination.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FerryError, isFerryError } from '../../errors/catalog.js';
import { freePort } from '../../../test/helpers/registry.js';
import { HttpRegistry } from './registry.js';
import { nextLink, parseRetryAfter, Transport } from './transport.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Local {
  host: string;
  url: string;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function serve(handler: Handler): Promise<Local> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const close = (): Promise<void> =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  cleanups.push(close);
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, close };
}

function registry(
  host: string,
  extra: Partial<ConstructorParameters<typeof HttpRegistry>[0]> = {},
) {
  const events: Array<{ method: string; url: string; status: number }> = [];
  const reg = new HttpRegistry({
    host,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 },
    onRequest: (e) => events.push(e),
    ...extra,
  });
  cleanups.push(() => reg.close());
  return { reg, events };
}

async function rejection(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

const TAGS = JSON.stringify({ name: 'ns/app', tags: ['v1'] });

describe('retries', () => {
  it('retries a 503 and succeeds, counting every request', async () => {
    let calls = 0;
    const srv = await serve((_req, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try later' }] }));
        return;
      }
      res.end(TAGS);
    });
    const { reg, events } = registry(srv.host);
    expect(await reg.tagList('ns/app')).toEqual(['v1']);
    expect(calls).toBe(3);
    expect(events.map((e) => e.status)).toEqual([503, 503, 200]);
    expect(reg.stats.retries).toBe(2);
  });

  it('gives up after the attempts with REGISTRY_UNAVAILABLE (temporary)', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(502);
      res.end('bad gateway');
    });
    const { reg, events } = registry(srv.host);
    const err = await rejection(reg.tagList('ns/app'));
    expect(err.code).toBe('REGISTRY_UNAVAILABLE');
    expect(err.temporary).toBe(true);
    expect(err.message).toBe(`${srv.host}: GET tags ns/app: 502 bad gateway`);
    expect(events).toHaveLength(3);
  });

  it('honours Retry-After on a 429', async () => {
    const times: number[] = [];
    const srv = await serve((_req, res) => {
      times.push(Date.now());
      if (times.length === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
        return;
      }
      res.end(TAGS);
    });
    const { reg } = registry(srv.host, {
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5000 },
    });
    expect(await reg.tagList('ns/app')).toEqual(['v1']);
    expect(times).toHaveLength(2);
    // Backoff alone would be a millisecond; the server asked for a second.
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('caps Retry-After at maxDelayMs and reports TOO_MANY_REQUESTS with retryAfter', async () => {
    let calls = 0;
    const srv = await serve((_req, res) => {
      calls++;
      res.writeHead(429, { 'retry-after': '3600' });
      res.end();
    });
    const { reg } = registry(srv.host, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 100 } });
    const started = Date.now();
    const err = await rejection(reg.tagList('ns/app'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toBe(2);
    expect(err.code).toBe('TOO_MANY_REQUESTS');
    expect(err.retryAfter).toBe(3600);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Sun, 31 Dec 2023 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('sends a stream body once and throws the temporary error', async () => {
    let puts = 0;
    const srv = await serve((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/ns/app/blobs/uploads/u1' });
        res.end();
        return;
      }
      if (req.method === 'PUT') puts++;
      req.resume();
      req.on('end', () => {
        res.writeHead(503);
        res.end();
      });
    });
    const { reg } = registry(srv.host);
    const body = Buffer.from('hello');
    const err = await rejection(
      reg.blobPut(
        'ns/app',
        { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: body.length },
        Readable.from([body]),
      ),
    );
    expect(err.code).toBe('REGISTRY_UNAVAILABLE');
    expect(err.temporary).toBe(true);
    expect(puts).toBe(1);
  });
});

describe('status mapping', () => {
  const cases: Array<[number, string, string, string]> = [
    [404, 'MANIFEST_UNKNOWN', 'manifest unknown', 'MANIFEST_UNKNOWN'],
    [404, 'NAME_UNKNOWN', 'repository name not known to registry', 'NAME_UNKNOWN'],
    [403, 'DENIED', 'requested access to the resource is denied', 'DENIED'],
    [405, 'UNSUPPORTED', 'The operation is unsupported.', 'UNSUPPORTED'],
    [400, 'MANIFEST_INVALID', 'manifest invalid', 'REGISTRY_REJECTED'],
  ];
  for (const [status, registryCode, message, code] of cases) {
    it(`maps ${status} ${registryCode} to ${code} with a one-line message`, async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: registryCode, message, detail: { a: 1 } }] }));
      });
      const { reg, events } = registry(srv.host);
      const err = await rejection(reg.manifestGet('ns/app', 'v1'));
      expect(err.code).toBe(code);
      expect(err.temporary).toBe(false);
      expect(err.message).toBe(`${srv.host}: GET manifest ns/app:v1: ${status} ${message}`);
      expect(events).toHaveLength(1); // permanent errors are not retried
    });
  }

  it('names the resource for a 404 without a body (HEAD)', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const { reg } = registry(srv.host);
    expect(await reg.blobHead('ns/app', `sha256:${'a'.repeat(64)}`)).toBeUndefined();
    const err = await rejection(
      reg.blobGet('ns/app', { mediaType: 'x', digest: `sha256:${'a'.repeat(64)}`, size: 3 }),
    );
    expect(err.code).toBe('BLOB_UNKNOWN');
    expect(err.message).toMatch(/^127\.0\.0\.1:\d+: GET blob ns\/app@sha256:a{64}: 404 not found$/);
  });
});

describe('connection failures', () => {
  it('gives CONNECTION_FAILED after the attempts when nothing listens', async () => {
    const port = await freePort();
    const { reg, events } = registry(`127.0.0.1:${port}`);
    const err = await rejection(reg.manifestGet('ns/app', 'v1'));
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.temporary).toBe(true);
    expect(err.message).toBe(
      `127.0.0.1:${port}: GET manifest ns/app:v1: connect ECONNREFUSED 127.0.0.1:${port} (ECONNREFUSED)`,
    );
    expect(events.map((e) => e.status)).toEqual([0, 0, 0]);
    expect(reg.stats.retries).toBe(2);
  });

  it('gives CONNECTION_FAILED for an unknown host', async () => {
    const { reg, events } = registry('ferry-no-such-host.invalid', { insecure: true });
    const err = await rejection(reg.ping());
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.message).toMatch(/^ferry-no-such-host\.invalid: GET \/v2\/: .*ENOTFOUND/);
    expect(events).toHaveLength(3);
  });

  it('gives TIMEOUT when the server accepts and never answers', async () => {
    const sockets: Socket[] = [];
    const tcp = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise((r) => {
          for (const s of sockets) s.destroy();
          tcp.close(() => r());
        }),
    );
    const addr = tcp.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const { reg } = registry(`127.0.0.1:${port}`, {
      idleTimeoutMs: 150,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    });
    const started = Date.now();
    const err = await rejection(reg.manifestGet('ns/app', 'v1'));
    expect(err.code).toBe('TIMEOUT');
    expect(err.temporary).toBe(true);
    expect(err.message).toMatch(
      /GET manifest ns\/app:v1: no answer in time \(FERRY_IDLE_TIMEOUT\)$/,
    );
    // Two attempts, each waiting out the idle timeout.
    expect(sockets.length).toBeGreaterThanOrEqual(1);
    expect(reg.stats.retries).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('retries a body cut midway when the body is read whole', async () => {
    let calls = 0;
    const srv = await serve((_req, res) => {
      calls++;
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(TAGS.length),
      });
      if (calls === 1) {
        res.write(TAGS.slice(0, 5));
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      res.end(TAGS);
    });
    const { reg } = registry(srv.host);
    expect(await reg.tagList('ns/app')).toEqual(['v1']);
    expect(calls).toBe(2);
  });
});

describe('concurrency slot', () => {
  it('holds a slot until the response body is consumed', async () => {
    const blob = Buffer.alloc(256 * 1024, 7);
    const order: string[] = [];
    const srv = await serve((req, res) => {
      order.push(`${req.method} ${req.url}`);
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.end(blob);
        return;
      }
      res.end(TAGS);
    });
    const { reg } = registry(srv.host, { maxConcurrency: 1 });
    const stream = await reg.blobGet('ns/app', {
      mediaType: 'x',
      digest: `sha256:${'b'.repeat(64)}`,
      size: blob.length,
    });
    expect(reg.inFlight).toBe(1);
    let listed = false;
    const tags = reg.tagList('ns/app').then((t) => {
      listed = true;
      return t;
    });
    await new Promise((r) => setTimeout(r, 100));
    // The blob's body is unread: the tag request must still be waiting for the slot.
    expect(listed).toBe(false);
    expect(order).toHaveLength(1);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(blob)).toBe(true);
    expect(await tags).toEqual(['v1']);
    expect(order).toHaveLength(2);
    expect(reg.inFlight).toBe(0);
  });

  it('releases the slot when the consumer destroys the stream', async () => {
    const srv = await serve((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
        res.write(Buffer.alloc(64 * 1024));
        return; // never finishes
      }
      res.end(TAGS);
    });
    const { reg } = registry(srv.host, { maxConcurrency: 1 });
    const stream = await reg.blobGet('ns/app', {
      mediaType: 'x',
      digest: `sha256:${'c'.repeat(64)}`,
      size: 10 * 1024 * 1024,
    });
    stream.destroy();
    expect(await reg.tagList('ns/app')).toEqual(['v1']);
    expect(reg.inFlight).toBe(0);
  });
});

describe('cancellation', () => {
  it('does not send a request whose signal already aborted', async () => {
    const srv = await serve((_req, res) => res.end(TAGS));
    const { reg, events } = registry(srv.host);
    const ac = new AbortController();
    ac.abort();
    const err = await rejection(reg.tagList('ns/app', ac.signal));
    expect(err.code).toBe('CANCELLED');
    expect(events).toHaveLength(0);
  });

  it('cancels a blob download midway, releasing its slot', async () => {
    const srv = await serve((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': String(1024 * 1024) });
        res.write(Buffer.alloc(1024));
        return; // the rest never comes
      }
      res.end(TAGS);
    });
    const { reg } = registry(srv.host, { maxConcurrency: 1 });
    const ac = new AbortController();
    const stream = await reg.blobGet(
      'ns/app',
      { mediaType: 'x', digest: `sha256:${'e'.repeat(64)}`, size: 1024 * 1024 },
      { signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 50);
    const err = await (async () => {
      for await (const _ of stream) {
        // drain until the abort
      }
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(reg.stats.resumes).toBe(0);
    expect(await reg.tagList('ns/app')).toEqual(['v1']);
  });
});

describe('a signal shared by many requests', () => {
  it('adds one listener to it, and still cancels every request', async () => {
    const srv = await serve((req, res) => {
      if (req.url?.includes('/slow/')) return; // never answers
      setTimeout(() => res.end(TAGS), 5);
    });
    const { reg } = registry(srv.host, { maxConcurrency: 4 });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const ac = new AbortController();
    try {
      const ok = await Promise.all(
        Array.from({ length: 40 }, (_, i) => reg.tagList(`ns/app${i}`, ac.signal)),
      );
      expect(ok.every((t) => t[0] === 'v1')).toBe(true);
      const hung = Array.from({ length: 12 }, (_, i) =>
        reg.tagList(`slow/app${i}`, ac.signal).catch((e: unknown) => e),
      );
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      const errors = await Promise.all(hung);
      expect(errors.every((e) => (e as FerryError).code === 'CANCELLED')).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      expect(reg.inFlight).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('redirects', () => {
  it('follows a blob redirect to another origin without the registry credentials', async () => {
    const blob = Buffer.from('layer bytes from the CDN');
    const seen: Array<{ where: string; authorization: string | undefined }> = [];
    const cdn = await serve((req, res) => {
      seen.push({ where: 'cdn', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    });
    const srv = await serve((req, res) => {
      seen.push({ where: 'registry', authorization: req.headers.authorization });
      res.writeHead(307, { location: `${cdn.url}/storage/blob?sig=abc` });
      res.end();
    });
    const { reg, events } = registry(srv.host, { token: 'secret-token' });
    const stream = await reg.blobGet('ns/app', {
      mediaType: 'x',
      digest: `sha256:${'d'.repeat(64)}`,
      size: blob.length,
    });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(blob.toString());
    expect(seen).toEqual([
      { where: 'registry', authorization: 'Bearer secret-token' },
      { where: 'cdn', authorization: undefined },
    ]);
    expect(events.map((e) => [e.status, new URL(e.url).host])).toEqual([
      [307, srv.host],
      [200, cdn.host],
    ]);
  });
});

describe('pagination links', () => {
  it('finds rel="next" among several links and resolves it', () => {
    const base = new URL('http://r.example/v2/_catalog?n=2');
    expect(nextLink({ link: '</v2/_catalog?last=b&n=2>; rel="next"' }, base)?.toString()).toBe(
      'http://r.example/v2/_catalog?last=b&n=2',
    );
    expect(
      nextLink(
        { link: '<https://x.example/p1>; rel="prev", <https://x.example/p3>; rel=next' },
        base,
      )?.toString(),
    ).toBe('https://x.example/p3');
    expect(nextLink({ link: '</a>; rel="prev"' }, base)).toBeUndefined();
    expect(nextLink({}, base)).toBeUndefined();
  });
});

describe('transport options', () => {
  it('rejects nonsense options with INVALID_ARGUMENT', () => {
    expect(() => new Transport({ host: 'r.example', maxConcurrency: 0 })).toThrow(/maxConcurrency/);
    expect(() => new Transport({ host: 'r.example', retry: { attempts: -1 } })).toThrow(
      /retry.attempts/,
    );
    try {
      new Transport({ host: 'r.example', idleTimeoutMs: Number.NaN });
    } catch (err) {
      expect(isFerryError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
