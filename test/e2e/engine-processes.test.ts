// Must show: the durable job engine with real processes. (1) The only `ferry serve` is killed
// with SIGKILL in the middle of a large copy; started again on the same config, it adopts the
// PostgreSQL the dead process left running, and the job ends `success` with the exact image,
// one row per tag and attempts >= 2; nothing it started is left running afterwards.
// (2) One `ferry serve` and two `ferry worker` processes on one PostgreSQL share 200 jobs, each
// run exactly once; then 100 slowed jobs survive `kill -9` of one worker: the others finish
// every job and none stays `running`. (3) The three processes started together on an empty
// database all start, also while another session is in the middle of creating the queue schema.
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { WORKER_SCHEMA } from '../../src/engine/queue.js';
import { startServe, startWorker, type ServeProcess } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import {
  getToken,
  startSharedPostgres,
  TEST_AK,
  TEST_SECRET_KEY,
  TEST_SK,
  waitFor,
} from '../helpers/ferry.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { assertImageEqual, dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';

const PASSWORD = 'engine-test-password';

/** sync-image jobs still in graphile-worker's queue (done ones are deleted). */
const SYNC_JOBS_QUEUED = `SELECT count(*) AS n FROM ${WORKER_SCHEMA}.jobs WHERE task_identifier = 'sync-image'`;

/** A sync job as GET .../sync_job returns it (the fields used here). */
interface JobJson {
  id: number;
  tag: string;
  status: string;
  attempts: number;
  bytesCopied: number;
  digest: string | null;
  errorReason: string | null;
  remoteNamespace: string;
}

/** Calls Ferry's API with a token; returns status, headers and the parsed body. */
async function api(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** True while `pid` is a live process (a zombie or a missing /proc entry counts as gone). */
function running(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) Z/s.test(stat);
  } catch {
    return false;
  }
}

/** Kills `pid` when it still runs (failure paths only): `signal`, then SIGKILL after 10 s. */
async function ensureGone(pid: number | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!pid || !running(pid)) return;
  process.kill(pid, signal);
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (running(pid)) process.kill(pid, 'SIGKILL');
}

/** The ferry config file of a test. */
async function writeConfig(
  file: string,
  options: {
    dataDir: string;
    regionA: string;
    regionB: string;
    databaseUrl?: string;
    workers: Record<string, unknown>;
  },
): Promise<void> {
  await writeFile(
    file,
    stringify({
      version: 1,
      listen: '127.0.0.1:0',
      dataDir: options.dataDir,
      ...(options.databaseUrl ? { database: { url: options.databaseUrl } } : {}),
      secretKey: TEST_SECRET_KEY,
      sync: { waitSeconds: 1 },
      workers: {
        enabled: true,
        retryBaseSeconds: 1,
        retryMaxSeconds: 2,
        shutdownGraceSeconds: 5,
        ...options.workers,
      },
      autoSync: { reconcileSeconds: 0 },
      regions: [
        { id: 'cn-north-4', url: options.regionA },
        { id: 'cn-east-3', url: options.regionB },
      ],
      bootstrap: {
        domain: 'acme',
        user: 'alice',
        password: PASSWORD,
        accessKeys: [{ ak: TEST_AK, sk: TEST_SK }],
      },
      logLevel: 'warn',
    }),
  );
}

/** Tokens for both regions and the namespaces a test syncs between. */
async function setUpNamespaces(
  url: string,
  source: string,
  targets: string[],
): Promise<{ tokenA: string; tokenB: string }> {
  const user = { domain: 'acme', name: 'alice', password: PASSWORD };
  const tokenA = await getToken(url, user, 'cn-north-4');
  const tokenB = await getToken(url, user, 'cn-east-3');
  expect(
    (await api(url, tokenA, 'POST', '/v2/manage/namespaces', { namespace: source })).status,
  ).toBe(201);
  for (const ns of targets) {
    expect(
      (await api(url, tokenB, 'POST', '/v2/manage/namespaces', { namespace: ns })).status,
    ).toBe(201);
  }
  return { tokenA, tokenB };
}

