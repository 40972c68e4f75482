// Must show (issue 6): after a sync, the inventory lists match what skopeo sees (repositories,
// tags, digests, sizes, multi-arch flags) for two regions, an instance and an `Other` registry;
// a re-sync of unchanged tags GETs no manifest; removed tags leave; a registry with a wrong
// password fails with a reason while the others sync; bad input answers 400 with HSS codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getToken,
  startTestFerry,
  waitFor,
  type TestFerry,
  callApi,
  projectIdOf,
} from '../helpers/ferry.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage, pushIndex, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';

interface Img {
  namespace: string;
  image_name: string;
  image_version: string;
  image_digest: string;
  image_size: number;
  is_multiple_arch: boolean;
  latest_version: boolean;
  image_type: string;
  registry_type: string;
  registry_name: string;
}

describe('HSS image inventory', () => {
  let t: TestFerry;
  let other: TestRegistry;
  let proxy: FaultProxy;
  let token: string;
  let project: string;
  const pushed = new Map<string, PushedImage>();
  const sizeOf = (p: PushedImage) => p.blobs.reduce((n, d) => n + d.size, 0);

  const api = (method: string, path: string, body?: unknown) =>
    callApi(`${t.url}/v5/${project}/image${path}`, token, method, body);

  const lastTaskDone = () =>
    waitFor(
      async () => {
        const r = (await api('GET', '/tasks?type=image_sync&offset=0&limit=10')).json as {
          data_list: { task_status: number; failed_reason: string }[];
        };
        const t0 = r.data_list[0];
        return t0 && t0.task_status === 100 ? t0 : undefined;
      },
      60_000,
      'the sync task to finish',
    );

  const images = async (query: string): Promise<{ total: number; list: Img[] }> => {
    const list: Img[] = [];
    let total = 0;
    for (let offset = 0; offset === 0 || offset < total; offset += 200) {
      const r = (await api('GET', `/registries/images?offset=${offset}&limit=200${query}`))
        .json as { total_num: number; data_list: Img[] };
      total = r.total_num;
      list.push(...r.data_list);
    }
    return { total, list };
  };

  beforeAll(async () => {
    t = await startTestFerry({ instances: [{ id: 'ee1' }] });
    other = await startRegistry();
    proxy = await startFaultProxy(other.url);
    token = await getToken(
      t.url,
      { domain: 'acme', name: 'alice', password: t.password },
      'cn-north-4',
    );
    project = await projectIdOf(t.url, token, 'cn-north-4');
    const a = t.registries.get('cn-north-4')!;
    for (const ns of ['team1', 'team2']) {
      const r = await fetch(`${t.url}/v2/manage/namespaces`, {
        method: 'POST',
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: ns }),
      });
      expect(r.status).toBe(201);
    }
    const base = { size: 20_000, seed: 'inv-base' };
    pushed.set(
      'team1/app:v1',
      await pushImage(a.url, 'team1/app', 'v1', { layers: [base, { size: 3000, seed: 'a1' }] }),
    );
    pushed.set(
      'team1/app:v2',
      await pushImage(a.url, 'team1/app', 'v2', { layers: [base, { size: 4000, seed: 'a2' }] }),
    );
    pushed.set(
      'team2/multi:latest',
      await pushIndex(a.url, 'team2/multi', 'latest', [
        {
          platform: { os: 'linux', architecture: 'amd64' },
          layers: [{ size: 5000, seed: 'm-amd' }],
        },
        {
          platform: { os: 'linux', architecture: 'arm64' },
          layers: [{ size: 6000, seed: 'm-arm' }],
        },
      ]),
    );
    // Not a namespace of acme: must not appear.
    await pushImage(a.url, 'stranger/app', 'v1', { layers: [{ size: 1000, seed: 'x' }] });
    const ee = t.instanceRegistries.get('ee1')!;
    pushed.set(
      'ee-ns/svc:1.0',
      await pushImage(ee.url, 'ee-ns/svc', '1.0', { layers: [{ size: 7000, seed: 'ee' }] }),
    );
    // The `Other` registry: 200 images, 10 of them multi-arch.
    for (let i = 0; i < 190; i++) {
      pushed.set(
        `lib/img${i % 19}:t${i}`,
        await pushImage(other.url, `lib/img${i % 19}`, `t${i}`, {
          layers: [{ size: 500 + i, seed: `o${i}` }],
        }),
      );
    }
    for (let k = 0; k < 10; k++) {
      pushed.set(
        `lib/multi${k}:both`,
        await pushIndex(other.url, `lib/multi${k}`, 'both', [
          {
            platform: { os: 'linux', architecture: 'amd64' },
            layers: [{ size: 700 + k, seed: `om-amd${k}` }],
          },
          {
            platform: { os: 'linux', architecture: 'arm64' },
            layers: [{ size: 800 + k, seed: `om-arm${k}` }],
          },
        ]),
      );
    }
    pushed.set(
      'lib/multi:both',
      await pushIndex(other.url, 'lib/multi', 'both', [
        {
          platform: { os: 'linux', architecture: 'amd64' },
          layers: [{ size: 700, seed: 'om-amd' }],
        },
        {
          platform: { os: 'linux', architecture: 'arm64' },
          layers: [{ size: 800, seed: 'om-arm' }],
        },
      ]),
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    await other?.stop();
    await t?.stop();
  });

  it('syncs SWR private images, an instance and an Other registry; lists match skopeo', async () => {
    const proxyAddr = new URL(proxy.url).host;
    const add = await api('POST', '/registries', {
      registry_name: 'other-1',
      registry_type: 'Other',
      api_version: 'V2',
      protocol: 'http',
      registry_addr: proxyAddr,
      registry_username: 'u',
      registry_password: 'p',
      connect_cluster_id: 'c1',
      get_scan_image_channel: 'Swr',
    });
    expect(add.status).toBe(200);
    const sync = await api('POST', '/image-sync/tasks', { sync_all_registries: true });
    expect(sync.status).toBe(200);
    const task = await lastTaskDone();
    expect(task.failed_reason).toBe('');

    const all = await images('');
    expect(all.total).toBe(pushed.size);
    for (const img of all.list) {
      const key = `${img.namespace}/${img.image_name}:${img.image_version}`;
      const p = pushed.get(key);
      expect(p, key).toBeDefined();
      expect(img.image_digest, key).toBe(p!.digest);
      expect(img.image_size, key).toBe(sizeOf(p!));
      expect(img.is_multiple_arch, key).toBe(key.includes('multi'));
    }
    // Independent check of a few digests with skopeo.
    const a = t.registries.get('cn-north-4')!;
    const multi = all.list.find((i) => i.image_name === 'multi' && i.namespace === 'team2')!;
    expect(multi.image_digest).toBe(
      (await skopeoInspectRaw(dockerRef(a.host, 'team2/multi', 'latest'))).digest,
    );
    const lib = all.list.find((i) => i.image_name === 'img0' && i.image_version === 't0')!;
    expect(lib.image_digest).toBe(
      (await skopeoInspectRaw(dockerRef(other.host, 'lib/img0', 't0'))).digest,
    );
    expect(lib).toMatchObject({
      registry_type: 'Other',
      registry_name: 'other-1',
      image_type: 'other',
    });

    const swr = (await api('GET', '/swr-repository?image_type=private_image&offset=0&limit=50'))
      .json as {
      total_num: number;
      data_list: Img[];
    };
    expect(swr.total_num).toBe(3);
    expect(
      swr.data_list.map((i) => `${i.namespace}/${i.image_name}:${i.image_version}`).sort(),
    ).toEqual(['team1/app:v1', 'team1/app:v2', 'team2/multi:latest']);
    const inst = (await api('GET', '/swr-repository?image_type=instance_image')).json as {
      total_num: number;
    };
    expect(inst.total_num).toBe(1);
    const multiArch = await images('&is_multarch=true');
    expect(multiArch.total).toBe(12);
    const stats = (await api('GET', '/asset/statistics')).json;
    expect(stats).toEqual({ local_num: 0, cicd_num: 0, registry_num: pushed.size });
    const regs = (await api('GET', '/registries?offset=0&limit=10')).json as {
      data_list: { status: string; images_num: number }[];
    };
    expect(regs.data_list[0]).toMatchObject({ status: 'success', images_num: 201 });
  });

  it('re-syncs without GETting a manifest when nothing changed, and drops removed tags', async () => {
    proxy.clearLog();
    await api('POST', '/image-sync/tasks', { sync_all_registries: true });
    await lastTaskDone();
    // One HEAD per tag of the Other registry, and not one manifest GET.
    expect(proxy.count({ method: 'GET', kind: 'manifest' })).toBe(0);
    expect(proxy.count({ method: 'HEAD', kind: 'manifest' })).toBe(201);
    // Remove a tag from the Other registry: it leaves the inventory.
    const gone = pushed.get('lib/img0:t0')!;
    const del = await fetch(`${other.url}/v2/lib/img0/manifests/${gone.digest}`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(202);
    await api('POST', '/image-sync/tasks', { sync_all_registries: true });
    await lastTaskDone();
    const after = await images('&image_name=img0');
    expect(after.list.map((i) => i.image_version)).not.toContain('t0');
  });
});
