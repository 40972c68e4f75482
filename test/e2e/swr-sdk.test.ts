// Must show: Huawei Cloud's official Node SDK (npm @huaweicloud/huaweicloud-sdk-swr with
// huaweicloud-sdk-core), unmodified, drives Ferry's SWR v2 manage API and IAM v3
// (huawei-compat.md sections 1-3): namespaces in two regions, an auto-sync rule, a manual
// sync checked with skopeo, the sync job list, repositories and tags with documented field
// names and casing; a client built with `withRegion` resolves its project through
// GET /v3/projects; errors reach the SDK as ClientRequestException with SWR's codes.
//
// Two facts about the SDK that shape this file:
// - It resolves with the parsed JSON itself, not an instance of its `...Response` class: the
//   array APIs resolve with the array, with `httpStatusCode` and the headers it lists
//   (`Content-Range`) copied onto it as properties.
// - It substitutes path parameters verbatim (HcClient.buildRequest), so a repository named
//   `team/app` must be passed as `team$app` (the SWR path rule); the signer then encodes `$`.
import { BasicCredentials, Region } from '@huaweicloud/huaweicloud-sdk-core';
import { Logger4jInstance } from '@huaweicloud/huaweicloud-sdk-core/logger/log4jLogger.js';
import {
  CreateImageSyncRepoRequest,
  CreateImageSyncRepoRequestBody,
  CreateManualImageSyncRepoRequest,
  CreateManualImageSyncRepoRequestBody,
  CreateNamespaceRequest,
  CreateNamespaceRequestBody,
  DeleteImageSyncRepoRequest,
  DeleteImageSyncRepoRequestBody,
  DeleteRepoRequest,
  ListImageAutoSyncReposDetailsRequest,
  ListNamespacesRequest,
  ListReposDetailsRequest,
  ListRepositoryTagsRequest,
  ShowSyncJobRequest,
  SwrClient,
} from '@huaweicloud/huaweicloud-sdk-swr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getToken, startTestFerry, type TestFerry } from '../helpers/ferry.js';
import { getManifest, pushImage, pushIndex, type PushedImage } from '../helpers/images.js';
import { assertImageEqual, dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';
import { AUTO_SYNC_RULE_FIELDS, call, clientError } from '../helpers/sdk.js';

const NORTH = 'cn-north-4';
const EAST = 'cn-east-3';
const SRC_NS = 'ferry-src';
const DST_NS = 'ferry-dst';
const REPO = 'team/app';
/** The repository as SWR paths carry it (`/` sent as `$`). */
const REPO_PATH = 'team$app';
const REPO_FULL = `${SRC_NS}/${REPO}`;

/** A JSON object as received on the wire. */
type Wire = Record<string, unknown>;
/** What the SDK resolves with for an API answering a JSON array. */
type SdkArray<T> = T[] & { httpStatusCode?: number; 'Content-Range'?: string };

/** SWR times: UTC with microseconds, as in the documented examples. */
const SWR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Config plus layers: what SWR's `size` of an image is. */
function imageSize(image: PushedImage): number {
  return image.blobs.reduce((n, d) => n + d.size, 0);
}

describe('Huawei Cloud Node SDK against Ferry (SWR v2 manage, IAM v3)', () => {
  let ferry: TestFerry;
  /** Region id to project id, from GET /v3/projects. */
  const projects = new Map<string, string>();
  let domainId: string;
  /** `withEndpoint`, AK/SK, no project id: acts in the domain's first region (cn-north-4). */
  let north: SwrClient;
  /** `withEndpoint`, AK/SK and the cn-east-3 project id. */
  let east: SwrClient;
  let image: PushedImage;
  let index: PushedImage;

  const credentials = () => new BasicCredentials().withAk(ferry.ak).withSk(ferry.sk);
  const registry = (region: string) => ferry.registries.get(region)!;

  /** `ferry_http_requests_total` for one method, route and status. */
  async function requestCount(method: string, route: string, status: number): Promise<number> {
    const text = await (await fetch(`${ferry.url}/metrics`)).text();
    const labels = [`method="${method}"`, `route="${route}"`, `status="${status}"`];
    const line = text
      .split('\n')
      .find(
        (l) => l.startsWith('ferry_http_requests_total{') && labels.every((s) => l.includes(s)),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  beforeAll(async () => {
    // The SDK prints every failed request (its whole axios config) to stdout; the failures
    // that matter reach the tests as exceptions, which `readable` words.
    Logger4jInstance.level = 'off';
    ferry = await startTestFerry();
    const token = await getToken(
      ferry.url,
      { domain: ferry.domain, name: ferry.user, password: ferry.password },
      NORTH,
    );
    const res = await fetch(`${ferry.url}/v3/projects`, { headers: { 'x-auth-token': token } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      projects: { id: string; name: string; domain_id: string }[];
    };
    for (const p of body.projects) projects.set(p.name, p.id);
    expect([...projects.keys()].sort()).toEqual([EAST, NORTH]);
    domainId = body.projects[0]!.domain_id;

    north = SwrClient.newBuilder().withCredential(credentials()).withEndpoint(ferry.url).build();
    east = SwrClient.newBuilder()
      .withCredential(credentials().withProjectId(projects.get(EAST)))
      .withEndpoint(ferry.url)
      .build();

    const src = registry(NORTH).url;
    image = await pushImage(src, REPO_FULL, 'v1', {
      layers: [
        { size: 200_000, seed: 'swr-sdk/v1/0' },
        { size: 100_000, seed: 'swr-sdk/v1/1' },
      ],
    });
    index = await pushIndex(src, REPO_FULL, 'multi', [
      { platform: { architecture: 'amd64', os: 'linux' }, layers: [{ size: 60_000, seed: 'a' }] },
      { platform: { architecture: 'arm64', os: 'linux' }, layers: [{ size: 50_000, seed: 'b' }] },
    ]);
  });

  afterAll(async () => {
    await ferry?.stop();
  });

  /** The auto-sync rules of the test repository, through the SDK. */
  const listRules = () =>
    call<SdkArray<Wire>>(
      north.listImageAutoSyncReposDetails(
        new ListImageAutoSyncReposDetailsRequest().withNamespace(SRC_NS).withRepository(REPO_PATH),
      ),
    );

  describe('a client built with withEndpoint and AK/SK', () => {
    it('creates a namespace in each region and lists each region\u2019s own', async () => {
      const created = await call<Wire>(
        north.createNamespace(
          new CreateNamespaceRequest().withBody(
            new CreateNamespaceRequestBody().withNamespace(SRC_NS),
          ),
        ),
      );
      expect(created.httpStatusCode).toBe(201);
      const createdEast = await call<Wire>(
        east.createNamespace(
          new CreateNamespaceRequest().withBody(
            new CreateNamespaceRequestBody().withNamespace(DST_NS),
          ),
        ),
      );
      expect(createdEast.httpStatusCode).toBe(201);

      for (const [client, name] of [
        [north, SRC_NS],
        [east, DST_NS],
      ] as const) {
        const list = await call<{ namespaces: Wire[]; httpStatusCode: number }>(
          client.listNamespaces(new ListNamespacesRequest()),
        );
        expect(list.httpStatusCode).toBe(200);
        expect(list.namespaces).toHaveLength(1);
        const ns = list.namespaces[0]!;
        expect(Object.keys(ns).sort()).toEqual(['auth', 'creator_name', 'id', 'name']);
        expect(ns).toEqual({ id: expect.any(Number), name, creator_name: ferry.user, auth: 7 });
      }
    });

    it('creates an auto-sync rule and lists it with the documented camelCase fields', async () => {
      const res = await call<Wire>(
        north.createImageSyncRepo(
          new CreateImageSyncRepoRequest()
            .withNamespace(SRC_NS)
            .withRepository(REPO_PATH)
            .withBody(
              new CreateImageSyncRepoRequestBody()
                .withRemoteRegionId(EAST)
                .withRemoteNamespace(DST_NS)
                .withSyncAuto(true)
                .withOverride(false),
            ),
        ),
      );
      expect(res.httpStatusCode).toBe(200);

      const rules = await listRules();
      expect(Array.isArray(rules)).toBe(true);
      expect(rules.httpStatusCode).toBe(200);
      expect(rules).toHaveLength(1);
      const rule = rules[0]!;
      expect(Object.keys(rule).sort()).toEqual(AUTO_SYNC_RULE_FIELDS);
      expect(rule).toEqual({
        createdAt: expect.stringMatching(SWR_TIME),
        domainID: domainId,
        domainName: ferry.domain,
        id: expect.any(Number),
        namespace: SRC_NS,
        override: false,
        remoteNamespace: DST_NS,
        remoteRegionId: EAST,
        repoName: REPO,
        syncAuto: true,
        updatedAt: expect.stringMatching(SWR_TIME),
      });
    });

    it('syncs an image and an index to cn-east-3 by hand: [] and identical manifests', async () => {
      const failed = await call<SdkArray<string>>(
        north.createManualImageSyncRepo(
          new CreateManualImageSyncRepoRequest()
            .withNamespace(SRC_NS)
            .withRepository(REPO_PATH)
            .withBody(
              new CreateManualImageSyncRepoRequestBody()
                .withImageTag(['v1', 'multi'])
                .withRemoteRegionId(EAST)
                .withRemoteNamespace(DST_NS)
                .withOverride(false),
            ),
        ),
      );
      expect(failed.httpStatusCode).toBe(200);
      expect([...failed]).toEqual([]);

      const src = registry(NORTH).host;
      const dst = registry(EAST).host;
      const dstRepo = `${DST_NS}/${REPO}`;
      for (const pushed of [image, index]) {
        const copied = await skopeoInspectRaw(dockerRef(dst, dstRepo, pushed.tag!));
        expect(copied.digest).toBe(pushed.digest);
        expect(copied.digest).toBe(
          (await skopeoInspectRaw(dockerRef(src, REPO_FULL, pushed.tag!))).digest,
        );
        // The whole graph: index children, configs and layers.
        await assertImageEqual(src, REPO_FULL, pushed.tag!, dst, dstRepo);
      }
    });

    it('shows the sync jobs: status success, tag, camelCase fields, Content-Range', async () => {
      const jobs = await call<SdkArray<Wire>>(
        north.showSyncJob(
          new ShowSyncJobRequest()
            .withNamespace(SRC_NS)
            .withRepository(REPO_PATH)
            .withFilter('limit::10|offset::0|order::desc'),
        ),
      );
      expect(Array.isArray(jobs)).toBe(true);
      expect(jobs.httpStatusCode).toBe(200);
      expect(jobs['Content-Range']).toBe('0-2/2');
      expect(jobs).toHaveLength(2);
      for (const job of jobs) {
        for (const key of [
          'createdAt',
          'domainID',
          'domainName',
          'id',
          'namespace',
          'override',
          'remoteNamespace',
          'remoteRegionId',
          'repoName',
          'status',
          'syncOperatorId',
          'syncOperatorName',
          'tag',
          'updatedAt',
        ]) {
          expect(job, key).toHaveProperty(key);
        }
        expect(job).toMatchObject({
          createdAt: expect.stringMatching(SWR_TIME),
          domainID: domainId,
          domainName: ferry.domain,
          id: expect.any(Number),
          namespace: SRC_NS,
          override: false,
          remoteNamespace: DST_NS,
          remoteRegionId: EAST,
          repoName: REPO,
          status: 'success',
          syncOperatorId: expect.any(String),
          syncOperatorName: ferry.user,
          updatedAt: expect.stringMatching(SWR_TIME),
        });
      }
      expect(jobs.map((j) => j.tag).sort()).toEqual(['multi', 'v1']);
      // order::desc: newest (highest id) first.
      const ids = jobs.map((j) => j.id as number);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
    });

    it('deletes the auto-sync rule; the list is then empty', async () => {
      const res = await call<Wire>(
        north.deleteImageSyncRepo(
          new DeleteImageSyncRepoRequest()
            .withNamespace(SRC_NS)
            .withRepository(REPO_PATH)
            .withBody(
              new DeleteImageSyncRepoRequestBody()
                .withRemoteRegionId(EAST)
                .withRemoteNamespace(DST_NS),
            ),
        ),
      );
      expect(res.httpStatusCode).toBe(200);
      const rules = await listRules();
      expect(rules.httpStatusCode).toBe(200);
      expect([...rules]).toEqual([]);
    });

    it('lists the pushed repository with its tags, path and size', async () => {
      const repos = await call<SdkArray<Wire>>(
        north.listReposDetails(new ListReposDetailsRequest().withNamespace(SRC_NS)),
      );
      expect(Array.isArray(repos)).toBe(true);
      expect(repos.httpStatusCode).toBe(200);
      expect(repos['Content-Range']).toBe('0-1/1');
      expect(repos).toHaveLength(1);
      const repo = repos[0]!;
      expect(repo).toMatchObject({
        name: REPO,
        namespace: SRC_NS,
        num_images: 2,
        tags: ['multi', 'v1'],
        path: `${registry(NORTH).host}/${SRC_NS}/${REPO}`,
        domain_name: ferry.domain,
      });
      expect(repo.size).toBeGreaterThan(0);
      expect(repo.size).toBe(imageSize(image) + imageSize(index));
      for (const key of ['is_public', 'num_download', 'created_at', 'updated_at']) {
        expect(repo, key).toHaveProperty(key);
      }
    });

    it('lists tags with capital Tag, the pushed digest, size and tag_type', async () => {
      const tags = await call<SdkArray<Wire>>(
        north.listRepositoryTags(
          new ListRepositoryTagsRequest().withNamespace(SRC_NS).withRepository(REPO_PATH),
        ),
      );
      expect(Array.isArray(tags)).toBe(true);
      expect(tags.httpStatusCode).toBe(200);
      expect(tags['Content-Range']).toBe('0-2/2');
      expect(tags).toHaveLength(2);
      for (const t of tags) {
        expect(t).toHaveProperty('Tag');
        expect(t).not.toHaveProperty('tag');
      }
      const byTag = new Map(tags.map((t) => [t.Tag as string, t] as const));
      expect([...byTag.keys()].sort()).toEqual(['multi', 'v1']);
      const host = registry(NORTH).host;
      expect(byTag.get('v1')).toMatchObject({
        Tag: 'v1',
        digest: image.digest,
        size: imageSize(image),
        tag_type: 0,
        schema: 2,
        path: `${host}/${REPO_FULL}:v1`,
        manifest: image.manifest.toString('utf8'),
        image_id: image.blobs[0]!.digest.replace(/^sha256:/, ''),
      });
      // An index: tag_type 1; its size is that of its platforms' images.
      expect(byTag.get('multi')).toMatchObject({
        Tag: 'multi',
        digest: index.digest,
        size: index.children!.reduce((n, c) => n + imageSize(c), 0),
        tag_type: 1,
        path: `${host}/${REPO_FULL}:multi`,
        manifest: index.manifest.toString('utf8'),
      });
    });
  });

  describe('deleteRepo', () => {
    it('deletes a repository with every tag (204), then answers 404 SVCSTG.SWR.4040010', async () => {
      const src = registry(NORTH).url;
      await pushImage(src, `${SRC_NS}/scratch/app`, 'v1', { layers: [{ size: 500, seed: 's' }] });
      const request = () =>
        new DeleteRepoRequest().withNamespace(SRC_NS).withRepository('scratch$app');
      const deleted = await call<Wire>(north.deleteRepo(request()));
      expect(deleted.httpStatusCode).toBe(204);
      expect(await getManifest(src, `${SRC_NS}/scratch/app`, 'v1')).toBeUndefined();
      const err = await clientError(north.deleteRepo(request()));
      expect(err.httpStatusCode).toBe(404);
      expect(err.errorCode).toBe('SVCSTG.SWR.4040010');
      // The test repository beside it is untouched.
      expect(await getManifest(src, REPO_FULL, 'v1')).toBeDefined();
    });
  });

  describe('a client built with withRegion and an IAM endpoint, without a project id', () => {
    it('resolves its project through GET /v3/projects and acts in cn-east-3', async () => {
      const before = {
        get: await requestCount('GET', '/v3/projects', 200),
        post: await requestCount('POST', '/v3/projects', 200),
      };
      const creds = credentials().withIamEndpoint(ferry.url);
      const client = SwrClient.newBuilder()
        .withCredential(creds)
        .withRegion(new Region(EAST, ferry.url))
        .build();

      const list = await call<{ namespaces: Wire[]; httpStatusCode: number }>(
        client.listNamespaces(new ListNamespacesRequest()),
      );
      expect(list.httpStatusCode).toBe(200);
      expect(list.namespaces.map((n) => n.name)).toEqual([DST_NS]);
      expect(creds.projectId).toBe(projects.get(EAST));
      expect(await requestCount('GET', '/v3/projects', 200)).toBe(before.get + 1);
      // Found by name: the SDK did not fall back to creating the project.
      expect(await requestCount('POST', '/v3/projects', 200)).toBe(before.post);

      // The synced repository is there, in the target namespace of cn-east-3.
      const repos = await call<SdkArray<Wire>>(
        client.listReposDetails(new ListReposDetailsRequest()),
      );
      expect(repos.map((r) => `${r.namespace as string}/${r.name as string}`)).toEqual([
        `${DST_NS}/${REPO}`,
      ]);
      expect(repos[0]).toMatchObject({
        path: `${registry(EAST).host}/${DST_NS}/${REPO}`,
        tags: ['multi', 'v1'],
      });
    });
  });

  describe('errors, as the SDK raises them', () => {
    it('a wrong SK: ClientRequestException 401', async () => {
      const bad = SwrClient.newBuilder()
        .withCredential(new BasicCredentials().withAk(ferry.ak).withSk(`${ferry.sk}x`))
        .withEndpoint(ferry.url)
        .build();
      const err = await clientError(bad.listNamespaces(new ListNamespacesRequest()));
      expect(err.httpStatusCode).toBe(401);
      expect(err.errorCode).toMatch(/^SVCSTG\.SWR\./);
      expect(err.errorMsg).toBeTruthy();
    });

    it('an invalid namespace name: 400 SVCSTG.SWR.4000014', async () => {
      const err = await clientError(
        north.createNamespace(
          new CreateNamespaceRequest().withBody(
            new CreateNamespaceRequestBody().withNamespace('Bad_Name'),
          ),
        ),
      );
      expect(err.httpStatusCode).toBe(400);
      expect(err.errorCode).toBe('SVCSTG.SWR.4000014');
      expect(err.errorMsg).toBeTruthy();
    });

    it('a namespace that exists: 409 SVCSTG.SWR.4090060', async () => {
      const err = await clientError(
        north.createNamespace(
          new CreateNamespaceRequest().withBody(
            new CreateNamespaceRequestBody().withNamespace(SRC_NS),
          ),
        ),
      );
      expect(err.httpStatusCode).toBe(409);
      expect(err.errorCode).toBe('SVCSTG.SWR.4090060');
    });

    it('a sync to an unknown region: 400', async () => {
      const manual = await clientError(
        north.createManualImageSyncRepo(
          new CreateManualImageSyncRepoRequest()
            .withNamespace(SRC_NS)
            .withRepository(REPO_PATH)
            .withBody(
              new CreateManualImageSyncRepoRequestBody()
                .withImageTag(['v1'])
                .withRemoteRegionId('cn-nowhere-1')
                .withRemoteNamespace(DST_NS),
            ),
        ),
      );
      expect(manual.httpStatusCode).toBe(400);
      expect(manual.errorCode).toBe('SVCSTG.SWR.4000014');
      const rule = await clientError(
        north.createImageSyncRepo(
          new CreateImageSyncRepoRequest()
            .withNamespace(SRC_NS)
            .withRepository(REPO_PATH)
            .withBody(
              new CreateImageSyncRepoRequestBody()
                .withRemoteRegionId('cn-nowhere-1')
                .withRemoteNamespace(DST_NS),
            ),
        ),
      );
      expect(rule.httpStatusCode).toBe(400);
      expect(rule.errorCode).toBe('SVCSTG.SWR.4000014');
    });
  });
});
