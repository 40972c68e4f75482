// Contract tests of the Harbor, Artifactory and any-OCI-registry inventory adapters, against
// a real docker-registry and fakes of the Harbor and Artifactory APIs built on what it holds
// (test/helpers/harbor-fake.ts, jfrog-fake.ts), whose /v2 proxies to it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError, type FerryError } from '../../errors/catalog.js';
import {
  startHarborFake,
  harborPushTime,
  type HarborFake,
} from '../../../test/helpers/harbor-fake.js';
import { pushImage, pushIndex } from '../../../test/helpers/images.js';
import { startJfrogFake, type JfrogFake } from '../../../test/helpers/jfrog-fake.js';
import { freePort, startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { HarborAdapter } from './harbor.js';
import { JfrogAdapter } from './jfrog.js';
import { OciAdapter } from './oci.js';
import type { InventoryAdapter, TagRef } from './types.js';

const USER = 'inventory';
const PASSWORD = 'S3cret-Pa55';
const WRONG = 'Not-The-Pa55word';

let reg: TestRegistry;
let harbor: HarborFake;
let jfrog: JfrogFake;
/** `repository:tag` → digest, for everything pushed under a tag. */
const pushed = new Map<string, string>();
/** Manifests pushed without a tag (index children, a lone image). */
const untagged: Record<string, string[]> = {};

async function push(repo: string, tags: string[], seed: string, format?: 'docker'): Promise<void> {
  for (const tag of tags) {
    const img = await pushImage(reg.url, repo, tag, {
      layers: [{ size: 256, seed }],
      ...(format ? { format } : {}),
    });
    pushed.set(`${repo}:${tag}`, img.digest);
  }
}

/** What an adapter must list for the pushed repositories matching `filter`. */
function expected(
  filter: (repo: string) => boolean,
  split: (repo: string) => { namespace: string; imageName: string },
  withDigest: boolean,
): TagRef[] {
  const out: TagRef[] = [];
  for (const [key, digest] of pushed) {
    const i = key.lastIndexOf(':');
    const repository = key.slice(0, i);
    const tag = key.slice(i + 1);
    if (!filter(repository)) continue;
    out.push({
      repository,
      ...split(repository),
      tag,
      ...(withDigest ? { digest, pushedAt: new Date(harborPushTime(repository, tag)) } : {}),
    });
  }
  return out.sort((a, b) =>
    a.repository === b.repository ? (a.tag < b.tag ? -1 : 1) : a.repository < b.repository ? -1 : 1,
  );
}

const firstSegment = (repo: string) => {
  const i = repo.indexOf('/');
  return i > 0
    ? { namespace: repo.slice(0, i), imageName: repo.slice(i + 1) }
    : { namespace: '', imageName: repo };
};
const under =
  (...namespaces: string[]) =>
  (repo: string) =>
    namespaces.includes(firstSegment(repo).namespace);

async function failure(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isFerryError(err)) throw new Error(`expected a FerryError, got ${String(err)}`);
  return err;
}

/** HEADs every listed tag through the adapter's registry client; returns the digests. */
async function headAll(adapter: InventoryAdapter, refs: TagRef[]): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) {
    const head = await adapter.registry.manifestHead(ref.repository, ref.tag);
    out.push(head?.digest ?? 'missing');
  }
  return out;
}

async function withAdapter<A extends InventoryAdapter, T>(
  adapter: A,
  fn: (a: A) => Promise<T>,
): Promise<T> {
  try {
    return await fn(adapter);
  } finally {
    await adapter.close();
  }
}

