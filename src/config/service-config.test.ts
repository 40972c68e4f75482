import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../errors/catalog.js';
import {
  loadServiceConfig,
  parseServiceConfig,
  serviceConfigKeys,
  type ServiceConfig,
} from './service-config.js';

const CWD = '/srv/ferry';
const DOC = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const EXAMPLE = /```yaml\n([\s\S]*?)```/.exec(DOC)![1]!;
const KEY = 'ab'.repeat(32);

/** Parses with no file unless `text` is given, and only the given environment. */
function cfg(text: string | undefined, env: Record<string, string> = {}): Readonly<ServiceConfig> {
  return parseServiceConfig(text, 'ferry.yaml', { env, cwd: CWD });
}

/** The INVALID_CONFIG message parsing throws. */
function fails(text: string | undefined, env: Record<string, string> = {}): string {
  try {
    cfg(text, env);
  } catch (err) {
    expect(isFerryError(err, 'INVALID_CONFIG')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('parsed without error');
}

const FILE = `version: 1
listen: 0.0.0.0:9000
dataDir: data
database: { url: "postgresql://ferry:pw@db:5432/ferry" }
regions:
  - { id: cn-north-4, url: "https://swr.example.com/", username: robot, password: s3cret, eventToken: t0k }
  - { id: local, url: "http://127.0.0.1:5000", ca: /etc/ssl/ca.pem }
bootstrap:
  domain: acme
  user: admin
  password: change-me
  accessKeys: [{ ak: AK1, sk: SK1 }]
`;

describe('service config', () => {
  it('has defaults with no file and no environment', () => {
    expect(cfg(undefined)).toEqual({
      version: 1,
      listen: { host: '127.0.0.1', port: 8080 },
      dataDir: '/srv/ferry/ferry-data',
      database: {},
      tokenTtlSeconds: 86400,
      sync: { waitSeconds: 60 },
      workers: {
        enabled: true,
        concurrency: 8,
        registryConcurrency: 8,
        maxAttempts: 5,
        retryBaseSeconds: 2,
        retryMaxSeconds: 300,
        shutdownGraceSeconds: 20,
      },
      autoSync: { reconcileSeconds: 300 },
      instances: [],
      regions: [],
      logLevel: 'info',
    });
  });

  it('parses a full file', () => {
    const c = cfg(FILE);
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(c.dataDir).toBe('/srv/ferry/data');
    expect(c.database.url).toBe('postgresql://ferry:pw@db:5432/ferry');
    expect(c.regions).toEqual([
      {
        id: 'cn-north-4',
        url: 'https://swr.example.com',
        username: 'robot',
        password: 's3cret',
        eventToken: 't0k',
      },
      { id: 'local', url: 'http://127.0.0.1:5000', ca: '/etc/ssl/ca.pem' },
    ]);
    expect(c.bootstrap).toEqual({
      domain: 'acme',
      user: 'admin',
      password: 'change-me',
      accessKeys: [{ ak: 'AK1', sk: 'SK1' }],
    });
    expect(cfg('version: 1\nbootstrap: {domain: d, user: u, password: p}').bootstrap).toEqual({
      domain: 'd',
      user: 'u',
      password: 'p',
      accessKeys: [],
    });
  });

  it('parses the example in docs/configuration.md', () => {
    const c = cfg(EXAMPLE);
    expect(c.regions.map((r) => r.id)).toEqual(['cn-north-4', 'local']);
    expect(c.bootstrap?.accessKeys).toHaveLength(1);
    expect(c.secretKey).toHaveLength(64);
  });

  it('documents every key with its environment variable', () => {
    const rows = DOC.split('\n').map((l) => l.split('|').map((c) => c.trim()));
    const keys = serviceConfigKeys();
    expect(keys.map((k) => k.env)).toContain('FERRY_REGIONS_N_EVENT_TOKEN');
    expect(new Set(keys.map((k) => k.env)).size).toBe(keys.length);
    for (const { key, env } of keys) {
      const row = rows.find((c) => c[1] === `\`${key}\``);
      expect(row, `docs/configuration.md has no row for ${key}`).toBeDefined();
      expect(row![3], key).toBe(`\`${env}\``);
    }
  });

  it('reads a file and resolves dataDir against the working directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
    try {
      const file = join(dir, 'ferry.yaml');
      await writeFile(file, FILE);
      const c = await loadServiceConfig(file, { env: {}, cwd: dir });
      expect(c.dataDir).toBe(join(dir, 'data'));
      expect((await loadServiceConfig(undefined, { env: {}, cwd: dir })).dataDir).toBe(
        join(dir, 'ferry-data'),
      );
      await expect(loadServiceConfig(join(dir, 'none.yaml'), { env: {} })).rejects.toThrow(
        /none\.yaml: cannot read/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('applies scalar overrides on top of the file, coerced to the key type', () => {
    const c = cfg(FILE, {
      FERRY_LISTEN: ':8443',
      FERRY_DATA_DIR: '/var/lib/ferry',
      FERRY_DATABASE_URL: 'postgres://db/ferry',
      FERRY_SECRET_KEY: KEY,
      FERRY_TOKEN_TTL_SECONDS: '3600',
      FERRY_SYNC_WAIT_SECONDS: '0',
      FERRY_WORKERS_CONCURRENCY: '16',
      FERRY_WORKERS_ENABLED: 'false',
      FERRY_REGIONS_1_CA: '/tmp/ca.pem',
      FERRY_REGIONS_0_PASSWORD: 'other',
      FERRY_BOOTSTRAP_PASSWORD: 'pw2',
      FERRY_BOOTSTRAP_ACCESS_KEYS_0_SK: 'SK2',
      FERRY_LOG_LEVEL: 'debug',
      FERRY_VERSION: '1',
    });
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(c.dataDir).toBe('/var/lib/ferry');
    expect(c.database.url).toBe('postgres://db/ferry');
    expect(c.secretKey).toBe(KEY);
    expect(c.tokenTtlSeconds).toBe(3600);
    expect(c.sync).toEqual({ waitSeconds: 0 });
    expect([c.workers.concurrency, c.workers.enabled]).toEqual([16, false]);
    expect(c.regions[1]?.ca).toBe('/tmp/ca.pem');
    expect(c.regions[0]?.password).toBe('other');
    expect(c.regions[0]?.username).toBe('robot');
    expect(c.bootstrap?.password).toBe('pw2');
    expect(c.bootstrap?.accessKeys[0]).toEqual({ ak: 'AK1', sk: 'SK2' });
    expect(c.logLevel).toBe('debug');
  });

  it('takes whole maps and lists as YAML or JSON, then their sub-keys', () => {
    const c = cfg(FILE, {
      FERRY_REGIONS: '[{id: a1, url: "http://127.0.0.1:5000"}]',
      FERRY_REGIONS_0_EVENT_TOKEN: 'tok',
      FERRY_BOOTSTRAP: '{"domain": "d", "user": "u", "password": "p"}',
      FERRY_SYNC: '{waitSeconds: 5}',
      FERRY_LISTEN: '[::1]:80',
    });
    expect(c.regions).toEqual([{ id: 'a1', url: 'http://127.0.0.1:5000', eventToken: 'tok' }]);
    expect(c.bootstrap).toEqual({ domain: 'd', user: 'u', password: 'p', accessKeys: [] });
    expect(c.sync).toEqual({ waitSeconds: 5 });
    expect(c.listen).toEqual({ host: '::1', port: 80 });
  });

  it('adds list elements by index past the end, which must then validate', () => {
    const c = cfg(undefined, {
      FERRY_REGIONS_0_ID: 'r0',
      FERRY_REGIONS_0_URL: 'http://a:1',
      FERRY_REGIONS_1_ID: 'r1',
      FERRY_REGIONS_1_URL: 'https://b',
      FERRY_BOOTSTRAP_DOMAIN: 'd',
      FERRY_BOOTSTRAP_USER: 'u',
      FERRY_BOOTSTRAP_PASSWORD: 'p',
      FERRY_BOOTSTRAP_ACCESS_KEYS_0: '{ak: A, sk: S}',
    });
    expect(c.regions).toEqual([
      { id: 'r0', url: 'http://a:1' },
      { id: 'r1', url: 'https://b' },
    ]);
    expect(c.bootstrap?.accessKeys).toEqual([{ ak: 'A', sk: 'S' }]);
    expect(fails(FILE, { FERRY_REGIONS_2_ID: 'r2' })).toBe(
      'FERRY_REGIONS_2_ID: regions[2].url: is required',
    );
    expect(fails(FILE, { FERRY_REGIONS_3_ID: 'r3' })).toMatch(
      /^FERRY_REGIONS_3_ID: regions\[3\]: index past the end of regions \(2 elements/,
    );
  });

  it('ignores empty variables and the names other parts of Ferry use', () => {
    expect(
      cfg(undefined, {
        FERRY_SRC_CREDS: 'u:p',
        FERRY_DST_CREDS: 'u:p',
        FERRY_CONFIG: '/etc/ferry.yaml',
        FERRY_LOG_LEVEL: '',
        HOME: '/root',
      }).logLevel,
    ).toBe('info');
  });

  it('reports values from the environment by variable name', () => {
    expect(fails(undefined, { FERRY_SYNC_WAIT_SECONDS: 'soon' })).toBe(
      'FERRY_SYNC_WAIT_SECONDS: must be a whole number from 0 to 3600',
    );
    expect(fails(FILE, { FERRY_REGIONS_0_URL: 'ftp://x' })).toMatch(
      /^FERRY_REGIONS_0_URL: must be an http\(s\) URL/,
    );
    expect(fails(undefined, { FERRY_REGIONS: '[{id: a1, url: "http://x", extra: 1}]' })).toMatch(
      /^FERRY_REGIONS: regions\[0\]\.extra: unknown key \(allowed: id, url, username,/,
    );
    expect(fails(undefined, { FERRY_BOOTSTRAP: '{domain: d, password: s3cretpw' })).toMatch(
      /^FERRY_BOOTSTRAP: not valid YAML\/JSON: /,
    );
    expect(fails('version: 1\nsync: 3', { FERRY_SYNC_WAIT_SECONDS: '1' })).toBe(
      'ferry.yaml: sync: must be a map',
    );
  });

  it.each([
    ['FERRY_DATADIR', 'FERRY_DATADIR: not a Ferry setting (known: FERRY_VERSION, FERRY_LISTEN,'],
    ['FERRY_REGIONS_X_URL', 'FERRY_REGIONS_X_URL: not a Ferry setting'],
    ['FERRY_REGIONS_01_URL', 'FERRY_REGIONS_01_URL: not a Ferry setting'],
    ['FERRY_SYNC_WAIT', 'FERRY_SYNC_WAIT: not a Ferry setting'],
    ['FERRY_', 'FERRY_: not a Ferry setting'],
  ])('rejects the unknown variable %s', (name, message) => {
    expect(fails(undefined, { [name]: '1' })).toContain(message);
  });

  it.each([
    ['listen: 1.2.3.4:8080', 'ferry.yaml: version: is required'],
    ['version: 2', 'ferry.yaml: version: must be 1'],
    ['version: "1"', 'ferry.yaml: version: must be 1'],
    ['- version: 1', 'ferry.yaml: (file): must be a YAML map'],
    ['version: [1\n', 'ferry.yaml: (file): not valid YAML'],
    [
      'version: 1\nlisten: 1.2.3.4:8080\ndatadir: x',
      'ferry.yaml: datadir: unknown key (allowed: version, listen, dataDir, database,',
    ],
    ['version: 1\nsync: {wait: 1}', 'ferry.yaml: sync.wait: unknown key (allowed: waitSeconds)'],
    [
      'version: 1\nregions: [{id: ab, url: "http://a"}, {id: ab, url: "http://b"}]',
      'ferry.yaml: regions[1].id: duplicate id ab (also regions[0])',
    ],
    ['version: 1\nregions: [{id: A, url: "http://a"}]', 'ferry.yaml: regions[0].id: must be 2 to'],
    ['version: 1\nregions: [{id: a, url: "http://a"}]', 'ferry.yaml: regions[0].id: must be 2 to'],
    ['version: 1\nregions: [{url: "http://a"}]', 'ferry.yaml: regions[0].id: is required'],
    [
      'version: 1\nregions: [{id: ab, url: "http://a:5000/v2"}]',
      'ferry.yaml: regions[0].url: must be an http(s) URL',
    ],
    [
      'version: 1\nregions: [{id: ab, url: "a:5000"}]',
      'ferry.yaml: regions[0].url: must be an http(s) URL',
    ],
    [
      'version: 1\nregions: [{id: ab, url: "http://a:99999"}]',
      'ferry.yaml: regions[0].url: must be an http(s) URL',
    ],
    [
      'version: 1\nregions: [{id: ab, url: "http://a"}, {id: cd, url: "http://a?x=1"}]',
      'ferry.yaml: regions[1].url: must be an http(s) URL',
    ],
    [
      'version: 1\nregions: [{id: ab, url: "http://a", username: u}]',
      'ferry.yaml: regions[0].password: is required when username is set',
    ],
    ['version: 1\nlisten: 8080', 'ferry.yaml: listen: must be HOST:PORT'],
    ['version: 1\nlisten: "localhost"', 'ferry.yaml: listen: must be HOST:PORT'],
    ['version: 1\nlisten: "a:65536"', 'ferry.yaml: listen: must be HOST:PORT'],
    ['version: 1\nlisten: "a b:80"', 'ferry.yaml: listen: must be HOST:PORT'],
    ['version: 1\nsecretKey: abc', 'ferry.yaml: secretKey: must be 64 hex characters (32 bytes)'],
    [`version: 1\nsecretKey: ${KEY}0`, 'ferry.yaml: secretKey: must be 64 hex characters'],
    [`version: 1\nsecretKey: ${'g'.repeat(64)}`, 'ferry.yaml: secretKey: must be 64 hex'],
    ['version: 1\ndatabase: {url: "mysql://db/x"}', 'ferry.yaml: database.url: must be a postgres'],
    ['version: 1\ntokenTtlSeconds: 59', 'ferry.yaml: tokenTtlSeconds: must be a whole number'],
    ['version: 1\ntokenTtlSeconds: 2592001', 'ferry.yaml: tokenTtlSeconds: must be a whole number'],
    ['version: 1\ntokenTtlSeconds: 1.5', 'ferry.yaml: tokenTtlSeconds: must be a whole number'],
    ['version: 1\nsync: {waitSeconds: -1}', 'ferry.yaml: sync.waitSeconds: must be a whole number'],
    ['version: 1\nsync: {waitSeconds: 3601}', 'ferry.yaml: sync.waitSeconds: must be a whole'],
    [
      'version: 1\ninstances: [{id: i1, name: n, url: "http://a", domain: d, region: nowhere}]',
      'ferry.yaml: instances[0].region: names no configured region',
    ],
    [
      'version: 1\nregions: [{id: ab, url: "http://a"}]\ninstances: [{id: i1, name: n, url: "http://a", domain: d, region: ab}, {id: i1, name: m, url: "http://b", domain: d, region: ab}]',
      'ferry.yaml: instances[1].id: duplicate id i1',
    ],
    ['version: 1\nworkers: {concurrency: 0}', 'ferry.yaml: workers.concurrency: must be a'],
    ['version: 1\nworkers: {concurrency: 257}', 'ferry.yaml: workers.concurrency: must be a'],
    [
      'version: 1\nworkers: {enabled: yes please}',
      'ferry.yaml: workers.enabled: must be true or false',
    ],
    ['version: 1\nlogLevel: verbose', 'ferry.yaml: logLevel: must be one of fatal, error,'],
    ['version: 1\ndataDir: ""', 'ferry.yaml: dataDir: must be a non-empty string'],
    ['version: 1\nregions: {}', 'ferry.yaml: regions: must be a list'],
    ['version: 1\nbootstrap: {domain: d, user: u}', 'ferry.yaml: bootstrap.password: is required'],
    [
      'version: 1\nbootstrap: {domain: d, user: u, password: p, accessKeys: [{ak: A, sk: B}, {ak: A, sk: C}]}',
      'ferry.yaml: bootstrap.accessKeys[1].ak: duplicate (also accessKeys[0])',
    ],
  ])('rejects %j naming the key', (text, message) => {
    expect(fails(text)).toContain(message);
  });

  it('accepts the range limits', () => {
    const c = cfg(
      'version: 1\ntokenTtlSeconds: 60\nsync: {waitSeconds: 3600}\nworkers: {concurrency: 256}\nlisten: ":0"',
    );
    expect([c.tokenTtlSeconds, c.sync.waitSeconds, c.workers.concurrency]).toEqual([60, 3600, 256]);
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 0 });
    expect(cfg(undefined, { FERRY_TOKEN_TTL_SECONDS: '2592000' }).tokenTtlSeconds).toBe(2592000);
  });

  it('never puts secrets in messages', () => {
    const secret = 'S3cretValue';
    const messages = [
      fails(`version: 1\nsecretKey: ${secret}`),
      fails(undefined, { FERRY_SECRET_KEY: secret }),
      fails(`version: 1\nregions: [{id: ab, url: "http://u:${secret}@host"}]`),
      fails(`version: 1\ndatabase: {url: "mysql://u:${secret}@db/x"}`),
      fails(undefined, { FERRY_DATABASE_URL: `http://u:${secret}@db` }),
      fails(undefined, { FERRY_BOOTSTRAP: `{domain: d, user: u, password: ${secret}` }),
      fails(undefined, { FERRY_BOOTSTRAP_PASSWORD: secret }),
      fails(`version: 1\nregions: [{id: ab, url: "http://a", password: ${secret}}]`),
      fails(`version: 1\nregions: [{id: ab, url: "http://a", eventToken: [${secret}]}]`),
      fails(`version: 1\nlisten: ${secret}`),
      fails(`version: 1\nlogLevel: ${secret}`),
    ];
    expect(messages[2]).toMatch(/regions\[0\]\.url: must/);
    for (const m of messages) expect(m).not.toContain(secret);
  });

  it('freezes the result deeply', () => {
    const c = cfg(FILE);
    expect(Object.isFrozen(c)).toBe(true);
    for (const o of [
      c.listen,
      c.database,
      c.sync,
      c.regions,
      c.regions[0],
      c.bootstrap,
      c.bootstrap?.accessKeys,
      c.bootstrap?.accessKeys[0],
    ]) {
      expect(Object.isFrozen(o)).toBe(true);
    }
    expect(() => {
      (c.regions as unknown as unknown[]).push({});
    }).toThrow(TypeError);
  });
});
