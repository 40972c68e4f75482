// Must show: the SWR Enterprise replication API (huawei-compat.md section 4) at its edges.
// 1. Bad input, missing things and other people's things answer 4xx with exactly the
//    documented error body {error_code, error_msg, encoded_authorization_message} (2.1),
//    never a 5xx.
// 2. Registry entries of every type, their secret never returned in clear (a masked secret
//    sent back keeps the stored one), and their health: healthy for a live registry,
//    unhealthy with a reason otherwise.
// 3. A policy with every documented field and Ferry's extensions round-trips through create,
//    show, list, update and delete.
// 4. Huawei's Node SDK (AK/SK, project id, withEndpoint) drives registries, policies,
//    executions, tasks (with `StatusRevision`) and sub-tasks.
//
// About 4: @huaweicloud/huaweicloud-sdk-swr 3.1.128, the version installed (and the newest
// the configured npm registry has), has no SWR Enterprise operation at all: its SwrClient
// stops at the v2 `manage` APIs. The operations arrived later (3.1.209 has them). So each
// call below uses the generated SwrClient method when the installed SDK has it, and
// otherwise sends, through that same SwrClient's HcClient (the SDK core's signer, endpoint,
// project-id substitution and error parsing), the request options 3.1.209's ParamCreater
// builds for the operation. Upgrading the SDK switches to the generated methods unchanged.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import type { HcClient, HttpRequestOptions } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { ClientRequestException } from '@huaweicloud/huaweicloud-sdk-core/exception/ClientRequestException.js';
import { Logger4jInstance } from '@huaweicloud/huaweicloud-sdk-core/logger/log4jLogger.js';
import { SwrClient } from '@huaweicloud/huaweicloud-sdk-swr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { htpasswdAuth, makeTls, writeHtpasswd } from '../helpers/auth.js';
import { getToken, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';
import { readable } from '../helpers/sdk.js';

/** A JSON object as received. */
type Wire = Record<string, unknown>;

/** An HTTP answer: status, parsed JSON (when JSON) and the text. */
interface Res {
  status: number;
  json: Wire | undefined;
  text: string;
}

/** The SWR Enterprise error body's keys, and nothing else (huawei-compat.md 2.1, 4). */
const ERROR_KEYS = ['encoded_authorization_message', 'error_code', 'error_msg'];

/** SWR error codes by meaning (src/errors/catalog.ts, docs/errors.md). */
const CODE = {
  badRequest: 'SVCSTG.SWR.4000014',
  unauthenticated: 'SVCSTG.SWR.4010000',
  forbidden: 'SVCSTG.SWR.4030170',
  notFound: 'SVCSTG.SWR.4040004',
  alreadyExists: 'SVCSTG.SWR.4090006',
  inUse: 'SVCSTG.SWR.4090101',
  preconditionFailed: 'SVCSTG.SWR.4120001',
} as const;

const REGION = 'cn-north-4';
const MASK = '******';
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** One SWR-EE operation of the SDK, as 3.1.209's SwrClient ParamCreater builds it. */
interface EeOperation {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  path: string[];
  query: string[];
  body: boolean;
}

const EE_OPERATIONS = {
  createInstanceRegistry: {
    method: 'POST',
    url: '/v2/{project_id}/instances/{instance_id}/registries',
    path: ['instance_id'],
    query: [],
    body: true,
  },
  listInstanceRegistries: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/registries',
    path: ['instance_id'],
    query: ['order_column', 'order_type', 'name', 'type', 'offset', 'limit'],
    body: false,
  },
  showInstanceRegistry: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/registries/{registry_id}',
    path: ['instance_id', 'registry_id'],
    query: [],
    body: false,
  },
  createInstanceReplicationPolicy: {
    method: 'POST',
    url: '/v2/{project_id}/instances/{instance_id}/replication/policies',
    path: ['instance_id'],
    query: [],
    body: true,
  },
  listInstanceReplicationPolicies: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/replication/policies',
    path: ['instance_id'],
    query: ['order_column', 'order_type', 'name', 'registry_id', 'offset', 'limit'],
    body: false,
  },
  showInstanceReplicationPolicy: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/replication/policies/{policy_id}',
    path: ['instance_id', 'policy_id'],
    query: [],
    body: false,
  },
  executeInstanceReplicationPolicy: {
    method: 'POST',
    url: '/v2/{project_id}/instances/{instance_id}/replication/executions',
    path: ['instance_id'],
    query: [],
    body: true,
  },
  listInstanceReplicationPolicyExecutions: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/replication/executions',
    path: ['instance_id'],
    query: ['policy_id', 'offset', 'limit'],
    body: false,
  },
  listInstanceReplicationPolicyExecTasks: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/replication/executions/{execution_id}/tasks',
    path: ['instance_id', 'execution_id'],
    query: ['offset', 'limit'],
    body: false,
  },
  listInstanceReplicationPolicyExecSubTasks: {
    method: 'GET',
    url: '/v2/{project_id}/instances/{instance_id}/replication/executions/{execution_id}/tasks/{task_id}/subtasks',
    path: ['instance_id', 'execution_id', 'task_id'],
    query: ['offset', 'limit', 'status'],
    body: false,
  },
} as const satisfies Record<string, EeOperation>;

type EeOperationName = keyof typeof EE_OPERATIONS;

