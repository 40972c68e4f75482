// Blob operations against a real docker-registry (uploads in every mode, HEAD, GET with
// offset, mounts, a failing body stream, memory use on a large upload), and resumption of a
// cut download against a tiny local server.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../errors/catalog.js';
import { sha256Digest } from '../digest.js';
import type { Descriptor } from '../types.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { HttpRegistry } from './registry.js';
import { Transport } from './transport.js';

let server: TestRegistry;
let reg: HttpRegistry;
const events: Array<{ method: string; url: string; status: number }> = [];

beforeAll(async () => {
  server = await startRegistry();
  reg = new HttpRegistry({
    host: server.host,
    retry: { baseDelayMs: 5, maxDelayMs: 50 },
    onRequest: (e) => events.push(e),
  });
});

afterAll(async () => {
  await reg?.close();
  await server?.stop();
});

function blobOf(bytes: Buffer): Descriptor {
  return { mediaType: 'application/octet-stream', digest: sha256Digest(bytes), size: bytes.length };
}

/** A stream that hands out `bytes` in pieces of `piece` bytes. */
function streamOf(bytes: Buffer, piece = 16 * 1024): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= bytes.length) {
        this.push(null);
        return;
      }
      this.push(bytes.subarray(at, at + piece));
      at += piece;
    },
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function since(mark: number) {
  return events.slice(mark);
}

