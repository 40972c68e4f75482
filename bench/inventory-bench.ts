// `npm run bench:inventory`: latency of the HSS image inventory lists (issue 6: with 100,000
// images, list pages with filters answer with p99 <= 50 ms under 50 concurrent clients on a
// 2-core machine). One Ferry (`startTestFerry`: embedded PostgreSQL, the real API on a loopback
// port) gets 100,000 images inserted with SQL into inventory_images of the cn-north-4 project
// (5 registries, 2,000 repositories over 50 namespaces, 50 tags each, 10% multi-arch, update
// times over 90 days), then VACUUM (ANALYZE). Five list scenarios (page 1, offset 5000, name +
// multi-arch, update time range + image type, SWR private images of a namespace) and a reference
// route run 10 s each with 50 keep-alive connections from autocannon in a child process, 3 runs
// interleaved; the summary is the median per scenario of req/s, p50, p90, p99 and max. Before
// the runs every request's SQL, as Ferry sends it (captured from pg), runs under EXPLAIN
// (ANALYZE, BUFFERS) and its plan is printed. Then the candidate indexes (EXPERIMENT) are created
// in the bench's own database and everything is measured again. Writes the "Inventory list
// latency" section at the end of bench/RESULTS.md (the rest kept). See bench/README.md.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startTestFerry, getToken, type TestFerry } from '../test/helpers/ferry.js';
import { waitForQuietCpu } from './measure.js';
import { median, writeSection } from './report.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'RESULTS.md');
const SELF = fileURLToPath(import.meta.url);
const SECTION = '## Inventory list latency';
const TARGET_P99_MS = 50;
const REGION = 'cn-north-4';
const DAY_MS = 86_400_000;

// ---- options ----

export interface Options {
  runs: number;
  seconds: number;
  connections: number;
  warmup: number;
  repos: number;
  tags: number;
  experiment: boolean;
  results: boolean;
  only: string[] | undefined;
}

