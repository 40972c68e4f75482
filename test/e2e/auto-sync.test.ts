// Must show (auto-sync, huawei-compat.md section 3): a push made by skopeo into a repository
// with an auto-sync rule reaches the other region within 10 s through the registry's own
// notification, with a `success` job by `auto-sync`; the events endpoint's answers (401 for
// wrong, missing or foreign tokens, 400 SVCSTG.SWR.4000014 for malformed envelopes) and its
// deduplication (per event id, and per rule, tag and digest); events stored while no worker
// runs are all processed once workers start; and the reconciler syncs what no event announced.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getToken, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { dockerRef, skopeoCopy, skopeoInspectRaw } from '../helpers/skopeo.js';

const A = 'cn-north-4';
const B = 'cn-east-3';
/** What CNCF distribution sends its envelopes as. */
const EVENTS_TYPE = 'application/vnd.docker.distribution.events.v1+json';

interface Reply {
  status: number;
  text: string;
  json: () => unknown;
}

async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

/** An SWR API call with an X-Auth-Token. */
function api(t: TestFerry, token: string, method: string, path: string, body?: unknown) {
  return send(
    `${t.url}${path}`,
    method,
    { 'X-Auth-Token': token, 'Content-Type': 'application/json;charset=utf-8' },
    body === undefined ? undefined : JSON.stringify(body),
  );
}

/** POST /v2/events/registries/{region}: `auth` is the whole Authorization header (null: none). */
function postEvents(t: TestFerry, region: string, auth: string | null, body: unknown) {
  return send(
    `${t.url}/v2/events/registries/${region}`,
    'POST',
    { 'Content-Type': EVENTS_TYPE, ...(auth === null ? {} : { Authorization: auth }) },
    typeof body === 'string' ? body : JSON.stringify(body),
  );
}

/** A push event as distribution writes it (the fields Ferry reads, and a few it does not). */
function pushEvent(id: string, image: PushedImage) {
  return {
    id,
    timestamp: new Date().toISOString(),
    action: 'push',
    target: {
      mediaType: image.mediaType,
      size: image.manifest.length,
      digest: image.digest,
      length: image.manifest.length,
      repository: image.repository,
      tag: image.tag,
    },
    request: { method: 'PUT', useragent: 'ferry-test' },
    source: { addr: 'registry-a:5000' },
  };
}

function swrError(text: string): { error_code: string; error_msg: string } {
  const parsed = JSON.parse(text) as { error_code: string; error_msg: string; errors: unknown[] };
  expect(parsed.errors).toHaveLength(1);
  return parsed;
}

/** The digest of `repo:tag` at a registry by skopeo, or undefined when it is not there. */
async function digestAt(host: string, repo: string, tag: string): Promise<string | undefined> {
  try {
    return (await skopeoInspectRaw(dockerRef(host, repo, tag), { timeoutMs: 10_000 })).digest;
  } catch {
    return undefined;
  }
}

/** Waits until `repo:tag` at `host` has `digest`. */
function waitForDigest(host: string, repo: string, tag: string, digest: string, ms: number) {
  return waitFor(
    async () => ((await digestAt(host, repo, tag)) === digest ? true : undefined),
    ms,
    `${host}/${repo}:${tag} at ${digest}`,
  );
}

interface JobJson {
  tag: string;
  status: string;
  syncOperatorName: string;
  syncOperatorId: string;
  remoteRegionId: string;
  remoteNamespace: string;
  digest: string | null;
  attempts: number;
  errorReason: string | null;
}

/** The sync jobs of a repository by the API, newest first. */
async function listJobs(t: TestFerry, token: string, ns: string, repo: string) {
  const res = await api(
    t,
    token,
    'GET',
    `/v2/manage/namespaces/${ns}/repos/${repo.replaceAll('/', '$')}/sync_job?filter=limit::100|offset::0|order::desc`,
  );
  expect(res.status).toBe(200);
  return res.json() as JobJson[];
}

/** The sync_jobs rows of one tag and source digest. */
function jobRows(t: TestFerry, tag: string, digest: string) {
  return t.ferry.db
    .selectFrom('sync_jobs')
    .selectAll()
    .where('tag', '=', tag)
    .where('src_digest', '=', digest)
    .execute();
}

