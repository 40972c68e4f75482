// `npm run bench:jobs`: the job engine's own overhead. 1,000 sync jobs whose tags are already
// in sync (the target holds the same digests, so each job is two HEADs and its database
// updates) run on one Ferry with the default workers.concurrency, timed from the enqueue to
// the last `success`. Two docker-registry processes, an embedded PostgreSQL, tiny images
// (50 repositories x 20 tags) copied to B first with the copy engine; then a warm-up batch
// and N timed batches. Prints jobs/s per batch and the median, with where the time went
// (CPU per process, queries and HTTP requests per job, handler time), and replaces the
// "Job engine throughput" section of bench/RESULTS.md (the rest kept). See bench/README.md.
import { channel } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { CopyEngine } from '../src/registry/copy/engine.js';
import { HttpRegistry } from '../src/registry/http/registry.js';
import { openDatabase, type Db } from '../src/storage/database.js';
import type { SyncJobStatus } from '../src/storage/schema.js';
import { insertSyncJobs } from '../src/storage/sync.js';
import { enqueueSyncJob } from '../src/sync/jobs.js';
import { MediaType } from '../src/registry/types.js';
import { startTestFerry, type TestFerry } from '../test/helpers/ferry.js';
import { mapLimit, pushBlob, pushImage, randomBytes } from '../test/helpers/images.js';
import { waitForQuietCpu } from './measure.js';
import { JOB_SECTION, median, writeSection } from './report.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'RESULTS.md');
// Shared with report.ts, which keeps this section when it rewrites the file.
const SECTION = JOB_SECTION;
const TARGET_JOBS_PER_SECOND = 100;
const SRC_REGION = 'cn-north-4';
const DST_REGION = 'cn-east-3';
const NAMESPACE = 'bench';
const FINAL: readonly SyncJobStatus[] = ['success', 'failed', 'existed', 'timeout', 'cancel'];

interface Options {
  runs: number;
  repos: number;
  tags: number;
  warmup: number;
  profile: boolean;
  results: boolean;
}

