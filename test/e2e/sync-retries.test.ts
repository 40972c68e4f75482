// Must show (issue 4): sync jobs on real registries, with a fault proxy in front of region B.
// A target whose manifest PUTs answer 503 for longer than one job attempt can absorb: the job
// retries with Ferry's backoff and ends `success`, the image exact at B (skopeo). A target
// that stays down (503 to everything): the job ends `failed` after exactly
// workers.maxAttempts attempts, and sync_images answers the tag. A permanent refusal (403)
// fails at once, without retries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/registry/http/transport.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { getToken, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';

const MAX_ATTEMPTS = 3;
// Each request is tried DEFAULTS.attempts (5) times by the transport before the copy fails.
const TRANSPORT_ATTEMPTS = DEFAULTS.attempts;
const WAIT_SECONDS = 30;

/** A sync job as GET .../sync_job lists it (the fields this file reads). */
interface JobView {
  tag: string;
  status: string;
  attempts: number;
  digest: string | null;
  errorReason: string | null;
}

describe('sync job retries against a failing target registry', () => {
  let b: TestRegistry;
  let proxy: FaultProxy;
  let t: TestFerry;
  let tokenA: string;
  let tokenB: string;
  const images = new Map<string, PushedImage>();

  const api = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { 'x-auth-token': token, 'content-type': 'application/json;charset=utf-8' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: (text === '' ? undefined : JSON.parse(text)) as unknown };
  };

  /** POST sync_images of `repo:v1` from src1 in A to dst1 in B. */
  const syncImages = (repo: string) =>
    api(tokenA, 'POST', `/v2/manage/namespaces/src1/repos/${repo}/sync_images`, {
      imageTag: ['v1'],
      remoteRegionId: 'cn-east-3',
      remoteNamespace: 'dst1',
      override: false,
    });

  /** The newest sync job of `src1/repo`, through the API. */
  const latestJob = async (repo: string): Promise<JobView | undefined> => {
    const res = await api(
      tokenA,
      'GET',
      `/v2/manage/namespaces/src1/repos/${repo}/sync_job?filter=limit::1|offset::0|order::desc`,
    );
    expect(res.status).toBe(200);
    return (res.json as JobView[])[0];
  };

  beforeAll(async () => {
    // Region B's own registry, reached by Ferry only through the proxy (startTestFerry's
    // registry for cn-east-3 stays unused).
    b = await startRegistry();
    proxy = await startFaultProxy(b.url);
    t = await startTestFerry({
      regionUrls: { 'cn-east-3': proxy.url },
      waitSeconds: WAIT_SECONDS,
      workers: { maxAttempts: MAX_ATTEMPTS, retryBaseSeconds: 1, retryMaxSeconds: 2 },
    });
    const user = { domain: t.domain, name: t.user, password: t.password };
    [tokenA, tokenB] = await Promise.all([
      getToken(t.url, user, 'cn-north-4'),
      getToken(t.url, user, 'cn-east-3'),
    ]);
    expect((await api(tokenA, 'POST', '/v2/manage/namespaces', { namespace: 'src1' })).status).toBe(
      201,
    );
    expect((await api(tokenB, 'POST', '/v2/manage/namespaces', { namespace: 'dst1' })).status).toBe(
      201,
    );
    const a = t.registries.get('cn-north-4')!;
    for (const repo of ['flaky', 'down', 'denied']) {
      images.set(
        repo,
        await pushImage(a.url, `src1/${repo}`, 'v1', {
          layers: [
            { size: 30_000, seed: `${repo}-1` },
            { size: 2000, seed: `${repo}-2` },
          ],
        }),
      );
    }
  });

  afterAll(async () => {
    await t?.stop();
    await proxy?.stop();
    await b?.stop();
  });

  it('retries a target that answers 503 to manifest PUTs, then recovers: success, attempts 2, exact at B', async () => {
    proxy.clearLog();
    // Exactly what one job attempt absorbs: the transport tries the PUT TRANSPORT_ATTEMPTS
    // times, the last 503 fails the attempt; the registry is back for the second attempt.
    // (Uploads are not faulted here: the copy engine retries a blob 5 times over the
    // transport's 5, which would stretch one attempt to ~15 s.)
    const outage = proxy.addRule({
      method: 'PUT',
      path: /^\/v2\/dst1\/flaky\/manifests\//,
      times: TRANSPORT_ATTEMPTS,
      fault: { type: 'status', status: 503 },
    });
    const answer = syncImages('flaky');
    // Between the attempts the job waits, its reason recorded.
    const between = await waitFor(
      async () => {
        const job = await latestJob('flaky');
        return job?.status === 'waiting' && job.attempts === 1 ? job : undefined;
      },
      20_000,
      'the first attempt to fail',
    );
    expect(between.errorReason).toMatch(/^REGISTRY_UNAVAILABLE: .*PUT manifest .*503/);

    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
    const job = (await latestJob('flaky'))!;
    const image = images.get('flaky')!;
    expect(job).toMatchObject({ tag: 'v1', status: 'success', digest: image.digest });
    // One failed attempt, one that went through.
    expect(job.attempts).toBe(2);
    expect(job.errorReason).toBeNull();
    expect(outage.hits).toBe(TRANSPORT_ATTEMPTS);
    // B saw the 503s and then one manifest PUT that went through.
    expect(proxy.count({ kind: 'manifest', method: 'PUT', status: 503 })).toBe(TRANSPORT_ATTEMPTS);
    expect(proxy.count({ kind: 'manifest', method: 'PUT', status: 201 })).toBe(1);
    // Checked at B itself, not through the proxy.
    const raw = await skopeoInspectRaw(dockerRef(b.host, 'dst1/flaky', 'v1'));
    expect(raw.digest).toBe(image.digest);
    expect(raw.bytes.equals(image.manifest)).toBe(true);
  });

  it('gives up on a target that stays down after exactly maxAttempts attempts, and answers the tag', async () => {
    proxy.clearRules();
    proxy.clearLog();
    proxy.addRule({ path: /.*/, fault: { type: 'status', status: 503 } });
    const started = Date.now();
    const res = await syncImages('down');
    const tookMs = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.json).toEqual(['v1']);
    // Answered before the wait ran out: the job had failed, not merely not finished.
    expect(tookMs).toBeLessThan(WAIT_SECONDS * 1000);
    const job = (await latestJob('down'))!;
    expect(job).toMatchObject({ tag: 'v1', status: 'failed', attempts: MAX_ATTEMPTS });
    expect(job.errorReason).toMatch(/^REGISTRY_UNAVAILABLE: /);
    expect(job.errorReason).toMatch(/503/);
    expect(job.errorReason).toMatch(new RegExp(`\\(after ${MAX_ATTEMPTS} attempts\\)$`));

    // From B's side: each attempt is the target HEAD, tried TRANSPORT_ATTEMPTS times.
    const seen = proxy.find();
    expect(seen.every((r) => r.method === 'HEAD' && r.kind === 'manifest')).toBe(true);
    expect(seen.every((r) => r.status === 503)).toBe(true);
    expect(seen).toHaveLength(MAX_ATTEMPTS * TRANSPORT_ATTEMPTS);
    // Ferry's backoff between attempts (retryBaseSeconds 1, retryMaxSeconds 2, jitter on the
    // upper half): at least 0.5 s after the first attempt and 1 s after the second.
    const gap = (i: number) => seen[i]!.startedAt - seen[i - 1]!.startedAt;
    expect(gap(TRANSPORT_ATTEMPTS)).toBeGreaterThanOrEqual(500);
    expect(gap(2 * TRANSPORT_ATTEMPTS)).toBeGreaterThanOrEqual(1000);

    proxy.clearRules();
    const head = await fetch(`${b.url}/v2/dst1/down/manifests/v1`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('fails a permanent refusal (403) at once, without retries', async () => {
    proxy.clearRules();
    proxy.clearLog();
    proxy.addRule({
      method: 'PUT',
      path: /\/manifests\//,
      fault: { type: 'status', status: 403 },
    });
    const res = await syncImages('denied');
    expect(res.json).toEqual(['v1']);
    const job = (await latestJob('denied'))!;
    expect(job).toMatchObject({ status: 'failed', attempts: 1 });
    expect(job.errorReason).toMatch(/^DENIED: .*PUT manifest .*403/);
    expect(job.errorReason).not.toMatch(/after/);
    expect(proxy.count({ kind: 'manifest', method: 'PUT' })).toBe(1);
    proxy.clearRules();
  });
});
