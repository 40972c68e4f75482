// Must show (issue 3): the SWR flow with curl and an X-Auth-Token from POST /v3/auth/tokens;
// the synced image checked with skopeo; override and `existed`; and the negative cases, none
// answering 5xx: credentials, signatures, dates, bodies, other domains, names, regions, filters.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFerry, getToken, type TestFerry } from '../helpers/ferry.js';
import { getManifest, pushImage, pushIndex, type PushedImage } from '../helpers/images.js';
import { signedFetch } from '../helpers/sdk-sign.js';
import { AUTO_SYNC_RULE_FIELDS } from '../helpers/sdk.js';
import { dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Runs the real curl; returns status, lower-cased headers and body. */
function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-i', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl ${args.join(' ')}: ${stderr}`));
      const split = stdout.indexOf('\r\n\r\n');
      const head = stdout.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(head[0]!.split(' ')[1]), headers, body: stdout.slice(split + 4) });
    });
  });
}

function swrError(body: string): { error_code: string; error_msg: string } {
  const parsed = JSON.parse(body) as { error_code: string; error_msg: string; errors: unknown[] };
  expect(parsed.errors).toHaveLength(1);
  return parsed;
}

describe('SWR API with curl and IAM tokens', () => {
  let t: TestFerry;
  let tokenA: string;
  let tokenB: string;
  let image: PushedImage;
  let index: PushedImage;
  const repoPath = '/v2/manage/namespaces/ns1/repos/team$app';

  const api = (token: string, method: string, path: string, body?: unknown) =>
    curl([
      '-X',
      method,
      `${t.url}${path}`,
      '-H',
      `X-Auth-Token: ${token}`,
      '-H',
      'Content-Type: application/json;charset=utf-8',
      ...(body === undefined ? [] : ['--data-binary', JSON.stringify(body)]),
    ]);

  beforeAll(async () => {
    t = await startTestFerry();
    const a = t.registries.get('cn-north-4')!;
    image = await pushImage(a.url, 'ns1/team/app', 'v1', {
      layers: [
        { size: 200_000, seed: 'base' },
        { size: 50_000, seed: 'v1' },
      ],
    });
    index = await pushIndex(
      a.url,
      'ns1/team/app',
      'v2',
      [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ size: 30_000, seed: 'x' }] },
        { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ size: 30_000, seed: 'y' }] },
      ],
      'docker',
    );
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('issues project-scoped tokens with curl (201, X-Subject-Token, token body)', async () => {
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'alice', password: t.password, domain: { name: 'acme' } } },
        },
        scope: { project: { name: 'cn-north-4' } },
      },
    };
    const res = await curl([
      '-X',
      'POST',
      `${t.url}/v3/auth/tokens`,
      '-H',
      'Content-Type: application/json;charset=utf8',
      '--data-binary',
      JSON.stringify(body),
    ]);
    expect(res.status).toBe(201);
    tokenA = res.headers['x-subject-token']!;
    expect(tokenA).toMatch(/^ferry-/);
    interface Named {
      name: string;
      domain: { name: string };
    }
    const { token } = JSON.parse(res.body) as {
      token: {
        methods: string[];
        project: Named;
        user: Named;
        expires_at: string;
        issued_at: string;
        catalog: { endpoints: { region: string }[] }[];
      };
    };
    expect(token.methods).toEqual(['password']);
    expect(token.project.name).toBe('cn-north-4');
    expect(token.project.domain.name).toBe('acme');
    expect(token.user.name).toBe('alice');
    expect(token.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const ttl = Date.parse(token.expires_at) - Date.parse(token.issued_at);
    expect(ttl).toBe(86400_000);
    expect(token.catalog[0]!.endpoints.map((e) => e.region)).toEqual(['cn-north-4', 'cn-east-3']);
    tokenB = await getToken(
      t.url,
      { domain: 'acme', name: 'alice', password: t.password },
      'cn-east-3',
    );
  });

  it('creates and lists namespaces per region', async () => {
    expect((await api(tokenA, 'POST', '/v2/manage/namespaces', { namespace: 'ns1' })).status).toBe(
      201,
    );
    expect((await api(tokenB, 'POST', '/v2/manage/namespaces', { namespace: 'ns2' })).status).toBe(
      201,
    );
    const list = await api(tokenA, 'GET', '/v2/manage/namespaces');
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body)).toEqual({
      namespaces: [{ id: expect.any(Number), name: 'ns1', creator_name: 'alice', auth: 7 }],
    });
    const filtered = await api(
      tokenB,
      'GET',
      '/v2/manage/namespaces?filter=namespace::ns|mode::visible',
    );
    expect(JSON.parse(filtered.body).namespaces.map((n: { name: string }) => n.name)).toEqual([
      'ns2',
    ]);
    const show = await api(tokenA, 'GET', '/v2/manage/namespaces/ns1');
    expect(JSON.parse(show.body)).toMatchObject({ name: 'ns1', creator_name: 'alice', auth: 7 });
  });

  it('stores, lists and deletes auto-sync rules', async () => {
    const rule = {
      remoteRegionId: 'cn-east-3',
      remoteNamespace: 'ns2',
      syncAuto: true,
      override: false,
    };
    const created = await api(tokenA, 'POST', `${repoPath}/sync_repo`, rule);
    expect(created.status).toBe(200);
    expect((await api(tokenA, 'POST', `${repoPath}/sync_repo`, rule)).status).toBe(409);
    const list = await api(tokenA, 'GET', `${repoPath}/sync_repo`);
    const rules = JSON.parse(list.body) as Record<string, unknown>[];
    expect(rules).toHaveLength(1);
    expect(Object.keys(rules[0]!).sort()).toEqual(AUTO_SYNC_RULE_FIELDS);
    expect(rules[0]).toMatchObject({
      domainName: 'acme',
      namespace: 'ns1',
      repoName: 'team/app',
      syncAuto: true,
    });
    const del = await api(tokenA, 'DELETE', `${repoPath}/sync_repo`, {
      remoteRegionId: 'cn-east-3',
      remoteNamespace: 'ns2',
    });
    expect(del.status).toBe(200);
    expect(JSON.parse((await api(tokenA, 'GET', `${repoPath}/sync_repo`)).body)).toEqual([]);
    const again = await api(tokenA, 'DELETE', `${repoPath}/sync_repo`, {
      remoteRegionId: 'cn-east-3',
      remoteNamespace: 'ns2',
    });
    expect(again.status).toBe(404);
  });

  it('syncs tags to another region: [] answered, digests equal by skopeo, jobs recorded', async () => {
    const res = await api(tokenA, 'POST', `${repoPath}/sync_images`, {
      imageTag: ['v1', 'v2'],
      remoteRegionId: 'cn-east-3',
      remoteNamespace: 'ns2',
      override: false,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual([]);
    const b = t.registries.get('cn-east-3')!;
    for (const [tag, pushed] of [
      ['v1', image],
      ['v2', index],
    ] as const) {
      const raw = await skopeoInspectRaw(dockerRef(b.host, 'ns2/team/app', tag));
      expect(raw.digest).toBe(pushed.digest);
      expect(raw.bytes.equals(pushed.manifest)).toBe(true);
    }
    const jobs = await api(
      tokenA,
      'GET',
      `${repoPath}/sync_job?filter=limit::10|offset::0|order::desc`,
    );
    expect(jobs.status).toBe(200);
    expect(jobs.headers['content-range']).toBe('0-2/2');
    const rows = JSON.parse(jobs.body) as Record<string, unknown>[];
    expect(rows.map((r) => [r.tag, r.status])).toEqual([
      ['v2', 'success'],
      ['v1', 'success'],
    ]);
    expect(rows[0]).toMatchObject({
      domainName: 'acme',
      namespace: 'ns1',
      repoName: 'team/app',
      remoteNamespace: 'ns2',
      remoteRegionId: 'cn-east-3',
      override: false,
      syncOperatorName: 'alice',
      attempts: 1,
      digest: index.digest,
    });
    expect(typeof rows[0]!.domainID).toBe('string');
    const asc = await api(
      tokenA,
      'GET',
      `${repoPath}/sync_job?filter=limit::1|offset::1|order::asc`,
    );
    expect(asc.headers['content-range']).toBe('1-1/2');
    expect(JSON.parse(asc.body)[0].tag).toBe('v2');
  });

  it('answers existed tags as failed unless override is set', async () => {
    const a = t.registries.get('cn-north-4')!;
    const b = t.registries.get('cn-east-3')!;
    const other = await pushImage(b.url, 'ns2/team/app', 'v3', {
      layers: [{ size: 1000, seed: 'other' }],
    });
    const mine = await pushImage(a.url, 'ns1/team/app', 'v3', {
      layers: [{ size: 1000, seed: 'mine' }],
    });
    const body = { imageTag: ['v3'], remoteRegionId: 'cn-east-3', remoteNamespace: 'ns2' };
    const kept = await api(tokenA, 'POST', `${repoPath}/sync_images`, body);
    expect(JSON.parse(kept.body)).toEqual(['v3']);
    expect((await skopeoInspectRaw(dockerRef(b.host, 'ns2/team/app', 'v3'))).digest).toBe(
      other.digest,
    );
    const jobs = JSON.parse(
      (await api(tokenA, 'GET', `${repoPath}/sync_job?filter=limit::1|offset::0`)).body,
    );
    expect(jobs[0]).toMatchObject({ tag: 'v3', status: 'existed' });
    expect(jobs[0].errorReason).toMatch(/TAG_CONFLICT/);
    const replaced = await api(tokenA, 'POST', `${repoPath}/sync_images`, {
      ...body,
      override: true,
    });
    expect(JSON.parse(replaced.body)).toEqual([]);
    expect((await skopeoInspectRaw(dockerRef(b.host, 'ns2/team/app', 'v3'))).digest).toBe(
      mine.digest,
    );
  });

  it('lists repositories and tags from the region registry, with Content-Range', async () => {
    const repos = await api(
      tokenA,
      'GET',
      '/v2/manage/repos?filter=namespace::ns1|limit::10|offset::0|order_column::name|order_type::asc',
    );
    expect(repos.status).toBe(200);
    expect(repos.headers['content-range']).toBe('0-1/1');
    const [repo] = JSON.parse(repos.body) as Record<string, unknown>[];
    expect(repo).toMatchObject({
      name: 'team/app',
      namespace: 'ns1',
      num_images: 3,
      tags: ['v1', 'v2', 'v3'],
      domain_name: 'acme',
      path: `${t.registries.get('cn-north-4')!.host}/ns1/team/app`,
    });
    expect(repo!.size).toBeGreaterThan(250_000);

    const tags = await api(
      tokenA,
      'GET',
      `${repoPath}/tags?filter=order_column::tag|order_type::asc|limit::2|offset::0`,
    );
    expect(tags.headers['content-range']).toBe('0-2/3');
    const list = JSON.parse(tags.body) as Record<string, unknown>[];
    expect(list.map((x) => x.Tag)).toEqual(['v1', 'v2']);
    const sizeOf = (p: PushedImage) => p.blobs.reduce((n, d) => n + d.size, 0);
    expect(list[0]).toMatchObject({
      Tag: 'v1',
      digest: image.digest,
      size: sizeOf(image),
      tag_type: 0,
      schema: 2,
    });
    expect(list[0]!.manifest).toBe(image.manifest.toString('utf8'));
    expect(list[1]).toMatchObject({
      Tag: 'v2',
      digest: index.digest,
      size: sizeOf(index),
      tag_type: 1,
    });
    expect(list[0]).not.toHaveProperty('tag');

    const one = await api(tokenA, 'GET', `${repoPath}/tags/v1`);
    expect(JSON.parse(one.body)).toMatchObject({ tag: 'v1', digest: image.digest });
    expect(JSON.parse(one.body)).not.toHaveProperty('Tag');

    const show = await api(tokenA, 'GET', repoPath);
    expect(JSON.parse(show.body)).toMatchObject({
      name: 'team/app',
      num_images: 3,
      creator_name: 'alice',
    });

    const regions = await api(tokenA, 'GET', '/v2/manage/regions');
    expect(JSON.parse(regions.body)).toEqual([{ regionID: 'cn-east-3' }]);
  });

  it('deletes a tag, and refuses to delete a namespace that holds repositories (406)', async () => {
    const del = await api(tokenA, 'DELETE', `${repoPath}/tags/v3`);
    expect(del.status).toBe(204);
    const gone = await api(tokenA, 'GET', `${repoPath}/tags/v3`);
    expect(gone.status).toBe(404);
    expect(swrError(gone.body).error_code).toBe('SVCSTG.SWR.4040048');
    const busy = await api(tokenA, 'DELETE', '/v2/manage/namespaces/ns1');
    expect(busy.status).toBe(406);
    expect(swrError(busy.body).error_code).toBe('SVCSTG.SWR.4060074');
    expect(
      (await api(tokenA, 'POST', '/v2/manage/namespaces', { namespace: 'empty1' })).status,
    ).toBe(201);
    expect((await api(tokenA, 'DELETE', '/v2/manage/namespaces/empty1')).status).toBe(204);
    expect((await api(tokenA, 'GET', '/v2/manage/namespaces/empty1')).status).toBe(404);
  });

  it('deletes a repository: every tag, its auto-sync rules and shares; then 404', async () => {
    const registry = t.registries.get('cn-north-4')!;
    const path = '/v2/manage/namespaces/ns1/repos/gone';
    const pushGone = () =>
      Promise.all([
        pushImage(registry.url, 'ns1/gone', 'v1', { layers: [{ size: 900, seed: 'gone' }] }),
        pushIndex(registry.url, 'ns1/gone', 'multi', [
          { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ size: 90, seed: 'g1' }] },
          { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ size: 90, seed: 'g2' }] },
        ]),
      ]);
    const [v1] = await pushGone();
    // Two tags on one digest: deleted once, both gone.
    await pushImage(registry.url, 'ns1/gone', 'latest', { layers: [{ size: 900, seed: 'gone' }] });
    await t.ferry.iam.bootstrap({
      domain: 'initech',
      user: 'peter',
      password: 'peter-pass',
      accessKeys: [],
    });
    const rule = { remoteRegionId: 'cn-east-3', remoteNamespace: 'ns2', syncAuto: true };
    expect((await api(tokenA, 'POST', `${path}/sync_repo`, rule)).status).toBe(200);
    const shares = '/v2/manage/namespaces/ns1/repositories/gone/access-domains';
    const share = { access_domain: 'initech', permit: 'read', deadline: 'forever' };
    expect((await api(tokenA, 'POST', shares, share)).status).toBe(201);
    const sharedWith = async () =>
      (JSON.parse((await api(tokenA, 'GET', shares)).body) as { access_domain: string }[]).map(
        (x) => x.access_domain,
      );
    expect(await sharedWith()).toEqual(['initech']);

    // Another domain cannot: the namespace is not theirs.
    const peter = await getToken(
      t.url,
      { domain: 'initech', name: 'peter', password: 'peter-pass' },
      'cn-north-4',
    );
    const refused = await api(peter, 'DELETE', path);
    expect(refused.status).toBe(404);
    expect(swrError(refused.body).error_code).toBe('SVCSTG.SWR.4040058');
    expect((await api(tokenA, 'GET', path)).status).toBe(200);

    const del = await api(tokenA, 'DELETE', path);
    expect(del.status, del.body).toBe(204);
    for (const tag of ['v1', 'latest', 'multi']) {
      expect(await getManifest(registry.url, 'ns1/gone', tag), tag).toBeUndefined();
    }
    const shown = await api(tokenA, 'GET', path);
    expect(shown.status).toBe(404);
    expect(swrError(shown.body).error_code).toBe('SVCSTG.SWR.4040010');
    // A rule left on a repository without tags (a delete cut short) goes with the next delete,
    // which still answers 404.
    expect((await api(tokenA, 'POST', `${path}/sync_repo`, rule)).status).toBe(200);
    const again = await api(tokenA, 'DELETE', path);
    expect(again.status).toBe(404);
    expect(swrError(again.body).error_code).toBe('SVCSTG.SWR.4040010');
    expect(JSON.parse((await api(tokenA, 'GET', `${path}/sync_repo`)).body)).toEqual([]);
    // The rest of the namespace is untouched.
    expect((await api(tokenA, 'GET', `${repoPath}/tags/v1`)).status).toBe(200);

    // Pushed again, the repository starts with no rules and no shares of the old one.
    const [again1] = await pushGone();
    expect(again1.digest).toBe(v1.digest);
    expect(JSON.parse((await api(tokenA, 'GET', `${path}/sync_repo`)).body)).toEqual([]);
    expect(await sharedWith()).toEqual([]);
  });

  it('lists a tag whose image cannot be read from its HEAD, and an index by the platforms it has', async () => {
    const registry = t.registries.get('cn-north-4')!;
    const repo = 'ns1/damaged';
    const good = await pushImage(registry.url, repo, 'good', {
      layers: [{ size: 700, seed: 'ok' }],
    });
    const multi = await pushIndex(registry.url, repo, 'multi', [
      { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ size: 80, seed: 'd1' }] },
      { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ size: 90, seed: 'd2' }] },
    ]);
    const bad = await pushImage(registry.url, repo, 'bad', { layers: [{ size: 60, seed: 'no' }] });
    // Someone deleted one platform's manifest of the index ...
    const [kept, lost] = multi.children!;
    const gone = await fetch(`${registry.url}/v2/${repo}/manifests/${lost!.digest}`, {
      method: 'DELETE',
    });
    expect(gone.status).toBe(202);
    // ... and the stored bytes of another manifest changed on disk: still JSON, wrong digest.
    const hex = bad.digest.slice('sha256:'.length);
    const data = `${registry.dir}/data/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    await writeFile(data, good.manifest);

    const sizeOf = (i: PushedImage) => i.blobs.reduce((n, b) => n + b.size, 0);
    const list = await api(tokenA, 'GET', '/v2/manage/namespaces/ns1/repos/damaged/tags');
    expect(list.status, list.body).toBe(200);
    const byTag = new Map(
      (JSON.parse(list.body) as Record<string, unknown>[]).map((x) => [x.Tag, x] as const),
    );
    expect([...byTag.keys()].sort()).toEqual(['bad', 'good', 'multi']);
    expect(byTag.get('good')).toMatchObject({ digest: good.digest, size: sizeOf(good) });
    expect(byTag.get('multi')).toMatchObject({
      digest: multi.digest,
      size: sizeOf(kept!),
      tag_type: 1,
    });
    expect(byTag.get('bad')).toMatchObject({ digest: bad.digest, size: 0, manifest: '' });
    const one = await api(tokenA, 'GET', '/v2/manage/namespaces/ns1/repos/damaged/tags/bad');
    expect(one.status).toBe(200);
    expect(JSON.parse(one.body)).toMatchObject({ tag: 'bad', digest: bad.digest });
    const shown = await api(tokenA, 'GET', '/v2/manage/namespaces/ns1/repos/damaged');
    expect(shown.status, shown.body).toBe(200);
    expect(JSON.parse(shown.body)).toMatchObject({
      num_images: 3,
      size: sizeOf(good) + sizeOf(kept!),
    });
  });

  describe('negative cases (never 5xx)', () => {
    const keys = () => ({ ak: t.ak, sk: t.sk });
    const nsBody = { namespace: 'signed1' };

    it('401 without credentials, with an unknown token, a wrong signature, a stale date or a tampered body', async () => {
      const none = await fetch(`${t.url}/v2/manage/namespaces`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as { error_code: string }).error_code).toBe('SVCSTG.SWR.4010000');
      expect((await api('ferry-not-a-token', 'GET', '/v2/manage/namespaces')).status).toBe(401);

      const good = await signedFetch(t.url, keys(), {
        method: 'POST',
        path: '/v2/manage/namespaces',
        data: nsBody,
      });
      expect(good.status).toBe(201);
      const wrong = await signedFetch(
        t.url,
        { ak: t.ak, sk: 'not-the-secret' },
        { method: 'GET', path: '/v2/manage/namespaces' },
      );
      expect(wrong.status).toBe(401);
      expect(wrong.text).toMatch(/signature does not match/);
      const unknown = await signedFetch(
        t.url,
        { ak: 'UNKNOWNAK', sk: t.sk },
        { method: 'GET', path: '/v2/manage/namespaces' },
      );
      expect(unknown.status).toBe(401);
      const stale = await signedFetch(t.url, keys(), {
        method: 'GET',
        path: '/v2/manage/namespaces',
        date: new Date(Date.now() - 16 * 60_000),
      });
      expect(stale.status).toBe(401);
      expect(stale.text).toMatch(/15 minutes/);
      const tampered = await signedFetch(t.url, keys(), {
        method: 'POST',
        path: '/v2/manage/namespaces',
        data: { namespace: 'signed2' },
        sendBody: JSON.stringify({ namespace: 'evil' }),
      });
      expect(tampered.status).toBe(401);
      expect((await api(tokenA, 'GET', '/v2/manage/namespaces/evil')).status).toBe(404);
      // A malformed body from a stranger is refused as a stranger, before it is parsed.
      const strangerJunk = await fetch(`${t.url}/v2/manage/namespaces`, {
        method: 'POST',
        body: '{',
      });
      expect(strangerJunk.status).toBe(401);
    });

    it('hides another domain\u2019s namespaces (404) and refuses its projects (403)', async () => {
      await t.ferry.iam.bootstrap({
        domain: 'globex',
        user: 'bob',
        password: 'bob-password',
        accessKeys: [],
      });
      const bob = await getToken(
        t.url,
        { domain: 'globex', name: 'bob', password: 'bob-password' },
        'cn-north-4',
      );
      const list = await api(bob, 'GET', '/v2/manage/namespaces');
      expect(JSON.parse(list.body)).toEqual({ namespaces: [] });
      const show = await api(bob, 'GET', '/v2/manage/namespaces/ns1');
      expect(show.status).toBe(404);
      expect(swrError(show.body).error_code).toBe('SVCSTG.SWR.4040058');
      expect((await api(bob, 'GET', `${repoPath}/tags`)).status).toBe(404);
      expect(
        (await api(bob, 'GET', `${repoPath}/sync_job?filter=limit::10|offset::0`)).status,
      ).toBe(404);
      expect((await api(bob, 'DELETE', '/v2/manage/namespaces/ns1')).status).toBe(404);
      expect(
        (
          await api(bob, 'POST', `${repoPath}/sync_images`, {
            imageTag: ['v1'],
            remoteRegionId: 'cn-east-3',
            remoteNamespace: 'ns2',
          })
        ).status,
      ).toBe(404);
      const repos = await api(bob, 'GET', '/v2/manage/repos');
      expect(JSON.parse(repos.body)).toEqual([]);
      // Alice's project id, sent by Bob.
      const projects = await signedFetch(t.url, keys(), {
        method: 'GET',
        path: '/v3/projects',
        query: { name: 'cn-north-4' },
      });
      const aliceProject = (projects.json() as { projects: { id: string }[] }).projects[0]!.id;
      const res = await curl([
        `${t.url}/v2/manage/namespaces`,
        '-H',
        `X-Auth-Token: ${bob}`,
        '-H',
        `X-Project-Id: ${aliceProject}`,
      ]);
      expect(res.status).toBe(403);
      expect(swrError(res.body).error_code).toBe('SVCSTG.SWR.4030170');
      // Bob cannot take a name Alice holds in the same region.
      expect((await api(bob, 'POST', '/v2/manage/namespaces', { namespace: 'ns1' })).status).toBe(
        409,
      );
    });

    it('400 with an error code for invalid names, unknown regions, malformed JSON and bad filters', async () => {
      const cases: [string, string, unknown, RegExp][] = [
        ['POST', '/v2/manage/namespaces', { namespace: 'Bad_Name' }, /namespace "Bad_Name"/],
        ['POST', '/v2/manage/namespaces', { namespace: 'a--b' }, /adjacent/],
        ['POST', '/v2/manage/namespaces', {}, /namespace/],
        ['POST', '/v2/manage/namespaces', { namespace: 5 }, /namespace/],
        [
          'POST',
          `${repoPath}/sync_images`,
          { imageTag: ['v1'], remoteRegionId: 'mars-1', remoteNamespace: 'ns2' },
          /unknown region "mars-1"/,
        ],
        [
          'POST',
          `${repoPath}/sync_images`,
          { imageTag: [], remoteRegionId: 'cn-east-3', remoteNamespace: 'ns2' },
          /imageTag/,
        ],
        [
          'POST',
          `${repoPath}/sync_images`,
          { imageTag: ['-bad'], remoteRegionId: 'cn-east-3', remoteNamespace: 'ns2' },
          /imageTag "-bad"/,
        ],
        [
          'POST',
          `${repoPath}/sync_repo`,
          { remoteRegionId: 'cn-east-3', remoteNamespace: 'Bad' },
          /remoteNamespace "Bad"/,
        ],
        [
          'POST',
          '/v2/manage/namespaces/ns1/repos/Bad$Repo/sync_images',
          { imageTag: ['v1'], remoteRegionId: 'cn-east-3', remoteNamespace: 'ns2' },
          /repository "Bad\/Repo"/,
        ],
        ['GET', `${repoPath}/sync_job`, undefined, /filter: required/],
        ['GET', `${repoPath}/sync_job?filter=limit::10`, undefined, /limit and offset/],
        ['GET', `${repoPath}/sync_job?filter=limit::ten|offset::0`, undefined, /not a number/],
        [
          'GET',
          `${repoPath}/sync_job?filter=limit::10|offset::0|order::up`,
          undefined,
          /asc or desc/,
        ],
        ['GET', `${repoPath}/sync_job?filter=limit:10`, undefined, /not key::value/],
        ['GET', '/v2/manage/repos?filter=colour::red', undefined, /unknown key "colour"/],
        ['GET', '/v2/manage/repos?limit=5000', undefined, /between 1 and 1000/],
        ['GET', `${repoPath}/tags?filter=order_column::size`, undefined, /order_column/],
      ];
      for (const [method, path, body, message] of cases) {
        const res = await api(tokenA, method, path, body);
        expect(res.status, `${method} ${path}`).toBe(400);
        const err = swrError(res.body);
        expect(err.error_code, `${method} ${path}`).toBe('SVCSTG.SWR.4000014');
        expect(err.error_msg, `${method} ${path}`).toMatch(message);
      }
      const junk = await curl([
        '-X',
        'POST',
        `${t.url}/v2/manage/namespaces`,
        '-H',
        `X-Auth-Token: ${tokenA}`,
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        '{"namespace":',
      ]);
      expect(junk.status).toBe(400);
      expect(swrError(junk.body).error_msg).toMatch(/not valid JSON/);
    });

    it('404 for unknown repositories, tags, targets and routes; a wrong password is 401', async () => {
      const repo = await api(tokenA, 'GET', '/v2/manage/namespaces/ns1/repos/nothing/tags');
      expect(repo.status).toBe(404);
      expect(swrError(repo.body).error_code).toBe('SVCSTG.SWR.4040010');
      const target = await api(tokenA, 'POST', `${repoPath}/sync_images`, {
        imageTag: ['v1'],
        remoteRegionId: 'cn-east-3',
        remoteNamespace: 'nowhere',
      });
      expect(target.status).toBe(404);
      expect(swrError(target.body).error_msg).toMatch(/nowhere does not exist in cn-east-3/);
      const route = await api(tokenA, 'GET', '/v2/manage/nothing');
      expect(route.status).toBe(404);
      const badPw = await fetch(`${t.url}/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'alice', password: 'nope', domain: { name: 'acme' } } },
            },
            scope: { project: { name: 'cn-north-4' } },
          },
        }),
      });
      expect(badPw.status).toBe(401);
      expect(((await badPw.json()) as { error: { code: number } }).error.code).toBe(401);
      const noScope = await fetch(`${t.url}/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'alice', password: t.password, domain: { name: 'acme' } } },
            },
          },
        }),
      });
      expect(noScope.status).toBe(400);
    });
  });

  it('stores secrets hashed or encrypted, never in clear', async () => {
    const db = t.ferry.db;
    const keys = await db.selectFrom('access_keys').selectAll().execute();
    expect(keys.map((k) => k.ak)).toContain(t.ak);
    for (const k of keys) expect(k.sk_encrypted).not.toContain(t.sk);
    const users = await db.selectFrom('users').selectAll().execute();
    for (const u of users) {
      expect(u.password_hash).toMatch(/^scrypt\$/);
      expect(u.password_hash).not.toContain(t.password);
    }
    const tokens = await db.selectFrom('tokens').select('hash').execute();
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.map((r) => r.hash)).not.toContain(tokenA);
    expect(tokens.map((r) => r.hash)).toContain(createHash('sha256').update(tokenA).digest('hex'));
  });

  it('refuses a token once it has expired', async () => {
    const alice = await t.ferry.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', 'alice')
      .executeTakeFirstOrThrow();
    const past = new Date(Date.now() - 1000);
    await t.ferry.db
      .insertInto('tokens')
      .values({
        hash: createHash('sha256').update('ferry-expired-token').digest('hex'),
        user_id: alice.id,
        project_id: null,
        issued_at: new Date(past.getTime() - 86400_000),
        expires_at: past,
      })
      .execute();
    const res = await api('ferry-expired-token', 'GET', '/v2/manage/namespaces');
    expect(res.status).toBe(401);
    expect(swrError(res.body).error_msg).toMatch(/expired/);
  });

  it('serves health, readiness, metrics and the OpenAPI document without credentials', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${t.url}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/ferry_sync_jobs_total\{status="success"\} [1-9]/);
    expect(metrics).toMatch(
      /ferry_http_requests_total\{method="POST",route="\/v2\/manage\/namespaces",status="201"\}/,
    );
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain(
      '/v2/manage/namespaces/{namespace}/repos/{repository}/sync_images',
    );
    const page = await fetch(`${t.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/swagger/i);
  });
});
