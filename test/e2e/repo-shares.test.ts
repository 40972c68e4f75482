// Must show: SWR repository sharing (`…/repositories/{repo}/access-domains`) lets domain acme
// share a repository with domain globex. The official Node SDK drives create, list, show,
// update and delete (wire compatibility); bad input answers 4xx with SWR error codes, never
// 5xx; another domain cannot see or manage the shares (404); and `sharedWith`, which the HSS
// inventory reads, returns a share exactly while it is in effect.
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { Logger4jInstance } from '@huaweicloud/huaweicloud-sdk-core/logger/log4jLogger.js';
import {
  CreateRepoDomainsRequest,
  CreateRepoDomainsRequestBody,
  DeleteRepoDomainsRequest,
  ListRepoDomainsRequest,
  ShowAccessDomainRequest,
  SwrClient,
  UpdateRepoDomainsRequest,
  UpdateRepoDomainsRequestBody,
} from '@huaweicloud/huaweicloud-sdk-swr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedWith } from '../../src/storage/shares.js';
import { getToken, startTestFerry, type TestFerry } from '../helpers/ferry.js';
import { pushImage } from '../helpers/images.js';
import { call, clientError } from '../helpers/sdk.js';

const NORTH = 'cn-north-4';
const EAST = 'cn-east-3';
const NS = 'acme-apps';
const REPO = 'team/web';
/** The repository as SWR paths carry it (`/` sent as `$`). */
const REPO_PATH = 'team$web';
const BASE = `/v2/manage/namespaces/${NS}/repositories/${REPO_PATH}/access-domains`;
const GLOBEX = 'globex';
const BOB_PASSWORD = 'bob-password-1';

/** SWR times: UTC with microseconds. */
const SWR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const SHARE_KEYS = [
  'access_domain',
  'created',
  'creator_id',
  'creator_name',
  'deadline',
  'description',
  'namespace',
  'permit',
  'repository',
  'status',
  'updated',
];

type Wire = Record<string, unknown>;
type SdkArray<T> = T[] & { httpStatusCode?: number };