describe('SWR Enterprise replication API: errors, registries, policies, SDK', () => {
  let t: TestFerry;
  /** A plain registry to replicate to. */
  let remote: TestRegistry;
  /** A registry that wants Basic credentials (htpasswd): robot / ROBOT_SECRET. */
  let locked: TestRegistry;
  let lockedDir: string;
  const ROBOT_SECRET = 'robot-s3cret-value';
  let token: string;
  let project: string;
  let bobToken: string;
  let bobProject: string;

  const ee = (path: string, projectId = project, instance = 'ee1') =>
    `${t.url}/v2/${projectId}/instances/${instance}${path}`;

  /** A request; `token: null` sends no credentials, `raw` sends the body as given. */
  async function send(
    method: string,
    url: string,
    options: { token?: string | null; body?: unknown; raw?: string } = {},
  ): Promise<Res> {
    const auth = options.token === undefined ? token : options.token;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth !== null) headers['x-auth-token'] = auth;
    const res = await fetch(url, {
      method,
      headers,
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    const text = await res.text();
    let json: Wire | undefined;
    try {
      json = text ? (JSON.parse(text) as Wire) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  /** A request on instance ee1 of Alice's project. */
  const api = (method: string, path: string, body?: unknown) => send(method, ee(path), { body });

  async function createRegistry(body: Wire, instance = 'ee1'): Promise<number> {
    const res = await send('POST', ee('/registries', project, instance), { body });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toEqual({ id: expect.any(Number) });
    return res.json!.id as number;
  }

  const policyBody = (over: Wire): Wire => ({
    dest_namespace: '',
    filters: [{ type: 'name', value: 'ns1/**' }],
    repo_scope_mode: 'regular',
    trigger: { type: 'manual', trigger_settings: { cron: '' } },
    override: false,
    enabled: true,
    ...over,
  });

  async function createPolicy(body: Wire): Promise<number> {
    const res = await api('POST', '/replication/policies', body);
    expect(res.status, res.text).toBe(201);
    expect(res.json).toEqual({ id: expect.any(Number) });
    return res.json!.id as number;
  }

  const showRegistry = async (id: number) => (await api('GET', `/registries/${id}`)).json!;

  /** Waits for a health check newer than `after` (an ISO time, '' for any) and returns the row. */
  const checkedAfter = (id: number, after: string) =>
    waitFor(
      async () => {
        const r = await showRegistry(id);
        return r.checked_at && (r.checked_at as string) > after ? r : undefined;
      },
      20_000,
      `a health check of registry ${id}`,
    );

  const waitDone = (id: number) =>
    waitFor(
      async () => {
        const e = (await api('GET', `/replication/executions/${id}`)).json!;
        return e.status === 'InProgress' ? undefined : e;
      },
      30_000,
      `execution ${id} to end`,
    );

  beforeAll(async () => {
    // The SDK prints each failed request (its whole axios config) to stdout.
    Logger4jInstance.level = 'off';
    t = await startTestFerry({ regions: [REGION], instances: [{ id: 'ee1' }, { id: 'ee2' }] });
    remote = await startRegistry();
    lockedDir = await mkdtemp(join(tmpdir(), 'ferry-locked-'));
    locked = await startRegistry({
      auth: htpasswdAuth(await writeHtpasswd(lockedDir, { robot: ROBOT_SECRET })),
    });
    token = await getToken(t.url, { domain: t.domain, name: t.user, password: t.password }, REGION);
    const projectOf = async (tok: string) => {
      const res = await fetch(`${t.url}/v3/projects?name=${REGION}`, {
        headers: { 'x-auth-token': tok },
      });
      return ((await res.json()) as { projects: { id: string }[] }).projects[0]!.id;
    };
    project = await projectOf(token);
    await t.ferry.iam.bootstrap({
      domain: 'globex',
      user: 'bob',
      password: 'bob-password-1',
      accessKeys: [],
    });
    bobToken = await getToken(
      t.url,
      { domain: 'globex', name: 'bob', password: 'bob-password-1' },
      REGION,
    );
    bobProject = await projectOf(bobToken);
    expect(bobProject).not.toBe(project);
  });

  afterAll(async () => {
    await locked?.stop();
    await remote?.stop();
    await t?.stop();
    if (lockedDir) await rm(lockedDir, { recursive: true, force: true });
  });

  it('answers bad input with the documented error body and status, never a 5xx', async () => {
    const registryId = await createRegistry({
      name: 'errors-remote',
      type: 'docker-registry',
      url: remote.url,
      insecure: true,
    });
    const spareId = await createRegistry({
      name: 'errors-spare',
      type: 'docker-registry',
      url: remote.url,
      insecure: true,
    });
    const otherInstanceRegistry = await createRegistry(
      { name: 'errors-ee2', type: 'docker-registry', url: remote.url, insecure: true },
      'ee2',
    );
    const enabledId = await createPolicy(
      policyBody({
        name: 'errors-enabled',
        dest_registry: { id: registryId },
        filters: [{ type: 'name', value: 'nothing-here/**' }],
      }),
    );
    const disabledId = await createPolicy(
      policyBody({ name: 'errors-disabled', dest_registry: { id: registryId }, enabled: false }),
    );
    const exec = await api('POST', '/replication/executions', { policy_id: enabledId });
    expect(exec.status, exec.text).toBe(202);
    const execId = exec.json!.id as number;
    expect(await waitDone(execId)).toMatchObject({ status: 'Succeed', total: 0 });

    const valid = policyBody({ name: 'errors-new', dest_registry: { id: registryId } });
    const scheduled = (cron: unknown) =>
      policyBody({
        name: 'errors-cron',
        dest_registry: { id: registryId },
        trigger: { type: 'scheduled', trigger_settings: cron === undefined ? {} : { cron } },
      });

    // Every case, then one comparison, so a failure shows all of them side by side.
    // Each request is sent when its turn comes (one at a time, in order).
    const cases: {
      name: string;
      res: () => Promise<Res>;
      status: number;
      code: string;
    }[] = [];
    const add = (name: string, res: () => Promise<Res>, status: number, code: string) =>
      cases.push({ name, res, status, code });
    const lazy = {
      api:
        (...args: Parameters<typeof api>) =>
        () =>
          api(...args),
      send:
        (...args: Parameters<typeof send>) =>
        () =>
          send(...args),
    };
    const POL = '/replication/policies';
    const EXE = '/replication/executions';

    // Unknown policy and execution.
    add('GET unknown policy', lazy.api('GET', `${POL}/999999`), 404, CODE.notFound);
    add('PUT unknown policy', lazy.api('PUT', `${POL}/999999`, valid), 404, CODE.notFound);
    add('DELETE unknown policy', lazy.api('DELETE', `${POL}/999999`), 404, CODE.notFound);
    add('GET policy "abc"', lazy.api('GET', `${POL}/abc`), 404, CODE.notFound);
    add('GET unknown execution', lazy.api('GET', `${EXE}/999999`), 404, CODE.notFound);
    add('PUT (stop) unknown execution', lazy.api('PUT', `${EXE}/999999`), 404, CODE.notFound);
    add('tasks of unknown execution', lazy.api('GET', `${EXE}/999999/tasks`), 404, CODE.notFound);
    add(
      'subtasks of unknown execution',
      lazy.api('GET', `${EXE}/999999/tasks/1/subtasks`),
      404,
      CODE.notFound,
    );
    add(
      'subtasks of unknown task',
      lazy.api('GET', `${EXE}/${execId}/tasks/999999/subtasks`),
      404,
      CODE.notFound,
    );
    add('GET unknown registry', lazy.api('GET', '/registries/999999'), 404, CODE.notFound);
    add(
      'unknown route in an instance',
      lazy.api('GET', '/replication/nothing'),
      404,
      CODE.notFound,
    );

    // Policy bodies.
    add('cron with 5 fields', lazy.api('POST', POL, scheduled('0 2 * * *')), 400, CODE.badRequest);
    add('cron garbage', lazy.api('POST', POL, scheduled('every day at two')), 400, CODE.badRequest);
    add(
      'cron out of range',
      lazy.api('POST', POL, scheduled('99 * * * * *')),
      400,
      CODE.badRequest,
    );
    add('cron not a string', lazy.api('POST', POL, scheduled(5)), 400, CODE.badRequest);
    add(
      'scheduled without cron',
      lazy.api('POST', POL, scheduled(undefined)),
      400,
      CODE.badRequest,
    );
    const withFilters = (filters: unknown) => ({ ...valid, filters });
    add(
      'unknown filter type',
      lazy.api('POST', POL, withFilters([{ type: 'label', value: 'x' }])),
      400,
      CODE.badRequest,
    );
    add(
      'malformed tag glob v{1,2',
      lazy.api('POST', POL, withFilters([{ type: 'tag', value: 'v{1,2' }])),
      400,
      CODE.badRequest,
    );
    add(
      'malformed name glob',
      lazy.api('POST', POL, withFilters([{ type: 'name', value: 'ns1/{a,b' }])),
      400,
      CODE.badRequest,
    );
    add(
      'empty filter value',
      lazy.api('POST', POL, withFilters([{ type: 'name', value: '' }])),
      400,
      CODE.badRequest,
    );
    add('filters missing', lazy.api('POST', POL, withFilters(undefined)), 400, CODE.badRequest);
    add(
      'src_registry and dest_registry',
      lazy.api('POST', POL, { ...valid, src_registry: { id: registryId } }),
      400,
      CODE.badRequest,
    );
    add(
      'neither src_registry nor dest_registry',
      lazy.api('POST', POL, { ...valid, dest_registry: null }),
      400,
      CODE.badRequest,
    );
    add(
      'registry id not in the instance',
      lazy.api('POST', POL, { ...valid, dest_registry: { id: 999999 } }),
      400,
      CODE.badRequest,
    );
    add(
      'registry id of another instance',
      lazy.api('POST', POL, { ...valid, dest_registry: { id: otherInstanceRegistry } }),
      400,
      CODE.badRequest,
    );
    add(
      'registry id as a string',
      lazy.api('POST', POL, { ...valid, dest_registry: { id: String(registryId) } }),
      400,
      CODE.badRequest,
    );
    add(
      'registry id beyond bigint',
      lazy.send('POST', ee(POL), {
        raw: JSON.stringify(valid).replace(
          `"dest_registry":{"id":${registryId}}`,
          '"dest_registry":{"id":12345678901234567890}',
        ),
      }),
      400,
      CODE.badRequest,
    );
    const bigId = (id: string) =>
      lazy.send('POST', ee(POL), {
        raw: JSON.stringify(valid).replace(
          `"dest_registry":{"id":${registryId}}`,
          `"dest_registry":{"id":${id}}`,
        ),
      });
    add('registry id 1e300', bigId('1e300'), 400, CODE.badRequest);
    add('registry id 2^63', bigId('9223372036854775808'), 400, CODE.badRequest);
    add(
      'update to a registry id beyond bigint',
      lazy.send('PUT', ee(`${POL}/${disabledId}`), {
        raw: JSON.stringify({ ...valid, name: 'errors-disabled' }).replace(
          `"dest_registry":{"id":${registryId}}`,
          '"dest_registry":{"id":100000000000000000000}',
        ),
      }),
      400,
      CODE.badRequest,
    );
    add(
      'NUL in a policy description',
      lazy.api('POST', POL, { ...valid, description: 'a\u0000b' }),
      400,
      CODE.badRequest,
    );
    add(
      'NUL in a filter value',
      lazy.api('POST', POL, withFilters([{ type: 'name', value: 'ns1/\u0000' }])),
      400,
      CODE.badRequest,
    );
    add(
      'NUL in dest_namespace',
      lazy.api('POST', POL, { ...valid, dest_namespace: 'x\u0000' }),
      400,
      CODE.badRequest,
    );
    add(
      'update to a registry not in the instance',
      lazy.api('PUT', `${POL}/${disabledId}`, {
        ...valid,
        name: 'errors-disabled',
        dest_registry: { id: 999999 },
      }),
      400,
      CODE.badRequest,
    );
    add(
      'policy name with a space',
      lazy.api('POST', POL, { ...valid, name: 'a b' }),
      400,
      CODE.badRequest,
    );
    add(
      'policy name missing',
      lazy.api('POST', POL, { ...valid, name: undefined }),
      400,
      CODE.badRequest,
    );
    add(
      'repo_scope_mode unknown',
      lazy.api('POST', POL, { ...valid, repo_scope_mode: 'everything' }),
      400,
      CODE.badRequest,
    );
    add(
      'trigger type unknown',
      lazy.api('POST', POL, { ...valid, trigger: { type: 'hourly' } }),
      400,
      CODE.badRequest,
    );
    add(
      'event_based pull policy',
      lazy.api('POST', POL, {
        ...valid,
        dest_registry: null,
        src_registry: { id: registryId },
        trigger: { type: 'event_based' },
      }),
      400,
      CODE.badRequest,
    );
    add(
      'enabled as a string',
      lazy.api('POST', POL, { ...valid, enabled: 'true' }),
      400,
      CODE.badRequest,
    );
    add('speed negative', lazy.api('POST', POL, { ...valid, speed: -5 }), 400, CODE.badRequest);
    add(
      'platform without arch',
      lazy.api('POST', POL, { ...valid, platforms: ['amd64'] }),
      400,
      CODE.badRequest,
    );
    add(
      'replicate_deletion on a manual policy',
      lazy.api('POST', POL, { ...valid, replicate_deletion: true }),
      400,
      CODE.badRequest,
    );

    // Registry bodies.
    const reg = {
      name: 'errors-reg-new',
      type: 'docker-registry',
      url: remote.url,
      insecure: true,
    };
    add(
      'registry name with /',
      lazy.api('POST', '/registries', { ...reg, name: 'a/b' }),
      400,
      CODE.badRequest,
    );
    add(
      'registry url ftp',
      lazy.api('POST', '/registries', { ...reg, url: 'ftp://x' }),
      400,
      CODE.badRequest,
    );
    add(
      'registry url missing',
      lazy.api('POST', '/registries', { ...reg, url: undefined }),
      400,
      CODE.badRequest,
    );
    add(
      'registry credential not an object',
      lazy.api('POST', '/registries', { ...reg, credential: 'robot:pw' }),
      400,
      CODE.badRequest,
    );
    add(
      'registry credential without secret',
      lazy.api('POST', '/registries', {
        ...reg,
        credential: { type: 'basic', access_key: 'robot' },
      }),
      400,
      CODE.badRequest,
    );
    add(
      'registry insecure as a string',
      lazy.api('POST', '/registries', { ...reg, insecure: 'yes' }),
      400,
      CODE.badRequest,
    );
    add(
      'NUL in a registry description',
      lazy.api('POST', '/registries', { ...reg, description: 'a\u0000b' }),
      400,
      CODE.badRequest,
    );
    add(
      'NUL in an access_key',
      lazy.api('POST', '/registries', {
        ...reg,
        credential: { type: 'basic', access_key: 'robot\u0000', access_secret: 'x' },
      }),
      400,
      CODE.badRequest,
    );
    add(
      'NUL in dns_conf',
      lazy.api('POST', '/registries', { ...reg, dns_conf: { hosts: { 'a.example': '\u0000' } } }),
      400,
      CODE.badRequest,
    );

    // Other people's projects and instances.
    add(
      'Bob on Alice\u2019s project: registries',
      lazy.send('GET', ee('/registries'), { token: bobToken }),
      403,
      CODE.forbidden,
    );
    add(
      'Bob on Alice\u2019s project: her policy',
      lazy.send('GET', ee(`${POL}/${enabledId}`), { token: bobToken }),
      403,
      CODE.forbidden,
    );
    add(
      'Bob on Alice\u2019s project: execute',
      lazy.send('POST', ee(EXE), { token: bobToken, body: { policy_id: enabledId } }),
      403,
      CODE.forbidden,
    );
    add(
      'Bob\u2019s project with Alice\u2019s instance: policies',
      lazy.send('GET', ee(POL, bobProject), { token: bobToken }),
      404,
      CODE.notFound,
    );
    add(
      'Bob\u2019s project with Alice\u2019s instance: her policy',
      lazy.send('GET', ee(`${POL}/${enabledId}`, bobProject), { token: bobToken }),
      404,
      CODE.notFound,
    );
    add(
      'Bob\u2019s project with Alice\u2019s instance: execute',
      lazy.send('POST', ee(EXE, bobProject), { token: bobToken, body: { policy_id: enabledId } }),
      404,
      CODE.notFound,
    );
    add(
      'Alice on a project id that does not exist',
      lazy.send('GET', ee('/registries', 'no-such-project')),
      403,
      CODE.forbidden,
    );

    // Executions.
    add(
      'execute a disabled policy',
      lazy.api('POST', EXE, { policy_id: disabledId }),
      412,
      CODE.preconditionFailed,
    );
    add('execute without body', lazy.api('POST', EXE), 400, CODE.badRequest);
    add('execute without policy_id', lazy.api('POST', EXE, {}), 400, CODE.badRequest);
    add(
      'execute with a string policy_id',
      lazy.api('POST', EXE, { policy_id: String(enabledId) }),
      400,
      CODE.badRequest,
    );
    add(
      'execute with policy_id 1.5',
      lazy.api('POST', EXE, { policy_id: 1.5 }),
      400,
      CODE.badRequest,
    );
    add('execute with policy_id 0', lazy.api('POST', EXE, { policy_id: 0 }), 400, CODE.badRequest);
    add(
      'execute an unknown policy',
      lazy.api('POST', EXE, { policy_id: 999999 }),
      404,
      CODE.notFound,
    );

    // Paging and list parameters.
    for (const [what, path] of [
      ['policies', POL],
      ['registries', '/registries'],
      ['executions', EXE],
      ['tasks', `${EXE}/${execId}/tasks`],
    ] as const) {
      add(
        `${what}: offset 5, limit 10`,
        lazy.api('GET', `${path}?offset=5&limit=10`),
        400,
        CODE.badRequest,
      );
      add(`${what}: limit 101`, lazy.api('GET', `${path}?limit=101`), 400, CODE.badRequest);
      add(`${what}: limit 0`, lazy.api('GET', `${path}?limit=0`), 400, CODE.badRequest);
      add(`${what}: limit ten`, lazy.api('GET', `${path}?limit=ten`), 400, CODE.badRequest);
      add(`${what}: offset -10`, lazy.api('GET', `${path}?offset=-10`), 400, CODE.badRequest);
    }
    add(
      'policies: order_column unknown',
      lazy.api('GET', `${POL}?order_column=size`),
      400,
      CODE.badRequest,
    );
    add(
      'registries: order_type up',
      lazy.api('GET', '/registries?order_type=up'),
      400,
      CODE.badRequest,
    );
    add(
      'policies: registry_id abc',
      lazy.api('GET', `${POL}?registry_id=abc`),
      400,
      CODE.badRequest,
    );
    add('executions: policy_id abc', lazy.api('GET', `${EXE}?policy_id=abc`), 400, CODE.badRequest);
    // Repeated or NUL-holding query parameters (Fastify gives an array for a repeated key).
    add('policies: name twice', lazy.api('GET', `${POL}?name=a&name=b`), 400, CODE.badRequest);
    add(
      'registries: name twice',
      lazy.api('GET', '/registries?name=a&name=b'),
      400,
      CODE.badRequest,
    );
    add(
      'registries: type twice',
      lazy.api('GET', '/registries?type=a&type=b'),
      400,
      CODE.badRequest,
    );
    add('registries: name %00', lazy.api('GET', '/registries?name=%00'), 400, CODE.badRequest);
    add('policies: name %00', lazy.api('GET', `${POL}?name=%00`), 400, CODE.badRequest);
    add('registries: type %00', lazy.api('GET', '/registries?type=%00'), 400, CODE.badRequest);

    // Conflicts.
    add(
      'delete a registry a policy uses',
      lazy.api('DELETE', `/registries/${registryId}`),
      409,
      CODE.inUse,
    );
    add(
      'duplicate registry name',
      lazy.api('POST', '/registries', { ...reg, name: 'errors-remote' }),
      409,
      CODE.alreadyExists,
    );
    add(
      'rename a registry onto another\u2019s name',
      lazy.api('PUT', `/registries/${spareId}`, { ...reg, name: 'errors-remote' }),
      409,
      CODE.alreadyExists,
    );
    add(
      'duplicate policy name',
      lazy.api('POST', POL, { ...valid, name: 'errors-enabled' }),
      409,
      CODE.alreadyExists,
    );
    add(
      'rename a policy onto another\u2019s name',
      lazy.api('PUT', `${POL}/${disabledId}`, { ...valid, name: 'errors-enabled' }),
      409,
      CODE.alreadyExists,
    );

    // Malformed JSON and bodies of the wrong shape.
    add(
      'registry body "{"',
      lazy.send('POST', ee('/registries'), { raw: '{' }),
      400,
      CODE.badRequest,
    );
    add(
      'policy body cut short',
      lazy.send('POST', ee(POL), { raw: '{"name":' }),
      400,
      CODE.badRequest,
    );
    add(
      'execute body not JSON',
      lazy.send('POST', ee(EXE), { raw: 'policy_id=1' }),
      400,
      CODE.badRequest,
    );
    add(
      'registry update body "["',
      lazy.send('PUT', ee(`/registries/${spareId}`), { raw: '[' }),
      400,
      CODE.badRequest,
    );
    add('registry body an array', lazy.api('POST', '/registries', []), 400, CODE.badRequest);
    add('policy body null', lazy.send('POST', ee(POL), { raw: 'null' }), 400, CODE.badRequest);
    add('execute body a string', lazy.api('POST', EXE, 'policy'), 400, CODE.badRequest);

    // Credentials and instances.
    add(
      'no credentials',
      lazy.send('GET', ee('/registries'), { token: null }),
      401,
      CODE.unauthenticated,
    );
    add(
      'no credentials, malformed body',
      lazy.send('POST', ee('/registries'), { token: null, raw: '{' }),
      401,
      CODE.unauthenticated,
    );
    add(
      'unknown token',
      lazy.send('GET', ee(POL), { token: 'ferry-not-a-token' }),
      401,
      CODE.unauthenticated,
    );
    add(
      'unknown instance: registries',
      lazy.send('GET', ee('/registries', project, 'no-such-instance')),
      404,
      CODE.notFound,
    );
    add(
      'unknown instance: execute',
      lazy.send('POST', ee(EXE, project, 'no-such-instance'), { body: { policy_id: enabledId } }),
      404,
      CODE.notFound,
    );

    const got: Wire[] = [];
    const want: Wire[] = [];
    for (const c of cases) {
      const r = await c.res();
      got.push({
        name: c.name,
        status: r.status,
        body: r.json
          ? {
              keys: Object.keys(r.json).sort(),
              error_code: r.json.error_code,
              error_msg: r.json.error_msg,
            }
          : r.text,
      });
      want.push({
        name: c.name,
        status: c.status,
        body: { keys: ERROR_KEYS, error_code: c.code, error_msg: expect.stringMatching(/\S/) },
      });
    }
    // Soft: the checks below run even when a case is wrong.
    expect.soft(got.filter((g) => (g.status as number) >= 500)).toEqual([]);
    expect.soft(got).toEqual(want);

    // Nothing the refused requests named was changed.
    expect((await api('GET', `/registries/${registryId}`)).status).toBe(200);
    expect((await showRegistry(spareId)).name).toBe('errors-spare');
    const disabled = (await api('GET', `${POL}/${disabledId}`)).json!;
    expect(disabled).toMatchObject({
      name: 'errors-disabled',
      enabled: false,
      dest_registry: { id: registryId },
    });
    const list = (await api('GET', `${POL}?name=errors-`)).json!;
    expect(list.total).toBe(2);
    const execs = (await api('GET', `${EXE}?policy_id=${disabledId}`)).json!;
    expect(execs).toEqual({ executions: [], total: 0 });
  });

  it('keeps registry entries of every type, never shows secrets, and checks health', async () => {
    const types = ['huawei-SWR', 'swr-pro', 'docker-registry'] as const;
    const ids = new Map<string, number>();
    for (const type of types) {
      ids.set(
        type,
        await createRegistry({
          name: `reg-${type}`,
          description: `a ${type} entry`,
          type,
          url: remote.url,
          credential: { type: 'basic', access_key: `key-${type}`, access_secret: `secret-${type}` },
          insecure: true,
        }),
      );
    }
    // swr-pro-internal: another SWR EE instance, named by project, region and instance.
    const internal = {
      name: 'reg-internal',
      type: 'swr-pro-internal',
      url: t.instanceRegistries.get('ee2')!.url,
      project_id: project,
      region_id: REGION,
      instance_id: 'ee2',
      insecure: true,
    };
    for (const missing of ['project_id', 'region_id', 'instance_id'] as const) {
      const res = await api('POST', '/registries', { ...internal, [missing]: undefined });
      expect(res.status, missing).toBe(400);
      expect(res.json!.error_code).toBe(CODE.badRequest);
      expect(res.json!.error_msg).toContain(missing);
      const blank = await api('POST', '/registries', { ...internal, [missing]: '' });
      expect(blank.status, `${missing} blank`).toBe(400);
    }
    ids.set('swr-pro-internal', await createRegistry(internal));
    for (const type of ['harbor', 'huawei-swr', '']) {
      const res = await api('POST', '/registries', {
        name: `reg-bad-type`,
        type,
        url: remote.url,
        insecure: true,
      });
      expect(res.status, type).toBe(400);
      expect(res.json).toMatchObject({ error_code: CODE.badRequest });
    }

    // Show and list: the fields, the mask, never the secret.
    for (const type of types) {
      const shown = await showRegistry(ids.get(type)!);
      expect(shown).toMatchObject({
        id: ids.get(type),
        name: `reg-${type}`,
        description: `a ${type} entry`,
        type,
        url: remote.url,
        credential: { type: 'basic', access_key: `key-${type}`, access_secret: MASK },
        insecure: true,
        region_id: REGION,
        created_at: expect.stringMatching(ISO_TIME),
        updated_at: expect.stringMatching(ISO_TIME),
      });
      expect(['healthy', 'unhealthy']).toContain(shown.status);
      expect(JSON.stringify(shown)).not.toContain(`secret-${type}`);
    }
    expect(await showRegistry(ids.get('swr-pro-internal')!)).toMatchObject({
      type: 'swr-pro-internal',
      project_id: project,
      region_id: REGION,
      instance_id: 'ee2',
      credential: { access_secret: '' },
    });
    const listed = await api('GET', '/registries?name=reg-&limit=100');
    expect(listed.status).toBe(200);
    expect(listed.json!.total).toBe(4);
    const rows = listed.json!.registries as Wire[];
    expect(rows.map((r) => r.name).sort()).toEqual([
      'reg-docker-registry',
      'reg-huawei-SWR',
      'reg-internal',
      'reg-swr-pro',
    ]);
    for (const type of types) expect(listed.text).not.toContain(`secret-${type}`);
    for (const r of rows.filter((row) => row.type !== 'swr-pro-internal')) {
      expect((r.credential as Wire).access_secret).toBe(MASK);
    }
    const byType = (await api('GET', '/registries?type=swr-pro')).json!;
    expect(byType.total).toBe(1);
    expect((byType.registries as Wire[])[0]!.name).toBe('reg-swr-pro');
    const byName = (
      await api('GET', '/registries?name=reg-&order_column=name&order_type=asc&limit=2&offset=2')
    ).json!;
    expect(byName.total).toBe(4);
    expect((byName.registries as Wire[]).map((r) => r.name)).toEqual([
      'reg-internal',
      'reg-swr-pro',
    ]);

    // Health: live registries become healthy; one where nothing listens, unhealthy with why.
    for (const id of ids.values()) {
      expect(await checkedAfter(id, ''), `registry ${id}`).toMatchObject({
        status: 'healthy',
        status_reason: '',
      });
    }
    const deadId = await createRegistry({
      name: 'reg-dead',
      type: 'docker-registry',
      url: 'http://127.0.0.1:1',
      insecure: true,
    });
    const dead = await checkedAfter(deadId, '');
    expect(dead).toMatchObject({ status: 'unhealthy', status_reason: expect.stringMatching(/\S/) });

    // A registry that wants credentials: healthy only with the right secret.
    const lockedBody = (secret: string) => ({
      name: 'reg-locked',
      description: 'htpasswd',
      type: 'docker-registry',
      url: locked.url,
      credential: { type: 'basic', access_key: 'robot', access_secret: secret },
      insecure: true,
    });
    const lockedId = await createRegistry(lockedBody(ROBOT_SECRET));
    const first = await checkedAfter(lockedId, '');
    expect(first).toMatchObject({ status: 'healthy', status_reason: '' });
    const strip = (r: Wire) => {
      const { status: _s, status_reason: _r, checked_at: _c, updated_at: _u, ...rest } = r;
      return rest;
    };

    // The mask sent back keeps the stored secret: the next check still authenticates.
    let put = await api('PUT', `/registries/${lockedId}`, lockedBody(MASK));
    expect(put.status, put.text).toBe(200);
    const kept = await checkedAfter(lockedId, first.checked_at as string);
    expect(kept).toMatchObject({ status: 'healthy', status_reason: '' });
    expect(strip(kept)).toEqual(strip(first));

    // A wrong secret is stored (accepted, shown masked) and the check says so.
    put = await api('PUT', `/registries/${lockedId}`, lockedBody('not-the-secret'));
    expect(put.status, put.text).toBe(200);
    const wrong = await checkedAfter(lockedId, kept.checked_at as string);
    expect(wrong).toMatchObject({
      status: 'unhealthy',
      status_reason: expect.stringMatching(/\S/),
    });
    expect(strip(wrong)).toEqual(strip(first));
    expect(JSON.stringify(wrong)).not.toContain('not-the-secret');

    // The mask now keeps the wrong one; a new right secret makes it healthy again.
    put = await api('PUT', `/registries/${lockedId}`, lockedBody(MASK));
    expect(put.status).toBe(200);
    const stillWrong = await checkedAfter(lockedId, wrong.checked_at as string);
    expect(stillWrong.status).toBe('unhealthy');
    put = await api('PUT', `/registries/${lockedId}`, lockedBody(ROBOT_SECRET));
    expect(put.status).toBe(200);
    const fixed = await checkedAfter(lockedId, stillWrong.checked_at as string);
    expect(fixed).toMatchObject({ status: 'healthy', status_reason: '' });
    expect(strip(fixed)).toEqual(strip(first));
    expect((await showRegistry(lockedId)).credential).toEqual({
      type: 'basic',
      access_key: 'robot',
      access_secret: MASK,
    });

    // Unused registries delete; then they are gone.
    for (const id of [deadId, ids.get('swr-pro')!]) {
      const del = await api('DELETE', `/registries/${id}`);
      expect(del.status, del.text).toBe(200);
      expect((await api('GET', `/registries/${id}`)).status).toBe(404);
    }
  });

  it('insecure: true accepts a registry’s self-signed certificate; false checks it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-selfsigned-'));
    const selfSigned = await startRegistry({ tls: (await makeTls(dir)).server });
    try {
      const url = `https://${selfSigned.host}`;
      const body = (name: string, insecure: boolean) => ({
        name,
        type: 'docker-registry',
        url,
        insecure,
      });
      const checked = await createRegistry(body('tls-checked', false));
      expect(await checkedAfter(checked, '')).toMatchObject({
        status: 'unhealthy',
        status_reason: expect.stringMatching(/certificate/),
      });
      const trusted = await createRegistry(body('tls-insecure', true));
      expect(await checkedAfter(trusted, '')).toMatchObject({
        status: 'healthy',
        status_reason: '',
      });

      // A replication over that connection lands the image exactly.
      const image = await pushImage(t.instanceRegistries.get('ee1')!.url, 'tls/app', 'v1', {
        layers: [{ size: 3000, seed: 'tls-app' }],
      });
      const policyId = await createPolicy(
        policyBody({
          name: 'tls-push',
          dest_registry: { id: trusted },
          filters: [{ type: 'name', value: 'tls/**' }],
        }),
      );
      const exec = await api('POST', '/replication/executions', { policy_id: policyId });
      expect(exec.status, exec.text).toBe(202);
      expect(await waitDone(exec.json!.id as number)).toMatchObject({
        status: 'Succeed',
        succeed: 1,
      });
      const copied = await skopeoInspectRaw(dockerRef(selfSigned.host, 'tls/app', 'v1'));
      expect(copied.digest).toBe(image.digest);
    } finally {
      await selfSigned.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('round-trips a policy with every documented field and the extensions', async () => {
    const destId = await createRegistry({
      name: 'crud-dest',
      type: 'docker-registry',
      url: remote.url,
      insecure: true,
    });
    const srcId = await createRegistry({
      name: 'crud-src',
      type: 'docker-registry',
      url: remote.url,
      insecure: true,
    });
    const created = {
      name: 'crud-policy',
      description: 'every field',
      src_registry: null,
      dest_registry: { id: destId },
      dest_namespace: 'mirror',
      filters: [
        { type: 'name', value: 'ns1/**' },
        { type: 'tag', value: 'v{1,2}' },
      ],
      repo_scope_mode: 'regular',
      // 02:00 on January 1st: not during this test.
      trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 2 1 1 *' } },
      override: true,
      enabled: true,
      dest_namespace_replace_count: 2,
      speed: 2048,
      platforms: ['linux/amd64', 'linux/arm64/v8'],
      referrers: true,
    };
    const id = await createPolicy(created);
    const shown = (await api('GET', `/replication/policies/${id}`)).json!;
    expect(shown).toEqual({
      ...created,
      id,
      replicate_deletion: false,
      created_at: expect.stringMatching(ISO_TIME),
      updated_at: expect.stringMatching(ISO_TIME),
    });

    // Another policy, so the filters have something to leave out.
    const otherId = await createPolicy(
      policyBody({ name: 'crud-other', src_registry: { id: srcId } }),
    );
    const listed = (await api('GET', '/replication/policies?name=crud-pol')).json!;
    expect(listed.total).toBe(1);
    expect(listed.policies).toEqual([shown]);
    const byRegistry = (await api('GET', `/replication/policies?registry_id=${srcId}`)).json!;
    expect(byRegistry.total).toBe(1);
    expect((byRegistry.policies as Wire[])[0]!.id).toBe(otherId);
    const all = (
      await api('GET', '/replication/policies?name=crud-&order_column=name&order_type=asc')
    ).json!;
    expect(all.total).toBe(2);
    expect((all.policies as Wire[]).map((p) => p.name)).toEqual(['crud-other', 'crud-policy']);

    // Update every field: a pull policy now, manual, disabled, no extensions.
    const updated = {
      name: 'crud-policy-renamed',
      description: 'changed',
      src_registry: { id: srcId },
      dest_registry: null,
      dest_namespace: 'pulled',
      filters: [{ type: 'name', value: 'library/*' }],
      repo_scope_mode: 'selection',
      trigger: { type: 'manual', trigger_settings: { cron: '' } },
      override: false,
      enabled: false,
      dest_namespace_replace_count: -1,
      speed: 0,
      platforms: [],
      referrers: false,
    };
    const put = await api('PUT', `/replication/policies/${id}`, updated);
    expect(put.status, put.text).toBe(200);
    const after = (await api('GET', `/replication/policies/${id}`)).json!;
    expect(after).toEqual({
      ...updated,
      id,
      replicate_deletion: false,
      created_at: shown.created_at,
      updated_at: expect.stringMatching(ISO_TIME),
    });
    expect((after.updated_at as string) >= (shown.updated_at as string)).toBe(true);
    expect((await api('GET', '/replication/policies?name=crud-policy-ren')).json!.total).toBe(1);
    expect((await api('GET', `/replication/policies?registry_id=${destId}`)).json!.total).toBe(0);

    // An event-based push policy with replicate_deletion round-trips too.
    const eventBody = {
      ...updated,
      src_registry: null,
      dest_registry: { id: destId },
      trigger: { type: 'event_based', trigger_settings: { cron: '' } },
      replicate_deletion: true,
    };
    expect((await api('PUT', `/replication/policies/${id}`, eventBody)).status).toBe(200);
    expect((await api('GET', `/replication/policies/${id}`)).json).toMatchObject({
      trigger: { type: 'event_based', trigger_settings: { cron: '' } },
      replicate_deletion: true,
      dest_registry: { id: destId },
      src_registry: null,
    });

    // Delete: gone (404 on show, update and delete), out of the list; its registry is free.
    const del = await api('DELETE', `/replication/policies/${id}`);
    expect(del.status, del.text).toBe(200);
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', updated],
      ['DELETE', undefined],
    ] as const) {
      const res = await api(method, `/replication/policies/${id}`, body);
      expect(res.status, method).toBe(404);
      expect(res.json).toMatchObject({ error_code: CODE.notFound });
    }
    expect((await api('GET', '/replication/policies?name=crud-')).json!.total).toBe(1);
    expect((await api('DELETE', `/registries/${destId}`)).status).toBe(200);
  });

  it('is driven by Huawei\u2019s Node SDK: registry, policy, execution, tasks, sub-tasks', async () => {
    const client = SwrClient.newBuilder()
      .withCredential(new BasicCredentials().withAk(t.ak).withSk(t.sk).withProjectId(project))
      .withEndpoint(t.url)
      .build();
    const hc = (client as unknown as { hcClient: HcClient }).hcClient;
    /** Operations the installed SDK lacks, sent through its HcClient instead. */
    const viaCore = new Set<string>();

    async function sdk<T>(op: EeOperationName, params: Record<string, unknown>): Promise<T> {
      const generated = (client as unknown as Record<string, unknown>)[op];
      try {
        if (typeof generated === 'function') {
          return (await (generated as (r: unknown) => Promise<unknown>).call(client, params)) as T;
        }
        viaCore.add(op);
        const spec: EeOperation = EE_OPERATIONS[op];
        const pick = (keys: readonly string[]) =>
          Object.fromEntries(
            keys
              .filter((k) => params[k] !== undefined && params[k] !== null)
              .map((k) => [k, params[k]]),
          );
        const options: HttpRequestOptions & { responseHeaders: string[] } = {
          method: spec.method,
          url: spec.url,
          contentType: 'application/json',
          queryParams: pick(spec.query),
          pathParams: pick(spec.path),
          headers: spec.body ? { 'Content-Type': 'application/json' } : {},
          ...(spec.body ? { data: params.body as Record<string, unknown> } : {}),
          responseHeaders: [''],
        };
        return (await hc.sendRequest(options)) as unknown as T;
      } catch (err) {
        throw readable(err);
      }
    }

    const image: PushedImage = await pushImage(
      t.instanceRegistries.get('ee1')!.url,
      'sdk/app',
      'v1',
      { layers: [{ size: 20_000, seed: 'sdk-app-v1' }] },
    );
    await pushImage(t.instanceRegistries.get('ee1')!.url, 'sdk/app', 'skip-me', {
      layers: [{ size: 1000, seed: 'sdk-skip' }],
    });

    const createdRegistry = await sdk<Wire>('createInstanceRegistry', {
      instance_id: 'ee1',
      body: {
        name: 'sdk-remote',
        type: 'docker-registry',
        url: remote.url,
        credential: { type: 'basic', access_key: 'robot', access_secret: 'sdk-secret' },
        insecure: true,
      },
    });
    expect(createdRegistry).toMatchObject({ id: expect.any(Number), httpStatusCode: 201 });
    const registryId = createdRegistry.id as number;
    const registries = await sdk<Wire>('listInstanceRegistries', {
      instance_id: 'ee1',
      name: 'sdk-',
      offset: 0,
      limit: 10,
    });
    expect(registries).toMatchObject({ total: 1, httpStatusCode: 200 });
    expect((registries.registries as Wire[])[0]).toMatchObject({
      id: registryId,
      name: 'sdk-remote',
      credential: { type: 'basic', access_key: 'robot', access_secret: MASK },
    });
    expect(
      await sdk<Wire>('showInstanceRegistry', { instance_id: 'ee1', registry_id: registryId }),
    ).toMatchObject({ id: registryId, type: 'docker-registry', url: remote.url });

    const createdPolicy = await sdk<Wire>('createInstanceReplicationPolicy', {
      instance_id: 'ee1',
      body: {
        name: 'sdk-push',
        dest_registry: { id: registryId },
        dest_namespace: 'from-sdk',
        filters: [
          { type: 'name', value: 'sdk/**' },
          { type: 'tag', value: 'v*' },
        ],
        repo_scope_mode: 'regular',
        trigger: { type: 'manual', trigger_settings: { cron: '' } },
        override: false,
        enabled: true,
      },
    });
    expect(createdPolicy).toMatchObject({ id: expect.any(Number), httpStatusCode: 201 });
    const policyId = createdPolicy.id as number;
    const policies = await sdk<Wire>('listInstanceReplicationPolicies', {
      instance_id: 'ee1',
      name: 'sdk-push',
    });
    expect(policies).toMatchObject({ total: 1 });
    expect((policies.policies as Wire[])[0]).toMatchObject({
      id: policyId,
      dest_registry: { id: registryId },
      src_registry: null,
      trigger: { type: 'manual', trigger_settings: { cron: '' } },
    });

    const executed = await sdk<Wire>('executeInstanceReplicationPolicy', {
      instance_id: 'ee1',
      body: { policy_id: policyId },
    });
    expect(executed).toEqual({ id: expect.any(Number), httpStatusCode: 202 });
    const executionId = executed.id as number;
    const execution = await waitFor(
      async () => {
        const page = await sdk<Wire>('listInstanceReplicationPolicyExecutions', {
          instance_id: 'ee1',
          policy_id: policyId,
          offset: 0,
          limit: 10,
        });
        const e = (page.executions as Wire[]).find((x) => x.id === executionId);
        return e && e.status !== 'InProgress' ? { page, e } : undefined;
      },
      30_000,
      `execution ${executionId} to end (SDK)`,
    );
    expect(execution.page.total).toBe(1);
    expect(execution.e).toMatchObject({
      id: executionId,
      policy_id: policyId,
      status: 'Succeed',
      total: 1,
      succeed: 1,
      failed: 0,
      in_progress: 0,
      stopped: 0,
      trigger: 'manual',
    });

    const tasks = await sdk<Wire>('listInstanceReplicationPolicyExecTasks', {
      instance_id: 'ee1',
      execution_id: executionId,
      offset: 0,
      limit: 10,
    });
    expect(tasks).toMatchObject({ total: 1, httpStatusCode: 200 });
    const task = (tasks.tasks as Wire[])[0]!;
    expect(task).toMatchObject({
      execution_id: executionId,
      status: 'Succeed',
      operation: 'copy',
      src_resource: expect.stringMatching(/\/sdk\/app$/),
      dst_resource: expect.stringMatching(/\/from-sdk\/app$/),
    });
    // The documented PascalCase quirk reaches SDK users as sent.
    expect(task).toHaveProperty('StatusRevision');
    expect(task.StatusRevision).toEqual(expect.any(Number));
    expect(task).not.toHaveProperty('status_revision');

    const subtasks = await sdk<Wire>('listInstanceReplicationPolicyExecSubTasks', {
      instance_id: 'ee1',
      execution_id: executionId,
      task_id: task.id,
      status: 'Succeed',
    });
    expect(subtasks).toMatchObject({ total: 1, httpStatusCode: 200 });
    expect(subtasks.subtasks).toEqual([
      expect.objectContaining({
        namespace: 'sdk',
        repository: 'app',
        tag: 'v1',
        digest: image.digest,
        status: 'Succeed',
      }),
    ]);
    expect((await skopeoInspectRaw(dockerRef(remote.host, 'from-sdk/app', 'v1'))).digest).toBe(
      image.digest,
    );

    // Errors reach the SDK as ClientRequestException with the SWR code.
    let failure: unknown;
    try {
      await sdk('showInstanceReplicationPolicy', { instance_id: 'ee1', policy_id: 999999 });
    } catch (err) {
      failure = (err as Error).cause ?? err;
    }
    expect(failure).toBeInstanceOf(ClientRequestException);
    expect(failure).toMatchObject({ httpStatusCode: 404, errorCode: CODE.notFound });
    try {
      failure = undefined;
      await sdk('executeInstanceReplicationPolicy', { instance_id: 'ee1', body: {} });
    } catch (err) {
      failure = (err as Error).cause ?? err;
    }
    expect(failure).toBeInstanceOf(ClientRequestException);
    expect(failure).toMatchObject({ httpStatusCode: 400, errorCode: CODE.badRequest });

    // Which path each call took depends on the installed SDK; every operation ran either way.
    const hasEe = typeof (client as unknown as Record<string, unknown>).createInstanceRegistry;
    if (hasEe === 'function') expect([...viaCore]).toEqual([]);
    else expect(viaCore.size).toBe(Object.keys(EE_OPERATIONS).length);
  });
});
