// Must show (issue 6), through the HSS v5 API only: Harbor and JFrog registries (fakes of their
// management APIs in front of real docker-registry processes) sync into the inventory with
// exactly the tags and digests those registries hold; a registry with a wrong password ends
// `fail` with a reason while the others in the same task sync; `shared_image` follows SWR
// repository shares between two domains, and a synchronize posted again while its task runs
// starts no second task; a re-sync of 10,000 unchanged tags GETs no manifest (counted by a
// fault proxy); bad input answers 400/401/403 with HSS error bodies, never a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getToken, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import {
  startHarborFake,
  upstreamCatalog,
  upstreamTags,
  type HarborFake,
} from '../helpers/harbor-fake.js';
import {
  getManifest,
  mapLimit,
  pushImage,
  pushIndex,
  pushManifest,
  type PushedImage,
} from '../helpers/images.js';
import { startJfrogFake, type JfrogFake } from '../helpers/jfrog-fake.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const REGION = 'cn-north-4';
const USER = 'inventory';
const PASSWORD = 'S3cret-Pa55';
const WRONG = 'Not-The-Pa55word';
const GLOBEX = 'globex';
const BOB_PASSWORD = 'bob-password-1';
/** The bulk registry: REPOS repositories of TAGS_PER_REPO tags, all one manifest. */
const REPOS = 20;
const TAGS_PER_REPO = 500;
const BULK_TAGS = REPOS * TAGS_PER_REPO;

interface Img {
  namespace: string;
  image_name: string;
  image_version: string;
  image_digest: string;
  image_size: number;
  image_type: string;
  is_multiple_arch: boolean;
  shared_status: string;
  registry_id?: string;
  registry_type?: string;
  registry_name?: string;
}

interface Task {
  task_id: string;
  task_name: string;
  task_status: number;
  total_num: number;
  success_num: number;
  failed_num: number;
  failed_reason: string;
}

interface Registry {
  id: string;
  registry_name: string;
  registry_type: string;
  status: string;
  fail_reason: string;
  fail_detail: string;
  images_num: number;
}

interface TaskRegistry {
  registry_id: string;
  registry_name: string;
  registry_type: string;
  sync_status: string;
  failed_reason: string;
}

interface Page<T> {
  total_num: number;
  data_list: T[];
}

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

/** `namespace/image:tag` → digest, from what a registry holds (catalog, tags, manifests). */
async function registryContents(
  url: string,
  split: (repo: string) => { namespace: string; image: string },
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const repo of await upstreamCatalog(url)) {
    const { namespace, image } = split(repo);
    for (const tag of await upstreamTags(url, repo)) {
      const m = await getManifest(url, repo, tag);
      out.set(`${namespace}/${image}:${tag}`, m!.digest);
    }
  }
  return out;
}

const firstSegment = (repo: string) => {
  const i = repo.indexOf('/');
  return { namespace: repo.slice(0, i), image: repo.slice(i + 1) };
};

const sizeOf = (p: PushedImage) => p.blobs.reduce((n, d) => n + d.size, 0);
const keyOf = (i: Img) => `${i.namespace}/${i.image_name}:${i.image_version}`;