const USAGE = `usage: npx tsx bench/job-bench.ts [--runs N] [--repos N] [--tags N] [--warmup N] [--no-profile] [--no-results]
  --runs N       timed batches (default 3); the summary shows the median
  --repos N      repositories (default 50)
  --tags N       tags per repository (default 20): one batch is repos x tags jobs
  --warmup N     jobs of the untimed warm-up batch (default 200; 0 for none)
  --no-profile   skip the counted batch (queries and HTTP requests per job)
  --no-results   print only; leave bench/RESULTS.md alone (by default its
                 "Job engine throughput" section is replaced, the rest kept)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' },
      repos: { type: 'string', default: '50' },
      tags: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '200' },
      'no-profile': { type: 'boolean', default: false },
      'no-results': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const o = {
    runs: Number(values.runs),
    repos: Number(values.repos),
    tags: Number(values.tags),
    warmup: Number(values.warmup),
    profile: !values['no-profile'],
    results: !values['no-results'],
  };
  const counts = [o.runs, o.repos, o.tags];
  if (!counts.every((n) => Number.isInteger(n) && n >= 1) || !(o.warmup >= 0)) {
    throw new Error(`bad arguments\n${USAGE}`);
  }
  return o;
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

// ---- CPU per process ----

/** utime + stime (+ waited children's when `children`) of a process, in clock ticks. */
async function ticks(pid: number, children = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(f[n - 3] ?? 0);
  return field(14) + field(15) + (children ? field(16) + field(17) : 0);
}

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The postmaster and its backends: the postmaster's own and waited time, plus live children's. */
async function postgresTicks(postmaster: number): Promise<number> {
  let sum = await ticks(postmaster, true);
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) {
      sum += await ticks(Number(p));
    }
  }
  return sum;
}

function machineTicks(text: string): { busy: number; total: number } {
  const values = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - (values[3] ?? 0) - (values[4] ?? 0), total };
}

/** CPU seconds, per process group, over a section. */
interface CpuSplit {
  ferry: number;
  postgres: number;
  registries: number;
  others: number;
  /** Wall seconds times CPUs: the capacity of the machine over the section. */
  capacity: number;
}

interface CpuPids {
  postmaster: number;
  registries: number[];
}

async function cpuSnapshot(pids: CpuPids) {
  const self = process.cpuUsage();
  return {
    self: (self.user + self.system) / 1e6,
    postgres: await postgresTicks(pids.postmaster),
    registries: (await Promise.all(pids.registries.map((p) => ticks(p)))).reduce((a, b) => a + b),
    machine: machineTicks(await readFile('/proc/stat', 'utf8')),
  };
}

const HZ = 100; // USER_HZ: /proc reports clock ticks of 1/100 s on Linux

function cpuBetween(
  a: Awaited<ReturnType<typeof cpuSnapshot>>,
  b: Awaited<ReturnType<typeof cpuSnapshot>>,
): CpuSplit {
  const ferry = b.self - a.self;
  const postgres = (b.postgres - a.postgres) / HZ;
  const registries = (b.registries - a.registries) / HZ;
  const busy = (b.machine.busy - a.machine.busy) / HZ;
  return {
    ferry,
    postgres,
    registries,
    others: Math.max(0, busy - ferry - postgres - registries),
    capacity: (b.machine.total - a.machine.total) / HZ,
  };
}

// ---- query and request counting (the profiled batch only) ----

/** Counts every query sent by any pg client in this process (Ferry's pools included). */
class QueryCounter {
  on = false;
  readonly counts = new Map<string, { n: number; ms: number }>();

  install(): void {
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    const isOn = () => this.on;
    const record = (kind: string, started: number) => {
      const c = this.counts.get(kind) ?? { n: 0, ms: 0 };
      c.n++;
      c.ms += performance.now() - started;
      this.counts.set(kind, c);
    };
    proto.query = function (this: unknown, ...args: unknown[]) {
      const result = original.apply(this, args);
      if (isOn()) {
        const first = args[0] as string | { text?: string } | undefined;
        const kind = classify(typeof first === 'string' ? first : (first?.text ?? ''));
        const started = performance.now();
        const done = () => record(kind, started);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(done, done);
        } else done();
      }
      return result;
    };
  }
}

/** A short name for a query, by what it does. */
function classify(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (/get_job|_private_jobs.*for update skip locked/i.test(t)) return 'graphile: get job';
  if (/complete_job|delete from .*_private_jobs/i.test(t)) return 'graphile: complete job';
  if (/add_job/i.test(t)) return 'enqueue (add_job)';
  if (/pg_try_advisory_lock/.test(t)) return 'slots: pg_try_advisory_lock';
  if (/pg_advisory_unlock/.test(t)) return 'slots: pg_advisory_unlock';
  if (/^select .* from "sync_jobs" where "id" =/i.test(t)) return 'sync_jobs: find by id';
  if (/^update "sync_jobs"/i.test(t)) return 'sync_jobs: update';
  if (/^(begin|commit|rollback)/i.test(t)) return 'transaction begin/commit';
  if (/ferry_processes/.test(t)) return 'process heartbeat/sweep';
  if (/"sync_jobs"/.test(t)) return 'sync_jobs: other (benchmark polling, inserts)';
  return `other: ${t.slice(0, 60)}`;
}

/** Counts and times the HTTP requests this process sends (Node's http client channels). */
class RequestCounter {
  on = false;
  readonly counts = new Map<string, { n: number; ms: number }>();
  private readonly started = new WeakMap<object, { key: string; at: number }>();

  install(): void {
    channel('http.client.request.start').subscribe((message) => {
      if (!this.on) return;
      const req = (message as { request: { method: string; path: string } }).request;
      const kind = /\/manifests\//.test(req.path)
        ? 'manifest'
        : /\/blobs\//.test(req.path)
          ? 'blob'
          : 'other';
      this.started.set(req, { key: `${req.method} ${kind}`, at: performance.now() });
    });
    channel('http.client.response.finish').subscribe((message) => {
      const started = this.started.get((message as { request: object }).request);
      if (!started) return;
      const c = this.counts.get(started.key) ?? { n: 0, ms: 0 };
      c.n++;
      c.ms += performance.now() - started.at;
      this.counts.set(started.key, c);
    });
  }
}

// ---- the workload ----

interface Slot {
  repo: string;
  tag: string;
  digest: string;
}

/** Pushes repos x tags tiny images to A: one small layer per repository, a config per tag. */
async function pushWorkload(url: string, repos: number, tags: number): Promise<Slot[]> {
  const names = Array.from({ length: repos }, (_, r) => `${NAMESPACE}/app${r}`);
  const layers = await mapLimit(names, 8, (repo) =>
    pushBlob(url, repo, randomBytes(512, repo), MediaType.OciLayer),
  );
  const slots = names.flatMap((repo, r) =>
    Array.from({ length: tags }, (_, t) => ({ repo, r, tag: `v${t}` })),
  );
  return mapLimit(slots, 8, async ({ repo, r, tag }) => {
    const image = await pushImage(url, repo, tag, {
      layers: [{ descriptor: layers[r]! }],
      // A label per tag: each tag is its own image, with its own digest.
      config: { config: { Labels: { 'org.example.tag': `${repo}:${tag}` } } },
    });
    return { repo: repo.slice(NAMESPACE.length + 1), tag, digest: image.digest };
  });
}

/** Copies every tag A to B with the copy engine (what `ferry sync` does). */
async function copyToB(a: string, b: string, slots: Slot[]): Promise<void> {
  const src = new HttpRegistry({ host: a });
  const dst = new HttpRegistry({ host: b });
  try {
    const results = await new CopyEngine(src, dst).copyImages(
      slots.map((s) => ({
        srcRepo: `${NAMESPACE}/${s.repo}`,
        srcRef: s.tag,
        dstRepo: `${NAMESPACE}/${s.repo}`,
        dstTag: s.tag,
      })),
    );
    const bad = results.filter((r) => r.status !== 'copied');
    if (bad.length > 0) {
      throw new Error(`copy to B: ${bad.length} not copied, e.g. ${bad[0]!.error?.message}`);
    }
  } finally {
    await Promise.all([src.close(), dst.close()]);
  }
}

// ---- one batch ----

interface Batch {
  label: string;
  jobs: number;
  /** Enqueue start to the last job's finished_at. */
  ms: number;
  /** The insert + enqueue transaction alone. */
  enqueueMs: number;
  jobsPerSecond: number;
  /** finished_at - started_at of the jobs (the handler from its first update to its last). */
  handlerMs: { median: number; p95: number; mean: number };
  cpu: CpuSplit;
  /** Percent of the CPUs busy just before the batch (nothing of ours running). */
  busyBefore: number;
}

async function runBatch(
  db: Db,
  domainId: string,
  slots: Slot[],
  label: string,
  pids: CpuPids,
): Promise<Batch> {
  // Someone else's work on the two cores would be timed too: wait for it to calm down.
  const busyBefore = await waitForQuietCpu(15, 120_000, (busy) =>
    log(`CPUs ${busy.toFixed(0)}% busy with other work; waiting up to 120 s for quiet`),
  );
  const cpu0 = await cpuSnapshot(pids);
  const t0 = Date.now();
  // As manualSync does: the rows and their jobs in one transaction.
  const ids = await db.transaction().execute(async (tx) => {
    const rows = await insertSyncJobs(
      tx,
      slots.map((s) => ({
        domain_id: domainId,
        region_id: SRC_REGION,
        namespace: NAMESPACE,
        repo_name: s.repo,
        tag: s.tag,
        remote_region_id: DST_REGION,
        remote_namespace: NAMESPACE,
        override: false,
        status: 'waiting' as const,
        operator_id: 'bench',
        operator_name: label,
      })),
    );
    for (const row of rows) await enqueueSyncJob(tx, row.id);
    return rows.map((r) => r.id);
  });
  const enqueueMs = Date.now() - t0;
  for (;;) {
    const rows = await db
      .selectFrom('sync_jobs')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('operator_name', '=', label)
      .groupBy('status')
      .execute();
    const done = rows.filter((r) => FINAL.includes(r.status)).reduce((n, r) => n + Number(r.n), 0);
    if (done === ids.length) break;
    if (Date.now() - t0 > 600_000) throw new Error(`${label}: not done after 10 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpu1 = await cpuSnapshot(pids);
  const jobs = await db
    .selectFrom('sync_jobs')
    .select(['status', 'digest', 'attempts', 'bytes_copied', 'error_reason', 'repo_name', 'tag'])
    .select(['started_at', 'finished_at'])
    .where('operator_name', '=', label)
    .execute();
  const want = new Map(slots.map((s) => [`${s.repo}:${s.tag}`, s.digest]));
  const wrong = jobs.filter(
    (j) =>
      j.status !== 'success' ||
      j.attempts !== 1 ||
      Number(j.bytes_copied) !== 0 ||
      j.digest !== want.get(`${j.repo_name}:${j.tag}`),
  );
  if (wrong.length > 0) {
    const j = wrong[0]!;
    throw new Error(
      `${label}: ${wrong.length} jobs not an in-sync success, e.g. ${j.repo_name}:${j.tag} ${j.status} attempts ${j.attempts} bytes ${j.bytes_copied}: ${j.error_reason}`,
    );
  }
  const last = Math.max(...jobs.map((j) => j.finished_at!.getTime()));
  const handler = jobs.map((j) => j.finished_at!.getTime() - j.started_at!.getTime());
  handler.sort((a, b) => a - b);
  const ms = last - t0;
  return {
    label,
    jobs: ids.length,
    ms,
    enqueueMs,
    jobsPerSecond: (ids.length * 1000) / ms,
    handlerMs: {
      median: median(handler) ?? 0,
      p95: handler[Math.floor(handler.length * 0.95)] ?? 0,
      mean: handler.reduce((a, b) => a + b, 0) / handler.length,
    },
    cpu: cpuBetween(cpu0, cpu1),
    busyBefore,
  };
}