/** A date-time `ms` milliseconds from now, as the API takes it. */
function inFuture(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

describe('SWR repository sharing (access-domains)', () => {
  let t: TestFerry;
  let alice: string;
  let bob: string;
  let sdk: SwrClient;

  /** One HTTP call with a token; the status and the parsed body (undefined when empty). */
  async function api(
    token: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        'x-auth-token': token,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async function shares(): Promise<Wire[]> {
    const res = await api(alice, 'GET', BASE);
    expect(res.status).toBe(200);
    return res.body as Wire[];
  }

  beforeAll(async () => {
    Logger4jInstance.level = 'off';
    t = await startTestFerry();
    await t.ferry.iam.bootstrap({
      domain: GLOBEX,
      user: 'bob',
      password: BOB_PASSWORD,
      accessKeys: [],
    });
    alice = await getToken(t.url, { domain: t.domain, name: t.user, password: t.password }, NORTH);
    bob = await getToken(t.url, { domain: GLOBEX, name: 'bob', password: BOB_PASSWORD }, NORTH);
    expect((await api(alice, 'POST', '/v2/manage/namespaces', { namespace: NS })).status).toBe(201);
    expect(
      (await api(bob, 'POST', '/v2/manage/namespaces', { namespace: 'globex-ns' })).status,
    ).toBe(201);
    await pushImage(t.registries.get(NORTH)!.url, `${NS}/${REPO}`, 'v1', {
      layers: [{ size: 1000, seed: 'repo-shares' }],
    });
    // AK/SK of alice, no project id: acts in the first region, cn-north-4.
    sdk = SwrClient.newBuilder()
      .withCredential(new BasicCredentials().withAk(t.ak).withSk(t.sk))
      .withEndpoint(t.url)
      .build();
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('the SDK shares the repository with globex: 201, no body', async () => {
    const res = await call<Wire>(
      sdk.createRepoDomains(
        new CreateRepoDomainsRequest()
          .withNamespace(NS)
          .withRepository(REPO_PATH)
          .withBody(
            new CreateRepoDomainsRequestBody()
              .withAccessDomain(GLOBEX)
              .withPermit('read')
              .withDeadline('forever')
              .withDescription('for the globex team'),
          ),
      ),
    );
    expect(res.httpStatusCode).toBe(201);
  });

  it('the SDK lists the share with the documented fields', async () => {
    const list = await call<SdkArray<Wire>>(
      sdk.listRepoDomains(new ListRepoDomainsRequest().withNamespace(NS).withRepository(REPO_PATH)),
    );
    expect(Array.isArray(list)).toBe(true);
    expect(list.httpStatusCode).toBe(200);
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]!).sort()).toEqual(SHARE_KEYS);
    expect(list[0]).toEqual({
      namespace: NS,
      repository: REPO,
      access_domain: GLOBEX,
      permit: 'read',
      deadline: 'forever',
      description: 'for the globex team',
      creator_id: expect.stringMatching(/.+/),
      creator_name: t.user,
      created: expect.stringMatching(SWR_TIME),
      updated: expect.stringMatching(SWR_TIME),
      status: true,
    });
  });

  it('the SDK shows one share with exist: true, and exist: false for a domain not shared', async () => {
    const shown = await call<Wire>(
      sdk.showAccessDomain(
        new ShowAccessDomainRequest()
          .withNamespace(NS)
          .withRepository(REPO_PATH)
          .withAccessDomain(GLOBEX),
      ),
    );
    expect(shown.httpStatusCode).toBe(200);
    expect(shown).toMatchObject({
      exist: true,
      namespace: NS,
      repository: REPO,
      access_domain: GLOBEX,
      permit: 'read',
      deadline: 'forever',
      status: true,
    });
    const other = await api(alice, 'GET', `${BASE}/initech`);
    expect(other).toEqual({ status: 200, body: { exist: false } });
  });

  it('sharing again: 409 SVCSTG.SWR.4090006', async () => {
    const err = await clientError(
      sdk.createRepoDomains(
        new CreateRepoDomainsRequest()
          .withNamespace(NS)
          .withRepository(REPO_PATH)
          .withBody(
            new CreateRepoDomainsRequestBody()
              .withAccessDomain(GLOBEX)
              .withPermit('read')
              .withDeadline('forever'),
          ),
      ),
    );
    expect(err.httpStatusCode).toBe(409);
    expect(err.errorCode).toBe('SVCSTG.SWR.4090006');
    expect(err.errorMsg).toMatch(/already shared with globex/);
  });

  const good = { access_domain: GLOBEX, permit: 'read', deadline: 'forever' };
  it.each([
    ['an unknown domain', BASE, { ...good, access_domain: 'initech' }, 400, /no such domain/],
    ['the caller\u2019s own domain', BASE, { ...good, access_domain: 'acme' }, 400, /own domain/],
    ['an empty access_domain', BASE, { ...good, access_domain: '' }, 400, /access_domain/],
    ['permit write', BASE, { ...good, permit: 'write' }, 400, /permit "write": must be read/],
    ['a deadline that is no date', BASE, { ...good, deadline: 'tomorrow' }, 400, /deadline/],
    [
      'a date that does not exist',
      BASE,
      { ...good, deadline: '2099-02-30T00:00:00.000Z' },
      400,
      /deadline/,
    ],
    [
      'a deadline in the past',
      BASE,
      { ...good, deadline: '2020-01-01T00:00:00.000Z' },
      400,
      /must be in the future/,
    ],
    ['no deadline', BASE, { access_domain: GLOBEX, permit: 'read' }, 400, /deadline/],
    ['a long description', BASE, { ...good, description: 'x'.repeat(2000) }, 400, /description/],
    ['a body that is not JSON', BASE, '{"access_domain":', 400, /not valid JSON/],
    [
      'an unknown repository',
      BASE.replace(REPO_PATH, 'team$nothing'),
      good,
      404,
      /repository acme-apps\/team\/nothing does not exist/,
    ],
    ['a bad repository name', BASE.replace(REPO_PATH, 'Team'), good, 400, /repository "Team"/],
    [
      'an unknown namespace',
      BASE.replace(NS, 'nobody-ns'),
      good,
      404,
      /organization nobody-ns does not exist/,
    ],
  ])('%s: a 4xx with an SWR error code', async (_what, path, body, status, message) => {
    const res = await api(alice, 'POST', path, body);
    expect(res.status).toBe(status);
    const err = res.body as { error_code: string; error_msg: string };
    expect(err.error_code).toMatch(/^SVCSTG\.SWR\.4\d{6}$/);
    expect(err.error_msg).toMatch(message);
    expect((await shares()).map((s) => s.access_domain)).toEqual([GLOBEX]);
  });

  it('control characters in a path access_domain or a description: 400, not 500', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await api(alice, method, `${BASE}/glo%00bex`);
      expect(res.status, method).toBe(400);
      expect((res.body as Wire).error_code).toBe('SVCSTG.SWR.4000014');
    }
    const patch = await api(alice, 'PATCH', `${BASE}/glo%0Abex`, {
      permit: 'read',
      deadline: 'forever',
    });
    expect(patch.status).toBe(400);
    const nul = await api(alice, 'POST', BASE, { ...good, description: 'a\u0000b' });
    expect(nul.status).toBe(400);
    expect((await shares()).map((s) => s.access_domain)).toEqual([GLOBEX]);
  });

  it('the error codes name the failure: 4000014, 4040010, 4040058', async () => {
    const bad = await api(alice, 'POST', BASE, { ...good, permit: 'write' });
    expect((bad.body as Wire).error_code).toBe('SVCSTG.SWR.4000014');
    const repo = await api(alice, 'POST', BASE.replace(REPO_PATH, 'nothing'), good);
    expect((repo.body as Wire).error_code).toBe('SVCSTG.SWR.4040010');
    const ns = await api(alice, 'POST', BASE.replace(NS, 'nobody-ns'), good);
    expect((ns.body as Wire).error_code).toBe('SVCSTG.SWR.4040058');
  });

  it('globex cannot see or manage acme\u2019s shares: 404 NAMESPACE_NOT_FOUND', async () => {
    const calls: [string, string, unknown][] = [
      ['GET', BASE, undefined],
      ['GET', `${BASE}/${GLOBEX}`, undefined],
      ['POST', BASE, { ...good, access_domain: 'acme' }],
      ['PATCH', `${BASE}/${GLOBEX}`, { permit: 'read', deadline: inFuture(60_000) }],
      ['DELETE', `${BASE}/${GLOBEX}`, undefined],
    ];
    for (const [method, path, body] of calls) {
      const res = await api(bob, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((res.body as Wire).error_code).toBe('SVCSTG.SWR.4040058');
    }
    expect(await shares()).toHaveLength(1);
    expect((await shares())[0]).toMatchObject({ deadline: 'forever', status: true });
  });

  it('sharedWith returns the share to globex in cn-north-4 only', async () => {
    const now = await sharedWith(t.ferry.db, GLOBEX, NORTH);
    expect(now).toEqual([
      {
        region_id: NORTH,
        namespace: NS,
        repository: REPO,
        owner_domain_id: expect.any(String),
        owner_domain_name: 'acme',
        permit: 'read',
        deadline: 'forever',
        description: 'for the globex team',
      },
    ]);
    expect(await sharedWith(t.ferry.db, GLOBEX, EAST)).toEqual([]);
    expect(await sharedWith(t.ferry.db, 'acme', NORTH)).toEqual([]);
    // `forever` is in effect at any time.
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH, new Date('2999-01-01'))).toHaveLength(1);
  });

  it('the SDK updates the deadline and description: 201; sharedWith follows the deadline', async () => {
    const deadline = inFuture(3_600_000);
    const res = await call<Wire>(
      sdk.updateRepoDomains(
        new UpdateRepoDomainsRequest()
          .withNamespace(NS)
          .withRepository(REPO_PATH)
          .withAccessDomain(GLOBEX)
          .withBody(
            new UpdateRepoDomainsRequestBody()
              .withPermit('read')
              .withDeadline(deadline)
              .withDescription('one hour'),
          ),
      ),
    );
    expect(res.httpStatusCode).toBe(201);
    const [share] = await shares();
    expect(share).toMatchObject({ deadline, description: 'one hour', status: true });
    expect((share!.updated as string) >= (share!.created as string)).toBe(true);

    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH)).toHaveLength(1);
    const later = new Date(Date.now() + 2 * 3_600_000);
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH, later)).toEqual([]);

    // Without a description the old one stays.
    const kept = await api(alice, 'PATCH', `${BASE}/${GLOBEX}`, { permit: 'read', deadline });
    expect(kept.status).toBe(201);
    expect((await shares())[0]).toMatchObject({ description: 'one hour' });
  });

  it('bad updates: 400 for bad fields, 404 for a domain not shared', async () => {
    const bad = await api(alice, 'PATCH', `${BASE}/${GLOBEX}`, {
      permit: 'admin',
      deadline: 'forever',
    });
    expect(bad.status).toBe(400);
    expect((bad.body as Wire).error_code).toBe('SVCSTG.SWR.4000014');
    const date = await api(alice, 'PATCH', `${BASE}/${GLOBEX}`, {
      permit: 'read',
      deadline: '01/10/2030',
    });
    expect(date.status).toBe(400);
    const none = await api(alice, 'PATCH', `${BASE}/initech`, {
      permit: 'read',
      deadline: 'forever',
    });
    expect(none.status).toBe(404);
    expect((none.body as Wire).error_code).toBe('SVCSTG.SWR.4040004');
  });

  it('an expired share is listed with status false and is not in sharedWith', async () => {
    // Deadlines in the past cannot be set through the API: age the row instead.
    await t.ferry.db
      .updateTable('repository_shares')
      .set({ deadline: new Date(Date.now() - 1000).toISOString() })
      .where('access_domain', '=', GLOBEX)
      .execute();
    expect((await shares())[0]).toMatchObject({ access_domain: GLOBEX, status: false });
    const shown = await api(alice, 'GET', `${BASE}/${GLOBEX}`);
    expect(shown.body).toMatchObject({ exist: true, status: false });
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH)).toEqual([]);
    // Renewing it puts it back in effect.
    const renewed = await api(alice, 'PATCH', `${BASE}/${GLOBEX}`, {
      permit: 'read',
      deadline: 'forever',
    });
    expect(renewed.status).toBe(201);
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH)).toHaveLength(1);
  });

  it('the SDK deletes the share: 204; list, show and sharedWith no longer have it', async () => {
    const res = await call<Wire>(
      sdk.deleteRepoDomains(
        new DeleteRepoDomainsRequest()
          .withNamespace(NS)
          .withRepository(REPO_PATH)
          .withAccessDomain(GLOBEX),
      ),
    );
    expect(res.httpStatusCode).toBe(204);
    const list = await call<SdkArray<Wire>>(
      sdk.listRepoDomains(new ListRepoDomainsRequest().withNamespace(NS).withRepository(REPO_PATH)),
    );
    expect([...list]).toEqual([]);
    expect((await api(alice, 'GET', `${BASE}/${GLOBEX}`)).body).toEqual({ exist: false });
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH)).toEqual([]);

    const again = await clientError(
      sdk.deleteRepoDomains(
        new DeleteRepoDomainsRequest()
          .withNamespace(NS)
          .withRepository(REPO_PATH)
          .withAccessDomain(GLOBEX),
      ),
    );
    expect(again.httpStatusCode).toBe(404);
    expect(again.errorCode).toBe('SVCSTG.SWR.4040004');
  });

  it('a share with a dated deadline ends by itself', async () => {
    const created = await api(alice, 'POST', BASE, { ...good, deadline: inFuture(1500) });
    expect(created).toEqual({ status: 201, body: undefined });
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1700));
    expect(await sharedWith(t.ferry.db, GLOBEX, NORTH)).toEqual([]);
    expect((await shares())[0]).toMatchObject({ status: false });
    expect((await api(alice, 'DELETE', `${BASE}/${GLOBEX}`)).status).toBe(204);
  });
});