const USAGE = `usage: npx tsx bench/inventory-bench.ts [options]
  --runs N          timed runs of every scenario (default 3); the summary shows medians
  --seconds N       seconds per timed run (default 10)
  --connections N   concurrent keep-alive connections (default 50)
  --warmup N        untimed seconds per scenario before the runs (default 3; 0 for none)
  --repos N         repositories (default 2000) ...
  --tags N          ... times tags per repository (default 50) = images (100,000)
  --no-experiment   skip the second pass (by default the candidate indexes, EXPERIMENT
                    in this script, are then created in the bench's own database, and
                    every scenario is EXPLAINed and measured again)
  --only a,c,ref    only these scenarios (a to e, ref)
  --no-results      print only; leave bench/RESULTS.md alone (by default its
                    "Inventory list latency" section is replaced, the rest kept)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '3' },
      repos: { type: 'string', default: '2000' },
      tags: { type: 'string', default: '50' },
      'no-experiment': { type: 'boolean', default: false },
      only: { type: 'string' },
      'no-results': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const o: Options = {
    runs: Number(values.runs),
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    warmup: Number(values.warmup),
    repos: Number(values.repos),
    tags: Number(values.tags),
    experiment: !values['no-experiment'],
    results: !values['no-results'],
    only: values.only?.split(','),
  };
  const counts = [o.runs, o.seconds, o.connections, o.repos, o.tags];
  if (!counts.every((n) => Number.isInteger(n) && n >= 1) || !(o.warmup >= 0)) {
    throw new Error(`bad arguments\n${USAGE}`);
  }
  if (o.repos % 50 !== 0) throw new Error('--repos: a multiple of 50 (the namespaces)');
  return o;
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

// ---- the load generator (a child process running autocannon) ----

/** What the child is asked to do. */
export interface ClientSpec {
  url: string;
  token: string;
  paths: string[];
  connections: number;
  seconds: number;
}

/** What the child reports. */
export interface ClientResult {
  requests: number;
  seconds: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
}

/** The part of autocannon's API used here (it ships no types). */
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  requests: { method: 'GET'; path: string }[];
}) => Promise<{
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  requests: { total: number };
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
}>;

/** `--client`: runs autocannon with the spec on stdin, prints the result as JSON. */
async function clientMain(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ClientSpec;
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const r = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    headers: { 'x-auth-token': spec.token },
    requests: spec.paths.map((path) => ({ method: 'GET', path })),
  });
  const out: ClientResult = {
    requests: r.requests.total,
    seconds: r.duration,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latency: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      mean: r.latency.mean,
    },
  };
  process.stdout.write(JSON.stringify(out));
}

/** Runs the load generator in its own process (its CPU is not Ferry's event loop's). */
export function runClient(spec: ClientSpec): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, SELF, '--client'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else {
        try {
          resolve(JSON.parse(out) as ClientResult);
        } catch (err) {
          reject(
            new Error(`load generator printed no result: ${out.slice(0, 200)}`, { cause: err }),
          );
        }
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

// ---- CPU per process group ----

function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime, and the waited children's cutime + cstime, of a process, in clock ticks. */
async function ticks(pid: number | 'self'): Promise<{ own: number; children: number }> {
  const f = statFields(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
  const field = (n: number): number => Number(f[n - 3] ?? 0);
  return { own: field(14) + field(15), children: field(16) + field(17) };
}

/** The postmaster and its live backends, plus the ones it has waited for. */
async function postgresTicks(postmaster: number): Promise<number> {
  const p = await ticks(postmaster);
  let sum = p.own + p.children;
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(await readFile(`/proc/${name}/stat`, 'utf8').catch(() => ''));
    if (Number(f[1]) === postmaster) sum += (await ticks(Number(name))).own;
  }
  return sum;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

export async function cpuSnapshot(postmaster: number) {
  const self = await ticks('self');
  return {
    ferry: self.own,
    client: self.children,
    postgres: await postgresTicks(postmaster),
    machine: machineTicks(),
  };
}

/** Percent of the machine (all cores) each group used between two snapshots. */
interface CpuShare {
  ferry: number;
  postgres: number;
  client: number;
  others: number;
}

export function cpuBetween(
  a: Awaited<ReturnType<typeof cpuSnapshot>>,
  b: Awaited<ReturnType<typeof cpuSnapshot>>,
): CpuShare {
  const total = b.machine.total - a.machine.total || 1;
  const pct = (ticks: number) => (100 * ticks) / total;
  const ferry = b.ferry - a.ferry;
  const postgres = b.postgres - a.postgres;
  const client = b.client - a.client;
  const busy = b.machine.busy - a.machine.busy;
  return {
    ferry: pct(ferry),
    postgres: pct(postgres),
    client: pct(client),
    others: pct(Math.max(0, busy - ferry - postgres - client)),
  };
}

// ---- the inventory ----

const TEAMS = ['payments', 'search', 'identity', 'checkout', 'platform'];
const TEAMS2 = ['data', 'mobile', 'infra', 'web', 'ml'];
const ENVS = ['dev', 'prod'];
/** 50 namespaces: team x environment. */
const NAMESPACES = [...TEAMS, ...TEAMS2]
  .flatMap((t) => ENVS.map((e) => `${t}-${e}`))
  .concat(
    // 10 x 2 = 20 so far; 30 more of the shape `<team>-<n>` make 50.
    Array.from({ length: 30 }, (_, i) => `${TEAMS[i % 5]}-svc${String(i).padStart(2, '0')}`),
  );
const COMPONENTS = [
  'nginx',
  'redis',
  'postgres',
  'gateway',
  'frontend',
  'billing',
  'auth',
  'worker',
  'scheduler',
  'indexer',
  'notifier',
  'exporter',
  'collector',
  'proxy',
  'webhook',
  'ledger',
  'catalog',
  'profile',
  'reports',
  'uploader',
];

/**
 * The registries the 50 namespaces belong to: [registry_type, registry_id, registry_name,
 * image_type, namespaces, shared_status, instance fields]. SWR private takes the most.
 */
const SOURCES = [
  ['SwrPrivate', REGION, REGION, 'private_image', 20, '', ''],
  ['SwrShared', REGION, REGION, 'shared_image', 8, 'effective', ''],
  ['SwrEnterprise', 'ee1', 'instance-ee1', 'instance_image', 8, '', 'ee1'],
  ['Harbor', 'c0ffee0000000000000000000000harb', 'harbor-prod', 'harbor', 10, '', ''],
  ['Jfrog', 'c0ffee0000000000000000000000jfro', 'jfrog-ci', 'jfrog', 4, '', ''],
] as const;

interface Inventory {
  images: number;
  repositories: number;
  multiArch: number;
  lastWeek: number;
  byType: Map<string, number>;
  seedMs: number;
  /** Every sync of a source stamps its rows with one time (upsert and touch alike). */
  syncTimes: number;
}

/**
 * Inserts repos x tags images for the project with one INSERT ... SELECT. Deterministic
 * (setseed); `now` is the bench's start, so "the last 7 days" means the same rows each run.
 */
export async function seedInventory(
  client: pg.Client,
  projectId: string,
  o: Options,
  now: number,
): Promise<Inventory> {
  const started = Date.now();
  // Namespace index -> source index, by the source's share of namespaces.
  const nsSource: number[] = [];
  SOURCES.forEach((s, i) => {
    for (let k = 0; k < s[4]; k++) nsSource.push(i);
  });
  await client.query('BEGIN');
  await client.query('SELECT setseed(0.6)');
  await client.query(
    `
    WITH src AS (
      SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::timestamptz[])
        WITH ORDINALITY AS s(registry_type, registry_id, registry_name, image_type, shared_status,
                             instance_id, synced, idx)
    ),
    repo AS (
      SELECT r,
             ($9::text[])[1 + r % 50] AS namespace,
             ($10::text[])[1 + (r / 50) % array_length($10::text[], 1)]
               || '-' || (r / (50 * array_length($10::text[], 1)))::text AS image_name,
             ($11::int[])[1 + r % 50] AS source,
             random() < 0.1 AS multi
      FROM generate_series(0, $12::int - 1) r
    ),
    tag AS (
      SELECT repo.*, t,
             -- tags of a repository over the 90 days, the newest the highest version
             $13::timestamptz - (random() * 90 * interval '1 day') AS pushed,
             -- 5 MB to 2 GB, log-uniform
             floor(exp(ln(5e6) + random() * ln(2e9 / 5e6)))::bigint AS size,
             random() AS arch
      FROM repo, generate_series(0, $14::int - 1) t
    ),
    ranked AS (
      SELECT tag.*, row_number() OVER (PARTITION BY r ORDER BY pushed DESC) AS age
      FROM tag
    )
    INSERT INTO inventory_images (project_id, registry_type, registry_id, registry_name,
      image_type, namespace, image_name, image_version, image_digest, image_id, image_size,
      is_multiple_arch, latest_version, domain_name, shared_status, instance_id, instance_name,
      instance_url, latest_update_time, latest_sync_time)
    SELECT $1, src.registry_type, src.registry_id, src.registry_name, src.image_type,
      ranked.namespace, ranked.image_name,
      'v' || (ranked.t / 10)::text || '.' || (ranked.t % 10)::text || '.0',
      'sha256:' || md5(ranked.r || ':' || ranked.t) || md5(ranked.t || ':' || ranked.r),
      'sha256:' || md5('cfg' || ranked.r || ':' || ranked.t) || md5('id' || ranked.t),
      ranked.size,
      -- 10% of the tags: the multi-arch repositories' tags, and a few single ones elsewhere
      CASE WHEN ranked.multi THEN ranked.arch < 0.9 ELSE ranked.arch < 0.012 END,
      ranked.age = 1, 'acme', src.shared_status, src.instance_id,
      CASE WHEN src.instance_id <> '' THEN 'instance-' || src.instance_id ELSE '' END,
      CASE WHEN src.instance_id <> '' THEN 'http://127.0.0.1:5000' ELSE '' END,
      ranked.pushed, src.synced
    FROM ranked JOIN src ON src.idx = ranked.source + 1
    ORDER BY ranked.source, ranked.namespace, ranked.image_name, ranked.t
    `,
    [
      projectId,
      SOURCES.map((s) => s[0]),
      SOURCES.map((s) => s[1]),
      SOURCES.map((s) => s[2]),
      SOURCES.map((s) => s[3]),
      SOURCES.map((s) => s[5]),
      SOURCES.map((s) => s[6]),
      // Each source synced at its own time in the last hours.
      SOURCES.map((_, i) => new Date(now - (i + 1) * 37 * 60_000)),
      NAMESPACES,
      COMPONENTS,
      NAMESPACES.map((_, i) => nsSource[i]),
      o.repos,
      new Date(now),
      o.tags,
    ],
  );
  await client.query('COMMIT');
  // The state autovacuum reaches a minute after a large sync (visibility map set, statistics).
  await client.query('VACUUM (ANALYZE) inventory_images');
  const facts = await client.query<{
    images: string;
    repositories: string;
    multi: string;
    week: string;
    syncs: string;
  }>(
    `SELECT count(*) AS images, count(DISTINCT (namespace, image_name)) AS repositories,
       count(*) FILTER (WHERE is_multiple_arch) AS multi,
       count(*) FILTER (WHERE latest_update_time >= $2) AS week,
       count(DISTINCT latest_sync_time) AS syncs
     FROM inventory_images WHERE project_id = $1`,
    [projectId, new Date(now - 7 * DAY_MS)],
  );
  const types = await client.query<{ image_type: string; n: string }>(
    `SELECT image_type, count(*) AS n FROM inventory_images WHERE project_id = $1
     GROUP BY image_type ORDER BY 2 DESC`,
    [projectId],
  );
  const f = facts.rows[0]!;
  return {
    images: Number(f.images),
    repositories: Number(f.repositories),
    multiArch: Number(f.multi),
    lastWeek: Number(f.week),
    byType: new Map(types.rows.map((r) => [r.image_type, Number(r.n)])),
    seedMs: Date.now() - started,
    syncTimes: Number(f.syncs),
  };
}

// ---- the scenarios ----

interface ListBody {
  total_num: number;
  data_list: {
    image_name: string;
    namespace: string;
    image_type: string;
    is_multiple_arch: boolean;
    latest_update_time: number;
  }[];
}

/** One request of a scenario and what its answer must satisfy. */
interface Request {
  path: string;
  check: (b: ListBody) => string | undefined;
}

export interface Scenario {
  key: string;
  title: string;
  /** Not a target: the same route shape without inventory SQL, for Ferry's fixed cost. */
  reference?: boolean;
  /** Each connection goes through them in turn. */
  requests: Request[];
}

export function scenarios(projectId: string, now: number): Scenario[] {
  const images = `/v5/${projectId}/image/registries/images`;
  const swr = `/v5/${projectId}/image/swr-repository`;
  const weekAgo = now - 7 * DAY_MS;
  const page = (b: ListBody) =>
    b.data_list.length === 20 ? undefined : `${b.data_list.length} rows, not 20`;
  const all = (b: ListBody, ok: (r: ListBody['data_list'][number]) => boolean) =>
    page(b) ?? (b.data_list.every(ok) ? undefined : 'a row that does not match the filters');
  return [
    {
      key: 'a',
      title: 'registries/images, page 1 (limit 20, default sort)',
      requests: [{ path: `${images}?offset=0&limit=20`, check: page }],
    },
    {
      key: 'b',
      title: 'registries/images, offset 5000 (limit 20)',
      requests: [{ path: `${images}?offset=5000&limit=20`, check: page }],
    },
    {
      key: 'c',
      title: 'registries/images, image_name substring + is_multarch=true',
      requests: ['gateway', 'redis', 'indexer', 'ledger'].map((n) => ({
        path: `${images}?offset=0&limit=20&image_name=${n}&is_multarch=true`,
        check: (b) => all(b, (r) => r.image_name.includes(n) && r.is_multiple_arch),
      })),
    },
    {
      key: 'd',
      title: 'registries/images, latest_update_time in the last 7 days + image_type',
      requests: ['private_image', 'harbor', 'shared_image', 'jfrog'].map((type) => ({
        path:
          `${images}?offset=0&limit=20&image_type=${type}` +
          `&start_latest_update_time=${weekAgo}&end_latest_update_time=${now}`,
        check: (b) => all(b, (r) => r.image_type === type && r.latest_update_time >= weekAgo),
      })),
    },
    {
      key: 'e',
      title: 'swr-repository?image_type=private_image + namespace',
      // SWR private namespaces (the first 20 of NAMESPACES belong to SwrPrivate).
      requests: ['payments-prod', 'search-dev', 'identity-prod', 'data-dev'].map((ns) => ({
        path: `${swr}?offset=0&limit=20&image_type=private_image&namespace=${ns}`,
        check: (b) => all(b, (r) => r.namespace.includes(ns) && r.image_type === 'private_image'),
      })),
    },
    {
      key: 'ref',
      title:
        'reference, not a target: image/registries (empty table; same auth, project check, two queries)',
      reference: true,
      requests: [
        {
          path: `/v5/${projectId}/image/registries?offset=0&limit=10`,
          check: (b) => (b.data_list.length === 0 ? undefined : 'registries, expected none'),
        },
      ],
    },
  ];
}

// ---- the SQL behind a request, and its plan ----

/** Captures the queries Ferry's pg clients send while `on`. */
export class QueryCapture {
  on = false;
  readonly queries: { text: string; values: unknown[] }[] = [];

  install(): void {
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    const capture = (text: string, values: unknown[]) => {
      if (this.on && text.includes('inventory_images')) this.queries.push({ text, values });
    };
    proto.query = function (this: unknown, ...args: unknown[]) {
      const first = args[0] as string | { text?: string; values?: unknown[] } | undefined;
      if (typeof first === 'string') capture(first, (args[1] as unknown[] | undefined) ?? []);
      else if (first?.text) capture(first.text, first.values ?? []);
      return original.apply(this, args);
    };
  }
}

/** One query of a request under EXPLAIN ANALYZE. */
interface Plan {
  scenario: string;
  path: string;
  kind: 'rows' | 'count';
  sql: string;
  plan: string[];
  executionMs: number;
}

function oneLine(sqlText: string, values: unknown[]): string {
  const show = (v: unknown) =>
    v instanceof Date ? `'${v.toISOString()}'` : typeof v === 'string' ? `'${v}'` : String(v);
  return sqlText
    .replace(/\s+/g, ' ')
    .replace(/\$(\d+)/g, (_, n: string) => show(values[Number(n) - 1]));
}

/** EXPLAIN (ANALYZE, BUFFERS) of a query as Ferry sent it (same text, same parameters). */
export async function explain(
  client: pg.Client,
  scenario: string,
  path: string,
  q: { text: string; values: unknown[] },
): Promise<Plan> {
  // Twice: the first warms the cache, the second is the one reported.
  await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, q.values);
  const r = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS) ${q.text}`,
    q.values,
  );
  const plan = r.rows.map((row) => row['QUERY PLAN']);
  const ms = plan.map((l) => /^Execution Time: ([\d.]+) ms/.exec(l)?.[1]).find(Boolean);
  return {
    scenario,
    path,
    kind: /count\(\*\)/i.test(q.text) ? 'count' : 'rows',
    sql: oneLine(q.text, q.values),
    plan,
    executionMs: Number(ms ?? NaN),
  };
}

