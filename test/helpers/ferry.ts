// Starts a real Ferry service for a test file: an embedded PostgreSQL in a temporary data
// folder, real docker-registry processes as regions, a bootstrap domain with a password and
// an AK/SK pair, and the API on a free loopback port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServiceConfig, type ServiceConfig } from '../../src/config/service-config.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { startRegistry, type TestRegistry } from './registry.js';

/** A Ferry for tests, with its regions' registries. */
export interface TestFerry {
  ferry: RunningFerry;
  url: string;
  dataDir: string;
  config: ServiceConfig;
  /** Region id to its registry. */
  registries: Map<string, TestRegistry>;
  domain: string;
  user: string;
  password: string;
  ak: string;
  sk: string;
  /** Stops Ferry (keeping the data folder when `keepData`), then the registries. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Restarts Ferry on the same data folder and regions. */
  restart(): Promise<void>;
}

/** Options of `startTestFerry`. */
export interface TestFerryOptions {
  /** Region ids; default two, like Huawei's cn-north-4 and cn-east-3. */
  regions?: string[];
  /** Seconds sync_images waits (default 60). */
  waitSeconds?: number;
  /** Token lifetime (default 86400). */
  tokenTtlSeconds?: number;
}

export const TEST_AK = 'HPUAFERRYTESTAK00001';
export const TEST_SK = 'FerryTestSecretKey0123456789abcdefghijkl';

/** Starts registries and Ferry; call `stop()` in afterAll. */
export async function startTestFerry(options: TestFerryOptions = {}): Promise<TestFerry> {
  const regionIds = options.regions ?? ['cn-north-4', 'cn-east-3'];
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-test-'));
  const registries = new Map<string, TestRegistry>();
  for (const id of regionIds) registries.set(id, await startRegistry());
  const password = 'test-password-1';
  const yaml = JSON.stringify({
    version: 1,
    listen: '127.0.0.1:0',
    dataDir,
    logLevel: 'silent',
    tokenTtlSeconds: options.tokenTtlSeconds ?? 86400,
    sync: { waitSeconds: options.waitSeconds ?? 60 },
    regions: regionIds.map((id) => ({ id, url: registries.get(id)!.url })),
    bootstrap: {
      domain: 'acme',
      user: 'alice',
      password,
      accessKeys: [{ ak: TEST_AK, sk: TEST_SK }],
    },
  });
  const config = parseServiceConfig(yaml, 'test config', { env: {} }) as ServiceConfig;
  let ferry: RunningFerry;
  try {
    ferry = await startFerry(config, { logger: false });
  } catch (err) {
    await Promise.all([...registries.values()].map((r) => r.stop()));
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const t: TestFerry = {
    ferry,
    url: ferry.url,
    dataDir,
    config,
    registries,
    domain: 'acme',
    user: 'alice',
    password,
    ak: TEST_AK,
    sk: TEST_SK,
    async stop(stopOptions = {}) {
      await ferry.stop();
      if (stopOptions.keepData) return;
      await Promise.all([...registries.values()].map((r) => r.stop()));
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await ferry.stop();
      ferry = await startFerry(config, { logger: false });
      t.ferry = ferry;
      t.url = ferry.url;
    },
  };
  return t;
}

/** Gets a project-scoped token by password (POST /v3/auth/tokens). */
export async function getToken(
  url: string,
  user: { domain: string; name: string; password: string },
  project: string,
): Promise<string> {
  const res = await fetch(`${url}/v3/auth/tokens?nocatalog=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: { name: user.name, password: user.password, domain: { name: user.domain } },
          },
        },
        scope: { project: { name: project } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token')!;
}