function describeBatch(b: Batch): string {
  const c = b.cpu;
  const pct = (s: number) => `${((100 * s) / c.capacity).toFixed(0)}%`;
  return (
    `${b.jobs} jobs in ${(b.ms / 1000).toFixed(2)} s = ${b.jobsPerSecond.toFixed(0)} jobs/s ` +
    `(enqueue ${(b.enqueueMs / 1000).toFixed(2)} s; handler median ${b.handlerMs.median.toFixed(0)} ms, ` +
    `p95 ${b.handlerMs.p95.toFixed(0)} ms); CPU of ${cpus().length} cores: ferry ${pct(c.ferry)}, ` +
    `postgres ${pct(c.postgres)}, registries ${pct(c.registries)}, others ${pct(c.others)} ` +
    `(machine ${b.busyBefore.toFixed(0)}% busy just before)`
  );
}

// ---- results ----

type Timed = { n: number; ms: number };

/** What the counted batch saw. */
interface Profile {
  batch: Batch;
  concurrency: number;
  queries: [string, Timed][];
  requests: [string, Timed][];
  settings: string;
}

/** Groups of a worker's time per job: [what, ms per job, round trips per job]. */
function workerTime(p: Profile): [string, number, number][] {
  const jobs = p.batch.jobs;
  const sum = (match: (k: string) => boolean): [number, number] => {
    const hits = p.queries.filter(([k]) => match(k));
    return [
      hits.reduce((a, [, v]) => a + v.ms, 0) / jobs,
      hits.reduce((a, [, v]) => a + v.n, 0) / jobs,
    ];
  };
  const heads = p.requests.filter(([k]) => k.startsWith('HEAD'));
  const headN = heads.reduce((a, [, v]) => a + v.n, 0);
  const headMs = heads.reduce((a, [, v]) => a + v.ms, 0);
  const rows: [string, number, number][] = [
    ['graphile-worker: get job, complete job', ...sum((k) => k.startsWith('graphile'))],
    [
      'sync_jobs: find, update to running, update to success',
      ...sum((k) => k.startsWith('sync_jobs:') && !k.includes('benchmark')),
    ],
    ['registry slots: try-lock per slot, unlock', ...sum((k) => k.startsWith('slots'))],
    // The two HEADs run at once: their wall time is about one HEAD's.
    ['two manifest HEADs, in parallel', headN ? headMs / headN : 0, headN / jobs],
  ];
  const total = (p.concurrency * (p.batch.ms - p.batch.enqueueMs)) / jobs;
  const known = rows.reduce((a, [, ms]) => a + ms, 0);
  rows.push(['the rest (Node between awaits, pool waits)', Math.max(0, total - known), 0]);
  rows.push([
    `**a worker's time per job** (${p.concurrency} workers)`,
    total,
    rows.reduce((a, [, , n]) => a + n, 0),
  ]);
  return rows;
}