beforeAll(async () => {
  reg = await startRegistry();
  // Harbor projects alpha, beta, gamma. alpha/app: 3 artifacts (v1 and v2 are one image).
  await push('alpha/app', ['v1', 'v2'], 'app-1');
  await push('alpha/app', ['v3'], 'app-3');
  await push('alpha/app', ['v4'], 'app-4');
  await push('alpha/team/svc/api', ['1.0'], 'api');
  const index = await pushIndex(reg.url, 'alpha/multi', 'latest', [
    { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ size: 128, seed: 'm1' }] },
    { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ size: 128, seed: 'm2' }] },
  ]);
  pushed.set('alpha/multi:latest', index.digest);
  untagged['alpha/multi'] = (index.children ?? []).map((c) => c.digest);
  await push('beta/tool', ['x'], 'tool');
  const lone = await pushImage(reg.url, 'beta/tool', undefined, {
    layers: [{ size: 64, seed: 'lone' }],
  });
  untagged['beta/tool'] = [lone.digest];
  await push('gamma/one', ['stable'], 'one', 'docker');
  // Artifactory repositories docker-local, docker-fed (federated), docker-remote (a cache).
  await push('docker-local/web', ['a', 'b', 'c'], 'web');
  await push('docker-local/lib/core', ['1'], 'core');
  await push('docker-fed/api', ['2'], 'fed');
  await push('docker-remote/cached', ['r'], 'remote');
  // A repository without a namespace (only the OCI adapter sees it).
  await push('plain', ['latest'], 'plain');

  harbor = await startHarborFake({
    upstream: reg.url,
    username: USER,
    password: PASSWORD,
    projects: ['alpha', 'beta', 'gamma'],
    maxPageSize: 2,
    untagged,
  });
  jfrog = await startJfrogFake({
    upstream: reg.url,
    username: USER,
    password: PASSWORD,
    maxPageSize: 1,
    repositories: [
      { key: 'docker-local', type: 'LOCAL' },
      { key: 'docker-fed', type: 'FEDERATED' },
      { key: 'docker-remote', type: 'REMOTE' },
      { key: 'docker-virtual', type: 'VIRTUAL' },
      { key: 'libs-release', type: 'LOCAL', packageType: 'Maven' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await harbor?.close();
  await jfrog?.close();
  await reg?.stop();
});

describe('HarborAdapter', () => {
  const harborOptions = () => ({
    protocol: 'http' as const,
    addr: harbor.host,
    username: USER,
    password: PASSWORD,
  });

  it('lists every tag of every project with its digest and push time, across pages', async () => {
    const start = harbor.requests.length;
    const refs = await withAdapter(new HarborAdapter(harborOptions()), (a) => a.listTags());
    expect(refs).toEqual(expected(under('alpha', 'beta', 'gamma'), firstSegment, true));
    // v1 and v2 are one artifact with two tags; the index is one artifact.
    expect(refs.find((r) => r.tag === 'v1')?.digest).toBe(refs.find((r) => r.tag === 'v2')?.digest);
    // Untagged artifacts (index children, the lone image) are not listed.
    const digests = new Set(refs.map((r) => r.digest));
    for (const d of Object.values(untagged).flat()) expect(digests.has(d)).toBe(false);

    const sent = harbor.requests.slice(start);
    // Three projects, three alpha repositories, three alpha/app artifacts: two pages each.
    expect(sent).toContain('GET /api/v2.0/projects?page=2&page_size=100');
    expect(sent).toContain('GET /api/v2.0/projects/alpha/repositories?page=2&page_size=100');
    expect(
      sent.some((r) =>
        r.startsWith('GET /api/v2.0/projects/alpha/repositories/app/artifacts?page=2&'),
      ),
    ).toBe(true);
    // A nested repository path goes with its '/' encoded twice.
    expect(
      sent.some((r) =>
        r.startsWith('GET /api/v2.0/projects/alpha/repositories/team%252Fsvc%252Fapi/artifacts?'),
      ),
    ).toBe(true);
    expect(sent.filter((r) => r.includes('/v2/'))).toEqual([]);
  });

  it('HEADs each listed tag through the registry it hands out', async () => {
    await withAdapter(new HarborAdapter(harborOptions()), async (a) => {
      const refs = await a.listTags();
      expect(await headAll(a, refs)).toEqual(refs.map((r) => r.digest));
      const head = await a.registry.manifestHead('alpha/team/svc/api', '1.0');
      expect(head?.digest).toBe(pushed.get('alpha/team/svc/api:1.0'));
    });
  });

  it('lists one project when given a namespace, and names an unknown one', async () => {
    const refs = await withAdapter(
      new HarborAdapter({ ...harborOptions(), namespace: 'beta' }),
      (a) => a.listTags(),
    );
    expect(refs).toEqual(expected(under('beta'), firstSegment, true));
    const err = await failure(
      withAdapter(new HarborAdapter({ ...harborOptions(), namespace: 'nope' }), (a) =>
        a.listTags(),
      ),
    );
    expect(err.code).toBe('NAMESPACE_NOT_FOUND');
    expect(err.message).toContain('"nope"');
  });

  it('says UNAUTHORIZED for a wrong password, naming the registry, never the password', async () => {
    const err = await failure(
      withAdapter(new HarborAdapter({ ...harborOptions(), password: WRONG }), (a) => a.listTags()),
    );
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`Harbor ${harbor.host}`);
    expect(err.message).toContain('GET /api/v2.0/projects');
    expect(err.message).toContain('wrong username or password');
    expect(err.message).not.toContain(WRONG);
  });

  it('says CONNECTION_FAILED for an address where nothing listens', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const err = await failure(
      withAdapter(new HarborAdapter({ ...harborOptions(), addr }), (a) => a.listTags()),
    );
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.message).toContain(`Harbor ${addr}`);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('retries a 503 and reports REGISTRY_UNAVAILABLE when it lasts', async () => {
    harbor.failNext(503, 1);
    const refs = await withAdapter(new HarborAdapter(harborOptions()), (a) => a.listTags());
    expect(refs.length).toBe(expected(under('alpha', 'beta', 'gamma'), firstSegment, true).length);
    harbor.failNext(503, 2);
    const err = await failure(
      withAdapter(new HarborAdapter(harborOptions(), { attempts: 2 }), (a) => a.listTags()),
    );
    harbor.failNext(0, 0);
    expect(err.code).toBe('REGISTRY_UNAVAILABLE');
    expect(err.message).toContain(`Harbor ${harbor.host}: GET /api/v2.0/projects`);
  });

  it('stops when cancelled', async () => {
    const err = await failure(
      withAdapter(new HarborAdapter(harborOptions()), (a) => a.listTags(AbortSignal.abort())),
    );
    expect(err.code).toBe('CANCELLED');
  });
});

describe('JfrogAdapter', () => {
  const jfrogOptions = () => ({
    protocol: 'http' as const,
    addr: jfrog.host,
    username: USER,
    password: PASSWORD,
  });

  it('lists the tags of the local (and federated) Docker repositories, across pages', async () => {
    const start = jfrog.requests.length;
    const refs = await withAdapter(new JfrogAdapter(jfrogOptions()), (a) => a.listTags());
    expect(refs).toEqual(expected(under('docker-local', 'docker-fed'), firstSegment, false));
    expect(refs.every((r) => r.digest === undefined && r.pushedAt === undefined)).toBe(true);
    const sent = jfrog.requests.slice(start);
    expect(sent[0]).toBe('GET /artifactory/api/repositories?packageType=docker');
    // Pages of one: docker-local has two images, docker-local/web three tags.
    expect(sent).toContain(
      'GET /artifactory/api/docker/docker-local/v2/_catalog?n=1000&last=lib%2Fcore',
    );
    expect(sent).toContain(
      'GET /artifactory/api/docker/docker-local/v2/web/tags/list?n=1000&last=b',
    );
    expect(sent.some((r) => r.includes('docker-remote') || r.includes('docker-virtual'))).toBe(
      false,
    );
  });

  it('HEADs each listed tag at {repoKey}/{image} through the registry it hands out', async () => {
    await withAdapter(new JfrogAdapter(jfrogOptions()), async (a) => {
      const refs = await a.listTags();
      expect(await headAll(a, refs)).toEqual(
        refs.map((r) => pushed.get(`${r.repository}:${r.tag}`)),
      );
    });
  });

  it('lists a named repository whatever its type, and names an unknown one', async () => {
    const refs = await withAdapter(
      new JfrogAdapter({ ...jfrogOptions(), namespace: 'docker-remote' }),
      (a) => a.listTags(),
    );
    expect(refs).toEqual(expected(under('docker-remote'), firstSegment, false));
    const err = await failure(
      withAdapter(new JfrogAdapter({ ...jfrogOptions(), namespace: 'nope' }), (a) => a.listTags()),
    );
    expect(err.code).toBe('NAMESPACE_NOT_FOUND');
    expect(err.message).toContain('"nope"');
  });

  it('says UNAUTHORIZED for a wrong password, naming the registry, never the password', async () => {
    const err = await failure(
      withAdapter(new JfrogAdapter({ ...jfrogOptions(), password: WRONG }), (a) => a.listTags()),
    );
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`Artifactory ${jfrog.host}: GET /artifactory/api/repositories`);
    expect(err.message).toContain('wrong username or password');
    expect(err.message).not.toContain(WRONG);
  });

  it('says CONNECTION_FAILED for an address where nothing listens', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const err = await failure(
      withAdapter(new JfrogAdapter({ ...jfrogOptions(), addr }, { attempts: 1 }), (a) =>
        a.listTags(),
      ),
    );
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.message).toContain(`Artifactory ${addr}`);
  });
});