/** Sends each request of a scenario once, checks the answer, EXPLAINs the SQL it caused. */
async function probe(
  t: TestFerry,
  token: string,
  s: Scenario,
  capture: QueryCapture,
  client: pg.Client,
): Promise<{ totals: number[]; plans: Plan[] }> {
  const totals: number[] = [];
  const plans: Plan[] = [];
  for (const r of s.requests) {
    capture.queries.length = 0;
    capture.on = true;
    const res = await fetch(`${t.url}${r.path}`, { headers: { 'x-auth-token': token } });
    capture.on = false;
    if (res.status !== 200) throw new Error(`${s.key}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as ListBody;
    const wrong = r.check(body);
    if (wrong) throw new Error(`scenario ${s.key} (${r.path}): ${wrong}`);
    totals.push(body.total_num);
    if (s.reference) continue;
    // The page, and the count when this filter was not counted at this generation yet.
    if (capture.queries.length < 1 || capture.queries.length > 2) {
      throw new Error(`${s.key}: ${capture.queries.length} inventory queries, not 1 or 2`);
    }
    for (const q of [...capture.queries]) plans.push(await explain(client, s.key, r.path, q));
  }
  return { totals, plans };
}

// ---- measuring ----

interface Measured {
  scenario: string;
  run: number;
  result: ClientResult;
  reqPerSecond: number;
  cpu: CpuShare;
  busyBefore: number;
}

/** Sends a scenario's requests from `connections` clients for `seconds`. */
function loadScenario(
  t: TestFerry,
  token: string,
  s: Scenario,
  connections: number,
  seconds: number,
): Promise<ClientResult> {
  const paths = s.requests.map((r) => r.path);
  return runClient({ url: t.url, token, paths, connections, seconds });
}

async function measureScenario(
  t: TestFerry,
  token: string,
  s: Scenario,
  o: Options,
  postmaster: number,
  run: number,
): Promise<Measured> {
  // Someone else's work on the two cores would be timed too: wait for it to calm down.
  const busyBefore = await waitForQuietCpu(15, 120_000, (busy) =>
    log(`CPUs ${busy.toFixed(0)}% busy with other work; waiting up to 120 s for quiet`),
  );
  const a = await cpuSnapshot(postmaster);
  const result = await loadScenario(t, token, s, o.connections, o.seconds);
  const b = await cpuSnapshot(postmaster);
  if (result.non2xx + result.errors + result.timeouts > 0) {
    throw new Error(
      `${s.key}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  return {
    scenario: s.key,
    run,
    result,
    reqPerSecond: result.ok / result.seconds,
    cpu: cpuBetween(a, b),
    busyBefore,
  };
}

function describe(m: Measured): string {
  const l = m.result.latency;
  const c = m.cpu;
  return (
    `${m.scenario} run ${m.run}: ${m.reqPerSecond.toFixed(0)} req/s, p50 ${l.p50} ms, p90 ${l.p90} ms, ` +
    `p99 ${l.p99} ms, max ${l.max} ms; CPU ferry ${c.ferry.toFixed(0)}%, postgres ${c.postgres.toFixed(0)}%, ` +
    `load generator ${c.client.toFixed(0)}%, others ${c.others.toFixed(0)}% (busy before ${m.busyBefore.toFixed(0)}%)`
  );
}

interface Summary {
  scenario: Scenario;
  totals: number[];
  reqPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cpu: CpuShare;
  pass: boolean;
}

function summarize(ss: Scenario[], totals: Map<string, number[]>, runs: Measured[]): Summary[] {
  return ss.map((s) => {
    const mine = runs.filter((m) => m.scenario === s.key);
    const med = (f: (m: Measured) => number) => median(mine.map(f)) ?? NaN;
    const p99 = med((m) => m.result.latency.p99);
    return {
      scenario: s,
      totals: totals.get(s.key) ?? [],
      reqPerSecond: med((m) => m.reqPerSecond),
      p50: med((m) => m.result.latency.p50),
      p90: med((m) => m.result.latency.p90),
      p99,
      max: med((m) => m.result.latency.max),
      cpu: {
        ferry: med((m) => m.cpu.ferry),
        postgres: med((m) => m.cpu.postgres),
        client: med((m) => m.cpu.client),
        others: med((m) => m.cpu.others),
      },
      pass: p99 <= TARGET_P99_MS,
    };
  });
}

interface Pass {
  label: string;
  summary: Summary[];
  runs: Measured[];
  plans: Plan[];
}

/** One pass: EXPLAIN every request, warm up, then the interleaved timed runs. */
async function measureAll(
  label: string,
  o: Options,
  t: TestFerry,
  token: string,
  ss: Scenario[],
  capture: QueryCapture,
  client: pg.Client,
  postmaster: number,
): Promise<Pass> {
  const totals = new Map<string, number[]>();
  const plans: Plan[] = [];
  for (const s of ss) {
    const p = await probe(t, token, s, capture, client);
    totals.set(s.key, p.totals);
    plans.push(...p.plans);
    console.log(`\n=== ${label}: scenario ${s.key}: ${s.title} (total_num ${p.totals.join(', ')})`);
    for (const plan of p.plans) {
      console.log(`--- ${plan.kind} query: ${plan.sql}`);
      console.log(plan.plan.join('\n'));
    }
  }
  console.log('');
  if (o.warmup > 0) {
    for (const s of ss) {
      const w = await loadScenario(t, token, s, o.connections, o.warmup);
      log(`${label}: warm-up ${s.key}: ${(w.ok / w.seconds).toFixed(0)} req/s (not counted)`);
    }
  }
  const runs: Measured[] = [];
  for (let run = 1; run <= o.runs; run++) {
    // Interleaved: a slow minute of the machine falls on every scenario, not on one.
    for (const s of ss) {
      const m = await measureScenario(t, token, s, o, postmaster, run);
      runs.push(m);
      log(`${label}: ${describe(m)}`);
    }
  }
  const summary = summarize(ss, totals, runs);
  for (const r of summary) {
    log(
      `${label}: ${r.scenario.key} median of ${o.runs}: ${r.reqPerSecond.toFixed(0)} req/s, p50 ${r.p50} ms, ` +
        `p90 ${r.p90} ms, p99 ${r.p99} ms, max ${r.max} ms` +
        (r.scenario.reference ? ' (reference)' : `: ${r.pass ? 'PASS' : 'MISS'}`),
    );
  }
  return { label, summary, runs, plans };
}

// ---- the experiment ----

/**
 * The candidate schema change (what a migration 0005 would do), applied with `--experiment`
 * to the bench's own database only. Sort indexes whose `id` runs the way the queries order it
 * (`ORDER BY <time> DESC, id DESC`; ascending pages scan them backwards), the same led by
 * image_type (every swr-repository list, and image_type filters), and trigram indexes for the
 * `LIKE '%…%'` filters on image_name and namespace; the B-tree indexes they replace go.
 */
export const EXPERIMENT = [
  'CREATE EXTENSION IF NOT EXISTS pg_trgm',
  'CREATE INDEX IF NOT EXISTS inventory_images_by_sync ON inventory_images (project_id, latest_sync_time DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS inventory_images_by_update ON inventory_images (project_id, latest_update_time DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS inventory_images_type_by_sync ON inventory_images (project_id, image_type, latest_sync_time DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS inventory_images_type_by_update ON inventory_images (project_id, image_type, latest_update_time DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS inventory_images_name_trgm ON inventory_images USING gin (image_name gin_trgm_ops)',
  'CREATE INDEX IF NOT EXISTS inventory_images_ns_trgm ON inventory_images USING gin (namespace gin_trgm_ops)',
  'DROP INDEX IF EXISTS inventory_images_sync, inventory_images_update, inventory_images_type, inventory_images_name, inventory_images_ns',
];

async function indexDefinitions(client: pg.Client): Promise<string> {
  const r = await client.query<{ indexdef: string }>(
    `SELECT indexdef FROM pg_indexes WHERE tablename = 'inventory_images' ORDER BY indexname`,
  );
  return r.rows.map((x) => x.indexdef).join('\n');
}

// ---- results ----

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'unknown OS';
  } catch {
    return 'unknown OS';
  }
}