function resultsSection(
  o: Options,
  t: TestFerry,
  batches: Batch[],
  profile: Profile | undefined,
  workloadNote: string,
): string {
  const med = median(batches.map((b) => b.jobsPerSecond)) ?? 0;
  const pct = (b: Batch, s: number) => `${((100 * s) / b.cpu.capacity).toFixed(0)}%`;
  const rows = batches.map(
    (b, i) =>
      `| ${i + 1} | ${b.jobs} | ${(b.ms / 1000).toFixed(2)} s | ${b.jobsPerSecond.toFixed(0)} | ` +
      `${(b.enqueueMs / 1000).toFixed(2)} s | ${b.handlerMs.median.toFixed(0)} ms / ${b.handlerMs.p95.toFixed(0)} ms | ` +
      `${pct(b, b.cpu.ferry)} / ${pct(b, b.cpu.postgres)} / ${pct(b, b.cpu.registries)} / ${pct(b, b.cpu.others)} | ` +
      `${b.busyBefore.toFixed(0)}% |`,
  );
  const lines = [
    SECTION,
    '',
    `Written by \`npm run bench:jobs\` (\`bench/job-bench.ts\`); [README.md](README.md)`,
    `says what is measured. Run on ${new Date().toISOString()}.`,
    '',
    `- Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${osName()}, Linux ${release()}, Node ${process.version}`,
    `- Ferry: one process, workers.concurrency ${t.config.workers.concurrency} and registryConcurrency ${t.config.workers.registryConcurrency} (the defaults), embedded PostgreSQL${profile ? ` (${profile.settings})` : ''}, two docker-registry processes`,
    `- Workload: ${workloadNote}, copied to B first, so every job finds the same digest at both ends`,
    `- Each batch: ${o.repos * o.tags} sync jobs inserted and enqueued in one transaction (\`insertSyncJobs\` + \`enqueueSyncJob\`, as \`sync_images\` does), timed from the start of that transaction to the last job's \`finished_at\`; every job is checked: \`success\`, 1 attempt, 0 bytes, the right digest. An untimed warm-up batch of ${o.warmup} jobs runs first`,
    '',
    '| Measure | Value | Target | Result |',
    '| --- | --- | --- | --- |',
    `| jobs/s (median of ${batches.length}) | ${med.toFixed(0)} | ≥ ${TARGET_JOBS_PER_SECOND} | ${med >= TARGET_JOBS_PER_SECOND ? 'PASS' : 'MISS'} |`,
    '',
    'CPU is the share of both cores each group used during the batch ("others": the rest of the machine);',
    '"busy before" is the whole machine just before it (each batch waits, up to 120 s, for it to fall below 15%).',
    '"Handler" is a job\'s `finished_at - started_at`: from its update to running to its final update.',
    '',
    '| Batch | Jobs | Enqueue to last success | Jobs/s | Of which enqueue | Handler median / p95 | CPU: ferry / postgres / registries / others | Busy before |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ];
  if (profile) {
    const jobs = profile.batch.jobs;
    const per = (n: number) => (n / jobs >= 0.01 ? (n / jobs).toFixed(2) : `${n} in all`);
    lines.push(
      '',
      `### Where the time goes`,
      '',
      `Counted in one more batch of ${jobs} jobs (${profile.batch.jobsPerSecond.toFixed(0)} jobs/s, not in the median), with every`,
      'query of every pg client in the process and every HTTP request counted and timed (call to answer).',
      '',
      "| A worker's time per job | ms | Round trips |",
      '| --- | --- | --- |',
      ...workerTime(profile).map(
        ([k, ms, n]) => `| ${k} | ${ms.toFixed(1)} | ${n ? n.toFixed(2) : ''} |`,
      ),
      '',
      '| Database query | Per job | Mean round trip |',
      '| --- | --- | --- |',
      ...profile.queries.map(([k, v]) => `| ${k} | ${per(v.n)} | ${(v.ms / v.n).toFixed(2)} ms |`),
      '',
      '| HTTP request (both registries) | Per job | Mean |',
      '| --- | --- | --- |',
      ...profile.requests.map(([k, v]) => `| ${k} | ${per(v.n)} | ${(v.ms / v.n).toFixed(2)} ms |`),
    );
  }
  return lines.join('\n') + '\n';
}

/** The distribution, from /etc/os-release. */
function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'unknown OS';
  } catch {
    return 'unknown OS';
  }
}