describe('OciAdapter', () => {
  it('lists every tag of every repository of the catalog', async () => {
    await withAdapter(new OciAdapter({ protocol: 'http', addr: reg.host }), async (a) => {
      const refs = await a.listTags();
      expect(refs).toEqual(expected(() => true, firstSegment, false));
      expect(refs.find((r) => r.repository === 'plain')).toMatchObject({
        namespace: '',
        imageName: 'plain',
      });
      expect(await headAll(a, refs)).toEqual(
        refs.map((r) => pushed.get(`${r.repository}:${r.tag}`)),
      );
    });
  });

  it('keeps to one namespace when given one', async () => {
    const refs = await withAdapter(
      new OciAdapter({ protocol: 'http', addr: reg.host, namespace: 'alpha' }),
      (a) => a.listTags(),
    );
    expect(refs).toEqual(expected(under('alpha'), firstSegment, false));
  });

  it('says UNAUTHORIZED for a wrong password and CONNECTION_FAILED where nothing listens', async () => {
    // The fake Harbor's /v2 asks for the Basic credentials.
    const err = await failure(
      withAdapter(
        new OciAdapter({ protocol: 'http', addr: harbor.host, username: USER, password: WRONG }),
        (a) => a.listTags(),
      ),
    );
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain(harbor.host);
    expect(err.message).not.toContain(WRONG);

    const addr = `127.0.0.1:${await freePort()}`;
    const down = await failure(
      withAdapter(
        new OciAdapter(
          { protocol: 'http', addr },
          { registry: { retry: { attempts: 2, baseDelayMs: 10 } } },
        ),
        (a) => a.listTags(),
      ),
    );
    expect(down.code).toBe('CONNECTION_FAILED');
    expect(down.message).toContain(addr);
  });
});