/** Project tokens for both regions, ns1 in A and ns2 in B, and auto-sync rules ns1/<repo> -> B/ns2. */
async function setUp(t: TestFerry, repos: string[]): Promise<{ tokenA: string; tokenB: string }> {
  const user = { domain: t.domain, name: t.user, password: t.password };
  const tokenA = await getToken(t.url, user, A);
  const tokenB = await getToken(t.url, user, B);
  expect((await api(t, tokenA, 'POST', '/v2/manage/namespaces', { namespace: 'ns1' })).status).toBe(
    201,
  );
  expect((await api(t, tokenB, 'POST', '/v2/manage/namespaces', { namespace: 'ns2' })).status).toBe(
    201,
  );
  for (const repo of repos) await addRule(t, tokenA, repo);
  return { tokenA, tokenB };
}

async function addRule(t: TestFerry, tokenA: string, repo: string): Promise<void> {
  const res = await api(t, tokenA, 'POST', `/v2/manage/namespaces/ns1/repos/${repo}/sync_repo`, {
    remoteRegionId: B,
    remoteNamespace: 'ns2',
    syncAuto: true,
    override: false,
  });
  expect(res.status, res.text).toBe(200);
}

describe('auto-sync on push events from the registry (notifications configured)', () => {
  let t: TestFerry;
  let tokenA: string;

  beforeAll(async () => {
    t = await startTestFerry({ notifications: true });
    ({ tokenA } = await setUp(t, ['app']));
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('syncs a tag pushed by skopeo to the other region within 10 s, with a success job by auto-sync', async () => {
    // Events alone: the reconciler is off in this Ferry.
    expect(t.config.autoSync.reconcileSeconds).toBe(0);
    const a = t.registries.get(A)!;
    const b = t.registries.get(B)!;
    // A repository without a rule holds the image skopeo copies from.
    const src = await pushImage(a.url, 'src/base', 'v1', {
      layers: [
        { size: 300_000, seed: 'auto-base' },
        { size: 40_000, seed: 'auto-v1' },
      ],
    });
    await skopeoCopy(dockerRef(a.host, 'src/base', 'v1'), dockerRef(a.host, 'ns1/app', 'v1'));
    const pushedAt = Date.now();
    expect(await digestAt(a.host, 'ns1/app', 'v1')).toBe(src.digest);

    await waitForDigest(b.host, 'ns2/app', 'v1', src.digest, 10_000);
    const elapsed = Date.now() - pushedAt;
    expect(elapsed).toBeLessThan(10_000);
    const atB = await skopeoInspectRaw(dockerRef(b.host, 'ns2/app', 'v1'));
    expect(atB.digest).toBe(src.digest);
    expect(atB.bytes.equals(src.manifest)).toBe(true);

    const job = await waitFor(
      async () =>
        (await listJobs(t, tokenA, 'ns1', 'app')).find(
          (j) => j.tag === 'v1' && j.status === 'success',
        ),
      5_000,
      'a success job for v1',
    );
    expect(job).toMatchObject({
      tag: 'v1',
      status: 'success',
      syncOperatorName: 'auto-sync',
      remoteRegionId: B,
      remoteNamespace: 'ns2',
      digest: src.digest,
      attempts: 1,
      errorReason: null,
    });
    // One job for the push, however many events the registry sent about it.
    expect((await listJobs(t, tokenA, 'ns1', 'app')).filter((j) => j.tag === 'v1')).toHaveLength(1);
    // It came from the registry's own event, stored and processed.
    const events = await t.ferry.db
      .selectFrom('registry_events')
      .selectAll()
      .where('source_id', '=', A)
      .where('repository', '=', 'ns1/app')
      .where('tag', '=', 'v1')
      .execute();
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ action: 'push', digest: src.digest });
    expect(events.every((e) => e.processed_at !== null)).toBe(true);
  });
});