// ---- main ----

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const queries = new QueryCounter();
  const requests = new RequestCounter();
  if (o.profile) {
    queries.install();
    requests.install();
  }
  log('starting two registries, PostgreSQL and Ferry');
  let t: TestFerry | undefined;
  let db: Db | undefined;
  let stopped: Promise<void> | undefined;
  // Registries, PostgreSQL and Ferry stop once, on success, failure or a signal alike.
  const stop = () =>
    (stopped ??= (async () => {
      await db?.destroy();
      await t?.stop();
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    t = await startTestFerry({});
    db = await openDatabase(t.ferry.databaseUrl, 2);
    const a = t.registries.get(SRC_REGION)!;
    const b = t.registries.get(DST_REGION)!;
    const backend = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db);
    const pids: CpuPids = {
      postmaster: await parentOf(backend.rows[0]!.pid),
      registries: [a.pid, b.pid],
    };
    const domain = await db
      .selectFrom('domains')
      .select('id')
      .where('name', '=', t.domain)
      .executeTakeFirstOrThrow();

    let started = Date.now();
    const slots = await pushWorkload(a.url, o.repos, o.tags);
    const pushed = `${o.repos} repositories × ${o.tags} tags = ${slots.length} tiny images (one 512-byte layer per repository, a config per tag)`;
    log(`pushed ${pushed} to A in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    started = Date.now();
    await copyToB(a.host, b.host, slots);
    log(`copied them to B with the copy engine in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    if (o.warmup > 0) {
      const w = await runBatch(db, domain.id, slots.slice(0, o.warmup), 'warm-up', pids);
      log(`warm-up (not counted): ${describeBatch(w)}`);
    }
    const batches: Batch[] = [];
    for (let i = 1; i <= o.runs; i++) {
      const batch = await runBatch(db, domain.id, slots, `run-${i}`, pids);
      batches.push(batch);
      log(`run ${i}: ${describeBatch(batch)}`);
    }
    let profile: Profile | undefined;
    if (o.profile) {
      const show = async (name: string) =>
        (await sql<Record<string, string>>`SELECT current_setting(${name}) AS v`.execute(db!))
          .rows[0]!.v;
      const settings = `fsync ${await show('fsync')}, synchronous_commit ${await show('synchronous_commit')}`;
      queries.on = true;
      requests.on = true;
      const counted = await runBatch(db, domain.id, slots, 'counted', pids);
      queries.on = false;
      requests.on = false;
      log(`counted batch: ${describeBatch(counted)}`);
      profile = {
        batch: counted,
        concurrency: t.config.workers.concurrency,
        queries: [...queries.counts].sort((x, y) => y[1].n - x[1].n),
        requests: [...requests.counts].sort((x, y) => y[1].n - x[1].n),
        settings,
      };
      for (const [k, v] of [...profile.queries, ...profile.requests]) {
        log(
          `  ${k}: ${(v.n / counted.jobs).toFixed(2)} per job, ${(v.ms / v.n).toFixed(2)} ms each`,
        );
      }
      for (const [k, ms, n] of workerTime(profile)) {
        log(
          `  worker time: ${k}: ${ms.toFixed(1)} ms${n ? ` in ${n.toFixed(2)} round trips` : ''}`,
        );
      }
    }
    const med = median(batches.map((x) => x.jobsPerSecond)) ?? 0;
    log(
      `median of ${batches.length}: ${med.toFixed(0)} jobs/s (target ≥ ${TARGET_JOBS_PER_SECOND}: ${
        med >= TARGET_JOBS_PER_SECOND ? 'PASS' : 'MISS'
      })`,
    );
    if (o.results) {
      await writeSection(RESULTS, SECTION, resultsSection(o, t, batches, profile, pushed));
      log(`wrote the "${SECTION.slice(3)}" section of bench/RESULTS.md`);
    }
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