function summaryTable(rows: Summary[], runs: number): string[] {
  return [
    `| Scenario | total_num | req/s | p50 | p90 | p99 (median of ${runs}) | max | CPU: ferry / postgres / load generator / others | Target | Result |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.scenario.key}. ${r.scenario.title} | ${r.totals.join(', ')} | ${r.reqPerSecond.toFixed(0)} | ` +
        `${r.p50} ms | ${r.p90} ms | ${r.p99} ms | ${r.max} ms | ${r.cpu.ferry.toFixed(0)}% / ` +
        `${r.cpu.postgres.toFixed(0)}% / ${r.cpu.client.toFixed(0)}% / ${r.cpu.others.toFixed(0)}% | ` +
        (r.scenario.reference
          ? ' | |'
          : `p99 ≤ ${TARGET_P99_MS} ms | ${r.pass ? 'PASS' : 'MISS'} |`),
    ),
  ];
}

function runsTable(runs: Measured[]): string[] {
  return [
    '| Scenario | Run | req/s | p50 | p90 | p99 | max | CPU: ferry / postgres / load generator / others | Busy before |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((m) => {
      const l = m.result.latency;
      const c = m.cpu;
      return (
        `| ${m.scenario} | ${m.run} | ${m.reqPerSecond.toFixed(0)} | ${l.p50} ms | ${l.p90} ms | ${l.p99} ms | ` +
        `${l.max} ms | ${c.ferry.toFixed(0)}% / ${c.postgres.toFixed(0)}% / ${c.client.toFixed(0)}% / ` +
        `${c.others.toFixed(0)}% | ${m.busyBefore.toFixed(0)}% |`
      );
    }),
  ];
}