/** A registry's answers slowed to `bytesPerSecond` per connection (the fault proxy only delays). */
interface Throttle {
  url: string;
  stop(): Promise<void>;
}

function throttled(bytesPerSecond: number): Transform {
  let due = Date.now();
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const now = Date.now();
      due = Math.max(due, now) + (chunk.length / bytesPerSecond) * 1000;
      this.push(chunk);
      setTimeout(done, due - now);
    },
  });
}

/** A TCP proxy on 127.0.0.1 to `targetPort` whose responses flow at most `bytesPerSecond`. */
async function startThrottle(targetPort: number, bytesPerSecond: number): Promise<Throttle> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => {
        sockets.delete(s);
        end();
      });
      s.on('error', end);
    }
    client.pipe(upstream);
    upstream.pipe(throttled(bytesPerSecond)).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

describe('ferry serve killed with SIGKILL in the middle of a copy', () => {
  const SIZE = 150 * 1024 * 1024;
  // 150 MiB at 20 MiB/s: 7.5 s per copy, time enough to see progress and kill.
  const RATE = 20 * 1024 * 1024;
  let dir: string;
  let dataDir: string;
  let configFile: string;
  let a: TestRegistry | undefined;
  let b: TestRegistry | undefined;
  let proxy: FaultProxy | undefined;
  let throttle: Throttle | undefined;
  let image: PushedImage;
  const started: ServeProcess[] = [];
  let postgresPid: number | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-crash-'));
    // As root, PostgreSQL runs as user postgres, which must be able to enter the folder.
    await chmod(dir, 0o711);
    dataDir = join(dir, 'data');
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    // Ferry -> throttle -> fault proxy (which logs every request) -> registry A.
    proxy = await startFaultProxy(a.url);
    throttle = await startThrottle(proxy.port, RATE);
    image = await pushImage(a.url, 'src/big', 'v1', {
      layers: [
        { size: SIZE, seed: 'crash-big' },
        { size: 3000, seed: 'crash-small' },
      ],
    });
    configFile = join(dir, 'ferry.yaml');
    await writeConfig(configFile, {
      dataDir,
      regionA: throttle.url,
      regionB: b.url,
      workers: { concurrency: 2 },
    });
  });

  afterAll(async () => {
    // Failure paths: nothing this test started may outlive it.
    for (const s of started) if (running(s.pid)) await s.stop('SIGKILL');
    await ensureGone(postgresPid, 'SIGINT');
    await throttle?.stop();
    await proxy?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    expect(running(a?.pid)).toBe(false);
    expect(running(b?.pid)).toBe(false);
    expect(running(postgresPid)).toBe(false);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('restarts, resumes the job to success with the exact digest, one row, attempts >= 2', async () => {
    const t0 = Date.now();
    const first = await startServe(['--config', configFile], { cwd: dir });
    started.push(first);
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    postgresPid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    expect(running(postgresPid)).toBe(true);

    const { tokenA } = await setUpNamespaces(first.url, 'src', ['dst']);
    const path = '/v2/manage/namespaces/src/repos/big';
    const sync = await api(first.url, tokenA, 'POST', `${path}/sync_images`, {
      imageTag: ['v1'],
      remoteRegionId: 'cn-east-3',
      remoteNamespace: 'dst',
    });
    expect(sync.status).toBe(200);
    // waitSeconds is 1: the copy takes longer, so the tag is still listed as not synced.
    expect(sync.json).toEqual(['v1']);
    const syncedAt = Date.now();

    const listJobs = async (url: string): Promise<JobJson[]> => {
      const res = await api(
        url,
        tokenA,
        'GET',
        `${path}/sync_job?filter=limit::10|offset::0|order::desc`,
      );
      expect(res.status).toBe(200);
      return res.json as JobJson[];
    };
    const before = await waitFor(
      async () => {
        const [job] = await listJobs(first.url);
        return job && job.status === 'running' && job.bytesCopied > 0 ? job : undefined;
      },
      30_000,
      'the job to run with bytes copied',
    );
    expect(before.attempts).toBe(1);
    expect(before.bytesCopied).toBeLessThan(SIZE);
    const killedAt = Date.now();
    expect(await first.stop('SIGKILL')).toBeNull();
    // The dead process's PostgreSQL is left running; the next start must adopt it.
    expect(running(postgresPid)).toBe(true);

    const second = await startServe(['--config', configFile], { cwd: dir });
    started.push(second);
    const restartedAt = Date.now();
    expect(Number((await readFile(pidFile, 'utf8')).split('\n')[0])).toBe(postgresPid);
    const done = await waitFor(
      async () => {
        const jobs = await listJobs(second.url);
        const job = jobs[0];
        if (job && ['success', 'failed', 'existed'].includes(job.status)) return jobs;
        return undefined;
      },
      90_000,
      'the job to end after the restart',
    );
    const doneAt = Date.now();
    expect(done).toHaveLength(1);
    const job = done[0]!;
    expect(job).toMatchObject({ tag: 'v1', status: 'success', digest: image.digest });
    expect(job.errorReason).toBeNull();
    expect(job.attempts).toBeGreaterThanOrEqual(2);
    expect(job.bytesCopied).toBeGreaterThanOrEqual(SIZE);

    const raw = await skopeoInspectRaw(dockerRef(b!.host, 'dst/big', 'v1'));
    expect(raw.digest).toBe(image.digest);
    await assertImageEqual(a!.host, 'src/big', 'v1', b!.host, 'dst/big', { fullContent: true });
    // The big layer was read twice from the source: once by the killed process, once after.
    const bigGets = proxy!.find({
      method: 'GET',
      kind: 'blob',
      path: new RegExp(image.blobs[1]!.digest),
    });
    expect(bigGets.length).toBeGreaterThanOrEqual(2);

    // In the database: the dead process was swept out, and the queue holds nothing.
    const port = Number((await readFile(pidFile, 'utf8')).split('\n')[3]);
    const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
    const db = new pg.Client({
      connectionString: `postgres://ferry:${encodeURIComponent(password)}@127.0.0.1:${port}/ferry`,
    });
    await db.connect();
    try {
      const processes = await db.query<{ pid: number }>('SELECT pid FROM ferry_processes');
      expect(processes.rows.map((r) => r.pid)).toEqual([second.pid]);
      const queue = await db.query<{ n: string }>(SYNC_JOBS_QUEUED);
      expect(Number(queue.rows[0]!.n)).toBe(0);
    } finally {
      await db.end();
    }

    expect(await second.stop('SIGTERM')).toBe(0);
    // The restarted serve adopted the orphaned PostgreSQL, so it stopped it too.
    await waitFor(
      async () => (running(postgresPid) ? undefined : true),
      10_000,
      'postgres to stop',
    );
    console.info(
      `crash: first start+sync ${syncedAt - t0} ms, killed after ${killedAt - syncedAt} ms ` +
        `at ${before.bytesCopied} bytes, restart ${restartedAt - killedAt} ms, success ` +
        `${doneAt - restartedAt} ms after the restart (attempts ${job.attempts}, ` +
        `bytesCopied ${job.bytesCopied}, big-blob GETs ${bigGets.length})`,
    );
  }, 150_000);
});

