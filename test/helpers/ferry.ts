// Starts a real Ferry service for a test file: PostgreSQL (embedded in a temporary data
// folder, or a shared one), real docker-registry processes as regions, a bootstrap domain
// with a password and an AK/SK pair, and the API on a loopback port.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseServiceConfig, type ServiceConfig } from '../../src/config/service-config.js';
import { notificationBlock } from '../../src/cli/region.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/storage/embedded.js';
import { freePort, startRegistry, type TestRegistry } from './registry.js';

/** A Ferry for tests, with its regions' registries. */
export interface TestFerry {
  ferry: RunningFerry;
  url: string;
  port: number;
  dataDir: string;
  config: ServiceConfig;
  /** Region id to its registry. */
  registries: Map<string, TestRegistry>;
  /** Region id to its event token. */
  eventTokens: Map<string, string>;
  /** Instance id to its registry. */
  instanceRegistries: Map<string, TestRegistry>;
  /** Instance id to its event token. */
  instanceTokens: Map<string, string>;
  domain: string;
  user: string;
  password: string;
  ak: string;
  sk: string;
  /** Stops Ferry (keeping the data folder when `keepData`), then the registries. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Restarts Ferry on the same data folder, port and regions (config changes applied). */
  restart(change?: (config: ServiceConfig) => ServiceConfig): Promise<void>;
}

/** Options of `startTestFerry`. */
export interface TestFerryOptions {
  /** Region ids; default two, like Huawei's cn-north-4 and cn-east-3. */
  regions?: string[];
  /** Seconds sync_images waits (default 60). */
  waitSeconds?: number;
  /** Token lifetime (default 86400). */
  tokenTtlSeconds?: number;
  /** Give every region an eventToken and make its registry post push events to Ferry. */
  notifications?: boolean;
  /** Overrides of the `workers` config (retry delays default to 1 s here, to keep tests short). */
  workers?: Partial<ServiceConfig['workers']>;
  /** autoSync.reconcileSeconds (default 0: off, so tests see events at work). */
  reconcileSeconds?: number;
  /** Region id to the URL Ferry uses for it (e.g. through a fault proxy). */
  regionUrls?: Record<string, string>;
  /** Use this PostgreSQL instead of an embedded one in the data folder. */
  databaseUrl?: string;
  /** SWR Enterprise instances of domain `acme`, each with its own registry (and event token). */
  instances?: { id: string; region?: string; notifications?: boolean }[];
}

export const TEST_AK = 'HPUAFERRYTESTAK00001';
export const TEST_SK = 'FerryTestSecretKey0123456789abcdefghijkl';
export const TEST_SECRET_KEY = 'a1'.repeat(32);

/** Starts registries and Ferry; call `stop()` in afterAll. */
export async function startTestFerry(options: TestFerryOptions = {}): Promise<TestFerry> {
  const regionIds = options.regions ?? ['cn-north-4', 'cn-east-3'];
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-test-'));
  const port = await freePort();
  const registries = new Map<string, TestRegistry>();
  const eventTokens = new Map<string, string>();
  const instanceRegistries = new Map<string, TestRegistry>();
  const instanceTokens = new Map<string, string>();
  try {
    for (const id of regionIds) {
      let extra: Record<string, unknown> | undefined;
      if (options.notifications) {
        const token = randomBytes(16).toString('hex');
        eventTokens.set(id, token);
        // notificationBlock is YAML text; the registry launcher takes an object.
        extra = parse(
          notificationBlock(`http://127.0.0.1:${port}/v2/events/registries/${id}`, token),
        ) as Record<string, unknown>;
      }
      registries.set(id, await startRegistry({ extra }));
    }
    for (const inst of options.instances ?? []) {
      const token = randomBytes(16).toString('hex');
      instanceTokens.set(inst.id, token);
      const extra = inst.notifications
        ? (parse(
            notificationBlock(`http://127.0.0.1:${port}/v2/events/instances/${inst.id}`, token),
          ) as Record<string, unknown>)
        : undefined;
      instanceRegistries.set(inst.id, await startRegistry({ extra }));
    }
  } catch (err) {
    await Promise.all(
      [...registries.values(), ...instanceRegistries.values()].map((r) => r.stop()),
    );
    throw err;
  }
  const password = 'test-password-1';
  const yaml = stringify({
    version: 1,
    listen: `127.0.0.1:${port}`,
    dataDir,
    logLevel: 'silent',
    secretKey: TEST_SECRET_KEY,
    ...(options.databaseUrl ? { database: { url: options.databaseUrl } } : {}),
    tokenTtlSeconds: options.tokenTtlSeconds ?? 86400,
    sync: { waitSeconds: options.waitSeconds ?? 60 },
    workers: {
      retryBaseSeconds: 1,
      retryMaxSeconds: 2,
      shutdownGraceSeconds: 5,
      ...options.workers,
    },
    autoSync: { reconcileSeconds: options.reconcileSeconds ?? 0 },
    regions: regionIds.map((id) => ({
      id,
      url: options.regionUrls?.[id] ?? registries.get(id)!.url,
      ...(eventTokens.has(id) ? { eventToken: eventTokens.get(id) } : {}),
    })),
    instances: (options.instances ?? []).map((inst) => ({
      id: inst.id,
      name: `instance-${inst.id}`,
      url: instanceRegistries.get(inst.id)!.url,
      domain: 'acme',
      region: inst.region ?? regionIds[0],
      eventToken: instanceTokens.get(inst.id),
    })),
    bootstrap: {
      domain: 'acme',
      user: 'alice',
      password,
      accessKeys: [{ ak: TEST_AK, sk: TEST_SK }],
    },
  });
  let config = parseServiceConfig(yaml, 'test config', { env: {} }) as ServiceConfig;
  let ferry: RunningFerry;
  try {
    ferry = await startFerry(config, { logger: false });
  } catch (err) {
    await Promise.all(
      [...registries.values(), ...instanceRegistries.values()].map((r) => r.stop()),
    );
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const t: TestFerry = {
    ferry,
    url: ferry.url,
    port,
    dataDir,
    config,
    registries,
    eventTokens,
    instanceRegistries,
    instanceTokens,
    domain: 'acme',
    user: 'alice',
    password,
    ak: TEST_AK,
    sk: TEST_SK,
    async stop(stopOptions = {}) {
      await ferry.stop();
      if (stopOptions.keepData) return;
      await Promise.all(
        [...registries.values(), ...instanceRegistries.values()].map((r) => r.stop()),
      );
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart(change) {
      await ferry.stop();
      if (change) config = change(config);
      t.config = config;
      ferry = await startFerry(config, { logger: false });
      t.ferry = ferry;
      t.url = ferry.url;
    },
  };
  return t;
}

/** A PostgreSQL for several Ferry processes of one test file (embedded, in its own folder). */
export async function startSharedPostgres(): Promise<EmbeddedDatabase & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
  await chmod(dir, 0o711);
  const pg = await startEmbeddedPostgres(dir);
  return {
    ...pg,
    dir,
    stop: async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
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

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Calls the API with a token and a JSON body; the status, parsed JSON (if any) and text. */
export async function callApi(
  url: string,
  token: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> | undefined; text: string }> {
  const res = await fetch(url, {
    method,
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    text,
  };
}

/** The caller's project id of a region (GET /v3/projects?name=). */
export async function projectIdOf(url: string, token: string, region: string): Promise<string> {
  const res = await fetch(`${url}/v3/projects?name=${region}`, {
    headers: { 'x-auth-token': token },
  });
  const body = (await res.json()) as { projects: { id: string }[] };
  return body.projects[0]!.id;
}