describe('uploads', () => {
  for (const mode of ['monolithic', 'chunked', 'stream'] as const) {
    it(`pushes and pulls a blob in ${mode} mode`, async () => {
      const bytes = randomBytes(300 * 1024 + 17);
      const desc = blobOf(bytes);
      const mark = events.length;
      await reg.blobPut('blobs/up', desc, streamOf(bytes), { mode, chunkSize: 100 * 1024 });
      const sent = since(mark).map((e) => `${e.method} ${e.status}`);
      if (mode === 'monolithic') expect(sent).toEqual(['POST 202', 'PUT 201']);
      // 300 KiB + 17 in chunks of 100 KiB: four PATCHes, each to the Location before.
      if (mode === 'chunked') {
        expect(sent).toEqual([
          'POST 202',
          'PATCH 202',
          'PATCH 202',
          'PATCH 202',
          'PATCH 202',
          'PUT 201',
        ]);
      }
      if (mode === 'stream') expect(sent).toEqual(['POST 202', 'PATCH 202', 'PUT 201']);
      expect(await reg.blobHead('blobs/up', desc.digest)).toBe(bytes.length);
      const got = await readAll(await reg.blobGet('blobs/up', desc));
      expect(got.equals(bytes)).toBe(true);
    });
  }

  it('chunks a tiny blob in 4-byte PATCHes', async () => {
    const bytes = randomBytes(10);
    const desc = blobOf(bytes);
    const mark = events.length;
    await reg.blobPut('blobs/tiny', desc, streamOf(bytes, 3), { mode: 'chunked', chunkSize: 4 });
    expect(since(mark).filter((e) => e.method === 'PATCH')).toHaveLength(3);
    expect(await readAll(await reg.blobGet('blobs/tiny', desc))).toEqual(bytes);
  });

  it('raises the chunk size to OCI-Chunk-Min-Length and follows each Location', async () => {
    // distribution 2.8 sends no OCI-Chunk-Min-Length, so a local server plays the registry.
    const seen: string[] = [];
    const received: Buffer[] = [];
    const srv = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        seen.push(`${req.method} ${req.url} ${req.headers['content-range'] ?? '-'} ${body.length}`);
        if (req.method === 'POST') {
          res.writeHead(202, { location: '/upload/s1?state=a', 'oci-chunk-min-length': '5' });
        } else if (req.method === 'PATCH') {
          received.push(body);
          const n = received.length;
          // Relative and absolute Locations both occur in the wild.
          const next =
            n % 2 === 1
              ? `http://${req.headers.host}/upload/s${n + 1}?state=b`
              : `/upload/s${n + 1}`;
          res.writeHead(202, { location: next, range: `0-${Buffer.concat(received).length - 1}` });
        } else {
          res.writeHead(201);
        }
        res.end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const r = new HttpRegistry({ host: `127.0.0.1:${port}` });
    try {
      const bytes = randomBytes(12);
      const desc = blobOf(bytes);
      await r.blobPut('ns/app', desc, streamOf(bytes, 1), { mode: 'chunked', chunkSize: 2 });
      expect(seen).toEqual([
        'POST /v2/ns/app/blobs/uploads/ - 0',
        'PATCH /upload/s1?state=a 0-4 5',
        'PATCH /upload/s2?state=b 5-9 5',
        'PATCH /upload/s3 10-11 2',
        // The digest joins the query the registry put in the Location.
        `PUT /upload/s4?state=b&digest=${encodeURIComponent(desc.digest)} - 0`,
      ]);
      expect(Buffer.concat(received).equals(bytes)).toBe(true);
    } finally {
      await r.close();
      await new Promise<void>((done) => srv.close(() => done()));
    }
  });

  it('reads from an offset', async () => {
    const bytes = randomBytes(50_000);
    const desc = blobOf(bytes);
    await reg.blobPut('blobs/offset', desc, streamOf(bytes));
    const got = await readAll(await reg.blobGet('blobs/offset', desc, { offset: 12_345 }));
    expect(got.equals(bytes.subarray(12_345))).toBe(true);
    expect(
      await readAll(await reg.blobGet('blobs/offset', desc, { offset: bytes.length })),
    ).toHaveLength(0);
  });

  it('answers undefined for a blob that is not there, and BLOB_UNKNOWN on GET', async () => {
    const digest = sha256Digest('nobody pushed this');
    expect(await reg.blobHead('blobs/up', digest)).toBeUndefined();
    await expect(
      reg.blobGet('blobs/up', { mediaType: 'x', digest, size: 5 }),
    ).rejects.toMatchObject({
      code: 'BLOB_UNKNOWN',
      message: `${server.host}: GET blob blobs/up@${digest}: 404 blob unknown to registry`,
    });
  });

  it('rethrows the body stream error, aborts the upload and cancels the session', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const desc = blobOf(bytes);
    const failure = new FerryError('DIGEST_MISMATCH', 'source: expected sha256:x, got sha256:y');
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 1024 * 1024) {
          this.destroy(failure);
          return;
        }
        this.push(bytes.subarray(sent, sent + 64 * 1024));
        sent += 64 * 1024;
      },
    });
    const mark = events.length;
    const err = await reg.blobPut('blobs/fail', desc, body).catch((e: unknown) => e);
    expect(err).toBe(failure);
    const calls = since(mark).map((e) => `${e.method} ${e.status}`);
    expect(calls[0]).toBe('POST 202');
    // distribution may already have dropped the session when the PUT broke (404): either
    // way, we asked for it to go.
    expect(calls.some((c) => c === 'DELETE 204' || c === 'DELETE 404')).toBe(true);
    expect(await reg.blobHead('blobs/fail', desc.digest)).toBeUndefined();
  });

  // A small blob's digest check can fail while the upload session is still being opened. The
  // upload must fail then, not after the idle timeout (2 minutes here, longer than the test).
  it.each(['monolithic', 'stream', 'chunked'] as const)(
    '%s: a body that failed before the session opened fails the upload at once',
    { timeout: 20_000 },
    async (mode) => {
      const patient = new HttpRegistry({ host: server.host, idleTimeoutMs: 120_000 });
      try {
        const bytes = randomBytes(40_000);
        const failure = new FerryError(
          'DIGEST_MISMATCH',
          'source: expected sha256:x, got sha256:y',
        );
        const body = streamOf(bytes);
        body.destroy(failure);
        await expect(
          patient.blobPut(`blobs/early-${mode}`, blobOf(bytes), body, { mode }),
        ).rejects.toBe(failure);
        expect(await patient.blobHead(`blobs/early-${mode}`, blobOf(bytes).digest)).toBeUndefined();
      } finally {
        await patient.close();
      }
    },
  );

  it(
    'a request whose stream body is already closed fails at once',
    { timeout: 20_000 },
    async () => {
      const t = new Transport({ host: server.host, idleTimeoutMs: 120_000 });
      try {
        const body = streamOf(randomBytes(1000));
        body.destroy();
        await expect(
          t.send({
            method: 'PUT',
            url: '/v2/blobs/closed/blobs/uploads/x',
            headers: { 'content-length': '1000' },
            body,
            scopes: [],
            what: 'PUT a closed stream',
          }),
        ).rejects.toMatchObject({ code: 'CONNECTION_FAILED' });
      } finally {
        await t.close();
      }
    },
  );

  it('fails with SIZE_MISMATCH when the stream is shorter than the descriptor', async () => {
    const bytes = randomBytes(1000);
    const desc = { ...blobOf(bytes), size: 2000 };
    await expect(reg.blobPut('blobs/short', desc, streamOf(bytes))).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
    });
  });

  it('streams a 256 MiB upload without holding it in memory', async () => {
    const size = 256 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    // Each MiB differs (its index in the first bytes), so the registry stores real content.
    const blockAt = (i: number): Buffer => {
      const b = Buffer.from(block);
      b.writeUInt32BE(i, 0);
      return b;
    };
    const hash = createHash('sha256');
    for (let i = 0; i < size / block.length; i++) hash.update(blockAt(i));
    const desc = { mediaType: 'x', digest: `sha256:${hash.digest('hex')}`, size };
    let i = 0;
    const body = new Readable({
      read() {
        this.push(i < size / block.length ? blockAt(i++) : null);
      },
    });
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      await reg.blobPut('blobs/big', desc, body);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - base).toBeLessThan(64 * 1024 * 1024);
    expect(await reg.blobHead('blobs/big', desc.digest)).toBe(size);
  });
});