/** The plan's node lines, outermost first, without costs and timings. */
function planNodes(plan: string[]): string {
  return plan
    .filter((l) => /^\s*(->\s*)?[A-Z][A-Za-z ]*(Scan|Sort|Limit|Aggregate|Gather|Append)/.test(l))
    .map((l) => {
      const name = l.replace(/^\s*->\s*/, '').replace(/\s*\(cost=.*$/, '');
      const rows = /actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(l)?.[1];
      return rows === undefined ? name : `${name} (${rows} rows)`;
    })
    .join(' ← ');
}

function plansTable(plans: Plan[]): string[] {
  const groups = new Map<string, Plan[]>();
  for (const p of plans) {
    const k = `${p.scenario} ${p.kind}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [
    "| Scenario | Query | Execution, each request | The slowest one's plan |",
    '| --- | --- | --- | --- |',
    ...[...groups.values()].map((g) => {
      const slowest = g.reduce((a, b) => (b.executionMs > a.executionMs ? b : a));
      return (
        `| ${g[0]!.scenario} | ${g[0]!.kind} | ${g.map((p) => `${p.executionMs.toFixed(p.executionMs < 1 ? 2 : 1)} ms`).join(', ')} | ` +
        `${planNodes(slowest.plan).replace(/\|/g, '\\|')} |`
      );
    }),
  ];
}

function resultsSection(o: Options, inv: Inventory, passes: Pass[]): string {
  const types = [...inv.byType].map(([k, n]) => `${k} ${n}`).join(', ');
  const lines = [
    SECTION,
    '',
    'Written by `npm run bench:inventory` (`bench/inventory-bench.ts`); [README.md](README.md)',
    `says what is measured and how to read it. Run on ${new Date().toISOString()}.`,
    '',
    `- Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${osName()}, Linux ${release()}, Node ${process.version}`,
    `- Ferry: one process (the API is one Node event loop, its database pool 10 connections), embedded PostgreSQL, and the load generator (autocannon, ${o.connections} keep-alive connections, its own process), all on the same ${cpus().length} cores`,
    `- Inventory: ${inv.images} images in one project: ${inv.repositories} repositories over ${NAMESPACES.length} namespaces × ${o.tags} tags; ${inv.multiArch} multi-arch; ${inv.lastWeek} updated in the last 7 days (update times over 90 days); by image_type: ${types}; ${inv.syncTimes} distinct latest_sync_time values (a sync stamps all its rows with one time). Inserted with SQL in ${(inv.seedMs / 1000).toFixed(1)} s, then VACUUM (ANALYZE)`,
    `- Each scenario: ${o.seconds} s per run, ${o.runs} runs interleaved across the scenarios after a ${o.warmup} s warm-up of each; scenarios with 4 requests send them in turn. Every answer is a 200 (non-2xx, errors and timeouts stop the bench) and was checked once (20 rows that match the filters). Latency is autocannon's, request sent to response read, whole ms`,
    '',
  ];
  for (const p of passes) {
    lines.push(`### ${p.label}`, '', ...summaryTable(p.summary, o.runs), '');
    lines.push('Every run:', '', ...runsTable(p.runs), '');
    lines.push(
      'The queries of each list request, as Ferry sends them, under EXPLAIN ANALYZE (one at a time, no load; the script prints the full plans). The page query runs every time; the count runs the first time a filter is asked at an inventory generation (a scenario whose filter an earlier one counted shows none), so the load runs read the page alone:',
      '',
      ...plansTable(p.plans),
      '',
    );
  }
  if (passes.length > 1) {
    lines.push(
      'The candidate change of the second pass (`EXPERIMENT` in the script), applied to the',
      "bench's own database, then VACUUM (ANALYZE):",
      '',
      '```sql',
      ...EXPERIMENT.map((s) => `${s};`),
      '```',
      '',
    );
  }
  return lines.join('\n') + '\n';
}

// ---- main ----

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const capture = new QueryCapture();
  capture.install();
  log('starting a registry, PostgreSQL and Ferry');
  let t: TestFerry | undefined;
  let client: pg.Client | undefined;
  let stopped: Promise<void> | undefined;
  // The registry, PostgreSQL and Ferry stop once, on success, failure or a signal alike.
  const stop = () =>
    (stopped ??= (async () => {
      await client?.end().catch(() => undefined);
      await t?.stop();
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    t = await startTestFerry({ regions: [REGION] });
    client = new pg.Client({ connectionString: t.ferry.databaseUrl });
    await client.connect();
    const backend = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const stat = statFields(await readFile(`/proc/${backend.rows[0]!.pid}/stat`, 'utf8'));
    const postmaster = Number(stat[1]);
    const token = await getToken(
      t.url,
      { domain: t.domain, name: t.user, password: t.password },
      REGION,
    );
    const projects = (await (
      await fetch(`${t.url}/v3/projects?name=${REGION}`, { headers: { 'x-auth-token': token } })
    ).json()) as { projects: { id: string }[] };
    const projectId = projects.projects[0]!.id;

    const now = Date.now();
    const inv = await seedInventory(client, projectId, o, now);
    log(
      `inserted ${inv.images} images (${inv.repositories} repositories, ${inv.multiArch} multi-arch, ` +
        `${inv.lastWeek} in the last 7 days) in ${(inv.seedMs / 1000).toFixed(1)} s, VACUUM ANALYZE included`,
    );
    const ss = scenarios(projectId, now).filter((s) => !o.only || o.only.includes(s.key));
    const passes: Pass[] = [];
    passes.push(
      await measureAll('Schema as migrated', o, t, token, ss, capture, client, postmaster),
    );
    if (o.experiment) {
      const before = await indexDefinitions(client);
      for (const statement of EXPERIMENT) {
        log(`experiment: ${statement}`);
        await client.query(statement);
      }
      await client.query('VACUUM (ANALYZE) inventory_images');
      if ((await indexDefinitions(client)) === before) {
        log('experiment: the schema already has these indexes; nothing to compare');
      } else {
        // The reference does not touch inventory_images: it is measured once.
        const listed = ss.filter((s) => !s.reference);
        passes.push(
          await measureAll(
            'With the candidate indexes (experiment)',
            o,
            t,
            token,
            listed,
            capture,
            client,
            postmaster,
          ),
        );
      }
    }
    if (o.results) {
      await writeSection(RESULTS, SECTION, resultsSection(o, inv, passes));
      log(`wrote the "${SECTION.slice(3)}" section of bench/RESULTS.md`);
    }
  } finally {
    await stop();
  }
}

// Run as a script (not when imported, as an experiment in bench/.work/ may do).
const direct = process.argv[1] !== undefined && resolve(process.argv[1]) === SELF;
if (direct && process.argv.includes('--client')) {
  clientMain().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  });
} else if (direct) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  });
}