describe('HSS inventory API: Harbor, JFrog, shared images, 10,000 tags, bad input', () => {
  let t: TestFerry;
  /** cn-north-4's registry, which Ferry reaches only through `northProxy`. */
  let north: TestRegistry;
  let northProxy: FaultProxy;
  let harborReg: TestRegistry;
  let jfrogReg: TestRegistry;
  let harbor: HarborFake;
  let jfrog: JfrogFake;
  let bulk: TestRegistry;
  let bulkProxy: FaultProxy;
  let alice: string;
  let bob: string;
  let aliceProject: string;
  let bobProject: string;
  /** `namespace/image:tag` → what was pushed there (Harbor and JFrog registries). */
  const pushed = new Map<string, PushedImage>();

  async function call(
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer> {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        ...(token !== undefined ? { 'x-auth-token': token } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  /** An HSS call of alice's (default) or bob's project: `/v5/{project}/image{path}`. */
  const hss = (path: string, method = 'GET', body?: unknown, as: 'alice' | 'bob' = 'alice') =>
    call(
      as === 'alice' ? alice : bob,
      method,
      `/v5/${as === 'alice' ? aliceProject : bobProject}/image${path}`,
      body,
    );

  async function ok<T>(p: Promise<Answer>): Promise<T> {
    const a = await p;
    expect(a.status, a.text).toBe(200);
    return a.json as T;
  }

  const tasks = (as: 'alice' | 'bob' = 'alice') =>
    ok<Page<Task>>(hss('/tasks?type=image_sync&offset=0&limit=200', 'GET', undefined, as));

  /** Runs `start`, then waits for the one task it created to finish; returns that task. */
  async function syncAndWait(
    start: () => Promise<void>,
    as: 'alice' | 'bob' = 'alice',
    timeoutMs = 60_000,
  ): Promise<Task> {
    const before = new Set((await tasks(as)).data_list.map((x) => x.task_id));
    await start();
    return waitFor(
      async () => {
        const fresh = (await tasks(as)).data_list.filter((x) => !before.has(x.task_id));
        expect(fresh.length).toBeLessThanOrEqual(1);
        return fresh[0]?.task_status === 100 ? fresh[0] : undefined;
      },
      timeoutMs,
      'the new sync task to finish',
    );
  }

  async function syncRegistries(
    info: { registry_id: string; registry_type: string }[],
    timeoutMs = 60_000,
  ) {
    return syncAndWait(
      async () => {
        const r = await hss('/image-sync/tasks', 'POST', {
          sync_all_registries: false,
          registry_info: info,
        });
        expect(r.status, r.text).toBe(200);
        expect(r.text).toBe('');
      },
      'alice',
      timeoutMs,
    );
  }

  async function addRegistry(body: Record<string, unknown>): Promise<Registry> {
    const r = await hss('/registries', 'POST', {
      api_version: 'V2',
      protocol: 'http',
      connect_cluster_id: 'cluster-1',
      get_scan_image_channel: 'Swr',
      ...body,
    });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('');
    return registry(body.registry_name as string);
  }

  async function registry(name: string): Promise<Registry> {
    const page = await ok<Page<Registry>>(
      hss(`/registries?registry_name=${encodeURIComponent(name)}&offset=0&limit=200`),
    );
    const found = page.data_list.find((r) => r.registry_name === name);
    expect(found, name).toBeDefined();
    return found!;
  }

  /** Every image of a list (pages of 200). */
  async function allImages(path: string, as: 'alice' | 'bob' = 'alice'): Promise<Page<Img>> {
    const list: Img[] = [];
    let total = 0;
    for (let offset = 0; ; offset += 200) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await ok<Page<Img>>(
        hss(`${path}${sep}offset=${offset}&limit=200`, 'GET', undefined, as),
      );
      total = page.total_num;
      list.push(...page.data_list);
      if (page.data_list.length < 200) break;
    }
    return { total_num: total, data_list: list };
  }

  const digestsOf = (list: Img[]) => new Map(list.map((i) => [keyOf(i), i.image_digest] as const));

  beforeAll(async () => {
    [north, harborReg, jfrogReg, bulk] = await Promise.all([
      startRegistry(),
      startRegistry(),
      startRegistry(),
      startRegistry(),
    ]);
    [northProxy, bulkProxy] = await Promise.all([
      startFaultProxy(north.url),
      startFaultProxy(bulk.url),
    ]);
    // One region, whose registry Ferry reaches through a proxy (to slow a sync down at will).
    t = await startTestFerry({ regions: [REGION], regionUrls: { [REGION]: northProxy.url } });
    await t.ferry.iam.bootstrap({
      domain: GLOBEX,
      user: 'bob',
      password: BOB_PASSWORD,
      accessKeys: [],
    });
    alice = await getToken(t.url, { domain: t.domain, name: t.user, password: t.password }, REGION);
    bob = await getToken(t.url, { domain: GLOBEX, name: 'bob', password: BOB_PASSWORD }, REGION);
    const projectOf = async (token: string) =>
      (
        (await call(token, 'GET', `/v3/projects?name=${REGION}`)).json as {
          projects: { id: string }[];
        }
      ).projects[0]!.id;
    aliceProject = await projectOf(alice);
    bobProject = await projectOf(bob);
    expect(aliceProject).not.toBe(bobProject);

    // Harbor: projects hp1 and hp2; v1 and v2 of hp1/app are one artifact; a nested
    // repository; a multi-arch index.
    const app1 = { layers: [{ size: 2000, seed: 'h-app-1' }] };
    pushed.set('hp1/app:v1', await pushImage(harborReg.url, 'hp1/app', 'v1', app1));
    pushed.set('hp1/app:v2', await pushImage(harborReg.url, 'hp1/app', 'v2', app1));
    pushed.set(
      'hp1/app:v3',
      await pushImage(harborReg.url, 'hp1/app', 'v3', {
        layers: [{ size: 3000, seed: 'h-app-3' }],
      }),
    );
    pushed.set(
      'hp1/team/svc:1.0',
      await pushImage(harborReg.url, 'hp1/team/svc', '1.0', {
        layers: [{ size: 1500, seed: 'h-svc' }],
        format: 'docker',
      }),
    );
    pushed.set(
      'hp2/multi:latest',
      await pushIndex(harborReg.url, 'hp2/multi', 'latest', [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ size: 700, seed: 'h-m1' }] },
        { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ size: 800, seed: 'h-m2' }] },
      ]),
    );
    pushed.set(
      'hp2/tool:x',
      await pushImage(harborReg.url, 'hp2/tool', 'x', { layers: [{ size: 900, seed: 'h-tool' }] }),
    );
    // Artifactory: local Docker repositories docker-local and docker-prod.
    for (const [repo, tag, seed] of [
      ['docker-local/web', 'a', 'j-web-a'],
      ['docker-local/web', 'b', 'j-web-b'],
      ['docker-local/lib/core', '1', 'j-core'],
      ['docker-prod/api', '2.0', 'j-api'],
    ] as const) {
      pushed.set(
        `${repo}:${tag}`,
        await pushImage(jfrogReg.url, repo, tag, { layers: [{ size: 1200, seed }] }),
      );
    }
    harbor = await startHarborFake({
      upstream: harborReg.url,
      username: USER,
      password: PASSWORD,
      maxPageSize: 2,
    });
    jfrog = await startJfrogFake({
      upstream: jfrogReg.url,
      username: USER,
      password: PASSWORD,
      maxPageSize: 1,
      repositories: [
        { key: 'docker-local', type: 'LOCAL' },
        { key: 'docker-prod', type: 'LOCAL' },
      ],
    });
  });

  afterAll(async () => {
    await harbor?.close();
    await jfrog?.close();
    await northProxy?.stop();
    await bulkProxy?.stop();
    await t?.stop();
    await Promise.all([north, harborReg, jfrogReg, bulk].map((r) => r?.stop()));
  });

  it('syncs a Harbor and a JFrog registry: the lists hold exactly what their registries hold', async () => {
    const h = await addRegistry({
      registry_name: 'harbor-a',
      registry_type: 'Harbor',
      registry_addr: harbor.host,
      registry_username: USER,
      registry_password: PASSWORD,
    });
    const j = await addRegistry({
      registry_name: 'jfrog-a',
      registry_type: 'Jfrog',
      registry_addr: jfrog.host,
      registry_username: USER,
      registry_password: PASSWORD,
    });
    // The password is never answered.
    const listed = await hss('/registries?offset=0&limit=10');
    expect(listed.text).not.toContain(PASSWORD);
    expect(listed.text).not.toContain('registry_password');

    const expectedHarbor = await registryContents(harborReg.url, firstSegment);
    const expectedJfrog = await registryContents(jfrogReg.url, firstSegment);
    expect(expectedHarbor.size).toBe(6);
    expect(expectedJfrog.size).toBe(4);

    const task = await syncRegistries([
      { registry_id: h.id, registry_type: 'Harbor' },
      { registry_id: j.id, registry_type: 'Jfrog' },
    ]);
    expect(task).toMatchObject({
      task_status: 100,
      failed_reason: '',
      failed_num: 0,
      total_num: 10,
      success_num: 10,
    });

    for (const [type, reg, expected, name] of [
      ['harbor', h, expectedHarbor, 'harbor-a'],
      ['jfrog', j, expectedJfrog, 'jfrog-a'],
    ] as const) {
      const page = await allImages(`/registries/images?image_type=${type}`);
      expect(page.total_num, type).toBe(expected.size);
      expect(digestsOf(page.data_list), type).toEqual(expected);
      for (const img of page.data_list) {
        const key = keyOf(img);
        expect(img, key).toMatchObject({
          image_type: type,
          registry_type: type === 'harbor' ? 'Harbor' : 'Jfrog',
          registry_name: name,
          registry_id: reg.id,
          image_size: sizeOf(pushed.get(key)!),
          is_multiple_arch: key === 'hp2/multi:latest',
        });
      }
    }
    // Harbor's nested repository: namespace is the project, image_name the rest.
    const svc = (await allImages('/registries/images?image_type=harbor&image_name=team')).data_list;
    expect(svc).toHaveLength(1);
    expect(svc[0]).toMatchObject({
      namespace: 'hp1',
      image_name: 'team/svc',
      image_version: '1.0',
    });

    const regs = await ok<Page<TaskRegistry>>(
      hss(`/image-sync/tasks/${task.task_id}/registries?offset=0&limit=10`),
    );
    expect(regs.total_num).toBe(2);
    expect(
      regs.data_list
        .map((r) => ({ ...r }))
        .sort((a, b) => a.registry_type.localeCompare(b.registry_type)),
    ).toEqual([
      {
        registry_id: h.id,
        registry_name: 'harbor-a',
        registry_type: 'Harbor',
        sync_status: 'finished',
        failed_reason: '',
      },
      {
        registry_id: j.id,
        registry_name: 'jfrog-a',
        registry_type: 'Jfrog',
        sync_status: 'finished',
        failed_reason: '',
      },
    ]);
    expect(await registry('harbor-a')).toMatchObject({ status: 'success', images_num: 6 });
    expect(await registry('jfrog-a')).toMatchObject({ status: 'success', images_num: 4 });
  });

  it('a registry with a wrong password ends fail with a reason while the others in the task sync', async () => {
    const badHarbor = await addRegistry({
      registry_name: 'harbor-bad',
      registry_type: 'Harbor',
      registry_addr: harbor.host,
      registry_username: USER,
      registry_password: WRONG,
    });
    const badJfrog = await addRegistry({
      registry_name: 'jfrog-bad',
      registry_type: 'Jfrog',
      registry_addr: jfrog.host,
      registry_username: USER,
      registry_password: WRONG,
    });
    // A new good registry in the same task: its images come from this task only.
    const good = await addRegistry({
      registry_name: 'proj2-harbor',
      registry_type: 'Harbor',
      registry_addr: harbor.host,
      registry_username: USER,
      registry_password: PASSWORD,
      namespace: 'hp2',
    });
    const task = await syncRegistries([
      { registry_id: badHarbor.id, registry_type: 'Harbor' },
      { registry_id: good.id, registry_type: 'Harbor' },
      { registry_id: badJfrog.id, registry_type: 'Jfrog' },
    ]);
    expect(task.task_status).toBe(100);
    expect(task.failed_reason).toContain('harbor-bad');
    expect(task.failed_reason).toContain('jfrog-bad');
    expect(task.failed_reason).not.toContain(WRONG);
    expect(task).toMatchObject({ total_num: 2, success_num: 2 });

    // The good registry's images are in.
    const hp2 = await allImages('/registries/images?registry_name=proj2-harbor');
    expect(digestsOf(hp2.data_list)).toEqual(
      new Map([
        ['hp2/multi:latest', pushed.get('hp2/multi:latest')!.digest],
        ['hp2/tool:x', pushed.get('hp2/tool:x')!.digest],
      ]),
    );
    expect(await registry('proj2-harbor')).toMatchObject({ status: 'success', images_num: 2 });

    for (const [name, label] of [
      ['harbor-bad', `Harbor ${harbor.host}`],
      ['jfrog-bad', `Artifactory ${jfrog.host}`],
    ] as const) {
      const r = await registry(name);
      expect(r, name).toMatchObject({ status: 'fail', images_num: 0 });
      // HSS's documented reasons; a refused login is the registry's API refusing the request.
      expect(['CREATE_JOB_FAILED', 'REQUEST_API_ERROR', 'SERVER_ERROR']).toContain(r.fail_reason);
      expect(r.fail_reason).toBe('REQUEST_API_ERROR');
      expect(r.fail_detail).toContain('UNAUTHORIZED');
      expect(r.fail_detail).toContain(label);
      expect(r.fail_detail).toContain('wrong username or password');
      expect(r.fail_detail).not.toContain(WRONG);
      expect((await allImages(`/registries/images?registry_name=${name}`)).total_num).toBe(0);
    }

    const failed = await ok<Page<TaskRegistry>>(
      hss(`/image-sync/tasks/${task.task_id}/registries?sync_status=failed`),
    );
    expect(failed.total_num).toBe(2);
    expect(failed.data_list.map((r) => r.registry_name).sort()).toEqual([
      'harbor-bad',
      'jfrog-bad',
    ]);
    for (const r of failed.data_list) {
      expect(r.sync_status).toBe('failed');
      expect(r.failed_reason).toContain('UNAUTHORIZED');
      expect(r.failed_reason).toContain('wrong username or password');
    }
    const finished = await ok<Page<TaskRegistry>>(
      hss(`/image-sync/tasks/${task.task_id}/registries?sync_status=finished`),
    );
    expect(finished.data_list).toEqual([
      {
        registry_id: good.id,
        registry_name: 'proj2-harbor',
        registry_type: 'Harbor',
        sync_status: 'finished',
        failed_reason: '',
      },
    ]);
    // harbor-a, jfrog-a and proj2-harbor synced; harbor-bad and jfrog-bad failed.
    expect(await ok(hss('/registries/statistics'))).toEqual({ fail_num: 2, success_num: 3 });
    expect(await ok(hss('/registries/statistics?registry_type=Harbor'))).toEqual({
      fail_num: 1,
      success_num: 2,
    });
    expect(await ok(hss('/registries?status=fail&offset=0&limit=10'))).toMatchObject({
      total_num: 2,
    });
  });

  it('shared_image lists a repository another domain shares, until the share is deleted', async () => {
    const NS = 'acme-share';
    const base = `/v2/manage/namespaces/${NS}/repositories/web/access-domains`;
    expect((await call(alice, 'POST', '/v2/manage/namespaces', { namespace: NS })).status).toBe(
      201,
    );
    const web = new Map<string, PushedImage>();
    for (const tag of ['v1', 'v2']) {
      web.set(
        tag,
        await pushImage(north.url, `${NS}/web`, tag, {
          layers: [{ size: 600, seed: `web-${tag}` }],
        }),
      );
    }
    // Another repository of the namespace, not shared.
    await pushImage(north.url, `${NS}/private`, 'v1', { layers: [{ size: 500, seed: 'priv' }] });
    const share = await call(alice, 'POST', base, {
      access_domain: GLOBEX,
      permit: 'read',
      deadline: 'forever',
      description: 'inventory test',
    });
    expect(share.status, share.text).toBe(201);

    const synchronize = async () => {
      const r = await hss('/synchronize', 'POST', { image_type: 'shared_image' }, 'bob');
      expect(r.status, r.text).toBe(200);
      expect(r.json).toEqual({ error_code: 0, error_description: 'success' });
    };
    const task = await syncAndWait(synchronize, 'bob');
    expect(task.failed_reason).toBe('');
    const shared = await allImages('/swr-repository?image_type=shared_image', 'bob');
    expect(shared.total_num).toBe(2);
    expect(digestsOf(shared.data_list)).toEqual(
      new Map([
        [`${NS}/web:v1`, web.get('v1')!.digest],
        [`${NS}/web:v2`, web.get('v2')!.digest],
      ]),
    );
    for (const img of shared.data_list) {
      expect(img).toMatchObject({
        image_type: 'shared_image',
        shared_status: 'effective',
        image_size: sizeOf(web.get(img.image_version)!),
      });
    }
    // Only bob's project sees it; alice's shared list is empty.
    expect((await allImages('/swr-repository?image_type=shared_image')).total_num).toBe(0);

    // The same synchronize, posted again and again while its task runs, starts no second one.
    const slow = northProxy.addRule({
      method: 'GET',
      path: new RegExp(`^/v2/${NS}/web/tags/list$`),
      fault: { type: 'delay', ms: 3000 },
    });
    const before = (await tasks('bob')).total_num;
    await synchronize();
    await Promise.all([synchronize(), synchronize(), synchronize()]);
    await new Promise((r) => setTimeout(r, 300));
    await synchronize();
    const during = await tasks('bob');
    expect(during.total_num).toBe(before + 1);
    const running = await ok<Page<Task>>(
      hss('/tasks?type=image_sync&task_status=scanning&offset=0&limit=10', 'GET', undefined, 'bob'),
    );
    expect(running.total_num).toBe(1);
    await waitFor(
      async () => ((await tasks('bob')).data_list[0]?.task_status === 100 ? true : undefined),
      30_000,
      'the slow shared sync to finish',
    );
    expect(slow.hits).toBeGreaterThanOrEqual(1);
    slow.remove();
    expect((await tasks('bob')).total_num).toBe(before + 1);

    // Alice stops sharing: bob's next sync empties his shared list.
    const del = await call(alice, 'DELETE', `${base}/${GLOBEX}`);
    expect(del.status, del.text).toBe(204);
    await syncAndWait(synchronize, 'bob');
    const after = await allImages('/swr-repository?image_type=shared_image', 'bob');
    expect(after).toEqual({ total_num: 0, data_list: [] });
  });

  // Pushing 10,000 tags takes about 20 s, the first sync about 20 s and the re-sync about
  // 10 s (HEADs through the proxy); see the numbers logged.
  it(
    `re-syncs ${BULK_TAGS} unchanged tags without a manifest GET`,
    { timeout: 300_000 },
    async () => {
      const started = Date.now();
      // One tiny image per repository (the same bytes, so one digest), then its manifest
      // PUT under every other tag.
      const first = await mapLimit(
        Array.from({ length: REPOS }, (_, r) => r),
        REPOS,
        (r) => pushImage(bulk.url, `bulk/r${r}`, 't0', { layers: [{ size: 64, seed: 'bulk' }] }),
      );
      const digests = new Set(first.map((p) => p.digest));
      expect(digests.size).toBe(1);
      const { mediaType, manifest } = first[0]!;
      const puts = Array.from({ length: REPOS * (TAGS_PER_REPO - 1) }, (_, i) => ({
        repo: `bulk/r${i % REPOS}`,
        tag: `t${Math.floor(i / REPOS) + 1}`,
      }));
      await mapLimit(puts, 32, ({ repo, tag }) =>
        pushManifest(bulk.url, repo, tag, mediaType, manifest),
      );
      const pushedMs = Date.now() - started;

      const reg = await addRegistry({
        registry_name: 'bulk',
        registry_type: 'Other',
        registry_addr: bulkProxy.host,
        registry_username: 'u',
        registry_password: 'p',
      });
      const sync = async () => {
        bulkProxy.clearLog();
        const t0 = Date.now();
        const task = await syncRegistries(
          [{ registry_id: reg.id, registry_type: 'Other' }],
          180_000,
        );
        expect(task).toMatchObject({
          task_status: 100,
          failed_reason: '',
          total_num: BULK_TAGS,
          success_num: BULK_TAGS,
          failed_num: 0,
        });
        return {
          ms: Date.now() - t0,
          gets: bulkProxy.count({ method: 'GET', kind: 'manifest' }),
          heads: bulkProxy.count({ method: 'HEAD', kind: 'manifest' }),
          blobGets: bulkProxy.count({ method: 'GET', kind: 'blob' }),
        };
      };

      const firstSync = await sync();
      expect(await registry('bulk')).toMatchObject({ status: 'success', images_num: BULK_TAGS });
      const listed = await ok<Page<Img>>(hss('/registries/images?image_type=other&limit=1'));
      expect(listed.total_num).toBe(BULK_TAGS);
      expect(listed.data_list[0]!.image_digest).toBe(first[0]!.digest);

      const again = await sync();
      console.log(
        `${BULK_TAGS} tags pushed in ${pushedMs} ms; first sync ${firstSync.ms} ms ` +
          `(${firstSync.gets} manifest GETs, ${firstSync.heads} HEADs); re-sync ${again.ms} ms ` +
          `(${again.gets} manifest GETs, ${again.heads} HEADs, ${again.blobGets} blob GETs)`,
      );
      // The re-sync: one HEAD per tag, nothing else.
      expect(again.gets).toBe(0);
      expect(again.blobGets).toBe(0);
      expect(again.heads).toBe(BULK_TAGS);
      // The first sync reads the one manifest once, not once per tag (nor once per worker).
      expect.soft(firstSync.gets, 'manifest GETs of the first sync').toBe(digests.size);
      // Re-syncing unchanged tags is HEADs only (~10 s here): it must not take minutes.
      expect.soft(again.ms, 're-sync time (ms)').toBeLessThan(Math.max(60_000, 2 * firstSync.ms));
      expect(
        (await allImages('/registries/images?image_type=other&image_version=t499')).total_num,
      ).toBe(REPOS);
    },
  );

  it('bad input answers 400, 401 or 403 with an HSS error body, never a 5xx', async () => {
    const harborA = await registry('harbor-a');
    const cases: {
      what: string;
      token?: string;
      method?: string;
      path: string;
      body?: unknown;
      status: number;
      code: string;
    }[] = [];
    const p = `/v5/${aliceProject}/image`;
    const add = (
      what: string,
      path: string,
      status = 400,
      code = 'HSS.0001',
      extra: { method?: string; body?: unknown; token?: string } = {},
    ) => cases.push({ what, path, status, code, token: alice, ...extra });

    for (const q of ['offset=-1', 'offset=x', 'limit=0', 'limit=201', 'limit=x']) {
      add(`registries/images ${q}`, `${p}/registries/images?${q}`);
    }
    for (const q of ['limit=5', 'limit=201', 'offset=-1']) {
      add(`tasks ${q}`, `${p}/tasks?type=image_sync&${q}`);
    }
    add('tasks without type', `${p}/tasks`);
    add('tasks with an unknown type', `${p}/tasks?type=nope`);
    add('swr-repository limit=0', `${p}/swr-repository?image_type=private_image&limit=0`);
    add('registries limit=201', `${p}/registries?limit=201`);
    add('registries/images unknown image_type', `${p}/registries/images?image_type=quay`);
    add('swr-repository unknown image_type', `${p}/swr-repository?image_type=harbor`);
    add('swr-repository without image_type', `${p}/swr-repository`);
    add('synchronize unknown image_type', `${p}/synchronize`, 400, 'HSS.0001', {
      method: 'POST',
      body: { image_type: 'public_image' },
    });
    add('synchronize without image_type', `${p}/synchronize`, 400, 'HSS.0001', {
      method: 'POST',
      body: {},
    });
    const registryBody = {
      registry_name: 'quay-1',
      registry_type: 'Quay',
      api_version: 'V2',
      protocol: 'http',
      registry_addr: 'quay.example.com:443',
      registry_username: 'u',
      registry_password: 'p',
      connect_cluster_id: 'c1',
      get_scan_image_channel: 'Swr',
    };
    add('add registry unknown registry_type', `${p}/registries`, 400, 'HSS.0001', {
      method: 'POST',
      body: registryBody,
    });
    add('add registry bad protocol', `${p}/registries`, 400, 'HSS.0001', {
      method: 'POST',
      body: { ...registryBody, registry_type: 'Harbor', protocol: 'ftp' },
    });
    add('registries unknown registry_type filter', `${p}/registries?registry_type=Quay`);
    const task = (info: unknown) => ({ sync_all_registries: false, registry_info: info });
    add('registry_info unknown registry_type', `${p}/image-sync/tasks`, 400, 'HSS.0001', {
      method: 'POST',
      body: task([{ registry_id: harborA.id, registry_type: 'Quay' }]),
    });
    add('registry_info unknown registry id', `${p}/image-sync/tasks`, 400, 'HSS.0001', {
      method: 'POST',
      body: task([{ registry_id: 'no-such-registry', registry_type: 'Harbor' }]),
    });
    add('registry_info id of another type', `${p}/image-sync/tasks`, 400, 'HSS.0001', {
      method: 'POST',
      body: task([{ registry_id: harborA.id, registry_type: 'Jfrog' }]),
    });
    add('registry_info empty', `${p}/image-sync/tasks`, 400, 'HSS.0001', {
      method: 'POST',
      body: task([]),
    });
    add('sync task without sync_all_registries', `${p}/image-sync/tasks`, 400, 'HSS.0001', {
      method: 'POST',
      body: {},
    });
    add('malformed JSON on add registry', `${p}/registries`, 400, 'HSS.0002', {
      method: 'POST',
      body: '{"registry_name": "x",',
    });
    add('malformed JSON on image-sync/tasks', `${p}/image-sync/tasks`, 400, 'HSS.0002', {
      method: 'POST',
      body: '{sync_all_registries: true}',
    });
    add('malformed JSON on synchronize', `${p}/synchronize`, 400, 'HSS.0002', {
      method: 'POST',
      body: '[',
    });
    cases.push(
      {
        what: 'no credentials',
        path: `${p}/registries/images`,
        status: 401,
        code: 'HSS.0010',
      },
      {
        what: 'no credentials on a POST',
        method: 'POST',
        path: `${p}/synchronize`,
        body: { image_type: 'private_image' },
        status: 401,
        code: 'HSS.0010',
      },
      {
        what: 'an unknown token',
        token: 'not-a-token',
        path: `${p}/registries`,
        status: 401,
        code: 'HSS.0010',
      },
      {
        what: "bob on alice's project",
        token: bob,
        path: `${p}/registries/images`,
        status: 403,
        code: 'HSS.0013',
      },
      {
        what: "alice syncing bob's project",
        token: alice,
        method: 'POST',
        path: `/v5/${bobProject}/image/synchronize`,
        body: { image_type: 'shared_image' },
        status: 403,
        code: 'HSS.0013',
      },
      {
        what: "alice listing bob's shared images",
        token: alice,
        path: `/v5/${bobProject}/image/swr-repository?image_type=shared_image`,
        status: 403,
        code: 'HSS.0013',
      },
    );

    const wrong: string[] = [];
    for (const c of cases) {
      const r = await call(c.token, c.method ?? 'GET', c.path, c.body);
      const body = r.json as Record<string, unknown> | undefined;
      const shapeOk =
        body !== undefined &&
        Object.keys(body).sort().join(',') === 'error_code,error_msg' &&
        body.error_code === c.code &&
        typeof body.error_msg === 'string' &&
        body.error_msg !== '';
      if (r.status !== c.status || !shapeOk) {
        wrong.push(`${c.what}: HTTP ${r.status} ${r.text} (expected ${c.status} ${c.code})`);
      }
      expect(r.status, c.what).toBeLessThan(500);
    }
    expect(wrong).toEqual([]);

    // Nothing above created a registry or a task.
    expect((await ok<Page<Registry>>(hss('/registries?offset=0&limit=200'))).total_num).toBe(6);
  });
});
