import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/registry/types.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import {
  pushBlob,
  pushBlobStream,
  pushImage,
  randomBytes,
  randomDigest,
  sha256Digest,
  type PushedImage,
} from './images.js';
import { startRegistry, type TestRegistry } from './registry.js';

/** What a raw socket saw: the head, the body bytes, and how the connection ended. */
interface RawExchange {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** `end`: the server sent FIN; `reset`: ECONNRESET; `timeout`: nothing more came. */
  ending: 'end' | 'reset' | 'timeout' | 'complete';
}

// A bare socket shows exactly how the proxy ended a response, which fetch would blur.
function rawRequest(
  host: string,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  timeoutMs = 2000,
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    const parts: Buffer[] = [];
    let done = false;
    const finish = (ending: RawExchange['ending']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const all = Buffer.concat(parts);
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no response head (${ending})`));
        return;
      }
      const [statusLine = '', ...lines] = all.subarray(0, split).toString('latin1').split('\r\n');
      const head: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        head[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: head,
        body: all.subarray(split + 4),
        ending,
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('data', (b: Buffer) => {
      parts.push(b);
      // Stop as soon as a full Content-Length body is in (the proxy keeps connections alive).
      const all = Buffer.concat(parts);
      const split = all.indexOf('\r\n\r\n');
      const m = /content-length:\s*(\d+)/i.exec(all.subarray(0, Math.max(split, 0)).toString());
      if (split >= 0 && m && all.length - split - 4 >= Number(m[1])) finish('complete');
      if (split >= 0 && method === 'HEAD') finish('complete');
    });
    sock.on('end', () => finish('end'));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') finish('reset');
      else if (!done) reject(err);
    });
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}:${port}`];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    sock.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

describe('fault proxy', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let img: PushedImage;
  const blob = randomBytes(256 * 1024, 'proxy-blob');
  const blobPath = `/v2/fp/app/blobs/${sha256Digest(blob)}`;

  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    img = await pushImage(reg.url, 'fp/app', 'v1', { layers: [{ bytes: blob }] });
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.clearLog();
  });

  it('forwards uploads and downloads, rewrites Location, and logs every request', async () => {
    const res = await fetch(`${proxy.url}/v2/fp/up/blobs/uploads/`, { method: 'POST' });
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    expect(res.headers.get('location')?.startsWith(`${proxy.url}/v2/fp/up/blobs/uploads/`)).toBe(
      true,
    );
    proxy.clearLog();

    // Through the proxy: HEAD (missing), POST, PUT to the rewritten Location.
    const bytes = randomBytes(100_000, 'via-proxy');
    await pushBlob(proxy.url, 'fp/up', bytes);
    expect(proxy.requests.map((r) => [r.method, r.kind, r.status])).toEqual([
      ['HEAD', 'blob', 404],
      ['POST', 'upload', 202],
      ['PUT', 'upload', 201],
    ]);
    expect(proxy.requests[2]?.bytesReceived).toBe(100_000);
    expect(proxy.requests[2]?.query).toMatch(/digest=sha256%3A|digest=sha256:/);

    const get = await fetch(`${proxy.url}/v2/fp/up/blobs/${sha256Digest(bytes)}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    const ranged = await fetch(`${proxy.url}${blobPath}`, { headers: { range: 'bytes=1000-' } });
    expect(ranged.status).toBe(206);
    expect((await ranged.arrayBuffer()).byteLength).toBe(blob.length - 1000);
    const man = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
      headers: { accept: MediaType.OciManifest },
    });
    expect(Buffer.from(await man.arrayBuffer()).equals(img.manifest)).toBe(true);

    expect(proxy.count({ method: 'GET', kind: 'blob' })).toBe(2);
    expect(proxy.count({ ranged: true })).toBe(1);
    expect(proxy.find({ ranged: true })[0]).toMatchObject({
      range: 'bytes=1000-',
      status: 206,
      bytesSent: blob.length - 1000,
      outcome: 'ok',
    });
    expect(proxy.find({ kind: 'manifest' })[0]).toMatchObject({
      repository: 'fp/app',
      ref: 'v1',
      bytesSent: img.manifest.length,
    });
  });

  it('streams a large blob both ways', async () => {
    const size = 24 * 1024 * 1024;
    const desc = await pushBlobStream(proxy.url, 'fp/big', size, 'big');
    expect(proxy.find({ method: 'PUT' })[0]?.bytesReceived).toBe(size);
    const res = await fetch(`${proxy.url}/v2/fp/big/blobs/${desc.digest}`);
    expect(sha256Digest(Buffer.from(await res.arrayBuffer()))).toBe(randomDigest(size, 'big'));
    expect(proxy.find({ method: 'GET' })[0]?.bytesSent).toBe(size);
  });

  it('answers an injected status the first N times, then forwards', async () => {
    const rule = proxy.addRule({
      method: 'GET',
      path: /\/manifests\//,
      times: 2,
      fault: { type: 'status', status: 503, headers: { 'Retry-After': '1' } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
        headers: { accept: MediaType.OciManifest },
      });
      await res.arrayBuffer();
      statuses.push(res.status);
      if (i === 0) expect(res.headers.get('retry-after')).toBe('1');
    }
    expect(statuses).toEqual([503, 503, 200]);
    expect(rule.hits).toBe(2);
    expect(proxy.count({ fault: 'status', outcome: 'injected' })).toBe(2);

    proxy.addRule({
      path: /\/blobs\//,
      fault: {
        type: 'status',
        status: 401,
        body: 'nope',
        headers: { 'WWW-Authenticate': 'Basic' },
      },
    });
    const res = await fetch(`${proxy.url}${blobPath}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic');
    expect(await res.text()).toBe('nope');
    // A HEAD that does not match the method filter of another rule still passes through.
    proxy.clearRules();
    proxy.addRule({ method: 'PUT', path: /./, fault: { type: 'status', status: 500 } });
    const head = await fetch(`${proxy.url}${blobPath}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('resets the connection after K body bytes', async () => {
    proxy.addRule({ path: /\/blobs\//, times: 1, fault: { type: 'reset', afterBytes: 5000 } });
    const got = await rawRequest('127.0.0.1', proxy.port, 'GET', blobPath);
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBe(String(blob.length));
    expect(got.ending).toBe('reset');
    expect(got.body.length).toBeLessThanOrEqual(5000);
    expect(blob.subarray(0, got.body.length).equals(got.body)).toBe(true);
    expect(proxy.requests[0]).toMatchObject({ outcome: 'reset', bytesSent: 5000, status: 200 });
    await expect(
      fetch(`${proxy.url}${blobPath}`).then((r) => r.arrayBuffer()),
    ).resolves.toHaveProperty('byteLength', blob.length);
  });

  it('ends the response early and cleanly after K body bytes', async () => {
    proxy.addRule({ path: /\/blobs\//, times: 1, fault: { type: 'close', afterBytes: 5000 } });
    const got = await rawRequest('127.0.0.1', proxy.port, 'GET', blobPath);
    expect(got.ending).toBe('end');
    expect(got.body.equals(blob.subarray(0, 5000))).toBe(true);
    expect(Number(got.headers['content-length'])).toBe(blob.length);
    expect(proxy.requests[0]).toMatchObject({ outcome: 'closed', bytesSent: 5000 });

    // fetch sees the early EOF as an error while reading the body.
    proxy.addRule({ path: /\/blobs\//, times: 1, fault: { type: 'close', afterBytes: 0 } });
    await expect(fetch(`${proxy.url}${blobPath}`).then((r) => r.arrayBuffer())).rejects.toThrow();
  });

  it('stalls after K bytes, and delays', async () => {
    proxy.addRule({ path: /\/blobs\//, times: 1, fault: { type: 'stall', afterBytes: 100 } });
    const got = await rawRequest('127.0.0.1', proxy.port, 'GET', blobPath, {}, 300);
    expect(got.ending).toBe('timeout');
    expect(got.body.equals(blob.subarray(0, 100))).toBe(true);

    proxy.addRule({ path: /\/manifests\//, times: 1, fault: { type: 'delay', ms: 300 } });
    const start = Date.now();
    const res = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
      headers: { accept: MediaType.OciManifest },
    });
    expect(Buffer.from(await res.arrayBuffer()).equals(img.manifest)).toBe(true);
    expect(Date.now() - start).toBeGreaterThanOrEqual(290);
  });

  it('flips bytes of a blob and of a manifest, keeping the length', async () => {
    proxy.addRule({ path: /\/blobs\//, times: 1, fault: { type: 'corrupt' } });
    const res = await fetch(`${proxy.url}${blobPath}`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(blob.length);
    const diff = [...body.keys()].filter((i) => body[i] !== blob[i]);
    expect(diff).toEqual([blob.length / 2]);

    proxy.addRule({
      path: /\/manifests\//,
      times: 1,
      fault: { type: 'corrupt', offset: 10, length: 4 },
    });
    const man = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
      headers: { accept: MediaType.OciManifest },
    });
    const bytes = Buffer.from(await man.arrayBuffer());
    expect(bytes.length).toBe(img.manifest.length);
    expect(bytes.equals(img.manifest)).toBe(false);
    expect(man.headers.get('docker-content-digest')).toBe(img.digest);
    expect([...bytes.keys()].filter((i) => bytes[i] !== img.manifest[i])).toEqual([10, 11, 12, 13]);
  });

  it('replaces a manifest body in flight, keeping the upstream digest header', async () => {
    const rule = proxy.addRule({ path: /\/manifests\//, fault: { type: 'mutateManifest' } });
    const head = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: MediaType.OciManifest },
    });
    expect(Number(head.headers.get('content-length'))).toBe(img.manifest.length);
    expect(rule.hits).toBe(0);

    const res = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
      headers: { accept: MediaType.OciManifest },
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(rule.hits).toBe(1);
    expect(bytes.equals(img.manifest)).toBe(false);
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(res.headers.get('docker-content-digest')).toBe(img.digest);
    const json = JSON.parse(bytes.toString()) as { annotations: Record<string, string> };
    expect(json.annotations['org.example.fault-proxy']).toBe('mutated in flight');

    proxy.clearRules();
    proxy.addRule({
      path: /\/manifests\//,
      fault: { type: 'mutateManifest', mutate: () => Buffer.from('{"schemaVersion":2}') },
    });
    const custom = await fetch(`${proxy.url}/v2/fp/app/manifests/v1`, {
      headers: { accept: MediaType.OciManifest },
    });
    expect(await custom.text()).toBe('{"schemaVersion":2}');
  });

  it('hangs until stopped, and stop() closes hung sockets', async () => {
    const own = await startFaultProxy(reg.url);
    own.addRule({ path: /\/manifests\//, fault: { type: 'hang' } });
    const timedOut = fetch(`${own.url}/v2/fp/app/manifests/v1`, {
      signal: AbortSignal.timeout(300),
    });
    await expect(timedOut).rejects.toThrow();
    const pending = fetch(`${own.url}/v2/fp/app/manifests/v1`).then(
      () => 'answered',
      () => 'failed',
    );
    while (own.requests.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(own.requests.map((r) => [r.outcome, r.status])).toEqual([
      ['hung', 0],
      ['hung', 0],
    ]);
    const start = Date.now();
    await own.stop();
    expect(Date.now() - start).toBeLessThan(1000);
    expect(await pending).toBe('failed');
  });
});
