// HttpRegistry as a whole: scheme and host rules, sameRegistry, and HTTPS with a custom CA
// or deferred extra certificates against a real docker-registry serving an
// openssl-generated certificate.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../errors/catalog.js';
import { sha256Digest } from '../digest.js';
import { makeTls, type TestTls } from '../../../test/helpers/auth.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { HttpRegistry } from './registry.js';
import { isLoopback, registryHost, registryScheme } from './transport.js';
import { DEFERRED_EXTRA_CA_ENV } from './trust.js';

describe('scheme and host', () => {
  it('speaks plain HTTP to loopback and when insecure, HTTPS otherwise', () => {
    expect(registryScheme({ host: 'localhost:5000' })).toBe('http');
    expect(registryScheme({ host: '127.0.0.1:5000' })).toBe('http');
    expect(registryScheme({ host: '127.200.3.4' })).toBe('http');
    expect(registryScheme({ host: '[::1]:5000' })).toBe('http');
    expect(registryScheme({ host: 'registry.example:5000' })).toBe('https');
    expect(registryScheme({ host: '10.0.0.8:5000' })).toBe('https');
    expect(registryScheme({ host: 'registry.example', insecure: true })).toBe('http');
    // Explicit insecure: false, or a CA, asks for TLS even on loopback.
    expect(registryScheme({ host: '127.0.0.1:5000', insecure: false })).toBe('https');
    expect(registryScheme({ host: '127.0.0.1:5000', ca: 'PEM' })).toBe('https');
    expect(isLoopback('128.0.0.1')).toBe(false);
    expect(isLoopback('localhost.example')).toBe(false);
  });

  it('sends docker.io to registry-1.docker.io', () => {
    expect(registryHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(registryHost('Quay.IO')).toBe('quay.io');
    const hub = new HttpRegistry({ host: 'docker.io' });
    expect(hub.name).toBe('docker.io');
    expect(hub.host).toBe('registry-1.docker.io');
    expect(hub.origin).toBe('https://registry-1.docker.io');
  });

  it('tells whether two backends are the same registry', () => {
    const a = new HttpRegistry({ host: 'Registry.Example:5000' });
    expect(a.sameRegistry(new HttpRegistry({ host: 'registry.example:5000' }))).toBe(true);
    expect(a.sameRegistry(new HttpRegistry({ host: 'registry.example:5001' }))).toBe(false);
    expect(
      new HttpRegistry({ host: 'docker.io' }).sameRegistry(
        new HttpRegistry({ host: 'index.docker.io' }),
      ),
    ).toBe(true);
    const notHttp = { ...a, name: a.name, sameRegistry: () => true } as unknown as HttpRegistry;
    expect(a.sameRegistry(notHttp)).toBe(false);
  });

  it('refuses a malformed host', () => {
    expect(() => new HttpRegistry({ host: 'bad host/x' })).toThrow(/not a registry host/);
  });
});

describe('HTTPS with a custom CA', () => {
  let dir: string;
  let tls: TestTls;
  let server: TestRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'));
    tls = await makeTls(dir);
    server = await startRegistry({ tls: tls.server });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes and pulls over TLS when the CA is given', async () => {
    const events: string[] = [];
    const reg = new HttpRegistry({
      host: server.host,
      ca: tls.ca.certPem,
      onRequest: (e) => events.push(e.url),
    });
    try {
      expect(reg.origin).toBe(`https://${server.host}`);
      await reg.ping();
      const bytes = Buffer.from('over tls');
      const desc = {
        mediaType: 'application/octet-stream',
        digest: sha256Digest(bytes),
        size: bytes.length,
      };
      await reg.blobPut('tls/app', desc, Readable.from([bytes]));
      const chunks: Buffer[] = [];
      for await (const c of await reg.blobGet('tls/app', desc)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('over tls');
      expect(events.every((u) => u.startsWith('https://'))).toBe(true);
    } finally {
      await reg.close();
    }
  });

  /** Pings the server with no `ca`, the deferred-certificates variable set to `file`. */
  async function pingWithDeferred(file: string): Promise<unknown> {
    const before = process.env[DEFERRED_EXTRA_CA_ENV];
    process.env[DEFERRED_EXTRA_CA_ENV] = file;
    const reg = new HttpRegistry({ host: server.host, insecure: false });
    try {
      return await reg.ping().then(
        () => 'ok',
        (e: unknown) => e,
      );
    } finally {
      await reg.close();
      if (before === undefined) delete process.env[DEFERRED_EXTRA_CA_ENV];
      else process.env[DEFERRED_EXTRA_CA_ENV] = before;
    }
  }

  it('trusts the NODE_EXTRA_CA_CERTS certificates bin/ferry deferred, besides Node’s roots', async () => {
    const file = join(dir, 'deferred.pem');
    await writeFile(file, tls.ca.certPem);
    expect(await pingWithDeferred(file)).toBe('ok');
  });

  it('skips a deferred file it cannot read with Node’s warning, trusting Node’s roots only', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const missing = join(dir, 'missing.pem');
      const err = await pingWithDeferred(missing);
      expect(isFerryError(err, 'CONNECTION_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(/certificate/);
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([
        `Ignoring extra certs from \`${missing}\`, load failed: ` +
          `ENOENT: no such file or directory, open '${missing}'`,
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fails at once with a permanent CONNECTION_FAILED without the CA', async () => {
    const events: number[] = [];
    const reg = new HttpRegistry({
      host: server.host,
      insecure: false,
      onRequest: (e) => events.push(e.status),
    });
    try {
      const err = await reg.ping().catch((e: unknown) => e);
      expect(isFerryError(err, 'CONNECTION_FAILED')).toBe(true);
      expect((err as { temporary: boolean }).temporary).toBe(false);
      expect((err as Error).message).toMatch(
        new RegExp(`^${server.host.replace(/\./g, '\\.')}: GET /v2/: .*certificate`),
      );
      // A certificate problem does not go away on retry.
      expect(events).toEqual([0]);
    } finally {
      await reg.close();
    }
  });
});
