// Must show (issue 2): faults injected between Ferry and a real registry, on the source and
// on the target side. Each copy ends exact (checked with skopeo) or fails with a clear error
// after the configured attempts, never with a wrong image at the target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyEngine, type ImageResult } from '../../src/registry/copy/engine.js';
import { HttpRegistry } from '../../src/registry/http/registry.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { getManifest, pushImage, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { assertImageEqual } from '../helpers/skopeo.js';

// Small delays keep the suite fast; 4 attempts as a user might configure.
const RETRY = { attempts: 4, baseDelayMs: 20, maxDelayMs: 1500 };
const BIG = 24 << 20;

describe('faults between Ferry and the registries', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let pa: FaultProxy;
  let pb: FaultProxy;
  let small: PushedImage;
  let big: PushedImage;
  let n = 0;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    [pa, pb] = await Promise.all([startFaultProxy(a.url), startFaultProxy(b.url)]);
    small = await pushImage(a.url, 'src/small', 'v1', {
      layers: [
        { size: 40_000, seed: 's1' },
        { size: 3000, seed: 's2' },
      ],
    });
    big = await pushImage(a.url, 'src/big', 'v1', { layers: [{ size: BIG, seed: 'big' }] });
  });

  afterAll(async () => {
    await Promise.all([pa?.stop(), pb?.stop()]);
    await Promise.all([a?.stop(), b?.stop()]);
  });

  /** Copies `image` through both proxies into a fresh target repository. */
  async function copy(
    image: PushedImage,
    idleTimeoutMs = 5000,
  ): Promise<{ result: ImageResult; dstRepo: string }> {
    const dstRepo = `case${++n}/app`;
    const src = new HttpRegistry({ host: pa.host, retry: RETRY, idleTimeoutMs });
    const dst = new HttpRegistry({ host: pb.host, retry: RETRY, idleTimeoutMs });
    try {
      // As the CLI does: ping both sides first.
      await Promise.all([src.ping(), dst.ping()]);
      const engine = new CopyEngine(src, dst, {
        blobAttempts: RETRY.attempts,
        blobRetryDelayMs: 20,
      });
      const [result] = await engine.copyImages([
        { srcRepo: image.repository, srcRef: image.tag!, dstRepo, dstTag: 'v1' },
      ]);
      return { result: result!, dstRepo };
    } finally {
      await Promise.all([src.close(), dst.close()]);
      pa.clearRules();
      pb.clearRules();
    }
  }

  async function expectExact(
    image: PushedImage,
    out: { result: ImageResult; dstRepo: string },
  ): Promise<void> {
    expect(out.result.error?.message).toBeUndefined();
    expect(out.result.status).toBe('copied');
    await assertImageEqual(a.host, image.repository, image.tag!, b.host, out.dstRepo, {
      dstRef: 'v1',
      fullContent: true,
    });
  }

  async function expectNoTag(dstRepo: string): Promise<void> {
    expect(await getManifest(b.url, dstRepo, 'v1')).toBeUndefined();
  }

  const status = (s: number, headers?: Record<string, string>): Fault => ({
    type: 'status',
    status: s,
    ...(headers ? { headers } : {}),
  });
  // [name, fault, [path, method] on the source side, [path, method] on the target side]
  const manifests = /\/manifests\//;
  const blobs = /\/blobs\/sha256:/;
  const uploads = /\/blobs\/uploads\/$/;
  const transient: Array<[string, Fault, [RegExp, string], [RegExp, string]]> = [
    ['503 on the ping', status(503), [/^\/v2\/?$/, 'GET'], [/^\/v2\/?$/, 'GET']],
    ['500 on manifests', status(500), [manifests, 'GET'], [manifests, 'PUT']],
    ['503 on manifest HEADs', status(503), [manifests, 'HEAD'], [manifests, 'HEAD']],
    // A new target repository gets no blob HEADs: its upload start is faulted instead.
    ['503 on blobs', status(503), [blobs, 'GET'], [uploads, 'POST']],
    [
      '429 with Retry-After',
      status(429, { 'Retry-After': '1' }),
      [manifests, 'HEAD'],
      [manifests, 'HEAD'],
    ],
    ['429 without Retry-After', status(429), [blobs, 'GET'], [uploads, 'POST']],
  ];

  describe.each([['source'], ['target']] as const)('on the %s side', (side) => {
    const proxy = (): FaultProxy => (side === 'source' ? pa : pb);

    it.each(transient)('%s: retried, then exact', async (_name, fault, srcRule, dstRule) => {
      const [path, method] = side === 'source' ? srcRule : dstRule;
      const rule = proxy().addRule({ method, path, times: 2, fault });
      const out = await copy(small);
      expect(rule.hits).toBe(2);
      await expectExact(small, out);
    });

    it('a registry that accepts the connection and never answers: timed out, retried', async () => {
      const rule = proxy().addRule({
        method: 'HEAD',
        path: /\/manifests\//,
        times: 1,
        fault: { type: 'hang' },
      });
      const started = Date.now(); // undici's idle timers have ~0.5 s resolution: assert loosely
      const out = await copy(small, 800);
      expect(rule.hits).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      await expectExact(small, out);
    });

    it('a blob request failing for good is tried the configured attempts in all, not once more per blob retry', async () => {
      const [path, method] = side === 'source' ? [blobs, 'GET'] : [uploads, 'POST'];
      const rule = proxy().addRule({ method, path, fault: status(503) });
      const out = await copy(small);
      expect(out.result.status).toBe('failed');
      expect(out.result.error?.code).toBe('REGISTRY_UNAVAILABLE');
      // Every blob of the image is tried (its siblings finish before the image fails).
      expect(rule.hits).toBe(RETRY.attempts * small.blobs.length);
      await expectNoTag(out.dstRepo);
    });

    it('5xx that never stops: fails after the configured attempts with a clear error', async () => {
      const rule = proxy().addRule({ path: /\/manifests\//, fault: status(503) });
      const out = await copy(small);
      expect(out.result.status).toBe('failed');
      expect(out.result.error?.code).toBe('REGISTRY_UNAVAILABLE');
      expect(out.result.error?.message).toContain(side === 'source' ? pa.host : pb.host);
      expect(out.result.error?.message).not.toContain('\n');
      expect(rule.hits).toBe(RETRY.attempts);
      await expectNoTag(out.dstRepo);
    });
  });

  it('target: 503 and 500 on uploads are retried, then exact', async () => {
    const post = pb.addRule({
      method: 'POST',
      path: /\/blobs\/uploads\/$/,
      times: 2,
      fault: status(503),
    });
    const put = pb.addRule({
      method: 'PUT',
      path: /\/blobs\/uploads\//,
      times: 1,
      fault: status(500),
    });
    const out = await copy(small);
    expect(post.hits).toBe(2);
    expect(put.hits).toBe(1);
    await expectExact(small, out);
  });

  it('target: 503 on the manifest PUT is retried, then exact', async () => {
    const rule = pb.addRule({ method: 'PUT', path: /\/manifests\//, times: 2, fault: status(503) });
    const out = await copy(small);
    expect(rule.hits).toBe(2);
    await expectExact(small, out);
  });

  it.each([['reset'], ['close']] as const)(
    'source: a %s in the middle of a large blob resumes from where it was cut',
    async (type) => {
      const cut = 10 << 20;
      const layer = big.blobs.find((d) => d.size === BIG)!;
      pa.clearLog();
      const rule = pa.addRule({
        method: 'GET',
        path: new RegExp(`/blobs/${layer.digest}`),
        times: 1,
        fault: { type, afterBytes: cut },
      });
      const out = await copy(big);
      expect(rule.hits).toBe(1);
      await expectExact(big, out);
      const gets = pa.find({ method: 'GET', kind: 'blob' }).filter((r) => r.ref === layer.digest);
      expect(gets).toHaveLength(2);
      const resumed = gets[1]!;
      const from = Number(/^bytes=(\d+)-$/.exec(resumed.range ?? '')?.[1]);
      // Resumed at the byte it reached: nothing before the cut was fetched twice.
      expect(from).toBeGreaterThan(0);
      expect(from).toBeLessThanOrEqual(cut);
      expect(gets[0]!.bytesSent).toBeGreaterThanOrEqual(from);
      expect(resumed.bytesSent).toBe(BIG - from);
    },
  );

  it('source: a large blob cut on every GET is resumed the configured attempts in all, then fails', async () => {
    const layer = big.blobs.find((d) => d.size === BIG)!;
    pa.clearLog();
    pa.addRule({
      method: 'GET',
      path: new RegExp(`/blobs/${layer.digest}`),
      fault: { type: 'reset', afterBytes: 1 << 20 },
    });
    const out = await copy(big);
    expect(out.result.status).toBe('failed');
    const gets = pa.find({ method: 'GET', kind: 'blob' }).filter((r) => r.ref === layer.digest);
    // The first GET and its resumes; the blob loop does not start it all over again.
    expect(gets).toHaveLength(RETRY.attempts);
    await expectNoTag(out.dstRepo);
  });

  it.each([['reset'], ['close']] as const)(
    'target: a %s while uploading a large blob starts that blob again, then exact',
    async (type) => {
      const rule = pb.addRule({
        method: 'PUT',
        path: /\/blobs\/uploads\//,
        times: 1,
        fault: { type },
      });
      const out = await copy(big);
      expect(rule.hits).toBe(1);
      await expectExact(big, out);
    },
  );

  it('source: a blob served corrupted fails with DIGEST_MISMATCH and the tag never appears', async () => {
    const layer = small.blobs.find((d) => d.size === 40_000)!;
    pa.addRule({
      method: 'GET',
      path: new RegExp(`/blobs/${layer.digest}`),
      fault: { type: 'corrupt' },
    });
    const out = await copy(small);
    expect(out.result.status).toBe('failed');
    expect(out.result.error?.code).toBe('DIGEST_MISMATCH');
    expect(out.result.error?.message).toContain(layer.digest);
    await expectNoTag(out.dstRepo);
    // And the corrupted bytes were not committed under that digest at the target.
    const head = await fetch(`${b.url}/v2/${out.dstRepo}/blobs/${layer.digest}`, {
      method: 'HEAD',
    });
    expect(head.status).toBe(404);
  });

  it('source: one corrupted blob fails the image only once its other blobs are on the target', async () => {
    const bad = small.blobs.find((d) => d.size === 40_000)!;
    const sibling = small.blobs.find((d) => d.size === 3000)!;
    pa.addRule({
      method: 'GET',
      path: new RegExp(`/blobs/${bad.digest}`),
      fault: { type: 'corrupt' },
    });
    // Longer than the second a closing registry client gives requests in flight.
    pa.addRule({
      method: 'GET',
      path: new RegExp(`/blobs/${sibling.digest}`),
      fault: { type: 'delay', ms: 1500 },
    });
    const out = await copy(small);
    expect(out.result.status).toBe('failed');
    expect(out.result.error?.code).toBe('DIGEST_MISMATCH');
    await expectNoTag(out.dstRepo);
    const headAtTarget = async (digest: string) =>
      (await fetch(`${b.url}/v2/${out.dstRepo}/blobs/${digest}`, { method: 'HEAD' })).status;
    expect(await headAtTarget(bad.digest)).toBe(404);
    // The sibling was not cut off: the next attempt finds it there.
    expect(await headAtTarget(sibling.digest)).toBe(200);
  });

  it('source: a manifest altered in flight is refused', async () => {
    pa.addRule({ method: 'GET', path: /\/manifests\//, fault: { type: 'mutateManifest' } });
    const out = await copy(small);
    expect(out.result.status).toBe('failed');
    expect(out.result.error?.code).toBe('DIGEST_MISMATCH');
    await expectNoTag(out.dstRepo);
  });

  it('client: a manifest fetched by tag must match Docker-Content-Digest', async () => {
    pa.addRule({ method: 'GET', path: /\/manifests\/v1$/, fault: { type: 'mutateManifest' } });
    const src = new HttpRegistry({ host: pa.host, retry: RETRY });
    try {
      await expect(src.manifestGet('src/small', 'v1')).rejects.toMatchObject({
        code: 'DIGEST_MISMATCH',
      });
    } finally {
      await src.close();
      pa.clearRules();
    }
  });
});