describe('mounts', () => {
  it('mounts a blob from another repository (201)', async () => {
    const bytes = randomBytes(4096);
    const desc = blobOf(bytes);
    await reg.blobPut('mount/src', desc, streamOf(bytes));
    expect(await reg.blobHead('mount/dst', desc.digest)).toBeUndefined();
    const mark = events.length;
    expect(await reg.blobMount('mount/dst', desc.digest, 'mount/src')).toBe(true);
    const post = since(mark)[0];
    expect(post?.status).toBe(201);
    expect(post?.url).toContain(`mount=${encodeURIComponent(desc.digest)}`);
    expect(post?.url).toContain('from=mount%2Fsrc');
    expect(await reg.blobHead('mount/dst', desc.digest)).toBe(4096);
  });

  it('answers false and cancels the session when the registry cannot mount (202)', async () => {
    const digest = sha256Digest('not in any repository');
    const mark = events.length;
    expect(await reg.blobMount('mount/dst', digest, 'mount/src')).toBe(false);
    expect(since(mark).map((e) => `${e.method} ${e.status}`)).toEqual(['POST 202', 'DELETE 204']);
  });
});

describe('resuming a cut download', () => {
  const blob = randomBytes(512 * 1024);
  const desc = blobOf(blob);

  async function serveBlob(
    handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  ): Promise<{ host: string; close: () => Promise<void> }> {
    let n = 0;
    const srv = createServer((req, res) => handler(req, res, n++));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return {
      host: `127.0.0.1:${port}`,
      close: () =>
        new Promise((r) => {
          srv.closeAllConnections();
          srv.close(() => r());
        }),
    };
  }

  /** Sends the first half with the full Content-Length, then drops the connection. */
  function cutHalfway(res: ServerResponse): void {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, blob.length / 2), () => {
      setTimeout(() => res.socket?.destroy(), 20);
    });
  }

  it('resumes with Range from the byte it reached', async () => {
    const ranges: Array<string | undefined> = [];
    const srv = await serveBlob((req, res, n) => {
      ranges.push(req.headers.range);
      if (n === 0) return cutHalfway(res);
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(206, {
        'content-length': String(blob.length - from),
        'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}`,
      });
      res.end(blob.subarray(from));
    });
    const r = new HttpRegistry({ host: srv.host, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const got = await readAll(await r.blobGet('ns/app', desc));
      expect(got.equals(blob)).toBe(true);
      expect(ranges).toEqual([undefined, `bytes=${blob.length / 2}-`]);
      expect(r.stats.resumes).toBe(1);
      expect(r.stats.resumedBytes).toBe(blob.length / 2);
      expect(r.inFlight).toBe(0);
    } finally {
      await r.close();
      await srv.close();
    }
  });

  it('skips what it has when the server ignores Range and answers 200', async () => {
    const srv = await serveBlob((_req, res, n) => {
      if (n === 0) return cutHalfway(res);
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    });
    const r = new HttpRegistry({ host: srv.host, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const got = await readAll(await r.blobGet('ns/app', desc));
      expect(got.equals(blob)).toBe(true);
      expect(r.stats.resumes).toBe(1);
    } finally {
      await r.close();
      await srv.close();
    }
  });

  it('resumes from an offset and gives up after the attempts', async () => {
    const ranges: Array<string | undefined> = [];
    const srv = await serveBlob((req, res) => {
      ranges.push(req.headers.range);
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(206, {
        'content-length': String(blob.length - from),
        'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}`,
      });
      // Every answer sends 1000 bytes and drops the connection.
      res.write(blob.subarray(from, from + 1000), () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
    });
    const r = new HttpRegistry({
      host: srv.host,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      const stream = await r.blobGet('ns/app', desc, { offset: 100 });
      const err = await readAll(stream).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FerryError);
      expect((err as FerryError).code).toBe('CONNECTION_FAILED');
      expect((err as FerryError).message).toContain(`GET blob ns/app@${desc.digest}`);
      expect(ranges).toEqual(['bytes=100-', 'bytes=1100-', 'bytes=2100-']);
      expect(r.stats.resumes).toBe(2);
      expect(r.stats.resumedBytes).toBe(3000);
    } finally {
      await r.close();
      await srv.close();
    }
  });

  it('times out a body that stalls, then resumes', async () => {
    const srv = await serveBlob((req, res, n) => {
      if (n === 0) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 1000)); // and then nothing
        return;
      }
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(206, { 'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}` });
      res.end(blob.subarray(from));
    });
    const r = new HttpRegistry({
      host: srv.host,
      idleTimeoutMs: 100,
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      const got = await readAll(await r.blobGet('ns/app', desc));
      expect(got.equals(blob)).toBe(true);
      expect(r.stats.resumedBytes).toBe(1000);
    } finally {
      await r.close();
      await srv.close();
    }
  });
});
