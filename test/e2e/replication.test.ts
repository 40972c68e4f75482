// Must show (issue 5): a push policy with filters `name: ns1/**` and `tag: v{1,2}` from an
// instance to a registry entry pointing at another docker-registry; execute answers 202 with
// an id, the execution reaches Succeed, exactly the matching tags are at the target with the
// right digests (skopeo), and counters and sub-tasks match. A pull policy copies back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getToken,
  startTestFerry,
  waitFor,
  type TestFerry,
  callApi,
  projectIdOf,
} from '../helpers/ferry.js';
import { pushImage, pushIndex, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerRef, skopeoInspectRaw, skopeoListTags } from '../helpers/skopeo.js';

interface Execution {
  id: number;
  status: string;
  total: number;
  succeed: number;
  failed: number;
  in_progress: number;
  stopped: number;
  trigger: string;
}

describe('SWR Enterprise replication', () => {
  let t: TestFerry;
  let remote: TestRegistry;
  let token: string;
  let project: string;
  const pushed = new Map<string, PushedImage>();
  const base = () => `${t.url}/v2/${project}/instances/ee1`;

  const api = (method: string, path: string, body?: unknown) =>
    callApi(`${base()}${path}`, token, method, body);

  const waitDone = (id: number) =>
    waitFor(
      async () => {
        const e = (await api('GET', `/replication/executions/${id}`)).json as unknown as Execution;
        return e.status === 'InProgress' ? undefined : e;
      },
      30_000,
      `execution ${id} to end`,
    );

  beforeAll(async () => {
    t = await startTestFerry({ instances: [{ id: 'ee1' }] });
    remote = await startRegistry();
    token = await getToken(
      t.url,
      { domain: 'acme', name: 'alice', password: t.password },
      'cn-north-4',
    );
    project = await projectIdOf(t.url, token, 'cn-north-4');
    const ee = t.instanceRegistries.get('ee1')!;
    const layer = { size: 40_000, seed: 'ee-base' };
    for (const [repo, tag] of [
      ['ns1/app', 'v1'],
      ['ns1/app', 'v2'],
      ['ns1/app', 'v3'],
      ['ns1/team/tool', 'v1'],
      ['ns2/other', 'v1'],
    ] as const) {
      pushed.set(
        `${repo}:${tag}`,
        await pushImage(ee.url, repo, tag, {
          layers: [layer, { size: 5000, seed: `${repo}:${tag}` }],
        }),
      );
    }
    pushed.set(
      'ns1/team/tool:v2',
      await pushIndex(ee.url, 'ns1/team/tool', 'v2', [
        {
          platform: { os: 'linux', architecture: 'amd64' },
          layers: [{ size: 3000, seed: 'tool-amd' }],
        },
        {
          platform: { os: 'linux', architecture: 'arm64' },
          layers: [{ size: 3000, seed: 'tool-arm' }],
        },
      ]),
    );
  });

  afterAll(async () => {
    await remote?.stop();
    await t?.stop();
  });

  it('lists the project\u2019s instance and its contents', async () => {
    const list = await fetch(`${t.url}/v2/${project}/instances`, {
      headers: { 'x-auth-token': token },
    });
    const body = (await list.json()) as {
      instances: { id: string; status: string }[];
      total: number;
    };
    expect(body.total).toBe(1);
    expect(body.instances[0]).toMatchObject({ id: 'ee1', status: 'Running' });
    const repos = (await api('GET', '/repositories?limit=100')).json as { total: number };
    expect(repos.total).toBe(3);
    const arts = (await api('GET', '/namespaces/ns1/repositories/team$tool/artifacts')).json as {
      artifacts: { digest: string; tags: { name: string }[] }[];
    };
    expect(arts.artifacts.map((a) => a.digest).sort()).toEqual(
      [pushed.get('ns1/team/tool:v1')!.digest, pushed.get('ns1/team/tool:v2')!.digest].sort(),
    );
  });

  it('replicates exactly the filtered repositories and tags with a push policy', async () => {
    const reg = await api('POST', '/registries', {
      name: 'remote-1',
      type: 'docker-registry',
      url: remote.url,
      credential: { type: 'basic', access_key: 'robot', access_secret: 's3cret' },
      insecure: true,
    });
    expect(reg.status).toBe(201);
    const registryId = reg.json!.id as number;
    const shown = (await api('GET', `/registries/${registryId}`)).json!;
    expect(shown.credential).toEqual({
      type: 'basic',
      access_key: 'robot',
      access_secret: '******',
    });
    expect(JSON.stringify(shown)).not.toContain('s3cret');
    const policy = await api('POST', '/replication/policies', {
      name: 'push-ns1',
      dest_registry: { id: registryId },
      dest_namespace: '',
      filters: [
        { type: 'name', value: 'ns1/**' },
        { type: 'tag', value: 'v{1,2}' },
      ],
      repo_scope_mode: 'regular',
      trigger: { type: 'manual', trigger_settings: { cron: '' } },
      override: false,
      enabled: true,
    });
    expect(policy.status).toBe(201);
    const exec = await api('POST', '/replication/executions', { policy_id: policy.json!.id });
    expect(exec.status).toBe(202);
    expect(exec.json).toEqual({ id: expect.any(Number) });
    const done = await waitDone(exec.json!.id as number);
    expect(done).toMatchObject({
      status: 'Succeed',
      total: 2,
      succeed: 2,
      failed: 0,
      in_progress: 0,
      stopped: 0,
      trigger: 'manual',
    });

    expect(await skopeoListTags(`docker://${remote.host}/ns1/app`)).toEqual(['v1', 'v2']);
    expect(await skopeoListTags(`docker://${remote.host}/ns1/team/tool`)).toEqual(['v1', 'v2']);
    await expect(skopeoListTags(`docker://${remote.host}/ns2/other`)).rejects.toThrow();
    for (const key of ['ns1/app:v1', 'ns1/app:v2', 'ns1/team/tool:v1', 'ns1/team/tool:v2']) {
      const [repo, tag] = key.split(':') as [string, string];
      expect((await skopeoInspectRaw(dockerRef(remote.host, repo, tag))).digest, key).toBe(
        pushed.get(key)!.digest,
      );
    }

    const tasks = (await api('GET', `/replication/executions/${done.id}/tasks`)).json as {
      tasks: Record<string, unknown>[];
      total: number;
    };
    expect(tasks.total).toBe(2);
    for (const task of tasks.tasks) {
      expect(task).toMatchObject({ status: 'Succeed', operation: 'copy', execution_id: done.id });
      expect(task.StatusRevision).toBeGreaterThanOrEqual(2);
      const subs = (
        await api('GET', `/replication/executions/${done.id}/tasks/${task.id as number}/subtasks`)
      ).json as {
        subtasks: {
          tag: string;
          status: string;
          digest: string;
          namespace: string;
          repository: string;
        }[];
      };
      expect(subs.subtasks.map((s) => s.tag)).toEqual(['v1', 'v2']);
      for (const s of subs.subtasks) {
        expect(s.status).toBe('Succeed');
        expect(s.digest).toBe(pushed.get(`${s.namespace}/${s.repository}:${s.tag}`)!.digest);
      }
      const log = await fetch(
        `${base()}/replication/executions/${done.id}/tasks/${task.id as number}/log`,
        {
          headers: { 'x-auth-token': token },
        },
      );
      expect(await log.text()).toMatch(/v1: Succeed/);
    }
    const list = (
      await api(
        'GET',
        `/replication/executions?policy_id=${policy.json!.id as number}&offset=0&limit=10`,
      )
    ).json as {
      executions: Execution[];
      total: number;
    };
    expect(list.total).toBe(1);
    expect(list.executions[0]).toMatchObject({
      id: done.id,
      status: 'Succeed',
      total: 2,
      succeed: 2,
    });
  });

  it('pulls from a registry into the instance, under dest_namespace', async () => {
    const img = await pushImage(remote.url, 'upstream/lib', 'v9', {
      layers: [{ size: 8000, seed: 'pull-me' }],
    });
    const reg = await api('POST', '/registries', {
      name: 'upstream',
      type: 'docker-registry',
      url: remote.url,
      insecure: true,
    });
    const policy = await api('POST', '/replication/policies', {
      name: 'pull-upstream',
      src_registry: { id: reg.json!.id },
      dest_namespace: 'mirror',
      filters: [{ type: 'name', value: 'upstream/**' }],
      repo_scope_mode: 'regular',
      trigger: { type: 'manual' },
      enabled: true,
    });
    expect(policy.status).toBe(201);
    const exec = await api('POST', '/replication/executions', { policy_id: policy.json!.id });
    const done = await waitDone(exec.json!.id as number);
    expect(done).toMatchObject({ status: 'Succeed', total: 1, succeed: 1 });
    const ee = t.instanceRegistries.get('ee1')!;
    expect((await skopeoInspectRaw(dockerRef(ee.host, 'mirror/lib', 'v9'))).digest).toBe(
      img.digest,
    );
  });
});