describe('events endpoint, workers and the reconciler (registries without notifications)', () => {
  let t: TestFerry;
  let tokenA: string;
  const eventToken = 'test-event-token-0123456789abcdef';
  let a: { url: string; host: string };
  let b: { url: string; host: string };

  beforeAll(async () => {
    t = await startTestFerry();
    // Only A gets an event token; its registry sends nothing, so every event here is ours.
    await t.restart((c) => ({
      ...c,
      regions: c.regions.map((r) => (r.id === A ? { ...r, eventToken } : r)),
    }));
    ({ tokenA } = await setUp(t, ['app']));
    a = t.registries.get(A)!;
    b = t.registries.get(B)!;
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('401 for a wrong, missing or foreign token and an unknown region; 400 for malformed envelopes', async () => {
    const ok = `Bearer ${eventToken}`;
    const envelope = { events: [] };
    const unauthorized: [string, string | null, unknown][] = [
      [A, `Bearer ${eventToken}x`, envelope],
      [A, 'Bearer not-the-token', envelope],
      [A, null, envelope],
      [A, 'Bearer ', envelope],
      [A, eventToken, envelope], // no Bearer scheme
      [A, `Basic ${Buffer.from(`ferry:${eventToken}`).toString('base64')}`, envelope],
      ['mars-1', ok, envelope], // unknown region
      [B, ok, envelope], // a region without an event token takes none
    ];
    for (const [region, auth, body] of unauthorized) {
      const res = await postEvents(t, region, auth, body);
      const what = `${region} ${auth ?? '(no Authorization)'} ${JSON.stringify(body)}`;
      expect(res.status, what).toBe(401);
      expect(swrError(res.text).error_code, what).toBe('SVCSTG.SWR.4010000');
    }

    const malformed: [string, RegExp][] = [
      ['this is not JSON', /not valid JSON/],
      ['{"events":', /not valid JSON/],
      ['', /envelope/],
      ['null', /envelope/],
      ['[]', /envelope/],
      ['{"event":[]}', /envelope/],
      ['{"events":{"id":"x"}}', /envelope/],
      ['{"events":[{"action":"push","target":{"repository":"ns1/app"}}]}', /events\[0\]/],
      ['{"events":[{"id":"x","action":"push"}]}', /events\[0\]/],
      ['{"events":[{"id":"x","action":"push","target":{"repository":"ns1/app","tag":5}}]}', /tag/],
    ];
    for (const [body, message] of malformed) {
      const res = await postEvents(t, A, ok, body);
      expect(res.status, body).toBe(400);
      const err = swrError(res.text);
      expect(err.error_code, body).toBe('SVCSTG.SWR.4000014');
      expect(err.error_msg, body).toMatch(message);
    }
    // Nothing refused was stored.
    const stored = await t.ferry.db.selectFrom('registry_events').select('id').execute();
    expect(stored).toEqual([]);
    // An empty envelope is fine.
    const empty = await postEvents(t, A, ok, envelope);
    expect(empty.status).toBe(200);
    expect(empty.json()).toEqual({ received: 0, stored: 0 });
  });

  it('refuses a stranger\u2019s malformed body as a stranger (401), before parsing it', async () => {
    // As on every other route (app.ts: "a malformed body from a stranger is a 401, not a 400"),
    // and so that wrong tokens and unknown regions answer alike whatever the body.
    const strangers: [string, string | null, string][] = [
      [A, 'Bearer not-the-token', 'this is not JSON'],
      [A, null, '{"events":'],
      ['mars-1', null, '{"events":'],
    ];
    for (const [region, auth, body] of strangers) {
      const res = await postEvents(t, region, auth, body);
      const what = `${region} ${auth ?? '(no Authorization)'} ${body}`;
      expect(res.status, what).toBe(401);
      expect(swrError(res.text).error_code, what).toBe('SVCSTG.SWR.4010000');
    }
  });

  it('stores a re-sent event once, and makes one job per rule, tag and digest', async () => {
    const ok = `Bearer ${eventToken}`;
    const image = await pushImage(a.url, 'ns1/app', 'd1', {
      layers: [{ size: 50_000, seed: 'dedup-d1' }],
    });
    const first = { events: [pushEvent('evt-d1-first', image)] };
    const res1 = await postEvents(t, A, ok, first);
    expect(res1.status, res1.text).toBe(200);
    expect(res1.json()).toEqual({ received: 1, stored: 1 });
    // The registry re-sends an envelope it got no answer for: same event id.
    const res2 = await postEvents(t, A, ok, first);
    expect(res2.status).toBe(200);
    expect(res2.json()).toEqual({ received: 1, stored: 0 });
    // Another event about the same tag and digest (a second push of the same manifest).
    const res3 = await postEvents(t, A, ok, { events: [pushEvent('evt-d1-second', image)] });
    expect(res3.json()).toEqual({ received: 1, stored: 1 });

    await waitForDigest(b.host, 'ns2/app', 'd1', image.digest, 10_000);
    const events = await waitFor(
      async () => {
        const rows = await t.ferry.db
          .selectFrom('registry_events')
          .selectAll()
          .where('tag', '=', 'd1')
          .execute();
        return rows.length === 2 && rows.every((r) => r.processed_at) ? rows : undefined;
      },
      5_000,
      'both d1 events processed',
    );
    expect(events.map((e) => e.event_id).sort()).toEqual(['evt-d1-first', 'evt-d1-second']);
    expect(events.every((e) => e.source_id === A && e.digest === image.digest)).toBe(true);
    const jobs = await waitFor(
      async () => {
        const rows = await jobRows(t, 'd1', image.digest);
        return rows.some((r) => r.status === 'success') ? rows : undefined;
      },
      5_000,
      'the d1 job to succeed',
    );
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ operator_name: 'auto-sync', status: 'success' });
    const listed = (await listJobs(t, tokenA, 'ns1', 'app')).filter((j) => j.tag === 'd1');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ status: 'success', digest: image.digest });
  });

  it('processes every event stored while no worker ran, once workers start', async () => {
    const ok = `Bearer ${eventToken}`;
    await t.restart((c) => ({ ...c, workers: { ...c.workers, enabled: false } }));
    const images: PushedImage[] = [];
    for (const tag of ['w1', 'w2', 'w3', 'w4']) {
      images.push(
        await pushImage(a.url, 'ns1/app', tag, {
          layers: [{ size: 20_000, seed: `stopped-${tag}` }],
        }),
      );
    }
    const r1 = await postEvents(t, A, ok, {
      events: [pushEvent('evt-w1', images[0]!), pushEvent('evt-w2', images[1]!)],
    });
    expect(r1.status, r1.text).toBe(200);
    expect(r1.json()).toEqual({ received: 2, stored: 2 });
    for (const [i, image] of images.slice(2).entries()) {
      const r = await postEvents(t, A, ok, { events: [pushEvent(`evt-w${i + 3}`, image)] });
      expect(r.status, r.text).toBe(200);
      expect(r.json()).toEqual({ received: 1, stored: 1 });
    }
    const ids = images.map((_, i) => `evt-w${i + 1}`);
    const eventsOf = () =>
      t.ferry.db.selectFrom('registry_events').selectAll().where('event_id', 'in', ids).execute();
    expect(await eventsOf()).toHaveLength(4);
    const queued = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM graphile_worker.jobs
      WHERE task_identifier = 'registry-event' AND locked_at IS NULL`.execute(t.ferry.db);
    expect(queued.rows[0]!.n).toBeGreaterThanOrEqual(4);
    // A moment later, still nothing done: no worker runs.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await eventsOf()).every((e) => e.processed_at === null)).toBe(true);
    for (const image of images) {
      expect(await jobRows(t, image.tag!, image.digest)).toEqual([]);
    }
    expect(await digestAt(b.host, 'ns2/app', 'w1')).toBeUndefined();

    await t.restart((c) => ({ ...c, workers: { ...c.workers, enabled: true } }));
    await Promise.all(
      images.map((image) => waitForDigest(b.host, 'ns2/app', image.tag!, image.digest, 15_000)),
    );
    await waitFor(
      async () => ((await eventsOf()).every((e) => e.processed_at !== null) ? true : undefined),
      5_000,
      'every event processed',
    );
    const listed = await waitFor(
      async () => {
        const jobs = await listJobs(t, tokenA, 'ns1', 'app');
        const mine = jobs.filter((j) => j.tag.startsWith('w'));
        return mine.length === 4 && mine.every((j) => j.status === 'success') ? mine : undefined;
      },
      5_000,
      'a success job for every tag',
    );
    expect(listed.map((j) => [j.tag, j.status, j.syncOperatorName, j.digest]).sort()).toEqual(
      images.map((i) => [i.tag, 'success', 'auto-sync', i.digest]).sort(),
    );
  });

  it('reconciles what no event announced: a push without notifications and a push before its rule', async () => {
    // No event ever names these: the registries of this Ferry send none.
    const missed = await pushImage(a.url, 'ns1/app', 'missed', {
      layers: [{ size: 30_000, seed: 'reconcile-missed' }],
    });
    const late = await pushImage(a.url, 'ns1/late', 'v1', {
      layers: [{ size: 30_000, seed: 'reconcile-late' }],
    });
    await addRule(t, tokenA, 'late');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await digestAt(b.host, 'ns2/app', 'missed')).toBeUndefined();
    expect(await jobRows(t, 'missed', missed.digest)).toEqual([]);

    await t.restart((c) => ({ ...c, autoSync: { reconcileSeconds: 2 } }));
    const started = Date.now();
    await Promise.all([
      waitForDigest(b.host, 'ns2/app', 'missed', missed.digest, 10_000),
      waitForDigest(b.host, 'ns2/late', 'v1', late.digest, 10_000),
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
    for (const [repo, image] of [
      ['app', missed],
      ['late', late],
    ] as const) {
      const job = await waitFor(
        async () =>
          (await listJobs(t, tokenA, 'ns1', repo)).find(
            (j) => j.tag === image.tag && j.status === 'success',
          ),
        5_000,
        `a success job for ${repo}:${image.tag}`,
      );
      expect(job).toMatchObject({ syncOperatorName: 'auto-sync', digest: image.digest });
    }
    // Several reconcile rounds later, tags already in sync got no second job.
    await new Promise((r) => setTimeout(r, 2500));
    const counts = await t.ferry.db
      .selectFrom('sync_jobs')
      .select(['tag', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('tag')
      .execute();
    for (const c of counts) expect(Number(c.n), c.tag).toBe(1);
    expect(counts.map((c) => c.tag).sort()).toEqual(['d1', 'missed', 'v1', 'w1', 'w2', 'w3', 'w4']);
  });

  it('retries through the reconciler a tag whose auto-sync job failed', async () => {
    // The reconciler runs (previous test). ns1/flaky has no rule while its tag is pushed and
    // deleted, so nothing syncs it before the event's job fails.
    const spec = { layers: [{ size: 30_000, seed: 'reconcile-flaky' }] };
    const image = await pushImage(a.url, 'ns1/flaky', 'v1', spec);
    const del = await fetch(`${a.url}/v2/ns1/flaky/manifests/${image.digest}`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(202);
    await addRule(t, tokenA, 'flaky');
    const res = await postEvents(t, A, `Bearer ${eventToken}`, {
      events: [pushEvent('evt-flaky', image)],
    });
    expect(res.json()).toEqual({ received: 1, stored: 1 });
    const failed = await waitFor(
      async () => {
        const rows = await jobRows(t, 'v1', image.digest);
        return rows.find((r) => r.status === 'failed');
      },
      10_000,
      'the flaky job to fail (its manifest is gone at A)',
    );
    expect(failed.rule_id).not.toBeNull();
    const ticks = async () =>
      Number(
        (
          await t.ferry.db
            .selectFrom('schedule_ticks')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('name', '=', 'reconcile-auto-sync')
            .executeTakeFirstOrThrow()
        ).n,
      );
    const ticksBefore = await ticks();
    // The same manifest is pushed again: A and B now differ, which the reconciler repairs.
    expect((await pushImage(a.url, 'ns1/flaky', 'v1', spec)).digest).toBe(image.digest);
    const synced = await waitForDigest(b.host, 'ns2/flaky', 'v1', image.digest, 8_000).catch(
      () => false,
    );
    // Only the reconciler (every 2 s) can have done it: no event announced the second push.
    expect((await ticks()) - ticksBefore).toBeGreaterThanOrEqual(1);
    // On failure, show what the jobs of that tag and digest became.
    const rows = await jobRows(t, 'v1', image.digest);
    expect(
      rows.map((r) => `${r.status}: ${r.error_reason ?? ''}`),
      'the reconciler made no new job for a digest whose auto-sync job had failed',
    ).toContainEqual(expect.stringMatching(/^success/));
    expect(synced).toBe(true);
    const job = await waitFor(
      async () =>
        (await listJobs(t, tokenA, 'ns1', 'flaky')).find(
          (j) => j.tag === 'v1' && j.status === 'success',
        ),
      5_000,
      'a success job for flaky:v1',
    );
    expect(job).toMatchObject({ syncOperatorName: 'auto-sync', digest: image.digest });
  });
});