describe('ferry serve and two ferry workers on one PostgreSQL', () => {
  const REPOS = ['app1', 'app2'];
  const TAGS = Array.from({ length: 10 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
  const PHASE1 = Array.from({ length: 10 }, (_, i) => `one${i}`);
  const PHASE2 = Array.from({ length: 5 }, (_, i) => `two${i}`);
  let dir: string;
  let shared: Awaited<ReturnType<typeof startSharedPostgres>> | undefined;
  let pool: pg.Pool | undefined;
  let a: TestRegistry | undefined;
  let b: TestRegistry | undefined;
  let proxy: FaultProxy | undefined;
  let serve: ServeProcess | undefined;
  const workers: ServeProcess[] = [];
  let tokenA: string;
  const images = new Map<string, PushedImage>();

  /** Counts rows of sync_jobs by status. */
  async function statuses(): Promise<Map<string, number>> {
    const r = await pool!.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM sync_jobs GROUP BY status',
    );
    return new Map(r.rows.map((row) => [row.status, Number(row.n)]));
  }

  /** The 'sync job finished' log lines of a process: job id, status, attempt. */
  function finished(p: ServeProcess): { job: string; status: string; attempt: number }[] {
    const out: { job: string; status: string; attempt: number }[] = [];
    for (const line of p.output().split('\n')) {
      if (!line.includes('sync job finished')) continue;
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        if (j.msg === 'sync job finished') {
          out.push({ job: String(j.job), status: String(j.status), attempt: Number(j.attempt) });
        }
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** Creates sync jobs: every tag of every repository to each target namespace. */
  async function createJobs(targets: string[]): Promise<void> {
    const calls = targets.flatMap((ns) => REPOS.map((repo) => ({ ns, repo })));
    // Five requests at once: each answers after waitSeconds (1 s) at most.
    for (let i = 0; i < calls.length; i += 5) {
      await Promise.all(
        calls.slice(i, i + 5).map(async ({ ns, repo }) => {
          const res = await api(
            serve!.url,
            tokenA,
            'POST',
            `/v2/manage/namespaces/src/repos/${repo}/sync_images`,
            { imageTag: TAGS, remoteRegionId: 'cn-east-3', remoteNamespace: ns },
          );
          expect(res.status).toBe(200);
          expect(Array.isArray(res.json)).toBe(true);
        }),
      );
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-scale-'));
    shared = await startSharedPostgres();
    pool = new pg.Pool({ connectionString: shared.url, max: 3 });
    pool.on('error', () => undefined);
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    // Region A goes through a fault proxy from the start; phase 2 adds a delay to it.
    proxy = await startFaultProxy(a.url);
    for (const repo of REPOS) {
      for (const tag of TAGS) {
        images.set(
          `${repo}:${tag}`,
          await pushImage(a.url, `src/${repo}`, tag, {
            layers: [
              { size: 4096, seed: 'scale-base' },
              { size: 2048, seed: `scale-${repo}-${tag}` },
            ],
          }),
        );
      }
    }
    const configFile = join(dir, 'ferry.yaml');
    await writeConfig(configFile, {
      dataDir: join(dir, 'data'),
      regionA: proxy.url,
      regionB: b.url,
      databaseUrl: shared.url,
      workers: { concurrency: 4, registryConcurrency: 16 },
    });
    // Info level, so every process logs the jobs it finished (the file says warn).
    const options = { cwd: dir, env: { FERRY_LOG_LEVEL: 'info' } };
    // The serve first (it creates the schemas), then both workers at once. Three processes
    // starting together on a fresh database are the last describe block's case.
    serve = await startServe(['--config', configFile], options);
    const [w1, w2] = await Promise.allSettled([
      startWorker(['--config', configFile], options),
      startWorker(['--config', configFile], options),
    ]);
    // Keep whatever started, so afterAll stops it even when the other one failed.
    for (const w of [w1, w2]) if (w?.status === 'fulfilled') workers.push(w.value);
    for (const w of [w1, w2]) if (w?.status === 'rejected') throw w.reason;
    ({ tokenA } = await setUpNamespaces(serve!.url, 'src', [...PHASE1, ...PHASE2]));
  });

  afterAll(async () => {
    const processes = [serve, ...workers].filter((p): p is ServeProcess => p !== undefined);
    const codes = await Promise.all(
      processes.map((p) => (running(p.pid) ? p.stop('SIGTERM') : Promise.resolve(null))),
    );
    for (const p of processes) if (running(p.pid)) await p.stop('SIGKILL');
    await pool?.end();
    const pgPid = shared?.pid;
    await shared?.stop();
    await proxy?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    for (const pid of [pgPid, a?.pid, b?.pid, ...processes.map((p) => p.pid)]) {
      expect(running(pid)).toBe(false);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    // The processes still alive at the end stopped cleanly on SIGTERM.
    expect(codes.filter((c) => c !== null && c !== 0)).toEqual([]);
  });

  it('registers the three processes and runs 200 jobs exactly once each, spread over them', async () => {
    const registered = await pool!.query<{ pid: number; kind: string; worker_ids: string[] }>(
      'SELECT pid, kind, worker_ids FROM ferry_processes ORDER BY kind, pid',
    );
    expect(registered.rows.map((r) => [r.kind, r.pid]).sort()).toEqual(
      [
        ['serve', serve!.pid],
        ['worker', workers[0]!.pid],
        ['worker', workers[1]!.pid],
      ].sort(),
    );
    for (const r of registered.rows) expect(r.worker_ids.length).toBeGreaterThan(0);

    const t0 = Date.now();
    await createJobs(PHASE1);
    const created = Date.now();
    const total = await pool!.query<{ n: string }>('SELECT count(*) AS n FROM sync_jobs');
    expect(Number(total.rows[0]!.n)).toBe(200);
    await waitFor(
      async () => {
        const s = await statuses();
        if ((s.get('success') ?? 0) === 200) return true;
        const bad = [...s.keys()].filter((k) => !['success', 'waiting', 'running'].includes(k));
        if (bad.length) throw new Error(`jobs ended ${JSON.stringify([...s])}`);
        return undefined;
      },
      60_000,
      '200 jobs to succeed',
    );
    const doneAt = Date.now();

    const rows = await pool!.query<{ id: string; attempts: number; status: string }>(
      'SELECT id, attempts, status FROM sync_jobs ORDER BY id',
    );
    expect(rows.rows.filter((r) => r.status !== 'success' || r.attempts !== 1)).toEqual([]);
    // One row per (target namespace, repository, tag): no duplicates.
    const distinct = await pool!.query<{ n: string }>(
      'SELECT count(DISTINCT (remote_namespace, repo_name, tag)) AS n FROM sync_jobs',
    );
    expect(Number(distinct.rows[0]!.n)).toBe(200);

    // Who ran what, from each process's log: every job finished once, by one process.
    const processes = [serve!, ...workers];
    const perProcess = processes.map((p) => finished(p));
    const all = perProcess.flat();
    expect(all.every((f) => f.status === 'success' && f.attempt === 1)).toBe(true);
    expect(all.map((f) => f.job).sort()).toEqual(rows.rows.map((r) => r.id).sort());
    for (const mine of perProcess) expect(mine.length).toBeGreaterThan(0);

    // Spot check with skopeo: the target holds the source's manifests.
    for (const [ns, repo, tag] of [
      ['one0', 'app1', 't01'],
      ['one9', 'app2', 't10'],
    ] as const) {
      const raw = await skopeoInspectRaw(dockerRef(b!.host, `${ns}/${repo}`, tag));
      expect(raw.digest).toBe(images.get(`${repo}:${tag}`)!.digest);
    }
    // And the API agrees: 100 rows for each source repository.
    const listed = await api(
      serve!.url,
      tokenA,
      'GET',
      '/v2/manage/namespaces/src/repos/app1/sync_job?filter=limit::1000|offset::0|order::desc',
    );
    expect(listed.headers.get('content-range')).toBe('0-100/100');
    console.info(
      `scale-out: 200 jobs created in ${created - t0} ms, all success ${doneAt - t0} ms after ` +
        `the first request; per process (serve, worker 1, worker 2): ` +
        perProcess.map((p) => p.length).join(', '),
    );
  }, 120_000);

  it('finishes 100 slowed jobs on the others after kill -9 of a worker; none stays running', async () => {
    const victim = workers[1]!;
    const before = new Map([serve!, ...workers].map((p) => [p, finished(p).length]));
    // Every manifest and blob request to the source waits 600 ms: a job takes seconds.
    proxy!.addRule({ path: /^\/v2\/.+\/(manifests|blobs)\//, fault: { type: 'delay', ms: 600 } });
    const t0 = Date.now();
    await createJobs(PHASE2);
    const victimRow = await pool!.query<{ worker_ids: string[] }>(
      'SELECT worker_ids FROM ferry_processes WHERE pid = $1',
      [victim.pid],
    );
    const victimWorkers = victimRow.rows[0]!.worker_ids;
    expect(victimWorkers.length).toBeGreaterThan(0);
    const lockedByVictim = async (): Promise<string[]> =>
      (
        await pool!.query<{ id: string }>(
          // A sync-image job's key is `sync-image:<sync job id>` (src/sync/jobs.ts).
          `SELECT substr(key, 12) AS id FROM ${WORKER_SCHEMA}.jobs
           WHERE task_identifier = 'sync-image' AND locked_by = ANY($1::text[])`,
          [victimWorkers],
        )
      ).rows.map((r) => r.id);
    // Mid-run: some phase-2 jobs done, and the victim holds jobs it is copying.
    const heldBefore = await waitFor(
      async () => {
        const s = await statuses();
        const held = await lockedByVictim();
        return (s.get('success') ?? 0) > 200 && held.length >= 2 ? held : undefined;
      },
      60_000,
      'the victim to hold jobs mid-run',
    );
    expect(await victim.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now();
    const heldAfter = await lockedByVictim();
    const interrupted = new Set([...heldBefore, ...heldAfter]);
    const doneBeforeKill = (await statuses()).get('success') ?? 0;

    // 60 s (Ferry's recovery promise) plus the copy time of what is left.
    const COPY_ALLOWANCE_MS = 25_000;
    await waitFor(
      async () => {
        const s = await statuses();
        if ((s.get('success') ?? 0) === 300) return true;
        const bad = [...s.keys()].filter((k) => !['success', 'waiting', 'running'].includes(k));
        if (bad.length) throw new Error(`jobs ended ${JSON.stringify([...s])}`);
        return undefined;
      },
      60_000 + COPY_ALLOWANCE_MS,
      '300 jobs to succeed after the kill',
    );
    const doneAt = Date.now();

    const rows = await pool!.query<{ id: string; attempts: number; status: string }>(
      'SELECT id, attempts, status FROM sync_jobs ORDER BY id',
    );
    expect(rows.rows).toHaveLength(300);
    expect(rows.rows.filter((r) => r.status !== 'success')).toEqual([]);
    // Only the jobs the dead worker held ran twice; they ran again elsewhere.
    const again = rows.rows.filter((r) => r.attempts !== 1);
    expect(again.length).toBeGreaterThan(0);
    for (const r of again) {
      expect(r.attempts).toBe(2);
      expect(interrupted.has(r.id)).toBe(true);
    }
    // Nothing left in the queue, nothing locked, and the dead process was swept out.
    const queue = await pool!.query<{ n: string }>(SYNC_JOBS_QUEUED);
    expect(Number(queue.rows[0]!.n)).toBe(0);
    const alive = await pool!.query<{ pid: number }>(
      'SELECT pid FROM ferry_processes ORDER BY pid',
    );
    expect(alive.rows.map((r) => r.pid).sort()).toEqual([serve!.pid, workers[0]!.pid].sort());

    for (const [ns, repo, tag] of [
      ['two0', 'app1', 't01'],
      ['two4', 'app2', 't10'],
    ] as const) {
      const raw = await skopeoInspectRaw(dockerRef(b!.host, `${ns}/${repo}`, tag));
      expect(raw.digest).toBe(images.get(`${repo}:${tag}`)!.digest);
    }
    const counts = [serve!, ...workers].map((p) => finished(p).length - before.get(p)!);
    console.info(
      `kill -9: phase 2 started, victim killed after ${killedAt - t0} ms holding ` +
        `${interrupted.size} jobs (${doneBeforeKill - 200} of 100 done); all 300 success ` +
        `${doneAt - killedAt} ms after the kill; ${again.length} jobs ran twice; phase-2 jobs ` +
        `finished per process (serve, worker 1, victim): ${counts.join(', ')}`,
    );
    proxy!.clearRules();
  }, 150_000);
});

describe('ferry serve and two ferry workers starting together on a fresh database', () => {
  let dir: string;
  let shared: Awaited<ReturnType<typeof startSharedPostgres>> | undefined;
  let a: TestRegistry | undefined;
  let b: TestRegistry | undefined;
  const processes: ServeProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-together-'));
    shared = await startSharedPostgres();
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  });

  afterAll(async () => {
    for (const p of processes) if (running(p.pid)) await p.stop('SIGKILL');
    const pgPid = shared?.pid;
    await shared?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    for (const pid of [pgPid, a?.pid, b?.pid, ...processes.map((p) => p.pid)]) {
      expect(running(pid)).toBe(false);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Starts a serve and two workers at once on a new database; with `gate`, while another
   * session is in the middle of creating the queue's schema (the moment concurrent starts
   * collide in, held open until all three wait on it). Every one must start and register.
   */
  async function startTogether(name: string, gate: boolean): Promise<void> {
    const admin = new pg.Client({ connectionString: shared!.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(shared!.url);
      url.pathname = `/${name}`;
      const configFile = join(dir, `${name}.yaml`);
      await writeConfig(configFile, {
        dataDir: join(dir, 'data'),
        regionA: a!.url,
        regionB: b!.url,
        databaseUrl: url.toString(),
        workers: { concurrency: 2 },
      });
      let creating: pg.Client | undefined;
      if (gate) {
        creating = new pg.Client({ connectionString: url.toString() });
        await creating.connect();
        await creating.query('BEGIN');
        await creating.query(`CREATE SCHEMA ${WORKER_SCHEMA}`);
      }
      const options = { cwd: dir };
      const starting = Promise.allSettled([
        startServe(['--config', configFile], options),
        startWorker(['--config', configFile], options),
        startWorker(['--config', configFile], options),
      ]);
      if (creating) {
        try {
          await waitFor(
            async () => {
              const r = await admin.query<{ n: string }>(
                `SELECT count(*) AS n FROM pg_stat_activity
                 WHERE datname = $1 AND wait_event_type = 'Lock'`,
                [name],
              );
              return Number(r.rows[0]!.n) >= 3 ? true : undefined;
            },
            30_000,
            'the three processes to wait for the schema',
          );
        } finally {
          // The other session gives up; the processes go on from there.
          await creating.query('ROLLBACK');
          await creating.end();
        }
      }
      const results = await starting;
      const mine = results
        .filter((r): r is PromiseFulfilledResult<ServeProcess> => r.status === 'fulfilled')
        .map((r) => r.value);
      processes.push(...mine);
      const failures = results
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => (r.reason as Error).message.trim());
      expect(failures).toEqual([]);
      const db = new pg.Client({ connectionString: url.toString() });
      await db.connect();
      try {
        const rows = await db.query<{ pid: number }>('SELECT pid FROM ferry_processes');
        expect(rows.rows.map((r) => r.pid).sort()).toEqual(mine.map((p) => p.pid).sort());
      } finally {
        await db.end();
      }
      expect(await Promise.all(mine.map((p) => p.stop('SIGTERM')))).toEqual([0, 0, 0]);
    } finally {
      await admin.end();
    }
  }

  it('all three start and register when started at once', async () => {
    await startTogether('together1', false);
  }, 60_000);

  it('all three start and register while another session is creating the queue schema', async () => {
    await startTogether('together2', true);
  }, 60_000);
});
